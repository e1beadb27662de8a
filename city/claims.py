"""The platform's side of claim codes: ``POST /v1/claims {code, card_id}``.

Verify a slip's claim code with the terminal's registered key (``loyalty.claims``), then credit
the card once, in one transaction; a second claim of any of the same events is
``already_claimed``.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, Final, Protocol

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from loyalty.claims import (
    _CARD_ID,
    MAX_AGE,
    Claim,
    ClaimCredited,
    ClaimReason,
    ClaimRefusal,
    _refuse,
    verify_claim,
)


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
    ClaimReason.EXPIRED: 410,
}
"""HTTP status per refusal; every other reason (a bad or unknown code) is 422."""


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
    now = now or datetime.now(UTC)
    if max_age is not None and now - verdict.occurred_at > max_age:
        return _refuse(ClaimReason.EXPIRED, f"older than {max_age.days} days")
    if check is not None and (reason := check(verdict)) is not None:
        return _refuse(reason, f"slip {verdict.receipt_no}")
    ensure_claim_table(db)
    digest = hashlib.sha256(code.strip().encode("ascii")).hexdigest()
    stamp = now.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"
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
                return _refuse(ClaimReason.ALREADY_CLAIMED, f"slip {verdict.receipt_no}")
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
    409, 410 or 422 (see ``STATUS``).
    """
    if not isinstance(body, Mapping):
        return _answer(_refuse(ClaimReason.BAD_REQUEST, "the body must be a JSON object"))
    code, card_id = body.get("code"), body.get("card_id")
    if not isinstance(code, str) or not isinstance(card_id, str) or not _CARD_ID.match(card_id):
        return _answer(_refuse(ClaimReason.BAD_REQUEST))
    if card_exists is not None and not card_exists(card_id):
        return _answer(_refuse(ClaimReason.UNKNOWN_CARD, card_id))
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
    return _answer(outcome)


def _answer(outcome: ClaimCredited | ClaimRefusal) -> tuple[int, dict[str, object]]:
    if isinstance(outcome, ClaimRefusal):
        return STATUS.get(outcome.reason, 422), {
            "status": "refused",
            "reason": outcome.reason.value,
            "message": outcome.message,
        }
    claim = outcome.claim
    return 200, {
        "status": "credited",
        "card_id": outcome.card_id,
        "stamps": claim.stamps,
        "terminal_id": claim.terminal_id,
        "shop_id": claim.shop_id,
        "receipt_no": claim.receipt_no,
        "program_id": claim.program_id,
        "event_ids": list(claim.event_ids),
    }
