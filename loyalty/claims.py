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

``verify_claim`` never raises. ``city.claims`` is the platform's side
of ``POST /v1/claims {code, card_id}``: verify with the registered key, then credit the card
once, in one transaction; a second claim of any of the same events is ``already_claimed``.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any, Final

import base45
import cbor2
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

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
CARD_ID_PATTERN = re.compile(r"^[A-Za-z0-9._-]{1,64}$")
"""A card id a claim may name (the platform checks the card exists)."""


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
    REVOKED = "revoked"


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
    """A claim that was refused: a stable reason, and the English sentence for logs (with any
    technical detail in brackets)."""

    reason: ClaimReason
    message: str
    values: tuple[tuple[str, str], ...] = ()
    """What the customer's sentence names (``receipt_no``, ``card_id``): its catalog key is
    ``<reason>.<name>`` then, else the reason alone."""

    @property
    def key(self) -> str:
        """The catalog key of the customer's sentence."""
        return ".".join([self.reason.value, *(name for name, _ in self.values)])

    def text(self, language: str) -> str:
        """The refusal in the given language, for the customer (no technical detail)."""
        return MESSAGES.text(self.key, language, **dict(self.values))


@dataclass(frozen=True)
class ClaimCredited:
    """The platform credited a card with a claim."""

    claim: Claim
    card_id: str


def refuse(reason: ClaimReason, detail: str = "", **values: str) -> ClaimRefusal:
    """The refusal for ``reason``: its English sentence, with ``detail`` in brackets.

    ``values`` are what the sentence names, passed as catalog fields (one at most:
    ``receipt_no`` or ``card_id``, for the reasons whose catalog has that form); ``detail`` is
    only for logs and never reaches the customer.
    """
    refusal = ClaimRefusal(reason, "", tuple(values.items()))
    sentence = MESSAGES.text(refusal.key, "en", **values)
    return replace(refusal, message=f"{sentence} ({detail})" if detail else sentence)


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
        return refuse(ClaimReason.MALFORMED, type(exc).__name__)


def _verify(text: object, keys: Mapping[str, Ed25519PublicKey]) -> Claim | ClaimRefusal:
    if not isinstance(text, str):
        return refuse(ClaimReason.NOT_A_CLAIM, "not text")
    text = text.strip()
    if not text.startswith(PREFIX):
        return refuse(ClaimReason.NOT_A_CLAIM)
    if len(text) > MAX_LENGTH:
        return refuse(ClaimReason.TOO_LONG, f"{len(text)} characters, limit {MAX_LENGTH}")
    encoded = text[len(PREFIX) :]
    if not encoded or not _ALPHANUMERIC.match(encoded):
        return refuse(ClaimReason.MALFORMED, "not Base45")
    try:
        raw = base45.b45decode(encoded)
    except ValueError:
        return refuse(ClaimReason.MALFORMED, "not Base45")
    outer = cbor2.loads(raw)
    if (
        not isinstance(outer, list)
        or len(outer) != 3
        or not isinstance(outer[0], str)
        or not isinstance(outer[1], bytes)
        or not isinstance(outer[2], bytes)
    ):
        return refuse(ClaimReason.MALFORMED, "wrong structure")
    terminal_id, payload, signature = outer
    key = keys.get(terminal_id)
    if key is None:
        return refuse(ClaimReason.UNKNOWN_TERMINAL, f"terminal {terminal_id[:64]!r}")
    try:
        key.verify(signature, _signed(terminal_id, payload))
    except InvalidSignature:
        return refuse(ClaimReason.BAD_SIGNATURE)
    # Only now, with the signature checked, are the fields read.
    fields = cbor2.loads(payload)
    claim = _claim_from(terminal_id, fields)
    if claim is None:
        return refuse(ClaimReason.MALFORMED, "wrong fields")
    return claim


def claim_terminal(text: object) -> str | None:
    """The terminal a claim code says signed it, read WITHOUT checking anything: only to pick
    the key to verify with. None when the code cannot even be read that far."""
    try:
        if not isinstance(text, str) or len(text) > MAX_LENGTH:
            return None
        text = text.strip()
        encoded = text.removeprefix(PREFIX)
        if encoded == text or not _ALPHANUMERIC.match(encoded):
            return None
        outer = cbor2.loads(base45.b45decode(encoded))
    except Exception:  # a crafted code must not crash the caller
        return None
    if isinstance(outer, list) and len(outer) == 3 and isinstance(outer[0], str):
        return outer[0][:64]
    return None


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
