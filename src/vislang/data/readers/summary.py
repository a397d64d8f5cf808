"""Counts describing a read dataset, and a short view of one record (``vislang data inspect``).

The ``labels`` count what each record type is labelled with: true/false for statements (the
three-way class for XVNLI), valid/invalid for foils, the answer type for VQA, the collapsed tag for
Winoground, and the knowledge type of each attribute for attribute tables.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from vislang.data.readers.dataset import Dataset
from vislang.data.schema import (
    AttributeNorms,
    CaptionExample,
    FoilExample,
    Record,
    StatementExample,
    VQAExample,
    WinogroundExample,
    to_dict,
)

_LIST_ITEMS = 5
_DICT_ITEMS = 12
_TEXT_CHARS = 160


def summarize(dataset: Dataset) -> dict[str, Any]:
    """Records, images, languages, splits, labels, missing images and skipped items, counted."""
    images = dataset.image_paths()
    missing = {m.path for m in dataset.missing_images}
    summary: dict[str, Any] = {
        "format": dataset.format,
        "path": str(dataset.path),
        "records": len(dataset.records),
        "kinds": dict(dataset.kinds()),
        "images": len(images),
        "images_found": sum(1 for p in images if p not in missing),
        "missing_images": len(dataset.missing_images),
        "records_missing_images": len({m.record_id for m in dataset.missing_images}),
        "languages": dict(sorted(Counter(r.language for r in dataset.records).items())),
        "splits": dict(
            sorted(Counter(getattr(r, "split", None) or "-" for r in dataset.records).items())
        ),
        "labels": dict(sorted(_labels(dataset.records).items())),
        "skipped": len(dataset.skipped),
    }
    captions = dataset.of_kind(CaptionExample)
    if captions:
        summary["captions"] = sum(len(r.captions) for r in captions)
    tables = dataset.of_kind(AttributeNorms)
    if tables:
        summary["attribute_tables"] = [
            {
                "id": t.id,
                "concepts": len(t.concepts),
                "attributes": len(t.attributes),
                "positives": sum(len(v) for v in t.positives.values()),
            }
            for t in tables
        ]
    return summary


def _labels(records: list[Record]) -> Counter[str]:
    counts: Counter[str] = Counter()
    for record in records:
        if isinstance(record, StatementExample):
            counts[record.meta.get("gold_label") or str(record.label).lower()] += 1
        elif isinstance(record, FoilExample):
            counts["valid" if record.valid else "invalid"] += 1
        elif isinstance(record, VQAExample):
            counts[record.answer_type or "no answers"] += 1
        elif isinstance(record, WinogroundExample):
            counts[record.collapsed_tag or "untagged"] += 1
        elif isinstance(record, AttributeNorms):
            counts.update(record.knowledge_type.get(a, "untyped") for a in record.attributes)
    return counts


def example_view(record: Record) -> dict[str, Any]:
    """``record`` as a dict with long lists, mappings and texts shortened for display."""
    return _shorten(to_dict(record))


def _shorten(value: Any) -> Any:
    if isinstance(value, dict):
        items = list(value.items())
        out = {str(k): _shorten(v) for k, v in items[:_DICT_ITEMS]}
        if len(items) > _DICT_ITEMS:
            out["..."] = f"{len(items) - _DICT_ITEMS} more"
        return out
    if isinstance(value, list):
        out = [_shorten(v) for v in value[:_LIST_ITEMS]]
        if len(value) > _LIST_ITEMS:
            out.append(f"... {len(value) - _LIST_ITEMS} more")
        return out
    if isinstance(value, str) and len(value) > _TEXT_CHARS:
        return value[: _TEXT_CHARS - 3] + "..."
    return value
