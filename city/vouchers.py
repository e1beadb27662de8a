"""City vouchers on the platform: the ``vouchers`` rows, what each spend does to them, the books.

A voucher is written at issue (``citie-platform voucher new``) with its face value, currency,
campaign and expiry. Spends reach the platform as ``voucher_spend`` events (``city.checks``
judges them); in the batch's transaction ``fold`` adds each voucher's accepted spends and voids
to ``spent_cents`` and marks ``overspent`` when a spend went beyond what was left. Every change
of a row (issue, spend, void, revocation) takes a new number from the city-wide counter
``version``, the one card revocations use, so terminals page through them in commit order.
The updates feed names a voucher by its ``key`` (``loyalty.vouchers.voucher_key``, a slow
salted hash of the id, computed at issue outside the transaction), never by its id: an id is
enough to spend a voucher, and every terminal gets every voucher's state.

The rows are locked (``FOR UPDATE`` on PostgreSQL) in id order before anything else in a batch,
so two shops spending the same voucher at once are judged one after the other: the second sees
the first's spend and is flagged when together they pass the face value.

``summary`` is one SQL aggregate over the events (each voucher's spends and voids netted first,
then summed by campaign): what the city issued, what was spent and voided, what expired unspent,
what was revoked unspent, what was spent beyond the face value, and what is still outstanding
(the city's liability). For every campaign and in total:
``issued + overspent == spent - voided + expired + revoked + outstanding``.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import asdict, dataclass, fields
from datetime import datetime
from typing import TYPE_CHECKING, Any, Final, Protocol

from city import checks
from loyalty.db import iso, utc_now
from loyalty.vouchers import voucher_key
from sync.protocol import Event

if TYPE_CHECKING:
    from city.store import Tx

VERSION_COUNTER: Final = "version"
"""The city-wide counter (card revocations and vouchers share it)."""
CHUNK: Final = 500
"""Most ids in one ``IN (...)`` list."""
MAX_CAMPAIGN: Final = 80
"""The longest campaign name (``sync.protocol.VoucherState.campaign``)."""


class IssuedVoucher(Protocol):
    """What is stored of a voucher the issuer signed (``loyalty.vouchers.Voucher``)."""

    @property
    def voucher_id(self) -> str:
        """The voucher's id (CV-XXXX-XXXX-XXXX)."""

    @property
    def face_cents(self) -> int:
        """Its value when issued."""

    @property
    def currency(self) -> str:
        """ISO 4217 code."""

    @property
    def campaign(self) -> str:
        """The campaign it belongs to (a mailing, a season)."""

    @property
    def city(self) -> str:
        """The issuing city."""

    @property
    def kid(self) -> str:
        """The issuer key that signed it."""

    @property
    def issued_at(self) -> datetime:
        """When it was issued."""

    @property
    def expires_at(self) -> datetime:
        """When it stops being spendable."""


def _marks(values: Sequence[object]) -> str:
    return ", ".join("?" * len(values))


def _chunks(values: Sequence[str]) -> Iterator[list[str]]:
    for start in range(0, len(values), CHUNK):
        yield list(values[start : start + CHUNK])


def keys(vouchers: Sequence[IssuedVoucher]) -> list[str]:
    """Each voucher's feed key (about 12 ms each: compute it before the transaction)."""
    return [voucher_key(v.voucher_id) for v in vouchers]


def insert(
    tx: Tx, vouchers: Sequence[IssuedVoucher], bump: Callable[[int], int], keys: Sequence[str]
) -> None:
    """Store newly issued vouchers, each with its own version and its feed key
    (``keys``, from ``keys(vouchers)``, in the same order)."""
    if not vouchers:
        return
    if len(keys) != len(vouchers):
        raise ValueError("one key per voucher")
    top = bump(len(vouchers))
    first = top - len(vouchers) + 1
    tx.executemany(
        "INSERT INTO vouchers (id, key, face_cents, currency, campaign, city, kid, issued_at, "
        "expires_at, version) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [
            (
                v.voucher_id,
                keys[n],
                v.face_cents,
                v.currency,
                v.campaign,
                v.city,
                v.kid,
                iso(v.issued_at),
                iso(v.expires_at),
                first + n,
            )
            for n, v in enumerate(vouchers)
        ],
    )


