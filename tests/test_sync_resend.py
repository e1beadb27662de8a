"""``sync --resend-all``: after the platform lost its data and the terminal was paired again,
every event goes again, and the platform's dedupe keeps each one once."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

from config.settings import ProgramSettings
from loyalty.db import Store
from loyalty.ledger import Ledger
from loyalty.programs import Program
from sync.job import run_sync
from sync.outbox import resend_all
from sync.pairing import pair_terminal
from tests.conftest_platform import (
    FAST,
    TERMINAL,
    PairedTerminal,
    RunningPlatform,
    add_events,
    clean_env,
)

Terminals = Callable[..., PairedTerminal]


def sync(data_dir: Path, *flags: str) -> tuple[int, dict[str, Any]]:
    result = subprocess.run(
        [*TERMINAL, "sync", "--data-dir", str(data_dir), "--no-backup", *flags],
        capture_output=True,
        text=True,
        env=clean_env(),
        timeout=120,
        check=False,
    )
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    return result.returncode, lines[-1]


def test_resend_all_fills_a_platform_that_lost_its_data_exactly_once(
    platform_factory: Callable[..., RunningPlatform], terminal_factory: Terminals
) -> None:
    first = platform_factory(name="first")
    terminal = terminal_factory(first)
    ids = add_events(terminal.store, 40, shop_id="shop-a", terminal_id="t1")
    # In this process where the command line is not what is tested (each command costs a
    # fresh interpreter's start-up on a loaded machine).
    report = run_sync(terminal.settings, terminal.store, policy=FAST, backup=False)
    assert (report.exit_code, report.synced) == (0, 40), report.to_json()

    # The city lost its platform: a fresh one, and the terminal paired with it again.
    fresh = platform_factory(name="fresh")
    token = fresh.add_terminal("shop-a", "t1").token
    pair_terminal(
        terminal.settings,
        terminal.store,
        fresh.url,
        token,
        config_path=terminal.data_dir / "config.toml",
        config_is_managed=False,
    )
    report = run_sync(terminal.reload(), terminal.store, policy=FAST, backup=False)
    assert (report.exit_code, report.pull is not None) == (0, True), report.to_json()
    assert fresh.event_ids("t1") == [], "without the flag nothing goes again"

    code, summary = sync(terminal.data_dir, "--resend-all")
    assert code == 0, summary
    assert summary["resent"] == 40
    assert (summary["push"]["accepted"], summary["push"]["duplicate"]) == (40, 0)
    assert sorted(fresh.event_ids("t1")) == sorted(ids)

    # Sending again what the platform already has is answered duplicate, and stored once.
    add_events(terminal.store, 2, shop_id="shop-a", terminal_id="t1")
    code, summary = sync(terminal.data_dir, "--resend-all")
    assert code == 0, summary
    assert (summary["push"]["accepted"], summary["push"]["duplicate"]) == (2, 40)
    assert summary["synced"] == 42 and summary["pending"] == 0
    stored = fresh.event_ids("t1")
    assert len(stored) == len(set(stored)) == 42


def test_a_resent_card_is_never_counted_twice_before_or_after_the_push(tmp_path: Path) -> None:
    program = Program.from_settings(ProgramSettings())
    store = Store.open(tmp_path / "ledger.db")
    ledger = Ledger(store, shop_id="s", terminal_id="t1")
    ledger.stamp("CT-A", program, count=2)
    with store.write() as db:  # pushed and accepted, then a pull confirms 2
        db.execute("UPDATE outbox SET state = 'synced'")
        db.execute(
            "INSERT INTO confirmed_balances (card_id, stamps, confirmed_at) "
            "VALUES ('CT-A', 2, '2026-11-30T00:00:00Z')"
        )
    assert ledger.balance("CT-A").total == 2
    assert resend_all(store) == 1
    assert ledger.balance("CT-A").total == 2, "pending again, but already in the confirmation"
    assert ledger.check().ok
    with store.write() as db:  # the platform answers duplicate: synced again, no new pull
        db.execute("UPDATE outbox SET state = 'synced'")
    assert ledger.balance("CT-A").total == 2
    assert ledger.check().ok
    ledger.stamp("CT-A", program, count=1, now=None)
    assert ledger.balance("CT-A").total == 3
    assert ledger.check().ok
    store.close()
