"""The binding probe: does an embedding tell which colour goes with which shape?

A pooled embedding that adds up one feature per word or per object (a bag of features) knows
which colours and which shapes a scene has, but not which colour each shape has: "a red circle
and a green star" and "a green circle and a red star" sum to the same vector. Attribute-swap
foils (:mod:`vislang.probe.foils`) test the image and the text tower together; this probe asks
each tower on its own.

It renders two-object scenes of the world (:func:`binding_items`): an *anchor* of each shape in
turn and one other object of another shape and another colour, placed as the world places
objects, each with its inventory caption ("There is a red circle and a green star.", objects
named left to right as the world's captions name them) in any world language. For each side
(image, text) and each anchor shape, a logistic regression learns to name the anchor's colour
from the embedding; it is tested on items it did not see (k-fold). Per side (:class:`BindingScore`):

* ``accuracy``: the anchor's colour named;
* ``swapped``: the other object's colour named instead;
* ``binding`` = accuracy / (accuracy + swapped): 0.5 when the embedding holds the two colours
  but not which is whose (a bag of features), 1 when it binds each colour to its shape.
"""

from __future__ import annotations

import math
import random
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import KFold, cross_val_predict

from vislang.console import progress
from vislang.data.preprocess import preprocess
from vislang.data.world import frames as f
from vislang.data.world.config import WorldConfig
from vislang.data.world.languages import LANGUAGES, grammar
from vislang.data.world.render import render_scene
from vislang.data.world.scene import TEXTURES, Scene, WorldObject, sample_object
from vislang.errors import ConfigError
from vislang.evaluate.retrieval import embed_pixels, embed_texts
from vislang.models.dual_encoder import DualEncoder

SIDES = ("image", "text")
FOLDS = 5
C = 10.0
"""Inverse regularisation strength of the probes (the embeddings have unit length)."""
PER_SHAPE = 1000


@dataclass(frozen=True)
class BindingItem:
    """One two-object scene: the anchor, the other object and the scene's inventory caption."""

    scene: Scene
    anchor: WorldObject
    other: WorldObject
    caption: str


@dataclass(frozen=True)
class BindingScore:
    """How often a side's probes name the anchor's colour, and the other object's instead."""

    side: str
    accuracy: float
    swapped: float
    items: int

    @property
    def binding(self) -> float:
        """accuracy / (accuracy + swapped): 0.5 for a bag of features, 1 for full binding."""
        named = self.accuracy + self.swapped
        return self.accuracy / named if named else math.nan

    def to_dict(self) -> dict[str, float | int | str]:
        """JSON-ready, with the binding index."""
        return {
            "side": self.side,
            "accuracy": self.accuracy,
            "swapped": self.swapped,
            "binding": self.binding,
            "items": self.items,
        }


def binding_items(
    config: WorldConfig, language: str, per_shape: int = PER_SHAPE, seed: int = 0
) -> list[BindingItem]:
    """``per_shape`` two-object scenes for each shape of ``config`` as the anchor (see the
    module docstring), with their inventory captions in ``language``."""
    if per_shape < FOLDS:
        raise ConfigError(f"binding probe: need at least {FOLDS} scenes per shape, not {per_shape}")
    if len(config.shapes) < 2 or len(config.colours) < 2:
        raise ConfigError("binding probe: the world needs at least two shapes and two colours")
    if language not in LANGUAGES:
        raise ConfigError(
            f"binding probe: language {language!r} unknown; the world's: {', '.join(LANGUAGES)}"
        )
    speak = grammar(language)
    rng = random.Random(seed)
    items: list[BindingItem] = []
    for shape in config.shapes:
        for index in range(per_shape):
            colour, other_colour = rng.sample(config.colours, 2)
            other_shape = rng.choice([s for s in config.shapes if s != shape])
            anchor = sample_object(rng, config, (), (colour, shape))
            other = sample_object(rng, config, (anchor,), (other_colour, other_shape))
            assert anchor is not None and other is not None  # two objects always fit
            left_to_right = sorted((anchor, other), key=lambda obj: obj.x)
            frame = f.Exists(tuple(f.Item(f.NP(obj.shape, obj.colour)) for obj in left_to_right))
            scene = Scene(f"binding-{shape}-{index}", (anchor, other), rng.randrange(TEXTURES))
            items.append(BindingItem(scene, anchor, other, speak.realise(frame)))
    return items


def score_binding(
    side: str, vectors: np.ndarray, items: Sequence[BindingItem], seed: int = 0
) -> BindingScore:
    """Cross-validated probes of one side's ``vectors`` (one row per item): per anchor shape,
    the anchor's colour from the vector."""
    if len(vectors) != len(items):
        raise ValueError(f"{len(vectors)} vectors for {len(items)} items")
    right = swapped = 0
    for shape in sorted({item.anchor.shape for item in items}):
        rows = [i for i, item in enumerate(items) if item.anchor.shape == shape]
        labels = np.asarray([items[i].anchor.colour for i in rows])
        folds = KFold(n_splits=FOLDS, shuffle=True, random_state=seed)
        classifier = LogisticRegression(C=C, max_iter=2000)
        predicted = cross_val_predict(classifier, vectors[rows], labels, cv=folds)
        others = np.asarray([items[i].other.colour for i in rows])
        right += int((predicted == labels).sum())
        swapped += int((predicted == others).sum())
    return BindingScore(side, right / len(items), swapped / len(items), len(items))


def probe_binding(
    encoder: DualEncoder,
    items: Sequence[BindingItem],
    *,
    seed: int = 0,
    batch_size: int = 256,
    show_progress: bool = False,
) -> dict[str, BindingScore]:
    """The image and the text side of ``encoder`` on ``items``: scenes rendered at the world's
    size and preprocessed as the encoder preprocesses, captions as they are."""
    with progress(transient=True, disable=not show_progress) as bar:
        rendering = bar.add_task("rendering scenes", total=len(items))
        rendered = []
        for item in items:
            rendered.append(preprocess(render_scene(item.scene), encoder.preprocess))
            bar.advance(rendering)
        captions = [item.caption for item in items]
        vectors = {
            "image": embed_pixels(
                encoder, torch.from_numpy(np.stack(rendered)), batch_size=batch_size
            ),
            "text": embed_texts(encoder, captions, batch_size=batch_size),
        }
        probing = bar.add_task("probing", total=len(SIDES))
        scores = {}
        for side in SIDES:
            scores[side] = score_binding(side, vectors[side], items, seed)
            bar.advance(probing)
    return scores
