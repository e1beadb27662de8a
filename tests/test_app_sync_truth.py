"""The status line tells the truth about the platform, and quitting never waits on it.

Over the reference platform on 127.0.0.1: with the platform down the status line says offline
as soon as a request fails (not "synchronising" for the whole retry budget) and Ctrl+Q cancels
the run at once, its events kept pending; a run during which the counter recorded an event
reached the platform all the same, so the status line stays online.
"""

from __future__ import annotations

import asyncio
import http.server
import threading
from collections.abc import Callable
from typing import Any

from loyalty.ledger import Ledger
from terminal import messages as msg
from terminal.app import CounterApp
from terminal.services import SyncResult, SyncRunner, make_app, sync_runner_for
from tests.conftest_platform import PairedTerminal, RunningPlatform, add_events
from tests.test_app_kit import SIZE, settle, text_of, type_code
from tests.test_app_sync_soon import Seen, issue_card


class Ended:
    """The real runner, with the result of each run kept and its end signalled."""

    def __init__(self, real: SyncRunner) -> None:
        self.real = real
        self.results: list[SyncResult] = []
        self.ended = threading.Event()

    def __call__(self, progress: Callable[[Any], None], **control: Any) -> SyncResult:
        try:
            result = self.real(progress, **control)
            self.results.append(result)
            return result
        finally:
            self.ended.set()


def counter_app(terminal: PairedTerminal, runner: SyncRunner, budget: float) -> CounterApp:
    settings = terminal.with_settings(
        sync={"time_budget_seconds": budget}, camera={"enabled": False}, terminal={"bell": False}
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
        background_sync=False,
    )


async def test_quit_with_the_platform_down_cancels_the_sync_and_keeps_the_events(
    platform: RunningPlatform, terminal_factory: Callable[..., PairedTerminal]
) -> None:
    terminal = terminal_factory(platform)
    platform.stop()  # nothing listens on its port now: every request is refused
    add_events(terminal.store, 3, shop_id=terminal.shop_id, terminal_id=terminal.terminal_id)
    lines: list[dict[str, Any]] = []
    runner = Ended(sync_runner_for(terminal.settings, terminal.store, log=lines.append))
    seen = Seen()
    # A budget this long would keep a run retrying (and the app's exit waiting) for minutes.
    app = counter_app(terminal, runner, budget=600.0)
    async with app.run_test(size=SIZE, message_hook=seen) as pilot:
        await settle(pilot)
        app.run_sync()
        await seen.until(msg.SyncUnreachable, 1)
        await pilot.pause()
        assert app.syncing  # still retrying, and the status line already says so
        assert "○ offline" in text_of(app, "#status")
        assert "synchronising" not in text_of(app, "#status").lower()
        await pilot.press("ctrl+q")
    assert not app.is_running
    # A hang guard, not a timing: the run returns once cancelled, not after its budget.
    assert await asyncio.wait_for(asyncio.to_thread(runner.ended.wait, 120), 150)
    [result] = runner.results
    assert result.outcome == "cancelled"
    retries = [line for line in lines if line.get("event") == "retry_scheduled"]
    assert len(retries) < 10
    assert terminal.outbox().get("pending", 0) == 3
    assert terminal.outbox().get("synced", 0) == 0


async def test_a_record_during_a_run_leaves_the_status_online(
    platform: RunningPlatform, terminal_factory: Callable[..., PairedTerminal]
) -> None:
    terminal = terminal_factory(platform)
    pushed = threading.Event()
    go_on = threading.Event()

    def log(line: dict[str, Any]) -> None:
        # Runs on the sync's thread: hold the run between its push and its end.
        if line.get("event") == "push_finished":
            pushed.set()
            go_on.wait(60)

    runner = Ended(sync_runner_for(terminal.settings, terminal.store, log=log))
    seen = Seen()
    app = counter_app(terminal, runner, budget=30.0)
    async with app.run_test(size=SIZE, message_hook=seen) as pilot:
        await settle(pilot)
        await type_code(pilot, issue_card(platform))
        app.run_sync()
        assert await asyncio.to_thread(pushed.wait, 60)
        await pilot.press("f2")  # recorded while the run is going
        await seen.until(msg.StampRecorded, 1)
        go_on.set()
        await seen.until(msg.SyncFinished, 1)
        await settle(pilot)
        status = text_of(app, "#status")
        assert "● online" in status, status
        assert "1 to send" in status
        assert app.last_sync is not None and app.last_sync.outcome == "ok"


