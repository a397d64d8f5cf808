"""Dual encoders: CLIP and SigLIP, an image tower and a text tower meeting in one embedding space.

Both families run on ``transformers`` backbones (:class:`~transformers.CLIPModel`,
:class:`~transformers.SiglipModel`) and differ where the papers differ:

=================  ==============================  =========================================
                   CLIP                            SigLIP
=================  ==============================  =========================================
image pooling      class token → LayerNorm →       all patches → attention-pooling head
                   linear projection               (one learned query), no projection
text pooling       first end-of-text token,        last position (sequences are padded to
                   causal attention                the maximum length), bidirectional
tokenisation       pad to the longest text,        pad every text to ``text_max_length``;
                   truncate at the max length      no attention mask (as trained)
preprocessing      shortest side → resize,         resize to a square, no crop,
                   centre crop, OpenAI mean/std    mean = std = 0.5
temperature        t = exp(s), s₀ = log(1/0.07),   t = exp(s), s₀ = log 10, bias b₀ = −10
                   t clamped at 100
loss               InfoNCE (:func:`clip_loss`)     sigmoid (:func:`siglip_loss`)
=================  ==============================  =========================================

Presets (``clip-tiny``, ``clip-base``, ``siglip-tiny``, ``siglip-base``) have random weights and
a byte-level tokenizer (UTF-8 bytes, ByT5's: no vocabulary file, every script);
``clip-tiny-cnn`` and ``siglip-tiny-cnn`` start their image tower with a frozen, pretrained CNN
(:mod:`vislang.models.cnn_stem`) and initialise the rest. Checkpoints of the Hugging Face
formats load with their own tokenizer and preprocessing constants through
:meth:`DualEncoder.from_pretrained` or :func:`vislang.models.registry.load_model`.
"""

from __future__ import annotations

import dataclasses
import math
import tempfile
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar, Literal

import torch
import torch.nn.functional as F
from torch import nn
from transformers import (
    AutoImageProcessor,
    AutoTokenizer,
    ByT5Tokenizer,
    CLIPConfig,
    CLIPModel,
    PretrainedConfig,
    PreTrainedModel,
    SiglipConfig,
    SiglipModel,
)
from transformers.tokenization_utils_base import PreTrainedTokenizerBase

from vislang.data.preprocess import PreprocessConfig
from vislang.errors import ConfigError
from vislang.fileio import atomic_write_bytes
from vislang.models.cnn_stem import CNN_STEM_STRIDE, CnnVisionEmbeddings, check_stem
from vislang.models.contrastive_loss import clip_loss, siglip_loss
from vislang.models.efficientnet_lite import MEAN as LITE0_MEAN
from vislang.models.efficientnet_lite import STD as LITE0_STD
from vislang.models.registry import register_family
from vislang.represent.encoder import config_hash, weights_hash

BYTE_VOCAB_SIZE = 259
"""ByT5's byte vocabulary without sentinel tokens: pad 0, end of text 1, unknown 2, bytes 3–258."""

TOKENIZER_DIR = "tokenizer"
"""Sub-directory of a saved model holding a checkpoint's own tokenizer files."""

CLIP_LOGIT_SCALE_MAX = math.log(100.0)
_BICUBIC = 3  # PIL.Image.Resampling.BICUBIC, the only resampling PreprocessConfig describes


