"""Staff at the counter (issue 14), driven through Pilot on a real ledger with real staff accounts.

The app starts locked when staff accounts exist; a PIN (checked by ``loyalty.staff`` with its
real scrypt hash, throttle and lock-out) opens it for one person, whose id every recorded event
carries; a cashier's void or large purchase waits for a manager's name and PIN; the customer
panel clears and the counter locks again by an injected idle clock, so no test sleeps out a
timeout. Keys are typed at a person's pace on an injected key clock (a burst as fast as a
scanner's is a card, never a PIN).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from loyalty.ledger import EventKind
from loyalty.staff import StaffBook, StaffMember
from terminal import messages as msg
from terminal.app import CounterApp
from terminal.dialogs.approval import ApprovalDialog
from terminal.screens.counter import CounterScreen
from terminal.screens.history import HistoryScreen
from terminal.screens.lock import LockScreen
from tests.test_app_kit import SIZE, Counter, make_counter, settle, text_of, type_code
from tests.test_screens_fit import screen_text

CARD = "CT-STAFF-0001"
ANNA_PIN = "4821"
BRAM_PIN = "135790"
PERSON_GAP_S = 0.18


@dataclass
class Ticks:
    """A monotonic clock the test moves by hand (the idle lock and the panel clearing)."""

    now: float = 5000.0

    def __call__(self) -> float:
        return self.now


@dataclass
class PersonKeys:
    """The key clock: every key comes a person's gap after the one before."""

    now: float = 1000.0

    def __call__(self) -> float:
        self.now += PERSON_GAP_S
        return self.now


@dataclass
class Shop:
    """A counter with two staff accounts: Anna Peeters (manager), Bram De Smet (cashier)."""

    counter: Counter
    anna: StaffMember
    bram: StaffMember
    ticks: Ticks

    def app(self, **kwargs: Any) -> CounterApp:
        return self.counter.app(idle_clock=self.ticks, key_clock=PersonKeys(), **kwargs)


def shop(tmp_path: Path, overrides: dict[str, dict[str, Any]] | None = None) -> Shop:
    counter = make_counter(tmp_path, overrides=overrides)
    book = StaffBook(counter.store, max_failures=counter.settings.staff.max_failures)
    anna = book.add("Anna Peeters", "manager", ANNA_PIN)
    bram = book.add("Bram De Smet", "cashier", BRAM_PIN)
    return Shop(counter, anna, bram, Ticks())


async def type_keys(pilot: Any, text: str) -> None:
    for char in text:
        await pilot.press("space" if char == " " else char)


async def unlock(pilot: Any, name: str, pin: str) -> None:
    """Type a name, Enter, the PIN, Enter (as a person types them), and wait for the check."""
    assert isinstance(pilot.app.screen, LockScreen)
    await type_keys(pilot, name)
    await pilot.press("enter")
    await type_keys(pilot, pin)
    await pilot.press("enter")
    await settle(pilot)


def lock_message(app: CounterApp) -> str:
    return text_of(app, "#lock-message")


async def wait_for(pilot: Any, condition: Callable[[], bool], tries: int = 600) -> None:
    """Let the app's idle timer run until ``condition()`` holds (the clock is moved by hand).

    ``tries`` is a hang guard, not a measure: on two shared cores with the whole suite running,
    a table's idle-time measuring took over the 5 s the old bound gave it.
    """
    for _ in range(tries):
        if condition():
            return
        await pilot.pause(0.05)
    raise AssertionError("condition not met")


