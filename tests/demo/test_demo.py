"""``vislang demo``: the run folder, the report, the contact sheet and the section mechanism."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from typer.testing import CliRunner

from vislang.cli import app
from vislang.demo import DemoContext, SectionResult, run_demo
from vislang.demo.fonts import covers, find_font
from vislang.demo.sections import SECTIONS
from vislang.demo.sections.world import WorldSection

runner = CliRunner()


@pytest.fixture(scope="module")
def quick_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict]:
    out = tmp_path_factory.mktemp("demo") / "run"
    result = runner.invoke(app, ["demo", "--quick", "--out", str(out), "--json"])
    assert result.exit_code == 0, result.output
    return out, json.loads(result.stdout)


def test_quick_demo_writes_report_sheet_and_world(quick_run: tuple[Path, dict]) -> None:
    out, summary = quick_run
    assert summary["quick"] is True and list(summary["sections"])[:2] == ["world", "dual_encoders"]
    world = summary["sections"]["world"]
    assert sum(world["scenes"].values()) == 60
    assert world["records"]["captions"] == 60 * 7
    report = (out / "report.md").read_text("utf-8")
    assert "## 1. The synthetic multilingual world" in report
    assert "![example scenes with captions](world_contact_sheet.png)" in report
    assert "| vqa | 300 | 300 | 300 | 300 | 300 | 300 | 300 |" in report
    for language in ("English", "German", "Turkish", "Chinese", "Swahili", "Indonesian", "Tamil"):
        assert f"**{language}**" in report
    assert json.loads((out / "summary.json").read_text("utf-8")) == summary
    assert (out / "world" / "manifest.json").is_file()


def test_contact_sheet_draws_every_script(quick_run: tuple[Path, dict]) -> None:
    out, summary = quick_run
    fonts = summary["sections"]["world"]["fonts"]
    assert fonts["zh"] and fonts["ta"], "the packaged Chinese and Tamil fonts were not found"
    sheet = np.asarray(Image.open(out / "world_contact_sheet.png").convert("L"))
    assert sheet.shape[1] > 900 and sheet.shape[0] > 4 * 160
    assert (sheet < 100).mean() > 0.01  # text and images were drawn, not a blank page
    assert "no font" not in (out / "report.md").read_text("utf-8")


def test_font_search_checks_coverage() -> None:
    tamil = find_font("படத்தில் வட்டம்", "Tamil")
    assert tamil is not None and covers(tamil.path, "வட்டம்")
    latin = find_font("Resimde kırmızı bir daire", "Latin")
    assert latin is not None and not covers(latin.path, "வட்டம்")
    assert find_font("\U000f0000", "Latin") is None  # private use: no font has it


class CountImages:
    """A stand-in later section: reads what the world section shared."""

    name = "count_images"
    title = "Counting images"

    def run(self, context: DemoContext) -> SectionResult:
        images = sorted((context.shared["world_dir"] / "images").glob("*.png"))
        return SectionResult(markdown=f"{len(images)} images.", summary={"images": len(images)})


def test_a_new_section_plugs_in_without_changing_the_runner(tmp_path: Path) -> None:
    assert isinstance(SECTIONS[0], WorldSection)
    context = DemoContext(tmp_path / "run", quick=True, log=lambda _: None)
    summary = run_demo(context, [SECTIONS[0], CountImages()])
    assert list(summary["sections"]) == ["world", "count_images"]
    counted = summary["sections"]["count_images"]["images"]
    assert counted == summary["sections"]["world"]["images"]
    report = (tmp_path / "run" / "report.md").read_text("utf-8")
    assert "## 2. Counting images" in report and f"{counted} images." in report


def test_quick_demo_probes_the_dual_encoders_binding(quick_run: tuple[Path, dict]) -> None:
    out, summary = quick_run
    binding = summary["sections"]["probes"]["binding"]
    assert set(binding) == {"image", "text"}
    for side in binding.values():
        assert side["items"] == 20 * 6  # BINDING_PER_SHAPE in quick mode, six shapes
        assert 0 <= side["accuracy"] + side["swapped"] <= 1
    report = (out / "report.md").read_text("utf-8")
    assert "### Binding" in report
    assert f"| text | {100 * binding['text']['accuracy']:.1f} |" in report


def test_quick_demo_probes_every_foil_phenomenon_a_held_out_scene_allows(
    quick_run: tuple[Path, dict],
) -> None:
    out, summary = quick_run
    probe_world = summary["sections"]["probes"]["probe_world"]
    assert probe_world["scenes"] == 60
    assert (out / "probes" / "world" / "manifest.json").is_file()
    # the demo world holds two foils per scene; the probe world one per phenomenon a scene allows
    lines = (out / "probes" / "world" / "tasks" / "foils.jsonl").read_text("utf-8").splitlines()
    per_scene = Counter(json.loads(line)["image"] for line in lines)
    assert max(per_scene.values()) > 2
    assert {json.loads(line)["language"] for line in lines} == {"en"}
    assert 0 < probe_world["held_out_scenes"] < probe_world["scenes"]
    report = (out / "report.md").read_text("utf-8")
    assert f"Each model scores {probe_world['foils']} foil items" in report
