"""The work of the demo's dual-encoder section: train tiny CLIP and SigLIP, compare, index, draw.

:func:`run_dual_encoders` writes a world of captioned scenes (the size and languages its recipes
train on, ``clip-tiny-world`` and ``siglip-tiny-world``, or their ``-quick`` variants), trains
both models through the shared training loop on it, evaluates text→image and image→text recall
on the i.i.d. test split and on the compositional one (``test_comp``: scenes with colour–shape
compounds no training text mentions), in every language, builds datastores of the test captions
and images with the better model, and draws the loss curves and a grid of text→image
retrievals.

The two models train at the same time, each in its own process with one thread: on two cores
that is the fastest way to train two small models (one thread per model avoids the cost of
synchronising threads on tiny matrices, which is large on a busy machine), and a time budget
(``max_minutes``) caps each run, so the training phase lasts at most
:data:`BUDGET_MINUTES` of wall-clock time. Later sections find the better model's folder in
``context.shared["dual_encoder_dir"]``.
"""

from __future__ import annotations

import contextlib
import io
import os
import sys
import time
from collections.abc import Iterator
from concurrent.futures import Future, ProcessPoolExecutor, wait
from multiprocessing import get_context
from pathlib import Path
from typing import Any

import torch

from vislang import console
from vislang.data.batch import load_batch
from vislang.data.images import load_image
from vislang.data.readers import read_dataset
from vislang.data.schema import CaptionExample
from vislang.data.world import WorldConfig, write_world
from vislang.demo.retrieval_grid import QueryRow, RetrievedImage, retrieval_grid
from vislang.demo.runner import DemoContext, SectionResult
from vislang.demo.training_curves import loss_curves, train_records
from vislang.errors import VislangError
from vislang.evaluate.retrieval import evaluate_retrieval
from vislang.fileio import atomic_write_bytes
from vislang.models.registry import load_model
from vislang.recipes import recipe_path
from vislang.represent.embed_job import dataset_image_inputs, dataset_text_inputs, run_embed_job
from vislang.represent.feature_store import FeatureStore
from vislang.retrieval.datastore import Datastore, search_images, search_texts
from vislang.train import train
from vislang.train.config import load_run_config, run_config_from_mapping

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on Python 3.10 only
    import tomli as tomllib

FAMILIES = {"clip": "CLIP (InfoNCE)", "siglip": "SigLIP (sigmoid)"}
BUDGET_MINUTES = {False: 5.0, True: 0.5}
"""Wall-clock minutes the training phase may take (both models train at once)."""
EVAL_IMAGES = 1000
EVAL_SPLITS = ("test", "test_comp")
GRID_QUERIES = 4  # per split
GRID_RESULTS = 5
WORKER_LOG = "worker.log"


def recipe_name(family: str, quick: bool) -> str:
    """The packaged recipe the demo trains ``family`` with."""
    return f"{family}-tiny-world" + ("-quick" if quick else "")


