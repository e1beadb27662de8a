"""The platform's store: one interface, two databases (SQLite embedded, PostgreSQL for a city).

``PlatformStore`` holds every rule about what is stored and what terminals are told back; the
SQL is written once (``?`` placeholders, statements both databases run). A subclass gives the
connections and transactions (``SqliteStore`` in ``city.sqlite_store``, ``PostgresStore`` in
``city.postgres_store``); ``open_store`` picks one from a path or a ``postgresql://`` URL.

There is no Python lock around the store: each transaction has its own connection and the
database does the concurrency (SQLite: one writer at a time with a busy timeout, readers never
wait in WAL mode; PostgreSQL: row locks). Event ids are a UNIQUE column, so a replayed event can
never be stored twice, however long after the first copy it arrives.

Every change terminals pull gets its own number from a counter row, taken while the transaction
holds that row, so numbers become visible in commit order and an updates page can stop after
any item. A shop's balances and programs are numbered by the shop's own counter
(``shop:<id>``), revocations by the city's (``version``): writers of different shops never wait
for each other.
"""

from __future__ import annotations

import hashlib
import json
import re
import secrets
from abc import ABC, abstractmethod
from collections import defaultdict
from collections.abc import Iterable, Iterator, Sequence, Sized
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Final, Protocol
from urllib.parse import urlsplit, urlunsplit

from pydantic import ValidationError

from city import checks, clearings, fraud
from city import vouchers as voucher_books
from city.claims import handle_claim, settle_claims
from loyalty.db import iso, utc_now
from loyalty.vouchers import voucher_key
from sync.protocol import (
    MAX_UPDATE_ITEMS,
    CardFlag,
    ConfirmedBalance,
    Event,
    EventResult,
    ProgramUpdate,
    RevokedCard,
    VoucherState,
    describe,
)

UPDATE_PAGE: Final = 2000
"""Most items (programs, revocations, balances together) in one updates page."""
UPDATE_PAGE_BYTES: Final = 1024 * 1024
"""About the most bytes of items in one updates page (a page holds at least one item)."""
PROGRAM_PAGE: Final = 1000
"""Most programs in one page (the protocol's bound)."""
LIST_PAGE: Final = 1000
"""Most rows one operator listing returns at a time."""
CHUNK: Final = 500
"""Most values in one ``IN (...)`` list."""
STREAM_PAGE: Final = 5000
"""Rows fetched at a time by ``stream``."""
Query = tuple[str, Sequence[Any]]
"""A statement and its parameters."""

EVENT_COLUMNS: Final = (
    "id",
    "seq",
    "kind",
    "terminal_id",
    "shop_id",
    "occurred_at",
    "received_at",
    "card_id",
    "program_id",
    "stamps",
    "amount_cents",
    "currency",
    "voids",
    "receipt_no",
    "detail",
    "batch_id",
    "overdraft",
    "digest",
    "flags",
    "voucher_id",
    "staff_id",
    "approver_id",
)


def hash_secret(secret: str) -> str:
    """How credentials and pairing tokens are kept: only their sha256."""
    return hashlib.sha256(secret.encode()).hexdigest()


def new_secret() -> str:
    """A random token for pairing or a credential (URL-safe, 256 bits).

    Never starting with "-": a shopkeeper types ``citie-terminal pair URL TOKEN``, and a
    token that begins like an option is read as one (1 token in 64 could not be used).
    """
    while (secret := secrets.token_urlsafe(32)).startswith("-"):
        pass
    return secret


