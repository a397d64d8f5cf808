"""``vislang probe``: what drives a model's success — foils, Winoground, binding, attribute
probes, modality influence, and a report that puts them side by side.

Each probe lives in :mod:`vislang.probe`; this module only parses options and prints. Probes
with their own command module register here with one tuple in :data:`_PROBE_COMMANDS`.
"""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import Annotated, Any

import typer

from vislang import console
from vislang.commands.options import DataOption, JsonFlag, LanguagesOption, SplitOption
from vislang.errors import ConfigError

app = typer.Typer(
    name="probe",
    help="Probe what models understand: foils, Winoground, binding, attributes, modality "
    "influence.",
    no_args_is_help=True,
)

ModelOption = Annotated[
    str, typer.Option("--model", help="vislang model folder, preset, or Hugging Face folder/id.")
]
ScoreOption = Annotated[
    str | None,
    typer.Option(
        "--score",
        help="similarity, match, loglik or text_loglik (default: the first the model offers).",
    ),
]
SumOption = Annotated[
    bool,
    typer.Option("--sum", help="Log-likelihoods summed over tokens, not per token."),
]
BatchOption = Annotated[int, typer.Option("--batch-size", min=1, help="Pairs per forward pass.")]


@app.command("foils")
def foils(
    model: ModelOption,
    data: DataOption,
    score: ScoreOption = None,
    split: SplitOption = None,
    languages: LanguagesOption = None,
    all_items: Annotated[
        bool, typer.Option("--all-items", help="Also the items the source judged invalid.")
    ] = False,
    summed: SumOption = False,
    batch_size: BatchOption = 32,
    as_json: JsonFlag = False,
) -> None:
    """Foils (VALSE): acc_r per phenomenon and category, the caption against its foil for the
    same image; with match scores also p_c, p_f, acc and AUROC."""
    from vislang.data.schema import FoilExample
    from vislang.probe.foils import probe_foils
    from vislang.probe.scoring import scorer_for

    records, info = _read(data, FoilExample, split, languages)
    scorer = scorer_for(model, score, length_normalised=not summed, batch_size=batch_size)
    probe = probe_foils(scorer, records, valid_only=not all_items, show_progress=not as_json)
    result = {**info, "model": model, **scorer.describe(), **probe.to_dict()}

    def render() -> None:
        extra = ("p_c", "p_f", "acc", "auroc") if probe.score_type == "match" else ()
        rows = [
            {"phenomenon": name, **_foil_row(scores, extra)}
            for name, scores in result["phenomena"].items()
        ]
        rows += [
            {"phenomenon": f"{name} (category)", **_foil_row(scores, extra)}
            for name, scores in result["categories"].items()
        ]
        rows.append({"phenomenon": "all", **_foil_row(result["overall"], extra)})
        title = f"foils of {data}: {model} ({probe.score_type}; chance acc_r 0.5)"
        console.stdout.print(console.rows_table(rows, title=title))
        _print_left_out(result)

    console.emit(result, as_json, render)


@app.command("winoground")
def winoground(
    model: ModelOption,
    data: DataOption,
    score: ScoreOption = None,
    split: SplitOption = None,
    languages: LanguagesOption = None,
    summed: SumOption = False,
    batch_size: BatchOption = 32,
    as_json: JsonFlag = False,
) -> None:
    """Winoground: strict text, image and group scores, overall and by tag."""
    from vislang.data.schema import WinogroundExample
    from vislang.probe.scoring import scorer_for
    from vislang.probe.winoground import probe_winoground

    records, info = _read(data, WinogroundExample, split, languages)
    scorer = scorer_for(model, score, length_normalised=not summed, batch_size=batch_size)
    probe = probe_winoground(scorer, records, show_progress=not as_json)
    result = {**info, "model": model, **scorer.describe(), **probe.to_dict()}

    def render() -> None:
        rows = [
            {"tag": tag, **scores.to_dict()}
            for tag, scores in [("all", probe.overall), *probe.tags.items()]
        ]
        rows.append({"tag": "chance", **result["chance"]})
        title = f"Winoground on {data}: {model} ({probe.score_type})"
        console.stdout.print(console.rows_table(rows, title=title))
        _print_left_out(result)

    console.emit(result, as_json, render)


@app.command("binding")
def binding(
    model: ModelOption,
    language: Annotated[
        str, typer.Option("--language", help="Language of the captions (a world language).")
    ] = "en",
    per_shape: Annotated[
        int,
        typer.Option("--per-shape", min=5, help="Two-object scenes per anchor shape."),
    ] = 1000,
    seed: Annotated[int, typer.Option("--seed", help="Seed of the scenes and the folds.")] = 0,
    batch_size: BatchOption = 256,
    as_json: JsonFlag = False,
) -> None:
    """Binding: can a linear probe name which colour goes with which shape from a dual
    encoder's image embedding, and from its text embedding, of two-object world scenes?"""
    from vislang.data.world.config import WorldConfig
    from vislang.models.dual_encoder import DualEncoder
    from vislang.models.registry import load_model
    from vislang.probe.binding import binding_items, probe_binding

    encoder = load_model(model)
    if not isinstance(encoder, DualEncoder):
        raise ConfigError(
            f"--model {model}: the binding probe needs a dual encoder (image and text "
            f"embeddings), not a {encoder.family} model"
        )
    world = WorldConfig()
    items = binding_items(world, language, per_shape, seed)
    scores = probe_binding(
        encoder, items, seed=seed, batch_size=batch_size, show_progress=not as_json
    )
    result = {
        "model": model,
        "language": language,
        "per_shape": per_shape,
        "seed": seed,
        "chance_accuracy": 1 / len(world.colours),
        "sides": {side: score.to_dict() for side, score in scores.items()},
    }

    def render() -> None:
        rows = [score.to_dict() for score in scores.values()]
        title = f"binding of {model} ({language}; binding 0.5 = a bag of features, 1 = bound)"
        console.stdout.print(console.rows_table(rows, title=title))

    console.emit(result, as_json, render)


