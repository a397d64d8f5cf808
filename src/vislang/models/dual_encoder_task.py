"""Contrastive training of dual encoders (CLIP, SigLIP) on caption data: the ``dual-encoder`` task.

A :class:`~vislang.train.TrainTask` for the shared loop (``[task] name = "dual-encoder"``). It
trains a preset (``clip-tiny``, ``siglip-tiny``, ...; fields overridden by ``architecture``) or
continues a saved model, with the family's own loss (InfoNCE or sigmoid, exact across processes),
on the caption records of any reader (``data = "FORMAT:PATH"``, e.g. a world folder) or of a
world generated in memory (``data = ""``). Evaluation is retrieval recall@1/5/10 in both
directions on the evaluation split, per language (:mod:`vislang.evaluate.retrieval`); the
exported model is a vislang model directory.

Data are prepared once (:mod:`vislang.models.caption_pairs`): images decoded into a uint8 tensor,
captions tokenised. With ``vocab_size > 0`` the text tower gets a BPE vocabulary learned from the
training captions (:mod:`vislang.models.caption_tokenizer`), saved with the model. A model whose
vision tower starts with a frozen CNN (``clip-tiny-cnn``, :mod:`vislang.models.cnn_stem`) gets
the CNN's features of every training image computed once, and trains from them.

A step's global batch is ``batch_size`` distinct images: slot ``s`` of epoch ``e`` of a
permutation of the training images drawn from ``(seed, e)`` (an epoch has
``images // batch_size`` steps; the rest of each permutation is left out so that no batch holds an
image twice), each with one caption drawn from ``(seed, step)`` among all its captions in the
chosen languages. So a batch depends only on the seed and the step, and process ``r`` of ``N``
takes the ``r``-th of ``N`` equal slices.

With ``hard_negatives = k`` > 0 each batch image also brings up to ``k`` of its foils
(:mod:`vislang.models.hard_negatives`): false captions that differ minimally from a true one,
made by the world's foil generator for the training scenes (or read from a world folder's foils
file, training split), in the language of the image's caption, drawn from ``(seed, step)``.
They are negatives only (NegCLIP): extra columns of CLIP's image→text softmax, gathered across
processes like the captions; extra negative pairs with their own image for SigLIP.
"""

from __future__ import annotations

import dataclasses
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image
from torch import nn

from vislang import console
from vislang.data.readers import read_dataset
from vislang.data.schema import CaptionExample, FoilExample
from vislang.data.world import World, WorldConfig, render_scene
from vislang.data.world.foils import PHENOMENA
from vislang.errors import ConfigError
from vislang.evaluate.retrieval import (
    CaptionGallery,
    embed_pixels,
    embed_texts,
    mean_over_languages,
    recall_by_language,
)
from vislang.metrics.retrieval import DEFAULT_KS
from vislang.models.caption_pairs import (
    CaptionPairs,
    ImageCaptions,
    decode_uint8,
    group_by_image,
    normalise,
)
from vislang.models.caption_tokenizer import tokenizer_fields, train_caption_tokenizer
from vislang.models.contrastive_loss import clip_loss, siglip_loss
from vislang.models.dual_encoder import TOKENIZER_DIR, DualEncoder
from vislang.models.hard_negatives import FoilPool, group_foils
from vislang.models.registry import families, load_model, preset_names, save_model
from vislang.train import TaskContext, TrainTask, unwrap
from vislang.train.distributed import env_rank
from vislang.train.seeding import derive_seed

SPLIT_MODES = ("iid", "compositional")
HARD_NEGATIVE_FAMILIES = ("clip", "siglip")


