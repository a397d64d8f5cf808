"""Multi-stage training of vision-language models: the ``vlm`` task of the shared training loop.

The lectures' blueprint: pretrained components (a vision tower, a language model), a learnable
bridge, data to fit it, several stages. One task covers every stage; recipes choose what is
trained on what:

- **stage 1** (``trainable = "connector"``, ``kinds = ["captions"]``): only the bridge learns,
  on captions, with the vision tower and the language model frozen;
- **stage 2** (``trainable = "connector+lora"`` or ``"connector+lm"``, ``kinds = ["vqa",
  "captions"]``): the bridge and LoRA adapters on the language model (through ``peft``,
  :mod:`vislang.models.lora`) or the whole language model, on questions and captions, starting
  from stage 1's model (``model = "<stage-1 run>/model"``).

The **bridge** is the connector and the image-position embeddings, and for the cross-attention
VLM (``architecture = "flamingo"``) also the gated cross-attention layers. The vision tower is
frozen in every stage (as in LLaVA), so its features of every image are computed once, before
training, and the model reads them instead of pixels. Frozen weights are marked
``requires_grad=False``; the loop checks they never change.

A step's global batch holds ``batch_size`` examples (:mod:`vislang.models.vlm_data`); with both
kinds, ``round(batch_size · vqa_share)`` questions and the rest captions. Each kind is read in
epochs of a permutation of its examples drawn from ``(seed, kind, epoch)``, so a batch depends on
the seed and the step only. A sequence is ``<s>`` + prompt (``<image>`` and the question, or the
caption prompt) + ``" "`` + answer or caption + ``</s>``, with the loss on the answer or caption
and ``</s>`` only; each process's loss is its summed token loss over its share of the global
batch's target tokens, so the averaged gradient is that of the global token mean.

Evaluation reports VQA accuracy on a seeded sample of ``eval_questions`` questions of
``eval_split`` (overall, per question type ``vqa_<type>``, per language ``vqa_<code>``), and with
``eval_captions > 0`` CIDEr-D of captions generated for that many (image, language) records
(``cider_<code>`` and their mean ``cider``). With ``LoRA``, the exported model has the adapters
merged into the language model's weights.
"""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from vislang import console
from vislang.data.schema import CaptionExample, VQAExample
from vislang.errors import ConfigError
from vislang.evaluate.vqa import score_vqa
from vislang.metrics.caption_scores import score_captions
from vislang.models.causal_lm import IGNORE_INDEX, CausalLM, next_token_loss
from vislang.models.flamingo import FlamingoVLM
from vislang.models.lora import add_lora, has_lora, merge_lora
from vislang.models.prefix_vlm import PrefixVLM
from vislang.models.registry import load_model, preset_names, save_model
from vislang.models.vision_language import VisionLanguageModel
from vislang.models.vision_tower import VisionTower, tower_features
from vislang.models.vlm_data import (
    KINDS,
    SplitRecords,
    VLMExample,
    build_examples,
    generate_world_records,
    read_records,
    sample_pool,
    world_config,
)
from vislang.recipes import RECIPE_DIR
from vislang.train import TaskContext, TrainTask, unwrap
from vislang.train.distributed import env_rank
from vislang.train.seeding import derive_seed

ARCHITECTURES = ("prefix", "flamingo")
TRAINABLE = ("connector", "connector+lora", "connector+lm")
_HUB_ID = re.compile(r"^[\w.-]+/[\w.-]+$")


