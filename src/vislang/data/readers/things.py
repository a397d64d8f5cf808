"""THINGS concepts (``things_concepts.tsv``): 1,854 object concepts with category flags.

The file has a ``Word`` column, a definition, and one column per category holding ``1`` when the
concept belongs to it. It becomes one :class:`AttributeNorms` table over the categories
(``knowledge_type`` = ``taxonomic`` for every category, as McRae labels category features), so
that category probes and McRae feature probes run the same way. Words that name several concepts
(``bat``: the animal and the club) are numbered in file order (``bat1``, ``bat2``); the word and
the definition of each concept are kept in ``meta``. A last row without a word holding each
category's count (as in the released file) is checked against the flags and kept in
``meta["category_totals"]``. With option ``images`` (THINGS' ``object_images/`` folder, one
sub-folder per concept), ``concept_images`` lists each concept's images.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

from vislang.data.readers.card import DatasetCard
from vislang.data.readers.dataset import ReadContext
from vislang.data.readers.fields import tsv_rows
from vislang.data.readers.registry import register_reader
from vislang.data.schema import AttributeNorms, Record
from vislang.errors import DataFormatError

FILE_NAME = "things_concepts.tsv"
_WORD = "Word"
_IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png"}

CARD = DatasetCard(
    name="things",
    title="THINGS object concepts",
    task_types=("classification",),
    tasks="category probing and zero-shot object classification over 1,854 concepts",
    languages=("en",),
    licence="CC0 (concept list and metadata); the THINGS images have their own terms",
    citation=(
        "Hebart, Dickter, Kidder, Kwok, Corriveau, Van Wicklin & Baker (2019). THINGS: A "
        "database of 1,854 object concepts and more than 26,000 naturalistic object images. "
        "PLOS ONE 14(10): e0223792."
    ),
    scope=(
        "broad and systematic: concrete, picturable object nouns of American English, sampled to "
        "cover everyday objects"
    ),
    annotator_relationship=(
        "the authors selected the concepts; category membership was judged by crowdworkers"
    ),
    images="none in this file; the THINGS image set has about 12 photographs per concept",
    texts="English concept words with a one-sentence definition (WordNet, Google or Wikipedia)",
    binding="none directly: concepts bind to images through the THINGS image folders",
    homepage="https://things-initiative.org",
    notes=(
        "homonyms numbered in file order (bat1, bat2); the released file has 53 category columns"
    ),
)


@register_reader(
    "things",
    card=CARD,
    layout=f"folder holding {FILE_NAME} (or the file itself)",
    kinds=(AttributeNorms,),
    options={"images": "THINGS object_images/ folder, one sub-folder per concept (optional)"},
)
def read_things(path: Path, ctx: ReadContext, *, images: Path | None = None) -> list[Record]:
    """Read the THINGS concept list into one concept x category table."""
    file = path if path.is_file() else path / FILE_NAME
    header, rows = tsv_rows(file, (_WORD,), ctx)
    if len(header) < 3 or header[0] != _WORD:
        raise DataFormatError(file, "expected Word, a definition and category columns", line=1)
    categories = header[2:]
    words = Counter(row[_WORD] for _, row in rows if row[_WORD])
    seen: Counter[str] = Counter()
    concepts: list[str] = []
    definitions: dict[str, str] = {}
    word_of: dict[str, str] = {}
    positives: dict[str, set[str]] = {c: set() for c in categories}
    totals: tuple[int, dict[str, str]] | None = None
    for line, row in rows:
        word = row[_WORD].strip()
        if not word:
            totals = (line, row)
            continue
        with ctx.item(line, item_id=word):
            member_of = [c for c in categories if _flag(file, line, c, row[c])]
            seen[word] += 1
            concept = f"{word}{seen[word]}" if words[word] > 1 else word
            concepts.append(concept)
            definitions[concept] = row[header[1]]
            word_of[concept] = word
            for category in member_of:
                positives[category].add(concept)
    if not concepts:
        raise DataFormatError(file, "no concept rows")
    meta: dict[str, object] = {"definitions": definitions, "words": word_of}
    if totals is not None:
        meta["category_totals"] = _check_totals(file, *totals, categories, positives)
    concept_images: dict[str, tuple[Path, ...]] = {}
    if images is not None:
        concept_images = _concept_images(Path(images), concepts)
        ctx.meta["concepts_without_images"] = [c for c in concepts if not concept_images.get(c)]
    return [
        AttributeNorms(
            id="things",
            concepts=tuple(concepts),
            attributes=tuple(categories),
            knowledge_type=dict.fromkeys(categories, "taxonomic"),
            positives={c: frozenset(members) for c, members in positives.items()},
            language="en",
            source="things",
            concept_images=concept_images,
            meta=meta,
        )
    ]


def _flag(file: Path, line: int, category: str, value: str) -> bool:
    if value.strip() not in ("", "1"):
        raise DataFormatError(
            file, f"expected 1 or nothing, got {value!r}", line=line, field=category
        )
    return value.strip() == "1"


def _check_totals(
    file: Path, line: int, row: dict[str, str], categories: list[str], positives: dict[str, set]
) -> dict[str, int]:
    totals = {}
    for category in categories:
        try:
            totals[category] = int(row[category])
        except ValueError:
            raise DataFormatError(
                file,
                f"totals row: expected a count, got {row[category]!r}",
                line=line,
                field=category,
            ) from None
        if totals[category] != len(positives[category]):
            raise DataFormatError(
                file,
                f"totals row says {totals[category]} concepts, the flags give "
                f"{len(positives[category])}",
                line=line,
                field=category,
            )
    return totals


def _concept_images(root: Path, concepts: list[str]) -> dict[str, tuple[Path, ...]]:
    if not root.is_dir():
        raise DataFormatError(root, "THINGS image folder not found")
    found = {}
    for concept in concepts:
        folder = root / concept
        files = sorted(folder.iterdir()) if folder.is_dir() else []
        images = tuple(p for p in files if p.suffix.lower() in _IMAGE_SUFFIXES)
        if images:
            found[concept] = images
    return found