async def test_a_locked_counter_refuses_every_action_until_a_valid_pin(tmp_path: Path) -> None:
    place = shop(tmp_path)
    counter = place.counter
    code = counter.card(CARD)
    app = place.app()
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        assert isinstance(app.screen, LockScreen)
        assert "Anna Peeters" in screen_text(app) and "Bram De Smet" in screen_text(app)

        # The counter's keys do nothing behind the lock.
        await pilot.press("f2", "f3", "f4", "f5", "ctrl+l")
        await settle(pilot)
        assert isinstance(app.screen, LockScreen)

        # A card shown to the camera is refused with a sentence; nothing is read or kept.
        app.post_message(msg.CodeScanned(code, "camera"))
        await settle(pilot)
        assert app.card is None
        assert "counter is locked" in lock_message(app)
        assert "nothing was recorded" in lock_message(app)

        # A keyboard-wedge burst into the name field is a card, not a name: refused the same.
        name = app.screen.query_one("#lock-name")
        name.value = code  # type: ignore[attr-defined]
        await pilot.press("enter")
        await settle(pilot)
        assert "counter is locked" in lock_message(app)

        # Whatever reaches the app's write methods while locked is refused too.
        app.record_stamp(CARD)
        app.record_purchase(None, 500)
        app.record_redeem(CARD)
        app.record_void("nothing", None)
        await settle(pilot)
        assert counter.ledger.recent() == []
        assert StaffBook(counter.store).get("Bram De Smet").failures == 0  # type: ignore[union-attr]

        await unlock(pilot, "bram", BRAM_PIN)
        assert isinstance(app.screen, CounterScreen)
        assert app.serving is not None and app.serving.id == place.bram.id
        assert "Serving: Bram" in text_of(app, "#status")

        await type_code(pilot, code)
        await pilot.press("f2")
        await settle(pilot)
        [stamp] = counter.ledger.recent()
        assert stamp.kind is EventKind.STAMP
        assert (stamp.staff_id, stamp.approver_id) == (place.bram.id, None)

        # The customer's turn ended: the panel is a summary, F2 acts on nobody's card.
        assert "done" in text_of(app, "#card-title")
        await pilot.press("f2")
        await settle(pilot)
        assert "turn is over" in text_of(app, "#banner")
        assert len(counter.ledger.recent()) == 1

        # Ctrl+L locks at once; the next person opens it for themselves.
        await pilot.press("ctrl+l")
        await settle(pilot)
        assert isinstance(app.screen, LockScreen)
        assert "Bram" not in text_of(app, "#status")
        await unlock(pilot, "anna", ANNA_PIN)
        await type_code(pilot, code)
        await pilot.press("f3", "5", "enter")
        await settle(pilot)
        purchase = counter.ledger.recent()[0]
        assert (purchase.kind, purchase.staff_id) == (EventKind.PURCHASE, place.anna.id)


async def test_a_cashiers_void_asks_for_a_manager_pin_and_records_both(tmp_path: Path) -> None:
    place = shop(tmp_path)
    counter = place.counter
    app = place.app()
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await unlock(pilot, "bram", BRAM_PIN)
        await type_code(pilot, counter.card(CARD))
        await pilot.press("f2")
        await settle(pilot)
        assert counter.ledger.balance(CARD).total == 1

        await pilot.press("f5")
        await settle(pilot)
        assert isinstance(app.screen, HistoryScreen)
        await pilot.press("delete", "enter")  # Delete, and Enter on "Void demo-t1-1?"
        await settle(pilot)
        assert isinstance(app.screen, ApprovalDialog)
        assert "A void needs a manager's approval" in text_of(app, "#approval-reason")
        assert "demo-t1-1" in text_of(app, "#approval-what")
        assert "Managers: Anna" in text_of(app, "#approval-managers")

        # Escape: no approval, nothing recorded, said so.
        await pilot.press("escape")
        await settle(pilot)
        assert isinstance(app.screen, HistoryScreen)
        assert len(counter.ledger.recent()) == 1
        assert any("nothing was recorded" in str(n.message) for n in app._notifications)

        await pilot.press("delete", "enter")
        await settle(pilot)
        # A cashier cannot approve, even their own void with their own right PIN.
        await type_keys(pilot, "bram")
        await pilot.press("enter")
        await type_keys(pilot, BRAM_PIN)
        await pilot.press("enter")
        await settle(pilot)
        assert isinstance(app.screen, ApprovalDialog)
        assert "not a manager" in text_of(app, "#approval-message")
        # A manager's wrong PIN is refused (and counted), the right one approves.
        name = app.screen.query_one("#approval-name")
        name.value = ""  # type: ignore[attr-defined]
        name.focus()
        await type_keys(pilot, "anna")
        await pilot.press("enter")
        await type_keys(pilot, "0000")
        await pilot.press("enter")
        await settle(pilot)
        assert "Wrong PIN for Anna Peeters" in text_of(app, "#approval-message")
        assert len(counter.ledger.recent()) == 1
        await type_keys(pilot, ANNA_PIN)
        await pilot.press("enter")
        await settle(pilot)

        void, stamp = counter.ledger.recent()
        assert void.kind is EventKind.VOID and void.voids == stamp.id
        assert (void.staff_id, void.approver_id) == (place.bram.id, place.anna.id)
        assert counter.ledger.balance(CARD).total == 0
        # The history names both, by first name.
        assert isinstance(app.screen, HistoryScreen)
        # (The table measures its columns when idle: wait for that, not for a time.)
        await wait_for(pilot, lambda: "Bram (ok Anna)" in screen_text(app))
        assert "Staff" in screen_text(app)


