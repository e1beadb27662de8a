"""The ledger database: connections with the right pragmas, one writer, migrations, backups.

Every connection this code opens is in WAL mode with ``synchronous=FULL`` and a
``busy_timeout``; writes run in ``BEGIN IMMEDIATE`` transactions through one ``Store``
that any thread may call (a lock serialises them). Migrations are plain functions
registered in order and applied at open. Opening checks only what is cheap (the file is a
SQLite database holding a ledger); the full ``PRAGMA integrity_check`` is
``Store.integrity_check()``, run by ``ledger check``, the nightly job and the app in the
background. The ledger file, its WAL and SHM and the backups are created 0600 in 0700
folders whatever the umask: they hold customer data.
"""

from __future__ import annotations

import math
import os
import sqlite3
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Final

import sqlite_utils

from loyalty.i18n import Catalog

BUSY_TIMEOUT_MS = 5000
SQLITE_HEADER: Final = b"SQLite format 3\x00"
PRIVATE_FILE: Final = 0o600
PRIVATE_DIR: Final = 0o700

Migration = Callable[[sqlite_utils.Database], None]
MIGRATIONS: list[tuple[str, Migration]] = []

CATALOG = Catalog("db", "loyalty", "db")


class DatabaseError(Exception):
    """The ledger database cannot be used; the message says why and what to do.

    ``text(language)`` gives the sentence in the counter's language when the error has a
    catalog entry, else the English message.
    """

    def __init__(self, message: str, *, key: str | None = None, **params: Any) -> None:
        super().__init__(message)
        self.key = key
        self.params = params

    def text(self, language: str) -> str:
        """The sentence for the person at the counter."""
        if self.key is None:
            return str(self)
        return CATALOG.text(self.key, language, **self.params)


class DatabaseDamaged(DatabaseError):
    """``PRAGMA integrity_check`` found damage."""


class DatabaseBusy(DatabaseError):
    """Another program held the database for longer than the busy timeout."""


class DatabaseWriteFailed(DatabaseError):
    """A write (or its COMMIT) failed and was rolled back: nothing of it was kept."""


class LedgerLost(DatabaseError):
    """An initialised terminal's ledger file is missing, empty or not a ledger."""

    backup_key: str = "db.no_backup"
    backup_params: dict[str, str] = {}  # noqa: RUF012  (replaced per instance, never mutated)

    def text(self, language: str) -> str:
        """What happened and which backup to restore, in the counter's language."""
        if self.key is None:
            return str(self)
        backup = CATALOG.text(self.backup_key, language, **self.backup_params)
        return CATALOG.text(self.key, language, **self.params, backup=backup)


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


def private_dir(path: Path) -> Path:
    """Create ``path`` (and missing parents) 0700; a folder this code creates is private."""
    missing: list[Path] = []
    current = path
    while not current.exists():
        missing.append(current)
        if current.parent == current:
            break
        current = current.parent
    path.mkdir(mode=PRIVATE_DIR, parents=True, exist_ok=True)
    for made in missing:
        # mkdir's mode goes through the umask; chmod does not.
        os.chmod(made, PRIVATE_DIR)
    return path


def private_file(path: Path) -> Path:
    """Create ``path`` empty and 0600 if it is not there (SQLite then keeps that mode)."""
    private_dir(path.parent)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, PRIVATE_FILE)
    except FileExistsError:
        # A file made before files were private: close it now (SQLite then makes new
        # WAL and SHM files with the same mode).
        with suppress(OSError):
            mode = path.stat().st_mode
            if mode & 0o077 and path.stat().st_uid == os.getuid():
                os.chmod(path, PRIVATE_FILE)
        return path
    try:
        os.fchmod(fd, PRIVATE_FILE)
    finally:
        os.close(fd)
    return path


