"""Programs and rules: per-amount rounding, campaigns, daily limit, minimum gap, explanations."""

from __future__ import annotations

import contextlib
import json
from datetime import UTC, date, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from config.settings import LimitSettings, ProgramSettings
from loyalty.i18n import LANGUAGES, datetime_text
from loyalty.programs import (
    CATALOG,
    MAX_PROGRAM_JSON,
    SHOP_TZ,
    Campaign,
    Explanation,
    OfflineLimits,
    PastStamp,
    Program,
    ProgramError,
    RuleReason,
    evaluate,
    history_window_start,
)

# 2025-03-08 is a Saturday; Brussels is UTC+1 in March (before the 30th), UTC+2 in July.
SATURDAY_NOON = datetime(2025, 3, 8, 11, 0, tzinfo=UTC)
FRIDAY_NOON = datetime(2025, 3, 7, 11, 0, tzinfo=UTC)


def program(**changes: object) -> Program:
    base: dict[str, object] = {
        "id": "coffee",
        "stamps_per_visit": 0,
        "cents_per_stamp": 1000,
        "max_stamps_per_day": 50,
    }
    base.update(changes)
    return Program.model_validate(base)


@pytest.mark.parametrize(
    ("cents", "stamps"),
    [(1000, 1), (1999, 1), (2000, 2), (2550, 2), (9999, 9), (10_000, 10), (1, 0), (999, 0)],
)
def test_per_amount_rounds_down_with_integer_cents(cents: int, stamps: int) -> None:
    decision = evaluate(program(), [], now=FRIDAY_NOON, amount_cents=cents)
    assert decision.stamps == stamps
    if stamps == 0:
        assert decision.refusal is not None
        assert decision.refusal.reason is RuleReason.NOTHING_TO_STAMP
    else:
        assert decision.refusal is None
        assert decision.lines[0] == Explanation(
            "programs.per_amount", {"per_cents": 1000, "stamps": stamps}
        )


def test_purchase_earns_visit_plus_amount_and_count_replaces_both() -> None:
    both = program(stamps_per_visit=1, cents_per_stamp=500)
    assert evaluate(both, [], now=FRIDAY_NOON, amount_cents=1250).stamps == 3
    assert evaluate(both, [], now=FRIDAY_NOON).stamps == 1
    typed = evaluate(both, [], now=FRIDAY_NOON, amount_cents=1250, count=4)
    assert typed.stamps == 4
    assert typed.lines[0].key == "programs.by_hand"
    with pytest.raises(ValueError, match="count"):
        evaluate(both, [], now=FRIDAY_NOON, count=0)


def test_campaign_by_weekday_multiplies_and_says_so() -> None:
    prog = program(campaigns=[Campaign(name="Saturday campaign", weekdays=frozenset({6}))])
    saturday = evaluate(prog, [], now=SATURDAY_NOON, amount_cents=2000)
    friday = evaluate(prog, [], now=FRIDAY_NOON, amount_cents=2000)
    assert (saturday.stamps, friday.stamps) == (4, 2)
    assert saturday.lines[1].text("en") == "Double stamps (Saturday campaign): x2"
    assert all("campaign" not in line.key for line in friday.lines)


@pytest.mark.parametrize(
    ("moment", "applies"),
    [
        # Winter: 07:30 UTC is 08:30 in Brussels, inside 8-10; 09:30 UTC is 10:30, outside.
        (datetime(2025, 3, 7, 7, 30, tzinfo=UTC), True),
        (datetime(2025, 3, 7, 9, 0, tzinfo=UTC), False),
        (datetime(2025, 3, 7, 6, 59, tzinfo=UTC), False),
        # Summer time: 06:30 UTC is 08:30 local; 08:30 UTC is 10:30 local.
        (datetime(2025, 7, 4, 6, 30, tzinfo=UTC), True),
        (datetime(2025, 7, 4, 8, 30, tzinfo=UTC), False),
    ],
)
def test_campaign_hours_are_shop_local_time(moment: datetime, applies: bool) -> None:
    prog = program(
        stamps_per_visit=1,
        cents_per_stamp=0,
        campaigns=[Campaign(name="Morning", multiplier=3, start_hour=8, end_hour=10)],
    )
    assert evaluate(prog, [], now=moment).stamps == (3 if applies else 1)


