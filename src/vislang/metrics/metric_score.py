"""The result of one metric: a corpus score and one score per item."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class MetricScore:
    """A metric's corpus-level value and its per-item values (in the order items were given).

    The corpus value is not always the mean of the per-item values: corpus BLEU pools n-gram
    counts over all items, CIDEr-D and ROUGE-L average the per-item scores.
    """

    name: str
    corpus: float
    per_item: np.ndarray
