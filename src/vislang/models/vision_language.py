"""What the vision-language model families share: parts, prompts, scoring and generation.

A vision-language model here is a vision tower (:mod:`vislang.models.vision_tower`), a connector
(:mod:`vislang.models.connectors`) and a causal language model
(:class:`~vislang.models.causal_lm.CausalLM`); the families differ in how the connector's tokens
reach the language model: through its input embeddings (:mod:`vislang.models.prefix_vlm`) or
through cross-attention layers (:mod:`vislang.models.flamingo`). :class:`VisionLanguageModel`
holds the three parts and everything that does not depend on that choice:

- prompts: the ``<image>`` placeholder marks an image's place, and ``question_template`` /
  ``caption_template`` (in the config) turn a question or a language into a prompt; an answer
  follows its prompt after a space;
- :meth:`~VisionLanguageModel.log_likelihood` of texts after prompts with images;
- :meth:`~VisionLanguageModel.generate` (greedy or beam search with a KV cache, left-padded
  batches), :meth:`~VisionLanguageModel.answer` and :meth:`~VisionLanguageModel.caption` on
  image files;
- images given as pixels (``(I, 3, S, S)``, normalised with :attr:`preprocess`) or as the vision
  tower's features of them (``(I, N, D)``, computed once when the tower is frozen), always in
  placeholder order over the whole batch (row by row, left to right).

A family implements :meth:`forward` (logits and aligned labels) and :meth:`_generate_tokens`.
"""

from __future__ import annotations

import abc
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal, NamedTuple, TypeVar

import torch
from torch import nn

from vislang.data.batch import load_batch
from vislang.data.images import ImageSource
from vislang.data.preprocess import PreprocessConfig
from vislang.errors import ConfigError, ImageDecodeError
from vislang.models.causal_lm import CausalLM, TextLikelihood, token_log_likelihoods
from vislang.models.connectors import Connector, build_connector
from vislang.models.lm_tokenizer import IMAGE_TOKEN
from vislang.models.vision_tower import VisionTower

QUESTION_TEMPLATE = IMAGE_TOKEN + "{question}"
"""Default question prompt: the image, then the question as the stage-0 LM read questions."""

CAPTION_TEMPLATE = IMAGE_TOKEN + "{language}:"
"""Default caption prompt: the image, then the language code and a colon (``<image>de:``)."""

_VLM = TypeVar("_VLM", bound="VisionLanguageModel")

ANSWER_MAX_NEW_TOKENS = 16
"""Default longest answer, in tokens, wherever a model answers questions (``answer``, ``vislang
ask``, VQA evaluation and its no-image baseline)."""


class VLMOutput(NamedTuple):
    """Logits over the sequence the language model read and the labels aligned with them
    (``-100`` wherever there is no target: images, prompts, padding)."""

    logits: torch.Tensor
    labels: torch.Tensor | None


