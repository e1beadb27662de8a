"""Printed customer cards: size, quiet zone, and a first-frame scan that verifies as a card."""

from __future__ import annotations

import io
import re
from datetime import UTC, datetime, timedelta

import cv2
import numpy as np
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from PIL import Image

from loyalty import cards
from receipts.cards import (
    EDGE_PX,
    HEIGHT_PX,
    QUIET_ZONE_MODULES,
    WIDTH_PX,
    render_card_image,
    render_card_pdf,
    render_card_png,
)
from receipts.qr import qr_matrix
from scanner.decoders import ZxingDecoder, to_grey

ISSUER_KEY = Ed25519PrivateKey.generate()
TRUST = cards.TrustList(
    version=1,
    keys={"k1": cards.IssuerKey(kid="k1", issuer="citie", public_key=ISSUER_KEY.public_key())},
)
NOW = datetime(2026, 3, 14, 9, 30, tzinfo=UTC)


def issued() -> tuple[str, str]:
    card_id = cards.new_card_id()
    code = cards.issue(
        ISSUER_KEY,
        kid="k1",
        issuer="citie",
        card_id=card_id,
        issued_at=NOW,
        expires_at=NOW + timedelta(days=3650),
    )
    return code, card_id


def test_card_png_is_credit_card_size_at_300_dpi_and_scans_to_a_verified_card() -> None:
    code, card_id = issued()
    data = render_card_png(code, card_id, "Citie")
    image = Image.open(io.BytesIO(data))
    assert image.size == (WIDTH_PX, HEIGHT_PX) == (1011, 638)
    assert round(image.info["dpi"][0]) == 300
    grey = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_GRAYSCALE)
    decoded = ZxingDecoder().decode(to_grey(grey))
    assert [d.text for d in decoded] == [code]
    card = cards.verify(decoded[0].text, TRUST, now=NOW)
    assert isinstance(card, cards.Card) and card.card_id == card_id


def test_card_scans_from_a_webcam_like_frame() -> None:
    # The printed card held up to a 720p camera: smaller, a little blurred and noisy.
    code, card_id = issued()
    card = np.array(render_card_image(code, card_id).convert("L"))
    small = cv2.resize(card, (480, 303), interpolation=cv2.INTER_AREA)
    frame = np.full((720, 1280), 180, np.uint8)
    frame[200:503, 400:880] = small
    frame = cv2.GaussianBlur(frame, (3, 3), 0)
    noise = np.random.default_rng(7).normal(0, 6, frame.shape)
    frame = np.clip(frame + noise, 0, 255).astype(np.uint8)
    assert [d.text for d in ZxingDecoder().decode(to_grey(frame))] == [code]


def test_the_qr_keeps_a_four_module_quiet_zone() -> None:
    code, card_id = issued()
    matrix = qr_matrix(code)
    border = QUIET_ZONE_MODULES
    rows = matrix[:border] + matrix[-border:]
    assert not any(any(row) for row in rows)
    assert not any(any(row[:border]) or any(row[-border:]) for row in matrix)
    assert any(matrix[border])  # the code itself starts right after it
    # On the card, the white margin around the dark modules is at least 4 modules wide.
    module_px = (HEIGHT_PX - 2 * EDGE_PX) // len(matrix)
    qr_px = module_px * len(matrix)
    image = np.array(render_card_image(code, card_id).convert("L"))
    qr_part = image[:, : EDGE_PX + qr_px]
    dark = np.argwhere(qr_part < 128)
    (top, left), (bottom, right) = dark.min(axis=0), dark.max(axis=0)
    qr_top = (HEIGHT_PX - qr_px) // 2
    assert left - EDGE_PX == top - qr_top == border * module_px
    assert EDGE_PX + qr_px - 1 - right == qr_top + qr_px - 1 - bottom == border * module_px
    # Nothing else is drawn inside the code's square (text and bar start after it).
    assert (
        image[qr_top : qr_top + qr_px, EDGE_PX + qr_px - border * module_px :][:, :1] > 128
    ).all()


def test_card_number_and_scheme_are_printed_and_hostile_text_is_cleaned() -> None:
    code, card_id = issued()
    plain = render_card_image(code, card_id, "Citie")
    hostile = render_card_image(code, card_id, "Cit\x1bie\u202e\x00")
    assert np.array_equal(np.array(plain), np.array(hostile))
    other = render_card_image(code, card_id, "Roeselare Spaart")
    assert not np.array_equal(np.array(plain), np.array(other))


def test_card_pdf_is_one_page_of_85_6_by_54_mm() -> None:
    code, card_id = issued()
    pdf = render_card_pdf(code, card_id, "Citie")
    assert pdf.startswith(b"%PDF")
    boxes = re.findall(rb"/MediaBox \[ ?([\d.]+) ([\d.]+) ([\d.]+) ([\d.]+) ?\]", pdf)
    assert len(boxes) == 1
    width_pt, height_pt = float(boxes[0][2]), float(boxes[0][3])
    assert abs(width_pt / 72 * 25.4 - 85.6) < 0.1
    assert abs(height_pt / 72 * 25.4 - 54.0) < 0.1
