"""Issue 10, part A: the ledger never says "recorded" for something it did not keep.

Everything runs on real SQLite files; a full disk is a real SQLite ``max_page_count`` limit
(the only fake is the hook that sets that per-connection pragma inside a CLI command).
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import loyalty.db
import loyalty.schema  # registers the migrations
from loyalty.db import DatabaseWriteFailed, Store
from loyalty.ledger import Ledger
from loyalty.programs import Program
from tests.counter_kit import Counter

PROGRAM = Program(id="coffee", reward_threshold=3, max_stamps_per_day=1000)


@pytest.fixture
def counter(tmp_path: Path) -> Counter:
    return Counter.made(tmp_path)


def fill_to_the_brim(store: Store) -> None:
    """Fill the pages the file has: stamps for new cards, then meta rows, big ones first."""
    ledger = Ledger(store, shop_id="s", terminal_id="fill")
    try:
        for n in range(10_000):
            ledger.stamp(f"CT-FILL-{n}", PROGRAM)
    except DatabaseWriteFailed:
        pass
    n = 0
    for size in (3000, 300, 30, 1):
        while True:
            try:
                with store.write() as db:
                    db.execute("INSERT INTO meta (key, value) VALUES (?, ?)", [f"f{n}", "x" * size])
            except DatabaseWriteFailed:
                break
            n += 1


@pytest.fixture
def full_disk(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Every connection opened meanwhile may not grow the file: a real SQLITE_FULL."""
    real = loyalty.db.connect

    def connect(path: Path, **kwargs: Any) -> sqlite3.Connection:
        conn = real(path, **kwargs)
        pages = conn.execute("PRAGMA page_count").fetchone()[0]
        conn.execute(f"PRAGMA max_page_count = {max(pages, 1)}")
        return conn

    monkeypatch.setattr(loyalty.db, "connect", connect)
    yield


# --- A1: a failed COMMIT -------------------------------------------------------------------


def test_failed_commit_is_rolled_back_refused_and_the_store_stays_usable(tmp_path: Path) -> None:
    path = tmp_path / "l.db"
    with Store.open(path) as store:
        with store.write() as db:
            # A deferred constraint is checked at COMMIT: the COMMIT itself fails.
            db.execute("CREATE TABLE parent (id INTEGER PRIMARY KEY)")
            db.execute(
                "CREATE TABLE child (parent_id INTEGER "
                "REFERENCES parent(id) DEFERRABLE INITIALLY DEFERRED)"
            )
        with (
            pytest.raises(DatabaseWriteFailed, match="Nothing was recorded") as info,
            store.write() as db,
        ):
            db.execute("INSERT INTO meta (key, value) VALUES ('lost', '1')")
            db.execute("INSERT INTO child (parent_id) VALUES (42)")
        assert "FOREIGN KEY" in str(info.value)
        assert info.value.text("fr").startswith("Rien n'a été enregistré")
        assert not store._write_conn.in_transaction
        # The next write is a transaction of its own, committed, not a savepoint of a
        # transaction that never commits.
        with store.write() as db:
            db.execute("INSERT INTO meta (key, value) VALUES ('kept', '1')")
    with Store.open(path) as reopened:
        rows = reopened.read().execute("SELECT key FROM meta ORDER BY key").fetchall()
    assert rows == [("kept",)]


def test_full_database_refuses_the_stamp_and_the_next_one_is_kept(tmp_path: Path) -> None:
    path = tmp_path / "ledger.db"
    store = Store.open(path)
    ledger = Ledger(store, shop_id="s", terminal_id="t1")
    ledger.stamp("CT-0", PROGRAM)
    pages = store.pragma("page_count")
    store._write_conn.execute(f"PRAGMA max_page_count = {pages}")
    fill_to_the_brim(store)
    recorded = int(store.read().execute("SELECT COUNT(*) FROM events").fetchone()[0])
    with pytest.raises(DatabaseWriteFailed, match="database or disk is full"):
        for n in range(1, 200):
            ledger.stamp(f"CT-{n}", PROGRAM)
            recorded += 1
    assert not store._write_conn.in_transaction
    store._write_conn.execute("PRAGMA max_page_count = 1073741823")  # space is back
    after = ledger.stamp("CT-after", PROGRAM)
    store.close()
    with Store.open(path) as reopened:
        count = reopened.read().execute("SELECT COUNT(*) FROM events").fetchone()[0]
        kept = reopened.read().execute("SELECT id FROM events ORDER BY seq DESC LIMIT 1")
        assert count == recorded + 1
        assert kept.fetchone()[0] == after.event.id
        assert Ledger(reopened, shop_id="s", terminal_id="t1").check().ok


