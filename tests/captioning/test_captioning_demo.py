"""The demo's captioning section, in a reduced configuration: the frozen parts and the captioners
trained in worker processes, every row evaluated in every language; the numbers in the report are
the saved models' own."""

from __future__ import annotations

from typing import Any

import pytest
from PIL import Image

from vislang.data.world.languages import LANGUAGES
from vislang.demo import DemoContext, captioning_run
from vislang.demo.sections import SECTIONS
from vislang.demo.sections.captioning import CaptioningSection
from vislang.evaluate.captioning import CaptioningReport, evaluate_captioner
from vislang.models.caption_data import CaptionedImage, captions_world, generated_world
from vislang.models.captioners import load_captioner
from vislang.models.captioning import CaptionResult
from vislang.retrieval.caption_retrieval import RetrievedCaptions

pytestmark = pytest.mark.slow

ORIGINAL_TABLES = captioning_run._tables
SCENES, EVAL_IMAGES = 120, 2


def reduced_tables(recipe: str, context: DemoContext) -> dict[str, Any]:
    """The quick recipe, shorter still: a few steps each."""
    tables = ORIGINAL_TABLES(recipe, context)
    tables["train"].update(steps=3, warmup_steps=1, log_every=1, batch_size=8)
    if recipe.startswith("lm-stage0"):
        tables["task"]["eval_texts"] = 10
    return tables


@pytest.fixture(scope="module")
def section_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[DemoContext, Any]:
    patch = pytest.MonkeyPatch()
    patch.setattr(captioning_run, "_tables", reduced_tables)
    patch.setitem(captioning_run.SCENES, True, SCENES)
    patch.setitem(captioning_run.EVAL_IMAGES, True, EVAL_IMAGES)
    patch.setitem(captioning_run.LM_STEPS, True, 3)
    context = DemoContext(tmp_path_factory.mktemp("demo") / "run", quick=True, log=lambda _: None)
    try:
        result = CaptioningSection().run(context)
    finally:
        patch.undo()
    return context, result


def test_the_section_is_registered_after_the_dual_encoders() -> None:
    names = [section.name for section in SECTIONS]
    assert names.index("captioning") > names.index("dual_encoders")


def test_every_row_is_reported_on_both_test_splits(section_run) -> None:
    _, result = section_run
    rows = result.summary["rows"]
    assert list(rows) == ["a", "b", "c"]  # (d) in full mode only
    assert rows["b"]["trained_parameters"] == 0
    assert rows["a"]["trained_parameters"] == rows["c"]["trained_parameters"] > 0
    for row in rows.values():
        assert row["title"] in result.markdown
        for split in ("test", "test_comp"):
            numbers = row[split]
            assert numbers["CIDEr-D"] >= 0 and 0 <= numbers["BLEU-4"] <= 1
            assert numbers["english_true"] is not None and 0 <= numbers["english_true"] <= 1
            assert f"{100 * numbers['CIDEr-D']:.1f}" in result.markdown
    assert all(path.is_file() for path in result.files)
    assert any(path.suffix == ".png" for path in result.files)


def test_the_language_model_and_the_captioner_are_shared(section_run) -> None:
    context, _ = section_run
    out = context.out / "captioning"
    assert context.shared["lm_dir"] == out / "lm" / "model"
    assert context.shared["captioner_dir"] == out / "c" / "model"
    loaded = load_captioner(context.shared["captioner_dir"], languages=["en"])
    assert loaded.retriever is not None and loaded.retriever.config.keep == 1
    assert loaded.captioner.template("en").set == "world-paragraph"


def test_reported_scores_are_the_saved_captioners_own(section_run) -> None:
    context, result = section_run
    world = generated_world(captions_world(SCENES, context.seed, "compositional"), ["test_comp"])
    loaded = load_captioner(context.out / "captioning" / "a" / "model", languages=list(LANGUAGES))
    report = evaluate_captioner(
        loaded.captioner, world["test_comp"][:EVAL_IMAGES], list(LANGUAGES), retriever=None
    )
    reported = result.summary["rows"]["a"]["test_comp"]
    assert reported["CIDEr-D"] == pytest.approx(report.mean()["CIDEr-D"], abs=1e-4)
    assert reported["BLEU-4"] == pytest.approx(report.mean()["BLEU-4"], abs=1e-4)


def test_a_language_model_left_by_an_earlier_section_is_used(tmp_path, monkeypatch) -> None:
    trained: list[list[str]] = []

    def record_and_stop(jobs: dict[str, Any], out: Any) -> dict[str, Any]:
        trained.append(sorted(jobs))
        raise RuntimeError("stop after the first phase")

    monkeypatch.setattr(captioning_run, "_train_all", record_and_stop)
    shared = {"lm_dir": tmp_path / "lm"}
    context = DemoContext(tmp_path / "run", quick=True, log=lambda _: None, shared=shared)
    with pytest.raises(RuntimeError, match="first phase"):
        CaptioningSection().run(context)
    assert trained == [["encoder"]]


def test_example_sheet_shows_a_dash_when_filtering_left_no_retrieved_caption(tmp_path) -> None:
    image = CaptionedImage("s1", Image.new("RGB", (64, 64), "white"), "test_comp")
    nothing_kept = RetrievedCaptions((), (), (), (), "en", 15, {"same_image": 15})
    result = CaptionResult("a red circle", "en", "prompt", nothing_kept, image_id="s1")
    report = CaptioningReport(languages={"en": {}}, results=[result])
    sheet = captioning_run._examples(tmp_path, report, [image])
    assert sheet.is_file() and Image.open(sheet).width > 0
