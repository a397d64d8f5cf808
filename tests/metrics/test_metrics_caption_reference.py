"""BLEU-1..4, ROUGE-L and CIDEr-D equal the COCO toolkit's (pycocoevalcap) to 1e-9.

Real human captions are scored leave-one-out: each caption against the other captions of its
image (coco-mini, 5 per image) or, as xFlickr&CO has one caption per image and language, against
the other captions of its group of five consecutive images. Both implementations get the same
tokens, corpus and per item.
"""

from __future__ import annotations

import numpy as np
import pytest
from caption_fixtures import (
    XFLICKRCO_LANGUAGES,
    coco_captions,
    leave_one_out,
    toolkit_scores,
    xflickrco_captions,
)

from vislang.metrics import score_tokenized, tokenizer_for

pytest.importorskip("pycocoevalcap")

TOLERANCE = 1e-9


def assert_equal_to_toolkit(hypotheses, references) -> None:
    ours = score_tokenized(hypotheses, references)
    theirs = toolkit_scores(hypotheses, references)
    assert set(ours) == set(theirs)
    for name, (corpus, per_item) in theirs.items():
        assert ours[name].corpus == pytest.approx(corpus, abs=TOLERANCE, rel=0), name
        assert ours[name].per_item.shape == per_item.shape, name
        np.testing.assert_allclose(ours[name].per_item, per_item, rtol=0, atol=TOLERANCE)


def test_coco_captions_leave_one_out_equal_toolkit(shared_data) -> None:
    captions = coco_captions(shared_data)
    tokenize = tokenizer_for("en")
    groups = [tokenize(image_captions) for image_captions in captions.values()]
    assert sum(map(len, groups)) == 285
    hypotheses, references = leave_one_out(groups)
    assert_equal_to_toolkit(hypotheses, references)
    # the scores are informative, not degenerate
    cider = score_tokenized(hypotheses, references)["CIDEr-D"]
    assert 0.3 < cider.corpus < 3 and cider.per_item.std() > 0.1


@pytest.mark.parametrize("language", XFLICKRCO_LANGUAGES)
def test_xflickrco_captions_in_each_language_equal_toolkit(shared_data, language) -> None:
    tokenize = tokenizer_for(language)
    tokens = tokenize(xflickrco_captions(shared_data, language)[:400])
    groups = [tokens[start : start + 5] for start in range(0, len(tokens), 5)]
    hypotheses, references = leave_one_out(groups)
    assert_equal_to_toolkit(hypotheses, references)
    assert score_tokenized(hypotheses, references)["BLEU-1"].corpus > 0.1


def test_degenerate_items_equal_toolkit() -> None:
    hypotheses = [[], ["a"], ["a", "a", "a"], ["z"], ["a", "b", "c", "d", "e"], ["x", "y"]]
    references = [
        [["a", "b"]],
        [["a"]],
        [["a"], ["a", "a"]],
        [[], ["q"]],
        [["a", "b", "c", "d", "e"], ["a", "b"], ["e", "d", "c", "b", "a"]],
        [["x", "y", "x", "y"], ["y", "x"]],
    ]
    assert_equal_to_toolkit(hypotheses, references)


def test_identical_captions_score_bleu_one() -> None:
    sentence = ["a", "dog", "runs", "on", "the", "beach"]
    scores = score_tokenized([sentence, sentence], [[sentence], [sentence]])
    for order in range(1, 5):
        assert scores[f"BLEU-{order}"].corpus == pytest.approx(1.0, abs=1e-8)
    assert scores["ROUGE-L"].corpus == 1.0
    # every n-gram occurs in every image's references: the IDF, hence CIDEr-D, is zero
    assert scores["CIDEr-D"].corpus == 0.0
