"""New cross-attention layers inside the decoder blocks of a ``transformers`` causal LM.

Text positions attend to a sequence of features from another model (image patches, a
resampler's queries). The layers are added to a model *instance* (GPT-2, XGLM, Llama-style and
any decoder whose blocks take the hidden states first and whose self-attention module is called
``attn``, ``self_attn`` or ``attention``); ``transformers`` itself is not patched, and
:meth:`CrossAttentionLayers.remove` gives back the unchanged model.

API::

    from vislang.models.cross_attention import CrossAttentionConfig, insert_cross_attention

    config = CrossAttentionConfig(encoder_dim=768, reduction=4)      # SmallCap: inner 768 / 4
    layers = insert_cross_attention(hf_model, config)                 # a CrossAttentionLayers
    with layers.attending(features, mask=None):   # features (B, N, encoder_dim), mask (B, N) bool
        logits = hf_model(input_ids=ids, attention_mask=attention).logits
    layers.parameters()     # the new parameters only, to train (the LM can stay frozen)
    layers.remove()         # take the layers out again

:class:`CrossAttentionConfig`:

- ``encoder_dim``: width of the features attended to.
- The **inner dimension** (queries, keys and values) is reduced while the head count is kept:
  ``reduction=r`` gives ``hidden_size // r``, ``dim=d`` gives ``d`` (one of the two, or neither
  for ``hidden_size``); ``heads`` defaults to the LM's head count, so the head dimension shrinks
  (GPT-2 with ``reduction=4``: 12 heads of 16; XGLM-2.9B with ``dim=128``: 16 heads of 8).
- ``position="after_self_attention"`` (SmallCap, PAELLA; where ``transformers`` puts its own
  cross-attention): in block ``i`` the update is ``h = h + xattn(norm(h), features)`` between the
  self-attention's residual sum and the feed-forward part. ``position="before_block"``
  (Flamingo): the same update applied to the block's input.
- ``gated=True`` multiplies the update by ``tanh(g)`` with ``g`` a learned scalar initialised at 0
  (Flamingo), so the LM starts exactly unchanged. ``feed_forward=m > 0`` adds a (gated, if
  ``gated``) feed-forward sub-layer of width ``m * hidden_size`` after the cross-attention
  (Flamingo's GATED XATTN-DENSE).
- ``every=k`` puts layers into blocks ``0, k, 2k, ...`` only.

Each layer has a pre-norm of the LM's kind (LayerNorm, or RMSNorm for Llama-style models), query,
key, value and output projections with biases, and is registered as the submodule
``cross_attention`` of its block, so its weights sit in the LM's ``state_dict`` under
``<block>.cross_attention.*``. New layers are created on the blocks' device and dtype (the meta
device included: :func:`vislang.models.causal_lm.build_on_meta` models count parameters without
memory) and drawn from the global random state (seed it, or fork it, before inserting).
Projections are initialised from N(0, ``init_std``) (the LM's ``initializer_range`` or
``init_std``, else 0.02) with zero biases.

Outside :meth:`CrossAttentionLayers.attending` the layers refuse to run. Features must have one
row per sequence: for beam search, repeat them per beam (``repeat_interleave``) as the model's
``generate`` expands its inputs. When gradients are off (generation), keys and values are computed
once per ``attending`` block and reused at every decoding step. The ``after_self_attention``
update is exact when nothing (dropout) acts between the self-attention's output and the residual
sum, which holds for GPT-2 and Llama and, in eval mode, for XGLM.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, Literal

import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.hooks import RemovableHandle

from vislang.errors import ConfigError

LAYER_NAME = "cross_attention"
"""Name of the inserted layer inside each decoder block."""

SELF_ATTENTION_NAMES = ("self_attn", "attn", "attention")
"""Attribute names under which decoder blocks keep their self-attention module."""

Position = Literal["after_self_attention", "before_block"]


@dataclass(frozen=True)
class CrossAttentionConfig:
    """Shape and placement of the inserted cross-attention; see the module docstring."""

    encoder_dim: int
    reduction: int | None = None
    dim: int | None = None
    heads: int | None = None
    position: Position = "after_self_attention"
    gated: bool = False
    feed_forward: int = 0
    every: int = 1

    def __post_init__(self) -> None:
        if self.encoder_dim < 1:
            raise ConfigError(f"cross_attention.encoder_dim: must be >= 1, got {self.encoder_dim}")
        if self.reduction is not None and self.dim is not None:
            raise ConfigError("cross_attention: give reduction or dim, not both")
        for key in ("reduction", "dim", "heads"):
            value = getattr(self, key)
            if value is not None and value < 1:
                raise ConfigError(f"cross_attention.{key}: must be >= 1, got {value}")
        if self.position not in ("after_self_attention", "before_block"):
            raise ConfigError(
                "cross_attention.position: 'after_self_attention' or 'before_block', "
                f"not {self.position!r}"
            )
        if self.feed_forward < 0 or self.every < 1:
            raise ConfigError("cross_attention: feed_forward must be >= 0 and every >= 1")

    def inner_dim(self, hidden_size: int) -> int:
        """The attention's inner dimension for a decoder of width ``hidden_size``."""
        if self.dim is not None:
            return self.dim
        if self.reduction is not None:
            if hidden_size % self.reduction:
                raise ConfigError(
                    f"cross_attention.reduction: {self.reduction} does not divide the LM's "
                    f"hidden size {hidden_size}"
                )
            return hidden_size // self.reduction
        return hidden_size


