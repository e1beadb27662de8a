"""City vouchers: signed bearer value (``CV1:`` codes) the whole city spends at the counter.

A voucher code is signed exactly like a card (``loyalty.cards``: COSE_Sign1, Ed25519, the same
trust list, Base45 after a QR-alphanumeric prefix) and shares its envelope code (``seal`` /
``unseal``). Its claims, inside the signature, are a CWT-style map::

    {1: issuer, 4: expiry, 6: issued-at (epoch s), 7: voucher id (bytes),
     -1: face value (cents), -2: currency, -3: issuing city, -4: campaign name}

The signature also covers the COSE external data ``b"citie-voucher/1"`` (cards use none), so
a voucher's envelope relabelled ``CT1:`` never verifies as a card, nor a card's as a voucher:
the prefix says which it is, the signature makes sure.

``verify_voucher`` takes any string and never raises. It answers what the code itself proves
(signed, trusted key, not revoked, not expired); what is left on the voucher is the ledger's
business (``loyalty.voucher_book``), whose refusals use the same ``VoucherRefusal``.

``voucher_key`` is how platform and terminal name a voucher in the updates feed without its
id: a voucher id is enough to spend it, and every terminal gets every voucher's state.
"""

from __future__ import annotations

import functools
import hashlib
import re
from collections.abc import Container, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any, Final, TypeGuard

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from loyalty.cards import (
    CLOCK_LEEWAY,
    ISSUER_PATTERN,
    KID_PATTERN,
    VOUCHER_PREFIX,
    IssuerKey,
    RefusalReason,
    TrustList,
    foreign_kind,
    id_is_valid,
    new_id,
    seal,
    typed_id,
    unseal,
)
from loyalty.i18n import Catalog, date_text, money
from loyalty.programs import SHOP_TZ

PREFIX: Final = VOUCHER_PREFIX
MAX_LENGTH: Final = 512
"""Anything longer is refused without being read; issued vouchers are under 300 characters."""
MAX_ISSUED_LENGTH: Final = 311
"""The most characters an issued code may have: what a version 10 QR code holds in alphanumeric
mode at error correction M, small enough to scan from a phone or a printed voucher. A typical
voucher is about 245 characters (version 9); a long issuer, city and campaign together may not
fit, and ``issue_voucher`` says so."""
MAX_FACE_CENTS: Final = 100_000_000
"""The most one voucher may hold (the sync protocol's bound on an amount)."""
MAX_CAMPAIGN: Final = 40
"""Campaign names are printed on the slip and kept short so the QR stays small (version <= 10)."""
CITY_PATTERN: Final = re.compile(r"[A-Za-z0-9._-]{1,32}")
CURRENCY_PATTERN: Final = re.compile(r"[A-Z]{3}")
ID_KIND: Final = "CV"

# Claim keys: the registered CWT ones (RFC 8392) and ours, negative, inside our own domain.
_ISS, _EXP, _IAT, _CTI = 1, 4, 6, 7
_FACE, _CURRENCY, _CITY, _CAMPAIGN = -1, -2, -3, -4
_AAD: Final = b"citie-voucher/1"
_OWN_FAMILY = re.compile(r"CV\d{1,3}:")
_MAX_TIMESTAMP = 2**37

MESSAGES = Catalog("loyalty.vouchers", "loyalty", "vouchers")


class VoucherRefusalReason(StrEnum):
    """Why a voucher is not accepted, or not for that amount: stable codes for scripts."""

    NOT_A_VOUCHER = "not_a_voucher"
    TOO_LONG = "too_long"
    MALFORMED = "malformed"
    UNKNOWN_KEY = "unknown_key"
    BAD_SIGNATURE = "bad_signature"
    EXPIRED = "expired"
    NOT_YET_VALID = "not_yet_valid"
    REVOKED = "revoked"
    SPENT = "spent"
    INSUFFICIENT = "insufficient"
    OFFLINE_VOUCHER_LIMIT = "offline_voucher_limit"
    AMOUNT = "amount"


