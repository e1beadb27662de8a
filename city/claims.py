"""The platform's side of claim codes: ``POST /v1/claims {code, card_id}``.

``handle_claim`` is the whole answer, in the caller's write transaction: the card must be
issued and not revoked (409 ``revoked``); the slip is verified with any key its terminal was
ever paired with (``terminal_keys``), so a re-paired terminal's earlier slips stay claimable;
its events are reserved for the card (a second claim of any of them is ``already_claimed``).
When the purchase is on the platform the card is credited what the slip says (its signed
stamps), capped by what the card may still earn that day at the shop (the program's daily
limit, counted over every terminal): 200 ``credited``. Otherwise 202 ``waiting``, and
``settle_claims`` (called by the store when a batch is stored) credits it when the purchase
arrives. A void that arrives after the credit takes it back. Credits and reversals are
events in the platform's own books (kinds ``claim`` and ``claim_void``, terminal
``platform``), so the card's history shows them; a claim's state is in ``claims``.

Every answer carries ``message``, a sentence for the customer saying what happened and what
to do, in ``language`` (fr, nl, de or en): the body's ``lang`` when the platform speaks it,
else the best of the request's ``Accept-Language`` (``claim_language``), else Dutch, as
everything else the platform makes for customers (printed cards and vouchers). ``status`` and
``reason`` stay stable codes. Values named in a sentence (a receipt number, a card id) are
catalog fields, and only plain ids ever get there: a card id matches ``CARD_ID_PATTERN``, and a
slip whose signed ids are not plain is refused as ``malformed``.

``redeem_claim`` / ``claim_response`` are the older one-step form (verify, credit at once),
kept for callers that hold their own keys.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, Final, Protocol

from babel import Locale
from babel.core import negotiate_locale
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from city import checks
from loyalty.claims import (
    CARD_ID_PATTERN,
    MAX_AGE,
    MESSAGES,
    Claim,
    ClaimCredited,
    ClaimReason,
    ClaimRefusal,
    claim_terminal,
    refuse,
    verify_claim,
)
from loyalty.db import iso
from loyalty.i18n import LANGUAGES, locale_for
from loyalty.keys import public_from_hex
from loyalty.programs import local_day
from sync.protocol import Event


class Sql(Protocol):
    """A transaction the claim runs in (``city.store.Tx``, or a sqlite3 / sqlite-utils handle)."""

    def execute(self, sql: str, params: Sequence[Any] = ..., /) -> Any:
        """Run one statement (``?`` placeholders)."""


Credit = Callable[[Any, Claim, str], None]
"""Credits ``claim.stamps`` to the card; called inside the claim's transaction."""

STATUS: Final = {
    ClaimReason.BAD_REQUEST: 400,
    ClaimReason.UNKNOWN_CARD: 404,
    ClaimReason.ALREADY_CLAIMED: 409,
    ClaimReason.VOIDED: 409,
    ClaimReason.REVOKED: 409,
    ClaimReason.EXPIRED: 410,
}
"""HTTP status per refusal; every other reason (a bad or unknown code) is 422."""

DEFAULT_LANGUAGE: Final = "nl"
"""The answer's language when the request names none the platform speaks: the platform's
default for customers (``city card new`` and ``city voucher new`` print Dutch unless told)."""
PLAIN: Final = re.compile(r"^[A-Za-z0-9._:/-]{1,64}$")
"""What an id from a slip must look like before the platform says it back (the protocol's ids,
and ``/``, which receipt numbers of other tills may hold): no markup, no control character."""
_TAG = re.compile(r"^(?:[A-Za-z]{1,8}(?:-[A-Za-z0-9]{1,8})*|\*)$")
_Q = re.compile(r"^(?:0(?:\.[0-9]{0,3})?|1(?:\.0{0,3})?)$")
MAX_TAGS: Final = 32
"""The most ``Accept-Language`` entries read (a real browser sends a handful)."""


