"""Attribute norms of the world's concepts, for attribute probes.

The concepts are the colour–shape compounds ("red circle"); each has the attributes of its shape
(has_corners, is_round, …) and of its colour (is_warm_colour, …), see
:data:`vislang.data.world.concepts.ATTRIBUTES`. One :class:`AttributeNorms` record is made per
language, naming the concepts in that language (``meta["concept_ids"]`` maps each name to its
English id); ``concept_images`` lists up to ``IMAGES_PER_CONCEPT`` scenes showing the concept, in
scene order, with the object's pixel box in ``meta["concept_boxes"]`` and each image's split in
``meta["concept_image_splits"]``. The record has no split of its own (``meta["split"] = "all"``).
"""

from __future__ import annotations

from pathlib import Path

from vislang.data.schema import AttributeNorms
from vislang.data.world import frames as f
from vislang.data.world.concepts import ATTRIBUTES, Compound, all_compounds, concept_attributes
from vislang.data.world.languages import grammar

IMAGES_PER_CONCEPT = 20
SOURCE = "vislang-world"


class ConceptImages:
    """Collects, per compound, the first images that show it (with box and split)."""

    def __init__(self, limit: int = IMAGES_PER_CONCEPT) -> None:
        self.limit = limit
        self.images: dict[Compound, list[tuple[Path, list[int], str]]] = {}

    def add(self, compound: Compound, image: Path, box: list[int], split: str) -> None:
        """Record that ``image`` (of ``split``) shows ``compound`` inside pixel ``box``."""
        found = self.images.setdefault(compound, [])
        if len(found) < self.limit:
            found.append((image, box, split))


def attribute_norms(
    language: str,
    colours: tuple[str, ...],
    shapes: tuple[str, ...],
    images: ConceptImages | None = None,
) -> AttributeNorms:
    """The concept × attribute table of the world in ``language``."""
    speak = grammar(language)
    compounds = all_compounds(colours, shapes)
    names = {c: speak.realise(f.ConceptName(f.NP(c[1], c[0]))) for c in compounds}
    attributes = tuple(a.name for a in ATTRIBUTES)
    positives = {
        a: frozenset(names[c] for c in compounds if a in concept_attributes(c)) for a in attributes
    }
    found = images.images if images is not None else {}
    return AttributeNorms(
        id=f"world-attributes-{language}",
        concepts=tuple(names[c] for c in compounds),
        attributes=attributes,
        knowledge_type={a.name: a.knowledge_type for a in ATTRIBUTES},
        positives=positives,
        language=language,
        source=SOURCE,
        concept_images={names[c]: tuple(i for i, _, _ in found.get(c, ())) for c in compounds},
        meta={
            "split": "all",
            "concept_ids": {names[c]: f"{c[0]} {c[1]}" for c in compounds},
            "concept_boxes": {names[c]: [b for _, b, _ in found.get(c, ())] for c in compounds},
            "concept_image_splits": {
                names[c]: [s for _, _, s in found.get(c, ())] for c in compounds
            },
        },
    )
