"""One sync at a time per database: an flock on ``<db>.sync.lock``.

The app's background sync and the nightly job both take it; the lock goes away with the
process that held it, so a killed sync never leaves a stale lock behind.
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
