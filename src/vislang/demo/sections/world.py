"""Demo section 1: generate the synthetic world and show it (contact sheet, counts, examples)."""

from __future__ import annotations

import json
from collections import defaultdict
from pathlib import Path
from typing import Any

from PIL import Image

from vislang import console
from vislang.data.world import LANGUAGES, WorldConfig, write_world
from vislang.demo.contact_sheet import SheetRow, choose_fonts, contact_sheet
from vislang.demo.fonts import FontChoice
from vislang.demo.runner import DemoContext, SectionResult

QUICK_SCENES = 60
FULL_SCENES = 1000
SHEET_ROWS = {True: 4, False: 6}
_FONT_HELP = {
    "Han": "install the package pylopdf-fonts-zh-cn or a system Noto Sans CJK font",
    "Tamil": "install the package fontpkg-noto-sans-tamil or a system Noto Sans Tamil font",
    "Latin": "install matplotlib (it ships DejaVu Sans)",
}


def _read_jsonl(path: Path) -> list[dict[str, Any]]:
    with open(path, encoding="utf-8") as handle:
        return [json.loads(line) for line in handle]


def _counts_table(manifest: dict[str, Any], languages: list[str]) -> list[str]:
    rows = ["| task | " + " | ".join(languages) + " |", "|---|" + "---:|" * len(languages)]
    for task, by_split in manifest["counts"]["tasks"].items():
        totals = [sum(s.get(lang, 0) for s in by_split.values()) for lang in languages]
        rows.append(f"| {task} | " + " | ".join(str(n) for n in totals) + " |")
    return rows


def _font_lines(heading: FontChoice | None, fonts: dict[str, FontChoice | None]) -> list[str]:
    lines = [
        f"- headings: {heading.name} ({heading.source})"
        if heading
        else "- headings: Pillow's built-in bitmap font (no TrueType font found)"
    ]
    for code, choice in fonts.items():
        grammar_class = LANGUAGES[code]
        if choice is None:
            lines.append(
                f"- {grammar_class.name}: **no font covering its {grammar_class.script} text was "
                f"found**, so the sheet shows a notice instead; "
                f"{_FONT_HELP.get(grammar_class.script, 'install a Noto font for the script')}."
            )
        else:
            lines.append(f"- {grammar_class.name}: {choice.name} ({choice.source})")
    return lines