def backfill_keys(tx: Tx) -> int:
    """Give every voucher stored without a feed key its key (after migration 9); return how
    many were keyed."""
    rows = tx.execute("SELECT id FROM vouchers WHERE key IS NULL").fetchall()
    tx.executemany(
        "UPDATE vouchers SET key = ? WHERE id = ?",
        [(voucher_key(str(r[0])), str(r[0])) for r in rows],
    )
    return len(rows)


def known(tx: Tx, voucher_ids: Iterable[str]) -> set[str]:
    """The ids among ``voucher_ids`` this platform issued."""
    found: set[str] = set()
    for chunk in _chunks(sorted(set(voucher_ids))):
        found.update(
            str(r[0])
            for r in tx.execute(
                f"SELECT id FROM vouchers WHERE id IN ({_marks(chunk)})",  # noqa: S608
                chunk,
            ).fetchall()
        )
    return found


def revoke(
    tx: Tx, voucher_ids: Iterable[str], bump: Callable[[int], int], *, for_update: str, now: str
) -> int:
    """Revoke the vouchers not revoked yet; return how many. Rows are locked in id order."""
    fresh: list[str] = []
    for chunk in _chunks(sorted(set(voucher_ids))):
        fresh.extend(
            str(r[0])
            for r in tx.execute(
                f"SELECT id FROM vouchers WHERE id IN ({_marks(chunk)}) "  # noqa: S608
                f"AND revoked_at IS NULL ORDER BY id{for_update}",
                chunk,
            ).fetchall()
        )
    if not fresh:
        return 0
    top = bump(len(fresh))
    first = top - len(fresh) + 1
    tx.executemany(
        "UPDATE vouchers SET revoked_at = ?, version = ? WHERE id = ?",
        [(now, first + n, voucher_id) for n, voucher_id in enumerate(sorted(fresh))],
    )
    return len(fresh)


def read_for_batch(
    tx: Tx, voucher_ids: Iterable[str], *, for_update: str
) -> dict[str, checks.VoucherFacts]:
    """The vouchers a batch spends or gives back, locked (PostgreSQL) in id order."""
    found: dict[str, checks.VoucherFacts] = {}
    for chunk in _chunks(sorted(set(voucher_ids))):
        for r in tx.execute(
            "SELECT id, face_cents, currency, expires_at, revoked_at, spent_cents "  # noqa: S608
            f"FROM vouchers WHERE id IN ({_marks(chunk)}) ORDER BY id{for_update}",
            chunk,
        ).fetchall():
            found[str(r[0])] = checks.VoucherFacts(
                id=str(r[0]),
                face_cents=int(r[1]),
                currency=str(r[2]),
                expires_at=checks.parse_time(str(r[3])),
                revoked=r[4] is not None,
                spent_cents=int(r[5]),
            )
    return found


def fold(
    tx: Tx, accepted: Sequence[tuple[Event, Sequence[str]]], bump: Callable[[int], int]
) -> int:
    """Add the batch's accepted spends and voids (with their flags) to their vouchers.

    Each changed voucher gets a new version; one found overspent keeps ``overspent = 1``.
    Returns how many vouchers changed.
    """
    delta: dict[str, int] = defaultdict(int)
    overspent: dict[str, int] = defaultdict(int)
    for event, flags in accepted:
        if event.voucher_id is None or event.amount_cents is None:
            continue
        delta[event.voucher_id] += event.amount_cents
        overspent[event.voucher_id] |= int("voucher_overspent" in flags)
    if not delta:
        return 0
    top = bump(len(delta))
    first = top - len(delta) + 1
    tx.executemany(
        "UPDATE vouchers SET spent_cents = spent_cents + ?, "
        "overspent = CASE WHEN ? > 0 THEN 1 ELSE overspent END, version = ? WHERE id = ?",
        [
            (delta[voucher_id], overspent[voucher_id], first + n, voucher_id)
            for n, voucher_id in enumerate(sorted(delta))
        ],
    )
    return len(delta)