@dataclass(frozen=True)
class DualEncoderConfig:
    """Architecture, tokenisation and preprocessing of one CLIP or SigLIP dual encoder.

    ``text_max_length`` is the number of text positions (tokens, or bytes plus the end-of-text
    token for the byte tokenizer). ``tokenizer`` is ``"bytes"`` (ByT5's UTF-8 byte tokenizer) or
    ``"checkpoint"`` (the tokenizer files a checkpoint came with, saved beside the weights).
    ``logit_bias_init`` is ``None`` for CLIP, which has no bias. ``seed`` seeds the random
    initialisation. ``vision_stem`` is ``"patches"`` (a ViT's linear patch embedding) or a CNN
    stem of :mod:`vislang.models.cnn_stem` (``"efficientnet-lite0"``: a frozen ImageNet trunk
    makes the 16×16-pixel tokens; ``patch_size`` must then be 16). ``text_padding_side`` is where
    padding goes: SigLIP pools the last position and pads to ``text_max_length`` without a mask,
    so with right padding (the published checkpoints') a short text's pooled position is padding
    that a tower trained from scratch must first learn to fill; left padding (the tiny SigLIP
    presets') puts every text's end-of-text token there. ``text_attention_mask`` is whether the
    text tower gets an attention mask (``None``: the family's own choice, CLIP yes, SigLIP no);
    the tiny SigLIP presets take one, since attention spread over dozens of identical padding
    positions drowns a short caption's few tokens in a tower trained from scratch.
    """

    name: str
    image_size: int
    patch_size: int
    vision_width: int
    vision_layers: int
    vision_heads: int
    vision_mlp_dim: int
    text_width: int
    text_layers: int
    text_heads: int
    text_mlp_dim: int
    text_max_length: int
    embed_dim: int
    hidden_act: str
    layer_norm_eps: float
    logit_scale_init: float
    logit_bias_init: float | None
    preprocess: PreprocessConfig
    vocab_size: int = BYTE_VOCAB_SIZE
    pad_token_id: int = 0
    eos_token_id: int = 1
    bos_token_id: int | None = None
    tokenizer: Literal["bytes", "checkpoint"] = "bytes"
    seed: int = 0
    vision_stem: str = "patches"
    text_padding_side: Literal["right", "left"] = "right"
    text_attention_mask: bool | None = None


@dataclass
class DualEncoderOutput:
    """Embeddings of a batch of pairs and the temperature (and bias) the loss needs.

    ``logit_scale`` is the multiplier t = exp(s) (clamped at 100 for CLIP), not s itself.
    """

    image_embeds: torch.Tensor
    text_embeds: torch.Tensor
    logit_scale: torch.Tensor
    logit_bias: torch.Tensor | None = None


