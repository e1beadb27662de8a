"""The platform's own SQLite database: shops, terminals, events (deduplicated forever), balances.

One write connection behind a lock (WAL, ``synchronous=FULL``, a busy timeout), opened with
sqlite-utils. Event ids are a UNIQUE column, so a replayed event can never be stored twice,
however long after the first copy it arrives.
"""

from __future__ import annotations

import hashlib
import json
import secrets
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import sqlite_utils
from pydantic import ValidationError

from loyalty.claims import Claim, ClaimReason, claim_response
from loyalty.db import iso, private_file, utc_now
from loyalty.keys import public_from_hex
from sync.protocol import (
    ConfirmedBalance,
    Event,
    EventResult,
    ProgramUpdate,
    RevokedCard,
    describe,
)

BUSY_TIMEOUT_MS = 5000
UPDATE_PAGE = 5000

SCHEMA = """
CREATE TABLE IF NOT EXISTS shops (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    created_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS terminals (
    id TEXT PRIMARY KEY,
    shop_id TEXT NOT NULL REFERENCES shops(id),
    public_key TEXT,
    pairing_hash TEXT UNIQUE,          -- sha256 of the one-time pairing token, NULL once used
    credential_hash TEXT UNIQUE,       -- sha256 of the terminal credential
    created_at TEXT NOT NULL,
    paired_at TEXT,
    last_seen_at TEXT
);
CREATE TABLE IF NOT EXISTS events (
    pseq INTEGER PRIMARY KEY AUTOINCREMENT,
    id TEXT NOT NULL UNIQUE,           -- the terminal's event id: dedupe forever
    seq INTEGER NOT NULL,
    kind TEXT NOT NULL,
    terminal_id TEXT NOT NULL,
    shop_id TEXT NOT NULL,
    occurred_at TEXT NOT NULL,
    received_at TEXT NOT NULL,         -- the platform's own clock
    card_id TEXT,
    program_id TEXT NOT NULL,
    stamps INTEGER NOT NULL,
    amount_cents INTEGER,
    currency TEXT,
    voids TEXT,
    receipt_no TEXT,
    detail TEXT NOT NULL,
    batch_id TEXT NOT NULL,
    overdraft INTEGER NOT NULL DEFAULT 0   -- a redemption that took the card below zero
);
CREATE INDEX IF NOT EXISTS events_card ON events(shop_id, card_id);
CREATE INDEX IF NOT EXISTS events_overdraft ON events(overdraft) WHERE overdraft = 1;
CREATE TABLE IF NOT EXISTS balances (
    shop_id TEXT NOT NULL,
    program_id TEXT NOT NULL,
    card_id TEXT NOT NULL,
    stamps INTEGER NOT NULL,
    version INTEGER NOT NULL,          -- change counter value of the last change
    PRIMARY KEY (shop_id, program_id, card_id)
);
CREATE INDEX IF NOT EXISTS balances_version ON balances(shop_id, version);
CREATE TABLE IF NOT EXISTS programs (
    shop_id TEXT NOT NULL,
    id TEXT NOT NULL,
    body TEXT NOT NULL,
    version INTEGER NOT NULL,
    PRIMARY KEY (shop_id, id)
);
CREATE TABLE IF NOT EXISTS cards (
    id TEXT PRIMARY KEY,
    issued_at TEXT NOT NULL,
    expires_days INTEGER
);
CREATE TABLE IF NOT EXISTS revoked (
    card_id TEXT PRIMARY KEY,
    revoked_at TEXT NOT NULL,
    version INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS counters (
    name TEXT PRIMARY KEY,
    value INTEGER NOT NULL
);
"""


def hash_secret(secret: str) -> str:
    """How credentials and pairing tokens are kept: only their sha256."""
    return hashlib.sha256(secret.encode()).hexdigest()


def new_secret() -> str:
    """A random token for pairing or a credential (URL-safe, 256 bits)."""
    return secrets.token_urlsafe(32)


