"""Multi30K: line-aligned caption files per language plus the list of image file names.

Two layouts are read: flat, as released for a single split (``<split>.<lang>`` beside
``<split>.images.txt``), and the ``multi30k/dataset`` repository's ``data/task1`` folder
(``raw/<split>.<lang>.gz`` with ``image_splits/<split>.txt``). Line *i* of every language file
describes image *i* of the list. One :class:`CaptionExample` per image and language:
``id = <split>/<line>/<lang>``, ``image_id`` = the file name without extension.
"""

from __future__ import annotations

import re
from pathlib import Path

from vislang.data.readers.card import DatasetCard
from vislang.data.readers.dataset import ReadContext
from vislang.data.readers.fields import text_lines
from vislang.data.readers.registry import register_reader
from vislang.data.schema import CaptionExample, Record
from vislang.errors import DataFormatError

CARD = DatasetCard(
    name="multi30k",
    title="Multi30K",
    task_types=("generation", "ranking"),
    tasks="multimodal machine translation; multilingual captioning; image-text retrieval",
    languages=("en", "de", "fr", "cs"),
    licence="research use; images keep the Flickr30k terms (non-commercial research)",
    citation=(
        "Elliott, Frank, Sima'an & Specia (2016). Multi30K: Multilingual English-German Image "
        "Descriptions. Workshop on Vision and Language. French: Elliott et al. (2017), WMT; "
        "Czech: Barrault et al. (2018), WMT."
    ),
    scope="broad: Flickr30k's everyday scenes of people and animals, replicated in more languages",
    annotator_relationship=(
        "hired: professional translators for the translations, crowdworkers for the independent "
        "descriptions"
    ),
    images="Flickr30k photographs (Flickr); most show people",
    texts=(
        "English Flickr30k captions and their translations into German, French and Czech, "
        "made by translators who also saw the image"
    ),
    binding=(
        "strong for English (written from the image); the translations follow the English "
        "sentence, with the image as context"
    ),
    homepage="https://github.com/multi30k/dataset",
)

_TEXT_FILE = re.compile(r"^(?P<split>.+?)\.(?P<lang>[a-z]{2,3})(?:\.gz)?$")


@register_reader(
    "multi30k",
    card=CARD,
    layout=(
        "folder with <split>.<lang> files and <split>.images.txt, or a data/task1 folder with "
        "raw/<split>.<lang>.gz and image_splits/<split>.txt"
    ),
    kinds=(CaptionExample,),
    options={"images": "folder of the Flickr30k images (default: images/ in PATH)"},
)
def read_multi30k(path: Path, ctx: ReadContext, *, images: Path | None = None) -> list[Record]:
    """Read every split and language of a Multi30K folder."""
    if not path.is_dir():
        raise DataFormatError(path, "expected a folder")
    image_root = Path(images) if images is not None else path / "images"
    if (path / "image_splits").is_dir():
        lists = {f.stem: f for f in sorted((path / "image_splits").glob("*.txt"))}
        text_folder = path / "raw" if (path / "raw").is_dir() else path
    else:
        lists = {f.name[: -len(".images.txt")]: f for f in sorted(path.glob("*.images.txt"))}
        text_folder = path
    if not lists:
        raise DataFormatError(path, "no image list (<split>.images.txt or image_splits/) found")
    records: list[Record] = []
    for split, list_file in lists.items():
        names = text_lines(list_file)
        for number, name in enumerate(names, start=1):
            if not name.strip():
                raise DataFormatError(list_file, "empty image file name", line=number)
        for text_file in _language_files(text_folder, split):
            language = _TEXT_FILE.match(text_file.name)["lang"]
            lines = text_lines(text_file)
            if len(lines) != len(names):
                raise DataFormatError(
                    text_file,
                    f"has {len(lines)} lines but {list_file.name} lists {len(names)} images",
                )
            for number, (name, caption) in enumerate(zip(names, lines, strict=True), start=1):
                with ctx.item(number):
                    if not caption.strip():
                        ctx.skip(
                            text_file,
                            "blank caption",
                            line=number,
                            item_id=f"{split}/{number}/{language}",
                        )
                        continue
                    records.append(
                        CaptionExample(
                            id=f"{split}/{number}/{language}",
                            image_id=Path(name.strip()).stem,
                            image=image_root / name.strip(),
                            captions=(caption.strip(),),
                            language=language,
                            source="multi30k",
                            split=split,
                        )
                    )
    return records


def _language_files(folder: Path, split: str) -> list[Path]:
    files = []
    for file in sorted(folder.glob(f"{split}.*")):
        match = _TEXT_FILE.match(file.name)
        if match and match["split"] == split:
            files.append(file)
    if not files:
        raise DataFormatError(folder, f"no caption files {split}.<lang> for split {split!r}")
    return files
