"""Who may touch a ledger file at once: flocks beside the database.

``<db>.sync.lock``: one sync at a time (the app's background sync and the nightly job).
``<db>.counter.lock``: held shared by every counter app while it runs, and exclusively while
the ledger file is replaced (``ledger restore``), so a restore never swaps the file under a
running app, which would go on recording into the copy set aside. Locks go away with the
process that held them, so a killed process never leaves a stale one behind.
"""

from __future__ import annotations

import fcntl
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


class SyncBusy(Exception):
    """Another sync of the same database is running."""

    code = "sync_busy"


def lock_path(db_path: Path) -> Path:
    """The lock file beside the ledger."""
    return db_path.with_name(db_path.name + ".sync.lock")


@contextmanager
def sync_lock(db_path: Path) -> Iterator[Path]:
    """Hold the database's sync lock, or raise SyncBusy at once (never wait)."""
    path = lock_path(db_path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise SyncBusy(
                "another sync is running for this ledger; this one stops without sending. "
                "Events stay pending and go with that sync or the next one."
            ) from None
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())
        try:
            yield path
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)


class CounterRunning(Exception):
    """A counter app has this ledger open."""

    code = "counter_running"


def counter_lock_path(db_path: Path) -> Path:
    """The counter apps' lock file beside the ledger."""
    return db_path.with_name(db_path.name + ".counter.lock")


@contextmanager
def _flock(path: Path, operation: int) -> Iterator[None]:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, operation)
        try:
            yield
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)


@contextmanager
def counter_open(db_path: Path) -> Iterator[None]:
    """Held by the counter app while it runs (shared: waits only for a restore to finish)."""
    with _flock(counter_lock_path(db_path), fcntl.LOCK_SH):
        yield


@contextmanager
def no_counter_open(db_path: Path) -> Iterator[None]:
    """Held while the ledger file is replaced; ``CounterRunning`` at once if an app has it."""
    try:
        with _flock(counter_lock_path(db_path), fcntl.LOCK_EX | fcntl.LOCK_NB):
            yield
    except BlockingIOError:
        raise CounterRunning(f"the counter app has {db_path} open") from None
