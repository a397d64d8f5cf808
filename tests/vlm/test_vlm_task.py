"""The ``vlm`` training task: deterministic mixed batches with loss on the answers only, the
example pool shared by the stages, what each stage trains, frozen weights untouched, LoRA merged
on export, and the shipped quick recipes through ``vislang train``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import safetensors.torch
import torch
from PIL import Image
from tiny_parts import save_parts
from typer.testing import CliRunner

from vislang.cli import app
from vislang.errors import ConfigError
from vislang.models.causal_lm import IGNORE_INDEX
from vislang.models.flamingo import FlamingoVLM
from vislang.models.prefix_vlm import PrefixVLM
from vislang.models.registry import load_model
from vislang.models.vlm_task import VLMTask
from vislang.recipes import recipe_path
from vislang.train.config import run_config_from_mapping
from vislang.train.task import build_task

SMALL = {"scenes": 40, "eval_questions": 14, "feature_batch_size": 32}


@pytest.fixture(scope="module")
def parts(tmp_path_factory) -> tuple[Path, Path]:
    return save_parts(tmp_path_factory.mktemp("parts"))


def _tables(parts, steps: int = 4, batch_size: int = 8, **options: Any) -> dict[str, Any]:
    vision, lm = parts
    task = {"name": "vlm", "vision": str(vision), "lm": str(lm), **SMALL, **options}
    train = {"steps": steps, "batch_size": batch_size, "lr": 3e-3, "log_every": 1}
    return {"task": task, "train": train}


def _task(parts, batch_size: int = 8, **options: Any) -> VLMTask:
    task = build_task(run_config_from_mapping(_tables(parts, batch_size=batch_size, **options)))
    assert isinstance(task, VLMTask)
    return task


def _rows(batch: dict[str, Any]) -> list[list[int]]:
    ids, mask = batch["input_ids"], batch["attention_mask"]
    return [row[m.bool()].tolist() for row, m in zip(ids, mask, strict=True)]


def test_batches_depend_on_the_step_only_and_shards_form_the_global_batch(parts) -> None:
    task = _task(parts, kinds=["vqa", "captions"], vqa_share=0.75)
    again = _task(parts, kinds=["vqa", "captions"], vqa_share=0.75)
    assert task.per_step == {"vqa": 6, "captions": 2}
    for step in (0, 3, 400):
        single = task.batch(step, 0, 1)
        assert _rows(single) == _rows(again.batch(step, 0, 1))
        assert torch.equal(single["features"], again.batch(step, 0, 1)["features"])
        shards = [task.batch(step, rank, 2) for rank in range(2)]
        assert [row for shard in shards for row in _rows(shard)] == _rows(single)
        targets = int((single["labels"] != IGNORE_INDEX).sum())
        assert all(shard["token_share"] == targets / 2 for shard in shards)
    assert _rows(task.batch(1, 0, 1)) != _rows(task.batch(2, 0, 1))


def test_labels_cover_the_answer_and_the_end_of_text_only(parts) -> None:
    task = _task(parts, kinds=["vqa", "captions"])
    batch = task.batch(0, 0, 1)
    tokenizer = task.tokenizer
    for ids, labels in zip(batch["input_ids"], batch["labels"], strict=True):
        scored = labels[labels != IGNORE_INDEX].tolist()
        assert scored[-1] == tokenizer.eos_token_id
        target = tokenizer.decode(scored[:-1])
        prompt = tokenizer.decode(ids[: (labels != IGNORE_INDEX).nonzero()[0, 0]])
        assert prompt.startswith("<s><image>") and prompt.count("<image>") == 1
        assert target.startswith(" ") and target.strip()
    examples = task.examples["vqa"] + task.examples["captions"]
    answers = {" " + e.target for e in examples}
    decoded = [
        tokenizer.decode(labels[labels != IGNORE_INDEX].tolist()[:-1]) for labels in batch["labels"]
    ]
    assert set(decoded) <= answers


def test_one_epoch_reads_every_example_of_a_kind_once(parts) -> None:
    task = _task(parts, batch_size=4, examples=40, kinds=["captions"])
    sequences = [tuple(ids.tolist()) for ids, _, _ in task.sequences["captions"]]
    steps = -(-len(sequences) // 4)
    read = [tuple(row) for step in range(steps) for row in _rows(task.batch(step, 0, 1))]
    assert sorted(read[: len(sequences)]) == sorted(sequences)


def test_both_stages_draw_the_same_pool_of_examples(parts) -> None:
    stage1 = _task(parts, examples=60, kinds=["captions"])
    stage2 = _task(parts, examples=60, kinds=["vqa", "captions"])
    assert stage1.examples["captions"] == stage2.examples["captions"]
    assert len(stage2.examples["vqa"]) + len(stage2.examples["captions"]) == 60
    other = _task(parts, examples=60, pool_seed=1, kinds=["captions"])
    assert other.examples["captions"] != stage1.examples["captions"]


def test_sharded_losses_average_to_the_single_process_loss(parts) -> None:
    task = _task(parts, kinds=["vqa", "captions"])
    model = task.build_model().train()
    single, _ = task.loss(model, task.batch(2, 0, 1))
    shards = [task.loss(model, task.batch(2, rank, 2))[0] for rank in range(2)]
    assert float(sum(shards).detach()) / 2 == pytest.approx(float(single.detach()), rel=1e-5)


@pytest.mark.parametrize(
    ("options", "trained"),
    [
        ({}, {"connector", "image_position"}),
        ({"trainable": "connector+lora"}, {"connector", "image_position", "lora"}),
        ({"trainable": "connector+lm"}, {"connector", "image_position", "lm"}),
        (
            {
                "architecture": "flamingo",
                "connector": "resampler",
                "connector_options": {"queries": 4},
            },
            {"connector", "image_position", "cross_attention"},
        ),
    ],
)
def test_each_stage_trains_the_bridge_and_what_it_names(parts, options, trained) -> None:
    model = _task(parts, **options).build_model()

    def group(name: str) -> str:
        if "lora_" in name:
            return "lora"
        if ".cross_attention." in name:
            return "cross_attention"
        return name.split(".")[0]

    names = [name for name, p in model.named_parameters() if p.requires_grad]
    assert {group(name) for name in names} == trained
    assert not any(p.requires_grad for p in model.vision.parameters())


def test_evaluation_reports_vqa_per_type_and_language_and_cider(parts) -> None:
    task = _task(parts, kinds=["vqa"], eval_captions=14, caption_beams=1)
    metrics = task.evaluate(task.build_model().eval())
    types = {"colour", "shape", "count", "existence", "relation"}
    languages = {"en", "de", "tr", "zh", "sw", "id", "ta"}
    question_keys = {k[4:] for k in metrics if k.startswith("vqa_")}
    assert "vqa" in metrics and question_keys <= types | languages
    assert question_keys & types and question_keys & languages
    assert "cider" in metrics and all(v >= 0.0 for v in metrics.values())


def _train(tables: dict[str, Any], out: Path, folder: Path) -> dict[str, Any]:
    config = folder / f"{out.name}.toml"
    config.write_text(run_config_from_mapping(tables).to_toml(), encoding="utf-8")
    result = CliRunner().invoke(app, ["train", str(config), "--out", str(out), "--json"])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout.strip().splitlines()[-1])


def _weights(folder: Path) -> dict[str, torch.Tensor]:
    return safetensors.torch.load_file(folder / "model.safetensors")


@pytest.mark.slow
def test_stage_one_trains_the_connector_and_stage_two_merges_lora(parts, tmp_path) -> None:
    vision_dir, lm_dir = parts
    stage1 = _train(_tables(parts, steps=6, kinds=["captions"]), tmp_path / "stage1", tmp_path)
    first = load_model(tmp_path / "stage1" / "model")
    assert isinstance(first, PrefixVLM)
    assert stage1["parameters"]["trainable"] == sum(
        p.numel() for p in [*first.connector.parameters(), *first.image_position.parameters()]
    )
    # the frozen language model and vision tower are exactly the ones it started from
    lm_weights, trained = _weights(lm_dir), _weights(tmp_path / "stage1" / "model")
    assert all(torch.equal(trained[f"lm.{k}"], v) for k, v in lm_weights.items())
    encoder = _weights(vision_dir)
    vision = {
        k[len("backbone.vision_model.") :]: v for k, v in encoder.items() if ".vision_model." in k
    }
    assert vision and all(torch.equal(trained[f"vision.model.{k}"], v) for k, v in vision.items())

    tables = _tables(parts, steps=6, kinds=["vqa", "captions"], trainable="connector+lora")
    tables["task"]["model"] = str(tmp_path / "stage1" / "model")
    stage2 = _train(tables, tmp_path / "stage2", tmp_path)
    assert stage2["parameters"]["trainable"] > stage1["parameters"]["trainable"]
    merged = _weights(tmp_path / "stage2" / "model")
    assert not [k for k in merged if "lora" in k] and set(merged) == set(trained)
    changed = [k for k in lm_weights if not torch.equal(merged[f"lm.{k}"], lm_weights[k])]
    assert changed and all(("proj" in k) for k in changed)  # only adapted linear layers moved
    second = load_model(tmp_path / "stage2" / "model")
    assert {"vqa", "vqa_colour"} <= set(stage2["final_metrics"])
    assert all(
        isinstance(a, str)
        for a in second.generate(["<image>What?"], features=torch.randn(1, 16, 32))
    )


@pytest.mark.slow
def test_training_the_language_model_too_lowers_the_loss(parts, tmp_path) -> None:
    tables = _tables(
        parts, steps=40, batch_size=16, kinds=["vqa"], trainable="connector+lm", examples=64
    )
    _train(tables, tmp_path / "run", tmp_path)
    losses = [
        json.loads(line)["loss"]
        for line in (tmp_path / "run" / "log.jsonl").read_text().splitlines()
        if json.loads(line)["kind"] == "train"
    ]
    assert sum(losses[-5:]) / 5 < 0.75 * sum(losses[:5]) / 5


@pytest.mark.slow
def test_a_flamingo_stage_opens_its_gates_and_leaves_the_lm_unchanged(parts, tmp_path) -> None:
    options = {
        "architecture": "flamingo",
        "connector": "resampler",
        "connector_options": {"queries": 4},
        "every": 2,
        "feed_forward": 1,
    }
    _train(_tables(parts, steps=6, kinds=["vqa"], **options), tmp_path / "run", tmp_path)
    model = load_model(tmp_path / "run" / "model")
    assert isinstance(model, FlamingoVLM)
    gates = [float(layer.gate.detach()) for layer in model.cross_attention.layers.values()]
    assert gates and all(gate != 0.0 for gate in gates)
    lm_weights, trained = _weights(parts[1]), _weights(tmp_path / "run" / "model")
    assert all(torch.equal(trained[f"lm.{k}"], v) for k, v in lm_weights.items())


@pytest.mark.slow
@pytest.mark.parametrize(("recipes", "family"), [("vlm", PrefixVLM), ("flamingo", FlamingoVLM)])
def test_the_quick_recipes_run_one_after_the_other_and_answer(
    tmp_path, monkeypatch, recipes, family
) -> None:
    monkeypatch.chdir(tmp_path)  # stage 2 finds stage 1 under the working directory
    for stage in (f"{recipes}-stage1-quick", f"{recipes}-stage2-quick"):
        result = CliRunner().invoke(app, ["train", stage, "--out", f"runs/{stage}", "--json"])
        assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout.strip().splitlines()[-1])
    assert {"vqa", "cider"} <= set(summary["final_metrics"])
    model = load_model(tmp_path / "runs" / f"{recipes}-stage2-quick" / "model")
    assert isinstance(model, family)
    image = Image.new("RGB", (64, 64), (200, 30, 30))
    answers = model.answer([image, image], ["What colour is the circle?", "Wie viele Objekte?"])
    assert len(answers) == 2 and all(isinstance(answer, str) for answer in answers)


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"architecture": "blip"}, "task.architecture: one of prefix, flamingo"),
        ({"trainable": "everything"}, "task.trainable: one of"),
        ({"kinds": ["foils"]}, "task.kinds"),
        ({"vqa_share": 1.0}, "task.vqa_share"),
        ({"model": "no/such/folder/here"}, "task.model: 'no/such/folder/here' is neither"),
        ({"connector": "qformer"}, "unknown connector 'qformer'"),
        ({"lm": "clip-tiny"}, "task.lm: 'clip-tiny' is not a causal LM"),
    ],
)
def test_bad_options_are_named(parts, options, message) -> None:
    with pytest.raises(ConfigError, match=message):
        _task(parts, **options)


def test_the_shipped_recipes_are_valid_configs() -> None:
    from vislang.train.config import load_run_config

    for name in ("vlm-stage1", "vlm-stage2", "flamingo-stage1", "flamingo-stage2"):
        for suffix in ("", "-quick"):
            config = load_run_config(recipe_path(name + suffix))
            assert config.task == "vlm"
