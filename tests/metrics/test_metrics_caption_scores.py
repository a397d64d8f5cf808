"""score_captions: raw captions in, the COCO toolkit's numbers out, for any language."""

from __future__ import annotations

import shutil

import numpy as np
import pytest
from caption_fixtures import coco_captions, toolkit_scores, xflickrco_captions

from vislang.metrics import score_captions
from vislang.metrics.caption_scores import CAPTION_METRICS


def _first_as_prediction(captions: dict) -> tuple[dict, dict]:
    predictions = {image: texts[0] for image, texts in captions.items()}
    references = {image: texts[1:] for image, texts in captions.items()}
    return references, predictions


@pytest.mark.skipif(
    shutil.which("java") is None, reason="java is needed for the toolkit's tokenizer"
)
def test_raw_coco_captions_score_like_the_whole_toolkit_pipeline(shared_data) -> None:
    pytest.importorskip("pycocoevalcap")
    from pycocoevalcap.tokenizer.ptbtokenizer import PTBTokenizer

    references, predictions = _first_as_prediction(coco_captions(shared_data))
    ours = score_captions(references, predictions, language="en")
    gts = PTBTokenizer().tokenize(
        {image: [{"caption": c} for c in texts] for image, texts in references.items()}
    )
    res = PTBTokenizer().tokenize({image: [{"caption": c}] for image, c in predictions.items()})
    images = list(predictions)
    theirs = toolkit_scores(
        [res[image][0].split(" ") if res[image][0] else [] for image in images],
        [[r.split(" ") if r else [] for r in gts[image]] for image in images],
    )
    assert ours.tokenizer == "coco-ptb"
    for name in CAPTION_METRICS:
        assert ours.corpus[name] == pytest.approx(theirs[name][0], abs=1e-9, rel=0)
        per_image = np.array([ours.per_image[str(image)][name] for image in images])
        np.testing.assert_allclose(per_image, theirs[name][1], rtol=0, atol=1e-9)


def test_scores_are_recorded_per_image_in_prediction_order(shared_data) -> None:
    references, predictions = _first_as_prediction(coco_captions(shared_data))
    shuffled = dict(reversed(list(predictions.items())))
    forward = score_captions(references, predictions)
    backward = score_captions(references, shuffled)
    assert list(backward.per_image) == [str(image) for image in shuffled]
    for name in CAPTION_METRICS:
        assert backward.corpus[name] == pytest.approx(forward.corpus[name], abs=1e-12)
    for image, scores in forward.per_image.items():
        assert backward.per_image[image] == pytest.approx(scores, abs=1e-12)


def test_languages_record_their_tokenizer(shared_data) -> None:
    for language, name in (("zh", "char+13a"), ("de", "13a"), ("en", "coco-ptb")):
        texts = xflickrco_captions(shared_data, language)[:30]
        references = {str(k): texts[k + 1 : k + 3] for k in range(10)}
        predictions = {str(k): texts[k] for k in range(10)}
        scores = score_captions(references, predictions, language=language)
        assert scores.tokenizer == name and scores.language == language
        assert set(scores.corpus) == set(CAPTION_METRICS)


def test_mismatched_ids_are_refused() -> None:
    references = {1: ["a dog"], 2: ["a cat"]}
    with pytest.raises(ValueError, match=r"1 image\(s\) \(2\) have references but no prediction"):
        score_captions(references, {1: "a dog"})
    with pytest.raises(ValueError, match=r"\(3\) have a prediction but no references"):
        score_captions(references, {1: "a dog", 2: "a cat", 3: "a cow"})
    with pytest.raises(ValueError, match="no predictions"):
        score_captions({}, {})


def test_integer_and_string_ids_are_the_same_image() -> None:
    scores = score_captions({397133: ["A dog on a mat."]}, {"397133": "a dog on a mat"})
    assert scores.corpus["BLEU-4"] == pytest.approx(1.0, abs=1e-8)
    assert list(scores.per_image) == ["397133"]
