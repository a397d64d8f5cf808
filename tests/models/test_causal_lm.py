"""Causal language models: GPT-2, XGLM and Llama-style checkpoints load exactly (tokens, logits,
generation), scores are the chain rule's, the world tokenizer is what it claims, and the
published architectures have their published sizes."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest
import safetensors.torch
import torch
import torch.nn.functional as F
from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
from transformers import (
    GPT2Config,
    GPT2LMHeadModel,
    GPT2Tokenizer,
    LlamaConfig,
    LlamaForCausalLM,
    LlamaTokenizer,
    PreTrainedModel,
    XGLMConfig,
    XGLMForCausalLM,
    XGLMTokenizer,
)

from vislang.errors import ConfigError, DataFormatError
from vislang.models.causal_lm import (
    TINY_ARCHITECTURE,
    CausalLM,
    CausalLMConfig,
    build_on_meta,
    decoder_layers,
)
from vislang.models.lm_tokenizer import (
    IMAGE_TOKEN,
    MIN_VOCAB_SIZE,
    SPECIAL_TOKENS,
    train_tokenizer,
)
from vislang.models.registry import load_model, save_model

CORPUS = [
    "There is a red circle and two blue squares.",
    "A large green triangle is left of a yellow star.",
    "Es gibt einen roten Kreis und zwei blaue Quadrate.",
    "Resimde kırmızı bir daire var.",
    "Kuna mduara mwekundu na miraba miwili ya bluu.",
    "图中有一个红色的圆形和两个蓝色的正方形。",
    "படத்தில் ஒரு சிவப்பு வட்டம் உள்ளது.",
]
PROMPTS = ["", "There is a", "Es gibt einen roten Kreis und", "图中有", "A large green triangle is"]
ARCHITECTURES = ("gpt2", "xglm", "llama")


# --- tiny random checkpoints with real tokenizers, built offline ---------------------------------


def _bpe_parts(tokenizer: Tokenizer) -> tuple[dict[str, int], list[tuple[str, str]]]:
    model = json.loads(tokenizer.to_str())["model"]
    return model["vocab"], [tuple(pair) for pair in model["merges"]]


def _gpt2_tokenizer() -> GPT2Tokenizer:
    tokenizer = Tokenizer(models.BPE())
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tokenizer.train_from_iterator(
        CORPUS * 4,
        trainers.BpeTrainer(
            vocab_size=320,
            special_tokens=["<|endoftext|>"],
            initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
            show_progress=False,
        ),
    )
    vocab, merges = _bpe_parts(tokenizer)
    return GPT2Tokenizer(vocab=vocab, merges=merges)


def _llama_tokenizer() -> LlamaTokenizer:
    bytes_ = [f"<0x{value:02X}>" for value in range(256)]
    tokenizer = Tokenizer(models.BPE(byte_fallback=True))
    tokenizer.pre_tokenizer = pre_tokenizers.Metaspace(replacement="▁", prepend_scheme="first")
    tokenizer.train_from_iterator(
        CORPUS * 4,
        trainers.BpeTrainer(
            vocab_size=400, special_tokens=["<unk>", "<s>", "</s>", *bytes_], show_progress=False
        ),
    )
    vocab, merges = _bpe_parts(tokenizer)
    return LlamaTokenizer(vocab=vocab, merges=merges, add_bos_token=True)  # as Llama ships it


def _xglm_tokenizer() -> XGLMTokenizer:
    tokenizer = Tokenizer(models.Unigram())
    tokenizer.pre_tokenizer = pre_tokenizers.Metaspace(replacement="▁", prepend_scheme="always")
    tokenizer.decoder = decoders.Metaspace()
    tokenizer.train_from_iterator(
        CORPUS * 4,
        trainers.UnigramTrainer(
            vocab_size=150,
            special_tokens=["<s>", "<pad>", "</s>", "<unk>"],
            unk_token="<unk>",
            show_progress=False,
        ),
    )
    pieces = [tuple(entry) for entry in json.loads(tokenizer.to_str())["model"]["vocab"]]
    return XGLMTokenizer(vocab=pieces)


def _reference(architecture: str) -> tuple[PreTrainedModel, object]:
    """A tiny randomly initialised reference model with its tokenizer; weights are drawn with a
    large spread so that next-token scores are far from ties."""
    torch.manual_seed(0)
    if architecture == "gpt2":
        tokenizer = _gpt2_tokenizer()
        end = tokenizer.eos_token_id
        model = GPT2LMHeadModel(
            GPT2Config(
                vocab_size=len(tokenizer),
                n_positions=64,
                n_embd=32,
                n_layer=2,
                n_head=4,
                bos_token_id=end,
                eos_token_id=end,
            )
        )
    elif architecture == "xglm":
        tokenizer = _xglm_tokenizer()
        model = XGLMForCausalLM(
            XGLMConfig(
                vocab_size=len(tokenizer),
                max_position_embeddings=64,
                d_model=32,
                ffn_dim=64,
                num_layers=2,
                attention_heads=4,
            )
        )
    else:
        tokenizer = _llama_tokenizer()
        model = LlamaForCausalLM(
            LlamaConfig(
                vocab_size=len(tokenizer),
                hidden_size=32,
                intermediate_size=64,
                num_hidden_layers=2,
                num_attention_heads=4,
                num_key_value_heads=2,
                max_position_embeddings=64,
                bos_token_id=1,
                eos_token_id=2,
            )
        )
    with torch.no_grad():
        for parameter in model.parameters():
            if parameter.ndim == 2:
                parameter.normal_(0.0, 0.3)
    return model.eval(), tokenizer


@pytest.fixture(scope="module", params=ARCHITECTURES)
def checkpoint(request, tmp_path_factory) -> tuple[str, Path, PreTrainedModel, object]:
    """(architecture, saved directory, reference model, reference tokenizer)."""
    model, tokenizer = _reference(request.param)
    directory = tmp_path_factory.mktemp(request.param)
    model.save_pretrained(directory)
    tokenizer.save_pretrained(directory)
    return request.param, directory, model, tokenizer


def _reference_ids(architecture: str, tokenizer, text: str) -> list[int]:
    """The sequence the reference starts from: its tokenizer's own special prefix (Llama <s>,
    XGLM </s>); GPT-2 adds none, so its <|endoftext|> is put first by hand."""
    ids = tokenizer(text)["input_ids"]
    return [tokenizer.eos_token_id, *ids] if architecture == "gpt2" else ids


# --- loading Hugging Face checkpoints -----------------------------------------------------------


def test_checkpoint_tokens_and_logits_equal_the_reference(checkpoint) -> None:
    architecture, directory, reference, tokenizer = checkpoint
    lm = load_model(directory)
    assert isinstance(lm, CausalLM) and lm.config.tokenizer == "checkpoint"
    assert lm.config.hf_config["model_type"] == architecture
    batch = lm.tokenize(CORPUS)
    for row, mask, text in zip(batch["input_ids"], batch["attention_mask"], CORPUS, strict=True):
        assert row[mask.bool()].tolist() == _reference_ids(architecture, tokenizer, text)
    ours = lm(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).logits
    theirs = reference(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).logits
    torch.testing.assert_close(ours, theirs, atol=1e-6, rtol=0)


def test_input_embeddings_give_the_same_logits_as_ids(checkpoint) -> None:
    lm = load_model(checkpoint[1])
    batch = lm.tokenize(CORPUS)
    embeds = lm.embed_tokens(batch["input_ids"])
    assert embeds.shape == (*batch["input_ids"].shape, lm.hidden_size)
    from_embeds = lm(inputs_embeds=embeds, attention_mask=batch["attention_mask"]).logits
    from_ids = lm(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).logits
    torch.testing.assert_close(from_embeds, from_ids, atol=1e-6, rtol=0)


@pytest.mark.parametrize("num_beams", [1, 3])
def test_batched_generation_equals_the_reference_one_prompt_at_a_time(
    checkpoint, num_beams: int
) -> None:
    architecture, directory, reference, tokenizer = checkpoint
    lm = load_model(directory)
    ours = lm.generate(PROMPTS, num_beams=num_beams, max_new_tokens=8)
    for prompt, text in zip(PROMPTS, ours, strict=True):
        ids = torch.tensor([_reference_ids(architecture, tokenizer, prompt)])
        output = reference.generate(
            input_ids=ids,
            attention_mask=torch.ones_like(ids),
            do_sample=False,
            num_beams=num_beams,
            max_new_tokens=8,
            pad_token_id=lm.pad_token_id,
            eos_token_id=tokenizer.eos_token_id,
        )
        expected = tokenizer.decode(output[0, ids.shape[1] :], skip_special_tokens=True)
        assert text == expected.strip()
        assert len(output[0]) > ids.shape[1]  # something was generated


def test_beams_are_the_reference_beams_with_their_scores(checkpoint) -> None:
    architecture, directory, reference, tokenizer = checkpoint
    lm = load_model(directory)
    beams = lm.generate_beams(PROMPTS[1:3], num_return_sequences=3, num_beams=4, max_new_tokens=6)
    for prompt, candidates in zip(PROMPTS[1:3], beams, strict=True):
        ids = torch.tensor([_reference_ids(architecture, tokenizer, prompt)])
        output = reference.generate(
            input_ids=ids,
            attention_mask=torch.ones_like(ids),
            do_sample=False,
            num_beams=4,
            num_return_sequences=3,
            max_new_tokens=6,
            pad_token_id=lm.pad_token_id,
            eos_token_id=tokenizer.eos_token_id,
            return_dict_in_generate=True,
            output_scores=True,
        )
        texts = tokenizer.batch_decode(
            output.sequences[:, ids.shape[1] :], skip_special_tokens=True
        )
        assert [text for text, _ in candidates] == [text.strip() for text in texts]
        scores = [score for _, score in candidates]
        assert scores == pytest.approx(output.sequences_scores.tolist(), abs=1e-5)
        assert scores == sorted(scores, reverse=True)


def test_saved_checkpoint_reloads_bitwise_with_tied_weights_as_copies(checkpoint, tmp_path) -> None:
    lm = load_model(checkpoint[1])
    tied = lm.model.lm_head.weight is lm.model.get_input_embeddings().weight
    save_model(lm, tmp_path / "saved")
    assert (tmp_path / "saved" / "tokenizer" / "tokenizer.json").is_file()
    stored = safetensors.torch.load_file(tmp_path / "saved" / "model.safetensors")
    assert "model.lm_head.weight" in stored
    if tied:  # written twice (safetensors refuses shared storage), equal values
        embedding_key = next(k for k in stored if k.endswith("wte.weight") or "embed_tokens" in k)
        assert torch.equal(stored["model.lm_head.weight"], stored[embedding_key])
    again = load_model(tmp_path / "saved")
    if tied:
        assert again.model.lm_head.weight is again.model.get_input_embeddings().weight
    batch = lm.tokenize(CORPUS)
    assert torch.equal(again.tokenize(CORPUS)["input_ids"], batch["input_ids"])
    assert torch.equal(again(**batch).logits, lm(**batch).logits)


def test_unsupported_and_broken_checkpoints_are_refused(tmp_path) -> None:
    (tmp_path / "bert").mkdir()
    (tmp_path / "bert" / "config.json").write_text(json.dumps({"model_type": "bert"}))
    with pytest.raises(ConfigError, match="'bert' is not supported"):
        load_model(tmp_path / "bert")
    model, tokenizer = _reference("llama")
    model.save_pretrained(tmp_path / "no-tokenizer")
    with pytest.raises(ConfigError, match="cannot load the causal LM checkpoint"):
        CausalLM.from_pretrained(tmp_path / "no-tokenizer")
    small = LlamaForCausalLM(
        LlamaConfig(
            vocab_size=50,
            hidden_size=16,
            intermediate_size=32,
            num_hidden_layers=1,
            num_attention_heads=2,
        )
    )
    config = CausalLMConfig(name="too-small", hf_config={"model_type": "llama"})
    with pytest.raises(ConfigError, match="only 50 embeddings"):
        CausalLM(config, small, tokenizer)


# --- scores --------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def world_lm() -> CausalLM:
    """A small random Llama-style model with the world BPE tokenizer (trained on CORPUS)."""
    tokenizer = train_tokenizer(CORPUS * 3, vocab_size=320)
    config = CausalLMConfig(
        name="test-lm",
        hf_config={
            **TINY_ARCHITECTURE,
            "vocab_size": len(tokenizer),
            "hidden_size": 32,
            "intermediate_size": 64,
            "num_hidden_layers": 2,
            "num_attention_heads": 2,
            "num_key_value_heads": 2,
        },
        seed=3,
    )
    return CausalLM.with_tokenizer(config, tokenizer)


def _manual_log_likelihood(lm: CausalLM, ids: list[int], first_scored: int) -> float:
    """log p(ids[first_scored:] | ids[:first_scored]), one unpadded sequence, by hand."""
    with torch.no_grad():
        logits = lm.model(input_ids=torch.tensor([ids])).logits[0]
    log_probs = F.log_softmax(logits, dim=-1)
    return sum(float(log_probs[t - 1, ids[t]]) for t in range(first_scored, len(ids)))


def test_log_likelihood_equals_the_sum_over_each_text_alone(world_lm: CausalLM) -> None:
    lm, tokenizer = world_lm, world_lm.tokenizer
    scores = lm.log_likelihood(CORPUS, batch_size=3)  # padded batches of different widths
    for text, score in zip(CORPUS, scores, strict=True):
        ids = [tokenizer.bos_token_id, *tokenizer(text, add_special_tokens=False)["input_ids"]]
        ids.append(tokenizer.eos_token_id)
        assert score.tokens == len(ids) - 1
        assert score.total == pytest.approx(_manual_log_likelihood(lm, ids, 1), abs=1e-4)
        assert score.mean == pytest.approx(score.total / score.tokens)


def test_log_likelihood_with_prefixes_follows_the_chain_rule(world_lm: CausalLM) -> None:
    prefixes = ["There is", "Es gibt", "图中有"]
    texts = [" a red circle.", " einen roten Kreis.", "一个红色的圆形。"]
    joint = world_lm.log_likelihood(
        [p + t for p, t in zip(prefixes, texts, strict=True)], include_eos=False
    )
    prefix_only = world_lm.log_likelihood(prefixes, include_eos=False)
    conditional = world_lm.log_likelihood(texts, prefixes, include_eos=False)
    for whole, first, rest in zip(joint, prefix_only, conditional, strict=True):
        # the world tokenizer never merges across a word boundary or a Han character, so the
        # joint text splits into exactly the prefix's and the text's tokens
        assert first.tokens + rest.tokens == whole.tokens
        assert first.total + rest.total == pytest.approx(whole.total, abs=1e-4)
    world_lm.train()
    world_lm.log_likelihood(texts)
    assert world_lm.training  # the mode is restored
    world_lm.eval()


def test_tokenize_labels_only_the_texts(world_lm: CausalLM) -> None:
    batch = world_lm.tokenize(["a red circle", "x"], ["There is", ""], add_eos=True)
    ids, mask, labels = batch["input_ids"], batch["attention_mask"], batch["labels"]
    prefix_length = 1 + len(world_lm.tokenizer("There is", add_special_tokens=False)["input_ids"])
    assert labels[0, :prefix_length].eq(-100).all()
    assert torch.equal(labels[0, prefix_length:], ids[0, prefix_length:])
    assert ids[0, -1] == world_lm.tokenizer.eos_token_id
    assert mask[1].sum() < mask.shape[1] and labels[1][mask[1] == 0].eq(-100).all()
    left = world_lm.tokenize(["a red circle", "x"], padding_side="left")
    assert left["attention_mask"][1, 0] == 0 and left["attention_mask"][1, -1] == 1
    with pytest.raises(TypeError, match="sequence of texts"):
        world_lm.tokenize("one string")
    with pytest.raises(ValueError, match="no token to score"):
        world_lm.log_likelihood([""], include_eos=False)


# --- the world tokenizer -------------------------------------------------------------------------


def test_world_tokenizer_is_deterministic_and_lossless() -> None:
    texts = CORPUS * 5
    first = train_tokenizer(texts, vocab_size=330)
    shuffled = list(texts)
    random.Random(1).shuffle(shuffled)
    second = train_tokenizer(shuffled, vocab_size=330)
    assert first.backend_tokenizer.to_str() == second.backend_tokenizer.to_str()
    assert len(first) == 330
    assert [first.convert_ids_to_tokens(i) for i in range(4)] == list(SPECIAL_TOKENS)
    for text in [*CORPUS, "ünseen Ωmega 😀 text"]:
        ids = first(text)["input_ids"]
        assert ids[0] == first.bos_token_id
        assert first.decode(ids, skip_special_tokens=True) == text
    image_id = first.convert_tokens_to_ids(IMAGE_TOKEN)
    assert first(f"a {IMAGE_TOKEN} b", add_special_tokens=False)["input_ids"].count(image_id) == 1


def test_world_tokenizer_never_merges_across_han_characters_or_splits_tamil_words() -> None:
    tokenizer = train_tokenizer(CORPUS * 5, vocab_size=600)  # more merges than the corpus has
    for token_id in range(len(tokenizer)):
        text = tokenizer.decode([token_id])
        assert sum("\u4e00" <= char <= "\u9fff" for char in text) <= 1, text
    tamil_word = " சிவப்பு"
    assert len(tokenizer(tamil_word, add_special_tokens=False)["input_ids"]) == 1


def test_byte_vocabulary_is_plain_bytes() -> None:
    tokenizer = train_tokenizer(CORPUS, vocab_size=MIN_VOCAB_SIZE)
    assert len(tokenizer) == MIN_VOCAB_SIZE
    for text in CORPUS:
        assert len(tokenizer(text, add_special_tokens=False)["input_ids"]) == len(text.encode())
    with pytest.raises(ConfigError, match="at least 260"):
        train_tokenizer(CORPUS, vocab_size=100)


# --- presets and architectures -------------------------------------------------------------------


def test_published_architectures_on_meta_have_their_sizes() -> None:
    gpt2 = build_on_meta("gpt2")
    assert sum(p.numel() for p in gpt2.parameters()) == 124_439_808
    assert len(decoder_layers(gpt2)) == 12 and gpt2.config.hidden_size == 768
    xglm = build_on_meta("facebook/xglm-2.9B")
    assert sum(p.numel() for p in xglm.parameters()) == 2_941_505_536
    assert len(decoder_layers(xglm)) == 48 and xglm.config.hidden_size == 2048
    assert all(p.is_meta for p in xglm.parameters())
    tiny = build_on_meta("causal_lm-tiny")
    assert sum(p.numel() for p in tiny.parameters()) == 922_752
    with pytest.raises(ConfigError, match="unknown architecture"):
        build_on_meta("gpt3")


@pytest.mark.slow
def test_tiny_preset_has_the_stage0_tokenizer_and_saves_its_tokenizer(tmp_path) -> None:
    lm = load_model("causal_lm-tiny")  # trains the stage-0 tokenizer on the default world
    assert len(lm.tokenizer) == 1024 == lm.model.config.vocab_size
    assert lm.hidden_size == 128 and len(lm.decoder_layers) == 4
    assert lm.image_token_id == 3 and lm.start_ids == [1]
    assert lm.tokenizer("There is a red circle.")["input_ids"][1:] == [
        lm.tokenizer.convert_tokens_to_ids(token)
        for token in ["There", "Ġis", "Ġa", "Ġred", "Ġcircle", "."]
    ]
    again = load_model("causal_lm-tiny")
    assert torch.equal(again.model.lm_head.weight, lm.model.lm_head.weight)  # seeded
    save_model(lm, tmp_path / "tiny")
    (tmp_path / "tiny" / "tokenizer" / "tokenizer.json").unlink()
    (tmp_path / "tiny" / "tokenizer" / "tokenizer_config.json").unlink()
    (tmp_path / "tiny" / "tokenizer").rmdir()
    with pytest.raises(ConfigError, match="holds none"):
        load_model(tmp_path / "tiny")


def test_hf_config_must_name_a_supported_model_type() -> None:
    config = CausalLMConfig(name="odd", hf_config={"model_type": "bert"})
    with pytest.raises(ConfigError, match="model_type must be one of"):
        CausalLM.with_tokenizer(config, train_tokenizer(CORPUS, vocab_size=MIN_VOCAB_SIZE))


def test_saved_config_with_a_wrong_field_type_names_it(world_lm: CausalLM, tmp_path) -> None:
    save_model(world_lm, tmp_path / "lm")
    meta = json.loads((tmp_path / "lm" / "vislang_model.json").read_text())
    meta["config"]["hf_config"] = "llama"
    (tmp_path / "lm" / "vislang_model.json").write_text(json.dumps(meta))
    with pytest.raises(DataFormatError, match=r"config\.hf_config"):
        load_model(tmp_path / "lm")
