"""One scoring interface over every model family: how well does a text fit an image?

A probe asks for a *score type* and gets a :class:`Scorer` that scores (image, text) pairs in
batches; a higher score means a better fit. The score types:

- ``similarity``: cosine of the image and text embeddings (dual encoders);
- ``match``: probability that image and text match, from an image-text matching head (no
  vislang family has one yet: every model refuses it);
- ``loglik``: log-likelihood of the text given the image, summed over the text's tokens (and its
  end-of-text token) and divided by their number unless ``length_normalised=False``
  (captioners and vision-language models);
- ``text_loglik``: the same without the image — the language-prior baseline (causal language
  models; a visual-prefix VLM's own language model reading its prompt without the image).

::

    scorer = scorer_for("runs/clip-tiny-world/model", "similarity")
    result = scorer.score_pairs(images, texts, languages)   # PairScores
    result.scores                                           # NaN where an image failed

Images are decoded once per batch even when several texts share them; an image that cannot be
decoded leaves its pairs' scores NaN and is listed in :attr:`PairScores.failures`, and every
other pair is still scored.
"""

from __future__ import annotations

import abc
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from vislang import console
from vislang.data.batch import load_batch
from vislang.data.preprocess import PreprocessConfig
from vislang.errors import ConfigError, VislangError
from vislang.models.causal_lm import CausalLM, token_log_likelihoods
from vislang.models.lm_tokenizer import IMAGE_TOKEN

SCORE_TYPES: tuple[str, ...] = ("similarity", "match", "loglik", "text_loglik")
"""Every score type a probe may ask for."""

ImagePath = Path | str

ANSWER_SEPARATOR = " "
"""What separates a vision-language model's prompt from the text after it (as in training)."""


@dataclass
class PairScores:
    """Scores of (image, text) pairs in the order given (NaN where the pair's image could not
    be decoded) and the (image, reason) of every image that failed."""

    scores: np.ndarray
    failures: list[tuple[str, str]] = field(default_factory=list)


class Scorer(abc.ABC):
    """Scores (image, text) pairs with one model and one score type; higher = better fit."""

    score_type: str
    family: str
    needs_images: bool = True

    def __init__(self, batch_size: int = 32, threads: int = 2) -> None:
        if batch_size < 1 or threads < 1:
            raise ConfigError("batch_size and threads must be positive")
        self.batch_size = batch_size
        self.threads = threads

    @property
    def preprocess(self) -> PreprocessConfig | None:
        """How the model wants its pixels (``None`` for scorers without images)."""
        return None

    def describe(self) -> dict[str, Any]:
        """What scores, for reports: family and score type."""
        return {"family": self.family, "score": self.score_type}

    def score_pairs(
        self,
        images: Sequence[ImagePath | None],
        texts: Sequence[str],
        languages: Sequence[str] | None = None,
        *,
        show_progress: bool = False,
    ) -> PairScores:
        """Score ``texts[i]`` against ``images[i]`` (in ``languages[i]``, default English), with
        a progress bar on stderr when ``show_progress``.

        Scorers without images ignore ``images`` (entries may be ``None``).
        """
        if isinstance(texts, str):
            raise TypeError("texts must be a sequence of texts, not one string")
        count = len(texts)
        if len(images) != count:
            raise ValueError(f"{len(images)} images for {count} texts")
        codes = ["en"] * count if languages is None else list(languages)
        if len(codes) != count:
            raise ValueError(f"{len(codes)} languages for {count} texts")
        scores = np.full(count, np.nan)
        failures: list[tuple[str, str]] = []
        with console.progress(transient=True, disable=not show_progress) as bar:
            task = bar.add_task(f"{self.family} {self.score_type}", total=count)
            for start in range(0, count, self.batch_size):
                failures += self._score_window(start, texts, images, codes, scores)
                bar.update(task, completed=min(start + self.batch_size, count))
        return PairScores(scores, failures)

    def _score_window(
        self,
        start: int,
        texts: Sequence[str],
        images: Sequence[ImagePath | None],
        codes: list[str],
        scores: np.ndarray,
    ) -> list[tuple[str, str]]:
        """Score one batch of pairs from ``start`` into ``scores``; returns the failed images."""
        count = len(texts)
        window = range(start, min(start + self.batch_size, count))
        batch_texts = [texts[i] for i in window]
        batch_codes = [codes[i] for i in window]
        if not self.needs_images:
            scores[start : window.stop] = self._score_texts(batch_texts, batch_codes)
            return []
        batch_images = [images[i] for i in window]
        if any(image is None for image in batch_images):
            raise ConfigError(f"{self.family} {self.score_type} scores need an image per text")
        pixels, image_index, kept, failed = self._decode([str(i) for i in batch_images])
        if kept:
            scores[[start + k for k in kept]] = self._score_images(
                pixels,
                image_index,
                [batch_texts[k] for k in kept],
                [batch_codes[k] for k in kept],
            )
        return failed

    def _decode(
        self, sources: list[str]
    ) -> tuple[torch.Tensor, list[int], list[int], list[tuple[str, str]]]:
        """Pixels of the distinct decodable images, the image row of each kept pair, the kept
        pairs' positions, and the failures."""
        distinct = list(dict.fromkeys(sources))
        assert self.preprocess is not None
        batch = load_batch(distinct, self.preprocess, threads=self.threads)
        row_of = {distinct[index]: row for row, index in enumerate(batch.indices)}
        kept = [k for k, source in enumerate(sources) if source in row_of]
        return batch.pixels, [row_of[sources[k]] for k in kept], kept, batch.failures

    def _score_images(
        self,
        pixels: torch.Tensor,
        image_index: list[int],
        texts: list[str],
        languages: list[str],
    ) -> np.ndarray:
        """Scores of texts against ``pixels[image_index[i]]``."""
        raise NotImplementedError

    def _score_texts(self, texts: list[str], languages: list[str]) -> np.ndarray:
        """Scores of texts without images."""
        raise NotImplementedError