@dataclass(frozen=True)
class DualEncoderOptions:
    """The ``[task]`` keys of ``dual-encoder``.

    ``model`` is a preset name or a saved model folder (relative to the config file) to start
    from; ``architecture`` overrides fields of a preset's config (``patch_size``,
    ``vision_layers``, ``text_max_length``, ...). ``vocab_size`` > 0 replaces a preset's byte
    tokenizer by a BPE vocabulary of that size learned from the training captions.

    ``data`` is ``"FORMAT:PATH"`` of any reader with caption records (the path relative to the
    config file); when empty, a world of ``scenes`` scenes (seed ``world_seed``, split mode
    ``split_mode``, captions only) is generated in memory. ``languages`` selects caption
    languages (empty: all). Training uses ``train_split``; evaluation the first ``eval_images``
    images of ``eval_split`` with all their captions in those languages.

    ``hard_negatives`` is how many foils of each training image join its batch as extra
    negative texts (0: none). A generated world then makes foils of every phenomenon for each
    training scene; a world folder's foils file is read for ``train_split``.
    ``hard_negative_phenomena`` keeps only the foils of these phenomena (empty: all).
    """

    model: str = "clip-tiny"
    architecture: dict[str, Any] = field(default_factory=dict)
    vocab_size: int = 0
    data: str = ""
    scenes: int = 12000
    world_seed: int = 0
    split_mode: str = "compositional"
    languages: tuple[str, ...] = ()
    train_split: str = "train"
    eval_split: str = "val"
    eval_images: int = 1000
    eval_batch_size: int = 256
    decode_threads: int = 2
    hard_negatives: int = 0
    hard_negative_phenomena: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if self.split_mode not in SPLIT_MODES:
            raise ConfigError(
                f"split_mode: one of {', '.join(SPLIT_MODES)}, not {self.split_mode!r}"
            )
        for key in ("scenes", "eval_images", "eval_batch_size", "decode_threads"):
            if getattr(self, key) < 1:
                raise ConfigError(f"{key}: must be at least 1")
        if self.vocab_size < 0:
            raise ConfigError("vocab_size: must be >= 0 (0 keeps the model's tokenizer)")
        if self.hard_negatives < 0:
            raise ConfigError("hard_negatives: must be >= 0 (0: no hard negatives)")
        unknown = sorted(set(self.hard_negative_phenomena) - set(PHENOMENA))
        if unknown:
            raise ConfigError(
                f"hard_negative_phenomena: {', '.join(unknown)} unknown; "
                f"the world's phenomena are {', '.join(PHENOMENA)}"
            )
        if "seed" in self.architecture:
            raise ConfigError("architecture.seed: the run's [train] seed initialises the model")


