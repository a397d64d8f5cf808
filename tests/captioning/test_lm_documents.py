"""Stage 0 on documents: each image's captions in one language read as one paragraph, everything
else as stage 0 reads it; the shipped quick recipe trains through the task."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from vislang.data.schema import CaptionExample
from vislang.data.world import World, WorldConfig, write_world
from vislang.models.causal_lm import CausalLM
from vislang.models.lm_corpus import STAGE0_WORLD, texts_from_records
from vislang.models.lm_documents import (
    DocumentPretrainTask,
    document_texts,
    related_captions_for,
)
from vislang.models.registry import load_model
from vislang.recipes import recipe_path
from vislang.train import train
from vislang.train.config import run_config_from_mapping
from vislang.train.task import build_task

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on Python 3.10 only
    import tomli as tomllib

TASK = "vislang.models.lm_documents:DocumentPretrainTask"
SMALL_TASK: dict[str, Any] = {
    "name": TASK,
    "scenes": 40,
    "vocab_size": 400,
    "eval_texts": 20,
    "max_tokens": 192,
    "architecture": {
        "hidden_size": 32,
        "intermediate_size": 64,
        "num_hidden_layers": 2,
        "num_attention_heads": 2,
        "num_key_value_heads": 2,
    },
}


def _records(config: WorldConfig) -> list:
    world = World(config)
    return [
        record for item in world.items() for records in item.records.values() for record in records
    ]


def test_an_images_captions_form_one_paragraph_and_other_texts_stay_whole() -> None:
    records = _records(WorldConfig(scenes=30, seed=2))
    splits, kinds = ("train", "val"), ("captions", "vqa", "statements", "sequences")
    texts = document_texts(records, splits, kinds, None)
    captions = [r for r in records if isinstance(r, CaptionExample) and r.split in splits]
    paragraphs = [t for t in texts if t.kind == "captions"]
    assert len(paragraphs) == len(captions) and captions
    for text, record in zip(paragraphs, captions, strict=True):
        assert text.text == " ".join(record.captions) and len(record.captions) > 1
        assert (text.language, text.split) == (record.language, record.split)
    others = [r for r in records if not isinstance(r, CaptionExample)]
    assert [t for t in texts if t.kind != "captions"] == texts_from_records(others, splits, kinds)


def test_languages_and_kinds_are_filtered_as_in_stage_0() -> None:
    records = _records(WorldConfig(scenes=20, seed=1))
    texts = document_texts(records, ("train",), ("captions",), ("de", "zh"))
    assert texts and {(t.language, t.kind, t.split) for t in texts} <= {
        ("de", "captions", "train"),
        ("zh", "captions", "train"),
    }
    assert {t.language for t in texts} == {"de", "zh"}


def _caption_record(
    captions: tuple[str, ...], language: str = "en", split: str = "train"
) -> CaptionExample:
    return CaptionExample(
        id=f"{language}-{captions[0]}",
        image_id=captions[0],
        image=None,
        captions=captions,
        language=language,
        source="test",
        split=split,
    )


def test_related_captions_come_from_records_sharing_a_caption_in_the_same_split_and_language():
    records = [
        _caption_record(("A red circle.", "There is one object.")),
        _caption_record(("A blue square.", "There is one object.")),
        _caption_record(("A green star.", "There are two objects.")),
        _caption_record(("A pink heart.", "There is one object."), split="val"),
        _caption_record(("Ein roter Kreis.", "There is one object."), language="de"),
    ]
    related = related_captions_for(records, 5, seed=0)
    assert set(related[id(records[0])]) <= set(records[1].captions)
    assert set(related[id(records[1])]) <= set(records[0].captions)
    assert len(related[id(records[0])]) == 5
    assert related[id(records[2])] == related[id(records[3])] == related[id(records[4])] == []
    assert related_captions_for(records, 5, seed=0) == related
    texts = document_texts(records, ("train",), ("captions",), ["en"], related_captions=2, seed=1)
    first = related_captions_for(records[:3], 2, seed=1)[id(records[0])]
    assert texts[0].text == " ".join([*first, *records[0].captions])
    assert texts[2].text == " ".join(records[2].captions)
    assert len(texts) == 3


def test_the_task_trains_on_the_paragraphs_of_the_world_it_generates() -> None:
    tables = {"task": SMALL_TASK, "train": {"steps": 2, "batch_size": 4}}
    task = build_task(run_config_from_mapping(tables))
    assert isinstance(task, DocumentPretrainTask)
    config = STAGE0_WORLD.replace(scenes=40, seed=0, split="compositional")
    expected = document_texts(_records(config), ("train",), task.options.kinds, None)
    assert len(task.train_offsets) - 1 == len(expected)


def test_a_world_folder_gives_the_same_paragraphs(tmp_path: Path) -> None:
    config = WorldConfig(scenes=30, seed=3, image_size=16)
    write_world(config, tmp_path / "world")
    tables = {
        "task": {**SMALL_TASK, "world": "world"},
        "train": {"steps": 1, "batch_size": 4},
    }
    task = build_task(run_config_from_mapping(tables, source=tmp_path / "run.toml"))
    expected = document_texts(_records(config), ("train",), task.options.kinds, None)
    assert len(task.train_offsets) - 1 == len(expected)


def test_the_quick_recipe_trains_a_language_model(tmp_path: Path) -> None:
    tables = tomllib.loads(recipe_path("lm-stage0-documents-quick").read_text(encoding="utf-8"))
    assert tables["task"]["name"] == TASK
    tables["task"]["scenes"] = 40
    tables["train"].update(steps=3, warmup_steps=1, log_every=1)
    summary = train(run_config_from_mapping(tables), tmp_path / "run", show_progress=False)
    assert summary["steps"] == 3
    model = load_model(tmp_path / "run" / "model")
    assert isinstance(model, CausalLM)
    assert model.model.config.max_position_embeddings >= tables["task"]["max_tokens"]
