"""Printable city vouchers for a mailing: the card-size image of one voucher, as PNG or PDF.

The same 85.6 x 54 mm at 300 dpi as a printed loyalty card (``receipts.cards``), so vouchers
go on the same A4 sheets (``city.sheets``): the ``CV1:`` code as a QR with its quiet zone,
beside the city's name, the value in the voucher's language, the voucher id (for typing when
the code will not scan), the expiry and a one-line hint. Every text from outside (city,
campaign, id) is cleaned of control characters before it is drawn.
"""

from __future__ import annotations

import io
from datetime import datetime
from typing import Final, Literal

from PIL import Image, ImageDraw

from loyalty.i18n import Catalog, date_text, money
from loyalty.programs import SHOP_TZ
from loyalty.vouchers import Voucher
from receipts.cards import ACCENT, DPI, EDGE_PX, HEIGHT_PX, INK, MARGIN_PX, WIDTH_PX, _fitting
from receipts.png import load_font
from receipts.qr import QUIET_ZONE, qr_image, qr_matrix
from receipts.text import clean, wrap

MESSAGES: Final = Catalog("receipts.voucher_cards", "receipts", "voucher_cards")


def render_voucher_image(
    code: str,
    voucher_id: str,
    face_cents: int,
    currency: str,
    expires_at: datetime,
    city: str = "Citie",
    *,
    campaign: str = "",
    language: str = "nl",
) -> Image.Image:
    """The voucher as an RGB image, 1011 x 638 pixels (85.6 x 54 mm at 300 dpi)."""
    card = Image.new("RGB", (WIDTH_PX, HEIGHT_PX), "white")
    draw = ImageDraw.Draw(card)

    modules = len(qr_matrix(code, QUIET_ZONE))
    module_px = max(1, (HEIGHT_PX - 2 * EDGE_PX) // modules)
    qr_px = modules * module_px
    card.paste(
        qr_image(code, module_px, QUIET_ZONE).convert("RGB"), (EDGE_PX, (HEIGHT_PX - qr_px) // 2)
    )

    left = EDGE_PX + qr_px
    room = WIDTH_PX - MARGIN_PX - left
    draw.rectangle([(left, MARGIN_PX), (WIDTH_PX - MARGIN_PX, MARGIN_PX + 10)], fill=ACCENT)
    top = MARGIN_PX + 26

    title = clean(" · ".join(t for t in (city, MESSAGES.text("voucher_title", language)) if t))
    title_font = _fitting("DejaVuSans-Bold.ttf", title, 44, room)
    draw.text((left, top), title, font=title_font, fill=ACCENT)
    top += 70

    value = clean(money(face_cents, language, currency))
    value_font = _fitting("DejaVuSans-Bold.ttf", value, 110, room)
    draw.text((left, top), value, font=value_font, fill=INK)
    top += 140

    number = clean(voucher_id)
    number_font = _fitting("DejaVuSansMono-Bold.ttf", number, 46, room)
    draw.text((left, top), number, font=number_font, fill=INK)
    top += 64

    small = load_font("DejaVuSans.ttf", 26)
    until = MESSAGES.text(
        "voucher_valid_until", language, date=date_text(expires_at, language, SHOP_TZ)
    )
    lines = [clean(until)]
    if campaign:
        lines.append(clean(campaign))
    per_line = max(8, int(room / max(1.0, small.getlength("n"))))
    lines += wrap(MESSAGES.text("voucher_hint", language), per_line)
    for line in lines:
        if top + 30 > HEIGHT_PX - EDGE_PX:
            break
        shown = line
        while shown and small.getlength(shown) > room:
            shown = shown[:-1]
        draw.text((left, top), shown, font=small, fill=INK)
        top += 34
    return card


def render_voucher_file(
    code: str, voucher: Voucher, *, kind: Literal["png", "pdf"], language: str = "nl"
) -> bytes:
    """The voucher as PNG bytes (1011 x 638 pixels, tagged 300 dpi) or as a one-page PDF of
    exactly 85.6 x 54 mm."""
    image = render_voucher_image(
        code,
        voucher.voucher_id,
        voucher.face_cents,
        voucher.currency,
        voucher.expires_at,
        voucher.city,
        campaign=voucher.campaign,
        language=language,
    )
    buffer = io.BytesIO()
    if kind == "png":
        image.save(buffer, format="PNG", dpi=(DPI, DPI), optimize=True)
    else:
        image.save(buffer, format="PDF", resolution=float(DPI))
    return buffer.getvalue()
