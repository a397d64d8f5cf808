"""A contact sheet: example images, each beside its captions in several languages and scripts.

Each language's lines are drawn with a font that covers them (:mod:`vislang.demo.fonts`), with
complex-script shaping (Tamil) through Pillow's Raqm layout when available. A language for which
no font is found gets a one-line notice in its place instead of empty boxes.
"""

from __future__ import annotations

from dataclasses import dataclass

from PIL import Image, ImageDraw, ImageFont, features

from vislang.demo.fonts import FontChoice, find_font

THUMB = 160
TEXT_WIDTH = 860
FONT_SIZE = 15
LINE = 22
MARGIN = 12


@dataclass
class SheetRow:
    """One image with a heading and ``(language, text)`` lines."""

    image: Image.Image
    heading: str
    lines: list[tuple[str, str]]
    image_id: str = ""


def _layout() -> ImageFont.Layout:
    return ImageFont.Layout.RAQM if features.check("raqm") else ImageFont.Layout.BASIC


def choose_fonts(
    rows: list[SheetRow], scripts: dict[str, str]
) -> tuple[FontChoice | None, dict[str, FontChoice | None]]:
    """A Latin font for headings, and a font per language that covers all of its lines."""
    heading = find_font("".join(r.heading for r in rows) + "abc", "Latin")
    per_language: dict[str, FontChoice | None] = {}
    for language, script in scripts.items():
        text = "".join(t for r in rows for code, t in r.lines if code == language) + language
        per_language[language] = find_font(text, script)
    return heading, per_language


def _wrap(
    draw: ImageDraw.ImageDraw,
    text: str,
    font: ImageFont.FreeTypeFont,
    width: int,
    by_character: bool,
) -> list[str]:
    units = list(text) if by_character else text.split(" ")
    joiner = "" if by_character else " "
    lines: list[str] = []
    current = ""
    for unit in units:
        candidate = unit if not current else current + joiner + unit
        if current and draw.textlength(candidate, font=font) > width:
            lines.append(current)
            current = unit
        else:
            current = candidate
    return [*lines, current] if current else lines


def contact_sheet(
    rows: list[SheetRow],
    heading_font: FontChoice | None,
    fonts: dict[str, FontChoice | None],
    names: dict[str, str],
    by_character: frozenset[str] = frozenset({"zh"}),
) -> Image.Image:
    """Draw ``rows`` (thumbnail left, heading and one line per language right)."""
    layout = _layout()
    loaded = {
        code: ImageFont.truetype(str(choice.path), FONT_SIZE, layout_engine=layout)
        for code, choice in fonts.items()
        if choice is not None
    }
    fallback = (
        ImageFont.truetype(str(heading_font.path), FONT_SIZE, layout_engine=layout)
        if heading_font is not None
        else ImageFont.load_default()
    )
    scratch = ImageDraw.Draw(Image.new("RGB", (1, 1)))
    label_width = 34
    blocks = []
    for row in rows:
        drawn: list[tuple[str, str, ImageFont.FreeTypeFont]] = [("", row.heading, fallback)]
        for code, text in row.lines:
            font = loaded.get(code)
            if font is None:
                drawn.append((code, f"(no font for {names[code]} found; see the report)", fallback))
                continue
            for k, part in enumerate(
                _wrap(scratch, text, font, TEXT_WIDTH - label_width, code in by_character)
            ):
                drawn.append((code if k == 0 else "", part, font))
        blocks.append((row, drawn, max(THUMB, len(drawn) * LINE) + MARGIN))
    width = MARGIN * 3 + THUMB + TEXT_WIDTH
    sheet = Image.new("RGB", (width, MARGIN + sum(h for _, _, h in blocks)), "white")
    draw = ImageDraw.Draw(sheet)
    y = MARGIN
    for row, drawn, height in blocks:
        sheet.paste(row.image.resize((THUMB, THUMB), Image.Resampling.NEAREST), (MARGIN, y))
        x = MARGIN * 2 + THUMB
        for k, (code, text, font) in enumerate(drawn):
            top = y + k * LINE
            if code:
                draw.text((x, top), code, font=fallback, fill=(120, 120, 120))
            draw.text(
                (x + (0 if k == 0 else label_width), top),
                text,
                font=font,
                fill=(0, 0, 0) if k else (40, 40, 160),
            )
        y += height
        draw.line((MARGIN, y - MARGIN // 2, width - MARGIN, y - MARGIN // 2), fill=(220, 220, 220))
    return sheet
