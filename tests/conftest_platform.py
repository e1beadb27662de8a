"""Fixtures for sync tests: the city platform as a real subprocess on 127.0.0.1, and paired
terminals with real ledgers in tmp_path.

The ``platform`` fixtures run every test twice, once per store: a SQLite file, and a fresh
database on a PostgreSQL server that the test session starts itself from the Debian
``postgresql`` package (``initdb`` / ``pg_ctl`` as the ``postgres`` user in a temporary folder,
on a free port). A missing server is a failure with the command to install it, never a skip.
"""

from __future__ import annotations

import itertools
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from uuid6 import uuid7

from city.store import NewTerminal, PlatformStore, open_store
from config import Settings, load_settings
from loyalty import schema as _schema  # noqa: F401  (registers the ledger migrations)
from loyalty.db import Store, iso
from loyalty.keys import generate_key_pair
from sync.client import RateLimited
from sync.outbox import RetryPolicy
from sync.pairing import pair_terminal

PLATFORM = [sys.executable, "-m", "city.cli"]
TERMINAL = [sys.executable, "-m", "terminal.cli"]
FAST = RetryPolicy(initial=0.01, maximum=0.05, budget=30.0, seed=1)
"""Small backoffs for tests: the platform's faults are what is tested, not the waiting."""


def clean_env() -> dict[str, str]:
    """The environment without any CITIE_ variable of the developer's shell."""
    return {k: v for k, v in os.environ.items() if not k.startswith("CITIE_")}


STORES = ("sqlite", "postgresql")
DB_POINTER = "database.url"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def postgres_bin() -> Path:
    """The folder of the Debian postgresql package's server binaries."""
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/pg_ctl"))
    if not found:
        pytest.fail(
            "PostgreSQL is not installed: the platform's tests need its server binaries. "
            "Run `make setup` as root, or `sudo apt-get install --no-install-recommends "
            "postgresql`."
        )
    return found[-1].parent


@dataclass
class PostgresServer:
    """A throwaway PostgreSQL server: trust authentication on 127.0.0.1 only."""

    folder: Path
    port: int
    bin: Path
    as_postgres: list[str]
    names: Iterator[int] = field(default_factory=itertools.count)

    @classmethod
    def start(cls, bench: bool = False) -> PostgresServer:
        """``initdb`` and ``pg_ctl start`` in a new temporary folder owned by ``postgres``.

        Tests turn fsync off (a crash of the test server loses nothing of value); the fleet
        bench keeps PostgreSQL's durable defaults.
        """
        binaries = postgres_bin()
        folder = Path(tempfile.mkdtemp(prefix="citie-pg-"))
        as_postgres: list[str] = []
        if os.geteuid() == 0:  # initdb and postgres refuse to run as root
            shutil.chown(folder, "postgres", "postgres")
            as_postgres = ["runuser", "-u", "postgres", "--"]
        data = folder / "data"
        subprocess.run(
            [*as_postgres, str(binaries / "initdb"), "-D", str(data), "-A", "trust",
             "-U", "postgres", "--no-sync", "-E", "UTF8", "--locale=C"],
            check=True, capture_output=True, text=True,
        )  # fmt: skip
        port = free_port()
        options = (
            f"-p {port} -k {folder} -c listen_addresses=127.0.0.1 -c max_connections=400 "
            "-c shared_buffers=128MB"
            + ("" if bench else " -c fsync=off -c synchronous_commit=off -c full_page_writes=off")
        )
        subprocess.run(
            [*as_postgres, str(binaries / "pg_ctl"), "-D", str(data), "-l",
             str(folder / "server.log"), "-o", options, "-w", "-t", "60", "start"],
            check=True, capture_output=True, text=True,
        )  # fmt: skip
        return cls(folder=folder, port=port, bin=binaries, as_postgres=as_postgres)

    def url(self, database: str = "postgres") -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{database}"

    def new_database(self) -> str:
        """A fresh, empty database; returns its URL."""
        import psycopg

        name = f"platform_{os.getpid()}_{next(self.names)}"
        with psycopg.connect(self.url(), autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return self.url(name)

    def stop(self) -> None:
        subprocess.run(
            [*self.as_postgres, str(self.bin / "pg_ctl"), "-D", str(self.folder / "data"),
             "-m", "immediate", "-w", "stop"],
            check=False, capture_output=True,
        )  # fmt: skip
        shutil.rmtree(self.folder, ignore_errors=True)


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    """One PostgreSQL server for the whole session; each platform gets its own database."""
    server = PostgresServer.start()
    yield server
    server.stop()


@dataclass
class RunningPlatform:
    """A ``citie-platform serve`` subprocess and ways to look into it."""

    url: str
    data_dir: Path
    request_log: Path
    process: subprocess.Popen[str]
    db: str = ""
    _store: PlatformStore | None = None

    @property
    def db_path(self) -> Path:
        return self.data_dir / "platform.db"

    @property
    def store_kind(self) -> str:
        return "postgresql" if self.db.startswith("postgresql://") else "sqlite"

    def open_store(self) -> PlatformStore:
        """The platform's database, opened in the test process (the caller closes it)."""
        return open_store(self.db or self.db_path)

    def _shared_store(self) -> PlatformStore:
        if self._store is None:
            self._store = self.open_store()
        return self._store

    def add_terminal(self, shop_id: str, terminal_id: str, shop: str = "Test Shop") -> NewTerminal:
        return self._shared_store().add_terminal(
            shop_name=shop, shop_id=shop_id, terminal_id=terminal_id
        )

    def faults(self, **changes: Any) -> dict[str, Any]:
        answer = httpx.post(f"{self.url}/_faults", json=changes, timeout=5)
        answer.raise_for_status()
        result: dict[str, Any] = answer.json()
        return result

    def query(self, sql: str, params: list[Any] | None = None) -> list[tuple[Any, ...]]:
        """Rows of a read-only query on the platform's database (``?`` placeholders)."""
        return self._shared_store().query(sql, params or [])

    def event_ids(self, terminal_id: str) -> list[str]:
        return [
            r[0] for r in self.query("SELECT id FROM events WHERE terminal_id = ?", [terminal_id])
        ]

    def stats(self) -> dict[str, int]:
        return self._shared_store().stats()

    def requests(self) -> list[dict[str, Any]]:
        if not self.request_log.exists():
            return []
        lines = self.request_log.read_text(encoding="utf-8").splitlines()
        return [json.loads(line) for line in lines if line.strip()]

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)
        for stream in (self.process.stdout, self.process.stderr):
            if stream is not None:
                stream.close()
        if self._store is not None:
            self._store.close()
            self._store = None


