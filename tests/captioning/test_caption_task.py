"""The ``smallcap`` training task through ``vislang train``: only the cross-attention trains
(frozen weights are checked unchanged, and a change fails the run), the exported folder holds a
complete captioner with its datastore, and ``vislang caption`` / ``vislang eval captioning`` use
it."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest
import torch
from typer.testing import CliRunner

from vislang.cli import app
from vislang.data.world import WorldConfig, write_world
from vislang.errors import ConfigError
from vislang.models.caption_task import CaptionTask, CaptionTaskOptions, closest_reference
from vislang.models.causal_lm import CausalLM, CausalLMConfig
from vislang.models.lm_tokenizer import train_tokenizer
from vislang.models.registry import load_model, save_model
from vislang.models.smallcap import SmallCap
from vislang.recipes import recipe_path
from vislang.retrieval.datastore import Datastore
from vislang.train import TrainingError, register_task, train, unwrap
from vislang.train.config import load_run_config, parse_dataclass
from vislang.train.task import build_task

LANGUAGES = ("en", "de", "zh")


@pytest.fixture(scope="module")
def folder(tmp_path_factory) -> Path:
    """A tiny world on disk, a tiny world LM and a tiny CLIP, all saved in one folder."""
    root = tmp_path_factory.mktemp("captioning")
    config = WorldConfig(scenes=40, seed=4, split="compositional", languages=LANGUAGES)
    write_world(config, root / "world")
    texts = [
        caption
        for line in (root / "world" / "tasks" / "captions.jsonl").read_text().splitlines()
        for caption in json.loads(line)["captions"]
    ]
    tokenizer = train_tokenizer(texts, 400, 256)
    architecture = {
        "model_type": "llama", "vocab_size": len(tokenizer), "hidden_size": 32,
        "intermediate_size": 64, "num_hidden_layers": 2, "num_attention_heads": 4,
        "num_key_value_heads": 4, "max_position_embeddings": 256, "tie_word_embeddings": True,
        "pad_token_id": 0, "bos_token_id": 1, "eos_token_id": 2,
    }  # fmt: skip
    lm = CausalLM.with_tokenizer(CausalLMConfig("tiny-lm", architecture), tokenizer)
    save_model(lm, root / "lm")
    save_model(load_model("clip-tiny", vision_layers=1, text_layers=1), root / "encoder")
    return root


def _config(
    folder: Path, file: str, keep: int = 2, steps: int = 6, task: str = "smallcap", **fields: object
) -> Path:
    options = {
        "name": task, "lm": "lm", "encoder": "encoder", "data": "world:world",
        "reduction": 2, "keep": keep, "search_k": 6, "eval_images": 4, "eval_split": "test",
        "num_beams": 2, "max_caption_tokens": 30, **fields,
    }  # fmt: skip
    lines = ["[task]"] + [f"{key} = {json.dumps(value)}" for key, value in options.items()]
    lines += ["[train]", f"steps = {steps}", "batch_size = 8", "lr = 3e-3", "log_every = 2"]
    path = folder / f"{file}.toml"
    path.write_text("\n".join(lines) + "\n")
    return path


@pytest.mark.slow
def test_training_moves_only_the_cross_attention_and_exports_a_captioner(folder) -> None:
    summary = train(_config(folder, "with-retrieval"), folder / "run", show_progress=False)
    model_dir = folder / "run" / "model"
    captioner = load_model(model_dir)
    assert isinstance(captioner, SmallCap)
    report = captioner.parameter_report()
    assert summary["parameters"] == {"trainable": report["trainable"], "frozen": report["frozen"]}
    lm, encoder = load_model(folder / "lm"), load_model(folder / "encoder")
    for name, tensor in lm.state_dict().items():
        assert torch.equal(captioner.lm.state_dict()[name], tensor), name
    for name, tensor in encoder.state_dict().items():
        assert torch.equal(captioner.encoder.state_dict()[name], tensor), name
    fresh = SmallCap.build(lm, encoder, captioner.config.cross_attention, languages=["en"], seed=0)
    for (name, trained), (_, initial) in zip(
        captioner.cross_attention.named_parameters(),
        fresh.cross_attention.named_parameters(),
        strict=True,
    ):
        assert not torch.equal(trained, initial), name
    assert {"CIDEr-D", "BLEU-4", "CIDEr-D_zh", "english_true"} <= set(summary["final_metrics"])

    record = json.loads((model_dir / "training.json").read_text())
    task = build_task(load_run_config(folder / "with-retrieval.toml"))
    assert record["training_captions"] == len(task.examples) > 0
    assert record["languages"] == sorted(LANGUAGES)
    store = Datastore.load(model_dir / "datastore")
    assert record["datastore_rows"] == store.count == len(task.examples) + task.too_long
    assert set(captioner.config.prompts) == set(LANGUAGES)
    example = record["example_prompts"]["de"]["prompt"]
    assert example.startswith("Ähnliche Bilder:") and example.endswith("Dieses Bild:")


@pytest.mark.slow
def test_the_trained_captioner_captions_and_evaluates_from_the_command_line(folder) -> None:
    model_dir = folder / "run" / "model"
    if not model_dir.is_dir():
        train(_config(folder, "with-retrieval"), folder / "run", show_progress=False)
    image = folder / "world" / "images" / "s000000.png"
    runner = CliRunner()
    result = runner.invoke(
        app, ["caption", str(image), "--model", str(model_dir), "--lang", "en,zh", "--json"]
    )
    assert result.exit_code == 0, result.output
    output = json.loads(result.stdout)
    assert [row["language"] for row in output["captions"]] == ["en", "zh"]
    for row in output["captions"]:
        scores = [found["score"] for found in row["retrieved"]["captions"]]
        assert 0 < len(scores) <= 2 and scores == sorted(scores, reverse=True)
        assert all(found["text"] in row["prompt"] for found in row["retrieved"]["captions"])
    result = runner.invoke(
        app,
        ["eval", "captioning", "--model", str(model_dir), "--data", f"world:{folder / 'world'}",
         "--split", "test", "--lang", "en,de", "--json"],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    scores = json.loads(result.stdout)
    assert set(scores["languages"]) == {"en", "de"} and scores["k"] == 2
    assert scores["mean"]["CIDEr-D"] >= 0 and scores["english_truth"]["checked"] > 0
    bad = runner.invoke(app, ["caption", str(image), "--model", str(folder / "lm"), "--k", "2"])
    assert bad.exit_code != 0 and "datastore" in str(bad.exception)


class _TamperingTask(CaptionTask):
    """Changes a frozen weight of the language model during a step: the loop must notice."""

    def loss(self, model, batch):
        with torch.no_grad():
            next(unwrap(model).lm.parameters()).add_(1e-3)
        return super().loss(model, batch)


@pytest.mark.slow
def test_a_frozen_weight_that_changes_fails_the_run(folder) -> None:
    register_task("smallcap-tampering", _TamperingTask)
    config = _config(folder, "tampering", keep=0, steps=2, task="smallcap-tampering")
    with pytest.raises(TrainingError, match="frozen parameters changed"):
        train(config, folder / "tampered", show_progress=False)


def test_without_retrieval_prompts_hold_no_captions_and_shards_form_the_batch(folder) -> None:
    task = build_task(load_run_config(_config(folder, "plain", keep=0)))
    assert task.datastore is None and task.retriever is None
    assert {e.prompt for e in task.examples} <= {"This image:", "Dieses Bild:", "这张图片："}
    whole = task.batch(3, 0, 1)
    halves = [task.batch(3, rank, 2) for rank in (0, 1)]
    assert torch.equal(torch.cat([h["features"] for h in halves]), whole["features"])
    assert halves[0]["token_share"] * 2 == whole["token_share"]
    assert whole["token_share"] == int((whole["labels"] != -100).sum())  # captions and ends


def test_the_world_recipes_differ_only_in_retrieval_targets_and_languages() -> None:
    def options(name: str) -> CaptionTaskOptions:
        config = load_run_config(recipe_path(name))
        assert config.task == "smallcap"
        return parse_dataclass(CaptionTaskOptions, config.task_options, where=name, prefix="task")

    with_retrieval = options("smallcap-world")
    assert with_retrieval.keep == 1 and with_retrieval.retrieval_language == "target"
    assert with_retrieval.lm == "runs/lm-stage0-documents/model"
    assert with_retrieval.prompt_set == "world-paragraph" and not with_retrieval.languages
    assert with_retrieval.targets == "closest-to-retrieved"
    rows = {
        "smallcap-world-noretrieval": {"keep": 0, "targets": "all"},
        "smallcap-world-english": {"languages": ("en",)},
        "smallcap-world-every-reference": {"targets": "all"},
    }
    for name, differences in rows.items():
        assert options(name) == dataclasses.replace(with_retrieval, **differences)
    train = {name: load_run_config(recipe_path(name)).train for name in ["smallcap-world", *rows]}
    assert len(set(map(repr, train.values()))) == 1
    quick = options("smallcap-world-quick")
    assert quick.prompt_set == with_retrieval.prompt_set and quick.keep == 1
    assert quick.targets == with_retrieval.targets


def test_closest_reference_picks_the_caption_sharing_most_tokens_and_pairs(folder) -> None:
    tokenizer = load_model(folder / "lm").tokenizer

    def ids(text: str) -> list[int]:
        return tokenizer(text, add_special_tokens=False)["input_ids"]

    references = (
        "There is a red circle and a blue square.",
        "A red circle is to the left of a blue square.",
        "There are two objects.",
    )
    relation = "A green star is to the left of a blue circle."
    assert closest_reference(relation, references, ids) == 1
    assert closest_reference("There are three objects.", references, ids) == 2
    assert closest_reference("There is a green star and a red cross.", references, ids) == 0
    assert closest_reference(references[2], references[::-1], ids) == 0
    assert closest_reference("x", ("same", "same"), lambda text: [1]) == 0  # ties: the first


def test_closest_to_retrieved_trains_one_reference_per_image_and_language(folder) -> None:
    every = build_task(load_run_config(_config(folder, "targets-all", keep=2)))
    closest = build_task(
        load_run_config(_config(folder, "targets-closest", keep=2, targets="closest-to-retrieved"))
    )
    pairs = [(e.image, e.language) for e in closest.examples]
    assert len(pairs) == len(set(pairs)) and len(pairs) < len(every.examples)
    assert set(pairs) <= {(e.image, e.language) for e in every.examples}
    images_and_languages = sum(len(item.captions) for item in closest.train_images)
    assert len(pairs) + closest.too_long == images_and_languages  # too long: left out
    tokenizer = closest.lm.tokenizer
    for example in closest.examples:
        item = closest.train_images[example.image]
        [found] = closest.retriever.retrieve(
            closest.train_encoded.embeddings[[example.image]], [example.language], [item.image_id]
        )
        references = item.captions[example.language]
        best = closest_reference(
            found.captions[0],
            references,
            lambda text: tokenizer(text, add_special_tokens=False)["input_ids"],
        )
        assert example.caption == references[best]
        assert found.captions[0] in example.prompt


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"targets": "nearest"}, "targets: one of all, closest-to-retrieved"),
        ({"targets": "closest-to-retrieved", "keep": 0}, "needs retrieval"),
    ],
)
def test_bad_targets_are_refused(fields: dict, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        CaptionTaskOptions(**fields)
