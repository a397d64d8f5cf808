"""LMCap: training-free N-shot prompting with retrieved captions, beams and re-ranking."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from captioning_checkpoints import save_tiny_checkpoint
from PIL import Image

from vislang.errors import ConfigError
from vislang.models.caption_data import CaptionedImage, caption_rows, encode_images
from vislang.models.lmcap import LMCap, LMCapConfig, demonstrations_from_images
from vislang.models.registry import load_model
from vislang.retrieval.caption_retrieval import (
    CaptionRetriever,
    RetrievalConfig,
    build_caption_datastore,
)

RETRIEVAL = RetrievalConfig(search_k=4, keep=2, max_caption_tokens=None)


def _image(seed: int) -> Image.Image:
    rng = np.random.default_rng(seed)
    return Image.fromarray(rng.integers(0, 255, (64, 64, 3), dtype=np.uint8))


IMAGES = [
    CaptionedImage(
        f"img{n}",
        _image(n),
        "train",
        {"en": (f"There are {word} objects.",), "de": (f"Es gibt {word} Objekte.",)},
    )
    for n, word in enumerate(["two", "three", "four", "five", "six"])
]


@pytest.fixture(scope="module")
def parts(tmp_path_factory):
    directory = tmp_path_factory.mktemp("gpt2")
    lm = load_model(save_tiny_checkpoint("gpt2", directory, n_positions=1024))
    encoder = load_model("clip-tiny").eval()
    store = build_caption_datastore(encoder, caption_rows(IMAGES, ["en", "de"]))
    return lm, encoder, CaptionRetriever(store, encoder, RETRIEVAL)


def _captioner(parts, **fields) -> LMCap:
    lm, encoder, _ = parts
    settings = {"prompt_set": "lmcap", "shots": 2, "retrieval": RETRIEVAL, "max_new_tokens": 5}
    return LMCap(lm, encoder, LMCapConfig(**{**settings, **fields}))


def test_demonstrations_are_retrieved_exactly_as_for_a_query(parts) -> None:
    captioner, retriever = _captioner(parts), parts[2]
    demos = demonstrations_from_images(captioner, retriever, IMAGES, ["en", "de"], seed=4)
    assert sorted(demos) == ["de", "en"] and all(len(d) == 2 for d in demos.values())
    for language, blocks in demos.items():
        for block in blocks:
            gold = block.rsplit(" is: ", 1)[1].removesuffix(captioner.eos)
            item = next(i for i in IMAGES if i.captions[language][0] == gold)
            encoded = encode_images(captioner.encoder, [item])
            found = retriever.retrieve(encoded.embeddings, [language], [item.image_id])[0]
            assert item.image_id not in found.image_ids
            assert block == captioner.demonstration(found.captions, gold, language)
    again = demonstrations_from_images(captioner, retriever, IMAGES, ["en", "de"], seed=4)
    assert again == demos


def test_the_prompt_is_the_demonstrations_then_the_query(parts) -> None:
    captioner, retriever = _captioner(parts), parts[2]
    demos = demonstrations_from_images(captioner, retriever, IMAGES, ["de"])
    encoded = encode_images(captioner.encoder, IMAGES[:1])
    [result] = captioner.caption_encoded(
        encoded.features, encoded.embeddings, ["de"], retriever, ["img0"], demonstrations=demos
    )
    template = captioner.template("de")
    expected = template.few_shot_prompt(demos["de"], result.retrieved.captions, captioner.eos)
    assert result.prompt == expected and "German" in result.prompt
    assert len(result.beams) == 3 and result.caption == result.beams[0][0]
    assert [score for _, score in result.beams] == sorted(
        (score for _, score in result.beams), reverse=True
    )


def test_reranking_picks_the_beam_closest_to_the_image(parts) -> None:
    captioner = _captioner(parts, shots=0, rerank=True)
    embeddings = encode_images(captioner.encoder, IMAGES).embeddings
    results = captioner.caption_encoded(None, embeddings, ["en"] * 5, parts[2])
    for image, result in zip(embeddings, results, strict=True):
        texts = [text or " " for text, _ in result.beams]
        scores = captioner.encoder.encode_texts(texts).numpy() @ (image / np.linalg.norm(image))
        assert result.caption == result.beams[int(np.argmax(scores))][0]


def test_lmcap_refuses_what_it_cannot_do(parts) -> None:
    captioner = _captioner(parts)
    embeddings = encode_images(captioner.encoder, IMAGES[:1]).embeddings
    with pytest.raises(ConfigError, match="needs 2 demonstrations"):
        captioner.caption_encoded(None, embeddings, ["en"], parts[2], demonstrations={"en": []})
    with pytest.raises(ConfigError, match="give it a caption datastore"):
        captioner.caption_encoded(None, embeddings, ["en"], None)
    long_lm = _captioner(parts, shots=0, max_new_tokens=1000)
    with pytest.raises(ConfigError, match="exceeds the language model's 1024 positions"):
        long_lm.caption_encoded(None, embeddings, ["en"], parts[2])
    with pytest.raises(ConfigError, match="num_return"):
        LMCapConfig(num_beams=2, num_return=3)


def test_a_prompt_too_long_keeps_its_best_retrieved_captions(parts) -> None:
    lm, retriever = parts[0], parts[2]
    embeddings = encode_images(parts[1], IMAGES[:1]).embeddings
    [whole] = _captioner(parts, shots=0).caption_encoded(None, embeddings, ["en"], retriever)
    assert len(whole.retrieved.captions) == 2
    template = _captioner(parts, shots=0).template("en")
    one = template.few_shot_prompt([], whole.retrieved.captions[:1], lm.tokenizer.eos_token)
    room = len(lm.tokenizer(one, add_special_tokens=False)["input_ids"])
    new_tokens = 1024 - len(lm.start_ids) - room  # room for the prompt with one caption only
    captioner = _captioner(parts, shots=0, max_new_tokens=new_tokens, num_beams=1, num_return=1)
    [fitted] = captioner.caption_encoded(None, embeddings, ["en"], retriever)
    assert fitted.prompt == one
    kept, found = fitted.retrieved, whole.retrieved
    assert kept.captions == found.captions[:1] and kept.scores == found.scores[:1]
    assert (kept.image_ids, kept.rows) == (found.image_ids[:1], found.rows[:1])
    assert kept.dropped == {**found.dropped, "prompt_length": 1}


def test_without_retrieval_no_datastore_is_needed(parts) -> None:
    captioner = _captioner(parts, shots=0, retrieval=RetrievalConfig(keep=0))
    results = captioner.caption(torch.zeros(1, 3, 64, 64), ["en"])
    assert results[0].retrieved is None and captioner.parameter_report()["trainable"] == 0
    assert results[0].prompt == captioner.template("en").prompt(())


def test_a_caption_is_never_empty_even_when_the_lm_would_end_at_once(tmp_path) -> None:
    lm = load_model(save_tiny_checkpoint("gpt2", tmp_path, n_positions=1024))
    head = lm.model.transformer
    with torch.no_grad():  # every position's hidden state becomes the end token's embedding
        head.ln_f.weight.zero_()
        head.ln_f.bias.copy_(100 * head.wte.weight[lm.tokenizer.eos_token_id])
    encoder = load_model("clip-tiny").eval()
    pixels = torch.zeros(2, 3, 64, 64)
    settings = {"prompt_set": "lmcap", "shots": 0, "retrieval": RetrievalConfig(keep=0)}
    may_end = LMCap(lm, encoder, LMCapConfig(**settings, min_new_tokens=0, max_new_tokens=4))
    assert [r.caption for r in may_end.caption(pixels, ["en", "de"])] == ["", ""]
    captioner = LMCap(lm, encoder, LMCapConfig(**settings, max_new_tokens=4))
    assert all(result.caption for result in captioner.caption(pixels, ["en", "de"]))
    with pytest.raises(ConfigError, match="min_new_tokens"):
        LMCapConfig(min_new_tokens=5, max_new_tokens=4)
