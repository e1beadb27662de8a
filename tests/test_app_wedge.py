"""A keyboard-wedge scanner typing anywhere on the counter screen, driven through Pilot.

The code field need not have the focus: a burst of keys typed on the counter lands in it, and
Enter checks it. A QWERTY-configured scanner on a Belgian AZERTY keyboard types garbled codes
(``&é"'(`` for ``12345``); the counter repairs them. Hostile bursts are refused as plain text.
The counter's key clock is injected and moved by hand, so whether keys came as a scanner burst
does not depend on how fast the test machine is.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from textual import events
from textual.message import Message

from scanner.wedge import AZERTY_TO_QWERTY, repair_azerty
from terminal import messages as msg
from terminal.screens.counter import CounterScreen
from tests.test_app_kit import SIZE, make_counter, settle, text_of, type_code

CARD = "CT-WEDGE-0001"
SCANNER_GAP_S = 0.004
PERSON_GAP_S = 0.18

SHOWN_ON_AZERTY = {meant: shown for shown, meant in AZERTY_TO_QWERTY.items()}
"""What a Belgian AZERTY computer shows for each character a QWERTY-configured scanner means."""

# Pilot.press("§") sends the key "section_sign" without its character (Pilot looks the
# character up in a table that lacks it); a terminal sends both, so the test does too.
TERMINAL_KEYS = {"§": "section_sign"}


def garble_on_azerty(code: str) -> str:
    """``code`` as a QWERTY-configured scanner types it into a Belgian AZERTY computer."""
    return "".join(SHOWN_ON_AZERTY.get(ch, ch) for ch in code)


@dataclass
class KeyClock:
    """The monotonic clock the counter reads for each key; the test moves it."""

    now: float = 1000.0

    def __call__(self) -> float:
        return self.now


async def type_burst(pilot: Any, keys: Iterable[str], clock: KeyClock, gap_s: float) -> None:
    """Press each key ``gap_s`` apart on the key clock, then Enter; let the workers finish."""
    for key in keys:
        clock.now += gap_s
        if key in TERMINAL_KEYS:
            pilot.app.post_message(events.Key(TERMINAL_KEYS[key], key))
            await pilot.pause()
        else:
            await pilot.press(key)
    clock.now += gap_s
    await pilot.press("enter")
    await settle(pilot)


async def blur(pilot: Any) -> None:
    """Take the focus out of the code field (nothing on the counter has it)."""
    pilot.app.screen.set_focus(None)
    await pilot.pause()
    assert pilot.app.focused is None


def recorder(into: list[msg.CodeScanned]) -> Any:
    """A message hook that keeps every ``CodeScanned``."""

    def hook(message: Message) -> None:
        if isinstance(message, msg.CodeScanned):
            into.append(message)

    return hook


@pytest.mark.parametrize("layout", ["qwerty", "azerty"])
async def test_a_scanner_burst_outside_the_field_shows_the_card(
    tmp_path: Path, layout: str
) -> None:
    counter = make_counter(tmp_path)
    code = counter.card(CARD)
    typed = code
    if layout == "azerty":
        typed = garble_on_azerty(code)
        assert typed != code
        assert repair_azerty(typed) == code  # the garbling is the one the counter undoes
    clock = KeyClock()
    app = counter.app(key_clock=clock)
    scanned: list[msg.CodeScanned] = []
    async with app.run_test(size=SIZE, message_hook=recorder(scanned)) as pilot:
        await settle(pilot)
        await blur(pilot)
        await type_burst(pilot, typed, clock, SCANNER_GAP_S)

        [read] = scanned
        assert read.text == typed
        assert read.source == "wedge"
        assert code in read.candidates
        assert app.card is not None and app.card.card_id == CARD
        assert f"Card {CARD}" in text_of(app, "#card-title")
        assert "0 of 10 stamps" in text_of(app, "#card-progress")
        assert CARD in text_of(app, "#scan-result")
        assert "REFUSED" not in text_of(app, "#scan-result")


async def test_keys_a_person_types_slowly_are_not_a_scan(tmp_path: Path) -> None:
    counter = make_counter(tmp_path)
    clock = KeyClock()
    app = counter.app(key_clock=clock)
    scanned: list[msg.CodeScanned] = []
    async with app.run_test(size=SIZE, message_hook=recorder(scanned)) as pilot:
        await settle(pilot)
        await blur(pilot)
        await type_burst(pilot, "CT-1234", clock, PERSON_GAP_S)

        [read] = scanned
        assert (read.text, read.source) == ("CT-1234", "typed")
        assert app.card is None
        assert "REFUSED" in text_of(app, "#scan-result")


async def test_a_hostile_burst_is_refused_and_the_counter_goes_on(tmp_path: Path) -> None:
    counter = make_counter(tmp_path)
    clock = KeyClock()
    app = counter.app(key_clock=clock)
    # An ANSI colour sequence (Escape arrives as its own key), then console markup with an
    # action link that would quit the app if it were ever parsed.
    hostile = ["escape", *"[31m", *"[@click=app.quit]x[/]"]
    scanned: list[msg.CodeScanned] = []
    async with app.run_test(size=SIZE, message_hook=recorder(scanned)) as pilot:
        await settle(pilot)
        await blur(pilot)
        await type_burst(pilot, hostile, clock, SCANNER_GAP_S)

        [read] = scanned
        assert read.text == "[31m[@click=app.quit]x[/]"
        assert read.source == "wedge"
        assert app.is_running and app.return_code is None
        assert isinstance(app.screen, CounterScreen)
        assert app.card is None
        assert "REFUSED" in text_of(app, "#scan-result")
        assert "REFUSED" in text_of(app, "#banner")
        assert "\x1b" not in app.export_screenshot()

        await type_code(pilot, counter.card(CARD))  # still at the counter, still reading
        assert app.card is not None and app.card.card_id == CARD


async def test_enter_before_the_field_has_focus_still_submits_the_burst(tmp_path: Path) -> None:
    """A fast scanner's Enter can reach the screen before the field took the focus."""
    counter = make_counter(tmp_path)
    code = counter.card(CARD)
    app = counter.app(key_clock=KeyClock())
    scanned: list[msg.CodeScanned] = []
    async with app.run_test(size=SIZE, message_hook=recorder(scanned)) as pilot:
        await settle(pilot)
        await blur(pilot)
        field = app.screen.query_one("#code")
        field.value = code  # the burst landed in the field; the focus has not moved yet
        app.screen.post_message(events.Key("enter", "\r"))
        await settle(pilot)

        [read] = scanned
        assert read.text == code
        assert app.card is not None and app.card.card_id == CARD
