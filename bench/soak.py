"""A busy shop day through the real counter app, against the reference platform over HTTP.

``.venv/bin/python bench/soak.py [--visits 5000] [--every 500] [--cards 400]`` drives the app
headless with Pilot: each visit a card is read (a camera read, a keyboard-wedge burst of keys,
or a code typed into the field), then stamped (F2; within ``repeat_confirm_seconds`` of its
last stamp the confirmation is answered with Enter), bought for (F3, an amount, Enter) or a
reward redeemed (F4, Enter), and the customer leaves (Escape). The background sync runs as at
the counter (soon after each record, and at the interval).

Every ``--every`` visits it prints a row: the process's RSS, threads, open file descriptors,
the ledger's WAL size, the live Textual widgets (and detached ones), and per action the p50
and p95 in ms of key -> "recorded" (scan -> card shown for reads) over that window. At the end the
last sync must leave nothing pending, and every ledger event must be on the platform exactly
once. Aim: RSS after the last window within 30 MB of the first, latencies flat. The ``load``
column is the machine's 1-minute load average: on a shared machine it explains more of the
latency than the app does, so read the latencies against it.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import os
import random
import statistics
import sys
import tempfile
import threading
import time
import unicodedata
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

ACTIONS = ("scan", "stamp", "again", "purchase", "redeem", "core")
"""``again``: a stamp within ``repeat_confirm_seconds``, timed from the Enter that confirms it.
``core``: the ledger write inside the worker (stamp, purchase or redeem), without the UI."""


def p95(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]


def rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def os_threads() -> int:
    return len(os.listdir("/proc/self/task"))


def open_fds() -> int:
    return len(os.listdir("/proc/self/fd"))


def widgets() -> tuple[int, int]:
    """Live Textual widgets, and how many of them are no longer in any DOM."""
    from textual.widget import Widget

    gc.collect()
    alive = [o for o in gc.get_objects() if isinstance(o, Widget)]
    return len(alive), sum(1 for o in alive if not o.is_attached)


class Seen:
    """Messages the app handled, counted by type; waits for the next one of a kind."""

    def __init__(self) -> None:
        self.counts: Counter[type] = Counter()
        self.changed = asyncio.Event()
        self.at: dict[type, float] = {}
        """When the newest message of each kind reached the app (``perf_counter``)."""

    def __call__(self, message: object) -> None:
        self.at[type(message)] = time.perf_counter()
        self.counts[type(message)] += 1
        self.changed.set()

    async def until(self, *kinds: type, after: dict[type, int], timeout: float = 60) -> type:
        """Wait until one of ``kinds`` was seen more often than in ``after``; which one."""
        async with asyncio.timeout(timeout):
            while True:
                for kind in kinds:
                    if self.counts[kind] > after.get(kind, 0):
                        return kind
                self.changed.clear()
                await self.changed.wait()

    def snapshot(self, *kinds: type) -> dict[type, int]:
        return {kind: self.counts[kind] for kind in kinds}


async def screen_is(app: Any, kind: type, timeout: float = 30) -> None:
    """Wait until ``kind`` of screen is in front (a bench polls; tests wait on messages)."""
    async with asyncio.timeout(timeout):
        while not isinstance(app.screen, kind):
            await asyncio.sleep(0.002)


async def send(app: Any, *keys: str) -> None:
    """Keys as the terminal delivers them, back to back: Pilot's ``press`` waits for the
    process to be idle after each key, which a busy app (sync and ledger threads) rarely is."""
    from textual import events
    from textual.app import REPLACED_KEYS, _character_to_key, _get_unicode_name_from_key

    for key in keys:
        name = _character_to_key(key) if len(key) == 1 and not key.isalnum() else key
        try:
            char: str | None = unicodedata.lookup(
                _get_unicode_name_from_key(REPLACED_KEYS.get(name, name))
            )
        except KeyError:
            char = name if len(name) == 1 else None
        event = events.Key(name, char)
        event.set_sender(app)
        app._driver.send_message(event)
    await asyncio.sleep(0)


async def soak(visits: int, every: int, cards_count: int, seed: int) -> int:
    from city.issuer import Issuer
    from city.sqlite_store import SqliteStore
    from loyalty.ledger import Ledger
    from terminal import messages as msg
    from terminal.dialogs.confirm import ConfirmDialog
    from terminal.dialogs.purchase import PurchaseDialog
    from terminal.dialogs.redeem import RedeemDialog
    from terminal.screens.counter import CounterScreen
    from terminal.services import make_app, sync_runner_for
    from terminal.widgets.code_input import CodeInput
    from tests.conftest_platform import make_terminal, start_platform

    rng = random.Random(seed)
    tmp = Path(tempfile.mkdtemp(prefix="citie-soak-"))
    platform = start_platform(tmp / "platform")
    try:
        terminal = make_terminal(tmp / "terminals", platform, "shop-soak", "soak-1")
        issuer = Issuer.open(platform.data_dir / "issuer")
        codes: list[tuple[str, str]] = []
        with SqliteStore(platform.db_path) as pstore:
            for _ in range(cards_count):
                card_id, code = issuer.issue_card()
                pstore.add_card(card_id, 365)
                codes.append((card_id, code))
        settings = terminal.with_settings(
            program={"max_stamps_per_day": 1000, "cents_per_stamp": 500},
            limits={"offline_redemptions_per_card": 100, "offline_redemptions_per_terminal": 10000},
            camera={"enabled": False},
            terminal={"bell": False},
            sync={"time_budget_seconds": 30.0, "interval_seconds": 60},
        )
        ledger = Ledger(terminal.store, shop_id=terminal.shop_id, terminal_id=terminal.terminal_id)
        app = make_app(
            settings,
            ledger,
            None,
            None,
            sync_runner_for(settings, terminal.store),
            store=terminal.store,
            language="nl",
            background_sync=True,
        )
        wal = Path(str(settings.database_path) + "-wal")
        core_times: list[float] = []
        desk = app.desk

        def timed(call: Any) -> Any:
            def run(*args: Any, **kwargs: Any) -> Any:
                began = time.perf_counter()
                try:
                    return call(*args, **kwargs)
                finally:
                    core_times.append((time.perf_counter() - began) * 1000)

            return run

        for name in ("stamp", "purchase", "redeem"):
            setattr(desk, name, timed(getattr(desk, name)))
        seen = Seen()
        window: dict[str, list[float]] = defaultdict(list)
        outcomes: Counter[str] = Counter()
        last_stamp: dict[str, float] = {}
        confirm_after = settings.program.repeat_confirm_seconds
        recorded_kinds = (msg.StampRecorded, msg.PurchaseRecorded, msg.RewardRedeemed)
        print(
            f"soak: {visits} visits over {cards_count} cards, platform {platform.url}, "
            f"ledger {settings.database_path}",
            flush=True,
        )
        header = (
            f"{'visits':>6} {'load':>5} {'RSS MB':>7} {'thr':>4} {'fds':>4} {'WAL KB':>7} "
            f"{'widgets':>12} " + " ".join(f"{a + ' p50/p95':>17}" for a in ACTIONS)
        )
        rows: list[str] = []
        first_rss: float | None = None
        started = time.monotonic()

        async with app.run_test(size=(120, 40), message_hook=seen) as pilot:
            await pilot.pause()
            await screen_is(app, CounterScreen)
            await app.workers.wait_for_complete()
            for visit in range(1, visits + 1):
                card_id, code = codes[rng.randrange(len(codes))]
                # The read: a camera read, a scanner's burst of keys, or a typed code.
                mode = rng.random()
                before = seen.snapshot(msg.CardShown, msg.CodeRefused)
                t0 = time.perf_counter()
                if mode < 0.6:
                    app.post_message(msg.CodeScanned(code, "camera"))
                elif mode < 0.7:
                    await send(app, *code, "enter")
                else:
                    app.screen.query_one("#code", CodeInput).value = code
                    await send(app, "enter")
                kind = await seen.until(msg.CardShown, msg.CodeRefused, after=before)
                window["scan"].append((seen.at[kind] - t0) * 1000)
                if kind is msg.CodeRefused:
                    outcomes["refused read"] += 1
                    await leave(app)
                    continue
                view = app.card
                choice = rng.random()
                before = seen.snapshot(*recorded_kinds, msg.ActionRefused)
                if choice < 0.12 and view is not None and view.rewards_available > 0:
                    action = "redeem"
                    await send(app, "f4")
                    await screen_is(app, RedeemDialog)
                    t0 = time.perf_counter()
                    await send(app, "enter")
                elif choice < 0.45:
                    action = "purchase"
                    await send(app, "f3")
                    await screen_is(app, PurchaseDialog)
                    amount = f"{rng.randint(1, 60)},{rng.randint(0, 99):02d}"
                    await send(app, *amount)
                    t0 = time.perf_counter()
                    await send(app, "enter")
                else:
                    action = "stamp"
                    repeat = time.monotonic() - last_stamp.get(card_id, -1e9) < confirm_after
                    t0 = time.perf_counter()
                    await send(app, "f2")
                    if repeat:
                        await screen_is(app, ConfirmDialog)
                        t0 = time.perf_counter()
                        await send(app, "enter")
                        action = "again"
                    last_stamp[card_id] = time.monotonic()
                done = await seen.until(*recorded_kinds, msg.ActionRefused, after=before)
                window[action].append((seen.at[done] - t0) * 1000)
                outcomes[f"{action} {'refused' if done is msg.ActionRefused else 'recorded'}"] += 1
                await leave(app)

                if visit % every == 0:
                    window["core"], core_times[:] = list(core_times), []
                    live, detached = widgets()
                    rss = rss_mb()
                    first_rss = rss if first_rss is None else first_rss
                    cells = []
                    for action_name in ACTIONS:
                        values = window.get(action_name, [])
                        cells.append(
                            f"{statistics.median(values):>8.1f}/{p95(values):<8.1f}"
                            if values
                            else f"{'-':>17}"
                        )
                    row = (
                        f"{visit:>6} {os.getloadavg()[0]:>5.1f} {rss:>7.1f} {os_threads():>4} "
                        f"{open_fds():>4} "
                        f"{(wal.stat().st_size if wal.exists() else 0) / 1024:>7.0f} "
                        f"{live:>6}/{detached:<5} " + " ".join(cells)
                    )
                    if not rows:
                        print(header, flush=True)
                    rows.append(row)
                    print(row, flush=True)
                    window.clear()

            # Closing time: one last sync, then nothing may be pending.
            await screen_is(app, CounterScreen)
            async with asyncio.timeout(120):
                while app.syncing:
                    await asyncio.sleep(0.05)
            before = seen.snapshot(msg.SyncFinished)
            app.run_sync()
            await seen.until(msg.SyncFinished, after=before, timeout=120)
            await app.workers.wait_for_complete()
            await send(app, "ctrl+q")

        elapsed = time.monotonic() - started
        ledger_ids = [
            row[0]
            for row in terminal.store.read().execute(
                "SELECT id FROM events WHERE terminal_id = ?", [terminal.terminal_id]
            )
        ]
        platform_ids = platform.event_ids(terminal.terminal_id)
        pending = terminal.outbox()
        missing = set(ledger_ids) - set(platform_ids)
        duplicated = len(platform_ids) - len(set(platform_ids))
        extra = set(platform_ids) - set(ledger_ids)
        print()
        print(f"{visits} visits in {elapsed:.0f} s; threads now {threading.active_count()}")
        print("outcomes: " + ", ".join(f"{k} {v}" for k, v in sorted(outcomes.items())))
        print(
            f"exactly-once: {len(ledger_ids)} ledger events, {len(platform_ids)} on the platform, "
            f"missing {len(missing)}, duplicated {duplicated}, unknown {len(extra)}; "
            f"outbox {dict(pending)}"
        )
        if first_rss is not None and rows:
            last_rss = rss_mb()
            print(f"RSS: first window {first_rss:.1f} MB, at the end {last_rss:.1f} MB")
        ok = not missing and not duplicated and not extra and not pending.get("pending", 0)
        print("exactly-once: OK" if ok else "exactly-once: FAILED")
        terminal.store.close()
        return 0 if ok else 1
    finally:
        platform.stop()


async def leave(app: Any) -> None:
    """The customer leaves: Escape on the counter, the card cleared, the field empty."""
    from terminal.screens.counter import CounterScreen

    await screen_is(app, CounterScreen)
    await send(app, "escape")
    async with asyncio.timeout(30):
        while app.card is not None:
            await asyncio.sleep(0.002)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--visits", type=int, default=5000, help="visits in the day")
    parser.add_argument("--every", type=int, default=500, help="visits per printed row")
    parser.add_argument("--cards", type=int, default=400, help="cards in the town")
    parser.add_argument("--seed", type=int, default=10)
    args = parser.parse_args()
    sys.exit(asyncio.run(soak(args.visits, args.every, args.cards, args.seed)))


if __name__ == "__main__":
    main()