def accepted_languages(header: str | None) -> list[str]:
    """The language tags of an ``Accept-Language`` header, most wanted first (RFC 9110: ``q``
    from 0 to 1, 1 when absent; ties keep their order; ``q=0`` and malformed entries dropped)."""
    ranked: list[tuple[float, int, str]] = []
    for index, entry in enumerate((header or "").split(",")[:MAX_TAGS]):
        tag, *params = (part.strip() for part in entry.split(";"))
        if not _TAG.match(tag):
            continue
        weight = 1.0
        for param in params:
            name, _, value = param.partition("=")
            if name.strip().lower() == "q":
                value = value.strip()
                weight = float(value) if _Q.match(value) else -1.0
        if weight > 0:
            ranked.append((-weight, index, tag))
    return [tag for _, _, tag in sorted(ranked)]


def claim_language(body: object, accept_language: str | None) -> str:
    """The answer's language: the body's ``lang``, else the best of ``Accept-Language``, among
    the languages the platform speaks (``fr-BE`` is ``fr``); else ``DEFAULT_LANGUAGE``."""
    wanted = accepted_languages(accept_language)
    if isinstance(body, Mapping) and isinstance(lang := body.get("lang"), str):
        wanted = [lang.strip(), *wanted]
    # Babel gives back the caller's spelling: lower case first, so FR-be is fr.
    chosen = negotiate_locale([w.lower() for w in wanted], list(LANGUAGES), sep="-", aliases={})
    return chosen if chosen in LANGUAGES else DEFAULT_LANGUAGE


def _language(body: object) -> str:
    lang = body.get("lang") if isinstance(body, Mapping) else None
    return lang if isinstance(lang, str) and lang in LANGUAGES else DEFAULT_LANGUAGE


def ensure_claim_table(db: Sql) -> None:
    """Create the table that remembers every claimed event, forever (idempotent)."""
    db.execute(
        """CREATE TABLE IF NOT EXISTS claimed_events (
            event_id TEXT PRIMARY KEY,      -- one credit per event, whatever code names it
            terminal_id TEXT NOT NULL,
            receipt_no TEXT NOT NULL,
            card_id TEXT NOT NULL,
            stamps INTEGER NOT NULL,
            amount_cents INTEGER NOT NULL,
            code_sha256 TEXT NOT NULL,
            claimed_at TEXT NOT NULL
        )"""
    )


def redeem_claim(
    db: Sql,
    code: str,
    card_id: str,
    terminal_public_keys: Mapping[str, Ed25519PublicKey],
    *,
    credit: Credit,
    now: datetime | None = None,
    max_age: timedelta | None = MAX_AGE,
    check: Callable[[Claim], ClaimReason | None] | None = None,
) -> ClaimCredited | ClaimRefusal:
    """Verify a claim code and credit the card once, atomically; a replay is refused.

    Works inside the caller's transaction (as a savepoint) or alone (its own transaction).
    The claimed event ids are the unique key, so two requests racing with the same code
    credit once: the loser gets ``already_claimed``.
    """
    verdict = verify_claim(code, terminal_public_keys)
    if isinstance(verdict, ClaimRefusal):
        return verdict
    if not _plain(verdict):
        return refuse(ClaimReason.MALFORMED, "ids that are not plain")
    now = now or datetime.now(UTC)
    if max_age is not None and now - verdict.occurred_at > max_age:
        days = f"older than {max_age.days} days"
        return refuse(ClaimReason.EXPIRED, days, receipt_no=verdict.receipt_no)
    if check is not None and (reason := check(verdict)) is not None:
        return refuse(reason, f"slip {verdict.receipt_no}")
    ensure_claim_table(db)
    digest = hashlib.sha256(code.strip().encode("ascii")).hexdigest()
    stamp = iso(now)
    db.execute("SAVEPOINT claim")
    try:
        for event_id in verdict.event_ids:
            # ON CONFLICT rather than catching the driver's IntegrityError: the same statement
            # then works on SQLite and PostgreSQL, where a failed statement spoils the whole
            # transaction. A concurrent claim of the same event waits, then finds it taken.
            inserted = db.execute(
                "INSERT INTO claimed_events (event_id, terminal_id, receipt_no, card_id, "
                "stamps, amount_cents, code_sha256, claimed_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?) "
                "ON CONFLICT(event_id) DO NOTHING",
                [
                    event_id,
                    verdict.terminal_id,
                    verdict.receipt_no,
                    card_id,
                    verdict.stamps,
                    verdict.amount_cents,
                    digest,
                    stamp,
                ],
            )
            if inserted.rowcount != 1:
                db.execute("ROLLBACK TO claim")
                db.execute("RELEASE claim")
                return refuse(ClaimReason.ALREADY_CLAIMED, receipt_no=verdict.receipt_no)
        credit(db, verdict, card_id)
    except BaseException:
        db.execute("ROLLBACK TO claim")
        db.execute("RELEASE claim")
        raise
    db.execute("RELEASE claim")
    return ClaimCredited(verdict, card_id)


