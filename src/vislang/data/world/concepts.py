"""The atoms of the world: shapes, colours and sizes, with their rendering values and attributes.

Every other module refers to atoms by these English ids (``"red"``, ``"circle"``, ``"large"``);
the grammars under :mod:`vislang.data.world.languages` give each id its words in one language.
"""

from __future__ import annotations

from dataclasses import dataclass

SHAPES: tuple[str, ...] = ("circle", "square", "triangle", "star", "cross", "heart")
COLOURS: tuple[str, ...] = ("red", "orange", "yellow", "green", "blue", "purple", "brown", "black")
SIZES: tuple[str, ...] = ("small", "large")
RELATIONS: tuple[str, ...] = ("left_of", "right_of", "above", "below")
DIRECTIONS: tuple[str, ...] = ("left", "right", "up", "down")

OPPOSITE_RELATION: dict[str, str] = {
    "left_of": "right_of",
    "right_of": "left_of",
    "above": "below",
    "below": "above",
}

# Base RGB of each colour; objects get a small per-object tint on top (see scene sampling).
COLOUR_RGB: dict[str, tuple[int, int, int]] = {
    "red": (214, 39, 40),
    "orange": (250, 140, 20),
    "yellow": (242, 214, 26),
    "green": (44, 160, 44),
    "blue": (31, 96, 220),
    "purple": (140, 64, 190),
    "brown": (125, 78, 40),
    "black": (25, 25, 25),
}

# The NLVR corpus uses three colours, three shapes and three sizes (pixels in a 100x100 box).
NLVR_COLOURS: dict[str, str] = {"Yellow": "yellow", "Black": "black", "#0099ff": "blue"}
NLVR_SHAPES: tuple[str, ...] = ("triangle", "circle", "square")
NLVR_SIZES: tuple[int, ...] = (10, 20, 30)

Compound = tuple[str, str]
"""A colour–shape combination, e.g. ``("green", "triangle")``."""


@dataclass(frozen=True, slots=True)
class Attribute:
    """A property of a concept, for attribute probes (see :func:`concept_attributes`)."""

    name: str
    knowledge_type: str
    shapes: frozenset[str] = frozenset()
    colours: frozenset[str] = frozenset()


# Each attribute holds for a compound "<colour> <shape>" when its shape is in ``shapes`` or its
# colour is in ``colours``. Knowledge types follow McRae's BR_Label names where one fits.
ATTRIBUTES: tuple[Attribute, ...] = (
    Attribute(
        "has_corners",
        "visual-form_and_surface",
        shapes=frozenset({"square", "triangle", "star", "cross"}),
    ),
    Attribute("is_round", "visual-form_and_surface", shapes=frozenset({"circle"})),
    Attribute("has_curved_edges", "visual-form_and_surface", shapes=frozenset({"circle", "heart"})),
    Attribute(
        "is_convex", "visual-form_and_surface", shapes=frozenset({"circle", "square", "triangle"})
    ),
    Attribute(
        "is_regular_polygon", "visual-form_and_surface", shapes=frozenset({"square", "triangle"})
    ),
    Attribute("has_points", "visual-form_and_surface", shapes=frozenset({"triangle", "star"})),
    Attribute("has_three_corners", "visual-form_and_surface", shapes=frozenset({"triangle"})),
    Attribute("has_four_corners", "visual-form_and_surface", shapes=frozenset({"square"})),
    Attribute("has_five_points", "visual-form_and_surface", shapes=frozenset({"star"})),
    Attribute("is_symbol_of_love", "encyclopaedic", shapes=frozenset({"heart"})),
    Attribute("is_plus_sign", "encyclopaedic", shapes=frozenset({"cross"})),
    Attribute(
        "is_warm_colour", "visual-colour", colours=frozenset({"red", "orange", "yellow", "brown"})
    ),
    Attribute("is_cool_colour", "visual-colour", colours=frozenset({"green", "blue", "purple"})),
    Attribute("is_achromatic", "visual-colour", colours=frozenset({"black"})),
    Attribute("is_primary_colour", "visual-colour", colours=frozenset({"red", "yellow", "blue"})),
    Attribute(
        "is_secondary_colour", "visual-colour", colours=frozenset({"orange", "green", "purple"})
    ),
    Attribute("is_dark", "visual-colour", colours=frozenset({"black", "brown", "purple"})),
    Attribute("is_colour_of_plants", "encyclopaedic", colours=frozenset({"green"})),
    Attribute("is_colour_of_sky", "encyclopaedic", colours=frozenset({"blue"})),
)


def all_compounds(
    colours: tuple[str, ...] = COLOURS, shapes: tuple[str, ...] = SHAPES
) -> list[Compound]:
    """Every colour–shape combination, colours outer, shapes inner."""
    return [(c, s) for c in colours for s in shapes]


def concept_attributes(compound: Compound) -> set[str]:
    """The names of the attributes that the compound ``(colour, shape)`` has."""
    colour, shape = compound
    return {a.name for a in ATTRIBUTES if shape in a.shapes or colour in a.colours}