class VisionLanguageModel(nn.Module, abc.ABC):
    """Vision tower + connector + causal LM; see the module docstring.

    A family's ``config`` is a dataclass with ``name``, ``vision``, ``connector``, ``lm``,
    ``image_token_id``, ``image_positions``, ``question_template``, ``caption_template`` and
    ``seed``; the family implements :meth:`forward` and :meth:`_generate_tokens`.
    """

    config: Any

    def __init__(
        self, config: Any, vision: VisionTower, connector: Connector, lm: CausalLM
    ) -> None:
        super().__init__()
        if connector.vision_dim != vision.hidden_size:
            raise ConfigError(
                f"the connector takes {connector.vision_dim}-wide visual tokens, the vision tower "
                f"gives {vision.hidden_size}"
            )
        connector.output_tokens(vision.output_tokens)
        self.vision = vision
        self.connector = connector
        self.lm = lm
        check_image_token(config.name, lm, config.image_token_id)
        if config.image_positions < 0:
            raise ConfigError(f"{config.name}: image_positions must be >= 0")
        self.config = config

    # --- construction ------------------------------------------------------------------------

    @classmethod
    def from_config(cls: type[_VLM], config: Any, files: str | Path | None = None) -> _VLM:
        """A model with weights freshly initialised from the seeds (the vision tower and the
        connector from ``config.seed``, the LM from ``config.lm.seed``); ``files`` is a saved
        model's folder, whose ``tokenizer/`` the LM reads."""
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(config.seed)
            vision = VisionTower.from_config(config.vision)
            connector = build_connector(config.connector)
        return cls(config, vision, connector, CausalLM.from_config(config.lm, files))

    @classmethod
    def _with_fresh_connector(
        cls: type[_VLM], config: Any, vision: VisionTower, lm: CausalLM
    ) -> _VLM:
        """The model of ``config`` around ``vision`` and ``lm`` with a new connector initialised
        from ``config.seed``."""
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(config.seed)
            connector = build_connector(config.connector)
        return cls(config, vision, connector, lm)

    def _image_position_embedding(self, width: int) -> nn.Embedding | None:
        """``config.image_positions`` learned ``width``-wide image-position embeddings, all zero
        (None when the config has none)."""
        if self.config.image_positions == 0:
            return None
        embedding = nn.Embedding(self.config.image_positions, width)
        nn.init.zeros_(embedding.weight)
        return embedding

    # --- the parts ------------------------------------------------------------------------------

    @property
    def tokenizer(self) -> Any:
        """The language model's tokenizer."""
        return self.lm.tokenizer

    @property
    def preprocess(self) -> PreprocessConfig:
        """How images are prepared for the vision tower."""
        return self.vision.config.preprocess

    @property
    def tokens_per_image(self) -> int:
        """``M``: the connector's tokens per image."""
        return self.connector.output_tokens(self.vision.output_tokens)

    def save_files(self, directory: str | Path) -> None:
        """Write the language model's tokenizer into ``directory/tokenizer/``."""
        self.lm.save_files(directory)

    def train(self, mode: bool = True) -> VisionLanguageModel:
        """Set training mode; parts without trainable parameters stay in eval mode."""
        super().train(mode)
        for part in (self.vision, self.connector, self.lm):
            if not any(p.requires_grad for p in part.parameters()):
                part.eval()
        return self

    def visual_tokens(
        self, pixels: torch.Tensor | None = None, features: torch.Tensor | None = None
    ) -> torch.Tensor:
        """``(I, M, D)`` connector tokens of ``I`` images, from pixels or from the vision tower's
        features of them."""
        if (pixels is None) == (features is None):
            raise ValueError("give either pixels or features")
        if features is None:
            features = self.vision(pixels)
        return self.connector(features)

    # --- what a family implements -------------------------------------------------------------

    @abc.abstractmethod
    def forward(
        self,
        input_ids: torch.Tensor,
        attention_mask: torch.Tensor,
        labels: torch.Tensor | None = None,
        pixels: torch.Tensor | None = None,
        features: torch.Tensor | None = None,
        padding_side: Literal["right", "left"] = "right",
    ) -> VLMOutput:
        """Logits (and aligned labels) of token sequences with ``<image>`` placeholders; images
        as ``pixels`` or vision-tower ``features``, in placeholder order."""

    @abc.abstractmethod
    def _generate_tokens(
        self,
        input_ids: torch.Tensor,
        attention_mask: torch.Tensor,
        visual: torch.Tensor,
        settings: dict[str, Any],
    ) -> torch.Tensor:
        """New token ids ``(B, T_new)`` after left-padded prompts whose images' connector tokens
        are ``visual``; ``settings`` are ``transformers``' ``generate`` arguments."""

    # --- prompts, scores and generation -----------------------------------------------------

    def question_prompt(self, question: str) -> str:
        """The prompt that asks ``question`` about one image."""
        return self.config.question_template.format(question=question)

    def caption_prompt(self, language: str) -> str:
        """The prompt that asks for a caption of one image in ``language``."""
        return self.config.caption_template.format(language=language)

    def placeholders(self, prompt: str) -> int:
        """How many images ``prompt`` holds."""
        ids = self.tokenizer(prompt, add_special_tokens=False)["input_ids"]
        return sum(1 for token in ids if token == self.config.image_token_id)

    @torch.no_grad()
    def log_likelihood(
        self,
        texts: Sequence[str],
        prompts: Sequence[str],
        *,
        pixels: torch.Tensor | None = None,
        features: torch.Tensor | None = None,
        include_eos: bool = True,
    ) -> list[TextLikelihood]:
        """Per text: log p(text | its prompt and images) in nats summed over the text's tokens
        (and ``</s>`` with ``include_eos``), the token count and the mean."""
        batch = self.lm.tokenize(texts, prompts, add_eos=include_eos)
        was_training = self.training
        self.eval()
        try:
            output = self(**batch, pixels=pixels, features=features)
        finally:
            self.train(was_training)
        totals, counts = token_log_likelihoods(output.logits, output.labels)
        return [
            TextLikelihood(float(t), int(c), float(t / c) if c else float("nan"))
            for t, c in zip(totals, counts, strict=True)
        ]

    @torch.no_grad()
    def generate(
        self,
        prompts: Sequence[str],
        *,
        pixels: torch.Tensor | None = None,
        features: torch.Tensor | None = None,
        max_new_tokens: int = 16,
        num_beams: int = 1,
        batch_size: int = 32,
        **generate_kwargs: Any,
    ) -> list[str]:
        """The continuation of each prompt (greedy, or beam search with ``num_beams > 1``),
        decoded without special tokens and stripped. Prompts run in left-padded batches of
        ``batch_size`` through ``transformers``' ``generate`` (KV cache); extra keyword
        arguments go to it."""
        if isinstance(prompts, str):
            raise TypeError("prompts must be a sequence of texts, not one string")
        images = pixels if pixels is not None else features
        counts = [self.placeholders(prompt) for prompt in prompts]
        given = 0 if images is None else images.shape[0]
        if sum(counts) != given:
            raise ValueError(f"{sum(counts)} {IMAGE_TOKEN} placeholders for {given} images")
        settings = {
            "do_sample": False,
            **generate_kwargs,
            "max_new_tokens": max_new_tokens,
            "num_beams": num_beams,
            "eos_token_id": self.tokenizer.eos_token_id,
            "pad_token_id": self.lm.pad_token_id,
        }
        texts: list[str] = []
        was_training = self.training
        self.eval()
        try:
            first = 0
            for start in range(0, len(prompts), batch_size):
                chunk = list(prompts[start : start + batch_size])
                window = slice(first, first + sum(counts[start : start + batch_size]))
                first = window.stop
                batch = self.lm.tokenize([""] * len(chunk), chunk, padding_side="left")
                visual = self._visual_or_empty(
                    None if pixels is None else pixels[window],
                    None if features is None else features[window],
                )
                new_tokens = self._generate_tokens(
                    batch["input_ids"], batch["attention_mask"], visual, settings
                )
                decoded = self.tokenizer.batch_decode(new_tokens, skip_special_tokens=True)
                texts += [text.strip() for text in decoded]
        finally:
            self.train(was_training)
        return texts

    def answer(
        self,
        images: Sequence[ImageSource],
        questions: Sequence[str],
        *,
        max_new_tokens: int = ANSWER_MAX_NEW_TOKENS,
        num_beams: int = 1,
    ) -> list[str]:
        """Answer ``questions[i]`` about ``images[i]`` (files, bytes or PIL images)."""
        if len(images) != len(questions):
            raise ValueError(f"{len(images)} images for {len(questions)} questions")
        return self.generate(
            [self.question_prompt(question) for question in questions],
            pixels=self.load_pixels(images),
            max_new_tokens=max_new_tokens,
            num_beams=num_beams,
        )

    def caption(
        self,
        images: Sequence[ImageSource],
        languages: Sequence[str],
        *,
        max_new_tokens: int = 32,
        num_beams: int = 3,
    ) -> list[str]:
        """A caption of ``images[i]`` in ``languages[i]``."""
        if len(images) != len(languages):
            raise ValueError(f"{len(images)} images for {len(languages)} languages")
        return self.generate(
            [self.caption_prompt(language) for language in languages],
            pixels=self.load_pixels(images),
            max_new_tokens=max_new_tokens,
            num_beams=num_beams,
        )

    def load_pixels(self, images: Sequence[ImageSource]) -> torch.Tensor:
        """Decode and preprocess images for the vision tower; the first image that cannot be
        decoded raises :class:`~vislang.errors.ImageDecodeError`."""
        batch = load_batch(images, self.preprocess, threads=2)
        if batch.failures:
            source, reason = batch.failures[0]
            raise ImageDecodeError(source, reason)
        return batch.pixels.to(self.lm.device)

    def _visual_or_empty(
        self, pixels: torch.Tensor | None, features: torch.Tensor | None
    ) -> torch.Tensor:
        if (pixels is not None and len(pixels)) or (features is not None and len(features)):
            return self.visual_tokens(pixels, features)
        width = self.connector.text_dim
        return torch.zeros(0, self.tokens_per_image, width, device=self.lm.device)


