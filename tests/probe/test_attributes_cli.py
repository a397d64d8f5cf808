"""``vislang probe attributes`` on a tiny generated world with a saved tiny dual encoder."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from typer.testing import CliRunner

from vislang.cli import app
from vislang.data.world import WorldConfig, write_world
from vislang.errors import VislangError
from vislang.models.registry import load_model, save_model
from vislang.probe.attribute_job import read_norms
from vislang.probe.concept_embeddings import concept_embeddings, load_concept_encoder

runner = CliRunner()


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("world") / "world"
    config = WorldConfig(
        scenes=90,
        seed=5,
        languages=("en", "de"),
        captions_per_image=1,
        questions_per_image=0,
        statements_per_image=0,
        foils_per_image=0,
        winoground_rate=0.0,
        sequence_rate=0.0,
    )
    write_world(config, out)
    return out


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return save_model(load_model("clip-tiny"), tmp_path_factory.mktemp("model") / "tiny" / "model")


def invoke_json(*args: str) -> dict:
    result = runner.invoke(app, ["probe", "attributes", *args, "--json"])
    assert result.exit_code == 0, result.output + repr(result.exception)
    return json.loads(result.stdout)


def test_image_probes_of_a_model_and_its_random_init(
    world: Path, model_dir: Path, tmp_path: Path
) -> None:
    norms = json.loads((world / "tasks" / "attributes.jsonl").read_text().splitlines()[0])
    assert norms["language"] == "en"
    without_images = sorted(c for c, images in norms["concept_images"].items() if not images)
    out = tmp_path / "out"
    result = invoke_json(
        "--model", str(model_dir), "--model", f"random:{model_dir}", "--norms", f"world:{world}",
        "--concept-source", "images", "--max-images", "3", "--seed", "1", "--out", str(out),
    )  # fmt: skip
    assert result["norms"] == "world-attributes-en"
    assert [m["model"] for m in result["models"]] == [str(model_dir), f"random:{model_dir}"]
    for model in result["models"]:
        assert model["source"] == "images"
        assert model["concepts"] == 48 - len(without_images)
        assert sorted(model["skipped_concepts"]) == without_images
        probed = {s["attribute"] for s in model["scores"]}
        assert "is_warm_colour" in probed and "is_round" not in probed  # 8 circles < 10
        assert model["left_out_attributes"]["is_round"].endswith("(< 10)")
        for score in model["scores"]:
            expected = score["f1"] - 100.0 * score["positives"] / score["concepts"]
            assert score["selectivity"] == pytest.approx(expected)
        types = {row["knowledge_type"] for row in model["by_knowledge_type"]}
        assert types == {"visual-colour", "visual-form_and_surface"}
    # the random init (seed 1) differs from the saved weights (seed 0): different scores
    first, second = ([s["f1"] for s in m["scores"]] for m in result["models"])
    assert first != second
    pearson = result["correlations"]["pearson"]
    assert pearson[0][0] == pytest.approx(1.0) and pearson[0][1] == pytest.approx(pearson[1][0])

    files = result["files"]
    assert set(files) == {"json", "scores", "types", "correlations", "type_plot"}
    assert json.loads(Path(files["json"]).read_text()) == {
        k: v for k, v in result.items() if k != "files"
    }
    rows = Path(files["scores"]).read_text().splitlines()
    assert len(rows) == 1 + sum(len(m["scores"]) for m in result["models"])
    for name in ("correlations", "type_plot"):
        with Image.open(files[name]) as image:
            assert image.format == "PNG" and min(image.size) > 100


def test_text_probes_in_another_language_and_crops(world: Path, model_dir: Path) -> None:
    german = invoke_json("--model", str(model_dir), "--norms", f"world:{world}", "--language", "de")
    assert german["norms"] == "world-attributes-de"
    assert german["models"][0]["source"] == "text" and german["models"][0]["concepts"] == 48
    cropped = invoke_json(
        "--model", str(model_dir), "--norms", f"world:{world}", "--concept-source", "images",
        "--crop-to-object", "--max-images", "2",
    )  # fmt: skip
    whole = invoke_json(
        "--model", str(model_dir), "--norms", f"world:{world}", "--concept-source", "images",
        "--max-images", "2",
    )  # fmt: skip
    assert cropped["models"][0]["scores"] != whole["models"][0]["scores"]


def test_bad_requests_are_refused(world: Path, model_dir: Path) -> None:
    def refused(*args: str) -> str:
        outcome = runner.invoke(app, ["probe", "attributes", *args])
        assert isinstance(outcome.exception, VislangError), outcome.output
        return str(outcome.exception)

    norms = f"world:{world}"
    assert "text encoder" in refused(
        "--model", "minilm", "--norms", norms, "--concept-source", "images"
    )
    assert "text or images" in refused(
        "--model", str(model_dir), "--norms", norms, "--concept-source", "pixels"
    )
    assert "language 'fr'" in refused(
        "--model", str(model_dir), "--norms", norms, "--language", "fr"
    )
    assert "name a model" in refused("--model", "random:", "--norms", norms)


def test_unreadable_images_are_reported_and_the_rest_still_count(
    world: Path, model_dir: Path, tmp_path: Path
) -> None:
    copy = tmp_path / "world"
    shutil.copytree(world, copy)
    norms = read_norms(f"world:{copy}")
    concept = next(c for c in norms.concepts if len(norms.concept_images[c]) >= 2)
    broken = norms.concept_images[concept][0]
    broken.write_bytes(b"not a png")
    encoder = load_concept_encoder(str(model_dir))
    table = concept_embeddings(encoder, norms, "images")
    assert [b["image"] for b in table.bad_images] == [
        str(p) for c in norms.concepts for p in norms.concept_images[c] if p == broken
    ]
    assert concept in table.concepts
    readable = [p for p in norms.concept_images[concept] if p != broken]
    expected = encoder.embed_image_files(readable)[0].mean(axis=0)
    assert np.allclose(table.vectors[table.concepts.index(concept)], expected, atol=1e-6)


def test_things_concepts_with_images(model_dir: Path, tmp_path: Path) -> None:
    # a THINGS-layout folder: 30 concepts, "warm" ones photographed in reds, others in blues
    rows = ["Word\tDefinition\twarm\tround"]
    images = tmp_path / "object_images"
    rng = np.random.default_rng(0)
    for index in range(30):
        word, warm = f"thing{index:02d}", index % 3 == 0
        rows.append(f"{word}\ta made-up thing\t{'1' if warm else ''}\t{'1' if index < 12 else ''}")
        folder = images / word
        folder.mkdir(parents=True)
        for shot in range(2):
            base = np.array([200, 40, 30] if warm else [30, 60, 200])
            pixels = np.clip(base + rng.normal(0, 20, (32, 32, 3)), 0, 255).astype(np.uint8)
            Image.fromarray(pixels).save(folder / f"{shot}.png")
    (tmp_path / "things_concepts.tsv").write_text("\n".join(rows) + "\n")
    result = invoke_json(
        "--model", str(model_dir), "--norms", f"things:{tmp_path}", "-o", f"images={images}",
        "--concept-source", "images",
    )  # fmt: skip
    [model] = result["models"]
    assert model["concepts"] == 30 and model["skipped_concepts"] == {}
    scores = {s["attribute"]: s for s in model["scores"]}
    assert scores["warm"]["positives"] == 10 and scores["round"]["positives"] == 12
    # colour is in the pixels, so even random image features tell warm from cool things
    assert scores["warm"]["selectivity"] > 50.0
