"""The ledger: append-only events, the per-card balance kept beside them, and their checks.

Every write is one ``store.write()`` transaction (``BEGIN IMMEDIATE``) that reads what the
rules need, inserts the event, its outbox row and updates the card's balance row; a method
returns only after that commit returned, so "recorded" on screen means on disk. Because the
rules are evaluated inside the write transaction, two threads stamping or redeeming the same
card at once cannot both pass a limit.

Decisions worth knowing:

* Balance: ``local`` is this terminal's fold of the card's events; ``confirmed`` is what the
  platform last confirmed; ``pending`` is the stamp delta of this card's events the platform
  had not accepted at that confirmation (outbox not ``synced``, or synced after it by the
  local sync sequence: ``outbox.synced_mark`` > ``confirmed_balances.mark``). ``total``
  is ``confirmed + pending`` when a confirmation exists, else ``local``. Redemptions are
  checked against ``total`` (a card may have earned stamps at other terminals), so
  ``local`` alone may go below zero; ``total`` never does through a redeem.
* Offline redemption limits count this local day's redemptions that were not voided and are
  not ``synced`` yet. The age of the last good sync only applies when a platform is
  configured (``platform_configured=True``): then a terminal that never synced is refused
  unless the limit is 0 (no limit). A terminal without a platform has nothing to sync with.
* Time only goes forward: every write is evaluated and recorded at the later of the clock
  and the newest event in the ledger, so a clock set back a day cannot reset the daily
  limit or the offline redemption allowance; ``clock_behind`` says by how much. The
  platform's clock bounds that floor: an event the platform answered (``note_platform_time``)
  that is dated more than ``FUTURE_LEEWAY`` after the platform's time in that answer was
  recorded by a clock running ahead, and no longer holds the floor. Without that bound, one
  event recorded while the clock said 2030 would date every later event 2030, and count every
  card's daily limit on that one day, until 2030.
* A void may take a card below zero (the stamp was a mistake but the reward was given);
  the balance shows it honestly rather than refusing the correction.
"""

from __future__ import annotations

import json
import re
import sqlite3
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta, tzinfo
from enum import StrEnum
from pathlib import Path
from typing import Any, Final

import sqlite_utils
import uuid6

# The sentences a voucher spend's explanation lines name (Explanation finds them by key).
import loyalty.vouchers  # noqa: F401
from loyalty.cards import card_id_is_valid, card_number
from loyalty.db import Store, iso, parse_iso, utc_now
from loyalty.i18n import Catalog
from loyalty.programs import (
    SHOP_TZ,
    Explanation,
    OfflineLimits,
    PastStamp,
    Program,
    RuleRefusal,
    StampDecision,
    evaluate,
    history_window_start,
    lines_from_json,
)
from loyalty.staff import Role, acting_account, any_staff

BACKUP_PATTERN: Final = re.compile(r"^ledger-\d{8}T\d{12}Z\.db$")
FUTURE_LEEWAY: Final = timedelta(hours=48)
"""How far past the platform's clock an event it answered may be dated and still hold the
time floor. The platform's default ``max_clock_skew`` (``city.checks``): an event that stops
holding the floor is one the platform flagged ``clock_skew`` for its operator. A smaller
leeway would let a cashier run the clock an hour fast all day, sync, then set it back a day
for fresh daily limits, with nothing flagged."""


def backups(folder: Path) -> list[Path]:
    """The backups ``Ledger.backup`` made in ``folder``, oldest first (names sort by time)."""
    try:
        return sorted(p for p in folder.iterdir() if BACKUP_PATTERN.match(p.name))
    except (FileNotFoundError, NotADirectoryError):
        return []


def newest_backup(folder: Path) -> Path | None:
    """The newest backup in ``folder``, if there is one."""
    found = backups(folder)
    return found[-1] if found else None


class EventKind(StrEnum):
    """What happened at the counter."""

    STAMP = "stamp"
    PURCHASE = "purchase"
    REDEEM = "redeem"
    VOID = "void"
    ENROLL = "enroll"
    VOUCHER_SPEND = "voucher_spend"


class RefusalReason(StrEnum):
    """Why the ledger did not record what was asked (stable codes for scripts and the app)."""

    BELOW_THRESHOLD = "below_threshold"
    DAILY_LIMIT = "daily_limit"
    TOO_SOON = "too_soon"
    OFFLINE_CARD_LIMIT = "offline_card_limit"
    OFFLINE_TERMINAL_LIMIT = "offline_terminal_limit"
    SYNC_TOO_OLD = "sync_too_old"
    UNKNOWN_EVENT = "unknown_event"
    ALREADY_VOIDED = "already_voided"
    CANNOT_VOID_VOID = "cannot_void_void"
    REVOKED = "revoked"
    NOTHING_TO_STAMP = "nothing_to_stamp"
    STAFF_REQUIRED = "staff_required"
    UNKNOWN_STAFF = "unknown_staff"
    APPROVER_NOT_MANAGER = "approver_not_manager"
    APPROVAL_NEEDED = "approval_needed"
    STAFF_LOCKED = "staff_locked"


OFFLINE_REASONS: Final = frozenset(
    {
        RefusalReason.OFFLINE_CARD_LIMIT,
        RefusalReason.OFFLINE_TERMINAL_LIMIT,
        RefusalReason.SYNC_TOO_OLD,
    }
)
"""A redeem refused for one of these is beyond the offline allowance: with ``[limits]
allow_manager_override`` a manager may approve it (``Ledger.redeem(..., override=True)``)."""

