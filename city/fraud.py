"""Fraud signals only the city can see: patterns spread over shops no single terminal sees whole.

Pure functions, like ``city.checks``, used by both stores in the batch's transaction: the
store reads the cards' stamp-earning events city-wide around the batch's times (``needs``),
``judge`` says which of the batch's accepted events raise a signal, the store keeps the flags
on the events, on the card (``card_flags``, sent to every terminal as a warning) and on the
staff member's day (``staff_days``). Nothing is rejected: a flag asks a person to look.

* ``velocity``: a card stamped at more than ``velocity_shops`` different shops within
  ``velocity_minutes`` (a copied card passed around, or a card number shared online).
* ``city_daily_limit``: more than ``max_daily_stamps_city`` stamps on one card in one local
  day across the city (each shop's own daily limit is ``city.checks``'s ``daily_limit``).
* ``void_share``: a staff member's voids (per terminal, per local day) above
  ``max_void_share`` of their events, once they recorded ``min_void_events``: the staff
  member is listed for the operator, no card is flagged.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, fields
from datetime import date, datetime, timedelta
from typing import Final

from city.checks import parse_time
from loyalty.programs import local_day
from sync.protocol import Event

VELOCITY: Final = "velocity"
CITY_DAILY_LIMIT: Final = "city_daily_limit"
VOID_SHARE: Final = "void_share"
VELOCITY_KINDS: Final = ("stamp", "purchase")
"""Events that are a card used at a shop's counter."""
DAILY_KINDS: Final = ("stamp", "purchase", "claim")
"""Events whose stamps count towards the city's daily limit (claims credit stamps too)."""
DAY_MARGIN: Final = timedelta(hours=36)
"""Either side of an event, enough to hold every event of its local day."""
NO_STAFF: Final = ""
"""The staff id of events recorded without one (a terminal without staff accounts)."""


@dataclass(frozen=True)
class FraudSettings:
    """The thresholds (``[platform]`` in platform.toml, ``CITIE_PLATFORM_<NAME>``)."""

    velocity_shops: int = 2
    """A card stamped at more than this many shops within ``velocity_minutes`` is flagged."""
    velocity_minutes: int = 30
    max_daily_stamps_city: int = 20
    """More stamps than this on one card in one local day, city-wide, is flagged."""
    max_void_share: float = 0.2
    """A staff member's voids above this share of their events in a day is flagged."""
    min_void_events: int = 10
    """Events a staff member records in a day before the void share can be flagged."""

    @property
    def window(self) -> timedelta:
        """The velocity window."""
        return timedelta(minutes=self.velocity_minutes)


BOUNDS: Final[Mapping[str, tuple[float, float]]] = {
    "velocity_shops": (1, 1000),
    "velocity_minutes": (1, 7 * 24 * 60),
    "max_daily_stamps_city": (1, 1_000_000),
    "max_void_share": (0.0, 1.0),
    "min_void_events": (1, 1_000_000),
}
"""Each setting's lowest and highest value."""


class FraudConfigError(ValueError):
    """A threshold that is not a number in its range; the message names it and the range."""


def settings_from(values: Mapping[str, tuple[object, str]]) -> FraudSettings:
    """Settings from raw values, each with where it came from (for the message); a setting
    absent from ``values`` keeps its default. Raises ``FraudConfigError``."""
    chosen: dict[str, int | float] = {}
    for spec in fields(FraudSettings):
        if spec.name not in values:
            continue
        raw, where = values[spec.name]
        low, high = BOUNDS[spec.name]
        is_share = spec.name == "max_void_share"
        try:
            number: int | float = float(str(raw)) if is_share else int(str(raw))
        except ValueError:
            number = -1
        if isinstance(raw, bool) or not low <= number <= high:
            kind = (
                "a share from 0 to 1"
                if is_share
                else f"a whole number from {low:.0f} to {high:.0f}"
            )
            raise FraudConfigError(f"{where} must be {kind}, not {str(raw)[:40]!r}")
        chosen[spec.name] = number
    return FraudSettings(**chosen)  # type: ignore[arg-type]  # names and types checked above


SETTING_NAMES: Final = tuple(spec.name for spec in fields(FraudSettings))


@dataclass(frozen=True)
class Use:
    """A stored stamp-earning event of a card, anywhere in the city (not voided)."""

    event_id: str
    card_id: str
    shop_id: str
    kind: str
    occurred_at: datetime
    stamps: int