class SimilarityScorer(Scorer):
    """Cosine similarity of a dual encoder's image and text embeddings."""

    score_type = "similarity"

    def __init__(self, encoder: Any, batch_size: int = 32, threads: int = 2) -> None:
        super().__init__(batch_size, threads)
        self.encoder = encoder.eval()
        self.family = encoder.family

    @property
    def preprocess(self) -> PreprocessConfig:
        """The encoder's preprocessing."""
        return self.encoder.preprocess

    @torch.no_grad()
    def _score_images(
        self, pixels: torch.Tensor, image_index: list[int], texts: list[str], languages: list[str]
    ) -> np.ndarray:
        image_embeddings = self.encoder.encode_images(pixels)[image_index]
        text_embeddings = self.encoder.encode_texts(texts)
        return (image_embeddings * text_embeddings).sum(dim=-1).float().cpu().numpy()


class _LikelihoodScorer(Scorer):
    """Shared by the log-likelihood scorers: summed or per-token log-likelihood."""

    def __init__(self, length_normalised: bool, batch_size: int, threads: int) -> None:
        super().__init__(batch_size, threads)
        self.length_normalised = length_normalised

    def describe(self) -> dict[str, Any]:
        """Family, score type and whether scores are per token."""
        return {**super().describe(), "length_normalised": self.length_normalised}

    def _finish(self, totals: torch.Tensor, counts: torch.Tensor) -> np.ndarray:
        if bool((counts == 0).any()):
            raise ValueError("a text has no token to score")
        values = totals / counts if self.length_normalised else totals
        return values.double().cpu().numpy()


