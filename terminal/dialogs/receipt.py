"""A receipt on the screen: when there is no printer, or the printer failed.

A line that starts with ``QR_MARK`` is the slip's claim code: it is drawn as a QR (half
blocks), not as 200 characters of text. The mark is a control character, which ``clean``
removes from anything that came from outside, so only the app's own receipt can carry it.
"""

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
from terminal.widgets.qr import qr_content

QR_MARK = "\x02"
"""Starts a receipt line that holds the claim code to draw as a QR."""
MAX_QR_DATA = 600


def receipt_content(text: str) -> Content:
    """The receipt's lines as safe Content, the claim code as a QR."""
    lines = text.split("\n")[:400]
    width = max((len(line) for line in lines if not line.startswith(QR_MARK)), default=0)
    parts: list[Content] = []
    for line in lines:
        data = line[len(QR_MARK) :]
        if line.startswith(QR_MARK) and 0 < len(data) <= MAX_QR_DATA and data.isprintable():
            parts.append(qr_content(data, width))
        else:
            parts.append(Content(clean(line, 200)))
    return Content("\n").join(parts)


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
            yield Static(receipt_content(self.text), id="receipt-text", markup=False)
        yield KeyBar()

    def on_mount(self) -> None:
        """Title and keys in the counter's language."""
        lang = cast(str, getattr(self.app, "lang", "en"))
        localize_bindings(self, lang)
        self.query_one("#receipt-title", Static).update(Content(t("counter.receipt_title", lang)))

    def action_close(self) -> None:
        """Back to the counter."""
        self.dismiss(None)
