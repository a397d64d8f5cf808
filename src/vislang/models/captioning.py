"""What every retrieval-augmented captioner shares: its result record, how its prompts meet a
tokenizer, and the one step that turns images into retrieved captions and prompts.

Both captioners (:mod:`vislang.models.smallcap`, trained cross-attention;
:mod:`vislang.models.lmcap`, training-free prompting) implement :class:`Captioner`:
``caption(pixels, languages, retriever=None, image_ids=None)`` for preprocessed pixels and
``caption_encoded(features, embeddings, ...)`` for images their frozen encoder has already seen
(:func:`vislang.models.caption_data.encode_images`). Each returns one :class:`CaptionResult` per
image: the caption, the exact prompt it continued and the retrieved captions (with their scores)
that went into that prompt.
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np
import torch
from transformers.tokenization_utils_base import PreTrainedTokenizerBase

from vislang.data.preprocess import PreprocessConfig
from vislang.errors import ConfigError
from vislang.models.causal_lm import CausalLM
from vislang.models.dual_encoder import DualEncoder
from vislang.retrieval.caption_retrieval import CaptionRetriever, RetrievedCaptions
from vislang.retrieval.prompts import PromptTemplate

SENTENCEPIECE_WORD_MARK = "▁"


@dataclass(frozen=True)
class CaptionResult:
    """One generated caption with what produced it."""

    caption: str
    language: str
    prompt: str
    retrieved: RetrievedCaptions | None
    image_id: str | None = None
    beams: tuple[tuple[str, float], ...] = field(default=())

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready."""
        return {
            "image_id": self.image_id,
            "language": self.language,
            "caption": self.caption,
            "prompt": self.prompt,
            "retrieved": None if self.retrieved is None else self.retrieved.to_dict(),
            "beams": [{"text": text, "score": score} for text, score in self.beams],
        }


class Captioner(Protocol):
    """A model that captions images in given languages."""

    encoder: DualEncoder

    def uses_retrieval(self) -> bool:
        """Whether its prompts hold retrieved captions (it then needs a datastore)."""

    def caption(
        self,
        pixels: torch.Tensor,
        languages: Sequence[str],
        retriever: CaptionRetriever | None = None,
        image_ids: Sequence[str | None] | None = None,
    ) -> list[CaptionResult]:
        """One caption per preprocessed image, image ``i`` in ``languages[i]``."""

    def caption_encoded(
        self,
        features: torch.Tensor,
        embeddings: np.ndarray,
        languages: Sequence[str],
        retriever: CaptionRetriever | None = None,
        image_ids: Sequence[str | None] | None = None,
    ) -> list[CaptionResult]:
        """The same for images given by the encoder's patch features (B, N, D) and pooled
        embeddings (B, dim)."""


class EncoderLMCaptioner:
    """What a captioner of a dual encoder (``encoder``) and a causal LM (``lm``) that retrieves
    ``config.retrieval.keep`` captions per image tells about itself; its class sets the three
    attributes."""

    encoder: DualEncoder
    lm: CausalLM
    config: Any

    @property
    def preprocess(self) -> PreprocessConfig:
        """How the image encoder wants its pixels."""
        return self.encoder.preprocess

    @property
    def eos(self) -> str:
        """The LM's end-of-text token (the ``{eos}`` of templates)."""
        return str(self.lm.tokenizer.eos_token)

    def uses_retrieval(self) -> bool:
        """Whether the prompts hold retrieved captions (K > 0)."""
        return self.config.retrieval.keep > 0


def marks_words(tokenizer: PreTrainedTokenizerBase) -> bool:
    """Whether the tokenizer marks word starts itself (SentencePiece's ``▁``), so that a caption
    following a prompt needs no separating space of its own."""
    ids = tokenizer("a", add_special_tokens=False)["input_ids"]
    tokens = tokenizer.convert_ids_to_tokens(ids)
    return bool(tokens) and tokens[0].startswith(SENTENCEPIECE_WORD_MARK)