@dataclass(frozen=True)
class Voucher:
    """A verified voucher: signed by a trusted key, not revoked, valid now."""

    voucher_id: str
    face_cents: int
    currency: str
    city: str
    campaign: str
    issuer: str
    kid: str
    issued_at: datetime
    expires_at: datetime

    def to_json(self) -> dict[str, Any]:
        """The voucher as plain JSON values (times in UTC ISO 8601)."""
        return {
            "voucher_id": self.voucher_id,
            "face_cents": self.face_cents,
            "currency": self.currency,
            "city": self.city,
            "campaign": self.campaign,
            "issuer": self.issuer,
            "kid": self.kid,
            "issued_at": _iso(self.issued_at),
            "expires_at": _iso(self.expires_at),
        }


@dataclass(frozen=True)
class VoucherRefusal:
    """Why not: a stable reason, the English sentence, and what the sentence names.

    ``key`` is the catalog sentence when a reason has several (``not_a_voucher.card``);
    ``at`` the date an expiry sentence names; ``remaining_cents`` what may still be paid
    with the voucher (offered when the amount asked is too much). ``params`` holds any other
    value the sentence names (``*_cents`` shown as money in ``currency``).
    """

    reason: VoucherRefusalReason
    message: str
    key: str = ""
    at: datetime | None = field(default=None, compare=False)
    remaining_cents: int | None = None
    currency: str = "EUR"
    params: Mapping[str, int | str] = field(default_factory=dict, compare=False)

    def text(self, language: str) -> str:
        """The sentence in the counter's language (fr, nl, de, en)."""
        key = self.key if f"voucher.{self.key}" in MESSAGES else self.reason.value
        values: dict[str, int | str] = dict(self.params)
        if self.remaining_cents is not None:
            values["remaining_cents"] = self.remaining_cents
        values["currency"] = self.currency
        return _sentence(key, language, values, self.at)

    def to_json(self) -> dict[str, Any]:
        """The refusal as plain JSON values."""
        data: dict[str, Any] = {"refused": self.reason.value, "message": self.message}
        if self.key:
            data["key"] = self.key
        if self.remaining_cents is not None:
            data["remaining_cents"] = self.remaining_cents
            data["currency"] = self.currency
        return data


def refusal(
    reason: VoucherRefusalReason,
    key: str = "",
    *,
    at: datetime | None = None,
    remaining_cents: int | None = None,
    currency: str = "EUR",
    **params: int | str,
) -> VoucherRefusal:
    """A refusal with its English sentence (``key`` defaults to the reason's own sentence)."""
    draft = VoucherRefusal(reason, "", key, at, remaining_cents, currency, dict(params))
    return replace(draft, message=draft.text("en"))


# ---------------------------------------------------------------------------------------------
# Issuing (platform side)


def issue_voucher(
    private_key: Ed25519PrivateKey,
    *,
    kid: str,
    issuer: str,
    voucher_id: str,
    face_cents: int,
    currency: str,
    city: str,
    campaign: str,
    issued_at: datetime,
    expires_at: datetime,
) -> str:
    """Sign a voucher code; ValueError (naming the field) if it could not be verified later."""
    if not KID_PATTERN.fullmatch(kid):
        raise ValueError(f"key id {kid!r} must be 1 to 32 letters, digits, '.', '_' or '-'")
    if not ISSUER_PATTERN.fullmatch(issuer):
        raise ValueError(f"issuer {issuer!r} must be 1 to 64 letters, digits, '.', '_' or '-'")
    if not voucher_id_is_valid(voucher_id):
        raise ValueError(f"voucher id {voucher_id!r} is not a CV-XXXX-XXXX-XXXX id")
    if isinstance(face_cents, bool) or not isinstance(face_cents, int):
        raise ValueError("the face value is a whole number of cents")
    if not 1 <= face_cents <= MAX_FACE_CENTS:
        raise ValueError(f"the face value must be 1 to {MAX_FACE_CENTS} cents")
    if not CURRENCY_PATTERN.fullmatch(currency):
        raise ValueError(f"currency {currency!r} must be three capital letters (EUR)")
    if not CITY_PATTERN.fullmatch(city):
        raise ValueError(f"city {city!r} must be 1 to 32 letters, digits, '.', '_' or '-'")
    if not campaign_is_valid(campaign):
        raise ValueError(
            f"campaign {campaign!r} must be at most {MAX_CAMPAIGN} printable characters "
            "without spaces at the ends"
        )
    iat, exp = _seconds(issued_at), _seconds(expires_at)
    if not 0 <= iat < exp < _MAX_TIMESTAMP:
        raise ValueError("a voucher must expire after it is issued")
    claims: dict[int, object] = {
        _ISS: issuer,
        _EXP: exp,
        _IAT: iat,
        _CTI: voucher_id.encode("ascii"),
        _FACE: face_cents,
        _CURRENCY: currency,
        _CITY: city,
        _CAMPAIGN: campaign,
    }
    code = PREFIX + seal(private_key, kid=kid, claims=claims, aad=_AAD)
    if len(code) > MAX_ISSUED_LENGTH:
        raise ValueError(
            f"the voucher code would be {len(code)} characters, more than a small QR code "
            f"holds ({MAX_ISSUED_LENGTH}); use a shorter campaign name or city"
        )
    return code


