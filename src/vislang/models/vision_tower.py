"""The vision tower of a vision-language model: a ``transformers`` ViT that turns pixels into
patch tokens.

A :class:`VisionTower` holds a ``CLIPVisionModel`` or ``SiglipVisionModel`` and returns, for a
batch of normalised pixels, the hidden states of one of its layers (``feature_layer``, as LLaVA's
``vision_feature_layer``: ``-1`` the last, ``-2`` the one before) with LLaVA's selection strategy
(``select``): ``"default"`` drops the first position (CLIP's class token), ``"full"`` keeps every
position (SigLIP has no class token). With ``"default"`` on a CLIP tower the tokens are the
patches only, a square grid in row-major order, which the spatial connectors need.

It comes from a dual-encoder checkpoint (:meth:`VisionTower.from_encoder`: any vislang CLIP or
SigLIP model, a preset, a trained folder, a Hugging Face CLIP/SigLIP checkpoint), from a LLaVA
checkpoint's vision tower, or fresh from its config (:meth:`VisionTower.from_config`).
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

import torch
from torch import nn
from transformers import AutoConfig, AutoModel, PreTrainedModel

from vislang.console import progress
from vislang.data.batch import iter_batches
from vislang.data.images import ImageSource
from vislang.data.preprocess import PreprocessConfig
from vislang.errors import ConfigError
from vislang.models.cnn_stem import CnnVisionEmbeddings, check_stem

VISION_MODEL_TYPES = ("clip_vision_model", "siglip_vision_model")
"""The ``transformers`` vision configs a tower can hold."""

_HF_CONFIG_DROPPED = ("transformers_version", "_name_or_path", "dtype", "torch_dtype")


@dataclass(frozen=True)
class VisionTowerConfig:
    """One vision tower: the ``transformers`` vision config as JSON (``model_type`` first), how
    its pixels are prepared, which layer's hidden states it returns and which positions, and
    what makes its input tokens (``stem``: ``"patches"``, or a frozen CNN of
    :mod:`vislang.models.cnn_stem`)."""

    name: str
    hf_config: dict[str, Any]
    preprocess: PreprocessConfig
    feature_layer: int = -1
    select: Literal["default", "full"] = "default"
    stem: str = "patches"


class VisionTower(nn.Module):
    """Pixels ``(B, 3, S, S)`` → visual tokens ``(B, N, hidden_size)``; see the module
    docstring."""

    def __init__(self, config: VisionTowerConfig, model: PreTrainedModel) -> None:
        super().__init__()
        if config.select not in ("default", "full"):
            raise ConfigError(f"{config.name}: select must be 'default' or 'full'")
        layers = model.config.num_hidden_layers
        if not -(layers + 1) <= config.feature_layer <= layers:
            raise ConfigError(
                f"{config.name}: feature_layer {config.feature_layer} outside the tower's "
                f"{layers} layers (hidden states -{layers + 1}..{layers})"
            )
        self.config = config
        self.model = model

    @classmethod
    def from_config(cls, config: VisionTowerConfig) -> VisionTower:
        """A tower with freshly initialised weights (seed the global generator first)."""
        fields = dict(config.hf_config)
        model_type = fields.pop("model_type", None)
        if model_type not in VISION_MODEL_TYPES:
            raise ConfigError(
                f"{config.name}: hf_config.model_type must be one of "
                f"{', '.join(VISION_MODEL_TYPES)}, got {model_type!r}"
            )
        hf_config = AutoConfig.for_model(model_type, **fields)
        model = AutoModel.from_config(hf_config, dtype=torch.float32)
        check_stem(config.stem, hf_config.patch_size, f"{config.name}: stem")
        if config.stem != "patches":
            model.embeddings = CnnVisionEmbeddings(
                config.stem,
                hf_config.hidden_size,
                hf_config.image_size,
                class_token=model_type == "clip_vision_model",
            )
        return cls(config, model.eval())

    @classmethod
    def from_module(
        cls,
        model: PreTrainedModel,
        preprocess: PreprocessConfig,
        name: str,
        feature_layer: int = -1,
        select: Literal["default", "full"] | None = None,
    ) -> VisionTower:
        """A tower around an existing ``CLIPVisionModel``/``SiglipVisionModel`` (not copied).
        ``select`` defaults to ``"default"`` for CLIP (drop the class token), ``"full"``
        otherwise."""
        model_type = model.config.model_type
        if model_type not in VISION_MODEL_TYPES:
            raise ConfigError(f"{name}: a {model_type!r} model is not a supported vision tower")
        if select is None:
            select = "default" if model_type == "clip_vision_model" else "full"
        config = VisionTowerConfig(
            name=name,
            hf_config=plain_hf_config(model.config),
            preprocess=preprocess,
            feature_layer=feature_layer,
            select=select,
            stem=getattr(model.embeddings, "stem", "patches"),
        )
        return cls(config, model)

    @classmethod
    def from_encoder(
        cls,
        encoder: nn.Module,
        feature_layer: int = -1,
        select: Literal["default", "full"] | None = None,
    ) -> VisionTower:
        """A copy of a vislang dual encoder's image tower (``encoder.backbone.vision_model``)
        with the encoder's preprocessing."""
        vision = getattr(getattr(encoder, "backbone", None), "vision_model", None)
        if not isinstance(vision, PreTrainedModel):
            raise ConfigError(
                f"{type(encoder).__name__} is not a dual encoder with a vision tower "
                "(a CLIP or SigLIP model)"
            )
        return cls.from_module(
            copy.deepcopy(vision).eval(),
            encoder.preprocess,
            name=f"{encoder.name}-vision",
            feature_layer=feature_layer,
            select=select,
        )

    @property
    def hidden_size(self) -> int:
        """Width of the visual tokens."""
        return int(self.model.config.hidden_size)

    @property
    def image_size(self) -> int:
        """Side of the square pixel input."""
        return int(self.model.config.image_size)

    @property
    def output_tokens(self) -> int:
        """``N``: visual tokens per image."""
        patches = (self.image_size // int(self.model.config.patch_size)) ** 2
        has_class_token = self.model.config.model_type == "clip_vision_model"
        positions = patches + int(has_class_token)
        return positions - 1 if self.config.select == "default" else positions

    def forward(self, pixels: torch.Tensor) -> torch.Tensor:
        """``(B, 3, S, S)`` normalised pixels → ``(B, N, hidden_size)``: the hidden states of
        ``feature_layer`` (before any final LayerNorm), positions chosen by ``select``."""
        size = self.image_size
        if pixels.ndim != 4 or tuple(pixels.shape[1:]) != (3, size, size):
            raise ValueError(
                f"{self.config.name}: expected pixels of shape (B, 3, {size}, {size}), "
                f"got {tuple(pixels.shape)}"
            )
        output = self.model(pixel_values=pixels, output_hidden_states=True)
        features = output.hidden_states[self.config.feature_layer]
        return features[:, 1:] if self.config.select == "default" else features


@dataclass
class TowerFeatures:
    """A vision tower's features of many images: ``features[i]`` belongs to source
    ``kept[i]``; ``failures`` lists ``(source, reason)`` of images that could not be decoded."""

    features: torch.Tensor
    kept: list[int]
    failures: list[tuple[str, str]]


@torch.no_grad()
def tower_features(
    tower: VisionTower,
    sources: Sequence[ImageSource],
    *,
    batch_size: int = 64,
    threads: int = 2,
    show_progress: bool = False,
    description: str = "encoding images",
) -> TowerFeatures:
    """Decode, preprocess (the tower's own settings) and encode ``sources`` in batches; images
    that cannot be decoded are skipped and listed, never fatal."""
    parts: list[torch.Tensor] = []
    kept: list[int] = []
    failures: list[tuple[str, str]] = []
    was_training = tower.training
    tower.eval()
    batches = iter_batches(sources, tower.config.preprocess, batch_size=batch_size, threads=threads)
    try:
        with progress(transient=True, disable=not show_progress) as bar:
            task = bar.add_task(description, total=len(sources))
            for batch in batches:
                if batch.indices:
                    parts.append(tower(batch.pixels))
                kept += batch.indices
                failures += batch.failures
                bar.advance(task, len(batch.indices) + len(batch.failures))
    finally:
        tower.train(was_training)
    empty = torch.zeros(0, tower.output_tokens, tower.hidden_size)
    return TowerFeatures(torch.cat(parts) if parts else empty, kept, failures)


def preset_vision_config(preset: str) -> VisionTowerConfig:
    """The tower of dual-encoder preset ``preset`` (e.g. ``"clip-tiny"``) as a config, without
    building the model; ``select`` as :meth:`VisionTower.from_module` chooses it."""
    from vislang.models.registry import families

    family, _, size = preset.partition("-")
    cls = families().get(family)
    if cls is None or size not in cls.presets() or not hasattr(cls, "_backbone_config"):
        raise ConfigError(f"{preset!r} is not a dual-encoder preset")
    encoder = cls.presets()[size]
    hf_config = cls._backbone_config(encoder).vision_config
    return VisionTowerConfig(
        name=f"{preset}-vision",
        hf_config=plain_hf_config(hf_config),
        preprocess=encoder.preprocess,
        select="default" if hf_config.model_type == "clip_vision_model" else "full",
        stem=encoder.vision_stem,
    )


def plain_hf_config(hf_config: Any) -> dict[str, Any]:
    """A ``transformers`` config as JSON fields that rebuild the same architecture."""
    values = hf_config.to_dict()
    for key in _HF_CONFIG_DROPPED:
        values.pop(key, None)
    return values


__all__ = [
    "VISION_MODEL_TYPES",
    "TowerFeatures",
    "VisionTower",
    "VisionTowerConfig",
    "plain_hf_config",
    "preset_vision_config",
    "tower_features",
]
