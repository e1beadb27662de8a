"""The help overlay: every key of every screen, in the counter's language."""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar, cast

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.content import Content
from textual.screen import ModalScreen
from textual.widgets import Static

from terminal.i18n import UI, t
from terminal.screens.counter import CounterScreen
from terminal.screens.history import HistoryScreen
from terminal.screens.report import ReportScreen
from terminal.screens.settings import SettingsScreen
from terminal.screens.sync import SyncScreen
from terminal.widgets.keys import KeyBar, key, localize_bindings

if TYPE_CHECKING:
    from terminal.app import CounterApp


DEMO_ONLY = frozenset({"key.demo", "key.demo_voucher"})
"""Keys that exist only in demo mode."""


ARROWS = {"left": "←", "right": "→", "up": "↑", "down": "↓"}


def _key_name(keys: str) -> str:
    if keys in ARROWS:
        return ARROWS[keys]
    return keys.replace("ctrl+", "Ctrl+").replace("escape", "Esc").replace("delete", "Del").upper()


def key_lines(
    bindings: list[BindingType], lang: str, *, skip: frozenset[str] = frozenset()
) -> list[str]:
    """``KEY  description`` for each binding that has a catalog label (but those in ``skip``)."""
    lines = []
    for binding in bindings:
        if (
            isinstance(binding, Binding)
            and binding.id
            and binding.id in UI
            and binding.id not in skip
        ):
            lines.append(f"  {_key_name(binding.key):<10} {t(binding.id, lang)}")
    return lines


class HelpDialog(ModalScreen[None]):
    """Every key, grouped by where it works."""

    BINDINGS: ClassVar[list[BindingType]] = [
        key("escape", "close", "key.back"),
        key("f1", "close", "key.back", show=False),
    ]

    def compose(self) -> ComposeResult:
        """A scrolling list of keys."""
        with VerticalScroll(id="help-box", classes="dialog"):
            yield Static("", id="help-title", classes="dialog-title", markup=False)
            yield Static("", id="help-keys", markup=False)
        yield KeyBar()

    def on_mount(self) -> None:
        """Fill in the current language."""
        self.relabel()

    def relabel(self) -> None:
        """Every text in the current language."""
        lang = cast("CounterApp", self.app).lang
        localize_bindings(self, lang)
        lines: list[str] = [t("help.everywhere", lang)]
        # Ctrl+L (lock) exists only when the terminal has staff accounts.
        staff = cast("CounterApp", self.app).staff_required
        no_lock = frozenset() if staff else frozenset({"lock.key_lock"})
        lines += key_lines(type(self.app).BINDINGS, lang, skip=no_lock)
        lines += ["", t("help.counter", lang)]
        demo = bool(cast("CounterApp", self.app).demo_cards)
        lines += key_lines(CounterScreen.BINDINGS, lang, skip=frozenset() if demo else DEMO_ONLY)
        lines += [f"  {t('help.wedge', lang)}", "", t("help.screens", lang)]
        for screen in (HistoryScreen, ReportScreen, SyncScreen, SettingsScreen):
            lines.append(f" {t(screen.LABEL, lang)}")
            lines += key_lines(screen.BINDINGS, lang)
        lines += ["", t("help.close", lang)]
        self.query_one("#help-title", Static).update(Content(t("help.title", lang)))
        self.query_one("#help-keys", Static).update(Content("\n".join(lines)))

    def action_close(self) -> None:
        """Back."""
        self.dismiss(None)
