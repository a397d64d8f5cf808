"""Stage 0: pretrain a small causal language model on the synthetic world's text.

A :class:`~vislang.train.TrainTask` for the shared loop (``[task] name = "lm-pretrain"``). It reads
the world's texts (:mod:`vislang.models.lm_corpus`) from a world folder or from a world generated
in memory, trains the world's BPE tokenizer on the training texts
(:mod:`vislang.models.lm_tokenizer`), and trains a :class:`~vislang.models.causal_lm.CausalLM`
with next-token cross-entropy on ``<s> text </s>`` sequences, one text per sequence. Evaluation
reports perplexity on held-out ``val`` texts per language and per text kind, and bits per UTF-8
byte (comparable across tokenizers). The exported model is a vislang model directory
(``load_model(OUT/model)``) with its tokenizer.

Every process computes the same data: a step's global batch is a slice of a permutation of the
training texts drawn from ``(seed, epoch)``, so it depends only on the seed and the step, and the
loss of a shard is its summed token loss divided by the global batch's token count over the
number of processes, which makes the gradient after averaging that of the global token mean.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from vislang.errors import ConfigError
from vislang.models.causal_lm import IGNORE_INDEX, CausalLM, CausalLMConfig, next_token_loss
from vislang.models.lm_corpus import (
    STAGE0_WORLD,
    TEXT_KINDS,
    LMText,
    texts_from_folder,
    texts_from_world,
)
from vislang.models.lm_tokenizer import train_tokenizer
from vislang.models.registry import save_model
from vislang.train import TaskContext, TrainTask, unwrap
from vislang.train.seeding import derive_seed


@dataclass(frozen=True)
class LMPretrainOptions:
    """The ``[task]`` keys of ``lm-pretrain``.

    ``world`` is a world folder (relative to the config file); when empty, a world of ``scenes``
    scenes with seed ``world_seed`` and split mode ``split_mode`` is generated in memory. Texts of
    the ``train`` split are trained on, ``val`` texts evaluated (``eval_texts`` per language, a
    seeded sample). ``architecture`` overrides fields of the preset's ``transformers`` config
    (e.g. ``{hidden_size = 128}``); the vocabulary size is the trained tokenizer's.
    """

    world: str = ""
    scenes: int = STAGE0_WORLD.scenes
    world_seed: int = STAGE0_WORLD.seed
    split_mode: str = STAGE0_WORLD.split
    languages: tuple[str, ...] = ()
    kinds: tuple[str, ...] = TEXT_KINDS
    preset: str = "tiny"
    architecture: dict[str, Any] = field(default_factory=dict)
    vocab_size: int = 1024
    max_tokens: int = 128
    eval_texts: int = 500
    eval_batch_size: int = 128

    def __post_init__(self) -> None:
        if self.scenes < 1:
            raise ConfigError("scenes: must be at least 1")
        if self.max_tokens < 2:
            raise ConfigError("max_tokens: must be at least 2")
        if self.eval_texts < 1 or self.eval_batch_size < 1:
            raise ConfigError("eval_texts and eval_batch_size: must be at least 1")
        if "vocab_size" in self.architecture:
            raise ConfigError("architecture.vocab_size: set by the tokenizer; use vocab_size")


class LMPretrainTask(TrainTask):
    """Next-token prediction on the world's texts; see the module docstring."""

    options_class: type[LMPretrainOptions] = LMPretrainOptions

    def __init__(self, context: TaskContext) -> None:
        self.options = options = context.options_as(self.options_class)
        self.where = context.where
        self.seed, self.batch_size = context.seed, context.batch_size
        train_texts, val_texts = self._read_texts(context)
        if not train_texts or not val_texts:
            raise ConfigError(
                f"{self.where}: task: the world has {len(train_texts)} train and "
                f"{len(val_texts)} val texts; both splits need some (more scenes?)"
            )
        architecture = self._architecture()
        self.tokenizer = train_tokenizer(
            (t.text for t in train_texts),
            options.vocab_size,
            architecture.get("max_position_embeddings", options.max_tokens),
        )
        self.config = CausalLMConfig(
            name=f"causal_lm-{options.preset}-world",
            hf_config={**architecture, "vocab_size": len(self.tokenizer)},
            seed=self.seed,
        )
        self.train_tokens, self.train_offsets = self._pack(train_texts)
        self.eval_texts = self._eval_sample(val_texts)

    # --- the TrainTask interface --------------------------------------------------------------

    def build_model(self) -> nn.Module:
        """A fresh model of the preset's architecture with the trained tokenizer."""
        return CausalLM.with_tokenizer(self.config, self.tokenizer)

    def batch(self, step: int, rank: int, world_size: int) -> dict[str, Any]:
        """Texts ``step·B … step·B + B − 1`` of the epoch-wise shuffled training texts; this
        process's slice, right-padded, with the global batch's token count."""
        count = len(self.train_offsets) - 1
        positions = range(step * self.batch_size, (step + 1) * self.batch_size)
        indices = [int(self._permutation(p // count)[p % count]) for p in positions]
        rows = [self._sequence(i) for i in indices]
        global_tokens = sum(len(row) - 1 for row in rows)
        shard = self.batch_size // world_size
        mine = rows[rank * shard : (rank + 1) * shard]
        width = max(len(row) for row in mine)
        input_ids = torch.full((len(mine), width), self.tokenizer.pad_token_id, dtype=torch.long)
        labels = torch.full((len(mine), width), IGNORE_INDEX, dtype=torch.long)
        for i, row in enumerate(mine):
            input_ids[i, : len(row)] = torch.from_numpy(row)
            labels[i, : len(row)] = input_ids[i, : len(row)]
        return {
            "input_ids": input_ids,
            "attention_mask": (labels != IGNORE_INDEX).long(),
            "labels": labels,
            "token_share": global_tokens / world_size,
        }

    def loss(
        self, model: nn.Module, batch: dict[str, Any]
    ) -> tuple[torch.Tensor, dict[str, float]]:
        """Summed next-token cross-entropy of the shard over its share of the global tokens."""
        logits = model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).logits
        return next_token_loss(logits, batch["labels"], batch["token_share"])

    def evaluate(self, model: nn.Module) -> dict[str, float]:
        """Perplexity of the held-out texts per language (``ppl_<code>``), per kind
        (``ppl_<kind>``) and overall (``ppl``), and bits per UTF-8 byte (``bits_per_byte``,
        counting one byte for the end of each text). Every text ends with ``</s>``, scored."""
        lm = unwrap(model)
        texts = self.eval_texts
        scores = lm.log_likelihood(
            [t.text for t in texts], include_eos=True, batch_size=self.options.eval_batch_size
        )
        metrics: dict[str, float] = {}
        groups = {
            "": list(range(len(texts))),
            **{f"_{code}": [] for code in sorted({t.language for t in texts})},
            **{f"_{kind}": [] for kind in self.options.kinds},
        }
        for i, text in enumerate(texts):
            groups[f"_{text.language}"].append(i)
            groups[f"_{text.kind}"].append(i)
        for suffix, members in groups.items():
            if members:
                nats = -sum(scores[i].total for i in members)
                metrics[f"ppl{suffix}"] = math.exp(nats / sum(scores[i].tokens for i in members))
        total_bytes = sum(len(t.text.encode("utf-8")) + 1 for t in texts)
        metrics["bits_per_byte"] = -sum(s.total for s in scores) / math.log(2) / total_bytes
        return metrics

    def export(self, model: nn.Module, out_dir: Path) -> None:
        """Save the trained model and its tokenizer as a vislang model directory."""
        save_model(unwrap(model), out_dir)

    # --- data ---------------------------------------------------------------------------------

    def _read_texts(self, context: TaskContext) -> tuple[list[LMText], list[LMText]]:
        options = self.options
        languages = options.languages or None
        if options.world:
            folder = context.resolve_path(options.world)
            texts = texts_from_folder(folder, ("train", "val"), options.kinds, languages)
        else:
            if options.split_mode not in ("iid", "compositional"):
                raise ConfigError(
                    f"{self.where}: task.split_mode: 'iid' or 'compositional', "
                    f"not {options.split_mode!r}"
                )
            world = STAGE0_WORLD.replace(
                scenes=options.scenes, seed=options.world_seed, split=options.split_mode
            )
            texts = texts_from_world(world, ("train", "val"), options.kinds, languages)
        return [t for t in texts if t.split == "train"], [t for t in texts if t.split == "val"]

    def _architecture(self) -> dict[str, Any]:
        """The preset's ``transformers`` config with the task's overrides."""
        presets = CausalLM.presets()
        if self.options.preset not in presets:
            raise ConfigError(
                f"{self.where}: task.preset: unknown {self.options.preset!r} "
                f"(presets: {', '.join(sorted(presets))})"
            )
        architecture = {**presets[self.options.preset].hf_config, **self.options.architecture}
        positions = architecture.get("max_position_embeddings")
        if positions is not None and self.options.max_tokens > positions:
            raise ConfigError(
                f"{self.where}: task.max_tokens: {self.options.max_tokens} exceeds the model's "
                f"{positions} positions"
            )
        return architecture

    def _pack(self, texts: Sequence[LMText]) -> tuple[np.ndarray, np.ndarray]:
        """All training sequences ``<s> text </s>`` (cut at ``max_tokens``) in one flat array,
        with the offsets where each starts (and a final end offset)."""
        limit = self.options.max_tokens
        encoded = self.tokenizer(  # cut here already: no warning about over-long texts
            [t.text for t in texts], add_special_tokens=False, truncation=True, max_length=limit - 1
        )["input_ids"]
        bos, eos = self.tokenizer.bos_token_id, self.tokenizer.eos_token_id
        sequences = [np.asarray([bos, *ids, eos][:limit], dtype=np.int64) for ids in encoded]
        lengths = np.fromiter((len(s) for s in sequences), dtype=np.int64, count=len(sequences))
        offsets = np.concatenate([[0], np.cumsum(lengths)])
        return np.concatenate(sequences), offsets

    def _sequence(self, index: int) -> np.ndarray:
        return self.train_tokens[self.train_offsets[index] : self.train_offsets[index + 1]]

    @lru_cache(maxsize=2)  # noqa: B019  (one task per run; the cache dies with it)
    def _permutation(self, epoch: int) -> np.ndarray:
        count = len(self.train_offsets) - 1
        return np.random.default_rng(derive_seed(self.seed, "epoch", epoch)).permutation(count)

    def _eval_sample(self, texts: Sequence[LMText]) -> list[LMText]:
        """Up to ``eval_texts`` held-out texts per language, drawn from the seed, in corpus
        order."""
        rng = np.random.default_rng(derive_seed(self.seed, "eval-texts"))
        by_language: dict[str, list[int]] = {}
        for i, text in enumerate(texts):
            by_language.setdefault(text.language, []).append(i)
        chosen: list[int] = []
        for members in by_language.values():
            take = min(self.options.eval_texts, len(members))
            chosen += [members[j] for j in rng.choice(len(members), size=take, replace=False)]
        return [texts[i] for i in sorted(chosen)]