class _Memory:
    """What the layers of one insertion attend to: features, mask, and cached keys/values."""

    def __init__(self) -> None:
        self.features: torch.Tensor | None = None
        self.mask: torch.Tensor | None = None
        self.cache: dict[int, tuple[torch.Tensor, torch.Tensor]] = {}


class CrossAttentionLayer(nn.Module):
    """One cross-attention sub-layer: ``update = gate · out(attn(q(norm(h)), k(f), v(f)))``
    (plus an optional gated feed-forward part); :meth:`forward` returns ``h + update``."""

    def __init__(
        self,
        hidden_size: int,
        config: CrossAttentionConfig,
        heads: int,
        norm: nn.Module,
        memory: _Memory,
        init_std: float,
    ) -> None:
        super().__init__()
        inner = config.inner_dim(hidden_size)
        if inner % heads:
            raise ConfigError(
                f"cross_attention: inner dimension {inner} is not divisible by {heads} heads"
            )
        self.heads, self.head_dim = heads, inner // heads
        self.norm = norm
        self.query = nn.Linear(hidden_size, inner)
        self.key = nn.Linear(config.encoder_dim, inner)
        self.value = nn.Linear(config.encoder_dim, inner)
        self.out = nn.Linear(inner, hidden_size)
        self.gate = nn.Parameter(torch.zeros(())) if config.gated else None
        self.ffn: nn.Sequential | None = None
        self.ffn_gate = None
        if config.feed_forward:
            width = config.feed_forward * hidden_size
            self.ffn = nn.Sequential(
                _copy_norm(norm),
                nn.Linear(hidden_size, width),
                nn.GELU(),
                nn.Linear(width, hidden_size),
            )
            self.ffn_gate = nn.Parameter(torch.zeros(())) if config.gated else None
        self._memory = memory
        self._residual: torch.Tensor | None = None
        if not self.query.weight.is_meta:
            self._initialise(init_std)

    def _initialise(self, std: float) -> None:
        for module in self.modules():
            if isinstance(module, nn.Linear):
                nn.init.normal_(module.weight, std=std)
                nn.init.zeros_(module.bias)

    def forward(self, hidden: torch.Tensor) -> torch.Tensor:
        """``hidden`` (B, T, hidden_size) plus this layer's update."""
        return hidden + self.update(hidden)

    def update(self, hidden: torch.Tensor) -> torch.Tensor:
        """What the layer adds to ``hidden``: the (gated) cross-attention output, plus the
        (gated) feed-forward output computed on ``hidden`` + that."""
        features, mask = self._memory.features, self._memory.mask
        if features is None:
            raise RuntimeError(
                "cross-attention layers ran without features: call the model inside "
                "`with layers.attending(features):`"
            )
        if features.shape[0] != hidden.shape[0]:
            raise ValueError(
                f"{features.shape[0]} feature rows for {hidden.shape[0]} sequences (repeat the "
                "features per beam for beam search)"
            )
        batch, length, _ = hidden.shape
        query = self.query(self.norm(hidden))
        query = query.view(batch, length, self.heads, self.head_dim).transpose(1, 2)
        key, value = self._keys_values(features)
        attn_mask = None if mask is None else mask[:, None, None, :]
        attended = F.scaled_dot_product_attention(query, key, value, attn_mask=attn_mask)
        update = self.out(attended.transpose(1, 2).reshape(batch, length, -1))
        if self.gate is not None:
            update = torch.tanh(self.gate) * update
        if self.ffn is not None:
            dense = self.ffn(hidden + update)
            if self.ffn_gate is not None:
                dense = torch.tanh(self.ffn_gate) * dense
            update = update + dense
        return update

    def _keys_values(self, features: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        cached = self._memory.cache.get(id(self))
        if cached is not None and not torch.is_grad_enabled():
            return cached
        batch, count, _ = features.shape
        shape = (batch, count, self.heads, self.head_dim)
        key = self.key(features).view(shape).transpose(1, 2)
        value = self.value(features).view(shape).transpose(1, 2)
        if not torch.is_grad_enabled():
            self._memory.cache[id(self)] = (key, value)
        return key, value


class CrossAttentionLayers:
    """The layers inserted into one model (see :func:`insert_cross_attention`)."""

    def __init__(
        self,
        model: nn.Module,
        config: CrossAttentionConfig,
        blocks: dict[int, nn.Module],
        memory: _Memory,
        handles: list[RemovableHandle],
    ) -> None:
        self.model = model
        self.config = config
        self._blocks = blocks
        self._memory = memory
        self._handles = handles

    @property
    def layers(self) -> dict[int, CrossAttentionLayer]:
        """Block index → the layer inserted into that block."""
        return {index: getattr(block, LAYER_NAME) for index, block in self._blocks.items()}

    def parameters(self) -> list[nn.Parameter]:
        """The parameters of the inserted layers (and nothing of the LM)."""
        return [p for layer in self.layers.values() for p in layer.parameters()]

    def named_parameters(self) -> list[tuple[str, nn.Parameter]]:
        """``(name in the model's state_dict, parameter)`` of the inserted layers."""
        wanted = {id(p) for p in self.parameters()}
        return [(name, p) for name, p in self.model.named_parameters() if id(p) in wanted]

    def count(self) -> int:
        """Number of scalars in the inserted layers."""
        return sum(p.numel() for p in self.parameters())

    @contextlib.contextmanager
    def attending(self, features: torch.Tensor, mask: torch.Tensor | None = None) -> Iterator[None]:
        """Run the model inside this block to attend to ``features`` (B, N, encoder_dim);
        ``mask`` (B, N), True where a feature may be attended to, is optional."""
        if features.ndim != 3 or features.shape[-1] != self.config.encoder_dim:
            raise ValueError(
                f"features must be (B, N, {self.config.encoder_dim}), got {tuple(features.shape)}"
            )
        if mask is not None and (mask.shape != features.shape[:2] or mask.dtype != torch.bool):
            raise ValueError(
                f"mask must be a bool tensor of shape {tuple(features.shape[:2])}, "
                f"got {mask.dtype} {tuple(mask.shape)}"
            )
        memory = self._memory
        saved = (memory.features, memory.mask, memory.cache)
        memory.features, memory.mask, memory.cache = features, mask, {}
        try:
            yield
        finally:
            memory.features, memory.mask, memory.cache = saved

    def remove(self) -> None:
        """Take the layers out of the model: hooks removed, submodules deleted."""
        for handle in self._handles:
            handle.remove()
        for block in self._blocks.values():
            delattr(block, LAYER_NAME)
        self._handles.clear()
        self._blocks.clear()


def insert_cross_attention(model: nn.Module, config: CrossAttentionConfig) -> CrossAttentionLayers:
    """Add a cross-attention layer to every ``config.every``-th decoder block of ``model`` (a
    ``transformers`` causal LM instance); see the module docstring."""
    from vislang.models.causal_lm import decoder_layers

    hf_config = model.config
    hidden = int(hf_config.hidden_size)
    heads = config.heads or int(hf_config.num_attention_heads)
    blocks = decoder_layers(model)
    memory = _Memory()
    chosen: dict[int, nn.Module] = {}
    handles: list[RemovableHandle] = []
    for index in range(0, len(blocks), config.every):
        block = blocks[index]
        if hasattr(block, LAYER_NAME):
            raise ConfigError(f"decoder block {index} already has a {LAYER_NAME!r} layer")
        reference = next(block.parameters())
        with torch.device(reference.device):
            layer = CrossAttentionLayer(
                hidden, config, heads, _norm_like(hf_config, hidden), memory, _init_std(hf_config)
            )
        layer.to(dtype=reference.dtype)
        block.add_module(LAYER_NAME, layer)
        chosen[index] = block
        if config.position == "before_block":
            handles.append(block.register_forward_pre_hook(_update_block_input, with_kwargs=True))
        else:
            attention = _self_attention(block, index)
            handles.append(block.register_forward_pre_hook(_remember_residual, with_kwargs=True))
            handles.append(attention.register_forward_hook(_make_attention_hook(layer)))
    return CrossAttentionLayers(model, config, chosen, memory, handles)


# --- hooks -----------------------------------------------------------------------------------


def _block_hidden(args: tuple[Any, ...], kwargs: dict[str, Any]) -> torch.Tensor:
    return args[0] if args else kwargs["hidden_states"]


def _update_block_input(
    block: nn.Module, args: tuple[Any, ...], kwargs: dict[str, Any]
) -> tuple[tuple[Any, ...], dict[str, Any]]:
    """Pre-hook (``before_block``): the block reads ``h + update`` instead of ``h``."""
    layer = getattr(block, LAYER_NAME)
    if args:
        return (layer(args[0]), *args[1:]), kwargs
    return args, {**kwargs, "hidden_states": layer(kwargs["hidden_states"])}


def _remember_residual(block: nn.Module, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
    """Pre-hook (``after_self_attention``): keep the block's input, the self-attention's
    residual."""
    getattr(block, LAYER_NAME)._residual = _block_hidden(args, kwargs)


def _make_attention_hook(layer: CrossAttentionLayer) -> Any:
    def hook(module: nn.Module, args: tuple[Any, ...], output: Any) -> Any:
        """The self-attention's output becomes ``output + update``, so that the block's
        residual sum yields ``h + update`` with ``h`` = residual + self-attention output."""
        residual = layer._residual
        layer._residual = None
        if residual is None:
            raise RuntimeError("cross-attention: the self-attention ran outside its block")
        attended = output[0] if isinstance(output, tuple) else output
        updated = attended + layer.update(residual + attended)
        return (updated, *output[1:]) if isinstance(output, tuple) else updated

    return hook


# --- what differs between architectures ------------------------------------------------------


def _self_attention(block: nn.Module, index: int) -> nn.Module:
    for name in SELF_ATTENTION_NAMES:
        module = getattr(block, name, None)
        if isinstance(module, nn.Module):
            return module
    raise ConfigError(
        f"decoder block {index} ({type(block).__name__}) has no self-attention module named "
        f"{', '.join(SELF_ATTENTION_NAMES)}; use position='before_block'"
    )


def _norm_like(hf_config: Any, hidden: int) -> nn.Module:
    """The LM's kind of normalisation: RMSNorm for Llama-style models, else LayerNorm."""
    rms_eps = getattr(hf_config, "rms_norm_eps", None)
    if rms_eps is not None:
        return nn.RMSNorm(hidden, eps=float(rms_eps))
    eps = getattr(hf_config, "layer_norm_epsilon", None) or getattr(
        hf_config, "layer_norm_eps", 1e-5
    )
    return nn.LayerNorm(hidden, eps=float(eps))


def _copy_norm(norm: nn.Module) -> nn.Module:
    if isinstance(norm, nn.RMSNorm):
        return nn.RMSNorm(norm.normalized_shape, eps=norm.eps)
    return nn.LayerNorm(norm.normalized_shape, eps=norm.eps)


def _init_std(hf_config: Any) -> float:
    for key in ("initializer_range", "init_std"):
        value = getattr(hf_config, key, None)
        if isinstance(value, (int, float)) and math.isfinite(value) and value > 0:
            return float(value)
    return 0.02


__all__ = [
    "LAYER_NAME",
    "CrossAttentionConfig",
    "CrossAttentionLayer",
    "CrossAttentionLayers",
    "insert_cross_attention",
]
