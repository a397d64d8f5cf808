"""Hard negative captions for contrastive training (NegCLIP): foils of the batch's own images.

Yuksekgonul et al. (2023, "When and why vision-language models behave like bags-of-words")
add minimally changed false captions of a batch's images as extra text negatives, so that a
contrastive model cannot match a caption by its bag of words alone. Here the false captions are
the world's VALSE-style foils (:mod:`vislang.data.world.foils`: attribute swaps, counts,
relations, ...) of the training scenes, in the language of the caption each image is shown with.

:class:`FoilPool` holds the foils of each training image per language, tokenised once, and draws
them for a batch from a seeded generator.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np

from vislang.data.schema import FoilExample
from vislang.models.caption_pairs import _tokenize
from vislang.models.dual_encoder import DualEncoder


class FoilPool:
    """The foils of each image, by language, tokenised as the model tokenises captions."""

    def __init__(
        self, image_ids: Sequence[str], foils: dict[str, list[FoilExample]], model: DualEncoder
    ) -> None:
        """``image_ids`` are the training images in their order; ``foils`` maps an image id to
        its foil records (images without foils get none)."""
        texts: list[str] = []
        self._by_image: list[dict[str, np.ndarray]] = []
        for image_id in image_ids:
            positions: dict[str, list[int]] = {}
            for record in foils.get(image_id, ()):
                positions.setdefault(record.language, []).append(len(texts))
                texts.append(record.foil)
            self._by_image.append({k: np.asarray(v) for k, v in positions.items()})
        self.texts = texts
        self.tokens, self.truncated = _tokenize(texts, model)

    def __len__(self) -> int:
        """The number of foils in the pool."""
        return len(self.texts)

    def foils_of(self, image: int, language: str) -> np.ndarray:
        """Positions in :attr:`texts` of image ``image``'s foils in ``language``."""
        return self._by_image[image].get(language, np.zeros(0, dtype=np.int64))

    def draw(
        self,
        images: Sequence[int] | np.ndarray,
        languages: Sequence[str],
        per_image: int,
        rng: np.random.Generator,
    ) -> tuple[np.ndarray, np.ndarray]:
        """For each batch image (``images[s]``, shown with a caption in ``languages[s]``), up to
        ``per_image`` distinct foils of that image in that language, drawn from ``rng``.

        Returns the foils' positions in :attr:`texts` and, for each, its image's batch slot ``s``.
        An image with fewer foils in the language gets all it has (possibly none)."""
        chosen: list[np.ndarray] = []
        owners: list[np.ndarray] = []
        for slot, (image, language) in enumerate(zip(images, languages, strict=True)):
            pool = self.foils_of(int(image), language)
            if not len(pool):
                continue
            picked = rng.choice(pool, size=min(per_image, len(pool)), replace=False)
            chosen.append(picked)
            owners.append(np.full(len(picked), slot, dtype=np.int64))
        if not chosen:
            return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
        return np.concatenate(chosen).astype(np.int64), np.concatenate(owners)


def group_foils(
    records: Iterable[FoilExample], image_id_of: dict[str, str]
) -> dict[str, list[FoilExample]]:
    """Foil records grouped by the id of their image; ``image_id_of`` maps an image path (as
    ``str``) to its id. Records of images not in the map are left out."""
    grouped: dict[str, list[FoilExample]] = {}
    for record in records:
        image_id = image_id_of.get(str(record.image))
        if image_id is not None:
            grouped.setdefault(image_id, []).append(record)
    return grouped
