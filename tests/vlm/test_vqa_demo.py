"""The demo's VQA section: every connector trained and compared, answers in every language."""

from __future__ import annotations

import pytest
from tiny_parts import save_parts

from vislang.data.world import write_world
from vislang.demo.runner import DemoContext
from vislang.demo.sections import SECTIONS
from vislang.demo.sections.vqa import VQASection
from vislang.models.connectors import SMALL_GRID_OPTIONS
from vislang.models.vlm_data import world_config


@pytest.mark.slow
def test_the_section_compares_every_connector_with_the_language_prior(tmp_path) -> None:
    vision, lm = save_parts(tmp_path / "parts")
    world = tmp_path / "run" / "world"
    write_world(world_config(40, seed=0, split="compositional"), world)
    shared = {"world_dir": world, "dual_encoder_dir": vision, "lm_dir": lm}
    context = DemoContext(tmp_path / "run", quick=True, log=lambda _: None, shared=shared)
    result = VQASection().run(context)
    summary = result.summary
    assert set(summary["connectors"]) == set(SMALL_GRID_OPTIONS)
    tokens = {name: row["visual_tokens"] for name, row in summary["connectors"].items()}
    assert tokens == {
        "linear": 16,
        "mlp": 16,
        "resampler": 16,
        "c_abstractor": 16,
        "pixel_shuffle": 4,
    }
    assert summary["questions"] > 0 and 0 <= summary["language_prior"]["accuracy"] <= 1
    languages = {a["language"] for e in summary["examples"] for a in e["answers"]}
    assert languages == {"en", "de", "tr", "zh", "sw", "id", "ta"}
    assert "| language model, no image |" in result.markdown
    assert all(path.is_file() for path in result.files)
    assert context.shared["vlm_dir"] == tmp_path / "run" / "vqa" / summary["best"] / "model"


def test_the_section_runs_after_captioning_and_before_the_probes() -> None:
    names = [section.name for section in SECTIONS]
    assert names.index("captioning") < names.index("vqa") < names.index("probes")
