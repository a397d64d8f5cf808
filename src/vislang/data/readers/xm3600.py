"""Crossmodal-3600 ``captions.jsonl``: one line per image, captions in 36 languages.

A line is ``{"image/key": KEY, ..., "<lang>": {"caption": [...], "caption/tokenized": [...],
"caption/tokenized/lowercase": [...]}, ...}``; other ``image/...`` keys (e.g. ``image/locale``)
describe the image and go to ``meta``. One :class:`CaptionExample` per image and language
(``id = KEY/lang``, ``image_id = KEY``), image at ``images/KEY.jpg``. XM3600 is an evaluation set:
records have split ``test``.
"""

from __future__ import annotations

from pathlib import Path

from vislang.data.readers.card import DatasetCard
from vislang.data.readers.dataset import ReadContext
from vislang.data.readers.fields import json_lines, need, need_strings, split_blank
from vislang.data.readers.registry import register_reader
from vislang.data.schema import CaptionExample, Record

LANGUAGES = (
    "ar", "bn", "cs", "da", "de", "el", "en", "es", "fa", "fi", "fil", "fr", "he", "hi", "hr",
    "hu", "id", "it", "ja", "ko", "mi", "nl", "no", "pl", "pt", "quz", "ro", "ru", "sv", "sw",
    "te", "th", "tr", "uk", "vi", "zh",
)  # fmt: skip

CARD = DatasetCard(
    name="xm3600",
    title="Crossmodal-3600 (XM3600)",
    task_types=("generation", "ranking"),
    tasks="multilingual image captioning (evaluation); multilingual image-text retrieval",
    languages=LANGUAGES,
    licence="captions CC BY 4.0; images from Open Images, each under CC BY 2.0",
    citation=(
        "Thapliyal, Pont-Tuset, Chen & Soricut (2022). Crossmodal-3600: A Massively "
        "Multilingual Multimodal Evaluation Dataset. EMNLP."
    ),
    scope=(
        "broad and geographically diverse: 3,600 images, 100 from each of 36 regions where the "
        "36 languages are spoken"
    ),
    annotator_relationship=(
        "hired: professional native-speaker annotators following one style guideline for all "
        "languages"
    ),
    images="photographs from Open Images selected per region; may show people",
    texts=(
        "captions written directly in each of the 36 languages (not translated), about two per "
        "image and language"
    ),
    binding="strong: each caption describes its image, written in a consistent descriptive style",
    homepage="https://google.github.io/crossmodal-3600/",
)


@register_reader(
    "xm3600",
    card=CARD,
    layout="folder holding captions.jsonl and images/KEY.jpg (or the captions.jsonl file)",
    kinds=(CaptionExample,),
    options={"images": "folder of the KEY.jpg images (default: images/ beside captions.jsonl)"},
)
def read_xm3600(path: Path, ctx: ReadContext, *, images: Path | None = None) -> list[Record]:
    """Read XM3600's ``captions.jsonl``."""
    file = path if path.is_file() else path / "captions.jsonl"
    image_root = Path(images) if images is not None else file.parent / "images"
    records: list[Record] = []
    for line, obj in json_lines(file, ctx):
        with ctx.item(line):
            key = need(obj, "image/key", str, path=file, line=line)
            image_meta = {
                k: v for k, v in obj.items() if k.startswith("image/") and k != "image/key"
            }
            line_records = []
            for language in obj:
                if language.startswith("image/"):
                    continue
                entry = need(obj, language, dict, path=file, line=line)
                texts = need_strings(entry, "caption", path=file, line=line, where=f"{language}.")
                captions, blank = split_blank(texts)
                if not captions:
                    ctx.skip(file, "blank captions", line=line, item_id=f"{key}/{language}")
                    continue
                meta = {**image_meta, **({"blank_captions": blank} if blank else {})}
                line_records.append(
                    CaptionExample(
                        id=f"{key}/{language}",
                        image_id=key,
                        image=image_root / f"{key}.jpg",
                        captions=captions,
                        language=language,
                        source="xm3600",
                        split="test",
                        meta=meta,
                    )
                )
            records.extend(line_records)
    return records
