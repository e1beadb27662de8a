"""The staff rule where the ledger is the last word: voids, locked accounts (review R1)."""

from __future__ import annotations

import json
import multiprocessing
import os
import subprocess
import sys
import unicodedata
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

import loyalty.schema  # noqa: F401  (registers the migrations)
from config.settings import LimitSettings
from loyalty.db import Store
from loyalty.ledger import Ledger, LedgerRefusal, RefusalReason
from loyalty.programs import Program
from loyalty.staff import Role, StaffBook, StaffError, approval_needed
from tests.test_staff_cli import ANNA, BERT, Shop, add_bert

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


# What the real command line runs in one process, and then a child process of it: the PINs
# came in the environment, the child must not find them there.
_RUN_THEN_CHILD = """
import subprocess, sys
from terminal.cli import cli
try:
    cli(sys.argv[1:], prog_name="citie-terminal", standalone_mode=False)
finally:
    e = "__import__('os').environ"
    probe = f"print({e}.get('CITIE_STAFF_PIN'), {e}.get('CITIE_APPROVER_PIN'))"
    child = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True)
    print("child:", child.stdout.strip())
"""


def test_pins_given_in_the_environment_never_reach_a_child_process(tmp_path: Path) -> None:
    shop = Shop(tmp_path)
    shop.ok("staff", "add", "Anna", "--role", "manager", input=f"{ANNA}\n")
    add_bert(shop)
    card = shop.card()
    stamped = shop.json("stamp", card, "--staff", "bert", CITIE_STAFF_PIN=BERT)
    env = {k: v for k, v in os.environ.items() if not k.startswith("CITIE_")}
    env |= {"CITIE_STAFF_PIN": BERT, "CITIE_APPROVER_PIN": ANNA}
    data = ["--data-dir", str(shop.data_dir)]
    # A command that reads both PINs, and one that reads none (the app would be the same).
    for args in (
        ["void", str(stamped["receipt_no"]), "--staff", "bert", "--approver", "anna", "--json"],
        ["staff", "list", "--json"],
    ):
        run = subprocess.run(
            [sys.executable, "-c", _RUN_THEN_CHILD, *args, *data],
            capture_output=True,
            text=True,
            env=env,
            stdin=subprocess.DEVNULL,
            check=False,
        )
        assert run.returncode == 0, run.stderr
        first, child = run.stdout.strip().splitlines()
        assert child == "child: None None"
        assert BERT not in first and ANNA not in first
    voided = json.loads(run.stdout.splitlines()[0])
    assert [m["name"] for m in voided["staff"]] == ["Anna", "Bert"]


def test_a_typed_staff_name_is_echoed_without_control_characters(tmp_path: Path) -> None:
    shop = Shop(tmp_path)
    shop.ok("staff", "add", "Anna", "--role", "manager", input=f"{ANNA}\n")
    hostile = "\x1b]2;owned\x07\x1b[2JBob\r\n\u202eyrrah"
    card = shop.card()
    runs = [
        shop.refused("unknown_staff", "stamp", card, "--staff", hostile),
        shop.refused("unknown_staff", "stamp", card, "--staff", "anna", "--approver", hostile),
        shop.refused("unknown_staff", "history", "--staff", hostile),
        shop.refused("unknown_staff", "staff", "pin", hostile),
    ]
    for run in runs:
        assert "Bob" in run.stderr
        sentence = run.stderr.rstrip("\n")
        assert not [c for c in sentence if unicodedata.category(c).startswith("C")], sentence


def test_an_approval_limit_of_zero_asks_a_manager_every_time() -> None:
    """``approval_over_stamps = 0`` reads "more than 0 stamps need a manager": it must not
    turn the approval off (the strictest setting silently became the loosest)."""
    strict = LimitSettings(approval_over_stamps=0, approval_over_cents=0)
    assert approval_needed("stamp", limits=strict, count=1) == "stamps_over"
    assert approval_needed("purchase", limits=strict, amount_cents=1) == "purchase_over"
    assert approval_needed("voucher_spend", limits=strict, amount_cents=1) == "voucher_over"
    assert approval_needed("stamp", limits=strict) is None  # the program's own stamps
    # At the boundary: "above" the limit, never at it.
    edge = LimitSettings(approval_over_stamps=3, approval_over_cents=20000)
    assert approval_needed("stamp", limits=edge, count=3) is None
    assert approval_needed("stamp", limits=edge, count=4) == "stamps_over"
    assert approval_needed("purchase", limits=edge, amount_cents=20000) is None
    assert approval_needed("purchase", limits=edge, amount_cents=20001) == "purchase_over"


