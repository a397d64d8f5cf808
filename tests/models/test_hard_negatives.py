"""Hard negatives (NegCLIP) in the dual-encoder task: the losses with extra negative texts against
hand computations, the foils drawn (false of their image, training scenes only, in the caption's
language, from the world's generator or a world folder's foils file), determinism, resume, and
two processes equal to one."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import safetensors.torch
import torch
import torch.nn.functional as F
from ddp_hard_negatives_worker import FAMILIES, STEP, micro_task, run

from shared_parts import SMALL_DUAL_ENCODER, run_on_processes
from vislang.data.world import World, WorldConfig, frames, write_world
from vislang.data.world.foils import PHENOMENA, foil_frames
from vislang.data.world.splits import derived_rng
from vislang.errors import ConfigError
from vislang.models.contrastive_loss import clip_loss, siglip_loss
from vislang.models.dual_encoder_task import DualEncoderTask
from vislang.train import register_task, train
from vislang.train.config import run_config_from_mapping
from vislang.train.task import build_task

pytestmark = pytest.mark.slow

LANGUAGES = ("en", "ta")
SCENES = 120


def tables(steps: int = 4, **options: Any) -> dict[str, Any]:
    task = {
        "name": "dual-encoder",
        "scenes": SCENES,
        "languages": list(LANGUAGES),
        "eval_images": 10,
        "architecture": SMALL_DUAL_ENCODER,
        "hard_negatives": 1,
        **options,
    }
    return {"task": task, "train": {"steps": steps, "batch_size": 8, "lr": 1e-3, "log_every": 1}}


def task(**options: Any) -> DualEncoderTask:
    built = build_task(run_config_from_mapping(tables(**options)))
    assert isinstance(built, DualEncoderTask)
    return built


@pytest.fixture(scope="module")
def clip_task() -> DualEncoderTask:
    return task(hard_negatives=2)


@pytest.fixture(scope="module")
def world_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("world") / "world"
    write_world(
        WorldConfig(
            scenes=SCENES,
            languages=LANGUAGES,
            split="compositional",
            questions_per_image=0,
            sequence_rate=0.0,
        ),
        out,
    )
    return out


# --- the losses -------------------------------------------------------------------------------


def _unit(count: int, generator: torch.Generator) -> torch.Tensor:
    rows = torch.randn(count, 4, generator=generator, dtype=torch.float64)
    return F.normalize(rows, dim=-1).requires_grad_()


def _batch() -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    generator = torch.Generator().manual_seed(3)
    return _unit(3, generator), _unit(3, generator), _unit(2, generator)


def test_clip_loss_with_hard_negatives_matches_the_hand_computation() -> None:
    images, texts, foils = _batch()
    scale = 5.0
    loss = clip_loss(images, texts, torch.tensor(scale, dtype=torch.float64), foils)
    x, y, g = images.detach().tolist(), texts.detach().tolist(), foils.detach().tolist()

    def dot(a: list[float], b: list[float]) -> float:
        return sum(p * q for p, q in zip(a, b, strict=True))

    total = 0.0
    for i in range(3):
        columns = [dot(x[i], y[j]) for j in range(3)] + [dot(x[i], g[k]) for k in range(2)]
        total -= math.log(
            math.exp(scale * dot(x[i], y[i])) / sum(math.exp(scale * s) for s in columns)
        )
        rows = [dot(y[i], x[j]) for j in range(3)]  # text → image: the foils have no image
        total -= math.log(
            math.exp(scale * dot(y[i], x[i])) / sum(math.exp(scale * s) for s in rows)
        )
    assert loss.item() == pytest.approx(total / 6, rel=1e-12)

    loss.backward()
    assert foils.grad is not None and foils.grad.abs().sum() > 0  # pushed away from the images
    # d loss / d g_k = t/(2N) Σ_i P_i,k x_i, with P the image → text softmax over 3 + 2 columns
    with torch.no_grad():
        logits = scale * images @ torch.cat([texts, foils]).T
        expected = scale / 6 * logits.softmax(dim=1)[:, 3:].T @ images
    torch.testing.assert_close(foils.grad, expected, rtol=1e-12, atol=1e-14)


def test_siglip_loss_with_hard_negatives_adds_one_negative_pair_per_foil() -> None:
    images, texts, foils = _batch()
    scale, bias = 5.0, -2.0
    owners = torch.tensor([2, 0])
    t, b = torch.tensor(scale, dtype=torch.float64), torch.tensor(bias, dtype=torch.float64)
    loss = siglip_loss(images, texts, t, b, foils, owners)

    def log_sigmoid(z: float) -> float:
        return -math.log1p(math.exp(-z))

    x, y, g = images.detach(), texts.detach(), foils.detach()
    total = 0.0
    for i in range(3):
        for j in range(3):
            total -= log_sigmoid((1 if i == j else -1) * (scale * float(x[i] @ y[j]) + bias))
    for k, owner in enumerate(owners.tolist()):
        total -= log_sigmoid(-(scale * float(x[owner] @ g[k]) + bias))
    assert loss.item() == pytest.approx(total / 3, rel=1e-12)
    with pytest.raises(ValueError, match="negative_owners"):
        siglip_loss(images, texts, t, b, foils, owners[:1])


def test_no_hard_negatives_leave_the_losses_as_they_were() -> None:
    images, texts, _ = _batch()
    t, b = torch.tensor(5.0, dtype=torch.float64), torch.tensor(-2.0, dtype=torch.float64)
    none = torch.zeros(0, 4, dtype=torch.float64)
    owners = torch.zeros(0, dtype=torch.long)
    assert clip_loss(images, texts, t, none).item() == clip_loss(images, texts, t).item()
    plain = siglip_loss(images, texts, t, b).item()
    assert siglip_loss(images, texts, t, b, none, owners).item() == plain


# --- the foils drawn ------------------------------------------------------------------------


def _scene_foils(world: World, index: int) -> dict[str, tuple[str, frames.Caption]]:
    """Every foil the world's generator makes for scene ``index``, by its text in each language,
    with its phenomenon and the frame it realises."""
    config = world.config
    made = foil_frames(
        world.scene(index),
        derived_rng(config.seed, index, "foils"),
        config,
        world.plan.forbidden(world.split_of(index)),
        len(PHENOMENA),
    )
    return {
        f"{language}:{text}": (phenomenon, foil)
        for phenomenon, _, foil in made
        for language, text in zip(config.languages, world.say(foil), strict=True)
    }


@pytest.mark.parametrize("source", ["generated", "folder"])
def test_foils_are_false_of_their_image_from_training_scenes_in_the_caption_s_language(
    source: str, clip_task: DualEncoderTask, world_folder: Path
) -> None:
    built = clip_task if source == "generated" else task(data=f"world:{world_folder}")
    world = World(WorldConfig(scenes=SCENES, languages=LANGUAGES, split="compositional"))
    checked = 0
    for step in range(built.steps_per_epoch):
        images, captions = built.selection(step)
        foils, owners = built.hard_negatives(step)
        assert len(foils) and np.all(np.diff(owners) >= 0)
        for foil, slot in zip(foils, owners, strict=True):
            image = int(images[slot])
            item = built.pairs.items[image]
            index = int(item.image_id.removeprefix("s"))
            assert world.split_of(index) == "train"
            language = item.captions[int(captions[slot]) - built.pairs.caption_start[image]][1]
            _, frame = _scene_foils(world, index)[f"{language}:{built.foils.texts[foil]}"]
            assert not frames.holds(frame, world.scene(index))
            checked += 1
    per_image = 2 if source == "generated" else 1  # a folder's world has 2 foils per image
    assert checked >= per_image * built.steps_per_epoch * built.batch_size * 0.9


def test_hard_negative_phenomena_keeps_only_those_foils() -> None:
    built = task(hard_negative_phenomena=["attribute_swap", "spatial_relation"])
    world = World(WorldConfig(scenes=SCENES, languages=LANGUAGES, split="compositional"))
    seen = set()
    for step in range(built.steps_per_epoch):
        images = built.selection(step)[0]
        foils, owners = built.hard_negatives(step)
        for foil, slot in zip(foils, owners, strict=True):
            item = built.pairs.items[int(images[slot])]
            made = _scene_foils(world, int(item.image_id.removeprefix("s")))
            texts = {text.partition(":")[2]: phenomenon for text, (phenomenon, _) in made.items()}
            seen.add(texts[built.foils.texts[foil]])
    assert seen == {"attribute_swap", "spatial_relation"}
    with pytest.raises(ConfigError, match="hard_negative_phenomena: colour_swap unknown"):
        task(hard_negative_phenomena=["colour_swap"])


def test_foils_depend_only_on_seed_and_step_and_shards_make_the_global_batch(
    clip_task: DualEncoderTask,
) -> None:
    other = task(hard_negatives=2)
    foils, owners = clip_task.hard_negatives(2)
    again, again_owners = other.hard_negatives(2)
    assert np.array_equal(foils, again) and np.array_equal(owners, again_owners)
    assert not np.array_equal(foils, clip_task.hard_negatives(3)[0])

    whole = clip_task.batch(2, 0, 1)
    halves = [clip_task.batch(2, rank, 2) for rank in range(2)]
    size = whole["pixels"].shape[0]
    ids = whole["tokens"]["input_ids"]
    assert ids.shape[0] == size + len(foils)
    assert torch.equal(whole["negative_owners"], torch.from_numpy(owners))
    pad = clip_task.pairs.pad_token_id

    def rows(ids: torch.Tensor) -> list[list[int]]:
        return [[token for token in row.tolist() if token != pad] for row in ids]

    texts = [rows(h["tokens"]["input_ids"]) for h in halves]
    assert texts[0][: size // 2] + texts[1][: size // 2] == rows(ids[:size])
    assert texts[0][size // 2 :] + texts[1][size // 2 :] == rows(ids[size:])
    shifted = [halves[0]["negative_owners"], halves[1]["negative_owners"] + size // 2]
    assert torch.equal(torch.cat(shifted), whole["negative_owners"])
    foil_rows = clip_task.foils.tokens
    first = foil_rows[int(foils[0])]
    assert torch.equal(ids[size, : len(first)], torch.from_numpy(first))


def test_the_task_loss_counts_the_foils_as_negatives(clip_task: DualEncoderTask) -> None:
    model = clip_task.build_model()
    batch = clip_task.batch(0, 0, 1)
    loss, _ = clip_task.loss(model, batch)
    size = batch["pixels"].shape[0]
    with torch.no_grad():
        output = model(batch["pixels"], **batch["tokens"])
        texts = output.text_embeds
        expected = clip_loss(output.image_embeds, texts[:size], output.logit_scale, texts[size:])
        plain = clip_loss(output.image_embeds, texts[:size], output.logit_scale)
    assert loss.item() == pytest.approx(expected.item(), rel=1e-6)
    assert loss.item() > plain.item()  # more negatives in each image's softmax


def test_bad_hard_negative_options_are_refused(world_folder: Path, tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="hard_negatives"):
        task(hard_negatives=-1)
    captions_only = tmp_path / "captions-only"
    (captions_only / "tasks").mkdir(parents=True)
    for name in ("manifest.json", "splits.json", "images", "tasks/captions.jsonl"):
        (captions_only / name).symlink_to(world_folder / name)
    with pytest.raises(ConfigError, match="no foil records"):
        task(data=f"world:{captions_only}")


class Crash(Exception):
    """Stands for the process dying."""


class CrashingTask(DualEncoderTask):
    def batch(self, step: int, rank: int, world_size: int) -> dict[str, Any]:
        if step == 3:
            raise Crash
        return super().batch(step, rank, world_size)


@pytest.mark.parametrize("model", ["clip-tiny", "siglip-tiny"])
def test_training_with_hard_negatives_resumes_to_the_same_weights(
    tmp_path: Path, model: str
) -> None:
    config = tables(steps=4, model=model)
    config["train"].update(checkpoint_every=2)
    summary = train(run_config_from_mapping(config), tmp_path / "whole", show_progress=False)
    assert summary["steps"] == 4

    register_task("dual-encoder-crash-hn", CrashingTask)
    crashing = {**config, "task": {**config["task"], "name": "dual-encoder-crash-hn"}}
    with pytest.raises(Crash):
        train(run_config_from_mapping(crashing), tmp_path / "crash", show_progress=False)
    register_task("dual-encoder-crash-hn", DualEncoderTask)
    resumed = train(
        run_config_from_mapping(crashing), tmp_path / "crash", resume=True, show_progress=False
    )
    assert resumed["resumed_from"] == 2
    whole = (tmp_path / "whole" / "model" / "model.safetensors").read_bytes()
    assert (tmp_path / "crash" / "model" / "model.safetensors").read_bytes() == whole

    def losses(run: str) -> list[float]:
        lines = (tmp_path / run / "log.jsonl").read_text().splitlines()
        return [json.loads(line)["loss"] for line in lines if '"loss"' in line]

    assert losses("crash") == losses("whole") and len(losses("whole")) >= 4


@pytest.fixture(scope="module")
def ddp_results(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Run the hard-negatives worker on two processes once; the directory of their results."""
    out_dir = tmp_path_factory.mktemp("ddp")
    worker = Path(__file__).with_name("ddp_hard_negatives_worker.py")
    run_on_processes(worker, out_dir, processes=2, timeout=600)
    return out_dir


@pytest.mark.parametrize("model", FAMILIES)
def test_two_processes_with_hard_negatives_equal_one(ddp_results: Path, model: str) -> None:
    built = micro_task(model)
    whole = built.batch(STEP, 0, 1)
    assert len(whole["negative_owners"]) > built.batch_size  # two foils for most images
    single = run(built.build_model().double(), built, whole)
    ranks = [
        safetensors.torch.load_file(ddp_results / f"{model}.rank{rank}.safetensors")
        for rank in range(2)
    ]
    tolerance = {"rtol": 1e-9, "atol": 1e-12}
    torch.testing.assert_close(
        (ranks[0]["loss"] + ranks[1]["loss"]) / 2, single["loss"], **tolerance
    )
    parameters = [key for key in single if key.startswith("param.")]
    for result in ranks:
        for key in parameters:
            torch.testing.assert_close(result[key], single[key], **tolerance, msg=key)
