"""What the VLM experiments share: two-stage runs from the shipped recipes, and the evaluation set.

A *run* is one or more shipped recipes trained one after the other (``vlm-world``; or
``vlm-stage1`` then ``vlm-stage2``, each stage continuing the previous one's model) with some
``[task]`` and ``[train]`` keys replaced, each stage trained by ``vislang train`` in its own
process with one thread. Stages go to ``OUT/<run>/stage<k>``; a stage that already holds a
``summary.json`` is not trained again, so an interrupted experiment continues where it stopped.

The evaluation set is the i.i.d. test split (``test``) and the compositional one (``test_comp``)
of the recipes' world (generated in memory, as training generates it), at most
``--eval-scenes`` scenes of each, every question in every language; the majority baseline reads
the questions of the training split.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from vislang.data.schema import CaptionExample, VQAExample
from vislang.fileio import atomic_write_text
from vislang.models.vlm_data import generate_world_records, world_config
from vislang.recipes import recipe_path
from vislang.train.config import run_config_from_mapping

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on Python 3.10 only
    import tomli as tomllib

EVAL_SPLITS = ("test", "test_comp")


@dataclass
class RunSpec:
    """One run: shipped recipes trained one after the other (each stage continues the previous
    stage's model), with ``[task]`` and ``[train]`` keys replaced in every stage."""

    name: str
    recipes: tuple[str, ...] = ("vlm-world",)
    task: dict[str, Any] = field(default_factory=dict)
    train: dict[str, Any] = field(default_factory=dict)


def stage_tables(spec: RunSpec, stage: int, out: Path) -> dict[str, Any]:
    """The ``[task]`` and ``[train]`` tables of stage ``stage`` (1-based) of ``spec``."""
    tables = tomllib.loads(recipe_path(spec.recipes[stage - 1]).read_text("utf-8"))
    task = tables["task"]
    task.update(spec.task)
    task.update(eval_questions=0, eval_captions=0)  # the experiments evaluate on their own
    tables["train"].update(spec.train)
    if stage > 1:
        for key in ("vision", "lm", "connector", "connector_options", "architecture"):
            task.pop(key, None)
        task["model"] = str((out / spec.name / f"stage{stage - 1}" / "model").resolve())
    for key in ("vision", "lm"):
        if key in task and not Path(task[key]).is_absolute():
            task[key] = str(Path(task[key]).resolve())
    return tables


def train_stage(spec: RunSpec, stage: int, out: Path) -> dict[str, Any]:
    """Train one stage (unless its summary exists) and return its summary."""
    folder = out / spec.name / f"stage{stage}"
    summary_file = folder / "summary.json"
    if summary_file.is_file():
        return json.loads(summary_file.read_text("utf-8"))
    config_file = out / spec.name / f"stage{stage}.toml"
    config_file.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(
        config_file, run_config_from_mapping(stage_tables(spec, stage, out)).to_toml()
    )
    log_file = out / spec.name / f"stage{stage}.log"
    environment = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    command = [sys.executable, "-m", "vislang", "train", str(config_file), "--out", str(folder)]
    with open(log_file, "w", encoding="utf-8") as log:
        finished = subprocess.run(command, stdout=log, stderr=log, env=environment, check=False)
    if finished.returncode != 0:
        raise RuntimeError(f"{spec.name} stage {stage} failed: see {log_file}")
    return json.loads(summary_file.read_text("utf-8"))


def final_model(spec: RunSpec, out: Path) -> Path:
    """The model folder of the run's last stage."""
    return out / spec.name / f"stage{len(spec.recipes)}" / "model"


def train_runs(specs: Iterable[RunSpec], out: Path, workers: int) -> dict[str, list[dict]]:
    """Train every run (its stages in order), ``workers`` runs at a time; each run's stage
    summaries."""

    def stages(spec: RunSpec) -> list[dict[str, Any]]:
        summaries = []
        for stage in range(1, len(spec.recipes) + 1):
            summaries.append(train_stage(spec, stage, out))
            seconds = summaries[-1]["train_seconds"]
            print(f"{spec.name}: stage {stage} done ({seconds:.0f} s)", flush=True)
        return summaries

    specs = list(specs)
    with ThreadPoolExecutor(max_workers=workers) as pool:
        results = list(pool.map(stages, specs))
    return {spec.name: result for spec, result in zip(specs, results, strict=True)}


@dataclass
class EvalSet:
    """Questions and caption records per split, the training questions, and the images."""

    questions: dict[str, list[VQAExample]]
    captions: dict[str, list[CaptionExample]]
    train_questions: list[VQAExample]
    images: dict[str, Any]


def eval_set(eval_scenes: int) -> EvalSet:
    """The recipes' world (``vlm-world``'s scenes, seed and split mode), its evaluation splits
    cut to the first ``eval_scenes`` scenes each."""
    task = tomllib.loads(recipe_path("vlm-world").read_text("utf-8"))["task"]
    config = world_config(task["scenes"], task["world_seed"], task["split_mode"])
    data = generate_world_records(config, ("train", *EVAL_SPLITS), show_progress=True)
    questions, captions = {}, {}
    for split in EVAL_SPLITS:
        scenes = list(dict.fromkeys(str(r.image) for r in data.records[split]))[:eval_scenes]
        kept = set(scenes)
        questions[split] = [r for r in data.of_kind(split, VQAExample) if str(r.image) in kept]
        captions[split] = [r for r in data.of_kind(split, CaptionExample) if str(r.image) in kept]
    return EvalSet(questions, captions, data.of_kind("train", VQAExample), data.images or {})


def percent(value: float) -> str:
    """A fraction as a percentage with one decimal."""
    return f"{100 * value:.1f}"
