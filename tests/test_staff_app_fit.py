"""The lock screen and the manager's approval dialog fit 80x24 in every language (issue 14).

The same rules as tests/test_screens_fit.py: the real app at the smallest counter display,
read back as the text a terminal shows; quit and help on the key bar; the status line keeps
the camera; every text whole inside its box, with the longest sentences these screens show.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from textual.widgets import Input, Static

from loyalty.staff import StaffBook
from terminal.dialogs.approval import ApprovalDialog
from terminal.i18n import t
from terminal.screens.lock import LockScreen
from tests.test_app_kit import make_counter, settle, type_code
from tests.test_screens_fit import screen_text
from tests.test_staff_app import PersonKeys, Ticks, type_keys

LANGS = ("fr", "nl", "de", "en")
CARD = "CT-FIT-0001"


def _inside(inner: Any, outer: Any) -> bool:
    return (
        inner.x >= outer.x
        and inner.y >= outer.y
        and inner.right <= outer.right
        and inner.bottom <= outer.bottom
    )


def region_text(app: Any, region: Any) -> str:
    """The words the terminal shows inside ``region`` (a widget's box), on one line."""
    lines = screen_text(app).splitlines()[region.y : region.bottom]
    return " ".join(" ".join(line[region.x : region.right] for line in lines).split())


def _footer_keeps_quit_and_help(lines: list[str], lang: str) -> None:
    footer = lines[-1]
    assert f"^q {t('key.quit', lang)}" in footer, footer
    assert f"f1 {t('key.help', lang)}" in footer, footer


@pytest.mark.parametrize("lang", LANGS)
async def test_lock_screen_and_approval_dialog_fit_80x24(tmp_path: Path, lang: str) -> None:
    counter = make_counter(tmp_path, overrides={"staff": {"max_failures": 3}})
    book = StaffBook(counter.store, max_failures=3)
    book.add("Anna Peeters", "manager", "4821")
    book.add("Bram De Smet", "cashier", "135790")
    book.add("Chloé Vandenberghe-Declercq", "cashier", "2468")
    code = counter.card(CARD)
    app = counter.app(lang=lang, key_clock=PersonKeys(), idle_clock=Ticks())
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        screen = app.screen
        assert isinstance(screen, LockScreen)
        lines = screen_text(app).splitlines()
        _footer_keeps_quit_and_help(lines, lang)
        camera = t("status.camera", lang, state=t("camera.short.missing", lang))
        assert camera in lines[0], lines[0]
        for name in ("Anna Peeters", "Bram De Smet", "Chloé Vandenberghe-Declercq"):
            assert name in "\n".join(lines), name

        # The longest sentences: a wrong PIN with its wait, then a scanned card refused.
        await type_keys(pilot, "chlo")
        await pilot.press("enter")
        for pin in ("1111", "2222"):
            await type_keys(pilot, pin)
            await pilot.press("enter")
            await settle(pilot)
        message = str(screen.query_one("#lock-message", Static).render())
        assert t("lock.wait", lang, seconds=1) in message, message
        screen.scanned()
        await settle(pilot)
        region = screen.region
        for widget in [*screen.query(Static), *screen.query(Input)]:
            assert _inside(widget.region, region), (widget.id, widget.region)
        shown = region_text(app, screen.query_one("#lock-message").region)
        assert " ".join(t("lock.scan_refused", lang).split()) == shown

        await pilot.press("escape")
        await type_keys(pilot, "bram")
        await pilot.press("enter")
        await type_keys(pilot, "135790")
        await pilot.press("enter")
        await settle(pilot)
        await type_code(pilot, code)
        await pilot.press("f2")
        await settle(pilot)
        # Who serves is on the counter's status line, and the camera still is.
        status = screen_text(app).splitlines()[0]
        assert t("staff.serving", lang, name="Bram") in status, status
        assert camera in status and len(status.rstrip()) <= 80, status
        await pilot.press("f5", "delete", "enter")
        await settle(pilot)
        dialog = app.screen
        assert isinstance(dialog, ApprovalDialog)
        await type_keys(pilot, "anna")
        await pilot.press("enter")
        await type_keys(pilot, "12")  # the longest sentence the dialog says
        await pilot.press("enter")
        await settle(pilot)
        lines = screen_text(app).splitlines()
        _footer_keeps_quit_and_help(lines, lang)
        box = dialog.query_one("#approval-box")
        assert _inside(box.region, dialog.region)
        for widget in [*box.query(Static), *box.query(Input)]:
            assert _inside(widget.region, box.content_region), (widget.id, widget.region)
        shown = region_text(app, dialog.query_one("#approval-message").region)
        assert " ".join(t("lock.pin_format", lang).split()) == shown
        assert "demo-t1-1" in region_text(app, dialog.query_one("#approval-what").region)
