"""The puller: bring down what the platform changed since the last cursor and apply it.

Each page of updates is applied in one transaction together with its cursor, so a pull cut
short resumes where it stopped. The issuer trust list only ever moves forward (through
``loyalty.trust.install_document``, in its own transaction just before the page, which is safe
because it is monotonic), and once a city root is pinned only a list that root signed is
installed: a refused list leaves the installed keys in place and says why in the warnings.
The shop's program in force is the valid program the platform sent last (it sends them oldest
first), whatever its id: its id is kept in ``meta`` for ``loyalty.programs.program_in_force``.
Revocations apply at once; confirmed balances are stored per card and program, with the card's
sum in ``confirmed_balances`` for the counter. City vouchers' states (``voucher_states``, read
by ``loyalty.voucher_book``) are stored in the page's transaction and never go back a version;
so are the cards the city flagged (``card_flags``, read by ``terminal.flags``: a warning;
a flag the operator cleared is kept without reasons: no warning).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from functools import partial
from typing import Any

from pydantic import ValidationError

from loyalty.db import Store, iso, utc_now
from loyalty.programs import IN_FORCE_KEY, Program
from loyalty.trust import TrustError, install_document
from sync.client import PlatformClient, ProtocolError
from sync.protocol import Updates, describe
from sync.retry import Retrier, RetryPolicy

MAX_PAGES = 1000


@dataclass
class PullReport:
    """What one pull brought down."""

    pages: int = 0
    programs: int = 0
    revoked: int = 0
    balances: int = 0
    flags: int = 0
    vouchers: int = 0
    trust_version: int | None = None
    trust_installed: bool = False
    trust_root: str | None = None
    cursor: str = "0"
    warnings: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        """The figures for a log line."""
        return dict(self.__dict__)


def _meta(store: Store, key: str) -> str | None:
    row = store.read().execute("SELECT value FROM meta WHERE key = ?", [key]).fetchone()
    return None if row is None else str(row[0])


def pull(
    store: Store, client: PlatformClient, terminal_id: str, *, retrier: Retrier | None = None
) -> PullReport:
    """Fetch and apply every page of updates; set ``sync_cursor`` and ``last_good_sync``."""
    report = PullReport()
    retrier = retrier or Retrier(RetryPolicy())
    cursor = _meta(store, "sync_cursor") or "0"
    for _page in range(MAX_PAGES):
        updates = retrier.call(partial(client.updates, terminal_id, cursor))
        if updates.cursor != cursor:
            raise ProtocolError(
                f"the platform answered for cursor {updates.cursor!r}, not {cursor!r}; "
                "nothing was applied.",
                code="bad_answer",
            )
        _apply_trust(store, updates, report)
        _apply_page(store, updates, report)
        report.pages += 1
        cursor = updates.next_cursor
        report.cursor = cursor
        if not updates.more:
            break
    else:
        report.warnings.append(f"stopped after {MAX_PAGES} pages; the next sync continues")
    with store.write() as db:
        _set_meta(db.conn, "last_good_sync", iso(utc_now()))
    return report


def _apply_trust(store: Store, updates: Updates, report: PullReport) -> None:
    if updates.trust is None:
        return
    try:
        installed = install_document(store, updates.trust)
    except TrustError as exc:
        if exc.reason == "trust_invalid":
            raise ProtocolError(
                f"the platform's trust list cannot be read ({exc}); nothing was applied.",
                code="bad_trust_list",
            ) from None
        # Never go back, never trust a list the pinned root did not sign: keep the installed
        # keys and say so; cards keep verifying.
        report.warnings.append(f"{exc.reason}: {exc}")
        return
    report.trust_version = installed.trust.version
    report.trust_installed = installed.changed
    report.trust_root = installed.root


def _apply_page(store: Store, updates: Updates, report: PullReport) -> None:
    now = iso(utc_now())
    programs: list[dict[str, str]] = []
    for program in updates.programs:
        try:
            valid = Program.model_validate(program.body)
        except (ValidationError, ValueError) as exc:
            detail = describe(exc) if isinstance(exc, ValidationError) else str(exc)
            report.warnings.append(f"program_invalid: program {program.id} skipped ({detail})")
            continue
        if valid.id != program.id:
            report.warnings.append(
                f"program_invalid: program {program.id} skipped (its body says id {valid.id!r})"
            )
            continue
        body = json.dumps(program.body, ensure_ascii=False)
        programs.append({"id": program.id, "body": body, "updated_at": now})
    with store.write() as db:
        conn = db.conn
        if programs:
            # sqlite-utils' upsert_all runs in a savepoint of this page's transaction.
            db.table("programs").upsert_all(programs, pk="id")
            _set_meta(conn, IN_FORCE_KEY, programs[-1]["id"])
        conn.executemany(
            "INSERT OR IGNORE INTO revoked_cards (card_id, revoked_at) VALUES (?, ?)",
            [(r.card_id, r.revoked_at) for r in updates.revoked],
        )
        conn.executemany(
            "INSERT INTO confirmed_program_balances (card_id, program_id, stamps, version) "
            "VALUES (?, ?, ?, ?) ON CONFLICT(card_id, program_id) DO UPDATE SET "
            "stamps = excluded.stamps, version = excluded.version "
            "WHERE excluded.version >= confirmed_program_balances.version",
            [(b.card_id, b.program_id, b.stamps, b.version) for b in updates.balances],
        )
        cards = sorted({b.card_id for b in updates.balances})
        conn.executemany(
            "INSERT INTO confirmed_balances (card_id, stamps, confirmed_at, platform_seq) "
            "SELECT card_id, SUM(stamps), ?, MAX(version) FROM confirmed_program_balances "
            "WHERE card_id = ? GROUP BY card_id "
            "ON CONFLICT(card_id) DO UPDATE SET stamps = excluded.stamps, "
            "confirmed_at = excluded.confirmed_at, platform_seq = excluded.platform_seq",
            [(now, card) for card in cards],
        )
        _store_vouchers(conn, updates)
        _store_flags(conn, updates)
        _set_meta(conn, "sync_cursor", updates.next_cursor)
    report.programs += len(programs)
    report.revoked += len(updates.revoked)
    report.balances += len(updates.balances)
    report.flags += len(updates.flags)
    report.vouchers += len(updates.vouchers)


def _store_vouchers(conn: Any, updates: Updates) -> None:
    """City vouchers' confirmed state, in the page's transaction; a version never goes back.

    Only a strictly newer version is written: the row's ``mark`` (a trigger) must say when
    the confirmation this terminal holds was stored, so the same version again must not
    move it past spends the platform had not counted in it. Rows are keyed by
    ``voucher_key``: the feed never names a voucher by its id (which would be enough to
    spend it).
    """
    conn.executemany(
        "INSERT INTO voucher_states (voucher_key, face_cents, currency, expires_at, campaign, "
        "spent_cents, revoked_at, version) VALUES (?, ?, ?, ?, ?, ?, ?, ?) "
        "ON CONFLICT(voucher_key) DO UPDATE SET face_cents = excluded.face_cents, "
        "currency = excluded.currency, expires_at = excluded.expires_at, "
        "campaign = excluded.campaign, spent_cents = excluded.spent_cents, "
        "revoked_at = excluded.revoked_at, version = excluded.version "
        "WHERE excluded.version > voucher_states.version",
        [
            (
                v.voucher_key,
                v.face_cents,
                v.currency,
                v.expires_at,
                v.campaign,
                v.spent_cents,
                v.revoked_at,
                v.version,
            )
            for v in updates.vouchers
        ],
    )


def _store_flags(conn: Any, updates: Updates) -> None:
    """Cards the city flagged (the counter warns when one is scanned); an older version of a
    card's flag never replaces a newer one.

    A flag the operator cleared is kept as a row without reasons (``terminal.flags`` reads no
    warning from it) at its version, so a clearing is never undone by an older flag.
    """
    conn.executemany(
        "INSERT INTO card_flags (card_id, reasons, flagged_at, version) VALUES (?, ?, ?, ?) "
        "ON CONFLICT(card_id) DO UPDATE SET reasons = excluded.reasons, "
        "flagged_at = excluded.flagged_at, version = excluded.version "
        "WHERE excluded.version >= card_flags.version",
        [
            (f.card_id, "" if f.cleared else ",".join(f.reasons), f.flagged_at, f.version)
            for f in updates.flags
        ],
    )


def _set_meta(conn: Any, key: str, value: str) -> None:
    conn.execute(
        "INSERT INTO meta (key, value) VALUES (?, ?) "
        "ON CONFLICT(key) DO UPDATE SET value = excluded.value",
        [key, value],
    )
