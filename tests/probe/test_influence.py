"""Modality influence: attention mass, object masking, the three-condition ablation and the
``vislang probe influence`` command, on a tiny random prefix VLM and a tiny generated world."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from typer.testing import CliRunner

from shared_parts import tiny_lm, tiny_pixels, tiny_tower
from vislang.cli import app
from vislang.data.world import WorldConfig, write_world
from vislang.errors import ConfigError, DataFormatError
from vislang.models.prefix_vlm import PrefixVLM
from vislang.models.registry import load_model, save_model
from vislang.probe.ablation import ablation_log_likelihoods, text_only_prompt
from vislang.probe.attention_mass import attention_mass, require_joint_attention
from vislang.probe.influence import influence_examples, measure_influence
from vislang.probe.object_masking import (
    background_colour,
    mask_objects,
    masked_world_image,
    object_boxes,
    scene_file,
)

LAYERS, HEADS, IMAGE_TOKENS = 2, 4, 16  # the shared tiny LM and tower
PROMPTS = ["<image>en:", "<image>How many stars are there?", "<image>de:"]
TEXTS = [" There is a red circle.", " 2", " Es gibt einen roten Kreis und zwei Quadrate."]


def tiny_vlm(seed: int = 0) -> PrefixVLM:
    """A random prefix VLM: the shared 2-layer CLIP tower on 32×32 images (16 patch tokens), the
    MLP connector and the shared 2-layer, 4-head Llama-style LM."""
    return PrefixVLM.from_parts(
        tiny_tower(seed), tiny_lm(seed), "mlp", seed=seed, name="influence-test-vlm"
    )


@pytest.fixture(scope="module")
def vlm() -> PrefixVLM:
    return tiny_vlm()


@pytest.fixture(scope="module")
def world(tmp_path_factory) -> Path:
    """A 16-scene world in English and German (iid splits)."""
    out = tmp_path_factory.mktemp("influence") / "world"
    config = WorldConfig(
        scenes=16,
        seed=5,
        languages=("en", "de"),
        split_fractions=(0.5, 0.0, 0.5),
        statements_per_image=0,
        foils_per_image=0,
        winoground_rate=0.0,
        sequence_rate=0.0,
    )
    write_world(config, out)
    return out


# --- attention mass ------------------------------------------------------------------------------


def test_attention_mass_sums_to_one_over_image_and_text_per_layer_and_head(vlm) -> None:
    mass = attention_mass(vlm, TEXTS, PROMPTS, tiny_pixels(3))
    assert mass.image.shape == mass.text.shape == (3, LAYERS, HEADS)
    np.testing.assert_allclose(mass.image + mass.text, 1.0, atol=1e-5)
    assert ((mass.image > 0) & (mass.image < 1)).all()


def test_padding_does_not_change_an_examples_attention_mass(vlm) -> None:
    images = tiny_pixels(3)
    batch = attention_mass(vlm, TEXTS, PROMPTS, images)
    for i in range(3):
        alone = attention_mass(vlm, TEXTS[i : i + 1], PROMPTS[i : i + 1], images[i : i + 1])
        np.testing.assert_allclose(batch.image[i], alone.image[0], atol=1e-5)
        np.testing.assert_allclose(batch.image_share[i], alone.image_share[0], atol=1e-6)


def test_uniform_image_share_matches_a_hand_count_of_the_keys(vlm) -> None:
    mass = attention_mass(vlm, TEXTS[:1], PROMPTS[:1], tiny_pixels(1))
    start = len(vlm.lm.start_ids)
    prompt = vlm.tokenizer(PROMPTS[0], add_special_tokens=False)["input_ids"]
    text = vlm.tokenizer(TEXTS[0], add_special_tokens=False)["input_ids"]
    length = start + len(prompt) - 1 + IMAGE_TOKENS + len(text) + 1
    first_query = length - len(text) - 2  # the prompt's last position predicts the first token
    shares = [IMAGE_TOKENS / (q + 1) for q in range(first_query, length - 1)]
    assert mass.image_share[0] == pytest.approx(np.mean(shares), abs=1e-6)


def test_attention_mass_restores_the_language_models_attention_implementation(vlm) -> None:
    before = vlm.lm.model.config._attn_implementation
    attention_mass(vlm, TEXTS[:1], PROMPTS[:1], tiny_pixels(1))
    assert vlm.lm.model.config._attn_implementation == before


def test_a_model_without_joint_attention_is_refused_with_the_reason() -> None:
    with pytest.raises(ConfigError, match="attends over image and text tokens in one sequence"):
        require_joint_attention(load_model("clip-tiny"), name="clip-tiny")


# --- object masking ------------------------------------------------------------------------------


def test_masking_paints_exactly_the_boxes_with_the_background_mean() -> None:
    noise = np.random.default_rng(0).integers(0, 256, size=(16, 20, 3), dtype=np.uint8)
    image = Image.fromarray(noise)
    boxes = [(2, 3, 7, 9), (10, 0, 14, 4)]
    masked = np.asarray(mask_objects(image, boxes))
    inside = np.zeros((16, 20), dtype=bool)
    inside[3:9, 2:7] = True
    inside[0:4, 10:14] = True
    expected_fill = np.round(noise[~inside].mean(axis=0)).astype(np.uint8)
    assert background_colour(image, boxes) == tuple(int(v) for v in expected_fill)
    assert (masked[inside] == expected_fill).all()
    np.testing.assert_array_equal(masked[~inside], noise[~inside])


def test_a_world_images_objects_are_masked_inside_their_scene_boxes_only(world) -> None:
    image_file = sorted((world / "images").glob("*.png"))[0]
    scene = json.loads(scene_file(image_file).read_text())
    image = Image.open(image_file).convert("RGB")
    masked = np.asarray(masked_world_image(image, image_file)).astype(int)
    original = np.asarray(image).astype(int)
    boxes, _ = object_boxes(scene_file(image_file))
    assert boxes and [list(b) for b in boxes] == [o["bbox"] for o in scene["objects"]]
    changed = (masked != original).any(axis=2)
    inside = np.zeros(changed.shape, dtype=bool)
    for x0, y0, x1, y1 in boxes:
        inside[y0:y1, x0:x1] = True
    assert changed.any() and not changed[~inside].any()
    for obj in scene["objects"]:  # no object's fill colour survives in its box
        x0, y0, x1, y1 = obj["bbox"]
        assert not (masked[y0:y1, x0:x1] == obj["rgb"]).all(axis=2).any()


def test_a_malformed_scene_box_is_named_by_file_and_field(tmp_path) -> None:
    scene = tmp_path / "s1.json"
    scene.write_text(json.dumps({"image_size": [8, 8], "objects": [{"bbox": [0, 0, 9, 4]}]}))
    with pytest.raises(DataFormatError, match=r"objects\[0\]\.bbox") as caught:
        object_boxes(scene)
    assert "s1.json" in str(caught.value)


# --- ablation ------------------------------------------------------------------------------------


def test_the_ablation_gives_three_likelihoods_and_no_image_is_the_language_model_alone(
    vlm,
) -> None:
    images = tiny_pixels(3)
    masked = images.clone()
    masked[:, :, 8:24, 8:24] = 0.0
    scores = ablation_log_likelihoods(vlm, TEXTS, PROMPTS, images, masked)
    assert len(scores) == 3
    for text, prompt, score in zip(TEXTS, PROMPTS, scores, strict=True):
        tokenizer = vlm.tokenizer
        context = (
            vlm.lm.start_ids
            + tokenizer(text_only_prompt(prompt), add_special_tokens=False)["input_ids"]
        )
        targets = tokenizer(text, add_special_tokens=False)["input_ids"] + [tokenizer.eos_token_id]
        ids = torch.tensor([context + targets])
        with torch.no_grad():
            log_probs = torch.log_softmax(vlm.lm.model(input_ids=ids).logits[0], dim=-1)
        by_hand = sum(
            float(log_probs[len(context) + i - 1, token]) for i, token in enumerate(targets)
        )
        assert score.no_image.total == pytest.approx(by_hand, abs=1e-4)
        assert score.no_image.tokens == score.intact.tokens == score.masked.tokens == len(targets)
        assert score.intact.total < 0 and score.masked.total < 0
        assert score.intact.total != pytest.approx(score.masked.total, abs=1e-6)
        assert score.intact.total != pytest.approx(score.no_image.total, abs=1e-6)


def test_text_only_prompt_drops_the_placeholder() -> None:
    assert text_only_prompt("<image>How many stars are there?") == "How many stars are there?"


# --- the probe on a world ------------------------------------------------------------------------


def test_examples_whose_scene_is_missing_are_skipped_and_reported(vlm, world, tmp_path) -> None:
    examples = influence_examples(f"world:{world}", split="test", n=6, seed=1)
    assert len(examples) == 6
    broken = tmp_path / "lonely.png"
    Image.new("RGB", (64, 64), (200, 200, 200)).save(broken)
    examples[2] = type(examples[2])(broken, "captions", "", "There is a circle.", "en")
    report = measure_influence(vlm, examples, batch_size=4, show_progress=False)
    assert len(report.examples) == len(report.ablation) == report.attention.examples == 5
    assert [image for image, _ in report.skipped] == [str(broken)]
    assert "structured scene file not found" in report.skipped[0][1]
    summary = report.to_dict()
    assert [row["layer"] for row in summary["attention"]["per_layer"]] == list(range(LAYERS))
    assert len(summary["per_example"]) == 5
    types = [e.question_type for e in report.examples if e.kind == "vqa"]
    assert types, "the sample should hold questions"
    by_type = summary["ablation"]["by_question_type"]
    assert {name: entry["examples"] for name, entry in by_type.items()} == {
        name: types.count(name) for name in set(types)
    }


runner = CliRunner()


def test_the_cli_probes_a_saved_model_on_a_world(vlm, world, tmp_path) -> None:
    model_dir = save_model(vlm, tmp_path / "model")
    out = tmp_path / "influence"
    result = runner.invoke(
        app,
        ["probe", "influence", "--model", str(model_dir), "--data", f"world:{world}",
         "--n", "6", "--out", str(out), "--json"],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert summary["examples"] == 6
    layers = summary["attention"]["per_layer"]
    assert len(layers) == LAYERS
    assert all(row["image"] + row["text"] == pytest.approx(1.0, abs=1e-5) for row in layers)
    assert set(summary["ablation"]["mean"]) == {"intact", "masked", "no_image"}
    written = json.loads((out / "influence.json").read_text())
    assert len(written["per_example"]) == 6
    assert (out / "attention_by_layer.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_the_cli_refuses_a_dual_encoder_with_the_reason(world, tmp_path) -> None:
    model_dir = save_model(load_model("clip-tiny"), tmp_path / "clip")
    result = runner.invoke(
        app, ["probe", "influence", "--model", str(model_dir), "--data", f"world:{world}"]
    )
    assert result.exit_code == 1 and isinstance(result.exception, ConfigError)
    assert "attends over image and text tokens in one sequence" in str(result.exception)
