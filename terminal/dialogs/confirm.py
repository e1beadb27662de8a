"""A yes/no question (used before a void): Enter confirms, Escape cancels."""

from __future__ import annotations

from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import BindingType
from textual.containers import Vertical
from textual.content import Content
from textual.screen import ModalScreen
from textual.widgets import Static

from terminal.widgets.keys import KeyBar, key, localize_bindings


class ConfirmDialog(ModalScreen[bool]):
    """Ask once; the question is already safe ``Content``."""

    BINDINGS: ClassVar[list[BindingType]] = [
        key("enter", "confirm", "key.confirm"),
        key("escape", "cancel", "key.cancel"),
    ]

    def __init__(self, title: str, question: Content, lang: str) -> None:
        super().__init__()
        self.title_text = title
        self.question = question
        self.lang = lang

    def compose(self) -> ComposeResult:
        """Title and question."""
        with Vertical(classes="dialog"):
            yield Static(Content(self.title_text), classes="dialog-title", markup=False)
            yield Static(self.question, id="confirm-question", markup=False)
        yield KeyBar()

    def on_mount(self) -> None:
        """Keys in the counter's language."""
        localize_bindings(self, self.lang)

    def action_confirm(self) -> None:
        """Yes."""
        self.dismiss(True)

    def action_cancel(self) -> None:
        """No."""
        self.dismiss(False)
