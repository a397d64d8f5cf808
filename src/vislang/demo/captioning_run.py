"""The work of the demo's captioning section: frozen parts, captioners, the table, examples.

:func:`run_captioning`

1. trains the two frozen parts at once, one process each: the small stage-0 language model on
   documents (recipe ``lm-stage0-documents-quick``, unless an earlier section left a language
   model in ``context.shared["lm_dir"]``) and the multilingual tiny CLIP (recipe
   ``clip-tiny-world``, ``clip-tiny-world-multilingual-quick`` with ``--quick``);
2. trains the cross-attention captioners at once: (a) without retrieval, (c) with retrieval and,
   in full mode, (d) on English captions only (recipes ``smallcap-world*``);
3. evaluates them, and (b) LMCap (the frozen language model prompted with retrieved captions and
   one demonstration, no training), on the i.i.d. and the compositional test splits in every
   language: CIDEr-D averaged over all languages and over MaRVL's, BLEU-4, and the share of
   English captions true of their scene;
4. draws example captions per language beside the captions retrieved for them.

Every training run has a wall-clock budget (``max_minutes``; two phases of runs that train at
once), so the section takes a few minutes (about two with ``--quick``, whose models are too short
to caption well: it shows the pipeline); the numbers are those of such short runs, not of the
recipes' (docs/captioning.md has those). Later sections find the language model in
``context.shared["lm_dir"]`` and the captioner in ``context.shared["captioner_dir"]``.
"""

from __future__ import annotations

import contextlib
import os
import sys
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context
from pathlib import Path
from typing import Any

import torch

from vislang.data.world.languages import LANGUAGES
from vislang.demo.contact_sheet import SheetRow, choose_fonts, contact_sheet
from vislang.demo.runner import DemoContext, SectionResult
from vislang.errors import VislangError
from vislang.evaluate.captioning import MARVL_LANGUAGES, CaptioningReport, evaluate_captioner
from vislang.models.caption_data import CaptionedImage, captions_world, generated_world
from vislang.models.captioners import load_captioner
from vislang.models.lmcap import LMCap, LMCapConfig, demonstrations_from_images
from vislang.models.registry import load_model
from vislang.recipes import recipe_path
from vislang.retrieval.caption_retrieval import RetrievalConfig
from vislang.train import train
from vislang.train.config import load_run_config, run_config_from_mapping

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on Python 3.10 only
    import tomli as tomllib

BUDGET_MINUTES = {False: 1.5, True: 0.5}
"""Wall-clock minutes each training phase may take (its runs train at once)."""
SCENES = {False: 1000, True: 300}
LM_STEPS = {False: 250, True: 100}
"""Steps of the small document-trained language model (perplexity about 2.3 after 250)."""
CAPTIONER_STEPS = 300
"""Steps the default mode plans for each captioner (its cosine schedule), whatever the recipe's:
about what the budget allows (measured: 300 without retrieval, 160–220 with it)."""
ENCODER_STEPS = 300
"""Steps the default mode plans for the tiny CLIP (about 0.25 s each on one thread)."""
EVAL_IMAGES = {False: 20, True: 6}
"""Images per test split, each captioned in every language."""
EXAMPLES = 2
SPLITS = ("test", "test_comp")
ROWS = {
    "a": "(a) cross-attention, no retrieval",
    "b": "(b) LMCap: prompting with retrieval, no training",
    "c": "(c) cross-attention with retrieval",
    "d": "(d) (c) trained on English only",
}
WORKER_LOG = "worker.log"