async def test_a_run_cancelled_at_quit_says_nothing_about_the_platform(
    platform: RunningPlatform, terminal_factory: Callable[..., PairedTerminal]
) -> None:
    terminal = terminal_factory(platform)
    pushed = threading.Event()
    hold = threading.Event()
    go_on = threading.Event()

    def log(line: dict[str, Any]) -> None:
        if line.get("event") == "push_finished" and hold.is_set():
            pushed.set()
            go_on.wait(60)

    runner = Ended(sync_runner_for(terminal.settings, terminal.store, log=log))
    seen = Seen()
    app = counter_app(terminal, runner, budget=30.0)
    async with app.run_test(size=SIZE, message_hook=seen) as pilot:
        await settle(pilot)
        app.run_sync()
        await seen.until(msg.SyncFinished, 1)
        await settle(pilot)
        assert "● online" in text_of(app, "#status")
        hold.set()
        runner.ended.clear()
        app.run_sync()
        assert await asyncio.to_thread(pushed.wait, 60)
        await pilot.press("ctrl+q")
    go_on.set()
    assert await asyncio.wait_for(asyncio.to_thread(runner.ended.wait, 60), 90)
    assert runner.results[-1].outcome == "cancelled"

    # The next start reads the status from the ledger: the cancelled run tried nothing.
    again = counter_app(terminal, runner, budget=30.0)
    async with again.run_test(size=SIZE) as pilot:
        await settle(pilot)
        status = text_of(again, "#status")
        assert "● online" in status, status


class _CaptivePortal(http.server.BaseHTTPRequestHandler):
    """What a shop's guest Wi-Fi answers before its login page is accepted: HTML, status 200."""

    def _portal(self) -> None:
        body = b"<html><body>Welcome! Please log in to use the Wi-Fi.</body></html>"
        self.send_response(200)
        self.send_header("Content-Type", "text/html")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_GET = do_POST = _portal

    def log_message(self, *_args: Any) -> None:
        pass


async def test_a_captive_portal_answering_html_leaves_the_status_offline(
    platform: RunningPlatform, terminal_factory: Callable[..., PairedTerminal]
) -> None:
    # Something answered, but not the platform: the counter must not say "online" while its
    # events pile up unsent.
    terminal = terminal_factory(platform)
    add_events(terminal.store, 2, shop_id=terminal.shop_id, terminal_id=terminal.terminal_id)
    portal = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _CaptivePortal)
    threading.Thread(target=portal.serve_forever, daemon=True).start()
    try:
        settings = terminal.with_settings(
            platform={"url": f"http://127.0.0.1:{portal.server_address[1]}"}
        )
        runner = Ended(sync_runner_for(settings, terminal.store))
        seen = Seen()
        app = counter_app(terminal, runner, budget=30.0)
        async with app.run_test(size=SIZE, message_hook=seen) as pilot:
            await settle(pilot)
            app.run_sync()
            await seen.until(msg.SyncFinished, 1)
            await settle(pilot)
            assert runner.results[-1].outcome == "protocol_error"
            status = text_of(app, "#status")
            assert "○ offline" in status, status
            assert "online" not in status.replace("offline", ""), status
            assert "2 to send" in status, status
    finally:
        portal.shutdown()
        portal.server_close()
    assert terminal.outbox().get("pending", 0) == 2
