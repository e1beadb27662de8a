"""Issue 15 item 5: the codes people actually have at the counter.

The card number printed on cards and slips can be typed; a slip's claim code held up at the
counter gets its own sentence; the on-screen slip draws the claim code as a QR that a real
decoder reads back.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import numpy as np
import zxingcpp

from loyalty.cards import RefusalReason, new_card_id, verify
from loyalty.programs import Program
from loyalty.trust import load_trust
from terminal.dialogs.receipt import ReceiptDialog
from tests.test_app_kit import SIZE, START, make_counter, settle, text_of, type_code


def _typo(card_id: str) -> str:
    """The same number with one character changed (the check character catches it)."""
    chars = list(card_id)
    chars[4] = "A" if chars[4] != "A" else "B"
    return "".join(chars)


# --- Typed card numbers --------------------------------------------------------------------------


def test_card_number_forgives_case_spaces_and_dashes() -> None:
    from loyalty.cards import card_number

    card_id = new_card_id()
    assert card_number(card_id) == card_id
    assert card_number(card_id.lower().replace("-", " ")) == card_id
    assert card_number(" " + card_id.replace("-", "") + " ") == card_id
    assert card_number("CT-ABCD") is None
    assert card_number("hello") is None


async def test_a_typed_card_number_finds_a_card_this_terminal_has_seen(tmp_path: Path) -> None:
    counter = make_counter(tmp_path)
    card_id = new_card_id()
    program = Program.from_settings(counter.settings.program)
    counter.ledger.stamp(card_id, program, now=START - timedelta(days=2))
    app = counter.app()
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await type_code(pilot, card_id.lower().replace("-", " "))
        assert app.card is not None and app.card.card_id == card_id
        assert app.card.total == 1
        await pilot.press("f2")
        await settle(pilot)
        assert counter.ledger.balance(card_id).total == 2


async def test_a_typed_card_number_finds_a_card_the_platform_confirmed(tmp_path: Path) -> None:
    counter = make_counter(tmp_path)
    card_id = new_card_id()
    with counter.store.write() as db:
        # What the sync's pull writes for a card this terminal never saw.
        db.execute(
            "INSERT INTO confirmed_balances (card_id, stamps, confirmed_at) VALUES (?, 7, ?)",
            [card_id, START.isoformat()],
        )
    app = counter.app()
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await type_code(pilot, card_id)
        assert app.card is not None and app.card.card_id == card_id


async def test_an_unknown_typo_or_revoked_card_number_is_named(tmp_path: Path) -> None:
    counter = make_counter(tmp_path)
    known = new_card_id()
    revoked = new_card_id()
    program = Program.from_settings(counter.settings.program)
    counter.ledger.stamp(known, program, now=START)
    counter.ledger.stamp(revoked, program, now=START)
    with counter.store.write() as db:
        db.execute(
            "INSERT INTO revoked_cards (card_id, revoked_at) VALUES (?, ?)",
            [revoked, START.isoformat()],
        )
    unknown = new_card_id()
    app = counter.app(lang="nl")
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await type_code(pilot, unknown)
        assert app.card is None
        assert "nog niet bekend op deze terminal" in text_of(app, "#banner")
        assert unknown in text_of(app, "#banner")
        await type_code(pilot, _typo(known))
        assert app.card is None
        assert "tikfout" in text_of(app, "#banner")
        await type_code(pilot, revoked)
        assert app.card is None
        assert "geblokkeerd" in text_of(app, "#banner")


# --- A slip's claim code held up at the counter ---------------------------------------------------


async def _anonymous_slip_claim_code(pilot: object, app: object) -> str:
    from terminal.app import CounterApp

    assert isinstance(app, CounterApp)
    await pilot.press("f3", "2", "5", ",", "0", "0", "enter")  # type: ignore[attr-defined]
    await settle(pilot)
    assert app.receipt_builder is not None
    slip = app.receipt_builder(app.last_recorded.event.id, app.lang)
    assert slip.claim_code and slip.claim_code.startswith("CC1:")
    return str(slip.claim_code)


async def test_a_claim_code_held_up_gets_its_own_sentence(tmp_path: Path) -> None:
    counter = make_counter(tmp_path)
    app = counter.app(lang="fr")
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        claim = await _anonymous_slip_claim_code(pilot, app)
        verdict = verify(claim, load_trust(counter.store.read()))
        assert not hasattr(verdict, "card_id")
        assert verdict.reason is RefusalReason.NOT_A_CARD
        assert verdict.key == "not_a_card.claim"
        await type_code(pilot, claim)
        banner = text_of(app, "#banner")
        assert "ticket" in banner and "application de la ville" in banner, banner
        assert "texte" not in banner


# --- The on-screen slip's QR ---------------------------------------------------------------------


def _read_half_blocks(lines: list[str]) -> list[str]:
    """Decode a QR drawn with half blocks, as a phone would read it off the screen."""
    qr_rows = [line for line in lines if line.strip() and set(line.strip()) <= set("▀▄█ ")]
    width = max(len(line) for line in qr_rows)
    pixels = np.full((len(qr_rows) * 2, width), 255, dtype=np.uint8)
    for y, line in enumerate(qr_rows):
        for x, char in enumerate(line):
            # Black modules on white cells: the upper half block is the upper module dark.
            if char in "▀█":
                pixels[2 * y, x] = 0
            if char in "▄█":
                pixels[2 * y + 1, x] = 0
    # Not the terminal's colours but its cells: pad with white and scale up like a camera.
    image = np.pad(pixels, 4, constant_values=255).repeat(8, axis=0).repeat(8, axis=1)
    # QR only, as the counter's scanner and a phone's QR reader: with every format on, zxing
    # once read a 1D barcode ("0795") in the modules of a random claim code (CI, lowest deps).
    found = zxingcpp.read_barcodes(image, formats=zxingcpp.BarcodeFormat.QRCode)
    return [result.text for result in found]


async def test_the_on_screen_slip_draws_the_claim_code_as_a_qr(tmp_path: Path) -> None:
    counter = make_counter(tmp_path)
    app = counter.app()
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        claim = await _anonymous_slip_claim_code(pilot, app)
        await pilot.press("ctrl+r")
        await settle(pilot)
        assert isinstance(app.screen, ReceiptDialog)
        shown = text_of(app, "#receipt-text")
        assert claim[4:40] not in shown.replace("\n", "")  # not 200 characters of text
        assert _read_half_blocks(shown.splitlines()) == [claim]