def claim_response(
    db: Sql,
    body: object,
    terminal_public_keys: Mapping[str, Ed25519PublicKey],
    *,
    credit: Credit,
    card_exists: Callable[[str], bool] | None = None,
    now: datetime | None = None,
    max_age: timedelta | None = MAX_AGE,
    check: Callable[[Claim], ClaimReason | None] | None = None,
) -> tuple[int, dict[str, object]]:
    """The whole ``POST /v1/claims`` answer for a parsed JSON body: (HTTP status, JSON).

    200 ``{"status": "credited", card_id, stamps, terminal_id, receipt_no, event_ids}``;
    otherwise ``{"status": "refused", "reason": code, "message": sentence}`` with 400, 404,
    409, 410 or 422 (see ``STATUS``); both with ``language``, the body's ``lang`` if the
    platform speaks it, else ``DEFAULT_LANGUAGE``.
    """
    language = _language(body)
    if not isinstance(body, Mapping):
        bad_body = refuse(ClaimReason.BAD_REQUEST, "the body must be a JSON object")
        return refusal_answer(bad_body, language)
    code, card_id = body.get("code"), body.get("card_id")
    if (
        not isinstance(code, str)
        or not isinstance(card_id, str)
        or not CARD_ID_PATTERN.match(card_id)
    ):
        return refusal_answer(refuse(ClaimReason.BAD_REQUEST), language)
    if card_exists is not None and not card_exists(card_id):
        return refusal_answer(refuse(ClaimReason.UNKNOWN_CARD, card_id=card_id), language)
    outcome = redeem_claim(
        db,
        code,
        card_id,
        terminal_public_keys,
        credit=credit,
        now=now,
        max_age=max_age,
        check=check,
    )
    if isinstance(outcome, ClaimRefusal):
        return refusal_answer(outcome, language)
    return 200, _credited_answer(outcome.claim, outcome.card_id, outcome.claim.stamps, language)


def refusal_answer(refusal: ClaimRefusal, language: str) -> tuple[int, dict[str, object]]:
    """(HTTP status, JSON) of a refused claim, its sentence in ``language``."""
    return STATUS.get(refusal.reason, 422), {
        "status": "refused",
        "reason": refusal.reason.value,
        "message": refusal.text(language),
        "language": language,
    }


def _credited_answer(claim: Claim, card_id: str, credited: int, language: str) -> dict[str, object]:
    if credited == 0 and claim.stamps > 0:
        key = "credited.none"
    else:
        # Only one and other are written: French says "many" of a million, still a plural.
        form = Locale.parse(locale_for(language)).plural_form(abs(credited))
        capped = "capped." if credited < claim.stamps else ""
        key = f"credited.{capped}{'one' if form == 'one' else 'other'}"
    return {
        "status": CREDITED,
        "card_id": card_id,
        "stamps": credited,
        "terminal_id": claim.terminal_id,
        "shop_id": claim.shop_id,
        "receipt_no": claim.receipt_no,
        "program_id": claim.program_id,
        "event_ids": list(claim.event_ids),
        "message": MESSAGES.text(key, language, stamps=credited, receipt_no=claim.receipt_no),
        "language": language,
    }


