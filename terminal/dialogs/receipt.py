"""A receipt on the screen: when there is no printer, or the printer failed."""

from __future__ import annotations

from typing import ClassVar, cast

from textual.app import ComposeResult
from textual.binding import BindingType
from textual.containers import VerticalScroll
from textual.content import Content
from textual.screen import ModalScreen
from textual.widgets import Static

from terminal.i18n import t
from terminal.safe import clean
from terminal.widgets.keys import KeyBar, key, localize_bindings


class ReceiptDialog(ModalScreen[None]):
    """The receipt's text as plain content (it was built from cleaned fields)."""

    BINDINGS: ClassVar[list[BindingType]] = [
        key("escape", "close", "key.back"),
        key("enter", "close", "key.back", show=False),
    ]

    def __init__(self, text: str) -> None:
        super().__init__()
        self.text = text

    def compose(self) -> ComposeResult:
        """The title and the receipt."""
        with VerticalScroll(id="receipt-box", classes="dialog"):
            yield Static("", id="receipt-title", classes="dialog-title", markup=False)
            lines = [clean(line, 200) for line in self.text.splitlines()[:400]]
            yield Static(Content("\n".join(lines)), id="receipt-text", markup=False)
        yield KeyBar()

    def on_mount(self) -> None:
        """Title and keys in the counter's language."""
        lang = cast(str, getattr(self.app, "lang", "en"))
        localize_bindings(self, lang)
        self.query_one("#receipt-title", Static).update(Content(t("counter.receipt_title", lang)))

    def action_close(self) -> None:
        """Back to the counter."""
        self.dismiss(None)
