"""BLEU-1..4 exactly as the COCO caption evaluation (``pycocoevalcap``) computes it.

Definitions (Papineni et al. 2002, with the COCO toolkit's choices):

* clipped n-gram matches: a hypothesis n-gram counts at most as often as it occurs in the single
  reference where it is most frequent;
* reference length: the *closest* reference length to the hypothesis length, the shorter one on a
  tie (``option='closest'``);
* BLEU-n is the geometric mean of the 1..n-gram precisions, each computed as
  ``(matches + 1e-15) / (possible + 1e-9)``, times the brevity penalty
  ``exp(1 - reference_length / hypothesis_length)`` when the hypothesis is shorter; the two
  constants make an empty hypothesis score (almost) 0 instead of dividing by zero;
* corpus BLEU pools matches, possible n-grams and both lengths over all items before dividing
  (it is not the mean of the per-item scores); per-item BLEU applies the same formula to one item.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from vislang.metrics.metric_score import MetricScore
from vislang.metrics.ngrams import PairedCounts, Tokens, count_paired

_TINY = 1e-15  # added to matches: 0 matches give ~0, not 0/0
_SMALL = 1e-9  # added to the denominators


def bleu(
    hypotheses: Sequence[Tokens],
    references: Sequence[Sequence[Tokens]],
    max_n: int = 4,
    *,
    counts: PairedCounts | None = None,
) -> list[MetricScore]:
    """BLEU-1..``max_n`` of tokenised hypotheses against their references.

    ``hypotheses[i]`` is a token list, ``references[i]`` a list of token lists. Pass ``counts``
    (from :func:`~vislang.metrics.ngrams.count_paired`) to reuse n-gram counts across metrics.
    Returns one :class:`MetricScore` per order, named ``BLEU-1`` .. ``BLEU-{max_n}``.
    """
    paired = counts if counts is not None else count_paired(hypotheses, references, max_n)
    matches, possible, hypothesis_length, reference_length = _statistics(paired, max_n)
    per_item = _bleu_per_item(matches, possible, hypothesis_length, reference_length)
    corpus = _bleu_corpus(
        matches.sum(axis=0),
        possible.sum(axis=0),
        int(hypothesis_length.sum()),
        int(reference_length.sum()),
    )
    return [
        MetricScore(name=f"BLEU-{k + 1}", corpus=corpus[k], per_item=per_item[:, k])
        for k in range(max_n)
    ]


def _statistics(
    paired: PairedCounts, max_n: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Per item: clipped matches (N, max_n), possible n-grams (N, max_n), both lengths (N,)."""
    n_items = paired.n_items
    e = paired.entries(max_n)
    # clip each hypothesis count at the n-gram's largest count in any one reference of the item
    reference_count = np.where(e.is_hypothesis, 0, e.count)
    if e.group_start.size:
        group_max = np.maximum.reduceat(reference_count, e.group_start)
    else:
        group_max = reference_count
    hyp = e.is_hypothesis
    clipped = np.minimum(e.count[hyp], group_max[e.group[hyp]])
    hyp_item = paired.item[e.sentence[hyp]]
    slot = hyp_item * max_n + e.order[hyp]
    matches = np.bincount(slot, weights=clipped, minlength=n_items * max_n)
    matches = np.rint(matches).astype(np.int64).reshape(n_items, max_n)

    lengths = paired.counts.lengths
    hypothesis_length = lengths[paired.hypothesis]
    possible = np.maximum(hypothesis_length[:, None] - np.arange(max_n)[None, :], 0)

    # closest reference length, the shorter one on a tie
    is_reference = ~paired.is_hypothesis
    ref_length = lengths[is_reference]
    ref_item = paired.item[is_reference]
    span = np.int64(ref_length.max(initial=0) + 1)
    closeness = np.abs(ref_length - hypothesis_length[ref_item]) * span + ref_length
    best = np.full(n_items, np.iinfo(np.int64).max, dtype=np.int64)
    np.minimum.at(best, ref_item, closeness)
    reference_length = best % span
    return matches, possible, hypothesis_length, reference_length


def _bleu_per_item(
    matches: np.ndarray,
    possible: np.ndarray,
    hypothesis_length: np.ndarray,
    reference_length: np.ndarray,
) -> np.ndarray:
    """BLEU-1..n of each item (N, max_n), with the toolkit's constants and operation order."""
    n_items, max_n = matches.shape
    scores = np.empty((n_items, max_n))
    product = np.ones(n_items)
    for k in range(max_n):
        product = product * ((matches[:, k] + _TINY) / (possible[:, k] + _SMALL))
        scores[:, k] = product ** (1.0 / (k + 1))
    ratio = (hypothesis_length + _TINY) / (reference_length + _SMALL)
    short = ratio < 1
    scores[short] *= np.exp(1 - 1 / ratio[short])[:, None]
    return scores


def _bleu_corpus(
    matches: np.ndarray, possible: np.ndarray, hypothesis_length: int, reference_length: int
) -> list[float]:
    """Corpus BLEU-1..n from pooled counts."""
    scores = []
    product = 1.0
    for k in range(matches.size):
        product *= float(int(matches[k]) + _TINY) / (int(possible[k]) + _SMALL)
        scores.append(product ** (1.0 / (k + 1)))
    ratio = (hypothesis_length + _TINY) / (reference_length + _SMALL)
    if ratio < 1:
        scores = [score * math.exp(1 - 1 / ratio) for score in scores]
    return scores
