"""ROUGE-L exactly as the COCO caption evaluation (``pycocoevalcap``) computes it.

For one hypothesis and its references: ``P = max_r LCS(h, r) / |h|`` and ``R = max_r LCS(h, r) /
|r|`` (each maximised separately over the references), then
``F = (1 + beta^2) P R / (R + beta^2 P)`` with beta = 1.2, and 0 when P or R is 0. The corpus
score is the mean over items. LCS is the length of the longest common subsequence of tokens.

As in the toolkit (which splits sentences on single spaces), an empty token list counts as one
empty token, so an empty hypothesis scores 1 against an empty reference and 0 against any other.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from vislang.metrics.metric_score import MetricScore
from vislang.metrics.ngrams import Tokens

ROUGE_BETA = 1.2


def lcs_length(a: Tokens, b: Tokens) -> int:
    """Length of the longest common subsequence of two token sequences.

    Bit-parallel (Allison and Dix 1986; Crochemore et al. 2001): one bit per token of ``a`` in a
    Python integer, one addition and a few bit operations per token of ``b``.
    """
    if not a or not b:
        return 0
    matches: dict[str, int] = {}
    for i, token in enumerate(a):
        matches[token] = matches.get(token, 0) | (1 << i)
    mask = (1 << len(a)) - 1
    row = mask
    for token in b:
        match = matches.get(token, 0)
        if match:
            common = row & match
            row = ((row + common) | (row - common)) & mask
    return len(a) - row.bit_count()


def rouge_l(
    hypotheses: Sequence[Tokens], references: Sequence[Sequence[Tokens]], beta: float = ROUGE_BETA
) -> MetricScore:
    """ROUGE-L F-measure of tokenised hypotheses against their references (named ``ROUGE-L``)."""
    if len(hypotheses) != len(references):
        raise ValueError(
            f"{len(hypotheses)} hypotheses but {len(references)} reference sets: one set per item"
        )
    per_item = np.empty(len(hypotheses))
    for item, (hypothesis, refs) in enumerate(zip(hypotheses, references, strict=True)):
        if len(refs) == 0:
            raise ValueError(f"item {item} has no references")
        per_item[item] = _rouge_one(_as_split(hypothesis), [_as_split(r) for r in refs], beta)
    corpus = float(np.mean(per_item)) if per_item.size else float("nan")
    return MetricScore(name="ROUGE-L", corpus=corpus, per_item=per_item)


def _as_split(tokens: Tokens) -> Sequence[str]:
    """Tokens as the toolkit sees them after ``" ".join(tokens).split(" ")``."""
    return tokens if len(tokens) else ("",)


def _rouge_one(hypothesis: Sequence[str], references: list[Sequence[str]], beta: float) -> float:
    precision = 0.0
    recall = 0.0
    for reference in references:
        common = lcs_length(reference, hypothesis)
        precision = max(precision, common / float(len(hypothesis)))
        recall = max(recall, common / float(len(reference)))
    if precision == 0 or recall == 0:
        return 0.0
    return ((1 + beta**2) * precision * recall) / float(recall + beta**2 * precision)
