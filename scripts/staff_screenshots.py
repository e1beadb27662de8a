"""Write the README's staff pictures in docs/: the lock screen and a manager's approval, 80x24.

The lock screen after a wrong PIN (the throttle's wait said), and a cashier's void waiting
for a manager's name and PIN. Run with ``.venv/bin/python scripts/staff_screenshots.py``; it
uses a throwaway ledger, a fixed clock and keys typed at a person's pace, so the pictures
change only when the screens do.
"""

from __future__ import annotations

import asyncio
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from loyalty.staff import StaffBook  # noqa: E402
from tests.test_app_kit import make_counter, settle, type_code  # noqa: E402
from tests.test_app_snapshots import CARD, SMALL, _day_at_the_counter  # noqa: E402
from tests.test_staff_app import PersonKeys, Ticks, type_keys  # noqa: E402

DOCS = ROOT / "docs"
PICTURES = ("lock.svg", "approval.svg")


async def shoot(lang: str = "en") -> None:
    """Drive the app and save the screenshots."""
    with tempfile.TemporaryDirectory() as tmp:
        counter = make_counter(Path(tmp))
        code = counter.card(CARD)
        _day_at_the_counter(counter)  # before the accounts: then every event needs one
        book = StaffBook(counter.store)
        book.add("Anna Peeters", "manager", "4821")
        book.add("Bram De Smet", "cashier", "1357")
        book.add("Chloé Vandenberghe", "cashier", "2468")
        app = counter.app(lang=lang, key_clock=PersonKeys(), idle_clock=Ticks())
        async with app.run_test(size=SMALL) as pilot:
            await settle(pilot)
            await type_keys(pilot, "br")
            await pilot.press("enter")
            for pin in ("1111", "2222"):
                await type_keys(pilot, pin)
                await pilot.press("enter")
                await settle(pilot)
            await type_keys(pilot, "13")  # half typed: two dots
            app.save_screenshot("lock.svg", str(DOCS))
            counter.clock.advance(seconds=2)
            await type_keys(pilot, "57")
            await pilot.press("enter")
            await settle(pilot)
            await type_code(pilot, code)
            await pilot.press("f2")
            await settle(pilot)
            await pilot.press("f5", "delete", "enter")
            await settle(pilot)
            await type_keys(pilot, "anna")
            await pilot.press("enter")
            await type_keys(pilot, "48")
            app.save_screenshot("approval.svg", str(DOCS))
        counter.store.close()


if __name__ == "__main__":
    asyncio.run(shoot())
    print("wrote " + ", ".join(f"docs/{name}" for name in PICTURES))  # noqa: T201
