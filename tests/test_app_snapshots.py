"""Snapshots of every screen at 80x24 in four languages, and of the counter at 120x36.

pytest-textual-snapshot; fixed clock and ids.

Update after a deliberate change with ``pytest tests/test_app_snapshots.py --snapshot-update``
and look at the SVGs before committing them.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from loyalty.programs import Program
from tests.test_app_kit import START, Counter, make_counter, settle, type_code

CARD = "CT-SNAP-0001"
SMALL = (80, 24)
"""The smallest display a counter has: everything must fit it."""
SCREENS = {
    "counter": (),
    "purchase": ("f3", "1", "2", ",", "5", "0"),
    "redeem": ("f4",),
    "history": ("f5",),
    "report": ("f6",),
    "sync": ("f7",),
    "settings": ("f8",),
    "help": ("f1",),
}


def _day_at_the_counter(counter: Counter) -> None:
    # In the order they happened, all before the app's clock: the ledger records no event
    # earlier than its newest one, and says so when the clock is behind it.
    program = Program.from_settings(counter.settings.program)
    ledger = counter.ledger
    for days in (7, 4, 2, 1):
        ledger.stamp(f"CT-SNAP-{days:04d}X", program, now=START - timedelta(days=days))
    for n, minutes in enumerate((0, 35, 80, 110)):
        moment = START - timedelta(hours=2) + timedelta(minutes=minutes)
        if n == 2:
            ledger.purchase(CARD, 1250, program, now=moment)
        else:
            ledger.stamp(CARD, program, now=moment)
    ledger.purchase(None, 800, program, now=START - timedelta(minutes=5))


LANGS = ["fr", "nl", "de", "en"]


def _run_before(code: str, screen: str) -> Any:
    async def run_before(pilot: Any) -> None:
        await settle(pilot)
        await type_code(pilot, code)
        if SCREENS[screen]:
            await pilot.press(*SCREENS[screen])
        await settle(pilot)

    return run_before


@pytest.mark.parametrize("lang", LANGS)
@pytest.mark.parametrize("screen", list(SCREENS))
def test_screen_snapshot(tmp_path: Path, snap_compare: Any, screen: str, lang: str) -> None:
    """Every screen at the smallest counter display, 80x24, in every language."""
    counter = make_counter(tmp_path)
    code = counter.card(CARD)
    if screen == "redeem":
        # A regular with enough stamps: with too few, F4 refuses without a dialog.
        program = Program.from_settings(counter.settings.program)
        for days in range(20, 14, -1):
            counter.ledger.stamp(CARD, program, now=START - timedelta(days=days))
    _day_at_the_counter(counter)
    app = counter.app(lang=lang)
    assert snap_compare(app, terminal_size=SMALL, run_before=_run_before(code, screen))


@pytest.mark.parametrize("lang", LANGS)
def test_counter_snapshot_120x36(tmp_path: Path, snap_compare: Any, lang: str) -> None:
    """The counter on a common larger display, in every language."""
    counter = make_counter(tmp_path)
    code = counter.card(CARD)
    _day_at_the_counter(counter)
    app = counter.app(lang=lang)
    assert snap_compare(app, terminal_size=(120, 36), run_before=_run_before(code, "counter"))