@dataclass(frozen=True)
class Figures:
    """The books of a campaign (or of every campaign), in cents and counts."""

    campaign: str
    currency: str
    vouchers: int
    issued_cents: int
    spent_cents: int
    voided_cents: int
    expired_cents: int
    revoked_cents: int
    overspent_cents: int
    outstanding_cents: int
    spends: int
    voids: int
    overspent_vouchers: int

    def to_json(self) -> dict[str, Any]:
        """The figures as JSON (``campaign`` is ``null`` for the total)."""
        data = asdict(self)
        data["campaign"] = self.campaign if self.campaign != TOTAL else None
        return data


TOTAL: Final = "\x00total"
"""The campaign name of the total line (never a real campaign: no control characters)."""

_SUMMARY_SQL: Final = """
SELECT v.campaign, v.currency, COUNT(*),
    SUM(v.face_cents),
    SUM(COALESCE(e.spent, 0)),
    SUM(COALESCE(e.voided, 0)),
    SUM(CASE WHEN v.revoked_at IS NULL AND v.expires_at <= ?
        AND v.face_cents > COALESCE(e.net, 0) THEN v.face_cents - COALESCE(e.net, 0) ELSE 0 END),
    SUM(CASE WHEN v.revoked_at IS NOT NULL
        AND v.face_cents > COALESCE(e.net, 0) THEN v.face_cents - COALESCE(e.net, 0) ELSE 0 END),
    SUM(CASE WHEN COALESCE(e.net, 0) > v.face_cents
        THEN COALESCE(e.net, 0) - v.face_cents ELSE 0 END),
    SUM(CASE WHEN v.revoked_at IS NULL AND v.expires_at > ?
        AND v.face_cents > COALESCE(e.net, 0) THEN v.face_cents - COALESCE(e.net, 0) ELSE 0 END),
    SUM(COALESCE(e.spends, 0)),
    SUM(COALESCE(e.voids, 0)),
    SUM(CASE WHEN COALESCE(e.net, 0) > v.face_cents THEN 1 ELSE 0 END)
FROM vouchers v
LEFT JOIN (
    SELECT voucher_id,
        SUM(CASE WHEN kind = 'voucher_spend' THEN amount_cents ELSE 0 END) AS spent,
        SUM(CASE WHEN kind = 'void' THEN -amount_cents ELSE 0 END) AS voided,
        SUM(amount_cents) AS net,
        SUM(CASE WHEN kind = 'voucher_spend' THEN 1 ELSE 0 END) AS spends,
        SUM(CASE WHEN kind = 'void' THEN 1 ELSE 0 END) AS voids
    FROM events WHERE voucher_id IS NOT NULL
    GROUP BY voucher_id
) e ON e.voucher_id = v.id
GROUP BY v.campaign, v.currency
ORDER BY v.campaign, v.currency
"""


def summary(tx: Tx, now: datetime | None = None) -> list[Figures]:
    """Every campaign's books (by campaign and currency), then the total of each currency.

    Computed from the stored events (not from ``vouchers.spent_cents``), so it is what the
    events say, exactly; a voucher counts as expired once ``expires_at <= now``.
    """
    moment = iso(now or utc_now())
    rows = tx.execute(_SUMMARY_SQL, [moment, moment]).fetchall()
    lines = [Figures(str(r[0]), str(r[1]), *(int(x or 0) for x in r[2:])) for r in rows]
    totals: dict[str, list[int]] = {}
    for line in lines:
        numbers = [getattr(line, f.name) for f in fields(Figures)[2:]]
        sums = totals.setdefault(line.currency, [0] * len(numbers))
        totals[line.currency] = [a + b for a, b in zip(sums, numbers, strict=True)]
    return lines + [
        Figures(TOTAL, currency, *numbers) for currency, numbers in sorted(totals.items())
    ]
