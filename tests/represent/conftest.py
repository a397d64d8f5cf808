"""A small encoder that implements the ImageTextEncoder protocol, for tests of the embedding job."""

from __future__ import annotations

from collections.abc import Sequence

import pytest
import torch

from vislang.data.preprocess import PreprocessConfig
from vislang.represent.encoder import config_hash, weights_hash


class PooledPixelEncoder(torch.nn.Module):
    """Images: 4×4 average-pooled pixels through a seeded linear map. Texts: character-trigram
    counts through another. Both L2-normalised; deterministic for a seed."""

    name = "pooled-pixels"

    def __init__(self, dim: int = 16, seed: int = 0, crop: int = 32) -> None:
        super().__init__()
        generator = torch.Generator().manual_seed(seed)
        self.preprocess = PreprocessConfig(resize=crop, crop=crop)
        self.embed_dim = dim
        self.image_proj = torch.nn.Parameter(torch.randn(3 * 16, dim, generator=generator))
        self.text_proj = torch.nn.Parameter(torch.randn(64, dim, generator=generator))
        self.calls = 0

    def encode_images(self, pixels: torch.Tensor) -> torch.Tensor:
        self.calls += 1
        pooled = torch.nn.functional.adaptive_avg_pool2d(pixels, 4).flatten(1)
        return torch.nn.functional.normalize(pooled @ self.image_proj, dim=-1)

    def image_patch_features(self, pixels: torch.Tensor) -> torch.Tensor:
        return torch.nn.functional.adaptive_avg_pool2d(pixels, 4).flatten(2).transpose(1, 2)

    def encode_texts(self, texts: Sequence[str]) -> torch.Tensor:
        self.calls += 1
        counts = torch.zeros(len(texts), 64)
        for row, text in enumerate(texts):
            for i in range(max(len(text) - 2, 0)):
                counts[row, sum(map(ord, text[i : i + 3])) % 64] += 1.0
        return torch.nn.functional.normalize(counts @ self.text_proj, dim=-1)

    def fingerprint(self) -> dict:
        config = {"dim": self.embed_dim, "crop": self.preprocess.crop}
        return {
            "name": self.name,
            "config_hash": config_hash(config),
            "weights_hash": weights_hash(self),
            "dim": self.embed_dim,
        }


@pytest.fixture
def encoder() -> PooledPixelEncoder:
    return PooledPixelEncoder()
