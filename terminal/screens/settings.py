"""Settings at the counter: the language, the camera, a printer test."""

from __future__ import annotations

from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import BindingType
from textual.content import Content
from textual.widgets import OptionList, Static
from textual.widgets.option_list import Option

from loyalty.i18n import LANGUAGES
from terminal.i18n import LANGUAGE_NAMES, t
from terminal.safe import clean
from terminal.screens.base import PanelScreen
from terminal.widgets.keys import key


class SettingsScreen(PanelScreen):
    """Pick a language with Enter; F2 turns the camera on or off; F3 prints a test receipt."""

    LABEL = "key.settings"
    TITLE_KEY = "settings.title"
    BINDINGS: ClassVar[list[BindingType]] = [
        key("f2", "camera", "key.camera"),
        key("f3", "printer_test", "key.printer_test"),
    ]

    def compose(self) -> ComposeResult:
        """Shop, language choice, camera and printer lines."""
        yield from self.compose_header()
        yield Static("", id="settings-shop", classes="setting", markup=False)
        yield Static("", id="settings-language", classes="setting", markup=False)
        yield OptionList(
            *[Option(LANGUAGE_NAMES[code], id=code) for code in LANGUAGES], id="languages"
        )
        yield Static("", id="settings-camera", classes="setting", markup=False)
        yield Static("", id="settings-printer", classes="setting", markup=False)
        yield from self.compose_footer()

    def on_mount(self) -> None:
        """Select the current language."""
        super().on_mount()
        options = self.query_one("#languages", OptionList)
        options.highlighted = list(LANGUAGES).index(self.lang) if self.lang in LANGUAGES else 0
        options.focus()

    def relabel(self) -> None:
        """Every line in the current language."""
        super().relabel()
        app = self.counter
        lang = self.lang
        shop = app.settings.shop
        self.query_one("#settings-shop", Static).update(
            Content(
                t(
                    "settings.shop",
                    lang,
                    name=clean(shop.name, 60),
                    shop_id=shop.id,
                    terminal_id=app.settings.terminal.id,
                )
            )
            + Content("\n")
            + Content(
                t(
                    "settings.program",
                    lang,
                    threshold=app.settings.program.reward_threshold,
                    reward=clean(app.settings.program.reward_name, 60),
                )
            )
        )
        self.query_one("#settings-language", Static).update(
            Content(t("settings.language", lang, name=LANGUAGE_NAMES.get(lang, lang)))
        )
        state = t(f"camera.{app.camera_state}", lang)
        device = clean(app.settings.camera.device, 40)
        self.query_one("#settings-camera", Static).update(
            Content(t("settings.camera", lang, device=device, state=state))
        )
        printer = (
            f"{app.settings.printer.kind.value} {clean(app.settings.printer.target, 60)}"
            if app.printer_enabled
            else t("settings.printer_none", lang)
        )
        self.query_one("#settings-printer", Static).update(
            Content(t("settings.printer", lang, printer=printer))
        )

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        """Enter on a language: switch to it."""
        event.stop()
        if event.option.id in LANGUAGES:
            self.counter.lang = event.option.id

    def action_camera(self) -> None:
        """Camera on or off."""
        self.counter.toggle_camera()
        self.relabel()

    def action_printer_test(self) -> None:
        """Print a test receipt (the last event's), or show it on the screen."""
        self.counter.printer_test()
