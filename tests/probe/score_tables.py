"""A scorer that reads its scores from a hand-built table, for testing probes' bookkeeping."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from vislang.probe.scoring import PairScores, Scorer


class TableScorer(Scorer):
    """Scores (image file name, text) pairs from ``table`` (the name is ``None`` for text-only
    scores); an image named ``broken*`` fails to decode (its pairs NaN, listed as failed)."""

    family = "table"

    def __init__(
        self,
        table: dict[tuple[str | None, str], float],
        score_type: str = "similarity",
        needs_images: bool = True,
    ) -> None:
        super().__init__()
        self.table = table
        self.score_type = score_type
        self.needs_images = needs_images
        self.calls: list[int] = []

    def score_pairs(self, images, texts, languages=None, *, show_progress=False) -> PairScores:
        self.calls.append(len(texts))
        scores, failures = [], []
        for image, text in zip(images, texts, strict=True):
            name = None if image is None or not self.needs_images else Path(image).name
            if name is not None and name.startswith("broken"):
                scores.append(float("nan"))
                failures.append((str(image), "cannot identify image file"))
            else:
                scores.append(self.table[name, text])
        return PairScores(np.array(scores), failures)