class DualEncoder(nn.Module):
    """A CLIP-style dual encoder on a ``transformers`` backbone; see the module docstring.

    Implements :class:`vislang.represent.encoder.ImageTextEncoder`. Subclasses name the backbone
    class, map configs both ways, and choose the loss and the tokenisation policy.
    """

    family: ClassVar[str]
    config_class: ClassVar[type] = DualEncoderConfig
    hf_model_types: ClassVar[tuple[str, ...]] = ()
    backbone_class: ClassVar[type[PreTrainedModel]]
    pad_to_max_length: ClassVar[bool]
    default_attention_mask: ClassVar[bool]

    def __init__(
        self,
        config: DualEncoderConfig,
        backbone: PreTrainedModel,
        tokenizer: PreTrainedTokenizerBase,
    ) -> None:
        super().__init__()
        self.config = config
        self.backbone = backbone
        self.tokenizer = tokenizer

    # --- construction ------------------------------------------------------------------------

    @classmethod
    def presets(cls) -> dict[str, DualEncoderConfig]:
        """Preset name (``"tiny"``, ``"base"``) → config with random-initialisation seed 0."""
        raise NotImplementedError

    @classmethod
    def from_config(cls, config: DualEncoderConfig, files: str | Path | None = None) -> DualEncoder:
        """A model with weights freshly initialised from ``config.seed``.

        ``files`` is the saved model directory when ``config.tokenizer == "checkpoint"``.
        The global random state is left as it was.
        """
        _validate(config)
        tokenizer = _make_tokenizer(config, files)
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(config.seed)
            backbone = cls.backbone_class(cls._backbone_config(config))
            if config.vision_stem != "patches":
                backbone.vision_model.embeddings = CnnVisionEmbeddings(
                    config.vision_stem,
                    config.vision_width,
                    config.image_size,
                    class_token=cls.family == "clip",
                )
        with torch.no_grad():
            backbone.logit_scale.fill_(config.logit_scale_init)
            if config.logit_bias_init is not None:
                backbone.logit_bias.fill_(config.logit_bias_init)
        return cls(config, backbone.eval(), tokenizer)

    @classmethod
    def from_pretrained(cls, path_or_id: str | Path) -> DualEncoder:
        """Load a Hugging Face checkpoint (local directory or hub id) in float32, with its own
        tokenizer and its image processor's size, crop, mean and std. Weights are read from
        safetensors only."""
        source = str(path_or_id)
        preprocess = _preprocess_from_checkpoint(source)
        try:
            tokenizer = AutoTokenizer.from_pretrained(source)
            backbone = cls.backbone_class.from_pretrained(
                source, dtype=torch.float32, use_safetensors=True
            )
        except (OSError, ValueError) as error:
            reason = str(error).strip().splitlines()[0]
            raise ConfigError(
                f"{source}: cannot load the {cls.family} checkpoint: {reason}"
            ) from None
        local = Path(source)
        name = local.resolve().name if local.is_dir() else source
        config = cls._config_from_backbone(backbone.config, preprocess=preprocess, name=name)
        return cls(config, backbone.eval(), tokenizer)

    def save_files(self, directory: str | Path) -> None:
        """Write the checkpoint's tokenizer files (each atomically) beside the weights; the
        byte tokenizer needs none."""
        if self.config.tokenizer != "checkpoint":
            return
        target = Path(directory) / TOKENIZER_DIR
        with tempfile.TemporaryDirectory() as scratch:
            self.tokenizer.save_pretrained(scratch)
            for path in sorted(Path(scratch).iterdir()):
                atomic_write_bytes(target / path.name, path.read_bytes())

    # --- the ImageTextEncoder interface ------------------------------------------------------

    @property
    def name(self) -> str:
        """The preset or checkpoint this model came from."""
        return self.config.name

    @property
    def preprocess(self) -> PreprocessConfig:
        """How this model wants its pixels."""
        return self.config.preprocess

    @property
    def uses_attention_mask(self) -> bool:
        """Whether the text tower takes an attention mask (the config's choice, else the
        family's)."""
        mask = self.config.text_attention_mask
        return self.default_attention_mask if mask is None else mask

    @property
    def embed_dim(self) -> int:
        """Dimension of the joint embedding space."""
        return self.config.embed_dim

    def tokenize(self, texts: Sequence[str]) -> dict[str, torch.Tensor]:
        """Token ids (and the attention mask, for models that take one) as the reference
        processor makes them: CLIP pads to the longest text, SigLIP to ``text_max_length``
        (on the side ``text_padding_side`` says); both truncate there."""
        if isinstance(texts, str):
            raise TypeError("tokenize() takes a sequence of texts, not one string")
        if self.config.tokenizer == "bytes":
            texts = [unicodedata.normalize("NFC", text) for text in texts]
        encoded = self.tokenizer(
            list(texts),
            padding="max_length" if self.pad_to_max_length else "longest",
            padding_side=self.config.text_padding_side,
            truncation=True,
            max_length=min(self.tokenizer.model_max_length, self.config.text_max_length),
            return_tensors="pt",
        )
        names = ("input_ids", "attention_mask") if self.uses_attention_mask else ("input_ids",)
        return {name: encoded[name].to(self._device) for name in names}

    @torch.no_grad()
    def encode_images(self, pixels: torch.Tensor) -> torch.Tensor:
        """(B, 3, H, W) normalised pixels → (B, embed_dim) L2-normalised embeddings."""
        return F.normalize(self.image_embeddings(pixels), dim=-1)

    @torch.no_grad()
    def encode_texts(self, texts: Sequence[str]) -> torch.Tensor:
        """Texts → (B, embed_dim) L2-normalised embeddings."""
        if len(texts) == 0:
            return torch.zeros(0, self.embed_dim, device=self._device)
        return F.normalize(self.text_embeddings(**self.tokenize(texts)), dim=-1)

    @torch.no_grad()
    def image_patch_features(self, pixels: torch.Tensor) -> torch.Tensor:
        """(B, 3, H, W) → (B, N, D_vision): the vision tower's last hidden states (CLIP: class
        token first, before the final LayerNorm; SigLIP: patches only, after it)."""
        self._check_pixels(pixels)
        return self.backbone.vision_model(pixel_values=pixels).last_hidden_state

    def fingerprint(self) -> dict[str, Any]:
        """``name``, ``config_hash``, ``weights_hash`` and ``dim`` of this encoder."""
        return {
            "name": self.name,
            "config_hash": config_hash(dataclasses.asdict(self.config)),
            "weights_hash": weights_hash(self),
            "dim": self.embed_dim,
        }

    @property
    def frozen_stem(self) -> CnnVisionEmbeddings | None:
        """The vision tower's frozen CNN stem, if it has one: its ``trunk_features(pixels)``
        may be passed wherever pixels go (training computes them once per image)."""
        embeddings = self.backbone.vision_model.embeddings
        return embeddings if isinstance(embeddings, CnnVisionEmbeddings) else None

    # --- training ----------------------------------------------------------------------------

    def image_embeddings(self, pixels: torch.Tensor) -> torch.Tensor:
        """Unnormalised pooled, projected image embeddings, with gradient."""
        self._check_pixels(pixels)
        return self.backbone.get_image_features(pixel_values=pixels).pooler_output

    def text_embeddings(
        self, input_ids: torch.Tensor, attention_mask: torch.Tensor | None = None
    ) -> torch.Tensor:
        """Unnormalised pooled, projected text embeddings, with gradient.

        Masked texts are encoded in groups of similar length, each cut to its own longest text
        (the padding is on one side, so only padding is cut): a batch that mixes 10-token
        captions with 40-token ones then costs about what its tokens cost. Every kept token
        keeps the position it has in the whole batch (left padding: counted from the batch's
        first column), so the result is that of one padded call."""
        groups = _length_groups(attention_mask)
        if groups is None:
            return self.backbone.get_text_features(
                input_ids=input_ids, attention_mask=attention_mask
            ).pooler_output
        assert attention_mask is not None
        width = input_ids.shape[1]
        left = self.config.text_padding_side == "left"
        parts = []
        for rows, length in groups:
            columns = slice(width - length, width) if left else slice(0, length)
            positions = torch.arange(width, device=input_ids.device)[columns]
            parts.append(
                self.backbone.get_text_features(
                    input_ids=input_ids[rows, columns],
                    attention_mask=attention_mask[rows, columns],
                    position_ids=positions.expand(len(rows), -1),
                ).pooler_output
            )
        order = torch.cat([rows for rows, _ in groups])
        return torch.cat(parts)[torch.argsort(order)]

    def forward(
        self,
        pixels: torch.Tensor,
        input_ids: torch.Tensor,
        attention_mask: torch.Tensor | None = None,
    ) -> DualEncoderOutput:
        """Normalised embeddings of B image–text pairs and the learned temperature (and bias)."""
        return DualEncoderOutput(
            image_embeds=F.normalize(self.image_embeddings(pixels), dim=-1),
            text_embeds=F.normalize(self.text_embeddings(input_ids, attention_mask), dim=-1),
            logit_scale=self.logit_scale(),
            logit_bias=self.logit_bias(),
        )

    def logit_scale(self) -> torch.Tensor:
        """The temperature multiplier t = exp(s), a scalar with gradient."""
        return self.backbone.logit_scale.reshape(()).exp()

    def logit_bias(self) -> torch.Tensor | None:
        """The learned bias b (SigLIP), a scalar with gradient; ``None`` for CLIP."""
        return None

    def loss(self, output: DualEncoderOutput) -> torch.Tensor:
        """This family's loss on ``output``, correct across processes (see contrastive_loss)."""
        raise NotImplementedError

    # --- config mapping, one per family ------------------------------------------------------

    @classmethod
    def _backbone_config(cls, config: DualEncoderConfig) -> PretrainedConfig:
        raise NotImplementedError

    @classmethod
    def _config_from_backbone(
        cls, hf_config: PretrainedConfig, preprocess: PreprocessConfig, name: str
    ) -> DualEncoderConfig:
        raise NotImplementedError

    # --- helpers -----------------------------------------------------------------------------

    @property
    def _device(self) -> torch.device:
        return self.backbone.logit_scale.device

    def _check_pixels(self, pixels: torch.Tensor) -> None:
        size = self.config.image_size
        stem = self.frozen_stem
        if stem is not None and pixels.ndim == 4 and pixels.shape[1] == stem.trunk_channels:
            return  # the frozen trunk's features, checked by the stem
        if pixels.ndim != 4 or tuple(pixels.shape[1:]) != (3, size, size):
            raise ValueError(
                f"{self.name}: expected pixels of shape (B, 3, {size}, {size}), "
                f"got {tuple(pixels.shape)}"
            )


