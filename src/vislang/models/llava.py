"""Hugging Face LLaVA checkpoints as vislang visual-prefix VLMs.

A ``LlavaForConditionalGeneration`` checkpoint (``model_type = "llava"``: LLaVA-1.5 and the
``llava-hf`` conversions) is a CLIP (or SigLIP) vision tower, a two-layer MLP projector and a
causal decoder. :func:`load_llava` reads it with ``transformers`` (safetensors only, float32) and
moves its modules, without copying, into a :class:`~vislang.models.prefix_vlm.PrefixVLM`:

- the vision tower with the checkpoint's ``vision_feature_layer`` and
  ``vision_feature_select_strategy`` (a list of feature layers is refused);
- the projector's ``linear_1``/``linear_2`` weights into the ``mlp`` connector with the
  checkpoint's activation and bias setting;
- the decoder and its output layer into a :class:`~vislang.models.causal_lm.CausalLM` with the
  checkpoint's own tokenizer (which must keep ``<image>`` one token);
- the image processor's size, crop, mean and std as the preprocessing (refusing settings vislang's
  pipeline cannot reproduce, as for CLIP checkpoints).

``transformers``' processor writes ``image_seq_length`` copies of ``<image>`` into the prompt;
vislang's prompts hold one placeholder per image, expanded at the embedding level, so a prompt
``"USER: <image>\\nWhat is this? ASSISTANT:"`` gives the same sequence. No image-position
embeddings are added (``image_positions = 0``), as LLaVA has none.
"""

from __future__ import annotations

from pathlib import Path

import torch
from transformers import AutoModelForCausalLM, AutoTokenizer, LlavaForConditionalGeneration

from vislang.errors import ConfigError
from vislang.models.causal_lm import CausalLM, CausalLMConfig
from vislang.models.connectors import ConnectorConfig, MLPConnector
from vislang.models.dual_encoder import _preprocess_from_checkpoint
from vislang.models.lm_tokenizer import IMAGE_TOKEN
from vislang.models.prefix_vlm import PrefixVLM, PrefixVLMConfig
from vislang.models.vision_tower import VisionTower, plain_hf_config

LLAVA_QUESTION_TEMPLATE = "USER: " + IMAGE_TOKEN + "\n{question} ASSISTANT:"
"""LLaVA-1.5's conversation format for one question about one image."""

LLAVA_CAPTION_TEMPLATE = (
    "USER: " + IMAGE_TOKEN + "\nDescribe the image in one sentence in {language}. ASSISTANT:"
)


def load_llava(path_or_id: str | Path) -> PrefixVLM:
    """A :class:`PrefixVLM` holding a LLaVA checkpoint's modules (local folder or hub id)."""
    source = str(path_or_id)
    try:
        reference = LlavaForConditionalGeneration.from_pretrained(
            source, dtype=torch.float32, use_safetensors=True
        )
        tokenizer = AutoTokenizer.from_pretrained(source)
    except (OSError, ValueError) as error:
        reason = str(error).strip().splitlines()[0]
        raise ConfigError(f"{source}: cannot load the LLaVA checkpoint: {reason}") from None
    config = reference.config
    if not isinstance(config.vision_feature_layer, int):
        raise ConfigError(
            f"{source}: several vision feature layers {config.vision_feature_layer} "
            "are not supported"
        )
    local = Path(source)
    name = local.resolve().name if local.is_dir() else source
    parts = reference.model
    vision = VisionTower.from_module(
        parts.vision_tower.eval(),
        _preprocess_from_checkpoint(source),
        name=f"{name}-vision",
        feature_layer=config.vision_feature_layer,
        select=config.vision_feature_select_strategy,
    )
    connector_config = ConnectorConfig(
        "mlp",
        vision.hidden_size,
        config.text_config.hidden_size,
        {"activation": config.projector_hidden_act, "bias": config.multimodal_projector_bias},
    )
    connector = MLPConnector(
        connector_config.vision_dim, connector_config.text_dim, **connector_config.options
    )
    connector.load_state_dict(parts.multi_modal_projector.state_dict(), strict=True)
    lm = CausalLM(
        CausalLMConfig(
            name=f"{name}-language-model",
            hf_config=plain_hf_config(config.text_config),
            tokenizer="checkpoint",
        ),
        _causal_lm(parts.language_model, reference.lm_head, config.text_config, source),
        tokenizer,
    )
    vlm_config = PrefixVLMConfig(
        name=name,
        vision=vision.config,
        connector=connector_config,
        lm=lm.config,
        image_token_id=int(config.image_token_id),
        image_positions=0,
        question_template=LLAVA_QUESTION_TEMPLATE,
        caption_template=LLAVA_CAPTION_TEMPLATE,
    )
    return PrefixVLM(vlm_config, vision, connector, lm).eval()


def _causal_lm(
    decoder: torch.nn.Module, lm_head: torch.nn.Module, text_config: object, source: str
) -> torch.nn.Module:
    """A ``transformers`` causal LM of ``text_config`` whose decoder and output layer are the
    given modules (moved, not copied; tied weights stay tied)."""
    model_type = getattr(text_config, "model_type", None)
    if model_type not in CausalLM.hf_model_types:
        raise ConfigError(
            f"{source}: the LLaVA decoder is a {model_type!r} model; supported: "
            f"{', '.join(CausalLM.hf_model_types)}"
        )
    with torch.device("meta"):
        shell = AutoModelForCausalLM.from_config(text_config, dtype=torch.float32)
    setattr(shell, shell.base_model_prefix, decoder)
    shell.lm_head = lm_head
    left_on_meta = [name for name, tensor in shell.state_dict().items() if tensor.is_meta]
    if left_on_meta:
        raise ConfigError(f"{source}: decoder weights not found for {left_on_meta[:3]}")
    return shell.eval()


__all__ = ["LLAVA_CAPTION_TEMPLATE", "LLAVA_QUESTION_TEMPLATE", "load_llava"]
