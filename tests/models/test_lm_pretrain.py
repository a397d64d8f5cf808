"""Stage 0: the world's text as LM data, the pretraining task's deterministic batches and exact
sharded loss, and the shipped recipes trained through ``vislang train``."""

from __future__ import annotations

import json
import random
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from vislang.cli import app
from vislang.data.schema import (
    CaptionExample,
    FoilExample,
    SequenceExample,
    StatementExample,
    VQAExample,
    WinogroundExample,
)
from vislang.data.world import World, WorldConfig, write_world
from vislang.errors import ConfigError
from vislang.models.causal_lm import CausalLM
from vislang.models.lm_corpus import record_texts, texts_from_folder, texts_from_world
from vislang.models.lm_pretrain import LMPretrainOptions, LMPretrainTask
from vislang.models.registry import load_model
from vislang.recipes import recipe_names, recipe_path
from vislang.recipes.__main__ import main as recipes_main
from vislang.train.config import load_run_config, parse_dataclass, run_config_from_mapping
from vislang.train.task import build_task

SMALL_TASK: dict[str, Any] = {
    "scenes": 40,
    "vocab_size": 400,
    "eval_texts": 20,
    "architecture": {
        "hidden_size": 32,
        "intermediate_size": 64,
        "num_hidden_layers": 2,
        "num_attention_heads": 2,
        "num_key_value_heads": 2,
    },
}


def _task(batch_size: int = 16, **options: Any) -> LMPretrainTask:
    tables = {
        "task": {"name": "lm-pretrain", **SMALL_TASK, **options},
        "train": {"steps": 10, "batch_size": batch_size},
    }
    task = build_task(run_config_from_mapping(tables))
    assert isinstance(task, LMPretrainTask)
    return task


# --- the world's text --------------------------------------------------------------------------


def test_each_record_kind_gives_its_texts() -> None:
    world = World(WorldConfig(scenes=30, seed=2))
    seen: Counter[str] = Counter()
    for item in world.items():
        for records in item.records.values():
            for record in records:
                texts = record_texts(record)
                seen[type(record).__name__] += 1
                if isinstance(record, CaptionExample):
                    assert texts == [("captions", caption) for caption in record.captions]
                elif isinstance(record, VQAExample):
                    assert texts == [("vqa", f"{record.question} {record.answers[0]}")]
                elif isinstance(record, StatementExample):
                    assert texts == [("statements", record.statement)]
                elif isinstance(record, SequenceExample):
                    ((kind, text),) = texts
                    assert kind == "sequences" and text.split("\n") == [
                        *(step.description for step in record.steps),
                        record.target,
                    ]
                else:
                    assert isinstance(record, (FoilExample, WinogroundExample))
                    assert texts == []
    assert {"CaptionExample", "VQAExample", "SequenceExample", "FoilExample"} <= set(seen)


def test_train_text_of_a_compositional_world_never_names_a_held_out_compound() -> None:
    config = WorldConfig(scenes=200, seed=1, split="compositional", languages=("en",))
    held_out = [f"{colour} {shape}" for colour, shape in World(config).plan.held_out]
    train = texts_from_world(config, ("train", "val"), show_progress=False)
    assert len(train) > 1000 and {t.split for t in train} == {"train", "val"}
    assert not [t.text for t in train if any(name in t.text for name in held_out)]
    test_comp = texts_from_world(config, ("test_comp",), show_progress=False)
    assert any(name in t.text for t in test_comp for name in held_out)  # the check can fail


def test_a_world_folder_gives_the_texts_of_the_same_world_in_memory(tmp_path: Path) -> None:
    config = WorldConfig(scenes=30, seed=3, image_size=16)
    write_world(config, tmp_path / "world")
    from_folder = texts_from_folder(tmp_path / "world", ("train", "val", "test"))
    in_memory = texts_from_world(config, ("train", "val", "test"), show_progress=False)
    assert Counter(from_folder) == Counter(in_memory) and len(in_memory) > 1000
    # a task reads the folder named relative to its config file
    tables = {
        "task": {"name": "lm-pretrain", **SMALL_TASK, "world": "world"},
        "train": {"steps": 1, "batch_size": 4},
    }
    task = build_task(run_config_from_mapping(tables, source=tmp_path / "run.toml"))
    train_texts = [t for t in from_folder if t.split == "train"]
    assert len(task.train_offsets) - 1 == len(train_texts)
    only_de = texts_from_folder(tmp_path / "world", ("train",), ("captions",), ("de",))
    assert only_de and {(t.language, t.kind, t.split) for t in only_de} == {
        ("de", "captions", "train")
    }
    with pytest.raises(ConfigError, match="no text in fr"):
        texts_from_folder(tmp_path / "world", ("train",), languages=("fr",))
    with pytest.raises(ConfigError, match="text kinds"):
        texts_from_folder(tmp_path / "world", ("train",), ("foils",))


# --- the task ----------------------------------------------------------------------------------


def _rows(batch: dict[str, Any]) -> list[list[int]]:
    ids, mask = batch["input_ids"], batch["attention_mask"]
    return [row[m.bool()].tolist() for row, m in zip(ids, mask, strict=True)]


def test_batches_depend_on_the_step_only_and_shards_form_the_global_batch() -> None:
    task, again = _task(), _task()
    for step in (0, 7, 500):
        single = task.batch(step, 0, 1)
        assert _rows(single) == _rows(again.batch(step, 0, 1))
        shards = [task.batch(step, rank, 4) for rank in range(4)]
        assert [row for shard in shards for row in _rows(shard)] == _rows(single)
        tokens = sum(len(row) - 1 for row in _rows(single))
        assert all(shard["token_share"] == tokens / 4 for shard in shards)
    assert _rows(task.batch(1, 0, 1)) != _rows(task.batch(2, 0, 1))
    bos, eos = task.tokenizer.bos_token_id, task.tokenizer.eos_token_id
    assert all(row[0] == bos and row[-1] == eos for row in _rows(task.batch(3, 0, 1)))


