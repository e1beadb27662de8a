"""Receipt renderers on hand-made receipts: widths, wrapping, controls, ESC/POS bytes, PNG."""

from __future__ import annotations

import io
import itertools
from dataclasses import replace
from datetime import UTC, datetime

import pytest
from PIL import Image

from loyalty.i18n import LANGUAGES, money
from receipts.escpos import printable, render_escpos
from receipts.messages import MESSAGES
from receipts.model import Receipt, ReceiptLine
from receipts.png import render_png
from receipts.text import WIDTHS, clean, layout, render_text

LONG_SHOP = "Bäckerei-Konditorei Müller-Lüdenscheidt & Söhne Spezialitätenbäckerei"
LONG_ADDRESS = "Onze-Lieve-Vrouwekerkhof-Zuid 123 bus 45, 8800 Roeselare-Rumbeke (België)"
LONG_REWARD = "een gratis grote cappuccino met havermelk en een stuk huisgemaakte appeltaart"
BIG_CENTS = 100_000_000  # the largest purchase the config can allow


def longest(key: str, **params: object) -> str:
    """The longest text of a message over every language (worst case for the paper)."""
    return max((MESSAGES.text(key, lang, **params) for lang in LANGUAGES), key=len)


def receipt(language: str = "fr", **changes: object) -> Receipt:
    base = Receipt(
        language=language,
        kind="purchase",
        title=MESSAGES.text("title_purchase", language),
        shop_name="Boulangerie Émile",
        shop_address="Rue de l’Église 12, 6700 Arlon",
        terminal_id="arlon-t1",
        terminal_label=MESSAGES.text("terminal", language),
        receipt_no="arlon-t1-42",
        receipt_label=MESSAGES.text("slip_no", language),
        occurred_at=datetime(2026, 3, 14, 9, 30, tzinfo=UTC),
        time_text="14/03/26 10:30",
        footer=MESSAGES.text("footer", language),
        card_line="Carte CT-7KQ2-M9XD-AB3C",
        lines=(ReceiptLine("Achat", money(1250, language), 1250),),
        total=ReceiptLine("Montant total", money(1250, language), 1250),
        stamps_label=MESSAGES.text("stamps_earned", language),
        stamps=2,
        explanations=("Visite : 1 tampon", "Total : 2 tampons"),
        balance_label=MESSAGES.text("balance", language),
        balance=7,
        progress="7/10, encore 3 pour un café gratuit",
    )
    return replace(base, **changes)  # type: ignore[arg-type]


def worst_case(language: str) -> Receipt:
    """Every field at its longest, in one language."""
    amount = money(BIG_CENTS, language)
    return receipt(
        language,
        title=longest("title_enroll"),
        shop_name=LONG_SHOP,
        shop_address=LONG_ADDRESS,
        terminal_id="t" * 64,
        receipt_no="t" * 64 + "-123456789",
        card_line=longest("card") + " CT-7KQ2-M9XD-AB3C-DEFG-HJKL-MNPQ-RSTU",
        lines=(ReceiptLine(longest("line_purchase_cancelled"), amount, BIG_CENTS),),
        total=ReceiptLine(longest("total"), amount, BIG_CENTS),
        stamps_label=longest("stamps_cancelled"),
        stamps=-1000,
        explanations=(longest("claim_hint", scheme="Citie") * 2,),
        balance_label=longest("balance"),
        balance=-123456,
        progress=longest("progress", have=999, need=1000, left=1, reward=LONG_REWARD),
        reward=longest("reward_redeemed", reward=LONG_REWARD),
        void_notice=longest("voided_by", no="t" * 64 + "-123456789"),
        claim_code="CC1:" + "ABC123$%*+-./: " * 20,
        claim_hint=longest("claim_hint", scheme="Citie"),
        footer=longest("footer"),
    )


@pytest.mark.parametrize(("language", "width"), itertools.product(LANGUAGES, WIDTHS))
def test_no_line_is_wider_than_the_paper(language: str, width: int) -> None:
    text = render_text(worst_case(language), width)
    lines = text.splitlines()
    assert max(len(line) for line in lines) <= width
    # Nothing was lost to wrapping: every word of the long fields is still there.
    flat = " ".join(lines)
    for word in ("Spezialitätenbäckerei", "Roeselare-Rumbeke", "appeltaart"):
        assert word in flat or word in flat.replace(" ", "")
    assert clean(money(BIG_CENTS, language)) in text


@pytest.mark.parametrize("width", WIDTHS)
def test_amounts_are_right_aligned_and_labels_left(width: int) -> None:
    lines = render_text(receipt("nl"), width).splitlines()
    total = next(line for line in lines if line.startswith("Montant total"))
    assert len(total) == width
    assert total.endswith(money(1250, "nl").replace("\u00a0", "\u00a0"))
    stamps = next(line for line in lines if line.startswith(MESSAGES.text("stamps_earned", "nl")))
    assert stamps.endswith("+2") and len(stamps) == width