@register_family("clip")
class CLIPDualEncoder(DualEncoder):
    """CLIP (Radford et al. 2021): InfoNCE over the batch's similarity matrix."""

    hf_model_types = ("clip",)
    backbone_class = CLIPModel
    pad_to_max_length = False
    default_attention_mask = True

    @classmethod
    def presets(cls) -> dict[str, DualEncoderConfig]:
        """``tiny`` for 64×64 images; ``base``: ViT-B/32 at 224 px with a 12-layer, 512-wide text
        tower (the published architecture, byte vocabulary)."""
        common = {
            "hidden_act": "quick_gelu",
            "layer_norm_eps": 1e-5,
            "logit_scale_init": math.log(1 / 0.07),
            "logit_bias_init": None,
        }
        return {
            "tiny": DualEncoderConfig(
                name="clip-tiny",
                **_TINY,
                **common,
                preprocess=PreprocessConfig(resize=64, crop=64),
            ),
            "tiny-cnn": DualEncoderConfig(name="clip-tiny-cnn", **_TINY_CNN, **common),
            "base": DualEncoderConfig(
                name="clip-base",
                image_size=224,
                patch_size=32,
                vision_width=768,
                vision_layers=12,
                vision_heads=12,
                vision_mlp_dim=3072,
                text_width=512,
                text_layers=12,
                text_heads=8,
                text_mlp_dim=2048,
                text_max_length=77,
                embed_dim=512,
                preprocess=PreprocessConfig(),
                **common,
            ),
        }

    def logit_scale(self) -> torch.Tensor:
        """t = exp(s), clamped at 100 as in CLIP (no gradient to s beyond the clamp)."""
        return self.backbone.logit_scale.reshape(()).clamp(max=CLIP_LOGIT_SCALE_MAX).exp()

    def loss(self, output: DualEncoderOutput) -> torch.Tensor:
        """InfoNCE, symmetric (image→text and text→image averaged); see :func:`clip_loss`."""
        return clip_loss(output.image_embeds, output.text_embeds, output.logit_scale)

    @classmethod
    def _backbone_config(cls, config: DualEncoderConfig) -> CLIPConfig:
        return CLIPConfig(
            text_config={**_text_tower(config), "projection_dim": config.embed_dim},
            vision_config={**_vision_tower(config), "projection_dim": config.embed_dim},
            projection_dim=config.embed_dim,
            logit_scale_init_value=config.logit_scale_init,
        )

    @classmethod
    def _config_from_backbone(
        cls, hf_config: CLIPConfig, preprocess: PreprocessConfig, name: str
    ) -> DualEncoderConfig:
        return _config_from_towers(
            hf_config.text_config,
            hf_config.vision_config,
            embed_dim=hf_config.projection_dim,
            logit_scale_init=hf_config.logit_scale_init_value,
            logit_bias_init=None,
            preprocess=preprocess,
            name=name,
        )


