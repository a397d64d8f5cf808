"""The visual-prefix VLM: visual tokens spliced where ``<image>`` is, labels on the answers only,
several images with image-position embeddings, generation with a KV cache, saving and loading."""

from __future__ import annotations

from dataclasses import replace

import pytest
import torch

from shared_parts import tiny_lm, tiny_pixels, tiny_tower
from vislang.errors import ConfigError
from vislang.models.causal_lm import IGNORE_INDEX, token_log_likelihoods
from vislang.models.connectors import ConnectorConfig, build_connector
from vislang.models.prefix_vlm import PrefixVLM
from vislang.models.registry import load_model, save_model
from vislang.models.vision_language import VisionLanguageModel

PROMPTS = ["<image>What colour is the circle?", "Es gibt <image> und <image> hier"]
TEXTS = [" red", " 2"]


def _vlm(connector: str = "mlp", **options) -> PrefixVLM:
    model = PrefixVLM.from_parts(tiny_tower(), tiny_lm(), connector, options, seed=1)
    with torch.no_grad():  # non-zero image positions, so that tests see them
        model.image_position.weight.normal_(generator=torch.Generator().manual_seed(2))
    return model.eval()


def _batch(model: PrefixVLM, padding_side: str = "right") -> dict[str, torch.Tensor]:
    return model.lm.tokenize(TEXTS, PROMPTS, add_eos=True, padding_side=padding_side)


def _manual_row(model: PrefixVLM, row: int, visual: list[torch.Tensor]) -> tuple:
    """Row ``row`` spliced by hand: text embeddings and visual tokens concatenated, and labels."""
    lm = model.lm
    ids = lm.start_ids + lm.tokenizer(PROMPTS[row], add_special_tokens=False)["input_ids"]
    target = lm.tokenizer(TEXTS[row], add_special_tokens=False)["input_ids"] + [2]
    pieces, labels, images = [], [], iter(visual)
    for token in ids:
        if token == model.config.image_token_id:
            tokens = next(images)
            pieces.append(tokens)
            labels += [IGNORE_INDEX] * tokens.shape[0]
        else:
            pieces.append(lm.embed_tokens(torch.tensor([token])))
            labels.append(IGNORE_INDEX)
    pieces.append(lm.embed_tokens(torch.tensor(target)))
    labels += target
    return torch.cat(pieces), torch.tensor(labels)


@pytest.mark.parametrize("padding_side", ["right", "left"])
def test_logits_are_the_lms_on_the_text_with_visual_tokens_in_place(padding_side) -> None:
    model = _vlm()
    images = tiny_pixels(3)
    with torch.no_grad():
        visual = model.visual_tokens(images)
        positions = model.image_position.weight
        output = model(**_batch(model, padding_side), pixels=images, padding_side=padding_side)
        rows = [
            _manual_row(model, 0, [visual[0] + positions[0]]),
            _manual_row(model, 1, [visual[1] + positions[0], visual[2] + positions[1]]),
        ]
        width = max(len(labels) for _, labels in rows)
        assert output.logits.shape[1] == width
        for row, (embeds, labels) in enumerate(rows):
            alone = model.lm(inputs_embeds=embeds.unsqueeze(0)).logits[0]
            span = slice(0, len(labels)) if padding_side == "right" else slice(-len(labels), None)
            assert torch.equal(output.labels[row, span], labels)
            assert (output.labels[row] != IGNORE_INDEX).sum() == (labels != IGNORE_INDEX).sum()
            if padding_side == "right":  # left padding shifts positions (RoPE), so only right
                torch.testing.assert_close(output.logits[row, span], alone, atol=1e-5, rtol=1e-5)


def test_visual_tokens_take_m_positions_per_image_and_are_attended() -> None:
    model = _vlm("pixel_shuffle")
    m = model.tokens_per_image
    assert m == 4  # 16 patch tokens, factor 2
    batch = _batch(model)
    spliced = model.splice(
        batch["input_ids"], batch["attention_mask"], torch.zeros(3, m, 32), batch["labels"]
    )
    lengths = batch["attention_mask"].sum(1) + torch.tensor([1, 2]) * (m - 1)
    assert torch.equal(spliced["attention_mask"].sum(1), lengths)
    assert torch.equal(
        (spliced["labels"] != IGNORE_INDEX).sum(1), (batch["labels"] != IGNORE_INDEX).sum(1)
    )


def test_image_position_embeddings_tell_the_images_of_a_sequence_apart() -> None:
    model = _vlm()
    images = tiny_pixels(3)
    swapped = images[[0, 2, 1]]
    batch = _batch(model)
    with torch.no_grad():
        logits = model(**batch, pixels=images).logits
        logits_swapped = model(**batch, pixels=swapped).logits
        assert not torch.allclose(logits[1], logits_swapped[1])
        model.image_position.weight.zero_()
        without = model(**batch, pixels=images).logits
    assert not torch.allclose(logits, without)