# --- The platform's books for claims: wait for the purchase, credit what the slip says -------

WAITING: Final = "waiting"
CREDITED: Final = "credited"
REVERSED: Final = "reversed"
VOIDED: Final = "voided"
PLATFORM_TERMINAL: Final = "platform"
"""The ``terminal_id`` of the events the platform itself records (claim credits, reversals)."""
CLAIM_KINDS: Final = ("claim", "claim_void")


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def handle_claim(
    tx: Sql,
    body: object,
    *,
    bump: Callable[[str], int],
    now: datetime | None = None,
    max_age: timedelta | None = MAX_AGE,
) -> tuple[int, dict[str, object]]:
    """The whole ``POST /v1/claims`` answer, inside the caller's write transaction.

    Refuses a revoked card (409 ``revoked``). Verifies the slip with any key its terminal was
    ever paired with (a re-paired terminal's earlier slips stay claimable). Reserves the slip's
    events for this card; when the purchase is on the platform, credits what the slip says,
    capped by the card's daily limit (200 ``credited``); otherwise answers 202 ``waiting`` and
    ``settle_claims`` credits it when the purchase arrives. ``bump`` gives the next change
    version for the balance terminals pull.

    Every answer's ``message`` is in the body's ``lang`` (one of fr, nl, de, en; the HTTP
    endpoint sets it from ``claim_language``), else in ``DEFAULT_LANGUAGE``.
    """
    now = now or datetime.now(UTC)
    language = _language(body)
    if not isinstance(body, Mapping):
        bad_body = refuse(ClaimReason.BAD_REQUEST, "the body must be a JSON object")
        return refusal_answer(bad_body, language)
    code, card_id = body.get("code"), body.get("card_id")
    if (
        not isinstance(code, str)
        or not isinstance(card_id, str)
        or not CARD_ID_PATTERN.match(card_id)
    ):
        return refusal_answer(refuse(ClaimReason.BAD_REQUEST), language)
    if tx.execute("SELECT 1 FROM cards WHERE id = ?", [card_id]).fetchone() is None:
        return refusal_answer(refuse(ClaimReason.UNKNOWN_CARD, card_id=card_id), language)
    if tx.execute("SELECT 1 FROM revoked WHERE card_id = ?", [card_id]).fetchone() is not None:
        return refusal_answer(refuse(ClaimReason.REVOKED, card_id=card_id), language)
    verdict = _verify_with_history(tx, code)
    if isinstance(verdict, ClaimRefusal):
        return refusal_answer(verdict, language)
    if max_age is not None and now - verdict.occurred_at > max_age:
        expired = refuse(
            ClaimReason.EXPIRED,
            f"older than {max_age.days} days",
            receipt_no=verdict.receipt_no,
        )
        return refusal_answer(expired, language)
    event_ids = list(verdict.event_ids)
    marks = ", ".join("?" * len(event_ids))
    if tx.execute(
        f"SELECT 1 FROM events WHERE voids IN ({marks}) LIMIT 1",  # noqa: S608
        event_ids,
    ).fetchone():
        return refusal_answer(refuse(ClaimReason.VOIDED, receipt_no=verdict.receipt_no), language)
    digest = hashlib.sha256(code.strip().encode("ascii")).hexdigest()
    earlier = tx.execute("SELECT card_id, state FROM claims WHERE id = ?", [digest]).fetchone()
    if earlier is not None and earlier[0] == card_id and earlier[1] == WAITING:
        # The same claim again. Its purchase may have arrived in a batch that committed while
        # this claim was being stored (PostgreSQL runs them side by side): credit it now.
        if _arrived(tx, verdict):
            return _credited(tx, verdict, card_id, digest, bump=bump, now=now, language=language)
        return 202, _waiting(verdict, card_id, language)
    if not _reserve(tx, verdict, card_id, digest, now):
        taken = refuse(ClaimReason.ALREADY_CLAIMED, receipt_no=verdict.receipt_no)
        return refusal_answer(taken, language)
    tx.execute(
        "INSERT INTO claims (id, terminal_id, shop_id, program_id, card_id, receipt_no, "
        "event_ids, slip_stamps, credited, state, occurred_at, claimed_at) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, 0, ?, ?, ?)",
        [
            digest,
            verdict.terminal_id,
            verdict.shop_id,
            verdict.program_id or "default",
            card_id,
            verdict.receipt_no,
            json.dumps(event_ids),
            verdict.stamps,
            WAITING,
            _iso(verdict.occurred_at),
            _iso(now),
        ],
    )
    if not _arrived(tx, verdict):
        return 202, _waiting(verdict, card_id, language)
    return _credited(tx, verdict, card_id, digest, bump=bump, now=now, language=language)


