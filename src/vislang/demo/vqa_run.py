"""The work of the demo's VQA section: the connector table in quick form, and example answers.

:func:`run_vqa` trains one visual-prefix VLM per connector (linear, MLP, resampler, C-Abstractor,
pixel shuffle) on the questions and captions of the world the world section wrote, between the
image tower of the dual encoder the dual-encoder section chose (``context.shared
["dual_encoder_dir"]``) and the stage-0 language model an earlier section trained
(``context.shared["lm_dir"]``; trained here with the ``lm-stage0`` recipe under a time budget
when no section did). Each connector gets the same budget: the ``vlm-world`` recipe (a fresh
connector and the language model trained together on questions and captions) with the same
steps, two runs at a time, one process with one thread each. Every model then answers every
question of the world's i.i.d. test split; the table shows trained parameters, visual tokens per
image, training seconds and VQA accuracy per question type beside the language model answering
without the image. The best model answers a few test questions in every language.

The numbers are those of a few hundred steps on a small world (a few dozen with ``--quick``), not
those of the recipes (docs/vlm.md has those).
"""

from __future__ import annotations

import contextlib
import shutil
import sys
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context
from pathlib import Path
from typing import Any

import torch

from vislang.data.readers import read_dataset
from vislang.data.schema import VQAExample
from vislang.demo.runner import DemoContext, SectionResult
from vislang.errors import VislangError
from vislang.evaluate.vqa import evaluate_vqa, score_vqa
from vislang.evaluate.vqa_baselines import language_prior_answers
from vislang.metrics.vqa import vqa_accuracy
from vislang.models.connectors import SMALL_GRID_OPTIONS
from vislang.models.registry import load_model
from vislang.recipes import recipe_path
from vislang.train import train
from vislang.train.config import load_run_config, run_config_from_mapping

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on Python 3.10 only
    import tomli as tomllib

STEPS = {False: 240, True: 12}
BATCH_SIZE = {False: 32, True: 16}
LM_MINUTES = {False: 1.5, True: 0.5}
"""Budget of the language model's training when no earlier section left one."""
TYPES = ("colour", "shape", "count", "existence", "relation")
EXAMPLE_QUESTIONS = 3
LOOKING_MARGIN = 0.1
"""Gain on colour questions over the no-image language model below which the report says the
models do not use the image yet."""
WORKER_LOG = "worker.log"


def run_vqa(context: DemoContext) -> SectionResult:
    """Train, evaluate and describe (see the module docstring)."""
    out = context.out / "vqa"
    quick = context.quick
    world_dir = Path(context.shared["world_dir"])
    vision_dir = Path(context.shared["dual_encoder_dir"])
    lm_dir = context.shared.get("lm_dir")
    if lm_dir is None:
        context.log("vqa: training the stage-0 language model")
        lm_dir = _train_language_model(context, out)
        context.shared["lm_dir"] = lm_dir
    jobs = {
        name: _tables(context, world_dir, vision_dir, Path(lm_dir), name, options)
        for name, options in SMALL_GRID_OPTIONS.items()
    }
    context.log(f"vqa: training {len(jobs)} connectors, two at a time")
    results = _run_all(jobs, out, world_dir)
    lm = load_model(lm_dir)
    records = _test_questions(world_dir)
    prior = score_vqa(records, language_prior_answers(lm, records)).to_dict()
    best = max(results, key=lambda name: results[name]["report"]["accuracy"])
    examples = _examples(out / best / "model", records)
    summary = {
        "steps": STEPS[quick],
        "questions": len(records),
        "vision_dir": vision_dir.relative_to(context.out).as_posix()
        if vision_dir.is_relative_to(context.out)
        else str(vision_dir),
        "connectors": {
            name: {
                "trained_parameters": result["summary"]["parameters"]["trainable"],
                "visual_tokens": result["visual_tokens"],
                "train_seconds": result["summary"]["train_seconds"],
                "accuracy": result["report"]["accuracy"],
                "by_type": result["report"]["by_type"],
            }
            for name, result in results.items()
        },
        "language_prior": {"accuracy": prior["accuracy"], "by_type": prior["by_type"]},
        "best": best,
        "examples": examples,
    }
    context.shared["vlm_dir"] = out / best / "model"
    return SectionResult(
        markdown=_markdown(summary, quick),
        summary=summary,
        files=[out / name / "model" / "vislang_model.json" for name in results],
    )


