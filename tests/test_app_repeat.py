"""F2 pressed twice is one visit: the key does nothing while the card's write is in flight, and a
second stamp within ``[program] repeat_confirm_seconds`` waits for Enter (Escape cancels)."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from terminal.dialogs.confirm import ConfirmDialog
from terminal.screens.counter import CounterScreen
from tests.test_app_kit import SIZE, make_counter, settle, text_of, type_code

CARD = "CT-TEST-0001"


async def test_a_second_stamp_within_the_window_asks_first(tmp_path: Path) -> None:
    counter = make_counter(tmp_path)
    app = counter.app()
    async with app.run_test(size=SIZE) as pilot:
        await type_code(pilot, counter.card(CARD))
        await pilot.press("f2")
        await settle(pilot)
        assert counter.ledger.balance(CARD).total == 1

        counter.clock.advance(seconds=20)
        await pilot.press("f2")
        await settle(pilot)
        assert isinstance(app.screen, ConfirmDialog)
        assert "20 s ago" in text_of(app, "#confirm-question")
        await pilot.press("escape")
        await settle(pilot)
        assert isinstance(app.screen, CounterScreen)
        assert counter.ledger.balance(CARD).total == 1

        await pilot.press("f2")
        await settle(pilot)
        assert isinstance(app.screen, ConfirmDialog)
        await pilot.press("enter")
        await settle(pilot)
        assert isinstance(app.screen, CounterScreen)
        assert counter.ledger.balance(CARD).total == 2


async def test_a_stamp_after_the_window_is_recorded_without_asking(tmp_path: Path) -> None:
    counter = make_counter(tmp_path, overrides={"program": {"repeat_confirm_seconds": 30}})
    app = counter.app()
    async with app.run_test(size=SIZE) as pilot:
        await type_code(pilot, counter.card(CARD))
        await pilot.press("f2")
        await settle(pilot)
        counter.clock.advance(seconds=31)
        await pilot.press("f2")
        await settle(pilot)
        assert isinstance(app.screen, CounterScreen)
        assert counter.ledger.balance(CARD).total == 2


async def test_the_window_asks_in_the_counters_language(tmp_path: Path) -> None:
    counter = make_counter(tmp_path)
    app = counter.app(lang="fr")
    async with app.run_test(size=SIZE) as pilot:
        await type_code(pilot, counter.card(CARD))
        await pilot.press("f2")
        await settle(pilot)
        await pilot.press("f2")
        await settle(pilot)
        assert isinstance(app.screen, ConfirmDialog)
        assert "il y a 0 s" in text_of(app, "#confirm-question")


async def test_f2_does_nothing_while_the_cards_write_is_in_flight(tmp_path: Path) -> None:
    counter = make_counter(tmp_path, overrides={"program": {"repeat_confirm_seconds": 0}})
    app = counter.app()
    async with app.run_test(size=SIZE) as pilot:
        await type_code(pilot, counter.card(CARD))
        # Another program holds the write lock: the stamp waits in SQLite's busy handler.
        blocker = sqlite3.connect(counter.settings.database_path, isolation_level=None)
        blocker.execute("BEGIN IMMEDIATE")
        try:
            await pilot.press("f2")
            await pilot.pause()
            assert CARD in app.writing
            await pilot.press("f2")
            await pilot.pause()
            await pilot.press("f2")
            await pilot.pause()
        finally:
            blocker.execute("COMMIT")
            blocker.close()
        await settle(pilot)
        assert isinstance(app.screen, CounterScreen)
        assert counter.ledger.balance(CARD).total == 1
        assert CARD not in app.writing
        await pilot.press("f2")  # the write ended: the key works again
        await settle(pilot)
        assert counter.ledger.balance(CARD).total == 2
