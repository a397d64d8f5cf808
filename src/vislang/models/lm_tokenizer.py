"""A small multilingual byte-level BPE tokenizer, trained on a corpus with ``tokenizers``.

The world's language models read seven languages in three scripts with a vocabulary of about a
thousand tokens. The tokenizer is GPT-2's byte-level BPE (every UTF-8 byte is a base symbol, so
any text encodes and decodes exactly, nothing is ever unknown) with a pre-tokenisation that suits
the scripts:

- a word is a run of letters *and combining marks* (``[\\p{L}\\p{M}]+``), so Tamil vowel signs
  stay inside their word (GPT-2's pattern cuts Tamil words at every sign);
- every Han character is a piece of its own, so merges never cross Chinese characters: BPE on
  unsegmented Chinese otherwise learns whole clauses ("一个红色的圆形") as single tokens, and a
  colour–shape compound held out of the training text would then be spelt with tokens the model
  has rarely seen;
- digits, punctuation and whitespace as in GPT-2 (a leading space belongs to the next word).

Text is NFC-normalised first. Special tokens have fixed ids: ``<pad>`` 0, ``<s>`` 1 (prepended
by the tokenizer, as Llama's does), ``</s>`` 2 (end of text; not added automatically),
``<image>`` 3 (a placeholder where a vision-language model puts its visual tokens; it never
occurs in text and the language model never learns to produce it). With
``vocab_size = MIN_VOCAB_SIZE`` (260) there are no merges: a plain byte tokenizer.

Training is deterministic: the same texts (in any order) give byte-identical ``tokenizer.json``.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from functools import lru_cache

from tokenizers import Regex, Tokenizer, decoders, models, normalizers, pre_tokenizers, processors
from tokenizers.trainers import BpeTrainer
from transformers.tokenization_utils_base import PreTrainedTokenizerBase
from transformers.tokenization_utils_tokenizers import TokenizersBackend

from vislang.errors import ConfigError
from vislang.models.lm_corpus import STAGE0_WORLD, texts_from_world

PAD_TOKEN = "<pad>"
BOS_TOKEN = "<s>"
EOS_TOKEN = "</s>"
IMAGE_TOKEN = "<image>"
SPECIAL_TOKENS: tuple[str, ...] = (PAD_TOKEN, BOS_TOKEN, EOS_TOKEN, IMAGE_TOKEN)
"""The special tokens, with ids 0, 1, 2, 3 in this order."""

MIN_VOCAB_SIZE = 256 + len(SPECIAL_TOKENS)
"""The byte alphabet and the special tokens: a vocabulary this size has no merges."""

PRETOKENIZE_PATTERN = r"\p{Han}| ?[\p{L}\p{M}]+| ?\p{N}+| ?[^\s\p{L}\p{M}\p{N}]+|\s+(?!\S)|\s+"
"""Pieces BPE merges within: one Han character; a word of letters and combining marks; digits;
punctuation; whitespace (each but the first with the space before it)."""


def train_tokenizer(
    texts: Iterable[str], vocab_size: int, model_max_length: int = 1024
) -> PreTrainedTokenizerBase:
    """A byte-level BPE tokenizer with at most ``vocab_size`` entries, trained on ``texts``.

    The result has exactly ``vocab_size`` entries unless the texts offer fewer merges (a small
    corpus); the special tokens have ids 0–3 (see the module docstring).
    """
    tokenizer = train_byte_level_bpe(texts, vocab_size, SPECIAL_TOKENS)
    bos_id = tokenizer.token_to_id(BOS_TOKEN)
    tokenizer.post_processor = processors.TemplateProcessing(
        single=f"{BOS_TOKEN} $A",
        pair=f"{BOS_TOKEN} $A $B",
        special_tokens=[(BOS_TOKEN, bos_id)],
    )
    return _wrap(tokenizer, model_max_length)


def train_byte_level_bpe(
    texts: Iterable[str], vocab_size: int, special_tokens: Sequence[str]
) -> Tokenizer:
    """A byte-level BPE ``tokenizers.Tokenizer`` of at most ``vocab_size`` entries trained on
    ``texts`` with NFC normalisation, :data:`PRETOKENIZE_PATTERN` and ``special_tokens`` first (ids
    0, 1, ...); no post-processor. A ConfigError when ``vocab_size`` is below the 256 bytes plus
    the special tokens."""
    smallest = 256 + len(special_tokens)
    if vocab_size < smallest:
        raise ConfigError(
            f"vocab_size must be at least {smallest} (256 bytes and "
            f"{len(special_tokens)} special tokens), got {vocab_size}"
        )
    tokenizer = Tokenizer(models.BPE())
    tokenizer.normalizer = normalizers.NFC()
    tokenizer.pre_tokenizer = pre_tokenizers.Sequence(
        [
            pre_tokenizers.Split(Regex(PRETOKENIZE_PATTERN), behavior="isolated"),
            pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False),
        ]
    )
    tokenizer.decoder = decoders.ByteLevel()
    trainer = BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=list(special_tokens),
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tokenizer.train_from_iterator(texts, trainer)
    return tokenizer


def stage0_tokenizer(vocab_size: int, model_max_length: int = 1024) -> PreTrainedTokenizerBase:
    """The tokenizer the stage-0 recipe trains with its defaults: BPE on the train-split text of
    :data:`~vislang.models.lm_corpus.STAGE0_WORLD` (all languages and text kinds). Trained once
    per process and size; every call returns a new tokenizer object."""
    return _wrap(Tokenizer.from_str(_stage0_tokenizer_json(vocab_size)), model_max_length)


@lru_cache(maxsize=4)
def _stage0_tokenizer_json(vocab_size: int) -> str:
    texts = texts_from_world(STAGE0_WORLD, splits=("train",))
    return train_tokenizer((t.text for t in texts), vocab_size).backend_tokenizer.to_str()


def _wrap(tokenizer: Tokenizer, model_max_length: int) -> PreTrainedTokenizerBase:
    """The ``transformers`` tokenizer around a trained ``tokenizers`` one."""
    return TokenizersBackend(
        tokenizer_object=tokenizer,
        bos_token=BOS_TOKEN,
        eos_token=EOS_TOKEN,
        pad_token=PAD_TOKEN,
        additional_special_tokens=[IMAGE_TOKEN],
        model_max_length=model_max_length,
    )
