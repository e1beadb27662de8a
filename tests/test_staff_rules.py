"""The staff rule where the ledger is the last word: voids, locked accounts (review R1)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

import loyalty.schema  # noqa: F401  (registers the migrations)
from loyalty.db import Store
from loyalty.ledger import Ledger, LedgerRefusal, RefusalReason
from loyalty.programs import Program
from loyalty.staff import Role, StaffBook, StaffError

NOW = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)
PROGRAM = Program(id="coffee", reward_threshold=2, max_stamps_per_day=50)


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    with Store.open(tmp_path / "ledger.db") as opened:
        yield opened


def count(store: Store) -> int:
    return int(store.read().execute("SELECT COUNT(*) FROM events").fetchone()[0])


def test_a_void_without_an_approver_is_refused_by_the_ledger_itself(store: Store) -> None:
    ledger = Ledger(store, shop_id="shop-1", terminal_id="t1")
    book = StaffBook(store)
    anna = book.add("Anna", Role.MANAGER, "1111")
    bert = book.add("Bert", Role.CASHIER, "2222")
    stamped = ledger.stamp("CT-A", PROGRAM, now=NOW, staff_id=bert.id)
    before = count(store)
    # By id and by receipt number: a caller that forgot the approval records nothing.
    for ref in (stamped.event.id, stamped.event.receipt_no):
        for who in (bert.id, anna.id):
            with pytest.raises(LedgerRefusal) as caught:
                ledger.void(ref, now=NOW, staff_id=who)
            assert caught.value.reason is RefusalReason.APPROVAL_NEEDED
            assert "void" in caught.value.text("en")
            assert caught.value.text("nl") != caught.value.text("en")
    assert count(store) == before
    # A manager approves their own void by naming themselves, as the app and commands do.
    done = ledger.void(stamped.event.receipt_no, now=NOW, staff_id=anna.id, approver_id=anna.id)
    assert (done.event.staff_id, done.event.approver_id) == (anna.id, anna.id)


def test_a_locked_account_records_and_approves_nothing(store: Store) -> None:
    ledger = Ledger(store, shop_id="shop-1", terminal_id="t1")
    book = StaffBook(store, max_failures=2)
    anna = book.add("Anna", Role.MANAGER, "1111")
    carl = book.add("Carl", Role.MANAGER, "3333")
    bert = book.add("Bert", Role.CASHIER, "2222")
    stamped = ledger.stamp("CT-A", PROGRAM, now=NOW, staff_id=bert.id)
    # Somebody tries Bert's and Anna's names with wrong PINs (another till, the lock screen).
    for name in ("Bert", "Anna"):
        for _ in range(2):
            with pytest.raises(StaffError):
                book.check_pin(name, "9999", now=NOW)
    assert book.get("Bert") is not None and book.get("Bert").locked  # type: ignore[union-attr]
    before = count(store)
    with pytest.raises(LedgerRefusal) as caught:
        ledger.stamp("CT-A", PROGRAM, now=NOW, staff_id=bert.id)  # still "serving" in an app
    assert caught.value.reason is RefusalReason.STAFF_LOCKED
    assert "Bert" in caught.value.text("de")
    with pytest.raises(LedgerRefusal) as caught:
        ledger.void(stamped.event.id, now=NOW, staff_id=carl.id, approver_id=anna.id)
    assert caught.value.reason is RefusalReason.STAFF_LOCKED
    assert "Anna" in caught.value.text("fr")
    assert count(store) == before
    book.unlock("Bert")
    book.unlock("Anna")
    ledger.void(stamped.event.id, now=NOW, staff_id=bert.id, approver_id=anna.id)
    assert count(store) == before + 1
