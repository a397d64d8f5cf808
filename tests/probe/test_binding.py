"""The binding probe: its scenes and captions, its score on hand-built embeddings of a bound and
of a bag-of-features encoder, and ``vislang probe binding`` on a tiny random dual encoder."""

from __future__ import annotations

import json

import numpy as np
import probe_models
import pytest
from typer.testing import CliRunner

from vislang.cli import app
from vislang.data.world.config import WorldConfig
from vislang.data.world.scene import fits
from vislang.errors import ConfigError
from vislang.probe.binding import binding_items, score_binding

runner = CliRunner()
CONFIG = WorldConfig()


@pytest.fixture(scope="module")
def items():
    return binding_items(CONFIG, "en", per_shape=60, seed=0)


def test_every_shape_anchors_its_share_of_two_object_scenes(items) -> None:
    assert len(items) == 60 * len(CONFIG.shapes)
    assert {shape: sum(i.anchor.shape == shape for i in items) for shape in CONFIG.shapes} == {
        shape: 60 for shape in CONFIG.shapes
    }
    for item in items:
        anchor, other = item.anchor, item.other
        assert item.scene.objects == (anchor, other)
        assert anchor.shape != other.shape and anchor.colour != other.colour
        assert fits(other, (anchor,))
        # the caption names both objects, left to right, as the world's inventories do
        left, right = sorted((anchor, other), key=lambda obj: obj.x)
        assert item.caption == f"There is {_a(left)} {left.colour} {left.shape} and " + (
            f"{_a(right)} {right.colour} {right.shape}."
        )


def test_scenes_and_captions_follow_the_seed_and_the_language() -> None:
    english = binding_items(CONFIG, "en", per_shape=5, seed=1)
    german = binding_items(CONFIG, "de", per_shape=5, seed=1)
    assert [i.scene for i in english] == [i.scene for i in german]
    assert [i.caption for i in english] != [i.caption for i in german]
    assert german[0].caption.startswith("Es gibt")
    assert [i.scene for i in binding_items(CONFIG, "en", per_shape=5, seed=2)] != [
        i.scene for i in english
    ]


def test_a_bound_code_binds_and_a_bag_of_features_does_not(items) -> None:
    colours, shapes = list(CONFIG.colours), list(CONFIG.shapes)

    def compound(colour: str, shape: str) -> np.ndarray:
        vector = np.zeros(len(colours) * len(shapes))
        vector[colours.index(colour) * len(shapes) + shapes.index(shape)] = 1.0
        return vector

    def bag(colour: str, shape: str) -> np.ndarray:
        vector = np.zeros(len(colours) + len(shapes))
        vector[colours.index(colour)] = vector[len(colours) + shapes.index(shape)] = 1.0
        return vector

    def vectors(code) -> np.ndarray:
        return np.stack([code(*i.anchor.compound) + code(*i.other.compound) for i in items])

    bound = score_binding("image", vectors(compound), items)
    assert bound.accuracy > 0.9 and bound.swapped < 0.05 and bound.binding > 0.95
    summed = score_binding("text", vectors(bag), items)
    # a bag knows the two colours (it names one of them) but not which is the anchor's
    assert summed.accuracy + summed.swapped > 0.9
    assert 0.35 < summed.binding < 0.65
    assert summed.to_dict()["binding"] == pytest.approx(summed.binding)
    assert summed.items == len(items)


def test_bad_requests_are_refused_with_the_reason(items) -> None:
    with pytest.raises(ConfigError, match="language 'xx' unknown"):
        binding_items(CONFIG, "xx", per_shape=10)
    with pytest.raises(ConfigError, match="at least 5 scenes per shape"):
        binding_items(CONFIG, "en", per_shape=2)
    with pytest.raises(ValueError, match="3 vectors for"):
        score_binding("image", np.zeros((3, 4)), items)


@pytest.fixture(scope="module")
def saved_models(tmp_path_factory):
    root = tmp_path_factory.mktemp("models")
    return {name: probe_models.saved(name, root) for name in ("dual_encoder", "causal_lm")}


def test_cli_probes_both_sides_of_a_dual_encoder(saved_models) -> None:
    model = str(saved_models["dual_encoder"])
    arguments = ["probe", "binding", "--model", model, "--per-shape", "10", "--language", "sw"]
    result = runner.invoke(app, [*arguments, "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["language"] == "sw" and report["chance_accuracy"] == 1 / len(CONFIG.colours)
    assert set(report["sides"]) == {"image", "text"}
    for side in report["sides"].values():
        assert side["items"] == 10 * len(CONFIG.shapes)
        assert 0 <= side["swapped"] <= 1 - side["accuracy"] <= 1
    table = runner.invoke(app, arguments)
    assert table.exit_code == 0 and "bag of features" in table.stdout


def test_cli_refuses_a_model_without_image_and_text_embeddings(saved_models) -> None:
    model = str(saved_models["causal_lm"])
    result = runner.invoke(app, ["probe", "binding", "--model", model, "--per-shape", "5"])
    assert isinstance(result.exception, ConfigError)
    assert "needs a dual encoder" in str(result.exception) and "causal_lm" in str(result.exception)


def _a(obj) -> str:
    return "an" if obj.colour[0] in "aeiou" else "a"
