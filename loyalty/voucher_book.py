"""The terminal's side of city vouchers: what is left on one, and spending it at the counter.

A voucher is bearer value: the same one may be spent at two shops while both are offline. So
what this terminal lets be spent is bounded twice:

* Remaining = face value - what the platform last confirmed as spent city-wide
  (``voucher_states``, brought by the puller) - this terminal's spends and voids that
  confirmation does not hold yet: never synced, or first synced after it by the local sync
  sequence (``outbox.synced_mark`` > ``voucher_states.mark``, the trick ``confirmed_balances``
  uses for cards, so no two clocks are ever compared; a row keeps its first mark when
  ``sync --resend-all`` sends it again). Without a confirmation, every local spend counts.
  ``voucher_states`` is keyed by ``voucher_key``: the feed never holds a voucher's id (which
  is enough to spend it); an id scanned or typed here is looked up by its key.
* Offline: at most ``offline_max_cents`` spent on one voucher by this terminal in spends that
  never reached the platform (a voided spend does not count; the value went back). The
  platform records every spend it receives and flags an overspend; the counter never blames
  the customer.

A spend is one ``store.write()`` transaction: the checks above, then a ``voucher_spend`` event
(``card_id`` NULL, ``program_id`` ``VOUCHER_PROGRAM``, ``amount_cents`` > 0 what was paid with
the voucher) and its outbox row through ``Ledger._append``. Like every ledger write it is
evaluated at the later of the clock and the newest event, so a clock set back cannot reopen
an expired voucher. A void of a spend is the usual ``Ledger.void`` (it copies the voucher id
and negates the amount), and gives the value back.
"""

from __future__ import annotations

from collections.abc import Container
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final, Protocol

import sqlite_utils

from loyalty.db import iso, parse_iso, utc_now
from loyalty.ledger import EventKind, Ledger, Recorded
from loyalty.programs import Explanation
from loyalty.vouchers import (
    MAX_FACE_CENTS,
    VoucherRefusal,
    VoucherRefusalReason,
    refusal,
    voucher_key,
)

VOUCHER_PROGRAM: Final = "voucher"
"""``events.program_id`` of a voucher spend and its void (the column is NOT NULL)."""
DEFAULT_OFFLINE_MAX_CENTS: Final = 5000


class SpendableVoucher(Protocol):
    """What spending needs to know of a voucher: a verified ``Voucher`` or a ``KnownVoucher``."""

    @property
    def voucher_id(self) -> str: ...
    @property
    def face_cents(self) -> int: ...
    @property
    def currency(self) -> str: ...
    @property
    def city(self) -> str: ...
    @property
    def campaign(self) -> str: ...
    @property
    def expires_at(self) -> datetime: ...


@dataclass(frozen=True)
class KnownVoucher:
    """A voucher as the platform's updates described it (found by a typed voucher number).

    The signed code is the proof when it is scanned; a typed number is taken on the
    platform's word (``voucher_states``). ``city`` is not in the updates, so it is empty.
    """

    voucher_id: str
    face_cents: int
    currency: str
    expires_at: datetime
    campaign: str
    spent_cents: int
    revoked_at: datetime | None
    version: int
    city: str = ""

    def to_json(self) -> dict[str, Any]:
        """The facts as plain JSON values."""
        return {
            "voucher_id": self.voucher_id,
            "face_cents": self.face_cents,
            "currency": self.currency,
            "expires_at": iso(self.expires_at),
            "campaign": self.campaign,
            "spent_cents": self.spent_cents,
            "revoked_at": None if self.revoked_at is None else iso(self.revoked_at),
            "version": self.version,
        }