def run_dual_encoders(context: DemoContext) -> SectionResult:
    """Write the world, train and evaluate both families, build the datastores, draw the
    curves and the retrieval grid, and describe it all (see the module docstring)."""
    out = context.out / "dual_encoders"
    tables = {family: _recipe_tables(family, context) for family in FAMILIES}
    world_dir = out / "world"
    world = _write_world(tables["clip"]["task"], context.seed, world_dir)
    for family in FAMILIES:
        tables[family]["task"]["data"] = f"world:{world_dir.resolve()}"
    threads = max(1, (os.cpu_count() or 2) // len(FAMILIES))
    started = time.perf_counter()
    results = _train_all(tables, out, world_dir, threads)
    phase_seconds = time.perf_counter() - started
    best = max(FAMILIES, key=lambda f: _english_r5(results[f]["retrieval"]["test"]))
    model_dir = out / best / "model"
    context.shared["dual_encoder_dir"] = model_dir
    context.shared["dual_encoder_family"] = best

    curves = loss_curves(
        {FAMILIES[f]: out / f / "log.jsonl" for f in FAMILIES},
        out / "loss_curves.png",
        title="training loss (tiny dual encoders on the world)",
    )
    with _torch_threads(threads):
        stores = _datastores(model_dir, world_dir, out)
        grid, examples = _grid(model_dir, world_dir, stores, out / "retrieval_grid.png")
    summary = {
        "world_dir": world_dir.relative_to(context.out).as_posix(),
        "world_scenes": world["counts"]["scenes"],
        "languages": list(world["config"]["languages"]),
        "budget_minutes": BUDGET_MINUTES[context.quick],
        "phase_seconds": round(phase_seconds, 1),
        "threads_per_model": threads,
        "best": best,
        "best_model_dir": model_dir.relative_to(context.out).as_posix(),
        "models": {
            f: {
                "recipe": recipe_name(f, context.quick),
                "steps": results[f]["summary"]["steps"],
                "planned_steps": results[f]["summary"]["planned_steps"],
                "stopped_by": results[f]["summary"]["stopped_by"],
                "train_seconds": results[f]["summary"]["train_seconds"],
                "batch_size": tables[f]["train"]["batch_size"],
                "final_loss": results[f]["summary"]["last_train"]["loss"],
                "retrieval": results[f]["retrieval"],
            }
            for f in FAMILIES
        },
        "datastores": stores,
    }
    markdown = _markdown(context, summary, tables, curves, grid, examples)
    files = [curves, grid, *(out / f / "model" / "vislang_model.json" for f in FAMILIES)]
    return SectionResult(markdown=markdown, summary=summary, files=files)


def _recipe_tables(family: str, context: DemoContext) -> dict[str, Any]:
    """The recipe's tables with the demo's seed and time budget."""
    path = recipe_path(recipe_name(family, context.quick))
    tables = tomllib.loads(path.read_text(encoding="utf-8"))
    load_run_config(path)  # a broken recipe fails here, naming its file and key
    tables["train"]["seed"] = context.seed
    tables["train"]["max_minutes"] = BUDGET_MINUTES[context.quick]
    tables["task"]["world_seed"] = context.seed
    return tables


def _write_world(task: dict[str, Any], seed: int, world_dir: Path) -> dict[str, Any]:
    """The world the recipes generate in memory (same scenes, splits and captions), written to
    disk with captions in every language, whichever languages the recipes train on."""
    config = WorldConfig(
        scenes=task["scenes"],
        seed=seed,
        split=task.get("split_mode", "compositional"),
        questions_per_image=0,
        statements_per_image=0,
        foils_per_image=0,
        winoground_rate=0.0,
        sequence_rate=0.0,
    )
    with console.progress(transient=True) as bar:
        progress_id = bar.add_task("writing the retrieval world", total=config.scenes)
        return write_world(
            config, world_dir, overwrite=True, on_scene=lambda n: bar.advance(progress_id, n)
        )


def _train_all(
    tables: dict[str, dict[str, Any]], out: Path, world_dir: Path, threads: int
) -> dict[str, dict[str, Any]]:
    """Train and evaluate every family at once, one process each; a progress bar follows their
    logs."""
    context = get_context("spawn")
    with (
        ProcessPoolExecutor(max_workers=len(tables), mp_context=context) as pool,
        console.progress() as bar,
    ):
        futures: dict[str, Future] = {
            family: pool.submit(
                train_and_evaluate, table, str(out / family), str(world_dir), threads
            )
            for family, table in tables.items()
        }
        bars = {
            family: bar.add_task(f"training {family}", total=table["train"]["steps"])
            for family, table in tables.items()
        }
        pending = set(futures.values())
        while pending:
            _, pending = wait(pending, timeout=1.0)
            for family in tables:
                log_file = out / family / "log.jsonl"
                if log_file.is_file():
                    records = train_records(log_file)
                    if records:
                        bar.update(bars[family], completed=records[-1]["step"])
    results = {family: future.result() for family, future in futures.items()}
    for family, result in results.items():
        if "error" in result:
            raise VislangError(f"training {family} failed: {result['error']}")
    return results


def train_and_evaluate(
    tables: dict[str, Any], out_dir: str, world_dir: str, threads: int
) -> dict[str, Any]:
    """Train one recipe into ``out_dir`` with ``threads`` threads, then evaluate retrieval on
    the world's test splits. Runs in a worker process whose messages go to ``OUT/worker.log``;
    errors come back as ``{"error": ...}``."""
    torch.set_num_threads(threads)
    Path(out_dir).mkdir(parents=True, exist_ok=True)
    with (
        open(Path(out_dir) / WORKER_LOG, "w", encoding="utf-8") as log,
        contextlib.redirect_stderr(log),
    ):
        try:
            summary = train(run_config_from_mapping(tables), out_dir, show_progress=False)
            model = load_model(Path(out_dir) / "model")
            retrieval = {}
            for split in EVAL_SPLITS:
                records = _captions(Path(world_dir), split)
                report = evaluate_retrieval(model, records, max_images=EVAL_IMAGES, threads=1)
                retrieval[split] = report.to_dict()
        except VislangError as error:
            return {"error": str(error)}
    return {"summary": summary, "retrieval": retrieval}


def _captions(world_dir: Path, split: str) -> list[CaptionExample]:
    return read_dataset(f"world:{world_dir}", kinds=(CaptionExample,), split=split).of_kind(
        CaptionExample
    )


def _english_r5(report: dict[str, Any]) -> float:
    scores = report["languages"].get("en") or report["mean"]
    return (scores["text_to_image@5"] + scores["image_to_text@5"]) / 2


@contextlib.contextmanager
def _torch_threads(threads: int) -> Iterator[None]:
    before = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def _datastores(model_dir: Path, world_dir: Path, out: Path) -> dict[str, Any]:
    """Datastores of the test captions (every language) and of the test images, embedded with
    the better model through the embedding job."""
    encoder = load_model(model_dir)
    dataset = read_dataset(f"world:{world_dir}", kinds=(CaptionExample,), split="test")
    stores: dict[str, Any] = {}
    for modality, inputs in (
        ("text", dataset_text_inputs(dataset)),
        ("image", dataset_image_inputs(dataset)),
    ):
        features = out / f"features-{modality}"
        run_embed_job(
            encoder,
            inputs,
            features,
            modality=modality,
            model=str(model_dir.resolve()),
            batch_size=256,
            threads=1,
            overwrite=True,
            show_progress=False,
        )
        store_dir = out / f"datastore-{'captions' if modality == 'text' else 'images'}"
        Datastore.build(FeatureStore.open(features)).save(store_dir)
        stores[modality] = {"path": store_dir.name, "rows": len(inputs)}
    return stores


def _grid(
    model_dir: Path, world_dir: Path, stores: dict[str, Any], out: Path
) -> tuple[Path, list[dict[str, Any]]]:
    """Text→image retrievals of English test captions (the image datastore) and, for the first
    test images, their nearest captions in the caption datastore."""
    encoder = load_model(model_dir)
    images = Datastore.load(out.parent / stores["image"]["path"])
    captions = Datastore.load(out.parent / stores["text"]["path"])
    english = [r for r in _captions(world_dir, "test") if r.language == "en"][: GRID_QUERIES * 2]
    queries = [(r.captions[0], r.image_id) for r in english[:GRID_QUERIES]]
    queries += [(r.captions[-1], r.image_id) for r in english[GRID_QUERIES:]]
    hits = search_texts(images, encoder, [q for q, _ in queries], k=GRID_RESULTS)
    rows = [
        QueryRow(
            query=query,
            label=f"query from test image {image_id}",
            results=[
                RetrievedImage(load_image(hit.image), hit.image_id == image_id, hit.score)
                for hit in found
            ],
        )
        for (query, image_id), found in zip(queries, hits, strict=True)
    ]
    buffer = io.BytesIO()
    retrieval_grid(rows).save(buffer, format="PNG")
    atomic_write_bytes(out, buffer.getvalue())
    examples = []
    pixels = load_batch([r.image for r in english[:2]], encoder.preprocess).pixels
    nearest = search_images(captions, encoder, pixels, k=3, language="en")
    for record, found in zip(english[:2], nearest, strict=True):
        examples.append(
            {
                "image_id": record.image_id,
                "captions": list(record.captions),
                "nearest": [(h.text, h.image_id, round(h.score, 3)) for h in found],
            }
        )
    return out, examples


def _language_phrase(codes: list[str]) -> str:
    """ "English captions", "captions in en, de" for the report."""
    return "English captions" if list(codes) == ["en"] else f"captions in {', '.join(codes)}"


def _overrides_phrase(overrides: dict[str, dict[str, Any]]) -> str:
    """The recipes' architecture overrides: those both share, then each family's own, e.g.
    "in both `a = 1` (CLIP also `b = 2`)"."""
    clip, siglip = overrides["clip"], overrides["siglip"]
    shared = {k: v for k, v in clip.items() if k in siglip and siglip[k] == v}

    def listed(values: dict[str, Any]) -> str:
        return ", ".join(f"`{k} = {v}`" for k, v in values.items())

    own = [
        f"{FAMILIES[family].split()[0]} also {listed(rest)}"
        for family, values in overrides.items()
        if (rest := {k: v for k, v in values.items() if k not in shared})
    ]
    if not shared:
        return "; ".join(own) or "none"
    return f"in both {listed(shared)}" + (f" ({'; '.join(own)})" if own else "")


def _markdown(
    context: DemoContext,
    summary: dict[str, Any],
    tables: dict[str, dict[str, Any]],
    curves: Path,
    grid: Path,
    examples: list[dict[str, Any]],
) -> str:
    models = summary["models"]
    languages = summary["languages"]
    trained = tables["clip"]["task"].get("languages") or languages
    scenes = ", ".join(f"{k} {v}" for k, v in summary["world_scenes"].items())
    overrides = {f: tables[f]["task"].get("architecture", {}) for f in FAMILIES}
    lines = [
        f"Two tiny dual encoders (presets `{tables['clip']['task']['model']}` and "
        f"`{tables['siglip']['task']['model']}`) trained on a world of "
        f"{sum(summary['world_scenes'].values())} scenes written to `{summary['world_dir']}/` "
        f"(captions only; scenes per split: {scenes}), captions in "
        f"{', '.join(languages)}. Both use the recipes `{models['clip']['recipe']}` and "
        f"`{models['siglip']['recipe']}` (`vislang train {models['clip']['recipe']}` repeats "
        f"a run), which train on {_language_phrase(trained)}, differing in the family: "
        "InfoNCE with a learned temperature (CLIP) against the sigmoid loss with a learned "
        "temperature and bias (SigLIP). Architecture overrides of the tiny presets: "
        + _overrides_phrase(overrides)
        + "; "
        + (
            f"a BPE vocabulary of {vocab} entries learned from the training captions."
            if (vocab := tables["clip"]["task"].get("vocab_size", 0))
            else "the presets' byte tokenizer."
        ),
        "",
        f"Both trained at the same time, side by side, one process and "
        f"{summary['threads_per_model']} thread(s) each, each capped at "
        f"{summary['budget_minutes']:g} minutes of training: training took "
        f"{models['clip']['train_seconds']:.0f} s (CLIP) and "
        f"{models['siglip']['train_seconds']:.0f} s (SigLIP) of wall-clock time; with data "
        f"preparation and the evaluation on the test splits the phase took "
        f"{summary['phase_seconds']:.0f} s.",
        "",
        "### The two losses compared",
        "",
        "Recall@k in percent (strict: only the query's own image, or its own captions, count) on "
        f"at most {EVAL_IMAGES} images per split, English captions; `test` is i.i.d. with "
        "training, `test_comp` shows colour–shape compounds no training caption mentions. The "
        "bound row is the best any model can expect when identical captions describe several "
        "images.",
        "",
        "| model | split | images | T→I R@1 | T→I R@5 | T→I R@10 | I→T R@1 | I→T R@5 | I→T R@10 "
        "| steps | batch | train s | final loss |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for family, info in models.items():
        for split in EVAL_SPLITS:
            report = info["retrieval"][split]
            scores = report["languages"].get("en", report["mean"])
            lines.append(
                f"| {FAMILIES[family]} | {split} | {report['images']} | "
                + " | ".join(
                    f"{100 * scores[f'{d}@{k}']:.1f}"
                    for d in ("text_to_image", "image_to_text")
                    for k in (1, 5, 10)
                )
                + f" | {info['steps']} | {info['batch_size']} | {info['train_seconds']:.0f} | "
                f"{info['final_loss']:.3f} |"
            )
    for split in EVAL_SPLITS:
        report = models["clip"]["retrieval"][split]
        bound = report["identical_caption_bounds"].get("en")
        if bound:
            lines.append(
                f"| bound | {split} | {report['images']} | "
                + " | ".join(
                    f"{100 * bound[f'{d}@{k}']:.1f}"
                    for d in ("text_to_image", "image_to_text")
                    for k in (1, 5, 10)
                )
                + " | | | | |"
            )
    lines += [
        "",
        "### Every language (R@5, percent: text→image / image→text)",
        "",
        f"The models read {_language_phrase(trained)} in training, one caption per image and "
        "step in a language drawn at random, so one text tower serves every language."
        + (
            ""
            if set(languages) <= set(trained)
            else " In a language they never read, recall is at chance (text→image R@5 = "
            "5 / images): the text tower has nothing to carry over."
        ),
        "",
        "| model | split | " + " | ".join(languages) + " |",
        "|---|---|" + "---:|" * len(languages),
    ]
    for family, info in models.items():
        for split in EVAL_SPLITS:
            per = info["retrieval"][split]["languages"]
            cells = [
                f"{100 * per[c]['text_to_image@5']:.1f} / {100 * per[c]['image_to_text@5']:.1f}"
                if c in per
                else "–"
                for c in languages
            ]
            lines.append(f"| {FAMILIES[family]} | {split} | " + " | ".join(cells) + " |")
    stopped = [f for f, i in models.items() if i["stopped_by"] == "max_minutes"]
    if stopped:
        lines += [
            "",
            "The time budget stopped "
            + ", ".join(
                f"{f} at step {models[f]['steps']} of {models[f]['planned_steps']}" for f in stopped
            )
            + " (the machine was slower than the recipes assume), before the learning rate had "
            "decayed: their numbers are lower than a full run's.",
        ]
    rel = context.out
    lines += [
        "",
        "### Loss curves",
        "",
        f"![training loss of both models]({curves.relative_to(rel).as_posix()})",
        "",
        f"### Text → image retrieval with the better model ({FAMILIES[summary['best']]})",
        "",
        f"The test captions (all languages) and test images were embedded with `vislang embed`'s "
        f"job and indexed as datastores (`{summary['datastores']['text']['path']}/`, "
        f"`{summary['datastores']['image']['path']}/`; `vislang index search` queries them). "
        "Each row is an English test caption and the five images it retrieves; the query's own "
        "image is framed in green.",
        "",
        f"![text to image retrievals]({grid.relative_to(rel).as_posix()})",
        "",
        "Nearest captions in the caption datastore for two test images (English):",
        "",
    ]
    for example in examples:
        nearest = "; ".join(
            f"{text!r} ({'own' if image_id == example['image_id'] else image_id}, {score})"
            for text, image_id, score in example["nearest"]
        )
        lines.append(f"- {example['image_id']} ({' / '.join(example['captions'])}): {nearest}")
    lines += [
        "",
        f"The better model is kept in `{summary['best_model_dir']}/` for the sections that follow.",
    ]
    return "\n".join(lines)
