"""The ledger database: connections with the right pragmas, one writer, migrations, backups.

Every connection this code opens is in WAL mode with ``synchronous=FULL`` and a
``busy_timeout``; writes run in ``BEGIN IMMEDIATE`` transactions through one ``Store``
that any thread may call (a lock serialises them). Migrations are plain functions
registered in order and applied at open; ``PRAGMA integrity_check`` runs at open too.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import sqlite_utils

BUSY_TIMEOUT_MS = 5000

Migration = Callable[[sqlite_utils.Database], None]
MIGRATIONS: list[tuple[str, Migration]] = []


class DatabaseError(Exception):
    """The ledger database cannot be used; the message says why and what to do."""


class DatabaseDamaged(DatabaseError):
    """``PRAGMA integrity_check`` found damage."""


class DatabaseBusy(DatabaseError):
    """Another program held the database for longer than the busy timeout."""


def migration(name: str) -> Callable[[Migration], Migration]:
    """Register a schema migration; they run once each, in the order registered."""

    def register(fn: Migration) -> Migration:
        if any(existing == name for existing, _ in MIGRATIONS):
            raise ValueError(f"migration {name!r} registered twice")
        MIGRATIONS.append((name, fn))
        return fn

    return register


def run_script(db: sqlite_utils.Database, script: str) -> None:
    """Run several statements inside the current transaction.

    ``executescript`` would commit first, which would break the migration's transaction.
    """
    statement = ""
    for line in script.splitlines(keepends=True):
        statement += line
        if sqlite3.complete_statement(statement):
            db.execute(statement)
            statement = ""
    if statement.strip():
        raise ValueError(f"incomplete SQL statement: {statement.strip()[:60]}")


def connect(path: Path, *, synchronous: str = "FULL", readonly: bool = False) -> sqlite3.Connection:
    """Open one connection with WAL, the given ``synchronous`` level and a busy timeout.

    The connection is in driver autocommit mode: transactions are opened explicitly
    (``BEGIN IMMEDIATE`` for writes), so nothing commits behind the code's back.
    """
    if readonly:
        uri = f"file:{path}?mode=ro"
        conn = sqlite3.connect(
            uri, uri=True, timeout=BUSY_TIMEOUT_MS / 1000, check_same_thread=False
        )
    else:
        path.parent.mkdir(parents=True, exist_ok=True)
        conn = sqlite3.connect(str(path), timeout=BUSY_TIMEOUT_MS / 1000, check_same_thread=False)
    conn.isolation_level = None
    conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
    if not readonly:
        conn.execute("PRAGMA journal_mode = WAL")
    conn.execute(f"PRAGMA synchronous = {synchronous}")
    conn.execute("PRAGMA foreign_keys = ON")
    return conn


def utc_now() -> datetime:
    """The current UTC time (one place to read the clock)."""
    return datetime.now(UTC)


def iso(moment: datetime) -> str:
    """UTC time as stored: ISO 8601 with milliseconds and a Z."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def parse_iso(text: str) -> datetime:
    """Read a stored UTC time back."""
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


