"""Finding a font that can draw a given text (Latin, Chinese, Tamil, …) for the demo's pictures.

Candidates are tried in order: fonts shipped by Python packages that vislang depends on (Noto
Sans Tamil from ``fontpkg-noto-sans-tamil``, Noto Sans SC from ``pylopdf-fonts-zh-cn``), fonts
installed on the system (found with fontconfig's ``fc-list`` when it exists), and DejaVu Sans,
which matplotlib ships. A candidate is chosen only if its character map covers every character of
the text; if none does, the caller gets ``None`` and says so in its report instead of drawing
empty boxes.
"""

from __future__ import annotations

import importlib
import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from fontTools.ttLib import TTFont, TTLibError

# fontconfig language tags for the scripts the world's languages use
_FONTCONFIG_LANG = {"Latin": "en", "Han": "zh-cn", "Tamil": "ta"}


@dataclass(frozen=True)
class FontChoice:
    """A font file that covers a text, and where it was found."""

    path: Path
    name: str
    source: str


def _packaged(script: str) -> Iterator[tuple[Path, str]]:
    if script == "Tamil":
        try:
            fontpkg = importlib.import_module("fontpkg")
            yield Path(fontpkg.path("Noto Sans Tamil")), "package fontpkg-noto-sans-tamil"
        except (ImportError, LookupError, OSError, ValueError):
            pass
    if script == "Han":
        try:
            module = importlib.import_module("pylopdf_fonts_zh_cn")
            yield Path(module.sans_path()), "package pylopdf-fonts-zh-cn"
        except (ImportError, AttributeError, OSError):
            pass


def _system(script: str) -> Iterator[tuple[Path, str]]:
    fc_list = shutil.which("fc-list")
    if fc_list is None:
        return
    query = f":lang={_FONTCONFIG_LANG.get(script, 'en')}"
    try:
        listed = subprocess.run(
            [fc_list, query, "file"], capture_output=True, text=True, timeout=10, check=False
        ).stdout
    except (OSError, subprocess.TimeoutExpired):
        return
    for line in sorted(listed.splitlines()):
        path = line.split(":")[0].strip()
        if path:
            yield Path(path), "system (fontconfig)"


def _bundled() -> Iterator[tuple[Path, str]]:
    try:
        font_manager = importlib.import_module("matplotlib.font_manager")
        yield Path(font_manager.findfont("DejaVu Sans", fallback_to_default=False)), "matplotlib"
    except (ImportError, ValueError):
        return


@cache
def _characters(path: Path) -> frozenset[int]:
    try:
        with TTFont(path, lazy=True, fontNumber=0) as font:
            return frozenset(font.getBestCmap() or {})
    except (TTLibError, OSError, AssertionError):
        return frozenset()


def covers(path: Path, text: str) -> bool:
    """Whether the font at ``path`` has a glyph for every non-space character of ``text``."""
    characters = _characters(path)
    return all(ord(ch) in characters for ch in text if not ch.isspace())


def _plain_first(candidates: Iterator[tuple[Path, str]]) -> list[tuple[Path, str]]:
    """Regular sans-serif faces before bold, italic, mono, serif or math ones."""
    unusual = ("bold", "italic", "oblique", "mono", "serif", "math", "light", "condensed")
    return sorted(candidates, key=lambda c: sum(word in c[0].name.lower() for word in unusual))


def find_font(text: str, script: str = "Latin") -> FontChoice | None:
    """The first candidate font for ``script`` that covers ``text``, or ``None``.

    Latin text prefers matplotlib's DejaVu Sans (the same everywhere); other scripts prefer the
    packaged Noto fonts, then system fonts.
    """
    system = _plain_first(_system(script))
    if script == "Latin":
        candidates = [*_bundled(), *system]
    else:
        candidates = [*_packaged(script), *system, *_bundled()]
    for path, source in candidates:
        if path.is_file() and covers(path, text):
            return FontChoice(path, path.stem, source)
    return None
