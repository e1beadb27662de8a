"""Signed card codes: issue them (platform side, private key) and verify them (terminal side).

A code is ``CT1:`` followed by the Base45 text of a tagged COSE_Sign1 structure::

    18([protected: bstr {1: -8 (EdDSA), 4: kid}, unprotected: {}, payload: bstr claims,
        signature: bstr .size 64])

with the claims a CBOR map keyed like a CWT: ``1`` issuer (text), ``4`` expiry and ``6``
issued-at (seconds since the epoch), ``7`` card id (bytes of its ASCII text). The signature is
Ed25519 over the COSE ``Sig_structure`` ``["Signature1", protected, b"", payload]``. The key
id travels in the protected header, which the signature covers, because a verifier needs it
to pick the key before anything else can be trusted. Base45 uses only QR alphanumeric
characters and so does the prefix, so the whole QR is encoded in alphanumeric mode.

``verify`` takes any string and never raises: the length is checked before anything is read,
the prefix before anything is decoded, the envelope is parsed by a small strict reader
(definite lengths, shortest encodings, nothing trailing), and the claims are decoded only
after the signature has been checked.

City vouchers (``loyalty.vouchers``, ``CV1:``) use the same envelope through ``seal`` and
``unseal``, with COSE external data the signature covers, so neither kind of code ever verifies
as the other; ``verify`` names a voucher held up as a card (``not_a_card.voucher``).
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Container, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any, Final

import base45
import cbor2
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from loyalty.i18n import Catalog, date_text

PREFIX: Final = "CT1:"
CLAIM_PREFIX: Final = "CC1:"
"""The prefix of a slip's claim code (``loyalty.claims.PREFIX``; that module imports this one)."""
VOUCHER_PREFIX: Final = "CV1:"
"""The prefix of a city voucher (``loyalty.vouchers.PREFIX``; that module imports this one)."""
MAX_LENGTH: Final = 512
"""Anything longer is refused without being read; legitimate codes are about 200 characters."""

CLOCK_LEEWAY: Final = timedelta(minutes=10)
"""How far in the future a card's issue time may be before it is "not yet valid": counter
devices run offline without a time server and drift."""

ALG_EDDSA: Final = -8
TRUST_FORMAT: Final = "citie-trust/1"
MAX_TRUST_KEYS: Final = 64

# Claim keys, as registered for CWT (RFC 8392).
_ISS, _EXP, _IAT, _CTI = 1, 4, 6, 7
# COSE header keys (RFC 9052).
_ALG, _KID = 1, 4

_B45_BODY = re.compile(r"[0-9A-Z $%*+\-./:]+")
KID_PATTERN = re.compile(r"[A-Za-z0-9._-]{1,32}")
ISSUER_PATTERN = re.compile(r"[A-Za-z0-9._-]{1,64}")
CARD_ID_PATTERN = re.compile(r"[A-Z0-9][A-Z0-9-]{0,39}")
_OWN_FAMILY = re.compile(r"CT\d{1,3}:")
_URL_SCHEME = re.compile(r"[a-z][a-z0-9+.\-]{1,20}://")
_SIG_CONTEXT: Final = b"\x84\x6aSignature1"  # array(4), text(10) "Signature1"
# A COSE envelope needs at most: protected (~40) + payload (<=256) + signature (66) + heads.
_MAX_ENVELOPE = 400
# Far enough to cover any printed card, small enough that datetime never overflows.
_MAX_TIMESTAMP = 2**37

# Card ids: no 0/O/1/I, so they survive being read aloud or typed from a printed card.
CARD_ID_ALPHABET: Final = "23456789ABCDEFGHJKLMNPQRSTUVWXYZ"
_CARD_ID_GROUPS = 3
_CARD_ID_GROUP = 4


class RefusalReason(StrEnum):
    """Why a scanned text is not accepted as a card: a closed set, stable across versions."""

    NOT_A_CARD = "not_a_card"
    TOO_LONG = "too_long"
    MALFORMED = "malformed"
    UNKNOWN_KEY = "unknown_key"
    BAD_SIGNATURE = "bad_signature"
    EXPIRED = "expired"
    NOT_YET_VALID = "not_yet_valid"
    REVOKED = "revoked"


MESSAGES = Catalog("loyalty.cards", "loyalty", "cards")


