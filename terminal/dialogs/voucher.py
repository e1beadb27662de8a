"""Paying with a voucher: the amount typed (``7,50``) or the most it can pay, checked as typed.

Two uses: a payment with the voucher alone (F10 on the counter), and the voucher's part of a
purchase (after the purchase's amount, when a voucher is on the panel). An amount over what
the voucher can pay is refused with that amount offered: F2 takes it. The dialog only
chooses; the app records, and says "recorded" after the commit.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar, cast

from textual.app import ComposeResult
from textual.binding import BindingType
from textual.containers import Vertical
from textual.content import Content
from textual.screen import ModalScreen
from textual.widgets import Input, Static

from loyalty.i18n import money
from loyalty.money import AmountError, parse_amount
from terminal.i18n import t
from terminal.safe import clean, plain
from terminal.services import VoucherView
from terminal.widgets.keys import KeyBar, key, localize_bindings

if TYPE_CHECKING:
    from terminal.app import CounterApp


class VoucherDialog(ModalScreen[int | None]):
    """Returns the cents the voucher pays, 0 for a purchase without it, None when cancelled."""

    DEFAULT_CSS = """
    VoucherDialog { align: center middle; }
    VoucherDialog #voucher-amount { width: 30; margin: 1 0 0 0; }
    VoucherDialog #voucher-error { height: auto; margin: 1 0 0 0; }
    VoucherDialog #voucher-after { height: auto; }
    VoucherDialog #voucher-hint { margin: 1 0 0 0; height: auto; }
    """

    BINDINGS: ClassVar[list[BindingType]] = [
        key("f2", "take_most", "key.voucher_most"),
        key("f4", "without", "key.voucher_without"),
        key("escape", "cancel", "key.cancel"),
    ]

    def __init__(self, view: VoucherView, purchase_cents: int | None = None) -> None:
        super().__init__()
        self.view = view
        self.purchase_cents = purchase_cents
        self.cents: int | None = None
        """The amount typed, when it is one the voucher can pay."""

    @property
    def counter(self) -> CounterApp:
        """The app, typed."""
        return cast("CounterApp", self.app)

    @property
    def most(self) -> int:
        """The most the voucher pays here now (and at most the purchase it is part of)."""
        most = self.view.spendable_cents
        if self.purchase_cents is not None:
            most = min(most, self.purchase_cents)
        return max(most, 0)

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """F4 (without the voucher) exists only for a purchase."""
        if action == "without":
            return self.purchase_cents is not None
        return True

    def compose(self) -> ComposeResult:
        """Title, the voucher, the purchase, the amount field, its verdict, the keys."""
        with Vertical(id="voucher-box", classes="dialog"):
            yield Static("", id="voucher-dialog-title", classes="dialog-title", markup=False)
            yield Static("", id="voucher-who", markup=False)
            yield Static("", id="voucher-purchase", markup=False)
            yield Input(id="voucher-amount", max_length=24)
            yield Static("", id="voucher-error", classes="error", markup=False)
            yield Static("", id="voucher-after", markup=False)
            yield Static("", id="voucher-hint", classes="hint", markup=False)
        yield KeyBar()

    def on_mount(self) -> None:
        """Label, localise the keys, and put the cursor in the amount."""
        localize_bindings(self, self.counter.lang)
        self.relabel()
        self.query_one("#voucher-amount", Input).focus()

    def _money(self, cents: int) -> str:
        return money(cents, self.counter.lang, self.view.currency)

    def relabel(self) -> None:
        """Every text in the current language."""
        lang = self.counter.lang
        view = self.view
        self.query_one("#voucher-dialog-title", Static).update(
            Content(t("voucher.pay_title", lang))
        )
        who = t(
            "voucher.pay_who",
            lang,
            voucher_id=clean(view.voucher_id, 40),
            remaining=self._money(view.remaining_cents),
        )
        self.query_one("#voucher-who", Static).update(plain(who, 200, "bold"))
        purchase = self.query_one("#voucher-purchase", Static)
        if self.purchase_cents is None:
            purchase.update("")
            purchase.display = False
        else:
            purchase.update(
                Content(t("voucher.pay_purchase", lang, amount=self._money(self.purchase_cents)))
            )
        self.query_one("#voucher-amount", Input).placeholder = t("voucher.placeholder", lang)
        hint_key = "voucher.hint_spend" if self.purchase_cents is None else "voucher.hint_purchase"
        self.query_one("#voucher-hint", Static).update(
            Content(t(hint_key, lang, amount=self._money(self.most)))
        )
        self._check(self.query_one("#voucher-amount", Input).value)

    def _over(self) -> str:
        """Why the amount is too much, with the most it can pay offered."""
        lang = self.counter.lang
        amount = self._money(self.most)
        if self.purchase_cents is not None and self.purchase_cents < self.view.spendable_cents:
            return t("voucher.over_purchase", lang, amount=amount)
        if self.view.offline_capped:
            return t("voucher.over_offline", lang, amount=amount)
        return t("voucher.over", lang, amount=amount)

    def _check(self, text: str) -> None:
        error = self.query_one("#voucher-error", Static)
        after = self.query_one("#voucher-after", Static)
        self.cents = None
        after.update("")
        if not text.strip():
            error.update("")
            return
        try:
            cents = parse_amount(text)
        except AmountError as exc:
            error.update(plain(exc.text(self.counter.lang), 200))
            return
        if cents > self.most:
            error.update(plain(self._over(), 300))
            return
        error.update("")
        self.cents = cents
        left = self._money(self.view.remaining_cents - cents)
        after.update(Content(t("voucher.pay_after", self.counter.lang, amount=left)))

    def on_input_changed(self, event: Input.Changed) -> None:
        """Check the amount as it is typed."""
        event.stop()
        self._check(event.value)

    def on_input_submitted(self, event: Input.Submitted) -> None:
        """Enter: pay this amount if the voucher can."""
        event.stop()
        self._check(event.value)
        if self.cents is not None:
            self.dismiss(self.cents)
        elif not event.value.strip():
            self.query_one("#voucher-error", Static).update(
                Content(t("amount.empty", self.counter.lang))
            )

    def action_take_most(self) -> None:
        """F2: the voucher pays the most it can (its whole value left, when that fits)."""
        if self.most > 0:
            self.dismiss(self.most)

    def action_without(self) -> None:
        """F4: the purchase without the voucher."""
        if self.purchase_cents is not None:
            self.dismiss(0)

    def action_cancel(self) -> None:
        """Escape: nothing recorded."""
        self.dismiss(None)