class Store:
    """The ledger file: one write connection behind a lock, read connections per thread."""

    def __init__(self, path: Path, *, synchronous: str = "FULL") -> None:
        self.path = path
        self.synchronous = synchronous
        self._write_conn = connect(path, synchronous=synchronous)
        self.db = sqlite_utils.Database(self._write_conn)
        self._lock = threading.RLock()
        self._local = threading.local()

    @classmethod
    def open(cls, path: Path, *, synchronous: str = "FULL", check: bool = True) -> Store:
        """Open (creating if needed), check integrity and apply pending migrations."""
        try:
            store = cls(path, synchronous=synchronous)
        except sqlite3.DatabaseError as exc:
            raise DatabaseError(
                f"cannot open the ledger {path}: {exc}. "
                "Check the disk and the file's permissions; "
                "restore the latest backup if it is damaged."
            ) from exc
        try:
            if check:
                store.integrity_check()
            store.migrate()
        except BaseException:
            store.close()
            raise
        return store

    def integrity_check(self) -> None:
        """Raise DatabaseDamaged unless ``PRAGMA integrity_check`` says ok."""
        try:
            rows = self._write_conn.execute("PRAGMA integrity_check").fetchall()
        except sqlite3.DatabaseError as exc:
            raise DatabaseDamaged(
                f"the ledger {self.path} is damaged ({exc}). "
                "Stop the terminal and restore the latest backup from the backups folder."
            ) from exc
        problems = [row[0] for row in rows if row[0] != "ok"]
        if problems:
            raise DatabaseDamaged(
                f"the ledger {self.path} is damaged: {problems[0]}. "
                "Stop the terminal and restore the latest backup from the backups folder."
            )

    def migrate(self) -> list[str]:
        """Apply the registered migrations not applied yet; return their names."""
        applied: list[str] = []
        with self.write() as db:
            db.execute(
                "CREATE TABLE IF NOT EXISTS _migrations"
                " (name TEXT PRIMARY KEY, applied_at TEXT NOT NULL)"
            )
            done = {row[0] for row in db.execute("SELECT name FROM _migrations").fetchall()}
            for name, fn in MIGRATIONS:
                if name in done:
                    continue
                fn(db)
                db.execute(
                    "INSERT INTO _migrations (name, applied_at) VALUES (?, ?)",
                    [name, iso(utc_now())],
                )
                applied.append(name)
        return applied

    def applied_migrations(self) -> list[str]:
        """Names of the migrations this file has."""
        return [r[0] for r in self.read().execute("SELECT name FROM _migrations ORDER BY rowid")]

    @contextmanager
    def write(self) -> Iterator[sqlite_utils.Database]:
        """One ``BEGIN IMMEDIATE`` transaction on the write connection; commit on success.

        When the block returns, the commit has returned: only then may the caller say
        "recorded". A ``write()`` inside another on the same thread becomes a savepoint of
        the outer transaction, so helpers that write can be composed into one commit.
        """
        with self._lock:
            if self._write_conn.in_transaction:
                with self.db.atomic():  # a savepoint inside the outer transaction
                    yield self.db
                return
            try:
                self._write_conn.execute("BEGIN IMMEDIATE")
            except sqlite3.OperationalError as exc:
                if "locked" in str(exc) or "busy" in str(exc):
                    raise DatabaseBusy(
                        f"the ledger {self.path} is busy (another program is writing to it). "
                        "Wait a moment and try again; if it persists, close the other program."
                    ) from exc
                raise
            try:
                yield self.db
            except BaseException:
                if self._write_conn.in_transaction:
                    self._write_conn.execute("ROLLBACK")
                raise
            else:
                self._write_conn.execute("COMMIT")

    def read(self) -> sqlite_utils.Database:
        """A read connection for the calling thread (WAL lets reads run beside the writer)."""
        db: sqlite_utils.Database | None = getattr(self._local, "db", None)
        if db is None:
            conn = connect(self.path, synchronous=self.synchronous)
            db = sqlite_utils.Database(conn)
            self._local.db = db
            with self._lock:
                self._readers.append(conn)
        return db

    @property
    def _readers(self) -> list[sqlite3.Connection]:
        readers: list[sqlite3.Connection] | None = self.__dict__.get("_reader_list")
        if readers is None:
            readers = []
            self.__dict__["_reader_list"] = readers
        return readers

    def pragma(self, name: str) -> Any:
        """Read one pragma on the write connection (tests check the settings with it)."""
        return self._write_conn.execute(f"PRAGMA {name}").fetchone()[0]

    def backup(self, dest: Path) -> Path:
        """An online backup to ``dest`` (consistent while the terminal keeps writing)."""
        dest.parent.mkdir(parents=True, exist_ok=True)
        target = sqlite3.connect(str(dest))
        try:
            with self._lock:
                self._write_conn.backup(target)
        finally:
            target.close()
        return dest

    def close(self) -> None:
        """Close every connection this store opened."""
        with self._lock:
            for conn in self._readers:
                conn.close()
            self._readers.clear()
            self._write_conn.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