def test_one_epoch_reads_every_training_text_once() -> None:
    task = _task(batch_size=50)
    count = len(task.train_offsets) - 1
    read = [tuple(row) for step in range(count // 50) for row in _rows(task.batch(step, 0, 1))]
    every = Counter(tuple(task._sequence(i).tolist()) for i in range(count))
    assert not Counter(read) - every  # nothing read more often than it occurs
    assert len(read) == (count // 50) * 50


def test_texts_longer_than_max_tokens_are_cut_quietly(caplog) -> None:
    architecture = {**SMALL_TASK["architecture"], "max_position_embeddings": 8}
    task = _task(max_tokens=8, architecture=architecture)  # the tokenizer's limit is 8 too
    assert task.tokenizer.model_max_length == 8
    sequences = [task._sequence(i).tolist() for i in range(len(task.train_offsets) - 1)]
    bos, eos = task.tokenizer.bos_token_id, task.tokenizer.eos_token_id
    assert max(len(s) for s in sequences) == 8
    assert all(s[0] == bos for s in sequences)
    assert all(s[-1] == eos for s in sequences if len(s) < 8)
    assert any(s[-1] != eos for s in sequences)  # cut: the text went on
    assert "sequence length is longer" not in caplog.text


def test_sharded_losses_average_to_the_single_process_loss() -> None:
    task = _task()
    model = task.build_model().train()
    single, _ = task.loss(model, task.batch(5, 0, 1))
    shards = [task.loss(model, task.batch(5, rank, 2))[0] for rank in range(2)]
    assert float(sum(shards).detach()) / 2 == pytest.approx(float(single.detach()), rel=1e-5)


def test_evaluation_reports_every_language_and_kind() -> None:
    task = _task(scenes=100, eval_texts=1000)  # every held-out text, of every kind
    metrics = task.evaluate(task.build_model().eval())
    languages = ("en", "de", "tr", "zh", "sw", "id", "ta")
    kinds = ("captions", "vqa", "statements", "sequences")
    assert {f"ppl_{name}" for name in languages + kinds} | {"ppl", "bits_per_byte"} == set(metrics)
    # an untrained model is close to uniform over the vocabulary
    assert 0.3 * len(task.tokenizer) < metrics["ppl"] < 3 * len(task.tokenizer)


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"split_mode": "random"}, "task.split_mode"),
        ({"architecture": {"vocab_size": 9}}, "architecture.vocab_size"),
        ({"max_tokens": 1000}, "exceeds the model's 256 positions"),
        ({"preset": "huge"}, "task.preset: unknown 'huge'"),
        ({"languages": ["fr"]}, "no text in fr"),
        ({"scenes": "many"}, "task.scenes: expected an integer"),
    ],
)
def test_bad_options_are_named(options: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        _task(**options)


# --- recipes -----------------------------------------------------------------------------------


def test_recipes_are_found_and_the_stage0_recipe_is_valid(capsys) -> None:
    assert {"lm-stage0", "lm-stage0-quick"} <= set(recipe_names())
    config = load_run_config(recipe_path("lm-stage0"))
    assert config.task == "lm-pretrain"
    options = parse_dataclass(
        LMPretrainOptions, config.task_options, where="lm-stage0", prefix="task"
    )
    assert options.world == "" and options.split_mode == "compositional"
    with pytest.raises(ConfigError, match="no recipe 'lm-stage9'"):
        recipe_path("lm-stage9")
    assert recipes_main(["lm-stage0"]) == 0
    assert Path(capsys.readouterr().out.strip()) == recipe_path("lm-stage0")
    assert recipes_main(["lm-stage9"]) == 2


@pytest.mark.slow
def test_quick_recipe_trains_through_the_cli_and_exports_a_reusable_model(tmp_path: Path) -> None:
    out = tmp_path / "run"
    result = CliRunner().invoke(
        app, ["train", str(recipe_path("lm-stage0-quick")), "--out", str(out), "--json"]
    )
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout.strip().splitlines()[-1])
    metrics = summary["final_metrics"]
    task = build_task(load_run_config(recipe_path("lm-stage0-quick")))
    untrained = task.evaluate(task.build_model().eval())
    uniform = len(task.tokenizer)
    for language in ("en", "de", "tr", "zh", "sw", "id", "ta"):
        assert metrics[f"ppl_{language}"] < untrained[f"ppl_{language}"] / 5
    assert metrics["ppl"] < uniform / 10
    lm = load_model(out / "model")
    assert isinstance(lm, CausalLM) and len(lm.tokenizer) == uniform
    reloaded = task.evaluate(lm)
    assert reloaded == pytest.approx(metrics, rel=1e-6)
    assert all(lm.generate(["There is", "Es gibt", "图中有"], num_beams=3, max_new_tokens=12))
    # it learnt word order: held-out captions beat the same words shuffled
    captions = [t.text for t in task.eval_texts if t.kind == "captions" and t.text.count(" ") > 2]
    rng = random.Random(0)
    shuffled = [" ".join(rng.sample(text.split(), len(text.split()))) for text in captions]
    real = sum(score.total for score in lm.log_likelihood(captions))
    assert real > sum(score.total for score in lm.log_likelihood(shuffled)) + 5 * len(captions)