@dataclass(frozen=True)
class VoucherBalance:
    """What is left on a voucher as this terminal knows it, and what it may spend offline."""

    voucher_id: str
    face_cents: int
    currency: str
    expires_at: datetime
    confirmed_spent: int | None
    """Spent city-wide at the platform's last confirmation (None: never confirmed)."""
    local_unconfirmed: int
    """This terminal's spends minus voids that confirmation does not hold yet."""
    remaining_cents: int
    """Face - confirmed - local unconfirmed, never below zero."""
    offline_left_cents: int
    """How much more this terminal may spend on it before its next sync."""
    revoked: bool
    expired: bool = False
    """Past its expiry at the balance's time (the later of the clock and the newest event)."""

    @property
    def spendable_cents(self) -> int:
        """The most one spend may take now: nothing when revoked or expired, else what is
        left within the offline allowance."""
        if self.revoked or self.expired:
            return 0
        return min(self.remaining_cents, self.offline_left_cents)

    def to_json(self) -> dict[str, Any]:
        """The balance as plain JSON values."""
        return {
            "voucher_id": self.voucher_id,
            "face_cents": self.face_cents,
            "currency": self.currency,
            "expires_at": iso(self.expires_at),
            "confirmed_spent": self.confirmed_spent,
            "local_unconfirmed": self.local_unconfirmed,
            "remaining_cents": self.remaining_cents,
            "offline_left_cents": self.offline_left_cents,
            "spendable_cents": self.spendable_cents,
            "revoked": self.revoked,
            "expired": self.expired,
        }


class VoucherRefused(Exception):
    """A spend the book refused: ``refusal`` says why (``.reason``, ``.text(lang)``)."""

    def __init__(self, refusal: VoucherRefusal) -> None:
        self.refusal = refusal
        super().__init__(f"{refusal.reason.value}: {refusal.message}")

    @property
    def reason(self) -> VoucherRefusalReason:
        """The stable reason code."""
        return self.refusal.reason

    @property
    def message(self) -> str:
        """The English sentence."""
        return self.refusal.message

    def text(self, language: str) -> str:
        """The refusal in the counter's language."""
        return self.refusal.text(language)


class RevokedVouchers(Container[str]):
    """The vouchers the platform revoked, asked by id (``voucher_id in revoked``): the ledger
    holds their keys only (``voucher_key``), so an id is hashed when asked, and only when any
    voucher is revoked at all."""

    def __init__(self, keys: frozenset[str]) -> None:
        self.keys = keys

    def __contains__(self, voucher_id: object) -> bool:
        if not self.keys or not isinstance(voucher_id, str):
            return False
        return voucher_key(voucher_id) in self.keys

    def __len__(self) -> int:
        return len(self.keys)


def revoked_vouchers(db: sqlite_utils.Database) -> RevokedVouchers:
    """The vouchers the platform revoked (for ``verify_voucher(..., revoked=...)``)."""
    return RevokedVouchers(
        frozenset(
            str(row[0])
            for row in db.execute(
                "SELECT voucher_key FROM voucher_states WHERE revoked_at IS NOT NULL"
            )
        )
    )


