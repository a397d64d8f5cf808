"""SmallCap and PAELLA: a frozen image encoder, a frozen causal LM, and trained cross-attention.

The only trained parameters are a new cross-attention layer in every decoder block of the
language model (:mod:`vislang.models.cross_attention`), whose inner dimension is reduced (heads
kept, head dimension reduced). The layers attend to the image encoder's patch features; the
prompt holds K captions retrieved for the image (:mod:`vislang.retrieval.caption_retrieval`) in a
per-language template (:mod:`vislang.retrieval.prompts`); the loss covers the caption's tokens
(and its end-of-text token) only.

- SmallCap (Ramos et al. 2023): GPT-2 and CLIP ViT-B/32, ``reduction=4`` → 7.1 M trained
  parameters, English template;
- PAELLA (Ramos et al. 2024): XGLM-2.9B, ``dim=128`` (16 heads of 8) → 35 M trained parameters,
  one template per language naming the language, target-language retrieval.

::

    from vislang.models.registry import load_model
    captioner = load_model("runs/smallcap-world/model")          # a trained SmallCap
    results = captioner.caption(pixels, ["de", "sw"], retriever)  # CaptionResult per image
    captioner.parameter_report()  # {'trainable': ..., 'frozen': ..., 'cross_attention': ...}

A model directory holds the whole model (LM, encoder and cross-attention weights in
``model.safetensors``; the LM's tokenizer in ``lm/tokenizer/``, the encoder's extra files in
``encoder/``), the exact prompt templates of every language in ``vislang_model.json``, and (when
trained by ``vislang train``) its caption datastore in ``datastore/``.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import torch
from torch import nn

from vislang.errors import ConfigError
from vislang.models.captioning import (
    CaptionResult,
    EncoderLMCaptioner,
    check_prompt_lengths,
    marks_words,
    prompts_for,
    retrieve_for_images,
)
from vislang.models.causal_lm import CausalLM, CausalLMConfig
from vislang.models.cross_attention import CrossAttentionConfig, insert_cross_attention
from vislang.models.dual_encoder import DualEncoder, DualEncoderConfig
from vislang.models.registry import families, register_family
from vislang.retrieval.caption_retrieval import CaptionRetriever, RetrievalConfig
from vislang.retrieval.prompts import PromptTemplate, load_template

LM_DIR = "lm"
ENCODER_DIR = "encoder"
DATASTORE_DIR = "datastore"
"""Sub-directories of a saved captioner: the LM's files, the encoder's files, the datastore."""


@dataclass(frozen=True)
class SmallCapConfig:
    """A SmallCap/PAELLA captioner: its frozen parts' configs, the cross-attention, retrieval,
    the prompt templates by language (``PromptTemplate.to_dict()``), decoding and ``seed`` (the
    cross-attention's initialisation)."""

    name: str
    lm: CausalLMConfig
    encoder_family: str
    encoder: DualEncoderConfig
    cross_attention: CrossAttentionConfig
    retrieval: RetrievalConfig = field(default_factory=RetrievalConfig)
    prompt_set: str = "paella"
    prompts: dict[str, dict[str, str]] = field(default_factory=dict)
    max_caption_tokens: int = 25
    num_beams: int = 3
    seed: int = 0


@register_family("smallcap")
class SmallCap(nn.Module, EncoderLMCaptioner):
    """Trained reduced cross-attention between a frozen dual encoder's vision tower and a frozen
    causal LM; see the module docstring."""

    family: ClassVar[str]
    config_class: ClassVar[type] = SmallCapConfig

    def __init__(self, config: SmallCapConfig, lm: CausalLM, encoder: DualEncoder) -> None:
        super().__init__()
        if config.cross_attention.encoder_dim != encoder.config.vision_width:
            raise ConfigError(
                f"{config.name}: cross_attention.encoder_dim {config.cross_attention.encoder_dim}"
                f" differs from the encoder's patch width {encoder.config.vision_width}"
            )
        self.config = config
        self.lm = lm.requires_grad_(False)
        self.encoder = encoder.requires_grad_(False)
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(config.seed)
            self.cross_attention = insert_cross_attention(lm.model, config.cross_attention)
        self._word_marks = marks_words(lm.tokenizer)
        self.train(False)

    # --- construction ------------------------------------------------------------------------

    @classmethod
    def presets(cls) -> dict[str, SmallCapConfig]:
        """None: a captioner is built from a trained LM and encoder (:meth:`build`)."""
        return {}

    @classmethod
    def build(
        cls,
        lm: CausalLM,
        encoder: DualEncoder,
        cross_attention: CrossAttentionConfig,
        *,
        languages: Sequence[str],
        prompt_set: str = "paella",
        templates_file: str | Path | None = None,
        retrieval: RetrievalConfig | None = None,
        name: str = "smallcap",
        max_caption_tokens: int = 25,
        num_beams: int = 3,
        seed: int = 0,
    ) -> SmallCap:
        """A captioner on these (trained) LM and encoder, with fresh cross-attention (its
        ``encoder_dim`` set to the encoder's patch width) and the templates of ``languages``."""
        prompts = {
            code: load_template(prompt_set, code, templates_file).to_dict() for code in languages
        }
        config = SmallCapConfig(
            name=name,
            lm=lm.config,
            encoder_family=encoder.family,
            encoder=encoder.config,
            cross_attention=dataclasses.replace(
                cross_attention, encoder_dim=encoder.config.vision_width
            ),
            retrieval=retrieval or RetrievalConfig(),
            prompt_set=prompt_set,
            prompts=prompts,
            max_caption_tokens=max_caption_tokens,
            num_beams=num_beams,
            seed=seed,
        )
        return cls(config, lm, encoder)

    @classmethod
    def from_config(cls, config: SmallCapConfig, files: str | Path | None = None) -> SmallCap:
        """A captioner of this architecture (weights to be loaded); ``files`` is the saved
        model directory holding the LM's and the encoder's files."""
        encoder_class = families().get(config.encoder_family)
        if encoder_class is None or not issubclass(encoder_class, DualEncoder):
            raise ConfigError(
                f"{config.name}: encoder_family {config.encoder_family!r} is not a dual encoder"
            )
        folder = Path(files) if files is not None else None
        lm = CausalLM.from_config(config.lm, files=None if folder is None else folder / LM_DIR)
        encoder = encoder_class.from_config(
            config.encoder, files=None if folder is None else folder / ENCODER_DIR
        )
        return cls(config, lm, encoder)

    def save_files(self, directory: str | Path) -> None:
        """Write the LM's tokenizer and the encoder's extra files beside the weights."""
        self.lm.save_files(Path(directory) / LM_DIR)
        self.encoder.save_files(Path(directory) / ENCODER_DIR)

    def train(self, mode: bool = True) -> SmallCap:
        """Set the cross-attention's mode; the frozen LM and encoder always run in eval mode
        (no dropout in frozen weights)."""
        super().train(mode)
        self.lm.eval()
        for layer in self.cross_attention.layers.values():
            layer.train(mode)
        self.encoder.eval()
        return self

    # --- what it is --------------------------------------------------------------------------

    def parameter_report(self) -> dict[str, int]:
        """Trainable and frozen scalars, and the share of each part."""
        trainable = sum(p.numel() for p in self.parameters() if p.requires_grad)
        return {
            "trainable": trainable,
            "frozen": sum(p.numel() for p in self.parameters() if not p.requires_grad),
            "cross_attention": self.cross_attention.count(),
            "language_model": sum(p.numel() for p in self.lm.parameters())
            - self.cross_attention.count(),
            "image_encoder": sum(p.numel() for p in self.encoder.parameters()),
        }

    def template(self, language: str) -> PromptTemplate:
        """The prompt template of ``language``: the one saved with the model, else the shipped
        set's (:attr:`SmallCapConfig.prompt_set`)."""
        saved = self.config.prompts.get(language)
        if saved is not None:
            return PromptTemplate.from_dict(saved)
        return load_template(self.config.prompt_set, language)

    # --- training and generation -------------------------------------------------------------

    @torch.no_grad()
    def image_features(self, pixels: torch.Tensor) -> torch.Tensor:
        """(B, 3, H, W) preprocessed pixels → (B, N, D) frozen patch features."""
        return self.encoder.image_patch_features(pixels)

    def forward(
        self, image_features: torch.Tensor, input_ids: torch.Tensor, attention_mask: torch.Tensor
    ) -> torch.Tensor:
        """Next-token logits (B, T, vocabulary) of the LM reading ``input_ids`` while its
        cross-attention attends to ``image_features`` (B, N, D)."""
        with self.cross_attention.attending(image_features):
            return self.lm.model(input_ids=input_ids, attention_mask=attention_mask).logits

    def training_tokens(
        self, prompts: Sequence[str], captions: Sequence[str], languages: Sequence[str]
    ) -> dict[str, torch.Tensor]:
        """``input_ids``, ``attention_mask`` and ``labels`` of start + prompt + caption + end,
        with labels on the caption and end tokens only."""
        texts = [
            self.template(language).caption_text(caption, self._word_marks, prompt)
            for prompt, caption, language in zip(prompts, captions, languages, strict=True)
        ]
        return self.lm.tokenize(texts, list(prompts), add_eos=True)

    @torch.no_grad()
    def generate(
        self,
        image_features: torch.Tensor,
        prompts: Sequence[str],
        *,
        num_beams: int | None = None,
        max_new_tokens: int | None = None,
        batch_size: int = 16,
    ) -> list[tuple[str, float]]:
        """Beam search (KV cache, left-padded batches) for each image's prompt: the best
        caption and its beam score."""
        if len(prompts) != image_features.shape[0]:
            raise ValueError(f"{len(prompts)} prompts for {image_features.shape[0]} images")
        beams = num_beams or self.config.num_beams
        new_tokens = max_new_tokens or self.config.max_caption_tokens
        check_prompt_lengths(self.lm, prompts, new_tokens)
        results: list[tuple[str, float]] = []
        for start in range(0, len(prompts), batch_size):
            chunk = list(prompts[start : start + batch_size])
            features = image_features[start : start + len(chunk)].repeat_interleave(beams, dim=0)
            with self.cross_attention.attending(features):
                found = self.lm.generate_beams(
                    chunk,
                    num_return_sequences=1,
                    num_beams=beams,
                    max_new_tokens=new_tokens,
                    batch_size=len(chunk),
                )
            results += [candidates[0] for candidates in found]
        return results

    @torch.no_grad()
    def caption(
        self,
        pixels: torch.Tensor,
        languages: Sequence[str],
        retriever: CaptionRetriever | None = None,
        image_ids: Sequence[str | None] | None = None,
        **generate_options: Any,
    ) -> list[CaptionResult]:
        """Caption preprocessed images, image ``i`` in ``languages[i]``, with captions retrieved
        by ``retriever`` (needed unless the model was trained without retrieval)."""
        embeddings = self.encoder.encode_images(pixels).float().cpu().numpy()
        return self.caption_encoded(
            self.image_features(pixels),
            embeddings,
            languages,
            retriever,
            image_ids,
            **generate_options,
        )

    def caption_encoded(
        self,
        features: torch.Tensor,
        embeddings: np.ndarray,
        languages: Sequence[str],
        retriever: CaptionRetriever | None = None,
        image_ids: Sequence[str | None] | None = None,
        **generate_options: Any,
    ) -> list[CaptionResult]:
        """Caption images given by the encoder's patch features (B, N, D) and pooled embeddings
        (B, dim, the retrieval queries)."""
        if len(languages) != features.shape[0] or len(embeddings) != features.shape[0]:
            raise ValueError(
                f"{len(languages)} languages and {len(embeddings)} embeddings for "
                f"{features.shape[0]} images"
            )
        ids = list(image_ids) if image_ids is not None else [None] * len(languages)
        retrieved = retrieve_for_images(
            retriever, self.uses_retrieval(), embeddings, languages, ids
        )
        templates = [self.template(language) for language in languages]
        prompts = prompts_for(templates, retrieved, self.eos)
        generated = self.generate(features, prompts, **generate_options)
        return [
            CaptionResult(text, language, prompt, found, image_id, ((text, score),))
            for (text, score), language, prompt, found, image_id in zip(
                generated, languages, prompts, retrieved, ids, strict=True
            )
        ]


__all__ = ["DATASTORE_DIR", "SmallCap", "SmallCapConfig"]