def test_a_look_alike_name_is_not_a_second_account(store: Store) -> None:
    """Names show in history, reports and slips: "Аnna" with a Cyrillic А, or a fullwidth
    "Ａｎｎａ", would read as Anna while being someone else's account."""
    book = StaffBook(store)
    anna = book.add("Anna", Role.MANAGER, "1111")
    with pytest.raises(StaffError) as caught:
        book.add("\u0410nna", Role.CASHIER, "2222")  # Cyrillic capital A
    assert caught.value.key == "staff.name_scripts"
    assert caught.value.text("nl") != caught.value.text("en")
    with pytest.raises(StaffError) as caught:
        book.add("\uff21\uff4e\uff4e\uff41", Role.CASHIER, "2222")  # fullwidth Anna
    assert caught.value.key == "staff.name_taken"
    found = book.get("\uff41\uff4e\uff4e\uff41")
    assert found is not None and found.id == anna.id
    # Alphabets may differ from one word to the next, and one alphabet alone is a name.
    assert book.add("Ольга Smith", Role.CASHIER, "3333").name == "Ольга Smith"
    assert book.add("Δημήτρης", Role.CASHIER, "4444").name == "Δημήτρης"
    assert [m.name for m in book.list()] == ["Anna", "Δημήτρης", "Ольга Smith"]


def _guess(path: str, start: int, results: Any) -> None:
    """One process's wrong PINs for Bert, an hour apart so no delay hides a try."""
    with Store.open(Path(path)) as store:
        book = StaffBook(store, max_failures=5)
        for i in range(12):
            try:
                book.check_pin("Bert", f"{9000 + start + i}", now=NOW + timedelta(hours=i))
            except StaffError as error:
                results.put(error.reason.value)


def test_two_processes_guessing_at_once_lock_the_account_after_exactly_max_failures(
    tmp_path: Path,
) -> None:
    path = tmp_path / "ledger.db"
    with Store.open(path) as store:
        book = StaffBook(store, max_failures=5)
        book.add("Anna", Role.MANAGER, "1111")
        book.add("Bert", Role.CASHIER, "2222")
    context = multiprocessing.get_context("spawn")
    results = context.Queue()
    guessers = [context.Process(target=_guess, args=(str(path), n * 100, results)) for n in (0, 1)]
    for guesser in guessers:
        guesser.start()
    for guesser in guessers:
        guesser.join(timeout=120)
        assert guesser.exitcode == 0
    answers = [results.get(timeout=10) for _ in range(24)]
    # No failure is lost between the two: 4 "wrong PIN, n left", then locked, whoever asked.
    assert answers.count("wrong_pin") == 4
    assert set(answers) <= {"wrong_pin", "locked", "throttled"}
    with Store.open(path) as store:
        book = StaffBook(store, max_failures=5)
        bert = book.get("Bert")
        assert bert is not None and bert.locked and bert.failures == 5
        with pytest.raises(StaffError) as caught:
            book.check_pin("Bert", "2222", now=NOW + timedelta(days=2))
        assert caught.value.reason.value == "locked"


def test_a_clock_set_back_does_not_stretch_the_wait_after_wrong_pins(store: Store) -> None:
    book = StaffBook(store, max_failures=5)
    book.add("Anna", Role.MANAGER, "1111")
    for _ in range(2):
        with pytest.raises(StaffError):
            book.check_pin("Anna", "9999", now=NOW)
    # The clock is set back an hour (by hand, or a time server correcting it).
    back = NOW - timedelta(hours=1)
    with pytest.raises(StaffError) as caught:
        book.check_pin("Anna", "1111", now=back)
    assert caught.value.reason.value == "throttled"
    assert caught.value.retry_after == 1  # the delay two failures set, not an hour and a second
    assert book.check_pin("Anna", "1111", now=back + timedelta(seconds=2)).failures == 0
    # Never shorter: on a steady clock the delay stands in full (3 failures: 2 s).
    for seconds in (0, 0, 2):
        with pytest.raises(StaffError) as caught:
            book.check_pin("Anna", "9999", now=NOW + timedelta(seconds=seconds))
        assert caught.value.reason.value == "wrong_pin"
    with pytest.raises(StaffError) as caught:
        book.check_pin("Anna", "1111", now=NOW + timedelta(seconds=3))
    assert caught.value.reason.value == "throttled" and caught.value.retry_after == 1
    assert book.check_pin("Anna", "1111", now=NOW + timedelta(seconds=4)).failures == 0
