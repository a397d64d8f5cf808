"""The visual-prefix vision-language model (Frozen, LLaVA): vision tower → connector → causal LM.

A :class:`PrefixVLM` turns each image into visual tokens (:class:`~vislang.models.vision_tower.
VisionTower`, then a connector of :mod:`vislang.models.connectors`) and feeds them to a
``transformers`` causal language model (:class:`~vislang.models.causal_lm.CausalLM`) through its
input embeddings:

- a prompt marks each image's place with the ``<image>`` placeholder token; the placeholder's
  embedding is replaced by the image's ``M`` visual tokens, so the sequence grows by ``M − 1``
  per image (:meth:`PrefixVLM.splice`);
- a sequence may hold several images; with ``image_positions > 0`` the ``k``-th image of a
  sequence gets a learned image-position embedding added to all its visual tokens (initialised
  at zero, so a model starts as if it had none), which tells the model which image is which;
- labels cover the answer or caption tokens only (visual tokens, prompt and padding are
  ``-100``);
- generation runs ``transformers``' ``generate`` on the spliced embeddings (KV cache, greedy or
  beam search, left padding).

Prompts follow the config's templates: a question is asked as ``question_template`` (default
``"<image>{question}"``) followed by a space and the answer, which is how the stage-0 language
model read questions ("How many blue squares are there? 2"); a caption is asked for in a language
with ``caption_template`` (default ``"<image>{language}:"``, e.g. ``<image>de:``).

Models load through the registry (``load_model(dir)``): vislang folders, the ``tiny`` preset, and
Hugging Face ``LlavaForConditionalGeneration`` checkpoints (:mod:`vislang.models.llava`).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar, Literal

import torch

from vislang.errors import ConfigError
from vislang.models.causal_lm import IGNORE_INDEX, CausalLM, CausalLMConfig
from vislang.models.connectors import Connector, ConnectorConfig
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
class PrefixVLMConfig:
    """A visual-prefix VLM: its three parts, the placeholder's id, the number of learned
    image-position embeddings (0: none, any number of images) and the prompt templates."""

    name: str
    vision: VisionTowerConfig
    connector: ConnectorConfig
    lm: CausalLMConfig
    image_token_id: int
    image_positions: int = 4
    question_template: str = QUESTION_TEMPLATE
    caption_template: str = CAPTION_TEMPLATE
    seed: int = 0


@register_family("prefix_vlm")
class PrefixVLM(VisionLanguageModel):
    """Vision tower → connector → causal LM through the input embeddings; see the module
    docstring."""

    family: ClassVar[str]
    config_class: ClassVar[type] = PrefixVLMConfig
    hf_model_types: ClassVar[tuple[str, ...]] = ("llava",)

    def __init__(
        self, config: PrefixVLMConfig, vision: VisionTower, connector: Connector, lm: CausalLM
    ) -> None:
        super().__init__(config, vision, connector, lm)
        if connector.text_dim != lm.hidden_size:
            raise ConfigError(
                f"{config.name}: the connector gives {connector.text_dim}-wide tokens, the "
                f"language model takes {lm.hidden_size}"
            )
        self.image_position = self._image_position_embedding(lm.hidden_size)

    # --- construction ------------------------------------------------------------------------

    @classmethod
    def presets(cls) -> dict[str, PrefixVLMConfig]:
        """``tiny``: a random ``clip-tiny`` image tower (patch tokens, no class token), the MLP
        connector and a random ``causal_lm-tiny`` with the stage-0 tokenizer."""
        vision = preset_vision_config("clip-tiny")
        lm = CausalLM.presets()["tiny"]
        width = int(lm.hf_config["hidden_size"])
        return {
            "tiny": PrefixVLMConfig(
                name="prefix_vlm-tiny",
                vision=vision,
                connector=ConnectorConfig("mlp", int(vision.hf_config["hidden_size"]), width),
                lm=lm,
                image_token_id=SPECIAL_TOKENS.index(IMAGE_TOKEN),
            )
        }

    @classmethod
    def from_parts(
        cls,
        vision: VisionTower,
        lm: CausalLM,
        connector: str = "mlp",
        connector_options: dict[str, Any] | None = None,
        *,
        image_positions: int = 4,
        seed: int = 0,
        name: str | None = None,
    ) -> PrefixVLM:
        """A model of a (usually pretrained) vision tower and language model with a fresh
        connector (initialised from ``seed``) between them."""
        config = PrefixVLMConfig(
            name=name or f"prefix_vlm-{connector}",
            vision=vision.config,
            connector=ConnectorConfig(
                connector, vision.hidden_size, lm.hidden_size, dict(connector_options or {})
            ),
            lm=lm.config,
            image_token_id=require_image_token(lm),
            image_positions=image_positions,
            seed=seed,
        )
        return cls._with_fresh_connector(config, vision, lm)

    @classmethod
    def from_pretrained(cls, path_or_id: str | Path) -> PrefixVLM:
        """Load a Hugging Face ``LlavaForConditionalGeneration`` checkpoint (see
        :mod:`vislang.models.llava`)."""
        from vislang.models.llava import load_llava

        return load_llava(path_or_id)

    # --- forward ------------------------------------------------------------------------------

    def splice(
        self,
        input_ids: torch.Tensor,
        attention_mask: torch.Tensor,
        visual: torch.Tensor,
        labels: torch.Tensor | None = None,
        padding_side: Literal["right", "left"] = "right",
    ) -> dict[str, torch.Tensor]:
        """Replace every ``<image>`` placeholder by its image's visual tokens.

        ``visual`` (I, M, D) holds the images in placeholder order (row by row, left to right).
        Returns ``inputs_embeds`` (B, L, D), ``attention_mask`` (B, L) and, with ``labels``,
        ``labels`` (B, L) (``-100`` on visual tokens). Padding stays on ``padding_side``.
        """
        is_image = input_ids == self.config.image_token_id
        images = int(is_image.sum())
        if images != visual.shape[0]:
            raise ValueError(f"{images} {IMAGE_TOKEN} placeholders for {visual.shape[0]} images")
        slots = image_slots(input_ids, self.config.image_token_id, self.config.image_positions)
        tokens = visual.shape[1]
        widths = torch.where(is_image, tokens, 1)
        starts = widths.cumsum(1) - widths
        row_lengths = widths.sum(1)
        length = int(row_lengths.max())
        if padding_side == "left":
            starts = starts + (length - row_lengths).unsqueeze(1)
        batch, hidden = input_ids.shape[0], self.lm.hidden_size
        text = self.lm.embed_tokens(input_ids)
        embeds = text.new_zeros(batch, length, hidden)
        mask = attention_mask.new_zeros(batch, length)
        rows, cols = torch.nonzero(~is_image, as_tuple=True)
        places = starts[rows, cols]
        embeds[rows, places] = text[rows, cols]
        mask[rows, places] = attention_mask[rows, cols]
        image_rows, image_cols = torch.nonzero(is_image, as_tuple=True)
        spans = starts[image_rows, image_cols].unsqueeze(1) + torch.arange(tokens).to(starts)
        if self.image_position is not None and images:
            visual = visual + self.image_position(slots[image_rows, image_cols]).unsqueeze(1)
        embeds[image_rows.unsqueeze(1), spans] = visual.to(embeds.dtype)
        mask[image_rows.unsqueeze(1), spans] = attention_mask[image_rows, image_cols].unsqueeze(1)
        spliced = {"inputs_embeds": embeds, "attention_mask": mask}
        if labels is not None:
            new_labels = labels.new_full((batch, length), IGNORE_INDEX)
            new_labels[rows, places] = labels[rows, cols]
            spliced["labels"] = new_labels
        return spliced

    def forward(
        self,
        input_ids: torch.Tensor,
        attention_mask: torch.Tensor,
        labels: torch.Tensor | None = None,
        pixels: torch.Tensor | None = None,
        features: torch.Tensor | None = None,
        padding_side: Literal["right", "left"] = "right",
    ) -> VLMOutput:
        """Logits of the spliced sequences (and their aligned labels): images as ``pixels``
        (I, 3, S, S) or vision-tower ``features`` (I, N, D_vision), in placeholder order."""
        visual = self.visual_tokens(pixels, features)
        spliced = self.splice(input_ids, attention_mask, visual, labels, padding_side)
        output = self.lm(
            inputs_embeds=spliced["inputs_embeds"], attention_mask=spliced["attention_mask"]
        )
        return VLMOutput(output.logits, spliced.get("labels"))

    def _generate_tokens(
        self,
        input_ids: torch.Tensor,
        attention_mask: torch.Tensor,
        visual: torch.Tensor,
        settings: dict[str, Any],
    ) -> torch.Tensor:
        """``generate`` on the spliced embeddings (only the new tokens come back)."""
        spliced = self.splice(input_ids, attention_mask, visual, padding_side="left")
        return self.lm.model.generate(**spliced, **settings)


__all__ = ["PrefixVLM", "PrefixVLMConfig"]
