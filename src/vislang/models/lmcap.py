"""LMCap: training-free captioning by prompting a causal LM with retrieved captions.

No parameter is trained (Ramos et al. 2023). For an image, K captions are retrieved from a caption
datastore (LMCap: search 20, drop the image's own and duplicate captions, keep 4) and put in a
prompt after N demonstrations, each a demonstration image's prompt followed by its gold caption
(N = 3); the LM continues the prompt by beam search (3 beams, 3 returned, 30 new tokens), and the
best beam is the caption — or, with ``rerank``, the beam the dual encoder scores highest against
the image.

::

    from vislang.models.lmcap import LMCap, LMCapConfig, demonstrations_from_images

    captioner = LMCap(lm, encoder, LMCapConfig(prompt_set="lmcap", shots=3))
    demos = demonstrations_from_images(captioner, retriever, train_images, ["en", "de"])
    results = captioner.caption(pixels, ["de"], retriever, demonstrations=demos)

Demonstrations are plain strings, rendered from a demonstration image's retrieved captions and
gold caption with the template set's ``demonstration`` template, so any demonstration source can
be used; :func:`demonstrations_from_images` draws them (seeded) from captioned images, retrieving
each one's captions exactly as for a query image.
"""

from __future__ import annotations

import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import torch

from vislang.errors import ConfigError
from vislang.models.caption_data import CaptionedImage, encode_images
from vislang.models.captioning import (
    CaptionResult,
    EncoderLMCaptioner,
    check_prompt_lengths,
    fit_prompt,
    marks_words,
    retrieve_for_images,
)
from vislang.models.causal_lm import CausalLM
from vislang.models.dual_encoder import DualEncoder
from vislang.retrieval.caption_retrieval import CaptionRetriever, RetrievalConfig
from vislang.retrieval.prompts import PromptTemplate, load_template


@dataclass(frozen=True)
class LMCapConfig:
    """Prompting and decoding of LMCap (defaults: the paper's)."""

    prompt_set: str = "lmcap"
    templates_file: str | None = None
    shots: int = 3
    retrieval: RetrievalConfig = field(
        default_factory=lambda: RetrievalConfig(search_k=20, keep=4, max_caption_tokens=None)
    )
    num_beams: int = 3
    num_return: int = 3
    max_new_tokens: int = 30
    min_new_tokens: int = 1
    rerank: bool = False
    seed: int = 0

    def __post_init__(self) -> None:
        if self.shots < 0:
            raise ConfigError(f"lmcap.shots: must be >= 0, got {self.shots}")
        if not 0 <= self.min_new_tokens <= self.max_new_tokens:
            raise ConfigError(
                f"lmcap.min_new_tokens: must be between 0 and max_new_tokens "
                f"({self.max_new_tokens}), got {self.min_new_tokens}"
            )
        if not 1 <= self.num_return <= self.num_beams:
            raise ConfigError(
                f"lmcap: num_return ({self.num_return}) must be between 1 and num_beams "
                f"({self.num_beams})"
            )


