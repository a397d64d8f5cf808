"""Properties of the caption metrics on generated corpora (hypothesis)."""

from __future__ import annotations

import numpy as np
import pytest
from caption_fixtures import toolkit_scores
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from vislang.metrics import ngrams, score_tokenized
from vislang.metrics.ngrams import count_ngrams
from vislang.metrics.rouge import lcs_length

WORDS = st.sampled_from(["a", "dog", "cat", "on", "the", "mat", "red"])
SENTENCE = st.lists(WORDS, min_size=0, max_size=9)
ITEM = st.tuples(SENTENCE, st.lists(SENTENCE, min_size=1, max_size=4))
CORPUS = st.lists(ITEM, min_size=1, max_size=7)


def _split(corpus):
    return [h for h, _ in corpus], [r for _, r in corpus]


@settings(max_examples=60, deadline=None)
@given(CORPUS)
def test_generated_corpora_equal_toolkit(corpus) -> None:
    pytest.importorskip("pycocoevalcap")
    assume(any(ref for _, refs in corpus for ref in refs))  # the toolkit fails without n-grams
    hypotheses, references = _split(corpus)
    ours = score_tokenized(hypotheses, references)
    for name, (corpus_score, per_item) in toolkit_scores(hypotheses, references).items():
        assert ours[name].corpus == pytest.approx(corpus_score, abs=1e-9, rel=0)
        np.testing.assert_allclose(ours[name].per_item, per_item, rtol=0, atol=1e-9)


@settings(max_examples=40, deadline=None)
@given(CORPUS, st.randoms(use_true_random=False))
def test_image_order_does_not_change_scores(corpus, random) -> None:
    hypotheses, references = _split(corpus)
    order = list(range(len(corpus)))
    random.shuffle(order)
    before = score_tokenized(hypotheses, references)
    after = score_tokenized([hypotheses[k] for k in order], [references[k] for k in order])
    for name, score in before.items():
        assert after[name].corpus == pytest.approx(score.corpus, abs=1e-12)
        np.testing.assert_allclose(after[name].per_item, score.per_item[order], atol=1e-12)


@settings(max_examples=40, deadline=None)
@given(CORPUS)
def test_duplicating_every_reference_changes_nothing(corpus) -> None:
    # BLEU clips by the largest count in one reference, ROUGE-L takes maxima, CIDEr-D averages
    # over references and counts document frequency per image: duplicates leave all unchanged
    hypotheses, references = _split(corpus)
    doubled = [[r for ref in refs for r in (ref, ref)] for refs in references]
    before = score_tokenized(hypotheses, references)
    after = score_tokenized(hypotheses, doubled)
    for name, score in before.items():
        np.testing.assert_allclose(after[name].per_item, score.per_item, atol=1e-12)


@settings(max_examples=200, deadline=None)
@given(SENTENCE, SENTENCE)
def test_bit_parallel_lcs_equals_dynamic_programming(a, b) -> None:
    table = [[0] * (len(b) + 1) for _ in range(len(a) + 1)]
    for i, x in enumerate(a, 1):
        for j, y in enumerate(b, 1):
            table[i][j] = (
                table[i - 1][j - 1] + 1 if x == y else max(table[i - 1][j], table[i][j - 1])
            )
    assert lcs_length(a, b) == table[len(a)][len(b)] == lcs_length(b, a)


def _signatures_ours(counts) -> list:
    by_id: dict[int, dict[int, int]] = {}
    order_of: dict[int, int] = {}
    for g, s, o, c in zip(counts.ngram, counts.sentence, counts.order, counts.count, strict=True):
        by_id.setdefault(int(g), {})[int(s)] = int(c)
        order_of[int(g)] = int(o)
    return sorted((order_of[g], sorted(found.items())) for g, found in by_id.items())


def _signatures_expected(sentences, max_n) -> list:
    by_gram: dict[tuple[str, ...], dict[int, int]] = {}
    for s, sentence in enumerate(sentences):
        for n in range(1, max_n + 1):
            for i in range(len(sentence) - n + 1):
                found = by_gram.setdefault(tuple(sentence[i : i + n]), {})
                found[s] = found.get(s, 0) + 1
    return sorted((len(gram) - 1, sorted(found.items())) for gram, found in by_gram.items())


@settings(max_examples=60, deadline=None)
@given(st.lists(SENTENCE, min_size=1, max_size=8), st.booleans())
def test_ngram_counts_match_direct_counting(sentences, renumber) -> None:
    # each n-gram id stands for the same occurrences (sentence -> count) as one distinct n-gram
    original = ngrams._INT64_LIMIT
    if renumber:  # force the path that renumbers n-grams before packing the sort keys
        ngrams._INT64_LIMIT = 1
    try:
        counts = count_ngrams(sentences, max_n=4)
    finally:
        ngrams._INT64_LIMIT = original
    expected = _signatures_expected(sentences, 4)
    assert _signatures_ours(counts) == expected
    assert counts.n_ngrams == len(expected)
    assert np.all(np.diff(counts.ngram) >= 0)


def test_corpus_without_any_ngram_scores_zero() -> None:
    # (the toolkit's CIDEr fails here; an empty caption scored against an empty reference)
    scores = score_tokenized([[]], [[[]]])
    assert scores["CIDEr-D"].corpus == 0.0
    assert scores["BLEU-1"].corpus == pytest.approx(0.0, abs=1e-5)
    assert scores["ROUGE-L"].corpus == 1.0  # the toolkit's empty token matches itself