def campaign_is_valid(campaign: str) -> bool:
    """A campaign name a voucher may carry: short, printable, no control or format characters."""
    return (
        isinstance(campaign, str)
        and len(campaign) <= MAX_CAMPAIGN
        and campaign == campaign.strip()
        and campaign.isprintable()
    )


def new_voucher_id() -> str:
    """A fresh voucher id like ``CV-7KQ2-M9XD-4HTW`` (the card ids' alphabet and check)."""
    return new_id(ID_KIND)


# The feed's name for a voucher (``sync.protocol.VoucherState.voucher_key``). Every terminal
# holds every voucher's key, and an id typed from the paper is enough to spend a voucher, so
# the key must not give the id back. An id carries 55 random bits (11 characters of 32); a
# shop holding 100,000 keys tries ids against all of them at once, so it needs about
# 2**55 / 100,000 = 3.6e11 guesses per voucher found. A plain SHA-256 is ~2e10 guesses a
# second on one GPU: a voucher every ~20 s. scrypt (N=2**13, r=8: 8 MiB and ~12 ms a key on
# this class of machine, ~1e5 a second at best on a GPU) makes it weeks of a GPU per voucher
# found, worth less than the voucher. The salt is fixed (a typed id must find its key with
# nothing else known) and names the scheme, so a new one can never be mistaken for this one.
VOUCHER_KEY_SALT: Final = b"citie-voucher-key-v1"
VOUCHER_KEY_N: Final = 2**13
VOUCHER_KEY_R: Final = 8


@functools.lru_cache(maxsize=1024)
def voucher_key(voucher_id: str) -> str:
    """The feed's key of a voucher id (32 hex characters); a typed id in any form (case,
    spaces, dashes) gives the same key as the printed one.

    Slow on purpose (scrypt, about 12 ms): computed once per voucher when the platform
    issues it and once per voucher the terminal is shown (cached in the process).
    """
    number = voucher_number(voucher_id) if isinstance(voucher_id, str) else None
    text = number if number is not None else str(voucher_id)
    return hashlib.scrypt(
        text.encode(),
        salt=VOUCHER_KEY_SALT,
        n=VOUCHER_KEY_N,
        r=VOUCHER_KEY_R,
        p=1,
        maxmem=64 * 1024 * 1024,
        dklen=16,
    ).hex()


def voucher_id_is_valid(text: str) -> bool:
    """True for an id made by ``new_voucher_id`` with a correct check character."""
    return id_is_valid(text, ID_KIND)


def voucher_number(text: str) -> str | None:
    """A typed voucher number in its printed form (``CV-7KQ2-M9XD-4HTW``), else None.

    Case, spaces and dashes are forgiven; the check character is not checked here
    (``voucher_id_is_valid`` does, so a typo is named as one).
    """
    return typed_id(text, ID_KIND)


# ---------------------------------------------------------------------------------------------
# Verifying (terminal side)


def verify_voucher(
    text: str,
    trust: TrustList,
    *,
    revoked: Container[str] = frozenset(),
    now: datetime | None = None,
    leeway: timedelta = CLOCK_LEEWAY,
) -> Voucher | VoucherRefusal:
    """The verified voucher, or why not. Never raises, whatever the text."""
    try:
        return _verify(text, trust, revoked, now, leeway)
    except Exception:
        # The last line: nothing a QR code holds may take the counter down.
        return refusal(VoucherRefusalReason.MALFORMED)


