"""The dual-encoder training task: data held in memory as the model's pipeline makes it,
deterministic sharded batches, a learned vocabulary, resume through the loop, recipes."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import torch

from shared_parts import SMALL_DUAL_ENCODER
from vislang.data.batch import load_batch
from vislang.data.world import World, WorldConfig, write_world
from vislang.errors import ConfigError
from vislang.models.dual_encoder_task import DualEncoderOptions, DualEncoderTask
from vislang.models.registry import load_model
from vislang.recipes import recipe_names, recipe_path
from vislang.train import register_task, train
from vislang.train.config import load_run_config, parse_dataclass, run_config_from_mapping
from vislang.train.task import build_task

pytestmark = pytest.mark.slow

SMALL_TASK: dict[str, Any] = {
    "scenes": 120,
    "languages": ["en", "ta"],
    "eval_images": 10,
    "architecture": SMALL_DUAL_ENCODER,
}


def tables(batch_size: int = 8, steps: int = 6, **options: Any) -> dict[str, Any]:
    return {
        "task": {"name": "dual-encoder", **SMALL_TASK, **options},
        "train": {"steps": steps, "batch_size": batch_size, "lr": 1e-3, "log_every": 1},
    }


def task(batch_size: int = 8, **options: Any) -> DualEncoderTask:
    built = build_task(run_config_from_mapping(tables(batch_size, **options)))
    assert isinstance(built, DualEncoderTask)
    return built


@pytest.fixture(scope="module")
def clip_task() -> DualEncoderTask:
    return task()


@pytest.fixture(scope="module")
def world_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("world") / "world"
    write_world(
        WorldConfig(scenes=120, languages=("en", "ta"), questions_per_image=0, sequence_rate=0.0),
        out,
    )
    return out


def test_batches_depend_only_on_seed_and_step_and_shards_make_the_global_batch(
    clip_task: DualEncoderTask,
) -> None:
    other = task()
    whole = clip_task.batch(3, 0, 1)
    assert torch.equal(whole["pixels"], other.batch(3, 0, 1)["pixels"])
    assert torch.equal(whole["tokens"]["input_ids"], other.batch(3, 0, 1)["tokens"]["input_ids"])
    halves = [clip_task.batch(3, rank, 2) for rank in range(2)]
    assert torch.equal(torch.cat([h["pixels"] for h in halves]), whole["pixels"])
    rows = [
        ids[mask.bool()].tolist()
        for h in halves
        for ids, mask in zip(h["tokens"]["input_ids"], h["tokens"]["attention_mask"], strict=True)
    ]
    whole_rows = [
        ids[mask.bool()].tolist()
        for ids, mask in zip(
            whole["tokens"]["input_ids"], whole["tokens"]["attention_mask"], strict=True
        )
    ]
    assert rows == whole_rows
    assert not torch.equal(clip_task.batch(4, 0, 1)["pixels"], whole["pixels"])


def test_an_epoch_shows_every_image_at_most_once_each_with_its_own_caption(
    clip_task: DualEncoderTask,
) -> None:
    pairs = clip_task.pairs
    seen: list[int] = []
    for step in range(clip_task.steps_per_epoch):
        images, captions = clip_task.selection(step)
        seen += images.tolist()
        for image, caption in zip(images, captions, strict=True):
            start = pairs.caption_start[image]
            assert start <= caption < start + pairs.caption_count[image]
    assert len(seen) == len(set(seen)) == clip_task.steps_per_epoch * 8
    languages = {pairs.items[i].captions[0][1] for i in range(len(pairs))}
    assert languages == {"en"}  # each image's captions start with its English record
    assert {lang for item in pairs.items for _, lang in item.captions} == {"en", "ta"}


def test_pixels_are_the_image_pipeline_s_and_tokens_the_model_s(clip_task: DualEncoderTask) -> None:
    pairs = clip_task.pairs
    model = clip_task.build_model()
    sources = [pairs.items[i].image for i in range(5)]
    expected = load_batch(sources, model.preprocess).pixels
    torch.testing.assert_close(pairs.pixels(range(5)), expected, atol=1e-6, rtol=0)
    texts = [text for item in pairs.items[:3] for text, _ in item.captions]
    captions = list(range(len(texts)))
    batch = pairs.token_batch(captions)
    reference = model.tokenize(texts)
    assert batch.keys() == reference.keys()
    assert all(torch.equal(batch[k], reference[k]) for k in batch)


def test_a_frozen_cnn_stem_s_features_are_computed_once_and_train_like_pixels() -> None:
    cnn = task(model="clip-tiny-cnn")
    model = cnn.build_model()
    stem = model.frozen_stem
    assert stem is not None and cnn.stem_features is not None
    assert cnn.stem_features.shape == (len(cnn.pairs), stem.trunk_channels, 4, 4)
    images, _ = cnn.selection(2)
    batch = cnn.batch(2, 0, 1)
    expected = stem.trunk_features(cnn.pairs.pixels(images))  # another batch size: rounding only
    torch.testing.assert_close(batch["pixels"], expected, atol=1e-4, rtol=1e-4)
    with torch.no_grad():
        from_features = model(batch["pixels"], **batch["tokens"]).image_embeds
        from_pixels = model(cnn.pairs.pixels(images), **batch["tokens"]).image_embeds
    torch.testing.assert_close(from_features, from_pixels, atol=1e-6, rtol=0)
    loss, _ = cnn.loss(model.train(), batch)
    loss.backward()
    assert stem.proj.weight.grad is not None
    assert all(p.grad is None for p in stem.trunk.parameters())


@pytest.mark.parametrize("family", ["clip", "siglip"])
def test_byte_tokens_and_truncation_match_the_model_s_tokenize(family: str) -> None:
    built = task(model=f"{family}-tiny", architecture={**SMALL_DUAL_ENCODER, "text_max_length": 48})
    model = built.build_model()
    pairs = built.pairs
    assert pairs.truncated > 0  # Tamil captions run past 48 bytes
    long = [i for i, ids in enumerate(pairs.tokens) if len(ids) == 48][:4]
    short = list(range(4))
    texts = [text for item in pairs.items for text, _ in item.captions]
    batch = pairs.token_batch(long + short)
    reference = model.tokenize([texts[i] for i in long + short])
    assert batch.keys() == reference.keys()
    assert all(torch.equal(batch[k], reference[k]) for k in batch)
    if family == "siglip":
        assert batch["input_ids"].shape[1] == 48  # SigLIP always runs its fixed length


def test_a_learned_vocabulary_is_saved_with_the_model(tmp_path: Path) -> None:
    built = task(vocab_size=400)
    model = built.build_model()
    assert model.config.tokenizer == "checkpoint" and model.config.vocab_size == 400
    assert model.config.eos_token_id == 1  # never 2: CLIP would pool argmax(input_ids)
    text = built.pairs.items[0].captions[0][0]
    ids = model.tokenize([text])["input_ids"][0]
    assert ids[-1] == 1 and len(ids) < len(text.encode()) // 2
    built.export(model, tmp_path / "model")
    loaded = load_model(tmp_path / "model")
    assert torch.equal(loaded.tokenize([text])["input_ids"][0], ids)
    assert torch.equal(loaded.encode_texts([text]), model.encode_texts([text]))
    texts = [t for item in built.pairs.items[:2] for t, _ in item.captions]
    batch = built.pairs.token_batch(list(range(len(texts))))
    assert torch.equal(batch["input_ids"], model.tokenize(texts)["input_ids"])


class Crash(Exception):
    """Stands for the process dying."""


class CrashingTask(DualEncoderTask):
    def batch(self, step: int, rank: int, world_size: int) -> dict[str, Any]:
        if step == 4:
            raise Crash
        return super().batch(step, rank, world_size)


def test_training_on_a_world_folder_resumes_to_the_same_weights(
    tmp_path: Path, world_folder: Path
) -> None:
    config = tables(steps=6, data=f"world:{world_folder}")
    config["train"].update(checkpoint_every=3, eval_every=3)
    summary = train(run_config_from_mapping(config), tmp_path / "whole", show_progress=False)
    assert summary["steps"] == 6
    final = summary["final_metrics"]
    assert set(final) >= {"text_to_image@5", "image_to_text@5", "image_to_text@5_ta"}
    assert all(0.0 <= value <= 1.0 for value in final.values())

    register_task("dual-encoder-crash", CrashingTask)
    crashing = {**config, "task": {**config["task"], "name": "dual-encoder-crash"}}
    with pytest.raises(Crash):
        train(run_config_from_mapping(crashing), tmp_path / "crash", show_progress=False)
    register_task("dual-encoder-crash", DualEncoderTask)
    resumed = train(
        run_config_from_mapping(crashing), tmp_path / "crash", resume=True, show_progress=False
    )
    assert resumed["resumed_from"] == 3
    whole = (tmp_path / "whole" / "model" / "model.safetensors").read_bytes()
    assert (tmp_path / "crash" / "model" / "model.safetensors").read_bytes() == whole

    def records(run: str) -> list[dict[str, Any]]:
        lines = (tmp_path / run / "log.jsonl").read_text().splitlines()
        return [{k: v for k, v in json.loads(line).items() if k != "seconds"} for line in lines]

    assert records("crash") == records("whole")
    model = load_model(tmp_path / "whole" / "model")
    assert model.config.patch_size == 16 and model.config.seed == 0


def test_bad_options_are_refused_with_the_key(world_folder: Path) -> None:
    with pytest.raises(ConfigError, match="batch_size: 500 is more than the"):
        task(batch_size=500)
    with pytest.raises(ConfigError, match=r"task\.data: expected FORMAT:PATH"):
        task(data="no-format")
    with pytest.raises(ConfigError, match=r"task\.model: 'nowhere' is neither a preset"):
        task(model="nowhere")
    with pytest.raises(ConfigError, match=r"task\.split_mode"):
        task(split_mode="random")
    with pytest.raises(ConfigError, match=r"task\.architecture\.seed"):
        task(architecture={"seed": 3})
    with pytest.raises(ConfigError, match="no caption records in split 'valid'"):
        task(data=f"world:{world_folder}", eval_split="valid")


def test_shipped_recipes_parse_and_name_dual_encoder_presets() -> None:
    ours = [
        "clip-tiny-world",
        "clip-tiny-world-quick",
        "siglip-tiny-world",
        "siglip-tiny-world-quick",
    ]
    assert set(ours) <= set(recipe_names())
    for name in recipe_names():
        config = load_run_config(recipe_path(name))
        if config.task != "dual-encoder":
            continue
        options = parse_dataclass(
            DualEncoderOptions, config.task_options, where=name, prefix="task"
        )
        assert options.model == f"{name.split('-')[0]}-tiny-cnn" and not options.data
    loss_keys = {"embed_dim", "logit_scale_init", "logit_bias_init"}  # each loss's own start
    for suffix in ("", "-quick"):
        clip = load_run_config(recipe_path(f"clip-tiny-world{suffix}"))
        siglip = load_run_config(recipe_path(f"siglip-tiny-world{suffix}"))
        # the two recipes compare the losses: same data, training and towers
        towers = [
            {k: v for k, v in c.task_options.get("architecture", {}).items() if k not in loss_keys}
            for c in (clip, siglip)
        ]
        assert towers[0] == towers[1]
        others = [{**c.task_options, "model": "", "architecture": {}} for c in (clip, siglip)]
        assert others[0] == others[1]
        assert clip.train == siglip.train


def test_quick_recipe_trains_a_model_well_above_chance(tmp_path: Path) -> None:
    config = load_run_config(recipe_path("clip-tiny-world-quick"))
    summary = train(config, tmp_path / "run", show_progress=False)
    assert summary["steps"] == config.train.steps
    world = World(WorldConfig(scenes=config.task_options["scenes"], split="compositional"))
    val_images = sum(world.split_of(i) == "val" for i in range(world.config.scenes))
    chance = 5 / val_images  # recall@5 of a random ranking, image to text and text to image
    assert summary["final_metrics"]["image_to_text@5"] > 2 * chance
    assert summary["final_metrics"]["text_to_image@5"] > 2 * chance


def test_the_generated_world_s_english_captions_do_not_depend_on_its_other_languages() -> None:
    english = World(WorldConfig(scenes=30, languages=("en",)))
    every = World(WorldConfig(scenes=30))
    for index in range(30):
        [alone] = english.item(index).records["captions"]
        beside = [r for r in every.item(index).records["captions"] if r.language == "en"]
        assert [alone] == beside and english.split_of(index) == every.split_of(index)