CATALOG = Catalog("ledger", "loyalty", "ledger")


class LedgerRefusal(Exception):
    """The ledger refused: a stable ``reason`` code, an English ``message``, and ``text(lang)``."""

    def __init__(self, reason: RefusalReason, line: Explanation) -> None:
        self.reason = reason
        self.line = line
        self.message = line.text("en")
        super().__init__(f"{reason.value}: {self.message}")

    def text(self, language: str) -> str:
        """The refusal in the counter's language."""
        return self.line.text(language)

    @classmethod
    def of(cls, reason: RefusalReason, key: str, **params: int | str) -> LedgerRefusal:
        """A refusal whose sentence is the catalog entry ``key`` with ``params``."""
        return cls(reason, Explanation(key, params))

    @classmethod
    def from_rule(cls, refusal: RuleRefusal) -> LedgerRefusal:
        """The rules' refusal (too soon, daily limit, nothing to stamp) as a ledger refusal."""
        return cls(RefusalReason(refusal.reason.value), refusal.line)


@dataclass(frozen=True)
class Event:
    """One row of the ledger, as stored."""

    seq: int
    id: str
    kind: EventKind
    terminal_id: str
    shop_id: str
    occurred_at: datetime
    card_id: str | None
    program_id: str
    stamps: int
    amount_cents: int | None
    currency: str | None
    voids: str | None
    receipt_no: str
    detail: dict[str, Any] = field(default_factory=dict)
    voucher_id: str | None = None
    """The city voucher a ``voucher_spend`` (or its void) is paid with."""
    staff_id: str | None = None
    """Who recorded it (a staff id, never a name); None before staff accounts exist."""
    approver_id: str | None = None
    """The manager who approved it, when the action needed approval."""

    @property
    def lines(self) -> list[Explanation]:
        """The explanation lines recorded with the event."""
        return lines_from_json(json.dumps(self.detail))

    def to_json(self) -> dict[str, Any]:
        """The event as a JSON-ready dict (times as stored, UTC ``...Z``)."""
        return {
            "seq": self.seq,
            "id": self.id,
            "kind": self.kind.value,
            "terminal_id": self.terminal_id,
            "shop_id": self.shop_id,
            "occurred_at": iso(self.occurred_at),
            "card_id": self.card_id,
            "program_id": self.program_id,
            "stamps": self.stamps,
            "amount_cents": self.amount_cents,
            "currency": self.currency,
            "voids": self.voids,
            "receipt_no": self.receipt_no,
            "detail": self.detail,
            "voucher_id": self.voucher_id,
            "staff_id": self.staff_id,
            "approver_id": self.approver_id,
        }


@dataclass(frozen=True)
class Balance:
    """A card's stamps: this terminal's fold, the platform's confirmation, what is pending."""

    card_id: str
    local: int
    confirmed: int | None
    pending: int
    confirmed_at: datetime | None

    @property
    def total(self) -> int:
        """The balance to act on: confirmed + pending if confirmed, else the local fold."""
        return self.local if self.confirmed is None else self.confirmed + self.pending

    def to_json(self) -> dict[str, Any]:
        """The balance as a JSON-ready dict."""
        return {
            "card_id": self.card_id,
            "local": self.local,
            "confirmed": self.confirmed,
            "pending": self.pending,
            "total": self.total,
            "confirmed_at": None if self.confirmed_at is None else iso(self.confirmed_at),
        }


@dataclass(frozen=True)
class Recorded:
    """What a write recorded: the event, the card's balance after it, and why."""

    event: Event
    balance: Balance | None
    lines: list[Explanation]


@dataclass(frozen=True)
class TypedCard:
    """A card number typed by hand (``CT-7KQ2-M9XD-4HTW``, as printed) and what it names here."""

    card_id: str
    refusal: str | None = None
    """None: a card this terminal knows. Else why not: ``number_typo`` (the check character
    does not match), ``revoked``, or ``number_unknown`` (never seen here nor confirmed by the
    platform: without its signed code nothing says the card exists)."""


@dataclass(frozen=True)
class BalanceMismatch:
    """A card whose balance row disagrees with the fold of its events."""

    card_id: str
    column: str
    table: int | None
    fold: int | None


@dataclass(frozen=True)
class LedgerCheck:
    """The result of ``Ledger.check``."""

    integrity: list[str]
    events: int
    cards: int
    mismatches: list[BalanceMismatch]
    events_without_outbox: int

    @property
    def ok(self) -> bool:
        """No damage, every balance equals its fold, every event has its outbox row."""
        return self.integrity == ["ok"] and not self.mismatches and not self.events_without_outbox

    def to_json(self) -> dict[str, Any]:
        """The check as a JSON-ready dict."""
        return {
            "ok": self.ok,
            "integrity": self.integrity,
            "events": self.events,
            "cards": self.cards,
            "events_without_outbox": self.events_without_outbox,
            "mismatches": [m.__dict__ for m in self.mismatches],
        }


# A constant column list: the f-strings below splice no input into SQL.
_EVENT_COLUMNS = (
    "seq, id, kind, terminal_id, shop_id, occurred_at, card_id, program_id, stamps, "
    "amount_cents, currency, voids, receipt_no, detail, voucher_id, staff_id, approver_id"
)
_EVENT_WIDTH = 17
"""How many columns ``_EVENT_COLUMNS`` has (``_event`` reads a row's first ones)."""

