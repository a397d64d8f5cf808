"""SmallCap/PAELLA: tiny GPT-2, XGLM and Llama-style checkpoints load into the captioner intact,
only the cross-attention trains, the loss covers the caption only, generation is batch-invariant,
and a saved captioner reloads exactly."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest
import torch
from captioning_checkpoints import ARCHITECTURES, save_tiny_checkpoint
from transformers import AutoModelForCausalLM

from vislang.errors import ConfigError
from vislang.models.captioning import token_counter
from vislang.models.causal_lm import IGNORE_INDEX, CausalLM
from vislang.models.cross_attention import CrossAttentionConfig
from vislang.models.registry import load_model, save_model
from vislang.models.smallcap import SmallCap
from vislang.represent.feature_store import FeatureRow
from vislang.retrieval.caption_retrieval import (
    CaptionRetriever,
    RetrievalConfig,
    build_caption_datastore,
)

PROMPTS = ["This image shows", "A caption I can generate to describe this image in German is:"]
CAPTIONS = ["a red circle", "Es gibt einen roten Kreis."]


@pytest.fixture(scope="module", params=ARCHITECTURES)
def checkpoint(request, tmp_path_factory) -> tuple[str, Path]:
    directory = tmp_path_factory.mktemp(request.param)
    return request.param, save_tiny_checkpoint(request.param, directory)


def _captioner(directory: Path, **fields) -> SmallCap:
    lm = load_model(directory)
    assert isinstance(lm, CausalLM)
    return SmallCap.build(
        lm,
        load_model("clip-tiny"),
        CrossAttentionConfig(encoder_dim=1, reduction=2),
        languages=["en", "de"],
        prompt_set="paella",
        **fields,
    )


def _as_json(config: object) -> object:
    return json.loads(json.dumps(dataclasses.asdict(config)))


def _pixels(count: int = 2, seed: int = 0) -> torch.Tensor:
    return torch.randn(count, 3, 64, 64, generator=torch.Generator().manual_seed(seed))


def test_the_checkpoint_loads_intact_under_the_cross_attention(checkpoint) -> None:
    """With the cross-attention's output projection at zero the captioner's logits are the
    reference model's."""
    architecture, directory = checkpoint
    captioner = _captioner(directory)
    reference = AutoModelForCausalLM.from_pretrained(directory).eval()
    with torch.no_grad():
        for layer in captioner.cross_attention.layers.values():
            layer.out.weight.zero_()
            layer.out.bias.zero_()
    batch = captioner.training_tokens(PROMPTS, CAPTIONS, ["en", "de"])
    features = captioner.image_features(_pixels())
    ours = captioner(features, batch["input_ids"], batch["attention_mask"])
    theirs = reference(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).logits
    torch.testing.assert_close(ours, theirs, atol=1e-5, rtol=1e-5)
    assert captioner.lm.config.hf_config["model_type"] == architecture


def test_only_the_cross_attention_is_trainable(checkpoint) -> None:
    captioner = _captioner(checkpoint[1])
    report = captioner.parameter_report()
    trainable = {name for name, p in captioner.named_parameters() if p.requires_grad}
    assert trainable and all(".cross_attention." in name for name in trainable)
    assert report["trainable"] == report["cross_attention"] == captioner.cross_attention.count()
    assert report["frozen"] == report["language_model"] + report["image_encoder"]
    captioner.train()
    assert not captioner.lm.training and not captioner.encoder.training
    assert all(layer.training for layer in captioner.cross_attention.layers.values())


def test_labels_cover_the_caption_and_its_end_only(checkpoint) -> None:
    captioner = _captioner(checkpoint[1])
    tokenizer = captioner.lm.tokenizer
    batch = captioner.training_tokens(PROMPTS, CAPTIONS, ["en", "de"])
    for ids, labels, prompt, caption in zip(
        batch["input_ids"], batch["labels"], PROMPTS, CAPTIONS, strict=True
    ):
        labelled = labels[labels != IGNORE_INDEX].tolist()
        assert labelled[-1] == tokenizer.eos_token_id
        assert tokenizer.decode(labelled[:-1]).strip() == caption
        context = ids[labels == IGNORE_INDEX].tolist()
        assert prompt.split()[-1] in tokenizer.decode(context)
        assert len(labelled) < len(ids)