async def test_a_purchase_over_the_limit_waits_for_a_manager(tmp_path: Path) -> None:
    place = shop(tmp_path, overrides={"limits": {"approval_over_cents": 10_000}})
    counter = place.counter
    app = place.app()
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await unlock(pilot, "bram", BRAM_PIN)
        await pilot.press("f3", "9", "9", "enter")  # under the limit: no question
        await settle(pilot)
        assert counter.ledger.recent()[0].approver_id is None
        await pilot.press("f3", "1", "5", "0", "enter")  # 150.00 > 100.00
        await settle(pilot)
        assert isinstance(app.screen, ApprovalDialog)
        assert "above €100.00" in text_of(app, "#approval-reason")
        assert len(counter.ledger.recent()) == 1
        await type_keys(pilot, "anna")
        await pilot.press("enter")
        await type_keys(pilot, ANNA_PIN)
        await pilot.press("enter")
        await settle(pilot)
        event = counter.ledger.recent()[0]
        assert (event.amount_cents, event.staff_id, event.approver_id) == (
            15_000,
            place.bram.id,
            place.anna.id,
        )


async def test_a_manager_gives_a_reward_beyond_the_offline_allowance(tmp_path: Path) -> None:
    place = shop(
        tmp_path,
        overrides={
            "limits": {"allow_manager_override": True, "offline_redemptions_per_card": 0},
            "program": {"stamps_per_visit": 10, "max_stamps_per_day": 50},
        },
    )
    counter = place.counter
    app = place.app()
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await unlock(pilot, "bram", BRAM_PIN)
        code = counter.card(CARD)
        await type_code(pilot, code)
        await pilot.press("f2")
        await settle(pilot)
        await type_code(pilot, code)  # scanned again for the next action
        await pilot.press("f4", "enter")
        await settle(pilot)
        # Refused beyond the allowance; the override asks a manager.
        assert isinstance(app.screen, ApprovalDialog), text_of(app, "#banner")
        assert "beyond the offline allowance" in text_of(app, "#approval-reason")
        await type_keys(pilot, "anna")
        await pilot.press("enter")
        await type_keys(pilot, ANNA_PIN)
        await pilot.press("enter")
        await settle(pilot)
        redeem = counter.ledger.recent()[0]
        assert redeem.kind is EventKind.REDEEM
        assert (redeem.staff_id, redeem.approver_id) == (place.bram.id, place.anna.id)
        assert redeem.detail.get("override") is True
        assert counter.ledger.balance(CARD).total == 0


async def test_a_manager_serving_approves_by_acting_and_is_asked_once(tmp_path: Path) -> None:
    place = shop(
        tmp_path,
        overrides={
            "limits": {"allow_manager_override": True, "offline_redemptions_per_card": 0},
            "program": {"stamps_per_visit": 10, "max_stamps_per_day": 50},
        },
    )
    counter = place.counter
    app = place.app()
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await unlock(pilot, "anna", ANNA_PIN)
        code = counter.card(CARD)
        await type_code(pilot, code)
        await pilot.press("f2")
        await settle(pilot)
        await type_code(pilot, code)
        await pilot.press("f4", "enter")
        await settle(pilot)
        # No PIN again, but one question: this goes beyond what the terminal gives alone.
        assert type(app.screen).__name__ == "ConfirmDialog"
        assert "beyond the offline allowance" in text_of(app, "#confirm-question")
        await pilot.press("enter")
        await settle(pilot)
        redeem = counter.ledger.recent()[0]
        assert redeem.kind is EventKind.REDEEM
        assert (redeem.staff_id, redeem.approver_id) == (place.anna.id, place.anna.id)
        # A manager's void: the usual question, no approval dialog, approved by themselves.
        await pilot.press("f5", "delete", "enter")
        await settle(pilot)
        void = counter.ledger.recent()[0]
        assert void.kind is EventKind.VOID
        assert (void.staff_id, void.approver_id) == (place.anna.id, place.anna.id)