class VoucherBook:
    """Balances and spends of city vouchers on this terminal's ledger; any thread may call it."""

    def __init__(
        self, ledger: Ledger, *, offline_max_cents: int = DEFAULT_OFFLINE_MAX_CENTS
    ) -> None:
        if isinstance(offline_max_cents, bool) or not 1 <= offline_max_cents <= MAX_FACE_CENTS:
            raise ValueError(f"offline_max_cents must be 1 to {MAX_FACE_CENTS}")
        self.ledger = ledger
        self.offline_max_cents = offline_max_cents

    def balance(self, voucher: SpendableVoucher, *, now: datetime | None = None) -> VoucherBalance:
        """What is left on ``voucher`` and what this terminal may spend on it before a sync;
        ``expired`` is judged at the later of ``now`` (the clock) and the newest event, as
        ``spend`` judges it."""
        key = voucher_key(voucher.voucher_id)
        db = self.ledger.store.read()
        moment = Ledger._not_before_newest(db, _moment(now))
        return self._balance(db, voucher, key, moment)

    def known(self, voucher_id: str) -> KnownVoucher | None:
        """The platform's facts about a voucher id (typed from the paper), if it sent any;
        found by the id's ``voucher_key`` (the ledger never holds ids it was not shown)."""
        row = (
            self.ledger.store.read()
            .execute(
                "SELECT face_cents, currency, expires_at, campaign, spent_cents, "
                "revoked_at, version FROM voucher_states WHERE voucher_key = ?",
                [voucher_key(voucher_id)],
            )
            .fetchone()
        )
        if row is None:
            return None
        expires_at = _parse_time(row[2])
        if expires_at is None:
            # An expiry we cannot read is no expiry we can check: not spendable by number.
            return None
        return KnownVoucher(
            voucher_id=voucher_id,
            face_cents=int(row[0]),
            currency=str(row[1]),
            expires_at=expires_at,
            campaign=str(row[3] or ""),
            spent_cents=int(row[4]),
            revoked_at=_parse_time(row[5]) if row[5] is not None else None,
            version=int(row[6]),
        )

    def spend(
        self,
        voucher: SpendableVoucher,
        amount_cents: int | None,
        *,
        now: datetime | None = None,
        staff_id: str | None = None,
        approver_id: str | None = None,
    ) -> Recorded:
        """Pay ``amount_cents`` with the voucher (None: its whole remaining value).

        Raises ``VoucherRefused`` (amount, revoked, expired, spent, insufficient with the
        remaining value offered, offline_voucher_limit with what may still be spent offline)
        and the ledger's ``LedgerRefusal`` for staff checks. Returns once the commit returned.
        """
        if amount_cents is not None:
            _check_amount(amount_cents, voucher.currency)
        # Slow on purpose (scrypt) and cached: never computed while holding the write lock.
        key = voucher_key(voucher.voucher_id)
        with self.ledger.store.write() as db:
            self.ledger._check_staff(db, staff_id, approver_id)
            moment = Ledger._not_before_newest(db, _moment(now))
            balance = self._balance(db, voucher, key, moment)
            currency = voucher.currency
            if balance.revoked:
                raise VoucherRefused(refusal(VoucherRefusalReason.REVOKED, currency=currency))
            if moment >= voucher.expires_at:
                raise VoucherRefused(
                    refusal(VoucherRefusalReason.EXPIRED, at=voucher.expires_at, currency=currency)
                )
            remaining = balance.remaining_cents
            if remaining <= 0:
                raise VoucherRefused(refusal(VoucherRefusalReason.SPENT, currency=currency))
            amount = remaining if amount_cents is None else amount_cents
            left = balance.offline_left_cents
            # Name the bound that binds: offering a remaining value the offline allowance
            # would refuse next would send the shopkeeper round in circles.
            if amount > remaining and remaining <= left:
                raise VoucherRefused(
                    refusal(
                        VoucherRefusalReason.INSUFFICIENT,
                        remaining_cents=remaining,
                        currency=currency,
                        asked_cents=amount,
                    )
                )
            if amount > left:
                raise VoucherRefused(
                    refusal(
                        VoucherRefusalReason.OFFLINE_VOUCHER_LIMIT,
                        "offline_voucher_limit" if left > 0 else "offline_voucher_limit.none",
                        remaining_cents=left,
                        currency=currency,
                        limit_cents=self.offline_max_cents,
                        asked_cents=amount,
                    )
                )
            after = remaining - amount
            line = Explanation(
                "voucher.paid",
                {
                    "amount_cents": amount,
                    "remaining_cents": after,
                    "voucher_id": voucher.voucher_id,
                },
            )
            event = self.ledger._append(
                db,
                kind=EventKind.VOUCHER_SPEND,
                card_id=None,
                program_id=VOUCHER_PROGRAM,
                stamps=0,
                moment=moment,
                amount_cents=amount,
                currency=currency,
                voucher_id=voucher.voucher_id,
                staff_id=staff_id,
                approver_id=approver_id,
                detail={
                    "lines": [{"key": line.key, "params": dict(line.params)}],
                    "face_cents": voucher.face_cents,
                    "remaining_after_cents": after,
                    "campaign": voucher.campaign,
                    "city": voucher.city,
                },
            )
        return Recorded(event, None, [line])

    # --- inside a transaction -------------------------------------------------------------

    def _balance(
        self, db: sqlite_utils.Database, voucher: SpendableVoucher, key: str, moment: datetime
    ) -> VoucherBalance:
        voucher_id = voucher.voucher_id
        # One statement, so one snapshot: read outside a write transaction (the balance on
        # screen), separate statements could straddle a sync marking rows synced.
        confirmed, revoked_at, unconfirmed, offline_spent = db.execute(
            _BALANCE_SQL, {"voucher_id": voucher_id, "voucher_key": key}
        ).fetchone()
        remaining = voucher.face_cents - (confirmed or 0) - int(unconfirmed)
        return VoucherBalance(
            voucher_id=voucher_id,
            face_cents=voucher.face_cents,
            currency=voucher.currency,
            expires_at=voucher.expires_at,
            confirmed_spent=None if confirmed is None else int(confirmed),
            local_unconfirmed=int(unconfirmed),
            remaining_cents=max(remaining, 0),
            offline_left_cents=max(self.offline_max_cents - int(offline_spent), 0),
            revoked=revoked_at is not None,
            expired=moment >= voucher.expires_at,
        )