@register_family("siglip")
class SiglipDualEncoder(DualEncoder):
    """SigLIP (Zhai et al. 2023): every pair an independent binary problem, learned bias."""

    hf_model_types = ("siglip",)
    backbone_class = SiglipModel
    pad_to_max_length = True
    default_attention_mask = False

    @classmethod
    def presets(cls) -> dict[str, DualEncoderConfig]:
        """``tiny`` for 64×64 images; ``base``: SigLIP base/16-224 (ViT-B/16 and a 12-layer,
        768-wide text tower, 64 text positions; byte vocabulary)."""
        half = (0.5, 0.5, 0.5)
        common = {
            "hidden_act": "gelu_pytorch_tanh",
            "layer_norm_eps": 1e-6,
            "logit_scale_init": math.log(10.0),
            "logit_bias_init": -10.0,
        }
        return {
            "tiny": DualEncoderConfig(
                name="siglip-tiny",
                **_TINY,
                **(common | _SIGLIP_FROM_SCRATCH),
                preprocess=PreprocessConfig(
                    resize=64, crop=64, mean=half, std=half, resize_mode="square"
                ),
            ),
            "tiny-cnn": DualEncoderConfig(
                name="siglip-tiny-cnn", **_TINY_CNN, **(common | _SIGLIP_FROM_SCRATCH)
            ),
            "base": DualEncoderConfig(
                name="siglip-base",
                image_size=224,
                patch_size=16,
                vision_width=768,
                vision_layers=12,
                vision_heads=12,
                vision_mlp_dim=3072,
                text_width=768,
                text_layers=12,
                text_heads=12,
                text_mlp_dim=3072,
                text_max_length=64,
                embed_dim=768,
                preprocess=PreprocessConfig(
                    resize=224, crop=224, mean=half, std=half, resize_mode="square"
                ),
                **common,
            ),
        }

    def logit_bias(self) -> torch.Tensor:
        """The learned bias b, a scalar with gradient."""
        return self.backbone.logit_bias.reshape(())

    def loss(self, output: DualEncoderOutput) -> torch.Tensor:
        """Sigmoid loss over every pair; see :func:`siglip_loss`."""
        return siglip_loss(
            output.image_embeds, output.text_embeds, output.logit_scale, output.logit_bias
        )

    @classmethod
    def _backbone_config(cls, config: DualEncoderConfig) -> SiglipConfig:
        if config.embed_dim != config.vision_width:
            raise ConfigError(
                f"{config.name}: SigLIP's image embedding is its attention-pooled vision tower "
                f"(no projection), so embed_dim must equal vision_width {config.vision_width}, "
                f"not {config.embed_dim}"
            )
        return SiglipConfig(
            text_config={**_text_tower(config), "projection_size": config.embed_dim},
            vision_config={**_vision_tower(config), "vision_use_head": True},
        )

    @classmethod
    def _config_from_backbone(
        cls, hf_config: SiglipConfig, preprocess: PreprocessConfig, name: str
    ) -> DualEncoderConfig:
        if not hf_config.vision_config.vision_use_head:
            raise ConfigError(f"{name}: SigLIP without the attention-pooling head is not supported")
        return _config_from_towers(
            hf_config.text_config,
            hf_config.vision_config,
            embed_dim=hf_config.text_config.projection_size,
            logit_scale_init=math.log(10.0),
            logit_bias_init=-10.0,
            preprocess=preprocess,
            name=name,
        )


