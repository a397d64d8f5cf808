"""Retrieval evaluation: galleries from caption records, recall per language, the bounds that
identical captions set, and the full path through an encoder."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from vislang.data.batch import load_batch
from vislang.data.schema import CaptionExample
from vislang.errors import ConfigError
from vislang.evaluate.retrieval import (
    CaptionGallery,
    evaluate_retrieval,
    identical_caption_bounds,
    mean_over_languages,
    recall_by_language,
)
from vislang.models.registry import load_model


def record(
    image_id: str, language: str, *captions: str, image: str | None = None
) -> CaptionExample:
    return CaptionExample(
        id=f"{image_id}-{language}",
        image_id=image_id,
        image=Path(image or f"{image_id}.png"),
        captions=captions,
        language=language,
        source="test",
    )


RECORDS = [
    record("a", "en", "a red circle", "one object"),
    record("a", "de", "ein roter Kreis"),
    record("b", "en", "a blue square", "one object"),
    record("b", "de", "ein blaues Quadrat"),
    record("c", "en", "two stars", "two objects"),
]


def test_gallery_groups_languages_by_image_and_keeps_the_first_images() -> None:
    gallery = CaptionGallery.from_records(RECORDS)
    assert gallery.image_ids == ("a", "b", "c") and gallery.languages() == ["de", "en"]
    assert gallery.texts[:3] == ("a red circle", "one object", "ein roter Kreis")
    assert gallery.text_image.tolist() == [0, 0, 0, 1, 1, 1, 2, 2]
    small = CaptionGallery.from_records(RECORDS, max_images=2)
    assert small.image_ids == ("a", "b") and len(small.texts) == 6
    without = gallery.without_images([1])
    assert without.image_ids == ("a", "c")
    assert without.texts == (
        "a red circle",
        "one object",
        "ein roter Kreis",
        "two stars",
        "two objects",
    )
    assert without.text_image.tolist() == [0, 0, 0, 1, 1]


def test_recall_per_language_uses_all_images_but_each_language_s_captions() -> None:
    gallery = CaptionGallery.from_records(RECORDS)
    images = np.eye(3, dtype=np.float32)
    # every caption points at its own image, except the German caption of "a", which points at "b"
    texts = images[gallery.text_image].copy()
    texts[2] = images[1]
    scores = recall_by_language(images, texts, gallery, ks=(1,))
    assert scores["en"] == {"text_to_image@1": 1.0, "image_to_text@1": 1.0, "images": 3, "texts": 6}
    # de: image "c" has no German caption and is no query; "a" loses, "b" ties with "a"'s caption
    assert scores["de"]["images"] == 2 and scores["de"]["texts"] == 2
    assert scores["de"]["text_to_image@1"] == 0.5
    assert scores["de"]["image_to_text@1"] == 0.0  # a: miss; b: tied with a's caption, a miss
    mean = mean_over_languages(scores, ks=(1,))
    assert mean == {"text_to_image@1": 0.75, "image_to_text@1": 0.5}


def test_identical_captions_bound_what_any_model_can_reach() -> None:
    records = [record(str(i), "en", f"unique {i}", "one object") for i in range(4)]
    records.append(record("4", "en", "one object"))
    bounds = identical_caption_bounds(CaptionGallery.from_records(records), ks=(1, 5))["en"]
    # 9 captions: 4 unique (bound 1), 5 copies of "one object" shared by 5 images (1/5 at k=1)
    assert bounds["text_to_image@1"] == pytest.approx((4 + 5 * 0.2) / 9)
    assert bounds["text_to_image@5"] == 1.0
    # images 0-3 have a unique caption; image 4's only caption ties with 4 others: a miss at k<=4
    assert bounds["image_to_text@1"] == pytest.approx(4 / 5)
    assert bounds["image_to_text@5"] == 1.0


def test_full_path_matches_the_parts_and_leaves_out_broken_images(tmp_path: Path) -> None:
    colours = {"a": (200, 30, 30), "b": (30, 30, 200), "c": (30, 200, 30)}
    for name, rgb in colours.items():
        Image.new("RGB", (64, 64), rgb).save(tmp_path / f"{name}.png")
    (tmp_path / "broken.png").write_bytes(b"\x89PNG broken")
    records = [
        record(r.image_id, r.language, *r.captions, image=str(tmp_path / f"{r.image_id}.png"))
        for r in RECORDS
    ]
    records.append(record("d", "en", "nothing", image=str(tmp_path / "broken.png")))
    model = load_model("clip-tiny")
    report = evaluate_retrieval(model, records, ks=(1, 5))
    assert report.images == 3 and report.texts == 8
    assert [s for s, _ in report.failures] == [str(tmp_path / "broken.png")]
    gallery = CaptionGallery.from_records(records[:-1])
    images = model.encode_images(load_batch(gallery.images, model.preprocess).pixels).numpy()
    texts = model.encode_texts(list(gallery.texts)).numpy()
    assert report.languages == recall_by_language(images, texts, gallery, ks=(1, 5))
    assert report.to_dict()["mean"] == mean_over_languages(report.languages, ks=(1, 5))
    assert set(report.to_dict()["identical_caption_bounds"]) == {"de", "en"}


def test_records_without_images_or_captions_are_refused() -> None:
    no_image = CaptionExample(
        id="x", image_id="x", image=None, captions=("a",), language="en", source="t"
    )
    with pytest.raises(ConfigError, match="has no image"):
        CaptionGallery.from_records([no_image])
    with pytest.raises(ConfigError, match="no captions"):
        evaluate_retrieval(load_model("clip-tiny"), [])
