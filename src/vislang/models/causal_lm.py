"""Causal language models: a ``transformers`` decoder and its tokenizer, as vislang uses them.

:class:`CausalLM` holds a Hugging Face causal LM (``model``: GPT-2, XGLM, Llama-style) and its
tokenizer, and offers what captioners, vision-language models and probes build on:

- ``embed_tokens(ids)``: the input embeddings the decoder reads (XGLM's scale included), to splice
  visual tokens into with ``model(inputs_embeds=...)``; ``decoder_layers``: the blocks to insert
  cross-attention between; ``hidden_size``; ``image_token_id``;
- ``tokenize(texts, prefixes)``: ids with the model's start token and ``labels`` on the texts'
  tokens only (the prefix, start and padding are ``-100``);
- ``log_likelihood(texts, prefixes)``: per text the summed log-probability, the token count and
  their mean (the language-prior baseline of probes);
- ``generate(prompts)`` / ``generate_beams(prompts)``: ``transformers``' generation (beam search,
  KV cache), batched with left padding.

The ``tiny`` preset (``causal_lm-tiny``) is a 4-layer Llama-style decoder with the world's BPE
tokenizer (:mod:`vislang.models.lm_tokenizer`), small enough to pretrain on the world's text in
minutes on a CPU (:mod:`vislang.models.lm_pretrain`). :func:`build_on_meta` builds the published
``gpt2`` and ``facebook/xglm-2.9B`` architectures without weights, for parameter counts.
"""

from __future__ import annotations

import contextlib
import math
import tempfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar, Literal, NamedTuple

import torch
import torch.nn.functional as F
from torch import nn
from transformers import AutoConfig, AutoModelForCausalLM, AutoTokenizer, PreTrainedModel
from transformers.tokenization_utils_base import PreTrainedTokenizerBase

from vislang.errors import ConfigError
from vislang.fileio import atomic_write_bytes
from vislang.models.lm_tokenizer import IMAGE_TOKEN, stage0_tokenizer
from vislang.models.registry import register_family

TOKENIZER_DIR = "tokenizer"
"""Sub-directory of a saved model holding its tokenizer files (``tokenizer.json`` and config)."""

IGNORE_INDEX = -100
"""Label of positions that carry no loss (``transformers``' convention)."""

_HF_CONFIG_DROPPED = ("transformers_version", "_name_or_path", "dtype", "torch_dtype")
"""Fields of a checkpoint's config that describe the file, not the architecture."""

TINY_ARCHITECTURE: dict[str, Any] = {
    "model_type": "llama",
    "vocab_size": 1024,
    "hidden_size": 128,
    "intermediate_size": 344,
    "num_hidden_layers": 4,
    "num_attention_heads": 4,
    "num_key_value_heads": 4,
    "max_position_embeddings": 256,
    "rms_norm_eps": 1e-5,
    "tie_word_embeddings": True,
    "pad_token_id": 0,
    "bos_token_id": 1,
    "eos_token_id": 2,
}
"""``causal_lm-tiny``: Llama-style (RoPE, RMSNorm, SwiGLU), 4 layers of width 128, 4 heads of 32,
an MLP of 344 (≈ 8/3 × 128), input and output embeddings tied, the world's 1,024-token BPE
vocabulary, 256 positions: 922,752 parameters."""

PUBLISHED_ARCHITECTURES: dict[str, dict[str, Any]] = {
    "gpt2": {
        "model_type": "gpt2",
        "vocab_size": 50257,
        "n_positions": 1024,
        "n_embd": 768,
        "n_layer": 12,
        "n_head": 12,
        "n_inner": None,
        "activation_function": "gelu_new",
        "layer_norm_epsilon": 1e-5,
        "tie_word_embeddings": True,
        "bos_token_id": 50256,
        "eos_token_id": 50256,
    },
    "facebook/xglm-2.9B": {
        "model_type": "xglm",
        "vocab_size": 256008,
        "max_position_embeddings": 2048,
        "d_model": 2048,
        "ffn_dim": 8192,
        "num_layers": 48,
        "attention_heads": 16,
        "activation_function": "gelu",
        "scale_embedding": True,
        "tie_word_embeddings": True,
        "bos_token_id": 0,
        "pad_token_id": 1,
        "eos_token_id": 2,
    },
}
"""The published architectures' ``transformers`` configs (124,439,808 and 2,941,505,536
parameters), for :func:`build_on_meta`."""


