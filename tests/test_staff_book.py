"""Staff accounts on a real ledger file: hashing, throttle, lock, removal, and the ledger's rule."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

import loyalty.schema  # noqa: F401  (registers the migrations)
from config.settings import LimitSettings
from loyalty.db import Store
from loyalty.i18n import LANGUAGES
from loyalty.ledger import Ledger, LedgerRefusal, RefusalReason
from loyalty.programs import OfflineLimits, Program
from loyalty.staff import (
    CATALOG,
    Role,
    StaffBook,
    StaffError,
    StaffReason,
    approval_needed,
    approval_text,
    delay_after,
    pin_matches,
)

NOW = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)
PROGRAM = Program(id="coffee", reward_threshold=2, max_stamps_per_day=50)


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    with Store.open(tmp_path / "ledger.db") as opened:
        yield opened


@pytest.fixture
def book(store: Store) -> StaffBook:
    return StaffBook(store, max_failures=5)


def refused(reason: StaffReason) -> pytest.RaisesExc[StaffError]:
    return pytest.raises(StaffError, check=lambda exc: exc.reason is reason)


def hashes(store: Store) -> list[str]:
    return [str(r[0]) for r in store.read().execute("SELECT pin_hash FROM staff ORDER BY name")]


def test_pin_is_kept_only_as_a_salted_scrypt_hash(book: StaffBook, store: Store) -> None:
    book.add("Anna", Role.MANAGER, "482913")
    book.add("Bert", Role.CASHIER, "482913")
    first, second = hashes(store)
    for stored in (first, second):
        assert "482913" not in stored
        scheme, n, r, p, _salt, _digest = stored.split("$")
        assert scheme == "scrypt" and int(n) >= 2**14 and int(r) >= 8 and int(p) >= 1
    # Same PIN, different salt: the two hashes share nothing an attacker could match.
    assert first.split("$")[4] != second.split("$")[4]
    assert first.split("$")[5] != second.split("$")[5]
    assert pin_matches("482913", first) and not pin_matches("482914", first)
    # Nothing in the whole file holds the PIN in clear.
    store.close()
    assert b"482913" not in Path(store.path).read_bytes()


def test_names_are_unique_whatever_the_case_and_clean(book: StaffBook) -> None:
    book.add("Anna Peeters", Role.MANAGER, "1234")
    with refused(StaffReason.NAME_TAKEN):
        book.add("anna  PEETERS", Role.CASHIER, "5678")
    for bad in ("", " ", "x" * 41, "Eve\u202etxt", "tab\there", "st-1a2b3c4d", "=HYPERLINK(1)"):
        with refused(StaffReason.NAME_FORMAT):
            book.add(bad, Role.CASHIER, "5678")
    for pin in ("123", "123456789", "12a4", "١٢٣٤", " 1234"):
        with refused(StaffReason.PIN_FORMAT):
            book.add("Bert", Role.CASHIER, pin)
    member = book.get("ANNA peeters")
    assert member is not None and member.name == "Anna Peeters" and member.id.startswith("st-")
    assert book.get(member.id) == member


def test_first_account_is_a_manager(book: StaffBook) -> None:
    assert not book.any()
    with refused(StaffReason.MANAGER_FIRST):
        book.add("Bert", Role.CASHIER, "1234")
    book.add("Anna", Role.MANAGER, "1234")
    book.add("Bert", Role.CASHIER, "1234")
    assert book.any()
    assert [m.name for m in book.list()] == ["Anna", "Bert"]


def test_throttle_grows_and_survives_a_reopen(tmp_path: Path) -> None:
    path = tmp_path / "ledger.db"
    with Store.open(path) as store:
        book = StaffBook(store, max_failures=6)
        book.add("Anna", Role.MANAGER, "1111")
        book.add("Bert", Role.CASHIER, "2222")
        with refused(StaffReason.WRONG_PIN):
            book.check_pin("Bert", "9999", now=NOW)
        # First failure: no wait. Second: 1 s, then 2 s, 4 s...
        with refused(StaffReason.WRONG_PIN):
            book.check_pin("Bert", "9999", now=NOW)
        with refused(StaffReason.THROTTLED) as caught:
            book.check_pin("Bert", "2222", now=NOW)  # even the right PIN waits
        assert caught.value.retry_after == 1
        with refused(StaffReason.WRONG_PIN):
            book.check_pin("Bert", "9999", now=NOW + timedelta(seconds=1))
    assert [delay_after(n) for n in range(1, 6)] == [0, 1, 2, 4, 8]
    # A restart does not reset the wait nor the count.
    with Store.open(path) as store:
        book = StaffBook(store, max_failures=6)
        with refused(StaffReason.THROTTLED) as caught:
            book.check_pin("Bert", "2222", now=NOW + timedelta(seconds=2))
        assert caught.value.retry_after == 1
        member = book.get("Bert")
        assert member is not None and member.failures == 3
        # A throttled try is not counted; the right PIN after the wait clears the failures.
        assert book.check_pin("Bert", "2222", now=NOW + timedelta(seconds=3)).failures == 0
        assert book.check_pin("Bert", "2222", now=NOW + timedelta(seconds=3)).name == "Bert"


def test_locked_at_max_failures_until_a_manager_unlocks(book: StaffBook) -> None:
    book.add("Anna", Role.MANAGER, "1111")
    book.add("Bert", Role.CASHIER, "2222")
    moment = NOW
    for n in range(1, 5):
        with refused(StaffReason.WRONG_PIN) as caught:
            book.check_pin("Bert", "0000", now=moment)
        assert caught.value.params["left"] == 5 - n
        moment += timedelta(seconds=delay_after(n))
    with refused(StaffReason.LOCKED):
        book.check_pin("Bert", "0000", now=moment)
    later = moment + timedelta(days=1)
    with refused(StaffReason.LOCKED):
        book.check_pin("Bert", "2222", now=later)
    member = book.get("Bert")
    assert member is not None and member.locked and member.failures == 5
    # A cashier cannot approve; a manager's PIN is checked as any other.
    with refused(StaffReason.NOT_A_MANAGER):
        book.check_manager("Bert", "2222", now=later)
    assert book.check_manager("Anna", "1111", now=later).is_manager
    book.unlock("Bert")
    assert book.check_pin("Bert", "2222", now=later).locked is False


def test_unknown_names_and_wrong_pins_never_say_the_pin(book: StaffBook) -> None:
    book.add("Anna", Role.MANAGER, "1111")
    with refused(StaffReason.UNKNOWN_STAFF) as unknown:
        book.check_pin("Zoe", "7777", now=NOW)
    with refused(StaffReason.WRONG_PIN) as wrong:
        book.check_pin("Anna", "7777", now=NOW)
    for error in (unknown.value, wrong.value):
        for language in LANGUAGES:
            assert "7777" not in error.text(language)
        assert "7777" not in str(error) and "7777" not in repr(error.args)


def test_set_pin_changes_it_and_clears_the_failures(book: StaffBook) -> None:
    book.add("Anna", Role.MANAGER, "1111")
    with refused(StaffReason.WRONG_PIN):
        book.check_pin("Anna", "0000", now=NOW)
    book.set_pin("Anna", "4321")
    with refused(StaffReason.WRONG_PIN):
        book.check_pin("Anna", "1111", now=NOW)
    book.set_pin("Anna", "4321")
    assert book.check_pin("Anna", "4321", now=NOW).failures == 0


def test_last_manager_stays_and_removed_staff_keep_their_id(book: StaffBook) -> None:
    anna = book.add("Anna", Role.MANAGER, "1111")
    bert = book.add("Bert", Role.CASHIER, "2222")
    with refused(StaffReason.LAST_MANAGER):
        book.remove("Anna")
    book.remove("Bert")
    assert [m.name for m in book.list()] == ["Anna"]
    assert book.get("Bert") is None
    gone = book.get(bert.id, removed=True)
    assert gone is not None and gone.removed_at is not None
    assert book.names() == {anna.id: "Anna", bert.id: "Bert"}
    with refused(StaffReason.UNKNOWN_STAFF):
        book.check_pin("Bert", "2222", now=NOW)
    # The name is free again; the new Bert is another account.
    again = book.add("bert", Role.MANAGER, "3333")
    assert again.id != bert.id
    book.remove("Anna")  # no longer the last manager
    assert [m.name for m in book.list()] == ["bert"]


def test_ledger_refuses_events_without_staff_once_staff_exist(store: Store) -> None:
    ledger = Ledger(store, shop_id="shop-1", terminal_id="t1")
    ledger.stamp("CT-A", PROGRAM, now=NOW)  # no staff yet: anonymous as before
    book = StaffBook(store)
    anna = book.add("Anna", Role.MANAGER, "1111")
    bert = book.add("Bert", Role.CASHIER, "2222")
    before = store.read().execute("SELECT COUNT(*) FROM events").fetchone()[0]
    limits = OfflineLimits(per_card_per_day=5, per_terminal_per_day=5, max_hours_since_sync=0)
    writes = [
        lambda **kw: ledger.stamp("CT-A", PROGRAM, now=NOW, **kw),
        lambda **kw: ledger.purchase(None, 500, PROGRAM, now=NOW, **kw),
        lambda **kw: ledger.redeem("CT-A", PROGRAM, limits, now=NOW, **kw),
        lambda **kw: ledger.void("t1-1", now=NOW, **kw),
    ]
    for write in writes:
        with pytest.raises(LedgerRefusal) as caught:
            write()
        assert caught.value.reason is RefusalReason.STAFF_REQUIRED
        assert caught.value.text("fr") != caught.value.text("en")
        with pytest.raises(LedgerRefusal) as caught:
            write(staff_id="st-00000000")
        assert caught.value.reason is RefusalReason.UNKNOWN_STAFF
        with pytest.raises(LedgerRefusal) as caught:
            write(staff_id=bert.id, approver_id=bert.id)
        assert caught.value.reason is RefusalReason.APPROVER_NOT_MANAGER
    assert store.read().execute("SELECT COUNT(*) FROM events").fetchone()[0] == before
    stamped = ledger.stamp("CT-A", PROGRAM, now=NOW, staff_id=bert.id)
    voided = ledger.void(stamped.event.id, now=NOW, staff_id=bert.id, approver_id=anna.id)
    assert (stamped.event.staff_id, stamped.event.approver_id) == (bert.id, None)
    assert (voided.event.staff_id, voided.event.approver_id) == (bert.id, anna.id)
    row = store.read().execute(
        "SELECT staff_id, approver_id FROM events WHERE id = ?", [voided.event.id]
    )
    assert row.fetchone() == (bert.id, anna.id)
    assert ledger.event(voided.event.id) == voided.event
    # A removed account records nothing more.
    book.add("Carl", Role.MANAGER, "3333")
    book.remove("Bert")
    with pytest.raises(LedgerRefusal) as caught:
        ledger.stamp("CT-A", PROGRAM, now=NOW, staff_id=bert.id)
    assert caught.value.reason is RefusalReason.UNKNOWN_STAFF


def test_manager_override_redeems_beyond_the_offline_allowance(store: Store) -> None:
    ledger = Ledger(store, shop_id="shop-1", terminal_id="t1")
    book = StaffBook(store)
    anna = book.add("Anna", Role.MANAGER, "1111")
    bert = book.add("Bert", Role.CASHIER, "2222")
    limits = OfflineLimits(per_card_per_day=1, per_terminal_per_day=5, max_hours_since_sync=0)
    ledger.stamp("CT-A", PROGRAM, count=4, now=NOW, staff_id=bert.id)
    ledger.redeem("CT-A", PROGRAM, limits, now=NOW, staff_id=bert.id)
    with pytest.raises(LedgerRefusal) as caught:
        ledger.redeem("CT-A", PROGRAM, limits, now=NOW, staff_id=bert.id)
    assert caught.value.reason is RefusalReason.OFFLINE_CARD_LIMIT
    with pytest.raises(LedgerRefusal) as caught:
        ledger.redeem("CT-A", PROGRAM, limits, now=NOW, staff_id=bert.id, override=True)
    assert caught.value.reason is RefusalReason.APPROVAL_NEEDED
    with pytest.raises(LedgerRefusal) as caught:
        ledger.redeem(
            "CT-A", PROGRAM, limits, now=NOW, staff_id=bert.id, approver_id=bert.id, override=True
        )
    assert caught.value.reason is RefusalReason.APPROVER_NOT_MANAGER
    done = ledger.redeem(
        "CT-A", PROGRAM, limits, now=NOW, staff_id=bert.id, approver_id=anna.id, override=True
    )
    assert done.event.approver_id == anna.id and done.event.detail["override"] is True
    # Never beyond the card's stamps, whoever approves.
    with pytest.raises(LedgerRefusal) as caught:
        ledger.redeem(
            "CT-A", PROGRAM, limits, now=NOW, staff_id=bert.id, approver_id=anna.id, override=True
        )
    assert caught.value.reason is RefusalReason.BELOW_THRESHOLD


def test_approval_needed_follows_the_limits() -> None:
    limits = LimitSettings(approval_over_stamps=3, approval_over_cents=20000)
    assert approval_needed("void", limits=limits) == "void"
    assert approval_needed("stamp", limits=limits) is None
    assert approval_needed("stamp", limits=limits, count=3) is None
    assert approval_needed("stamp", limits=limits, count=4) == "stamps_over"
    assert approval_needed("purchase", limits=limits, amount_cents=20000) is None
    assert approval_needed("purchase", limits=limits, amount_cents=20001) == "purchase_over"
    assert approval_needed("redeem", limits=limits, beyond_offline=True) is None
    on = LimitSettings(allow_manager_override=True)
    assert approval_needed("redeem", limits=on, beyond_offline=True) == "redeem_override"
    assert approval_needed("redeem", limits=on) is None
    # The largest values the settings take ask for no approval at all.
    off = LimitSettings(approval_over_stamps=1000, approval_over_cents=100_000_000)
    assert approval_needed("stamp", limits=off, count=99) is None
    assert approval_needed("purchase", limits=off, amount_cents=10**8) is None
    assert "200,00" in approval_text("purchase_over", "fr", limits=limits)


def test_every_staff_sentence_is_in_four_languages() -> None:
    messages = CATALOG.messages
    assert messages
    for key, by_language in messages.items():
        assert set(by_language) == set(LANGUAGES), key