def start_platform(data_dir: Path, *flags: str, db: str = "") -> RunningPlatform:
    """Start ``citie-platform serve --port 0`` and wait for the URL it prints.

    ``db`` is a PostgreSQL URL, written to the data folder's ``database.url`` so every
    ``citie-platform --data-dir`` command of the test uses it too; empty for SQLite.
    """
    data_dir.mkdir(parents=True, exist_ok=True)
    if db:
        (data_dir / DB_POINTER).write_text(db + "\n", encoding="utf-8")
    elif (data_dir / DB_POINTER).is_file():
        db = (data_dir / DB_POINTER).read_text(encoding="utf-8").strip()
    log = data_dir / "requests.jsonl"
    process = subprocess.Popen(
        [
            *PLATFORM,
            "serve",
            "--port",
            "0",
            "--data-dir",
            str(data_dir),
            "--request-log",
            str(log),
            "--fault-control",
            *flags,
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=clean_env(),
    )
    assert process.stdout is not None
    line = process.stdout.readline().strip()
    if not line.startswith("listening on "):
        process.kill()
        raise RuntimeError(
            f"platform did not start: {line!r} {process.stderr.read() if process.stderr else ''}"
        )
    url = line.removeprefix("listening on ")
    platform = RunningPlatform(url=url, data_dir=data_dir, request_log=log, process=process, db=db)
    deadline = time.monotonic() + 10
    while True:  # the socket is bound before the URL is printed; wait until uvicorn serves it
        try:
            httpx.get(f"{url}/v1/health", timeout=1).raise_for_status()
            break
        except httpx.HTTPError:
            if time.monotonic() > deadline:
                platform.stop()
                raise
            time.sleep(0.02)
    return platform


@pytest.fixture(params=STORES)
def platform_store(request: pytest.FixtureRequest) -> str:
    """Which store the platforms of this test use (every platform test runs on both)."""
    return str(request.param)


@pytest.fixture
def platform_factory(
    tmp_path: Path, platform_store: str, request: pytest.FixtureRequest
) -> Iterator[Callable[..., RunningPlatform]]:
    """Start platforms with the given ``serve`` flags; all stopped at the end of the test."""
    started: list[RunningPlatform] = []
    server: PostgresServer | None = None
    if platform_store == "postgresql":
        server = request.getfixturevalue("postgres_server")

    def start(*flags: str, name: str = "platform") -> RunningPlatform:
        db = server.new_database() if server is not None else ""
        platform = start_platform(tmp_path / f"{name}-{len(started)}", *flags, db=db)
        started.append(platform)
        return platform

    yield start
    for platform in started:
        platform.stop()


@pytest.fixture
def platform(platform_factory: Callable[..., RunningPlatform]) -> RunningPlatform:
    """A fault-free platform (faults can be switched on through ``platform.faults``)."""
    return platform_factory()


@dataclass
class PairedTerminal:
    """A terminal with its data directory, config, ledger and platform credential."""

    data_dir: Path
    settings: Settings
    store: Store
    shop_id: str
    terminal_id: str
    counter: int = 0
    cards: list[str] = field(default_factory=list)

    def reload(self) -> Settings:
        self.settings, _ = load_settings(data_dir=self.data_dir, environ={})
        return self.settings

    def with_settings(self, **sections: dict[str, Any]) -> Settings:
        data = self.settings.model_dump()
        for section, values in sections.items():
            data[section].update(values)
        return Settings.model_validate(data)

    def outbox(self) -> dict[str, int]:
        from sync.outbox import counts

        return counts(self.store.read())


def write_config(data_dir: Path, shop_id: str, terminal_id: str, extra: str = "") -> Path:
    path = data_dir / "config.toml"
    path.write_text(
        f'[shop]\nid = "{shop_id}"\nname = "Test Shop"\n\n[terminal]\nid = "{terminal_id}"\n\n'
        f'[storage]\ndata_dir = "{data_dir}"\n{extra}',
        encoding="utf-8",
    )
    return path


def make_terminal(
    root: Path, platform: RunningPlatform, shop_id: str, terminal_id: str, extra_config: str = ""
) -> PairedTerminal:
    """Initialise a terminal in ``root/terminal_id`` and pair it with ``platform``."""
    data_dir = root / terminal_id
    data_dir.mkdir(parents=True)
    config_path = write_config(data_dir, shop_id, terminal_id, extra_config)
    settings, _ = load_settings(data_dir=data_dir, environ={})
    generate_key_pair(settings.private_key_path, settings.public_key_path)
    store = Store.open(settings.database_path)
    new = platform.add_terminal(shop_id, terminal_id)
    for attempt in itertools.count():
        try:
            pair_terminal(
                settings,
                store,
                platform.url,
                new.token,
                config_path=config_path,
                config_is_managed=False,
            )
            break
        except RateLimited as exc:
            # Pairing is an open route, limited per client address (a burst of 20, then 2 a
            # second), and every test terminal pairs from 127.0.0.1: a test that pairs many
            # waits as a real installer would (the token is not spent by a 429).
            if attempt >= 30:
                raise
            time.sleep(exc.retry_after)
    settings, _ = load_settings(data_dir=data_dir, environ={})
    return PairedTerminal(data_dir, settings, store, shop_id, terminal_id)


@pytest.fixture
def terminal_factory(tmp_path: Path) -> Iterator[Callable[..., PairedTerminal]]:
    """Paired terminals whose stores are closed at the end of the test."""
    made: list[PairedTerminal] = []

    def make(
        platform: RunningPlatform,
        shop_id: str = "shop-a",
        terminal_id: str = "t1",
        extra_config: str = "",
    ) -> PairedTerminal:
        terminal = make_terminal(
            tmp_path / "terminals", platform, shop_id, terminal_id, extra_config
        )
        made.append(terminal)
        return terminal

    yield make
    for terminal in made:
        terminal.store.close()


def add_events(
    store: Store,
    count: int,
    *,
    shop_id: str,
    terminal_id: str,
    kind: str = "stamp",
    stamps: int = 1,
    cards: int = 50,
    overrides: dict[str, Any] | None = None,
) -> list[str]:
    """Append events with their pending outbox rows in one transaction, as the ledger does.

    Used where the rules would get in the way of volume (1,000 stamps on few cards); the
    ledger's own API is used where the rules matter.
    """
    start = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
    ids: list[str] = []
    with store.write() as db:
        base = db.execute("SELECT COALESCE(MAX(seq), 0) FROM events").fetchone()[0]
        for n in range(count):
            event_id = str(uuid7())
            card = f"CT-{(base + n) % cards:04d}-TEST"
            row = {
                "id": event_id,
                "kind": kind,
                "terminal_id": terminal_id,
                "shop_id": shop_id,
                "occurred_at": iso(start + timedelta(seconds=base + n)),
                "card_id": card,
                "program_id": "coffee",
                "stamps": stamps,
                "amount_cents": None,
                "currency": None,
                "voids": None,
                "receipt_no": f"{terminal_id}-{base + n + 1}",
                "detail": "{}",
            }
            row.update(overrides or {})
            cursor = db.execute(
                "INSERT INTO events (id, kind, terminal_id, shop_id, occurred_at, card_id, "
                "program_id, stamps, amount_cents, currency, voids, receipt_no, detail) "
                "VALUES (:id, :kind, :terminal_id, :shop_id, :occurred_at, :card_id, "
                ":program_id, :stamps, :amount_cents, :currency, :voids, :receipt_no, :detail)",
                row,
            )
            db.execute(
                "INSERT INTO outbox (seq, state, card_id, updated_at) VALUES (?, 'pending', ?, ?)",
                [cursor.lastrowid, row["card_id"], iso(start)],
            )
            ids.append(event_id)
    return ids
