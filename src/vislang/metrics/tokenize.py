"""Caption tokenisation per language, before BLEU, ROUGE-L and CIDEr-D.

Scores are only comparable when captions are tokenised the same way, so every result records the
tokenizer's :attr:`CaptionTokenizer.name`. The choice follows the usual multilingual caption
evaluation (e.g. on XM3600):

* ``en``: ``coco-ptb``, the COCO toolkit's PTB tokenisation (lower-cased, punctuation removed),
  reproduced in Python by :mod:`vislang.metrics.ptb`;
* ``zh``, ``ja``, ``th`` (written without spaces between words): ``char+13a``, every character of
  the Han, Hiragana, Katakana and Thai scripts (with its combining marks) and every CJK or
  full-width punctuation mark is a token; the text between them is tokenised by sacrebleu's 13a;
* every other language: ``13a``, sacrebleu's tokenizer of WMT's ``mteval-v13a``.

Policy for the non-English tokenizers, chosen to match what the English pipeline does: tokens are
lower-cased with :meth:`str.lower` (Unicode full lower-casing, e.g. Turkish ``İ`` becomes ``i̇``)
and tokens made only of punctuation are dropped.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import lru_cache

from sacrebleu.tokenizers.tokenizer_13a import Tokenizer13a

from vislang.metrics.ptb import ptb_tokenize_lines

CHARACTER_LANGUAGES = frozenset({"zh", "ja", "th"})

# scripts written without spaces: each character is a token
_CHARACTER_RANGES = (
    (0x3000, 0x303F),  # CJK symbols and punctuation
    (0x3040, 0x30FF),  # Hiragana, Katakana
    (0x31F0, 0x31FF),  # Katakana phonetic extensions
    (0x3400, 0x4DBF),  # CJK unified ideographs extension A
    (0x4E00, 0x9FFF),  # CJK unified ideographs
    (0xF900, 0xFAFF),  # CJK compatibility ideographs
    (0xFF00, 0xFFEF),  # half-width and full-width forms
    (0x0E00, 0x0E7F),  # Thai
    (0x20000, 0x3134F),  # CJK unified ideographs extensions B..G
)


@dataclass(frozen=True)
class CaptionTokenizer:
    """Tokenises a list of captions of one language; ``name`` is recorded with every score."""

    name: str
    language: str
    _tokenize: Callable[[Sequence[str]], list[list[str]]]

    def __call__(self, captions: Sequence[str]) -> list[list[str]]:
        """Tokens of each caption, in order."""
        return self._tokenize(captions)


def tokenizer_for(language: str) -> CaptionTokenizer:
    """The caption tokenizer for an ISO 639-1 language code (``en``, ``zh``, ``de``, ``pt-BR``)."""
    base = language.strip().lower().replace("_", "-").split("-")[0]
    if not base:
        raise ValueError("a language code is needed, e.g. 'en'")
    if base == "en":
        return CaptionTokenizer("coco-ptb", base, lambda captions: ptb_tokenize_lines(captions))
    if base in CHARACTER_LANGUAGES:
        return CaptionTokenizer("char+13a", base, _each(_character_tokens))
    return CaptionTokenizer("13a", base, _each(_tokens_13a))


def _each(tokenize: Callable[[str], list[str]]) -> Callable[[Sequence[str]], list[list[str]]]:
    return lambda captions: [tokenize(caption) for caption in captions]


@lru_cache(maxsize=1)
def _13a() -> Tokenizer13a:
    return Tokenizer13a()


def _tokens_13a(caption: str) -> list[str]:
    return _clean(_13a()(caption.replace("\n", " ")).split())


def _character_tokens(caption: str) -> list[str]:
    pieces: list[str] = []
    after_character = False  # the last piece is a character token (marks attach to it)
    for char in caption.replace("\n", " "):
        if after_character and unicodedata.category(char).startswith("M"):
            pieces[-1] = pieces[-1][:-1] + char + " "
        elif _is_character_script(char):
            pieces.append(f" {char} ")
            after_character = True
        else:
            pieces.append(char)
            after_character = False
    return _clean(_13a()("".join(pieces)).split())


def _is_character_script(char: str) -> bool:
    code = ord(char)
    return any(low <= code <= high for low, high in _CHARACTER_RANGES)


def _clean(tokens: list[str]) -> list[str]:
    """Lower-case and drop tokens made only of punctuation."""
    return [
        token.lower()
        for token in tokens
        if not all(unicodedata.category(char).startswith("P") for char in token)
    ]