_TINY: dict[str, Any] = {
    "image_size": 64,
    "patch_size": 8,
    "vision_width": 128,
    "vision_layers": 3,
    "vision_heads": 4,
    "vision_mlp_dim": 512,
    "text_width": 128,
    "text_layers": 3,
    "text_heads": 4,
    "text_mlp_dim": 512,
    "text_max_length": 128,
    "embed_dim": 128,
}
"""The tiny architecture shared by both families: 64×64 images in 8×8 patches (64 patches),
3 layers of width 128 per tower, up to 127 UTF-8 bytes of text (every caption of the world in
en, de, tr, sw, id, zh; Tamil script takes 3 bytes a letter and about a third of its captions are
cut: pass ``text_max_length=256`` to keep them whole, at about twice the text tower's cost)."""

_SIGLIP_FROM_SCRATCH: dict[str, Any] = {
    "text_padding_side": "left",
    "text_attention_mask": True,
    "logit_bias_init": -math.log(63),
}
"""What the tiny SigLIP presets, trained from scratch in batches of 64, change: text padded first
and masked (see :class:`DualEncoderConfig`), and the bias starting at the log-odds of a pair
being positive in a batch of 64, as the paper's −10 is for its batches of 32k (a bias of −10 in
batches of 64 holds every positive pair's probability near zero, and the bias climbs out of it
by about 1e-3 per step)."""

_TINY_CNN: dict[str, Any] = {
    **_TINY,
    "patch_size": CNN_STEM_STRIDE,
    "vision_layers": 2,
    "vision_stem": "efficientnet-lite0",
    "preprocess": PreprocessConfig(
        resize=64, crop=64, mean=LITE0_MEAN, std=LITE0_STD, resize_mode="square"
    ),
}
"""The tiny towers with a frozen ImageNet EfficientNet-Lite0 stem (:mod:`.cnn_stem`) under two
trainable layers: 64×64 images (a 4×4 grid of tokens), the Lite models' pixel statistics. On the
world, upscaling to 96×96 (6×6 tokens) gained under one point of recall@5 for 2.8× the stem's
cost and 1.4× the training's."""


