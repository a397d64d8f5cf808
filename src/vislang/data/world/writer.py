"""Writing a world to disk: images, scene files, task files, splits, card and manifest.

The world is written into a hidden staging folder beside ``out`` and renamed into place at the
end, so ``out`` either does not exist yet or holds a complete world. Output is byte-identical for
the same config on the same software stack: PNGs carry no metadata, JSON keeps insertion order,
the manifest has no timestamps, and work split over several processes is reassembled in scene
order. Checksums (SHA-256) of every file are in ``manifest.json``.

Layout::

    manifest.json  card.md  splits.json
    images/<image id>.png   images/<image id>.json   (the scene: ground truth and pixel boxes)
    tasks/{captions,vqa,statements,foils,winoground,sequences,attributes}.jsonl
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import json
import multiprocessing
import os
import shutil
from collections import defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

from vislang import __version__
from vislang.data.schema import Record
from vislang.data.world.attributes import ConceptImages
from vislang.data.world.card import dataset_card
from vislang.data.world.config import WorldConfig
from vislang.data.world.generate import TASK_FILES, World, WorldItem, image_path
from vislang.data.world.nlvr import IMAGE_SIZE as NLVR_IMAGE_SIZE
from vislang.data.world.nlvr import object_box as nlvr_object_box
from vislang.data.world.nlvr import render_nlvr
from vislang.data.world.render import object_box, object_rgb, png_bytes, render_scene
from vislang.data.world.scene import Scene
from vislang.errors import DataFormatError, VislangError

FORMAT = "vislang-world"
_ENCODER = json.JSONEncoder(ensure_ascii=False)
_CHUNK = 64  # scenes per unit of work handed to a worker process


@dataclass
class ScenePayload:
    """Everything one scene contributes to the output, ready to write."""

    index: int
    split: str
    scene_id: str
    files: list[tuple[str, bytes]] = field(default_factory=list)
    lines: dict[str, list[str]] = field(default_factory=dict)
    counts: list[tuple[str, str, str]] = field(default_factory=list)
    concepts: list[tuple[tuple[str, str], str, list[int]]] = field(default_factory=list)


def scene_json(scene: Scene, split: str, size: int) -> dict[str, Any]:
    """The ground truth written next to an image: the scene with each object's pixel box and
    fill colour at ``size``."""
    data = scene.to_dict()
    data["split"] = split
    data["image_size"] = [size, size]
    for obj, entry in zip(scene.objects, data["objects"], strict=True):
        entry["rgb"] = list(object_rgb(obj))
        entry["bbox"] = list(object_box(obj, size))
    return data


def nlvr_json(image_id: str, parent: str, split: str, rep: list) -> dict[str, Any]:
    """The ground truth of an NLVR-layout image: its ``structured_rep`` and pixel boxes."""
    return {
        "id": image_id,
        "parent": parent,
        "split": split,
        "layout": "nlvr",
        "image_size": list(NLVR_IMAGE_SIZE),
        "structured_rep": rep,
        "bboxes": [[list(nlvr_object_box(o, b)) for o in box] for b, box in enumerate(rep)],
    }


def _encode(data: Any) -> bytes:
    return (_ENCODER.encode(data) + "\n").encode("utf-8")


@cache
def _field_names(record_type: type) -> tuple[str, ...]:
    return tuple(f.name for f in dataclasses.fields(record_type))


def record_line(record: Record) -> str:
    """The JSON line of ``record``: the same as ``to_dict(record, base=out)`` for the world's
    records (their paths are already relative to ``out``), built without re-parsing each path.

    The tests check the equality for every record kind, so a change of the schema's
    serialisation cannot go unnoticed.
    """
    out: dict[str, Any] = {"kind": record.kind}
    for name in _field_names(type(record)):
        value = getattr(record, name)
        if name == "image":
            value = value.as_posix()
        elif name == "images":
            value = [p.as_posix() for p in value]
        elif name == "steps":
            value = [{"image": s.image.as_posix(), "description": s.description} for s in value]
        elif name == "positives":
            value = {k: sorted(v) for k, v in value.items()}
        elif name == "concept_images":
            value = {k: [p.as_posix() for p in v] for k, v in value.items()}
        elif isinstance(value, tuple):
            value = list(value)
        out[name] = value
    return _ENCODER.encode(out)


def scene_payload(world: World, item: WorldItem) -> ScenePayload:
    """Render and serialise one item (runs in worker processes for big worlds)."""
    size = world.config.image_size
    payload = ScenePayload(item.index, item.split, item.scene.id)
    for image_id, scene in item.scenes.items():
        image = render_scene(scene, size, texture=world.config.texture)
        payload.files.append((image_path(image_id).as_posix(), png_bytes(image)))
        payload.files.append(
            (f"images/{image_id}.json", _encode(scene_json(scene, item.split, size)))
        )
    for image_id, rep in item.nlvr.items():
        payload.files.append((image_path(image_id).as_posix(), png_bytes(render_nlvr(rep))))
        payload.files.append(
            (
                f"images/{image_id}.json",
                _encode(nlvr_json(image_id, item.scene.id, item.split, rep)),
            )
        )
    for task, records in item.records.items():
        payload.lines[task] = [record_line(r) for r in records]
        payload.counts += [(task, item.split, r.language) for r in records]
    seen = set()
    for obj in item.scene.objects:
        if obj.compound not in seen:
            seen.add(obj.compound)
            payload.concepts.append(
                (obj.compound, image_path(item.scene.id).as_posix(), list(object_box(obj, size)))
            )
    return payload


_WORKER_WORLD: World | None = None


def _init_worker(config: WorldConfig) -> None:
    global _WORKER_WORLD
    _WORKER_WORLD = World(config)


def _payload_chunk(bounds: tuple[int, int]) -> list[ScenePayload]:
    assert _WORKER_WORLD is not None
    return [scene_payload(_WORKER_WORLD, item) for item in _WORKER_WORLD.items(*bounds)]


def iter_payloads(config: WorldConfig, workers: int = 1) -> Iterator[ScenePayload]:
    """Payloads of every scene in order, computed in ``workers`` processes."""
    if workers <= 1:
        world = World(config)
        for item in world.items():
            yield scene_payload(world, item)
        return
    chunks = [(s, min(s + _CHUNK, config.scenes)) for s in range(0, config.scenes, _CHUNK)]
    context = multiprocessing.get_context("spawn")
    with context.Pool(workers, initializer=_init_worker, initargs=(config,)) as pool:
        for payloads in pool.imap(_payload_chunk, chunks):
            yield from payloads


class _HashedWriter:
    """Writes files under a root and remembers each file's SHA-256."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.checksums: dict[str, str] = {}

    def write(self, relpath: str, data: bytes) -> None:
        path = self.root / relpath
        with open(path, "wb") as handle:
            handle.write(data)
        self.checksums[relpath] = hashlib.sha256(data).hexdigest()

    @contextlib.contextmanager
    def lines(self, relpath: str) -> Iterator[Callable[[str], None]]:
        digest = hashlib.sha256()
        with open(self.root / relpath, "wb") as handle:

            def add(line: str) -> None:
                data = (line + "\n").encode("utf-8")
                handle.write(data)
                digest.update(data)

            yield add
        self.checksums[relpath] = digest.hexdigest()


