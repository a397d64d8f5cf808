"""The cross-attention (Flamingo) VLM: at initialisation it is exactly the frozen language model;
once its gates open the image matters; generation with cached keys; saving and loading."""

from __future__ import annotations

import pytest
import torch

from shared_parts import tiny_lm, tiny_pixels, tiny_tower
from vislang.errors import ConfigError
from vislang.models.causal_lm import IGNORE_INDEX
from vislang.models.flamingo import FlamingoVLM
from vislang.models.registry import load_model, save_model

PROMPTS = ["<image>What colour is the circle?", "Es gibt <image> und <image> hier"]
TEXT_ONLY = ["What colour is the circle?", "Es gibt  und  hier"]
TEXTS = [" red", " 2"]


def _flamingo(**options) -> FlamingoVLM:
    settings = {"connector_options": {"queries": 4}, "every": 1, "feed_forward": 2, **options}
    return FlamingoVLM.from_parts(tiny_tower(), tiny_lm(), "resampler", seed=3, **settings).eval()


def _open_gates(model: FlamingoVLM) -> None:
    with torch.no_grad():
        for layer in model.cross_attention.layers.values():
            layer.gate.fill_(0.7)
            layer.ffn_gate.fill_(-0.4)
        model.image_position.weight.normal_(generator=torch.Generator().manual_seed(4))


@pytest.mark.parametrize("every", [1, 2])
def test_at_initialisation_the_logits_are_exactly_the_frozen_lms(every) -> None:
    model = _flamingo(every=every)
    reference = tiny_lm()  # the same weights, no cross-attention
    batch = model.lm.tokenize(TEXTS, PROMPTS, add_eos=True)
    text = reference.tokenize(TEXTS, TEXT_ONLY, add_eos=True)
    with torch.no_grad():
        output = model(**batch, pixels=tiny_pixels(3))
        expected = reference(input_ids=text["input_ids"], attention_mask=text["attention_mask"])
    assert torch.equal(output.logits, expected.logits)
    assert torch.equal(output.labels, text["labels"])
    assert len(model.cross_attention.layers) == {1: 2, 2: 1}[every]
    gates = [layer.gate for layer in model.cross_attention.layers.values()]
    assert all(float(gate.detach()) == 0.0 for gate in gates)


def test_with_open_gates_the_answer_depends_on_the_image() -> None:
    model = _flamingo()
    _open_gates(model)
    batch = model.lm.tokenize(TEXTS, PROMPTS, add_eos=True)
    with torch.no_grad():
        first = model(**batch, pixels=tiny_pixels(3, seed=1)).logits
        second = model(**batch, pixels=tiny_pixels(3, seed=2)).logits
    assert not torch.allclose(first, second)
    # the second row's two images are told apart by their image positions
    with torch.no_grad():
        swapped = model(**batch, pixels=tiny_pixels(3, seed=1)[[0, 2, 1]]).logits
    assert torch.allclose(first[0], swapped[0]) and not torch.allclose(first[1], swapped[1])


def test_rows_attend_only_to_their_own_images() -> None:
    model = _flamingo()
    _open_gates(model)
    batch = model.lm.tokenize(TEXTS, PROMPTS, add_eos=True)
    images = tiny_pixels(3)
    with torch.no_grad():
        together = model(**batch, pixels=images).logits
        alone = model(**model.lm.tokenize(TEXTS[:1], PROMPTS[:1], add_eos=True), pixels=images[:1])
    width = alone.logits.shape[1]
    torch.testing.assert_close(together[0, :width], alone.logits[0], atol=1e-5, rtol=1e-5)
    memory, mask = model.image_memory(batch["input_ids"], model.visual_tokens(images))
    assert memory.shape == (2, 2 * 4, 32)
    assert mask.tolist() == [[True] * 4 + [False] * 4, [True] * 8]