def test_features_computed_beforehand_give_the_same_logits_as_pixels() -> None:
    model = _vlm("resampler", queries=4)
    images = tiny_pixels(3)
    with torch.no_grad():
        from_pixels = model(**_batch(model), pixels=images).logits
        from_features = model(**_batch(model), features=model.vision(images)).logits
    assert torch.equal(from_pixels, from_features)


def test_log_likelihood_sums_the_answer_tokens_only() -> None:
    model = _vlm()
    images = tiny_pixels(3)
    scores = model.log_likelihood(TEXTS, PROMPTS, pixels=images)
    with torch.no_grad():
        output = model(**_batch(model), pixels=images)
    totals, counts = token_log_likelihoods(output.logits, output.labels)
    answer_tokens = [
        len(model.tokenizer(t, add_special_tokens=False)["input_ids"]) + 1 for t in TEXTS
    ]
    assert [s.tokens for s in scores] == answer_tokens == counts.tolist()
    assert [s.total for s in scores] == pytest.approx(totals.tolist())


def _greedy_without_cache(model: PrefixVLM, prompt: str, images: torch.Tensor, steps: int):
    """Greedy decoding by full forward passes (no KV cache), one prompt at a time."""
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


def test_batched_generation_with_kv_cache_equals_greedy_decoding_one_prompt_at_a_time() -> None:
    model = _vlm()
    images = tiny_pixels(3, seed=5)
    generated = model.generate(PROMPTS, pixels=images, max_new_tokens=6, batch_size=2)
    expected = [
        _greedy_without_cache(model, PROMPTS[0], images[:1], 6),
        _greedy_without_cache(model, PROMPTS[1], images[1:], 6),
    ]
    assert generated == expected
    assert model.generate(PROMPTS, pixels=images, max_new_tokens=6, batch_size=1) == generated


def test_beam_search_is_the_same_in_a_batch_and_alone() -> None:
    model = _vlm()
    images = tiny_pixels(3, seed=6)
    batched = model.generate(PROMPTS, pixels=images, max_new_tokens=5, num_beams=3)
    alone = [
        model.generate(PROMPTS[:1], pixels=images[:1], max_new_tokens=5, num_beams=3)[0],
        model.generate(PROMPTS[1:], pixels=images[1:], max_new_tokens=5, num_beams=3)[0],
    ]
    assert batched == alone


def test_a_saved_model_loads_back_with_the_same_outputs(tmp_path) -> None:
    model = _vlm("c_abstractor", grid=2, depth=1)
    folder = save_model(model, tmp_path / "vlm")
    loaded = load_model(folder)
    assert isinstance(loaded, PrefixVLM) and isinstance(loaded, VisionLanguageModel)
    assert loaded.config == model.config
    images = tiny_pixels(3)
    with torch.no_grad():
        assert torch.equal(
            loaded(**_batch(loaded), pixels=images).logits,
            model(**_batch(model), pixels=images).logits,
        )


def test_the_tiny_preset_builds() -> None:
    model = load_model("prefix_vlm-tiny")
    assert model.tokens_per_image == 64 and model.config.image_token_id == 3


def test_placeholders_and_images_must_match() -> None:
    model = _vlm()
    with pytest.raises(ValueError, match="3 <image> placeholders for 2 images"):
        model(**_batch(model), pixels=tiny_pixels(2))
    with pytest.raises(ValueError, match="placeholders for 0 images"):
        model.generate(PROMPTS[:1])


def test_more_images_than_image_positions_is_refused() -> None:
    model = PrefixVLM.from_parts(tiny_tower(), tiny_lm(), image_positions=1)
    with pytest.raises(ValueError, match=r"holds 2 images.*at most 1"):
        model(**_batch(model), pixels=tiny_pixels(3))
    unlimited = PrefixVLM.from_parts(tiny_tower(), tiny_lm(), image_positions=0)
    assert unlimited(**_batch(unlimited), pixels=tiny_pixels(3)).logits.shape[0] == 2


def test_parts_that_do_not_fit_are_refused() -> None:
    model = _vlm()
    config = model.config
    narrow = build_connector(ConnectorConfig("linear", 20, 32))
    with pytest.raises(ConfigError, match="takes 20-wide visual tokens, the vision tower gives 24"):
        PrefixVLM(config, tiny_tower(), narrow, model.lm)
    short = build_connector(ConnectorConfig("linear", 24, 16))
    with pytest.raises(ConfigError, match="gives 16-wide tokens, the language model takes 32"):
        PrefixVLM(config, tiny_tower(), short, model.lm)
    with pytest.raises(ConfigError, match=r"encodes <image> as \[3\], not as .* \[5\]"):
        PrefixVLM(replace(config, image_token_id=5), tiny_tower(), model.connector, model.lm)