async def test_wrong_pins_are_throttled_and_then_lock(tmp_path: Path) -> None:
    place = shop(tmp_path, overrides={"staff": {"max_failures": 3}})
    counter = place.counter
    app = place.app()
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await unlock(pilot, "bram", "1111")
        assert "Wrong PIN for Bram De Smet: 2 more" in lock_message(app)
        await type_keys(pilot, "2222")
        await pilot.press("enter")
        await settle(pilot)
        # The second wrong PIN sets a delay, and the screen says how long.
        assert "1 more" in lock_message(app) and "Next try in 1 s" in lock_message(app)
        await type_keys(pilot, BRAM_PIN)  # too soon: not even checked, not counted
        await pilot.press("enter")
        await settle(pilot)
        assert "try again in 1 s" in lock_message(app)
        assert isinstance(app.screen, LockScreen)

        counter.clock.advance(seconds=2)
        await type_keys(pilot, "3333")
        await pilot.press("enter")
        await settle(pilot)
        assert "locked after too many wrong PINs: a manager must unlock it" in lock_message(app)
        # Locked: the right PIN no longer opens it.
        counter.clock.advance(minutes=10)
        await type_keys(pilot, BRAM_PIN)
        await pilot.press("enter")
        await settle(pilot)
        assert "a manager must unlock it" in lock_message(app)
        assert isinstance(app.screen, LockScreen)
        assert "(locked)" in screen_text(app)
        # A PIN of the wrong shape is never checked, so it never counts.
        await pilot.press("escape")
        await unlock(pilot, "anna", "12")
        assert "4 to 8 digits" in lock_message(app)
        assert StaffBook(counter.store).get("Anna Peeters").failures == 0  # type: ignore[union-attr]
    assert counter.ledger.recent() == []


async def test_the_panel_clears_and_the_counter_locks_by_the_idle_clock(tmp_path: Path) -> None:
    place = shop(tmp_path, overrides={"counter": {"clear_after_seconds": 30}})
    counter = place.counter
    ticks = place.ticks
    app = place.app()
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await unlock(pilot, "bram", BRAM_PIN)
        await type_code(pilot, counter.card(CARD))
        assert app.card is not None

        ticks.now += 29
        await pilot.pause(0.6)  # a tick of the idle timer: 29 s is not enough
        assert app.card is not None
        ticks.now += 2
        await wait_for(pilot, lambda: app.card is None)
        assert "No card" in text_of(app, "#card-title")

        # A key resets the idle lock's count: 9 minutes, a key, 9 more: still open.
        ticks.now += 9 * 60
        await pilot.press("x")
        ticks.now += 9 * 60
        await pilot.pause(0.6)
        assert isinstance(app.screen, CounterScreen) and app.serving is not None
        await pilot.press("f3", "1", "2")  # a purchase typed and left unfinished
        await settle(pilot)
        ticks.now += 10 * 60
        await wait_for(pilot, lambda: isinstance(app.screen, LockScreen))
        assert app.serving is None
        assert "Bram" not in text_of(app, "#status")
        await unlock(pilot, "bram", BRAM_PIN)
        # What was left open is closed, unrecorded: the counter is fresh for whoever comes.
        assert isinstance(app.screen, CounterScreen)
        assert counter.ledger.recent() == []


async def test_the_pin_never_appears_on_screen(tmp_path: Path) -> None:
    place = shop(tmp_path)
    app = place.app()
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await type_keys(pilot, "anna")
        await pilot.press("enter")
        await type_keys(pilot, ANNA_PIN)
        typed = screen_text(app)
        assert "PIN for Anna" in typed
        assert "••••" in typed
        assert ANNA_PIN not in typed and ANNA_PIN not in app.export_screenshot()
        await pilot.press("enter")
        await settle(pilot)
        assert ANNA_PIN not in screen_text(app)
        await pilot.press("ctrl+l")
        await settle(pilot)
        await unlock(pilot, "anna", "98765432")  # a wrong one: said so, never shown
        shown = screen_text(app)
        assert "Wrong PIN" in shown
        assert "98765432" not in shown and "98765432" not in app.export_screenshot()
        assert app.screen.query_one("#lock-pin").value == ""  # type: ignore[attr-defined]