def run_captioning(context: DemoContext) -> SectionResult:
    """Train, evaluate, draw and describe (see the module docstring)."""
    out = context.out / "captioning"
    quick = context.quick
    suffix = "-quick" if quick else ""
    parts: dict[str, dict[str, Any]] = {}
    lm_dir = context.shared.get("lm_dir")
    if lm_dir is None:
        # the small model of the quick recipe in both modes: within the budget it reaches a
        # perplexity the full-size model needs ten times as long for
        parts["lm"] = _tables("lm-stage0-documents-quick", context)
        parts["lm"]["task"]["scenes"] = SCENES[quick]
        parts["lm"]["train"]["steps"] = LM_STEPS[quick]
    parts["encoder"] = _tables(
        "clip-tiny-world-multilingual-quick" if quick else "clip-tiny-world", context
    )
    parts["encoder"]["task"]["scenes"] = SCENES[quick]
    if not quick:
        parts["encoder"]["train"].update(steps=ENCODER_STEPS, warmup_steps=ENCODER_STEPS // 10)
    context.log("captioning: training the language model and the multilingual CLIP")
    _train_all(parts, out)
    lm_dir = Path(lm_dir) if lm_dir is not None else out / "lm" / "model"
    encoder_dir = out / "encoder" / "model"
    context.shared["lm_dir"] = lm_dir

    captioners = {row: _tables("smallcap-world" + suffix, context) for row in ("a", "c", "d")}
    if quick:
        del captioners["d"]
    for row, tables in captioners.items():
        task = tables["task"]
        task.update(lm=str(lm_dir.resolve()), encoder=str(encoder_dir.resolve()))
        task.update(scenes=SCENES[quick], eval_images=4, eval_languages=["en"])
        if not quick:
            tables["train"].update(steps=CAPTIONER_STEPS, warmup_steps=CAPTIONER_STEPS // 10)
        if row == "a":
            task.update(keep=0, targets="all")  # no retrieved caption to choose a reference by
        if row == "d":
            task["languages"] = ["en"]
    context.log(f"captioning: training captioners {', '.join(captioners)}")
    summaries = _train_all(captioners, out)
    context.shared["captioner_dir"] = out / "c" / "model"

    world = generated_world(
        captions_world(SCENES[quick], context.seed, "compositional"), ["train", *SPLITS]
    )
    with _threads(max(1, os.cpu_count() or 1)):
        reports = _evaluate(out, captioners, lm_dir, encoder_dir, world, quick)
    sheet = _examples(out, reports["c"]["test_comp"], world["test_comp"])
    summary = {
        "scenes": SCENES[quick],
        "eval_images": EVAL_IMAGES[quick],
        "budget_minutes": BUDGET_MINUTES[quick],
        "rows": {
            row: {
                "title": ROWS[row],
                **({"steps": summaries[row]["steps"]} if row in summaries else {}),
                "trained_parameters": (
                    summaries[row]["parameters"]["trainable"] if row in summaries else 0
                ),
                **{split: _headline(reports[row][split]) for split in SPLITS},
            }
            for row in reports
        },
    }
    markdown = _markdown(summary, sheet.relative_to(context.out).as_posix())
    return SectionResult(markdown=markdown, summary=summary, files=[sheet])


def _tables(recipe: str, context: DemoContext) -> dict[str, Any]:
    """A shipped recipe's tables with the demo's seed and time budget."""
    path = recipe_path(recipe)
    load_run_config(path)  # a broken recipe fails here, naming its file and key
    tables = tomllib.loads(path.read_text(encoding="utf-8"))
    tables["train"]["seed"] = context.seed
    tables["train"]["max_minutes"] = BUDGET_MINUTES[context.quick]
    if "world_seed" in tables["task"]:
        tables["task"]["world_seed"] = context.seed
    return tables


def _train_all(jobs: dict[str, dict[str, Any]], out: Path) -> dict[str, dict[str, Any]]:
    """Train every job at once, one process with one thread each; their summaries."""
    with ProcessPoolExecutor(max_workers=len(jobs), mp_context=get_context("spawn")) as pool:
        futures = {
            name: pool.submit(train_job, tables, str(out / name)) for name, tables in jobs.items()
        }
        results = {name: future.result() for name, future in futures.items()}
    for name, result in results.items():
        if "error" in result:
            raise VislangError(f"captioning demo: training {name} failed: {result['error']}")
    return results


def train_job(tables: dict[str, Any], out_dir: str) -> dict[str, Any]:
    """Train one config into ``out_dir`` with one thread (in a worker process, messages in
    ``OUT/worker.log``); the run's summary, or ``{"error": ...}``."""
    torch.set_num_threads(1)
    Path(out_dir).mkdir(parents=True, exist_ok=True)
    with (
        open(Path(out_dir) / WORKER_LOG, "w", encoding="utf-8") as log,
        contextlib.redirect_stderr(log),
    ):
        try:
            return train(run_config_from_mapping(tables), out_dir, show_progress=False)
        except VislangError as error:
            return {"error": str(error)}


def _evaluate(
    out: Path,
    captioners: dict[str, dict[str, Any]],
    lm_dir: Path,
    encoder_dir: Path,
    world: dict[str, list[CaptionedImage]],
    quick: bool,
) -> dict[str, dict[str, CaptioningReport]]:
    """Every row on the first images of each test split, in every language."""
    languages = list(LANGUAGES)
    reports: dict[str, dict[str, CaptioningReport]] = {}
    for row in captioners:
        loaded = load_captioner(out / row / "model", languages=languages)
        reports[row] = {
            split: evaluate_captioner(
                loaded.captioner,
                world[split][: EVAL_IMAGES[quick]],
                languages,
                retriever=loaded.retriever,
            )
            for split in SPLITS
        }
    with_retrieval = load_captioner(out / "c" / "model", languages=languages)
    lmcap = LMCap(
        load_model(lm_dir),
        load_model(encoder_dir),
        LMCapConfig(
            prompt_set="world-paragraph-lmcap",
            shots=1,
            retrieval=RetrievalConfig(search_k=15, keep=3, max_caption_tokens=25),
            max_new_tokens=25,
        ),
    )
    retriever = with_retrieval.retriever
    demonstrations = demonstrations_from_images(lmcap, retriever, world["train"], languages)
    reports["b"] = {
        split: evaluate_captioner(
            lmcap,
            world[split][: EVAL_IMAGES[quick]],
            languages,
            retriever=retriever,
            caption_options={"demonstrations": demonstrations},
        )
        for split in SPLITS
    }
    return dict(sorted(reports.items()))


def _headline(report: CaptioningReport) -> dict[str, float | None]:
    mean, marvl = report.mean(), report.mean(MARVL_LANGUAGES)
    truth = report.english_truth
    return {
        "CIDEr-D": round(mean["CIDEr-D"], 4),
        "CIDEr-D_marvl": round(marvl["CIDEr-D"], 4),
        "BLEU-4": round(mean["BLEU-4"], 4),
        "english_true": None if truth is None else round(truth["share_true"], 4),
    }


def _examples(out: Path, report: CaptioningReport, images: list[CaptionedImage]) -> Path:
    """A sheet of the first compositional test images: per language, (c)'s caption and the
    best caption retrieved for it."""
    by_image: dict[str, list[tuple[str, str]]] = {}
    for result in report.results:
        if result.image_id in {item.image_id for item in images[:EXAMPLES]}:
            found = result.retrieved.captions if result.retrieved else ()
            retrieved = found[0] if found else "-"  # filtering may leave no caption
            by_image.setdefault(result.image_id, []).append(
                (result.language, f"{result.caption}  ← retrieved: {retrieved}")
            )
    rows = [
        SheetRow(item.source, f"{item.image_id} (compositional test)", by_image[item.image_id])
        for item in images[:EXAMPLES]
        if item.image_id in by_image and not isinstance(item.source, (str, Path))
    ]
    scripts = {code: LANGUAGES[code].script for code in LANGUAGES}
    heading, fonts = choose_fonts(rows, scripts)
    names = {code: LANGUAGES[code].name for code in LANGUAGES}
    path = out / "caption_examples.png"
    contact_sheet(rows, heading, fonts, names).save(path)
    return path


def _markdown(summary: dict[str, Any], sheet: str) -> str:
    lines = [
        f"Captioners trained for at most {summary['budget_minutes']} minutes each on a world of "
        f"{summary['scenes']} scenes, evaluated on {summary['eval_images']} images per test split "
        "in all seven languages (CIDEr-D ×100 averaged over the languages, and over MaRVL's: id, "
        "sw, ta, tr, zh). Short runs: docs/captioning.md has the recipes' numbers.",
        "",
        "| system | trained params | iid CIDEr-D | iid MaRVL | comp. CIDEr-D | comp. MaRVL "
        "| English true (comp.) |",
        "|---|---|---|---|---|---|---|",
    ]
    for row in summary["rows"].values():
        iid, comp = row["test"], row["test_comp"]
        truth = comp["english_true"]
        lines.append(
            f"| {row['title']} | {row['trained_parameters']:,} | {100 * iid['CIDEr-D']:.1f} | "
            f"{100 * iid['CIDEr-D_marvl']:.1f} | {100 * comp['CIDEr-D']:.1f} | "
            f"{100 * comp['CIDEr-D_marvl']:.1f} | {'-' if truth is None else f'{truth:.0%}'} |"
        )
    lines += ["", f"![captions per language beside a retrieved caption]({sheet})"]
    return "\n".join(lines)


@contextlib.contextmanager
def _threads(count: int) -> Any:
    before = torch.get_num_threads()
    torch.set_num_threads(count)
    try:
        yield
    finally:
        torch.set_num_threads(before)
