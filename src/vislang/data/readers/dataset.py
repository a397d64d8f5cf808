"""What a reader returns: the records of a dataset with everything that went wrong on the way.

A :class:`Dataset` holds the records, the images that were referenced but not found
(:class:`MissingImage`) and the items a reader skipped (:class:`SkippedItem`); nothing is dropped
without being listed in one of them.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, TypeVar

from vislang.data.readers.card import DatasetCard
from vislang.data.schema import AttributeNorms, Record, SequenceExample
from vislang.errors import DataFormatError

R = TypeVar("R")


@dataclass(frozen=True)
class MissingImage:
    """An image file a record refers to that does not exist."""

    record_id: str
    path: Path


@dataclass(frozen=True)
class SkippedItem:
    """A source item that did not become a record, and why."""

    source: str
    reason: str
    line: int | None = None
    item_id: str | None = None


@dataclass
class Dataset:
    """The records read from one dataset, with the images it lacks and the items it skipped."""

    records: list[Record]
    format: str
    path: Path
    card: DatasetCard
    missing_images: list[MissingImage] = field(default_factory=list)
    skipped: list[SkippedItem] = field(default_factory=list)
    meta: dict[str, Any] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.records)

    def __iter__(self) -> Iterator[Record]:
        return iter(self.records)

    def languages(self) -> list[str]:
        """The languages of the records, sorted."""
        return sorted({r.language for r in self.records})

    def splits(self) -> list[str]:
        """The splits of the records that have one, sorted."""
        return sorted({s for r in self.records if (s := getattr(r, "split", None)) is not None})

    def of_kind(self, cls: type[R]) -> list[R]:
        """The records of one record type, e.g. ``dataset.of_kind(CaptionExample)``."""
        return [r for r in self.records if isinstance(r, cls)]

    def kinds(self) -> Counter[str]:
        """How many records of each kind (``"captions"``, ``"statement"``, ...)."""
        return Counter(r.kind for r in self.records)

    def image_paths(self) -> list[Path]:
        """Every distinct image path the records refer to, in first-seen order."""
        seen: dict[Path, None] = {}
        for record in self.records:
            for path in record_images(record):
                seen.setdefault(path, None)
        return list(seen)


def record_images(record: Record) -> list[Path]:
    """The image paths one record refers to (none for records without images)."""
    if isinstance(record, SequenceExample):
        return [s.image for s in record.steps if s.image is not None]
    if isinstance(record, AttributeNorms):
        return [p for paths in record.concept_images.values() for p in paths]
    if hasattr(record, "images"):
        return list(record.images)
    image = getattr(record, "image", None)
    return [] if image is None else [image]


@dataclass
class ReadContext:
    """What a reader is told and what it reports besides records.

    ``on_bad_item="fail"`` makes a malformed item raise; ``"skip"`` lets a reader that reads item
    by item (:meth:`item`, :meth:`reject`) list it in :attr:`skipped` and carry on. Readers may
    also put dataset-level facts in :attr:`meta` (e.g. a world's manifest).
    """

    on_bad_item: Literal["fail", "skip"] = "fail"
    skipped: list[SkippedItem] = field(default_factory=list)
    meta: dict[str, Any] = field(default_factory=dict)

    def item(self, line: int | None = None, item_id: str | None = None) -> _ItemGuard:
        """Guard the parsing of one item: ``with ctx.item(line): ...``.

        A :class:`DataFormatError` raised inside propagates, or, when bad items are skipped, is
        listed (with ``line`` when the error has none) and the reader goes on with the next item.
        """
        return _ItemGuard(self, line, item_id)

    def reject(self, error: DataFormatError, item_id: str | None = None) -> None:
        """A malformed item: raise ``error``, or list it when bad items are skipped."""
        if self.on_bad_item != "skip":
            raise error
        self.skipped.append(SkippedItem(error.path, _reason(error), error.line, item_id))

    def skip(
        self, source: Path, reason: str, line: int | None = None, item_id: str | None = None
    ) -> None:
        """List an item that is not made into a record for a reason other than a format error."""
        self.skipped.append(SkippedItem(str(source), reason, line, item_id))


class _ItemGuard:
    def __init__(self, ctx: ReadContext, line: int | None, item_id: str | None) -> None:
        self.ctx, self.line, self.item_id = ctx, line, item_id

    def __enter__(self) -> None:
        return None

    def __exit__(self, exc_type: type | None, exc: BaseException | None, tb: object) -> bool:
        if not isinstance(exc, DataFormatError) or self.ctx.on_bad_item != "skip":
            return False
        line = exc.line if exc.line is not None else self.line
        self.ctx.skipped.append(SkippedItem(exc.path, _reason(exc), line, self.item_id))
        return True


def _reason(error: DataFormatError) -> str:
    return f"field '{error.field}': {error.reason}" if error.field else error.reason
