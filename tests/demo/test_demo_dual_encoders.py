"""The demo's dual-encoder section, in a reduced configuration: both models trained in worker
processes, evaluated, indexed and drawn; the numbers in the report are the models' own."""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import pytest
from PIL import Image

from shared_parts import SMALL_DUAL_ENCODER
from vislang.data.readers import read_dataset
from vislang.data.schema import CaptionExample
from vislang.demo import DemoContext, dual_encoder_run, run_demo
from vislang.demo.sections import SECTIONS
from vislang.demo.sections.dual_encoders import DualEncoderSection
from vislang.evaluate.retrieval import evaluate_retrieval
from vislang.models.registry import load_model
from vislang.retrieval.datastore import Datastore

pytestmark = pytest.mark.slow


def reduced_tables(family: str, context: DemoContext) -> dict[str, Any]:
    """The quick recipe, smaller still: a 160-scene world, 8 steps, a one-layer model."""
    tables = ORIGINAL_TABLES(family, context)
    tables["task"].update(scenes=160, eval_images=40, architecture=SMALL_DUAL_ENCODER)
    tables["train"].update(steps=8, batch_size=16, warmup_steps=2, log_every=2)
    return tables


ORIGINAL_TABLES = dual_encoder_run._recipe_tables


@pytest.fixture(scope="module")
def section_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[DemoContext, dict[str, Any]]:
    patch = pytest.MonkeyPatch()
    patch.setattr(dual_encoder_run, "_recipe_tables", reduced_tables)
    context = DemoContext(tmp_path_factory.mktemp("demo") / "run", quick=True, log=lambda _: None)
    try:
        summary = run_demo(context, [DualEncoderSection()])
    finally:
        patch.undo()
    return context, summary["sections"]["dual_encoders"]


def test_the_section_is_registered_after_the_world() -> None:
    assert [section.name for section in SECTIONS][:2] == ["world", "dual_encoders"]


def test_both_models_train_and_the_better_one_is_shared(
    section_run: tuple[DemoContext, dict[str, Any]],
) -> None:
    context, summary = section_run
    assert set(summary["models"]) == {"clip", "siglip"}
    for family, info in summary["models"].items():
        assert info["steps"] == info["planned_steps"] == 8 and info["stopped_by"] == "steps"
        assert info["recipe"] == f"{family}-tiny-world-quick"
        log = context.out / "dual_encoders" / family / "log.jsonl"
        losses = [json.loads(line) for line in log.read_text().splitlines()]
        assert [r["step"] for r in losses if r["kind"] == "train"] == [2, 4, 6, 8]
        assert (context.out / "dual_encoders" / family / "worker.log").is_file()
    best = summary["best"]
    assert context.shared["dual_encoder_dir"] == context.out / summary["best_model_dir"]
    model = load_model(context.shared["dual_encoder_dir"])
    assert model.family == best


def test_reported_recall_is_the_saved_model_s(
    section_run: tuple[DemoContext, dict[str, Any]],
) -> None:
    context, summary = section_run
    world = context.out / summary["world_dir"]
    for family, info in summary["models"].items():
        model = load_model(context.out / "dual_encoders" / family / "model")
        for split in ("test", "test_comp"):
            records = read_dataset(f"world:{world}", kinds=(CaptionExample,), split=split)
            again = evaluate_retrieval(model, records.of_kind(CaptionExample), max_images=1000)
            assert info["retrieval"][split]["languages"] == again.languages
            assert set(again.languages) == set(summary["languages"]) and len(again.languages) == 7


def test_report_tables_pictures_and_datastores(
    section_run: tuple[DemoContext, dict[str, Any]],
) -> None:
    context, summary = section_run
    report = (context.out / "report.md").read_text("utf-8")
    clip_test = summary["models"]["clip"]["retrieval"]["test"]
    english = clip_test["languages"]["en"]
    cells = [
        f"{100 * english[f'{d}@{k}']:.1f}"
        for d in ("text_to_image", "image_to_text")
        for k in (1, 5, 10)
    ]
    assert f"| CLIP (InfoNCE) | test | {clip_test['images']} | " + " | ".join(cells) in report
    assert "| model | split | en | de | tr | zh | sw | id | ta |" in report
    assert report.count("| SigLIP (sigmoid) |") == 4  # two splits, two tables
    out = context.out / "dual_encoders"
    curves = np.asarray(Image.open(out / "loss_curves.png").convert("L"))
    assert curves.shape[1] > curves.shape[0] and (curves < 128).mean() > 0.005
    grid = Image.open(out / "retrieval_grid.png")
    assert grid.height > 8 * 96  # eight query rows of thumbnails
    assert "![text to image retrievals](dual_encoders/retrieval_grid.png)" in report
    test_records = read_dataset(f"world:{context.out / summary['world_dir']}", split="test")
    captions = sum(len(r.captions) for r in test_records.of_kind(CaptionExample))
    stores = {m: Datastore.load(out / info["path"]) for m, info in summary["datastores"].items()}
    assert stores["text"].count == captions
    assert stores["image"].count == len({r.image_id for r in test_records.records})
    model = load_model(context.shared["dual_encoder_dir"])
    assert stores["text"].encoder["weights_hash"] == model.fingerprint()["weights_hash"]


def test_the_report_names_shared_and_own_architecture_overrides() -> None:
    phrase = dual_encoder_run._overrides_phrase(
        {"clip": {"layers": 4, "embed_dim": 256}, "siglip": {"layers": 4, "bias": -4.8}}
    )
    assert phrase == "in both `layers = 4` (CLIP also `embed_dim = 256`; SigLIP also `bias = -4.8`)"
    assert dual_encoder_run._overrides_phrase({"clip": {}, "siglip": {"bias": 1}}) == (
        "SigLIP also `bias = 1`"
    )
    assert dual_encoder_run._overrides_phrase({"clip": {}, "siglip": {}}) == "none"
