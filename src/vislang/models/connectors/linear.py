"""The linear connector (LLaVA-1, PaliGemma): one linear map per visual token; ``M = N``."""

from __future__ import annotations

import torch
from torch import nn

from vislang.models.connectors.base import Connector


class LinearConnector(Connector):
    """``W x + b`` applied to every visual token; ``M = N``."""

    def __init__(self, vision_dim: int, text_dim: int) -> None:
        super().__init__(vision_dim, text_dim)
        self.proj = nn.Linear(vision_dim, text_dim)

    def output_tokens(self, input_tokens: int) -> int:
        """``M = N``: one language-model token per visual token."""
        return input_tokens

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        """``(B, N, vision_dim)`` → ``(B, N, text_dim)``."""
        self._check(features)
        return self.proj(features)