_FOLD_SQL = """
SELECT e.card_id,
       SUM(e.stamps),
       COUNT(*),
       SUM(CASE WHEN o.seq IS NOT NULL AND o.synced_mark IS NULL THEN e.stamps ELSE 0 END)
FROM events e LEFT JOIN outbox o ON o.seq = e.seq
WHERE e.card_id IS NOT NULL
GROUP BY e.card_id
"""


def _event(row: tuple[Any, ...]) -> Event:
    try:
        detail = json.loads(row[13])
    except (TypeError, ValueError):
        detail = {}
    return Event(
        seq=row[0],
        id=row[1],
        kind=EventKind(row[2]),
        terminal_id=row[3],
        shop_id=row[4],
        occurred_at=parse_iso(row[5]),
        card_id=row[6],
        program_id=row[7],
        stamps=row[8],
        amount_cents=row[9],
        currency=row[10],
        voids=row[11],
        receipt_no=row[12],
        detail=detail if isinstance(detail, dict) else {},
        voucher_id=row[14],
        staff_id=row[15],
        approver_id=row[16],
    )


class Ledger:
    """Record and read counter events; any thread may call it."""

    def __init__(
        self,
        store: Store,
        *,
        shop_id: str,
        terminal_id: str,
        currency: str = "EUR",
        tz: tzinfo = SHOP_TZ,
        platform_configured: bool = False,
    ) -> None:
        self.store = store
        self.shop_id = shop_id
        self.terminal_id = terminal_id
        self.currency = currency
        self.tz = tz
        self.platform_configured = platform_configured

    # --- writes ---------------------------------------------------------------------------

    def stamp(
        self,
        card_id: str,
        program: Program,
        *,
        count: int | None = None,
        now: datetime | None = None,
        staff_id: str | None = None,
        approver_id: str | None = None,
    ) -> Recorded:
        """Record the stamps the rules give for a visit (or ``count`` typed by hand).

        ``staff_id``: who records it (required once staff accounts exist); ``approver_id``:
        the manager who approved it. The same two on every write method.
        """
        with self.store.write() as db:
            self._check_staff(db, staff_id, approver_id)  # who asks comes before any rule
            moment = self._not_before_newest(db, _moment(now))
            self._refuse_revoked(db, card_id)
            history = self._history(db, card_id, program, moment)
            decision = evaluate(program, history, now=moment, count=count, tz=self.tz)
            if decision.refusal is not None:
                raise LedgerRefusal.from_rule(decision.refusal)
            detail: dict[str, Any] = {"lines": _lines_detail(decision.lines)}
            if count is not None:
                detail["count"] = count
            event = self._append(
                db,
                kind=EventKind.STAMP,
                card_id=card_id,
                program_id=program.id,
                stamps=decision.stamps,
                moment=moment,
                detail=detail,
                staff_id=staff_id,
                approver_id=approver_id,
            )
            balance = self._balance(db, card_id)
        return Recorded(event, balance, decision.lines)

    def purchase(
        self,
        card_id: str | None,
        amount_cents: int,
        program: Program,
        *,
        now: datetime | None = None,
        staff_id: str | None = None,
        approver_id: str | None = None,
    ) -> Recorded:
        """Record a purchase; with a card it earns what the rules give (possibly nothing).

        A purchase is recorded even when the rules give no stamps (too soon, daily limit):
        the money was spent; the explanation lines say why there are no stamps.
        """
        _check_amount(amount_cents)
        with self.store.write() as db:
            self._check_staff(db, staff_id, approver_id)  # who asks comes before any rule
            moment = self._not_before_newest(db, _moment(now))
            if card_id is None:
                lines = [Explanation("ledger.anonymous")]
                stamps = 0
            else:
                self._refuse_revoked(db, card_id)
                decision = self._purchase_decision(db, card_id, amount_cents, program, moment)
                lines, stamps = decision.lines, decision.stamps
            event = self._append(
                db,
                kind=EventKind.PURCHASE,
                card_id=card_id,
                program_id=program.id,
                stamps=stamps,
                amount_cents=amount_cents,
                moment=moment,
                detail={"lines": _lines_detail(lines)},
                staff_id=staff_id,
                approver_id=approver_id,
            )
            balance = None if card_id is None else self._balance(db, card_id)
        return Recorded(event, balance, lines)

    def redeem(
        self,
        card_id: str,
        program: Program,
        limits: OfflineLimits,
        *,
        now: datetime | None = None,
        staff_id: str | None = None,
        approver_id: str | None = None,
        override: bool = False,
    ) -> Recorded:
        """Redeem one reward: ``reward_threshold`` stamps off, within the offline limits.

        ``override``: a manager approved a redeem beyond the offline allowance (the sync age
        and the unconfirmed rewards per card and per terminal are not checked); refused
        (``approval_needed``) without an ``approver_id``. Never beyond the card's stamps.
        """
        if override and approver_id is None:
            raise LedgerRefusal.of(RefusalReason.APPROVAL_NEEDED, "staff.approval.redeem_override")
        with self.store.write() as db:
            self._check_staff(db, staff_id, approver_id)  # who asks comes before any rule
            moment = self._not_before_newest(db, _moment(now))
            self._refuse_revoked(db, card_id)
            before = self._balance(db, card_id)
            if before.total < program.reward_threshold:
                raise LedgerRefusal.of(
                    RefusalReason.BELOW_THRESHOLD,
                    "ledger.below_threshold",
                    reward=program.reward_name,
                    balance=before.total,
                    threshold=program.reward_threshold,
                )
            if not override:
                self._refuse_offline(db, card_id, limits, moment)
            line = Explanation(
                "ledger.redeemed",
                {"reward": program.reward_name, "threshold": program.reward_threshold},
            )
            detail: dict[str, Any] = {"lines": _lines_detail([line]), "reward": program.reward_name}
            if override:
                detail["override"] = True
            event = self._append(
                db,
                kind=EventKind.REDEEM,
                card_id=card_id,
                program_id=program.id,
                stamps=-program.reward_threshold,
                moment=moment,
                detail=detail,
                staff_id=staff_id,
                approver_id=approver_id,
            )
            balance = self._balance(db, card_id)
        return Recorded(event, balance, [line])

    def _refuse_offline(
        self, db: sqlite_utils.Database, card_id: str, limits: OfflineLimits, moment: datetime
    ) -> None:
        """The offline allowance: sync age, unconfirmed rewards per card and per terminal."""
        self._refuse_stale_sync(db, limits, moment)
        start, end = self._day_range(moment)
        card_count = self._unconfirmed_redeems(db, start, end, card_id)
        if card_count >= limits.per_card_per_day:
            raise LedgerRefusal.of(
                RefusalReason.OFFLINE_CARD_LIMIT,
                "ledger.offline_card_limit",
                count=card_count,
                limit=limits.per_card_per_day,
            )
        terminal_count = self._unconfirmed_redeems(db, start, end, None)
        if terminal_count >= limits.per_terminal_per_day:
            raise LedgerRefusal.of(
                RefusalReason.OFFLINE_TERMINAL_LIMIT,
                "ledger.offline_terminal_limit",
                count=terminal_count,
                limit=limits.per_terminal_per_day,
            )

    def void(
        self,
        event_id: str,
        *,
        now: datetime | None = None,
        staff_id: str | None = None,
        approver_id: str | None = None,
    ) -> Recorded:
        """Cancel an event (by id or receipt number) with a compensating event."""
        with self.store.write() as db:
            # Who asks comes before any rule.
            self._check_staff(db, staff_id, approver_id, kind=EventKind.VOID)
            moment = self._not_before_newest(db, _moment(now))
            original = self._find(db, event_id)
            if original is None:
                raise LedgerRefusal.of(
                    RefusalReason.UNKNOWN_EVENT, "ledger.unknown_event", ref=event_id[:80]
                )
            if original.kind is EventKind.VOID:
                raise LedgerRefusal.of(
                    RefusalReason.CANNOT_VOID_VOID,
                    "ledger.cannot_void_void",
                    ref=original.receipt_no,
                )
            existing = db.execute(
                "SELECT receipt_no FROM events WHERE voids = ?", [original.id]
            ).fetchone()
            if existing is not None:
                raise LedgerRefusal.of(
                    RefusalReason.ALREADY_VOIDED,
                    "ledger.already_voided",
                    ref=original.receipt_no,
                    by=existing[0],
                )
            line = Explanation(
                "ledger.voided",
                {
                    "receipt_no": original.receipt_no,
                    "kind": original.kind.value,
                    "stamps": -original.stamps,
                },
            )
            amount = None if original.amount_cents is None else -original.amount_cents
            try:
                event = self._append(
                    db,
                    kind=EventKind.VOID,
                    card_id=original.card_id,
                    program_id=original.program_id,
                    stamps=-original.stamps,
                    amount_cents=amount,
                    currency=original.currency,
                    voids=original.id,
                    voucher_id=original.voucher_id,
                    staff_id=staff_id,
                    approver_id=approver_id,
                    moment=moment,
                    detail={
                        "lines": _lines_detail([line]),
                        "voided_kind": original.kind.value,
                        "voided_receipt_no": original.receipt_no,
                    },
                )
            except sqlite3.IntegrityError as exc:
                # The unique index on voids is the last word if a check above were ever bypassed.
                raise LedgerRefusal.of(
                    RefusalReason.ALREADY_VOIDED,
                    "ledger.already_voided",
                    ref=original.receipt_no,
                    by="?",
                ) from exc
            balance = None if original.card_id is None else self._balance(db, original.card_id)
        return Recorded(event, balance, [line])

    # --- reads ----------------------------------------------------------------------------

    def preview_purchase(
        self,
        card_id: str,
        amount_cents: int,
        program: Program,
        *,
        now: datetime | None = None,
    ) -> StampDecision:
        """The stamps (and the lines saying why) ``purchase`` would give now; records nothing.

        The same history and rules as ``purchase``, read outside a write transaction, so a
        write in between may change the answer. A revoked card is not checked here:
        ``purchase`` refuses it.
        """
        _check_amount(amount_cents)
        db = self.store.read()
        moment = self._not_before_newest(db, _moment(now))
        return self._purchase_decision(db, card_id, amount_cents, program, moment)

    def balance(self, card_id: str) -> Balance:
        """The card's balance (index lookups only: constant time in the card's history)."""
        return self._balance(self.store.read(), card_id)

    def typed_card(self, candidates: Sequence[str]) -> TypedCard | None:
        """The card a typed number among ``candidates`` names; None when none is a number.

        The one rule for the counter app (``Desk.identify``) and the headless commands: a
        number is taken when its check character matches, the card is not revoked, and this
        terminal knows it (its ledger has seen the card, or the platform confirmed its
        balance). The first number whose check character matches is the one judged.
        """
        numbers = [n for n in (card_number(c) for c in candidates) if n is not None]
        if not numbers:
            return None
        valid = [n for n in numbers if card_id_is_valid(n)]
        if not valid:
            return TypedCard(numbers[0], "number_typo")
        number = valid[0]
        db = self.store.read()
        if db.execute("SELECT 1 FROM revoked_cards WHERE card_id = ?", [number]).fetchone():
            return TypedCard(number, "revoked")
        for table in ("balances", "confirmed_balances"):
            query = f"SELECT 1 FROM {table} WHERE card_id = ? LIMIT 1"  # noqa: S608 (fixed names)
            if db.execute(query, [number]).fetchone() is not None:
                return TypedCard(number)
        return TypedCard(number, "number_unknown")

    def card_events(self, card_id: str, limit: int = 20) -> list[Event]:
        """The card's latest events, newest first."""
        rows = self.store.read().execute(
            f"SELECT {_EVENT_COLUMNS} FROM events WHERE card_id = ? ORDER BY seq DESC LIMIT ?",  # noqa: S608
            [card_id, limit],
        )
        return [_event(row) for row in rows.fetchall()]

    def recent(self, limit: int = 50) -> list[Event]:
        """The terminal's latest events, newest first."""
        rows = self.store.read().execute(
            f"SELECT {_EVENT_COLUMNS} FROM events ORDER BY seq DESC LIMIT ?",  # noqa: S608
            [limit],
        )
        return [_event(row) for row in rows.fetchall()]

    def events(
        self,
        *,
        card_id: str | None = None,
        staff_id: str | None = None,
        start: datetime | None = None,
        end: datetime | None = None,
        limit: int = 50,
    ) -> list[Event]:
        """Events newest first: of a card, recorded or approved by a staff member, in
        ``[start, end)`` (what ``history`` lists; indexed by card, staff and time)."""
        where: list[str] = []
        params: list[Any] = []
        if card_id is not None:
            where.append("card_id = ?")
            params.append(card_id)
        if staff_id is not None:
            where.append("(staff_id = ? OR approver_id = ?)")
            params += [staff_id, staff_id]
        if start is not None:
            where.append("occurred_at >= ?")
            params.append(iso(start))
        if end is not None:
            where.append("occurred_at < ?")
            params.append(iso(end))
        # Only constant clauses are joined in; every value is a parameter.
        clause = f"WHERE {' AND '.join(where)} " if where else ""
        rows = self.store.read().execute(
            f"SELECT {_EVENT_COLUMNS} FROM events {clause}ORDER BY seq DESC LIMIT ?",  # noqa: S608
            [*params, limit],
        )
        return [_event(row) for row in rows.fetchall()]

    def event(self, event_id_or_receipt_no: str) -> Event | None:
        """One event by its id or its receipt number."""
        return self._find(self.store.read(), event_id_or_receipt_no)

    def voided_by(self, event_id: str) -> Event | None:
        """The void that cancels ``event_id``, if any."""
        row = (
            self.store.read()
            .execute(
                f"SELECT {_EVENT_COLUMNS} FROM events WHERE voids = ?",  # noqa: S608
                [event_id],
            )
            .fetchone()
        )
        return None if row is None else _event(row)

    def newest_event_at(self) -> datetime | None:
        """When the newest event in the ledger happened (an index lookup)."""
        return _newest(self.store.read())

    def clock_behind(self, now: datetime | None = None) -> timedelta:
        """How far the clock (``now``) is behind the newest event; zero when it is not.

        While it is behind, every write is evaluated and recorded at the newest event's
        time instead, so setting the clock back cannot reset a daily limit.
        """
        newest = self.newest_event_at()
        moment = _moment(now)
        return max(newest - moment, timedelta(0)) if newest is not None else timedelta(0)

    def pending_count(self) -> int:
        """Events waiting to be sent (pending or in flight), counted from the database."""
        row = (
            self.store.read()
            .execute("SELECT COUNT(*) FROM outbox WHERE state IN ('pending', 'in_flight')")
            .fetchone()
        )
        return int(row[0])

    def quarantined(self) -> list[tuple[Event, str]]:
        """Events the platform rejected, with its reason."""
        cols = ", ".join(f"e.{c.strip()}" for c in _EVENT_COLUMNS.split(","))
        rows = self.store.read().execute(
            f"SELECT {cols}, o.reason FROM outbox o JOIN events e ON e.seq = o.seq "  # noqa: S608
            "WHERE o.state = 'quarantined' ORDER BY o.seq"
        )
        return [(_event(row[:_EVENT_WIDTH]), row[_EVENT_WIDTH] or "") for row in rows.fetchall()]

    def check(self) -> LedgerCheck:
        """Integrity check, and every balance row compared with the fold of its events."""
        db = self.store.read()
        try:
            integrity = [str(r[0]) for r in db.execute("PRAGMA integrity_check").fetchall()]
        except sqlite3.DatabaseError as exc:
            integrity = [f"integrity_check failed: {exc}"]
        fold = {
            row[0]: (int(row[1]), int(row[2]), int(row[3]))
            for row in db.execute(_FOLD_SQL).fetchall()
        }
        table = {
            row[0]: (int(row[1]), int(row[2]), int(row[3]))
            for row in db.execute("SELECT card_id, stamps, events, unsynced FROM balances")
        }
        mismatches: list[BalanceMismatch] = []
        for card_id in sorted(fold.keys() | table.keys()):
            have, want = table.get(card_id), fold.get(card_id)
            for index, column in enumerate(("stamps", "events", "unsynced")):
                got = None if have is None else have[index]
                expected = None if want is None else want[index]
                if got != expected:
                    mismatches.append(BalanceMismatch(card_id, column, got, expected))
        events = int(db.execute("SELECT COUNT(*) FROM events").fetchone()[0])
        orphans = int(
            db.execute(
                "SELECT COUNT(*) FROM events e WHERE NOT EXISTS "
                "(SELECT 1 FROM outbox o WHERE o.seq = e.seq)"
            ).fetchone()[0]
        )
        return LedgerCheck(integrity, events, len(fold), mismatches, orphans)

    def rebuild_balances(self) -> int:
        """Rewrite the balance table from the events (after ``check`` found a mismatch)."""
        now = iso(utc_now())
        with self.store.write() as db:
            db.execute("DELETE FROM balances")
            db.execute(
                "INSERT INTO balances (card_id, stamps, events, unsynced, last_stamp_at, "
                "updated_at) SELECT f.card_id, f.s, f.n, f.u, "
                "(SELECT MAX(occurred_at) FROM events x WHERE x.card_id = f.card_id "
                "AND x.stamps > 0 AND x.kind IN ('stamp', 'purchase')), ? "
                "FROM (SELECT e.card_id AS card_id, SUM(e.stamps) AS s, COUNT(*) AS n, "
                "SUM(CASE WHEN o.seq IS NOT NULL AND o.synced_mark IS NULL "
                "THEN e.stamps ELSE 0 END) AS u "
                "FROM events e LEFT JOIN outbox o ON o.seq = e.seq "
                "WHERE e.card_id IS NOT NULL GROUP BY e.card_id) f",
                [now],
            )
            return int(db.execute("SELECT COUNT(*) FROM balances").fetchone()[0])

    def backup(self, dest_dir: Path, retention: int) -> Path:
        """An online backup ``ledger-<UTC time>.db`` (0600) in ``dest_dir``; keep the newest.

        The one backup routine: ``ledger backup`` and the nightly sync job both call it.
        ``retention`` is how many backups to keep, this one included.
        """
        if retention < 1:
            raise ValueError("retention must be at least 1 to keep the backup just made")
        name = f"ledger-{utc_now().strftime('%Y%m%dT%H%M%S%f')}Z.db"
        dest = self.store.backup(dest_dir / name)
        for old in backups(dest_dir)[:-retention]:
            old.unlink(missing_ok=True)
        return dest

    # --- inside a transaction -------------------------------------------------------------

    @staticmethod
    def _not_before_newest(db: sqlite_utils.Database, moment: datetime) -> datetime:
        """The later of the clock and the newest event: limits see time only go forward."""
        newest = _newest(db)
        return moment if newest is None or moment >= newest else newest

    def _append(
        self,
        db: sqlite_utils.Database,
        *,
        kind: EventKind,
        card_id: str | None,
        program_id: str,
        stamps: int,
        moment: datetime,
        detail: Mapping[str, Any],
        amount_cents: int | None = None,
        currency: str | None = None,
        voids: str | None = None,
        voucher_id: str | None = None,
        staff_id: str | None = None,
        approver_id: str | None = None,
    ) -> Event:
        self._check_staff(db, staff_id, approver_id, kind=kind)
        event_id = str(uuid6.uuid7())
        at = iso(moment)
        if amount_cents is not None and currency is None:
            currency = self.currency
        detail_text = json.dumps(detail, ensure_ascii=False, sort_keys=True)
        # seq and receipt_no come from one statement, so the receipt number is set in the
        # same insert (the write lock is held, so no one else can take the same seq).
        cursor = db.execute(
            "INSERT INTO events (seq, id, kind, terminal_id, shop_id, occurred_at, card_id, "
            "program_id, stamps, amount_cents, currency, voids, receipt_no, detail, "
            "voucher_id, staff_id, approver_id) "
            "SELECT n, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ? || '-' || n, ?, ?, ?, ? FROM (SELECT MAX("
            "COALESCE((SELECT seq FROM sqlite_sequence WHERE name = 'events'), 0), "
            "COALESCE((SELECT MAX(seq) FROM events), 0)) + 1 AS n)",
            [
                event_id,
                kind.value,
                self.terminal_id,
                self.shop_id,
                at,
                card_id,
                program_id,
                stamps,
                amount_cents,
                currency,
                voids,
                self.terminal_id,
                detail_text,
                voucher_id,
                staff_id,
                approver_id,
            ],
        )
        seq = cursor.lastrowid
        assert seq is not None
        if card_id is not None:
            earned = at if stamps > 0 and kind in (EventKind.STAMP, EventKind.PURCHASE) else None
            db.execute(
                "INSERT INTO balances (card_id, stamps, events, last_stamp_at, updated_at) "
                "VALUES (?, ?, 1, ?, ?) ON CONFLICT(card_id) DO UPDATE SET "
                "stamps = stamps + excluded.stamps, events = events + 1, "
                "last_stamp_at = COALESCE(excluded.last_stamp_at, last_stamp_at), "
                "updated_at = excluded.updated_at",
                [card_id, stamps, earned, at],
            )
        # After the balance row exists: a trigger adds the stamps to balances.unsynced.
        db.execute(
            "INSERT INTO outbox (seq, state, card_id, updated_at) VALUES (?, 'pending', ?, ?)",
            [seq, card_id, at],
        )
        return Event(
            seq=seq,
            id=event_id,
            kind=kind,
            terminal_id=self.terminal_id,
            shop_id=self.shop_id,
            occurred_at=parse_iso(at),
            card_id=card_id,
            program_id=program_id,
            stamps=stamps,
            amount_cents=amount_cents,
            currency=currency,
            voids=voids,
            receipt_no=f"{self.terminal_id}-{seq}",
            detail=json.loads(detail_text),
            voucher_id=voucher_id,
            staff_id=staff_id,
            approver_id=approver_id,
        )

    @staticmethod
    def _check_staff(
        db: sqlite_utils.Database,
        staff_id: str | None,
        approver_id: str | None,
        *,
        kind: EventKind | None = None,
    ) -> None:
        """Who records and who approved, checked in the write transaction of every event.

        Once any staff account exists an event without a staff id is refused, so no caller
        (the app, a command, a voucher spend) can forget to say who pressed the key; a named
        staff member must be an active, unlocked account, an approver an active, unlocked
        manager, and a void (``kind``) names its approver.
        """
        if approver_id is not None:
            approver = acting_account(db, approver_id)
            if approver is None or approver.role is not Role.MANAGER:
                raise LedgerRefusal.of(
                    RefusalReason.APPROVER_NOT_MANAGER, "staff.approver_not_manager", id=approver_id
                )
            if approver.locked:
                raise LedgerRefusal.of(
                    RefusalReason.STAFF_LOCKED, "staff.locked", name=approver.name
                )
        if staff_id is not None:
            member = acting_account(db, staff_id)
            if member is None:
                raise LedgerRefusal.of(RefusalReason.UNKNOWN_STAFF, "staff.unknown_id", id=staff_id)
            if member.locked:
                # Locked means locked: an app still showing them as serving records no more.
                raise LedgerRefusal.of(RefusalReason.STAFF_LOCKED, "staff.locked", name=member.name)
            if kind is EventKind.VOID and approver_id is None:
                # A void always needs a manager (a manager approves their own): every caller
                # passes the approver, and one that forgot is refused here, not trusted.
                raise LedgerRefusal.of(RefusalReason.APPROVAL_NEEDED, "staff.approval.void")
        elif any_staff(db):
            raise LedgerRefusal.of(RefusalReason.STAFF_REQUIRED, "staff.staff_required")

    def _balance(self, db: sqlite_utils.Database, card_id: str) -> Balance:
        row = db.execute(
            "SELECT stamps, unsynced FROM balances WHERE card_id = ?", [card_id]
        ).fetchone()
        local, unsynced = (0, 0) if row is None else (int(row[0]), int(row[1]))
        confirmed_row = db.execute(
            "SELECT stamps, confirmed_at, COALESCE(mark, 0) FROM confirmed_balances "
            "WHERE card_id = ?",
            [card_id],
        ).fetchone()
        if confirmed_row is None:
            return Balance(card_id, local, None, unsynced, None)
        confirmed_at_text = str(confirmed_row[1])
        # Events the platform accepted after this confirmation are not in it yet. "After" is
        # the local sync sequence (schema 0004), never a comparison of two clock readings; a
        # row keeps the mark of its first sync (0009), also while `sync --resend-all` has it
        # pending again, so an event is never counted in both (0010: unsynced = never synced).
        late = db.execute(
            "SELECT COALESCE(SUM(e.stamps), 0) FROM outbox o JOIN events e ON e.seq = o.seq "
            "WHERE o.card_id = ? AND o.synced_mark IS NOT NULL AND o.synced_mark > ?",
            [card_id, int(confirmed_row[2])],
        ).fetchone()
        try:
            confirmed_at: datetime | None = parse_iso(confirmed_at_text)
        except ValueError:
            confirmed_at = None
        return Balance(card_id, local, int(confirmed_row[0]), unsynced + int(late[0]), confirmed_at)

    def _history(
        self, db: sqlite_utils.Database, card_id: str, program: Program, moment: datetime
    ) -> list[PastStamp]:
        start = history_window_start(program, moment, self.tz)
        rows = db.execute(
            "SELECT e.occurred_at, e.stamps FROM events e "
            "WHERE e.card_id = ? AND e.occurred_at >= ? AND e.stamps > 0 "
            "AND e.kind IN ('stamp', 'purchase') "
            "AND NOT EXISTS (SELECT 1 FROM events v WHERE v.voids = e.id)",
            [card_id, iso(start)],
        ).fetchall()
        return [PastStamp(parse_iso(at), int(stamps)) for at, stamps in rows]

    def _purchase_decision(
        self,
        db: sqlite_utils.Database,
        card_id: str,
        amount_cents: int,
        program: Program,
        moment: datetime,
    ) -> StampDecision:
        history = self._history(db, card_id, program, moment)
        return evaluate(program, history, now=moment, amount_cents=amount_cents, tz=self.tz)

    def _day_range(self, moment: datetime) -> tuple[str, str]:
        local = moment.astimezone(self.tz)
        start = datetime.combine(local.date(), datetime.min.time(), tzinfo=self.tz)
        end = datetime.combine(
            local.date() + timedelta(days=1), datetime.min.time(), tzinfo=self.tz
        )
        return iso(start), iso(end)

    def _unconfirmed_redeems(
        self, db: sqlite_utils.Database, start: str, end: str, card_id: str | None
    ) -> int:
        sql = (
            "SELECT COUNT(*) FROM events e JOIN outbox o ON o.seq = e.seq "
            "WHERE e.kind = 'redeem' AND e.occurred_at >= ? AND e.occurred_at < ? "
            "AND o.state != 'synced' "
            "AND NOT EXISTS (SELECT 1 FROM events v WHERE v.voids = e.id)"
        )
        params: list[str] = [start, end]
        if card_id is not None:
            sql += " AND e.card_id = ?"
            params.append(card_id)
        return int(db.execute(sql, params).fetchone()[0])

    def _refuse_stale_sync(
        self, db: sqlite_utils.Database, limits: OfflineLimits, moment: datetime
    ) -> None:
        if not self.platform_configured or not limits.max_hours_since_sync:
            return
        row = db.execute("SELECT value FROM meta WHERE key = 'last_good_sync'").fetchone()
        last: datetime | None = None
        if row is not None:
            try:
                last = parse_iso(str(row[0]))
            except ValueError:
                last = None
        if last is None:
            raise LedgerRefusal.of(RefusalReason.SYNC_TOO_OLD, "ledger.never_synced")
        age_hours = (moment - last).total_seconds() / 3600
        if age_hours > limits.max_hours_since_sync:
            raise LedgerRefusal.of(
                RefusalReason.SYNC_TOO_OLD,
                "ledger.sync_too_old",
                hours=int(age_hours),
                limit=_plain_number(limits.max_hours_since_sync),
            )

    def _refuse_revoked(self, db: sqlite_utils.Database, card_id: str) -> None:
        row = db.execute("SELECT 1 FROM revoked_cards WHERE card_id = ?", [card_id]).fetchone()
        if row is not None:
            raise LedgerRefusal.of(RefusalReason.REVOKED, "ledger.revoked", card_id=card_id)

    def _find(self, db: sqlite_utils.Database, ref: str) -> Event | None:
        row = db.execute(
            f"SELECT {_EVENT_COLUMNS} FROM events WHERE id = ? OR receipt_no = ? LIMIT 1",  # noqa: S608
            [ref, ref],
        ).fetchone()
        return None if row is None else _event(row)