@dataclass(frozen=True)
class Card:
    """A verified card: the signature held, the key is trusted, and it is valid now."""

    card_id: str
    issuer: str
    kid: str
    issued_at: datetime
    expires_at: datetime

    def to_json(self) -> dict[str, str]:
        """The card as plain JSON values (times in UTC ISO 8601)."""
        return {
            "card_id": self.card_id,
            "issuer": self.issuer,
            "kid": self.kid,
            "issued_at": _iso(self.issued_at),
            "expires_at": _iso(self.expires_at),
        }


@dataclass(frozen=True)
class Refusal:
    """Why a text is not accepted: a stable reason code and an English sentence.

    ``key`` names the catalog sentence (a reason may have several, e.g. a payment code and
    a web link are both ``not_a_card``); ``at`` is the date an expiry sentence mentions.
    """

    reason: RefusalReason
    message: str
    key: str = ""
    at: datetime | None = field(default=None, compare=False)

    def text(self, language: str) -> str:
        """The sentence in the counter's language (fr, nl, de, en)."""
        key = self.key if self.key in MESSAGES else self.reason.value
        return _sentence(key, language, self.at)

    def to_json(self) -> dict[str, str]:
        """The refusal as plain JSON values."""
        return {"refused": self.reason.value, "message": self.message}


@dataclass(frozen=True)
class IssuerKey:
    """One public key of the card issuer, by key id."""

    kid: str
    issuer: str
    public_key: Ed25519PublicKey

    @property
    def public_hex(self) -> str:
        """The raw 32-byte public key as lowercase hex."""
        return self.public_key.public_bytes(
            serialization.Encoding.Raw, serialization.PublicFormat.Raw
        ).hex()


@dataclass(frozen=True)
class TrustList:
    """The issuer keys a terminal accepts, with a version that only ever goes up."""

    version: int
    keys: Mapping[str, IssuerKey]

    def to_json(self) -> dict[str, Any]:
        """The ``citie-trust/1`` JSON form."""
        return {
            "format": TRUST_FORMAT,
            "version": self.version,
            "keys": [
                {"kid": key.kid, "issuer": key.issuer, "public_key": key.public_hex}
                for key in sorted(self.keys.values(), key=lambda k: k.kid)
            ],
        }

    @classmethod
    def from_json(cls, data: object) -> TrustList:
        """Read and validate the ``citie-trust/1`` JSON form; ValueError says what is wrong."""
        if not isinstance(data, dict):
            raise ValueError("a trust list is a JSON object with format, version and keys")
        if data.get("format") != TRUST_FORMAT:
            raise ValueError(
                f'this is not a trust list: "format" must be "{TRUST_FORMAT}" '
                f"(found {_short(data.get('format'))})"
            )
        version = data.get("version")
        if not isinstance(version, int) or isinstance(version, bool) or not 1 <= version < 2**53:
            raise ValueError(
                f'"version" must be a whole number from 1 up (found {_short(version)})'
            )
        entries = data.get("keys")
        if not isinstance(entries, list):
            raise ValueError('"keys" must be a list of {"kid", "issuer", "public_key"} objects')
        if not 1 <= len(entries) <= MAX_TRUST_KEYS:
            raise ValueError(f'"keys" must hold 1 to {MAX_TRUST_KEYS} keys (found {len(entries)})')
        keys: dict[str, IssuerKey] = {}
        for number, entry in enumerate(entries, start=1):
            where = f"key {number}"
            if not isinstance(entry, dict):
                raise ValueError(f"{where}: must be an object with kid, issuer and public_key")
            kid, issuer, public = entry.get("kid"), entry.get("issuer"), entry.get("public_key")
            if not isinstance(kid, str) or not KID_PATTERN.fullmatch(kid):
                raise ValueError(
                    f'{where}: "kid" must be 1 to 32 letters, digits, ".", "_" or "-" '
                    f"(found {_short(kid)})"
                )
            if not isinstance(issuer, str) or not ISSUER_PATTERN.fullmatch(issuer):
                raise ValueError(
                    f'{where} ({kid}): "issuer" must be 1 to 64 letters, digits, ".", "_" '
                    f'or "-" (found {_short(issuer)})'
                )
            if not isinstance(public, str) or not re.fullmatch(r"[0-9a-fA-F]{64}", public):
                raise ValueError(
                    f'{where} ({kid}): "public_key" must be 64 hex digits (a raw Ed25519 key)'
                )
            if kid in keys:
                raise ValueError(f'{where}: the key id "{kid}" appears twice')
            keys[kid] = IssuerKey(kid, issuer, public_key_from_raw(bytes.fromhex(public)))
        return cls(version=version, keys=keys)


