"""The embedded store: one SQLite file (WAL, ``synchronous=FULL``) for ``make run`` and towns.

Each thread has its own connection; a write is one ``BEGIN IMMEDIATE`` transaction, so SQLite
itself lets one writer in at a time while readers keep reading their snapshot (WAL): reads
never wait. Within one process the writers also queue on a lock of their own: SQLite's busy
handler makes a blocked writer sleep and retry (up to 100 ms a nap), which under a thousand
terminals costs far more than the writes; the lock hands the file over as soon as a commit
returns. It guards writes only, never a read. Several processes (``serve --workers N``) share
the file through SQLite's own locking and busy timeout: reads in parallel, writes one at a
time, so for SQLite one worker is the better choice (more only help reads).
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from city import vouchers as voucher_books
from city.migrations import KEYED_VOUCHERS, SQLITE, statements
from city.store import PlatformStore, Rows, Tx
from loyalty.db import private_file

BUSY_TIMEOUT_MS = 10_000


class SqliteTx:
    """A transaction on one SQLite connection."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn

    def execute(self, sql: str, params: Sequence[Any] = ()) -> Rows:
        """Run one statement."""
        return self.conn.execute(sql, params)

    def executemany(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        """Run one statement for each row."""
        self.conn.executemany(sql, rows)


class SqliteStore(PlatformStore):
    """The platform's database in one SQLite file."""

    dialect = "sqlite"

    def __init__(self, path: Path) -> None:
        self.path = path
        # Customer data: the file 0600 (SQLite gives its WAL and SHM the same mode), the
        # folder 0700, whatever the umask.
        private_file(path)
        self._local = threading.local()
        self._connections: list[sqlite3.Connection] = []
        self._registry = threading.Lock()  # guards the list of connections only
        self._writer = threading.Lock()  # one writer of this process at a time (see above)
        with self.write() as tx:
            migrate(tx)

    @property
    def where(self) -> str:
        """The database file."""
        return str(self.path)

    def _connection(self) -> sqlite3.Connection:
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            conn = sqlite3.connect(
                str(self.path), timeout=BUSY_TIMEOUT_MS / 1000, check_same_thread=False
            )
            conn.isolation_level = None
            conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
            conn.execute("PRAGMA journal_mode = WAL")
            conn.execute("PRAGMA synchronous = FULL")
            self._local.conn = conn
            with self._registry:
                self._connections.append(conn)
        return conn

    def close(self) -> None:
        """Close every thread's connection."""
        with self._registry:
            for conn in self._connections:
                conn.close()
            self._connections.clear()
        self._local = threading.local()

    @contextmanager
    def write(self) -> Iterator[Tx]:
        """One ``BEGIN IMMEDIATE`` transaction; committed when the block returns."""
        conn = self._connection()
        with self._writer:
            conn.execute("BEGIN IMMEDIATE")
            try:
                yield SqliteTx(conn)
            except BaseException:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                raise
            else:
                conn.execute("COMMIT")

    @contextmanager
    def read(self) -> Iterator[Tx]:
        """A consistent snapshot for reading (a deferred transaction; never waits in WAL)."""
        conn = self._connection()
        conn.execute("BEGIN")
        try:
            yield SqliteTx(conn)
        finally:
            if conn.in_transaction:
                conn.execute("COMMIT")


def migrate(tx: Tx) -> list[int]:
    """Apply the SQLite migrations not applied yet; return their versions."""
    tx.execute(
        "CREATE TABLE IF NOT EXISTS schema_migrations "
        "(version INTEGER PRIMARY KEY, applied_at TEXT NOT NULL)"
    )
    done = {int(r[0]) for r in tx.execute("SELECT version FROM schema_migrations").fetchall()}
    applied = []
    for version, script in SQLITE:
        if version in done:
            continue
        for statement in statements(script):
            tx.execute(statement)
        tx.execute(
            "INSERT INTO schema_migrations (version, applied_at) "
            "VALUES (?, strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))",
            [version],
        )
        applied.append(version)
        if version == KEYED_VOUCHERS:
            voucher_books.backfill_keys(tx)  # Python's scrypt: no SQL of either store has it
    return applied
