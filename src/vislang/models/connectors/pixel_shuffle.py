"""Pixel shuffle + linear (nanoVLM, Idefics3): space-to-depth, then one linear map.

Each ``factor × factor`` block of neighbouring patch tokens is concatenated into one token of
``factor² · vision_dim`` features (row-major inside the block), then mapped linearly (no bias, as
nanoVLM) to ``text_dim``. An ``s × s`` grid becomes ``(s/factor)²`` tokens: ``M = N / factor²``.
"""

from __future__ import annotations

import torch
from torch import nn

from vislang.errors import ConfigError
from vislang.models.connectors.base import Connector, grid_side


class PixelShuffleConnector(Connector):
    """Space-to-depth by ``factor``, then linear; ``M = N / factor²``."""

    def __init__(self, vision_dim: int, text_dim: int, *, factor: int = 2) -> None:
        super().__init__(vision_dim, text_dim)
        if factor < 1:
            raise ConfigError(f"pixel_shuffle connector: factor must be >= 1, got {factor}")
        self.factor = factor
        self.proj = nn.Linear(vision_dim * factor * factor, text_dim, bias=False)

    def output_tokens(self, input_tokens: int) -> int:
        """``M = N / factor²``; the grid's side must be a multiple of ``factor``."""
        return (self._blocks_per_side(input_tokens)) ** 2

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        """``(B, s², vision_dim)`` → ``(B, (s/factor)², text_dim)``."""
        self._check(features)
        batch, tokens, dim = features.shape
        blocks, r = self._blocks_per_side(tokens), self.factor
        # (B, s, s, D) → (B, s/r, r, s/r, r, D) → (B, s/r, s/r, r, r, D): one block per token
        grid = features.reshape(batch, blocks, r, blocks, r, dim).permute(0, 1, 3, 2, 4, 5)
        return self.proj(grid.reshape(batch, blocks * blocks, r * r * dim))

    def _blocks_per_side(self, tokens: int) -> int:
        side = grid_side(tokens, "pixel_shuffle connector")
        if side % self.factor:
            raise ValueError(
                f"pixel_shuffle connector: a {side}×{side} grid is not divisible by factor "
                f"{self.factor}"
            )
        return side // self.factor
