"""The IGLUE benchmark's JSON lines: xFlickr&CO, MaRVL and XVNLI.

* xFlickr&CO: ``<split>-<lang>.jsonl`` with ``{"sentences": [...], "id", "img_path"}``; one
  :class:`CaptionExample` per line (``id = <image id>/<lang>``), image at ``<images>/<img_path>``.
* MaRVL: ``marvl-<lang>.jsonl`` with ``concept``, ``language``, ``caption``, ``left_img``,
  ``right_img``, ``label``, ``chapter``, ``id``, ``annotator_info``; one
  :class:`StatementExample` per line, images at ``<images>/<lang>/images/<concept>/<img>`` (the
  layout of MaRVL's image release, ``marvl-images/``).
* XVNLI: ``<lang>/<split>.jsonl`` with ``sentence1`` (the premise caption), ``sentence2``
  (the hypothesis), ``gold_label``, ``pairID``, ``Flikr30kID`` (sic); one
  :class:`StatementExample` per line: the statement is the hypothesis, the image the premise,
  ``label`` is true when the hypothesis is entailed, and the three-way class (entailment, neutral,
  contradiction) is kept in ``meta["gold_label"]``. Lines whose gold label is ``-`` (annotators
  did not agree) are listed in ``Dataset.skipped``.
"""

from __future__ import annotations

import re
from pathlib import Path

from vislang.data.readers.card import DatasetCard
from vislang.data.readers.dataset import ReadContext
from vislang.data.readers.fields import json_lines, need, need_label, need_strings, split_blank
from vislang.data.readers.registry import register_reader
from vislang.data.schema import CaptionExample, Record, StatementExample
from vislang.errors import DataFormatError

IGLUE_CITATION = (
    "Bugliarello, Liu, Pfeiffer, Reddy, Elliott, Ponti & Vulić (2022). IGLUE: A Benchmark for "
    "Transfer Learning across Modalities, Tasks, and Languages. ICML."
)

XFLICKRCO_CARD = DatasetCard(
    name="xflickrco",
    title="xFlickr&CO (IGLUE multilingual retrieval)",
    task_types=("ranking",),
    tasks="multilingual image-text retrieval (test set of 2,000 images)",
    languages=("de", "en", "es", "id", "ja", "ru", "tr", "zh"),
    licence=(
        "research use (IGLUE code MIT; captions from their sources); images keep the Flickr30k "
        "and COCO terms"
    ),
    citation=IGLUE_CITATION,
    scope="broad everyday scenes: 1,000 Flickr30k and 1,000 COCO test images",
    annotator_relationship="hired: native speakers paid to write captions in their language",
    images="photographs from Flickr30k and COCO (Flickr); many show people",
    texts=(
        "one caption per image and language, the same images in all eight languages; English "
        "captions come from the source datasets"
    ),
    binding="strong: each caption describes its image",
    homepage="https://github.com/e-bug/iglue",
)

MARVL_CARD = DatasetCard(
    name="marvl",
    title="MaRVL: Multicultural Reasoning over Vision and Language",
    task_types=("classification",),
    tasks="visually grounded reasoning: is the statement true of the pair of images?",
    languages=("id", "sw", "ta", "tr", "zh"),
    licence=(
        "texts CC BY 4.0; images not owned by the authors, provided for non-commercial research "
        "under their original licences"
    ),
    citation=(
        "Liu, Bugliarello, Ponti, Reddy, Collier & Elliott (2021). Visually Grounded Reasoning "
        "across Languages and Cultures. EMNLP."
    ),
    scope=(
        "deep and culture-specific: concepts chosen by native speakers in each of five "
        "typologically diverse languages, beyond the ImageNet/COCO concept set"
    ),
    annotator_relationship=(
        "hired native speakers living in (or born in) the language's region chose the concepts "
        "and images and wrote the statements; annotator details are in meta['annotator_info']"
    ),
    images=(
        "photographs found on the web by native speakers to show the chosen concepts; not "
        "redistributed here (research access from the authors)"
    ),
    texts=(
        "statements written from scratch in Indonesian, Swahili, Tamil, Turkish and Mandarin "
        "about a pair of images, in the NLVR2 protocol"
    ),
    binding="strong and compositional: a statement is true of one pair and false of another",
    homepage="https://marvl-challenge.github.io",
)