def _tables(
    context: DemoContext,
    world_dir: Path,
    vision_dir: Path,
    lm_dir: Path,
    connector: str,
    options: dict[str, Any],
) -> dict[str, Any]:
    """The ``vlm-world`` recipe's tables with the demo's parts, world, connector and budget."""
    path = recipe_path("vlm-world")
    load_run_config(path)  # a broken recipe fails here, naming its file and key
    tables = tomllib.loads(path.read_text(encoding="utf-8"))
    tables["task"].update(
        vision=str(vision_dir.resolve()),
        lm=str(lm_dir.resolve()),
        connector=connector,
        connector_options=options,
        data=f"world:{world_dir.resolve()}",
        eval_questions=0,
        eval_captions=0,
    )
    tables["train"].update(
        steps=STEPS[context.quick],
        batch_size=BATCH_SIZE[context.quick],
        warmup_steps=max(1, STEPS[context.quick] // 10),
        seed=context.seed,
        log_every=max(1, STEPS[context.quick] // 6),
    )
    return tables


def _train_language_model(context: DemoContext, out: Path) -> Path:
    path = recipe_path("lm-stage0" + ("-quick" if context.quick else ""))
    tables = tomllib.loads(path.read_text(encoding="utf-8"))
    tables["train"].update(seed=context.seed, max_minutes=LM_MINUTES[context.quick])
    train(run_config_from_mapping(tables), out / "lm", show_progress=False)
    return out / "lm" / "model"


def _run_all(
    jobs: dict[str, dict[str, Any]], out: Path, world_dir: Path
) -> dict[str, dict[str, Any]]:
    """Train and evaluate every job, two at a time, one process with one thread each."""
    for name in jobs:
        if (out / name).exists():  # a reused --out folder: train again
            shutil.rmtree(out / name)
    with ProcessPoolExecutor(max_workers=2, mp_context=get_context("spawn")) as pool:
        futures = {
            name: pool.submit(train_and_evaluate, tables, str(out / name), str(world_dir))
            for name, tables in jobs.items()
        }
        results = {name: future.result() for name, future in futures.items()}
    for name, result in results.items():
        if "error" in result:
            raise VislangError(f"training the {name} connector failed: {result['error']}")
    return results


def train_and_evaluate(tables: dict[str, Any], out_dir: str, world_dir: str) -> dict[str, Any]:
    """Train one model into ``out_dir`` with one thread, then answer the world's i.i.d. test
    questions. Runs in a worker process whose messages go to ``OUT/worker.log``; errors come
    back as ``{"error": ...}``."""
    torch.set_num_threads(1)
    Path(out_dir).mkdir(parents=True, exist_ok=True)
    with (
        open(Path(out_dir) / WORKER_LOG, "w", encoding="utf-8") as log,
        contextlib.redirect_stderr(log),
    ):
        try:
            summary = train(run_config_from_mapping(tables), out_dir, show_progress=False)
            model = load_model(Path(out_dir) / "model")
            report = evaluate_vqa(model, _test_questions(Path(world_dir)), threads=1)
        except VislangError as error:
            return {"error": str(error)}
    return {
        "summary": summary,
        "report": report.to_dict(),
        "visual_tokens": model.tokens_per_image,
    }


def _test_questions(world_dir: Path) -> list[VQAExample]:
    dataset = read_dataset(f"world:{world_dir}", kinds=(VQAExample,), split="test")
    return dataset.of_kind(VQAExample)


def _examples(model_dir: Path, records: list[VQAExample]) -> list[dict[str, Any]]:
    """A few colour and shape questions of the test split, asked in every language."""
    model = load_model(model_dir)
    by_question: dict[str, list[VQAExample]] = {}
    for record in records:
        if record.question_type in ("colour", "shape"):
            by_question.setdefault(record.meta["question_id"], []).append(record)
    chosen = list(by_question.values())[:EXAMPLE_QUESTIONS]
    examples = []
    for group in chosen:
        answers = model.answer([r.image for r in group], [r.question for r in group])
        examples.append(
            {
                "image": Path(group[0].image).name,
                "question_type": group[0].question_type,
                "answers": [
                    {
                        "language": r.language,
                        "question": r.question,
                        "gold": r.answers[0],
                        "answer": answer,
                        "correct": vqa_accuracy(answer, r.answers) == 1.0,
                    }
                    for r, answer in zip(group, answers, strict=True)
                ],
            }
        )
    return examples


def _markdown(summary: dict[str, Any], quick: bool) -> str:
    prior = summary["language_prior"]
    lines = [
        "One visual-prefix vision-language model per connector of the lectures, each trained "
        f"for {summary['steps']} steps (connector and language model together, the "
        "`vlm-world` recipe) on the questions and captions of the world's "
        "training split, between the image tower of the dual encoder chosen above and the "
        f"stage-0 language model. Accuracy (official VQA accuracy, %) on the "
        f"{summary['questions']} questions of the i.i.d. test split, in every language:",
        "",
        "| connector | trained parameters | visual tokens | train s | "
        + " | ".join(TYPES)
        + " | all |",
        "|---|---|---|---|" + "---|" * (len(TYPES) + 1),
    ]
    for name, row in summary["connectors"].items():
        lines.append(
            f"| {name} | {row['trained_parameters']:,} | {row['visual_tokens']} | "
            f"{row['train_seconds']:.0f} | "
            + " | ".join(f"{100 * row['by_type'].get(t, 0):.1f}" for t in TYPES)
            + f" | {100 * row['accuracy']:.1f} |"
        )
    lines.append(
        "| language model, no image | | | | "
        + " | ".join(f"{100 * prior['by_type'].get(t, 0):.1f}" for t in TYPES)
        + f" | {100 * prior['accuracy']:.1f} |"
    )
    colour = max(row["by_type"].get("colour", 0) for row in summary["connectors"].values())
    if colour - prior["by_type"].get("colour", 0) < LOOKING_MARGIN:
        lines += [
            "",
            "At this budget no connector has learned to use the image yet (colour questions "
            "barely beat the language model without it): trained with the `vlm-world` recipe, "
            "the models start to look after 500-750 steps (docs/vlm.md).",
        ]
    lines += [
        "",
        f"Answers of the best model (`{summary['best']}`) to the same question in every "
        "language (✓ right, ✗ wrong):",
        "",
    ]
    for example in summary["examples"]:
        lines.append(f"- image `{example['image']}` ({example['question_type']}):")
        for answer in example["answers"]:
            mark = "✓" if answer["correct"] else "✗"
            lines.append(
                f"  - {answer['language']}: {answer['question']} → {answer['answer']} {mark} "
                f"(gold: {answer['gold']})"
            )
    if quick:
        lines += ["", "Quick mode: a few dozen steps on a tiny world; the numbers mean little."]
    return "\n".join(lines)
