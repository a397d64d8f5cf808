"""Training SmallCap/PAELLA captioners: the ``smallcap`` task of the shared training loop.

``[task] name = "smallcap"``. The task loads a trained causal LM (stage 0) and a trained dual
encoder, freezes both, and trains only the reduced cross-attention
(:class:`vislang.models.smallcap.SmallCap`) on image–caption pairs of a reader's data or of a
world generated in memory.

Before training, every process prepares the same data:

1. the training images' patch features and embeddings (frozen encoder, computed once);
2. the caption datastore: the training captions of ``datastore_languages`` embedded with the
   encoder's text tower (or a datastore folder, ``datastore = "PATH"``);
3. for each training image and language, K retrieved captions (its own captions left out) and the
   prompt they make in that language's template.

A training example is (image, language, caption). With ``targets = "all"`` (SmallCap, PAELLA)
every reference caption of the image in the language is one, all with the image's prompt. With
``targets = "closest-to-retrieved"`` only the reference most like the first retrieved caption is
(:func:`closest_reference`): where an image's references are of different kinds (the world's
name its objects, a relation, counts), a caption retrieved for another image says which kind to
write, and training on all of them teaches the captioner to ignore it. Captions longer than
``max_caption_tokens`` are left out (counted in ``training.json``). A step's global batch is a
slice of a permutation of all examples drawn from ``(seed, epoch)``; the loss is the token-level
cross-entropy over the captions' tokens and their end-of-text token only (prompt and padding carry
no loss), summed per process and divided by the global batch's caption tokens over the number of
processes, so the averaged gradient is that of the global token mean whatever the number of
processes.

Evaluation captions ``eval_images`` images of ``eval_split`` in every evaluation language (beam
search) and reports CIDEr-D and BLEU-4 per language and averaged
(:mod:`vislang.evaluate.captioning`). The exported model folder holds the captioner, its datastore
(``datastore/``) and ``training.json`` (data counts, languages, the prompt of one training
example per language).

Paths (``lm``, ``encoder``, ``data``, ``datastore``, ``templates``) are relative to the config
file — except in the recipes shipped with vislang, whose paths are relative to the folder
``vislang train`` runs in (a shipped recipe lives inside the installed package).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from itertools import pairwise
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from vislang import console
from vislang.errors import ConfigError
from vislang.evaluate.captioning import evaluate_captioner
from vislang.fileio import atomic_write_json
from vislang.models.caption_data import (
    CaptionedImage,
    EncodedImages,
    caption_rows,
    captions_world,
    encode_images,
    generated_world,
    read_captioned,
)
from vislang.models.captioning import marks_words, token_counter
from vislang.models.causal_lm import CausalLM, next_token_loss
from vislang.models.cross_attention import CrossAttentionConfig
from vislang.models.dual_encoder import DualEncoder
from vislang.models.registry import load_model, save_model
from vislang.models.smallcap import DATASTORE_DIR, SmallCap
from vislang.recipes import RECIPE_DIR
from vislang.retrieval.caption_retrieval import (
    CaptionRetriever,
    RetrievalConfig,
    build_caption_datastore,
)
from vislang.retrieval.datastore import Datastore
from vislang.retrieval.prompts import load_template
from vislang.train import TaskContext, TrainTask, unwrap
from vislang.train.distributed import env_rank
from vislang.train.seeding import derive_seed

TRAINING_FILE = "training.json"
TARGETS = ("all", "closest-to-retrieved")


@dataclass(frozen=True)
class CaptionTaskOptions:
    """The ``[task]`` keys of ``smallcap``.

    ``lm`` and ``encoder`` are model folders (the stage-0 LM and a dual encoder). ``data`` is
    ``"FORMAT:PATH"`` of any reader with caption records; when empty, a world of ``scenes`` scenes
    (seed ``world_seed``, ``split_mode``) is generated in memory. ``languages`` are the training
    caption languages (empty: all of the data); ``datastore_languages`` those of the datastore
    built from the training captions (empty: all), unless ``datastore`` names a datastore folder.
    Cross-attention: ``reduction`` or ``dim`` (0: unset), ``heads`` (0: the LM's).
    Retrieval: ``search_k``, ``keep`` (K; 0 trains without retrieval), ``max_caption_tokens`` (for
    retrieved and training captions, and decoding), ``retrieval_language`` (``"target"``,
    ``"any"`` or a code). ``targets``: which references train, ``"all"`` or
    ``"closest-to-retrieved"`` (one per image and language, or all when nothing was retrieved;
    needs ``keep``). Prompts: ``prompt_set`` of ``templates`` (empty: the shipped file).
    Evaluation: the first ``eval_images`` images of ``eval_split`` in ``eval_languages`` (empty:
    all), ``num_beams`` beams.
    """

    lm: str = "runs/lm-stage0/model"
    encoder: str = "runs/clip-tiny-world/model"
    data: str = ""
    scenes: int = 12000
    world_seed: int = 0
    split_mode: str = "compositional"
    train_split: str = "train"
    languages: tuple[str, ...] = ()
    datastore: str = ""
    datastore_languages: tuple[str, ...] = ()
    reduction: int = 0
    dim: int = 0
    heads: int = 0
    search_k: int = 15
    keep: int = 4
    max_caption_tokens: int = 25
    retrieval_language: str = "target"
    targets: str = "all"
    prompt_set: str = "world"
    templates: str = ""
    num_beams: int = 3
    eval_split: str = "val"
    eval_images: int = 50
    eval_languages: tuple[str, ...] = ()
    eval_batch_size: int = 32

    def __post_init__(self) -> None:
        if self.reduction and self.dim:
            raise ConfigError("reduction and dim: set one of them (0 leaves it unset)")
        for key in ("scenes", "eval_images", "eval_batch_size", "num_beams", "search_k"):
            if getattr(self, key) < 1:
                raise ConfigError(f"{key}: must be at least 1")
        for key in ("reduction", "dim", "heads", "keep"):
            if getattr(self, key) < 0:
                raise ConfigError(f"{key}: must be >= 0")
        if self.targets not in TARGETS:
            raise ConfigError(f"targets: one of {', '.join(TARGETS)}, not {self.targets!r}")
        if self.targets == "closest-to-retrieved" and not self.keep:
            raise ConfigError("targets = 'closest-to-retrieved' needs retrieval (keep >= 1)")

    def cross_attention(self) -> CrossAttentionConfig:
        """The cross-attention these options describe (``encoder_dim`` set by the model)."""
        return CrossAttentionConfig(
            encoder_dim=1,
            reduction=self.reduction or None,
            dim=self.dim or None,
            heads=self.heads or None,
        )

    def retrieval(self) -> RetrievalConfig:
        """The retrieval these options describe."""
        return RetrievalConfig(
            search_k=self.search_k,
            keep=self.keep,
            max_caption_tokens=self.max_caption_tokens,
            language=self.retrieval_language,
        )


@dataclass(frozen=True)
class _Example:
    """One training example: an image (row of the encoded training images), a caption in a
    language, and the prompt of that image in that language."""

    image: int
    language: str
    caption: str
    prompt: str


class CaptionTask(TrainTask):
    """Trains the cross-attention of a SmallCap captioner; see the module docstring."""

    def __init__(self, context: TaskContext) -> None:
        self.options = options = context.options_as(CaptionTaskOptions)
        self.where = context.where
        self.seed, self.batch_size = context.seed, context.batch_size
        self.show_progress = env_rank() == 0
        self.base = _base_dir(context)
        try:
            self.lm_dir, self.encoder_dir = self._path(options.lm), self._path(options.encoder)
            lm, encoder = load_model(self.lm_dir), load_model(self.encoder_dir)
        except ConfigError as error:
            raise ConfigError(f"{self.where}: task: {error}") from None
        if not isinstance(lm, CausalLM):
            raise ConfigError(f"{self.where}: task.lm: {options.lm!r} is not a causal LM")
        if not isinstance(encoder, DualEncoder):
            raise ConfigError(f"{self.where}: task.encoder: {options.encoder!r} is no dual encoder")
        self.lm, self.encoder = lm, encoder
        self.count_tokens = token_counter(lm.tokenizer)
        self.word_marks = marks_words(lm.tokenizer)

        train_images, eval_images = self._read()
        self.languages = self._languages(train_images)
        self.all_languages = sorted({code for item in train_images for code in item.captions})
        self.eval_languages = list(options.eval_languages) or self.all_languages
        templates_file = self._path(options.templates) if options.templates else None
        self.templates = {
            code: load_template(options.prompt_set, code, templates_file)
            for code in self.all_languages
        }
        self.train_images, self.train_encoded = self._encode(train_images, "training images")
        self.eval_images, self.eval_encoded = self._encode(eval_images, "evaluation images")
        self.datastore = self._datastore(train_images) if options.keep else None
        self.retriever = (
            CaptionRetriever(self.datastore, encoder, options.retrieval(), self.count_tokens)
            if self.datastore is not None
            else None
        )
        self.examples, self.too_long = self._examples()
        if len(self.examples) < self.batch_size:
            raise ConfigError(
                f"{self.where}: task: {len(self.examples)} training examples, fewer than "
                f"train.batch_size {self.batch_size}"
            )
        if self.show_progress:
            console.log(
                f"{len(self.examples)} training captions ({', '.join(self.languages)}) of "
                f"{len(self.train_images)} images; {self.too_long} longer than "
                f"{options.max_caption_tokens} tokens left out"
            )

    # --- the TrainTask interface --------------------------------------------------------------

    def build_model(self) -> nn.Module:
        """The frozen LM and encoder with fresh cross-attention (seeded by the run's seed)."""
        return SmallCap.build(
            load_model(self.lm_dir),
            load_model(self.encoder_dir),
            self.options.cross_attention(),
            languages=self.all_languages,
            prompt_set=self.options.prompt_set,
            templates_file=self._path(self.options.templates) if self.options.templates else None,
            retrieval=self.options.retrieval(),
            name=f"smallcap-{Path(self.lm_dir).parent.name or 'lm'}",
            max_caption_tokens=self.options.max_caption_tokens,
            num_beams=self.options.num_beams,
            seed=self.seed,
        )

    def batch(self, step: int, rank: int, world_size: int) -> dict[str, Any]:
        """This process's slice of step ``step``'s examples: features, token ids and labels,
        and the global batch's caption-token count per process."""
        count = len(self.examples)
        positions = range(step * self.batch_size, (step + 1) * self.batch_size)
        chosen = [self.examples[int(self._permutation(p // count)[p % count])] for p in positions]
        shard = self.batch_size // world_size
        mine = chosen[rank * shard : (rank + 1) * shard]
        global_tokens = sum(self._caption_tokens(e) + 1 for e in chosen)
        model_tokens = self._tokens(mine)
        return {
            "features": self.train_encoded.features[[e.image for e in mine]],
            **model_tokens,
            "token_share": global_tokens / world_size,
        }

    def loss(
        self, model: nn.Module, batch: dict[str, Any]
    ) -> tuple[torch.Tensor, dict[str, float]]:
        """Summed cross-entropy over the caption tokens of the shard, over its share of the
        global batch's caption tokens."""
        logits = model(batch["features"], batch["input_ids"], batch["attention_mask"])
        return next_token_loss(logits, batch["labels"], batch["token_share"])

    def evaluate(self, model: nn.Module) -> dict[str, float]:
        """CIDEr-D and BLEU-4 per language (``CIDEr-D_<code>``) and averaged over the
        evaluation languages, on the evaluation images."""
        captioner = unwrap(model)
        report = evaluate_captioner(
            captioner,
            self.eval_images,
            self.eval_languages,
            retriever=self.retriever,
            encoded=self.eval_encoded,
            batch_size=self.options.eval_batch_size,
        )
        return report.metrics()

    def export(self, model: nn.Module, out_dir: Path) -> None:
        """The captioner, its datastore and ``training.json``."""
        captioner = unwrap(model)
        save_model(captioner, out_dir)
        if self.datastore is not None:
            self.datastore.save(out_dir / DATASTORE_DIR)
        atomic_write_json(out_dir / TRAINING_FILE, self._training_record(captioner))

    # --- data ---------------------------------------------------------------------------------

    def _path(self, path: str) -> Path:
        resolved = Path(path)
        return resolved if resolved.is_absolute() else self.base / resolved

    def _read(self) -> tuple[list[CaptionedImage], list[CaptionedImage]]:
        options = self.options
        splits = (options.train_split, options.eval_split)
        if options.data:
            name, sep, path = options.data.partition(":")
            if not sep or not path:
                raise ConfigError(
                    f"{self.where}: task.data: expected FORMAT:PATH, got {options.data!r}"
                )
            spec = f"{name}:{self._path(path)}"
            found = {split: read_captioned(spec, split)[0] for split in splits}
        else:
            config = captions_world(options.scenes, options.world_seed, options.split_mode)
            found = generated_world(config, splits, show_progress=self.show_progress)
        train, held_out = found[options.train_split], found[options.eval_split]
        if not train or not held_out:
            raise ConfigError(
                f"{self.where}: task: {len(train)} images in split {splits[0]!r} and "
                f"{len(held_out)} in {splits[1]!r}; both need some"
            )
        return train, held_out[: options.eval_images]

    def _languages(self, images: Sequence[CaptionedImage]) -> list[str]:
        present = sorted({code for item in images for code in item.captions})
        wanted = list(self.options.languages) or present
        missing = [code for code in wanted if code not in present]
        if missing:
            raise ConfigError(
                f"{self.where}: task.languages: no training captions in {missing} "
                f"(the data has {', '.join(present)})"
            )
        return wanted

    def _encode(
        self, images: list[CaptionedImage], what: str
    ) -> tuple[list[CaptionedImage], EncodedImages]:
        encoded = encode_images(
            self.encoder, images, show_progress=self.show_progress, description=f"encoding {what}"
        )
        if encoded.failures and self.show_progress:
            console.log(f"{len(encoded.failures)} {what} could not be decoded and are left out")
        return [images[i] for i in encoded.kept], encoded

    def _datastore(self, images: Sequence[CaptionedImage]) -> Datastore:
        if self.options.datastore:
            return Datastore.load(self._path(self.options.datastore))
        languages = list(self.options.datastore_languages) or self.all_languages
        rows = caption_rows(images, languages)
        return build_caption_datastore(
            self.encoder, rows, model=str(self.encoder_dir), show_progress=self.show_progress
        )

    def _examples(self) -> tuple[list[_Example], int]:
        """The (image, language, caption) examples with their prompts (every reference, or the
        one closest to the retrieved caption); captions over the token limit are left out and
        counted."""
        pairs = [
            (i, language)
            for i, item in enumerate(self.train_images)
            for language in self.languages
            if item.captions.get(language)
        ]
        eos = str(self.lm.tokenizer.eos_token)
        found = self._retrieved(pairs)
        token_ids = (
            self._token_ids(pairs, found) if self.options.targets == "closest-to-retrieved" else {}
        )
        examples, too_long = [], 0
        for (i, language), retrieved in zip(pairs, found, strict=True):
            prompt = self.templates[language].prompt(retrieved, eos)
            references = self.train_images[i].captions[language]
            if token_ids and retrieved:
                best = closest_reference(retrieved[0], references, token_ids.__getitem__)
                references = (references[best],)
            for caption in references:
                example = _Example(i, language, caption, prompt)
                if self._caption_tokens(example) > self.options.max_caption_tokens:
                    too_long += 1
                else:
                    examples.append(example)
        return examples, too_long

    def _retrieved(self, pairs: Sequence[tuple[int, str]]) -> list[tuple[str, ...]]:
        """The K captions retrieved for each (image, language) (none without retrieval)."""
        if self.retriever is None:
            return [() for _ in pairs]
        found = self.retriever.retrieve(
            self.train_encoded.embeddings[[i for i, _ in pairs]],
            [language for _, language in pairs],
            [self.train_images[i].image_id for i, _ in pairs],
            show_progress=self.show_progress,
        )
        return [result.captions for result in found]

    def _token_ids(
        self, pairs: Sequence[tuple[int, str]], found: Sequence[tuple[str, ...]]
    ) -> dict[str, list[int]]:
        """The LM's token ids of every reference of ``pairs`` and every first retrieved caption,
        tokenised in one batch (one call per text costs far more)."""
        texts = {text for i, language in pairs for text in self.train_images[i].captions[language]}
        texts |= {retrieved[0] for retrieved in found if retrieved}
        unique = sorted(texts)
        encoded = self.lm.tokenizer(unique, add_special_tokens=False)["input_ids"]
        return dict(zip(unique, encoded, strict=True))

    def _tokens(self, examples: Sequence[_Example]) -> dict[str, torch.Tensor]:
        """Start + prompt + caption + end, labels on the caption and end only (as
        :meth:`SmallCap.training_tokens`)."""
        texts = [
            self.templates[e.language].caption_text(e.caption, self.word_marks, e.prompt)
            for e in examples
        ]
        return self.lm.tokenize(texts, [e.prompt for e in examples], add_eos=True)

    def _caption_tokens(self, example: _Example) -> int:
        """Tokens of the caption as it follows its prompt (the labelled tokens but the end)."""
        template = self.templates[example.language]
        return self.count_tokens(
            template.caption_text(example.caption, self.word_marks, example.prompt)
        )

    @lru_cache(maxsize=2)  # noqa: B019  (one task per run; the cache dies with it)
    def _permutation(self, epoch: int) -> np.ndarray:
        rng = np.random.default_rng(derive_seed(self.seed, "epoch", epoch))
        return rng.permutation(len(self.examples))

    def _training_record(self, captioner: SmallCap) -> dict[str, Any]:
        first = {}
        for example in self.examples:
            first.setdefault(example.language, example)
        return {
            "training_captions": len(self.examples),
            "targets": self.options.targets,
            "training_images": len(self.train_images),
            "captions_too_long": self.too_long,
            "languages": self.languages,
            "datastore_rows": 0 if self.datastore is None else self.datastore.count,
            "parameters": captioner.parameter_report(),
            "example_prompts": {
                language: {"prompt": e.prompt, "caption": e.caption}
                for language, e in first.items()
            },
        }


def closest_reference(
    retrieved: str, references: Sequence[str], tokenize: Callable[[str], Sequence[int]]
) -> int:
    """The position in ``references`` of the caption most like ``retrieved``: the highest Jaccard
    similarity of their sets of token unigrams and bigrams (``tokenize`` gives a text's token
    ids, so that it works in every script); the first on ties."""
    wanted = _token_grams(tokenize(retrieved))
    scores = [_jaccard(_token_grams(tokenize(text)), wanted) for text in references]
    return max(range(len(references)), key=scores.__getitem__)


def _token_grams(ids: Sequence[int]) -> set[tuple[int, ...]]:
    return {(token,) for token in ids} | set(pairwise(ids))


def _jaccard(a: set[tuple[int, ...]], b: set[tuple[int, ...]]) -> float:
    return len(a & b) / len(a | b) if a or b else 0.0


def _base_dir(context: TaskContext) -> Path:
    """Where relative paths start: the config's folder, or the current folder for a shipped
    recipe."""
    source = context.source.resolve() if context.source is not None else None
    if source is not None and source.parent == RECIPE_DIR:
        return Path.cwd()
    return context.base_dir


__all__ = ["CaptionTask", "CaptionTaskOptions", "closest_reference"]