XVNLI_CARD = DatasetCard(
    name="xvnli",
    title="XVNLI: cross-lingual visual natural language inference (IGLUE)",
    task_types=("classification",),
    tasks="visual entailment: does the image entail, contradict or leave open the hypothesis?",
    languages=("en", "ar", "es", "fr", "ru"),
    licence=(
        "hypotheses from SNLI (CC BY-SA 4.0) and their translations; images keep the Flickr30k "
        "terms"
    ),
    citation=(
        IGLUE_CITATION + " Built on SNLI-VE: Xie, Lai, Doran & Kadav (2019), Visual Entailment: "
        "A Novel Task for Fine-Grained Image Understanding, arXiv:1901.06706."
    ),
    scope="broad everyday scenes (Flickr30k) with inference-style hypotheses",
    annotator_relationship=(
        "English hypotheses by SNLI crowdworkers; translations into Arabic, Spanish, French and "
        "Russian by hired translators"
    ),
    images="Flickr30k photographs; many show people",
    texts="short hypotheses written about the image's caption, then translated",
    binding=(
        "indirect: hypotheses were written about a caption of the image, not the image itself, "
        "so some labels follow from the caption rather than from what is visible"
    ),
    homepage="https://github.com/e-bug/iglue",
    notes=(
        "label is true iff the gold label is entailment; meta['gold_label'] keeps the three "
        "classes; lines with gold label '-' are skipped and listed"
    ),
)

_LANG_FILE = re.compile(r"^(?P<split>[A-Za-z0-9_]+)-(?P<lang>[a-z]{2,3})\.jsonl$")
_NLI_LABELS = ("entailment", "neutral", "contradiction")


def _jsonl_files(path: Path, pattern: str) -> list[Path]:
    if path.is_file():
        return [path]
    files = sorted(path.glob(pattern))
    if not files:
        raise DataFormatError(path, f"no {pattern} file found")
    return files


@register_reader(
    "xflickrco",
    card=XFLICKRCO_CARD,
    layout="folder of <split>-<lang>.jsonl files (e.g. test-de.jsonl), or one such file",
    kinds=(CaptionExample,),
    options={"images": "folder of the images named by img_path (default: images/ in PATH)"},
)
def read_xflickrco(path: Path, ctx: ReadContext, *, images: Path | None = None) -> list[Record]:
    """Read xFlickr&CO caption files, one per language."""
    folder = path.parent if path.is_file() else path
    image_root = Path(images) if images is not None else folder / "images"
    records: list[Record] = []
    for file in _jsonl_files(path, "*-*.jsonl"):
        match = _LANG_FILE.match(file.name)
        if match is None:
            raise DataFormatError(file, "file name must look like <split>-<lang>.jsonl")
        for line, obj in json_lines(file, ctx):
            with ctx.item(line):
                image_id = str(need(obj, "id", (str, int), path=file, line=line))
                image_path = need(obj, "img_path", str, path=file, line=line)
                sentences = need_strings(obj, "sentences", path=file, line=line)
                captions, blank = split_blank(sentences)
                record_id = f"{image_id}/{match['lang']}"
                if not captions:
                    ctx.skip(file, "blank caption", line=line, item_id=record_id)
                    continue
                origin = "coco" if image_path.startswith("COCO_") else "flickr30k"
                records.append(
                    CaptionExample(
                        id=record_id,
                        image_id=image_id,
                        image=image_root / image_path,
                        captions=captions,
                        language=match["lang"],
                        source="xflickrco",
                        split=match["split"],
                        meta={"origin": origin, **({"blank_captions": blank} if blank else {})},
                    )
                )
    return records