def test_cli_stamp_on_a_full_disk_refuses_and_never_says_recorded(
    counter: Counter, full_disk: None
) -> None:
    with Store.open(counter.ledger_path) as store:
        fill_to_the_brim(store)
    before = counter.events()
    for _ in range(30):  # a stamp may still fit in the last free bytes of a page
        _card_id, code = counter.card()
        result = counter.run("stamp", code)
        if result.exit_code != 0:
            break
        assert result.stdout.startswith("recorded: stamp")
        before += 1
    assert result.exit_code == 3, result.output
    assert "recorded" not in result.stdout
    assert result.stderr.startswith("refused: database_error: Nothing was recorded"), result.stderr
    assert "database or disk is full" in result.stderr
    assert "Traceback" not in result.output
    assert counter.events() == before


def test_cli_stamp_after_space_returns_is_kept(counter: Counter) -> None:
    with Store.open(counter.ledger_path) as store:
        store._write_conn.execute(f"PRAGMA max_page_count = {store.pragma('page_count')}")
        fill_to_the_brim(store)
    # The limit was that connection's: the disk has room again for the next command.
    _card_id, code = counter.card()
    before = counter.events()
    result = counter.run("stamp", code)
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("recorded: stamp till-2-")
    assert counter.events() == before + 1


# --- B11: keys import on a full disk -------------------------------------------------------


def test_keys_import_on_a_full_disk_refuses_cleanly(
    counter: Counter, full_disk: None, tmp_path: Path
) -> None:
    with Store.open(counter.ledger_path) as store:
        fill_to_the_brim(store)
    for _ in range(60):  # more keys than one page holds: the import must grow the file
        counter.issuer.rotate()
    trust_file = tmp_path / "trust.json"
    trust_file.write_text(json.dumps(counter.issuer.trust_list().to_json()))
    result = counter.run("keys", "import", str(trust_file))
    assert result.exit_code == 3, result.output
    assert result.stderr.startswith("refused: database_error: Nothing was recorded"), result.stderr
    assert "Traceback" not in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)


# --- A3: opening the ledger is instant -----------------------------------------------------


@pytest.fixture
def statements(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every SQL statement run on connections the ledger code opens meanwhile."""
    seen: list[str] = []
    real = loyalty.db.connect

    def connect(path: Path, **kwargs: Any) -> sqlite3.Connection:
        conn = real(path, **kwargs)
        conn.set_trace_callback(seen.append)
        return conn

    monkeypatch.setattr(loyalty.db, "connect", connect)
    return seen


def test_opening_runs_no_full_check_and_writes_nothing(
    counter: Counter, statements: list[str]
) -> None:
    _card_id, code = counter.card()
    result = counter.run("balance", code)
    assert result.exit_code == 0, result.output
    assert statements
    checks = [s for s in statements if "integrity_check" in s or "quick_check" in s]
    assert not checks, checks
    # An up-to-date ledger opens without a write transaction (no lock, no fsync).
    assert not [s for s in statements if s.startswith("BEGIN")], statements
    statements.clear()
    check = counter.run("ledger", "check")
    assert check.exit_code == 0, check.output
    assert [s for s in statements if "integrity_check" in s]


def test_background_integrity_check_raises_damaged(tmp_path: Path) -> None:
    path = tmp_path / "l.db"
    with Store.open(path) as store, store.write() as db:
        for n in range(2000):
            db.execute("INSERT INTO meta (key, value) VALUES (?, ?)", [f"k{n}", "x" * 50])
    raw = bytearray(path.read_bytes())
    # Scribble over the last pages (meta rows): opening never reads them, the full check does.
    for offset in range(len(raw) - 12 * 4096, len(raw) - 4096, 4096):
        raw[offset + 8 : offset + 400] = b"\xa5" * 392
    path.write_bytes(bytes(raw))
    store = Store.open(path)
    try:
        with pytest.raises(loyalty.db.DatabaseDamaged, match="restore the latest backup"):
            store.integrity_check()
    finally:
        store.close()
