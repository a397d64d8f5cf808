"""NLVR2: statements about pairs of web photographs, true or false.

JSON lines (``train.json``, ``dev.json``, ``test1.json``) with ``identifier``
(``<split>-<set>-<pair>-<sentence>``), ``sentence``, ``label`` ("True"/"False"), ``left_url``,
``right_url`` and annotation details. The images of ``dev-850-0-1`` are ``dev-850-0-img0.png``
(left) and ``dev-850-0-img1.png`` (right), in the folder the user gives, under the line's
``directory`` when it has one (the training images are spread over numbered folders). One
:class:`StatementExample` per line, ``id = identifier``, split from the identifier.
"""

from __future__ import annotations

from pathlib import Path

from vislang.data.readers.card import DatasetCard
from vislang.data.readers.dataset import ReadContext
from vislang.data.readers.fields import json_lines, need, need_label
from vislang.data.readers.registry import register_reader
from vislang.data.schema import Record, StatementExample
from vislang.errors import DataFormatError

CARD = DatasetCard(
    name="nlvr2",
    title="NLVR2: Natural Language for Visual Reasoning for Real",
    task_types=("classification",),
    tasks="visually grounded reasoning: is the statement true of the pair of images?",
    languages=("en",),
    licence=(
        "annotations CC BY 4.0; the images are web photographs the authors do not own "
        "(URLs given; direct access for research on request)"
    ),
    citation=(
        "Suhr, Zhou, Zhang, Zhang, Bai & Artzi (2019). A Corpus for Reasoning about Natural "
        "Language Grounded in Photographs. ACL."
    ),
    scope=(
        "broad visual concepts (ImageNet synsets) with reasoning over counts, comparisons and "
        "spatial relations across two images; 107K examples"
    ),
    annotator_relationship="hired: crowdworkers who wrote and validated statements",
    images=(
        "photographs found by web image search for each synset; may show people; some URLs no "
        "longer work"
    ),
    texts=(
        "English statements written to be true of some pairs of a set of images and false of "
        "others (human-made hard negatives)"
    ),
    binding="strong and compositional: the label depends on both images and the whole sentence",
    homepage="https://lil.nlp.cornell.edu/nlvr/",
)

_META_KEYS = (
    "left_url",
    "right_url",
    "writer",
    "synset",
    "query",
    "validation",
    "extra_validations",
    "directory",
)


@register_reader(
    "nlvr2",
    card=CARD,
    layout=(
        "a JSON lines file such as dev.json (or a folder of them); images at "
        "<images>/[<directory>/]<split>-<set>-<pair>-img0.png and -img1.png"
    ),
    kinds=(StatementExample,),
    options={"images": "folder of the images (default: images/ beside the JSON file)"},
)
def read_nlvr2(path: Path, ctx: ReadContext, *, images: Path | None = None) -> list[Record]:
    """Read NLVR2 statement files."""
    if path.is_file():
        files = [path]
    else:
        files = sorted(path.glob("*.json"))
        if not files:
            raise DataFormatError(path, "no NLVR2 .json file found")
    records: list[Record] = []
    for file in files:
        image_root = Path(images) if images is not None else file.parent / "images"
        for line, obj in json_lines(file, ctx):
            with ctx.item(line):
                identifier = need(obj, "identifier", str, path=file, line=line)
                parts = identifier.split("-")
                if len(parts) != 4:
                    raise DataFormatError(
                        file,
                        f"expected <split>-<set>-<pair>-<sentence>, got {identifier!r}",
                        line=line,
                        field="identifier",
                    )
                pair = "-".join(parts[:3])
                folder = image_root / str(obj["directory"]) if "directory" in obj else image_root
                records.append(
                    StatementExample(
                        id=identifier,
                        images=(folder / f"{pair}-img0.png", folder / f"{pair}-img1.png"),
                        statement=need(obj, "sentence", str, path=file, line=line),
                        label=need_label(obj, "label", path=file, line=line),
                        language="en",
                        source="nlvr2",
                        split=parts[0],
                        meta={key: obj[key] for key in _META_KEYS if key in obj},
                    )
                )
    return records
