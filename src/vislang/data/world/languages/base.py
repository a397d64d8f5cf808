"""What every language's grammar provides: one method per frame type, plus answer words.

A grammar realises the frames of :mod:`vislang.data.world.frames`; :meth:`Grammar.realise`
dispatches on the frame's type, caches the result (frames repeat a lot) and NFC-normalises it.
Each language module builds its sentences from its own morphology (agreement, case, word order);
no sentence is a word-for-word substitution of the English one.
"""

from __future__ import annotations

import re
import unicodedata
from typing import ClassVar

from vislang.data.world import frames as f

_CAMEL = re.compile(r"(?<!^)(?=[A-Z])")
_CACHED_FRAMES = 100_000  # the cache is emptied when full, which bounds memory on big worlds


class Grammar:
    """Base class of the per-language grammars (subclasses implement every frame method)."""

    code: ClassVar[str]
    name: ClassVar[str]
    script: ClassVar[str] = "Latin"

    def __init__(self) -> None:
        self._cache: dict[object, str] = {}

    def realise(self, frame: f.Frame) -> str:
        """The frame as a sentence (or, for actions, a short instruction) in this language."""
        text = self._cache.get(frame)
        if text is None:
            method = getattr(self, _CAMEL.sub("_", type(frame).__name__).lower())
            text = unicodedata.normalize("NFC", method(frame))
            if len(self._cache) >= _CACHED_FRAMES:
                self._cache.clear()
            self._cache[frame] = text
        return text

    def answer(self, question: f.Question, value: str | int | bool) -> str:
        """The answer word for ``value`` (from :func:`frames.answer`) to ``question``."""
        if isinstance(value, bool):
            text = self.yes_no(question, value)
        elif isinstance(value, int):
            text = str(value)
        elif isinstance(question, f.ColourQuestion):
            text = self.colour_answer(value)
        else:
            text = self.shape_answer(value)
        return unicodedata.normalize("NFC", text)

    def capitalise(self, text: str) -> str:
        """Upper-case the first letter (scripts without case return ``text`` unchanged)."""
        return text[:1].upper() + text[1:]

    def sentence(self, text: str, end: str = ".") -> str:
        """Capitalise and punctuate a clause."""
        return self.capitalise(text) + end

    # Answer words: subclasses override.
    def colour_answer(self, colour: str) -> str:
        """The colour as a one-word answer to "what colour is ...?"."""
        raise NotImplementedError

    def shape_answer(self, shape: str) -> str:
        """The shape as a one-word answer to "what shape is ...?"."""
        raise NotImplementedError

    def yes_no(self, question: f.Question, value: bool) -> str:
        """ "yes" or "no" as this language answers ``question``."""
        raise NotImplementedError