class DualEncoderTask(TrainTask):
    """Contrastive image–text training; see the module docstring."""

    def __init__(self, context: TaskContext) -> None:
        self.options = options = context.options_as(DualEncoderOptions)
        self.where = context.where
        self.seed, self.batch_size = context.seed, context.batch_size
        self.show_progress = env_rank() == 0
        self.model_ref = self._model_reference(context)
        train_items, eval_records, rendered, foils = self._read(context)
        self._tokenizer_files: tempfile.TemporaryDirectory[str] | None = None
        reference = self._build(train_items)
        if options.hard_negatives and reference.family not in HARD_NEGATIVE_FAMILIES:
            raise ConfigError(
                f"{self.where}: task.hard_negatives: the {reference.family} family has no loss "
                f"with hard negatives (only {', '.join(HARD_NEGATIVE_FAMILIES)})"
            )
        self.pairs = CaptionPairs(
            train_items,
            reference,
            threads=options.decode_threads,
            show_progress=self.show_progress,
            description="decoding training images",
        )
        self.foils = (
            FoilPool([item.image_id for item in self.pairs.items], foils, reference)
            if options.hard_negatives
            else None
        )
        self.stem_features = self._stem_features(reference)
        self._caption_languages = [lang for item in self.pairs.items for _, lang in item.captions]
        self._report_data(reference)
        self.gallery, self.eval_pixels = self._eval_set(eval_records, rendered, reference)
        self.steps_per_epoch = len(self.pairs) // self.batch_size
        if self.steps_per_epoch < 1:
            raise ConfigError(
                f"{self.where}: train.batch_size: {self.batch_size} is more than the "
                f"{len(self.pairs)} training images; a batch must hold distinct images"
            )
        self._permutations: dict[int, np.ndarray] = {}

    # --- the TrainTask interface --------------------------------------------------------------

    def build_model(self) -> nn.Module:
        """A fresh model: the preset initialised from the run's seed (with the learned
        vocabulary), or the saved model to continue."""
        return self._build(None)

    def batch(self, step: int, rank: int, world_size: int) -> dict[str, Any]:
        """This process's slice of step ``step``'s images and captions (see the module
        docstring): normalised pixels and padded token ids. With hard negatives the token ids
        of the slice's foils follow the captions', and ``negative_owners`` gives each foil's
        image (a row of the slice)."""
        images, captions = self.selection(step)
        start, stop = rank * len(images) // world_size, (rank + 1) * len(images) // world_size
        shard = slice(start, stop)
        if self.foils is None:
            return {
                "pixels": self._image_inputs(images[shard]),
                "tokens": self.pairs.token_batch(captions[shard]),
            }
        foils, owners = self.hard_negatives(step)
        mine = (owners >= start) & (owners < stop)
        rows = [self.pairs.tokens[i] for i in captions[shard]] + [
            self.foils.tokens[i] for i in foils[mine]
        ]
        return {
            "pixels": self._image_inputs(images[shard]),
            "tokens": self.pairs.pad(rows),
            "negative_owners": torch.from_numpy(owners[mine] - start),
        }

    def selection(self, step: int) -> tuple[np.ndarray, np.ndarray]:
        """The global batch of step ``step``: image positions in :attr:`pairs` (distinct) and,
        for each, the position of the caption drawn among all captions."""
        epoch, slot = divmod(step, self.steps_per_epoch)
        size = self.batch_size
        images = self._permutation(epoch)[slot * size : (slot + 1) * size]
        rng = np.random.default_rng(derive_seed(self.seed, "captions", step))
        choices = rng.integers(0, 2**31, size=size)
        captions = np.asarray(
            [self.pairs.caption_index(int(i), int(c)) for i, c in zip(images, choices, strict=True)]
        )
        return images, captions

    def hard_negatives(self, step: int) -> tuple[np.ndarray, np.ndarray]:
        """The foils of step ``step``'s global batch: positions in :attr:`foils`, and for each
        the slot of its image in :meth:`selection`'s images (at most ``hard_negatives`` per image,
        in the language of the image's caption)."""
        if self.foils is None:
            raise ConfigError(f"{self.where}: task.hard_negatives is 0")
        images, captions = self.selection(step)
        languages = [self._caption_languages[int(i)] for i in captions]
        rng = np.random.default_rng(derive_seed(self.seed, "hard negatives", step))
        return self.foils.draw(images, languages, self.options.hard_negatives, rng)

    def loss(
        self, model: nn.Module, batch: dict[str, Any]
    ) -> tuple[torch.Tensor, dict[str, float]]:
        """The family's contrastive loss of the batch (with its hard negatives, if any), with
        the temperature (and bias) logged."""
        output = model(batch["pixels"], **batch["tokens"])
        metrics = {"logit_scale": float(output.logit_scale.detach())}
        if output.logit_bias is not None:
            metrics["logit_bias"] = float(output.logit_bias.detach())
        if "negative_owners" not in batch:
            return unwrap(model).loss(output), metrics
        size = batch["pixels"].shape[0]
        images, texts = output.image_embeds, output.text_embeds
        captions, foils = texts[:size], texts[size:]
        if output.logit_bias is None:
            return clip_loss(images, captions, output.logit_scale, foils), metrics
        owners = batch["negative_owners"]
        loss = siglip_loss(images, captions, output.logit_scale, output.logit_bias, foils, owners)
        return loss, metrics

    def evaluate(self, model: nn.Module) -> dict[str, float]:
        """Recall@1/5/10 both ways on the evaluation images, averaged over languages, and per
        language (suffix ``_<code>``) when there are several."""
        encoder = unwrap(model)
        size = self.options.eval_batch_size
        images = embed_pixels(
            encoder, normalise(self.eval_pixels, encoder.preprocess), batch_size=size
        )
        texts = embed_texts(encoder, self.gallery.texts, batch_size=size)
        per_language = recall_by_language(images, texts, self.gallery, DEFAULT_KS)
        metrics = mean_over_languages(per_language, DEFAULT_KS)
        if len(per_language) > 1:
            for language, scores in per_language.items():
                metrics.update({f"{k}_{language}": v for k, v in scores.items() if "@" in k})
        return metrics

    def export(self, model: nn.Module, out_dir: Path) -> None:
        """Save the trained model (and a learned vocabulary) as a vislang model directory."""
        save_model(unwrap(model), out_dir)

    # --- model --------------------------------------------------------------------------------

    def _model_reference(self, context: TaskContext) -> str:
        """A preset name as it is, a model folder made absolute against the config's folder."""
        name = self.options.model
        if name in preset_names():
            return name
        path = context.resolve_path(name)
        if not path.is_dir():
            raise ConfigError(
                f"{self.where}: task.model: {name!r} is neither a preset "
                f"({', '.join(preset_names())}) nor a model folder"
            )
        if self.options.vocab_size:
            raise ConfigError(
                f"{self.where}: task.vocab_size: a saved model keeps its own vocabulary; "
                "learn one only when training a preset"
            )
        return str(path)

    def _build(self, train_items: list[ImageCaptions] | None) -> DualEncoder:
        """The model to train. The first call (with the training items) learns the vocabulary
        when one is asked for; later calls reuse it."""
        is_preset = self.model_ref in preset_names()
        overrides = dict(self.options.architecture)
        if is_preset:
            overrides["seed"] = self.seed
        try:
            model = load_model(self.model_ref, **overrides)
        except ConfigError as error:
            raise ConfigError(f"{self.where}: task: {error}") from None
        if not isinstance(model, DualEncoder):
            raise ConfigError(f"{self.where}: task.model: {self.model_ref!r} is not a dual encoder")
        if not self.options.vocab_size:
            return model
        if self._tokenizer_files is None:
            assert train_items is not None  # the first call comes from __init__
            self._learn_vocabulary(model, train_items)
        assert self._tokenizer_files is not None
        config = dataclasses.replace(model.config, **self._vocabulary_fields)
        return families()[model.family].from_config(config, files=self._tokenizer_files.name)

    def _learn_vocabulary(self, model: DualEncoder, items: list[ImageCaptions]) -> None:
        captions = [text for item in items for text, _ in item.captions]
        tokenizer = train_caption_tokenizer(
            captions, self.options.vocab_size, model.config.text_max_length
        )
        self._tokenizer_files = tempfile.TemporaryDirectory(prefix="vislang-tokenizer-")
        tokenizer.save_pretrained(Path(self._tokenizer_files.name) / TOKENIZER_DIR)
        self._vocabulary_fields = tokenizer_fields(tokenizer)

    # --- data ---------------------------------------------------------------------------------

    def _stem_features(self, model: DualEncoder) -> torch.Tensor | None:
        """The frozen CNN stem's features of every training image, or ``None`` without one."""
        stem = model.frozen_stem
        if stem is None:
            return None
        chunks = []
        size = self.options.eval_batch_size
        with console.progress(transient=True, disable=not self.show_progress) as bar:
            task = bar.add_task("frozen CNN features of the training images", total=len(self.pairs))
            for start in range(0, len(self.pairs), size):
                indices = np.arange(start, min(start + size, len(self.pairs)))
                chunks.append(stem.trunk_features(self.pairs.pixels(indices)))
                bar.advance(task, len(indices))
        return torch.cat(chunks)

    def _image_inputs(self, images: np.ndarray) -> torch.Tensor:
        """What the model's image tower takes for these training images: normalised pixels, or
        their precomputed frozen-stem features."""
        if self.stem_features is None:
            return self.pairs.pixels(images)
        return self.stem_features[torch.as_tensor(images, dtype=torch.long)]

    def _read(
        self, context: TaskContext
    ) -> tuple[
        list[ImageCaptions],
        list[CaptionExample],
        dict[str, Image.Image] | None,
        dict[str, list[FoilExample]],
    ]:
        """Training items (images with their captions), evaluation records, the rendered images
        of a generated world (``None`` for a reader's data, whose images are files), and the
        training images' foils by image id (empty without hard negatives)."""
        options = self.options
        splits = (options.train_split, options.eval_split)
        languages = list(options.languages) or None
        if options.data:
            spec = self._resolved_spec(context)
            records: dict[str, list[CaptionExample]] = {}
            for split in splits:
                dataset = read_dataset(
                    spec,
                    kinds=(CaptionExample,),
                    split=split,
                    languages=languages,
                    on_missing_image="skip",
                    on_bad_item="skip",
                )
                skipped = len(dataset.skipped) + len(dataset.missing_images)
                if skipped and self.show_progress:
                    console.log(f"{spec} ({split}): {skipped} bad items or missing images left out")
                records[split] = dataset.of_kind(CaptionExample)
            train_items = group_by_image(records[options.train_split])
            eval_records = records[options.eval_split]
            rendered = None
            foils = self._read_foils(spec, records[options.train_split], languages)
        else:
            train_records, eval_records, rendered, foils = self._generated_world(splits)
            train_items = group_by_image(train_records, rendered)
        if not train_items:
            raise ConfigError(f"{self.where}: task: no caption records in split {splits[0]!r}")
        if not eval_records:
            raise ConfigError(f"{self.where}: task: no caption records in split {splits[1]!r}")
        if options.hard_negative_phenomena:
            kept = set(options.hard_negative_phenomena)
            foils = {k: [r for r in v if r.phenomenon in kept] for k, v in foils.items()}
            foils = {k: v for k, v in foils.items() if v}
        if options.hard_negatives and not foils:
            raise ConfigError(
                f"{self.where}: task.hard_negatives: no foil records of the training images "
                f"in split {splits[0]!r}"
            )
        return train_items, eval_records, rendered, foils

    def _read_foils(
        self, spec: str, captions: list[CaptionExample], languages: list[str] | None
    ) -> dict[str, list[FoilExample]]:
        """The foil records of the training split, by the image id of their captions (none
        without hard negatives)."""
        if not self.options.hard_negatives:
            return {}
        dataset = read_dataset(
            spec,
            kinds=(FoilExample,),
            split=self.options.train_split,
            languages=languages,
            on_missing_image="skip",
            on_bad_item="skip",
        )
        image_ids = {str(record.image): record.image_id for record in captions}
        return group_foils(dataset.of_kind(FoilExample), image_ids)

    def _resolved_spec(self, context: TaskContext) -> str:
        name, sep, path = self.options.data.partition(":")
        if not sep or not path:
            raise ConfigError(
                f"{self.where}: task.data: expected FORMAT:PATH, got {self.options.data!r}"
            )
        return f"{name}:{context.resolve_path(path)}"

    def _generated_world(
        self, splits: tuple[str, str]
    ) -> tuple[
        list[CaptionExample],
        list[CaptionExample],
        dict[str, Image.Image],
        dict[str, list[FoilExample]],
    ]:
        """Caption records of the two splits of a world generated in memory, each scene's image
        rendered as `vislang world generate` writes it, and, with hard negatives, the foils of
        every phenomenon for each training scene by scene id (the world's foil generator draws
        each scene's foils from its own random stream, so asking for more foils leaves the
        captions, and the first foils of a written world, as they are)."""
        options = self.options
        config = WorldConfig(
            scenes=options.scenes,
            seed=options.world_seed,
            split=options.split_mode,
            **({"languages": options.languages} if options.languages else {}),
            questions_per_image=0,
            statements_per_image=0,
            foils_per_image=len(PHENOMENA) if options.hard_negatives else 0,
            winoground_rate=0.0,
            sequence_rate=0.0,
        )
        world = World(config)
        records: dict[str, list[CaptionExample]] = {split: [] for split in splits}
        images: dict[str, Image.Image] = {}
        foils: dict[str, list[FoilExample]] = {}
        with console.progress(transient=True, disable=not self.show_progress) as bar:
            task = bar.add_task("generating the world", total=config.scenes)
            for index in range(config.scenes):
                split = world.split_of(index)
                if split in records:
                    item = world.item(index)
                    records[split] += item.records["captions"]
                    if split == splits[0] and item.records["foils"]:
                        foils[item.scene.id] = [
                            r for r in item.records["foils"] if isinstance(r, FoilExample)
                        ]
                    images[item.scene.id] = render_scene(
                        item.scene, config.image_size, texture=config.texture
                    )
                bar.advance(task)
        return records[splits[0]], records[splits[1]], images, foils

    def _eval_set(
        self,
        records: list[CaptionExample],
        rendered: dict[str, Image.Image] | None,
        model: DualEncoder,
    ) -> tuple[CaptionGallery, torch.Tensor]:
        """The evaluation gallery and its images decoded once (uint8)."""
        gallery = CaptionGallery.from_records(records, max_images=self.options.eval_images)
        sources = gallery.images if rendered is None else [rendered[k] for k in gallery.image_ids]
        decoded = decode_uint8(
            sources,
            model.preprocess,
            threads=self.options.decode_threads,
            show_progress=self.show_progress,
            description="decoding evaluation images",
        )
        if decoded.failures and self.show_progress:
            console.log(f"{len(decoded.failures)} evaluation images could not be decoded")
        missing = set(range(len(gallery))) - set(decoded.kept)
        return gallery.without_images(missing), decoded.pixels

    def _report_data(self, model: DualEncoder) -> None:
        if not self.show_progress:
            return
        pairs = self.pairs
        captions = len(pairs.tokens)
        console.log(
            f"training on {len(pairs)} images with {captions} captions"
            + (f"; {len(pairs.failures)} images could not be decoded" if pairs.failures else "")
            + (
                f"; {pairs.truncated} captions cut at {model.config.text_max_length} tokens"
                if pairs.truncated
                else ""
            )
        )
        if self.foils is not None:
            console.log(
                f"hard negatives: {len(self.foils)} foils of the training images, "
                f"{self.options.hard_negatives} per image and step"
                + (f"; {self.foils.truncated} cut" if self.foils.truncated else "")
            )

    def _permutation(self, epoch: int) -> np.ndarray:
        if epoch not in self._permutations:
            rng = np.random.default_rng(derive_seed(self.seed, "epoch", epoch))
            self._permutations = {epoch: rng.permutation(len(self.pairs))}
        return self._permutations[epoch]
