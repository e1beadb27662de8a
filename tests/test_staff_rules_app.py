"""The counter app when the serving account is locked elsewhere (review R1), through Pilot."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from loyalty.staff import StaffBook, StaffError
from terminal.screens.lock import LockScreen
from tests.test_app_kit import SIZE, settle, type_code
from tests.test_staff_app import BRAM_PIN, CARD, shop, unlock


async def test_a_serving_account_locked_elsewhere_locks_the_counter(tmp_path: Path) -> None:
    place = shop(tmp_path)
    counter = place.counter
    app = place.app()
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await unlock(pilot, "bram", BRAM_PIN)
        await type_code(pilot, counter.card(CARD))
        # Somebody types wrong PINs for Bram at a till (`citie-terminal stamp --staff bram`).
        book = StaffBook(counter.store, max_failures=counter.settings.staff.max_failures)
        start = datetime.now(UTC)
        for hour in range(counter.settings.staff.max_failures):
            with pytest.raises(StaffError):
                book.check_pin("Bram De Smet", "000000", now=start + timedelta(hours=hour))
        await pilot.press("f2")
        await settle(pilot)
        assert counter.ledger.recent() == []
        # The ledger said staff_locked: the counter asks who is serving, as for a removal.
        assert isinstance(app.screen, LockScreen)


async def test_a_crash_while_a_pin_is_checked_never_prints_the_pin(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capfd: pytest.CaptureFixture[str]
) -> None:
    """Textual draws a crash's traceback with every frame's local variables; the frames of
    the lock screen hold the PIN just typed. A bug there must not print it on the terminal."""

    def bug(self: LockScreen, pin: str, source: str) -> None:
        raise RuntimeError("a bug in the lock screen")

    # The only fake: a bug the real code does not have on demand.
    monkeypatch.setattr(LockScreen, "_submit_pin", bug)
    app = shop(tmp_path).app()
    with pytest.raises(RuntimeError):
        async with app.run_test(size=SIZE) as pilot:
            await settle(pilot)
            await unlock(pilot, "bram", BRAM_PIN)
    printed = capfd.readouterr()
    shown = printed.out + printed.err
    assert "a bug in the lock screen" in shown  # the traceback is still drawn
    assert BRAM_PIN not in shown
