"""What every connector shares: the interface and the square grid of patch tokens.

A connector (the "learnable bridge" of a vision-language model) maps the vision tower's tokens of
each image, ``(B, N, D_vision)``, to tokens the language model reads, ``(B, M, D_text)``.
:meth:`Connector.output_tokens` gives ``M`` for an input of ``N`` tokens. Connectors that use the
spatial layout (resampler, C-Abstractor, pixel shuffle) read the ``N`` tokens as a square grid in
row-major order, as ViT patch tokens are; a class token must be dropped first (the vision tower's
``select = "default"``).
"""

from __future__ import annotations

import abc
import math

import torch
from torch import nn


class Connector(nn.Module, abc.ABC):
    """Visual tokens ``(B, N, vision_dim)`` → language-model tokens ``(B, M, text_dim)``."""

    def __init__(self, vision_dim: int, text_dim: int) -> None:
        super().__init__()
        if vision_dim < 1 or text_dim < 1:
            raise ValueError(f"dimensions must be positive, got {vision_dim} and {text_dim}")
        self.vision_dim = vision_dim
        self.text_dim = text_dim

    @abc.abstractmethod
    def output_tokens(self, input_tokens: int) -> int:
        """``M``: how many tokens an image of ``input_tokens`` visual tokens becomes."""

    @abc.abstractmethod
    def forward(self, features: torch.Tensor) -> torch.Tensor:
        """``(B, N, vision_dim)`` → ``(B, M, text_dim)``."""

    def _check(self, features: torch.Tensor) -> None:
        if features.ndim != 3 or features.shape[-1] != self.vision_dim:
            raise ValueError(
                f"{type(self).__name__}: expected visual tokens (B, N, {self.vision_dim}), "
                f"got {tuple(features.shape)}"
            )


def grid_side(tokens: int, who: str) -> int:
    """The side of the square grid ``tokens`` patch tokens form; a ValueError otherwise."""
    side = math.isqrt(tokens)
    if side * side != tokens:
        raise ValueError(
            f"{who}: {tokens} visual tokens do not form a square grid (drop the class token "
            "with the vision tower's select='default')"
        )
    return side


def as_grid(features: torch.Tensor, who: str) -> torch.Tensor:
    """``(B, N, D)`` row-major patch tokens → ``(B, D, side, side)`` feature maps."""
    batch, tokens, dim = features.shape
    side = grid_side(tokens, who)
    return features.transpose(1, 2).reshape(batch, dim, side, side)
