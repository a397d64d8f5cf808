"""The demo's probe section: the models earlier sections trained, side by side on the world's
foils and Winoground groups, with the text-only baseline beside them, and the dual encoder's
two towers on binding (:mod:`vislang.probe.binding`).

Models are taken from ``context.shared`` when an earlier section left them there: the best dual
encoder (``"dual_encoder_dir"``, cosine similarity), the captioner (``"captioner_dir"``,
log-likelihood of the text given the image), the best VLM (``"vlm_dir"``, the same) and the
language model (``"lm_dir"``, text-only log-likelihood: the language prior). Examples are the
English ones (:data:`LANGUAGE`: every demo model reads English, not all read every language) of
the world's held-out splits (not ``train``); in quick mode at most :data:`QUICK_FOILS` foil items
and :data:`QUICK_GROUPS` Winoground groups, and :data:`BINDING_PER_SHAPE` binding scenes per
shape.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from vislang.data.readers import read_dataset
from vislang.data.schema import FoilExample, WinogroundExample
from vislang.data.world import WorldConfig
from vislang.demo.runner import DemoContext, SectionResult
from vislang.models.registry import load_model
from vislang.probe.binding import BindingScore, binding_items, probe_binding
from vislang.probe.report import report_markdown, run_probes, write_pictures
from vislang.probe.scoring import Scorer, scorer_for

QUICK_FOILS = 240
QUICK_GROUPS = 40
HELD_OUT = ("val", "test", "test_comp")
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
    world_dir = context.shared.get("world_dir")
    if world_dir is None:
        return SectionResult("No world was generated, so there is nothing to probe.")
    scorers = _scorers(context)
    if not scorers:
        return SectionResult("No earlier section left a model to probe.")
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
    results = run_probes(scorers, foils, groups, show_progress=True)
    folder = context.out / "probes"
    pictures = write_pictures(results, folder)
    with_baseline = any(scorer.score_type == "text_loglik" for _, scorer in scorers)
    markdown = _introduction(len(foils), len(groups), with_baseline) + report_markdown(
        results,
        data=f"world, English, held-out splits {', '.join(HELD_OUT)}",
        title=None,
        pictures={kind: f"probes/{name}" for kind, name in pictures.items()},
        heading="##",
    )
    summary = {
        r.label: {
            "score": r.scorer.get("score"),
            "foils_acc_r": None if r.foils is None else r.foils.overall.acc_r,
            "foils_by_phenomenon": (
                None
                if r.foils is None
                else {name: s.acc_r for name, s in r.foils.phenomena.items()}
            ),
            "winoground": None if r.winoground is None else r.winoground.overall.to_dict(),
        }
        for r in results
    }
    details: dict[str, Any] = {"models": summary}
    if "dual_encoder_dir" in context.shared:
        binding = _binding(Path(context.shared["dual_encoder_dir"]), context)
        markdown += _binding_markdown(binding)
        details["binding"] = {side: score.to_dict() for side, score in binding.items()}
    files = [folder / name for name in pictures.values()]
    return SectionResult(markdown, details, files)


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


def _introduction(foils: int, groups: int, with_baseline: bool) -> str:
    text = (
        f"Each model scores {foils} foil items (a true caption against a minimally changed false "
        f"one for the same image) and {groups} Winoground groups (two images, two captions with "
        "the same words)."
    )
    if with_baseline:
        text += (
            " The text-only language model sees no image: where it beats chance, the foil can be "
            "told from its wording alone."
        )
    return text + "\n\n"


__all__ = ["run_probes_section"]