def _arrived(tx: Sql, claim: Claim) -> bool:
    """Whether every event of the slip is on the platform, from the slip's terminal."""
    event_ids = sorted(set(claim.event_ids))
    marks = ", ".join("?" * len(event_ids))
    present = tx.execute(
        f"SELECT COUNT(*) FROM events WHERE id IN ({marks}) AND terminal_id = ?",  # noqa: S608
        [*event_ids, claim.terminal_id],
    ).fetchone()
    return int(present[0]) == len(event_ids)


def _credited(
    tx: Sql,
    claim: Claim,
    card_id: str,
    digest: str,
    *,
    bump: Callable[[str], int],
    now: datetime,
    language: str,
) -> tuple[int, dict[str, object]]:
    credited = _credit(tx, digest, bump=bump, now=now)
    answer = _credited_answer(claim, card_id, credited, language)
    answer.update(slip_stamps=claim.stamps)
    return 200, answer


def _reserve(tx: Sql, claim: Claim, card_id: str, digest: str, now: datetime) -> bool:
    """Take the slip's events for this card, all or none (False: another claim has one)."""
    ensure_claim_table(tx)
    tx.execute("SAVEPOINT claim")
    for event_id in claim.event_ids:
        inserted = tx.execute(
            "INSERT INTO claimed_events (event_id, terminal_id, receipt_no, card_id, "
            "stamps, amount_cents, code_sha256, claimed_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?) "
            "ON CONFLICT(event_id) DO NOTHING",
            [
                event_id,
                claim.terminal_id,
                claim.receipt_no,
                card_id,
                claim.stamps,
                claim.amount_cents,
                digest,
                _iso(now),
            ],
        )
        if inserted.rowcount != 1:
            tx.execute("ROLLBACK TO claim")
            tx.execute("RELEASE claim")
            return False
    tx.execute("RELEASE claim")
    return True


def settle_claims(
    tx: Sql, events: Sequence[Event], *, bump: Callable[[str], int], now: datetime | None = None
) -> None:
    """After a batch's events are stored (same transaction): credit the waiting claims whose
    purchase just arrived, and take back a credited claim whose purchase was just voided,
    with a visible compensating event (kind ``claim_void``)."""
    ids = sorted(
        {e.voids for e in events if e.kind == "void" and e.voids is not None}
        | {e.id for e in events if e.kind == "purchase" and e.card_id is None}
    )
    if not ids:
        return
    now = now or datetime.now(UTC)
    _meet_claims(tx, ids)
    found: dict[str, str] = {}
    for start in range(0, len(ids), 500):
        chunk = ids[start : start + 500]
        marks = ", ".join("?" * len(chunk))
        rows = tx.execute(
            "SELECT DISTINCT c.id, c.state FROM claimed_events ce "  # noqa: S608
            f"JOIN claims c ON c.id = ce.code_sha256 WHERE ce.event_id IN ({marks}) "
            "AND c.state IN ('waiting', 'credited')",
            chunk,
        ).fetchall()
        found.update({str(r[0]): str(r[1]) for r in rows})
    for claim_id in sorted(found):
        _settle_one(tx, claim_id, bump=bump, now=now)


