"""The production store: PostgreSQL through psycopg 3 and a connection pool.

Each transaction borrows a pooled connection. Writes run at READ COMMITTED and lock what they
change (balances ``FOR UPDATE``, the version counter's row last, just before the commit); reads
run in a REPEATABLE READ, READ ONLY snapshot and never wait for writes. Statements are the
shared SQL of ``city.store`` with ``?`` turned into ``%s``.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from functools import lru_cache
from typing import Any

import psycopg
from psycopg import errors
from psycopg_pool import ConnectionPool

from city import vouchers as voucher_books
from city.migrations import KEYED_VOUCHERS, POSTGRES, statements
from city.store import (
    EVENT_COLUMNS,
    STREAM_PAGE,
    PlatformStore,
    Query,
    Retry,
    Rows,
    Tx,
    redact,
)

POOL_SIZE = 8
"""Connections per platform process (``serve --workers N`` opens up to N times as many)."""
CONNECT_TIMEOUT = 10.0

_EVENT_TYPES = {
    "seq": "bigint",
    "stamps": "bigint",
    "amount_cents": "bigint",
    "overdraft": "integer",
}


@lru_cache(maxsize=512)
def _pg(sql: str) -> str:
    return sql.replace("?", "%s")


class PostgresTx:
    """A transaction on one pooled connection."""

    def __init__(self, conn: psycopg.Connection[Any]) -> None:
        self.conn = conn

    def execute(self, sql: str, params: Sequence[Any] = ()) -> Rows:
        """Run one statement."""
        return self.conn.execute(_pg(sql), list(params) if params else None)

    def executemany(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        """Run one statement for each row (pipelined by psycopg)."""
        with self.conn.cursor() as cursor:
            cursor.executemany(_pg(sql), rows)


class PostgresStore(PlatformStore):
    """The platform's database on a PostgreSQL server."""

    dialect = "postgresql"
    for_update = " FOR UPDATE"
    retryable = (Retry, errors.DeadlockDetected, errors.SerializationFailure)

    def __init__(self, url: str, *, pool_size: int = POOL_SIZE) -> None:
        self.url = url
        self.pool: ConnectionPool[psycopg.Connection[Any]] = ConnectionPool(
            url,
            min_size=1,
            max_size=max(1, pool_size),
            kwargs={"autocommit": True},
            open=False,
            name="citie-platform",
        )
        self.pool.open(wait=True, timeout=CONNECT_TIMEOUT)
        try:
            with self.write() as tx:
                migrate(tx)
        except BaseException:
            self.pool.close()
            raise

    @property
    def where(self) -> str:
        """The URL without its password."""
        return redact(self.url)

    def close(self) -> None:
        """Close the pool."""
        self.pool.close()

    @contextmanager
    def write(self) -> Iterator[Tx]:
        """One READ COMMITTED transaction; committed when the block returns."""
        with self.pool.connection() as conn, conn.transaction():
            yield PostgresTx(conn)

    @contextmanager
    def lookup(self) -> Iterator[Tx]:
        """A pooled connection in autocommit: each statement is its own snapshot."""
        with self.pool.connection() as conn:
            yield PostgresTx(conn)

    @contextmanager
    def read(self) -> Iterator[Tx]:
        """A REPEATABLE READ, READ ONLY snapshot."""
        with self.pool.connection() as conn, conn.transaction():
            conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
            yield PostgresTx(conn)

    @contextmanager
    def stream(
        self, sql: str, params: Sequence[Any] = (), *, first: Query | None = None
    ) -> Iterator[tuple[list[tuple[Any, ...]], Iterator[tuple[Any, ...]]]]:
        """The rows of a read-only query through a server-side cursor, a page at a time, after
        the rows of ``first`` (the same snapshot)."""
        with self.pool.connection() as conn, conn.transaction():
            conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
            head = []
            if first is not None:
                head = [tuple(r) for r in PostgresTx(conn).execute(*first).fetchall()]
            with conn.cursor(name="citie_stream") as cursor:
                cursor.itersize = STREAM_PAGE
                cursor.execute(_pg(sql), list(params) if params else None)
                yield head, iter(cursor)

    def _insert_events(self, tx: Tx, rows: list[tuple[Any, ...]]) -> set[str]:
        """One INSERT of every row (arrays unnested); ids another transaction stored are skipped.

        Rows go in id order, so two batches that share ids take the index locks in one order.
        """
        assert isinstance(tx, PostgresTx)
        ordered = sorted(rows, key=lambda row: str(row[0]))
        columns = list(zip(*ordered, strict=True))
        arrays = ", ".join(f"%s::{_EVENT_TYPES.get(c, 'text')}[]" for c in EVENT_COLUMNS)
        names = ", ".join(EVENT_COLUMNS)
        cursor = tx.conn.execute(
            f"INSERT INTO events ({names}) SELECT * FROM unnest({arrays}) "
            "ON CONFLICT (id) DO NOTHING RETURNING id",
            [list(column) for column in columns],
        )
        return {str(row[0]) for row in cursor.fetchall()}


def migrate(tx: Tx) -> list[int]:
    """Apply the PostgreSQL migrations not applied yet; return their versions.

    An advisory lock makes workers that start together apply them once.
    """
    tx.execute("SELECT pg_advisory_xact_lock(7468690)")
    tx.execute(
        "CREATE TABLE IF NOT EXISTS schema_migrations "
        "(version INTEGER PRIMARY KEY, applied_at TEXT NOT NULL)"
    )
    done = {int(r[0]) for r in tx.execute("SELECT version FROM schema_migrations").fetchall()}
    applied = []
    for version, script in POSTGRES:
        if version in done:
            continue
        for statement in statements(script):
            tx.execute(statement)
        tx.execute(
            "INSERT INTO schema_migrations (version, applied_at) "
            "VALUES (?, to_char(now() AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"'))",
            [version],
        )
        applied.append(version)
        if version == KEYED_VOUCHERS:
            voucher_books.backfill_keys(tx)  # Python's scrypt: no SQL of either store has it
    return applied