def test_campaign_dates_are_inclusive_and_the_highest_multiplier_wins() -> None:
    prog = program(
        stamps_per_visit=1,
        cents_per_stamp=0,
        campaigns=[
            Campaign(
                name="Week", multiplier=2, start_date=date(2025, 3, 3), end_date=date(2025, 3, 7)
            ),
            Campaign(name="Friday", multiplier=3, weekdays=frozenset({5})),
        ],
    )
    friday = evaluate(prog, [], now=FRIDAY_NOON)
    assert friday.stamps == 3  # not 6: campaigns do not stack
    assert friday.lines[1].text("en") == "Stamps multiplied (Friday): x3"
    thursday = datetime(2025, 3, 6, 11, tzinfo=UTC)
    assert evaluate(prog, [], now=thursday).stamps == 2
    after = datetime(2025, 3, 8, 11, tzinfo=UTC)
    assert evaluate(prog, [], now=after).stamps == 1


def test_daily_limit_clips_then_refuses() -> None:
    prog = program(max_stamps_per_day=5)
    earlier = [PastStamp(FRIDAY_NOON - timedelta(hours=2), 4)]
    clipped = evaluate(prog, earlier, now=FRIDAY_NOON, amount_cents=3000)
    assert clipped.stamps == 1
    assert clipped.refusal is None
    assert [line.text("en") for line in clipped.lines[-2:]] == [
        "Daily limit of 5 reached: 1 stamp instead of 3",
        "Total: 1 stamp",
    ]
    full = [*earlier, PastStamp(FRIDAY_NOON - timedelta(hours=1), 1)]
    refused = evaluate(prog, full, now=FRIDAY_NOON, amount_cents=3000)
    assert refused.stamps == 0
    assert refused.refusal is not None
    assert refused.refusal.reason is RuleReason.DAILY_LIMIT


def test_daily_limit_uses_the_local_day() -> None:
    prog = program(max_stamps_per_day=2)
    # 23:30 UTC on Friday is 00:30 Saturday in Brussels: the same local day as Saturday noon.
    late = [PastStamp(datetime(2025, 3, 7, 23, 30, tzinfo=UTC), 2)]
    assert evaluate(prog, late, now=SATURDAY_NOON, amount_cents=1000).refusal is not None
    # 22:30 UTC on Friday is 23:30 Friday local: yesterday.
    yesterday = [PastStamp(datetime(2025, 3, 7, 22, 30, tzinfo=UTC), 2)]
    assert evaluate(prog, yesterday, now=SATURDAY_NOON, amount_cents=1000).stamps == 1


def test_minimum_gap_refuses_too_soon_and_says_when() -> None:
    prog = program(stamps_per_visit=1, cents_per_stamp=0, min_minutes_between_stamps=30)
    last = FRIDAY_NOON - timedelta(minutes=10)
    decision = evaluate(prog, [PastStamp(last, 1)], now=FRIDAY_NOON)
    assert decision.stamps == 0
    assert decision.refusal is not None
    assert decision.refusal.reason is RuleReason.TOO_SOON
    assert decision.refusal.next_allowed_at == last + timedelta(minutes=30)
    # 11:20 UTC is 12:20 in Brussels.
    when = datetime_text(last + timedelta(minutes=30), "en", SHOP_TZ)
    assert "12:20" in when
    assert decision.lines[0].text("en") == (
        f"Too soon after the last stamp (at least 30 min between stamps): next stamp from {when}"
    )
    assert "12:20" in decision.lines[0].text("nl")
    at_gap = evaluate(prog, [PastStamp(last, 1)], now=last + timedelta(minutes=30))
    assert at_gap.stamps == 1
    assert history_window_start(prog, FRIDAY_NOON) <= last


def test_explanations_in_four_languages() -> None:
    line = Explanation("programs.per_amount", {"per_cents": 1000, "stamps": 2})
    assert line.text("en") == "1 stamp per €10.00: 2 stamps"
    assert line.text("nl") == "1 stempel per €\xa010,00: 2 stempels"
    assert line.text("fr") == "1 tampon par 10,00\xa0€ : 2 tampons"
    assert line.text("de") == "1 Stempel pro 10,00\xa0€: 2 Stempel"
    # French uses the singular for 0 and 1; Dutch only for 1.
    zero = Explanation("programs.total", {"stamps": 0})
    assert (zero.text("fr"), zero.text("nl")) == ("Total : 0 tampon", "Totaal: 0 stempels")
    assert Explanation("programs.total", {"stamps": 1}).text("nl") == "Totaal: 1 stempel"
    assert line.text("xx") == line.text("en")


