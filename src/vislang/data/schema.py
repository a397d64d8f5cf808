"""The example schema: one small set of record types that every reader produces and every model,
metric and probe consumes.

The lectures sort vision-and-language tasks into three types, and the records follow them:

* generation P(x|v): :class:`CaptionExample` (captioning; retrieval uses the same records),
  :class:`SequenceExample` (predict the next step's description);
* classification P(y|x,v): :class:`StatementExample` (NLVR, NLVR2, MaRVL: true/false),
  :class:`VQAExample` (answers with annotator counts);
* ranking Distance(x,v): :class:`CaptionExample` again, :class:`FoilExample` (caption vs foil),
  :class:`WinogroundExample` (two images × two captions);

plus :class:`AttributeNorms`, a concept × attribute table for probing representations.

Images are referenced by path and decoded lazily through :mod:`vislang.data.images`. Every record
keeps the id it has in its source dataset (``id``), the dataset's name (``source``) and the
``language`` of its text (an ISO 639-1 code where one exists).

Records serialise to plain JSON dicts with :func:`to_dict` (tagged with ``"kind"``) and back with
:func:`from_dict`; image paths are written relative to a base folder when one is given.
"""

from __future__ import annotations

import dataclasses
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from vislang.errors import DataFormatError


@dataclass(slots=True)
class CaptionExample:
    """An image with one or more captions in one language (captioning and retrieval).

    ``image_id`` identifies the image across records (the same image described in several
    languages has one ``image_id`` and one record per language); ``id`` is the record's own id.
    """

    kind: ClassVar[str] = "captions"
    id: str
    image_id: str
    image: Path | None
    captions: tuple[str, ...]
    language: str
    source: str
    split: str | None = None
    meta: dict[str, Any] = field(default_factory=dict)


@dataclass(slots=True)
class StatementExample:
    """A statement about one or more images, labelled true or false (NLVR, NLVR2, MaRVL).

    NLVR (v1) has six renderings of one scene per statement; NLVR2 and MaRVL a left and a right
    image. A structured scene, where the source has one, is kept in ``meta["structured_rep"]``.
    """

    kind: ClassVar[str] = "statement"
    id: str
    images: tuple[Path, ...]
    statement: str
    label: bool
    language: str
    source: str
    split: str | None = None
    meta: dict[str, Any] = field(default_factory=dict)


@dataclass(slots=True)
class VQAExample:
    """A question about an image with the answers of each annotator (VQAv2 has ten).

    ``answers`` keeps one entry per annotator, in order, so that the official leave-one-out
    accuracy can be computed; :attr:`answer_counts` gives each distinct answer's count.
    """

    kind: ClassVar[str] = "vqa"
    id: str
    image: Path | None
    question: str
    answers: tuple[str, ...]
    language: str
    source: str
    split: str | None = None
    question_type: str | None = None
    answer_type: str | None = None
    meta: dict[str, Any] = field(default_factory=dict)

    @property
    def answer_counts(self) -> Counter[str]:
        """How many annotators gave each answer."""
        return Counter(self.answers)


@dataclass(slots=True)
class FoilExample:
    """A caption and a minimally different false caption (foil) for the same image (VALSE).

    ``valid`` is the source's validity judgement (VALSE: at least 2 of 3 annotators found the
    caption correct); probes use valid items only unless asked otherwise.
    """

    kind: ClassVar[str] = "foil"
    id: str
    image: Path | None
    caption: str
    foil: str
    phenomenon: str
    language: str
    source: str
    valid: bool = True
    split: str | None = None
    meta: dict[str, Any] = field(default_factory=dict)


@dataclass(slots=True)
class WinogroundExample:
    """Two images and two captions with the same words in a different order.

    ``captions[0]`` is true of ``images[0]`` and ``captions[1]`` of ``images[1]``.
    """

    kind: ClassVar[str] = "winoground"
    id: str
    images: tuple[Path, Path]
    captions: tuple[str, str]
    language: str
    source: str
    tag: str | None = None
    secondary_tag: str | None = None
    collapsed_tag: str | None = None
    split: str | None = None
    meta: dict[str, Any] = field(default_factory=dict)


@dataclass(slots=True)
class Step:
    """One step of a sequence: a keyframe image and a short description of what happens."""

    image: Path | None
    description: str


@dataclass(slots=True)
class SequenceExample:
    """Consecutive steps of an activity and the description of the next step to predict.

    ``target_atoms`` holds the target's parts (e.g. ``{"verb": "add", "object": "red circle"}``)
    for exact-match and categorical-accuracy scoring.
    """

    kind: ClassVar[str] = "sequence"
    id: str
    steps: tuple[Step, ...]
    target: str
    language: str
    source: str
    split: str | None = None
    target_atoms: dict[str, str] = field(default_factory=dict)
    meta: dict[str, Any] = field(default_factory=dict)


