"""Claim codes: the QR on an anonymous purchase's slip, and the platform's one-time credit.

A claim code is ``CC1:`` + Base45 of the CBOR array ``[terminal_id, payload, signature]``.
``payload`` is the CBOR map below, and ``signature`` is the terminal's own Ed25519 signature
over ``DOMAIN + terminal_id + NUL + payload`` (the terminal's public key is registered with
the platform at pairing). The whole code is QR-alphanumeric, so it fits a small QR on 58 mm
paper.

Payload keys (small integers keep it compact)::

    2 shop id   3 event ids (16-byte UUIDs, or text)
    4 receipt number (just the sequence number when it is ``<terminal id>-<n>``)
    5 amount (integer cents)    6 currency   7 stamps to credit   8 time (UTC epoch seconds)
    9 program id (optional: the platform credits the card in that program's balance)

``verify_claim`` never raises. ``redeem_claim`` / ``claim_response`` are the platform's side
of ``POST /v1/claims {code, card_id}``: verify with the registered key, then credit the card
once, in one transaction; a second claim of any of the same events is ``already_claimed``.
"""

from __future__ import annotations

import hashlib
import re
import sqlite3
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any, Final

import base45
import cbor2
import sqlite_utils
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from loyalty.db import iso
from loyalty.i18n import Catalog

PREFIX: Final = "CC1:"
MAX_LENGTH: Final = 512
"""A real claim code is about 200 characters; anything longer is refused unread."""
DOMAIN: Final = b"citie-claim-v1\x00"
"""Signed before the payload, so a claim signature can never pass for any other signature."""
MAX_AGE: Final = timedelta(days=90)
"""How long after the purchase the platform accepts a claim, by default."""
CLAIMED_TABLE: Final = "claimed_events"

_ALPHANUMERIC = re.compile(r"^[0-9A-Z $%*+\-./:]*$")
_CARD_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")


class ClaimReason(StrEnum):
    """Why a claim code was refused (stable codes for programs and logs)."""

    NOT_A_CLAIM = "not_a_claim"
    TOO_LONG = "too_long"
    MALFORMED = "malformed"
    UNKNOWN_TERMINAL = "unknown_terminal"
    BAD_SIGNATURE = "bad_signature"
    EXPIRED = "expired"
    ALREADY_CLAIMED = "already_claimed"
    BAD_REQUEST = "bad_request"
    UNKNOWN_CARD = "unknown_card"
    VOIDED = "voided"


MESSAGES = Catalog("loyalty.claims", "loyalty", "claims")


@dataclass(frozen=True)
class Claim:
    """A verified claim code: what an anonymous purchase may credit to a card."""

    terminal_id: str
    shop_id: str
    event_ids: tuple[str, ...]
    receipt_no: str
    amount_cents: int
    currency: str
    stamps: int
    occurred_at: datetime
    program_id: str | None = None


@dataclass(frozen=True)
class ClaimRefusal:
    """A claim that was refused: a stable reason and an English sentence."""

    reason: ClaimReason
    message: str

    def text(self, language: str) -> str:
        """The refusal in the given language."""
        return MESSAGES.text(self.reason, language)


@dataclass(frozen=True)
class ClaimCredited:
    """The platform credited a card with a claim."""

    claim: Claim
    card_id: str


def _refuse(reason: ClaimReason, detail: str = "") -> ClaimRefusal:
    sentence = MESSAGES.text(reason, "en")
    return ClaimRefusal(reason, f"{sentence} ({detail})" if detail else sentence)


def _event_id_value(event_id: str) -> bytes | str:
    try:
        parsed = uuid.UUID(event_id)
    except ValueError:
        return event_id
    # Only canonical spellings become 16 bytes, so decoding gives back the same string.
    return parsed.bytes if str(parsed) == event_id else event_id


def sign_claim(
    private_key: Ed25519PrivateKey,
    *,
    terminal_id: str,
    shop_id: str,
    event_ids: Sequence[str],
    receipt_no: str,
    amount_cents: int,
    currency: str,
    stamps: int,
    occurred_at: datetime,
    program_id: str | None = None,
) -> str:
    """A signed claim code for an anonymous purchase (deterministic: same input, same code)."""
    if not event_ids:
        raise ValueError("a claim names at least one event")
    if occurred_at.tzinfo is None:
        raise ValueError("occurred_at must be timezone-aware")
    sequence = receipt_no.removeprefix(f"{terminal_id}-")
    number: int | str = receipt_no
    if sequence != receipt_no and sequence.isdigit() and str(int(sequence)) == sequence:
        number = int(sequence)
    fields: dict[int, object] = {
        2: shop_id,
        3: [_event_id_value(e) for e in event_ids],
        4: number,
        5: int(amount_cents),
        6: currency,
        7: int(stamps),
        8: int(occurred_at.timestamp()),
    }
    if program_id is not None:
        fields[9] = program_id
    payload = cbor2.dumps(fields)
    signature = private_key.sign(_signed(terminal_id, payload))
    body = cbor2.dumps([terminal_id, payload, signature])
    code = PREFIX + bytes(base45.b45encode(body)).decode("ascii")
    if len(code) > MAX_LENGTH:
        raise ValueError(f"the claim code would be {len(code)} characters (limit {MAX_LENGTH})")
    return code


