"""A recorded event leaves for the platform within seconds, not at the next sync interval.

The app runs against the reference platform over real HTTP on 127.0.0.1 with an interval of
an hour and a short sync-soon delay, so only the sync-soon path can drain the outbox.
"""

from __future__ import annotations

import asyncio
import threading
from collections import Counter
from collections.abc import Callable
from typing import Any

from city.issuer import Issuer
from loyalty.ledger import Ledger
from terminal import messages as msg
from terminal.app import CounterApp
from terminal.services import SyncResult, SyncRunner, make_app, sync_runner_for
from tests.conftest_platform import PairedTerminal, RunningPlatform
from tests.test_app_kit import SIZE, settle, text_of, type_code

SOON = 0.05
"""The sync-soon delay in these tests (the app's default is 5 s)."""


class Seen:
    """Messages the app handled, counted by type: a test awaits a count instead of sleeping."""

    def __init__(self) -> None:
        self.counts: Counter[type] = Counter()
        self.changed = asyncio.Event()

    def __call__(self, message: Any) -> None:
        # The hook runs on the app's event loop, just before the handler.
        self.counts[type(message)] += 1
        self.changed.set()

    async def until(self, kind: type, count: int, timeout: float = 30.0) -> None:
        async with asyncio.timeout(timeout):
            while self.counts[kind] < count:
                self.changed.clear()
                await self.changed.wait()


class Runner:
    """The real sync runner, counted, and held at its end while ``hold`` is set."""

    def __init__(self, real: SyncRunner) -> None:
        self.real = real
        self.runs = 0
        self.running = 0
        self.most_at_once = 0
        self.hold = threading.Event()
        self.held = threading.Event()
        self.release = threading.Event()
        self.lock = threading.Lock()

    def __call__(self, progress: Callable[[Any], None], **control: Any) -> SyncResult:
        with self.lock:
            self.runs += 1
            self.running += 1
            self.most_at_once = max(self.most_at_once, self.running)
        try:
            result = self.real(progress, **control)
            if self.hold.is_set():
                self.held.set()
                self.release.wait(30)
            return result
        finally:
            with self.lock:
                self.running -= 1


def issue_card(platform: RunningPlatform) -> str:
    """A card the platform issued (and knows), as the code a customer shows."""
    issuer = Issuer.open(platform.data_dir / "issuer")
    card_id, code = issuer.issue_card()
    with platform.open_store() as store:
        store.add_card(card_id, 365)
    return code


def counter_app(terminal: PairedTerminal, runner: Runner) -> CounterApp:
    settings = terminal.with_settings(
        sync={"interval_seconds": 3600, "time_budget_seconds": 5.0},
        camera={"enabled": False},
        terminal={"bell": False},
    )
    ledger = Ledger(terminal.store, shop_id=terminal.shop_id, terminal_id=terminal.terminal_id)
    return make_app(
        settings,
        ledger,
        None,
        None,
        runner,
        store=terminal.store,
        language="en",
        background_sync=True,
        sync_soon_seconds=SOON,
    )


async def test_a_stamp_is_sent_soon_without_waiting_for_the_interval(
    platform: RunningPlatform, terminal_factory: Callable[..., PairedTerminal]
) -> None:
    terminal = terminal_factory(platform)
    runner = Runner(sync_runner_for(terminal.settings, terminal.store))
    seen = Seen()
    app = counter_app(terminal, runner)
    async with app.run_test(size=SIZE, message_hook=seen) as pilot:
        await seen.until(msg.SyncFinished, 1)  # the run at start-up
        await settle(pilot)
        assert "0 to send" in text_of(app, "#status")

        await type_code(pilot, issue_card(platform))
        await pilot.press("f2")
        await seen.until(msg.StampRecorded, 1)
        await seen.until(msg.SyncFinished, 2)
        await settle(pilot)
        assert "● online" in text_of(app, "#status")
        assert "0 to send" in text_of(app, "#status")
        assert terminal.outbox().get("pending", 0) == 0
        assert len(platform.event_ids(terminal.terminal_id)) == 1
        assert runner.runs == 2


async def test_records_in_a_row_make_one_sync(
    platform: RunningPlatform, terminal_factory: Callable[..., PairedTerminal]
) -> None:
    terminal = terminal_factory(platform)
    runner = Runner(sync_runner_for(terminal.settings, terminal.store))
    seen = Seen()
    app = counter_app(terminal, runner)
    async with app.run_test(size=SIZE, message_hook=seen) as pilot:
        await seen.until(msg.SyncFinished, 1)
        await settle(pilot)
        for _ in range(3):  # as three records in a row call it, before the delay is over
            app.sync_soon()
        await seen.until(msg.SyncFinished, 2)
        await settle(pilot)
        assert runner.runs == 2  # the start-up run and one for the three


async def test_a_record_during_a_run_gets_one_more_run_never_two_at_once(
    platform: RunningPlatform, terminal_factory: Callable[..., PairedTerminal]
) -> None:
    terminal = terminal_factory(platform)
    runner = Runner(sync_runner_for(terminal.settings, terminal.store))
    seen = Seen()
    app = counter_app(terminal, runner)
    async with app.run_test(size=SIZE, message_hook=seen) as pilot:
        await seen.until(msg.SyncFinished, 1)
        await settle(pilot)
        await type_code(pilot, issue_card(platform))

        runner.hold.set()  # the next run sends nothing, then stays busy until released
        app.run_sync()
        await asyncio.to_thread(runner.held.wait, 30)
        counted = seen.counts[msg.StatusRefreshed]
        await pilot.press("f2")  # recorded while that run is busy
        await seen.until(msg.StampRecorded, 1)
        await seen.until(msg.StatusRefreshed, counted + 1)
        # The sync-soon timer fires during the run; it must not start a second one.
        async with asyncio.timeout(30):
            while not app.sync_again:
                await pilot.pause(SOON)
        assert runner.running == 1
        assert "1 to send" in text_of(app, "#status")

        runner.hold.clear()
        runner.release.set()
        await seen.until(msg.SyncFinished, 3)  # the held run, then the one it asked for
        await settle(pilot)
        assert runner.most_at_once == 1
        assert runner.runs == 3
        assert "0 to send" in text_of(app, "#status")
        assert len(platform.event_ids(terminal.terminal_id)) == 1