def _verify(
    text: str,
    trust: TrustList,
    revoked: Container[str],
    now: datetime | None,
    leeway: timedelta,
) -> Voucher | VoucherRefusal:
    if not isinstance(text, str):
        return refusal(VoucherRefusalReason.MALFORMED)
    if len(text) > MAX_LENGTH:
        return refusal(VoucherRefusalReason.TOO_LONG)
    text = text.strip()
    if not text.startswith(PREFIX):
        kind = foreign_kind(text, PREFIX, _OWN_FAMILY)
        if kind in ("case", "version"):
            return refusal(VoucherRefusalReason.MALFORMED, f"malformed.{kind}")
        return refusal(VoucherRefusalReason.NOT_A_VOUCHER, f"not_a_voucher.{kind}")
    opened = unseal(text[len(PREFIX) :], trust, aad=_AAD)
    if isinstance(opened, RefusalReason):
        return refusal(VoucherRefusalReason(opened.value))
    key, claims = opened
    voucher = _voucher_from_claims(claims, key)
    if voucher is None:
        return refusal(VoucherRefusalReason.MALFORMED)
    if voucher.voucher_id in revoked:
        return refusal(VoucherRefusalReason.REVOKED)
    moment = _aware(now) if now is not None else datetime.now(UTC)
    if moment >= voucher.expires_at:
        return refusal(VoucherRefusalReason.EXPIRED, at=voucher.expires_at)
    if voucher.issued_at > moment + leeway:
        return refusal(VoucherRefusalReason.NOT_YET_VALID, at=voucher.issued_at)
    return voucher


def _voucher_from_claims(claims: object, key: IssuerKey) -> Voucher | None:
    """The voucher the signed claims describe, or None if they are not a voucher's claims."""
    if not isinstance(claims, dict) or len(claims) != 8:
        return None
    issuer, exp, iat, cti = (claims.get(k) for k in (_ISS, _EXP, _IAT, _CTI))
    face, currency, city, campaign = (claims.get(k) for k in (_FACE, _CURRENCY, _CITY, _CAMPAIGN))
    if not isinstance(issuer, str) or issuer != key.issuer:
        return None
    if not (_is_int(exp) and _is_int(iat) and _is_int(face)):
        return None
    if not 0 <= iat < exp < _MAX_TIMESTAMP or not 1 <= face <= MAX_FACE_CENTS:
        return None
    if not isinstance(cti, bytes):
        return None
    try:
        voucher_id = cti.decode("ascii")
    except UnicodeDecodeError:
        return None
    if not voucher_id_is_valid(voucher_id):
        return None
    if not isinstance(currency, str) or not CURRENCY_PATTERN.fullmatch(currency):
        return None
    if not isinstance(city, str) or not CITY_PATTERN.fullmatch(city):
        return None
    if not isinstance(campaign, str) or not campaign_is_valid(campaign):
        return None
    return Voucher(
        voucher_id=voucher_id,
        face_cents=face,
        currency=currency,
        city=city,
        campaign=campaign,
        issuer=issuer,
        kid=key.kid,
        issued_at=datetime.fromtimestamp(iat, UTC),
        expires_at=datetime.fromtimestamp(exp, UTC),
    )


def _is_int(value: object) -> TypeGuard[int]:
    return isinstance(value, int) and not isinstance(value, bool)


def _sentence(key: str, language: str, values: Mapping[str, int | str], at: datetime | None) -> str:
    """The catalog sentence ``voucher.<key>`` with its fields said in ``language``: ``*_cents``
    as money in the voucher's currency, ``at`` as the shop's local date (``{date}``)."""
    currency = str(values.get("currency", "EUR"))
    shown: dict[str, str | int] = {}
    for name, value in values.items():
        if name.endswith("_cents") and isinstance(value, int):
            shown[name] = money(value, language, currency)
        elif name != "currency":
            shown[name] = value
    if at is not None:
        shown["date"] = date_text(at, language, SHOP_TZ)
    return MESSAGES.text(f"voucher.{key}", language, **shown)


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def _seconds(moment: datetime) -> int:
    return int(_aware(moment).timestamp())


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
