"""Zero-shot classification: prompt ensembling, argmax, templates file, class sets of the world
and of COCO."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import pytest
import torch
from PIL import Image

from vislang.data.preprocess import PreprocessConfig
from vislang.data.readers import read_dataset
from vislang.data.schema import CaptionExample
from vislang.data.world import WorldConfig, grammar, write_world
from vislang.data.world import frames as f
from vislang.errors import ConfigError, DataFormatError
from vislang.evaluate.zeroshot import (
    ClassificationSet,
    class_embeddings,
    evaluate_zeroshot,
    load_templates,
    predict,
)
from vislang.evaluate.zeroshot_sets import classification_sets

COLOURS = {"red": (1.0, 0.0, 0.0), "green": (0.0, 1.0, 0.0), "blue": (0.0, 0.0, 1.0)}


class ColourEncoder:
    """A hand-built dual encoder in a 3-d space: an image is its mean colour, a text is the sum
    of the colours it names plus a fixed vector per template word, so the right answers are
    known in advance."""

    name = "colour-encoder"
    embed_dim = 3
    preprocess = PreprocessConfig(resize=8, crop=8, mean=(0.5,) * 3, std=(0.5,) * 3)
    template_words: ClassVar[dict[str, tuple[float, ...]]] = {
        "photo": (0.0, 0.0, 0.3),
        "picture": (0.3, 0.0, 0.0),
    }

    def encode_images(self, pixels: torch.Tensor) -> torch.Tensor:
        return torch.nn.functional.normalize(pixels.mean(dim=(2, 3)) + 1.0, dim=-1)

    def encode_texts(self, texts: list[str]) -> torch.Tensor:
        rows = []
        for text in texts:
            vector = np.zeros(3)
            for word, value in {**COLOURS, **self.template_words}.items():
                if word in text:
                    vector += value
            rows.append(vector)
        return torch.nn.functional.normalize(
            torch.tensor(np.array(rows), dtype=torch.float32), dim=-1
        )

    def image_patch_features(self, pixels: torch.Tensor) -> torch.Tensor:
        return pixels.flatten(2).transpose(1, 2)

    def fingerprint(self) -> dict[str, Any]:
        return {"name": self.name, "config_hash": "0", "weights_hash": "0", "dim": 3}


def solid(rgb: tuple[int, int, int]) -> Image.Image:
    return Image.new("RGB", (8, 8), rgb)


def test_class_embedding_is_the_normalised_mean_of_normalised_prompts() -> None:
    encoder = ColourEncoder()
    [red] = class_embeddings(encoder, ["red"], ["a photo of {}", "a picture of {}"])
    photo = np.array([1.0, 0.0, 0.3]) / np.linalg.norm([1.0, 0.0, 0.3])
    picture = np.array([1.3, 0.0, 0.0]) / 1.3
    expected = (photo + picture) / np.linalg.norm(photo + picture)
    np.testing.assert_allclose(red, expected, atol=1e-6)


def test_argmax_picks_the_most_similar_class_first_on_ties() -> None:
    images = np.array([[1.0, 0.0], [0.0, 1.0], [0.6, 0.6]])
    classes = np.array([[0.0, 1.0], [1.0, 0.0]])
    assert predict(images, classes).tolist() == [1, 0, 0]


def test_hand_built_encoder_classifies_solid_colours_per_language() -> None:
    images = (
        solid((230, 20, 20)),
        solid((20, 20, 230)),
        solid((20, 230, 20)),
        solid((200, 30, 30)),
    )
    data = ClassificationSet(
        task="colour",
        images=images,
        labels=("red", "blue", "green", "red"),
        classes=("red", "green", "blue"),
        # the "xx" names are deliberately wrong: green's name says blue
        class_names={
            "en": {"red": "red", "green": "green", "blue": "blue"},
            "xx": {"red": "red", "green": "blue", "blue": "green"},
        },
        templates="test",
    )
    templates = {"en": ["a photo of {}", "a picture of {}"], "xx": ["{}"]}
    report = evaluate_zeroshot(ColourEncoder(), data, templates)
    assert report.languages["en"] == {"accuracy": 1.0, "images": 4}
    assert report.languages["xx"]["accuracy"] == pytest.approx(0.5)  # the swapped two are wrong
    assert report.majority_baseline == 0.5 and report.classes == 3
    only = evaluate_zeroshot(ColourEncoder(), data, templates, languages=["xx"])
    assert list(only.languages) == ["xx"]
    with pytest.raises(ConfigError, match="no prompt templates for 'xx'"):
        evaluate_zeroshot(ColourEncoder(), data, {"en": ["{}"]})


def test_undecodable_images_are_left_out_and_listed(tmp_path: Path) -> None:
    broken = tmp_path / "broken.png"
    broken.write_bytes(b"not a png")
    data = ClassificationSet(
        task="colour",
        images=(solid((230, 20, 20)), broken),
        labels=("red", "blue"),
        classes=("red", "blue"),
        class_names={"en": {"red": "red", "blue": "blue"}},
        templates="test",
    )
    report = evaluate_zeroshot(ColourEncoder(), data, {"en": ["{}"]})
    assert report.images == 1 and report.languages["en"]["accuracy"] == 1.0
    assert [source for source, _ in report.failures] == [str(broken)]


def test_shipped_templates_have_one_slot_and_every_world_language() -> None:
    sets = load_templates()
    assert set(sets) >= {"photo", "world"}
    assert set(sets["world"]) == {"en", "de", "tr", "zh", "sw", "id", "ta"}
    assert all(
        t.count("{}") == 1
        for by_language in sets.values()
        for ts in by_language.values()
        for t in ts
    )


def test_a_bad_templates_file_names_the_file_and_field(tmp_path: Path) -> None:
    path = tmp_path / "templates.json"
    path.write_text(json.dumps({"world": {"en": ["{}", "no slot"]}}))
    with pytest.raises(DataFormatError, match=r"templates\.json: field 'world\.en\[1\]'"):
        load_templates(path)
    path.write_text("{")
    with pytest.raises(DataFormatError, match=r"templates\.json:1"):
        load_templates(path)


@pytest.fixture(scope="module")
def tiny_world(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("world") / "world"
    config = WorldConfig(scenes=80, seed=3, languages=("en", "de"), questions_per_image=0)
    write_world(config, out)
    return out


def test_world_classes_are_the_single_object_scenes_named_by_the_grammar(tiny_world: Path) -> None:
    dataset = read_dataset(f"world:{tiny_world}", kinds=(CaptionExample,))
    shape, colour, compound = classification_sets(dataset)
    files = (tiny_world / "images").glob("*.json")
    scenes = {p.stem: json.loads(p.read_text()) for p in files if "-" not in p.stem}  # no derived
    singles = {k: s["objects"][0] for k, s in scenes.items() if len(s["objects"]) == 1}
    assert len(shape.images) == len(singles) > 0 and shape.left_out == len(scenes) - len(singles)
    expected_shapes = Counter(o["shape"] for o in singles.values())
    assert Counter(shape.labels) == expected_shapes
    assert Counter(colour.labels) == Counter(o["colour"] for o in singles.values())
    assert Counter(compound.labels) == Counter(
        f"{o['colour']} {o['shape']}" for o in singles.values()
    )
    assert len(shape.classes) == 6 and len(colour.classes) == 8 and len(compound.classes) == 48
    assert compound.class_names["de"]["red circle"] == "roter Kreis"
    assert shape.class_names["en"]["heart"] == "heart"
    assert colour.class_names["de"]["red"] == grammar("de").realise(
        f.ConceptName(f.NP(None, "red"))
    )
    assert shape.templates == "world"


def test_formats_without_classes_and_unknown_tasks_are_refused(tiny_world: Path) -> None:
    dataset = read_dataset(f"world:{tiny_world}", kinds=(CaptionExample,))
    with pytest.raises(ConfigError, match="has no zero-shot task 'object'"):
        classification_sets(dataset, ["object"])
    dataset.format = "multi30k"
    with pytest.raises(ConfigError, match="no zero-shot classes are defined for format 'multi30k'"):
        classification_sets(dataset)


@pytest.mark.shared_data
def test_coco_classes_are_dominant_categories_from_the_instances_file(shared_data: Path) -> None:
    root = shared_data / "coco-mini"
    dataset = read_dataset(f"coco:{root}", kinds=(CaptionExample,), split="val")
    [objects] = classification_sets(dataset)
    instances = json.loads((root / "annotations" / "instances_val2017.json").read_text())
    names = {c["id"]: c["name"] for c in instances["categories"]}
    counts: dict[int, Counter] = {}
    for annotation in instances["annotations"]:
        counts.setdefault(annotation["image_id"], Counter())[names[annotation["category_id"]]] += 1
    val_images = {r.image_id for r in dataset.records}
    expected = {}
    for image_id, counter in counts.items():
        if str(image_id) not in val_images:
            continue
        (top, n), *rest = counter.most_common()
        if not rest or rest[0][1] < n:
            expected[str(image_id)] = top
    stems = [Path(p).stem.lstrip("0") for p in objects.images]
    labelled = dict(zip(stems, objects.labels, strict=True))
    assert labelled == expected
    assert objects.left_out == len(val_images) - len(expected)
    assert set(objects.classes) == {n for i, c in counts.items() if str(i) in val_images for n in c}
    assert objects.templates == "photo" and list(objects.class_names) == ["en"]