def token_counter(tokenizer: PreTrainedTokenizerBase) -> Callable[[str], int]:
    """Number of tokens of a text (no special tokens), cached: retrieved captions repeat."""

    @functools.lru_cache(maxsize=200_000)
    def count(text: str) -> int:
        return len(tokenizer(text, add_special_tokens=False)["input_ids"])

    return count


def retrieve_for_images(
    retriever: CaptionRetriever | None,
    required: bool,
    embeddings: np.ndarray,
    languages: Sequence[str],
    image_ids: Sequence[str | None] | None,
) -> list[RetrievedCaptions | None]:
    """The captions ``retriever`` keeps for each image (queried by its pooled embedding; its
    config says how many), or ``None`` each without a retriever; refuses to go without one when
    the model is ``required`` to prompt with retrieved captions."""
    if retriever is None:
        if required:
            raise ConfigError(
                "this captioner prompts with retrieved captions: give it a caption datastore"
            )
        return [None] * len(languages)
    return retriever.retrieve(embeddings, list(languages), image_ids)


def check_prompt_lengths(lm: CausalLM, prompts: Sequence[str], max_new_tokens: int) -> None:
    """Refuse prompts that, with the start token and ``max_new_tokens``, would run past the
    LM's positions (the longest is named)."""
    limit = getattr(lm.model.config, "max_position_embeddings", None)
    if limit is None or not prompts:
        return
    lengths = [
        len(ids) for ids in lm.tokenizer(list(prompts), add_special_tokens=False)["input_ids"]
    ]
    longest = max(range(len(lengths)), key=lengths.__getitem__)
    needed = len(lm.start_ids) + lengths[longest] + max_new_tokens
    if needed > limit:
        raise ConfigError(
            f"a prompt of {lengths[longest]} tokens plus {max_new_tokens} new tokens exceeds the "
            f"language model's {limit} positions (use fewer retrieved captions or "
            f"demonstrations): {prompts[longest][:200]!r}"
        )


def fit_prompt(
    lm: CausalLM,
    build: Callable[[Sequence[str]], str],
    found: RetrievedCaptions | None,
    max_new_tokens: int,
) -> tuple[str, RetrievedCaptions | None]:
    """The prompt ``build`` makes from ``found``'s captions and the retrieved captions it used:
    all of them, or, when the prompt with the start token and ``max_new_tokens`` would run past
    the LM's positions, the best ones that fit (the lowest-scored dropped first, counted in
    ``dropped["prompt_length"]``, with their scores, ids and rows). A prompt too long even
    without retrieved captions is returned whole, for :func:`check_prompt_lengths` to refuse."""
    captions = () if found is None else found.captions
    limit = getattr(lm.model.config, "max_position_embeddings", None)
    room = None if limit is None else limit - len(lm.start_ids) - max_new_tokens
    keep = len(captions)
    prompt = build(captions)
    while room is not None and keep > 0 and _token_count(lm, prompt) > room:
        keep -= 1
        prompt = build(captions[:keep])
    if found is None or keep == len(captions):
        return prompt, found
    trimmed = dataclasses.replace(
        found,
        captions=found.captions[:keep],
        scores=found.scores[:keep],
        image_ids=found.image_ids[:keep],
        rows=found.rows[:keep],
        dropped={**found.dropped, "prompt_length": len(captions) - keep},
    )
    return prompt, trimmed


def _token_count(lm: CausalLM, text: str) -> int:
    return len(lm.tokenizer(text, add_special_tokens=False)["input_ids"])


def prompts_for(
    templates: Sequence[PromptTemplate],
    retrieved: Sequence[RetrievedCaptions | None],
    eos: str,
) -> list[str]:
    """Each image's prompt from its template and retrieved captions."""
    return [
        template.prompt(() if found is None else found.captions, eos)
        for template, found in zip(templates, retrieved, strict=True)
    ]


__all__ = [
    "CaptionResult",
    "Captioner",
    "EncoderLMCaptioner",
    "check_prompt_lengths",
    "fit_prompt",
    "marks_words",
    "prompts_for",
    "retrieve_for_images",
    "token_counter",
]
