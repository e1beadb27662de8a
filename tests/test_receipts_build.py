"""Receipts built from a real ledger, rendered, and read back by the real scanner decoders."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import cv2
import numpy as np
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from config.settings import ProgramSettings, Settings, ShopSettings, StorageSettings
from loyalty import schema as _schema  # noqa: F401  (registers the ledger migrations)
from loyalty.claims import Claim, verify_claim
from loyalty.db import Store
from loyalty.i18n import LANGUAGES
from loyalty.keys import generate_key_pair, load_private_key
from loyalty.ledger import Ledger
from loyalty.programs import OfflineLimits, Program
from receipts.build import ReceiptNotFound, latest_receipt_no, receipt_for
from receipts.escpos import render_escpos
from receipts.png import render_png
from receipts.text import WIDTHS, render_text
from scanner.decoders import ZxingDecoder, to_grey

NOW = datetime(2026, 3, 14, 9, 30, tzinfo=UTC)
CARD = "CT-7KQ2-M9XD-AB3C"


@dataclass
class Counter:
    settings: Settings
    store: Store
    ledger: Ledger
    program: Program
    key: Ed25519PrivateKey


@pytest.fixture
def counter(tmp_path: Path) -> Iterator[Counter]:
    settings = Settings(
        shop=ShopSettings(name="Bakkerij Ébène & Zonen", address="Ooststraat 5, 8800 Roeselare"),
        storage=StorageSettings(data_dir=tmp_path),
        program=ProgramSettings(cents_per_stamp=1000, reward_name="een gratis koffie"),
    )
    generate_key_pair(settings.private_key_path, settings.public_key_path)
    store = Store.open(settings.database_path)
    ledger = Ledger(store, shop_id=settings.shop.id, terminal_id=settings.terminal.id)
    yield Counter(
        settings,
        store,
        ledger,
        Program.from_settings(settings.program),
        load_private_key(settings.private_key_path),
    )
    store.close()


def decode_png(data: bytes) -> list[str]:
    image = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_GRAYSCALE)
    return [d.text for d in ZxingDecoder().decode(to_grey(image))]


def test_purchase_with_a_card_shows_stamps_balance_and_progress(counter: Counter) -> None:
    counter.ledger.stamp(CARD, counter.program, count=4, now=NOW)
    recorded = counter.ledger.purchase(CARD, 2550, counter.program, now=NOW + timedelta(minutes=1))
    receipt = receipt_for(counter.ledger, recorded.event.receipt_no, counter.settings, "nl")
    assert receipt.receipt_no == f"{counter.settings.terminal.id}-2"
    assert receipt.stamps == recorded.event.stamps == 1  # daily limit 5: 4 + 1
    assert receipt.balance == 5
    assert receipt.progress == "5/10, nog 5 voor een gratis koffie"
    assert receipt.time_text.endswith("10:31")  # Brussels, winter time
    assert receipt.claim_code is None
    text = render_text(receipt, 48)
    assert "€\u00a025,50" in text and "Verdiende stempels" in text
    assert "Daglimiet" in text  # the rule's explanation is printed
    assert "Bakkerij Ébène & Zonen" in text


def test_every_kind_builds_in_every_language(counter: Counter) -> None:
    ledger, program = counter.ledger, counter.program
    ledger.stamp(CARD, program, count=5, now=NOW - timedelta(days=2))
    ledger.stamp(CARD, program, count=5, now=NOW - timedelta(days=1))
    redeem = ledger.redeem(CARD, program, _limits(), now=NOW)
    purchase = ledger.purchase(CARD, 1234, program, now=NOW + timedelta(minutes=5))
    void = ledger.void(purchase.event.id, now=NOW + timedelta(minutes=6))
    for language in LANGUAGES:
        for ref in (redeem.event.id, purchase.event.receipt_no, void.event.receipt_no):
            receipt = receipt_for(ledger, ref, counter.settings, language)
            for width in WIDTHS:
                assert max(map(len, render_text(receipt, width).splitlines())) <= width
    nl_redeem = receipt_for(ledger, redeem.event.id, counter.settings, "nl")
    assert nl_redeem.reward == "Beloning: een gratis koffie"
    assert nl_redeem.stamps == -10 and nl_redeem.balance == 0
    nl_void = receipt_for(ledger, void.event.receipt_no, counter.settings, "nl")
    assert nl_void.void_notice == f"Annuleert bon {purchase.event.receipt_no}"
    assert nl_void.total is not None and nl_void.total.amount_cents == -1234
    # The cancelled slip, printed again, says what cancelled it and keeps its old balance.
    again = receipt_for(ledger, purchase.event.receipt_no, counter.settings, "fr")
    assert again.void_notice == f"ANNULÉ par le bon {void.event.receipt_no}"
    assert again.balance == 2  # 1 per visit + 1 for 12,34


def test_latest_and_unknown_receipts(counter: Counter) -> None:
    assert latest_receipt_no(counter.ledger) is None
    recorded = counter.ledger.purchase(None, 990, counter.program, now=NOW)
    assert latest_receipt_no(counter.ledger) == recorded.event.receipt_no
    with pytest.raises(ReceiptNotFound) as caught:
        receipt_for(counter.ledger, "nope-\x1b[31m", counter.settings, "de")
    assert caught.value.reason == "unknown_receipt"
    assert "\x1b" not in str(caught.value) and "Kein Beleg" in caught.value.text("de")


def test_anonymous_purchase_claim_code_scans_back_from_the_png_and_verifies(
    counter: Counter,
) -> None:
    recorded = counter.ledger.purchase(None, 2550, counter.program, now=NOW)
    receipt = receipt_for(counter.ledger, recorded.event.receipt_no, counter.settings, "fr")
    assert receipt.claim_code is not None and receipt.balance is None
    assert receipt.stamps == 3  # 1 per visit + 2 for 25,50 at 1 per 10,00
    decoded = decode_png(render_png(receipt, 32))
    assert decoded == [receipt.claim_code]
    claim = verify_claim(decoded[0], {counter.settings.terminal.id: counter.key.public_key()})
    assert isinstance(claim, Claim)
    assert claim.event_ids == (recorded.event.id,)
    assert claim.receipt_no == recorded.event.receipt_no
    assert (claim.amount_cents, claim.stamps, claim.shop_id) == (2550, 3, counter.settings.shop.id)
    assert claim.occurred_at == NOW
    assert claim.program_id == counter.program.id
    # Printing it again gives the very same code (the platform credits it once anyway).
    again = receipt_for(counter.ledger, recorded.event.id, counter.settings, "nl")
    assert again.claim_code == receipt.claim_code
    # The ESC/POS slip carries the same code in its QR store command.
    assert receipt.claim_code.encode() in render_escpos(receipt, width=32)


def test_a_voided_anonymous_purchase_prints_no_claim_code(counter: Counter) -> None:
    recorded = counter.ledger.purchase(None, 2550, counter.program, now=NOW)
    counter.ledger.void(recorded.event.id, now=NOW + timedelta(minutes=1))
    receipt = receipt_for(counter.ledger, recorded.event.id, counter.settings, "en")
    assert receipt.claim_code is None
    assert receipt.void_notice is not None and receipt.void_notice.startswith("CANCELLED")


def _limits() -> OfflineLimits:
    return OfflineLimits(per_card_per_day=5, per_terminal_per_day=50, max_hours_since_sync=0)
