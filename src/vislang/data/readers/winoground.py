"""Winoground ``examples.jsonl``: two images and two captions with the same words in another order.

A line is ``{"id", "caption_0", "caption_1", "image_0", "image_1", "tag", "secondary_tag",
"num_main_preds", "collapsed_tag"}``; ``image_k`` names a file in ``images/`` (``ex_0_img_0`` →
``images/ex_0_img_0.png``; a name with an extension is used as given). One
:class:`WinogroundExample` per line; an empty ``secondary_tag`` becomes ``None``.
"""

from __future__ import annotations

from pathlib import Path

from vislang.data.readers.card import DatasetCard
from vislang.data.readers.dataset import ReadContext
from vislang.data.readers.fields import json_lines, need
from vislang.data.readers.registry import register_reader
from vislang.data.schema import Record, WinogroundExample

CARD = DatasetCard(
    name="winoground",
    title="Winoground",
    task_types=("ranking",),
    tasks=(
        "visio-linguistic compositionality: match each of two captions to the right one of two "
        "images (text, image and group scores)"
    ),
    languages=("en",),
    licence=(
        "research use under the dataset's licence; images licensed from Getty Images (access "
        "gated on the Hugging Face Hub)"
    ),
    citation=(
        "Thrush, Jiang, Bartolo, Singh, Williams, Kiela & Ross (2022). Winoground: Probing "
        "Vision and Language Models for Visio-Linguistic Compositionality. CVPR."
    ),
    scope="deep: 400 hand-built examples of word-order contrasts (object, relation, both)",
    annotator_relationship="expert annotators who designed the caption pairs and chose the images",
    images="800 curated stock photographs from Getty Images; many show people",
    texts="pairs of English captions with the same words in a different order",
    binding="strong by construction: each caption is true of exactly one of the two images",
    homepage="https://huggingface.co/datasets/facebook/winoground",
)


@register_reader(
    "winoground",
    card=CARD,
    layout="folder holding examples.jsonl and images/ (or the examples.jsonl file)",
    kinds=(WinogroundExample,),
    options={"images": "folder of the images (default: images/ beside examples.jsonl)"},
)
def read_winoground(path: Path, ctx: ReadContext, *, images: Path | None = None) -> list[Record]:
    """Read Winoground's ``examples.jsonl``."""
    file = path if path.is_file() else path / "examples.jsonl"
    image_root = Path(images) if images is not None else file.parent / "images"
    records: list[Record] = []
    for line, obj in json_lines(file, ctx):
        with ctx.item(line):
            pictures = tuple(
                _image_file(image_root, need(obj, f"image_{k}", str, path=file, line=line))
                for k in (0, 1)
            )
            captions = tuple(need(obj, f"caption_{k}", str, path=file, line=line) for k in (0, 1))
            records.append(
                WinogroundExample(
                    id=str(need(obj, "id", (int, str), path=file, line=line)),
                    images=pictures,
                    captions=captions,
                    language="en",
                    source="winoground",
                    tag=need(obj, "tag", str, path=file, line=line),
                    secondary_tag=obj.get("secondary_tag") or None,
                    collapsed_tag=need(obj, "collapsed_tag", str, path=file, line=line),
                    split="test",
                    meta={"num_main_preds": obj.get("num_main_preds")},
                )
            )
    return records


def _image_file(root: Path, name: str) -> Path:
    return root / (name if Path(name).suffix else f"{name}.png")
