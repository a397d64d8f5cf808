"""The probe report from hand-built results: the numbers in its tables, its pictures, and the
radar chart only when there are three categories to draw."""

from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image

from vislang.errors import ConfigError
from vislang.probe.foils import foil_table_scores
from vislang.probe.plots import category_radar
from vislang.probe.report import ModelProbes, model_label, run_probes, write_report
from vislang.probe.winoground import winoground_table_scores

PHENOMENA = ["counting", "counting", "existence", "spatial_relation"]


def _results() -> list[ModelProbes]:
    encoder = ModelProbes(
        "clip",
        {"family": "clip", "score": "similarity"},
        foils=foil_table_scores(PHENOMENA, [1, 0, 1, 1], [0, 1, 0, 0]),
        winoground=winoground_table_scores(
            np.array([[[0.9, 0.1], [0.2, 0.8]], [[0.5, 0.6], [0.1, 0.7]]]), ["Object", "Relation"]
        ),
    )
    baseline = ModelProbes(
        "lm",
        {"family": "causal_lm", "score": "text_loglik", "length_normalised": True},
        foils=foil_table_scores(PHENOMENA, [-1, -1, -3, -2], [-2, -2, -1, -2]),
    )
    return [encoder, baseline]


def test_report_tables_hold_the_numbers(tmp_path) -> None:
    report = write_report(_results(), tmp_path, data="world:w")
    text = report.read_text(encoding="utf-8")
    assert "| counting | 2 | 50.0 | 100.0 |" in text
    assert "| existence | 1 | 100.0 | 0.0 |" in text
    assert "| spatial_relation | 1 | 100.0 | 0.0 |" in text  # the tie fails
    assert "| **all** | 4 | 75.0 | 50.0 |" in text
    assert "| attribute | 2 | 50.0 | 100.0 |" in text
    assert "| lm | causal_lm | text_loglik (per token) |" in text
    assert "| clip | all | 100.0 | 50.0 | 50.0 | 2 |" in text
    assert "| clip | Relation | 100.0 | 0.0 | 0.0 | 1 |" in text
    for picture in ("foils_by_phenomenon.png", "foils_by_category.png", "winoground.png"):
        with Image.open(tmp_path / picture) as image:
            assert image.format == "PNG" and image.width > 300
    saved = json.loads((tmp_path / "results.json").read_text(encoding="utf-8"))
    assert saved["models"][1]["winoground"] is None
    assert saved["models"][0]["foils"]["phenomena"]["counting"]["acc_r"] == 0.5


def test_foil_tables_mark_acc_r_above_chance_in_bold(tmp_path) -> None:
    # 9 of 10 right: one-sided binomial p = 11/1024 = 0.011 < 0.05; 6 of 10: p = 0.38
    phenomena = ["counting"] * 10 + ["existence"] * 10
    caption = [1.0] * 9 + [0.0] + [1.0] * 6 + [0.0] * 4
    probe = ModelProbes(
        "clip", {"score": "similarity"}, foils=foil_table_scores(phenomena, caption, [0.5] * 20)
    )
    text = write_report([probe], tmp_path, data="x").read_text(encoding="utf-8")
    assert "| counting | 10 | **90.0** |" in text
    assert "| existence | 10 | 60.0 |" in text
    assert "| **all** | 20 | **75.0** |" in text  # 15 of 20: p = 0.021


def test_no_radar_with_fewer_than_three_categories(tmp_path) -> None:
    only_objects = ModelProbes(
        "clip", {"score": "similarity"}, foils=foil_table_scores(["existence"], [1], [0])
    )
    write_report([only_objects], tmp_path, data="x")
    assert not (tmp_path / "foils_by_category.png").exists()
    assert "acc_r by category](" not in (tmp_path / "report.md").read_text(encoding="utf-8")
    with pytest.raises(ValueError, match="at least 3 categories"):
        category_radar({"m": {"object": 1.0}}, ["object"], 0.5, tmp_path / "r.png")


def test_labels_and_refusals() -> None:
    assert model_label("runs/clip-tiny-world/model") == "clip-tiny-world"
    assert model_label("clip-tiny") == "clip-tiny"
    with pytest.raises(ConfigError, match="nothing to probe"):
        run_probes([], [], [])


def test_demo_section_compares_the_shared_models_on_held_out_foils_and_groups(tmp_path) -> None:
    import probe_models

    from vislang.data.world.config import WorldConfig
    from vislang.data.world.foils import PHENOMENA
    from vislang.demo.probe_run import HELD_OUT, PROBE_SCENES, SPLIT_GROUPS
    from vislang.demo.runner import DemoContext
    from vislang.demo.sections import SECTIONS
    from vislang.demo.sections.probes import ProbeSection

    assert SECTIONS[-1].name == "probes"
    shared = {
        "world_config": WorldConfig(seed=2, languages=("en", "de"), split="compositional"),
        "dual_encoder_dir": probe_models.saved("dual_encoder", tmp_path),
        "lm_dir": probe_models.saved("causal_lm", tmp_path),
    }
    context = DemoContext(out=tmp_path / "run", quick=True, shared=shared, log=lambda _: None)
    result = ProbeSection().run(context)
    probe_world = tmp_path / "run" / "probes" / "world"
    rows = [json.loads(line) for line in (probe_world / "tasks" / "foils.jsonl").open()]
    assert {row["language"] for row in rows} == {"en"}
    assert {row["phenomenon"] for row in rows} == set(PHENOMENA)
    foils = [row for row in rows if row["split"] in HELD_OUT]
    assert result.summary["probe_world"]["scenes"] == PROBE_SCENES[True]
    assert result.summary["probe_world"]["foils"] == len(foils)
    models = result.summary["models"]
    assert list(models) == ["dual encoder", "text only (LM)"]
    assert models["text only (LM)"]["score"] == "text_loglik"
    # the unseen scenes and the held-out compounds are scored and reported apart
    assert HELD_OUT == ("val", "test", "test_comp")
    for key, (title, splits) in SPLIT_GROUPS.items():
        part = [f for f in foils if f["split"] in splits]
        scores = models["dual encoder"]["splits"][key]
        assert set(scores["foils_by_phenomenon"]) == {f["phenomenon"] for f in part}
        assert sum(s["items"] for s in scores["foils_by_phenomenon"].values()) == len(part)
        assert all(0 <= s["p_above_chance"] <= 1 for s in scores["foils_by_phenomenon"].values())
        assert f"### {title} (`{'`, `'.join(splits)}`)" in result.markdown
        assert f"](probes/{key}/foils_by_phenomenon.png)" in result.markdown
        assert f"| **all** | {len(part)} |" in result.markdown
    assert all(path.is_file() for path in result.files) and len(result.files) >= 2
    empty = ProbeSection().run(
        DemoContext(out=tmp_path / "none", shared={"world_config": WorldConfig()})
    )
    assert "No earlier section left a model" in empty.markdown
    nothing = ProbeSection().run(DemoContext(out=tmp_path / "nothing", shared={}))
    assert "No world was generated" in nothing.markdown
    assert "wording alone" in result.markdown
