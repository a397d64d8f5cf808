"""The two-layer MLP connector (LLaVA-1.5): linear, GELU, linear on every visual token; ``M = N``.

The layers are named as in ``transformers``' ``LlavaMultiModalProjector`` (``linear_1``, ``act``,
``linear_2``), so a LLaVA checkpoint's projector loads into it unchanged.
"""

from __future__ import annotations

import torch
from torch import nn
from transformers.activations import ACT2FN

from vislang.errors import ConfigError
from vislang.models.connectors.base import Connector


class MLPConnector(Connector):
    """``linear_2(act(linear_1(x)))`` on every visual token, hidden width ``text_dim``."""

    def __init__(
        self, vision_dim: int, text_dim: int, *, activation: str = "gelu", bias: bool = True
    ) -> None:
        super().__init__(vision_dim, text_dim)
        if activation not in ACT2FN:
            raise ConfigError(f"mlp connector: unknown activation {activation!r}")
        self.linear_1 = nn.Linear(vision_dim, text_dim, bias=bias)
        self.act = ACT2FN[activation]
        self.linear_2 = nn.Linear(text_dim, text_dim, bias=bias)

    def output_tokens(self, input_tokens: int) -> int:
        """``M = N``: one language-model token per visual token."""
        return input_tokens

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        """``(B, N, vision_dim)`` → ``(B, N, text_dim)``."""
        self._check(features)
        return self.linear_2(self.act(self.linear_1(features)))
