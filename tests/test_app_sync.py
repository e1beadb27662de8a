"""The app against the reference platform over real HTTP on 127.0.0.1: offline when it stops,
pending events drain when it comes back; the status line says so, counted from the database."""

from __future__ import annotations

from collections.abc import Callable
from urllib.parse import urlparse

from loyalty.ledger import Ledger
from terminal.services import make_app, sync_runner_for
from tests.conftest_platform import PairedTerminal, RunningPlatform, add_events, start_platform
from tests.test_app_kit import SIZE, Clock, settle, text_of


async def test_offline_then_pending_drains_when_the_platform_returns(
    platform: RunningPlatform, terminal_factory: Callable[..., PairedTerminal]
) -> None:
    terminal = terminal_factory(platform)
    settings = terminal.with_settings(
        sync={"time_budget_seconds": 1.0}, camera={"enabled": False}, terminal={"bell": False}
    )
    ledger = Ledger(terminal.store, shop_id=terminal.shop_id, terminal_id=terminal.terminal_id)
    app = make_app(
        settings,
        ledger,
        None,
        None,
        sync_runner_for(settings, terminal.store),
        store=terminal.store,
        clock=Clock(),
        language="en",
        background_sync=False,
    )
    async with app.run_test(size=SIZE) as pilot:
        app.run_sync()
        await settle(pilot)
        assert "● online" in text_of(app, "#status")
        assert "0 to send" in text_of(app, "#status")

        platform.stop()
        add_events(terminal.store, 3, shop_id=terminal.shop_id, terminal_id=terminal.terminal_id)
        app.run_sync()
        await settle(pilot)
        status = text_of(app, "#status")
        assert "○ offline" in status
        assert "3 to send" in status

        port = urlparse(platform.url).port
        back = start_platform(platform.data_dir, "--port", str(port))
        try:
            app.run_sync()
            await settle(pilot)
            status = text_of(app, "#status")
            assert "● online" in status
            assert "0 to send" in status
            assert len(back.event_ids(terminal.terminal_id)) == 3
        finally:
            back.stop()
