"""Purchase amount entry: accepts 12,50 and 12.50, shows the stamps the rule gives and why."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, ClassVar, cast

from textual import work
from textual.app import ComposeResult
from textual.binding import BindingType
from textual.containers import Vertical
from textual.content import Content
from textual.message import Message
from textual.screen import ModalScreen
from textual.widgets import Input, Static
from textual.worker import Worker, WorkerState

from loyalty.money import AmountError, parse_amount
from terminal.i18n import t
from terminal.safe import clean, plain
from terminal.services import PurchasePreview
from terminal.widgets.keys import KeyBar, key, localize_bindings

if TYPE_CHECKING:
    from terminal.app import CounterApp


class PurchaseDialog(ModalScreen[int | None]):
    """Type the amount; Enter records it, Escape cancels. Returns cents or None."""

    BINDINGS: ClassVar[list[BindingType]] = [key("escape", "cancel", "key.cancel")]

    @dataclass
    class Previewed(Message):
        """What the rules give for an amount, read in a worker."""

        cents: int
        result: PurchasePreview

    def __init__(self, card_id: str | None) -> None:
        super().__init__()
        self.card_id = card_id
        self.cents: int | None = None
        self._previewing = False
        """A preview worker is running: the next amount waits for it (one thread at most, so
        a burst of keys never queues the record behind a row of previews)."""

    @property
    def counter(self) -> CounterApp:
        """The app, typed."""
        return cast("CounterApp", self.app)

    def compose(self) -> ComposeResult:
        """Title, who, the amount field, its verdict and the rule's explanation."""
        with Vertical(id="purchase-box", classes="dialog"):
            yield Static("", id="purchase-title", classes="dialog-title", markup=False)
            yield Static("", id="purchase-who", markup=False)
            yield Input(id="amount", max_length=24)
            yield Static("", id="purchase-error", classes="error", markup=False)
            yield Static("", id="purchase-gives", markup=False)
            yield Static("", id="purchase-hint", classes="hint", markup=False)
        yield KeyBar()

    def on_mount(self) -> None:
        """Label, localise the keys, and put the cursor in the amount."""
        localize_bindings(self, self.counter.lang)
        self.relabel()
        self.query_one("#amount", Input).focus()

    def relabel(self) -> None:
        """Every text in the current language."""
        lang = self.counter.lang
        self.query_one("#purchase-title", Static).update(Content(t("purchase.title", lang)))
        who = (
            t("purchase.for_card", lang, card_id=clean(self.card_id, 40))
            if self.card_id
            else t("purchase.anonymous", lang)
        )
        self.query_one("#purchase-who", Static).update(Content(who))
        self.query_one("#amount", Input).placeholder = t("purchase.placeholder", lang)
        self.query_one("#purchase-hint", Static).update(Content(t("purchase.hint", lang)))
        self._check(self.query_one("#amount", Input).value)

    def _check(self, text: str, *, preview: bool = True) -> None:
        lang = self.counter.lang
        error = self.query_one("#purchase-error", Static)
        self.cents = None
        if not text.strip():
            error.update("")
            self.query_one("#purchase-gives", Static).update("")
            return
        try:
            cents = parse_amount(text, max_cents=self.counter.settings.limits.max_purchase_cents)
        except AmountError as exc:
            error.update(plain(exc.text(lang), 200))
            self.query_one("#purchase-gives", Static).update("")
            return
        error.update("")
        self.cents = cents
        if preview and not self._previewing:
            self._previewing = True
            self.preview(cents)

    def on_input_changed(self, event: Input.Changed) -> None:
        """Check the amount as it is typed and show what the rule gives."""
        event.stop()
        self._check(event.value)

    @work(thread=True, exclusive=True, exit_on_error=False, group="ledger-preview")
    def preview(self, cents: int) -> None:
        """Ask the rules what this amount gives (reads the card's history)."""
        result = self.counter.desk.preview_purchase(self.card_id, cents, self.counter.lang)
        self.post_message(self.Previewed(cents, result))

    def on_purchase_dialog_previewed(self, message: Previewed) -> None:
        """Show what the amount gives, or preview the amount typed since."""
        self._previewing = False
        if not self.is_attached:
            return
        if self.cents is not None and message.cents != self.cents:
            self._previewing = True
            self.preview(self.cents)
            return
        if message.cents == self.cents:
            self._show_preview(message.result)

    def _show_preview(self, result: PurchasePreview) -> None:
        lang = self.counter.lang
        lines = [Content(t("purchase.gives", lang, stamps=result.stamps)).stylize("bold")]
        lines.extend(plain(line, 160) for line in result.lines)
        self.query_one("#purchase-gives", Static).update(Content("\n").join(lines))

    def on_input_submitted(self, event: Input.Submitted) -> None:
        """Enter: record this amount if it is valid."""
        event.stop()
        # No preview now: the dialog closes, and the record should not queue behind it.
        self._check(event.value, preview=False)
        if self.cents is not None:
            self.dismiss(self.cents)
        elif not event.value.strip():
            self.query_one("#purchase-error", Static).update(
                Content(t("amount.empty", self.counter.lang))
            )

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        """A failed preview: the app's one handler says so."""
        if event.state in (WorkerState.ERROR, WorkerState.CANCELLED):
            self._previewing = False
        self.counter.on_worker_state_changed(event)

    def action_cancel(self) -> None:
        """Escape: nothing recorded."""
        self.dismiss(None)