TEXT_LENGTH_GROUP = 16
"""Texts per group of :meth:`DualEncoder.text_embeddings`: smaller groups waste fewer padded
positions, larger ones make fewer calls of the text tower."""


def _length_groups(attention_mask: torch.Tensor | None) -> list[tuple[torch.Tensor, int]] | None:
    """Rows of a padded batch sorted by length, in groups of :data:`TEXT_LENGTH_GROUP`, each
    with its longest length; ``None`` without a mask (padding that is attended to cannot be cut)
    or for a batch of one group."""
    if attention_mask is None or attention_mask.ndim != 2:
        return None
    if attention_mask.shape[0] <= TEXT_LENGTH_GROUP:
        return None
    lengths = attention_mask.sum(dim=1)
    order = torch.argsort(lengths, stable=True)
    groups = []
    for start in range(0, len(order), TEXT_LENGTH_GROUP):
        rows = order[start : start + TEXT_LENGTH_GROUP]
        groups.append((rows, max(1, int(lengths[rows].max()))))
    return groups


def _validate(config: DualEncoderConfig) -> None:
    """Reject configs the backbones would fail on later with a less helpful message."""
    if config.image_size % config.patch_size:
        raise ConfigError(
            f"{config.name}: image_size {config.image_size} is not a multiple of "
            f"patch_size {config.patch_size}"
        )
    for tower in ("vision", "text"):
        width, heads = getattr(config, f"{tower}_width"), getattr(config, f"{tower}_heads")
        if width % heads:
            raise ConfigError(
                f"{config.name}: {tower}_width {width} is not divisible by {tower}_heads {heads}"
            )
    if config.preprocess.crop != config.image_size:
        raise ConfigError(
            f"{config.name}: preprocess crop {config.preprocess.crop} differs from image_size "
            f"{config.image_size}"
        )
    check_stem(config.vision_stem, config.patch_size, f"{config.name}: vision_stem")
    if config.text_padding_side not in ("right", "left"):
        raise ConfigError(
            f"{config.name}: text_padding_side must be 'right' or 'left', "
            f"not {config.text_padding_side!r}"
        )
    if config.tokenizer not in ("bytes", "checkpoint"):
        raise ConfigError(
            f"{config.name}: tokenizer must be 'bytes' or 'checkpoint', not {config.tokenizer!r}"
        )


def _make_tokenizer(config: DualEncoderConfig, files: str | Path | None) -> PreTrainedTokenizerBase:
    if config.tokenizer == "bytes":
        if config.vocab_size < BYTE_VOCAB_SIZE:
            raise ConfigError(
                f"{config.name}: the byte tokenizer needs vocab_size >= {BYTE_VOCAB_SIZE}, "
                f"not {config.vocab_size}"
            )
        return ByT5Tokenizer(extra_ids=0, model_max_length=config.text_max_length)
    folder = Path(files) / TOKENIZER_DIR if files is not None else None
    if folder is None or not folder.is_dir():
        raise ConfigError(
            f"{config.name}: the config names the checkpoint's tokenizer, but "
            f"{folder or 'no model directory'} holds none"
        )
    return AutoTokenizer.from_pretrained(folder)


def _text_tower(config: DualEncoderConfig) -> dict[str, Any]:
    return {
        "vocab_size": config.vocab_size,
        "hidden_size": config.text_width,
        "intermediate_size": config.text_mlp_dim,
        "num_hidden_layers": config.text_layers,
        "num_attention_heads": config.text_heads,
        "max_position_embeddings": config.text_max_length,
        "hidden_act": config.hidden_act,
        "layer_norm_eps": config.layer_norm_eps,
        "pad_token_id": config.pad_token_id,
        "bos_token_id": config.bos_token_id,
        "eos_token_id": config.eos_token_id,
    }


