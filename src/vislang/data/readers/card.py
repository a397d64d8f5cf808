"""Dataset cards: what a dataset is, in the terms the lectures use to describe any dataset.

A card records the task types (generation P(x|v), classification P(y|x,v), ranking
Distance(x,v)), the languages, the licence and the citation, and the five key factors to know about
any dataset: its scope, the relationship between its creators and its annotators, its images, its
texts, and the binding (how tightly the text is tied to the image).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any, Literal

TaskType = Literal["generation", "classification", "ranking"]
TASK_TYPES: tuple[str, ...] = ("generation", "classification", "ranking")


@dataclass(frozen=True)
class DatasetCard:
    """The description every reader carries for the dataset it reads."""

    name: str
    title: str
    task_types: tuple[TaskType, ...]
    tasks: str
    languages: tuple[str, ...]
    licence: str
    citation: str
    scope: str
    annotator_relationship: str
    images: str
    texts: str
    binding: str
    homepage: str = ""
    notes: str = ""

    def __post_init__(self) -> None:
        unknown = [t for t in self.task_types if t not in TASK_TYPES]
        if unknown or not self.task_types:
            raise ValueError(f"card {self.name!r}: task types must be among {TASK_TYPES}")

    def to_dict(self) -> dict[str, Any]:
        """The card as a JSON-ready dict (tuples become lists)."""
        return {
            f.name: list(v) if isinstance(v := getattr(self, f.name), tuple) else v
            for f in dataclasses.fields(self)
        }

    def key_factors(self) -> dict[str, str]:
        """The five key factors, in the lectures' order."""
        return {
            "scope": self.scope,
            "annotator relationship": self.annotator_relationship,
            "images": self.images,
            "texts": self.texts,
            "binding": self.binding,
        }
