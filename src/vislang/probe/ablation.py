"""The vision-for-language ablation: how much a text's likelihood owes to the image.

For each reference text (a caption or an answer) after its prompt, three log-likelihoods:

- ``intact``: the vision-language model with the image as it is;
- ``masked``: the same model with the image's objects painted over
  (:mod:`vislang.probe.object_masking`), so only the background reaches the vision tower;
- ``no_image``: the model's own language model alone, reading the prompt without its
  ``<image>`` placeholder: the language prior.

``intact − masked`` is what the objects contribute; ``intact − no_image`` what the image as a
whole contributes (it can be negative when a model has learnt to rely on visual tokens that a
missing image does not supply).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch

from vislang.models.causal_lm import TextLikelihood
from vislang.models.lm_tokenizer import IMAGE_TOKEN
from vislang.models.vision_language import VisionLanguageModel

CONDITIONS = ("intact", "masked", "no_image")
"""The three conditions of the ablation, in report order."""


@dataclass(frozen=True)
class AblationScores:
    """One text's log-likelihood (nats) under the three conditions."""

    intact: TextLikelihood
    masked: TextLikelihood
    no_image: TextLikelihood

    def condition(self, name: str) -> TextLikelihood:
        """The likelihood of one of :data:`CONDITIONS`."""
        if name not in CONDITIONS:
            raise KeyError(f"unknown condition {name!r} (known: {', '.join(CONDITIONS)})")
        return getattr(self, name)


def text_only_prompt(prompt: str) -> str:
    """``prompt`` without its ``<image>`` placeholders: what the language model alone reads."""
    return prompt.replace(IMAGE_TOKEN, "")


def ablation_log_likelihoods(
    model: VisionLanguageModel,
    texts: Sequence[str],
    prompts: Sequence[str],
    pixels: torch.Tensor,
    masked_pixels: torch.Tensor,
) -> list[AblationScores]:
    """The three log-likelihoods of ``texts[i]`` after ``prompts[i]`` (one ``<image>`` each):
    with ``pixels[i]``, with ``masked_pixels[i]`` and with no image (the language model alone).
    Every score includes the end-of-text token."""
    if not len(texts) == len(prompts) == len(pixels) == len(masked_pixels):
        raise ValueError(
            f"{len(texts)} texts, {len(prompts)} prompts, {len(pixels)} images and "
            f"{len(masked_pixels)} masked images"
        )
    intact = model.log_likelihood(texts, prompts, pixels=pixels)
    masked = model.log_likelihood(texts, prompts, pixels=masked_pixels)
    alone = model.lm.log_likelihood(
        texts, [text_only_prompt(p) for p in prompts], batch_size=max(1, len(texts))
    )
    return [AblationScores(*scores) for scores in zip(intact, masked, alone, strict=True)]


__all__ = ["CONDITIONS", "AblationScores", "ablation_log_likelihoods", "text_only_prompt"]