def connect(path: Path, *, synchronous: str = "FULL", readonly: bool = False) -> sqlite3.Connection:
    """Open one connection with WAL, the given ``synchronous`` level and a busy timeout.

    The connection is in driver autocommit mode: transactions are opened explicitly
    (``BEGIN IMMEDIATE`` for writes), so nothing commits behind the code's back. A file it
    creates is 0600; SQLite gives the WAL and SHM files the database file's mode.
    """
    if readonly:
        uri = f"file:{path}?mode=ro"
        conn = sqlite3.connect(
            uri, uri=True, timeout=BUSY_TIMEOUT_MS / 1000, check_same_thread=False
        )
    else:
        private_file(path)
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


def ledger_file_problem(path: Path) -> str | None:
    """What is wrong with an existing terminal's ledger file, cheaply; None when it looks fine.

    ``missing``, ``empty`` (0 bytes: a new SQLite file would silently be an empty ledger),
    ``not_sqlite`` (no SQLite header) or ``not_ledger`` (SQLite without the ledger's tables).
    Reads the 16-byte header and the schema table only, so it costs nothing on a big file.
    """
    try:
        with path.open("rb") as handle:
            header = handle.read(len(SQLITE_HEADER))
    except FileNotFoundError:
        return "missing"
    except IsADirectoryError:
        return "not_sqlite"
    if not header:
        return "empty"
    if header != SQLITE_HEADER:
        return "not_sqlite"
    names = _table_names(path)
    if names is None:
        # Busy, or damaged past the header: opening it says which, with what to do.
        return None
    if not {"_migrations", "events", "outbox"} <= names:
        return "not_ledger"
    return None


def _table_names(path: Path) -> set[str] | None:
    """The tables of the SQLite file at ``path`` (read-only); None when it cannot be read."""
    try:
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=BUSY_TIMEOUT_MS / 1000)
        try:
            rows = conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'").fetchall()
        finally:
            conn.close()
    except sqlite3.DatabaseError:
        return None
    return {str(row[0]) for row in rows}


def _foreign(path: Path) -> bool:
    """A SQLite file with tables but no ledger bookkeeping: someone else's, leave it alone."""
    names = _table_names(path)
    if not names:
        return False  # not SQLite at all (opening says so), or a new file without tables
    return "_migrations" not in names


