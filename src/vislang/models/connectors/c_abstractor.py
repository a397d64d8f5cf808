"""The C-Abstractor (Honeybee; MM1's convolutional abstractor): ResNet blocks, adaptive average
pooling to a fixed grid, ResNet blocks, then an MLP read-out.

The visual tokens are read as a square feature map, projected to ``hidden`` channels by a 1×1
convolution, refined by ``depth`` residual blocks (3×3 convolutions keep locality, which a
resampler's global attention loses), pooled to ``grid × grid`` cells (``M = grid²``, whatever
``N`` is), refined by ``depth`` more blocks and read out per cell by linear, SiLU, linear (as
Honeybee's two-layer read-out). Honeybee's blocks are RegNet bottlenecks with
squeeze-and-excitation; these are plain ResNet basic blocks with channel LayerNorm and SiLU, the
same idea at the size of this toolkit's models.

Initialisation keeps the tokens' scale and, at first, their places: every residual block starts
as the identity (its last norm's weight is zero, "zero-γ"), so the untrained connector is the
1×1 convolution, the pooling and the read-out: no neighbours are mixed except by the pooling.
Convolutions and the first read-out layer are He-initialised (SiLUs follow them), the last
read-out layer for a linear output, so the tokens leave at about the scale the vision tower's
features come in.
PyTorch's default initialisation shrinks each layer's output by about √3, which left this
connector's tokens at a tenth of the features' scale; trained with the language model on the
world, such tokens were not read within 3,000 steps (docs/vlm.md).
"""

from __future__ import annotations

import torch
from torch import nn

from vislang.errors import ConfigError
from vislang.models.connectors.base import Connector, as_grid, grid_side


class CAbstractorConnector(Connector):
    """ResNet blocks → adaptive average pool to ``grid × grid`` → ResNet blocks → MLP;
    ``M = grid²``."""

    def __init__(
        self,
        vision_dim: int,
        text_dim: int,
        *,
        grid: int = 4,
        depth: int = 3,
        hidden: int | None = None,
    ) -> None:
        super().__init__(vision_dim, text_dim)
        if grid < 1 or depth < 0:
            raise ConfigError(
                f"c_abstractor connector: need grid >= 1, depth >= 0; got {grid}, {depth}"
            )
        hidden = hidden or text_dim
        self.grid = grid
        self.stem = nn.Conv2d(vision_dim, hidden, kernel_size=1)
        self.before = nn.Sequential(*(ResidualBlock(hidden) for _ in range(depth)))
        self.pool = nn.AdaptiveAvgPool2d(grid)
        self.after = nn.Sequential(*(ResidualBlock(hidden) for _ in range(depth)))
        self.readout = nn.Sequential(
            nn.Linear(hidden, text_dim), nn.SiLU(), nn.Linear(text_dim, text_dim)
        )
        self._initialise()

    def _initialise(self) -> None:
        """He initialisation before every SiLU, a linear-gain one for the last layer, zero
        biases, and residual blocks that start as the identity (module docstring)."""
        before_silu = [self.stem, self.readout[0]]
        for block in [*self.before, *self.after]:
            before_silu += [block.conv_1, block.conv_2]
            nn.init.zeros_(block.norm_2.weight)
        for layer in before_silu:
            nn.init.kaiming_normal_(layer.weight, nonlinearity="relu")
        nn.init.kaiming_normal_(self.readout[2].weight, nonlinearity="linear")
        for layer in [self.stem, self.readout[0], self.readout[2]]:
            nn.init.zeros_(layer.bias)

    def output_tokens(self, input_tokens: int) -> int:
        """``M = grid²``; the input grid must be at least ``grid`` wide."""
        side = grid_side(input_tokens, "c_abstractor connector")
        if side < self.grid:
            raise ValueError(
                f"c_abstractor connector: a {side}×{side} input grid is smaller than the output "
                f"grid {self.grid}×{self.grid}"
            )
        return self.grid * self.grid

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        """``(B, s², vision_dim)`` → ``(B, grid², text_dim)``."""
        self._check(features)
        self.output_tokens(features.shape[1])
        maps = self.after(self.pool(self.before(self.stem(as_grid(features, "c_abstractor")))))
        return self.readout(maps.flatten(2).transpose(1, 2))


class ResidualBlock(nn.Module):
    """``x + norm(conv(silu(norm(conv(x)))))``, then SiLU; 3×3 convolutions, same size."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.conv_1 = nn.Conv2d(channels, channels, kernel_size=3, padding=1, bias=False)
        self.norm_1 = ChannelLayerNorm(channels)
        self.conv_2 = nn.Conv2d(channels, channels, kernel_size=3, padding=1, bias=False)
        self.norm_2 = ChannelLayerNorm(channels)
        self.act = nn.SiLU()

    def forward(self, maps: torch.Tensor) -> torch.Tensor:
        """``(B, C, H, W)`` → ``(B, C, H, W)``."""
        inner = self.act(self.norm_1(self.conv_1(maps)))
        return self.act(maps + self.norm_2(self.conv_2(inner)))


class ChannelLayerNorm(nn.LayerNorm):
    """LayerNorm over the channels of each position of a ``(B, C, H, W)`` map."""

    def forward(self, maps: torch.Tensor) -> torch.Tensor:
        """Normalise every position's channel vector."""
        return super().forward(maps.permute(0, 2, 3, 1)).permute(0, 3, 1, 2)
