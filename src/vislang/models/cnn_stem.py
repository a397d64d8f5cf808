"""A pretrained, frozen CNN in place of a ViT's patch embedding.

A ViT cuts the image into p×p patches and embeds each with one linear map (a convolution of
kernel and stride p). :class:`CnnVisionEmbeddings` produces the same grid of tokens another way:
the first five stages of an ImageNet EfficientNet-Lite0 (stride 16, 112 channels), frozen,
followed by a trainable LayerNorm and linear map to the transformer's width. Each token still
stands for one 16×16 cell of the image, so the position embeddings, the class token and the
transformer above are the backbone's own; only what a token knows changes: edges, corners and
colours that a 1.7M-parameter ViT trained from scratch on a few thousand images never learns
(the tiny world CLIP's patches carry almost no shape information).

Training only above a frozen, pretrained image trunk is the recipe of LiT ("locked-image
tuning", Zhai et al. 2022) applied to the lower part of the tower.
"""

from __future__ import annotations

import torch
from torch import nn

from vislang.errors import ConfigError
from vislang.models.efficientnet_lite import load_efficientnet_lite0_trunk

CNN_STEMS = ("efficientnet-lite0",)
"""Names of the CNN stems a dual encoder's vision tower can start with."""
CNN_STEM_STRIDE = 16
"""Pixels per token along each side: the patch size a CNN stem stands in for."""
_STAGES = 5


def check_stem(stem: str, patch_size: int, where: str) -> None:
    """Refuse (naming ``where``) a stem that is neither ``"patches"`` nor a known CNN stem, or a
    CNN stem under a tower whose patch size it cannot stand in for."""
    if stem == "patches":
        return
    if stem not in CNN_STEMS:
        raise ConfigError(
            f"{where}: the stem must be 'patches' or one of {', '.join(CNN_STEMS)}, not {stem!r}"
        )
    if patch_size != CNN_STEM_STRIDE:
        raise ConfigError(
            f"{where}: the {stem} stem makes one token per {CNN_STEM_STRIDE}×{CNN_STEM_STRIDE} "
            f"pixels; set patch_size = {CNN_STEM_STRIDE}, not {patch_size}"
        )


class CnnVisionEmbeddings(nn.Module):
    """The input embeddings of a CLIP or SigLIP vision transformer, with the CNN ``stem`` (a name
    of :data:`CNN_STEMS`) in place of the patch convolution: (B, N (+ 1), width) tokens,
    N = (H/16)·(W/16), the class token first when ``class_token`` (CLIP), plus learned position
    embeddings.

    ``forward`` takes normalised pixels (B, 3, H, W) or what the frozen trunk makes of them
    (B, :attr:`trunk_channels`, H/16, W/16): training computes the frozen part once per image
    (:meth:`trunk_features`) instead of once per step. The trunk always stays in eval mode.
    """

    def __init__(self, stem: str, width: int, image_size: int, class_token: bool) -> None:
        super().__init__()
        if stem not in CNN_STEMS:
            raise ConfigError(f"unknown CNN stem {stem!r}; known: {', '.join(CNN_STEMS)}")
        self.stem = stem
        self.trunk = load_efficientnet_lite0_trunk(_STAGES)
        self.trunk.requires_grad_(False)
        self.grid = image_size // CNN_STEM_STRIDE
        self.norm = nn.LayerNorm(self.trunk.channels)
        self.proj = nn.Linear(self.trunk.channels, width)
        self.class_embedding = nn.Parameter(torch.randn(width)) if class_token else None
        positions = self.grid**2 + int(class_token)
        self.position_embedding = nn.Embedding(positions, width)
        self.register_buffer("position_ids", torch.arange(positions)[None], persistent=False)

    @property
    def trunk_channels(self) -> int:
        """Channels of the frozen trunk's feature map."""
        return int(self.trunk.channels)

    def train(self, mode: bool = True) -> CnnVisionEmbeddings:
        """Switch the trainable part only; the frozen trunk keeps its batch-norm statistics."""
        super().train(mode)
        self.trunk.eval()
        return self

    @torch.no_grad()
    def trunk_features(self, pixels: torch.Tensor) -> torch.Tensor:
        """Normalised pixels (B, 3, H, W) → the frozen trunk's features (B, C, H/16, W/16)."""
        return self.trunk(pixels)

    def forward(
        self, pixel_values: torch.Tensor, interpolate_pos_encoding: bool = False
    ) -> torch.Tensor:
        """Pixels or trunk features → token embeddings (``interpolate_pos_encoding`` is not
        supported: the grid is fixed)."""
        if interpolate_pos_encoding:
            raise ValueError("a CNN stem has a fixed grid; interpolate_pos_encoding is unsupported")
        features = pixel_values
        if features.shape[1] != self.trunk_channels:
            features = self.trunk_features(features)
        if tuple(features.shape[2:]) != (self.grid, self.grid):
            raise ValueError(
                f"expected a {self.grid}×{self.grid} feature grid "
                f"({self.grid * CNN_STEM_STRIDE}-pixel images), got {tuple(features.shape[2:])}"
            )
        tokens = self.proj(self.norm(features.flatten(2).transpose(1, 2)))
        if self.class_embedding is not None:
            cls = self.class_embedding.expand(len(tokens), 1, -1)
            tokens = torch.cat([cls, tokens], dim=1)
        return tokens + self.position_embedding(self.position_ids)
