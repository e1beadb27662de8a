"""Review of city vouchers end to end (reviewer R2): each test names a defect found and fails
without its fix. Platform tests run on both stores through ``tests.test_city_vouchers``'s
fixtures and the real ``citie-platform`` commands."""

from __future__ import annotations

import csv
import io
from pathlib import Path

from city import statement
from city.store import PlatformStore
from loyalty.db import iso, utc_now
from loyalty.programs import SHOP_TZ
from tests import test_city_vouchers as city_vouchers
from tests.test_city_vouchers import T1, Issued, cli, spend

# The platform fixtures (a store of each kind, its data folder), used by name.
target = city_vouchers.target
store = city_vouchers.store
data_dir = city_vouchers.data_dir


def today() -> str:
    return utc_now().astimezone(SHOP_TZ).date().isoformat()


def csv_statement(data_dir: Path) -> list[list[str]]:
    day = today()
    result = cli(data_dir, "statement", "--shop", "shop-a", "--from", day, "--to", day, "--csv")
    assert result.returncode == 0, result.stderr
    return list(csv.reader(io.StringIO(result.stdout)))


def test_an_event_time_only_pythons_reader_accepts_is_rejected(
    store: PlatformStore, data_dir: Path
) -> None:
    """Python 3.11's fromisoformat takes any character between the date and the time and after
    the seconds: '2026-11-25"10:00:00,Z' was accepted and stored as sent, so the statement's CSV
    line lost a column (the amount moved under ``currency``) and ``--by occurred`` compared it
    as text outside every day."""
    store.add_vouchers([Issued("CV-A", 5000)])
    now = iso(utc_now())
    odd = [
        now[:10] + '"' + now[11:19] + ",Z",
        now[:10] + " " + now[11:],
        now[:10] + "\n" + now[11:],
    ]
    fine = [now, now[:19] + "+00:00", now[:19] + ",5Z"]

    results = store.record_batch(
        T1, "b1", [spend("CV-A", 100, occurred_at=text) for text in odd + fine]
    )

    assert [(r.status, r.reason) for r in results] == [("rejected", "malformed")] * 3 + [
        ("accepted", None)
    ] * 3, [r.message for r in results]
    table = csv_statement(data_dir)
    assert all(len(line) == len(statement.COLUMNS) for line in table)
    assert [int(line[6]) for line in table[1:-1]] == [100, 100, 100]


def test_the_csv_statement_keeps_its_columns_and_guards_every_formula_start(
    store: PlatformStore, data_dir: Path
) -> None:
    """A time stored with a quote (by a platform before the strict time check) must not break
    its line, and a receipt number starting with a tab or a carriage return (OWASP's CSV
    injection list, beside = + - @) goes behind a quote mark like one starting with =."""
    store.add_vouchers([Issued("CV-A", 5000)])
    events = [
        spend("CV-A", 100, receipt_no="\t=1+2"),
        spend("CV-A", 200, receipt_no="\r=1+2"),
        spend("CV-A", 300),
    ]
    assert {r.status for r in store.record_batch(T1, "b1", events)} == {"accepted"}
    now = iso(utc_now())
    stored_before = now[:10] + '"' + now[11:19] + ",Z"
    with store.write() as tx:
        tx.execute(
            "UPDATE events SET occurred_at = ? WHERE id = ?", [stored_before, events[2]["id"]]
        )

    table = csv_statement(data_dir)

    assert all(len(line) == len(statement.COLUMNS) for line in table), table
    lines = table[1:-1]
    assert [int(line[6]) for line in lines] == [100, 200, 300]
    # (text mode reads the carriage return back as a newline)
    assert [line[9][:2] for line in lines] == ["'\t", "'\n", events[2]["receipt_no"][:2]]
    assert lines[2][1] == stored_before