PROBE: Final = ""
"""The ``code_sha256`` of the placeholder rows ``_meet_claims`` writes and deletes."""


def _meet_claims(tx: Sql, event_ids: Sequence[str]) -> None:
    """Order this batch after any claim of these events still being stored, and the other way.

    On PostgreSQL a claim and the batch carrying its purchase may run side by side, each
    unable to see the other's uncommitted rows: the claim would wait forever for a purchase
    that is already stored. Both write the ``claimed_events`` row of the event (the claim
    keeps it; here a placeholder, deleted again), so the later one waits for the earlier to
    commit and then sees it. On SQLite writes are serialised anyway; this costs two
    statements per anonymous purchase or void.
    """
    stamp = _iso(datetime.now(UTC))
    for event_id in event_ids:
        tx.execute(
            "INSERT INTO claimed_events (event_id, terminal_id, receipt_no, card_id, stamps, "
            "amount_cents, code_sha256, claimed_at) VALUES (?, '', '', '', 0, 0, ?, ?) "
            "ON CONFLICT(event_id) DO NOTHING",
            [event_id, PROBE, stamp],
        )
    for start in range(0, len(event_ids), 500):
        chunk = list(event_ids[start : start + 500])
        marks = ", ".join("?" * len(chunk))
        tx.execute(
            f"DELETE FROM claimed_events WHERE code_sha256 = ? AND event_id IN ({marks})",  # noqa: S608
            [PROBE, *chunk],
        )


def _settle_one(tx: Sql, claim_id: str, *, bump: Callable[[str], int], now: datetime) -> None:
    row = tx.execute(
        "SELECT state, event_ids, terminal_id, credited, credit_event_id, shop_id, "
        "program_id, card_id FROM claims WHERE id = ?",
        [claim_id],
    ).fetchone()
    state, event_ids = str(row[0]), [str(e) for e in json.loads(row[1])]
    marks = ", ".join("?" * len(event_ids))
    voided = tx.execute(
        f"SELECT 1 FROM events WHERE voids IN ({marks}) LIMIT 1",  # noqa: S608
        event_ids,
    ).fetchone()
    if voided is not None:
        if state == WAITING:
            tx.execute(
                "UPDATE claims SET state = ?, settled_at = ? WHERE id = ?",
                [VOIDED, _iso(now), claim_id],
            )
        elif state == CREDITED:
            _reverse(tx, claim_id, row, bump=bump, now=now)
        return
    if state != WAITING:
        return
    present = tx.execute(
        f"SELECT COUNT(*) FROM events WHERE id IN ({marks}) AND terminal_id = ?",  # noqa: S608
        [*event_ids, row[2]],
    ).fetchone()
    if int(present[0]) == len(set(event_ids)):
        _credit(tx, claim_id, bump=bump, now=now)