def public_key_from_raw(raw: bytes) -> Ed25519PublicKey:
    """A public key object from its 32 raw bytes, loaded once per key (verification reuses it)."""
    cached = _PUBLIC_KEYS.get(raw)
    if cached is None:
        if len(raw) != 32:
            raise ValueError("an Ed25519 public key is 32 bytes")
        cached = Ed25519PublicKey.from_public_bytes(raw)
        if len(_PUBLIC_KEYS) > 1024:
            _PUBLIC_KEYS.clear()
        _PUBLIC_KEYS[bytes(raw)] = cached
    return cached


_PUBLIC_KEYS: dict[bytes, Ed25519PublicKey] = {}


# ---------------------------------------------------------------------------------------------
# Issuing (platform side)


def issue(
    private_key: Ed25519PrivateKey,
    *,
    kid: str,
    issuer: str,
    card_id: str,
    issued_at: datetime,
    expires_at: datetime,
) -> str:
    """Sign a card code; ValueError if a field could not be verified later."""
    if not KID_PATTERN.fullmatch(kid):
        raise ValueError(f"key id {kid!r} must be 1 to 32 letters, digits, '.', '_' or '-'")
    if not ISSUER_PATTERN.fullmatch(issuer):
        raise ValueError(f"issuer {issuer!r} must be 1 to 64 letters, digits, '.', '_' or '-'")
    if not CARD_ID_PATTERN.fullmatch(card_id):
        raise ValueError(f"card id {card_id!r} must be 1 to 40 capital letters, digits or '-'")
    iat, exp = _seconds(issued_at), _seconds(expires_at)
    if not 0 <= iat < exp < _MAX_TIMESTAMP:
        raise ValueError("a card must expire after it is issued")
    claims = {_ISS: issuer, _EXP: exp, _IAT: iat, _CTI: card_id.encode("ascii")}
    return PREFIX + seal(private_key, kid=kid, claims=claims)


def seal(
    private_key: Ed25519PrivateKey, *, kid: str, claims: Mapping[int, object], aad: bytes = b""
) -> str:
    """The Base45 text of a signed COSE_Sign1 envelope around ``claims`` (no prefix).

    Shared with ``loyalty.vouchers``: ``aad`` is the COSE external data the signature also
    covers, so a code made for one purpose never verifies as another (cards use none).
    """
    protected = cbor2.dumps({_ALG: ALG_EDDSA, _KID: kid.encode("ascii")}, canonical=True)
    payload = cbor2.dumps(dict(claims), canonical=True)
    signature = private_key.sign(cbor2.dumps(["Signature1", protected, aad, payload]))
    envelope = cbor2.dumps(cbor2.CBORTag(18, [protected, {}, payload, signature]))
    encoded: bytes = base45.b45encode(envelope)
    return encoded.decode("ascii")


def new_card_id() -> str:
    """A fresh card id like ``CT-7KQ2-M9XD-4HTW``: 11 random characters and a check character.

    55 random bits keep collisions negligible for millions of cards; the alphabet has no
    0/O/1/I, and the check character catches every single mistyped character and every
    swap of two characters.
    """
    return new_id("CT")


def new_id(kind: str) -> str:
    """A fresh ``<kind>-XXXX-XXXX-XXXX`` id (cards ``CT``, vouchers ``CV``), see ``new_card_id``."""
    size = _CARD_ID_GROUPS * _CARD_ID_GROUP - 1
    while True:
        body = "".join(secrets.choice(CARD_ID_ALPHABET) for _ in range(size))
        check = _check_value(body)
        # The check is mod 37 and the alphabet has 32 characters: draw again for the rest.
        if check < len(CARD_ID_ALPHABET):
            break
    chars = body + CARD_ID_ALPHABET[check]
    groups = [chars[i : i + _CARD_ID_GROUP] for i in range(0, len(chars), _CARD_ID_GROUP)]
    return f"{kind}-" + "-".join(groups)


