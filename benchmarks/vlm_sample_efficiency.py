"""Sample efficiency of the bridge: VQA accuracy after training on N examples, N = 1k … 64k.

"Trained on N examples" means the run draws from one pool of N examples (``[task] examples = N``,
``pool_seed`` 0): N image–text pairs (a question with its answer, or one caption, in one
language) drawn uniformly from all training pairs of the world; the ``vlm-world`` recipe (a
fresh connector and the language model, questions and captions) trains on the pool. Every size
gets the same number of optimiser steps (``--steps``) and the recipe's batch size, so a small
pool is read for many epochs and a large one for few: the curve shows what more *distinct* data
buys at a fixed compute budget.

The connector is the best of the connector table (``--connector``, default ``linear``). Each model
answers the i.i.d. test questions of ``vlm_runs.eval_set``; the script prints accuracy per size
(overall, colour, shape) beside the language prior and the majority answer, and draws
``OUT/sample_efficiency.png`` (accuracy against N, log scale) and writes ``OUT/results.json``.

Run from the repository root, after stage 0::

    python benchmarks/vlm_sample_efficiency.py --out runs/bench-vlm-sample-efficiency
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import torch

from vislang.evaluate.vqa import evaluate_vqa, score_vqa
from vislang.evaluate.vqa_baselines import language_prior_answers, majority_answers
from vislang.fileio import atomic_write_json
from vislang.models.connectors import SMALL_GRID_OPTIONS
from vislang.models.registry import load_model
from vlm_runs import RunSpec, eval_set, final_model, percent, train_runs

SIZES = (1000, 4000, 16000, 64000)
SHOWN = ("all", "colour", "shape")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=Path("runs/bench-vlm-sample-efficiency"))
    parser.add_argument("--connector", default="linear", choices=sorted(SMALL_GRID_OPTIONS))
    parser.add_argument("--sizes", default=",".join(str(n) for n in SIZES))
    parser.add_argument("--workers", type=int, default=1, help="Runs trained at once.")
    parser.add_argument("--steps", type=int, default=1000, help="Optimiser steps of every run.")
    parser.add_argument("--eval-scenes", type=int, default=300, help="Test scenes evaluated.")
    parser.add_argument("--lm", default="runs/lm-stage0/model", help="The language prior.")
    args = parser.parse_args()
    torch.set_num_threads(1)

    sizes = [int(n) for n in args.sizes.split(",")]
    options = {"connector": args.connector, "connector_options": SMALL_GRID_OPTIONS[args.connector]}
    budget = {"steps": args.steps, "warmup_steps": max(1, args.steps // 30)}
    specs = [RunSpec(f"n{n}", task={**options, "examples": n}, train=budget) for n in sizes]
    summaries = train_runs(specs, args.out, args.workers)
    data = eval_set(args.eval_scenes)
    records = data.questions["test"]
    lm = load_model(args.lm)
    baselines = {
        "language prior": score_vqa(records, language_prior_answers(lm, records)).to_dict(),
        "majority": score_vqa(records, majority_answers(data.train_questions, records)).to_dict(),
    }
    points: dict[str, Any] = {}
    for size, spec in zip(sizes, specs, strict=True):
        model = load_model(final_model(spec, args.out))
        report = evaluate_vqa(model, records, image_of=data.images)
        points[str(size)] = {
            **report.to_dict(),
            "train_seconds": sum(s["train_seconds"] for s in summaries[spec.name]),
        }
        print(f"N = {size}: {percent(report.accuracy)}", flush=True)
    results = {
        "connector": args.connector,
        "questions": len(records),
        "points": points,
        "baselines": baselines,
    }
    atomic_write_json(args.out / "results.json", results)
    _plot(results, args.out / "sample_efficiency.png")
    print(_table(results))


def _value(report: dict[str, Any], what: str) -> float:
    return report["accuracy"] if what == "all" else report["by_type"][what]


def _table(results: dict[str, Any]) -> str:
    lines = ["| examples | " + " | ".join(SHOWN) + " | train s |", "|---|---|---|---|---|"]
    for size, report in results["points"].items():
        values = " | ".join(percent(_value(report, what)) for what in SHOWN)
        lines.append(f"| {int(size):,} | {values} | {report['train_seconds']:.0f} |")
    for name, report in results["baselines"].items():
        values = " | ".join(percent(_value(report, what)) for what in SHOWN)
        lines.append(f"| {name} (no image) | {values} | |")
    return "\n".join(lines)


def _plot(results: dict[str, Any], path: Path) -> None:
    sizes = [int(size) for size in results["points"]]
    figure, axis = plt.subplots(figsize=(6.4, 4.2), dpi=120)
    colours = {"all": "black", "colour": "tab:red", "shape": "tab:blue"}
    for what in SHOWN:
        values = [100 * _value(report, what) for report in results["points"].values()]
        axis.plot(sizes, values, marker="o", color=colours[what], label=f"VLM: {what}")
        prior = 100 * _value(results["baselines"]["language prior"], what)
        axis.axhline(prior, color=colours[what], linestyle=":", linewidth=1)
    axis.set_xscale("log")
    axis.set_xticks(sizes, [f"{size // 1000}k" for size in sizes])
    axis.set_xlabel("bridge-training examples (pool size, same number of steps)")
    axis.set_ylabel("VQA accuracy on the i.i.d. test split (%)")
    axis.set_title(f"Sample efficiency of the {results['connector']} bridge (dotted: no image)")
    axis.set_ylim(0, 100)
    axis.grid(alpha=0.3)
    axis.legend(loc="lower right")
    figure.tight_layout()
    figure.savefig(path)
    plt.close(figure)


if __name__ == "__main__":
    main()