def note_platform_time(db: sqlite_utils.Database, server_time: datetime, up_to_seq: int) -> None:
    """The platform answered a batch holding events up to ``up_to_seq`` at ``server_time``.

    Called by the sync in the transaction that applies the answer. Every event up to that
    sequence number was recorded before the platform's clock said ``server_time``; one dated
    more than ``FUTURE_LEEWAY`` after it came from a clock running ahead (see ``_newest``).
    Both facts only move forward.
    """
    known = _platform_time(db)
    if known is not None:
        server_time, up_to_seq = max(server_time, known[0]), max(up_to_seq, known[1])
    db.execute(
        "INSERT INTO meta (key, value) VALUES ('platform_time', ?), ('platform_time_seq', ?) "
        "ON CONFLICT(key) DO UPDATE SET value = excluded.value",
        [iso(server_time), str(up_to_seq)],
    )


def _platform_time(db: sqlite_utils.Database) -> tuple[datetime, int] | None:
    rows = dict(
        db.execute(
            "SELECT key, value FROM meta WHERE key IN ('platform_time', 'platform_time_seq')"
        ).fetchall()
    )
    try:
        return parse_iso(str(rows["platform_time"])), int(rows["platform_time_seq"])
    except (KeyError, ValueError):
        return None


def _max_time(db: sqlite_utils.Database, sql: str, params: Sequence[Any] = ()) -> datetime | None:
    row = db.execute(sql, params).fetchone()
    if row is None or row[0] is None:
        return None
    try:
        return parse_iso(str(row[0]))
    except ValueError:
        return None


