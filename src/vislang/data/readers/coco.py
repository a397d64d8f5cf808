"""COCO captions (2014 and 2017 releases): ``annotations/captions_<subset>.json`` with images in
``<subset>/`` and, when present, ``instances_<subset>.json`` for the objects in each image.

One :class:`CaptionExample` per image with its captions in file order (surrounding whitespace
removed); the split is the subset without its year (``train2017`` → ``train``).
"""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

from vislang.data.readers.card import DatasetCard
from vislang.data.readers.dataset import ReadContext
from vislang.data.readers.fields import load_json, need
from vislang.data.readers.registry import register_reader
from vislang.data.schema import CaptionExample, Record
from vislang.errors import DataFormatError

CARD = DatasetCard(
    name="coco",
    title="COCO Captions (Microsoft Common Objects in Context)",
    task_types=("generation", "ranking"),
    tasks="image captioning; image-text retrieval",
    languages=("en",),
    licence="annotations CC BY 4.0 (COCO Consortium); each image keeps its own Flickr licence",
    citation=(
        "Lin et al. (2014). Microsoft COCO: Common Objects in Context. ECCV. "
        "Chen et al. (2015). Microsoft COCO Captions: Data Collection and Evaluation Server. "
        "arXiv:1504.00325."
    ),
    scope=(
        "broad: everyday scenes with 80 common object categories in context; used both as a "
        "general-purpose and as a task-specific dataset"
    ),
    annotator_relationship=(
        "hired: crowdworkers on Amazon Mechanical Turk, paid per caption, following written "
        "instructions"
    ),
    images=(
        "photographs mined from Flickr, chosen to show several objects in context; people are "
        "visible in many (personal data); each photo under its own Flickr licence"
    ),
    texts="five English one-sentence descriptions per image written from scratch by crowdworkers",
    binding="strong: each caption was written while looking at the image, to describe it",
    homepage="https://cocodataset.org",
)

_CAPTIONS_FILE = re.compile(r"^captions_(?P<subset>[a-z]+)(?P<year>\d{4})?\.json$")


@register_reader(
    "coco",
    card=CARD,
    layout=(
        "folder holding annotations/captions_<subset>.json (or one such file); images in "
        "<images>/<subset>/<file_name>"
    ),
    kinds=(CaptionExample,),
    options={
        "images": "folder holding the <subset>/ image folders (default: the dataset folder)",
        "instances": "add the objects of instances_<subset>.json to meta['objects'] (default true)",
    },
)
def read_coco(
    path: Path, ctx: ReadContext, *, images: Path | None = None, instances: bool = True
) -> list[Record]:
    """Read every ``captions_*.json`` of a COCO folder (or one such file)."""
    if path.is_file():
        files = [path]
        root = path.parent.parent if path.parent.name == "annotations" else path.parent
    else:
        folder = path / "annotations" if (path / "annotations").is_dir() else path
        files = sorted(f for f in folder.glob("captions_*.json") if _CAPTIONS_FILE.match(f.name))
        root = path
        if not files:
            raise DataFormatError(path, "no annotations/captions_<subset>.json file found")
    image_root = Path(images) if images is not None else root
    records: list[Record] = []
    for file in files:
        match = _CAPTIONS_FILE.match(file.name)
        if match is None:
            raise DataFormatError(file, "file name must look like captions_<subset>.json")
        subset = file.name[len("captions_") : -len(".json")]
        objects = _objects(file.with_name(f"instances_{subset}.json")) if instances else {}
        records.extend(_read_captions(file, ctx, match["subset"], subset, image_root, objects))
    return records


def _read_captions(
    file: Path,
    ctx: ReadContext,
    split: str,
    subset: str,
    image_root: Path,
    objects: dict[int, dict[str, int]],
) -> list[CaptionExample]:
    data = load_json(file)
    images = need(data, "images", list, path=file, allow_empty=True)
    annotations = need(data, "annotations", list, path=file, allow_empty=True)
    licences = {
        lic.get("id"): lic.get("name") for lic in data.get("licenses", []) if isinstance(lic, dict)
    }
    info: dict[int, dict[str, Any]] = {}
    for index, image in enumerate(images):
        where = f"images[{index}]."
        with ctx.item(item_id=f"images[{index}]"):
            image_id = need(image, "id", int, path=file, where=where)
            info[image_id] = {
                "file_name": need(image, "file_name", str, path=file, where=where),
                "width": image.get("width"),
                "height": image.get("height"),
                "license": licences.get(image.get("license")),
                "flickr_url": image.get("flickr_url"),
            }
    captions: dict[int, list[str]] = defaultdict(list)
    caption_ids: dict[int, list[int]] = defaultdict(list)
    for index, annotation in enumerate(annotations):
        where = f"annotations[{index}]."
        with ctx.item(item_id=f"annotations[{index}]"):
            image_id = need(annotation, "image_id", int, path=file, where=where)
            text = need(annotation, "caption", str, path=file, where=where, allow_empty=True)
            if image_id not in info:
                raise DataFormatError(
                    file,
                    f"caption of image {image_id}, which is not in images",
                    field=where + "image_id",
                )
            if not text.strip():
                ctx.skip(file, "blank caption", item_id=f"annotations[{index}]")
                continue
            captions[image_id].append(text.strip())
            caption_ids[image_id].append(annotation.get("id"))
    records = []
    for image_id, meta in info.items():
        if not captions[image_id]:
            ctx.skip(file, "image has no captions", item_id=str(image_id))
            continue
        records.append(
            CaptionExample(
                id=str(image_id),
                image_id=str(image_id),
                image=image_root / subset / meta["file_name"],
                captions=tuple(captions[image_id]),
                language="en",
                source="coco",
                split=split,
                meta={
                    **meta,
                    "subset": subset,
                    "caption_ids": caption_ids[image_id],
                    **({"objects": objects.get(image_id, {})} if objects else {}),
                },
            )
        )
    return records


def _objects(file: Path) -> dict[int, dict[str, int]]:
    """Object category counts per image from an instances file (empty when there is none)."""
    if not file.is_file():
        return {}
    data = load_json(file)
    categories = {}
    for index, category in enumerate(need(data, "categories", list, path=file)):
        where = f"categories[{index}]."
        categories[need(category, "id", int, path=file, where=where)] = need(
            category, "name", str, path=file, where=where
        )
    counts: dict[int, Counter[str]] = defaultdict(Counter)
    for index, annotation in enumerate(
        need(data, "annotations", list, path=file, allow_empty=True)
    ):
        where = f"annotations[{index}]."
        image_id = need(annotation, "image_id", int, path=file, where=where)
        category = need(annotation, "category_id", int, path=file, where=where)
        if category not in categories:
            raise DataFormatError(file, f"unknown category {category}", field=where + "category_id")
        counts[image_id][categories[category]] += 1
    return {image_id: dict(sorted(c.items())) for image_id, c in counts.items()}