def test_training_moves_the_cross_attention_and_nothing_else(checkpoint) -> None:
    captioner = _captioner(checkpoint[1]).train()
    frozen = {n: p.detach().clone() for n, p in captioner.named_parameters() if not p.requires_grad}
    trained = {n: p.detach().clone() for n, p in captioner.named_parameters() if p.requires_grad}
    optimiser = torch.optim.AdamW([p for p in captioner.parameters() if p.requires_grad], lr=1e-2)
    batch = captioner.training_tokens(PROMPTS, CAPTIONS, ["en", "de"])
    features = captioner.image_features(_pixels())
    losses = []
    for _ in range(8):
        logits = captioner(features, batch["input_ids"], batch["attention_mask"])
        loss = torch.nn.functional.cross_entropy(
            logits[:, :-1].reshape(-1, logits.shape[-1]),
            batch["labels"][:, 1:].reshape(-1),
            ignore_index=IGNORE_INDEX,
        )
        loss.backward()
        optimiser.step()
        optimiser.zero_grad()
        losses.append(float(loss.detach()))
    assert losses[-1] < losses[0]
    for name, parameter in captioner.named_parameters():
        if name in frozen:
            assert torch.equal(parameter, frozen[name]), name
        else:
            assert not torch.equal(parameter, trained[name]), name


def test_batched_generation_equals_one_image_at_a_time(checkpoint) -> None:
    """Left padding and one feature row per beam: each image's caption does not depend on the
    others in its batch."""
    captioner = _captioner(checkpoint[1])
    with torch.no_grad():
        for parameter in captioner.cross_attention.parameters():
            parameter.normal_(0.0, 0.5)
    features = captioner.image_features(_pixels(3))
    prompts = [PROMPTS[0], PROMPTS[1], "This image"]
    together = captioner.generate(features, prompts, num_beams=3, max_new_tokens=6)
    alone = [
        captioner.generate(features[i : i + 1], [prompt], num_beams=3, max_new_tokens=6)[0]
        for i, prompt in enumerate(prompts)
    ]
    assert [text for text, _ in together] == [text for text, _ in alone]
    for (_, score), (_, single) in zip(together, alone, strict=True):
        assert score == pytest.approx(single, abs=1e-4)
    other = captioner.generate(captioner.image_features(_pixels(3, seed=5)), prompts, num_beams=3)
    assert other != together  # the image steers the caption


def test_a_saved_captioner_reloads_exactly(checkpoint, tmp_path) -> None:
    captioner = _captioner(checkpoint[1], seed=3)
    save_model(captioner, tmp_path / "model")
    reloaded = load_model(tmp_path / "model")
    assert isinstance(reloaded, SmallCap)
    assert _as_json(reloaded.config) == _as_json(captioner.config)
    for (name, ours), (_, theirs) in zip(
        captioner.state_dict().items(), reloaded.state_dict().items(), strict=True
    ):
        assert torch.equal(ours, theirs), name
    ours = captioner.generate(captioner.image_features(_pixels()), PROMPTS, max_new_tokens=5)
    theirs = reloaded.generate(reloaded.image_features(_pixels()), PROMPTS, max_new_tokens=5)
    assert [text for text, _ in ours] == [text for text, _ in theirs]
    assert [score for _, score in ours] == pytest.approx([score for _, score in theirs], abs=1e-5)
    assert reloaded.template("de").language_name == "German"


def test_captions_come_with_the_retrieved_captions_of_their_prompt(checkpoint) -> None:
    captioner = _captioner(checkpoint[1], retrieval=RetrievalConfig(keep=2, max_caption_tokens=20))
    rows = [
        FeatureRow(f"i{n}-{lang}", f"i{n}", None, text, lang)
        for n, (lang, text) in enumerate(
            [
                ("en", "a red circle"),
                ("en", "two blue squares"),
                ("de", "ein roter Kreis"),
                ("de", "zwei blaue Quadrate"),
                ("en", "a green star"),
            ]
        )
    ]
    store = build_caption_datastore(captioner.encoder, rows)
    retriever = CaptionRetriever(
        store, captioner.encoder, captioner.config.retrieval, token_counter(captioner.lm.tokenizer)
    )
    results = captioner.caption(_pixels(), ["en", "de"], retriever, ["i0", None])
    assert [r.language for r in results] == ["en", "de"]
    first, second = results
    assert "i0" not in first.retrieved.image_ids and len(first.retrieved.captions) == 2
    assert all(text in {"two blue squares", "a green star"} for text in first.retrieved.captions)
    assert first.prompt == captioner.template("en").prompt(first.retrieved.captions, captioner.eos)
    assert set(second.retrieved.captions) == {"ein roter Kreis", "zwei blaue Quadrate"}
    assert "German" in second.prompt
    with pytest.raises(ConfigError, match="give it a caption datastore"):
        captioner.caption(_pixels(), ["en", "de"])
