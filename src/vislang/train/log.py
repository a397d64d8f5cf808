"""The run's JSONL log: one JSON object per line, for training steps and for evaluations.

Records have ``kind`` (``"train"`` or ``"eval"``) and ``step``. A resumed run first rewinds the
log to its checkpoint's step, so that the log of an interrupted and resumed run has the same
records as the log of an uninterrupted one.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from vislang.fileio import atomic_write_text


class JsonlLog:
    """Appends records to a JSONL file, each flushed as soon as it is written."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def append(self, record: Mapping[str, Any]) -> None:
        """Write one record as a line (non-finite numbers become ``null``)."""
        line = json.dumps(_finite(record), ensure_ascii=False)
        with self.path.open("a", encoding="utf-8") as handle:
            handle.write(line + "\n")

    def records(self) -> list[dict[str, Any]]:
        """Every complete record in the file (a line cut short by a crash is skipped)."""
        if not self.path.is_file():
            return []
        records = []
        for line in self.path.read_text(encoding="utf-8").splitlines():
            try:
                record = json.loads(line)
            except json.JSONDecodeError:
                continue
            if isinstance(record, dict):
                records.append(record)
        return records

    def rewind(self, step: int) -> None:
        """Keep only the records up to ``step`` (atomically rewritten)."""
        if not self.path.exists():
            return
        kept = [r for r in self.records() if isinstance(r.get("step"), int) and r["step"] <= step]
        atomic_write_text(
            self.path, "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in kept)
        )


def _finite(record: Mapping[str, Any]) -> dict[str, Any]:
    return {
        key: None if isinstance(value, float) and not math.isfinite(value) else value
        for key, value in record.items()
    }
