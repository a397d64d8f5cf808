"""Captioning data: images with their captions by language, and their frozen encodings.

Captioners train and are evaluated on :class:`CaptionedImage` items: one per image, with the
image source (a file, or a rendered picture of a world generated in memory), its split, its
captions in every language, and, for the synthetic world, its structured scene (for checking
what a caption claims). They come from any reader's caption records (:func:`read_captioned`) or
from a world generated in memory (:func:`generated_world`).

:func:`encode_images` runs the frozen image encoder once over a list of images: patch features
for the cross-attention and pooled embeddings for retrieval queries. Images that cannot be
decoded are left out and listed.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from vislang import console
from vislang.data.batch import iter_batches
from vislang.data.readers import read_dataset
from vislang.data.schema import CaptionExample
from vislang.data.world import World, WorldConfig, render_scene
from vislang.data.world.scene import Scene
from vislang.errors import ConfigError
from vislang.models.dual_encoder import DualEncoder
from vislang.represent.feature_store import FeatureRow


@dataclass
class CaptionedImage:
    """One image and its captions in each language (``captions[language]``)."""

    image_id: str
    source: str | Path | Image.Image
    split: str | None
    captions: dict[str, tuple[str, ...]] = field(default_factory=dict)
    scene: Scene | None = None
    data_source: str | None = None

    @property
    def path(self) -> str | None:
        """The image file as the reader gave it (``None`` for a rendered picture)."""
        return None if isinstance(self.source, Image.Image) else str(self.source)


@dataclass
class EncodedImages:
    """The frozen encoder's view of a list of images: ``features`` (N, P, D) patch features,
    ``embeddings`` (N, dim) pooled and normalised; ``kept[i]`` is the position of row ``i`` in the
    images given, ``failures`` the (source, reason) of those left out."""

    features: torch.Tensor
    embeddings: np.ndarray
    kept: list[int]
    failures: list[tuple[str, str]]


def group_records(records: Sequence[CaptionExample]) -> list[CaptionedImage]:
    """Caption records grouped by image (in first-seen order); a world image's scene is read from
    the JSON file beside it when there is one."""
    images: dict[str, CaptionedImage] = {}
    for record in records:
        if record.image is None:
            continue
        item = images.get(record.image_id)
        if item is None:
            item = images[record.image_id] = CaptionedImage(
                record.image_id,
                record.image,
                record.split,
                scene=_scene_beside(record.image),
                data_source=record.source,
            )
        item.captions[record.language] = item.captions.get(record.language, ()) + tuple(
            record.captions
        )
    return list(images.values())


def read_captioned(
    spec: str, split: str | None, languages: Sequence[str] | None = None
) -> tuple[list[CaptionedImage], dict[str, int]]:
    """The images of ``spec`` (``FORMAT:PATH``) in ``split`` with their captions, and how many
    malformed items and records with missing images were left out."""
    dataset = read_dataset(
        spec,
        kinds=(CaptionExample,),
        split=split,
        languages=list(languages) if languages else None,
        on_missing_image="skip",
        on_bad_item="skip",
    )
    left_out = {
        "skipped_items": len(dataset.skipped),
        "missing_images": len(dataset.missing_images),
    }
    return group_records(dataset.of_kind(CaptionExample)), left_out


def generated_world(
    config: WorldConfig, splits: Sequence[str], *, show_progress: bool = False
) -> dict[str, list[CaptionedImage]]:
    """The images of ``splits`` of a world generated in memory (captions only), rendered as
    ``vislang world generate`` writes them."""
    world = World(config)
    found: dict[str, list[CaptionedImage]] = {split: [] for split in splits}
    with console.progress(transient=True, disable=not show_progress) as bar:
        task = bar.add_task("generating the world", total=config.scenes)
        for index in range(config.scenes):
            split = world.split_of(index)
            if split in found:
                item = world.item(index)
                image = render_scene(item.scene, config.image_size, texture=config.texture)
                captions = {r.language: tuple(r.captions) for r in item.records["captions"]}
                found[split].append(
                    CaptionedImage(
                        item.scene.id, image, split, captions, item.scene, "vislang-world"
                    )
                )
            bar.advance(task)
    return found


def captions_world(
    scenes: int, seed: int, split_mode: str, languages: Sequence[str] = ()
) -> WorldConfig:
    """The config of a world with captions only (no questions, statements, foils, ...)."""
    return WorldConfig(
        scenes=scenes,
        seed=seed,
        split=split_mode,
        **({"languages": tuple(languages)} if languages else {}),
        questions_per_image=0,
        statements_per_image=0,
        foils_per_image=0,
        winoground_rate=0.0,
        sequence_rate=0.0,
    )


def caption_rows(images: Sequence[CaptionedImage], languages: Sequence[str]) -> list[FeatureRow]:
    """One datastore row per caption of ``images`` in ``languages`` (ids ``<image>-<lang>#n``)."""
    return [
        FeatureRow(
            id=f"{item.image_id}-{language}#{n}",
            image_id=item.image_id,
            image=item.path,
            text=caption,
            language=language,
            source=item.data_source,
            split=item.split,
        )
        for item in images
        for language in languages
        for n, caption in enumerate(item.captions.get(language, ()))
    ]


@torch.no_grad()
def encode_images(
    encoder: DualEncoder,
    images: Sequence[CaptionedImage],
    *,
    batch_size: int = 64,
    threads: int = 2,
    show_progress: bool = False,
    description: str = "encoding images",
) -> EncodedImages:
    """Patch features and pooled embeddings of ``images`` by the frozen ``encoder``."""
    features: list[torch.Tensor] = []
    embeddings: list[np.ndarray] = []
    kept: list[int] = []
    failures: list[tuple[str, str]] = []
    sources = [item.source for item in images]
    with console.progress(transient=True, disable=not show_progress) as bar:
        task = bar.add_task(description, total=len(images))
        for batch in iter_batches(
            sources, encoder.preprocess, batch_size=batch_size, threads=threads
        ):
            if len(batch.indices):
                features.append(encoder.image_patch_features(batch.pixels))
                embeddings.append(encoder.encode_images(batch.pixels).float().cpu().numpy())
                kept += batch.indices
            failures += batch.failures
            bar.advance(task, len(batch.indices) + len(batch.failures))
    if not kept:
        raise ConfigError(f"none of the {len(images)} images could be decoded")
    return EncodedImages(torch.cat(features), np.concatenate(embeddings), kept, failures)


def _scene_beside(image: Path) -> Scene | None:
    """A world image's structured scene (``images/<id>.json``), when the file is there."""
    path = Path(image).with_suffix(".json")
    if not path.is_file():
        return None
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        return Scene.from_dict(data)
    except (json.JSONDecodeError, KeyError, TypeError, ValueError):
        return None


__all__ = [
    "CaptionedImage",
    "EncodedImages",
    "caption_rows",
    "captions_world",
    "encode_images",
    "generated_world",
    "group_records",
    "read_captioned",
]