class Store:
    """The ledger file: one write connection behind a lock, read connections per thread."""

    def __init__(self, path: Path, *, synchronous: str = "FULL") -> None:
        self.path = path
        self.synchronous = synchronous
        self._write_conn = connect(path, synchronous=synchronous)
        self.db = sqlite_utils.Database(self._write_conn)
        self._lock = threading.RLock()
        self._local = threading.local()
        self._readers: list[sqlite3.Connection] = []
        # How deep the calling thread is in write() blocks: the nesting is ours to know,
        # never guessed from ``in_transaction`` (a failed COMMIT leaves that True).
        self._depth = threading.local()

    @classmethod
    def open(cls, path: Path, *, synchronous: str = "FULL", check: bool = False) -> Store:
        """Open (creating if needed) and apply pending migrations; ``check``: full check too.

        Opening reads the header and schema only, so it is instant on any size of ledger;
        ``check=True`` also runs the full ``PRAGMA integrity_check`` (seconds on a big file).
        """
        if path.is_file() and path.stat().st_size == 0:
            # An empty file is a lost ledger (truncated, or a failed copy), never a new one:
            # SQLite would silently make it an empty ledger and the events would be forgotten.
            raise LedgerLost(
                f"the ledger {path} is empty (0 bytes): it is not a new ledger. Restore the "
                "newest backup with `citie-terminal ledger restore FILE`, or remove the file "
                "if this terminal never recorded anything."
            )
        if path.is_file() and _foreign(path):
            raise LedgerLost(
                f"the file {path} is a SQLite database but not a ledger (it has no "
                "_migrations table); nothing was changed in it. Check the [storage] settings, "
                "or restore the newest backup with `citie-terminal ledger restore FILE`."
            )
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
        except sqlite3.DatabaseError as exc:
            store.close()
            raise DatabaseDamaged(
                f"the ledger {path} cannot be read ({exc}). "
                "Stop the terminal and restore the latest backup from the backups folder."
            ) from exc
        except BaseException:
            store.close()
            raise
        return store

    def integrity_check(self, *, cancel: threading.Event | None = None) -> bool:
        """Raise DatabaseDamaged unless ``PRAGMA integrity_check`` says ok; True when checked.

        Reads on the calling thread's own connection, so a background check does not hold
        the write lock. ``cancel`` (set from any thread) stops the check within a few
        thousand SQLite steps and returns False (nothing was found, nothing was checked):
        on a big ledger the check takes minutes, and the app must not wait for it to quit.
        """
        conn = self.read().conn
        if cancel is not None:
            conn.set_progress_handler(lambda: int(cancel.is_set()), 1000)
        try:
            rows = conn.execute("PRAGMA integrity_check").fetchall()
        except sqlite3.DatabaseError as exc:
            interrupted = isinstance(exc, sqlite3.OperationalError) and "interrupt" in str(exc)
            if interrupted and cancel is not None and cancel.is_set():
                return False
            raise DatabaseDamaged(
                f"the ledger {self.path} is damaged ({exc}). "
                "Stop the terminal and restore the latest backup from the backups folder."
            ) from exc
        finally:
            if cancel is not None:
                conn.set_progress_handler(None, 0)
        problems = [row[0] for row in rows if row[0] != "ok"]
        if problems:
            raise DatabaseDamaged(
                f"the ledger {self.path} is damaged: {problems[0]}. "
                "Stop the terminal and restore the latest backup from the backups folder."
            )
        return True

    def _pending_migrations(self, db: sqlite_utils.Database) -> list[str]:
        tables = db.execute(
            "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = '_migrations'"
        ).fetchone()
        if tables is None:
            return [name for name, _ in MIGRATIONS]
        done = {row[0] for row in db.execute("SELECT name FROM _migrations").fetchall()}
        return [name for name, _ in MIGRATIONS if name not in done]

    def migrate(self) -> list[str]:
        """Apply the registered migrations not applied yet; return their names."""
        # A read first: an up-to-date ledger opens without taking the write lock or an fsync.
        if not self._pending_migrations(self.db):
            return []
        applied: list[str] = []
        with self.write() as db:
            db.execute(
                "CREATE TABLE IF NOT EXISTS _migrations"
                " (name TEXT PRIMARY KEY, applied_at TEXT NOT NULL)"
            )
            pending = set(self._pending_migrations(db))
            for name, fn in MIGRATIONS:
                if name not in pending:
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
        the outer transaction, so helpers that write can be composed into one commit. When
        a statement or the COMMIT fails (disk full, I/O error), the transaction is rolled
        back and ``DatabaseWriteFailed`` says nothing was kept; the store stays usable.
        """
        with self._lock:
            depth: int = getattr(self._depth, "n", 0)
            if depth:
                self._depth.n = depth + 1
                try:
                    with self.db.atomic():  # a savepoint inside the outer transaction
                        yield self.db
                finally:
                    self._depth.n = depth
                return
            if self._write_conn.in_transaction:
                # Left open by something outside write(): never build on a transaction that
                # may never commit.
                self._rollback()
            try:
                self._write_conn.execute("BEGIN IMMEDIATE")
            except sqlite3.OperationalError as exc:
                if "locked" in str(exc) or "busy" in str(exc):
                    raise DatabaseBusy(
                        f"the ledger {self.path} is busy (another program is writing to it). "
                        "Wait a moment and try again; if it persists, close the other program."
                    ) from exc
                raise self._write_failed(exc) from exc
            self._depth.n = 1
            try:
                yield self.db
            except BaseException as exc:
                self._rollback()
                # Integrity errors (append-only, unique) are the caller's to read; a failure
                # of the file itself becomes one clear refusal.
                if type(exc) in (sqlite3.OperationalError, sqlite3.DatabaseError):
                    raise self._write_failed(exc) from exc  # type: ignore[arg-type]
                raise
            else:
                try:
                    self._write_conn.execute("COMMIT")
                except sqlite3.Error as exc:
                    # A failed COMMIT may leave the transaction open: roll it back so the
                    # next write starts clean instead of nesting in a doomed transaction.
                    self._rollback()
                    raise self._write_failed(exc) from exc
            finally:
                self._depth.n = 0

    def _write_failed(self, exc: sqlite3.Error) -> DatabaseWriteFailed:
        cause = str(exc) or type(exc).__name__
        return DatabaseWriteFailed(
            CATALOG.text("db.write_failed", "en", path=self.path, cause=cause),
            key="db.write_failed",
            path=str(self.path),
            cause=cause,
        )

    def _rollback(self) -> None:
        """Roll back whatever is open; reconnect if even that fails."""
        if not self._write_conn.in_transaction:
            return
        with suppress(sqlite3.Error):
            self._write_conn.execute("ROLLBACK")
        if self._write_conn.in_transaction:
            self._write_conn.close()
            self._write_conn = connect(self.path, synchronous=self.synchronous)
            self.db = sqlite_utils.Database(self._write_conn)

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

    def pragma(self, name: str) -> Any:
        """Read one pragma on the write connection (tests check the settings with it)."""
        return self._write_conn.execute(f"PRAGMA {name}").fetchone()[0]

    def backup(self, dest: Path) -> Path:
        """An online, consistent copy at ``dest`` (0600), made while the terminal keeps writing.

        The copy is read from one snapshot on a connection of its own, so the counter's
        writes go on meanwhile (WAL); it is written to a temporary name, synced, then renamed.
        """
        private_dir(dest.parent)
        tmp = dest.with_name(dest.name + ".tmp")
        tmp.unlink(missing_ok=True)
        private_file(tmp)
        source = connect(self.path, synchronous=self.synchronous)
        try:
            target = sqlite3.connect(str(tmp))
            try:
                source.backup(target)
            finally:
                target.close()
        finally:
            source.close()
        fd = os.open(tmp, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, dest)
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


def check_backup(path: Path) -> None:
    """Raise DatabaseError unless ``path`` is a readable, undamaged ledger (full check)."""
    problem = ledger_file_problem(path)
    if problem is not None:
        raise DatabaseError(
            f"{path} cannot be restored: it is {problem.replace('_', ' ')}. "
            "Choose another backup from the backups folder."
        )
    try:
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=BUSY_TIMEOUT_MS / 1000)
        try:
            rows = conn.execute("PRAGMA integrity_check").fetchall()
        finally:
            conn.close()
    except sqlite3.DatabaseError as exc:
        rows = [(str(exc),)]
    problems = [str(row[0]) for row in rows if row[0] != "ok"]
    if problems:
        raise DatabaseDamaged(
            f"{path} cannot be restored: it is damaged ({problems[0]}). "
            "Choose another backup from the backups folder."
        )


def set_aside(path: Path, moment: datetime) -> Path | None:
    """Rename the ledger at ``path`` and its -wal/-shm to ``<name>.damaged-<UTC time>``.

    Nothing is deleted: the bytes stay there for whoever wants to rescue them. Returns the
    new name of the ledger file (None when there was nothing to keep).
    """
    stamp = moment.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")
    base = path.with_name(f"{path.name}.damaged-{stamp}")
    n = 1
    while any(Path(f"{base}{tail}").exists() for tail in ("", "-wal", "-shm")):
        n += 1
        base = path.with_name(f"{path.name}.damaged-{stamp}-{n}")
    kept: Path | None = None
    for tail in ("", "-wal", "-shm"):
        source = Path(f"{path}{tail}")
        if source.exists():
            os.replace(source, Path(f"{base}{tail}"))
            if not tail:
                kept = base
    if kept is None and Path(f"{base}-wal").exists():
        kept = Path(f"{base}-wal")
    return kept


def restore(backup: Path, path: Path, *, moment: datetime | None = None) -> Path | None:
    """Put ``backup`` in place as the ledger at ``path``; return where the old file was kept.

    The backup is checked in full first; the current file (damaged, empty or good) and its
    -wal/-shm are renamed aside before anything is written, and the copy lands under a
    temporary name, synced, then renamed, so a crash leaves either the old or the new file.
    Migrations are applied to the restored ledger. Outbox rows it holds as pending (or in
    flight) are sent again at the next sync; the platform's dedupe answers "duplicate" for
    those it already has.
    """
    check_backup(backup)
    private_dir(path.parent)
    tmp = path.with_name(path.name + ".restoring")
    tmp.unlink(missing_ok=True)
    private_file(tmp)
    with backup.open("rb") as source, tmp.open("r+b") as target:
        while chunk := source.read(1 << 20):
            target.write(chunk)
        target.flush()
        os.fsync(target.fileno())
    moment = moment or utc_now()
    kept = set_aside(path, moment)
    os.replace(tmp, path)
    with Store.open(path) as store:
        _skip_lost_numbers(store, kept, moment)
    return kept


RECEIPT_JUMP = 1000
"""After a restore, event numbers (and so receipt numbers) go on from a multiple of this."""


def _skip_lost_numbers(store: Store, kept: Path | None, moment: datetime) -> None:
    """Number the next events past any the backup does not hold.

    Events recorded after the backup was made are gone from the restored ledger, but their
    receipt numbers (``<terminal>-<seq>``) may be on slips in customers' hands and on the
    platform. The next number is past the highest of: what the file set aside still shows
    (when it can be read), and twice the backup's recent daily pace over the days since its
    newest event; rounded up to a thousand so the jump is plain on the slips.
    """
    db = store.read()
    top, newest = db.execute(
        "SELECT COALESCE(MAX(seq), 0), MAX(occurred_at) FROM events"
    ).fetchone()
    floor = int(top)
    if kept is not None:
        with suppress(sqlite3.Error, OSError):
            # immutable: the file set aside and its -wal/-shm are evidence, never touched
            # (a plain read-only open may still check the WAL and delete it when closing).
            conn = sqlite3.connect(f"{kept.absolute().as_uri()}?mode=ro&immutable=1", uri=True)
            try:
                row = conn.execute("SELECT MAX(seq) FROM events").fetchone()
                floor = max(floor, int(row[0] or 0))
            finally:
                conn.close()
    if newest is not None:
        last = parse_iso(newest)
        week = db.execute(
            "SELECT COUNT(*) FROM events WHERE occurred_at >= ?", [iso(last - timedelta(days=7))]
        ).fetchone()[0]
        days = max(1, math.ceil((moment - last).total_seconds() / 86400))
        floor = max(floor, int(top) + math.ceil(2 * int(week) / 7 * days))
    if floor == 0:
        return
    target = (floor // RECEIPT_JUMP + 1) * RECEIPT_JUMP
    with store.write() as w:
        w.execute("DELETE FROM sqlite_sequence WHERE name = 'events'")
        w.execute("INSERT INTO sqlite_sequence (name, seq) VALUES ('events', ?)", [target])


def lost_ledger(path: Path, problem: str, newest_backup: Path | None, folder: Path) -> LedgerLost:
    """The refusal for an initialised terminal whose ledger is ``problem`` (see above)."""
    if newest_backup is None:
        backup_line = CATALOG.text("db.no_backup", "en", folder=folder)
        backup_key, backup_params = "db.no_backup", {"folder": str(folder)}
    else:
        backup_line = CATALOG.text("db.restore_from", "en", backup=newest_backup)
        backup_key, backup_params = "db.restore_from", {"backup": str(newest_backup)}
    key = {"missing": "db.lost_missing", "empty": "db.lost_empty"}.get(
        problem, "db.lost_not_ledger"
    )
    cause = problem.replace("_", " ")
    error = LedgerLost(
        CATALOG.text(key, "en", path=path, cause=cause, backup=backup_line),
        key=key,
        path=str(path),
        cause=cause,
    )
    error.backup_key = backup_key
    error.backup_params = backup_params
    return error
