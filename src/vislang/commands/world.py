"""``vislang world``: generate the synthetic multilingual world, and check a generated one."""

from __future__ import annotations

import random
import time
from pathlib import Path
from typing import Annotated, Any

import typer

from vislang import console
from vislang.commands.options import JsonFlag
from vislang.data.world import (
    DEFAULT_LANGUAGES,
    LANGUAGES,
    WorldConfig,
    describe,
    sample_scene,
    write_world,
)
from vislang.data.world.writer import check_output, read_manifest, verify_world
from vislang.errors import ConfigError

app = typer.Typer(
    name="world",
    help="The synthetic multilingual world: scenes of shapes with captions and every task type.",
    no_args_is_help=True,
)


def _languages(values: list[str] | None) -> tuple[str, ...]:
    """Languages from repeated and/or comma-separated options ("en,de" or "-l en -l de")."""
    if not values:
        return DEFAULT_LANGUAGES
    return tuple(code.strip() for value in values for code in value.split(",") if code.strip())


def summary(manifest: dict[str, Any], out: Path) -> dict[str, Any]:
    """The short result of a generation: where, how many scenes, images and records."""
    counts = manifest["counts"]
    records = {
        task: sum(n for by_language in by_split.values() for n in by_language.values())
        for task, by_split in counts["tasks"].items()
    }
    return {
        "out": str(out),
        "seed": manifest["seed"],
        "languages": manifest["config"]["languages"],
        "split_mode": manifest["config"]["split"],
        "scenes": counts["scenes"],
        "images": counts["images"],
        "records": records,
        "files": len(manifest["checksums"]) + 1,
    }


@app.command("generate")
def generate(
    out: Annotated[Path, typer.Option("--out", "-o", help="Folder to write the world into.")],
    scenes: Annotated[int, typer.Option(help="Number of scenes.")] = 1000,
    languages: Annotated[
        list[str] | None,
        typer.Option(
            "--languages",
            "-l",
            help=f"Languages, comma-separated or repeated (default: all: "
            f"{','.join(DEFAULT_LANGUAGES)}).",
        ),
    ] = None,
    seed: Annotated[int, typer.Option(help="Random seed; same seed and options, same bytes.")] = 0,
    size: Annotated[int, typer.Option(help="Image side in pixels.")] = 64,
    split: Annotated[
        str,
        typer.Option(help="iid (random by scene) or compositional (held-out compounds)."),
    ] = "iid",
    nlvr: Annotated[
        bool, typer.Option("--nlvr", help="Also render NLVR-layout three-box images.")
    ] = False,
    max_objects: Annotated[int, typer.Option(help="Most objects in a scene (1-6).")] = 4,
    workers: Annotated[int, typer.Option(help="Processes to generate with.")] = 1,
    overwrite: Annotated[
        bool, typer.Option("--overwrite", help="Replace OUT if it already holds files.")
    ] = False,
    as_json: JsonFlag = False,
) -> None:
    """Generate a world: PNG images with their scenes, task files, splits, card, manifest."""
    try:
        config = WorldConfig(
            scenes=scenes,
            seed=seed,
            image_size=size,
            languages=_languages(languages),
            max_objects=max_objects,
            split=split,
            nlvr=nlvr,
        )
    except ConfigError as error:
        raise typer.BadParameter(str(error)) from None
    if workers < 1:
        raise typer.BadParameter("--workers must be at least 1")
    check_output(out, overwrite)
    started = time.perf_counter()
    with console.progress() as bar:
        task = bar.add_task("generating scenes", total=scenes)
        manifest = write_world(
            config,
            out,
            workers=workers,
            overwrite=overwrite,
            on_scene=lambda n: bar.advance(task, n),
        )
    seconds = time.perf_counter() - started
    result = {
        **summary(manifest, out),
        "seconds": round(seconds, 3),
        "scenes_per_second": round(scenes / seconds, 1),
    }

    def render() -> None:
        console.stdout.print(console.key_value_table(result, title=f"world written to {out}"))

    console.emit(result, as_json, render)


@app.command("verify")
def verify(
    path: Annotated[Path, typer.Argument(help="A folder written by `vislang world generate`.")],
    as_json: JsonFlag = False,
) -> None:
    """Check every file of a generated world against the checksums in its manifest."""
    manifest = read_manifest(path)
    bad = verify_world(path)
    result = {**summary(manifest, path), "changed_or_missing": bad, "ok": not bad}
    console.emit(result, as_json)
    if bad:
        raise typer.Exit(1)


@app.command("languages")
def languages_command(as_json: JsonFlag = False) -> None:
    """List the world's languages with an example caption in each."""
    scene = sample_scene(random.Random(7), WorldConfig(min_objects=3, max_objects=3))
    rows = [
        {
            "code": code,
            "language": grammar_class.name,
            "script": grammar_class.script,
            "example": describe(scene, code, random.Random(0), 1)[0],
        }
        for code, grammar_class in LANGUAGES.items()
    ]
    console.emit(
        {"languages": rows},
        as_json,
        lambda: console.stdout.print(console.rows_table(rows, title="world languages")),
    )
