"""A PNG picture of a receipt, for the on-screen preview and the docs, drawn with Pillow.

It draws the same rows as the text and ESC/POS renderers, in a monospaced TrueType font
(DejaVu Sans Mono when installed, else Pillow's built-in scalable font), with amounts
right-aligned in pixels so a proportional fallback font still lines up.
"""

from __future__ import annotations

import io
from functools import lru_cache
from pathlib import Path
from typing import Final

from PIL import Image, ImageDraw, ImageFont

from receipts.model import Receipt
from receipts.qr import qr_image
from receipts.text import Qr, Row, Rule, layout

FONT_DIRS: Final = (
    Path("/usr/share/fonts/truetype/dejavu"),
    Path("/usr/share/fonts/dejavu"),
    Path("/usr/share/fonts/TTF"),
    Path("/Library/Fonts"),
)
FONT_SIZE: Final = 18
MARGIN: Final = 16
QR_MODULE_PX: Final = 4

Font = ImageFont.FreeTypeFont | ImageFont.ImageFont


def font(bold: bool = False, size: int = FONT_SIZE) -> Font:
    """DejaVu Sans Mono (bold or regular) if present, else Pillow's scalable default font."""
    return load_font("DejaVuSansMono-Bold.ttf" if bold else "DejaVuSansMono.ttf", size)


@lru_cache(maxsize=32)
def load_font(name: str, size: int) -> Font:
    """The TrueType font ``name`` at ``size`` from the usual folders, else Pillow's default."""
    for folder in FONT_DIRS:
        path = folder / name
        if path.is_file():
            return ImageFont.truetype(str(path), size)
    try:
        return ImageFont.truetype(name, size)
    except OSError:
        return ImageFont.load_default(size=size)


def _advance(face: Font) -> float:
    return float(face.getlength("M"))


def render_png_image(receipt: Receipt, width: int = 48) -> Image.Image:
    """The receipt as a greyscale Pillow image, ``width`` columns wide."""
    regular, bold = font(False), font(True)
    cell = _advance(regular)
    _, top, _, bottom = regular.getbbox("Ég")
    line_h = int(bottom - min(top, 0)) + 6
    paper = round(cell * width) + 2 * MARGIN
    blocks = layout(receipt, width)
    qrs = {id(b): qr_image(b.data, QR_MODULE_PX) for b in blocks if isinstance(b, Qr)}
    height = 2 * MARGIN
    for block in blocks:
        if isinstance(block, Qr):
            height += qrs[id(block)].height
        elif isinstance(block, Rule):
            height += line_h // 2 + 4
        else:
            height += line_h
    # A list, not max(paper, *...): a slip without a QR (a stamp, a voucher spend) has no others.
    widest = max([paper, *(q.width + 2 * MARGIN for q in qrs.values())])
    image = Image.new("L", (widest, height), 255)
    paper = image.width
    draw = ImageDraw.Draw(image)
    y = MARGIN
    for block in blocks:
        if isinstance(block, Qr):
            qr = qrs[id(block)]
            image.paste(qr, ((paper - qr.width) // 2, y))
            y += qr.height
        elif isinstance(block, Rule):
            mid = y + (line_h // 2 + 4) // 2
            draw.line([(MARGIN, mid), (paper - MARGIN, mid)], fill=96, width=1)
            y += line_h // 2 + 4
        else:
            _draw_row(draw, block, bold if block.bold else regular, y, paper)
            y += line_h
    return image


def _draw_row(draw: ImageDraw.ImageDraw, row: Row, face: Font, y: int, paper: int) -> None:
    if row.align == "center":
        x = (paper - face.getlength(row.left)) / 2
        draw.text((x, y), row.left, font=face, fill=0)
        return
    if row.left:
        draw.text((MARGIN, y), row.left, font=face, fill=0)
    if row.right:
        x = paper - MARGIN - face.getlength(row.right)
        draw.text((x, y), row.right, font=face, fill=0)


def render_png(receipt: Receipt, width: int = 48) -> bytes:
    """The receipt as PNG bytes (greyscale), ``width`` columns wide."""
    buffer = io.BytesIO()
    # Level 1 compresses a mostly white slip nearly as well as the default, several times faster.
    render_png_image(receipt, width).save(buffer, format="PNG", compress_level=1)
    return buffer.getvalue()
