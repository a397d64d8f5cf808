"""The demo's probe section: the models earlier sections trained, side by side on the world's
foils and Winoground groups, with the text-only baseline beside them, and the dual encoder's
two towers on binding (:mod:`vislang.probe.binding`).

Models are taken from ``context.shared`` when an earlier section left them there: the best dual
encoder (``"dual_encoder_dir"``, cosine similarity), the captioner (``"captioner_dir"``,
log-likelihood of the text given the image), the best VLM (``"vlm_dir"``, the same) and the
language model (``"lm_dir"``, text-only log-likelihood: the language prior). Examples are the
English ones (:data:`LANGUAGE`: every demo model reads English, not all read every language) of
the held-out splits (not ``train``) of a probe world: the demo world's seed and splits with
:data:`PROBE_SCENES` scenes, English only, and a foil of every phenomenon a scene allows (the
demo world's two per scene leave a few dozen attribute swaps, too few to tell 55% from chance). A
scene's split depends only on the seed and its index, so the probe world's held-out scenes were
never trained on by any model of the run. The unseen scenes (``val``, ``test``) and the
held-out compounds (``test_comp``) are scored and reported apart (:data:`SPLIT_GROUPS`). In
quick mode at most :data:`QUICK_FOILS` foil items and :data:`QUICK_GROUPS` Winoground groups,
and :data:`BINDING_PER_SHAPE` binding scenes per shape.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

from vislang import console
from vislang.data.readers import read_dataset
from vislang.data.schema import FoilExample, WinogroundExample
from vislang.data.world import WorldConfig, write_world
from vislang.data.world.foils import PHENOMENA
from vislang.demo.runner import DemoContext, SectionResult
from vislang.models.registry import load_model
from vislang.probe.binding import BindingScore, binding_items, probe_binding
from vislang.probe.foils import against_chance
from vislang.probe.report import ModelProbes, report_markdown, run_probes, write_pictures
from vislang.probe.scoring import Scorer, scorer_for

PROBE_SCENES = {False: 4000, True: 60}
QUICK_FOILS = 240
QUICK_GROUPS = 40
SPLIT_GROUPS: dict[str, tuple[str, tuple[str, ...]]] = {
    "unseen_scenes": ("Unseen scenes", ("val", "test")),
    "held_out_compounds": ("Held-out compounds", ("test_comp",)),
}
"""Key → (title, splits): the held-out splits, reported apart. ``val`` and ``test`` scenes are
new scenes of the training distribution; ``test_comp`` scenes hold a colour–shape compound no
training image or text had (only in a compositional world; an i.i.d. world has none)."""
HELD_OUT = tuple(split for _, splits in SPLIT_GROUPS.values() for split in splits)
LANGUAGE = "en"
BINDING_PER_SHAPE = {False: 1000, True: 20}

MODELS: tuple[tuple[str, str, str], ...] = (
    ("dual_encoder_dir", "dual encoder", "similarity"),
    ("captioner_dir", "captioner", "loglik"),
    ("vlm_dir", "VLM", "loglik"),
    ("lm_dir", "text only (LM)", "text_loglik"),
)
"""(key in ``context.shared``, label, score type), in report order."""


def run_probes_section(context: DemoContext) -> SectionResult:
    """Probe every model the earlier sections left, write the plots into ``<run>/probes``."""
    world_config = context.shared.get("world_config")
    if world_config is None:
        return SectionResult("No world was generated, so there is nothing to probe.")
    scorers = _scorers(context)
    if not scorers:
        return SectionResult("No earlier section left a model to probe.")
    world_dir = _write_probe_world(world_config, context)
    dataset = read_dataset(
        f"world:{world_dir}", kinds=(FoilExample, WinogroundExample), languages=[LANGUAGE]
    )
    foils = [r for r in dataset.of_kind(FoilExample) if r.split in HELD_OUT]
    groups = [r for r in dataset.of_kind(WinogroundExample) if r.split in HELD_OUT]
    if context.quick:
        foils, groups = foils[:QUICK_FOILS], groups[:QUICK_GROUPS]
    if not foils and not groups:
        return SectionResult("The world's held-out splits hold no foils or Winoground groups.")
    context.log(
        f"probing {len(scorers)} models on {len(foils)} foils and {len(groups)} Winoground groups"
    )
    folder = context.out / "probes"
    with_baseline = any(scorer.score_type == "text_loglik" for _, scorer in scorers)
    scenes = len({r.image for r in foils} | {image for g in groups for image in g.images})
    markdown = _introduction(len(foils), len(groups), scenes, with_baseline)
    summary: dict[str, dict[str, Any]] = {
        label: {"score": scorer.score_type, "splits": {}} for label, scorer in scorers
    }
    files: list[Path] = []
    for key, (title, splits) in SPLIT_GROUPS.items():
        part_foils = [r for r in foils if r.split in splits]
        part_groups = [r for r in groups if r.split in splits]
        if not part_foils and not part_groups:
            continue
        results = run_probes(scorers, part_foils, part_groups, show_progress=True)
        pictures = write_pictures(results, folder / key)
        markdown += "\n" + report_markdown(
            results,
            data=f"probe world, English, {', '.join(splits)}",
            title=f"{title} (`{'`, `'.join(splits)}`)",
            pictures={kind: f"probes/{key}/{name}" for kind, name in pictures.items()},
            heading="###",
        )
        for r in results:
            summary[r.label]["splits"][key] = _split_summary(r)
        files += [folder / key / name for name in pictures.values()]
    details: dict[str, Any] = {
        "probe_world": {
            "scenes": PROBE_SCENES[context.quick],
            "held_out_scenes": scenes,
            "foils": len(foils),
            "winoground_groups": len(groups),
        },
        "models": summary,
    }
    if "dual_encoder_dir" in context.shared:
        binding = _binding(Path(context.shared["dual_encoder_dir"]), context)
        markdown += _binding_markdown(binding)
        details["binding"] = {side: score.to_dict() for side, score in binding.items()}
    return SectionResult(markdown, details, files)


def _split_summary(result: ModelProbes) -> dict[str, Any]:
    """One model's scores on one group of splits: acc_r overall and per phenomenon (with the
    item count and the one-sided binomial p of "above chance"), Winoground's scores."""
    foils = result.foils
    return {
        "foils_acc_r": None if foils is None else foils.overall.acc_r,
        "foils_by_phenomenon": (
            None
            if foils is None
            else {
                name: {"acc_r": s.acc_r, "items": s.items, **against_chance(s)}
                for name, s in foils.phenomena.items()
            }
        ),
        "winoground": None if result.winoground is None else result.winoground.overall.to_dict(),
    }