class PlatformError(Exception):
    """A platform command cannot do what was asked; ``code`` is stable, the message says why."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


class Retry(Exception):
    """The transaction lost a race with another one; run it again (it then sees the winner)."""


@dataclass(frozen=True)
class TerminalRecord:
    """A registered terminal."""

    id: str
    shop_id: str
    paired: bool


@dataclass(frozen=True)
class NewTerminal:
    """What ``terminal add`` hands to the shop: the ids and the one-time pairing token."""

    terminal_id: str
    shop_id: str
    token: str


@dataclass
class UpdatesPage:
    """One page of what changed for a shop since a cursor."""

    programs: list[ProgramUpdate]
    revoked: list[RevokedCard]
    balances: list[ConfirmedBalance]
    next_cursor: str
    more: bool
    vouchers: list[VoucherState] = field(default_factory=list)
    flags: list[CardFlag] = field(default_factory=list)


@dataclass
class _Budget:
    """What is left of one updates page: items and bytes (a page takes at least one item)."""

    # Read at each page, not once at import: tests page through small pages.
    items: int = field(default_factory=lambda: UPDATE_PAGE)
    size: int = field(default_factory=lambda: UPDATE_PAGE_BYTES)

    def take(self, size: int) -> bool:
        if self.items <= 0 or (self.size < size and self.items < UPDATE_PAGE):
            return False
        self.items -= 1
        self.size -= size
        return True


REVOKED_DIGITS: Final = 18
"""The revocation part of a cursor: its last 18 digits (the shop's part comes before)."""


def shop_counter(shop_id: str) -> str:
    """The counter that numbers a shop's changes (its balances and programs)."""
    return f"shop:{shop_id}"


def format_cursor(shop_version: int, revoked_version: int) -> str:
    """Both sequences a terminal follows, as the digits the protocol carries."""
    return f"{shop_version}{revoked_version:0{REVOKED_DIGITS}d}"


def parse_cursor(text: str) -> tuple[int, int]:
    """(shop version, revocation version) from a cursor; raises ValueError if it is not one.

    A cursor of at most 18 digits comes from before the split (one city-wide counter, which
    every shop's counter started from): it stands for both.
    """
    if not text.isascii() or not text.isdigit() or len(text) > 40:
        raise ValueError("a cursor is up to 40 digits")
    if len(text) <= REVOKED_DIGITS:
        return int(text), int(text)
    return int(text[:-REVOKED_DIGITS]), int(text[-REVOKED_DIGITS:])


class Rows(Protocol):
    """What ``Tx.execute`` returns (a DB-API cursor: rows are tuples)."""

    @property
    def rowcount(self) -> int:
        """Rows changed by the statement."""

    def fetchone(self) -> Any:
        """The next row, or None."""

    def fetchall(self) -> list[Any]:
        """The remaining rows."""

    def fetchmany(self, size: int = 1000) -> list[Any]:
        """Up to ``size`` of the remaining rows."""


class Tx(Protocol):
    """One open transaction; SQL with ``?`` placeholders."""

    def execute(self, sql: str, params: Sequence[Any] = ()) -> Rows:
        """Run one statement."""

    def executemany(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        """Run one statement for each row."""


@dataclass
class _Candidate:
    position: int
    event: Event
    digest: str


class PlatformStore(ABC):
    """The platform's ledger of everything terminals sent, and what it tells them back."""

    dialect: str = ""
    for_update: str = ""
    """Appended to a SELECT that reads rows the transaction will change (PostgreSQL locks them)."""
    retryable: tuple[type[BaseException], ...] = (Retry,)
    """Errors after which a write transaction is run again (lost races, deadlocks)."""
    max_clock_skew = checks.DEFAULT_MAX_CLOCK_SKEW
    fraud_settings = fraud.FraudSettings()

    # connections --------------------------------------------------------------------------

    @abstractmethod
    def write(self) -> AbstractContextManager[Tx]:
        """One write transaction; committed when the block returns, rolled back on error."""

    @abstractmethod
    def read(self) -> AbstractContextManager[Tx]:
        """One consistent read-only snapshot."""

    def lookup(self) -> AbstractContextManager[Tx]:
        """For one read-only statement: no snapshot needed (PostgreSQL saves the round trips)."""
        return self.read()

    @abstractmethod
    def close(self) -> None:
        """Close every connection."""

    @property
    @abstractmethod
    def where(self) -> str:
        """Where the data lives, for messages (a path, or a URL without its password)."""

    def _insert_events(self, tx: Tx, rows: list[tuple[Any, ...]]) -> set[str]:
        """Insert events (columns ``EVENT_COLUMNS``) skipping stored ids; return the ids stored."""
        marks = ", ".join("?" * len(EVENT_COLUMNS))
        tx.executemany(
            f"INSERT INTO events ({', '.join(EVENT_COLUMNS)}) VALUES ({marks}) "
            "ON CONFLICT(id) DO NOTHING",
            rows,
        )
        # SQLite runs one writer at a time, so what the batch checked before is still true.
        return {str(row[0]) for row in rows}

    def __enter__(self) -> PlatformStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _transaction(self, work: Any, attempts: int = 5) -> Any:
        """Run ``work(tx)`` in a write transaction, again when it lost a race."""
        for attempt in range(attempts):
            try:
                with self.write() as tx:
                    return work(tx)
            except self.retryable:
                if attempt == attempts - 1:
                    raise
        raise AssertionError("unreachable")

    # counters -----------------------------------------------------------------------------

    def _bump(self, tx: Tx, name: str, by: int = 1) -> int:
        """Add ``by`` to a counter and return its new value (the row stays locked until commit)."""
        row = tx.execute(
            "INSERT INTO counters (name, value) VALUES (?, ?) "
            "ON CONFLICT(name) DO UPDATE SET value = counters.value + excluded.value "
            "RETURNING value",
            [name, by],
        ).fetchone()
        return int(row[0])

    def _counter(self, tx: Tx, name: str) -> int:
        row = tx.execute("SELECT value FROM counters WHERE name = ?", [name]).fetchone()
        return int(row[0]) if row else 0

    # terminals ----------------------------------------------------------------------------

    def add_terminal(
        self, *, shop_name: str, shop_id: str | None = None, terminal_id: str | None = None
    ) -> NewTerminal:
        """Register a terminal (and its shop) and return a one-time pairing token.

        Adding a terminal id again issues a fresh pairing token: pairing with it replaces the
        old credential (that is how a credential is rotated).
        """
        shop = shop_id or _slug(shop_name)
        token = new_secret()
        now = iso(utc_now())

        def work(tx: Tx) -> str:
            chosen = terminal_id
            tx.execute(
                "INSERT INTO shops (id, name, created_at) VALUES (?, ?, ?) "
                "ON CONFLICT(id) DO UPDATE SET name = excluded.name",
                [shop, shop_name, now],
            )
            if chosen is None:
                count = int(
                    tx.execute(
                        "SELECT COUNT(*) FROM terminals WHERE shop_id = ?", [shop]
                    ).fetchone()[0]
                )
                chosen = f"{shop}-t{count + 1}"
            row = tx.execute("SELECT shop_id FROM terminals WHERE id = ?", [chosen]).fetchone()
            if row is not None and row[0] != shop:
                raise PlatformError(
                    "terminal_in_other_shop",
                    f"terminal {chosen} belongs to shop {row[0]}, not {shop}. "
                    "Choose another --terminal-id.",
                )
            tx.execute(
                "INSERT INTO terminals (id, shop_id, pairing_hash, created_at) "
                "VALUES (?, ?, ?, ?) "
                "ON CONFLICT(id) DO UPDATE SET pairing_hash = excluded.pairing_hash",
                [chosen, shop, hash_secret(token), now],
            )
            return chosen

        chosen = self._transaction(work)
        return NewTerminal(terminal_id=chosen, shop_id=shop, token=token)

    def pair(self, token: str, public_key: str) -> tuple[TerminalRecord, str, str]:
        """Trade a pairing token for a new credential; return (terminal, shop name, credential)."""
        credential = new_secret()

        def work(tx: Tx) -> tuple[TerminalRecord, str]:
            row = tx.execute(
                "UPDATE terminals SET pairing_hash = NULL, credential_hash = ?, public_key = ?, "
                "paired_at = ? WHERE pairing_hash = ? RETURNING id, shop_id",
                [hash_secret(credential), public_key, iso(utc_now()), hash_secret(token)],
            ).fetchone()
            if row is None:
                raise PlatformError(
                    "unknown_pairing_token",
                    "this pairing token is unknown or was used already. "
                    "Ask the platform operator for a new one (citie-platform terminal add).",
                )
            # Earlier keys stay: slips signed before a re-pairing remain claimable.
            tx.execute(
                "INSERT INTO terminal_keys (terminal_id, public_key, paired_at) VALUES (?, ?, ?) "
                "ON CONFLICT(terminal_id, public_key) DO NOTHING",
                [row[0], public_key, iso(utc_now())],
            )
            name = tx.execute("SELECT name FROM shops WHERE id = ?", [row[1]]).fetchone()
            return TerminalRecord(id=row[0], shop_id=row[1], paired=True), str(name[0])

        terminal, shop_name = self._transaction(work)
        return terminal, shop_name, credential

    def terminal_for(self, credential: str) -> TerminalRecord | None:
        """The terminal a credential belongs to, or None."""
        with self.lookup() as tx:
            row = tx.execute(
                "SELECT id, shop_id FROM terminals WHERE credential_hash = ?",
                [hash_secret(credential)],
            ).fetchone()
        return None if row is None else TerminalRecord(id=row[0], shop_id=row[1], paired=True)

    def touch(self, terminal_id: str) -> None:
        """Remember when a terminal last called."""
        with self.write() as tx:
            tx.execute(
                "UPDATE terminals SET last_seen_at = ? WHERE id = ?", [iso(utc_now()), terminal_id]
            )

    def list_terminals(self, after: str = "", limit: int = LIST_PAGE) -> list[dict[str, Any]]:
        """Terminals by id after ``after`` (a page of at most ``limit``)."""
        with self.read() as tx:
            rows = tx.execute(
                "SELECT id, shop_id, credential_hash IS NOT NULL, created_at, paired_at, "
                "last_seen_at FROM terminals WHERE id > ? ORDER BY id LIMIT ?",
                [after, min(limit, LIST_PAGE)],
            ).fetchall()
        keys = ("terminal_id", "shop_id", "paired", "created_at", "paired_at", "last_seen_at")
        return [dict(zip(keys, (*r[:2], bool(r[2]), *r[3:]), strict=True)) for r in rows]

    def remove_terminal(self, terminal_id: str) -> bool:
        """Forget a terminal's credential and pairing token (its events stay); False if unknown."""
        with self.write() as tx:
            row = tx.execute(
                "UPDATE terminals SET credential_hash = NULL, pairing_hash = NULL "
                "WHERE id = ? RETURNING id",
                [terminal_id],
            ).fetchone()
        return row is not None

    def shop_exists(self, shop_id: str) -> bool:
        """Whether a shop was ever registered (``terminal add``)."""
        with self.read() as tx:
            return tx.execute("SELECT 1 FROM shops WHERE id = ?", [shop_id]).fetchone() is not None

    # events -------------------------------------------------------------------------------

    def record_batch(
        self, terminal: TerminalRecord, batch_id: str, raw_events: list[Any]
    ) -> list[EventResult]:
        """Store each event once; one result per event, in order, all in one transaction.

        The events are parsed and validated before the transaction opens. An id already stored
        is ``duplicate`` only when the same terminal sent the same content; otherwise it is
        rejected as ``conflict`` (another terminal's id, or another event under the same id).
        """
        received = utc_now()
        results: list[EventResult | None] = []
        candidates: list[_Candidate] = []
        for position, raw in enumerate(raw_events):
            parsed = _parse(raw, terminal)
            if isinstance(parsed, EventResult):
                results.append(parsed)
            else:
                results.append(None)
                candidates.append(_Candidate(position, parsed, _digest(parsed)))

        def work(tx: Tx) -> list[EventResult]:
            answer = list(results)
            self._record(tx, terminal, batch_id, candidates, answer, received)
            return [r for r in answer if r is not None]

        recorded: list[EventResult] = self._transaction(work)
        return recorded

    def _record(
        self,
        tx: Tx,
        terminal: TerminalRecord,
        batch_id: str,
        candidates: list[_Candidate],
        results: list[EventResult | None],
        received: datetime,
    ) -> None:
        stored = self._stored_origins(tx, [c.event.id for c in candidates])
        fresh: list[_Candidate] = []
        in_batch: dict[str, str] = {}
        duplicates = 0
        for candidate in candidates:
            event = candidate.event
            origin = stored.get(event.id)
            if origin is None and event.id in in_batch:
                origin = (terminal.id, in_batch[event.id])
            if origin is None:
                in_batch[event.id] = candidate.digest
                fresh.append(candidate)
            elif origin[0] == terminal.id and origin[1] in (None, candidate.digest):
                results[candidate.position] = EventResult(id=event.id, status="duplicate")
                duplicates += 1
            else:
                results[candidate.position] = _conflict(event, origin[0] == terminal.id)
        accepted = self._judge(tx, terminal, fresh, results, received)
        balances = self._apply_balances(tx, terminal.shop_id, accepted, results)
        self._fraud(tx, accepted, results, received)
        rows = [
            (
                c.event.id,
                c.event.seq,
                c.event.kind,
                c.event.terminal_id,
                c.event.shop_id,
                c.event.occurred_at,
                iso(received),
                c.event.card_id,
                c.event.program_id,
                c.event.stamps,
                c.event.amount_cents,
                c.event.currency,
                c.event.voids,
                c.event.receipt_no,
                json.dumps(c.event.detail, separators=(",", ":")),
                batch_id,
                int("overdraft" in (results[c.position] or _ACCEPTED).flags),
                c.digest,
                ",".join((results[c.position] or _ACCEPTED).flags),
                c.event.voucher_id,
                c.event.staff_id,
                c.event.approver_id,
            )
            for c in accepted
        ]
        if rows and self._insert_events(tx, rows) != {c.event.id for c in accepted}:
            raise Retry("another transaction stored some of these ids first")
        # Vouchers spent or given back: their rows were locked when the batch was judged.
        voucher_books.fold(
            tx,
            [
                (c.event, (results[c.position] or _ACCEPTED).flags)
                for c in accepted
                if c.event.voucher_id is not None
            ],
            lambda count: self._bump(tx, voucher_books.VERSION_COUNTER, count),
        )
        if balances:
            top = self._bump(tx, shop_counter(terminal.shop_id), len(balances))
            first = top - len(balances) + 1
            tx.executemany(
                "INSERT INTO balances (shop_id, program_id, card_id, stamps, version) "
                "VALUES (?, ?, ?, ?, ?) ON CONFLICT(shop_id, program_id, card_id) "
                "DO UPDATE SET stamps = balances.stamps + excluded.stamps, "
                "version = excluded.version",
                [
                    (terminal.shop_id, program, card, delta, first + n)
                    for n, ((program, card), delta) in enumerate(sorted(balances.items()))
                ],
            )
        if duplicates:
            self._bump(tx, f"duplicates:{terminal.shop_id}", duplicates)
        # Claims waiting for these purchases are credited; credited ones of a voided one reversed.
        settle_claims(
            tx, [c.event for c in accepted], bump=lambda shop: self._bump(tx, shop_counter(shop))
        )

    def _fraud(
        self,
        tx: Tx,
        accepted: list[_Candidate],
        results: list[EventResult | None],
        received: datetime,
    ) -> None:
        """City-wide signals (``city.fraud``): flags on the events and their cards, and each
        staff member's day of events and voids."""
        if not accepted:
            return
        events = [c.event for c in accepted]
        settings = self.fraud_settings
        need = fraud.needs(events, settings)
        cards = sorted(need.cards)
        self._lock_cards(tx, cards)
        past: list[fraud.Use] = []
        if cards and need.since is not None and need.until is not None:
            for chunk in _chunks(cards):
                for r in tx.execute(
                    "SELECT e.id, e.card_id, e.shop_id, e.kind, e.occurred_at, e.stamps "
                    f"FROM events e WHERE e.card_id IN ({_marks(chunk)}) "
                    "AND e.kind IN ('stamp', 'purchase', 'claim') AND e.stamps > 0 "
                    "AND e.occurred_at >= ? AND e.occurred_at <= ? "
                    "AND NOT EXISTS (SELECT 1 FROM events v WHERE v.voids = e.id) "
                    f"AND {clearings.FORGIVEN}",
                    [*chunk, iso(need.since), iso(need.until)],
                ).fetchall():
                    at = _time_or_none(r[4])
                    if at is not None:
                        past.append(fraud.Use(r[0], r[1], r[2], r[3], at, int(r[5])))
        found = fraud.judge(events, past, settings)
        for candidate, flags in zip(accepted, found.event_flags, strict=True):
            result = results[candidate.position]
            if flags and result is not None:
                merged = [*result.flags, *(f for f in flags if f not in result.flags)]
                results[candidate.position] = result.model_copy(update={"flags": merged[:8]})
        now = iso(received)
        if found.cards:
            self._flag_cards(tx, found.cards, now)
        if found.staff_days:
            self._count_staff_days(tx, found.staff_days, now)

    def _lock_cards(self, tx: Tx, card_ids: Sequence[str]) -> None:
        """Make batches about the same cards take turns (PostgreSQL runs them side by side:
        two shops' batches would each miss the other's events). SQLite has one writer."""
        if self.dialect != "postgresql" or not card_ids:
            return
        # One statement, in the sorted order given (two batches lock shared cards in one order).
        tx.execute(
            "SELECT pg_advisory_xact_lock(7468691, hashtext(c)) FROM unnest(?::text[]) AS c",
            [list(card_ids)],
        ).fetchall()

    def _flag_cards(self, tx: Tx, found: dict[str, list[str]], now: str) -> None:
        """Add the reasons to each card's flag; a card whose reasons change gets a new version
        (terminals are sent it again). A cleared flag (``city.clearings``) caught again starts
        afresh: its own reasons, a new ``first_at``."""
        cards = sorted(found)
        stored: dict[str, str] = {}
        for chunk in _chunks(cards):
            for r in tx.execute(
                "SELECT card_id, reasons, cleared_at FROM card_flags "
                f"WHERE card_id IN ({_marks(chunk)}) ORDER BY card_id{self.for_update}",
                chunk,
            ).fetchall():
                if r[2] is None:
                    stored[r[0]] = str(r[1])
        changed = [
            (card, fraud.merge_reasons(stored.get(card, ""), found[card]))
            for card in cards
            if card not in stored or fraud.merge_reasons(stored[card], found[card]) != stored[card]
        ]
        same = [card for card in cards if card in stored and card not in dict(changed)]
        if same:
            tx.executemany(
                "UPDATE card_flags SET last_at = ? WHERE card_id = ?", [(now, c) for c in same]
            )
        if not changed:
            return
        top = self._bump(tx, "version", len(changed))
        tx.executemany(
            "INSERT INTO card_flags (card_id, reasons, first_at, last_at, version) "
            "VALUES (?, ?, ?, ?, ?) ON CONFLICT(card_id) DO UPDATE SET "
            "reasons = excluded.reasons, last_at = excluded.last_at, version = excluded.version, "
            "first_at = CASE WHEN card_flags.cleared_at IS NULL THEN card_flags.first_at "
            "ELSE excluded.first_at END, cleared_at = NULL",
            [
                (card, reasons, now, now, top - len(changed) + 1 + n)
                for n, (card, reasons) in enumerate(changed)
            ],
        )

    def _count_staff_days(
        self, tx: Tx, days: dict[tuple[str, str, str], tuple[int, int]], now: str
    ) -> None:
        """Add the batch's events and voids to each staff member's day; flag a day whose voids
        pass the share (once: the first time)."""
        flagged = []
        for terminal_id, staff_id, day in sorted(days):  # a batch has one terminal, few days
            row = tx.execute(
                "INSERT INTO staff_days (terminal_id, staff_id, day, events, voids) "
                "VALUES (?, ?, ?, ?, ?) ON CONFLICT(terminal_id, staff_id, day) DO UPDATE SET "
                "events = staff_days.events + excluded.events, "
                "voids = staff_days.voids + excluded.voids RETURNING events, voids, flagged_at",
                [terminal_id, staff_id, day, *days[(terminal_id, staff_id, day)]],
            ).fetchone()
            if row[2] is None and fraud.void_share_exceeded(
                int(row[0]), int(row[1]), self.fraud_settings
            ):
                flagged.append((now, terminal_id, staff_id, day))
        if flagged:
            tx.executemany(
                "UPDATE staff_days SET flagged_at = ? "
                "WHERE terminal_id = ? AND staff_id = ? AND day = ?",
                flagged,
            )

    def _stored_origins(self, tx: Tx, ids: Sequence[str]) -> dict[str, tuple[str, str | None]]:
        """For ids already stored: the terminal that sent each and its content digest."""
        found: dict[str, tuple[str, str | None]] = {}
        for chunk in _chunks(sorted(set(ids))):
            for row in tx.execute(
                f"SELECT id, terminal_id, digest FROM events WHERE id IN ({_marks(chunk)})",
                chunk,
            ).fetchall():
                found[row[0]] = (row[1], row[2])
        return found

    def _judge(
        self,
        tx: Tx,
        terminal: TerminalRecord,
        fresh: list[_Candidate],
        results: list[EventResult | None],
        received: datetime,
    ) -> list[_Candidate]:
        """Check new events against the shop's books; return the accepted ones, in order."""
        if not fresh:
            return []
        events = [c.event for c in fresh]
        need = checks.needs(events)
        # First of all the batch's locks: the vouchers it spends, in id order (see city.vouchers).
        vouchers = voucher_books.read_for_batch(tx, need.vouchers, for_update=self.for_update)
        targets = self._targets(tx, need.void_targets)
        programs = self._program_versions(tx, terminal.shop_id)
        # A daily limit exists only where the platform knows the program: the stamps a card
        # earned that day are read for those cards alone.
        limited = {
            e.card_id
            for e in events
            if e.card_id is not None and e.kind in checks.EARNING_KINDS and e.program_id in programs
        }
        context = checks.Context(
            received_at=received,
            programs=programs,
            targets={k: v for k, v in targets.items() if v.shop_id == terminal.shop_id},
            earned=self._earned(tx, terminal.shop_id, need, limited, sorted(programs)),
            max_clock_skew=self.max_clock_skew,
            vouchers=vouchers,
        )
        verdicts = checks.judge(events, context)
        accepted: list[_Candidate] = []
        accepted_ids: dict[str, Event] = {}
        for candidate, verdict in zip(fresh, verdicts, strict=True):
            event = candidate.event
            if not verdict.accepted:
                results[candidate.position] = EventResult(
                    id=event.id,
                    status="rejected",
                    reason=verdict.reason or "rejected",
                    message=(verdict.message or "")[:500] or None,
                )
                continue
            if event.voids is not None:
                refusal = _void_refusal(event, terminal, targets.get(event.voids), accepted_ids)
                if refusal is not None:
                    results[candidate.position] = refusal
                    continue
            accepted.append(candidate)
            accepted_ids[event.id] = event
            results[candidate.position] = EventResult(
                id=event.id, status="accepted", flags=list(verdict.flags)
            )
        return accepted

    def _targets(self, tx: Tx, ids: Iterable[str]) -> dict[str, checks.Target]:
        found: dict[str, checks.Target] = {}
        for chunk in _chunks(sorted(ids)):
            rows = tx.execute(
                "SELECT e.id, e.shop_id, e.kind, e.card_id, e.program_id, e.stamps, "
                "e.amount_cents, e.occurred_at, "
                "EXISTS (SELECT 1 FROM events v WHERE v.voids = e.id), e.voucher_id, e.currency "
                f"FROM events e WHERE e.id IN ({_marks(chunk)})",
                chunk,
            ).fetchall()
            for r in rows:
                found[r[0]] = checks.Target(
                    id=r[0],
                    shop_id=r[1],
                    kind=r[2],
                    card_id=r[3],
                    program_id=r[4],
                    stamps=int(r[5]),
                    amount_cents=None if r[6] is None else int(r[6]),
                    voided=bool(r[8]),
                    occurred_at=_time_or_none(r[7]),
                    voucher_id=r[9],
                    currency=r[10],
                )
        return found

    def _program_versions(self, tx: Tx, shop_id: str) -> dict[str, list[checks.ProgramVersion]]:
        bodies: dict[str, list[tuple[str, datetime]]] = defaultdict(list)
        for r in tx.execute(
            "SELECT id, body, since FROM program_versions WHERE shop_id = ? ORDER BY version",
            [shop_id],
        ).fetchall():
            since = _time_or_none(r[2])
            if since is not None:
                bodies[r[0]].append((r[1], since))
        return {pid: checks.program_versions(found) for pid, found in bodies.items()}

    def _earned(
        self,
        tx: Tx,
        shop_id: str,
        need: checks.Needs,
        cards: set[str],
        program_ids: list[str],
    ) -> list[checks.Earned]:
        cards = cards & set(need.cards)
        if not cards or not program_ids or need.since is None or need.until is None:
            return []
        earned: list[checks.Earned] = []
        for chunk in _chunks(sorted(cards)):
            rows = tx.execute(
                "SELECT e.card_id, e.program_id, e.occurred_at, e.stamps FROM events e "
                f"WHERE e.shop_id = ? AND e.card_id IN ({_marks(chunk)}) "
                f"AND e.program_id IN ({_marks(program_ids)}) "
                "AND e.kind IN ('stamp', 'purchase', 'claim') AND e.stamps > 0 "
                "AND e.occurred_at >= ? AND e.occurred_at <= ? "
                "AND NOT EXISTS (SELECT 1 FROM events v WHERE v.voids = e.id)",
                [shop_id, *chunk, *program_ids, iso(need.since), iso(need.until)],
            ).fetchall()
            for r in rows:
                at = _time_or_none(r[2])
                if at is not None:
                    earned.append(checks.Earned(r[0], r[1], at, int(r[3])))
        return earned

    def _apply_balances(
        self,
        tx: Tx,
        shop_id: str,
        accepted: list[_Candidate],
        results: list[EventResult | None],
    ) -> dict[tuple[str, str], int]:
        """Each card's change per program; flags redemptions that go below zero (overdraft)."""
        keys = sorted(
            {
                (c.event.program_id, c.event.card_id)
                for c in accepted
                if c.event.card_id is not None and c.event.stamps != 0
            }
        )
        if not keys:
            return {}
        current: dict[tuple[str, str], int] = {}
        for chunk in _chunks(sorted({card for _, card in keys})):
            for r in tx.execute(
                "SELECT program_id, card_id, stamps FROM balances "
                f"WHERE shop_id = ? AND card_id IN ({_marks(chunk)}) "
                f"ORDER BY program_id, card_id{self.for_update}",
                [shop_id, *chunk],
            ).fetchall():
                current[(r[0], r[1])] = int(r[2])
        deltas: dict[tuple[str, str], int] = defaultdict(int)
        for c in accepted:
            event = c.event
            if event.card_id is None or event.stamps == 0:
                continue
            key = (event.program_id, event.card_id)
            after = current.get(key, 0) + deltas[key] + event.stamps
            deltas[key] += event.stamps
            result = results[c.position]
            if event.kind == "redeem" and after < 0 and result is not None:
                results[c.position] = result.model_copy(
                    update={"flags": [*result.flags, "overdraft"][:8]}
                )
        return dict(deltas)

    # claims -------------------------------------------------------------------------------

    def claim(self, body: object) -> tuple[int, dict[str, object]]:
        """``POST /v1/claims``: the rules are ``city.claims.handle_claim``'s."""

        def work(tx: Tx) -> tuple[int, dict[str, object]]:
            return handle_claim(tx, body, bump=lambda shop: self._bump(tx, shop_counter(shop)))

        answer: tuple[int, dict[str, object]] = self._transaction(work)
        return answer

    # updates ------------------------------------------------------------------------------

    def updates(self, terminal: TerminalRecord, cursor: str) -> UpdatesPage:
        """One page of what changed for this terminal since ``cursor``: the city's changes
        first (revocations, vouchers, card flags, merged in version order), then the shop's
        programs and balances in change order; bounded in items and bytes, nothing sent twice.

        Two sequences advance: the shop's own (its balances and programs) and the city's
        (revocations, vouchers, card flags); the cursor carries both (``format_cursor``). Every
        change has its own number, so a page may end after any item. When every list of a
        sequence is exhausted its part of the cursor jumps to the counter's value.
        """
        shop_after, city_after = parse_cursor(cursor)
        with self.read() as tx:
            shop_top = self._counter(tx, shop_counter(terminal.shop_id))
            city_top = self._counter(tx, "version")
            revoked = tx.execute(
                "SELECT version, card_id, revoked_at FROM revoked WHERE version > ? "
                "ORDER BY version LIMIT ?",
                [city_after, UPDATE_PAGE + 1],
            ).fetchall()
            vouchers = tx.execute(
                "SELECT version, key, face_cents, currency, expires_at, campaign, spent_cents, "
                "revoked_at, id FROM vouchers WHERE version > ? ORDER BY version LIMIT ?",
                [city_after, UPDATE_PAGE + 1],
            ).fetchall()
            flagged = tx.execute(
                "SELECT version, card_id, reasons, first_at, cleared_at FROM card_flags "
                "WHERE version > ? ORDER BY version LIMIT ?",
                [city_after, UPDATE_PAGE + 1],
            ).fetchall()
            programs = tx.execute(
                "SELECT version, id, body FROM programs WHERE shop_id = ? AND version > ? "
                "ORDER BY version LIMIT ?",
                [terminal.shop_id, shop_after, PROGRAM_PAGE + 1],
            ).fetchall()
            balances = tx.execute(
                "SELECT version, card_id, program_id, stamps FROM balances "
                "WHERE shop_id = ? AND version > ? ORDER BY version LIMIT ?",
                [terminal.shop_id, shop_after, UPDATE_PAGE + 1],
            ).fetchall()
        page = UpdatesPage([], [], [], "", False)
        budget = _Budget()
        city_last, city_cut = self._city_updates(
            page, budget, city_after, revoked, vouchers, flagged
        )
        # A shop list that came back full may hold more past its last row: stop before it.
        horizon = _horizon(((programs, PROGRAM_PAGE + 1), (balances, UPDATE_PAGE + 1)))
        merged = sorted(
            [(int(r[0]), True, r) for r in programs] + [(int(r[0]), False, r) for r in balances],
            key=lambda item: item[0],
        )
        shop_last, shop_cut = shop_after, horizon is not None
        for version, is_program, row in merged:
            if horizon is not None and version >= horizon:
                break
            if is_program:
                if len(page.programs) >= PROGRAM_PAGE or not budget.take(len(row[2]) + 40):
                    shop_cut = True
                    break
                page.programs.append(ProgramUpdate(id=row[1], body=json.loads(row[2])))
            else:
                if not budget.take(110):
                    shop_cut = True
                    break
                page.balances.append(
                    ConfirmedBalance(
                        card_id=row[1], program_id=row[2], stamps=int(row[3]), version=version
                    )
                )
            shop_last = version
        page.next_cursor = format_cursor(
            shop_last if shop_cut else max(shop_top, shop_after),
            city_last if city_cut else max(city_top, city_after),
        )
        page.more = shop_cut or city_cut
        return page

    @staticmethod
    def _city_updates(
        page: UpdatesPage,
        budget: _Budget,
        after: int,
        revoked: list[Any],
        vouchers: list[Any],
        flagged: list[Any],
    ) -> tuple[int, bool]:
        """Fill the page with the city's changes in version order; return the last version
        sent and whether the city's sequence was cut short (more to come)."""
        limit = UPDATE_PAGE + 1
        horizon = _horizon(((revoked, limit), (vouchers, limit), (flagged, limit)))
        merged = sorted(
            [(int(r[0]), 0, r) for r in revoked]
            + [(int(r[0]), 1, r) for r in vouchers]
            + [(int(r[0]), 2, r) for r in flagged],
            key=lambda item: item[0],
        )
        last, cut = after, horizon is not None
        for version, kind, row in merged:
            if horizon is not None and version >= horizon:
                break
            if kind == 0:
                if not budget.take(80):
                    return last, True
                page.revoked.append(RevokedCard(card_id=row[1], revoked_at=row[2]))
            elif kind == 1:
                if not budget.take(250 + len(str(row[5]))):  # 32-character key
                    return last, True
                page.vouchers.append(
                    VoucherState(
                        # The key, never the id: an id is enough to spend the voucher. A row
                        # written without one (by hand) is keyed here rather than sent bare.
                        voucher_key=row[1] or voucher_key(str(row[8])),
                        face_cents=int(row[2]),
                        currency=row[3],
                        expires_at=row[4],
                        campaign=row[5],
                        spent_cents=max(int(row[6]), 0),
                        revoked_at=row[7],
                        version=version,
                    )
                )
            else:
                reasons = [r for r in str(row[2]).split(",") if r][:8]
                if not reasons:
                    last = version  # nothing to say about this card (yet): skipped, not sent
                    continue
                if not budget.take(100 + len(str(row[2]))):
                    return last, True
                page.flags.append(
                    CardFlag(
                        card_id=row[1],
                        reasons=reasons,
                        flagged_at=row[3],
                        version=version,
                        cleared=row[4] is not None,
                    )
                )
            last = version
        return last, cut

    # operator commands ------------------------------------------------------------------------

    def set_program(self, shop_id: str, program_id: str, body: dict[str, Any]) -> None:
        """Create or replace a shop's program (sent to its terminals at the next pull)."""
        text = json.dumps(body)

        def work(tx: Tx) -> None:
            version = self._bump(tx, shop_counter(shop_id))
            tx.execute(
                "INSERT INTO programs (shop_id, id, body, version) VALUES (?, ?, ?, ?) "
                "ON CONFLICT(shop_id, id) DO UPDATE SET body = excluded.body, "
                "version = excluded.version",
                [shop_id, program_id, text, version],
            )
            tx.execute(
                "INSERT INTO program_versions (shop_id, id, version, body, since) "
                "VALUES (?, ?, ?, ?, ?)",
                [shop_id, program_id, version, text, iso(utc_now())],
            )

        self._transaction(work)

    def list_programs(self, shop_id: str | None = None) -> list[dict[str, Any]]:
        """Every program in force (of one shop, or of all), by shop and id."""
        # Two statements rather than "? IS NULL OR ...": PostgreSQL cannot type a bare NULL.
        where, params = ("WHERE shop_id = ? ", [shop_id]) if shop_id is not None else ("", [])
        with self.read() as tx:
            rows = tx.execute(
                f"SELECT shop_id, id, body, version FROM programs {where}"
                "ORDER BY shop_id, id LIMIT ?",
                [*params, LIST_PAGE],
            ).fetchall()
        return [
            {"shop_id": r[0], "program_id": r[1], "body": json.loads(r[2]), "version": int(r[3])}
            for r in rows
        ]

    def revoke(self, card_id: str) -> bool:
        """Revoke a card; False if it already was."""
        return self.revoke_many([card_id]) == 1

    def revoke_many(self, card_ids: Sequence[str]) -> int:
        """Revoke cards in one transaction; return how many were not revoked before.

        Each revocation gets its own version, so terminals page through any number of them.
        """
        wanted = sorted(set(card_ids))

        def work(tx: Tx) -> int:
            already: set[str] = set()
            for chunk in _chunks(wanted):
                already.update(
                    r[0]
                    for r in tx.execute(
                        f"SELECT card_id FROM revoked WHERE card_id IN ({_marks(chunk)})",
                        chunk,
                    ).fetchall()
                )
            fresh = [c for c in wanted if c not in already]
            if not fresh:
                return 0
            top = self._bump(tx, "version", len(fresh))
            now = iso(utc_now())
            tx.executemany(
                "INSERT INTO revoked (card_id, revoked_at, version) VALUES (?, ?, ?) "
                "ON CONFLICT(card_id) DO NOTHING",
                [(card, now, top - len(fresh) + 1 + n) for n, card in enumerate(fresh)],
            )
            return len(fresh)

        count: int = self._transaction(work)
        return count

    def add_card(self, card_id: str, expires_days: int | None) -> None:
        """Remember a card the issuer made."""
        self.add_cards([card_id], expires_days)

    def add_cards(self, card_ids: Sequence[str], expires_days: int | None) -> None:
        """Remember cards the issuer made, in one transaction."""
        now = iso(utc_now())
        with self.write() as tx:
            tx.executemany(
                "INSERT INTO cards (id, issued_at, expires_days) VALUES (?, ?, ?) "
                "ON CONFLICT(id) DO NOTHING",
                [(card, now, expires_days) for card in card_ids],
            )

    def unknown_cards(self, card_ids: Sequence[str]) -> list[str]:
        """The ids among ``card_ids`` this platform never issued, in the order given."""
        known: set[str] = set()
        with self.read() as tx:
            for chunk in _chunks(sorted(set(card_ids))):
                known.update(
                    r[0]
                    for r in tx.execute(
                        f"SELECT id FROM cards WHERE id IN ({_marks(chunk)})",
                        chunk,
                    ).fetchall()
                )
        return [c for c in card_ids if c not in known]

    def list_cards(self, after: str = "", limit: int = LIST_PAGE) -> list[dict[str, Any]]:
        """Issued cards by id after ``after`` (a page), with whether each is revoked."""
        with self.read() as tx:
            rows = tx.execute(
                "SELECT c.id, c.issued_at, c.expires_days, r.revoked_at FROM cards c "
                "LEFT JOIN revoked r ON r.card_id = c.id WHERE c.id > ? ORDER BY c.id LIMIT ?",
                [after, min(limit, LIST_PAGE)],
            ).fetchall()
        return [
            {"card_id": r[0], "issued_at": r[1], "expires_days": r[2], "revoked_at": r[3]}
            for r in rows
        ]

    # city vouchers (the rules are city.vouchers's) ----------------------------------------------

    def add_vouchers(self, vouchers: Sequence[voucher_books.IssuedVoucher]) -> None:
        """Store vouchers the issuer made, in one transaction, each with its own version."""
        keys = voucher_books.keys(vouchers)  # slow by design: never inside the transaction

        def work(tx: Tx) -> None:
            voucher_books.insert(
                tx,
                vouchers,
                lambda count: self._bump(tx, voucher_books.VERSION_COUNTER, count),
                keys,
            )

        self._transaction(work)

    def unknown_vouchers(self, voucher_ids: Sequence[str]) -> list[str]:
        """The ids among ``voucher_ids`` this platform never issued, in the order given."""
        with self.read() as tx:
            known = voucher_books.known(tx, voucher_ids)
        return [v for v in voucher_ids if v not in known]

    def revoke_vouchers(self, voucher_ids: Sequence[str]) -> int:
        """Revoke vouchers in one transaction; return how many were not revoked before."""

        def work(tx: Tx) -> int:
            return voucher_books.revoke(
                tx,
                voucher_ids,
                lambda count: self._bump(tx, voucher_books.VERSION_COUNTER, count),
                for_update=self.for_update,
                now=iso(utc_now()),
            )

        count: int = self._transaction(work)
        return count

    def voucher_summary(self, now: datetime | None = None) -> list[voucher_books.Figures]:
        """Issued, spent, voided, expired, revoked and outstanding value per campaign, then
        the total (one aggregate over the events)."""
        with self.read() as tx:
            return voucher_books.summary(tx, now)

    @contextmanager
    def stream(
        self, sql: str, params: Sequence[Any] = (), *, first: Query | None = None
    ) -> Iterator[tuple[list[tuple[Any, ...]], Iterator[tuple[Any, ...]]]]:
        """The rows of a read-only query, a few thousand at a time, from one snapshot: (the
        rows of ``first``, read in the same snapshot before it, such as their totals; the
        rows)."""
        with self.read() as tx:
            head = [tuple(r) for r in tx.execute(*first).fetchall()] if first else []
            rows = tx.execute(sql, params)

            def each() -> Iterator[tuple[Any, ...]]:
                while page := rows.fetchmany(STREAM_PAGE):
                    yield from page

            yield head, each()

    def list_flagged(self, after: int = 0, limit: int = LIST_PAGE) -> list[dict[str, Any]]:
        """Events kept but flagged (overdraft, daily_limit, clock_skew), in arrival order after
        the stored sequence number ``after`` (a page of at most ``limit``)."""
        with self.read() as tx:
            rows = tx.execute(
                "SELECT pseq, id, kind, terminal_id, shop_id, card_id, program_id, stamps, "
                "occurred_at, received_at, flags, voucher_id, amount_cents FROM events "
                "WHERE pseq > ? AND flags != '' ORDER BY pseq LIMIT ?",
                [after, min(limit, LIST_PAGE)],
            ).fetchall()
        keys = (
            "pseq",
            "event_id",
            "kind",
            "terminal_id",
            "shop_id",
            "card_id",
            "program_id",
            "stamps",
            "occurred_at",
            "received_at",
        )
        return [
            {
                **dict(zip(keys, r[:10], strict=True)),
                "flags": str(r[10]).split(","),
                "voucher_id": r[11],
                "amount_cents": r[12],
            }
            for r in rows
        ]

    def list_card_flags(
        self, after: int = 0, limit: int = LIST_PAGE, *, cleared: bool = False
    ) -> list[dict[str, Any]]:
        """Cards the city flagged (``city.fraud``), by version after ``after`` (a page); the
        flags an operator cleared too when ``cleared``, with who cleared them, when and why."""
        with self.read() as tx:
            rows = tx.execute(
                "SELECT f.version, f.card_id, f.reasons, f.first_at, f.last_at, f.cleared_at, "
                "c.cleared_by, c.why FROM card_flags f LEFT JOIN card_flag_clearings c "
                "ON c.card_id = f.card_id AND c.version = f.version "
                "WHERE f.version > ? AND (f.cleared_at IS NULL OR ?) ORDER BY f.version LIMIT ?",
                [after, cleared, min(limit, LIST_PAGE)],
            ).fetchall()
        return [
            {
                "version": int(r[0]),
                "card_id": r[1],
                "reasons": [x for x in str(r[2]).split(",") if x],
                "first_at": r[3],
                "last_at": r[4],
                "cleared": r[5] is not None,
                "cleared_at": r[5],
                "cleared_by": r[6],
                "cleared_why": r[7],
            }
            for r in rows
        ]

    def clear_card_flags(
        self, card_ids: Sequence[str], *, by: str, why: str = ""
    ) -> clearings.Clearing:
        """Clear the cards' flags in one transaction (``city.clearings``), each with a new
        version from the counter ``version``; none when some id has no flag in force."""

        def work(tx: Tx) -> clearings.Clearing:
            # The batches' card locks: a batch judging one of these cards either sees the
            # clearing whole or finishes before it (never forgiven events counted anew).
            self._lock_cards(tx, sorted(set(card_ids)))
            return clearings.clear(
                tx,
                card_ids,
                lambda count: self._bump(tx, clearings.VERSION_COUNTER, count),
                for_update=self.for_update,
                now=iso(utc_now()),
                by=by,
                why=why,
            )

        done: clearings.Clearing = self._transaction(work)
        return done

    def list_staff_flags(
        self, after: tuple[str, str, str] = ("", "", ""), limit: int = LIST_PAGE
    ) -> list[dict[str, Any]]:
        """Staff members' days whose voids passed ``max_void_share`` of their events, by
        (day, terminal, staff id) after ``after`` (a page). ``staff_id`` "" is the terminal's
        events recorded without a staff member."""
        day, terminal_id, staff_id = after
        with self.read() as tx:
            rows = tx.execute(
                "SELECT day, terminal_id, staff_id, events, voids, flagged_at FROM staff_days "
                "WHERE flagged_at IS NOT NULL AND (day > ? OR (day = ? AND (terminal_id > ? "
                "OR (terminal_id = ? AND staff_id > ?)))) "
                "ORDER BY day, terminal_id, staff_id LIMIT ?",
                [day, day, terminal_id, terminal_id, staff_id, min(limit, LIST_PAGE)],
            ).fetchall()
        return [
            {
                "day": r[0],
                "terminal_id": r[1],
                "staff_id": r[2] or None,
                "events": int(r[3]),
                "voids": int(r[4]),
                "void_share": round(int(r[4]) / max(int(r[3]), 1), 3),
                "flagged_at": r[5],
            }
            for r in rows
        ]

    def stats(self) -> dict[str, int]:
        """Counts for ``citie-platform stats``."""
        with self.read() as tx:

            def one(sql: str) -> int:
                return int(tx.execute(sql).fetchone()[0])

            return {
                "events": one("SELECT COUNT(*) FROM events"),
                "cards": one(
                    "SELECT COUNT(*) FROM (SELECT id FROM cards UNION "
                    "SELECT card_id FROM events WHERE card_id IS NOT NULL) AS known"
                ),
                "terminals": one("SELECT COUNT(*) FROM terminals"),
                "paired_terminals": one(
                    "SELECT COUNT(*) FROM terminals WHERE credential_hash IS NOT NULL"
                ),
                "shops": one("SELECT COUNT(*) FROM shops"),
                "duplicates_seen": one(
                    "SELECT COALESCE(SUM(value), 0) FROM counters "
                    "WHERE substr(name, 1, 10) = 'duplicates'"
                ),
                "overdrafts": one("SELECT COUNT(*) FROM events WHERE overdraft = 1"),
                # replace() rather than LIKE: no % in SQL that PostgreSQL's driver formats.
                # Commas around: 'daily_limit' is inside 'city_daily_limit' too.
                "flagged_daily_limit": one(
                    "SELECT COUNT(*) FROM events "
                    "WHERE replace(',' || flags || ',', ',daily_limit,', '') != ',' || flags || ','"
                ),
                "flagged_clock_skew": one(
                    "SELECT COUNT(*) FROM events WHERE replace(flags, 'clock_skew', '') != flags"
                ),
                "flagged_velocity": one(
                    "SELECT COUNT(*) FROM events WHERE replace(flags, 'velocity', '') != flags"
                ),
                "flagged_city_daily_limit": one(
                    "SELECT COUNT(*) FROM events "
                    "WHERE replace(flags, 'city_daily_limit', '') != flags"
                ),
                "flagged_cards": one("SELECT COUNT(*) FROM card_flags WHERE cleared_at IS NULL"),
                "flagged_staff_days": one(
                    "SELECT COUNT(*) FROM staff_days WHERE flagged_at IS NOT NULL"
                ),
                "revoked_cards": one("SELECT COUNT(*) FROM revoked"),
                "vouchers": one("SELECT COUNT(*) FROM vouchers"),
                "voucher_spends": one("SELECT COUNT(*) FROM events WHERE kind = 'voucher_spend'"),
                "flagged_voucher_overspent": one(
                    "SELECT COUNT(*) FROM events "
                    "WHERE replace(flags, 'voucher_overspent', '') != flags"
                ),
                "overspent_vouchers": one("SELECT COUNT(*) FROM vouchers WHERE overspent = 1"),
            }

    def query(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        """Rows of a read-only query (``?`` placeholders), for tests, benches and ``migrate``."""
        with self.read() as tx:
            return [tuple(r) for r in tx.execute(sql, params).fetchall()]


_ACCEPTED: Final = EventResult(id="", status="accepted")


def is_postgres(target: str | Path) -> bool:
    """Whether a database target is a PostgreSQL URL (else it is a SQLite file)."""
    return str(target).startswith(("postgresql://", "postgres://"))


def redact(target: str) -> str:
    """A database target without its password, for messages and logs."""
    if not is_postgres(target):
        return target
    parts = urlsplit(target)
    if parts.password is None:
        return target
    netloc = re.sub(r":[^:@]*@", ":***@", parts.netloc, count=1)
    return urlunsplit(parts._replace(netloc=netloc))


def open_store(target: str | Path) -> PlatformStore:
    """The store at ``target``: a ``postgresql://`` URL, or the path of a SQLite file."""
    text = str(target)
    if is_postgres(text):
        from city.postgres_store import PostgresStore  # noqa: PLC0415  (psycopg only when used)

        return PostgresStore(text)
    from city.sqlite_store import SqliteStore  # noqa: PLC0415

    return SqliteStore(Path(text.removeprefix("sqlite:///").removeprefix("sqlite://")))


def _parse(raw: Any, terminal: TerminalRecord) -> Event | EventResult:
    """Validate one event of a batch: the event, or its rejection."""
    raw_id = raw.get("id") if isinstance(raw, dict) else None
    shown_id = raw_id[:64] if isinstance(raw_id, str) else ""
    try:
        event = Event.model_validate(raw)
    except ValidationError as exc:
        kind = raw.get("kind") if isinstance(raw, dict) else None
        if isinstance(kind, str) and any(e["loc"] == ("kind",) for e in exc.errors()):
            return EventResult(
                id=shown_id,
                status="rejected",
                reason="unknown_kind",
                message=f"event kind {kind[:30]!r} is not one this platform knows.",
            )
        return EventResult(
            id=shown_id, status="rejected", reason="malformed", message=describe(exc)[:500]
        )
    if event.shop_id != terminal.shop_id:
        return EventResult(
            id=event.id,
            status="rejected",
            reason="wrong_shop",
            message=f"terminal {terminal.id} may only send events of shop "
            f"{terminal.shop_id}, not {event.shop_id}.",
        )
    if event.terminal_id != terminal.id:
        return EventResult(
            id=event.id,
            status="rejected",
            reason="wrong_terminal",
            message=f"this credential belongs to terminal {terminal.id}, not {event.terminal_id}.",
        )
    if event.kind == checks.VOUCHER_SPEND and event.voucher_id is None:
        return EventResult(
            id=event.id,
            status="rejected",
            reason="voucher_missing",
            message="a voucher_spend event needs the id of the voucher paid with.",
        )
    # Anonymous purchases, voucher spends, and the voids that cancel them, carry no card.
    if event.kind not in ("purchase", "void", checks.VOUCHER_SPEND) and event.card_id is None:
        return EventResult(
            id=event.id,
            status="rejected",
            reason="card_missing",
            message=f"a {event.kind} event needs a card id.",
        )
    return event


_LATER_FIELDS: Final = frozenset({"voucher_id", "staff_id", "approver_id"})
"""Event fields added after events were first stored: left out of the digest when empty, so an
event stored before them and sent again by its terminal is still a duplicate, not a conflict."""


def _digest(event: Event) -> str:
    """The event's content, for telling a replay from another event under the same id."""
    content = event.model_dump(mode="json")
    for name in _LATER_FIELDS:
        if content.get(name) is None:
            content.pop(name, None)
    text = json.dumps(content, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()


def _conflict(event: Event, same_terminal: bool) -> EventResult:
    if same_terminal:
        message = (
            f"event id {event.id} is already stored from this terminal with other content; "
            "an id names one event forever."
        )
    else:
        message = (
            f"event id {event.id} is already stored from another terminal; this event was "
            "not stored. Give it a new id."
        )
    return EventResult(id=event.id, status="rejected", reason="conflict", message=message)


def _void_refusal(
    event: Event,
    terminal: TerminalRecord,
    target: checks.Target | None,
    accepted: dict[str, Event],
) -> EventResult | None:
    """The store's own rules for a void: its target is this shop's, for the same card."""
    voids = event.voids or ""
    in_batch = accepted.get(voids)
    shop, card = (
        (in_batch.shop_id, in_batch.card_id)
        if in_batch is not None
        else (target.shop_id, target.card_id)
        if target is not None
        else (None, None)
    )
    if shop != terminal.shop_id:
        return EventResult(
            id=event.id,
            status="rejected",
            reason="void_target_unknown",
            message=f"the voided event {voids} is not on the platform for this shop.",
        )
    if card != event.card_id:
        return EventResult(
            id=event.id,
            status="rejected",
            reason="void_card_mismatch",
            message=f"the void names card {event.card_id}, "
            f"but the voided event {voids} is for {card}.",
        )
    return None


def _time_or_none(text: object) -> datetime | None:
    if not isinstance(text, str):
        return None
    try:
        return checks.parse_time(text)
    except ValueError:
        return None


def _horizon(lists: Iterable[tuple[Sequence[Any], int]]) -> int | None:
    """The lowest last version among lists that came back full (``limit`` rows): past it a
    full list may hold rows it did not return, so a page stops before it."""
    return min((int(rows[-1][0]) for rows, limit in lists if len(rows) == limit), default=None)


def _marks(values: Sized) -> str:
    return ", ".join("?" * len(values))


def _chunks(values: Sequence[str]) -> Iterator[list[str]]:
    for start in range(0, len(values), CHUNK):
        yield list(values[start : start + CHUNK])


def _slug(name: str) -> str:
    text = "".join(ch.lower() if ch.isalnum() else "-" for ch in name).strip("-")
    while "--" in text:
        text = text.replace("--", "-")
    return (text or "shop")[:48]


# Kept so the protocol's bound and the page stay in step.
assert UPDATE_PAGE <= MAX_UPDATE_ITEMS
