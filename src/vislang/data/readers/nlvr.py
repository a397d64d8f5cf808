"""NLVR (v1): statements about synthetic images of three boxes of coloured shapes.

``<split>/<split>.json`` holds JSON lines with ``sentence``, ``label`` ("true"/"false"),
``identifier``, ``directory``, ``structured_rep`` and ``evals``. Each statement has six images,
the six orderings of its three boxes: ``<split>/images/<directory>/<split>-<identifier>-<k>.png``
for k = 0..5. One :class:`StatementExample` per line, ``id = <split>-<identifier>``; the scene
(``structured_rep``: per box, the objects' ``type``, ``color``, ``size``, ``x_loc``, ``y_loc``) is
kept in ``meta``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from vislang.data.readers.card import DatasetCard
from vislang.data.readers.dataset import ReadContext
from vislang.data.readers.fields import json_lines, need, need_label
from vislang.data.readers.registry import register_reader
from vislang.data.schema import Record, StatementExample
from vislang.errors import DataFormatError

CARD = DatasetCard(
    name="nlvr",
    title="NLVR: Cornell Natural Language for Visual Reasoning",
    task_types=("classification",),
    tasks="visually grounded reasoning: is the statement true of the image?",
    languages=("en",),
    licence="CC BY 4.0",
    citation=(
        "Suhr, Lewis, Yeh & Artzi (2017). A Corpus of Natural Language for Visual Reasoning. ACL."
    ),
    scope=(
        "deep and narrow: counting, comparison and spatial relations over coloured shapes in "
        "three boxes"
    ),
    annotator_relationship="hired: crowdworkers who wrote and then validated statements",
    images=(
        "synthetic renderings (no personal data), generated with their structured scene; six "
        "box orderings per statement"
    ),
    texts=(
        "English statements written from scratch to be true of some images of a set and false "
        "of others"
    ),
    binding="strong and compositional: the label depends on every word and on the whole scene",
    homepage="https://lil.nlp.cornell.edu/nlvr/",
)

_OBJECT_KEYS = {"type": str, "color": str, "size": int, "x_loc": int, "y_loc": int}


@register_reader(
    "nlvr",
    card=CARD,
    layout=(
        "folder holding <split>/<split>.json and <split>/images/ (or one <split>.json file "
        "beside its images/ folder)"
    ),
    kinds=(StatementExample,),
    options={},
)
def read_nlvr(path: Path, ctx: ReadContext) -> list[Record]:
    """Read every split of an NLVR folder (or one split's file)."""
    if path.is_file():
        files = [path]
    else:
        files = sorted(f for f in path.glob("*/*.json") if f.stem == f.parent.name)
        if not files:
            raise DataFormatError(path, "no <split>/<split>.json file found")
    records: list[Record] = []
    for file in files:
        split = file.stem
        image_root = file.parent / "images"
        for line, obj in json_lines(file, ctx):
            with ctx.item(line):
                identifier = need(obj, "identifier", str, path=file, line=line)
                directory = need(obj, "directory", str, path=file, line=line)
                folder = image_root / directory
                records.append(
                    StatementExample(
                        id=f"{split}-{identifier}",
                        images=tuple(folder / f"{split}-{identifier}-{k}.png" for k in range(6)),
                        statement=need(obj, "sentence", str, path=file, line=line),
                        label=need_label(obj, "label", path=file, line=line),
                        language="en",
                        source="nlvr",
                        split=split,
                        meta={
                            "identifier": identifier,
                            "directory": directory,
                            "structured_rep": _scene(obj, file, line),
                            "evals": obj.get("evals", {}),
                        },
                    )
                )
    return records


def _scene(obj: dict[str, Any], file: Path, line: int) -> list[list[dict[str, Any]]]:
    """The structured scene, checked: three boxes, each a list of objects with all five keys."""
    boxes = need(obj, "structured_rep", list, path=file, line=line)
    if len(boxes) != 3:
        raise DataFormatError(
            file, f"expected 3 boxes, got {len(boxes)}", line=line, field="structured_rep"
        )
    for b, box in enumerate(boxes):
        if not isinstance(box, list):
            raise DataFormatError(
                file, "expected a list of objects", line=line, field=f"structured_rep[{b}]"
            )
        for o, item in enumerate(box):
            for key, kind in _OBJECT_KEYS.items():
                need(item, key, kind, path=file, line=line, where=f"structured_rep[{b}][{o}].")
    return boxes
