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
import json
import re
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, tzinfo
from itertools import islice
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


def _csv_field(name: str, dialect: str = "sqlite") -> tuple[str, str]:
    """A column as one CSV field written by the database: (its part of the line's ``format``
    string, the SQL giving its text; NULL is an empty field).

    The quoted texts are looked at once (is there a quote, a formula start?) and only then
    rewritten: most have neither, and the test costs a fifth of the rewrite."""
    find, first = ("strpos", "ascii") if dialect == "postgresql" else ("instr", "unicode")
    if name == "event_id":
        return "%s", "id"
    if name == "occurred_at":
        # The terminal's own text: ISO 8601 may use a decimal comma, and a platform before the
        # strict check stored whatever Python's fromisoformat read (a quote or a newline as
        # the separator), so its quotes are doubled like any CSV field's.
        doubled = "replace(occurred_at, '\"', '\"\"')"
        return (
            '"%s"',
            f"CASE WHEN {find}(occurred_at, '\"') > 0 THEN {doubled} ELSE occurred_at END",
        )
    if name == "receipt_no":
        # Free text from the terminal: quoted, and behind a quote mark when it starts like a
        # formula (a spreadsheet would run it: OWASP's CSV injection lists = + - @, tab and
        # carriage return). Ids hold only letters, digits and . _ : - (no formula can call
        # anything with those). NULL is an empty field.
        formula = f"{first}(receipt_no) IN ({', '.join(str(ord(c)) for c in FORMULA_STARTS)})"
        guarded = f"CASE WHEN {formula} THEN {QUOTE_MARK} || receipt_no ELSE receipt_no END"
        return '"%s"', (
            f"CASE WHEN {find}(receipt_no, '\"') > 0 OR {formula} "
            f"THEN replace({guarded}, '\"', '\"\"') ELSE receipt_no END"
        )
    return "%s", name


CSV_FORMAT: Final = ",".join(_csv_field(c)[0] for c in COLUMNS) + "\n"
"""The ``format`` string of a CSV line (the first ``?`` of ``csv_query``)."""


def _lines_sql(by: By, expression: str) -> str:
    order = "received_at" if by == "received" else "occurred_at"
    return f"SELECT {expression} FROM events {_where(by)}ORDER BY {order}, pseq"  # noqa: S608


def csv_query(by: By, dialect: str = "sqlite") -> str:
    """The statement's SQL giving each line as CSV text with its newline (``?``:
    ``CSV_FORMAT``, shop, start, end): the database writes the CSV, Python only copies it out.

    One ``format`` call a line (SQLite's printf, PostgreSQL's format: ``%s``, NULL as empty
    text in both) costs the database half what a chain of ``||`` did."""
    fields = ", ".join(_csv_field(c, dialect)[1] for c in COLUMNS)
    return _lines_sql(by, f"format(?, {fields})")


Format = Literal["csv", "json", "text"]
"""What ``write`` prints: CSV, JSON lines (``--json``) or the operator's text."""
FALLBACK: Final = "\x1e"
"""Starts a JSON line the database could not write as ``json.dumps`` does (text outside
printable ASCII, which ``json.dumps`` escapes): the row as a JSON array, written by Python. A
line the database wrote has only printable ASCII, so never this character."""
JSON_FORMAT: Final = (
    '{"received_at": "%s", "occurred_at": %s, "terminal_id": "%s", "event_id": "%s", '
    '"kind": "%s", "voucher_id": "%s", "amount_cents": %s, "currency": %s, "voids": %s, '
    '"receipt_no": %s}\n'
)
"""A JSON line as ``json.dumps(dict(zip(COLUMNS, row)))`` writes it. Ids, kind, currency and
the platform's own times are quoted as they are (the protocol allows no quote, backslash or
control character in them); the terminal's texts are quoted by the database."""
TEXT_FORMAT: Final = "%s  %s  %s  %-13s  %14s%s\n"
"""Time, terminal, voucher, kind, amount (``cents_text``), what a void cancels."""
_TEXT_ARGS: Final = (
    "received_at, terminal_id, voucher_id, kind, "
    "(CASE WHEN amount_cents < 0 THEN '-' ELSE '' END) || CAST(abs(amount_cents) / 100 AS TEXT) "
    "|| '.' || substr(CAST(100 + abs(amount_cents) - abs(amount_cents) / 100 * 100 AS TEXT), 2) "
    "|| ' ' || currency, "
    "CASE WHEN voids IS NULL OR voids = '' THEN '' ELSE '  (cancels ' || voids || ')' END"
)


def _json_sql(dialect: str) -> str:
    """A JSON line (``JSON_FORMAT``), or the ``FALLBACK`` line when the terminal's texts hold
    a character ``json.dumps`` escapes and the database would not (beyond ASCII, DEL)."""
    texts = ("occurred_at", "receipt_no")
    names = ", ".join("id" if c == "event_id" else c for c in COLUMNS)
    if dialect == "postgresql":
        odd = " OR ".join(
            f"octet_length({t}) != length({t}) OR strpos({t}, chr(127)) > 0" for t in texts
        )
        quoted = {t: f"COALESCE(to_json({t})::text, 'null')" for t in texts}
        array = f"json_build_array({names})::text"
    else:
        odd = " OR ".join(
            f"length(CAST({t} AS BLOB)) != length({t}) OR instr({t}, char(127)) > 0" for t in texts
        )
        quoted = {t: f"json_quote({t})" for t in texts}
        array = f"json_array({names})"
    values = (
        f"received_at, {quoted['occurred_at']}, terminal_id, id, kind, voucher_id, "
        "COALESCE(CAST(amount_cents AS TEXT), 'null'), COALESCE('\"' || currency || '\"', 'null'), "
        f"COALESCE('\"' || voids || '\"', 'null'), {quoted['receipt_no']}"
    )
    return f"CASE WHEN {odd} THEN '{FALLBACK}' || {array} || '\n' ELSE format(?, {values}) END"