class PlatformError(Exception):
    """A platform command cannot do what was asked; ``code`` is stable, the message says why."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


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


class PlatformStore:
    """The platform's ledger of everything terminals sent, and what it tells them back."""

    def __init__(self, path: Path) -> None:
        self.path = path
        # Customer data: the file 0600 (SQLite gives its WAL and SHM the same mode), the
        # folder 0700, whatever the umask.
        private_file(path)
        conn = sqlite3.connect(str(path), timeout=BUSY_TIMEOUT_MS / 1000, check_same_thread=False)
        conn.isolation_level = None
        conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        conn.execute("PRAGMA journal_mode = WAL")
        conn.execute("PRAGMA synchronous = FULL")
        self._conn = conn
        self.db = sqlite_utils.Database(conn)
        self._lock = threading.RLock()
        with self.write() as db:
            for statement in SCHEMA.split(";"):
                if statement.strip():
                    db.execute(statement)

    def close(self) -> None:
        """Close the connection."""
        with self._lock:
            self._conn.close()

    def __enter__(self) -> PlatformStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextmanager
    def write(self) -> Iterator[sqlite_utils.Database]:
        """One ``BEGIN IMMEDIATE`` transaction; committed when the block returns."""
        with self._lock:
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                yield self.db
            except BaseException:
                if self._conn.in_transaction:
                    self._conn.execute("ROLLBACK")
                raise
            else:
                self._conn.execute("COMMIT")

    @contextmanager
    def read(self) -> Iterator[sqlite_utils.Database]:
        """A consistent snapshot for reading (a deferred transaction)."""
        with self._lock:
            self._conn.execute("BEGIN")
            try:
                yield self.db
            finally:
                self._conn.execute("COMMIT")

    # counters -------------------------------------------------------------------------

    def _bump(self, db: sqlite_utils.Database, name: str, by: int = 1) -> int:
        db.execute(
            "INSERT INTO counters (name, value) VALUES (?, ?) "
            "ON CONFLICT(name) DO UPDATE SET value = value + excluded.value",
            [name, by],
        )
        row = db.execute("SELECT value FROM counters WHERE name = ?", [name]).fetchone()
        return int(row[0])

    def _counter(self, db: sqlite_utils.Database, name: str) -> int:
        row = db.execute("SELECT value FROM counters WHERE name = ?", [name]).fetchone()
        return int(row[0]) if row else 0

    # terminals --------------------------------------------------------------------------

    def add_terminal(
        self, *, shop_name: str, shop_id: str | None = None, terminal_id: str | None = None
    ) -> NewTerminal:
        """Register a terminal (and its shop) and return a one-time pairing token.

        Adding a terminal id again issues a fresh pairing token: pairing with it replaces the
        old credential (that is how a credential is rotated).
        """
        shop_id = shop_id or _slug(shop_name)
        token = new_secret()
        now = iso(utc_now())
        with self.write() as db:
            if terminal_id is None:
                count = db.execute(
                    "SELECT COUNT(*) FROM terminals WHERE shop_id = ?", [shop_id]
                ).fetchone()[0]
                terminal_id = f"{shop_id}-t{count + 1}"
            db.execute(
                "INSERT INTO shops (id, name, created_at) VALUES (?, ?, ?) "
                "ON CONFLICT(id) DO UPDATE SET name = excluded.name",
                [shop_id, shop_name, now],
            )
            row = db.execute("SELECT shop_id FROM terminals WHERE id = ?", [terminal_id]).fetchone()
            if row is not None and row[0] != shop_id:
                raise PlatformError(
                    "terminal_in_other_shop",
                    f"terminal {terminal_id} belongs to shop {row[0]}, not {shop_id}. "
                    "Choose another --terminal-id.",
                )
            db.execute(
                "INSERT INTO terminals (id, shop_id, pairing_hash, created_at) VALUES (?, ?, ?, ?) "
                "ON CONFLICT(id) DO UPDATE SET pairing_hash = excluded.pairing_hash",
                [terminal_id, shop_id, hash_secret(token), now],
            )
        return NewTerminal(terminal_id=terminal_id, shop_id=shop_id, token=token)

    def pair(self, token: str, public_key: str) -> tuple[TerminalRecord, str, str]:
        """Trade a pairing token for a new credential; return (terminal, shop name, credential)."""
        credential = new_secret()
        with self.write() as db:
            row = db.execute(
                "SELECT t.id, t.shop_id, s.name FROM terminals t JOIN shops s ON s.id = t.shop_id "
                "WHERE t.pairing_hash = ?",
                [hash_secret(token)],
            ).fetchone()
            if row is None:
                raise PlatformError(
                    "unknown_pairing_token",
                    "this pairing token is unknown or was used already. "
                    "Ask the platform operator for a new one (citie-platform terminal add).",
                )
            db.execute(
                "UPDATE terminals SET pairing_hash = NULL, credential_hash = ?, public_key = ?, "
                "paired_at = ? WHERE id = ?",
                [hash_secret(credential), public_key, iso(utc_now()), row[0]],
            )
        return TerminalRecord(id=row[0], shop_id=row[1], paired=True), row[2], credential

    def terminal_for(self, credential: str) -> TerminalRecord | None:
        """The terminal a credential belongs to, or None."""
        with self._lock:
            row = self._conn.execute(
                "SELECT id, shop_id FROM terminals WHERE credential_hash = ?",
                [hash_secret(credential)],
            ).fetchone()
        return None if row is None else TerminalRecord(id=row[0], shop_id=row[1], paired=True)

    # events -----------------------------------------------------------------------------

    def record_batch(
        self, terminal: TerminalRecord, batch_id: str, raw_events: list[Any]
    ) -> list[EventResult]:
        """Store each event once; one result per event, in order, all in one transaction."""
        results: list[EventResult] = []
        received_at = iso(utc_now())
        with self.write() as db:
            conn = db.conn
            version = self._counter(db, "version")
            duplicates = 0
            for raw in raw_events:
                result = self._record_one(conn, terminal, batch_id, raw, received_at, version + 1)
                if result.status == "duplicate":
                    duplicates += 1
                results.append(result)
            if any(r.status == "accepted" for r in results):
                self._bump(db, "version")
            if duplicates:
                self._bump(db, "duplicates", duplicates)
        return results

    def _record_one(
        self,
        conn: sqlite3.Connection,
        terminal: TerminalRecord,
        batch_id: str,
        raw: Any,
        received_at: str,
        version: int,
    ) -> EventResult:
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
                message=f"this credential belongs to terminal {terminal.id}, "
                f"not {event.terminal_id}.",
            )
        # Anonymous purchases, and the voids that cancel them, carry no card.
        if event.kind not in ("purchase", "void") and event.card_id is None:
            return EventResult(
                id=event.id,
                status="rejected",
                reason="card_missing",
                message=f"a {event.kind} event needs a card id.",
            )
        exists = conn.execute("SELECT 1 FROM events WHERE id = ?", [event.id]).fetchone()
        if exists:
            return EventResult(id=event.id, status="duplicate")
        if event.voids is not None:
            target = conn.execute(
                "SELECT shop_id, card_id FROM events WHERE id = ?", [event.voids]
            ).fetchone()
            if target is not None and target[0] == terminal.shop_id and target[1] != event.card_id:
                return EventResult(
                    id=event.id,
                    status="rejected",
                    reason="void_card_mismatch",
                    message=f"the void names card {event.card_id}, "
                    f"but the voided event {event.voids} is for {target[1]}.",
                )
            if target is None or target[0] != terminal.shop_id:
                return EventResult(
                    id=event.id,
                    status="rejected",
                    reason="void_target_unknown",
                    message=f"the voided event {event.voids} is not on the platform for this shop.",
                )
        overdraft = 0
        flags: list[str] = []
        if event.card_id is not None and event.stamps != 0:
            row = conn.execute(
                "SELECT stamps FROM balances WHERE shop_id = ? AND program_id = ? AND card_id = ?",
                [event.shop_id, event.program_id, event.card_id],
            ).fetchone()
            before = int(row[0]) if row else 0
            after = before + event.stamps
            if event.kind == "redeem" and after < 0:
                overdraft = 1
                flags.append("overdraft")
            conn.execute(
                "INSERT INTO balances (shop_id, program_id, card_id, stamps, version) "
                "VALUES (?, ?, ?, ?, ?) ON CONFLICT(shop_id, program_id, card_id) "
                "DO UPDATE SET stamps = excluded.stamps, version = excluded.version",
                [event.shop_id, event.program_id, event.card_id, after, version],
            )
        conn.execute(
            "INSERT INTO events (id, seq, kind, terminal_id, shop_id, occurred_at, received_at, "
            "card_id, program_id, stamps, amount_cents, currency, voids, receipt_no, detail, "
            "batch_id, overdraft) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [
                event.id,
                event.seq,
                event.kind,
                event.terminal_id,
                event.shop_id,
                event.occurred_at,
                received_at,
                event.card_id,
                event.program_id,
                event.stamps,
                event.amount_cents,
                event.currency,
                event.voids,
                event.receipt_no,
                json.dumps(event.detail, separators=(",", ":")),
                batch_id,
                overdraft,
            ],
        )
        return EventResult(id=event.id, status="accepted", flags=flags)

    def claim(self, body: object) -> tuple[int, dict[str, object]]:
        """``POST /v1/claims``: verify a slip's claim code and credit the card once."""
        with self.write() as db:
            terminals = {
                row[0]: (row[1], row[2])
                for row in db.execute(
                    "SELECT id, shop_id, public_key FROM terminals WHERE public_key IS NOT NULL"
                )
            }
            keys = {}
            for terminal_id, (_shop, public_key) in terminals.items():
                try:
                    keys[terminal_id] = public_from_hex(public_key)
                except ValueError:
                    continue  # a damaged key row must not stop other terminals' claims

            def check(claim: Claim) -> ClaimReason | None:
                if terminals[claim.terminal_id][0] != claim.shop_id:
                    return ClaimReason.BAD_SIGNATURE  # signed for a shop it does not belong to
                marks = ",".join("?" * len(claim.event_ids))
                voided = db.execute(
                    f"SELECT 1 FROM events WHERE voids IN ({marks}) LIMIT 1",  # noqa: S608
                    list(claim.event_ids),
                ).fetchone()
                return ClaimReason.VOIDED if voided else None

            def credit(db: sqlite_utils.Database, claim: Claim, card_id: str) -> None:
                program = claim.program_id or "default"
                version = self._bump(db, "version")
                db.execute(
                    "INSERT INTO balances (shop_id, program_id, card_id, stamps, version) "
                    "VALUES (?, ?, ?, ?, ?) ON CONFLICT(shop_id, program_id, card_id) "
                    "DO UPDATE SET stamps = stamps + excluded.stamps, version = excluded.version",
                    [claim.shop_id, program, card_id, claim.stamps, version],
                )

            def card_exists(card_id: str) -> bool:
                return (
                    db.execute("SELECT 1 FROM cards WHERE id = ?", [card_id]).fetchone() is not None
                )

            return claim_response(
                db, body, keys, credit=credit, card_exists=card_exists, check=check
            )

    def touch(self, terminal_id: str) -> None:
        """Remember when a terminal last called."""
        with self.write() as db:
            db.execute(
                "UPDATE terminals SET last_seen_at = ? WHERE id = ?", [iso(utc_now()), terminal_id]
            )

    # updates ----------------------------------------------------------------------------

    def updates(
        self, terminal: TerminalRecord, cursor: int
    ) -> tuple[list[ProgramUpdate], list[RevokedCard], list[ConfirmedBalance], int, bool]:
        """What changed for this terminal's shop since ``cursor``: programs, revocations,
        balances, the next cursor, and whether more pages follow."""
        with self.read() as db:
            top = self._counter(db, "version")
            programs = [
                ProgramUpdate(id=r[0], body=json.loads(r[1]))
                for r in db.execute(
                    # Oldest first: the last one a terminal applies is the shop's program in force.
                    "SELECT id, body FROM programs WHERE shop_id = ? AND version > ? "
                    "ORDER BY version",
                    [terminal.shop_id, cursor],
                )
            ]
            revoked = [
                RevokedCard(card_id=r[0], revoked_at=r[1])
                for r in db.execute(
                    "SELECT card_id, revoked_at FROM revoked WHERE version > ? ORDER BY version",
                    [cursor],
                )
            ]
            rows = db.execute(
                "SELECT card_id, program_id, stamps, version FROM balances "
                "WHERE shop_id = ? AND version > ? ORDER BY version, card_id LIMIT ?",
                [terminal.shop_id, cursor, UPDATE_PAGE + 1],
            ).fetchall()
        more = len(rows) > UPDATE_PAGE
        next_cursor = top
        if more:
            # Stop before the last version in the page, so its rows all come in the next one.
            last_version = rows[UPDATE_PAGE][3]
            rows = [r for r in rows[:UPDATE_PAGE] if r[3] < last_version]
            next_cursor = last_version - 1
            if not rows:  # one version larger than a page: send it whole, it is bounded anyway
                more = False
                next_cursor = top
        balances = [
            ConfirmedBalance(card_id=r[0], program_id=r[1], stamps=r[2], version=r[3]) for r in rows
        ]
        return programs, revoked, balances, next_cursor, more

    def set_program(self, shop_id: str, program_id: str, body: dict[str, Any]) -> None:
        """Create or replace a shop's program (sent to its terminals at the next pull)."""
        with self.write() as db:
            version = self._bump(db, "version")
            db.execute(
                "INSERT INTO programs (shop_id, id, body, version) VALUES (?, ?, ?, ?) "
                "ON CONFLICT(shop_id, id) DO UPDATE SET body = excluded.body, "
                "version = excluded.version",
                [shop_id, program_id, json.dumps(body), version],
            )

    def revoke(self, card_id: str) -> bool:
        """Revoke a card; False if it already was."""
        with self.write() as db:
            if db.execute("SELECT 1 FROM revoked WHERE card_id = ?", [card_id]).fetchone():
                return False
            version = self._bump(db, "version")
            db.execute(
                "INSERT INTO revoked (card_id, revoked_at, version) VALUES (?, ?, ?)",
                [card_id, iso(utc_now()), version],
            )
        return True

    def add_card(self, card_id: str, expires_days: int | None) -> None:
        """Remember a card the issuer made."""
        with self.write() as db:
            db.execute(
                "INSERT OR IGNORE INTO cards (id, issued_at, expires_days) VALUES (?, ?, ?)",
                [card_id, iso(utc_now()), expires_days],
            )

    def stats(self) -> dict[str, int]:
        """Counts for ``citie-platform stats``."""
        with self.read() as db:

            def one(sql: str) -> int:
                return int(db.execute(sql).fetchone()[0])

            return {
                "events": one("SELECT COUNT(*) FROM events"),
                "cards": one(
                    "SELECT COUNT(*) FROM (SELECT id FROM cards UNION "
                    "SELECT card_id FROM events WHERE card_id IS NOT NULL)"
                ),
                "terminals": one("SELECT COUNT(*) FROM terminals"),
                "paired_terminals": one(
                    "SELECT COUNT(*) FROM terminals WHERE credential_hash IS NOT NULL"
                ),
                "shops": one("SELECT COUNT(*) FROM shops"),
                "duplicates_seen": self._counter(db, "duplicates"),
                "overdrafts": one("SELECT COUNT(*) FROM events WHERE overdraft = 1"),
                "revoked_cards": one("SELECT COUNT(*) FROM revoked"),
            }


def _slug(name: str) -> str:
    text = "".join(ch.lower() if ch.isalnum() else "-" for ch in name).strip("-")
    while "--" in text:
        text = text.replace("--", "-")
    return (text or "shop")[:48]
