"""The counter screen: scan a card, see the customer, stamp, purchase, redeem.

Every action has a function key (a keyboard-wedge scanner types letters, digits and
punctuation, so none of those may be an action). Printable keys typed anywhere on this
screen go to the code field; a fast burst ending in Enter is a scanner read.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TYPE_CHECKING, ClassVar, cast

from textual import events
from textual.app import ComposeResult
from textual.binding import BindingType
from textual.containers import Horizontal, Vertical
from textual.content import Content
from textual.screen import Screen
from textual.widgets import Input, Static

from loyalty.i18n import money
from loyalty.ledger import LedgerRefusal, RefusalReason
from terminal import messages as msg
from terminal.dialogs.purchase import PurchaseDialog
from terminal.dialogs.redeem import RedeemDialog
from terminal.dialogs.voucher import VoucherDialog
from terminal.i18n import t
from terminal.safe import clean, plain
from terminal.screens.history import HistoryScreen
from terminal.screens.report import ReportScreen
from terminal.screens.settings import SettingsScreen
from terminal.screens.sync import SyncScreen
from terminal.services import CardView, VoucherView
from terminal.widgets.code_input import CodeInput, WedgeReader
from terminal.widgets.customer import CustomerPanel
from terminal.widgets.keys import KeyBar, key, localize_bindings
from terminal.widgets.preview import CameraPreview
from terminal.widgets.status import StatusLine
from terminal.widgets.voucher import (
    PurchasePaidWithVoucher,
    VoucherPanel,
    VoucherSpent,
    voucher_title,
    voucher_what,
)

if TYPE_CHECKING:
    from terminal.app import CounterApp


class CounterScreen(Screen[None]):
    """Scan area, customer panel, recent events, and the actions."""

    BINDINGS: ClassVar[list[BindingType]] = [
        key("f2", "stamp", "key.stamp"),
        key("f3", "purchase", "key.purchase"),
        key("f4", "redeem", "key.redeem"),
        # Shown only while a voucher is at the counter.
        key("f10", "voucher", "key.voucher"),
        key("f5", "history", "key.history"),
        key("f6", "report", "key.report"),
        key("f7", "sync", "key.sync"),
        key("f8", "settings", "key.settings"),
        key("f12", "demo_card", "key.demo"),
        key("f11", "demo_voucher", "key.demo_voucher"),
        key("ctrl+t", "preview", "key.preview"),
        key("ctrl+r", "receipt", "key.receipt"),
        key("escape", "clear", "key.clear"),
    ]

    def __init__(self, key_clock: Callable[[], float] = time.monotonic) -> None:
        super().__init__()
        self.wedge = WedgeReader(key_clock)

    @property
    def counter(self) -> CounterApp:
        """The app, typed."""
        return cast("CounterApp", self.app)

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """The demo card key exists only in demo mode (hidden and inert otherwise)."""
        if action == "demo_card":
            return bool(self.counter.demo_cards)
        if action == "demo_voucher":
            return bool(self.counter.demo_vouchers)
        if action == "voucher":
            return self.counter.voucher is not None
        return True

    def compose(self) -> ComposeResult:
        """Status line, scan area and customer panel side by side, banner, footer."""
        yield StatusLine(id="status")
        with Horizontal(id="counter-body"):
            with Vertical(id="scan-area"):
                yield Static("", id="scan-title", markup=False)
                yield Static("", id="scan-hint", markup=False)
                yield CodeInput(self.wedge, id="code")
                yield CameraPreview(id="preview")
                yield Static("", id="scan-result", markup=False)
            # The customer's side: the card, and under it the voucher when one is scanned.
            with Vertical(id="customer-side"):
                yield CustomerPanel(id="customer")
                yield VoucherPanel(id="voucher")
        yield Static("", id="banner", markup=False)
        yield KeyBar()

    def on_mount(self) -> None:
        """Label everything in the current language and put the cursor in the code field."""
        localize_bindings(self, self.counter.lang)
        self.relabel()
        self.query_one("#code", CodeInput).focus()

    def relabel(self) -> None:
        """Redraw every text in the current language."""
        app = self.counter
        lang = app.lang
        self.query_one("#scan-title", Static).update(Content(t("counter.scan_title", lang)))
        self.query_one("#scan-hint", Static).update(Content(t("counter.scan_hint", lang)))
        self.query_one("#code", CodeInput).placeholder = t("counter.code_placeholder", lang)
        self.query_one(CustomerPanel).show(app.card, lang, app.desk.tz, done=app.card_done)
        self.query_one(VoucherPanel).show(app.voucher, lang, app.desk.tz)
        if app.voucher is not None and app.voucher.refusal:
            app.reload_voucher(app.voucher)  # the core's sentence, in the new language
        self.query_one(StatusLine).show(app)

    # What the app reports --------------------------------------------------------------------

    def show_checking(self) -> None:
        """A code is being checked."""
        self._result(Content(t("counter.checking", self.counter.lang)), "")

    def show_card(self, view: CardView | None) -> None:
        """The customer at the counter changed (or left)."""
        app = self.counter
        self.query_one(CustomerPanel).show(view, app.lang, app.desk.tz)
        # A new customer (or none): the previous one's refusal or confirmation goes.
        self._banner(Content(""), "")
        if view is None:
            self._result(Content(""), "")
        else:
            self._result(plain(t("counter.card", app.lang, card_id=clean(view.card_id, 40))), "ok")

    def refresh_card(self, view: CardView) -> None:
        """The same card's fresh figures (after a sync); the result line stays."""
        app = self.counter
        self.query_one(CustomerPanel).show(view, app.lang, app.desk.tz, done=app.card_done)

    def show_voucher(self, view: VoucherView | None) -> None:
        """A voucher is at the counter now (or none): the panel, and the result line."""
        app = self.counter
        self.query_one(VoucherPanel).show(view, app.lang, app.desk.tz)
        self.refresh_bindings()
        if view is None:
            return
        if view.refusal:
            self.show_refusal(view.refusal)
            return
        self._banner(Content(""), "")
        self._result(voucher_title(view, app.lang), "ok")

    def show_voucher_refused(self, sentence: str) -> None:
        """A voucher code that cannot be used: the panel and the banner say why."""
        self.query_one(VoucherPanel).show_refused(sentence, self.counter.lang)
        self.refresh_bindings()
        self.show_refusal(sentence)

    def refresh_voucher(self, view: VoucherView) -> None:
        """The same voucher's value now (after a spend or a sync); the result line stays."""
        app = self.counter
        self.query_one(VoucherPanel).show(view, app.lang, app.desk.tz)

    def show_refusal(self, sentence: str) -> None:
        """Why a code or an action was refused, in red."""
        text = plain(t("counter.refused", self.counter.lang, why=clean(sentence, 200)), 240)
        self._result(text, "refused")
        self._banner(text, "refused")

    def show_recorded(self, message: msg.EventRecorded) -> None:
        """The big confirmation: only called once the ledger's commit returned."""
        app = self.counter
        lang = app.lang
        recorded = message.recorded
        event = recorded.event
        balance = recorded.balance.total if recorded.balance is not None else 0
        if isinstance(message, VoucherSpent | PurchasePaidWithVoucher):
            what = voucher_what(message, lang)
        elif isinstance(message, msg.PurchaseRecorded):
            amount = money(event.amount_cents or 0, lang, event.currency or "EUR")
            if event.card_id is None:
                # No card: the stamps are on the slip's claim code, not on any balance.
                what = t("counter.what_purchase_anon", lang, amount=amount, count=message.claimable)
            else:
                what = t("counter.what_purchase", lang, amount=amount, count=event.stamps)
        elif isinstance(message, msg.RewardRedeemed):
            what = t("counter.what_redeem", lang, reward=clean(app.desk.program().reward_name, 60))
        elif isinstance(message, msg.EventVoided):
            # The cancelled slip's number, as printed on it (not the event's internal id).
            cancelled = next(
                (str(line.params.get("receipt_no", "")) for line in recorded.lines),
                event.voids or "",
            )
            what = t("counter.what_void", lang, receipt=clean(cancelled or event.voids or "", 40))
        else:
            what = t("counter.what_stamp", lang, count=event.stamps, balance=balance)
        receipt = clean(event.receipt_no or "", 40)
        self._banner(plain(f"✔ {t('counter.recorded', lang, what=what)}  #{receipt}", 200), "ok")
        if message.view is not None and (app.card is None or app.card is message.view):
            self.query_one(CustomerPanel).show(message.view, lang, app.desk.tz, done=app.card_done)

    def show_preview(self, frame: msg.PreviewFrame) -> None:
        """A new preview frame."""
        self.query_one(CameraPreview).show_frame(frame.width, frame.height, frame.pixels)

    def _result(self, text: Content, kind: str) -> None:
        result = self.query_one("#scan-result", Static)
        result.set_class(kind == "refused", "-refused")
        result.set_class(kind == "ok", "-ok")
        result.update(text)

    def _banner(self, text: Content, kind: str) -> None:
        banner = self.query_one("#banner", Static)
        banner.set_class(kind == "refused", "-refused")
        banner.set_class(kind == "ok", "-ok")
        banner.update(text)

    # Codes -----------------------------------------------------------------------------------

    def on_key(self, event: events.Key) -> None:
        """A printable key typed anywhere on the counter goes to the code field."""
        code = self.query_one("#code", CodeInput)
        if code.has_focus:
            return
        if event.key == "enter" and code.value:
            # A fast scanner's Enter can arrive before the field has taken the focus: the
            # burst is already in the field, so submit it rather than leave it waiting.
            event.stop()
            event.prevent_default()
            code.post_message(Input.Submitted(code, code.value))
            return
        if not event.is_printable or event.character is None:
            return
        self.wedge.key(event.character)
        code.focus()
        code.insert_text_at_cursor(event.character)
        event.stop()
        event.prevent_default()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        """Enter in the code field: check what was typed or scanned."""
        if event.input.id != "code":
            return
        event.stop()
        text = event.value
        event.input.value = ""
        candidates, source = self.wedge.finish(text)
        if not text.strip():
            return
        self.app.post_message(msg.CodeScanned(text, source, candidates))

    # Actions ---------------------------------------------------------------------------------

    def _card_or_say(self) -> CardView | None:
        card = self.counter.card
        if card is None:
            self.show_refusal(t("counter.need_card", self.counter.lang))
        elif self.counter.card_done:
            # That customer's turn ended with a recorded action: the next one never acts
            # on their card by mistake.
            self.show_refusal(t("staff.card_done", self.counter.lang))
            return None
        return card

    def action_stamp(self) -> None:
        """Record the program's stamps for this visit."""
        card = self._card_or_say()
        if card is not None:
            self.counter.request_stamp(card)

    def action_purchase(self) -> None:
        """Ask for the amount, then record the purchase (anonymous without a card)."""
        card = self.counter.card
        if card is not None and self.counter.card_done:
            self.show_refusal(t("staff.card_done", self.counter.lang))
            return
        card_id = card.card_id if card is not None else None

        def done(cents: int | None) -> None:
            if cents is None:
                return
            voucher = self.counter.voucher
            if voucher is None or voucher.spendable_cents <= 0:
                self.counter.record_purchase(card_id, cents)
                return

            # A voucher is at the counter: it may pay part of this purchase (or none of it).
            def paid(voucher_cents: int | None) -> None:
                if voucher_cents is None:
                    return
                if voucher_cents == 0:
                    self.counter.record_purchase(card_id, cents)
                else:
                    self.counter.record_purchase_with_voucher(
                        card_id, cents, voucher, voucher_cents
                    )

            self.app.push_screen(VoucherDialog(voucher, purchase_cents=cents), paid)

        self.app.push_screen(PurchaseDialog(card_id), done)

    def action_redeem(self) -> None:
        """Confirm, then redeem a reward (the core refuses beyond the offline limits)."""
        card = self._card_or_say()
        if card is None:
            return
        if card.total < card.threshold:
            # The ledger would refuse it: say so now, not after a confirmation.
            refusal = LedgerRefusal.of(
                RefusalReason.BELOW_THRESHOLD,
                "ledger.below_threshold",
                reward=card.reward_name,
                balance=card.total,
                threshold=card.threshold,
            )
            self.show_refusal(refusal.text(self.counter.lang))
            return

        def done(confirmed: bool | None) -> None:
            if confirmed:
                self.counter.record_redeem(card.card_id)

        self.app.push_screen(RedeemDialog(card), done)

    def action_voucher(self) -> None:
        """F10: pay with the voucher at the counter (the amount typed, or all it can)."""
        app = self.counter
        view = app.voucher
        if view is None or view.voucher_id in app.writing:
            return
        if view.refusal:
            self.show_refusal(view.refusal)
            return
        if view.spendable_cents <= 0:
            self.show_refusal(t("voucher.offline_used", app.lang))
            return

        def done(cents: int | None) -> None:
            if cents and view.voucher_id not in app.writing:
                app.record_voucher_spend(view, cents)

        self.app.push_screen(VoucherDialog(view), done)

    def action_history(self) -> None:
        """The terminal's events, with void."""
        self.app.push_screen(HistoryScreen())

    def action_report(self) -> None:
        """The end-of-day report."""
        self.app.push_screen(ReportScreen())

    def action_sync(self) -> None:
        """The sync screen."""
        self.app.push_screen(SyncScreen())

    def action_settings(self) -> None:
        """Language, camera, printer test."""
        self.app.push_screen(SettingsScreen())

    def action_demo_card(self) -> None:
        """Present the next demo card to the scanner."""
        self.counter.present_demo_card()

    def action_demo_voucher(self) -> None:
        """Present the next demo voucher to the scanner."""
        self.counter.present_demo_voucher()

    def action_preview(self) -> None:
        """Show or hide the camera picture for aiming (or say there is no camera)."""
        on = self.counter.toggle_preview()
        self.query_one(CameraPreview).set_class(on, "-on")

    def action_receipt(self) -> None:
        """Show the last receipt on the screen."""
        app = self.counter
        recorded = app.last_recorded
        if recorded is not None:
            # A purchase paid partly with a voucher: its slip, then the voucher's.
            app.show_receipt(recorded.event.id, *app.last_more)

    def action_clear(self) -> None:
        """The customer has gone: clear the card and the field."""
        self.query_one("#code", CodeInput).value = ""
        self.counter.clear_card()
