"""Sync against the reference platform over real HTTP on 127.0.0.1, with injected faults."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

from loyalty.db import Store, connect
from sync.job import run_sync
from sync.outbox import RetryPolicy
from tests.conftest_platform import (
    FAST,
    TERMINAL,
    PairedTerminal,
    RunningPlatform,
    add_events,
    clean_env,
)

Platforms = Callable[..., RunningPlatform]
Terminals = Callable[..., PairedTerminal]


def test_thousand_events_through_500s_and_dropped_answers_land_exactly_once(
    platform_factory: Platforms, terminal_factory: Terminals
) -> None:
    platform = platform_factory(
        "--fail-rate", "0.3", "--drop-after-commit-rate", "0.1", "--seed", "7"
    )
    terminal = terminal_factory(platform, extra_config="\n[sync]\nbatch_size = 50\n")
    ids = add_events(terminal.store, 1000, shop_id="shop-a", terminal_id="t1")

    report = run_sync(terminal.settings, terminal.store, policy=FAST, backup=False)

    assert report.exit_code == 0, report.to_json()
    on_platform = platform.event_ids("t1")
    assert len(on_platform) == 1000
    assert sorted(on_platform) == sorted(ids)
    assert terminal.outbox() == {"pending": 0, "in_flight": 0, "synced": 1000, "quarantined": 0}
    faults = {r["fault"] for r in platform.requests()}
    assert {"fail", "drop"} <= faults, "the faults were not injected"
    push = report.push
    assert push is not None and push.retries > 0
    # Dropped answers were committed: the replays came back as duplicates, not new rows.
    assert push.accepted + push.duplicate == 1000
    assert platform.stats()["duplicates_seen"] == push.duplicate > 0

    second = run_sync(terminal.settings, terminal.store, policy=FAST, backup=False)
    assert second.exit_code == 0
    assert second.push is not None and second.push.sent == 0
    assert len(platform.event_ids("t1")) == 1000
    runs = terminal.store.read().execute("SELECT outcome FROM sync_runs ORDER BY id").fetchall()
    assert [r[0] for r in runs] == ["ok", "ok"]


def test_429_retry_after_is_respected(
    platform_factory: Platforms, terminal_factory: Terminals
) -> None:
    platform = platform_factory("--rate-limit-every", "2", "--retry-after", "0.4")
    terminal = terminal_factory(platform, extra_config="\n[sync]\nbatch_size = 100\n")
    add_events(terminal.store, 300, shop_id="shop-a", terminal_id="t1")

    report = run_sync(terminal.settings, terminal.store, policy=FAST, backup=False)

    assert report.exit_code == 0, report.to_json()
    batches = [r for r in platform.requests() if r["path"] == "/v1/events:batch"]
    limited = [i for i, r in enumerate(batches) if r["status"] == 429]
    assert limited, "no 429 was injected"
    for index in limited:
        if index + 1 < len(batches):
            gap = batches[index + 1]["t"] - batches[index]["t"]
            # The jittered backoff alone is at most 0.05 s here: only Retry-After explains 0.4.
            assert gap >= 0.4, f"retried {gap:.3f} s after a 429 asking for 0.4 s"
    assert len(platform.event_ids("t1")) == 300


def test_one_bad_event_is_quarantined_alone_with_its_reason(
    platform: RunningPlatform, terminal_factory: Terminals
) -> None:
    terminal = terminal_factory(platform)
    good = add_events(terminal.store, 40, shop_id="shop-a", terminal_id="t1")
    bad = add_events(terminal.store, 1, shop_id="shop-b", terminal_id="t1")
    good += add_events(terminal.store, 40, shop_id="shop-a", terminal_id="t1")

    report = run_sync(terminal.settings, terminal.store, policy=FAST, backup=False)

    assert report.exit_code == 1
    assert report.outcome == "quarantined"
    assert terminal.outbox()["quarantined"] == 1
    assert terminal.outbox()["synced"] == 80
    row = (
        terminal.store.read()
        .execute(
            "SELECT e.id, o.reason FROM outbox o JOIN events e ON e.seq = o.seq "
            "WHERE o.state = 'quarantined'"
        )
        .fetchone()
    )
    assert row[0] == bad[0]
    assert row[1].startswith("wrong_shop: ")
    assert "shop-b" in row[1]
    assert sorted(platform.event_ids("t1")) == sorted(good)

    again = run_sync(terminal.settings, terminal.store, policy=FAST, backup=False)
    assert again.exit_code == 1, "a rejected event is never retried, and stays visible"
    assert again.push is not None and again.push.sent == 0

    shown = subprocess.run(
        [*TERMINAL, "sync", "--show-quarantined", "--data-dir", str(terminal.data_dir)],
        capture_output=True, text=True, env=clean_env(), timeout=60, check=False,
    )  # fmt: skip
    assert shown.returncode == 1
    listed = [json.loads(line) for line in shown.stdout.splitlines()]
    assert [(item["id"], item["reason"][:11]) for item in listed] == [(bad[0], "wrong_shop:")]


def test_sigkill_mid_batch_then_rerun_lands_each_event_once(
    platform_factory: Platforms, terminal_factory: Terminals
) -> None:
    platform = platform_factory("--slow-ms", "150")
    terminal = terminal_factory(platform, extra_config="\n[sync]\nbatch_size = 40\n")
    ids = add_events(terminal.store, 400, shop_id="shop-a", terminal_id="t1")
    terminal.store.close()

    process = subprocess.Popen(
        [*TERMINAL, "sync", "--data-dir", str(terminal.data_dir), "--no-backup"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=clean_env(),
    )
    deadline = time.monotonic() + 30
    while len(platform.event_ids("t1")) < 80:  # a few batches in: the next one is in flight
        assert process.poll() is None, process.communicate()
        assert time.monotonic() < deadline
        time.sleep(0.02)
    # Kill while a batch is in flight: the platform holds each answer 150 ms, so the
    # terminal's in_flight rows are there to be seen (polled, not timed, for slow machines).
    watcher = connect(terminal.settings.database_path, readonly=True)
    try:
        while not watcher.execute("SELECT 1 FROM outbox WHERE state = 'in_flight'").fetchone():
            assert process.poll() is None, process.communicate()
            assert time.monotonic() < deadline
            time.sleep(0.005)
    finally:
        watcher.close()
    os.kill(process.pid, signal.SIGKILL)
    process.communicate()
    assert process.returncode == -signal.SIGKILL

    store = Store.open(terminal.settings.database_path)
    terminal.store = store
    before = terminal.outbox()
    assert before["synced"] < 400
    assert before["in_flight"] > 0, "the kill did not land mid-batch"

    rerun = subprocess.run(
        [*TERMINAL, "sync", "--data-dir", str(terminal.data_dir), "--retry-initial", "0.01"],
        capture_output=True,
        text=True,
        env=clean_env(),
        timeout=60,
        check=False,
    )
    assert rerun.returncode == 0, rerun.stdout + rerun.stderr
    lines = [json.loads(line) for line in rerun.stdout.splitlines()]
    assert lines[-1]["event"] == "sync_finished" and lines[-1]["exit_code"] == 0
    assert any(line["event"] == "backup" for line in lines)
    on_platform = platform.event_ids("t1")
    assert len(on_platform) == 400 and sorted(on_platform) == sorted(ids)
    assert terminal.outbox() == {"pending": 0, "in_flight": 0, "synced": 400, "quarantined": 0}


def test_unreachable_platform_keeps_events_and_exits_2(
    platform: RunningPlatform, terminal_factory: Terminals
) -> None:
    terminal = terminal_factory(platform)
    add_events(terminal.store, 5, shop_id="shop-a", terminal_id="t1")
    platform.stop()
    # The first backoff (484 s with this seed) would end after the budget: the run stops at
    # the refused connection, never at a budget the ledger's own writes used up on a slow
    # machine (that would be a "timeout").
    policy = RetryPolicy(initial=3600, maximum=3600, budget=60, seed=1)

    report = run_sync(terminal.settings, terminal.store, policy=policy, backup=False)

    assert report.exit_code == 2
    assert report.code == "unreachable"
    assert "cannot connect" in report.message
    assert terminal.outbox()["pending"] == 5
    assert terminal.outbox()["synced"] == 0


def test_refused_credential_exits_3_and_says_pair_again(
    platform: RunningPlatform, terminal_factory: Terminals
) -> None:
    terminal = terminal_factory(platform)
    add_events(terminal.store, 3, shop_id="shop-a", terminal_id="t1")
    terminal.settings.token_path.write_text("x" * 43 + "\n")

    report = run_sync(terminal.settings, terminal.store, policy=FAST, backup=False)

    assert report.exit_code == 3
    assert report.outcome == "auth"
    assert "pair" in report.message.lower()
    assert "x" * 43 not in json.dumps(report.to_json()), "the credential leaked into the log"
    assert terminal.outbox()["pending"] == 3


def test_two_terminals_redeem_the_same_reward_offline(
    platform: RunningPlatform, terminal_factory: Terminals
) -> None:
    from loyalty.ledger import Ledger
    from loyalty.programs import OfflineLimits, Program

    one = terminal_factory(platform, terminal_id="t1")
    two = terminal_factory(platform, terminal_id="t2")
    program = Program.from_settings(one.settings.program).model_copy(
        update={"max_stamps_per_day": 50}
    )
    limits = OfflineLimits.from_settings(one.settings.limits)
    ledger_one = Ledger(one.store, shop_id="shop-a", terminal_id="t1", platform_configured=True)
    ledger_two = Ledger(two.store, shop_id="shop-a", terminal_id="t2", platform_configured=True)
    card = "CT-7KQ2-M9XD"
    threshold = program.reward_threshold

    # The card earns its reward at terminal one; both terminals learn the balance.
    ledger_one.stamp(card, program, count=threshold)
    assert run_sync(one.settings, one.store, policy=FAST, backup=False).exit_code == 0
    assert run_sync(two.settings, two.store, policy=FAST, backup=False).exit_code == 0
    assert ledger_two.balance(card).total == threshold

    # Both go offline and each redeems the same reward.
    ledger_one.redeem(card, program, limits)
    ledger_two.redeem(card, program, limits)

    assert run_sync(one.settings, one.store, policy=FAST, backup=False).exit_code == 0
    report = run_sync(two.settings, two.store, policy=FAST, backup=False)
    assert report.exit_code == 0
    assert report.push is not None and report.push.overdrafts == 1
    assert run_sync(one.settings, one.store, policy=FAST, backup=False).exit_code == 0

    assert platform.stats()["overdrafts"] == 1
    kinds = platform.query(
        "SELECT kind, overdraft FROM events WHERE card_id = ? ORDER BY pseq", [card]
    )
    assert kinds == [("stamp", 0), ("redeem", 0), ("redeem", 1)]
    for ledger in (ledger_one, ledger_two):
        balance = ledger.balance(card)
        assert balance.confirmed == -threshold
        assert balance.pending == 0
        assert balance.total == -threshold


def test_another_sync_running_says_so(
    platform: RunningPlatform, terminal_factory: Terminals
) -> None:
    from sync.lock import sync_lock

    terminal = terminal_factory(platform)
    add_events(terminal.store, 2, shop_id="shop-a", terminal_id="t1")
    with sync_lock(terminal.settings.database_path):
        report = run_sync(terminal.settings, terminal.store, policy=FAST, backup=False)
    assert report.outcome == "busy"
    assert "another sync is running" in report.message
    assert terminal.outbox()["pending"] == 2
    assert run_sync(terminal.settings, terminal.store, policy=FAST, backup=False).exit_code == 0


def test_pull_brings_revocations_trust_and_programs(
    platform: RunningPlatform, terminal_factory: Terminals, tmp_path: Path
) -> None:
    from loyalty.trust import load_trust, revoked_cards

    terminal = terminal_factory(platform)
    trust = load_trust(terminal.store.read())
    assert trust.version >= 1 and trust.keys, "pairing pulled the issuer keys"

    from loyalty.programs import Program

    # The program body as the platform holds it (the config's [program] also has counter-only
    # keys such as repeat_confirm_seconds, which are not part of a program).
    program = Program.from_settings(terminal.settings.program).model_dump(mode="json") | {
        "name": "Koffie",
        "campaigns": [],
    }
    with platform.open_store() as store:
        store.revoke("CT-LOST-0001")
        store.set_program("shop-a", "coffee", program)
    subprocess.run(
        [
            *TERMINAL[:1],
            "-m",
            "city.cli",
            "keys",
            "rotate",
            "--data-dir",
            str(platform.data_dir),
        ],
        check=True,
        capture_output=True,
        env=clean_env(),
    )
    report = run_sync(terminal.settings, terminal.store, policy=FAST, backup=False)
    assert report.exit_code == 0, report.to_json()
    assert "CT-LOST-0001" in revoked_cards(terminal.store.read())
    assert load_trust(terminal.store.read()).version == trust.version + 1
    body = terminal.store.read().execute("SELECT body FROM programs WHERE id = 'coffee'").fetchone()
    assert json.loads(body[0])["name"] == "Koffie"