def card_id_is_valid(card_id: str) -> bool:
    """True for an id made by ``new_card_id`` with a correct check character."""
    return id_is_valid(card_id, "CT")


def id_is_valid(text: str, kind: str) -> bool:
    """True for an id made by ``new_id(kind)`` with a correct check character."""
    if not isinstance(text, str) or not text.startswith(f"{kind}-"):
        return False
    groups = text[len(kind) + 1 :].split("-")
    if len(groups) != _CARD_ID_GROUPS or any(len(g) != _CARD_ID_GROUP for g in groups):
        return False
    chars = "".join(groups)
    if any(c not in CARD_ID_ALPHABET for c in chars):
        return False
    return _check_value(chars[:-1]) == CARD_ID_ALPHABET.index(chars[-1])


_TYPED_NUMBER = re.compile(r"(C[TV])[\s\-]*((?:[0-9A-Z][\s\-]*){12})")


def card_number(text: str) -> str | None:
    """A typed card number in its printed form (``CT-7KQ2-M9XD-4HTW``), else None.

    Case, spaces and dashes as people type them are forgiven (``ct 7kq2m9xd 4htw``); the
    check character is not checked here (``card_id_is_valid`` does: a typo is then named as
    one, not as "not a card").
    """
    return typed_id(text, "CT")


def typed_id(text: str, kind: str) -> str | None:
    """A typed ``<kind>`` id (``CT`` card, ``CV`` voucher) in its printed form, else None."""
    if not isinstance(text, str) or len(text) > 40:
        return None
    match = _TYPED_NUMBER.fullmatch(text.strip().upper())
    if match is None or match.group(1) != kind:
        return None
    chars = re.sub(r"[\s\-]", "", match.group(2))
    groups = [chars[i : i + _CARD_ID_GROUP] for i in range(0, len(chars), _CARD_ID_GROUP)]
    return f"{kind}-" + "-".join(groups)


def card_number_refusal(reason: RefusalReason) -> Refusal:
    """The card refusal for a typed number (the printed card was revoked, say)."""
    return _refuse(reason)


def _check_value(body: str) -> int:
    """Position-weighted sum mod 37 (a prime above the alphabet size).

    A changed character shifts the sum by weight x difference, and a swap by (weight
    difference) x (value difference); with distinct weights 1..11 and values under 37 neither
    is ever a multiple of 37, so every substitution and every transposition is caught
    (Luhn mod N misses some adjacent swaps).
    """
    return sum((i + 1) * CARD_ID_ALPHABET.index(c) for i, c in enumerate(body)) % 37


# ---------------------------------------------------------------------------------------------
# Verifying (terminal side)


def verify(
    text: str,
    trust: TrustList,
    *,
    revoked: Container[str] = frozenset(),
    now: datetime | None = None,
    leeway: timedelta = CLOCK_LEEWAY,
) -> Card | Refusal:
    """The verified card, or why not. Never raises, whatever the text."""
    try:
        return _verify(text, trust, revoked, now, leeway)
    except Exception:
        # Every path above already maps bad input to a refusal; this is the last line so
        # that nothing a QR code holds can take the counter down.
        return _refuse(RefusalReason.MALFORMED)


class _Malformed(Exception):
    """The envelope is not what ``issue`` makes."""


def _verify(
    text: str,
    trust: TrustList,
    revoked: Container[str],
    now: datetime | None,
    leeway: timedelta,
) -> Card | Refusal:
    if not isinstance(text, str):
        return _refuse(RefusalReason.MALFORMED)
    if len(text) > MAX_LENGTH:
        return _refuse(RefusalReason.TOO_LONG)
    text = text.strip()
    if not text.startswith(PREFIX):
        return _not_ours(text)
    opened = unseal(text[len(PREFIX) :], trust)
    if isinstance(opened, RefusalReason):
        return _refuse(opened)
    key, claims = opened
    card = _card_from_claims(claims, key)
    if card is None:
        return _refuse(RefusalReason.MALFORMED)
    if card.card_id in revoked:
        return _refuse(RefusalReason.REVOKED)
    moment = _aware(now) if now is not None else datetime.now(UTC)
    if moment >= card.expires_at:
        return _refuse(RefusalReason.EXPIRED, at=card.expires_at)
    if card.issued_at > moment + leeway:
        return _refuse(RefusalReason.NOT_YET_VALID, at=card.issued_at)
    return card


