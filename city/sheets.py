"""Sheets of printable cards for a city's mailing: A4 pages of ten cards, as one PDF.

Each card is the same image ``receipts.cards`` renders for one card (85.6 x 54 mm at 300 dpi),
or ``receipts.vouchers`` for one city voucher (the same size: ``write_voucher_sheet_pdf``),
laid out two across and five down with room to cut between them. The PDF is written a page at
a time (each page one losslessly compressed image), so ten thousand cards never need more
memory than one page: Pillow's multi-page PDF writer would hold every page at once (26 MB
each).
"""

from __future__ import annotations

import io
import zlib
from collections.abc import Callable, Sequence
from datetime import datetime
from functools import partial
from typing import BinaryIO, Final

from PIL import Image

from receipts.cards import render_card_image
from receipts.vouchers import render_voucher_image

A4: Final = (2480, 3508)
"""An A4 page at 300 dpi, in pixels."""
A4_POINTS: Final = (595.28, 841.89)
COLUMNS: Final = 2
ROWS: Final = 5
PER_PAGE: Final = COLUMNS * ROWS


def render_sheet_pdf(
    cards: Sequence[tuple[str, str]], scheme: str = "Citie", *, language: str = "nl"
) -> bytes:
    """``(card id, code)`` pairs as a PDF of A4 pages, ten cards a page, in the given order."""
    buffer = io.BytesIO()
    write_sheet_pdf(cards, buffer, scheme, language=language)
    return buffer.getvalue()


def write_sheet_pdf(
    cards: Sequence[tuple[str, str]],
    out: BinaryIO,
    scheme: str = "Citie",
    *,
    language: str = "nl",
) -> None:
    """Write the sheets to ``out``, one page in memory at a time."""
    write_image_sheets(
        [
            partial(render_card_image, code, card_id, scheme, language=language)
            for card_id, code in cards
        ],
        out,
    )


def write_voucher_sheet_pdf(
    vouchers: Sequence[tuple[str, str, int, str, datetime, str, str]],
    out: BinaryIO,
    *,
    language: str = "nl",
) -> None:
    """Sheets of city vouchers: ``(voucher id, code, face cents, currency, expires at, city,
    campaign)`` each, ten a page, written a page at a time."""
    write_image_sheets(
        [
            partial(
                render_voucher_image,
                code,
                voucher_id,
                face,
                currency,
                expires,
                city,
                campaign=campaign,
                language=language,
            )
            for voucher_id, code, face, currency, expires, city, campaign in vouchers
        ],
        out,
    )


def write_image_sheets(images: Sequence[Callable[[], Image.Image]], out: BinaryIO) -> None:
    """Card-size images (each drawn when its page is), ten to an A4 page, as one PDF."""
    if not images:
        raise ValueError("a sheet needs at least one card")
    cards = images
    pages = (len(cards) + PER_PAGE - 1) // PER_PAGE
    writer = _PdfWriter(out)
    writer.header()
    # Objects: 1 catalog, 2 page tree, then per page: page, contents, image.
    kids = " ".join(f"{3 + 3 * n} 0 R" for n in range(pages))
    writer.obj(1, b"<< /Type /Catalog /Pages 2 0 R >>")
    writer.obj(2, f"<< /Type /Pages /Kids [{kids}] /Count {pages} >>".encode())
    width, height = A4_POINTS
    for number in range(pages):
        page, contents, image = 3 + 3 * number, 4 + 3 * number, 5 + 3 * number
        pixels = _page(cards[number * PER_PAGE : (number + 1) * PER_PAGE])
        writer.obj(
            page,
            (
                f"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 {width} {height}] "
                f"/Resources << /XObject << /Im0 {image} 0 R >> >> /Contents {contents} 0 R >>"
            ).encode(),
        )
        writer.stream(contents, b"", f"q {width} 0 0 {height} 0 0 cm /Im0 Do Q".encode())
        writer.stream(
            image,
            (
                f"/Type /XObject /Subtype /Image /Width {A4[0]} /Height {A4[1]} "
                "/ColorSpace /DeviceRGB /BitsPerComponent 8 /Filter /FlateDecode"
            ).encode(),
            zlib.compress(pixels.tobytes(), 6),
        )
    writer.finish(size=3 + 3 * pages, root=1)


def _page(cards: Sequence[Callable[[], Image.Image]]) -> Image.Image:
    page = Image.new("RGB", A4, "white")
    for slot, draw in enumerate(cards):
        image = draw().convert("RGB")
        gap_x = (A4[0] - COLUMNS * image.width) // (COLUMNS + 1)
        gap_y = (A4[1] - ROWS * image.height) // (ROWS + 1)
        column, row = slot % COLUMNS, slot // COLUMNS
        page.paste(
            image, (gap_x + column * (image.width + gap_x), gap_y + row * (image.height + gap_y))
        )
    return page


class _PdfWriter:
    """Just enough PDF 1.4: numbered objects, streams, and the cross-reference table."""

    def __init__(self, out: BinaryIO) -> None:
        self.out = out
        self.written = 0
        self.offsets: dict[int, int] = {}

    def _write(self, data: bytes) -> None:
        self.out.write(data)
        self.written += len(data)

    def header(self) -> None:
        self._write(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")

    def obj(self, number: int, body: bytes) -> None:
        self.offsets[number] = self.written
        self._write(b"%d 0 obj\n%s\nendobj\n" % (number, body))

    def stream(self, number: int, entries: bytes, data: bytes) -> None:
        self.offsets[number] = self.written
        self._write(b"%d 0 obj\n<< %s /Length %d >>\nstream\n" % (number, entries, len(data)))
        self._write(data)
        self._write(b"\nendstream\nendobj\n")

    def finish(self, *, size: int, root: int) -> None:
        start = self.written
        lines = [b"xref\n0 %d\n" % size, b"0000000000 65535 f \n"]
        lines += [b"%010d 00000 n \n" % self.offsets[n] for n in range(1, size)]
        self._write(b"".join(lines))
        self._write(
            b"trailer\n<< /Size %d /Root %d 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (size, root, start)
        )
