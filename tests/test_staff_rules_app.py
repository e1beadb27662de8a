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
