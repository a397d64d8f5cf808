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
encodings to the key grid). The output projection is initialised as Qwen-VL's (normal, std
``text_dim^-1/2``), so the tokens leave at unit scale per feature.

With ``local_start=True`` each query starts as its own cell of the image: the query, key, value
and attention-output projections start as the identity, and every head gets the encodings of both
axes (the first half of its features the row, the second the column) at ``LOCAL_START_SCALE``
times their size, with neighbouring query cells ``LOCAL_START_SPACING`` position units apart. On
a 4×4 grid of the world's tower with 16 queries, 91% of each query's attention then falls on its
own cell at initialisation, against 6% (uniform) with random projections: the MAE-style
encodings give each head one axis only, and on so small a grid their low frequencies barely
differ from cell to cell. With identity values each query's first output is then (mostly) its
own cell's normalised token, and training moves it from there. Trained with a language model on
the world, the resampler answered colour and shape questions from the image with every training
seed tried when it started this way; with the identity on queries and keys only (random values),
one seed in four fell short on colour, and with random projections throughout it did not learn
colour in any of our runs (docs/vlm.md).
"""

from __future__ import annotations

import torch
from torch import nn

from vislang.errors import ConfigError
from vislang.models.connectors.base import Connector, grid_side

LOCAL_START_SCALE = 4.0
"""With ``local_start``: the position encodings' factor, so that position outweighs content in
the first attention logits."""

LOCAL_START_SPACING = 4
"""With ``local_start``: position units between the centres of neighbouring query cells."""


class ResamplerConnector(Connector):
    """``queries`` learned queries, one cross-attention layer; ``M = queries``."""

    def __init__(
        self,
        vision_dim: int,
        text_dim: int,
        *,
        queries: int = 64,
        heads: int = 4,
        local_start: bool = False,
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
        encoded_width = text_dim // heads if local_start else text_dim
        if encoded_width % 4:
            raise ConfigError(
                f"resampler connector: 2-D sine-cosine encodings need "
                f"{'the head width' if local_start else 'text_dim'} divisible by 4, "
                f"got {encoded_width}"
            )
        self.local_start = local_start
        self.query = nn.Parameter(torch.empty(queries, text_dim))
        nn.init.trunc_normal_(self.query, std=0.02)
        self.kv_proj = nn.Linear(vision_dim, text_dim, bias=False)
        self.ln_q = nn.LayerNorm(text_dim)
        self.ln_kv = nn.LayerNorm(text_dim)
        self.attn = nn.MultiheadAttention(text_dim, heads, batch_first=True)
        self.ln_post = nn.LayerNorm(text_dim)
        self.proj = nn.Linear(text_dim, text_dim, bias=False)
        nn.init.normal_(self.proj.weight, std=text_dim**-0.5)
        if local_start:
            with torch.no_grad():
                identity = torch.eye(text_dim)
                self.attn.in_proj_weight.copy_(torch.cat([identity, identity, identity]))
                self.attn.out_proj.weight.copy_(identity)
        self.register_buffer("query_pos", self._positions(self.query_side), persistent=False)

    def output_tokens(self, input_tokens: int) -> int:
        """``M = queries``, whatever ``N`` is."""
        grid_side(input_tokens, "resampler connector")
        return self.query.shape[0]

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        """``(B, s², vision_dim)`` → ``(B, queries, text_dim)``."""
        self._check(features)
        side = grid_side(features.shape[1], "resampler connector")
        key_pos = self._positions(side).to(features)
        values = self.ln_kv(self.kv_proj(features))
        queries = (self.ln_q(self.query) + self.query_pos).expand(features.shape[0], -1, -1)
        out, _ = self.attn(queries, values + key_pos, values, need_weights=False)
        return self.proj(self.ln_post(out))

    def _positions(self, side: int) -> torch.Tensor:
        """The 2-D encodings ``(side², text_dim)`` of a ``side``-wide grid in the query grid's
        frame; with ``local_start``, both axes in every head, spread and scaled (module
        docstring)."""
        if not self.local_start:
            return sincos_2d(self.text_dim, side, self.query_side)
        heads = self.attn.num_heads
        frame = self.query_side * LOCAL_START_SPACING
        per_head = sincos_2d(self.text_dim // heads, side, frame)
        return LOCAL_START_SCALE * per_head.repeat(1, heads)


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