def test_placeholders_are_taken_out_of_the_text_on_either_padding_side() -> None:
    model = _flamingo()
    for side in ("right", "left"):
        batch = model.lm.tokenize(TEXTS, PROMPTS, add_eos=True, padding_side=side)
        text = model.without_placeholders(
            batch["input_ids"], batch["attention_mask"], batch["labels"], side
        )
        expected = model.lm.tokenize(TEXTS, TEXT_ONLY, add_eos=True, padding_side=side)
        for key in ("input_ids", "attention_mask", "labels"):
            assert torch.equal(text[key], expected[key]), (side, key)
    assert int((text["labels"] != IGNORE_INDEX).sum()) > 0


def _greedy_without_cache(model: FlamingoVLM, prompt: str, images: torch.Tensor, steps: int):
    tokens: list[int] = []
    for _ in range(steps):
        batch = model.lm.tokenize([""], [prompt])
        ids = torch.cat([batch["input_ids"], torch.tensor([tokens], dtype=torch.long)], dim=1)
        with torch.no_grad():
            logits = model(ids, torch.ones_like(ids), pixels=images).logits
        token = int(logits[0, -1].argmax())
        if token == model.tokenizer.eos_token_id:
            break
        tokens.append(token)
    return model.tokenizer.decode(tokens, skip_special_tokens=True).strip()


def test_generation_with_cached_keys_equals_greedy_decoding_without_cache() -> None:
    model = _flamingo()
    _open_gates(model)
    images = tiny_pixels(3, seed=7)
    generated = model.generate(PROMPTS, pixels=images, max_new_tokens=6)
    expected = [
        _greedy_without_cache(model, PROMPTS[0], images[:1], 6),
        _greedy_without_cache(model, PROMPTS[1], images[1:], 6),
    ]
    assert generated == expected


def test_beam_search_repeats_each_rows_images_per_beam() -> None:
    model = _flamingo()
    _open_gates(model)
    images = tiny_pixels(3, seed=8)
    batched = model.generate(PROMPTS, pixels=images, max_new_tokens=5, num_beams=3)
    alone = [
        model.generate(PROMPTS[:1], pixels=images[:1], max_new_tokens=5, num_beams=3)[0],
        model.generate(PROMPTS[1:], pixels=images[1:], max_new_tokens=5, num_beams=3)[0],
    ]
    assert batched == alone


def test_a_saved_model_loads_back_with_the_same_outputs(tmp_path) -> None:
    model = _flamingo(every=2)
    _open_gates(model)
    loaded = load_model(save_model(model, tmp_path / "flamingo"))
    assert isinstance(loaded, FlamingoVLM) and loaded.config == model.config
    batch = model.lm.tokenize(TEXTS, PROMPTS, add_eos=True)
    with torch.no_grad():
        assert torch.equal(
            loaded(**batch, pixels=tiny_pixels(3)).logits,
            model(**batch, pixels=tiny_pixels(3)).logits,
        )


def test_the_tiny_preset_builds_and_starts_as_its_language_model() -> None:
    model = load_model("flamingo-tiny")
    assert model.config.cross_attention.every == 2 and model.tokens_per_image == 16
    assert all(float(layer.gate.detach()) == 0.0 for layer in model.cross_attention.layers.values())


def test_every_sequence_needs_an_image() -> None:
    model = _flamingo()
    batch = model.lm.tokenize(TEXTS, ["<image>What?", "No image here"], add_eos=True)
    with pytest.raises(ValueError, match="at least one <image>"):
        model(**batch, pixels=tiny_pixels(1))


def test_ungated_or_misplaced_cross_attention_is_refused() -> None:
    from dataclasses import replace

    model = _flamingo()
    config = replace(
        model.config, cross_attention=replace(model.config.cross_attention, gated=False)
    )
    with pytest.raises(ConfigError, match="gated and placed before the blocks"):
        FlamingoVLM(config, tiny_tower(), model.connector, tiny_lm())
