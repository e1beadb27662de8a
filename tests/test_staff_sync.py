"""Issue 14 over real HTTP: the staff member and the approver of each event reach the platform.

A paired terminal with staff accounts records through its own ledger (the rules apply), syncs
to the reference platform on 127.0.0.1 (SQLite and PostgreSQL stores), and the platform keeps
who recorded and who approved each event: ids, never names or PINs.
"""

from __future__ import annotations

from collections.abc import Callable

from loyalty.ledger import Ledger
from loyalty.programs import Program
from loyalty.staff import Role, StaffBook
from sync.job import run_sync
from tests.conftest_platform import FAST, PairedTerminal, RunningPlatform

PROGRAM = Program(id="coffee", reward_threshold=10, max_stamps_per_day=5)


def test_staff_and_approver_ids_reach_the_platform(
    platform_factory: Callable[..., RunningPlatform],
    terminal_factory: Callable[..., PairedTerminal],
) -> None:
    platform = platform_factory()
    terminal = terminal_factory(platform)
    book = StaffBook(terminal.store)
    anna = book.add("Anna", Role.MANAGER, "48213957")
    bert = book.add("Bert", Role.CASHIER, "73950482")
    ledger = Ledger(terminal.store, shop_id=terminal.shop_id, terminal_id=terminal.terminal_id)
    stamped = ledger.stamp("CT-7KQ2-M9XD-4HTW", PROGRAM, staff_id=bert.id)
    voided = ledger.void(stamped.event.id, staff_id=bert.id, approver_id=anna.id)
    bought = ledger.purchase(None, 1250, PROGRAM, staff_id=anna.id)

    report = run_sync(terminal.settings, terminal.store, policy=FAST, backup=False)

    assert report.exit_code == 0, report.to_json()
    rows = platform.query(
        "SELECT id, staff_id, approver_id FROM events WHERE terminal_id = ?",
        [terminal.terminal_id],
    )
    assert {row[0]: (row[1], row[2]) for row in rows} == {
        stamped.event.id: (bert.id, None),
        voided.event.id: (bert.id, anna.id),
        bought.event.id: (anna.id, None),
    }
    # What travelled names ids only: no name and no PIN anywhere in what the platform kept.
    kept = str(platform.query("SELECT * FROM events WHERE terminal_id = ?", [terminal.terminal_id]))
    for secret in ("Anna", "Bert", "48213957", "73950482"):
        assert secret not in kept
    # A resend is a duplicate, not a second event: the staff fields are part of the event.
    again = run_sync(terminal.settings, terminal.store, policy=FAST, backup=False)
    assert again.exit_code == 0
    assert len(platform.event_ids(terminal.terminal_id)) == 3
