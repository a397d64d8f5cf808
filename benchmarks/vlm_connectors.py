"""The connector table: every connector of the lectures trained with the same budget, its VQA
accuracy on the world against the baselines that do not look at the image.

Each connector is trained by the shipped ``vlm-world`` recipe (a fresh connector and the stage-0
language model trained together on the world's questions and captions, the tiny CLIP's image
tower frozen), with the same number of steps (``--steps``), batch size and data for all. With
``--ablations``, three more rows with the same data and steps per stage measure the choices
around it: the MLP with LoRA adapters instead of the whole language
model (``mlp-lora``), LLaVA's two stages (``mlp-stages-1-2``: ``vlm-stage1``, connector only on
captions, then ``vlm-stage2``, connector and LoRA on questions and captions) and the gated
cross-attention VLM in two stages (``flamingo-stages-1-2``). Every model answers every question
of the evaluation set (``vlm_runs.eval_set``: the i.i.d. ``test`` split and the compositional
``test_comp`` split), scored with the official VQA accuracy per question type and language, and
captions evaluation images in every language (CIDEr-D ×100, 3 beams). The baselines answer the
same questions without the image: the stage-0 language model (the language prior) and the most
frequent training answer of the question's type and language.

Prints the table (trained parameters of each stage, visual tokens per image, training seconds of
all stages, accuracy ×100) with each model's gain over the language prior on colour and shape
questions (the target is at least 20 points), and writes ``OUT/results.json`` and
``OUT/table.md``. Training times are those measured on whatever else the machine was running.

Run from the repository root, after stage 0 (``runs/clip-tiny-world``, ``runs/lm-stage0``)::

    python benchmarks/vlm_connectors.py --out runs/bench-vlm-connectors
    python benchmarks/vlm_connectors.py --connectors mlp,resampler --ablations
    python benchmarks/vlm_connectors.py --connectors resampler --seed 1  # another training seed
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

import torch

from vislang.evaluate.vqa import evaluate_vqa, score_vqa
from vislang.evaluate.vqa_baselines import language_prior_answers, majority_answers
from vislang.fileio import atomic_write_json, atomic_write_text
from vislang.metrics.caption_scores import score_captions
from vislang.models.connectors import SMALL_GRID_OPTIONS
from vislang.models.registry import load_model
from vlm_runs import EVAL_SPLITS, EvalSet, RunSpec, eval_set, final_model, percent, train_runs

TYPES = ("colour", "shape", "count", "existence", "relation")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=Path("runs/bench-vlm-connectors"))
    parser.add_argument("--connectors", default=",".join(SMALL_GRID_OPTIONS))
    parser.add_argument(
        "--ablations", action="store_true", help="Also LoRA, two stages and Flamingo (MLP)."
    )
    parser.add_argument("--workers", type=int, default=1, help="Runs trained at once.")
    parser.add_argument("--steps", type=int, default=1000, help="Optimiser steps of every stage.")
    parser.add_argument("--eval-scenes", type=int, default=300, help="Scenes per split.")
    parser.add_argument("--caption-images", type=int, default=60, help="Images captioned.")
    parser.add_argument("--lm", default="runs/lm-stage0/model", help="The language prior.")
    parser.add_argument(
        "--seed", type=int, help="Training seed of every run (default: the recipes' own)."
    )
    args = parser.parse_args()
    torch.set_num_threads(1)

    budget = {"steps": args.steps, "warmup_steps": max(1, args.steps // 30)}
    if args.seed is not None:
        budget["seed"] = args.seed
    specs = [
        RunSpec(
            name,
            task={"connector": name, "connector_options": SMALL_GRID_OPTIONS[name]},
            train=budget,
        )
        for name in args.connectors.split(",")
    ]
    if args.ablations:
        specs += [
            RunSpec(
                "mlp-lora", task={"connector": "mlp", "trainable": "connector+lora"}, train=budget
            ),
            RunSpec("mlp-stages-1-2", recipes=("vlm-stage1", "vlm-stage2"), train=budget),
            RunSpec(
                "flamingo-stages-1-2", recipes=("flamingo-stage1", "flamingo-stage2"), train=budget
            ),
        ]
    summaries = train_runs(specs, args.out, args.workers)
    data = eval_set(args.eval_scenes)
    baselines = _baselines(data, args.lm)
    results = {"baselines": baselines, "models": {}, "eval_questions": _counts(data)}
    for spec in specs:
        model = load_model(final_model(spec, args.out))
        results["models"][spec.name] = {
            "recipes": list(spec.recipes),
            "trained_parameters": [s["parameters"]["trainable"] for s in summaries[spec.name]],
            "visual_tokens": model.tokens_per_image,
            "train_seconds": sum(s["train_seconds"] for s in summaries[spec.name]),
            **_evaluate(model, data, args.caption_images),
        }
        print(f"{spec.name}: evaluated", flush=True)
    atomic_write_json(args.out / "results.json", results)
    table = _table(results)
    atomic_write_text(args.out / "table.md", table + "\n")
    print(table)


def _counts(data: EvalSet) -> dict[str, int]:
    return {split: len(data.questions[split]) for split in EVAL_SPLITS}


def _baselines(data: EvalSet, lm_dir: str) -> dict[str, Any]:
    lm = load_model(lm_dir)
    scores: dict[str, Any] = {"language prior": {}, "majority": {}}
    for split in EVAL_SPLITS:
        records = data.questions[split]
        prior = score_vqa(records, language_prior_answers(lm, records))
        majority = score_vqa(records, majority_answers(data.train_questions, records))
        scores["language prior"][split] = prior.to_dict()
        scores["majority"][split] = majority.to_dict()
    return scores


def _evaluate(model: Any, data: EvalSet, caption_images: int) -> dict[str, Any]:
    scores: dict[str, Any] = {}
    for split in EVAL_SPLITS:
        report = evaluate_vqa(model, data.questions[split], image_of=data.images)
        scores[split] = report.to_dict()
    records = data.captions["test"]
    chosen = list(dict.fromkeys(str(r.image) for r in records))[:caption_images]
    kept = [r for r in records if str(r.image) in set(chosen)]
    features = model.vision(model.load_pixels([data.images[str(r.image)] for r in kept]))
    captions = model.generate(
        [model.caption_prompt(r.language) for r in kept],
        features=features,
        max_new_tokens=32,
        num_beams=3,
    )
    cider: dict[str, float] = {}
    for language in sorted({r.language for r in kept}):
        pairs = [(r, c) for r, c in zip(kept, captions, strict=True) if r.language == language]
        references = {r.id: list(r.captions) for r, _ in pairs}
        predictions = {r.id: c for r, c in pairs}
        cider[language] = score_captions(references, predictions, language).corpus["CIDEr-D"]
    scores["cider"] = cider
    scores["cider_mean"] = sum(cider.values()) / len(cider)
    scores["caption_examples"] = {r.language: c for r, c in zip(kept, captions, strict=True)}
    return scores


def _table(results: dict[str, Any]) -> str:
    prior = results["baselines"]["language prior"]["test"]["by_type"]
    header = (
        "| model | trained params | visual tokens | train s | "
        + " | ".join(TYPES)
        + " | iid | test_comp | Δ colour | Δ shape | CIDEr-D |"
    )
    lines = [header, "|" + "---|" * (header.count("|") - 1)]
    for name, row in results["models"].items():
        test, comp = row["test"], row["test_comp"]
        lines.append(
            f"| {name} | {' + '.join(f'{n:,}' for n in row['trained_parameters'])} | "
            f"{row['visual_tokens']} | "
            f"{row['train_seconds']:.0f} | "
            + " | ".join(percent(test["by_type"][t]) for t in TYPES)
            + f" | {percent(test['accuracy'])} | {percent(comp['accuracy'])} | "
            f"{100 * (test['by_type']['colour'] - prior['colour']):+.1f} | "
            f"{100 * (test['by_type']['shape'] - prior['shape']):+.1f} | "
            f"{100 * row['cider_mean']:.1f} |"
        )
    for name, scores in results["baselines"].items():
        test, comp = scores["test"], scores["test_comp"]
        lines.append(
            f"| {name} (no image) | | | | "
            + " | ".join(percent(test["by_type"][t]) for t in TYPES)
            + f" | {percent(test['accuracy'])} | {percent(comp['accuracy'])} | | | |"
        )
    return "\n".join(lines)


if __name__ == "__main__":
    main()