@app.command("report")
def report(
    model: Annotated[
        list[str],
        typer.Option(
            "--model",
            help="Model to compare (repeat for each; a causal LM is the text-only baseline).",
        ),
    ],
    data: DataOption,
    out: Annotated[Path, typer.Option("--out", "-o", help="Folder for report.md and plots.")],
    split: SplitOption = None,
    languages: LanguagesOption = None,
    batch_size: BatchOption = 32,
    as_json: JsonFlag = False,
) -> None:
    """A markdown report comparing models on the data's foils and Winoground examples: tables,
    bars per phenomenon with chance, a radar chart by category, Winoground bars."""
    from vislang.data.schema import FoilExample, WinogroundExample
    from vislang.probe.report import model_label, run_probes, write_report
    from vislang.probe.scoring import scorer_for

    dataset, info = _read_all(data, split, languages)
    foil_items = dataset.of_kind(FoilExample)
    groups = dataset.of_kind(WinogroundExample)
    if not foil_items and not groups:
        raise ConfigError(f"{data}: no foil items and no Winoground examples to probe")
    labels = [model_label(reference) for reference in model]
    if len(set(labels)) != len(labels):
        labels = [f"{i + 1}:{label}" for i, label in enumerate(labels)]
    scorers = [
        (label, scorer_for(reference, batch_size=batch_size))
        for label, reference in zip(labels, model, strict=True)
    ]
    results = run_probes(scorers, foil_items, groups, show_progress=not as_json)
    path = write_report(results, out, data=data)
    result = {**info, "report": str(path), "models": [r.to_dict() for r in results]}

    def render() -> None:
        console.stdout.print(f"wrote {path} (and {len(list(out.glob('*.png')))} plots)")

    console.emit(result, as_json, render)


# (module in vislang.commands, name of the command function in it, CLI name)
_PROBE_COMMANDS: list[tuple[str, str, str]] = [
    ("probe_attributes", "attributes", "attributes"),
    ("probe_influence", "influence_command", "influence"),
]


def _mount() -> None:
    for module_name, attribute, cli_name in _PROBE_COMMANDS:
        module = importlib.import_module(f"vislang.commands.{module_name}")
        app.command(cli_name)(getattr(module, attribute))


_mount()


def _read(
    data: str, kind: type, split: str | None, languages: list[str] | None
) -> tuple[list[Any], dict[str, Any]]:
    """The ``kind`` records of ``data`` (malformed items skipped and counted; records with
    missing images kept, for the probe to leave out when its score needs images)."""
    dataset, info = _read_all(data, split, languages, (kind,))
    records = dataset.of_kind(kind)
    if not records:
        where = f" in split {split!r}" if split else ""
        raise ConfigError(f"{data}: no {kind.kind} records{where}")
    return records, info


def _read_all(
    data: str,
    split: str | None,
    languages: list[str] | None,
    kinds: tuple[type, ...] | None = None,
) -> tuple[Any, dict[str, Any]]:
    from vislang.data.readers import read_dataset
    from vislang.data.schema import FoilExample, WinogroundExample

    dataset = read_dataset(
        data,
        kinds=kinds or (FoilExample, WinogroundExample),
        split=split,
        languages=_split_commas(languages),
        on_missing_image="report",
        on_bad_item="skip",
    )
    info = {
        "data": data,
        "split": split,
        "skipped_items": len(dataset.skipped),
        "missing_images": len(dataset.missing_images),
    }
    return dataset, info


def _split_commas(values: list[str] | None) -> list[str] | None:
    if not values:
        return None
    return [part.strip() for value in values for part in value.split(",") if part.strip()]


def _foil_row(scores: dict[str, Any], extra: tuple[str, ...]) -> dict[str, Any]:
    low, high = scores.get("acc_r_ci95", (float("nan"), float("nan")))
    return {
        "items": scores["items"],
        "acc_r": scores["acc_r"],
        "95% CI": f"{low:.3f}–{high:.3f}",
        "p (> chance)": scores.get("p_above_chance", float("nan")),
        **{name: scores[name] for name in extra},
    }


def _print_left_out(result: dict[str, Any]) -> None:
    notes = [f"{count} {why.replace('_', ' ')}" for why, count in result["left_out"].items()]
    if result.get("skipped_items"):
        notes.append(f"{result['skipped_items']} malformed items skipped")
    if notes:
        console.stdout.print("left out: " + "; ".join(notes))