@dataclass(frozen=True)
class VLMTaskOptions:
    """The ``[task]`` keys of ``vlm``.

    Model: ``model`` is a saved vision-language model folder to continue from (stage 2);
    when empty, a new model of ``architecture`` (``"prefix"`` or ``"flamingo"``) is built from
    the image tower of the dual encoder ``vision`` (preset, folder or Hugging Face CLIP/SigLIP;
    hidden states of ``feature_layer``), the causal LM ``lm`` (preset, folder or Hugging Face
    checkpoint) and a fresh ``connector`` (with ``connector_options``), with
    ``image_positions`` image-position embeddings; a Flamingo model gets gated cross-attention
    before every ``every``-th block with a feed-forward part ``feed_forward`` times the LM's
    width. Relative folders are relative to the config file, or to the working directory for a
    shipped recipe. ``trainable``: ``"connector"`` (the bridge), ``"connector+lora"`` (and LoRA
    adapters of ``lora_rank``, ``lora_alpha``), ``"connector+lm"`` (and the whole LM).

    Data: ``data`` is ``"FORMAT:PATH"`` of a reader with VQA and caption records; when empty a
    world of ``scenes`` scenes (``world_seed``, ``split_mode``) is generated in memory.
    ``languages`` selects languages (empty: all), ``kinds`` what is trained on (``vqa``,
    ``captions``), ``vqa_share`` the questions' share of a batch when both are; ``examples``
    > 0 limits training to a pool of that many examples drawn with ``pool_seed``.
    """

    architecture: str = "prefix"
    model: str = ""
    vision: str = "clip-tiny"
    feature_layer: int = -1
    lm: str = "causal_lm-tiny"
    connector: str = "mlp"
    connector_options: dict[str, Any] = field(default_factory=dict)
    image_positions: int = 4
    every: int = 1
    feed_forward: int = 4
    trainable: str = "connector"
    lora_rank: int = 8
    lora_alpha: int = 16
    data: str = ""
    scenes: int = 6000
    world_seed: int = 0
    split_mode: str = "compositional"
    languages: tuple[str, ...] = ()
    kinds: tuple[str, ...] = ("captions",)
    vqa_share: float = 0.5
    examples: int = 0
    pool_seed: int = 0
    train_split: str = "train"
    eval_split: str = "val"
    eval_questions: int = 700
    eval_captions: int = 0
    caption_beams: int = 3
    eval_batch_size: int = 64
    feature_batch_size: int = 64
    decode_threads: int = 2

    def __post_init__(self) -> None:
        if self.architecture not in ARCHITECTURES:
            raise ConfigError(f"architecture: one of {', '.join(ARCHITECTURES)}")
        if self.trainable not in TRAINABLE:
            raise ConfigError(f"trainable: one of {', '.join(TRAINABLE)}")
        unknown = [kind for kind in self.kinds if kind not in KINDS]
        if unknown or not self.kinds:
            raise ConfigError(f"kinds: a non-empty list of {', '.join(KINDS)}")
        if not 0.0 < self.vqa_share < 1.0:
            raise ConfigError("vqa_share: must be between 0 and 1 (exclusive)")
        if self.split_mode not in ("iid", "compositional"):
            raise ConfigError("split_mode: 'iid' or 'compositional'")
        for key in ("scenes", "eval_batch_size", "feature_batch_size", "decode_threads"):
            if getattr(self, key) < 1:
                raise ConfigError(f"{key}: must be at least 1")
        for key in ("examples", "eval_questions", "eval_captions"):
            if getattr(self, key) < 0:
                raise ConfigError(f"{key}: must be >= 0")


