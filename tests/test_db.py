"""The ledger file: nested writes, append-only events, damage detection, migrations, backups."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

import loyalty.schema  # noqa: F401  (registers the migrations)
from loyalty.db import DatabaseBusy, DatabaseDamaged, DatabaseError, Store, connect


def test_nested_write_is_a_savepoint_of_the_outer_transaction(tmp_path: Path) -> None:
    with Store.open(tmp_path / "l.db") as store:
        with store.write() as db:
            db.execute("INSERT INTO meta (key, value) VALUES ('a', '1')")
            with pytest.raises(sqlite3.IntegrityError), store.write() as inner:
                inner.execute("INSERT INTO meta (key, value) VALUES ('b', '2')")
                inner.execute("INSERT INTO meta (key, value) VALUES ('a', 'dup')")
            with store.write() as inner:
                inner.execute("INSERT INTO meta (key, value) VALUES ('c', '3')")
        rows = store.read().execute("SELECT key FROM meta ORDER BY key").fetchall()
        assert rows == [("a",), ("c",)]


def test_failed_write_leaves_nothing(tmp_path: Path) -> None:
    with Store.open(tmp_path / "l.db") as store:
        with pytest.raises(RuntimeError), store.write() as db:
            db.execute("INSERT INTO meta (key, value) VALUES ('a', '1')")
            raise RuntimeError("power cut")
        assert store.read().execute("SELECT count(*) FROM meta").fetchone() == (0,)


def test_events_are_append_only(tmp_path: Path) -> None:
    with Store.open(tmp_path / "l.db") as store:
        with store.write() as db:
            db.execute(
                "INSERT INTO events (id, kind, terminal_id, shop_id, occurred_at, program_id)"
                " VALUES ('e1', 'stamp', 't', 's', '2026-01-01T00:00:00.000Z', 'p')"
            )
        for statement in ("UPDATE events SET stamps = 5", "DELETE FROM events"):
            with pytest.raises(sqlite3.IntegrityError, match="append-only"), store.write() as db:
                db.execute(statement)
        assert store.read().execute("SELECT count(*) FROM events").fetchone() == (1,)


def test_migrations_apply_once(tmp_path: Path) -> None:
    path = tmp_path / "l.db"
    with Store.open(path) as store:
        first = store.applied_migrations()
        assert first[0] == "0001_ledger"
    with Store.open(path) as store:
        assert store.migrate() == []
        assert store.applied_migrations() == first


def test_damaged_file_is_refused_with_what_to_do(tmp_path: Path) -> None:
    path = tmp_path / "l.db"
    with Store.open(path) as store, store.write() as db:
        for n in range(2000):
            db.execute("INSERT INTO meta (key, value) VALUES (?, ?)", [f"k{n}", "x" * 50])
    raw = bytearray(path.read_bytes())
    page = 4096
    for offset in range(2 * page, len(raw) - page, page):
        raw[offset + 8 : offset + 400] = b"\xa5" * 392  # scribble over b-tree pages
    path.write_bytes(bytes(raw))
    with pytest.raises(DatabaseError) as info:
        Store.open(path)
    assert isinstance(info.value, DatabaseDamaged) or "malformed" in str(info.value)
    assert "backup" in str(info.value)


def test_busy_database_gives_a_clear_refusal(tmp_path: Path) -> None:
    path = tmp_path / "l.db"
    with Store.open(path) as store:
        other = connect(path)
        other.execute("PRAGMA busy_timeout = 0")
        other.execute("BEGIN IMMEDIATE")
        store._write_conn.execute("PRAGMA busy_timeout = 50")
        try:
            with pytest.raises(DatabaseBusy, match="busy"), store.write():
                pass
        finally:
            other.execute("ROLLBACK")
            other.close()


def test_online_backup_is_a_working_copy(tmp_path: Path) -> None:
    with Store.open(tmp_path / "l.db") as store:
        with store.write() as db:
            db.execute("INSERT INTO meta (key, value) VALUES ('last_good_sync', 'x')")
        copy = store.backup(tmp_path / "backups" / "copy.db")
    with Store.open(copy) as restored:
        assert restored.read().execute("SELECT value FROM meta").fetchone() == ("x",)


def test_a_cancelled_integrity_check_stops_and_says_it_did_not_check(tmp_path: Path) -> None:
    import threading

    store = Store.open(tmp_path / "ledger.db")
    with store.write() as db:
        db.execute("CREATE TABLE filler (n INTEGER PRIMARY KEY, text TEXT)")
        db.execute(
            "WITH RECURSIVE r(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM r WHERE n < 20000) "
            "INSERT INTO filler SELECT n, printf('%0100d', n) FROM r"
        )
    stop = threading.Event()
    stop.set()
    assert store.integrity_check(cancel=stop) is False
    assert store.integrity_check(cancel=threading.Event()) is True
    assert store.integrity_check() is True  # the handler is gone: nothing left set
    store.close()
