"""The cross-attention vision-language model (Flamingo): gated cross-attention blocks between the
layers of a frozen language model.

A :class:`FlamingoVLM` turns each image into visual tokens (vision tower, then a connector: by
default the resampler, Flamingo's Perceiver Resampler in one layer) and lets the text attend to
them through new cross-attention layers inserted before every ``every``-th decoder block
(:mod:`vislang.models.cross_attention`, ``position = "before_block"``): each adds
``tanh(g) · xattn(norm(h), visual)`` and, with ``feed_forward > 0``, a gated feed-forward part
(Flamingo's GATED XATTN-DENSE) to the block's input. The gates ``g`` start at 0, so at
initialisation the model computes exactly what the language model computes on the text alone
(tested bit for bit): it starts from the language prior and learns how much to look.

Prompts are written as for the visual-prefix model (``<image>`` marks each image, see
:mod:`vislang.models.vision_language`), but the placeholders are taken out of the token sequence:
the language model reads the text only, and every text position attends to the visual tokens of
all images of its sequence, each image's tokens carrying a learned image-position embedding
(zero at initialisation) when ``image_positions > 0``. (Flamingo keeps an ``<image>`` tag in the
text and lets each position attend to the latest image only; with one image per sequence, as in
VQA and captioning, the two agree.) Every sequence needs at least one image.

Generation runs ``transformers``' ``generate`` inside the cross-attention context: the visual
keys and values are computed once per prompt batch and reused at every step (as the KV cache
does for the text), and for beam search each sequence's visual tokens are repeated per beam.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any, ClassVar, Literal

import torch

from vislang.errors import ConfigError
from vislang.models.causal_lm import IGNORE_INDEX, CausalLM, CausalLMConfig
from vislang.models.connectors import Connector, ConnectorConfig
from vislang.models.cross_attention import CrossAttentionConfig, insert_cross_attention
from vislang.models.lm_tokenizer import IMAGE_TOKEN, SPECIAL_TOKENS
from vislang.models.registry import register_family
from vislang.models.vision_language import (
    CAPTION_TEMPLATE,
    QUESTION_TEMPLATE,
    VisionLanguageModel,
    VLMOutput,
    image_slots,
    require_image_token,
)
from vislang.models.vision_tower import VisionTower, VisionTowerConfig, preset_vision_config


@dataclass(frozen=True)
class FlamingoConfig:
    """A cross-attention VLM: its three parts, the inserted layers (``encoder_dim`` is the
    connector's output width; ``position`` must be ``"before_block"`` and ``gated`` true), the
    placeholder's id, the number of image-position embeddings and the prompt templates."""

    name: str
    vision: VisionTowerConfig
    connector: ConnectorConfig
    lm: CausalLMConfig
    cross_attention: CrossAttentionConfig
    image_token_id: int
    image_positions: int = 4
    question_template: str = QUESTION_TEMPLATE
    caption_template: str = CAPTION_TEMPLATE
    seed: int = 0


@register_family("flamingo")
class FlamingoVLM(VisionLanguageModel):
    """Vision tower → connector → gated cross-attention into a causal LM; see the module
    docstring."""

    family: ClassVar[str]
    config_class: ClassVar[type] = FlamingoConfig

    def __init__(
        self, config: FlamingoConfig, vision: VisionTower, connector: Connector, lm: CausalLM
    ) -> None:
        super().__init__(config, vision, connector, lm)
        xattn = config.cross_attention
        if xattn.encoder_dim != connector.text_dim:
            raise ConfigError(
                f"{config.name}: cross_attention.encoder_dim {xattn.encoder_dim} differs from "
                f"the connector's output width {connector.text_dim}"
            )
        if xattn.position != "before_block" or not xattn.gated:
            raise ConfigError(
                f"{config.name}: Flamingo's cross-attention is gated and placed before the "
                "blocks (position='before_block', gated=true)"
            )
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(config.seed)
            self.cross_attention = insert_cross_attention(lm.model, xattn)
        self.image_position = self._image_position_embedding(connector.text_dim)

    # --- construction ------------------------------------------------------------------------

    @classmethod
    def presets(cls) -> dict[str, FlamingoConfig]:
        """``tiny``: a random ``clip-tiny`` image tower, a 16-query resampler, a random
        ``causal_lm-tiny`` and gated cross-attention with a feed-forward part (twice the LM's
        width) before blocks 0 and 2."""
        vision = preset_vision_config("clip-tiny")
        lm = CausalLM.presets()["tiny"]
        width = int(lm.hf_config["hidden_size"])
        return {
            "tiny": FlamingoConfig(
                name="flamingo-tiny",
                vision=vision,
                connector=ConnectorConfig(
                    "resampler", int(vision.hf_config["hidden_size"]), width, {"queries": 16}
                ),
                lm=lm,
                cross_attention=flamingo_cross_attention(width, every=2, feed_forward=2),
                image_token_id=SPECIAL_TOKENS.index(IMAGE_TOKEN),
            )
        }

    @classmethod
    def from_parts(
        cls,
        vision: VisionTower,
        lm: CausalLM,
        connector: str = "resampler",
        connector_options: dict[str, Any] | None = None,
        *,
        every: int = 1,
        feed_forward: int = 4,
        cross_attention_options: dict[str, Any] | None = None,
        image_positions: int = 4,
        seed: int = 0,
        name: str | None = None,
    ) -> FlamingoVLM:
        """A model of a (usually pretrained) vision tower and language model with a fresh
        connector and fresh gated cross-attention layers (initialised from ``seed``) before
        every ``every``-th block. ``cross_attention_options`` sets other
        :class:`~vislang.models.cross_attention.CrossAttentionConfig` fields (``dim``,
        ``reduction``, ``heads``)."""
        connector_config = ConnectorConfig(
            connector, vision.hidden_size, lm.hidden_size, dict(connector_options or {})
        )
        xattn = flamingo_cross_attention(lm.hidden_size, every=every, feed_forward=feed_forward)
        config = FlamingoConfig(
            name=name or f"flamingo-{connector}",
            vision=vision.config,
            connector=connector_config,
            lm=lm.config,
            cross_attention=replace(xattn, **(cross_attention_options or {})),
            image_token_id=require_image_token(lm),
            image_positions=image_positions,
            seed=seed,
        )
        return cls._with_fresh_connector(config, vision, lm)

    # --- forward ------------------------------------------------------------------------------

    def forward(
        self,
        input_ids: torch.Tensor,
        attention_mask: torch.Tensor,
        labels: torch.Tensor | None = None,
        pixels: torch.Tensor | None = None,
        features: torch.Tensor | None = None,
        padding_side: Literal["right", "left"] = "right",
    ) -> VLMOutput:
        """Logits of the text (placeholders taken out) attending to its images, and the labels
        aligned with them; images as ``pixels`` or vision-tower ``features``, in placeholder
        order."""
        memory, memory_mask = self.image_memory(input_ids, self.visual_tokens(pixels, features))
        text = self.without_placeholders(input_ids, attention_mask, labels, padding_side)
        with self.cross_attention.attending(memory, memory_mask):
            output = self.lm(input_ids=text["input_ids"], attention_mask=text["attention_mask"])
        return VLMOutput(output.logits, text.get("labels"))

    def image_memory(
        self, input_ids: torch.Tensor, visual: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """What each sequence attends to: ``(B, K·M, D)`` the connector tokens of its images
        (each with its image-position embedding; K the most images in a row) and a ``(B, K·M)``
        mask, False where a row has fewer images."""
        is_image = input_ids == self.config.image_token_id
        per_row = is_image.sum(1)
        if int(per_row.sum()) != visual.shape[0]:
            raise ValueError(
                f"{int(per_row.sum())} {IMAGE_TOKEN} placeholders for {visual.shape[0]} images"
            )
        if bool((per_row == 0).any()):
            raise ValueError(
                f"every sequence needs at least one {IMAGE_TOKEN}: the cross-attention VLM reads "
                "images only through it"
            )
        slots = image_slots(input_ids, self.config.image_token_id, self.config.image_positions)
        rows, cols = torch.nonzero(is_image, as_tuple=True)
        slot = slots[rows, cols]
        if self.image_position is not None:
            visual = visual + self.image_position(slot).unsqueeze(1)
        batch, most = input_ids.shape[0], int(per_row.max())
        tokens, width = visual.shape[1], visual.shape[2]
        memory = visual.new_zeros(batch, most, tokens, width)
        memory[rows, slot] = visual
        present = torch.arange(most, device=input_ids.device) < per_row.unsqueeze(1)
        mask = present.unsqueeze(2).expand(batch, most, tokens)
        return memory.reshape(batch, most * tokens, width), mask.reshape(batch, most * tokens)

    def without_placeholders(
        self,
        input_ids: torch.Tensor,
        attention_mask: torch.Tensor,
        labels: torch.Tensor | None = None,
        padding_side: Literal["right", "left"] = "right",
    ) -> dict[str, torch.Tensor]:
        """The batch with every ``<image>`` taken out and the rows padded again on
        ``padding_side``: ``input_ids``, ``attention_mask`` (and ``labels``)."""
        keep = (input_ids != self.config.image_token_id) & (attention_mask != 0)
        lengths = keep.sum(1)
        width = int(lengths.max())
        places = keep.long().cumsum(1) - 1
        if padding_side == "left":
            places = places + (width - lengths).unsqueeze(1)
        rows, cols = torch.nonzero(keep, as_tuple=True)
        batch = input_ids.shape[0]
        ids = input_ids.new_full((batch, width), self.lm.pad_token_id)
        mask = attention_mask.new_zeros(batch, width)
        ids[rows, places[rows, cols]] = input_ids[rows, cols]
        mask[rows, places[rows, cols]] = 1
        text = {"input_ids": ids, "attention_mask": mask}
        if labels is not None:
            kept_labels = labels.new_full((batch, width), IGNORE_INDEX)
            kept_labels[rows, places[rows, cols]] = labels[rows, cols]
            text["labels"] = kept_labels
        return text

    def _generate_tokens(
        self,
        input_ids: torch.Tensor,
        attention_mask: torch.Tensor,
        visual: torch.Tensor,
        settings: dict[str, Any],
    ) -> torch.Tensor:
        """``generate`` on the text inside the cross-attention context; visual tokens repeated
        per beam."""
        memory, memory_mask = self.image_memory(input_ids, visual)
        text = self.without_placeholders(input_ids, attention_mask, padding_side="left")
        beams = int(settings.get("num_beams", 1))
        with self.cross_attention.attending(
            memory.repeat_interleave(beams, dim=0), memory_mask.repeat_interleave(beams, dim=0)
        ):
            sequences = self.lm.model.generate(**text, **settings)
        return sequences[:, text["input_ids"].shape[1] :]


def flamingo_cross_attention(
    hidden_size: int, *, every: int = 1, feed_forward: int = 4, encoder_dim: int | None = None
) -> CrossAttentionConfig:
    """Flamingo's layer: gated (tanh, gate 0), before the block, full inner width, with a gated
    feed-forward part ``feed_forward`` times the LM's width (0: none), every ``every`` blocks;
    attending to ``encoder_dim``-wide tokens (default: the LM's width)."""
    return CrossAttentionConfig(
        encoder_dim=encoder_dim or hidden_size,
        position="before_block",
        gated=True,
        feed_forward=feed_forward,
        every=every,
    )


__all__ = ["FlamingoConfig", "FlamingoVLM", "flamingo_cross_attention"]