@dataclass(frozen=True)
class CausalLMConfig:
    """One causal language model: its ``transformers`` architecture and where its tokenizer is.

    ``hf_config`` is the ``transformers`` config as JSON (``model_type`` and the fields that
    differ from that type's defaults, or all of them for a loaded checkpoint). ``tokenizer`` is
    ``"world"`` (the world's BPE tokenizer: the one saved beside the weights, or for a fresh
    preset the stage-0 tokenizer, see :func:`vislang.models.lm_tokenizer.stage0_tokenizer`) or
    ``"checkpoint"`` (a checkpoint's own tokenizer, saved beside the weights). ``seed`` seeds
    the random initialisation.
    """

    name: str
    hf_config: dict[str, Any]
    tokenizer: Literal["world", "checkpoint"] = "world"
    seed: int = 0


class TextLikelihood(NamedTuple):
    """The log-likelihood of one text: summed over its tokens, the token count, and the mean."""

    total: float
    tokens: int
    mean: float


@register_family("causal_lm")
class CausalLM(nn.Module):
    """A ``transformers`` causal language model with its tokenizer; see the module docstring.

    Sequences start with the model's start token(s) (:attr:`start_ids`: ``<s>`` for Llama and
    the world tokenizer, ``</s>`` for XGLM, ``<|endoftext|>`` for GPT-2); prefixes and texts are
    tokenised separately, without special tokens, and concatenated after it.
    """

    family: ClassVar[str]
    config_class: ClassVar[type] = CausalLMConfig
    hf_model_types: ClassVar[tuple[str, ...]] = ("gpt2", "llama", "xglm")

    def __init__(
        self, config: CausalLMConfig, model: PreTrainedModel, tokenizer: PreTrainedTokenizerBase
    ) -> None:
        super().__init__()
        if len(tokenizer) > model.get_input_embeddings().num_embeddings:
            raise ConfigError(
                f"{config.name}: the tokenizer has {len(tokenizer)} tokens but the model only "
                f"{model.get_input_embeddings().num_embeddings} embeddings"
            )
        if tokenizer.eos_token_id is None:
            raise ConfigError(f"{config.name}: the tokenizer has no end-of-text token")
        self.config = config
        self.model = model
        self.tokenizer = tokenizer
        self.start_ids = _start_ids(tokenizer, config.name)
        self.register_state_dict_post_hook(_copy_shared_tensors)

    # --- construction ------------------------------------------------------------------------

    @classmethod
    def presets(cls) -> dict[str, CausalLMConfig]:
        """``tiny``: :data:`TINY_ARCHITECTURE` with the stage-0 world tokenizer."""
        return {"tiny": CausalLMConfig(name="causal_lm-tiny", hf_config=dict(TINY_ARCHITECTURE))}

    @classmethod
    def from_config(cls, config: CausalLMConfig, files: str | Path | None = None) -> CausalLM:
        """A model with weights freshly initialised from ``config.seed``.

        The tokenizer is read from ``files/tokenizer/`` when ``files`` (a saved model directory)
        is given; a fresh ``"world"`` model gets the stage-0 tokenizer of its vocabulary size.
        The global random state is left as it was.
        """
        return cls.with_tokenizer(config, _load_tokenizer(config, files))

    @classmethod
    def with_tokenizer(cls, config: CausalLMConfig, tokenizer: PreTrainedTokenizerBase) -> CausalLM:
        """A model with weights freshly initialised from ``config.seed`` and this tokenizer."""
        hf_config = _build_hf_config(config.hf_config, config.name)
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(config.seed)
            model = AutoModelForCausalLM.from_config(hf_config, dtype=torch.float32)
        return cls(config, model.eval(), tokenizer)

    @classmethod
    def from_pretrained(cls, path_or_id: str | Path) -> CausalLM:
        """Load a Hugging Face causal LM (local directory or hub id) in float32 with its own
        tokenizer. Weights are read from safetensors only."""
        source = str(path_or_id)
        try:
            tokenizer = AutoTokenizer.from_pretrained(source)
            model = AutoModelForCausalLM.from_pretrained(
                source, dtype=torch.float32, use_safetensors=True
            )
        except (OSError, ValueError) as error:
            reason = str(error).strip().splitlines()[0]
            raise ConfigError(f"{source}: cannot load the causal LM checkpoint: {reason}") from None
        if model.config.model_type not in cls.hf_model_types:
            raise ConfigError(
                f"{source}: model_type {model.config.model_type!r} is not supported "
                f"(supported: {', '.join(cls.hf_model_types)})"
            )
        local = Path(source)
        config = CausalLMConfig(
            name=local.resolve().name if local.is_dir() else source,
            hf_config=_plain_hf_config(model.config),
            tokenizer="checkpoint",
        )
        return cls(config, model.eval(), tokenizer)

    def save_files(self, directory: str | Path) -> None:
        """Write the tokenizer's files (each atomically) into ``directory/tokenizer/``."""
        target = Path(directory) / TOKENIZER_DIR
        with tempfile.TemporaryDirectory() as scratch:
            self.tokenizer.save_pretrained(scratch)
            for path in sorted(Path(scratch).iterdir()):
                atomic_write_bytes(target / path.name, path.read_bytes())

    # --- what other models build on ----------------------------------------------------------

    @property
    def hidden_size(self) -> int:
        """Width of the decoder's hidden states (and of its input embeddings)."""
        return int(self.model.config.hidden_size)

    @property
    def decoder_layers(self) -> nn.ModuleList:
        """The decoder blocks, in order (see :func:`decoder_layers`)."""
        return decoder_layers(self.model)

    @property
    def image_token_id(self) -> int | None:
        """Id of the ``<image>`` placeholder, or ``None`` when the tokenizer has none."""
        return self.tokenizer.get_vocab().get(IMAGE_TOKEN)

    @property
    def pad_token_id(self) -> int:
        """Id used for padding (the end-of-text id for tokenizers without a pad token)."""
        pad = self.tokenizer.pad_token_id
        return int(pad if pad is not None else self.tokenizer.eos_token_id)

    @property
    def device(self) -> torch.device:
        """Where the weights are."""
        return self.model.get_input_embeddings().weight.device

    def embed_tokens(self, input_ids: torch.Tensor) -> torch.Tensor:
        """(B, T) ids → (B, T, hidden_size): exactly what ``model(inputs_embeds=...)`` expects
        for these ids (XGLM's embedding scale included)."""
        return self.model.get_input_embeddings()(input_ids)

    def forward(self, **inputs: Any) -> Any:
        """The ``transformers`` model's forward (``input_ids`` or ``inputs_embeds``,
        ``attention_mask``, ``labels``, ...); returns its output with ``logits``."""
        return self.model(**inputs)

    # --- text in, scores and text out ---------------------------------------------------------

    def tokenize(
        self,
        texts: Sequence[str],
        prefixes: Sequence[str] | None = None,
        *,
        add_eos: bool = False,
        padding_side: Literal["right", "left"] = "right",
        max_length: int | None = None,
    ) -> dict[str, torch.Tensor]:
        """``input_ids``, ``attention_mask`` and ``labels`` of start ids + prefix + text (+ end).

        ``labels`` equals ``input_ids`` on the text's tokens (and the end-of-text token with
        ``add_eos``) and is ``-100`` elsewhere, so ``model(**batch).loss`` is the mean loss over
        the texts only. Sequences longer than ``max_length`` lose their last tokens.
        """
        texts = _as_list(texts, "texts")
        prefixes = [""] * len(texts) if prefixes is None else _as_list(prefixes, "prefixes")
        if len(prefixes) != len(texts):
            raise ValueError(f"{len(prefixes)} prefixes for {len(texts)} texts")
        text_ids = self._encode(texts)
        prefix_ids = self._encode(prefixes)
        eos = [self.tokenizer.eos_token_id] if add_eos else []
        rows, targets = [], []
        for prefix, text in zip(prefix_ids, text_ids, strict=True):
            context = self.start_ids + prefix
            rows.append(context + text + eos)
            targets.append([IGNORE_INDEX] * len(context) + text + eos)
        if max_length is not None:
            rows = [row[:max_length] for row in rows]
            targets = [target[:max_length] for target in targets]
        return _pad(rows, targets, self.pad_token_id, padding_side, self.device)

    @torch.no_grad()
    def log_likelihood(
        self,
        texts: Sequence[str],
        prefixes: Sequence[str] | None = None,
        *,
        include_eos: bool = True,
        batch_size: int = 64,
    ) -> list[TextLikelihood]:
        """Per text: log p(text | start, prefix) in nats, summed over its tokens (with the
        end-of-text token when ``include_eos``), the number of tokens, and the mean per token.

        The model runs in eval mode (its mode is restored afterwards).
        """
        texts = _as_list(texts, "texts")
        prefixes = [""] * len(texts) if prefixes is None else _as_list(prefixes, "prefixes")
        if len(prefixes) != len(texts):
            raise ValueError(f"{len(prefixes)} prefixes for {len(texts)} texts")
        results: list[TextLikelihood] = []
        with self._evaluating():
            for start in range(0, len(texts), batch_size):
                batch = self.tokenize(
                    texts[start : start + batch_size],
                    prefixes[start : start + batch_size],
                    add_eos=include_eos,
                )
                logits = self.model(
                    input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]
                ).logits
                totals, counts = token_log_likelihoods(logits, batch["labels"])
                for offset, (total, count) in enumerate(zip(totals, counts, strict=True)):
                    if count == 0:
                        raise ValueError(f"text {start + offset} has no token to score")
                    results.append(TextLikelihood(float(total), int(count), float(total / count)))
        return results

    @torch.no_grad()
    def generate(
        self,
        prompts: Sequence[str],
        *,
        max_new_tokens: int = 25,
        num_beams: int = 3,
        batch_size: int = 16,
        **generate_kwargs: Any,
    ) -> list[str]:
        """The best continuation of each prompt (beam search by default, greedy with
        ``num_beams=1``), decoded without special tokens and stripped of surrounding space.

        Extra keyword arguments go to ``transformers``' ``generate`` (e.g. ``do_sample=True``).
        """
        beams = self._generate(prompts, max_new_tokens, num_beams, 1, batch_size, generate_kwargs)
        return [candidates[0][0] for candidates in beams]

    @torch.no_grad()
    def generate_beams(
        self,
        prompts: Sequence[str],
        *,
        num_return_sequences: int = 3,
        num_beams: int = 3,
        max_new_tokens: int = 25,
        batch_size: int = 16,
        **generate_kwargs: Any,
    ) -> list[list[tuple[str, float]]]:
        """The ``num_return_sequences`` best beams of each prompt, best first, as ``(text,
        score)``; the score is ``transformers``' beam score (summed log-probability divided by
        the length, with the default ``length_penalty=1``)."""
        if num_return_sequences > num_beams:
            raise ValueError(
                f"num_return_sequences ({num_return_sequences}) exceeds num_beams ({num_beams})"
            )
        return self._generate(
            prompts, max_new_tokens, num_beams, num_return_sequences, batch_size, generate_kwargs
        )

    # --- helpers -----------------------------------------------------------------------------

    def _encode(self, texts: list[str]) -> list[list[int]]:
        if not texts:
            return []
        return self.tokenizer(texts, add_special_tokens=False)["input_ids"]

    @contextlib.contextmanager
    def _evaluating(self) -> Iterator[None]:
        was_training = self.training
        self.eval()
        try:
            yield
        finally:
            self.train(was_training)

    def _generate(
        self,
        prompts: Sequence[str],
        max_new_tokens: int,
        num_beams: int,
        num_return_sequences: int,
        batch_size: int,
        generate_kwargs: dict[str, Any],
    ) -> list[list[tuple[str, float]]]:
        prompts = _as_list(prompts, "prompts")
        settings = {
            "do_sample": False,
            **generate_kwargs,
            "max_new_tokens": max_new_tokens,
            "num_beams": num_beams,
            "num_return_sequences": num_return_sequences,
            "eos_token_id": self.tokenizer.eos_token_id,
            "pad_token_id": self.pad_token_id,
            "return_dict_in_generate": True,
            "output_scores": True,
        }
        results: list[list[tuple[str, float]]] = []
        with self._evaluating():
            for start in range(0, len(prompts), batch_size):
                chunk = prompts[start : start + batch_size]
                rows = [self.start_ids + ids for ids in self._encode(chunk)]
                batch = _pad(rows, rows, self.pad_token_id, "left", self.device)
                output = self.model.generate(
                    input_ids=batch["input_ids"], attention_mask=batch["attention_mask"], **settings
                )
                new_tokens = output.sequences[:, batch["input_ids"].shape[1] :]
                texts = self.tokenizer.batch_decode(new_tokens, skip_special_tokens=True)
                scores = (
                    output.sequences_scores.tolist()
                    if getattr(output, "sequences_scores", None) is not None
                    else [float("nan")] * len(texts)
                )
                for i in range(len(chunk)):
                    span = range(i * num_return_sequences, (i + 1) * num_return_sequences)
                    results.append([(texts[j].strip(), float(scores[j])) for j in span])
        return results