def _vision_tower(config: DualEncoderConfig) -> dict[str, Any]:
    return {
        "hidden_size": config.vision_width,
        "intermediate_size": config.vision_mlp_dim,
        "num_hidden_layers": config.vision_layers,
        "num_attention_heads": config.vision_heads,
        "image_size": config.image_size,
        "patch_size": config.patch_size,
        "hidden_act": config.hidden_act,
        "layer_norm_eps": config.layer_norm_eps,
    }


def _config_from_towers(
    text: PretrainedConfig, vision: PretrainedConfig, **fields: Any
) -> DualEncoderConfig:
    """Our config for a checkpoint's two tower configs; refuses what it cannot express."""
    name = fields["name"]
    for key in ("hidden_act", "layer_norm_eps"):
        if getattr(text, key) != getattr(vision, key):
            raise ConfigError(
                f"{name}: the text and vision towers use different {key} "
                f"({getattr(text, key)!r} vs {getattr(vision, key)!r}); not supported"
            )
    for key in ("image_size", "patch_size"):
        if not isinstance(getattr(vision, key), int):
            raise ConfigError(f"{name}: non-square {key} {getattr(vision, key)!r} not supported")
    if not isinstance(text.eos_token_id, int):
        raise ConfigError(f"{name}: several end-of-text ids {text.eos_token_id!r} not supported")
    return DualEncoderConfig(
        image_size=vision.image_size,
        patch_size=vision.patch_size,
        vision_width=vision.hidden_size,
        vision_layers=vision.num_hidden_layers,
        vision_heads=vision.num_attention_heads,
        vision_mlp_dim=vision.intermediate_size,
        text_width=text.hidden_size,
        text_layers=text.num_hidden_layers,
        text_heads=text.num_attention_heads,
        text_mlp_dim=text.intermediate_size,
        text_max_length=text.max_position_embeddings,
        vocab_size=text.vocab_size,
        hidden_act=text.hidden_act,
        layer_norm_eps=text.layer_norm_eps,
        pad_token_id=text.pad_token_id,
        eos_token_id=text.eos_token_id,
        bos_token_id=text.bos_token_id,
        tokenizer="checkpoint",
        **fields,
    )


def _preprocess_from_checkpoint(source: str) -> PreprocessConfig:
    """The checkpoint's image processor settings as a PreprocessConfig; refuses settings that
    PreprocessConfig cannot express (other resampling, no crop after a shortest-side resize,
    non-square sizes, another rescale factor)."""
    try:
        processor = AutoImageProcessor.from_pretrained(source, backend="pil")
    except (OSError, ValueError) as error:
        raise ConfigError(f"{source}: no usable image processor config ({error})") from None

    def refuse(what: str) -> ConfigError:
        return ConfigError(f"{source}: image processor {what} is not supported")

    if not processor.do_resize or processor.resample != _BICUBIC:
        raise refuse(f"resize={processor.do_resize}, resample={processor.resample}")
    if not processor.do_rescale or not math.isclose(processor.rescale_factor, 1 / 255):
        raise refuse(f"rescale={processor.do_rescale} by {processor.rescale_factor}")
    size = processor.size
    if size.shortest_edge is not None:
        if not processor.do_center_crop:
            raise refuse("shortest-edge resize without a centre crop")
        mode, resize = "shortest_edge", size.shortest_edge
    elif size.height is not None and size.height == size.width:
        mode, resize = "square", size.height
    else:
        raise refuse(f"size {size}")
    crop = resize
    if processor.do_center_crop:
        crop_size = processor.crop_size
        if crop_size.height != crop_size.width:
            raise refuse(f"crop size {crop_size}")
        crop = crop_size.height
    mean, std = (0.0,) * 3, (1.0,) * 3
    if processor.do_normalize:
        mean, std = _three(processor.image_mean), _three(processor.image_std)
    return PreprocessConfig(resize=resize, crop=crop, mean=mean, std=std, resize_mode=mode)


def _three(values: float | Sequence[float]) -> tuple[float, float, float]:
    if isinstance(values, (int, float)):
        return (float(values),) * 3
    first, second, third = (float(value) for value in values)
    return first, second, third


__all__ = [
    "CLIPDualEncoder",
    "DualEncoder",
    "DualEncoderConfig",
    "DualEncoderOutput",
    "SiglipDualEncoder",
]
