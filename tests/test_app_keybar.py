"""Opening and closing dialogs all day does not pile up dead widgets (Textual's Footer leak,
Textualize/textual#6666, worked around by ``terminal.widgets.keys.KeyBar``)."""

from __future__ import annotations

import gc
from pathlib import Path

from textual.widget import Widget
from textual.widgets._footer import FooterKey

from tests.test_app_kit import SIZE, make_counter, settle, type_code

CARD = "CT-TEST-0001"


def _live(kind: type[Widget]) -> tuple[int, int]:
    """How many widgets of ``kind`` are alive, and how many of them are no longer on screen."""
    gc.collect()
    alive = [o for o in gc.get_objects() if isinstance(o, kind)]
    return len(alive), sum(1 for o in alive if not o.is_attached)


async def test_many_dialogs_leave_no_dead_footer_keys(tmp_path: Path) -> None:
    counter = make_counter(tmp_path)
    app = counter.app()
    async with app.run_test(size=SIZE) as pilot:
        await type_code(pilot, counter.card(CARD))
        shown, _ = _live(FooterKey)
        for _ in range(10):
            for dialog_key in ("f3", "f4", "f1"):
                await pilot.press(dialog_key)
                await settle(pilot)
                await pilot.press("escape" if dialog_key != "f1" else "f1")
                await settle(pilot)
        assert type(app.screen).__name__ == "CounterScreen"
        live, detached = _live(FooterKey)
        # 30 dialogs: Textual's Footer alone keeps every key of every recompose (~300 here).
        assert detached == 0, f"{detached} footer keys removed from the screen are still alive"
        assert live <= shown + 2
        widgets, dead = _live(Widget)
        assert dead <= 5, f"{dead} of {widgets} widgets are detached but alive"