def _credit(tx: Sql, claim_id: str, *, bump: Callable[[str], int], now: datetime) -> int:
    """Credit a reserved claim: the slip's stamps, capped by what the card may still earn
    that day at this shop; recorded as a ``claim`` event and in the card's balance."""
    row = tx.execute(
        "SELECT shop_id, program_id, card_id, slip_stamps, occurred_at, receipt_no, terminal_id "
        "FROM claims WHERE id = ?",
        [claim_id],
    ).fetchone()
    shop_id, program_id, card_id, slip = str(row[0]), str(row[1]), str(row[2]), int(row[3])
    at = checks.parse_time(str(row[4]))
    limit = _daily_limit(tx, shop_id, program_id, at)
    earned = _earned_that_day(tx, shop_id, program_id, card_id, at)
    credit = max(0, min(slip, limit - earned))
    event_id = f"claim/{claim_id[:48]}"
    detail = {
        "claim": claim_id,
        "receipt_no": str(row[5]),
        "terminal_id": str(row[6]),
        "slip_stamps": slip,
        "daily_limit": limit,
    }
    _platform_event(
        tx, event_id, "claim", shop_id, program_id, card_id, credit, at, now, detail, None
    )
    if credit:
        _add_balance(tx, shop_id, program_id, card_id, credit, bump(shop_id))
    tx.execute(
        "UPDATE claims SET state = ?, credited = ?, credit_event_id = ?, settled_at = ? "
        "WHERE id = ?",
        [CREDITED, credit, event_id, _iso(now), claim_id],
    )
    return credit


def _reverse(
    tx: Sql, claim_id: str, row: Sequence[Any], *, bump: Callable[[str], int], now: datetime
) -> None:
    credited, credit_event = int(row[3]), str(row[4])
    shop_id, program_id, card_id = str(row[5]), str(row[6]), str(row[7])
    balance = tx.execute(
        "SELECT stamps FROM balances WHERE shop_id = ? AND program_id = ? AND card_id = ?",
        [shop_id, program_id, card_id],
    ).fetchone()
    after = (int(balance[0]) if balance else 0) - credited
    detail: dict[str, object] = {
        "claim": claim_id,
        "reason": "the purchase was voided at the counter",
    }
    _platform_event(
        tx,
        f"claim-void/{claim_id[:43]}",
        "claim_void",
        shop_id,
        program_id,
        card_id,
        -credited,
        now,
        now,
        detail,
        credit_event,
        overdraft=after < 0,
    )
    if credited:
        _add_balance(tx, shop_id, program_id, card_id, -credited, bump(shop_id))
    tx.execute(
        "UPDATE claims SET state = ?, settled_at = ? WHERE id = ?",
        [REVERSED, _iso(now), claim_id],
    )


def _platform_event(
    tx: Sql,
    event_id: str,
    kind: str,
    shop_id: str,
    program_id: str,
    card_id: str,
    stamps: int,
    at: datetime,
    now: datetime,
    detail: dict[str, object],
    voids: str | None,
    *,
    overdraft: bool = False,
) -> None:
    """An event the platform records in its own books (never sent by a terminal: the ``/`` in
    its id is outside what a terminal's event id may hold, so they can never collide)."""
    flags = "overdraft" if overdraft else ""
    tx.execute(
        "INSERT INTO events (id, seq, kind, terminal_id, shop_id, occurred_at, received_at, "
        "card_id, program_id, stamps, amount_cents, currency, voids, receipt_no, detail, "
        "batch_id, overdraft, flags) VALUES (?, 1, ?, ?, ?, ?, ?, ?, ?, ?, NULL, NULL, ?, NULL, "
        "?, 'claims', ?, ?) ON CONFLICT(id) DO NOTHING",
        [
            event_id,
            kind,
            PLATFORM_TERMINAL,
            shop_id,
            _iso(at),
            _iso(now),
            card_id,
            program_id,
            stamps,
            voids,
            json.dumps(detail, separators=(",", ":")),
            int(overdraft),
            flags,
        ],
    )


def _add_balance(
    tx: Sql, shop_id: str, program_id: str, card_id: str, delta: int, version: int
) -> None:
    tx.execute(
        "INSERT INTO balances (shop_id, program_id, card_id, stamps, version) "
        "VALUES (?, ?, ?, ?, ?) ON CONFLICT(shop_id, program_id, card_id) "
        "DO UPDATE SET stamps = balances.stamps + excluded.stamps, version = excluded.version",
        [shop_id, program_id, card_id, delta, version],
    )


