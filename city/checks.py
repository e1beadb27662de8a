"""The platform keeps the books: each new event is judged against the shop's program.

Pure functions, shared by both stores: the store reads the context (the shop's programs, the
events that voids name, the cards' stamps earned that day across the shop's terminals), calls
``judge`` with the batch's new events in order, then stores what is accepted, with its flags.

What is rejected (the terminal quarantines it, with the reason):

* ``stamps_invalid``: a stamp or purchase with negative stamps, or more than the program
  gives in one event (its ``max_stamps_per_day``: the counter clips every event to what is
  left of the day; for a purchase also the visit and amount stamps times the best campaign
  running at its time); an anonymous purchase with stamps (they come later, through a claim).
* ``void_mismatch``: a void that is not the exact negative of its target (stamps, amount,
  card, program); ``void_of_void``; ``already_voided``: a second void of the same target.
* ``redeem_invalid``: a redeem that does not cost exactly the reward's stamps.
* ``amount_invalid``: a purchase without a positive amount, or a stamp or redeem with one.

What is kept and flagged (like an overdraft): ``daily_limit`` when a card's stamps that
local day at this shop, over all its terminals, pass the program's daily limit, and
``clock_skew`` when an event is dated further than ``max_clock_skew`` from its arrival.

City vouchers (``voucher_spend``, no card, ``amount_cents`` > 0 paid with the voucher): a
voucher the city never issued is rejected ``voucher_unknown``, another currency than the
voucher's ``currency_mismatch``, a spend without a positive amount ``amount_invalid``, a
voucher spend with a card or stamps, or a voucher id on another kind, ``voucher_invalid``.
Whatever the counter could not know is kept and flagged, never blamed on the customer: a
spend dated past the voucher's expiry (beyond the verifier's clock leeway)
``voucher_expired``, on a revoked voucher ``voucher_revoked``, beyond what is left of the
voucher city-wide (another shop spent it offline) ``voucher_overspent``. A void of a spend is
its exact negative (voucher too) and gives the value back.

A program the platform does not know (a shop that runs on its terminals' config) cannot
be checked exactly: its events are bounded by the most any program may give
(``UNKNOWN_PROGRAM_MAX``), redeems must take stamps off, and no daily limit is counted.
Programs are given as versions with the time each came into force: an event may follow the
version in force at its time or any later one (a terminal may record before it pulls).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, timedelta
from typing import Final

from loyalty.cards import CLOCK_LEEWAY
from loyalty.programs import SHOP_TZ, Program, ProgramError, local_day
from sync.protocol import Event

DEFAULT_MAX_CLOCK_SKEW: Final = timedelta(hours=48)
UNKNOWN_PROGRAM_MAX: Final = 1000
"""The most stamps any program may give in a day (``Program.max_stamps_per_day``'s bound)."""
EARNING_KINDS: Final = ("stamp", "purchase")
VOUCHER_SPEND: Final = "voucher_spend"
VOUCHER_FLAGS: Final = ("voucher_expired", "voucher_revoked", "voucher_overspent")
EPOCH: Final = datetime(1970, 1, 1, tzinfo=UTC)


@dataclass(frozen=True)
class ProgramVersion:
    """A program body as the platform holds it, and since when it is in force."""

    program: Program
    since: datetime = EPOCH


@dataclass(frozen=True)
class Target:
    """An event a void names, as stored, and whether a void of it is already stored."""

    id: str
    shop_id: str
    kind: str
    card_id: str | None
    program_id: str
    stamps: int
    amount_cents: int | None
    voided: bool
    occurred_at: datetime | None = None
    voucher_id: str | None = None
    currency: str | None = None


@dataclass(frozen=True)
class VoucherFacts:
    """A city voucher as the store holds it when the batch is judged."""

    id: str
    face_cents: int
    currency: str
    expires_at: datetime
    revoked: bool = False
    spent_cents: int = 0


@dataclass(frozen=True)
class Earned:
    """A stored stamp-earning event of a card at this shop (not voided)."""

    card_id: str
    program_id: str
    occurred_at: datetime
    stamps: int


@dataclass
class Context:
    """What the store read for one batch of one shop."""

    received_at: datetime
    programs: Mapping[str, Sequence[ProgramVersion]] = field(default_factory=dict)
    targets: Mapping[str, Target] = field(default_factory=dict)
    earned: Sequence[Earned] = ()
    max_clock_skew: timedelta = DEFAULT_MAX_CLOCK_SKEW
    vouchers: Mapping[str, VoucherFacts] = field(default_factory=dict)
    """The vouchers the batch's spends and voids name (read with the rows locked)."""


@dataclass(frozen=True)
class Verdict:
    """Accept with flags, or reject with a reason and a sentence."""

    accepted: bool
    reason: str | None = None
    message: str | None = None
    flags: tuple[str, ...] = ()


@dataclass(frozen=True)
class Needs:
    """What the store must read before judging: voided targets, cards, a time window and the
    vouchers spent or given back."""

    void_targets: frozenset[str]
    cards: frozenset[str]
    since: datetime | None
    until: datetime | None
    vouchers: frozenset[str] = frozenset()


def needs(events: Sequence[Event]) -> Needs:
    """The rows ``judge`` needs for these events (read them all in the batch's transaction).

    ``since``/``until`` bound the ``occurred_at`` of the earned stamps to read: a day and a
    half either side of the batch's events covers every local day they fall on.
    """
    times = [parse_time(e.occurred_at) for e in events if e.card_id and e.kind in EARNING_KINDS]
    cards = {e.card_id for e in events if e.card_id and e.kind in EARNING_KINDS}
    return Needs(
        void_targets=frozenset(e.voids for e in events if e.voids is not None),
        cards=frozenset(c for c in cards if c is not None),
        since=min(times) - timedelta(hours=36) if times else None,
        until=max(times) + timedelta(hours=36) if times else None,
        vouchers=frozenset(e.voucher_id for e in events if e.voucher_id is not None),
    )


def program_versions(bodies: Sequence[tuple[str, datetime]]) -> list[ProgramVersion]:
    """Program versions from stored JSON bodies; a body that no longer validates is skipped."""
    versions = []
    for body, since in bodies:
        try:
            versions.append(ProgramVersion(Program.from_json(body), since))
        except ProgramError:
            continue
    return sorted(versions, key=lambda v: v.since)


def parse_time(text: str) -> datetime:
    """An event's ``occurred_at`` (already validated as ISO 8601 with an offset)."""
    return datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(UTC)


def judge(events: Sequence[Event], context: Context) -> list[Verdict]:
    """One verdict per event, in order; an accepted event counts for the ones after it."""
    targets = dict(context.targets)
    day_totals: dict[tuple[str, str, date], int] = defaultdict(int)
    for past in context.earned:
        day_totals[(past.card_id, past.program_id, local_day(past.occurred_at))] += past.stamps
    spent = {v.id: v.spent_cents for v in context.vouchers.values()}
    verdicts = []
    for event in events:
        verdict = _judge_one(event, context, targets, day_totals)
        if verdict.accepted and event.voucher_id is not None:
            verdict = _voucher(event, context, targets, spent, verdict)
        if verdict.accepted:
            _count(event, targets, day_totals)
        verdicts.append(verdict)
    return verdicts


def _reject(reason: str, message: str) -> Verdict:
    return Verdict(False, reason, message[:500])


def _in_force(context: Context, program_id: str, at: datetime) -> list[Program]:
    return in_force(context.programs.get(program_id, ()), at)


def in_force(versions: Sequence[ProgramVersion], at: datetime) -> list[Program]:
    """The versions an event at ``at`` may follow: the one in force then, and every later one."""
    start = 0
    for index, version in enumerate(versions):
        if version.since <= at:
            start = index
    return [v.program for v in versions[start:]]


def _judge_one(
    event: Event,
    context: Context,
    targets: Mapping[str, Target],
    day_totals: Mapping[tuple[str, str, date], int],
) -> Verdict:
    at = parse_time(event.occurred_at)
    flags: list[str] = []
    if abs(context.received_at - at) > context.max_clock_skew:
        flags.append("clock_skew")
    programs = _in_force(context, event.program_id, at)
    if event.voids is not None and event.kind not in ("void", VOUCHER_SPEND):
        # Only a void cancels: a stamp naming another event in ``voids`` would otherwise be
        # taken as that event's void by the balances and the statement (a spend that names
        # one is refused by its own rule, ``voucher_invalid``).
        return _reject(
            "voids_invalid",
            f"a {event.kind} event cancels nothing; only a void names the event it cancels.",
        )
    if event.voucher_id is not None and event.kind not in (VOUCHER_SPEND, "void"):
        return _reject(
            "voucher_invalid",
            f"a {event.kind} event names no voucher; only a spend and its void do.",
        )
    if event.kind in EARNING_KINDS:
        refusal = _earning(event, programs)
        if refusal is not None:
            return refusal
        if event.card_id is not None and event.stamps > 0 and programs:
            limit = max(p.max_stamps_per_day for p in programs)
            key = (event.card_id, event.program_id, local_day(at))
            if day_totals.get(key, 0) + event.stamps > limit:
                flags.append("daily_limit")
    elif event.kind == "redeem":
        refusal = _redeem(event, programs)
        if refusal is not None:
            return refusal
    elif event.kind == "void":
        refusal = _void(event, targets.get(event.voids or ""))
        if refusal is not None:
            return refusal
    elif event.kind == VOUCHER_SPEND:
        refusal = _voucher_spend(event)
        if refusal is not None:
            return refusal
    elif event.stamps != 0 or event.amount_cents is not None:
        return _reject("stamps_invalid", f"an {event.kind} event carries no stamps and no amount.")
    return Verdict(True, flags=tuple(flags))


def _earning(event: Event, programs: Sequence[Program]) -> Verdict | None:
    if event.kind == "purchase":
        if event.amount_cents is None or event.amount_cents < 0 or event.currency is None:
            return _reject(
                "amount_invalid",
                "a purchase needs an amount of zero or more and its currency.",
            )
    elif event.amount_cents is not None:
        return _reject("amount_invalid", "a stamp event carries no amount.")
    if event.card_id is None and event.stamps != 0:
        return _reject(
            "stamps_invalid",
            f"an anonymous purchase earns no stamps at the counter (this one carries "
            f"{event.stamps}); the customer claims them with the slip's code.",
        )
    most = max((p.max_stamps_per_day for p in programs), default=UNKNOWN_PROGRAM_MAX)
    if event.kind == "purchase" and programs and event.amount_cents is not None:
        at = parse_time(event.occurred_at)
        most = min(most, max(_purchase_most(p, event.amount_cents, at) for p in programs))
    if not 0 <= event.stamps <= most:
        return _reject(
            "stamps_invalid",
            f"a {event.kind} event may earn 0 to {most} stamps in program "
            f"{event.program_id}, not {event.stamps}.",
        )
    return None


def _purchase_most(program: Program, amount_cents: int, at: datetime) -> int:
    """The most a purchase of ``amount_cents`` at ``at`` earns under ``program``: the visit
    and amount stamps, times the best campaign running then, within the daily limit (what
    ``loyalty.programs.evaluate`` gives a card with nothing earned yet)."""
    stamps = program.stamps_per_visit
    if program.cents_per_stamp:
        stamps += amount_cents // program.cents_per_stamp
    local = at.astimezone(SHOP_TZ)
    multiplier = max((c.multiplier for c in program.campaigns if c.applies(local)), default=1)
    return min(stamps * multiplier, program.max_stamps_per_day)


def _redeem(event: Event, programs: Sequence[Program]) -> Verdict | None:
    if event.amount_cents is not None:
        return _reject("amount_invalid", "a redeem carries no amount.")
    if programs:
        costs = sorted({p.reward_threshold for p in programs})
        if -event.stamps not in costs:
            shown = " or ".join(str(-c) for c in costs)
            return _reject(
                "redeem_invalid",
                f"a reward of program {event.program_id} costs {shown} stamps, not {event.stamps}.",
            )
    elif not -UNKNOWN_PROGRAM_MAX <= event.stamps < 0:
        return _reject(
            "redeem_invalid",
            f"a redeem takes 1 to {UNKNOWN_PROGRAM_MAX} stamps off, not {event.stamps}.",
        )
    return None


def _void(event: Event, target: Target | None) -> Verdict | None:
    if target is None:
        return None  # the store answers void_target_unknown (it knows the shops)
    if target.kind == "void":
        return _reject("void_of_void", f"event {target.id} is a void and cannot be voided.")
    if target.voided:
        return _reject(
            "already_voided", f"event {target.id} was already voided; a void counts once."
        )
    expected_amount = None if target.amount_cents is None else -target.amount_cents
    mismatches = [
        name
        for name, ok in (
            ("stamps", event.stamps == -target.stamps),
            ("amount", event.amount_cents == expected_amount),
            ("card", event.card_id == target.card_id),
            ("program", event.program_id == target.program_id),
            ("voucher", event.voucher_id == target.voucher_id),
            ("currency", target.voucher_id is None or event.currency == target.currency),
        )
        if not ok
    ]
    if mismatches:
        return _reject(
            "void_mismatch",
            f"a void must be the exact negative of event {target.id} "
            f"({target.stamps} stamps, amount {target.amount_cents}); "
            f"this one differs in {', '.join(mismatches)}.",
        )
    return None


def _voucher_spend(event: Event) -> Verdict | None:
    """A spend's own shape: a voucher, no card, no stamps, a positive amount and a currency."""
    if event.card_id is not None or event.stamps != 0 or event.voids is not None:
        return _reject(
            "voucher_invalid",
            "a voucher spend carries no card, no stamps and voids nothing "
            "(record those as their own events).",
        )
    if event.amount_cents is None or event.amount_cents <= 0 or event.currency is None:
        return _reject(
            "amount_invalid",
            "a voucher spend needs the amount paid with the voucher, above zero, and its currency.",
        )
    return None


def _voucher(
    event: Event,
    context: Context,
    targets: Mapping[str, Target],
    spent: dict[str, int],
    verdict: Verdict,
) -> Verdict:
    """Judge a spend or void against its voucher; count it in ``spent`` when accepted."""
    voucher_id = event.voucher_id or ""
    amount = event.amount_cents or 0
    if event.kind == "void":
        # ``_void`` made it the exact negative of a spend of this voucher, when the target is
        # known; an unknown target is the store's ``void_target_unknown``.
        if event.voids in targets:
            spent[voucher_id] = spent.get(voucher_id, 0) + amount  # negative: value comes back
        return verdict
    voucher = context.vouchers.get(voucher_id)
    if voucher is None:
        return _reject(
            "voucher_unknown", f"voucher {voucher_id} was never issued by this city platform."
        )
    if event.currency != voucher.currency:
        return _reject(
            "currency_mismatch",
            f"voucher {voucher_id} is in {voucher.currency}, this spend in {event.currency}.",
        )
    flags = list(verdict.flags)
    if parse_time(event.occurred_at) > voucher.expires_at + CLOCK_LEEWAY:
        flags.append("voucher_expired")
    if voucher.revoked:
        flags.append("voucher_revoked")
    already = spent.get(voucher_id, 0)
    if already + amount > voucher.face_cents:
        flags.append("voucher_overspent")
    spent[voucher_id] = already + amount
    return replace(verdict, flags=tuple(flags))


def _count(
    event: Event,
    targets: dict[str, Target],
    day_totals: dict[tuple[str, str, date], int],
) -> None:
    """Let an accepted event count for the later events of the same batch."""
    at = parse_time(event.occurred_at)
    if event.kind in EARNING_KINDS and event.card_id is not None and event.stamps > 0:
        day_totals[(event.card_id, event.program_id, local_day(at))] += event.stamps
    targets[event.id] = Target(
        id=event.id,
        shop_id=event.shop_id,
        kind=event.kind,
        card_id=event.card_id,
        program_id=event.program_id,
        stamps=event.stamps,
        amount_cents=event.amount_cents,
        voided=False,
        occurred_at=at,
        voucher_id=event.voucher_id,
        currency=event.currency,
    )
    old = targets.get(event.voids or "")
    if old is not None:
        targets[old.id] = replace(old, voided=True)
        if old.card_id and old.kind in EARNING_KINDS and old.stamps > 0 and old.occurred_at:
            # The voided stamps no longer count towards their day's limit.
            day_totals[(old.card_id, old.program_id, local_day(old.occurred_at))] -= old.stamps
