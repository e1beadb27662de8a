"""Text safety and translations: hostile strings render as plain text everywhere, and the
catalog is complete in fr, nl, de and en."""

from __future__ import annotations

import string
from datetime import timedelta
from pathlib import Path

import pytest
from textual.content import Content

from loyalty.i18n import LANGUAGES
from terminal.dialogs.confirm import ConfirmDialog
from terminal.dialogs.purchase import PurchaseDialog
from terminal.dialogs.receipt import ReceiptDialog
from terminal.dialogs.redeem import RedeemDialog
from terminal.i18n import SAME_AS_ENGLISH, M
from terminal.safe import clean, plain
from terminal.screens.counter import CounterScreen
from terminal.screens.settings import SettingsScreen
from terminal.screens.sync import SyncScreen
from terminal.services import CardView, EventRow
from tests.test_app_kit import SIZE, START, make_counter, settle

CORPUS = [
    "[/",
    "[@click=app.quit]x[/]",
    "[bold red]loud[/bold red] [link=https://evil.example]pay[/link]",
    "\x1b[31mred\x1b[0m\x1b]8;;https://evil.example\x07link\x1b]8;;\x07",
    "C1\x9b31m\x85next\x90dcs\x9c",
    "abc\u202eEVIL\u202c\u2066iso\u2069\u200f",
    "nul\x00bell\x07del\x7ftab\tcr\rlf\n",
    "x" * 3000,
]
HOSTILE = "".join(CORPUS[:-1]) + CORPUS[-1]
FORBIDDEN = ["\x1b", "\x9b", "\x85", "\u202e", "\u2066", "\x00", "\x07", "\x7f"]


@pytest.mark.parametrize("text", CORPUS)
def test_clean_removes_controls_and_caps_length(text: str) -> None:
    out = clean(text, 120)
    assert len(out) <= 120
    assert not any(ch in out for ch in FORBIDDEN)
    assert all(ch.isprintable() for ch in out)
    # Plain content is never parsed: the brackets are still there as text.
    assert plain(text).plain == clean(text)


def test_plain_content_has_no_action_links() -> None:
    content = plain("[@click=app.quit]x[/]")
    assert content.plain == "[@click=app.quit]x[/]"
    assert content.spans == []
    assert isinstance(content, Content)


def _row(n: int) -> EventRow:
    return EventRow(
        id=f"id-{n}",
        receipt_no=HOSTILE,
        kind="stamp",
        occurred_at=START + timedelta(minutes=n),
        card_id=HOSTILE,
        stamps=1,
        amount_cents=None,
        currency="EUR",
        reason=HOSTILE,
    )


def _assert_safe(svg: str) -> None:
    for ch in FORBIDDEN:
        assert ch not in svg, repr(ch)
    assert "x" * 200 not in svg  # capped, not 3 KB across the screen


async def test_hostile_text_in_every_widget(tmp_path: Path) -> None:
    counter = make_counter(tmp_path)
    settings = counter.settings
    counter.settings = settings.model_copy(
        update={
            "shop": settings.shop.model_copy(update={"name": HOSTILE}),
            "camera": settings.camera.model_copy(update={"device": HOSTILE}),
        }
    )
    app = counter.app()
    view = CardView(
        card_id=HOSTILE,
        total=13,
        confirmed=None,
        pending=2,
        threshold=10,
        reward_name=HOSTILE,
        events=tuple(_row(n) for n in range(3)),
    )
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        app.card = view
        screen = app.screen
        assert isinstance(screen, CounterScreen)
        screen.show_card(view)
        screen.show_refusal(HOSTILE)
        app.notify(clean(HOSTILE), markup=False)
        await pilot.pause()
        svg = app.export_screenshot()
        _assert_safe(svg)
        assert "[@click=app.quit]x[/]" in svg.replace("&#160;", " ")

        for dialog in (
            RedeemDialog(view),
            PurchaseDialog(HOSTILE),
            ReceiptDialog(HOSTILE + "\n" + HOSTILE),
            ConfirmDialog("?", plain(HOSTILE), "en"),
        ):
            await app.push_screen(dialog)
            await settle(pilot)
            _assert_safe(app.export_screenshot())
            app.pop_screen()
            await settle(pilot)

        sync = SyncScreen()
        await app.push_screen(sync)
        await settle(pilot)
        sync._show(app.desk.status(), [_row(1)])
        await pilot.pause()
        _assert_safe(app.export_screenshot())
        app.pop_screen()

        await app.push_screen(SettingsScreen())
        await settle(pilot)
        _assert_safe(app.export_screenshot())


def _fields(template: str) -> list[str]:
    return sorted(name for _, name, _, _ in string.Formatter().parse(template) if name)


def test_every_message_in_every_language() -> None:
    for key, forms in M.items():
        assert set(forms) == set(LANGUAGES), key
        for lang in LANGUAGES:
            assert forms[lang].strip(), (key, lang)
            assert _fields(forms[lang]) == _fields(forms["en"]), (key, lang)


def test_no_language_falls_back_to_english() -> None:
    copied = {
        (key, lang)
        for key, forms in M.items()
        for lang in ("fr", "nl", "de")
        if forms[lang] == forms["en"]
    }
    assert copied == set(SAME_AS_ENGLISH)
    assert len(SAME_AS_ENGLISH) <= 12  # a short list of true cognates, not a way out