def lines_query(by: By, fmt: Format, dialect: str = "sqlite") -> str:
    """The statement's SQL giving each line as finished text with its newline, in ``fmt``
    (``?``: the format string ``FORMATS[fmt]``, shop, start, end)."""
    if fmt == "csv":
        return csv_query(by, dialect)
    if fmt == "json":
        return _lines_sql(by, _json_sql(dialect))
    return _lines_sql(by, f"format(?, {_TEXT_ARGS})")


FORMATS: Final[dict[str, str]] = {"csv": CSV_FORMAT, "json": JSON_FORMAT, "text": TEXT_FORMAT}


def totals_query(by: By) -> str:
    """The statement's totals: (currency, kind, lines, cents) rows (``?``: shop, start, end,
    twice).

    A statement in one currency (a city's, always) is one pass over the index with no
    sorting: counts and sums split by kind in the same aggregate. Only when the period
    holds several currencies (or none named) does the ``GROUP BY`` run, which sorts every
    line."""
    where = _where(by)
    return (
        "WITH one AS MATERIALIZED (SELECT min(currency) AS lo, max(currency) AS hi, "  # noqa: S608
        "COUNT(currency) AS priced, COUNT(*) AS n, "
        "SUM(CASE WHEN kind = 'void' THEN 1 ELSE 0 END) AS nv, "
        "SUM(CASE WHEN kind = 'void' THEN amount_cents ELSE 0 END) AS sv, "
        f"SUM(amount_cents) AS s FROM events {where}), "
        "single AS (SELECT * FROM one WHERE lo = hi AND priced = n) "
        "SELECT lo, 'void', nv, sv FROM single WHERE nv > 0 "
        "UNION ALL SELECT lo, 'voucher_spend', n - nv, s - sv FROM single WHERE n > nv "
        "UNION ALL SELECT currency, kind, COUNT(*), SUM(amount_cents) FROM events "
        f"{where}AND NOT EXISTS (SELECT 1 FROM single) GROUP BY currency, kind"
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
    sql, line_params = (
        (csv_query(by, store.dialect), [CSV_FORMAT, *params]) if for_csv else (query(by), params)
    )
    with store.stream(sql, line_params, first=(totals_query(by), params * 2)) as (head, rows):
        yield Totals.from_rows(head), rows


def write(
    store: PlatformStore,
    shop_id: str,
    first: date,
    last: date,
    fmt: Format,
    out: TextIO,
    by: By = "received",
) -> Totals:
    """Write the statement's lines in ``fmt`` to ``out``, from one snapshot, and return its
    totals: CSV under its header and with its total rows (``write_csv``); JSON or text lines
    only (the caller says the totals its own way).

    The database writes each line (``lines_query``); Python copies them out a page at a
    time, so a million lines cost no Python step each."""
    params = [shop_id, *bounds(first, last)]
    sql = lines_query(by, fmt, store.dialect)
    with store.stream(sql, [FORMATS[fmt], *params], first=(totals_query(by), params * 2)) as (
        head,
        rows,
    ):
        totals = Totals.from_rows(head)
        if fmt == "csv":
            write_csv(rows, totals, out)
        else:
            copy_lines(rows, out, fmt)
    return totals


COPY_PAGE: Final = 10_000
"""Lines joined into one write."""


def copy_lines(rows: Iterator[tuple[Any, ...]], out: TextIO, fmt: Format = "csv") -> None:
    """Write the text lines of ``lines_query`` (1-tuples), a page at a time; a JSON line the
    database left to Python (``FALLBACK``) is written here."""
    write = out.write
    raw = getattr(out, "buffer", None)
    if raw is not None:  # a text file: its bytes, without the text layer's newline pass
        out.flush()
        encoding, errors = out.encoding, out.errors or "strict"

        def write(text: str) -> int:
            return int(raw.write(text.encode(encoding, errors)))

    while text := "".join(map(itemgetter(0), islice(rows, COPY_PAGE))):
        if fmt == "json" and FALLBACK in text:
            text = "\n".join(map(_json_line, text.split("\n")))  # JSON has no raw newline
        write(text)


def _json_line(line: str) -> str:
    if not line.startswith(FALLBACK):
        return line
    return json.dumps(dict(zip(COLUMNS, json.loads(line[1:]), strict=True)))


def write_csv(rows: Iterator[tuple[Any, ...]], totals: Totals, out: TextIO) -> None:
    """Write the lines of ``lines(..., for_csv=True)`` as CSV under a header, then a total
    row per currency."""
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(COLUMNS)
    copy_lines(rows, out)
    for total in totals.by_currency.values():
        writer.writerow(("", "", "", "", "total", "", total.net_cents, total.currency, "", ""))


def cents_text(cents: int, currency: str) -> str:
    """An amount for the operator's screen: ``-12.50 EUR`` (no float ever)."""
    sign = "-" if cents < 0 else ""
    return f"{sign}{abs(cents) // 100}.{abs(cents) % 100:02d} {currency}"