@dataclass(frozen=True)
class Needs:
    """What the store reads before judging: the cards' events between ``since`` and ``until``."""

    cards: frozenset[str]
    since: datetime | None
    until: datetime | None


def needs(events: Sequence[Event], settings: FraudSettings) -> Needs:
    """The cards whose city-wide events ``judge`` needs, and the time span to read."""
    earning = [e for e in events if e.card_id and e.kind in VELOCITY_KINDS and e.stamps > 0]
    times = [parse_time(e.occurred_at) for e in earning]
    margin = max(DAY_MARGIN, settings.window)
    return Needs(
        cards=frozenset(e.card_id for e in earning if e.card_id is not None),
        since=min(times) - margin if times else None,
        until=max(times) + margin if times else None,
    )


@dataclass
class Findings:
    """What a batch raised: flags per event (by position), reasons per card, staff days."""

    event_flags: list[tuple[str, ...]]
    cards: dict[str, list[str]] = field(default_factory=dict)
    staff_days: dict[tuple[str, str, str], tuple[int, int]] = field(default_factory=dict)
    """(terminal, staff id, local day) -> (events, voids) this batch adds."""


def judge(events: Sequence[Event], past: Sequence[Use], settings: FraudSettings) -> Findings:
    """The signals the batch's accepted ``events`` (in order) raise, given the cards' stored
    events city-wide (``past``); an event counts for the ones after it."""
    uses: dict[str, list[Use]] = defaultdict(list)
    by_id: dict[str, Use] = {}
    for use in past:
        uses[use.card_id].append(use)
        by_id[use.event_id] = use
    findings = Findings(event_flags=[])
    for event in events:
        flags: list[str] = []
        target = by_id.pop(event.voids, None) if event.voids else None
        if target is not None:  # a voided stamp no longer counts
            uses[target.card_id] = [u for u in uses[target.card_id] if u is not target]
        if event.card_id is not None and event.kind in VELOCITY_KINDS and event.stamps > 0:
            use = Use(
                event.id,
                event.card_id,
                event.shop_id,
                event.kind,
                parse_time(event.occurred_at),
                event.stamps,
            )
            known = uses[event.card_id]
            if _over_city_day(use, known, settings):
                flags.append(CITY_DAILY_LIMIT)
            known.append(use)
            by_id[use.event_id] = use
            if _too_fast(use, known, settings):
                flags.append(VELOCITY)
            reasons = findings.cards.setdefault(event.card_id, [])
            reasons.extend(f for f in flags if f not in reasons)
            if not reasons:
                del findings.cards[event.card_id]
        findings.event_flags.append(tuple(flags))
        if event.terminal_id:
            key = (event.terminal_id, event.staff_id or NO_STAFF, _day(event).isoformat())
            count, voids = findings.staff_days.get(key, (0, 0))
            findings.staff_days[key] = (count + 1, voids + (event.kind == "void"))
    return findings


def _day(event: Event) -> date:
    return local_day(parse_time(event.occurred_at))


def _over_city_day(use: Use, known: Sequence[Use], settings: FraudSettings) -> bool:
    day = local_day(use.occurred_at)
    before = sum(
        u.stamps for u in known if u.kind in DAILY_KINDS and local_day(u.occurred_at) == day
    )
    return before + use.stamps > settings.max_daily_stamps_city


def _too_fast(use: Use, known: Sequence[Use], settings: FraudSettings) -> bool:
    """Whether some window of ``velocity_minutes`` holding ``use`` saw the card at more than
    ``velocity_shops`` shops (claims are not a visit: they are left out)."""
    window = settings.window
    near = sorted(
        (
            u
            for u in known
            if u.kind in VELOCITY_KINDS and abs(u.occurred_at - use.occurred_at) <= window
        ),
        key=lambda u: u.occurred_at,
    )
    for start in near:
        if start.occurred_at > use.occurred_at:
            break
        end = start.occurred_at + window
        shops = {u.shop_id for u in near if start.occurred_at <= u.occurred_at <= end}
        if len(shops) > settings.velocity_shops:
            return True
    return False


def void_share_exceeded(events: int, voids: int, settings: FraudSettings) -> bool:
    """Whether a staff member's day of ``events`` with ``voids`` among them is flagged."""
    return events >= settings.min_void_events and voids > settings.max_void_share * events


def merge_reasons(stored: str, found: Sequence[str]) -> str:
    """A card's reasons (comma-separated codes) with the new ones added, in order, at most 8."""
    reasons = [r for r in stored.split(",") if r]
    reasons.extend(r for r in found if r not in reasons)
    return ",".join(reasons[:8])