@dataclass(slots=True)
class AttributeNorms:
    """A concept × attribute table: which concepts have which attributes (McRae, THINGS, world).

    ``positives[attribute]`` is the set of concepts that have it; ``knowledge_type[attribute]`` its
    type (McRae's ``BR_Label``: taxonomic, function, visual-colour, ...). ``concept_images``
    optionally lists images of each concept, for probes over image features.
    """

    kind: ClassVar[str] = "attribute_norms"
    id: str
    concepts: tuple[str, ...]
    attributes: tuple[str, ...]
    knowledge_type: dict[str, str]
    positives: dict[str, frozenset[str]]
    language: str
    source: str
    concept_images: dict[str, tuple[Path, ...]] = field(default_factory=dict)
    meta: dict[str, Any] = field(default_factory=dict)

    def matrix(self) -> np.ndarray:
        """The boolean (concepts × attributes) matrix, rows and columns in table order."""
        index = {c: i for i, c in enumerate(self.concepts)}
        out = np.zeros((len(self.concepts), len(self.attributes)), dtype=bool)
        for j, attribute in enumerate(self.attributes):
            for concept in self.positives.get(attribute, ()):
                out[index[concept], j] = True
        return out

    def attributes_with_min_positives(self, minimum: int) -> list[str]:
        """Attributes that at least ``minimum`` concepts have (probes need enough positives)."""
        return [a for a in self.attributes if len(self.positives.get(a, ())) >= minimum]


Record = (
    CaptionExample
    | StatementExample
    | VQAExample
    | FoilExample
    | WinogroundExample
    | SequenceExample
    | AttributeNorms
)

RECORD_TYPES: dict[str, type] = {
    cls.kind: cls
    for cls in (
        CaptionExample,
        StatementExample,
        VQAExample,
        FoilExample,
        WinogroundExample,
        SequenceExample,
        AttributeNorms,
    )
}

_PATH_FIELDS = {"image", "images"}


def _path_out(path: Path | None, base: Path | None) -> str | None:
    if path is None:
        return None
    if base is not None:
        try:
            return Path(path).relative_to(base).as_posix()
        except ValueError:
            pass
    return Path(path).as_posix()


def _path_in(value: str | None, base: Path | None) -> Path | None:
    if value is None:
        return None
    path = Path(value)
    return path if base is None or path.is_absolute() else base / path


def to_dict(record: Record, base: str | Path | None = None) -> dict[str, Any]:
    """A JSON-ready dict of ``record``, ``"kind"`` first; paths made relative to ``base``."""
    base = Path(base) if base is not None else None
    out: dict[str, Any] = {"kind": record.kind}
    for f in dataclasses.fields(record):
        value = getattr(record, f.name)
        if f.name == "image":
            value = _path_out(value, base)
        elif f.name == "images":
            value = [_path_out(p, base) for p in value]
        elif f.name == "steps":
            value = [
                {"image": _path_out(s.image, base), "description": s.description} for s in value
            ]
        elif f.name == "positives":
            value = {k: sorted(v) for k, v in value.items()}
        elif f.name == "concept_images":
            value = {k: [_path_out(p, base) for p in v] for k, v in value.items()}
        elif isinstance(value, tuple):
            value = list(value)
        out[f.name] = value
    return out


def from_dict(
    data: Mapping[str, Any],
    base: str | Path | None = None,
    *,
    source_file: str | Path = "<dict>",
    line: int | None = None,
) -> Record:
    """Rebuild a record from :func:`to_dict` output; relative paths are resolved against ``base``.

    Raises :class:`DataFormatError` naming ``source_file``, ``line`` and the missing or bad field.
    """
    base = Path(base) if base is not None else None
    kind = data.get("kind")
    if kind not in RECORD_TYPES:
        raise DataFormatError(source_file, f"unknown record kind {kind!r}", line=line, field="kind")
    cls = RECORD_TYPES[kind]
    values: dict[str, Any] = {}
    for f in dataclasses.fields(cls):
        if f.name not in data:
            if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
                raise DataFormatError(source_file, "missing", line=line, field=f.name)
            continue
        value = data[f.name]
        try:
            values[f.name] = _convert_in(f.name, value, base)
        except (TypeError, ValueError, AttributeError, KeyError) as exc:
            raise DataFormatError(
                source_file, f"bad value: {exc}", line=line, field=f.name
            ) from exc
    return cls(**values)


def _convert_in(name: str, value: Any, base: Path | None) -> Any:
    if name == "image":
        return _path_in(value, base)
    if name == "images":
        return tuple(_path_in(v, base) for v in value)
    if name == "steps":
        return tuple(Step(_path_in(s.get("image"), base), str(s["description"])) for s in value)
    if name == "positives":
        return {k: frozenset(v) for k, v in value.items()}
    if name == "concept_images":
        return {k: tuple(_path_in(p, base) for p in v) for k, v in value.items()}
    if name in {"captions", "answers", "concepts", "attributes"}:
        if isinstance(value, str) or not isinstance(value, Sequence):
            raise TypeError(f"expected a list, got {type(value).__name__}")
        return tuple(value)
    if name == "label" and not isinstance(value, bool):
        raise TypeError(f"expected true or false, got {value!r}")
    return value
