"""A picture of text → image retrieval: each query caption beside the images it retrieved.

The query's own image is framed in green, every other retrieved image in grey, with its cosine
score underneath, so a reader sees at a glance where the model finds the right scene and what it
confuses it with.
"""

from __future__ import annotations

from dataclasses import dataclass

from PIL import Image, ImageDraw, ImageFont

from vislang.demo.fonts import find_font

THUMB = 96
TEXT_WIDTH = 300
BORDER = 4
MARGIN = 10
FONT_SIZE = 14
LINE = 18
HIT = (40, 160, 60)
MISS = (200, 200, 200)


@dataclass
class RetrievedImage:
    """One retrieved image, whether it is the query's own, and its score."""

    image: Image.Image
    correct: bool
    score: float


@dataclass
class QueryRow:
    """A query caption (with a short label, e.g. its split) and what it retrieved, best first."""

    query: str
    label: str
    results: list[RetrievedImage]


def retrieval_grid(rows: list[QueryRow]) -> Image.Image:
    """Draw ``rows``: the wrapped query text on the left, the retrieved images to its right."""
    text = "".join(row.query + row.label for row in rows) + "0.123"
    choice = find_font(text, "Latin")
    font = (
        ImageFont.truetype(str(choice.path), FONT_SIZE)
        if choice is not None
        else ImageFont.load_default()
    )
    columns = max((len(row.results) for row in rows), default=0)
    cell = THUMB + 2 * BORDER
    row_height = cell + LINE + MARGIN
    width = MARGIN * 2 + TEXT_WIDTH + columns * (cell + MARGIN)
    sheet = Image.new("RGB", (width, MARGIN + len(rows) * row_height), "white")
    draw = ImageDraw.Draw(sheet)
    for r, row in enumerate(rows):
        top = MARGIN + r * row_height
        draw.text((MARGIN, top), row.label, font=font, fill=(120, 120, 120))
        for k, line in enumerate(_wrap(draw, row.query, font, TEXT_WIDTH - MARGIN)):
            draw.text((MARGIN, top + (k + 1) * LINE), line, font=font, fill=(0, 0, 0))
        for c, result in enumerate(row.results):
            left = MARGIN * 2 + TEXT_WIDTH + c * (cell + MARGIN)
            draw.rectangle(
                (left, top, left + cell - 1, top + cell - 1), fill=HIT if result.correct else MISS
            )
            thumb = result.image.convert("RGB").resize((THUMB, THUMB), Image.Resampling.NEAREST)
            sheet.paste(thumb, (left + BORDER, top + BORDER))
            draw.text((left, top + cell + 2), f"{result.score:.3f}", font=font, fill=(80, 80, 80))
    return sheet


def _wrap(draw: ImageDraw.ImageDraw, text: str, font: ImageFont.ImageFont, width: int) -> list[str]:
    lines: list[str] = []
    current = ""
    for word in text.split(" "):
        candidate = f"{current} {word}" if current else word
        if current and draw.textlength(candidate, font=font) > width:
            lines.append(current)
            current = word
        else:
            current = candidate
    return [*lines, current] if current else lines