def _newest(db: sqlite_utils.Database) -> datetime | None:
    """The newest event that holds the ledger's time floor.

    Every event recorded since the platform's last answer, and every event the platform
    answered that is not dated beyond its clock (plus ``FUTURE_LEEWAY``): two seeks, one on
    the sequence and one on ``events_time``.
    """
    heard = _platform_time(db)
    if heard is None:
        return _max_time(db, "SELECT MAX(occurred_at) FROM events")
    server_time, up_to_seq = heard
    times = (
        # "+": the events since, by their sequence; MAX(occurred_at) alone would walk
        # events_time back from the newest time until it met one (the whole index when
        # nothing was recorded since).
        _max_time(db, "SELECT MAX(+occurred_at) FROM events WHERE seq > ?", [up_to_seq]),
        _max_time(
            db,
            "SELECT MAX(occurred_at) FROM events WHERE occurred_at <= ?",
            [iso(server_time + FUTURE_LEEWAY)],
        ),
    )
    return max((t for t in times if t is not None), default=None)


def _moment(now: datetime | None) -> datetime:
    if now is None:
        return utc_now()
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware (UTC)")
    return now


def _check_amount(amount_cents: int) -> None:
    if isinstance(amount_cents, bool) or not isinstance(amount_cents, int):
        raise TypeError("amount_cents must be an int (cents)")
    if amount_cents <= 0:
        raise ValueError("a purchase amount must be more than zero cents")


def _lines_detail(lines: list[Explanation]) -> list[dict[str, Any]]:
    return [{"key": line.key, "params": dict(line.params)} for line in lines]


def _plain_number(value: float) -> int | str:
    return int(value) if float(value).is_integer() else str(value)