def test_accents_survive_and_words_wrap_whole() -> None:
    text = render_text(receipt(shop_name="Crèmerie Française à Liège — Bœuf & Dürüm"), 32)
    assert "Crèmerie Française à Liège" in text
    for line in text.splitlines():
        assert not line.endswith("Liè"), "a word was cut instead of wrapped"


def test_control_characters_from_outside_are_stripped() -> None:
    hostile = "Shop\x1b@\x1d(k\x07\x00\u202e\u200bName\r\nSecond\x9b line\tend"
    text = render_text(receipt(shop_name=hostile, progress=hostile), 48)
    for bad in "\x1b\x1d\x07\x00\u202e\u200b\r\x9b\t":
        assert bad not in text
    assert "Shop@(kName Second line end" in text
    data = render_escpos(receipt(shop_name=hostile), width=48)
    assert b"Shop@(kName" in data
    assert b"\x1b@\x1d" not in data.split(b"Shop", 1)[1][:8]


def test_the_footer_says_it_is_not_a_vat_receipt_in_every_language() -> None:
    wanted = {"fr": "TVA", "nl": "btw", "de": "MwSt", "en": "VAT"}
    for language in LANGUAGES:
        footer = MESSAGES.text("footer", language)
        assert wanted[language] in footer
        text = " ".join(render_text(receipt(language, footer=footer), 32).split())
        assert footer in text


def test_a_receipt_width_outside_the_papers_is_refused() -> None:
    with pytest.raises(ValueError, match="width"):
        render_text(receipt(), 40)
    with pytest.raises(ValueError, match="width"):
        render_escpos(receipt(), width=40)


# --- ESC/POS -------------------------------------------------------------------------------

GS_K = b"\x1d(k"


def test_escpos_holds_native_qr_store_and_print_and_a_cut() -> None:
    code = "CC1:HELLO WORLD 123"
    data = render_escpos(receipt(claim_code=code, claim_hint="Scan"), width=32)
    store = GS_K + (len(code) + 3).to_bytes(2, "little") + b"\x31\x50\x30" + code.encode()
    assert store in data
    assert GS_K + b"\x03\x00\x31\x51\x30" in data
    assert data.index(store) < data.index(GS_K + b"\x03\x00\x31\x51\x30")
    assert data.rstrip(b"\x00").endswith(b"\x1dV\x00") or b"\x1dV" in data[-8:]
    assert data.startswith(b"\x1b@")


def test_escpos_image_fallback_sends_a_raster_instead_of_the_qr_command() -> None:
    data = render_escpos(receipt(claim_code="CC1:ABC", claim_hint="Scan"), native_qr=False)
    assert GS_K not in data
    assert b"\x1dv0" in data  # GS v 0: raster bit image
    assert b"\x1dV" in data[-8:]


def test_escpos_selects_cp858_and_encodes_belgian_accents() -> None:
    data = render_escpos(receipt(shop_name="é è à ç ë ü € ô"), width=48)
    assert b"\x1bt\x13" in data  # ESC t 19 = CP858, before any text
    assert data.index(b"\x1bt\x13") < data.index(b"\x82")
    assert b"\x82 \x8a \x85 \x87 \x89 \x81 \xd5 \x93" in data
    assert "é".encode() not in data  # no UTF-8 leaks through


def test_escpos_cp1252_is_selectable() -> None:
    data = render_escpos(receipt(shop_name="é ü €"), width=48, code_page="CP1252")
    assert b"\x1bt\x10" in data
    assert "é ü €".encode("cp1252") in data


def test_characters_outside_the_code_page_fall_back_readably() -> None:
    assert printable("Łódź – “ok” ő œuf ☕") == 'Lódz - "ok" o oeuf ?'
    assert printable("é è à ç ë ü €") == "é è à ç ë ü €"


def test_escpos_without_claim_has_no_qr_and_cut_can_be_left_out() -> None:
    data = render_escpos(receipt(), width=48, cut=False)
    assert GS_K not in data
    assert b"\x1dV" not in data


# --- PNG -----------------------------------------------------------------------------------


@pytest.mark.parametrize("width", WIDTHS)
def test_png_preview_is_a_greyscale_picture_that_fits_its_columns(width: int) -> None:
    data = render_png(worst_case("de"), width)
    image = Image.open(io.BytesIO(data))
    assert image.format == "PNG" and image.mode == "L"
    rows = len([b for b in layout(worst_case("de"), width)])
    assert image.height > rows * 10
    # Wider paper, wider picture; ink reaches neither side edge (margins kept).
    pixels = image.load()
    assert pixels is not None
    for y in range(0, image.height, 3):
        assert pixels[0, y] == 255 and pixels[image.width - 1, y] == 255