@register_reader(
    "marvl",
    card=MARVL_CARD,
    layout=(
        "folder of marvl-<lang>.jsonl files (or one such file); images at "
        "<images>/<lang>/images/<concept>/<img>"
    ),
    kinds=(StatementExample,),
    options={"images": "MaRVL's marvl-images/ folder (default: marvl-images/ in PATH)"},
)
def read_marvl(path: Path, ctx: ReadContext, *, images: Path | None = None) -> list[Record]:
    """Read MaRVL statement files, one per language."""
    folder = path.parent if path.is_file() else path
    image_root = Path(images) if images is not None else folder / "marvl-images"
    records: list[Record] = []
    for file in _jsonl_files(path, "marvl-*.jsonl"):
        for line, obj in json_lines(file, ctx):
            with ctx.item(line):
                language = need(obj, "language", str, path=file, line=line)
                concept = need(obj, "concept", str, path=file, line=line)
                concept_dir = image_root / language / "images" / concept
                records.append(
                    StatementExample(
                        id=need(obj, "id", str, path=file, line=line),
                        images=(
                            concept_dir / need(obj, "left_img", str, path=file, line=line),
                            concept_dir / need(obj, "right_img", str, path=file, line=line),
                        ),
                        statement=need(obj, "caption", str, path=file, line=line),
                        label=need_label(obj, "label", path=file, line=line),
                        language=language,
                        source="marvl",
                        split="test",
                        meta={
                            "concept": concept,
                            "chapter": need(obj, "chapter", str, path=file, line=line),
                            "annotator_info": obj.get("annotator_info"),
                        },
                    )
                )
    return records


@register_reader(
    "xvnli",
    card=XVNLI_CARD,
    layout=(
        "folder holding [annotations/]<lang>/<split>.jsonl (or one such file, its folder named "
        "by the language); images at <images>/<Flikr30kID>.jpg"
    ),
    kinds=(StatementExample,),
    options={"images": "folder of the Flickr30k images (default: images/ in PATH)"},
)
def read_xvnli(path: Path, ctx: ReadContext, *, images: Path | None = None) -> list[Record]:
    """Read XVNLI files, one per language and split."""
    if path.is_file():
        files, root = [path], path.parent.parent
        if root.name == "annotations":
            root = root.parent
    else:
        root = path
        annotations = path / "annotations" if (path / "annotations").is_dir() else path
        files = sorted(annotations.glob("*/*.jsonl"))
        if not files:
            raise DataFormatError(path, "no <lang>/<split>.jsonl file found")
    image_root = Path(images) if images is not None else root / "images"
    records: list[Record] = []
    for file in files:
        language, split = file.parent.name, file.stem
        for line, obj in json_lines(file, ctx):
            with ctx.item(line):
                pair_id = need(obj, "pairID", str, path=file, line=line)
                gold = need(obj, "gold_label", str, path=file, line=line)
                if gold == "-":
                    ctx.skip(file, "no gold label ('-')", line=line, item_id=pair_id)
                    continue
                if gold not in _NLI_LABELS:
                    raise DataFormatError(
                        file,
                        f"expected one of {_NLI_LABELS} or '-', got {gold!r}",
                        line=line,
                        field="gold_label",
                    )
                flickr_id = str(need(obj, "Flikr30kID", (str, int), path=file, line=line))
                records.append(
                    StatementExample(
                        id=f"{language}/{pair_id}",
                        images=(image_root / f"{flickr_id}.jpg",),
                        statement=need(obj, "sentence2", str, path=file, line=line),
                        label=gold == "entailment",
                        language=language,
                        source="xvnli",
                        split=split,
                        meta={
                            "gold_label": gold,
                            "premise": obj.get("sentence1"),
                            "caption_id": obj.get("captionID"),
                        },
                    )
                )
    return records