def test_every_catalog_entry_has_four_real_translations() -> None:
    for key, forms in CATALOG.messages.items():
        assert set(forms) == set(LANGUAGES), key
        for language in ("fr", "nl", "de"):
            assert forms[language] != forms["en"], f"{key} [{language}] is the English text"


def test_from_settings_and_limits() -> None:
    settings = ProgramSettings(cents_per_stamp=1000, min_minutes_between_stamps=15)
    prog = Program.from_settings(settings)
    assert (prog.id, prog.cents_per_stamp, prog.min_minutes_between_stamps) == ("coffee", 1000, 15)
    assert prog.campaigns == ()
    limits = OfflineLimits.from_settings(LimitSettings(offline_redemptions_per_card=2))
    assert (limits.per_card_per_day, limits.per_terminal_per_day) == (2, 20)


def test_program_json_round_trip_and_refusals() -> None:
    prog = program(campaigns=[Campaign(name="Sat", weekdays=frozenset({6, 7}), start_hour=9)])
    assert Program.from_json(prog.to_json()) == prog
    bad = [
        "not json",
        json.dumps({"id": "x", "unknown": 1}),
        json.dumps({"id": "x y"}),
        json.dumps({"id": "x", "name": "evil\x1b[31m"}),
        json.dumps({"id": "x", "reward_threshold": 0}),
        json.dumps({"id": "x", "campaigns": [{"name": "c", "start_hour": 10, "end_hour": 9}]}),
        json.dumps({"id": "x", "campaigns": [{"name": "c", "weekdays": [8]}]}),
        json.dumps({"id": "x", "campaigns": [{"name": "c"}] * 21}),
        " " * (MAX_PROGRAM_JSON + 1),
    ]
    for text in bad:
        with pytest.raises(ProgramError):
            Program.from_json(text)
    with pytest.raises(ValueError, match="frozen"):
        prog.id = "other"  # type: ignore[misc]


@settings(max_examples=200, deadline=None)
@given(
    st.recursive(
        st.none() | st.booleans() | st.integers() | st.text(max_size=20),
        lambda inner: (
            st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=6)
        ),
        max_leaves=20,
    )
)
def test_any_json_from_the_platform_gives_a_program_or_program_error(data: object) -> None:
    with contextlib.suppress(ProgramError):
        Program.from_json(json.dumps(data))


@settings(max_examples=300, deadline=None)
@given(
    per_visit=st.integers(0, 5),
    cents=st.sampled_from([0, 500, 1000]),
    amount=st.none() | st.integers(1, 100_000),
    limit=st.integers(1, 10),
    gap=st.sampled_from([0, 15]),
    past=st.lists(st.tuples(st.integers(-2000, 0), st.integers(1, 5)), max_size=6),
    minute=st.integers(0, 60 * 24 * 7),
)
def test_rules_are_deterministic_and_limits_hold(
    per_visit: int,
    cents: int,
    amount: int | None,
    limit: int,
    gap: int,
    past: list[tuple[int, int]],
    minute: int,
) -> None:
    prog = program(
        stamps_per_visit=per_visit,
        cents_per_stamp=cents,
        max_stamps_per_day=limit,
        min_minutes_between_stamps=gap,
        campaigns=[Campaign(name="Weekend", weekdays=frozenset({6, 7}))],
    )
    now = datetime(2025, 3, 3, tzinfo=UTC) + timedelta(minutes=minute)
    history = [PastStamp(now + timedelta(minutes=delta), n) for delta, n in past]
    first = evaluate(prog, history, now=now, amount_cents=amount)
    assert first == evaluate(prog, list(reversed(history)), now=now, amount_cents=amount)
    today = sum(
        h.stamps
        for h in history
        if h.at.astimezone(SHOP_TZ).date() == now.astimezone(SHOP_TZ).date()
    )
    assert 0 <= first.stamps <= max(limit - today, 0)
    if gap and history and now - max(h.at for h in history) < timedelta(minutes=gap):
        assert first.refusal is not None and first.refusal.reason is RuleReason.TOO_SOON
    assert (first.refusal is None) == (first.stamps > 0)
