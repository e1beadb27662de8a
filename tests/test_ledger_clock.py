"""Issue 10 A6, A7: the clock cannot buy stamps; pending counts do not depend on two clocks.

A real ledger file; the counter app through Pilot for what the status line says.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

import loyalty.schema  # noqa: F401  (registers the migrations)
from loyalty.db import Store, iso, utc_now
from loyalty.ledger import Ledger, LedgerRefusal, RefusalReason, note_platform_time
from loyalty.programs import OfflineLimits, Program
from sync.job import run_sync
from tests.conftest_platform import FAST, PairedTerminal, RunningPlatform
from tests.test_app_kit import SIZE, START, make_counter, settle, text_of, type_code

NOW = datetime(2025, 3, 7, 11, 0, tzinfo=UTC)  # a Friday, 12:00 in Brussels
DAY = timedelta(days=1)
PROGRAM = Program(id="coffee", reward_threshold=3, max_stamps_per_day=2)
LIMITS = OfflineLimits(per_card_per_day=1, per_terminal_per_day=1, max_hours_since_sync=0)


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    with Store.open(tmp_path / "ledger.db") as opened:
        yield opened


@pytest.fixture
def ledger(store: Store) -> Ledger:
    return Ledger(store, shop_id="shop-1", terminal_id="t1")


def refused(reason: RefusalReason) -> pytest.RaisesExc[LedgerRefusal]:
    return pytest.raises(LedgerRefusal, check=lambda exc: exc.reason is reason)


# --- A6: the clock cannot buy stamps -------------------------------------------------------


def test_setting_the_clock_back_a_day_does_not_reset_the_daily_limit(ledger: Ledger) -> None:
    ledger.stamp("CT-A", PROGRAM, now=NOW)
    ledger.stamp("CT-A", PROGRAM, now=NOW + timedelta(minutes=5))
    with refused(RefusalReason.DAILY_LIMIT):
        ledger.stamp("CT-A", PROGRAM, now=NOW + timedelta(minutes=10))
    for back in (DAY, DAY * 3, timedelta(hours=20)):
        with refused(RefusalReason.DAILY_LIMIT):
            ledger.stamp("CT-A", PROGRAM, now=NOW - back)
        # A purchase is still recorded (money was spent), but earns nothing today.
        bought = ledger.purchase(
            "CT-A", 5000, PROGRAM.model_copy(update={"cents_per_stamp": 100}), now=NOW - back
        )
        assert bought.event.stamps == 0
        assert bought.event.occurred_at >= NOW + timedelta(minutes=5)
    assert ledger.balance("CT-A").local == 2
    # When the shop's next day really comes, the limit starts again.
    assert ledger.stamp("CT-A", PROGRAM, now=NOW + DAY).event.stamps == 1


def test_setting_the_clock_back_does_not_reset_the_offline_redeem_allowance(
    ledger: Ledger,
) -> None:
    for n in range(6):
        ledger.stamp(
            "CT-A",
            PROGRAM.model_copy(update={"max_stamps_per_day": 10}),
            now=NOW - DAY * 2 + timedelta(minutes=n),
        )
    ledger.redeem("CT-A", PROGRAM, LIMITS, now=NOW)
    with refused(RefusalReason.OFFLINE_CARD_LIMIT):
        ledger.redeem("CT-A", PROGRAM, LIMITS, now=NOW)
    with refused(RefusalReason.OFFLINE_CARD_LIMIT):
        ledger.redeem("CT-A", PROGRAM, LIMITS, now=NOW - DAY)
    assert ledger.balance("CT-A").local == 3


def test_clock_behind_says_how_far_and_events_never_go_back_in_time(ledger: Ledger) -> None:
    assert ledger.clock_behind(NOW) == timedelta(0)  # an empty ledger
    ledger.stamp("CT-A", PROGRAM, now=NOW)
    assert ledger.clock_behind(NOW - DAY) == DAY
    assert ledger.clock_behind(NOW + timedelta(hours=1)) == timedelta(0)
    late = ledger.stamp("CT-B", PROGRAM, now=NOW - DAY)
    assert late.event.occurred_at == NOW
    assert ledger.newest_event_at() == NOW


@pytest.mark.parametrize(
    ("lang", "words"),
    [
        ("en", "clock 24 h behind the ledger"),
        ("fr", "horloge en retard de 24 h sur le registre"),
        ("nl", "klok 24 u achter op het register"),
        ("de", "Uhr 24 Std. hinter dem Journal"),
    ],
)
async def test_status_line_says_when_the_clock_is_behind_the_ledger(
    tmp_path: Path, lang: str, words: str
) -> None:
    counter = make_counter(tmp_path)
    counter.ledger.stamp("CT-TEST-0001", PROGRAM, now=START)
    counter.clock.now = START - DAY
    app = counter.app(lang=lang)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        assert words in text_of(app, "#status")
        counter.clock.now = START + timedelta(minutes=1)
        await type_code(pilot, counter.card("CT-TEST-0002"))
        await pilot.press("f2")
        await settle(pilot)
        assert "behind" not in text_of(app, "#status")
        assert words not in text_of(app, "#status")


# --- A7: pending counts use a local sequence, not two clocks -------------------------------


def mark_synced(store: Store, seq: int, at: datetime) -> None:
    """What sync.outbox does when the platform accepted an event: ``at`` is the local clock."""
    with store.write() as db:
        db.execute(
            "UPDATE outbox SET state = 'synced', updated_at = ? WHERE seq = ?", [iso(at), seq]
        )


def confirm(store: Store, card_id: str, stamps: int, at: datetime) -> None:
    """What sync.puller stores for a card the platform confirmed (``at``: the local clock)."""
    with store.write() as db:
        db.execute(
            "INSERT INTO confirmed_balances (card_id, stamps, confirmed_at) VALUES (?, ?, ?) "
            "ON CONFLICT(card_id) DO UPDATE SET stamps = excluded.stamps, "
            "confirmed_at = excluded.confirmed_at",
            [card_id, stamps, iso(at)],
        )


def test_pending_after_a_confirmation_does_not_depend_on_the_clock(
    ledger: Ledger, store: Store
) -> None:
    big = PROGRAM.model_copy(update={"max_stamps_per_day": 10})
    first = ledger.stamp("CT-A", big, now=NOW).event
    mark_synced(store, first.seq, NOW + timedelta(minutes=1))
    # The pull confirms 1 with a clock running an hour fast.
    confirm(store, "CT-A", 1, NOW + timedelta(hours=1))
    assert (ledger.balance("CT-A").pending, ledger.balance("CT-A").total) == (0, 1)
    # The clock is put right; the next stamp is accepted by the platform, and marked synced
    # at a local time before the (fast) confirmation time: it is not in that confirmation.
    second = ledger.stamp("CT-A", big, now=NOW + timedelta(minutes=2)).event
    mark_synced(store, second.seq, NOW + timedelta(minutes=3))
    balance = ledger.balance("CT-A")
    assert (balance.confirmed, balance.pending, balance.total) == (1, 1, 2)
    # The next pull includes it.
    confirm(store, "CT-A", 2, NOW + timedelta(minutes=4))
    balance = ledger.balance("CT-A")
    assert (balance.confirmed, balance.pending, balance.total) == (2, 0, 2)


def test_a_redeem_synced_before_a_slow_clock_confirmation_is_not_counted_twice(
    ledger: Ledger, store: Store
) -> None:
    big = PROGRAM.model_copy(update={"max_stamps_per_day": 10})
    for n in range(3):
        stamp = ledger.stamp("CT-A", big, now=NOW + timedelta(minutes=n)).event
        mark_synced(store, stamp.seq, NOW + timedelta(minutes=5))
    confirm(store, "CT-A", 3, NOW + timedelta(minutes=6))
    redeem = ledger.redeem("CT-A", PROGRAM, LIMITS, now=NOW + timedelta(minutes=7)).event
    # Synced with a clock running fast, then the pull confirms 0 with the clock put right:
    # by wall-clock order the redeem looks "after" the confirmation and counts again (-3).
    mark_synced(store, redeem.seq, NOW + timedelta(hours=2))
    confirm(store, "CT-A", 0, NOW + timedelta(minutes=8))
    balance = ledger.balance("CT-A")
    assert (balance.confirmed, balance.pending, balance.total) == (0, 0, 0)
    assert balance.pending >= 0


async def test_card_panel_never_shows_a_negative_pending_count(tmp_path: Path) -> None:
    counter = make_counter(tmp_path)
    card = "CT-TEST-0003"
    program = Program.from_settings(counter.settings.program)
    confirm(counter.store, card, program.reward_threshold, START)  # earned elsewhere
    limits = OfflineLimits(per_card_per_day=1, per_terminal_per_day=5, max_hours_since_sync=0)
    counter.ledger.redeem(card, program, limits, now=START)
    assert counter.ledger.balance(card).pending == -program.reward_threshold
    app = counter.app()
    async with app.run_test(size=SIZE) as pilot:
        await type_code(pilot, counter.card(card))
        shown = text_of(app, "#card-progress")
        assert f"0 of {program.reward_threshold} stamps" in shown
        assert "-" not in shown and "not yet confirmed" not in shown


# --- a clock that ran ahead: the platform's clock bounds the floor --------------------------


def test_a_clock_that_ran_a_year_ahead_stops_holding_the_ledger_once_the_platform_answered(
    platform: RunningPlatform, terminal_factory: Callable[..., PairedTerminal]
) -> None:
    # Day one: the shop's device said next year. Without the platform's clock, every later
    # event stayed dated next year and that one day's limit refused every card until then.
    terminal = terminal_factory(platform)
    ledger = Ledger(terminal.store, shop_id=terminal.shop_id, terminal_id=terminal.terminal_id)
    card = "CT-CLCK-0001"
    now = utc_now()
    now = now.replace(microsecond=now.microsecond // 1000 * 1000)  # the ledger keeps ms
    ahead = now + timedelta(days=365)
    ledger.stamp(card, PROGRAM, now=ahead)
    ledger.stamp(card, PROGRAM, now=ahead + timedelta(minutes=1))
    # The clock is put right, the platform not yet heard: the ledger holds next year.
    assert ledger.clock_behind(now) > timedelta(days=364)
    with refused(RefusalReason.DAILY_LIMIT):
        ledger.stamp(card, PROGRAM, now=now)

    report = run_sync(terminal.settings, terminal.store, policy=FAST, backup=False)
    assert (report.outcome, report.exit_code) == ("ok", 0), report.to_json()
    # The platform's answer said when "now" is: next year's events hold nothing any more.
    assert ledger.clock_behind(now) == timedelta(0)
    today = ledger.stamp(card, PROGRAM, now=now).event
    assert (today.occurred_at, today.stamps) == (now, 1)

    # Setting the clock back is still no way to a fresh day: an event since the answer...
    back = ledger.stamp("CT-CLCK-0002", PROGRAM, now=now - DAY).event
    assert back.occurred_at == now
    # ...and events the platform answered, dated within its clock, both hold the floor.
    report = run_sync(terminal.settings, terminal.store, policy=FAST, backup=False)
    assert report.outcome == "ok", report.to_json()
    assert ledger.clock_behind(now - DAY) == DAY
    second = ledger.stamp(card, PROGRAM, now=now - DAY + timedelta(minutes=5)).event
    assert second.occurred_at == now  # today's second stamp, not yesterday's first
    with refused(RefusalReason.DAILY_LIMIT):
        ledger.stamp(card, PROGRAM, now=now - DAY + timedelta(minutes=6))
    assert ledger.balance(card).local == 4  # two next year, two today


def test_only_events_dated_past_the_platforms_clock_and_leeway_stop_holding_the_floor(
    ledger: Ledger, store: Store
) -> None:
    # A clock a day fast (within the leeway, which is the platform's own skew bound): its
    # events keep holding the floor, so "an hour fast all day, then back a day" buys nothing.
    ledger.stamp("CT-A", PROGRAM, now=NOW + DAY)
    with store.write() as db:
        note_platform_time(db, NOW, up_to_seq=1)
    assert ledger.clock_behind(NOW) == DAY
    # Three days fast: beyond it, and the platform flagged them clock_skew for its operator.
    ledger.stamp("CT-A", PROGRAM, now=NOW + DAY * 3)
    assert ledger.clock_behind(NOW) == DAY * 3  # not answered yet: it holds
    with store.write() as db:
        note_platform_time(db, NOW, up_to_seq=2)
        # An older answer arriving late moves nothing back.
        note_platform_time(db, NOW - DAY * 10, up_to_seq=1)
    assert ledger.clock_behind(NOW) == DAY
    assert ledger.newest_event_at() == NOW + DAY