def unseal(
    body: str, trust: TrustList, *, aad: bytes = b""
) -> tuple[IssuerKey, object] | RefusalReason:
    """The trusted key and the signed claims of a ``seal``-ed text (no prefix), or why not:
    ``malformed``, ``unknown_key`` or ``bad_signature``. Shared with ``loyalty.vouchers``;
    may raise on hostile input only where ``verify``'s last-line ``except`` catches it."""
    if not _B45_BODY.fullmatch(body):
        return RefusalReason.MALFORMED
    try:
        envelope = base45.b45decode(body)
    except Exception:
        return RefusalReason.MALFORMED
    try:
        protected, payload, signature, kid = _open_envelope(envelope)
    except _Malformed:
        return RefusalReason.MALFORMED
    key = trust.keys.get(kid)
    if key is None:
        return RefusalReason.UNKNOWN_KEY
    try:
        key.public_key.verify(signature, _SIG_CONTEXT + protected + cbor2.dumps(aad) + payload)
    except InvalidSignature:
        return RefusalReason.BAD_SIGNATURE
    # Only now, with the signature checked, are the claims read.
    return key, cbor2.loads(_bstr_content(payload))


def _open_envelope(data: bytes) -> tuple[bytes, bytes, bytes, str]:
    """Split the COSE_Sign1 envelope; the protected header and payload keep their bstr heads.

    Returns (protected bstr, payload bstr, signature, kid). Strict: tag 18, four items,
    an empty unprotected map, shortest-form lengths, nothing after the last item.
    """
    if len(data) > _MAX_ENVELOPE:
        raise _Malformed
    if data[:2] != b"\xd2\x84":  # tag(18), array(4)
        raise _Malformed
    pos = 2
    protected_start = pos
    major, length, pos = _head(data, pos)
    if major != 2 or length > 64:
        raise _Malformed
    protected_content = data[pos : pos + length]
    pos += length
    protected = data[protected_start:pos]
    if data[pos : pos + 1] != b"\xa0":  # empty map
        raise _Malformed
    pos += 1
    payload_start = pos
    major, length, pos = _head(data, pos)
    if major != 2 or length > 256:
        raise _Malformed
    pos += length
    payload = data[payload_start:pos]
    if data[pos : pos + 2] != b"\x58\x40":  # bstr of 64 bytes
        raise _Malformed
    pos += 2
    signature = data[pos : pos + 64]
    if len(signature) != 64 or pos + 64 != len(data):
        raise _Malformed
    return protected, payload, signature, _kid_from_header(protected_content)


def _kid_from_header(header: bytes) -> str:
    """The key id from the protected header ``{1: -8, 4: kid}`` (exactly that, in that order)."""
    if header[:4] != b"\xa2\x01\x27\x04":  # map(2), 1: -8, 4:
        raise _Malformed
    major, length, pos = _head(header, 4)
    if major != 2 or not 1 <= length <= 32 or pos + length != len(header):
        raise _Malformed
    try:
        kid = header[pos:].decode("ascii")
    except UnicodeDecodeError as exc:
        raise _Malformed from exc
    if not KID_PATTERN.fullmatch(kid):
        raise _Malformed
    return kid


def _head(data: bytes, pos: int) -> tuple[int, int, int]:
    """One CBOR item head: (major type, argument, position after the head), shortest form only."""
    if pos >= len(data):
        raise _Malformed
    initial = data[pos]
    major, info = initial >> 5, initial & 0x1F
    if info < 24:
        return major, info, pos + 1
    if info == 24:
        if pos + 2 > len(data) or data[pos + 1] < 24:
            raise _Malformed
        return major, data[pos + 1], pos + 2
    if info == 25:
        if pos + 3 > len(data):
            raise _Malformed
        value = int.from_bytes(data[pos + 1 : pos + 3], "big")
        if value < 256:
            raise _Malformed
        return major, value, pos + 3
    # Nothing in a card code is 64 KiB or larger; indefinite lengths are never made.
    raise _Malformed