def _nested_counts(flat: dict[tuple[str, str, str], int]) -> dict[str, Any]:
    out: dict[str, Any] = {task: {} for task in TASK_FILES}
    for (task, split, language), n in sorted(flat.items()):
        out[task].setdefault(split, {})[language] = n
    return out


def check_output(out: str | Path, overwrite: bool = False) -> None:
    """Raise :class:`VislangError` when ``out`` holds files and ``overwrite`` is not set."""
    out = Path(out)
    if out.exists() and (not out.is_dir() or any(out.iterdir())) and not overwrite:
        raise VislangError(f"{out} exists and is not empty (pass --overwrite to replace it)")


def _prepare(out: Path, overwrite: bool) -> Path:
    check_output(out, overwrite)
    staging = out.parent / f".{out.name}.partial-{os.getpid()}"
    if staging.exists():
        shutil.rmtree(staging)
    (staging / "images").mkdir(parents=True)
    (staging / "tasks").mkdir()
    return staging


def _publish(staging: Path, out: Path) -> None:
    if out.exists():
        old = out.parent / f".{out.name}.old-{os.getpid()}"
        os.replace(out, old)
        os.replace(staging, out)
        if old.is_dir():
            shutil.rmtree(old)
        else:
            old.unlink()
    else:
        os.replace(staging, out)