class LMCap(EncoderLMCaptioner):
    """A frozen causal LM and a dual encoder, captioning by retrieval-augmented prompting."""

    def __init__(self, lm: CausalLM, encoder: DualEncoder, config: LMCapConfig) -> None:
        self.lm = lm.eval()
        self.encoder = encoder.eval()
        self.config = config
        self._word_marks = marks_words(lm.tokenizer)

    def parameter_report(self) -> dict[str, int]:
        """No parameter is trained: everything is frozen."""
        lm = sum(p.numel() for p in self.lm.parameters())
        encoder = sum(p.numel() for p in self.encoder.parameters())
        return {
            "trainable": 0,
            "frozen": lm + encoder,
            "language_model": lm,
            "image_encoder": encoder,
        }

    def template(self, language: str) -> PromptTemplate:
        """The prompt template of ``language`` from the configured set."""
        return load_template(self.config.prompt_set, language, self.config.templates_file)

    def demonstration(self, captions: Sequence[str], gold: str, language: str) -> str:
        """One demonstration block: the prompt for these retrieved captions and the gold."""
        return self.template(language).demonstration_block(
            captions, gold, self.eos, self._word_marks
        )

    @torch.no_grad()
    def caption(
        self,
        pixels: torch.Tensor,
        languages: Sequence[str],
        retriever: CaptionRetriever | None = None,
        image_ids: Sequence[str | None] | None = None,
        *,
        demonstrations: Mapping[str, Sequence[str]] | None = None,
    ) -> list[CaptionResult]:
        """Caption preprocessed images, image ``i`` in ``languages[i]``, after
        ``demonstrations[language]`` (the first ``shots`` of them)."""
        embeddings = self.encoder.encode_images(pixels).float().cpu().numpy()
        return self.caption_encoded(
            None, embeddings, languages, retriever, image_ids, demonstrations=demonstrations
        )

    @torch.no_grad()
    def caption_encoded(
        self,
        features: torch.Tensor | None,
        embeddings: np.ndarray,
        languages: Sequence[str],
        retriever: CaptionRetriever | None = None,
        image_ids: Sequence[str | None] | None = None,
        *,
        demonstrations: Mapping[str, Sequence[str]] | None = None,
    ) -> list[CaptionResult]:
        """The same for images given by their pooled embeddings (B, dim); patch ``features``
        are not used by LMCap."""
        if len(languages) != len(embeddings):
            raise ValueError(f"{len(languages)} languages for {len(embeddings)} images")
        ids = list(image_ids) if image_ids is not None else [None] * len(languages)
        retrieved = retrieve_for_images(
            retriever, self.uses_retrieval(), embeddings, languages, ids
        )
        prompts = []
        for position, (language, found) in enumerate(zip(languages, retrieved, strict=True)):
            shots = self._shots(language, demonstrations)
            template = self.template(language)
            prompt, retrieved[position] = fit_prompt(
                self.lm,
                lambda captions, t=template, s=shots: t.few_shot_prompt(s, captions, self.eos),
                found,
                self.config.max_new_tokens,
            )
            prompts.append(prompt)
        check_prompt_lengths(self.lm, prompts, self.config.max_new_tokens)
        beams = self.lm.generate_beams(
            prompts,
            num_return_sequences=self.config.num_return,
            num_beams=self.config.num_beams,
            max_new_tokens=self.config.max_new_tokens,
            min_new_tokens=self.config.min_new_tokens,
        )
        chosen = self._rerank(embeddings, beams) if self.config.rerank else [0] * len(beams)
        return [
            CaptionResult(candidates[best][0], language, prompt, found, image_id, tuple(candidates))
            for candidates, best, language, prompt, found, image_id in zip(
                beams, chosen, languages, prompts, retrieved, ids, strict=True
            )
        ]

    def _shots(
        self, language: str, demonstrations: Mapping[str, Sequence[str]] | None
    ) -> list[str]:
        if self.config.shots == 0:
            return []
        available = list((demonstrations or {}).get(language, ()))
        if len(available) < self.config.shots:
            raise ConfigError(
                f"LMCap needs {self.config.shots} demonstrations in {language!r}, got "
                f"{len(available)} (see demonstrations_from_images, or set shots=0)"
            )
        return available[: self.config.shots]

    def _rerank(self, embeddings: np.ndarray, beams: list[list[tuple[str, float]]]) -> list[int]:
        """Per image, the beam whose text the dual encoder scores closest to the image."""
        texts = [text or " " for candidates in beams for text, _ in candidates]
        text_embeddings = self.encoder.encode_texts(texts).float().cpu().numpy()
        images = embeddings / np.linalg.norm(embeddings, axis=1, keepdims=True)
        chosen, start = [], 0
        for image, candidates in zip(images, beams, strict=True):
            scores = text_embeddings[start : start + len(candidates)] @ image
            chosen.append(int(np.argmax(scores)))
            start += len(candidates)
        return chosen


def demonstrations_from_images(
    captioner: LMCap,
    retriever: CaptionRetriever | None,
    images: Sequence[CaptionedImage],
    languages: Sequence[str],
    *,
    seed: int | None = None,
    batch_size: int = 64,
) -> dict[str, list[str]]:
    """``captioner.config.shots`` demonstrations per language, from images drawn (seeded) among
    those with a caption in that language: each image's retrieved captions (its own left out)
    and its first caption in the language as the gold."""
    shots = captioner.config.shots
    if shots == 0:
        return {language: [] for language in languages}
    rng = random.Random(captioner.config.seed if seed is None else seed)
    chosen: dict[str, list[CaptionedImage]] = {}
    for language in languages:
        candidates = [item for item in images if item.captions.get(language)]
        if len(candidates) < shots:
            raise ConfigError(
                f"{len(candidates)} images have captions in {language!r}; {shots} demonstrations "
                "are needed"
            )
        chosen[language] = rng.sample(candidates, shots)
    flat = [(language, item) for language, items in chosen.items() for item in items]
    encoded = encode_images(captioner.encoder, [item for _, item in flat], batch_size=batch_size)
    if len(encoded.kept) != len(flat):
        raise ConfigError(f"demonstration images could not be decoded: {encoded.failures[:3]}")
    retrieved = retrieve_for_images(
        retriever,
        captioner.uses_retrieval(),
        encoded.embeddings,
        [language for language, _ in flat],
        [item.image_id for _, item in flat],
    )
    demonstrations: dict[str, list[str]] = {language: [] for language in languages}
    for (language, item), found in zip(flat, retrieved, strict=True):
        captions = () if found is None else found.captions
        gold = item.captions[language][0]
        demonstrations[language].append(captioner.demonstration(captions, gold, language))
    return demonstrations


__all__ = ["LMCap", "LMCapConfig", "demonstrations_from_images"]