def _bstr_content(item: bytes) -> bytes:
    _, _, pos = _head(item, 0)
    return item[pos:]


def _card_from_claims(claims: object, key: IssuerKey) -> Card | None:
    """The card the signed claims describe, or None if they are not a card's claims."""
    if not isinstance(claims, dict):
        return None
    issuer, exp, iat, cti = (claims.get(k) for k in (_ISS, _EXP, _IAT, _CTI))
    if not isinstance(issuer, str) or issuer != key.issuer:
        return None
    if not isinstance(exp, int) or not isinstance(iat, int) or bool in (type(exp), type(iat)):
        return None
    if not 0 <= iat < exp < _MAX_TIMESTAMP:
        return None
    if not isinstance(cti, bytes):
        return None
    try:
        card_id = cti.decode("ascii")
    except UnicodeDecodeError:
        return None
    if not CARD_ID_PATTERN.fullmatch(card_id):
        return None
    return Card(
        card_id=card_id,
        issuer=issuer,
        kid=key.kid,
        issued_at=datetime.fromtimestamp(iat, UTC),
        expires_at=datetime.fromtimestamp(exp, UTC),
    )


# What people hold up by mistake, most specific first. Each maps to a catalog key.
_PAYMENT_MARKERS = ("payconiq", "bancontact", "bep://", "bitcoin:", "lightning:", "epc://")
_OTHER_APP_PREFIXES = (
    "hc1:",  # EU Digital COVID Certificate
    "wifi:",
    "begin:vcard",
    "begin:vevent",
    "mecard:",
    "matmsg:",
    "mailto:",
    "tel:",
    "sms:",
    "smsto:",
    "geo:",
    "otpauth:",
    "market:",
)


def _not_ours(text: str) -> Refusal:
    """Name what a text without our prefix is, so the shopkeeper knows what to ask for."""
    kind = foreign_kind(text, PREFIX, _OWN_FAMILY)
    if kind in ("case", "version"):
        return _refuse(RefusalReason.MALFORMED, f"malformed.{kind}")
    return _refuse(RefusalReason.NOT_A_CARD, f"not_a_card.{kind}")


def foreign_kind(text: str, prefix: str, family: re.Pattern[str]) -> str:
    """What a (stripped) text that does not start with ``prefix`` is, as a catalog key suffix:
    ``empty``, ``case`` (our prefix in other letters: Caps Lock), ``version`` (another version
    of our code, ``family``), ``card``, ``voucher``, ``claim``, ``payment``, ``other_app``,
    ``link`` or ``text``. Shared by the card and the voucher verifiers."""
    if not text:
        return "empty"
    head = text[:80].lower()
    upper_head = text[:8].upper()
    if upper_head.startswith(prefix):
        return "case"
    # A voucher where a card is expected and the reverse: signed alike, never accepted as
    # the other (the signature covers different external data too).
    if upper_head.startswith(VOUCHER_PREFIX):
        return "voucher"
    if upper_head.startswith(PREFIX):
        return "card"
    if upper_head.startswith(CLAIM_PREFIX):
        # A slip's claim code (loyalty.claims) held up at the counter: it is claimed in the
        # city app, not stamped here.
        return "claim"
    if family.match(upper_head):
        return "version"
    first_line = text.split("\n", 1)[0].strip()
    # EPC069-12 (SEPA credit transfer, "Scan to pay"): first line "BCD", then version lines.
    if (first_line == "BCD" and "\n" in text) or any(m in head for m in _PAYMENT_MARKERS):
        return "payment"
    # EMVCo merchant-presented QR (card payments) starts with its format indicator.
    if text.startswith("000201"):
        return "payment"
    if head.startswith(_OTHER_APP_PREFIXES):
        return "other_app"
    if _URL_SCHEME.match(head) or head.startswith("www."):
        return "link"
    return "text"


def _refuse(reason: RefusalReason, key: str = "", *, at: datetime | None = None) -> Refusal:
    return Refusal(reason, _sentence(key or reason.value, "en", at), key, at)


def _sentence(key: str, language: str, at: datetime | None) -> str:
    if at is None:
        return MESSAGES.text(key, language)
    return MESSAGES.text(key, language, date=date_text(at, language, UTC))


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def _seconds(moment: datetime) -> int:
    return int(_aware(moment).timestamp())


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _short(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."
