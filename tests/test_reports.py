"""End-of-day figures on a known set of events, voids on the same and on a later day."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest

import loyalty.schema  # noqa: F401  (registers the migrations)
from loyalty.db import Store
from loyalty.ledger import Ledger
from loyalty.programs import OfflineLimits, Program
from loyalty.reports import DayStamps, HourFigures, day_report, hourly, report, stamps_series

PROGRAM = Program(
    id="coffee", stamps_per_visit=1, cents_per_stamp=1000, reward_threshold=3, max_stamps_per_day=20
)
DAY = date(2025, 3, 7)  # Brussels is UTC+1 that day


def local(hour: int, minute: int = 0, day: date = DAY) -> datetime:
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=UTC) - timedelta(hours=1)


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    with Store.open(tmp_path / "ledger.db") as opened:
        ledger = Ledger(opened, shop_id="s", terminal_id="t1")
        before = DAY - timedelta(days=1)
        ledger.stamp("CT-D", PROGRAM, count=5, now=local(12, day=before))
        e_purchase = ledger.purchase("CT-E", 4000, PROGRAM, now=local(15, day=before))  # 5
        ledger.stamp("CT-A", PROGRAM, now=local(8, 5))  # 1
        ledger.purchase("CT-B", 2550, PROGRAM, now=local(9, 10))  # 3
        ledger.purchase(None, 1000, PROGRAM, now=local(9, 20))  # anonymous
        c_stamp = ledger.stamp("CT-C", PROGRAM, count=2, now=local(10))
        ledger.void(c_stamp.event.id, now=local(10, 5))  # same day: nets out
        ledger.redeem("CT-D", PROGRAM, OfflineLimits(), now=local(11))
        ledger.purchase("CT-A", 1500, PROGRAM, now=local(12))  # 2
        ledger.void(e_purchase.event.id, now=local(13))  # yesterday's purchase, voided today
        ledger.stamp("CT-F", PROGRAM, now=local(23, 30))  # still today in Brussels
        ledger.stamp("CT-G", PROGRAM, now=local(0, 30, DAY + timedelta(days=1)))
        with opened.write() as db:
            db.execute("UPDATE outbox SET state = 'synced' WHERE seq IN (1, 3, 4)")
            db.execute("UPDATE outbox SET state = 'quarantined', reason = 'x' WHERE seq = 5")
        yield opened


def test_day_figures_net_voids_where_they_are_made(store: Store) -> None:
    figures = day_report(store, DAY)
    assert figures.to_json() == {
        "day": "2025-03-07",
        "stamps_issued": 1 + 3 + 2 - 2 + 2 - 5 + 1,
        "rewards_redeemed": 1,
        "purchases": 3 - 1,
        "purchase_total_cents": 2550 + 1000 + 1500 - 4000,
        "currency": "EUR",
        "distinct_cards": 4,  # A, B, D, F: C's only event was voided the same day
        "voids": 2,
        "pending_sync": 9 - 2 - 1,  # two of today's events synced, one quarantined
        "quarantined": 1,
        "voucher_spends": 0,
        "voucher_spent_cents": 0,
        "staff": [],  # no staff accounts: nobody to name
    }
    yesterday = day_report(store, DAY - timedelta(days=1))
    # Yesterday's figures did not change when its purchase was voided today.
    assert (yesterday.stamps_issued, yesterday.purchases, yesterday.purchase_total_cents) == (
        10,
        1,
        4000,
    )
    assert yesterday.distinct_cards == 2
    empty = day_report(store, DAY - timedelta(days=10))
    assert (empty.stamps_issued, empty.distinct_cards, empty.pending_sync) == (0, 0, 0)


def test_hourly_histogram_in_local_hours(store: Store) -> None:
    hours = hourly(store, DAY)
    assert len(hours) == 24
    busy = {h.hour: (h.events, h.stamps) for h in hours if h.events or h.stamps}
    assert busy == {
        8: (1, 1),
        9: (2, 3),
        10: (1, 0),  # the stamp and its void
        11: (1, 0),  # the redemption earns nothing
        12: (1, 2),
        13: (0, -5),  # a void is not an event, but it takes stamps back
        23: (1, 1),
    }
    assert hours[0] == HourFigures(0, 0, 0)


def test_thirty_day_series(store: Store) -> None:
    series = stamps_series(store, DAY + timedelta(days=1))
    assert len(series) == 30
    assert series[0].day == DAY - timedelta(days=28)
    assert series[-3:] == [
        DayStamps(DAY - timedelta(days=1), 10),
        DayStamps(DAY, 2),
        DayStamps(DAY + timedelta(days=1), 1),
    ]
    assert sum(d.stamps for d in series) == 13
    full = report(store, DAY).to_json()
    assert full["stamps_issued"] == 2
    assert full["series"][-1] == {"day": "2025-03-07", "stamps": 2}
    assert len(full["hours"]) == 24


def test_the_day_the_clocks_go_forward_has_23_hours(tmp_path: Path) -> None:
    with Store.open(tmp_path / "ledger.db") as opened:
        ledger = Ledger(opened, shop_id="s", terminal_id="t1")
        # 2025-03-30: 00:30 UTC is 01:30 CET; 01:30 UTC is 03:30 CEST; 22:30 UTC is 00:30 next day.
        for hour in (0, 1, 21):
            ledger.stamp(f"CT-{hour}", PROGRAM, now=datetime(2025, 3, 30, hour, 30, tzinfo=UTC))
        ledger.stamp("CT-X", PROGRAM, now=datetime(2025, 3, 30, 22, 30, tzinfo=UTC))
        busy = [h.hour for h in hourly(opened, date(2025, 3, 30)) if h.events]
        assert busy == [1, 3, 23]
        assert day_report(opened, date(2025, 3, 30)).stamps_issued == 3