def verify_claim(
    text: object, terminal_public_keys: Mapping[str, Ed25519PublicKey]
) -> Claim | ClaimRefusal:
    """The verified claim, or why not. Never raises, whatever ``text`` holds."""
    try:
        return _verify(text, terminal_public_keys)
    except Exception as exc:  # a crafted code must not crash the caller
        return _refuse(ClaimReason.MALFORMED, type(exc).__name__)


def _verify(text: object, keys: Mapping[str, Ed25519PublicKey]) -> Claim | ClaimRefusal:
    if not isinstance(text, str):
        return _refuse(ClaimReason.NOT_A_CLAIM, "not text")
    text = text.strip()
    if not text.startswith(PREFIX):
        return _refuse(ClaimReason.NOT_A_CLAIM)
    if len(text) > MAX_LENGTH:
        return _refuse(ClaimReason.TOO_LONG, f"{len(text)} characters, limit {MAX_LENGTH}")
    encoded = text[len(PREFIX) :]
    if not encoded or not _ALPHANUMERIC.match(encoded):
        return _refuse(ClaimReason.MALFORMED, "not Base45")
    try:
        raw = base45.b45decode(encoded)
    except ValueError:
        return _refuse(ClaimReason.MALFORMED, "not Base45")
    outer = cbor2.loads(raw)
    if (
        not isinstance(outer, list)
        or len(outer) != 3
        or not isinstance(outer[0], str)
        or not isinstance(outer[1], bytes)
        or not isinstance(outer[2], bytes)
    ):
        return _refuse(ClaimReason.MALFORMED, "wrong structure")
    terminal_id, payload, signature = outer
    key = keys.get(terminal_id)
    if key is None:
        return _refuse(ClaimReason.UNKNOWN_TERMINAL, f"terminal {terminal_id[:64]!r}")
    try:
        key.verify(signature, _signed(terminal_id, payload))
    except InvalidSignature:
        return _refuse(ClaimReason.BAD_SIGNATURE)
    # Only now, with the signature checked, are the fields read.
    fields = cbor2.loads(payload)
    claim = _claim_from(terminal_id, fields)
    if claim is None:
        return _refuse(ClaimReason.MALFORMED, "wrong fields")
    return claim


def _signed(terminal_id: str, payload: bytes) -> bytes:
    return DOMAIN + terminal_id.encode("utf-8") + b"\x00" + payload


def _claim_from(terminal_id: str, fields: Any) -> Claim | None:
    if not isinstance(fields, dict):
        return None
    number = fields.get(4)
    if isinstance(number, int) and not isinstance(number, bool) and number >= 0:
        receipt_no = f"{terminal_id}-{number}"
    elif isinstance(number, str):
        receipt_no = number
    else:
        return None
    strings = [fields.get(k) for k in (2, 6)]
    numbers = [fields.get(k) for k in (5, 7, 8)]
    events = fields.get(3)
    if not all(isinstance(s, str) for s in strings):
        return None
    if not all(isinstance(n, int) and not isinstance(n, bool) for n in numbers):
        return None
    if not isinstance(events, list) or not events:
        return None
    program_id = fields.get(9)
    if program_id is not None and not isinstance(program_id, str):
        return None
    event_ids: list[str] = []
    for value in events:
        if isinstance(value, bytes) and len(value) == 16:
            event_ids.append(str(uuid.UUID(bytes=value)))
        elif isinstance(value, str):
            event_ids.append(value)
        else:
            return None
    return Claim(
        terminal_id=terminal_id,
        shop_id=fields[2],
        event_ids=tuple(event_ids),
        receipt_no=receipt_no,
        amount_cents=fields[5],
        currency=fields[6],
        stamps=fields[7],
        occurred_at=datetime.fromtimestamp(fields[8], UTC),
        program_id=program_id,
    )


# --- The platform's side: POST /v1/claims {code, card_id} -------------------------------

Credit = Callable[[sqlite_utils.Database, Claim, str], None]
"""Credits ``claim.stamps`` to the card; called inside the claim's transaction."""

STATUS: Final = {
    ClaimReason.BAD_REQUEST: 400,
    ClaimReason.UNKNOWN_CARD: 404,
    ClaimReason.ALREADY_CLAIMED: 409,
    ClaimReason.VOIDED: 409,
    ClaimReason.EXPIRED: 410,
}
"""HTTP status per refusal; every other reason (a bad or unknown code) is 422."""


def ensure_claim_table(db: sqlite_utils.Database) -> None:
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
    db: sqlite_utils.Database,
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
    stamp = iso(now)
    db.execute("SAVEPOINT claim")
    try:
        for event_id in verdict.event_ids:
            db.execute(
                "INSERT INTO claimed_events (event_id, terminal_id, receipt_no, card_id, "
                "stamps, amount_cents, code_sha256, claimed_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
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
        credit(db, verdict, card_id)
    except sqlite3.IntegrityError:
        db.execute("ROLLBACK TO claim")
        db.execute("RELEASE claim")
        return _refuse(ClaimReason.ALREADY_CLAIMED, f"slip {verdict.receipt_no}")
    except BaseException:
        db.execute("ROLLBACK TO claim")
        db.execute("RELEASE claim")
        raise
    db.execute("RELEASE claim")
    return ClaimCredited(verdict, card_id)


def claim_response(
    db: sqlite_utils.Database,
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
