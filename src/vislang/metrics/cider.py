"""CIDEr-D exactly as the COCO caption evaluation (``pycocoevalcap``) computes it.

Definitions (Vedantam et al. 2015, CIDEr-D variant of the COCO toolkit):

* every n-gram (n = 1..4) of a sentence is weighted by TF-IDF: its count in the sentence times
  ``log(I) - log(max(1, df))``, where ``I`` is the number of items scored together and ``df`` the
  number of items whose *references* contain the n-gram (so the score of one item depends on the
  whole evaluation set);
* for each order n and each reference, the similarity is the clipped cosine
  ``sum_g min(h_g, r_g) * r_g / (|h| |r|)`` (the hypothesis weight is clipped at the reference
  weight; 0 when either vector is empty), times the Gaussian length penalty
  ``exp(-delta^2 / (2 sigma^2))`` with sigma = 6;
* an item's score is the mean over the four orders of the sum over references, divided by the
  number of references, times 10; the corpus score is the mean over items.

As in the toolkit, the lengths in the penalty are counted in *bigrams* (``max(0, tokens - 1)``),
not tokens; we keep this so that scores stay comparable with every published CIDEr-D.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from vislang.metrics.metric_score import MetricScore
from vislang.metrics.ngrams import PairedCounts, Tokens, count_paired

CIDER_N = 4
CIDER_SIGMA = 6.0


def cider_d(
    hypotheses: Sequence[Tokens],
    references: Sequence[Sequence[Tokens]],
    *,
    sigma: float = CIDER_SIGMA,
    counts: PairedCounts | None = None,
) -> MetricScore:
    """CIDEr-D of tokenised hypotheses against their references (named ``CIDEr-D``).

    ``hypotheses[i]`` is a token list, ``references[i]`` a list of token lists. Document
    frequencies come from the references of all items given, so score a whole evaluation set in
    one call. Pass ``counts`` (from :func:`~vislang.metrics.ngrams.count_paired`) to reuse n-gram
    counts across metrics.
    """
    paired = counts if counts is not None else count_paired(hypotheses, references, CIDER_N)
    per_item = _cider_per_item(paired, sigma)
    return MetricScore(name="CIDEr-D", corpus=float(np.mean(per_item)), per_item=per_item)


def _cider_per_item(paired: PairedCounts, sigma: float) -> np.ndarray:
    n_items = paired.n_items
    n_sentences = paired.counts.lengths.size
    e = paired.entries(CIDER_N)
    is_reference = ~e.is_hypothesis

    # document frequency: in how many items' reference sets each n-gram occurs
    group_has_reference = np.bincount(e.group, weights=is_reference) > 0
    df_ngrams = e.ngram[e.group_start[group_has_reference]]
    document_frequency = np.bincount(df_ngrams, minlength=paired.counts.n_ngrams).astype(float)
    log_items = np.log(float(n_items))
    weight = e.count * (log_items - np.log(np.maximum(1.0, document_frequency[e.ngram])))

    slot = e.sentence * CIDER_N + e.order
    # (np.bincount of no weights returns integers: the float conversions keep the dtype fixed)
    squares = np.bincount(slot, weights=weight**2, minlength=n_sentences * CIDER_N)
    norm = np.sqrt(squares.astype(float))
    norm = norm.reshape(n_sentences, CIDER_N)
    is_bigram = e.order == 1  # the toolkit measures length in bigrams
    bigrams = np.bincount(e.sentence[is_bigram], weights=e.count[is_bigram], minlength=n_sentences)

    # clipped dot product of each reference with its item's hypothesis, per order: the
    # hypothesis's weight of an n-gram sits at the start of the n-gram's group (0 if absent)
    start = e.group_start
    hyp_weight = np.where(e.is_hypothesis[start], weight[start], 0.0)[e.group[is_reference]]
    ref_weight = weight[is_reference]
    similarity = (
        np.bincount(
            slot[is_reference],
            weights=np.minimum(hyp_weight, ref_weight) * ref_weight,
            minlength=n_sentences * CIDER_N,
        )
        .reshape(n_sentences, CIDER_N)
        .astype(float)
    )

    references = np.flatnonzero(~paired.is_hypothesis)
    ref_item = paired.item[references]
    own_hypothesis = paired.hypothesis[ref_item]
    similarity = similarity[references]
    hyp_norm = norm[own_hypothesis]
    ref_norm = norm[references]
    nonzero = (hyp_norm != 0) & (ref_norm != 0)
    similarity = np.divide(similarity, hyp_norm * ref_norm, out=similarity, where=nonzero)
    delta = bigrams[own_hypothesis] - bigrams[references]
    similarity *= (np.e ** (-(delta**2) / (2 * sigma**2)))[:, None]

    summed = np.stack(
        [np.bincount(ref_item, weights=similarity[:, k], minlength=n_items) for k in range(4)],
        axis=1,
    )
    return np.mean(summed, axis=1) / paired.n_references * 10.0
