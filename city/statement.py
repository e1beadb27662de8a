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
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, tzinfo
from operator import itemgetter
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


QUOTE_MARK: Final = "''''"
"""SQL for the text ``'``."""
FORMULA_STARTS: Final = ("=", "+", "-", "@", "\t", "\r")


def _where(by: By) -> str:
    column = "received_at" if by == "received" else "occurred_at"
    return f"WHERE shop_id = ? AND voucher_id IS NOT NULL AND {column} >= ? AND {column} < ? "


def query(by: By) -> str:
    """The statement's SQL (``?``: shop, start, end), ordered as the lines are paid."""
    names = ", ".join("id" if c == "event_id" else c for c in COLUMNS)
    order = "received_at" if by == "received" else "occurred_at"
    return f"SELECT {names} FROM events {_where(by)}ORDER BY {order}, pseq"  # noqa: S608


def _csv_field(name: str) -> str:
    """A column as one CSV field, written by the database (no Python step per line)."""
    if name == "event_id":
        return "id"
    if name in ("amount_cents", "currency", "voids"):
        return f"COALESCE(CAST({name} AS TEXT), '')"
    if name == "occurred_at":
        # The terminal's own text: ISO 8601 may use a decimal comma, and a platform before the
        # strict check stored whatever Python's fromisoformat read (a quote or a newline as
        # the separator), so its quotes are doubled like any CSV field's.
        return "'\"' || replace(occurred_at, '\"', '\"\"') || '\"'"
    if name == "receipt_no":
        # Free text from the terminal: quoted, and behind a quote mark when it starts like a
        # formula (a spreadsheet would run it: OWASP's CSV injection lists = + - @, tab and
        # carriage return). Ids hold only letters, digits and . _ : - (no formula can call
        # anything with those).
        text = "COALESCE(receipt_no, '')"
        starts = ", ".join(f"'{c}'" for c in FORMULA_STARTS)
        guarded = (
            f"CASE WHEN substr({text}, 1, 1) IN ({starts}) "
            f"THEN {QUOTE_MARK} || {text} ELSE {text} END"
        )
        return f"'\"' || replace({guarded}, '\"', '\"\"') || '\"'"
    return name


def csv_query(by: By) -> str:
    """The statement's SQL giving each line as CSV text with its newline (``?``: the newline,
    shop, start, end): the database writes the CSV, Python only copies it out."""
    line = " || ',' || ".join(_csv_field(c) for c in COLUMNS)
    order = "received_at" if by == "received" else "occurred_at"
    return f"SELECT {line} || ? FROM events {_where(by)}ORDER BY {order}, pseq"  # noqa: S608


def totals_query(by: By) -> str:
    """The statement's totals in one aggregate: (currency, kind, lines, cents)."""
    return (
        "SELECT currency, kind, COUNT(*), SUM(amount_cents) FROM events "  # noqa: S608
        f"{_where(by)}GROUP BY currency, kind"
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
    """Counts and sums of a statement's lines, per currency."""

    by_currency: dict[str, Total] = field(default_factory=dict)

    @classmethod
    def from_rows(cls, rows: Iterable[tuple[Any, ...]]) -> Totals:
        """The totals from ``totals_query``'s rows."""
        totals = cls()
        for currency, kind, count, cents in rows:
            total = totals.by_currency.setdefault(str(currency), Total(str(currency)))
            if kind == "void":
                total.voids += int(count)
                total.voided_cents -= int(cents)
            else:
                total.spends += int(count)
                total.spent_cents += int(cents)
        return totals

    def to_json(self) -> list[dict[str, Any]]:
        """Every currency's total (one for a city in euros)."""
        return [t.to_json() for _, t in sorted(self.by_currency.items())]


@contextmanager
def lines(
    store: PlatformStore,
    shop_id: str,
    first: date,
    last: date,
    by: By = "received",
    *,
    for_csv: bool = False,
) -> Iterator[tuple[Totals, Iterator[tuple[Any, ...]]]]:
    """The statement's totals and its lines, streamed, from one snapshot: each line the
    ``COLUMNS``, or with ``for_csv`` one CSV line of text (for ``write_csv``)."""
    params = [shop_id, *bounds(first, last)]
    sql, line_params = (csv_query(by), ["\n", *params]) if for_csv else (query(by), params)
    with store.stream(sql, line_params, first=(totals_query(by), params)) as (head, rows):
        yield Totals.from_rows(head), rows


def write_csv(rows: Iterator[tuple[Any, ...]], totals: Totals, out: TextIO) -> None:
    """Write the lines of ``lines(..., for_csv=True)`` as CSV under a header, then a total
    row per currency."""
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(COLUMNS)
    out.writelines(map(itemgetter(0), rows))  # C loops: a million lines, no Python step each
    for total in totals.by_currency.values():
        writer.writerow(("", "", "", "", "total", "", total.net_cents, total.currency, "", ""))


def cents_text(cents: int, currency: str) -> str:
    """An amount for the operator's screen: ``-12.50 EUR`` (no float ever)."""
    sign = "-" if cents < 0 else ""
    return f"{sign}{abs(cents) // 100}.{abs(cents) % 100:02d} {currency}"