# Spent: face - confirmed (voucher_states) - this terminal's amounts the confirmation does not
# hold: never synced, or first synced after it by the local sequence (a row keeps its first
# mark, 0009, so one sent again by `sync --resend-all` is still the one the platform holds);
# with no confirmation (mark -1) every local one. Offline: spends that never reached the
# platform and were not voided (their value went back).
_BALANCE_SQL = """
SELECT s.spent_cents, s.revoked_at,
  (SELECT COALESCE(SUM(e.amount_cents), 0) FROM events e LEFT JOIN outbox o ON o.seq = e.seq
   WHERE e.voucher_id = :voucher_id AND e.amount_cents IS NOT NULL
   AND (o.synced_mark IS NULL OR o.synced_mark >
        CASE WHEN s.voucher_key IS NULL THEN -1 ELSE COALESCE(s.mark, 0) END)),
  (SELECT COALESCE(SUM(e.amount_cents), 0) FROM events e LEFT JOIN outbox o ON o.seq = e.seq
   WHERE e.voucher_id = :voucher_id AND e.kind = 'voucher_spend' AND o.synced_mark IS NULL
   AND NOT EXISTS (SELECT 1 FROM events v WHERE v.voids = e.id))
FROM (SELECT 1) LEFT JOIN voucher_states s ON s.voucher_key = :voucher_key
"""


def _check_amount(amount_cents: int, currency: str) -> None:
    if isinstance(amount_cents, bool) or not isinstance(amount_cents, int):
        raise TypeError("amount_cents must be an int (cents) or None")
    if amount_cents == 0:
        raise VoucherRefused(refusal(VoucherRefusalReason.AMOUNT, "amount.zero", currency=currency))
    if amount_cents < 0:
        raise VoucherRefused(
            refusal(VoucherRefusalReason.AMOUNT, "amount.negative", currency=currency)
        )
    if amount_cents > MAX_FACE_CENTS:
        raise VoucherRefused(
            refusal(
                VoucherRefusalReason.AMOUNT,
                "amount.too_large",
                currency=currency,
                asked_cents=amount_cents,
            )
        )


def _moment(now: datetime | None) -> datetime:
    if now is None:
        return utc_now()
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware (UTC)")
    return now


def _parse_time(value: object) -> datetime | None:
    try:
        return parse_iso(str(value))
    except ValueError:
        return None