def write_world(
    config: WorldConfig,
    out: str | Path,
    *,
    workers: int = 1,
    overwrite: bool = False,
    on_scene: Callable[[int], None] | None = None,
) -> dict[str, Any]:
    """Generate the world of ``config`` into folder ``out``; returns the manifest.

    ``on_scene(n)`` is called after each scene is written (for progress bars). With ``workers``
    > 1 scenes are generated in that many processes; the output is the same.
    """
    out = Path(out)
    staging = _prepare(out, overwrite)
    try:
        manifest = _write_into(staging, config, workers, on_scene)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    _publish(staging, out)
    return manifest


def _write_into(
    staging: Path, config: WorldConfig, workers: int, on_scene: Callable[[int], None] | None
) -> dict[str, Any]:
    world = World(config)
    files = _HashedWriter(staging)
    counts: dict[tuple[str, str, str], int] = defaultdict(int)
    scenes_by_split: dict[str, list[str]] = defaultdict(list)
    concepts = ConceptImages()
    images = 0
    with contextlib.ExitStack() as stack:
        writers = {
            task: stack.enter_context(files.lines(f"tasks/{task}.jsonl"))
            for task in TASK_FILES
            if task != "attributes"
        }
        for payload in iter_payloads(config, workers):
            for relpath, data in payload.files:
                files.write(relpath, data)
            images += sum(1 for relpath, _ in payload.files if relpath.endswith(".png"))
            for task, lines in payload.lines.items():
                for line in lines:
                    writers[task](line)
            for key in payload.counts:
                counts[key] += 1
            for compound, relpath, box in payload.concepts:
                concepts.add(compound, Path(relpath), box, payload.split)
            scenes_by_split[payload.split].append(payload.scene_id)
            if on_scene is not None:
                on_scene(1)
    with files.lines("tasks/attributes.jsonl") as add:
        for norms in world.attribute_norms(concepts):
            add(record_line(norms))
            counts[("attributes", "all", norms.language)] += 1

    names = ("train", "val", "test") + (("test_comp",) if config.split == "compositional" else ())
    splits = {
        "mode": config.split,
        "held_out_compounds": [list(c) for c in world.plan.held_out],
        "scenes": {name: scenes_by_split[name] for name in names},
    }
    files.write("splits.json", (json.dumps(splits, ensure_ascii=False, indent=1) + "\n").encode())
    summary_counts = {
        "scenes": {s: len(ids) for s, ids in splits["scenes"].items()},
        "images": images,
        "tasks": _nested_counts(counts),
    }
    card = dataset_card(config, world.plan.held_out, summary_counts)
    files.write("card.md", card.encode("utf-8"))
    manifest = {
        "format": FORMAT,
        "version": __version__,
        "seed": config.seed,
        "config": config.to_dict(),
        "counts": summary_counts,
        "checksums": dict(sorted(files.checksums.items())),
    }
    text = json.dumps(manifest, ensure_ascii=False, indent=2) + "\n"
    (staging / "manifest.json").write_bytes(text.encode("utf-8"))
    return manifest


def read_manifest(out: str | Path) -> dict[str, Any]:
    """The manifest of a written world (raises :class:`DataFormatError` if it is not one)."""
    path = Path(out) / "manifest.json"
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise DataFormatError(path, "missing: not a generated world") from exc
    except json.JSONDecodeError as exc:
        raise DataFormatError(path, f"not JSON: {exc.msg}", line=exc.lineno) from exc
    if manifest.get("format") != FORMAT:
        raise DataFormatError(
            path, f"format is {manifest.get('format')!r}, expected {FORMAT!r}", field="format"
        )
    return manifest


def verify_world(out: str | Path) -> list[str]:
    """Relative paths whose SHA-256 differs from the manifest (missing files included)."""
    root = Path(out)
    bad = []
    for relpath, expected in read_manifest(root)["checksums"].items():
        try:
            actual = hashlib.sha256((root / relpath).read_bytes()).hexdigest()
        except FileNotFoundError:
            actual = None
        if actual != expected:
            bad.append(relpath)
    return bad
