"""The cross-attention resampler (Qwen-VL's position-aware vision-language adapter).

A fixed number of learned queries attend, in one multi-head cross-attention layer, to the visual
tokens: however many tokens the vision tower gives, the language model gets ``M = queries``
(Qwen-VL: 256). As in Qwen-VL, the visual tokens are projected to ``text_dim`` (``kv_proj``) and
layer-normalised, the queries layer-normalised, fixed 2-D sine-cosine position encodings are
added to the queries and to the keys (not to the values), and the output is layer-normalised and
projected.

Queries form a square grid (``queries`` must be a square). Keys are placed in the same frame:
the centre of cell ``i`` of an ``s``-wide key grid sits at ``(i + 1/2)·q/s − 1/2`` in units of the
``q``-wide query grid, so a key and a query over the same part of the image get nearby encodings
whatever the two grid sizes are (Qwen-VL gets the same effect by interpolating the query grid's
encodings to the key grid).
"""

from __future__ import annotations

import torch
from torch import nn

from vislang.errors import ConfigError
from vislang.models.connectors.base import Connector, grid_side


class ResamplerConnector(Connector):
    """``queries`` learned queries, one cross-attention layer; ``M = queries``."""

    def __init__(
        self, vision_dim: int, text_dim: int, *, queries: int = 64, heads: int = 4
    ) -> None:
        super().__init__(vision_dim, text_dim)
        try:
            self.query_side = grid_side(queries, "resampler connector")
        except ValueError:
            raise ConfigError(
                f"resampler connector: queries must be a square number (a grid), got {queries}"
            ) from None
        if text_dim % heads:
            raise ConfigError(f"resampler connector: text_dim {text_dim} not divisible by {heads}")
        if text_dim % 4:
            raise ConfigError(
                f"resampler connector: 2-D sine-cosine encodings need text_dim divisible by 4, "
                f"got {text_dim}"
            )
        self.query = nn.Parameter(torch.empty(queries, text_dim))
        nn.init.trunc_normal_(self.query, std=0.02)
        self.kv_proj = nn.Linear(vision_dim, text_dim, bias=False)
        self.ln_q = nn.LayerNorm(text_dim)
        self.ln_kv = nn.LayerNorm(text_dim)
        self.attn = nn.MultiheadAttention(text_dim, heads, batch_first=True)
        self.ln_post = nn.LayerNorm(text_dim)
        self.proj = nn.Linear(text_dim, text_dim, bias=False)
        query_pos = sincos_2d(text_dim, self.query_side, self.query_side)
        self.register_buffer("query_pos", query_pos, persistent=False)

    def output_tokens(self, input_tokens: int) -> int:
        """``M = queries``, whatever ``N`` is."""
        grid_side(input_tokens, "resampler connector")
        return self.query.shape[0]

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        """``(B, s², vision_dim)`` → ``(B, queries, text_dim)``."""
        self._check(features)
        side = grid_side(features.shape[1], "resampler connector")
        key_pos = sincos_2d(self.text_dim, side, self.query_side).to(features)
        values = self.ln_kv(self.kv_proj(features))
        queries = (self.ln_q(self.query) + self.query_pos).expand(features.shape[0], -1, -1)
        out, _ = self.attn(queries, values + key_pos, values, need_weights=False)
        return self.proj(self.ln_post(out))


def sincos_2d(dim: int, side: int, frame: int) -> torch.Tensor:
    """Fixed 2-D sine-cosine encodings ``(side², dim)`` of a ``side × side`` grid (row-major),
    positions in units of a ``frame``-wide grid covering the same image (MAE's formula: the first
    half of the features encodes the row, the second the column)."""
    centres = (torch.arange(side, dtype=torch.float64) + 0.5) * frame / side - 0.5
    rows, cols = torch.meshgrid(centres, centres, indexing="ij")
    encoded = torch.cat([_sincos_1d(dim // 2, rows), _sincos_1d(dim // 2, cols)], dim=-1)
    return encoded.reshape(side * side, dim).float()


def _sincos_1d(dim: int, positions: torch.Tensor) -> torch.Tensor:
    frequencies = 1.0 / 10000 ** (torch.arange(dim // 2, dtype=torch.float64) / (dim / 2))
    angles = positions.reshape(-1, 1) * frequencies
    return torch.cat([angles.sin(), angles.cos()], dim=-1).reshape(*positions.shape, dim)
