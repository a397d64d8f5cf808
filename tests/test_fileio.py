"""Atomic writes leave either the old file or the complete new one."""

from __future__ import annotations

import json
import os
import stat

import pytest

from vislang.fileio import atomic_open, atomic_write_json, atomic_write_jsonl


def test_failed_write_keeps_previous_content(tmp_path) -> None:
    path = tmp_path / "out.txt"
    path.write_text("old")
    with pytest.raises(RuntimeError), atomic_open(path) as handle:
        handle.write("partial")
        raise RuntimeError("interrupted")
    assert path.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["out.txt"]


def test_written_files_get_umask_permissions(tmp_path) -> None:
    path = tmp_path / "out.json"
    atomic_write_json(path, {"a": "é"})
    mask = os.umask(0)
    os.umask(mask)
    assert stat.S_IMODE(path.stat().st_mode) == 0o666 & ~mask
    assert json.loads(path.read_text(encoding="utf-8")) == {"a": "é"}


def test_jsonl_counts_rows(tmp_path) -> None:
    path = tmp_path / "rows.jsonl"
    assert atomic_write_jsonl(path, ({"i": i} for i in range(3))) == 3
    assert [json.loads(line)["i"] for line in path.read_text().splitlines()] == [0, 1, 2]