class VLMTask(TrainTask):
    """Train a vision-language model's bridge (and LoRA or LM); see the module docstring."""

    def __init__(self, context: TaskContext) -> None:
        self.options = options = context.options_as(VLMTaskOptions)
        self.where = context.where
        self.seed, self.batch_size = context.seed, context.batch_size
        self.show_progress = env_rank() == 0
        self.base = _reference_base(context)
        reference = self._build_untrained()
        self.model_name = reference.config.name
        self.tokenizer = reference.tokenizer
        self.image_token_id = reference.config.image_token_id
        data = self._read(context)
        train_set = build_examples(data.records[options.train_split], KINDS, data.images)
        pool = sample_pool(train_set.examples, options.examples, options.pool_seed)
        self.examples = {kind: [e for e in pool if e.kind == kind] for kind in options.kinds}
        self.train_features = self._features(reference.vision, train_set.sources, "training")
        self.too_long = 0
        self.sequences = {
            kind: self._encode(reference, examples) for kind, examples in self.examples.items()
        }
        empty = [kind for kind, found in self.sequences.items() if not found]
        if empty:
            raise ConfigError(
                f"{self.where}: task: no {' or '.join(empty)} examples (that fit the language "
                f"model) in split {options.train_split!r}"
            )
        self.per_step = self._kind_counts()
        self._permutations: dict[tuple[str, int], np.ndarray] = {}
        self._eval_setup(reference, data)
        self._report()

    # --- the TrainTask interface --------------------------------------------------------------

    def build_model(self) -> nn.Module:
        """The model to train, with everything outside the bridge (and LoRA or the LM, as
        ``trainable`` says) frozen."""
        model = self._build_untrained()
        options = self.options
        if options.trainable == "connector+lora":
            add_lora(model.lm, rank=options.lora_rank, alpha=options.lora_alpha, seed=self.seed)
        for name, parameter in model.named_parameters():
            parameter.requires_grad_(_is_trained(name, parameter, options.trainable))
        return model

    def batch(self, step: int, rank: int, world_size: int) -> dict[str, Any]:
        """This process's slice of step ``step``'s examples (questions first, then captions):
        right-padded ids, labels, the images' features, and the global target-token count
        share."""
        rows: list[tuple[np.ndarray, int, int]] = []
        for kind, count in self.per_step.items():
            rows += [self.sequences[kind][i] for i in self._positions(kind, step, count)]
        global_tokens = sum(len(ids) - start for ids, start, _ in rows)
        shard = self.batch_size // world_size
        mine = rows[rank * shard : (rank + 1) * shard]
        width = max(len(ids) for ids, _, _ in mine)
        pad = self.tokenizer.pad_token_id
        input_ids = torch.full((len(mine), width), pad, dtype=torch.long)
        attention_mask = torch.zeros((len(mine), width), dtype=torch.long)
        labels = torch.full((len(mine), width), IGNORE_INDEX, dtype=torch.long)
        for i, (ids, start, _) in enumerate(mine):
            input_ids[i, : len(ids)] = torch.from_numpy(ids)
            attention_mask[i, : len(ids)] = 1
            labels[i, start : len(ids)] = input_ids[i, start : len(ids)]
        images = torch.as_tensor([image for _, _, image in mine], dtype=torch.long)
        return {
            "input_ids": input_ids,
            "attention_mask": attention_mask,
            "labels": labels,
            "features": self.train_features[images],
            "token_share": global_tokens / world_size,
        }

    def loss(
        self, model: nn.Module, batch: dict[str, Any]
    ) -> tuple[torch.Tensor, dict[str, float]]:
        """Summed next-token cross-entropy of the answers and captions of the shard over its
        share of the global batch's target tokens."""
        output = model(
            input_ids=batch["input_ids"],
            attention_mask=batch["attention_mask"],
            labels=batch["labels"],
            features=batch["features"],
        )
        return next_token_loss(output.logits, output.labels, batch["token_share"])

    def evaluate(self, model: nn.Module) -> dict[str, float]:
        """VQA accuracy (overall, per question type, per language) on the evaluation sample,
        and CIDEr-D per language of generated captions when ``eval_captions > 0``."""
        vlm = unwrap(model)
        metrics: dict[str, float] = {}
        if self.eval_question_records:
            records = self.eval_question_records
            answers = vlm.generate(
                [vlm.question_prompt(r.question) for r in records],
                features=self.eval_features[self.eval_question_images],
                max_new_tokens=8,
                batch_size=self.options.eval_batch_size,
            )
            report = score_vqa(records, answers)
            metrics["vqa"] = report.accuracy
            metrics.update({f"vqa_{k}": v for k, v in report.by_type.items()})
            metrics.update({f"vqa_{k}": v for k, v in report.by_language.items()})
        if self.eval_caption_records:
            metrics.update(self._caption_scores(vlm))
        return metrics

    def export(self, model: nn.Module, out_dir: Path) -> None:
        """Save the trained model as a vislang model directory, LoRA adapters merged into the
        language model (the trained model itself is left as it is)."""
        trained = unwrap(model)
        fresh = self.build_model()
        fresh.load_state_dict(trained.state_dict())
        merge_lora(fresh.lm)
        save_model(fresh.requires_grad_(False).eval(), out_dir)

    # --- model --------------------------------------------------------------------------------

    def _build_untrained(self) -> VisionLanguageModel:
        """The starting model: the saved model to continue, or a new one from its parts."""
        options = self.options
        if options.model:
            model = load_model(self._reference(options.model, "model"))
            if not isinstance(model, VisionLanguageModel):
                raise ConfigError(
                    f"{self.where}: task.model: {options.model!r} is a "
                    f"{type(model).__name__}, not a vision-language model"
                )
            if has_lora(model.lm):
                raise ConfigError(f"{self.where}: task.model: holds unmerged LoRA adapters")
            return model
        encoder = load_model(self._reference(options.vision, "vision"))
        vision = VisionTower.from_encoder(encoder, feature_layer=options.feature_layer)
        lm = load_model(self._reference(options.lm, "lm"))
        if not isinstance(lm, CausalLM):
            raise ConfigError(f"{self.where}: task.lm: {options.lm!r} is not a causal LM")
        common = {
            "connector_options": dict(options.connector_options),
            "image_positions": options.image_positions,
            "seed": self.seed,
        }
        try:
            if options.architecture == "flamingo":
                return FlamingoVLM.from_parts(
                    vision,
                    lm,
                    options.connector,
                    every=options.every,
                    feed_forward=options.feed_forward,
                    **common,
                )
            return PrefixVLM.from_parts(vision, lm, options.connector, **common)
        except ConfigError as error:
            raise ConfigError(f"{self.where}: task: {error}") from None

    def _reference(self, name: str, key: str) -> str:
        """A model reference of the options as ``load_model`` takes it: a folder made absolute,
        a preset or a hub id as it is."""
        path = Path(name)
        if not path.is_absolute():
            path = self.base / path
        if path.is_dir():
            return str(path)
        if name in preset_names() or _HUB_ID.match(name):
            return name
        raise ConfigError(
            f"{self.where}: task.{key}: {name!r} is neither a model folder ({path} does not "
            "exist) nor a preset nor a hub id"
        )

    # --- data ---------------------------------------------------------------------------------

    def _read(self, context: TaskContext) -> SplitRecords:
        options = self.options
        splits = tuple(dict.fromkeys((options.train_split, options.eval_split)))
        if options.data:
            name, sep, path = options.data.partition(":")
            if not sep or not path:
                raise ConfigError(f"{self.where}: task.data: expected FORMAT:PATH")
            data = read_records(f"{name}:{context.resolve_path(path)}", splits, options.languages)
            if (data.skipped or data.missing_images) and self.show_progress:
                console.log(
                    f"{options.data}: {data.skipped} bad items and {data.missing_images} records "
                    "with missing images left out"
                )
            return data
        config = world_config(
            options.scenes, options.world_seed, options.split_mode, options.languages
        )
        return generate_world_records(config, splits, show_progress=self.show_progress)

    def _features(self, vision: VisionTower, sources: list, what: str) -> torch.Tensor:
        encoded = tower_features(
            vision,
            sources,
            batch_size=self.options.feature_batch_size,
            threads=self.options.decode_threads,
            show_progress=self.show_progress,
            description=f"encoding {what} images",
        )
        if encoded.failures:
            source, reason = encoded.failures[0]
            raise ConfigError(
                f"{self.where}: {len(encoded.failures)} {what} images could not be decoded "
                f"(first: {source}: {reason})"
            )
        return encoded.features

    def _encode(
        self, model: VisionLanguageModel, examples: list[VLMExample]
    ) -> list[tuple[np.ndarray, int, int]]:
        """Per example: the token ids of start + prompt + " " + target + end, where the target
        starts, and the image index. Examples longer than the language model's positions (with
        the image's tokens) are left out and counted in :attr:`too_long`."""
        prompts = [
            model.question_prompt(e.text) if e.kind == "vqa" else model.caption_prompt(e.language)
            for e in examples
        ]
        targets = [" " + e.target for e in examples]
        prompt_ids = self.tokenizer(prompts, add_special_tokens=False, verbose=False)["input_ids"]
        target_ids = self.tokenizer(targets, add_special_tokens=False, verbose=False)["input_ids"]
        start, end = model.lm.start_ids, [self.tokenizer.eos_token_id]
        positions = getattr(model.lm.model.config, "max_position_embeddings", None)
        limit = positions - model.tokens_per_image + 1 if positions else None
        encoded = []
        for example, prompt, target in zip(examples, prompt_ids, target_ids, strict=True):
            if prompt.count(self.image_token_id) != 1:
                raise ConfigError(
                    f"{self.where}: the prompt template must hold exactly one <image>"
                )
            ids = start + prompt + target + end
            if limit is not None and len(ids) > limit:
                self.too_long += 1
                continue
            encoded.append(
                (np.asarray(ids, dtype=np.int64), len(start) + len(prompt), example.image)
            )
        return encoded

    def _kind_counts(self) -> dict[str, int]:
        kinds = list(self.examples)
        if len(kinds) == 1:
            return {kinds[0]: self.batch_size}
        questions = round(self.batch_size * self.options.vqa_share)
        if not 0 < questions < self.batch_size:
            raise ConfigError(
                f"{self.where}: train.batch_size {self.batch_size} is too small to mix "
                f"questions and captions at vqa_share {self.options.vqa_share}"
            )
        return {"vqa": questions, "captions": self.batch_size - questions}

    def _positions(self, kind: str, step: int, count: int) -> list[int]:
        """Positions ``step·count … step·count + count − 1`` of the kind's endless sequence of
        seeded epoch permutations."""
        size = len(self.sequences[kind])
        positions = []
        for position in range(step * count, (step + 1) * count):
            epoch, slot = divmod(position, size)
            positions.append(int(self._permutation(kind, epoch, size)[slot]))
        return positions

    def _permutation(self, kind: str, epoch: int, size: int) -> np.ndarray:
        key = (kind, epoch)
        if key not in self._permutations:
            if len(self._permutations) >= 2 * len(KINDS):
                self._permutations.clear()
            rng = np.random.default_rng(derive_seed(self.seed, kind, "epoch", epoch))
            self._permutations[key] = rng.permutation(size)
        return self._permutations[key]

    # --- evaluation ---------------------------------------------------------------------------

    def _eval_setup(self, model: VisionLanguageModel, data: SplitRecords) -> None:
        """The evaluation sample: questions and caption records of the evaluation split, drawn
        from the seed, and their images' features."""
        options = self.options
        questions = data.of_kind(options.eval_split, VQAExample)
        captions = data.of_kind(options.eval_split, CaptionExample)
        rng = np.random.default_rng(derive_seed(self.seed, "eval"))
        self.eval_question_records = _sample(questions, options.eval_questions, rng)
        self.eval_caption_records = _sample(captions, options.eval_captions, rng)
        chosen = self.eval_question_records + self.eval_caption_records
        image_set = build_examples(chosen, KINDS, data.images)
        index = {key: i for i, key in enumerate(image_set.image_keys)}
        self.eval_question_images = [index[str(r.image)] for r in self.eval_question_records]
        self.eval_caption_images = [index[str(r.image)] for r in self.eval_caption_records]
        self.eval_features = (
            self._features(model.vision, image_set.sources, "evaluation")
            if image_set.sources
            else torch.zeros(0)
        )

    def _caption_scores(self, vlm: VisionLanguageModel) -> dict[str, float]:
        records = self.eval_caption_records
        captions = vlm.generate(
            [vlm.caption_prompt(r.language) for r in records],
            features=self.eval_features[self.eval_caption_images],
            max_new_tokens=32,
            num_beams=self.options.caption_beams,
            batch_size=self.options.eval_batch_size,
        )
        by_language: dict[str, tuple[dict[str, list[str]], dict[str, str]]] = defaultdict(
            lambda: ({}, {})
        )
        for record, caption in zip(records, captions, strict=True):
            references, predictions = by_language[record.language]
            references[record.id] = list(record.captions)
            predictions[record.id] = caption
        scores = {
            f"cider_{language}": score_captions(refs, preds, language).corpus["CIDEr-D"]
            for language, (refs, preds) in sorted(by_language.items())
        }
        scores["cider"] = float(np.mean(list(scores.values())))
        return scores

    def _report(self) -> None:
        if not self.show_progress:
            return
        counts = ", ".join(f"{len(v)} {k}" for k, v in self.sequences.items())
        console.log(
            f"{self.model_name}: training on {counts} examples "
            f"({len(self.train_features)} images); per step "
            + ", ".join(f"{n} {k}" for k, n in self.per_step.items())
            + (
                f"; {self.too_long} examples longer than the language model's positions left out"
                if self.too_long
                else ""
            )
        )


def _is_trained(name: str, parameter: nn.Parameter, trainable: str) -> bool:
    """Whether parameter ``name`` of a vision-language model learns under ``trainable``."""
    if name.startswith(("connector.", "image_position.")) or ".cross_attention." in name:
        return True
    if not name.startswith("lm."):
        return False
    if trainable == "connector+lm":
        return True
    return trainable == "connector+lora" and "lora_" in name


def _reference_base(context: TaskContext) -> Path:
    """Where relative model folders are: beside the config, or in the working directory for a
    shipped recipe (whose own folder is inside the installed package)."""
    source = context.source
    if source is not None and source.resolve().parent == RECIPE_DIR:
        return Path.cwd()
    return context.base_dir


def _sample(records: list, count: int, rng: np.random.Generator) -> list:
    if count >= len(records):
        return list(records)
    chosen = np.sort(rng.choice(len(records), size=count, replace=False))
    return [records[int(i)] for i in chosen]


__all__ = ["VLMTask", "VLMTaskOptions"]
