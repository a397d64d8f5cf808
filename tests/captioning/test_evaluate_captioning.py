"""Evaluating captioners: scores per language equal the scorer's, MaRVL means, and the check of
English captions against the world's structured scenes."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pytest

from vislang.data.world import World, WorldConfig
from vislang.data.world.scene import Scene, WorldObject
from vislang.evaluate.captioning import MARVL_LANGUAGES, evaluate_captioner
from vislang.evaluate.world_truth import english_caption_truth, parse_english_caption
from vislang.metrics.caption_scores import score_captions
from vislang.models.caption_data import CaptionedImage, captions_world, generated_world
from vislang.models.captioning import CaptionResult
from vislang.models.registry import load_model

SCENE = Scene(
    "s",
    (
        WorldObject("circle", "red", "large", 0.2, 0.5, 0.16),
        WorldObject("square", "blue", "small", 0.8, 0.5, 0.09),
        WorldObject("square", "blue", "small", 0.5, 0.2, 0.09),
    ),
)


@pytest.mark.parametrize(
    ("caption", "truth"),
    [
        ("There is a red circle and two blue squares.", "true"),
        ("There are two blue squares and a red circle.", "true"),  # order does not matter
        ("There are three objects.", "true"),
        ("There are two objects.", "false"),
        ("There is a red circle.", "true"),
        ("There are two squares and a circle.", "true"),
        ("There is a square.", "false"),  # "a square" means exactly one
        ("There are several blue objects.", "true"),
        ("There is no green star.", "true"),
        ("There is no red circle.", "false"),
        ("A large red circle.", "true"),
        ("A small red circle.", "false"),
        ("A red circle is to the left of a blue square.", "false"),  # two blue squares: no referent
        ("There is a red circle and a blue square.", "false"),
        ("There is one red circle.", "unparsed"),  # not how the world says it
        ("There is a red circle", "unparsed"),
        ("There is a pink circle.", "unparsed"),
        ("Es gibt einen roten Kreis.", "unparsed"),
        ("", "unparsed"),
    ],
)
def test_english_captions_are_judged_by_the_worlds_semantics(caption: str, truth: str) -> None:
    assert english_caption_truth(caption, SCENE) == truth


def test_relations_are_judged_on_unique_objects() -> None:
    scene = Scene("r", SCENE.objects[:2])
    assert english_caption_truth("A red circle is to the left of a blue square.", scene) == "true"
    assert english_caption_truth("A blue square is to the left of a red circle.", scene) == "false"


def test_every_world_caption_is_true_and_every_foil_false() -> None:
    world = World(WorldConfig(scenes=150, seed=11))
    for item in world.items(0, 150):
        for record in item.records["captions"]:
            if record.language == "en":
                for caption in record.captions:
                    assert parse_english_caption(caption) is not None, caption
                    assert english_caption_truth(caption, item.scene) == "true", caption
        for foil in item.records["foils"]:
            if foil.language == "en":
                assert english_caption_truth(foil.foil, item.scene) == "false", foil.foil


class _ReferenceCaptioner:
    """Answers with a chosen reference caption (or a fixed text): a stand-in with known scores."""

    def __init__(self, images: Sequence[CaptionedImage], pick: int | str) -> None:
        self.encoder = load_model("clip-tiny").eval()
        self.captions = {item.image_id: item.captions for item in images}
        self.pick = pick

    def caption_encoded(self, features, embeddings, languages, retriever=None, image_ids=None):
        assert features.shape[0] == len(embeddings) == len(languages) == len(image_ids)
        return [
            CaptionResult(
                self.pick if isinstance(self.pick, str) else self.captions[i][lang][self.pick],
                lang,
                "prompt",
                None,
                i,
            )
            for lang, i in zip(languages, image_ids, strict=True)
        ]


@pytest.fixture(scope="module")
def images() -> list[CaptionedImage]:
    config = captions_world(scenes=40, seed=2, split_mode="iid", languages=("en", "de", "sw", "zh"))
    return generated_world(config, ["train"])["train"][:12]


def test_scores_per_language_are_the_scorers_and_means_are_plain_means(images) -> None:
    captioner = _ReferenceCaptioner(images, pick=1)
    report = evaluate_captioner(captioner, images, ["en", "de", "sw", "zh"], batch_size=5)
    assert len(report.results) == 4 * len(images)
    for language in ("en", "de", "sw", "zh"):
        expected = score_captions(
            {item.image_id: item.captions[language] for item in images},
            {item.image_id: item.captions[language][1] for item in images},
            language,
        )
        assert report.languages[language]["CIDEr-D"] == expected.corpus["CIDEr-D"]
        assert report.languages[language]["BLEU-4"] == expected.corpus["BLEU-4"]
    means = report.mean()
    assert means["CIDEr-D"] == pytest.approx(
        np.mean([report.languages[c]["CIDEr-D"] for c in ("en", "de", "sw", "zh")])
    )
    marvl = [c for c in ("sw", "zh") if c in MARVL_LANGUAGES]
    assert report.mean(MARVL_LANGUAGES)["CIDEr-D"] == pytest.approx(
        np.mean([report.languages[c]["CIDEr-D"] for c in marvl])
    )
    metrics = report.metrics()
    assert metrics["english_true"] == 1.0 and metrics["english_parsed"] == 1.0
    assert {"CIDEr-D_marvl", "CIDEr-D_de", "BLEU-4_zh"} <= set(metrics)


def test_false_and_unreadable_english_captions_are_counted_apart(images) -> None:
    false = evaluate_captioner(
        _ReferenceCaptioner(images, "There are nine objects."), images, ["en"]
    )
    assert false.english_truth == {
        "checked": float(len(images)), "share_true": 0.0, "share_false": 1.0, "share_parsed": 1.0
    }  # fmt: skip
    garbled = evaluate_captioner(_ReferenceCaptioner(images, "objects objects"), images, ["en"])
    assert garbled.english_truth["share_parsed"] == 0.0


def test_undecodable_images_are_left_out_and_listed(images, tmp_path) -> None:
    broken = tmp_path / "broken.png"
    broken.write_bytes(b"not an image")
    bad = CaptionedImage("bad", broken, "train", {"en": ("There is one object.",)})
    report = evaluate_captioner(_ReferenceCaptioner([*images, bad], 0), [*images, bad], ["en"])
    assert report.languages["en"]["images"] == len(images)
    assert [source for source, _ in report.failures] == [str(broken)]
