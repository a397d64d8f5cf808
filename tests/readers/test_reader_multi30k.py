"""Multi30K: the real test 2016 files, the repository layout, and misaligned files."""

from __future__ import annotations

import gzip
from collections import Counter
from pathlib import Path

import pytest

from vislang.data.readers import read_dataset
from vislang.errors import DataFormatError


@pytest.fixture(scope="module")
def multi30k(shared_data: Path):
    return read_dataset(f"multi30k:{shared_data / 'multi30k'}")


def test_multi30k_test_2016_counts(multi30k) -> None:
    assert Counter(r.language for r in multi30k) == {"en": 1000, "de": 1000, "fr": 1000, "cs": 1000}
    assert multi30k.splits() == ["test_2016_flickr"]
    assert len({r.image_id for r in multi30k}) == 1000
    assert len(multi30k.missing_images) == 4000


def test_multi30k_lines_are_aligned_with_images(multi30k, shared_data: Path) -> None:
    by_id = {r.id: r for r in multi30k}
    de = by_id["test_2016_flickr/2/de"]
    assert de.captions == (
        "Ein Boston Terrier läuft über saftig-grünes Gras vor einem weißen Zaun.",
    )
    assert de.image_id == "1009434119"
    assert de.image == shared_data / "multi30k" / "images" / "1009434119.jpg"
    assert by_id["test_2016_flickr/2/en"].image_id == "1009434119"
    last = by_id["test_2016_flickr/1000/cs"]
    assert last.captions == ("Dívka na břehu pláže s horami v dáli.",)
    assert last.image_id == "97234558"


def _repository_layout(root: Path, german: list[str]) -> Path:
    (root / "image_splits").mkdir(parents=True)
    (root / "raw").mkdir()
    (root / "image_splits" / "val.txt").write_text("1018148011.jpg\n1029450589.jpg\n")
    for language, lines in {"en": ["A dog runs.", "Two men talk."], "de": german}.items():
        data = ("\n".join(lines) + "\n").encode("utf-8")
        (root / "raw" / f"val.{language}.gz").write_bytes(gzip.compress(data))
    return root


def test_multi30k_repository_layout_with_gzip(tmp_path: Path) -> None:
    root = _repository_layout(tmp_path, ["Ein Hund rennt.", "Zwei Männer reden."])
    data = read_dataset(f"multi30k:{root}", images=tmp_path / "flickr30k-images")
    assert [(r.id, r.captions[0]) for r in data] == [
        ("val/1/de", "Ein Hund rennt."),
        ("val/2/de", "Zwei Männer reden."),
        ("val/1/en", "A dog runs."),
        ("val/2/en", "Two men talk."),
    ]
    assert data.records[1].image == tmp_path / "flickr30k-images" / "1029450589.jpg"


def test_multi30k_line_count_mismatch(tmp_path: Path) -> None:
    root = _repository_layout(tmp_path, ["Ein Hund rennt."])
    with pytest.raises(DataFormatError, match=r"has 1 lines but val\.txt lists 2 images") as info:
        read_dataset(f"multi30k:{root}")
    assert info.value.path.endswith("val.de.gz")


def test_multi30k_blank_line_is_listed(tmp_path: Path) -> None:
    root = _repository_layout(tmp_path, ["", "Zwei Männer reden."])
    data = read_dataset(f"multi30k:{root}")
    assert len(data) == 3
    assert [(s.item_id, s.line) for s in data.skipped] == [("val/1/de", 1)]


def test_multi30k_not_utf8_names_the_line(tmp_path: Path) -> None:
    (tmp_path / "test.images.txt").write_text("1.jpg\n2.jpg\n")
    (tmp_path / "test.fr").write_bytes(b"Un chien.\nUn " + b"\xe9t\xe9\n")
    with pytest.raises(DataFormatError, match="not UTF-8") as info:
        read_dataset(f"multi30k:{tmp_path}")
    assert info.value.line == 2
