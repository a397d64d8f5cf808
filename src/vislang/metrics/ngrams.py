"""N-gram counts of many token sequences at once, as flat NumPy arrays.

BLEU and CIDEr-D both start from the n-gram counts of each hypothesis and each reference. Instead of
one Python dict per sentence, every distinct n-gram gets an integer id and the counts of all
sentences are kept as parallel arrays (n-gram id, sentence, count), sorted by n-gram then sentence,
so the metrics are computed with array operations. N-gram ids are built order by order: an n-gram is
the pair (id of its (n-1)-gram prefix, id of its last token); one sort per order groups equal
n-grams and, inside them, equal sentences.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

Tokens = Sequence[str]

_INT64_LIMIT = np.iinfo(np.int64).max


@dataclass(frozen=True)
class NgramCounts:
    """Counts of the n-grams (orders 1..``max_n``) of ``lengths.size`` token sequences.

    One entry per (n-gram, sentence) pair where the n-gram occurs, sorted by n-gram id and then
    sentence. N-gram ids are global across orders and grouped by order (unigrams first).
    """

    max_n: int
    lengths: np.ndarray  # (S,) int64: tokens per sentence
    ngram: np.ndarray  # (E,) int64: the n-gram id of each entry
    sentence: np.ndarray  # (E,) int64: the sentence of each entry
    order: np.ndarray  # (E,) int64: n - 1 for the entry's n-gram (0 = unigram)
    count: np.ndarray  # (E,) int64: how often the n-gram occurs in the sentence
    n_ngrams: int  # number of distinct n-gram ids


def count_ngrams(sentences: Sequence[Tokens], max_n: int = 4) -> NgramCounts:
    """Count the 1..``max_n``-grams of every sentence (a sequence of tokens)."""
    flat = list(itertools.chain.from_iterable(sentences))
    vocabulary = dict.fromkeys(flat, 0)
    for token_id, token in enumerate(vocabulary):
        vocabulary[token] = token_id
    token_ids = np.fromiter(map(vocabulary.__getitem__, flat), dtype=np.int64, count=len(flat))
    lengths = np.fromiter(map(len, sentences), dtype=np.int64, count=len(sentences))
    owner = np.repeat(np.arange(lengths.size, dtype=np.int64), lengths)
    starts = np.cumsum(lengths) - lengths
    remaining = np.repeat(starts + lengths, lengths) - np.arange(len(flat), dtype=np.int64)

    parts: list[tuple[np.ndarray, ...]] = []
    n_positions = np.int64(max(token_ids.size, 1))
    n_tokens = max(len(vocabulary), 1)
    dense = token_ids  # id (within its order) of the n-gram starting at each position, or -1
    n_dense = n_tokens
    offset = 0  # first global id of the current order
    for n in range(1, max_n + 1):
        n_starts = max(token_ids.size - n + 1, 0)  # positions an n-gram could start at
        positions = np.flatnonzero(remaining[:n_starts] >= n)
        if n == 1:
            code = token_ids[positions]
        else:
            code = dense[positions] * np.int64(n_tokens) + token_ids[positions + n - 1]
            if n_dense * n_tokens > _INT64_LIMIT // int(n_positions):  # the key would overflow
                code = np.unique(code, return_inverse=True)[1].astype(np.int64)
        # sorting (code, position) groups equal n-grams, each group in sentence order
        key = np.sort(code * n_positions + positions)
        code = key // n_positions
        positions = key - code * n_positions
        new_gram = _changes(code)
        rank = np.cumsum(new_gram) - 1
        dense = np.full(n_starts, -1, dtype=np.int64)
        dense[positions] = rank
        n_dense = int(rank[-1]) + 1 if rank.size else 0
        sentence = owner[positions]
        first = np.flatnonzero(new_gram | _changes(sentence))
        count = np.diff(np.append(first, key.size))
        parts.append((rank[first] + offset, sentence[first], np.full(first.size, n - 1), count))
        offset += n_dense
    ngram, sentence, order, count = (np.concatenate(p) for p in zip(*parts, strict=True))
    return NgramCounts(
        max_n=max_n,
        lengths=lengths,
        ngram=ngram,
        sentence=sentence,
        order=order,
        count=count,
        n_ngrams=offset,
    )


def _changes(values: np.ndarray) -> np.ndarray:
    """Boolean mask: True where an element differs from the one before (and at index 0)."""
    out = np.empty(values.size, dtype=bool)
    out[:1] = True
    np.not_equal(values[1:], values[:-1], out=out[1:])
    return out


@dataclass(frozen=True)
class PairedCounts:
    """N-gram counts of hypotheses and their references, the input of BLEU and CIDEr-D.

    Sentences are laid out item by item: the hypothesis of item ``i``, then its references. As
    entries are sorted by (n-gram, sentence), the entries of one n-gram in one item are adjacent,
    the hypothesis's entry (when the hypothesis has the n-gram) first; :meth:`entries` numbers
    these runs ("groups"), which is all BLEU's clipping and CIDEr-D's matching need.
    """

    counts: NgramCounts
    n_items: int
    item: np.ndarray  # (S,) the item of each sentence
    is_hypothesis: np.ndarray  # (S,) whether each sentence is a hypothesis
    hypothesis: np.ndarray  # (N,) the sentence of each item's hypothesis
    n_references: np.ndarray  # (N,) references per item

    def entries(self, max_n: int) -> PairedEntries:
        """The entries of n-grams up to order ``max_n``, with their (n-gram, item) groups."""
        c = self.counts
        if c.max_n < max_n:
            raise ValueError(f"n-grams were counted up to order {c.max_n}, {max_n} are needed")
        ngram, sentence, order, count = c.ngram, c.sentence, c.order, c.count
        if c.max_n > max_n:
            keep = order < max_n
            ngram, sentence, order, count = ngram[keep], sentence[keep], order[keep], count[keep]
        new_group = _changes(ngram) | _changes(self.item[sentence])
        return PairedEntries(
            ngram=ngram,
            sentence=sentence,
            order=order,
            count=count,
            is_hypothesis=self.is_hypothesis[sentence],
            group=np.cumsum(new_group) - 1,
            group_start=np.flatnonzero(new_group),
        )


@dataclass(frozen=True)
class PairedEntries:
    """Entries of :class:`NgramCounts` with their groups: runs of one n-gram within one item."""

    ngram: np.ndarray
    sentence: np.ndarray
    order: np.ndarray
    count: np.ndarray
    is_hypothesis: np.ndarray  # (E,) whether the entry's sentence is a hypothesis
    group: np.ndarray  # (E,) the group of each entry
    group_start: np.ndarray  # (G,) the first entry of each group (the hypothesis's, if any)


def count_paired(
    hypotheses: Sequence[Tokens], references: Sequence[Sequence[Tokens]], max_n: int = 4
) -> PairedCounts:
    """Count n-grams of each hypothesis and of the references of the same item.

    ``hypotheses[i]`` (a token sequence) is scored against ``references[i]`` (at least one).
    """
    if len(hypotheses) != len(references):
        raise ValueError(
            f"{len(hypotheses)} hypotheses but {len(references)} reference sets: one set per item"
        )
    sentences: list[Tokens] = []
    n_references = np.empty(len(references), dtype=np.int64)
    for index, (hypothesis, refs) in enumerate(zip(hypotheses, references, strict=True)):
        if len(refs) == 0:
            raise ValueError(f"item {index} has no references")
        sentences.append(hypothesis)
        sentences.extend(refs)
        n_references[index] = len(refs)
    per_item = n_references + 1
    item = np.repeat(np.arange(len(references), dtype=np.int64), per_item)
    hypothesis_sentence = np.cumsum(per_item) - per_item
    is_hypothesis = np.zeros(len(sentences), dtype=bool)
    is_hypothesis[hypothesis_sentence] = True
    return PairedCounts(
        counts=count_ngrams(sentences, max_n=max_n),
        n_items=len(hypotheses),
        item=item,
        is_hypothesis=is_hypothesis,
        hypothesis=hypothesis_sentence,
        n_references=n_references,
    )