class VLMLikelihoodScorer(_LikelihoodScorer):
    """Log-likelihood of a text after a vision-language model's caption prompt with the image
    (``<image>en:``), the text following the prompt after a space as in training."""

    score_type = "loglik"

    def __init__(
        self,
        vlm: Any,
        length_normalised: bool = True,
        batch_size: int = 32,
        threads: int = 2,
    ) -> None:
        super().__init__(length_normalised, batch_size, threads)
        self.vlm = vlm.eval()
        self.family = vlm.family

    @property
    def preprocess(self) -> PreprocessConfig:
        """The vision tower's preprocessing."""
        return self.vlm.preprocess

    @torch.no_grad()
    def _score_images(
        self, pixels: torch.Tensor, image_index: list[int], texts: list[str], languages: list[str]
    ) -> np.ndarray:
        features = self.vlm.vision(pixels.to(self.vlm.lm.device))[image_index]
        prompts = [self.vlm.caption_prompt(code) for code in languages]
        batch = self.vlm.lm.tokenize([ANSWER_SEPARATOR + t for t in texts], prompts, add_eos=True)
        output = self.vlm(**batch, features=features)
        return self._finish(*token_log_likelihoods(output.logits, output.labels))


class SmallCapLikelihoodScorer(_LikelihoodScorer):
    """Log-likelihood of a text as a SmallCap/PAELLA caption of the image, after the prompt the
    captioner would write for it (with captions retrieved for the image when it uses
    retrieval)."""

    score_type = "loglik"

    def __init__(
        self,
        captioner: Any,
        retriever: Any = None,
        length_normalised: bool = True,
        batch_size: int = 32,
        threads: int = 2,
    ) -> None:
        super().__init__(length_normalised, batch_size, threads)
        if captioner.uses_retrieval() and retriever is None:
            raise ConfigError(
                f"{captioner.config.name}: this captioner prompts with retrieved captions; give "
                "its caption datastore (a model folder with datastore/ brings its own)"
            )
        self.captioner = captioner.eval()
        self.retriever = retriever
        self.family = captioner.family

    @property
    def preprocess(self) -> PreprocessConfig:
        """The image encoder's preprocessing."""
        return self.captioner.preprocess

    @torch.no_grad()
    def _score_images(
        self, pixels: torch.Tensor, image_index: list[int], texts: list[str], languages: list[str]
    ) -> np.ndarray:
        from vislang.models.captioning import prompts_for, retrieve_for_images

        captioner = self.captioner
        features = captioner.image_features(pixels)[image_index]
        embeddings = captioner.encoder.encode_images(pixels)[image_index].float().cpu().numpy()
        retrieved = retrieve_for_images(
            self.retriever, captioner.uses_retrieval(), embeddings, languages, None
        )
        templates = [captioner.template(code) for code in languages]
        prompts = prompts_for(templates, retrieved, captioner.eos)
        batch = captioner.training_tokens(prompts, texts, languages)
        logits = captioner(features, batch["input_ids"], batch["attention_mask"])
        return self._finish(*token_log_likelihoods(logits, batch["labels"]))


