"""Write the README's pictures in docs/: counter and report at 80x24, the on-screen slip.

80x24 is the smallest display a counter has, so the pictures show what every shop sees at
least. The slip's claim QR is 25 lines high: it is shown whole from 36 lines on (the dialog
scrolls on a smaller screen), so its picture is 80x36.

Run with ``.venv/bin/python scripts/screenshots.py``; it uses a throwaway ledger and a fixed
clock, so the pictures change only when the screens do.
"""

from __future__ import annotations

import asyncio
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.test_app_kit import make_counter, settle, type_code  # noqa: E402
from tests.test_app_snapshots import CARD, SMALL, _day_at_the_counter  # noqa: E402

DOCS = ROOT / "docs"
PICTURES = ("counter.svg", "report.svg", "slip.svg")
SLIP = (80, 36)


async def shoot(lang: str = "en") -> None:
    """Drive the app and save the screenshots."""
    with tempfile.TemporaryDirectory() as tmp:
        counter = make_counter(Path(tmp))
        code = counter.card(CARD)
        _day_at_the_counter(counter)
        app = counter.app(lang=lang)
        async with app.run_test(size=SMALL) as pilot:
            await settle(pilot)
            await type_code(pilot, code)
            await pilot.press("f2")
            await settle(pilot)
            app.save_screenshot("counter.svg", str(DOCS))
            await pilot.press("f6")
            await settle(pilot)
            app.save_screenshot("report.svg", str(DOCS))
        # An anonymous purchase: its slip on screen carries the claim QR.
        app = counter.app(lang=lang)
        async with app.run_test(size=SLIP) as pilot:
            await settle(pilot)
            await pilot.press("f3", "2", "5", ",", "0", "0", "enter")
            await settle(pilot)
            await pilot.press("ctrl+r")
            await settle(pilot)
            app.screen.query_one("#receipt-box").scroll_end(animate=False)
            await settle(pilot)
            app.save_screenshot("slip.svg", str(DOCS))
        counter.store.close()


if __name__ == "__main__":
    asyncio.run(shoot())
    print("wrote " + ", ".join(f"docs/{name}" for name in PICTURES))  # noqa: T201
