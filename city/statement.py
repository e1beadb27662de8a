"""What the city owes a shop for the vouchers spent there: the payout statement of a period.

A statement lists every voucher spend of one shop in a period of shop-local days
(``loyalty.programs.SHOP_TZ``), and every void of such a spend on its own line (a negative
amount naming the spend it cancels), with the total: spends minus voids, per currency.

Events count by the day the platform received them (``by="received"``, the default): a period
once past never changes, so a statement paid out stays true, and a spend a terminal kept
offline for days is paid in the period it reached the city. ``by="occurred"`` counts them by
the terminal's own time instead (the shop's day report), for a look back.

The rows stream from one snapshot (a server-side cursor on PostgreSQL) through a partial
index of the voucher events (``events_voucher_received`` / ``events_voucher_occurred``), so
a million spends are written without ever being held in memory.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, tzinfo
from typing import TYPE_CHECKING, Any, Final, Literal, TextIO

from loyalty.db import iso
from loyalty.programs import SHOP_TZ

if TYPE_CHECKING:
    from city.store import PlatformStore

By = Literal["received", "occurred"]
COLUMNS: Final = (
    "received_at",
    "occurred_at",
    "terminal_id",
    "event_id",
    "kind",
    "voucher_id",
    "amount_cents",
    "currency",
    "voids",
    "receipt_no",
)
"""One statement line; times are UTC as stored (ISO 8601), amounts in integer cents."""
MAX_DAYS: Final = 3660
"""The longest period one statement covers (ten years)."""

_DAY_FORMATS: Final = (
    (re.compile(r"(\d{4})-(\d{1,2})-(\d{1,2})"), (1, 2, 3)),
    (re.compile(r"(\d{1,2})[/.-](\d{1,2})[/.-](\d{4})"), (3, 2, 1)),
)


def parse_day(text: str) -> date:
    """A day as an operator types it: 2026-11-25, 25/11/2026, 25.11.2026 or 25-11-2026."""
    value = text.strip()
    for pattern, (y, m, d) in _DAY_FORMATS:
        found = pattern.fullmatch(value)
        if found:
            return date(int(found[y]), int(found[m]), int(found[d]))  # ValueError if no such day
    raise ValueError(f"{text[:40]!r} is not a day (2026-11-25 or 25/11/2026)")


def bounds(first: date, last: date, tz: tzinfo = SHOP_TZ) -> tuple[str, str]:
    """The stored-time bounds ``[start, end)`` of shop-local days ``first`` to ``last``."""
    start = datetime.combine(first, time(), tzinfo=tz)
    end = datetime.combine(last + timedelta(days=1), time(), tzinfo=tz)
    return iso(start), iso(end)


def query(by: By) -> str:
    """The statement's SQL (``?``: shop, start, end), ordered as the lines are paid."""
    column = "received_at" if by == "received" else "occurred_at"
    names = ", ".join("id" if c == "event_id" else c for c in COLUMNS)
    return (
        f"SELECT {names} FROM events "  # noqa: S608  (fixed column names)
        f"WHERE shop_id = ? AND voucher_id IS NOT NULL AND {column} >= ? AND {column} < ? "
        f"ORDER BY {column}, pseq"
    )


@dataclass
class Total:
    """A currency's total on the statement."""

    currency: str
    spends: int = 0
    voids: int = 0
    spent_cents: int = 0
    voided_cents: int = 0

    @property
    def net_cents(self) -> int:
        """What the city owes the shop in this currency: spends minus voids."""
        return self.spent_cents - self.voided_cents

    def to_json(self) -> dict[str, Any]:
        """The total as JSON."""
        return {
            "currency": self.currency,
            "spends": self.spends,
            "voids": self.voids,
            "spent_cents": self.spent_cents,
            "voided_cents": self.voided_cents,
            "total_cents": self.net_cents,
        }


@dataclass
class Totals:
    """Counts and sums of the lines seen so far, per currency."""

    by_currency: dict[str, Total] = field(default_factory=dict)

    def add(self, row: tuple[Any, ...]) -> None:
        """Count one statement line (a spend or a void)."""
        currency = str(row[7])
        total = self.by_currency.get(currency)
        if total is None:
            total = self.by_currency[currency] = Total(currency)
        amount = int(row[6])
        if row[4] == "void":
            total.voids += 1
            total.voided_cents -= amount
        else:
            total.spends += 1
            total.spent_cents += amount

    def to_json(self) -> list[dict[str, Any]]:
        """Every currency's total (one for a city in euros)."""
        return [t.to_json() for _, t in sorted(self.by_currency.items())]


@contextmanager
def lines(
    store: PlatformStore, shop_id: str, first: date, last: date, by: By = "received"
) -> Iterator[Iterator[tuple[Any, ...]]]:
    """The statement's lines (``COLUMNS``), streamed from one snapshot."""
    start, end = bounds(first, last)
    with store.stream(query(by), [shop_id, start, end]) as rows:
        yield rows


def write_csv(rows: Iterator[tuple[Any, ...]], out: TextIO) -> Totals:
    """Write the lines as CSV, a row at a time, then a total row per currency."""
    totals = Totals()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(COLUMNS)
    add = totals.add
    write = writer.writerow
    for row in rows:
        add(row)
        write(row)
    for total in totals.by_currency.values():
        write(("", "", "", "", "total", "", total.net_cents, total.currency, "", ""))
    return totals


def cents_text(cents: int, currency: str) -> str:
    """An amount for the operator's screen: ``-12.50 EUR`` (no float ever)."""
    sign = "-" if cents < 0 else ""
    return f"{sign}{abs(cents) // 100}.{abs(cents) % 100:02d} {currency}"
