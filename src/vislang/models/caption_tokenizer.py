"""A BPE vocabulary learned from a dual encoder's training captions, for its text tower.

The presets tokenise UTF-8 bytes: no vocabulary file, every script, but long sequences (a world
caption is about 30 bytes in English and 95 in Tamil, up to 85 and 300). The text tower's cost
grows with the sequence, so a model trained from scratch on one corpus can learn its vocabulary
first: a byte-level BPE with the world's pre-tokenisation (that of
:mod:`vislang.models.lm_tokenizer`: every byte a base symbol, so nothing is ever unknown; Han
characters kept apart; Tamil vowel signs inside their words). About a thousand entries spell an
English world caption in about 10 tokens.

Sequences are ``<s> caption </s>``, as CLIP's tokenizer makes them: CLIP's text tower pools the
first ``</s>``; SigLIP's pools the last position and is always padded to its fixed length. Ids:
``<pad>`` 0, ``</s>`` 1, ``<s>`` 2 — end of text must not be id 2, because ``transformers``' CLIP
text tower then pools at ``argmax(input_ids)`` instead (the convention of the original CLIP
checkpoints, whose end-of-text token has the largest id). The model keeps the tokenizer's files
beside its weights (``tokenizer = "checkpoint"``), so ``load_model`` restores it.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from tokenizers import processors
from transformers.tokenization_utils_base import PreTrainedTokenizerBase
from transformers.tokenization_utils_tokenizers import TokenizersBackend

from vislang.models.lm_tokenizer import train_byte_level_bpe

PAD_TOKEN, EOS_TOKEN, BOS_TOKEN = "<pad>", "</s>", "<s>"
SPECIAL_TOKENS = (PAD_TOKEN, EOS_TOKEN, BOS_TOKEN)
"""Special tokens with ids 0, 1, 2 in this order (end of text at 1, never 2; see above)."""
MIN_VOCAB_SIZE = 256 + len(SPECIAL_TOKENS)


def train_caption_tokenizer(
    captions: Iterable[str], vocab_size: int, max_length: int
) -> PreTrainedTokenizerBase:
    """A BPE tokenizer of at most ``vocab_size`` entries trained on ``captions`` that wraps each
    text as ``<s> text </s>`` and truncates to ``max_length`` tokens (keeping ``</s>``).
    Deterministic: the same captions, in any order, give the same tokenizer."""
    tokenizer = train_byte_level_bpe(captions, vocab_size, SPECIAL_TOKENS)
    tokenizer.post_processor = processors.TemplateProcessing(
        single=f"{BOS_TOKEN} $A {EOS_TOKEN}",
        special_tokens=[(token, tokenizer.token_to_id(token)) for token in (BOS_TOKEN, EOS_TOKEN)],
    )
    return TokenizersBackend(
        tokenizer_object=tokenizer,
        bos_token=BOS_TOKEN,
        eos_token=EOS_TOKEN,
        pad_token=PAD_TOKEN,
        model_max_length=max_length,
    )


def tokenizer_fields(tokenizer: PreTrainedTokenizerBase) -> dict[str, Any]:
    """The :class:`~vislang.models.dual_encoder.DualEncoderConfig` fields that describe
    ``tokenizer`` (its size and special ids; the files are the model's own)."""
    return {
        "vocab_size": len(tokenizer),
        "pad_token_id": tokenizer.pad_token_id,
        "bos_token_id": tokenizer.bos_token_id,
        "eos_token_id": tokenizer.eos_token_id,
        "tokenizer": "checkpoint",
    }