def check_image_token(name: str, lm: CausalLM, image_token_id: int) -> None:
    """Refuse a tokenizer that does not encode ``<image>`` as the single id ``image_token_id``."""
    encoded = lm.tokenizer(IMAGE_TOKEN, add_special_tokens=False)["input_ids"]
    if encoded != [image_token_id]:
        raise ConfigError(
            f"{name}: the tokenizer encodes {IMAGE_TOKEN} as {encoded}, not as the config's "
            f"image_token_id [{image_token_id}]"
        )


def require_image_token(lm: CausalLM) -> int:
    """The id of ``<image>`` in the language model's tokenizer; a ConfigError when it has none."""
    image_token_id = lm.image_token_id
    if image_token_id is None:
        raise ConfigError(f"{lm.config.name}: the tokenizer has no {IMAGE_TOKEN} token")
    return image_token_id


def image_slots(input_ids: torch.Tensor, image_token_id: int, limit: int) -> torch.Tensor:
    """For every position, how many images come before it in its row (the placeholder's own
    0-based image index at a placeholder); a ValueError when a row holds more than ``limit``
    images (``limit = 0``: no limit)."""
    is_image = input_ids == image_token_id
    slots = is_image.long().cumsum(1) - is_image.long()
    if limit and bool(is_image.any()):
        most = int(is_image.sum(1).max())
        if most > limit:
            raise ValueError(
                f"a sequence holds {most} images; this model has image-position embeddings "
                f"for at most {limit}"
            )
    return slots


__all__ = [
    "CAPTION_TEMPLATE",
    "QUESTION_TEMPLATE",
    "VLMOutput",
    "VisionLanguageModel",
    "check_image_token",
    "image_slots",
    "require_image_token",
]
