"""What every full screen besides the counter shares: status line, title, footer, Escape."""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar, cast

from textual.app import ComposeResult
from textual.binding import BindingType
from textual.content import Content
from textual.screen import Screen
from textual.widgets import Static
from textual.worker import Worker

from terminal.i18n import t
from terminal.widgets.keys import KeyBar, key, localize_bindings
from terminal.widgets.status import StatusLine

if TYPE_CHECKING:
    from terminal.app import CounterApp


class PanelScreen(Screen[None]):
    """A screen reached from the counter; Escape goes back."""

    LABEL: ClassVar[str] = "key.back"
    """The catalog key of the screen's name (also its key's label on the counter)."""
    TITLE_KEY: ClassVar[str] = "key.back"

    BINDINGS: ClassVar[list[BindingType]] = [key("escape", "back", "key.back")]

    @property
    def counter(self) -> CounterApp:
        """The app, typed."""
        return cast("CounterApp", self.app)

    @property
    def lang(self) -> str:
        """The counter's language now."""
        return self.counter.lang

    def compose_header(self) -> ComposeResult:
        """The status line and the screen title."""
        yield StatusLine()
        yield Static("", id="screen-title", classes="screen-title", markup=False)

    def compose_footer(self) -> ComposeResult:
        """The footer with every key."""
        yield KeyBar()

    def on_mount(self) -> None:
        """Label, then load the data in a worker."""
        localize_bindings(self, self.lang)
        self.relabel()
        self.reload()

    def relabel(self) -> None:
        """Every text in the current language (subclasses add theirs)."""
        self.query_one("#screen-title", Static).update(Content(t(self.TITLE_KEY, self.lang)))
        self.query_one(StatusLine).show(self.counter)

    def reload(self) -> None:
        """Fetch fresh data (subclasses start a worker)."""

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        """A failed worker of this screen: the app's one handler says so."""
        self.counter.on_worker_state_changed(event)

    def action_back(self) -> None:
        """Back to the counter."""
        self.dismiss(None)
