"""Growing from SQLite to PostgreSQL: copy every table of a stopped embedded platform, check both.

``citie-platform migrate --to postgresql://...`` opens the SQLite store (bringing its schema up
to date), refuses while a ``serve`` holds the database (``city.serve.serving_lock``), refuses a
target that already holds a platform, then copies each table with COPY in one PostgreSQL
transaction, moves the identity counter past the copied rows, and compares row counts of every
table and a digest of every balance on both sides before it commits. Terminals keep their
credentials and cursors: both are rows (``terminals``, ``counters``, the version columns).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass

from city.postgres_store import PostgresStore
from city.sqlite_store import SqliteStore
from city.store import PlatformError, redact

CHUNK_ROWS = 5000
FIRST_TABLES = ("shops",)
"""Tables copied first (others refer to them)."""
SKIPPED = ("schema_migrations", "sqlite_sequence")


@dataclass(frozen=True)
class TableCount:
    """Rows of one table on both sides after the copy."""

    table: str
    source: int
    target: int


@dataclass(frozen=True)
class MigrationReport:
    """What was copied, and the check of both sides."""

    tables: list[TableCount]
    balances_digest: str


def tables_of(source: SqliteStore) -> list[str]:
    """The platform's tables in copy order."""
    names = [
        str(r[0])
        for r in source.query("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")
        if r[0] not in SKIPPED
    ]
    return [t for t in FIRST_TABLES if t in names] + [t for t in names if t not in FIRST_TABLES]


def balances_digest(query: Callable[[str], list[tuple[object, ...]]]) -> str:
    """A digest of every balance row, in key order (the same on both sides when they agree)."""
    digest = hashlib.sha256()
    for row in query(
        "SELECT shop_id, program_id, card_id, stamps, version FROM balances "
        "ORDER BY shop_id, program_id, card_id"
    ):
        digest.update(repr(tuple(str(v) for v in row)).encode())
    return digest.hexdigest()


def migrate(
    source: SqliteStore, target_url: str, progress: Callable[[str], None] | None = None
) -> MigrationReport:
    """Copy ``source`` into the empty PostgreSQL database at ``target_url``; check, then commit."""
    say = progress or (lambda _line: None)
    target = PostgresStore(target_url, pool_size=2)
    try:
        for table in ("terminals", "events", "shops"):
            if target.query(f"SELECT COUNT(*) FROM {table}")[0][0]:  # noqa: S608
                raise PlatformError(
                    "target_not_empty",
                    f"{redact(target_url)} already holds a platform ({table} has rows). "
                    "Give migrate an empty database (createdb ...).",
                )
        tables = tables_of(source)
        counts: list[TableCount] = []
        with target.write() as tx, source.read() as src:
            conn = getattr(tx, "conn")  # noqa: B009  (the PostgreSQL connection, for COPY)
            for table in tables:
                columns = [str(r[1]) for r in src.execute(f"PRAGMA table_info({table})").fetchall()]
                names = ", ".join(columns)
                cursor = src.execute(f"SELECT {names} FROM {table}")  # noqa: S608
                copied = 0
                with conn.cursor() as out, out.copy(f"COPY {table} ({names}) FROM STDIN") as copy:
                    while rows := cursor.fetchmany(CHUNK_ROWS):
                        for row in rows:
                            copy.write_row(row)
                        copied += len(rows)
                say(f"{table}: {copied} rows")
                counted = conn.execute(f"SELECT COUNT(*) FROM {table}").fetchone()  # noqa: S608
                source_rows = int(src.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0])  # noqa: S608
                counts.append(TableCount(table, source_rows, int(counted[0])))
            if "events" in tables:
                conn.execute(
                    "SELECT setval(pg_get_serial_sequence('events', 'pseq'), "
                    "GREATEST((SELECT MAX(pseq) FROM events), 1))"
                )
            wrong = [c for c in counts if c.source != c.target]
            if wrong:
                shown = ", ".join(f"{c.table} {c.source} -> {c.target}" for c in wrong)
                raise PlatformError("migrate_mismatch", f"row counts differ: {shown}.")

            def on_target(sql: str) -> list[tuple[object, ...]]:
                return [tuple(r) for r in conn.execute(sql).fetchall()]

            def on_source(sql: str) -> list[tuple[object, ...]]:
                return [tuple(r) for r in src.execute(sql).fetchall()]

            copied_digest = balances_digest(on_target)
            if copied_digest != balances_digest(on_source):
                raise PlatformError(
                    "migrate_mismatch", "the balances differ between SQLite and PostgreSQL."
                )
        return MigrationReport(counts, copied_digest)
    finally:
        target.close()
