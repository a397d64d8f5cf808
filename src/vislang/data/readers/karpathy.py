"""Karpathy split files: dataset_coco.json, dataset_flickr30k.json, dataset_flickr8k.json.

Each file is ``{"dataset": NAME, "images": [{"filename", "split", "sentences": [{"raw", ...}],
"imgid", "sentids", ("filepath", "cocoid" for COCO)}]}``. One :class:`CaptionExample` per image;
captions are the ``raw`` sentences (surrounding whitespace removed). The split is the file's own
(``train``, ``val``, ``test``, and ``restval`` for COCO, which most work adds to ``train``:
option ``merge_restval``).
"""

from __future__ import annotations

from pathlib import Path

from vislang.data.readers.card import DatasetCard
from vislang.data.readers.dataset import ReadContext
from vislang.data.readers.fields import load_json, need, split_blank
from vislang.data.readers.registry import register_reader
from vislang.data.schema import CaptionExample, Record
from vislang.errors import DataFormatError

CARD = DatasetCard(
    name="karpathy",
    title="Karpathy splits of COCO, Flickr30k and Flickr8k captions",
    task_types=("generation", "ranking"),
    tasks="image captioning; image-text retrieval (the standard 5k/1k test splits)",
    languages=("en",),
    licence=(
        "COCO captions CC BY 4.0; Flickr30k and Flickr8k captions for non-commercial research; "
        "images keep their Flickr licences"
    ),
    citation=(
        "Karpathy & Fei-Fei (2015). Deep Visual-Semantic Alignments for Generating Image "
        "Descriptions. CVPR. Captions: Chen et al. (2015) for COCO; Young et al. (2014), From "
        "image descriptions to visual denotations, TACL, for Flickr30k; Hodosh et al. (2013), "
        "JAIR, for Flickr8k."
    ),
    scope=(
        "broad everyday scenes (COCO) and people and animals in action (Flickr); the file fixes "
        "the train/val/test split used by most captioning and retrieval papers"
    ),
    annotator_relationship="hired: crowdworkers on Amazon Mechanical Turk",
    images="photographs mined from Flickr; many show people (personal data)",
    texts="five English descriptions per image written from scratch by crowdworkers",
    binding="strong: written while looking at the image, to describe it",
    homepage="https://cs.stanford.edu/people/karpathy/deepimagesent/",
)


@register_reader(
    "karpathy",
    card=CARD,
    layout=(
        "a dataset_<name>.json file (or a folder holding exactly one); images at "
        "<images>/<filepath>/<filename> (COCO) or <images>/<filename> (Flickr)"
    ),
    kinds=(CaptionExample,),
    options={
        "images": "folder of the images (default: the folder of the json file)",
        "merge_restval": "report COCO's restval images as train (default false)",
    },
)
def read_karpathy(
    path: Path, ctx: ReadContext, *, images: Path | None = None, merge_restval: bool = False
) -> list[Record]:
    """Read one Karpathy split file."""
    file = path if path.is_file() else _single_file(path)
    image_root = Path(images) if images is not None else file.parent
    data = load_json(file)
    name = need(data, "dataset", str, path=file)
    records: list[Record] = []
    for index, image in enumerate(need(data, "images", list, path=file)):
        where = f"images[{index}]."
        with ctx.item(item_id=f"images[{index}]"):
            filename = need(image, "filename", str, path=file, where=where)
            split = need(image, "split", str, path=file, where=where)
            sentences = need(image, "sentences", list, path=file, where=where)
            texts = [
                need(s, "raw", str, path=file, where=f"{where}sentences[{k}].", allow_empty=True)
                for k, s in enumerate(sentences)
            ]
            captions, blank = split_blank(texts)
            if "cocoid" in image:
                image_id = str(need(image, "cocoid", int, path=file, where=where))
            else:
                image_id = Path(filename).stem
            folder = image.get("filepath", "")
            if not captions:
                ctx.skip(file, "blank captions", item_id=image_id)
                continue
            if merge_restval and split == "restval":
                split = "train"
            records.append(
                CaptionExample(
                    id=image_id,
                    image_id=image_id,
                    image=image_root / folder / filename,
                    captions=captions,
                    language="en",
                    source=f"karpathy-{name}",
                    split=split,
                    meta={
                        "imgid": image.get("imgid"),
                        "sentids": image.get("sentids"),
                        "original_split": image["split"],
                        **({"blank_captions": blank} if blank else {}),
                    },
                )
            )
    return records


def _single_file(folder: Path) -> Path:
    files = sorted(folder.glob("dataset_*.json"))
    if len(files) != 1:
        found = ", ".join(f.name for f in files) or "none"
        raise DataFormatError(
            folder, f"expected exactly one dataset_<name>.json, found {found}; give the file"
        )
    return files[0]
