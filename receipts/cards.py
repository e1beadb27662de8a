"""Printable customer cards for people without a phone: credit-card size PNG and PDF.

85.6 x 54 mm at 300 dpi is 1011 x 638 pixels. The card code is drawn as a QR code with a
4-module quiet zone, big enough to scan through a webcam at the counter, beside the city
scheme's name, the short card number (for reading aloud or typing) and a one-line hint.
"""

from __future__ import annotations

import io
from typing import Final

from PIL import Image, ImageDraw

from receipts.messages import MESSAGES
from receipts.png import Font, load_font
from receipts.qr import QUIET_ZONE, qr_image, qr_matrix
from receipts.text import clean, wrap

DPI: Final = 300
WIDTH_PX: Final = 1011
HEIGHT_PX: Final = 638
MARGIN_PX: Final = 36
EDGE_PX: Final = 8
"""Card edge left free outside the QR image (printers do not print to the very edge)."""
QUIET_ZONE_MODULES: Final = QUIET_ZONE
ACCENT: Final = (0, 94, 120)
INK: Final = (20, 20, 20)


def _fitting(name: str, text: str, largest: int, room: float) -> Font:
    """The largest size of a font, down to a third, at which the text fits the room."""
    size = largest
    face = load_font(name, size)
    while size > largest // 3 and face.getlength(text) > room:
        size -= 2
        face = load_font(name, size)
    return face


def render_card_image(
    code: str, card_id: str, scheme: str = "Citie", *, language: str = "nl"
) -> Image.Image:
    """The card as an RGB image, 1011 x 638 pixels (85.6 x 54 mm at 300 dpi)."""
    card = Image.new("RGB", (WIDTH_PX, HEIGHT_PX), "white")
    draw = ImageDraw.Draw(card)

    matrix = qr_matrix(code, QUIET_ZONE_MODULES)
    modules = len(matrix)
    # Whole pixels per module (a blurred module edge costs more scans than a smaller code);
    # the quiet zone is white inside the QR image, so it doubles as the card's margin.
    module_px = max(1, (HEIGHT_PX - 2 * EDGE_PX) // modules)
    qr_px = modules * module_px
    qr = qr_image(code, module_px, QUIET_ZONE_MODULES)
    qr_left = EDGE_PX
    qr_top = (HEIGHT_PX - qr_px) // 2
    card.paste(qr.convert("RGB"), (qr_left, qr_top))

    text_left = qr_left + qr_px
    room = WIDTH_PX - MARGIN_PX - text_left
    draw.rectangle([(text_left, MARGIN_PX), (WIDTH_PX - MARGIN_PX, MARGIN_PX + 10)], fill=ACCENT)

    scheme_text = clean(scheme) or "Citie"
    scheme_font = _fitting("DejaVuSans-Bold.ttf", scheme_text, 96, room)
    draw.text((text_left, MARGIN_PX + 40), scheme_text, font=scheme_font, fill=ACCENT)

    number = clean(card_id)
    number_font = _fitting("DejaVuSansMono-Bold.ttf", number, 52, room)
    number_top = HEIGHT_PX // 2 + 10
    draw.text((text_left, number_top), number, font=number_font, fill=INK)

    hint_font = load_font("DejaVuSans.ttf", 26)
    per_line = max(8, int(room / max(1.0, hint_font.getlength("n"))))
    hint_top = number_top + 90
    for i, line in enumerate(wrap(MESSAGES.text("card_hint", language), per_line)[:3]):
        shown = line
        while shown and hint_font.getlength(shown) > room:
            shown = shown[:-1]
        draw.text((text_left, hint_top + i * 34), shown, font=hint_font, fill=INK)
    return card


def render_card_png(
    code: str, card_id: str, scheme: str = "Citie", *, language: str = "nl"
) -> bytes:
    """The card as PNG bytes, 1011 x 638 pixels, tagged 300 dpi."""
    buffer = io.BytesIO()
    image = render_card_image(code, card_id, scheme, language=language)
    image.save(buffer, format="PNG", dpi=(DPI, DPI), optimize=True)
    return buffer.getvalue()


def render_card_pdf(
    code: str, card_id: str, scheme: str = "Citie", *, language: str = "nl"
) -> bytes:
    """The card as a one-page PDF of exactly 85.6 x 54 mm."""
    buffer = io.BytesIO()
    image = render_card_image(code, card_id, scheme, language=language)
    image.save(buffer, format="PDF", resolution=float(DPI))
    return buffer.getvalue()
