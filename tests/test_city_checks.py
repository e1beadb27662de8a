"""The platform's books (issue 11, item 4): ``city.checks.judge`` on its own, event by event.

The same findings are tested over real HTTP against both stores in test_city_books.py.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from city.checks import Context, Earned, ProgramVersion, Target, judge, needs
from loyalty.programs import Campaign, Program
from sync.protocol import Event

NOW = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)
COFFEE = Program(id="coffee", reward_threshold=10, max_stamps_per_day=5)
_seq = iter(range(1, 10_000))


def event(kind: str = "stamp", stamps: int = 1, **fields: Any) -> Event:
    number = next(_seq)
    data: dict[str, Any] = {
        "id": f"e{number}",
        "seq": number,
        "kind": kind,
        "terminal_id": "t1",
        "shop_id": "shop-a",
        "occurred_at": "2026-03-02T09:00:00.000Z",
        "card_id": "CT-AAAA-BBBB",
        "program_id": "coffee",
        "stamps": stamps,
    }
    data.update(fields)
    return Event.model_validate(data)


def context(**fields: Any) -> Context:
    base: dict[str, Any] = {
        "received_at": NOW,
        "programs": {"coffee": [ProgramVersion(COFFEE)]},
    }
    base.update(fields)
    return Context(**base)


def reasons(events: list[Event], ctx: Context) -> list[str | None]:
    return [v.reason if not v.accepted else None for v in judge(events, ctx)]


def test_stamps_are_bounded_by_the_program() -> None:
    events = [event(stamps=5), event(stamps=6), event(stamps=-100_000), event(stamps=100_000)]
    assert reasons(events, context()) == [None, *["stamps_invalid"] * 3]


def test_unknown_programs_are_bounded_by_what_any_program_may_give() -> None:
    events = [event(stamps=40, program_id="other"), event(stamps=100_000, program_id="other")]
    assert reasons(events, context()) == [None, "stamps_invalid"]


def test_a_redeem_costs_exactly_the_reward() -> None:
    events = [event("redeem", -10), event("redeem", 50), event("redeem", -9)]
    assert reasons(events, context()) == [None, "redeem_invalid", "redeem_invalid"]


def test_a_void_is_the_exact_negative_and_counts_once() -> None:
    target = Target("s1", "shop-a", "stamp", "CT-AAAA-BBBB", "coffee", 1, None, voided=False)
    events = [
        event("void", 100_000, voids="s1"),
        event("void", -1, voids="s1"),
        event("void", -1, voids="s1"),
    ]
    assert reasons(events, context(targets={"s1": target})) == [
        "void_mismatch",
        None,
        "already_voided",
    ]
    voided = Target("s2", "shop-a", "stamp", "CT-AAAA-BBBB", "coffee", 1, None, voided=True)
    assert reasons([event("void", -1, voids="s2")], context(targets={"s2": voided})) == [
        "already_voided"
    ]


def test_an_anonymous_purchase_earns_nothing_at_the_counter() -> None:
    bought = event("purchase", 2, card_id=None, amount_cents=1250, currency="EUR")
    plain = event("purchase", 0, card_id=None, amount_cents=1250, currency="EUR")
    assert reasons([bought, plain], context()) == ["stamps_invalid", None]


def test_the_daily_limit_counts_every_terminal_and_flags_the_excess() -> None:
    earlier = [Earned("CT-AAAA-BBBB", "coffee", NOW - timedelta(hours=1), 4)]
    verdicts = judge([event(stamps=1), event(stamps=1)], context(earned=earlier))
    assert [v.accepted for v in verdicts] == [True, True]
    assert [v.flags for v in verdicts] == [(), ("daily_limit",)]


def test_far_dated_events_are_kept_and_flagged() -> None:
    late = event(occurred_at=(NOW - timedelta(hours=49)).isoformat())
    (verdict,) = judge([late], context())
    assert verdict.accepted and verdict.flags == ("clock_skew",)


def test_needs_names_targets_cards_and_a_window() -> None:
    want = needs([event(), event("void", -1, voids="x")])
    assert want.void_targets == frozenset({"x"})
    assert want.cards == frozenset({"CT-AAAA-BBBB"})
    assert want.since is not None and want.until is not None and want.since < want.until


def test_a_purchase_earns_at_most_what_its_amount_gives() -> None:
    per_ten = COFFEE.model_copy(update={"cents_per_stamp": 1000})
    ctx = context(programs={"coffee": [ProgramVersion(per_ten)]})
    bought = [
        event("purchase", 2, amount_cents=1250, currency="EUR"),
        event("purchase", 3, amount_cents=1250, currency="EUR"),
    ]
    assert reasons(bought, ctx) == [None, "stamps_invalid"]
    # A double-stamps campaign running at the purchase's time doubles what it may earn.
    double = per_ten.model_copy(update={"campaigns": (Campaign(name="Monday", weekdays={1}),)})
    ctx = context(programs={"coffee": [ProgramVersion(double)]})  # 2026-03-02 is a Monday
    assert reasons([event("purchase", 4, amount_cents=1250, currency="EUR")], ctx) == [None]


def test_only_a_void_cancels_an_event() -> None:
    target = Target("s1", "shop-a", "stamp", "CT-AAAA-BBBB", "coffee", 1, None, voided=False)
    events = [
        event("stamp", 1, voids="s1"),
        event("redeem", -10, voids="s1"),
        event("purchase", 0, voids="s1", amount_cents=500, currency="EUR"),
        event("void", -1, voids="s1"),
    ]
    assert reasons(events, context(targets={"s1": target})) == [
        "voids_invalid",
        "voids_invalid",
        "voids_invalid",
        None,
    ]