def _daily_limit(tx: Sql, shop_id: str, program_id: str, at: datetime) -> int:
    """The program's daily limit at the purchase's time (the most generous of the version in
    force then and any later one, as the event checks allow), or the bound of any program."""
    rows = tx.execute(
        "SELECT body, since FROM program_versions WHERE shop_id = ? AND id = ? ORDER BY version",
        [shop_id, program_id],
    ).fetchall()
    bodies = []
    for body, since in rows:
        moment = _stored_time(since)
        if moment is not None:
            bodies.append((body if isinstance(body, str) else json.dumps(body), moment))
    programs = checks.in_force(checks.program_versions(bodies), at)
    if programs:
        return max(p.max_stamps_per_day for p in programs)
    return checks.UNKNOWN_PROGRAM_MAX


def _stored_time(value: object) -> datetime | None:
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    try:
        return checks.parse_time(str(value))
    except ValueError:
        return None


def _earned_that_day(tx: Sql, shop_id: str, program_id: str, card_id: str, at: datetime) -> int:
    day = local_day(at)
    rows = tx.execute(
        "SELECT e.occurred_at, e.stamps FROM events e WHERE e.shop_id = ? AND e.card_id = ? "
        "AND e.program_id = ? AND e.kind IN ('stamp', 'purchase', 'claim') AND e.stamps > 0 "
        "AND e.occurred_at >= ? AND e.occurred_at <= ? "
        "AND NOT EXISTS (SELECT 1 FROM events v WHERE v.voids = e.id)",
        [
            shop_id,
            card_id,
            program_id,
            _iso(at - timedelta(hours=36)),
            _iso(at + timedelta(hours=36)),
        ],
    ).fetchall()
    return sum(int(r[1]) for r in rows if local_day(checks.parse_time(str(r[0]))) == day)


def _verify_with_history(tx: Sql, code: str) -> Claim | ClaimRefusal:
    """Verify with the terminal's current key, then with the keys it had before."""
    terminal_id = claim_terminal(code)
    if terminal_id is None:
        return verify_claim(code, {})  # says what is wrong with it
    row = tx.execute("SELECT shop_id, public_key FROM terminals WHERE id = ?", [terminal_id])
    found = row.fetchone()
    if found is None:
        return verify_claim(code, {})
    hexes = [found[1]] if found[1] else []
    hexes += [
        r[0]
        for r in tx.execute(
            "SELECT public_key FROM terminal_keys WHERE terminal_id = ? ORDER BY paired_at DESC",
            [terminal_id],
        ).fetchall()
        if r[0] != found[1]
    ]
    verdict: Claim | ClaimRefusal = verify_claim(code, {})
    for text in hexes:
        try:
            key = public_from_hex(str(text))
        except ValueError:
            continue  # a damaged key row must not stop the others
        verdict = verify_claim(code, {terminal_id: key})
        if isinstance(verdict, Claim):
            break
    if isinstance(verdict, Claim) and verdict.shop_id != found[0]:
        return refuse(ClaimReason.BAD_SIGNATURE, "signed for another shop")
    if isinstance(verdict, Claim) and not _plain(verdict):
        # Signed, but not what a terminal writes: nothing of it is said back to the customer.
        return refuse(ClaimReason.MALFORMED, "ids that are not plain")
    return verdict


def _plain(claim: Claim) -> bool:
    ids = [claim.receipt_no, *claim.event_ids]
    if claim.program_id is not None:
        ids.append(claim.program_id)
    return all(PLAIN.match(value) for value in ids)


def _waiting(claim: Claim, card_id: str, language: str) -> dict[str, object]:
    return {
        "status": WAITING,
        "card_id": card_id,
        "stamps": 0,
        "slip_stamps": claim.stamps,
        "terminal_id": claim.terminal_id,
        "shop_id": claim.shop_id,
        "receipt_no": claim.receipt_no,
        "program_id": claim.program_id,
        "event_ids": list(claim.event_ids),
        "message": MESSAGES.text("waiting", language, receipt_no=claim.receipt_no),
        "language": language,
    }
