"""Fixtures for sync tests: the reference platform as a real subprocess on 127.0.0.1, and
paired terminals with real ledgers in tmp_path."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from uuid6 import uuid7

from city.store import NewTerminal, PlatformStore
from config import Settings, load_settings
from loyalty import schema as _schema  # noqa: F401  (registers the ledger migrations)
from loyalty.db import Store, iso
from loyalty.keys import generate_key_pair
from sync.outbox import RetryPolicy
from sync.pairing import pair_terminal

PLATFORM = [sys.executable, "-m", "city.cli"]
TERMINAL = [sys.executable, "-m", "terminal.cli"]
FAST = RetryPolicy(initial=0.01, maximum=0.05, budget=30.0, seed=1)
"""Small backoffs for tests: the platform's faults are what is tested, not the waiting."""


def clean_env() -> dict[str, str]:
    """The environment without any CITIE_ variable of the developer's shell."""
    return {k: v for k, v in os.environ.items() if not k.startswith("CITIE_")}


@dataclass
class RunningPlatform:
    """A ``citie-platform serve`` subprocess and ways to look into it."""

    url: str
    data_dir: Path
    request_log: Path
    process: subprocess.Popen[str]

    @property
    def db_path(self) -> Path:
        return self.data_dir / "platform.db"

    def add_terminal(self, shop_id: str, terminal_id: str, shop: str = "Test Shop") -> NewTerminal:
        with PlatformStore(self.db_path) as store:
            return store.add_terminal(shop_name=shop, shop_id=shop_id, terminal_id=terminal_id)

    def faults(self, **changes: Any) -> dict[str, Any]:
        answer = httpx.post(f"{self.url}/_faults", json=changes, timeout=5)
        answer.raise_for_status()
        result: dict[str, Any] = answer.json()
        return result

    def query(self, sql: str, params: list[Any] | None = None) -> list[tuple[Any, ...]]:
        conn = sqlite3.connect(f"file:{self.db_path}?mode=ro", uri=True, timeout=5)
        try:
            return list(conn.execute(sql, params or []).fetchall())
        finally:
            conn.close()

    def event_ids(self, terminal_id: str) -> list[str]:
        return [
            r[0] for r in self.query("SELECT id FROM events WHERE terminal_id = ?", [terminal_id])
        ]

    def stats(self) -> dict[str, int]:
        with PlatformStore(self.db_path) as store:
            return store.stats()

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


def start_platform(data_dir: Path, *flags: str) -> RunningPlatform:
    """Start ``citie-platform serve --port 0`` and wait for the URL it prints."""
    data_dir.mkdir(parents=True, exist_ok=True)
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
    platform = RunningPlatform(url=url, data_dir=data_dir, request_log=log, process=process)
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


@pytest.fixture
def platform_factory(tmp_path: Path) -> Iterator[Callable[..., RunningPlatform]]:
    """Start platforms with the given ``serve`` flags; all stopped at the end of the test."""
    started: list[RunningPlatform] = []

    def start(*flags: str, name: str = "platform") -> RunningPlatform:
        platform = start_platform(tmp_path / f"{name}-{len(started)}", *flags)
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
    pair_terminal(
        settings, store, platform.url, new.token, config_path=config_path, config_is_managed=False
    )
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
