"""Migration 0005 widens ``events.kind`` in place and keeps every rule of the table."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

import loyalty.schema  # noqa: F401  (registers the migrations)
from loyalty import db as ledger_db
from loyalty.db import Store

_ROW = (
    "INSERT INTO events (id, kind, terminal_id, shop_id, occurred_at, card_id, program_id, "
    "stamps, receipt_no) VALUES (?, ?, 't', 's', '2026-01-01T00:00:00Z', 'c', 'p', 1, ?)"
)


def _ledger_before_0005(path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    before = [m for m in ledger_db.MIGRATIONS if m[0] < "0005"]
    monkeypatch.setattr(ledger_db, "MIGRATIONS", before)
    store = Store.open(path)
    with store.write() as db:
        db.execute(_ROW, ["a", "stamp", "t-1"])
        with pytest.raises(sqlite3.IntegrityError):
            db.execute(_ROW, ["v", "voucher_spend", "t-2"])
    store.close()
    monkeypatch.undo()


def test_old_ledger_takes_voucher_spends_and_keeps_its_rules(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "ledger.db"
    _ledger_before_0005(path, monkeypatch)
    store = Store.open(path)
    assert "0005_ledger_vouchers_staff" in store.applied_migrations()
    with store.write() as db:
        db.execute(_ROW, ["v", "voucher_spend", "t-2"])
    with pytest.raises(sqlite3.IntegrityError), store.write() as db:
        db.execute(_ROW, ["x", "bogus", "t-3"])
    with pytest.raises(sqlite3.IntegrityError, match="append-only"), store.write() as db:
        db.execute("DELETE FROM events WHERE id = 'a'")
    read = store.read()
    assert read.execute(
        "SELECT id, kind, voucher_id, staff_id FROM events ORDER BY seq"
    ).fetchall() == [
        ("a", "stamp", None, None),
        ("v", "voucher_spend", None, None),
    ]
    assert read.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
    store.close()


def test_migrations_run_in_the_order_of_their_numbers() -> None:
    # They run in the order registered; a file read top to bottom should say the same.
    names = [name for name, _ in ledger_db.MIGRATIONS]
    assert names == sorted(names)
    assert len({name[:4] for name in names}) == len(names), "one number, one migration"