def token_log_likelihoods(
    logits: torch.Tensor, labels: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """Per row: the summed log-probability of the labelled tokens (position t predicts label
    t + 1; ``-100`` labels are skipped) and how many there are. Computed in float32."""
    log_probs = F.log_softmax(logits[:, :-1].float(), dim=-1)
    targets = labels[:, 1:]
    scored = targets != IGNORE_INDEX
    picked = log_probs.gather(-1, targets.clamp(min=0).unsqueeze(-1)).squeeze(-1)
    return (picked * scored).sum(dim=1), scored.sum(dim=1)


def next_token_loss(
    logits: torch.Tensor, labels: torch.Tensor, token_share: float
) -> tuple[torch.Tensor, dict[str, float]]:
    """A shard's training loss: the summed cross-entropy of its labelled tokens (position t
    predicts label t + 1; ``-100`` labels are skipped; computed in float32) over ``token_share``,
    its share of the global batch's labelled tokens; and its perplexity (``ppl``)."""
    targets = labels[:, 1:]
    summed = F.cross_entropy(
        logits[:, :-1].reshape(-1, logits.shape[-1]).float(),
        targets.reshape(-1),
        ignore_index=IGNORE_INDEX,
        reduction="sum",
    )
    tokens = int((targets != IGNORE_INDEX).sum())
    return summed / token_share, {"ppl": math.exp(float(summed.detach()) / tokens)}


def decoder_layers(model: PreTrainedModel) -> nn.ModuleList:
    """The decoder blocks of a ``transformers`` causal LM, in order (GPT-2: ``transformer.h``;
    Llama and XGLM: ``model.layers``)."""
    base = model.base_model
    for name in ("layers", "h"):
        layers = getattr(base, name, None)
        if isinstance(layers, nn.ModuleList):
            return layers
    raise ConfigError(f"{type(model).__name__}: cannot find its decoder blocks")


def build_on_meta(architecture: str) -> PreTrainedModel:
    """A ``transformers`` causal LM of ``architecture`` on the meta device (shapes, no weights):
    ``"gpt2"``, ``"facebook/xglm-2.9B"`` (:data:`PUBLISHED_ARCHITECTURES`) or a preset
    (``"causal_lm-tiny"``). For parameter counts: ``sum(p.numel() for p in m.parameters())``."""
    if architecture in PUBLISHED_ARCHITECTURES:
        fields = PUBLISHED_ARCHITECTURES[architecture]
    else:
        presets = {config.name: config for config in CausalLM.presets().values()}
        if architecture not in presets:
            known = sorted(PUBLISHED_ARCHITECTURES) + sorted(presets)
            raise ConfigError(f"unknown architecture {architecture!r} (known: {', '.join(known)})")
        fields = presets[architecture].hf_config
    hf_config = _build_hf_config(fields, architecture)
    with torch.device("meta"):
        return AutoModelForCausalLM.from_config(hf_config, dtype=torch.float32)


def _build_hf_config(fields: dict[str, Any], name: str) -> Any:
    values = dict(fields)
    model_type = values.pop("model_type", None)
    if model_type not in CausalLM.hf_model_types:
        raise ConfigError(
            f"{name}: hf_config.model_type must be one of {', '.join(CausalLM.hf_model_types)}, "
            f"got {model_type!r}"
        )
    try:
        return AutoConfig.for_model(model_type, **values)
    except (TypeError, ValueError) as error:
        raise ConfigError(f"{name}: invalid hf_config: {error}") from None


def _plain_hf_config(hf_config: Any) -> dict[str, Any]:
    """A checkpoint's config as JSON fields that rebuild the same architecture."""
    values = hf_config.to_dict()
    for key in _HF_CONFIG_DROPPED:
        values.pop(key, None)
    return values


def _load_tokenizer(config: CausalLMConfig, files: str | Path | None) -> PreTrainedTokenizerBase:
    folder = Path(files) / TOKENIZER_DIR if files is not None else None
    if folder is not None and folder.is_dir():
        return AutoTokenizer.from_pretrained(folder)
    if config.tokenizer == "world" and folder is None:
        positions = config.hf_config.get("max_position_embeddings", 1024)
        return stage0_tokenizer(int(config.hf_config["vocab_size"]), int(positions))
    raise ConfigError(
        f"{config.name}: the model's tokenizer should be in {folder or 'its model directory'}, "
        "which holds none"
    )


def _start_ids(tokenizer: PreTrainedTokenizerBase, name: str) -> list[int]:
    """What the tokenizer puts before a text (``<s>``, XGLM's ``</s>``), or else its bos token
    (GPT-2's ``<|endoftext|>``): the context every sequence starts from."""
    plain = tokenizer("a", add_special_tokens=False)["input_ids"]
    marked = tokenizer("a", add_special_tokens=True)["input_ids"]
    for start in range(len(marked) - len(plain) + 1):
        if marked[start : start + len(plain)] == plain and start > 0:
            return list(marked[:start])
    for token_id in (tokenizer.bos_token_id, tokenizer.eos_token_id):
        if token_id is not None:
            return [int(token_id)]
    raise ConfigError(f"{name}: the tokenizer has no start or end-of-text token")


def _pad(
    rows: list[list[int]],
    targets: list[list[int]],
    pad_id: int,
    side: Literal["right", "left"],
    device: torch.device,
) -> dict[str, torch.Tensor]:
    """Pad rows to the longest: ``input_ids``, ``attention_mask`` and ``labels`` tensors."""
    width = max((len(row) for row in rows), default=0)
    ids = torch.full((len(rows), width), pad_id, dtype=torch.long)
    mask = torch.zeros((len(rows), width), dtype=torch.long)
    labels = torch.full((len(rows), width), IGNORE_INDEX, dtype=torch.long)
    for i, (row, target) in enumerate(zip(rows, targets, strict=True)):
        span = slice(0, len(row)) if side == "right" else slice(width - len(row), width)
        ids[i, span] = torch.tensor(row, dtype=torch.long)
        mask[i, span] = 1
        labels[i, span] = torch.tensor(target, dtype=torch.long)
    return {
        "input_ids": ids.to(device),
        "attention_mask": mask.to(device),
        "labels": labels.to(device),
    }


def _as_list(values: Sequence[str], what: str) -> list[str]:
    if isinstance(values, str):
        raise TypeError(f"{what} must be a sequence of texts, not one string")
    return list(values)


def _copy_shared_tensors(
    module: nn.Module, state_dict: dict[str, Any], prefix: str, local_metadata: dict
) -> None:
    """State-dict hook: a tensor sharing storage with an earlier entry (an output layer tied to
    the input embeddings) is replaced by a copy, since safetensors refuses shared storage.
    Loading writes the same values into the tied parameter twice."""
    seen: set[int] = set()
    for key, value in state_dict.items():
        if not key.startswith(prefix) or isinstance(value, nn.Parameter) or value.is_meta:
            continue
        pointer = value.untyped_storage().data_ptr()
        if pointer in seen:
            state_dict[key] = value.clone()
        seen.add(pointer)


__all__ = [
    "PUBLISHED_ARCHITECTURES",
    "TINY_ARCHITECTURE",
    "CausalLM",
    "CausalLMConfig",
    "TextLikelihood",
    "build_on_meta",
    "decoder_layers",
    "next_token_loss",
    "token_log_likelihoods",
]
