"""Sheets of printable cards for a city's mailing: A4 pages of ten cards, as one PDF.

Each card is the same image ``receipts.cards`` renders for one card (85.6 x 54 mm at 300 dpi),
laid out two across and five down with room to cut between them.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from typing import Final

from PIL import Image

from receipts.cards import DPI, render_card_image

A4: Final = (2480, 3508)
"""An A4 page at 300 dpi, in pixels."""
COLUMNS: Final = 2
ROWS: Final = 5
PER_PAGE: Final = COLUMNS * ROWS


def render_sheet_pdf(
    cards: Sequence[tuple[str, str]], scheme: str = "Citie", *, language: str = "nl"
) -> bytes:
    """``(card id, code)`` pairs as a PDF of A4 pages, ten cards a page, in the given order."""
    if not cards:
        raise ValueError("a sheet needs at least one card")
    pages: list[Image.Image] = []
    for start in range(0, len(cards), PER_PAGE):
        page = Image.new("RGB", A4, "white")
        for slot, (card_id, code) in enumerate(cards[start : start + PER_PAGE]):
            image = render_card_image(code, card_id, scheme, language=language).convert("RGB")
            gap_x = (A4[0] - COLUMNS * image.width) // (COLUMNS + 1)
            gap_y = (A4[1] - ROWS * image.height) // (ROWS + 1)
            column, row = slot % COLUMNS, slot // COLUMNS
            page.paste(
                image,
                (gap_x + column * (image.width + gap_x), gap_y + row * (image.height + gap_y)),
            )
        pages.append(page)
    buffer = io.BytesIO()
    pages[0].save(
        buffer, format="PDF", resolution=float(DPI), save_all=True, append_images=pages[1:]
    )
    return buffer.getvalue()
