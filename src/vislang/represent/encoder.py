"""The interface every image–text encoder offers, whatever family it belongs to.

Dual encoders, captioners' frozen vision towers and VLM vision towers are all used through
:class:`ImageTextEncoder` (or its image half, :class:`ImageEncoder`): pooled, L2-normalised
embeddings for retrieval and probing, patch features for models that attend over the image, and a
fingerprint that a datastore records so that a query with a different encoder is refused.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from typing import Any, Protocol, runtime_checkable

import torch

from vislang.data.preprocess import PreprocessConfig


@runtime_checkable
class ImageEncoder(Protocol):
    """An image tower: pooled embeddings and patch features from preprocessed pixels."""

    name: str
    preprocess: PreprocessConfig
    embed_dim: int

    def encode_images(self, pixels: torch.Tensor) -> torch.Tensor:
        """(B, 3, H, W) normalised pixels → (B, embed_dim) L2-normalised embeddings."""
        ...

    def image_patch_features(self, pixels: torch.Tensor) -> torch.Tensor:
        """(B, 3, H, W) → (B, N, D_vision) token features (class token first, if any)."""
        ...

    def fingerprint(self) -> dict[str, Any]:
        """Identity of the encoder: ``name``, ``config_hash``, ``weights_hash``, ``dim``."""
        ...


@runtime_checkable
class ImageTextEncoder(ImageEncoder, Protocol):
    """A dual encoder: images and texts embedded in one space."""

    def encode_texts(self, texts: Sequence[str]) -> torch.Tensor:
        """Texts → (B, embed_dim) L2-normalised embeddings."""
        ...


def config_hash(config: Mapping[str, Any]) -> str:
    """SHA-256 (first 16 hex digits) of a config mapping serialised with sorted keys."""
    text = json.dumps(config, sort_keys=True, default=str)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


def weights_hash(module: torch.nn.Module) -> str:
    """SHA-256 (first 16 hex digits) of a module's parameters and buffers, by name and value."""
    digest = hashlib.sha256()
    for name, tensor in sorted(module.state_dict().items()):
        digest.update(name.encode("utf-8"))
        tensor = tensor.detach().cpu().contiguous()
        digest.update(str(tuple(tensor.shape)).encode("utf-8"))
        digest.update(str(tensor.dtype).encode("utf-8"))
        flat = tensor.reshape(-1)  # a 0-d tensor (e.g. a temperature) cannot be viewed as bytes
        digest.update(flat.view(torch.uint8).numpy().tobytes() if tensor.numel() else b"")
    return digest.hexdigest()[:16]
