"""VALSE piece files: for each linguistic phenomenon, a caption and a foil per image.

A piece is a JSON object ``{item_id: {"caption", "foil", "image_file", "dataset",
"linguistic_phenomena", "mturk": {"caption", "foil", "other"}, ...}}``. One :class:`FoilExample`
per item: ``id = <piece>/<item_id>`` (item ids repeat across pieces), ``phenomenon`` is the piece
(``existence``, ``plurals``, ``counting-hard``, ..., ``foil-it``: the instruments VALSE reports
results for; the source's coarser ``linguistic_phenomena`` stays in ``meta``), and ``valid`` is
VALSE's validity: at least two of the three annotators chose the caption and not the foil
(``mturk.caption >= 2``). Every other field of the item is kept in ``meta``. The images come from
COCO, Visual7W, SWiG and VisDial and are looked up as ``<images>/<image_file>``.
"""

from __future__ import annotations

from pathlib import Path

from vislang.data.readers.card import DatasetCard
from vislang.data.readers.dataset import ReadContext
from vislang.data.readers.fields import load_json, need
from vislang.data.readers.registry import register_reader
from vislang.data.schema import FoilExample, Record
from vislang.errors import DataFormatError

CARD = DatasetCard(
    name="valse",
    title="VALSE: Vision And Language Structured Evaluation",
    task_types=("ranking",),
    tasks="foil detection: does the model score the caption above its foil for the image?",
    languages=("en",),
    licence="MIT (annotations); images keep the licences of COCO, Visual7W, SWiG and VisDial",
    citation=(
        "Parcalabescu, Cafagna, Muradjan, Frank, Calixto & Gatt (2022). VALSE: A "
        "Task-Independent Benchmark for Vision and Language Models Centered on Linguistic "
        "Phenomena. ACL."
    ),
    scope=(
        "deep: six linguistic phenomena (existence, plurality, counting, spatial relations, "
        "actions, coreference) plus FOIL-it nouns, in 11 pieces"
    ),
    annotator_relationship=(
        "hired: three crowdworkers per item judged whether the caption and the foil describe "
        "the image"
    ),
    images="photographs from COCO, Visual7W, SWiG and VisDial (Flickr and web); not redistributed",
    texts=(
        "captions from the source datasets (or built from their annotations) and foils made "
        "from them automatically by minimal edits, then validated"
    ),
    binding=(
        "strong by design: caption and foil differ in one phenomenon, so only an image-grounded "
        "reading tells them apart"
    ),
    homepage="https://github.com/Heidelberg-NLP/VALSE",
    notes="valid = mturk.caption >= 2; phenomenon = piece file name",
)

_CONSUMED = {"caption", "foil", "image_file"}


@register_reader(
    "valse",
    card=CARD,
    layout="folder of VALSE piece files (<piece>.json), or one piece file",
    kinds=(FoilExample,),
    options={"images": "folder holding every image_file (default: images/ in PATH)"},
)
def read_valse(path: Path, ctx: ReadContext, *, images: Path | None = None) -> list[Record]:
    """Read every VALSE piece of a folder (or one piece file)."""
    folder = path.parent if path.is_file() else path
    files = [path] if path.is_file() else sorted(path.glob("*.json"))
    if not files:
        raise DataFormatError(path, "no VALSE piece (.json) found")
    image_root = Path(images) if images is not None else folder / "images"
    records: list[Record] = []
    for file in files:
        piece = file.stem
        data = load_json(file)
        if not isinstance(data, dict):
            raise DataFormatError(file, "expected a JSON object of items keyed by id")
        for key, item in data.items():
            where = f"{key}."
            with ctx.item(item_id=key):
                if not isinstance(item, dict):
                    raise DataFormatError(file, "expected an object", field=key)
                votes = need(item, "mturk", dict, path=file, where=where)
                caption_votes = need(votes, "caption", int, path=file, where=where + "mturk.")
                records.append(
                    FoilExample(
                        id=f"{piece}/{key}",
                        image=image_root / need(item, "image_file", str, path=file, where=where),
                        caption=need(item, "caption", str, path=file, where=where),
                        foil=need(item, "foil", str, path=file, where=where),
                        phenomenon=piece,
                        language="en",
                        source="valse",
                        valid=caption_votes >= 2,
                        split="test",
                        meta={
                            "piece": piece,
                            **{k: v for k, v in item.items() if k not in _CONSUMED},
                        },
                    )
                )
    return records