class WorldSection:
    """Generate a world into ``<run>/world`` and describe it."""

    name = "world"
    title = "The synthetic multilingual world"

    def run(self, context: DemoContext) -> SectionResult:
        config = WorldConfig(
            scenes=QUICK_SCENES if context.quick else FULL_SCENES,
            seed=context.seed,
            split="compositional",
            nlvr=True,
        )
        world_dir = context.out / "world"
        with console.progress(transient=True) as bar:
            task = bar.add_task("generating the world", total=config.scenes)
            manifest = write_world(
                config, world_dir, overwrite=True, on_scene=lambda n: bar.advance(task, n)
            )
        context.shared["world_dir"] = world_dir
        context.shared["world_config"] = config
        languages = list(config.languages)

        captions = _read_jsonl(world_dir / "tasks" / "captions.jsonl")
        by_image: dict[str, dict[str, list[str]]] = defaultdict(dict)
        splits: dict[str, str] = {}
        for record in captions:
            by_image[record["image_id"]][record["language"]] = record["captions"]
            splits[record["image_id"]] = record["split"]
        sheet_path = context.out / "world_contact_sheet.png"
        rows = self._rows(world_dir, by_image, splits, languages, SHEET_ROWS[context.quick])
        scripts = {code: LANGUAGES[code].script for code in languages}
        heading_font, fonts = choose_fonts(rows, scripts)
        names = {code: LANGUAGES[code].name for code in languages}
        contact_sheet(rows, heading_font, fonts, names).save(sheet_path)

        records = {
            task: sum(n for s in by_split.values() for n in s.values())
            for task, by_split in manifest["counts"]["tasks"].items()
        }
        markdown = self._markdown(
            context,
            manifest,
            world_dir,
            by_image,
            rows[0].image_id,
            sheet_path,
            heading_font,
            fonts,
        )
        return SectionResult(
            markdown=markdown,
            summary={
                "world_dir": world_dir.relative_to(context.out).as_posix(),
                "scenes": manifest["counts"]["scenes"],
                "images": manifest["counts"]["images"],
                "records": records,
                "languages": languages,
                "fonts": {code: (c.source if c else None) for code, c in fonts.items()},
            },
            files=[sheet_path, world_dir / "manifest.json", world_dir / "card.md"],
        )

    def _rows(
        self,
        world_dir: Path,
        by_image: dict[str, dict[str, list[str]]],
        splits: dict[str, str],
        languages: list[str],
        count: int,
    ) -> list[SheetRow]:
        rows = []
        for image_id in sorted(by_image):
            scene = json.loads((world_dir / "images" / f"{image_id}.json").read_text("utf-8"))
            if len(scene["objects"]) < 2:
                continue
            k = len(rows)
            lines = []
            for code in languages:
                texts = by_image[image_id][code]
                lines.append((code, texts[k % len(texts)]))
            image = Image.open(world_dir / "images" / f"{image_id}.png").convert("RGB")
            heading = f"{image_id} ({splits[image_id]}), {len(scene['objects'])} objects"
            rows.append(SheetRow(image, heading, lines, image_id))
            if len(rows) == count:
                break
        return rows

    def _markdown(
        self,
        context: DemoContext,
        manifest: dict[str, Any],
        world_dir: Path,
        by_image: dict[str, dict[str, list[str]]],
        first: str,
        sheet_path: Path,
        heading_font: FontChoice | None,
        fonts: dict[str, FontChoice | None],
    ) -> str:
        config = manifest["config"]
        languages = list(config["languages"])
        splits = json.loads((world_dir / "splits.json").read_text("utf-8"))
        held = ", ".join(f"{c} {s}" for c, s in splits["held_out_compounds"])
        scenes = ", ".join(f"{k} {v}" for k, v in manifest["counts"]["scenes"].items())
        lines = [
            f"Generated {config['scenes']} scenes of coloured shapes at "
            f"{config['image_size']}×{config['image_size']} pixels into `world/` with "
            f"`vislang world generate` (seed {config['seed']}, compositional split). "
            f"Scenes per split: {scenes}. Held-out compounds, absent from every train/val/test "
            f"image and text and present in `test_comp`: {held}. The world's dataset card is "
            "`world/card.md`; every file's checksum is in `world/manifest.json`.",
            "",
            f"![example scenes with captions]({sheet_path.relative_to(context.out).as_posix()})",
            "",
            "### Records per task and language",
            "",
            *_counts_table(manifest, languages),
            "",
            f"### The captions of scene {first}",
            "",
        ]
        for code in languages:
            captions = " / ".join(by_image[first][code])
            lines.append(f"- **{LANGUAGES[code].name}**: {captions}")
        lines += ["", "### Other tasks on the same world (English)", ""]
        for task, fields in (
            ("vqa", ("question", "answers")),
            ("foils", ("caption", "foil", "phenomenon")),
            ("statements", ("statement", "label")),
            ("winoground", ("captions", "tag")),
            ("sequences", ("steps", "target")),
        ):
            example = next(
                (
                    r
                    for r in _read_jsonl(world_dir / "tasks" / f"{task}.jsonl")
                    if r["language"] == "en"
                ),
                None,
            )
            if example is None:
                continue
            shown = []
            for name in fields:
                value = example[name]
                if name == "answers":
                    value = value[0]
                elif name == "steps":
                    value = " → ".join(s["description"] for s in value)
                elif isinstance(value, list):
                    value = " / ".join(value)
                shown.append(f"{name}: {value}")
            lines.append(f"- `{task}`: " + "; ".join(shown))
        lines += ["", "### Fonts used for the contact sheet", "", *_font_lines(heading_font, fonts)]
        return "\n".join(lines)
