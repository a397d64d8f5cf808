"""What zero-shot classification predicts, for the data formats that have classes.

``world`` (folders written by ``vislang world generate``): the **single-object scenes**, whose
class is unambiguous, with three tasks:

* ``shape``: the object's shape (6 classes);
* ``colour``: its colour (8 classes);
* ``compound``: colour and shape (48 classes). In a compositional world the held-out compounds are
  among the classes, and the single-object scenes of ``test_comp`` show only those: a model that
  never read "black triangle" must still put the two words together.

Class names are the world grammar's citation forms in every language of the data ("red circle",
"roter Kreis", "kırmızı daire", "红色的圆形"); the prompts are the ``world`` template set. The
objects of a scene come from the JSON written beside its image (``images/<id>.json``).

``coco``: ``object``, the image's dominant object category by instance count (the reader puts
the counts of ``instances_<subset>.json`` in ``meta["objects"]``). Images without instances, or
whose largest count is shared by several categories, are left out and counted. The classes are
every category that occurs in the data's instance annotations, named as COCO names them
(English); the prompts are the ``photo`` template set.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

from vislang.data.readers.dataset import Dataset
from vislang.data.readers.fields import load_json, need
from vislang.data.schema import CaptionExample
from vislang.data.world import COLOURS, SHAPES, grammar
from vislang.data.world import frames as f
from vislang.errors import ConfigError
from vislang.evaluate.zeroshot import ClassificationSet

WORLD_TASKS: tuple[str, ...] = ("shape", "colour", "compound")
COCO_TASKS: tuple[str, ...] = ("object",)


def classification_sets(
    dataset: Dataset, tasks: Sequence[str] | None = None
) -> list[ClassificationSet]:
    """The classification sets of ``dataset`` (all its tasks, or the ones named)."""
    builders = _BUILDERS.get(dataset.format)
    if builders is None:
        raise ConfigError(
            f"no zero-shot classes are defined for format {dataset.format!r} "
            f"(formats with classes: {', '.join(sorted(_BUILDERS))})"
        )
    wanted = list(tasks) if tasks else list(builders)
    unknown = [task for task in wanted if task not in builders]
    if unknown:
        raise ConfigError(
            f"format {dataset.format!r} has no zero-shot task {unknown[0]!r} "
            f"(tasks: {', '.join(builders)})"
        )
    captions = dataset.of_kind(CaptionExample)
    if not captions:
        raise ConfigError(f"{dataset.path}: no caption records, so no images to classify")
    return [builders[task](captions) for task in wanted]


def _distinct_images(records: Sequence[CaptionExample]) -> dict[str, Path]:
    images: dict[str, Path] = {}
    for record in records:
        if record.image is not None:
            images.setdefault(record.image_id, record.image)
    return images


# --- the synthetic world ---------------------------------------------------------------------


def _world_single_objects(records: Sequence[CaptionExample]) -> tuple[list[tuple], int]:
    """``(image, colour, shape)`` of the single-object scenes, and how many scenes have more."""
    singles, others = [], 0
    for image in _distinct_images(records).values():
        scene_file = Path(image).with_suffix(".json")
        scene = load_json(scene_file)
        objects = need(scene, "objects", list, path=scene_file)
        if len(objects) != 1:
            others += 1
            continue
        where = "objects[0]."
        colour = need(objects[0], "colour", str, path=scene_file, where=where)
        shape = need(objects[0], "shape", str, path=scene_file, where=where)
        singles.append((image, colour, shape))
    return singles, others


def _world_set(
    records: Sequence[CaptionExample],
    task: str,
    classes: list[tuple[str | None, str | None]],
    describe: str,
) -> ClassificationSet:
    singles, others = _world_single_objects(records)
    languages = sorted({record.language for record in records})
    ids = [_class_id(colour, shape) for colour, shape in classes]

    def label(colour: str, shape: str) -> str:
        return _class_id(colour if task != "shape" else None, shape if task != "colour" else None)

    names = {
        language: {
            class_id: grammar(language).realise(f.ConceptName(f.NP(shape, colour)))
            for class_id, (colour, shape) in zip(ids, classes, strict=True)
        }
        for language in languages
    }
    return ClassificationSet(
        task=task,
        images=tuple(image for image, _, _ in singles),
        labels=tuple(label(colour, shape) for _, colour, shape in singles),
        classes=tuple(ids),
        class_names=names,
        templates="world",
        description=f"{describe} of the single-object scenes ({others} scenes with more left out)",
        left_out=others,
    )


def _class_id(colour: str | None, shape: str | None) -> str:
    return " ".join(part for part in (colour, shape) if part)


def _world_shape(records: Sequence[CaptionExample]) -> ClassificationSet:
    return _world_set(records, "shape", [(None, s) for s in SHAPES], "the shape")


def _world_colour(records: Sequence[CaptionExample]) -> ClassificationSet:
    return _world_set(records, "colour", [(c, None) for c in COLOURS], "the colour")


def _world_compound(records: Sequence[CaptionExample]) -> ClassificationSet:
    pairs = [(c, s) for c in COLOURS for s in SHAPES]
    return _world_set(records, "compound", pairs, "colour and shape")


# --- COCO --------------------------------------------------------------------------------------


def _coco_object(records: Sequence[CaptionExample]) -> ClassificationSet:
    categories: set[str] = set()
    labelled: list[tuple[Path, str]] = []
    left_out = 0
    seen: set[str] = set()
    for record in records:
        if record.image is None or record.image_id in seen:
            continue
        seen.add(record.image_id)
        objects = record.meta.get("objects")
        if objects is None:
            raise ConfigError(
                f"record {record.id!r} has no instance counts (meta['objects']): zero-shot "
                "classes of COCO need annotations/instances_<subset>.json beside the captions"
            )
        categories.update(objects)
        top = max(objects.values(), default=0)
        leaders = [name for name, count in objects.items() if count == top]
        if top == 0 or len(leaders) != 1:
            left_out += 1
            continue
        labelled.append((record.image, leaders[0]))
    classes = tuple(sorted(categories))
    return ClassificationSet(
        task="object",
        images=tuple(image for image, _ in labelled),
        labels=tuple(label for _, label in labelled),
        classes=classes,
        class_names={"en": {name: name for name in classes}},
        templates="photo",
        description=(
            "the dominant object category by instance count "
            f"({left_out} images without instances or with a tie left out)"
        ),
        left_out=left_out,
    )


_BUILDERS: dict[str, dict[str, Callable[[Sequence[CaptionExample]], ClassificationSet]]] = {
    "world": {"shape": _world_shape, "colour": _world_colour, "compound": _world_compound},
    "coco": {"object": _coco_object},
}