async def test_without_staff_accounts_nothing_is_locked_or_asked(tmp_path: Path) -> None:
    counter = make_counter(tmp_path)
    ticks = Ticks()
    app = counter.app(idle_clock=ticks)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        assert isinstance(app.screen, CounterScreen)
        assert not app.check_action("lock", ())
        await type_code(pilot, counter.card(CARD))
        await pilot.press("f2")
        await settle(pilot)
        await pilot.press("f2", "enter")  # the same card acts again (repeat question)
        await settle(pilot)
        assert counter.ledger.balance(CARD).total == 2
        # The panel still clears after [counter] clear_after_seconds, and nothing locks.
        ticks.now += 60 * 60
        await wait_for(pilot, lambda: app.card is None)
        assert isinstance(app.screen, CounterScreen)
        await pilot.press("f5", "delete", "enter")  # a void, no manager asked
        await settle(pilot)
        void, stamp, _first = counter.ledger.recent()
        assert void.kind is EventKind.VOID
        assert (void.staff_id, void.approver_id, stamp.staff_id) == (None, None, None)


def test_a_slip_names_who_served_by_first_name_only(tmp_path: Path) -> None:
    from loyalty.programs import Program
    from receipts.build import receipt_for
    from receipts.text import layout, text_lines
    from tests.test_app_kit import START

    place = shop(tmp_path)
    counter = place.counter
    program = Program.from_settings(counter.settings.program)
    recorded = counter.ledger.stamp(CARD, program, now=START, staff_id=place.bram.id)
    receipt = receipt_for(counter.ledger, recorded.event.id, counter.settings, "fr")
    assert (receipt.staff_label, receipt.staff_name) == ("Servi par", "Bram")
    slip = "\n".join(text_lines(layout(receipt, 32), 32))
    assert "Servi par" in slip and "Bram" in slip and "Smet" not in slip

    staff = counter.settings.staff.model_copy(update={"slip_name": "none"})
    quiet = counter.settings.model_copy(update={"staff": staff})
    assert receipt_for(counter.ledger, recorded.event.id, quiet, "fr").staff_name is None


async def test_staff_added_while_the_counter_runs_locks_it_at_the_next_action(
    tmp_path: Path,
) -> None:
    counter = make_counter(tmp_path)
    app = counter.app(idle_clock=Ticks(), key_clock=PersonKeys())
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await type_code(pilot, counter.card(CARD))
        # `citie-terminal staff add` in another window: the ledger now wants a name.
        StaffBook(counter.store).add("Anna Peeters", "manager", ANNA_PIN)
        await pilot.press("f2")
        await settle(pilot)
        assert counter.ledger.recent() == []
        assert isinstance(app.screen, LockScreen)
        await unlock(pilot, "anna", ANNA_PIN)
        await type_code(pilot, counter.card(CARD))
        await pilot.press("f2")
        await settle(pilot)
        [stamp] = counter.ledger.recent()
        assert stamp.staff_id == StaffBook(counter.store).get("Anna Peeters").id  # type: ignore[union-attr]


async def test_a_refusal_on_the_lock_screen_is_said_again_after_f9(tmp_path: Path) -> None:
    # The shopkeeper switches language after a wrong PIN: the refusal is said again in the
    # new one, not left in the old one until the next try.
    place = shop(tmp_path)
    app = place.app()
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await unlock(pilot, "bram", "1111")
        assert "Wrong PIN for Bram De Smet: 4 more" in lock_message(app)
        await pilot.press("f9")  # en -> fr
        await settle(pilot)
        assert app.lang == "fr"
        message = lock_message(app)
        assert "Code PIN erroné pour Bram De Smet : encore 4 erreur(s)" in message, message
        assert "Wrong PIN" not in message
        # A sentence of the screen's own (not the core's) follows F9 as before.
        await pilot.press("escape")
        await type_keys(pilot, "nobody")
        await pilot.press("enter")
        await settle(pilot)
        before = lock_message(app)
        await pilot.press("f9")  # fr -> nl
        await settle(pilot)
        assert lock_message(app) and lock_message(app) != before
        # The right PIN still opens it, and the refusal counted once.
        await pilot.press("escape")
        await unlock(pilot, "bram", BRAM_PIN)
        assert not isinstance(app.screen, LockScreen)
    assert StaffBook(place.counter.store).get("Bram De Smet").failures == 0  # type: ignore[union-attr]
