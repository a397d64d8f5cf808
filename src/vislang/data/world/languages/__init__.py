"""The grammars of the world's languages, one module per language.

``LANGUAGES`` maps an ISO 639-1 code to its grammar class; :func:`grammar` returns a shared
instance (grammars cache their sentences).
"""

from __future__ import annotations

from functools import cache

from vislang.data.world.languages.base import Grammar
from vislang.data.world.languages.de import German
from vislang.data.world.languages.en import English
from vislang.data.world.languages.id import Indonesian
from vislang.data.world.languages.sw import Swahili
from vislang.data.world.languages.ta import Tamil
from vislang.data.world.languages.tr import Turkish
from vislang.data.world.languages.zh import Chinese

LANGUAGES: dict[str, type[Grammar]] = {
    g.code: g for g in (English, German, Turkish, Chinese, Swahili, Indonesian, Tamil)
}


@cache
def grammar(code: str) -> Grammar:
    """The grammar of language ``code`` (e.g. ``"sw"``); raises ``KeyError`` for unknown codes."""
    return LANGUAGES[code]()


__all__ = ["LANGUAGES", "Grammar", "grammar"]
