"""Issue 15 item 3: every screen fits 80x24 in every language; quit and help always show.

The real app at the counter's sizes, read back as the text a terminal would show.
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import pytest
from rich.console import Console

from terminal.app import CounterApp
from terminal.i18n import t
from tests.test_app_kit import make_counter, settle, type_code
from tests.test_app_snapshots import CARD, SCREENS, _day_at_the_counter

LANGS = ("fr", "nl", "de", "en")


def screen_text(app: CounterApp) -> str:
    """What the terminal shows now, as plain text lines."""
    width, height = app.size
    console = Console(
        width=width,
        height=height,
        file=io.StringIO(),
        force_terminal=True,
        color_system=None,
        record=True,
        legacy_windows=False,
        safe_box=False,
    )
    console.print(
        app.screen._compositor.render_update(full=True, screen_stack=app._background_screens)
    )
    return console.export_text()


async def _open(pilot: Any, code: str, screen: str) -> list[str]:
    await settle(pilot)
    await type_code(pilot, code)
    if SCREENS[screen]:
        await pilot.press(*SCREENS[screen])
    await settle(pilot)
    return screen_text(pilot.app).splitlines()


@pytest.mark.parametrize("lang", LANGS)
async def test_every_screen_fits_80x24(tmp_path: Path, lang: str) -> None:
    for screen in SCREENS:
        counter = make_counter(tmp_path / screen)
        code = counter.card(CARD)
        _day_at_the_counter(counter)
        app = counter.app(lang=lang)
        async with app.run_test(size=(80, 24)) as pilot:
            lines = await _open(pilot, code, screen)
            footer = lines[-1]
            # Quit and help are on every screen's key bar, whole.
            assert f"^q {t('key.quit', lang)}" in footer, (screen, footer)
            assert f"f1 {t('key.help', lang)}" in footer, (screen, footer)
            if screen in ("counter", "history", "report", "sync", "settings"):
                status = next(line for line in lines if CARD not in line and "│" in line)
                camera = t("status.camera", lang, state=t("camera.short.missing", lang))
                assert camera in status, (screen, status)
                assert "camera" not in status or len(status.rstrip()) <= 80
            if screen == "counter":
                body = "\n".join(lines)
                # The card panel's recent events: whole words, never "purcha".
                kind = t("event.purchase", lang)
                assert f" {kind} " in body, body


@pytest.mark.parametrize("width", [80, 120, 160])
async def test_dutch_counter_keeps_quit_help_and_actions(tmp_path: Path, width: int) -> None:
    counter = make_counter(tmp_path)
    code = counter.card(CARD)
    app = counter.app(lang="nl")
    async with app.run_test(size=(width, 30)) as pilot:
        footer = (await _open(pilot, code, "counter"))[-1]
        assert "^q Afsluiten" in footer
        assert "f1 Hulp" in footer
        assert "f2 Stempel" in footer
        assert "f3 Aankoop" in footer
        assert "f4 Beloning" in footer
        if width >= 160:
            # Every counter key fits at 160 columns (F12 exists only in demo mode).
            for label in ("f8 Instellingen", "esc Wissen", "f9 Taal"):
                assert label in footer, footer


def _inside(inner: Any, outer: Any) -> bool:
    """The whole of region ``inner`` is within region ``outer`` (nothing cut off)."""
    return (
        inner.x >= outer.x
        and inner.y >= outer.y
        and inner.right <= outer.right
        and inner.bottom <= outer.bottom
    )


@pytest.mark.parametrize("lang", LANGS)
async def test_voucher_panel_and_dialogs_fit_80x24(tmp_path: Path, lang: str) -> None:
    """Issue 13: the voucher panel beside a card (offline cap line included), the pay dialog
    with its longest refusal, and a purchase's voucher question, whole at 80x24."""
    from textual.widgets import Static

    from terminal.widgets.voucher import VoucherPanel
    from tests.test_app_kit import START

    counter = make_counter(tmp_path)
    code = counter.card(CARD)
    _day_at_the_counter(counter)
    voucher, voucher_code = counter.issuer.issue_voucher(
        10000, city="roeselare", campaign="Winterfeesten in de binnenstad", now=START
    )
    app = counter.app(lang=lang)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        # 40.00 paid here and not synced: the offline allowance (50.00) now limits it.
        app.desk.spend_voucher(voucher, 4000)
        await type_code(pilot, code)
        await type_code(pilot, voucher_code)
        assert app.voucher is not None and app.voucher.offline_capped
        lines = screen_text(app).splitlines()
        body = "\n".join(lines)
        panel = app.screen.query_one(VoucherPanel)
        side = app.screen.query_one("#customer-side")
        assert _inside(panel.region, side.region), (panel.region, side.region)
        for facts in panel.query(Static):
            assert _inside(facts.region, panel.content_region), (facts.id, facts.region)
            shown = str(facts.render())
            assert shown.count("\n") + 1 <= facts.region.height, (facts.id, shown)
        assert CARD in body  # the card stays beside the voucher
        assert voucher.voucher_id in body
        footer = lines[-1]
        assert f"f10 {t('key.voucher', lang)}" in footer, footer
        assert f"^q {t('key.quit', lang)}" in footer and f"f1 {t('key.help', lang)}" in footer

        for keys in (("f10", "9", "9"), ("escape", "f3", "9", "9", "enter", "9", "9")):
            await pilot.press(*keys)
            await settle(pilot)
            assert type(app.screen).__name__ == "VoucherDialog", keys
            box = app.screen.query_one("#voucher-box")
            assert _inside(box.region, app.screen.region), box.region
            for part in box.query(Static):
                if not part.display:
                    continue  # the purchase line, in the voucher-only dialog
                assert _inside(part.region, box.content_region), (part.id, part.region)
            error = str(app.screen.query_one("#voucher-error", Static).render())
            assert error, keys
            footer = screen_text(app).splitlines()[-1]
            assert f"^q {t('key.quit', lang)}" in footer, footer
            assert f"f1 {t('key.help', lang)}" in footer, footer
            assert f"f2 {t('key.voucher_most', lang)}" in footer, footer
