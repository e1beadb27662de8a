"""Write docs/counter.svg and docs/report.svg: the counter and report screens after a morning.

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

from tests.test_app_kit import SIZE, make_counter, settle, type_code  # noqa: E402
from tests.test_app_snapshots import CARD, _day_at_the_counter  # noqa: E402


async def shoot(lang: str = "en") -> None:
    """Drive the app and save both screenshots."""
    with tempfile.TemporaryDirectory() as tmp:
        counter = make_counter(Path(tmp))
        code = counter.card(CARD)
        _day_at_the_counter(counter)
        app = counter.app(lang=lang)
        async with app.run_test(size=SIZE) as pilot:
            await settle(pilot)
            await type_code(pilot, code)
            await pilot.press("f2")
            await settle(pilot)
            app.save_screenshot("counter.svg", str(ROOT / "docs"))
            await pilot.press("f6")
            await settle(pilot)
            app.save_screenshot("report.svg", str(ROOT / "docs"))
        counter.store.close()


if __name__ == "__main__":
    asyncio.run(shoot())
    print("wrote docs/counter.svg and docs/report.svg")  # noqa: T201