class TextLikelihoodScorer(_LikelihoodScorer):
    """Log-likelihood of a text under a causal language model, without any image: the
    language-prior baseline. ``prefix_for(language)``, when given, is a prompt read before the
    text, which then follows it after a space."""

    score_type = "text_loglik"
    needs_images = False

    def __init__(
        self,
        lm: CausalLM,
        family: str,
        prefix_for: Any = None,
        length_normalised: bool = True,
        batch_size: int = 32,
    ) -> None:
        super().__init__(length_normalised, batch_size, threads=1)
        self.lm = lm.eval()
        self.family = family
        self.prefix_for = prefix_for

    @torch.no_grad()
    def _score_texts(self, texts: list[str], languages: list[str]) -> np.ndarray:
        prefixes = None
        if self.prefix_for is not None:
            prefixes = [self.prefix_for(code) for code in languages]
            texts = [ANSWER_SEPARATOR + text for text in texts]
        batch = self.lm.tokenize(texts, prefixes, add_eos=True)
        logits = self.lm(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"])
        return self._finish(*token_log_likelihoods(logits.logits, batch["labels"]))


def offered_scores(model: Any) -> tuple[str, ...]:
    """The score types ``model`` (a loaded vislang model) can give."""
    from vislang.models.dual_encoder import DualEncoder
    from vislang.models.prefix_vlm import PrefixVLM
    from vislang.models.smallcap import SmallCap
    from vislang.models.vision_language import VisionLanguageModel

    if isinstance(model, DualEncoder):
        return ("similarity",)
    if isinstance(model, PrefixVLM):
        return ("loglik", "text_loglik")
    if isinstance(model, (VisionLanguageModel, SmallCap)):
        return ("loglik",)
    if isinstance(model, CausalLM):
        return ("text_loglik",)
    return ()


def default_score(model: Any) -> str:
    """The score a probe uses for ``model`` unless told otherwise: the first it offers
    (similarity for dual encoders, log-likelihood given the image for captioners and VLMs,
    text-only log-likelihood for language models)."""
    offered = offered_scores(model)
    if not offered:
        family = getattr(model, "family", type(model).__name__)
        raise VislangError(f"a {family} model offers no probe score ({', '.join(SCORE_TYPES)})")
    return offered[0]


def scorer_for(
    model: Any,
    score_type: str | None = None,
    *,
    retriever: Any = None,
    length_normalised: bool = True,
    batch_size: int = 32,
    threads: int = 2,
) -> Scorer:
    """A :class:`Scorer` of ``score_type`` for ``model``: a loaded vislang model, or anything
    :func:`vislang.models.registry.load_model` takes (a model folder, a preset name).

    ``score_type`` ``None`` is the model's :func:`default_score`. A SmallCap folder with a
    ``datastore/`` brings its retriever; ``retriever`` overrides it.
    Raises :class:`VislangError` naming the model's family and the score types it offers when it
    cannot give ``score_type``.
    """
    if score_type is not None and score_type not in SCORE_TYPES:
        raise ConfigError(f"unknown score type {score_type!r} (types: {', '.join(SCORE_TYPES)})")
    reference = model
    if isinstance(model, (str, Path)):
        from vislang.models.registry import load_model

        model = load_model(model)
    score_type = score_type or default_score(model)
    offered = offered_scores(model)
    family = getattr(model, "family", type(model).__name__)
    if score_type not in offered:
        why = _why_not(score_type)
        gives = ", ".join(offered) if offered else "none"
        raise VislangError(
            f"a {family} model cannot give {score_type!r} scores{why}; it offers: {gives}"
        )
    if score_type == "similarity":
        return SimilarityScorer(model, batch_size, threads)
    if score_type == "text_loglik":
        if isinstance(model, CausalLM):
            return TextLikelihoodScorer(model, family, None, length_normalised, batch_size)
        return TextLikelihoodScorer(
            model.lm,
            family,
            lambda code: model.caption_prompt(code).replace(IMAGE_TOKEN, ""),
            length_normalised,
            batch_size,
        )
    from vislang.models.smallcap import SmallCap

    if isinstance(model, SmallCap):
        if retriever is None and model.uses_retrieval() and isinstance(reference, (str, Path)):
            retriever = _own_retriever(model, Path(reference))
        return SmallCapLikelihoodScorer(model, retriever, length_normalised, batch_size, threads)
    return VLMLikelihoodScorer(model, length_normalised, batch_size, threads)


def _why_not(score_type: str) -> str:
    if score_type == "match":
        return " (no vislang model has an image-text matching head)"
    return ""


def _own_retriever(captioner: Any, folder: Path) -> Any:
    """The retriever over a saved captioner's own datastore (``<folder>/datastore``)."""
    from vislang.models.captioning import token_counter
    from vislang.models.smallcap import DATASTORE_DIR
    from vislang.retrieval.caption_retrieval import CaptionRetriever
    from vislang.retrieval.datastore import Datastore

    store = folder / DATASTORE_DIR
    if not store.is_dir():
        return None
    return CaptionRetriever(
        Datastore.load(store),
        captioner.encoder,
        captioner.config.retrieval,
        token_counter(captioner.lm.tokenizer),
    )


__all__ = [
    "SCORE_TYPES",
    "PairScores",
    "Scorer",
    "default_score",
    "offered_scores",
    "scorer_for",
]