def _write_probe_world(config: WorldConfig, context: DemoContext) -> Path:
    """The demo world's scenes and splits, more of them, every foil phenomenon per scene."""
    probe_config = dataclasses.replace(
        config,
        scenes=PROBE_SCENES[context.quick],
        languages=(LANGUAGE,),
        foils_per_image=len(PHENOMENA),
        nlvr=False,
    )
    folder = context.out / "probes" / "world"
    with console.progress(transient=True) as bar:
        task = bar.add_task("generating the probe world", total=probe_config.scenes)
        write_world(probe_config, folder, overwrite=True, on_scene=lambda n: bar.advance(task, n))
    return folder


def _binding(folder: Path, context: DemoContext) -> dict[str, BindingScore]:
    """The dual encoder's image and text sides on two-object scenes, English captions."""
    items = binding_items(WorldConfig(), LANGUAGE, BINDING_PER_SHAPE[context.quick], context.seed)
    context.log(f"binding: the dual encoder's two towers on {len(items)} two-object scenes")
    return probe_binding(load_model(folder), items, seed=context.seed, show_progress=True)


def _binding_markdown(scores: dict[str, BindingScore]) -> str:
    rows = "\n".join(
        f"| {s.side} | {100 * s.accuracy:.1f} | {100 * s.swapped:.1f} | {s.binding:.2f} |"
        for s in scores.values()
    )
    return (
        "\n\n### Binding\n\n"
        f"From the dual encoder's embedding of each of {scores['image'].items} two-object scenes "
        "(its image, or its English inventory caption), a linear probe names the colour of one "
        "object given its shape (`vislang probe binding`, docs/probes.md). A bag of features "
        "names either of the two colours as often (binding 0.5); a bound code names the right "
        "one (binding 1).\n\n"
        "| side | right colour % | the other object's colour % | binding |\n"
        "|---|---:|---:|---:|\n"
        f"{rows}\n"
    )


def _scorers(context: DemoContext) -> list[tuple[str, Scorer]]:
    scorers = []
    for key, label, score_type in MODELS:
        folder = context.shared.get(key)
        if folder is None or not Path(folder).is_dir():
            continue
        scorers.append((label, scorer_for(Path(folder), score_type, batch_size=64)))
    return scorers


def _introduction(foils: int, groups: int, scenes: int, with_baseline: bool) -> str:
    text = (
        f"Each model scores {foils} foil items (a true caption against a minimally changed false "
        f"one for the same image) and {groups} Winoground groups (two images, two captions with "
        f"the same words), from {scenes} held-out scenes of a probe world (the demo world's seed, "
        "so no model of the run trained on them; English; a foil of every phenomenon a scene "
        "allows)."
    )
    if with_baseline:
        text += (
            " The text-only language model sees no image: where it beats chance, the foil can be "
            "told from its wording alone."
        )
    return text + "\n\n"


__all__ = ["run_probes_section"]
