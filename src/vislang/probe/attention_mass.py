"""How much a prefix VLM's language model attends to the image while it reads a text.

In a visual-prefix model (:class:`~vislang.models.prefix_vlm.PrefixVLM`) the image's connector
tokens sit in the same sequence as the text, so every self-attention distribution over a
position's keys splits into the mass on image tokens and the mass on text tokens (start token,
prompt, the reference text read so far); the two add up to 1. The query positions are the ones
that predict the reference text (a caption or an answer): the prompt's last position and every
reference token but the last, which is where the model decides what to say. For each example,
layer and head the masses are averaged over these positions.

Attention weights need ``transformers``' eager attention (SDPA and flash kernels do not return
them); :func:`eager_attention` switches the language model to it for the duration and back.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass

import numpy as np
import torch
from transformers import PreTrainedModel

from vislang.errors import ConfigError
from vislang.models.causal_lm import IGNORE_INDEX
from vislang.models.prefix_vlm import PrefixVLM


@dataclass(frozen=True)
class AttentionMass:
    """Attention from the positions that predict the reference text, per example.

    ``image`` and ``text`` are ``(examples, layers, heads)``: the mass on image tokens and on
    text tokens, averaged over the example's query positions (``image + text = 1``).
    ``image_share`` is ``(examples,)``: the share of image tokens among the keys a query position
    sees, averaged the same way: the image mass a head would give by attending uniformly.
    """

    image: np.ndarray
    text: np.ndarray
    image_share: np.ndarray

    @property
    def examples(self) -> int:
        """How many examples the masses cover."""
        return int(self.image.shape[0])

    @staticmethod
    def concatenate(parts: Sequence[AttentionMass]) -> AttentionMass:
        """The masses of several batches, in order."""
        if not parts:
            raise ValueError("no attention masses to concatenate")
        return AttentionMass(
            np.concatenate([part.image for part in parts]),
            np.concatenate([part.text for part in parts]),
            np.concatenate([part.image_share for part in parts]),
        )


def require_joint_attention(model: object, name: str = "the model") -> PrefixVLM:
    """``model`` itself when its language model attends over image and text tokens in one
    sequence (a prefix VLM); otherwise a :class:`~vislang.errors.ConfigError` that says why."""
    if isinstance(model, PrefixVLM):
        return model
    raise ConfigError(
        f"{name} is a {type(model).__name__}: modality influence needs a model whose language "
        "model attends over image and text tokens in one sequence (a visual-prefix VLM); dual "
        "encoders never attend across modalities and cross-attention (Flamingo) models keep the "
        "image out of the text's self-attention"
    )


@contextmanager
def eager_attention(model: PreTrainedModel) -> Iterator[None]:
    """Run ``model`` with eager attention (which returns attention weights) inside the block and
    restore its previous attention implementation afterwards."""
    previous = model.config._attn_implementation
    if previous == "eager":
        yield
        return
    model.set_attn_implementation("eager")
    if model.config._attn_implementation != "eager":
        raise ConfigError(f"{type(model).__name__} cannot switch to eager attention")
    try:
        yield
    finally:
        model.set_attn_implementation(previous)


@torch.no_grad()
def attention_mass(
    model: PrefixVLM, texts: Sequence[str], prompts: Sequence[str], pixels: torch.Tensor
) -> AttentionMass:
    """The attention masses of one batch: ``texts[i]`` read after ``prompts[i]`` (one
    ``<image>`` each) about ``pixels[i]``; see :class:`AttentionMass`."""
    model = require_joint_attention(model)
    batch = model.lm.tokenize(texts, prompts, add_eos=True)
    was_training = model.training
    model.eval()
    try:
        visual = model.visual_tokens(pixels)
        spliced = model.splice(batch["input_ids"], batch["attention_mask"], visual, batch["labels"])
        # splice() labels every visual token -100 and keeps the labels it is given elsewhere:
        # with all-zero labels, the -100s mark exactly the image's positions.
        marks = model.splice(
            batch["input_ids"],
            batch["attention_mask"],
            visual,
            torch.zeros_like(batch["input_ids"]),
        )["labels"]
        with eager_attention(model.lm.model):
            output = model.lm.model(
                inputs_embeds=spliced["inputs_embeds"],
                attention_mask=spliced["attention_mask"],
                output_attentions=True,
            )
    finally:
        model.train(was_training)
    valid = spliced["attention_mask"].bool()
    image_keys = (marks == IGNORE_INDEX) & valid
    text_keys = ~image_keys & valid
    queries = torch.zeros_like(valid)
    queries[:, :-1] = spliced["labels"][:, 1:] != IGNORE_INDEX
    counts = queries.sum(dim=1)
    if bool((counts == 0).any()):
        raise ValueError("a text has no token to predict")
    layers = torch.stack(output.attentions, dim=1).float()  # (B, layers, heads, Lq, Lk)
    on_image = (layers * image_keys[:, None, None, None, :]).sum(-1)
    on_text = (layers * text_keys[:, None, None, None, :]).sum(-1)
    weights = (queries / counts[:, None]).float()[:, None, None, :]
    # Causal attention: query position q sees keys 0..q; the uniform-attention image mass.
    seen_image = image_keys.float().cumsum(dim=1)
    seen = valid.float().cumsum(dim=1).clamp(min=1)
    share = ((seen_image / seen) * weights[:, 0, 0]).sum(dim=1)
    return AttentionMass(
        (on_image * weights).sum(-1).numpy(),
        (on_text * weights).sum(-1).numpy(),
        share.numpy(),
    )


__all__ = ["AttentionMass", "attention_mass", "eager_attention", "require_joint_attention"]
