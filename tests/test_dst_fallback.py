"""Daylight saving in Brussels (issue 10, E27): the autumn fall-back day 2026-10-25 has 25 hours
(02:00-03:00 happens twice: first CEST, UTC+2, then CET, UTC+1), the spring day 2026-03-29 has
23 (02:00-03:00 never happens). Daily stamp limits, campaigns by the hour and day reports are
checked on those days through the real ledger on a real SQLite file.

Every instant below is written by hand as UTC with the local time it is in Brussels beside it;
nothing is computed with the code's own conversions.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path

import pytest

import loyalty.schema  # noqa: F401  (registers the migrations)
from loyalty.db import Store
from loyalty.ledger import Ledger, LedgerRefusal
from loyalty.programs import Campaign, OfflineLimits, Program, evaluate
from loyalty.reports import DayStamps, day_report, hourly, stamps_series

FALL_BACK = date(2026, 10, 25)
SPRING_FORWARD = date(2026, 3, 29)


def utc(text: str) -> datetime:
    """An instant written by hand, e.g. "2026-10-25 00:30" (UTC)."""
    return datetime.strptime(text, "%Y-%m-%d %H:%M").replace(tzinfo=UTC)


@pytest.fixture
def ledger(tmp_path: Path) -> Iterator[Ledger]:
    with Store.open(tmp_path / "ledger.db") as store:
        yield Ledger(store, shop_id="s", terminal_id="t1")


LIMIT_3 = Program(id="coffee", stamps_per_visit=1, reward_threshold=50, max_stamps_per_day=3)


def stamped(ledger: Ledger, card: str, at: str) -> bool:
    try:
        ledger.stamp(card, LIMIT_3, now=utc(at))
    except LedgerRefusal as refusal:
        assert refusal.reason.value == "daily_limit"
        return False
    return True


def test_daily_limit_on_the_25_hour_day(ledger: Ledger) -> None:
    card = "CT-FALL"
    assert stamped(ledger, card, "2026-10-24 21:59")  # Sat 24 Oct 23:59 CEST: the day before
    assert stamped(ledger, card, "2026-10-24 22:00")  # Sun 25 Oct 00:00 CEST: 1st of the day
    assert stamped(ledger, card, "2026-10-25 00:30")  # 02:30 CEST, first time round: 2nd
    assert stamped(ledger, card, "2026-10-25 01:30")  # 02:30 CET, second time round: 3rd
    assert not stamped(ledger, card, "2026-10-25 01:59")  # 02:59 CET: limit reached
    # 23:59 CET is 25 hours after midnight CEST: still the same local day, still refused.
    assert not stamped(ledger, card, "2026-10-25 22:59")
    assert stamped(ledger, card, "2026-10-25 23:00")  # Mon 26 Oct 00:00 CET: a new day


def test_daily_limit_on_the_23_hour_day(ledger: Ledger) -> None:
    card = "CT-SPRING"
    assert stamped(ledger, card, "2026-03-28 22:59")  # Sat 28 Mar 23:59 CET: the day before
    assert stamped(ledger, card, "2026-03-28 23:00")  # Sun 29 Mar 00:00 CET
    assert stamped(ledger, card, "2026-03-29 00:59")  # 01:59 CET
    assert stamped(ledger, card, "2026-03-29 01:00")  # 03:00 CEST: 02:00-03:00 was skipped
    assert not stamped(ledger, card, "2026-03-29 21:59")  # 23:59 CEST: same day, refused
    assert stamped(ledger, card, "2026-03-29 22:00")  # Mon 30 Mar 00:00 CEST: a new day


def test_offline_redemptions_per_card_per_day_on_the_25_hour_day(ledger: Ledger) -> None:
    program = Program(id="coffee", reward_threshold=1, max_stamps_per_day=100)
    limits = OfflineLimits(per_card_per_day=1, per_terminal_per_day=100, max_hours_since_sync=0)
    ledger.stamp("CT-R", program, count=10, now=utc("2026-10-24 20:00"))  # Sat 22:00 CEST

    def redeemed(at: str) -> bool:
        try:
            ledger.redeem("CT-R", program, limits, now=utc(at))
        except LedgerRefusal as refusal:
            assert refusal.reason.value == "offline_card_limit"
            return False
        return True

    assert redeemed("2026-10-24 21:59")  # Sat 23:59 CEST
    assert redeemed("2026-10-24 22:00")  # Sun 00:00 CEST
    assert not redeemed("2026-10-25 01:30")  # 02:30 CET, the second time round
    assert not redeemed("2026-10-25 22:59")  # Sun 23:59 CET
    assert redeemed("2026-10-25 23:00")  # Mon 00:00 CET


def test_minimum_gap_is_real_minutes_across_the_change(ledger: Ledger) -> None:
    program = Program(id="coffee", max_stamps_per_day=10, min_minutes_between_stamps=60)
    ledger.stamp("CT-GAP", program, now=utc("2026-10-25 00:30"))  # 02:30 CEST
    with pytest.raises(LedgerRefusal) as refused:
        # 02:29 CET on the wall clock looks earlier than 02:30, yet 59 real minutes have passed.
        ledger.stamp("CT-GAP", program, now=utc("2026-10-25 01:29"))
    assert refused.value.reason.value == "too_soon"
    assert "02:30" in refused.value.text("en")  # next stamp at 02:30 CET
    ledger.stamp("CT-GAP", program, now=utc("2026-10-25 01:30"))  # 02:30 CET: 60 minutes


def stamps_at(program: Program, at: str) -> int:
    return evaluate(program, [], now=utc(at)).stamps


def test_a_campaign_in_the_repeated_hour_runs_both_times_round() -> None:
    """Campaign hours are read on the wall clock: 02:00-03:00 runs twice on the long day."""
    night = Program(id="p", campaigns=(Campaign(name="Night", start_hour=2, end_hour=3),))
    assert stamps_at(night, "2026-10-24 23:59") == 1  # 01:59 CEST
    assert stamps_at(night, "2026-10-25 00:00") == 2  # 02:00 CEST
    assert stamps_at(night, "2026-10-25 00:59") == 2  # 02:59 CEST
    assert stamps_at(night, "2026-10-25 01:00") == 2  # 02:00 CET (the clocks went back)
    assert stamps_at(night, "2026-10-25 01:59") == 2  # 02:59 CET
    assert stamps_at(night, "2026-10-25 02:00") == 1  # 03:00 CET
    # On the short day the hour never comes.
    assert stamps_at(night, "2026-03-29 00:59") == 1  # 01:59 CET
    assert stamps_at(night, "2026-03-29 01:00") == 1  # 03:00 CEST


def test_evening_campaign_follows_the_new_offset_after_fall_back() -> None:
    evening = Program(id="p", campaigns=(Campaign(name="Evening", start_hour=18, end_hour=20),))
    # Saturday, still CEST (UTC+2).
    assert stamps_at(evening, "2026-10-24 15:59") == 1  # 17:59 CEST
    assert stamps_at(evening, "2026-10-24 16:00") == 2  # 18:00 CEST
    assert stamps_at(evening, "2026-10-24 17:59") == 2  # 19:59 CEST
    assert stamps_at(evening, "2026-10-24 18:00") == 1  # 20:00 CEST
    # Sunday, CET (UTC+1): the same wall-clock hours are an hour later in UTC.
    assert stamps_at(evening, "2026-10-25 16:30") == 1  # 17:30 CET
    assert stamps_at(evening, "2026-10-25 17:00") == 2  # 18:00 CET
    assert stamps_at(evening, "2026-10-25 18:59") == 2  # 19:59 CET
    assert stamps_at(evening, "2026-10-25 19:00") == 1  # 20:00 CET


def test_a_sunday_only_campaign_covers_all_25_hours() -> None:
    sunday = Program(
        id="p",
        campaigns=(
            Campaign(
                name="Sunday", weekdays=frozenset({7}), start_date=FALL_BACK, end_date=FALL_BACK
            ),
        ),
    )
    assert stamps_at(sunday, "2026-10-24 21:59") == 1  # Sat 23:59 CEST
    assert stamps_at(sunday, "2026-10-24 22:00") == 2  # Sun 00:00 CEST
    assert stamps_at(sunday, "2026-10-25 22:59") == 2  # Sun 23:59 CET
    assert stamps_at(sunday, "2026-10-25 23:00") == 1  # Mon 00:00 CET


@pytest.fixture
def fall_back_day(ledger: Ledger) -> Ledger:
    """One stamp each, on distinct cards, at hand-written instants around and in the long day."""
    program = Program(id="coffee", stamps_per_visit=1, max_stamps_per_day=10)
    for n, at in enumerate(
        [
            "2026-10-24 21:59",  # Sat 24 Oct 23:59 CEST
            "2026-10-24 22:00",  # Sun 25 Oct 00:00 CEST, hour 0
            "2026-10-25 00:15",  # 02:15 CEST, hour 2
            "2026-10-25 00:45",  # 02:45 CEST, hour 2
            "2026-10-25 01:15",  # 02:15 CET, hour 2 again
            "2026-10-25 02:10",  # 03:10 CET, hour 3
            "2026-10-25 22:59",  # 23:59 CET, hour 23
            "2026-10-25 23:00",  # Mon 26 Oct 00:00 CET
        ]
    ):
        ledger.stamp(f"CT-{n}", program, now=utc(at))
    return ledger


def test_day_report_counts_all_25_hours(fall_back_day: Ledger) -> None:
    store = fall_back_day.store
    figures = day_report(store, FALL_BACK)
    assert (figures.stamps_issued, figures.distinct_cards) == (6, 6)
    assert day_report(store, date(2026, 10, 24)).stamps_issued == 1
    assert day_report(store, date(2026, 10, 26)).stamps_issued == 1


def test_hourly_report_puts_both_passes_of_the_repeated_hour_in_hour_2(
    fall_back_day: Ledger,
) -> None:
    hours = {h.hour: (h.events, h.stamps) for h in hourly(fall_back_day.store, FALL_BACK)}
    assert len(hours) == 24
    assert hours[0] == (1, 1)
    assert hours[1] == (0, 0)
    assert hours[2] == (3, 3)  # 02:15 CEST, 02:45 CEST, 02:15 CET
    assert hours[3] == (1, 1)
    assert hours[23] == (1, 1)
    assert sum(events for events, _ in hours.values()) == 6


def test_series_across_the_change(fall_back_day: Ledger) -> None:
    series = stamps_series(fall_back_day.store, date(2026, 10, 26), days=3)
    assert series == [
        DayStamps(date(2026, 10, 24), 1),
        DayStamps(date(2026, 10, 25), 6),
        DayStamps(date(2026, 10, 26), 1),
    ]
