"""The counter app: screens over the ledger, the scanner, the printer and the sync job.

The app owns every blocking call: each one runs in a thread worker of a named group and talks
back by ``post_message``; ``on_worker_state_changed`` turns any failure into a notice in the
shopkeeper's language, so a camera, printer, database or network fault never ends the app.
Screens ask the app (``record_stamp``...); the app records and then tells the screens.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections import Counter
from collections.abc import Callable, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any, ClassVar

from textual import events, work
from textual.app import App
from textual.binding import BindingType
from textual.content import Content
from textual.reactive import reactive
from textual.timer import Timer
from textual.worker import Worker, WorkerState, get_current_worker

from config import Settings
from config.settings import PrinterKind
from loyalty.db import DatabaseError, DatabaseWriteFailed
from loyalty.i18n import LANGUAGES, money
from loyalty.ledger import OFFLINE_REASONS, LedgerRefusal
from loyalty.voucher_book import VoucherRefused
from receipts.printers import PrinterError
from receipts.text import Qr, columns_for_paper, layout, text_lines
from scanner import events as ev
from terminal import messages as msg
from terminal.dialogs.approval import ApprovalDialog
from terminal.dialogs.confirm import ConfirmDialog
from terminal.dialogs.help import HelpDialog
from terminal.dialogs.receipt import QR_MARK, ReceiptDialog
from terminal.i18n import next_language, t
from terminal.safe import clean, plain
from terminal.screens.counter import CounterScreen
from terminal.screens.lock import LockScreen, first_name
from terminal.screens.sync import outcome_text
from terminal.services import (
    SYNC_SOON_SECONDS,
    CardView,
    Desk,
    PrinterPort,
    Refused,
    ScannerPort,
    StatusFacts,
    SyncResult,
    SyncRunner,
    VoucherView,
    test_page,
)
from terminal.widgets.keys import key, localize_bindings
from terminal.widgets.status import StatusLine
from terminal.widgets.voucher import (
    PurchasePaidWithVoucher,
    VoucherRefreshed,
    VoucherRefusedShown,
    VoucherShown,
    VoucherSpent,
)

WORK_GROUPS = (
    *("camera", "ledger", "sync", "printer", "receipt", "status", "check", "staff", "card"),
)
IDLE_TICK_SECONDS = 0.5
"""How often the idle lock and the customer panel's clearing look at the idle clock."""


class CounterApp(App[None]):
    """The loyalty terminal at the shop counter."""

    CSS_PATH = "app.tcss"
    TITLE = "citie-terminal"
    ENABLE_COMMAND_PALETTE = False
    BINDINGS: ClassVar[list[BindingType]] = [
        # Priority: quit and help work in every dialog too (the key bar always shows them).
        key("f1", "help", "key.help", priority=True),
        key("f9", "cycle_language", "key.language"),
        key("ctrl+l", "lock", "lock.key_lock"),
        key("ctrl+q", "quit", "key.quit", priority=True),
    ]

    lang: reactive[str] = reactive("nl", init=False)
    """The counter's language now (fr, nl, de, en)."""

    def __init__(
        self,
        *,
        settings: Settings,
        desk: Desk,
        scanner: ScannerPort | None,
        printer: PrinterPort | None,
        sync_runner: SyncRunner | None,
        language: str,
        demo_cards: Sequence[Path] = (),
        background_sync: bool = True,
        receipt_builder: Callable[[str, str], Any] | None = None,
        key_clock: Callable[[], float] = time.monotonic,
        idle_clock: Callable[[], float] = time.monotonic,
        staff_required: bool = False,
        sync_soon_seconds: float | None = SYNC_SOON_SECONDS,
        demo_vouchers: Sequence[Path] = (),
    ) -> None:
        super().__init__()
        self.settings = settings
        self.desk = desk
        self.scanner = scanner
        self.printer = printer
        self.sync_runner = sync_runner
        self.demo_cards = tuple(demo_cards)
        self.background_sync = background_sync
        self.receipt_builder = receipt_builder
        self.key_clock = key_clock
        self.set_reactive(CounterApp.lang, language if language in LANGUAGES else "en")
        self.card: CardView | None = None
        self.facts: StatusFacts | None = None
        self.camera_state = "starting" if scanner is not None else "off"
        self.camera_detail = ""
        self.camera_wanted = scanner is not None and settings.camera.enabled
        if not self.camera_wanted:
            self.camera_state = "off" if scanner is not None else "missing"
        self.syncing = False
        self.sync_unreachable = False
        """A request of the current (or just ended) run could not reach the platform."""
        self._sync_cancel = threading.Event()
        self._check_cancel = threading.Event()
        self.sync_soon_seconds = sync_soon_seconds
        self._sync_soon_timer: Timer | None = None
        self.sync_again = False
        """A record came in during a run: one more run follows it."""
        self.last_sync: SyncResult | None = None
        self.last_recorded: Any = None
        self.last_more: tuple[str, ...] = ()
        """Further slips of the last record (a purchase paid with a voucher: the spend's)."""
        self.writing: Counter[str] = Counter()
        """Writes in flight per card (its stamp key does nothing until they end)."""
        self.demo_index = 0
        self.demo_vouchers = tuple(demo_vouchers)
        self.demo_voucher_index = 0
        self.voucher: VoucherView | None = None
        """The voucher at the counter (beside the card: a visit can have both)."""
        self.ledger_problem = ""
        """What the background integrity check found wrong with the ledger ("" when sound)."""
        self.preview_on = False
        self.sync_requested = False
        """The shopkeeper asked for the running sync (F7): its outcome gets a notice."""
        self.idle_clock = idle_clock
        self.staff_required = staff_required
        """Staff accounts exist: nothing is done at the counter without one of them."""
        self.serving: Any = None
        """The staff member at the counter (``loyalty.staff.StaffMember``), None when locked."""
        self.last_key = idle_clock()
        """When a key was last pressed (the idle lock counts from it)."""
        self.last_activity = self.last_key
        """When a key, a scan or a record last happened (the customer panel clears after)."""
        self.card_done = False
        """A recorded action ended this customer's turn: the card is a summary until scanned
        again (only with staff accounts)."""

    # Start and stop ------------------------------------------------------------------------

    def on_mount(self) -> None:
        """Show the counter, start the camera, count the status, schedule the sync."""
        localize_bindings(self, self.lang)
        self.push_screen(CounterScreen(self.key_clock))
        if self.staff_required:
            self.push_screen(LockScreen(self.key_clock))
        self.set_interval(IDLE_TICK_SECONDS, self.tick_idle, name="idle")
        self.refresh_status()
        self.check_ledger()
        if self.scanner is not None:
            self.start_scanner()
        if self.background_sync and self.sync_runner is not None:
            self.set_interval(self.settings.sync.interval_seconds, self.run_sync)
            self.run_sync()
        if self.demo_cards:
            self.notify(t("notice.demo_mode", self.lang), timeout=8)

    async def action_quit(self) -> None:
        """Ctrl+Q: end a running sync (its events stay pending), then exit at once."""
        self.cancel_sync()
        self._check_cancel.set()  # a full check of a big ledger would hold the exit
        self.exit()

    def cancel_sync(self) -> None:
        """Tell a running sync to stop: its thread returns within moments, events kept.

        Without this, quitting with the platform down waits out the whole retry budget:
        the thread worker runs in the event loop's executor, which is joined at exit.
        """
        self._sync_cancel.set()

    def on_unmount(self) -> None:
        """Stop the sync, the ledger check and the camera child with the app."""
        self.cancel_sync()
        self._check_cancel.set()
        if self.scanner is not None:
            with contextlib.suppress(Exception):
                self.scanner.stop()

    def t(self, key: str, **params: Any) -> str:
        """A catalog message in the current language."""
        return t(key, self.lang, **params)

    # Staff at the counter ----------------------------------------------------------------

    async def on_event(self, event: events.Event) -> None:
        """Every key press is somebody at the counter: the idle lock counts from it."""
        if isinstance(event, events.Key | events.MouseDown) and not event.is_forwarded:
            self.last_key = self.last_activity = self.idle_clock()
        await super().on_event(event)

    @property
    def locked(self) -> bool:
        """Staff accounts exist and nobody has typed a PIN: the counter does nothing."""
        return self.staff_required and self.serving is None

    @property
    def staff_id(self) -> str | None:
        """The id every event records now (None when there are no staff accounts)."""
        return None if self.serving is None else str(self.serving.id)

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """Ctrl+L exists only with staff accounts, and not on the lock screen itself."""
        if action == "lock":
            return self.staff_required and not self.locked
        return True

    def action_lock(self) -> None:
        """Ctrl+L: lock now (a colleague takes over, or the counter is left)."""
        self.lock()

    def lock(self) -> None:
        """Nobody is serving: the lock screen goes on top of whatever was open."""
        if not self.staff_required or isinstance(self.screen, LockScreen):
            return
        self.serving = None
        self._redraw_status()
        self.refresh_bindings()
        self.push_screen(LockScreen(self.key_clock))

    def unlock(self, member: Any) -> None:
        """A right PIN (or no staff accounts left): the counter works for ``member``."""
        if member is None:
            self.staff_required = False
        self.serving = member
        self.last_key = self.last_activity = self.idle_clock()
        # (Help may be open over the lock screen: it goes with it.)
        while any(isinstance(screen, LockScreen) for screen in self.screen_stack):
            self.pop_screen()
        self._redraw_status()
        self.refresh_bindings()
        if member is not None:
            self.notify(self.t("lock.welcome", name=first_name(member.name)), timeout=3)

    def tick_idle(self) -> None:
        """Clear the customer panel, and lock the counter, after their idle times."""
        now = self.idle_clock()
        clear_after = self.settings.counter.clear_after_seconds
        customer = self.card is not None or self.voucher is not None
        if customer and clear_after and now - self.last_activity >= clear_after:
            self.clear_card()
        lock_after = self.settings.staff.idle_lock_minutes * 60
        if self.staff_required and not self.locked and now - self.last_key >= lock_after:
            # Nobody has been here for minutes: what was left open is nobody's any more (a
            # dialog closed this way records nothing), and the customer has gone.
            while len(self.screen_stack) > 2 and not isinstance(self.screen, CounterScreen):
                self.pop_screen()
            self.clear_card()
            self.lock()

    def may_act(self) -> bool:
        """Whether an action may be recorded now; when locked, say so and record nothing."""
        if not self.locked:
            return True
        self._lock_call("scanned")
        return False

    def _lock_call(self, method: str, *args: Any) -> None:
        for screen in self.screen_stack:
            if isinstance(screen, LockScreen):
                getattr(screen, method)(*args)

    def with_approval(
        self, reason: str | None, what: Content, then: Callable[[str | None], None]
    ) -> None:
        """Run ``then(approver_id)`` once a manager approved, if ``reason`` says one must.

        Without staff accounts nothing needs approval; a manager at the counter approves
        by acting (the event names them as the approver too); a cashier gets the dialog,
        and Escape there records nothing.
        """
        if reason is None or not self.staff_required:
            then(None)
            return
        if self.serving is not None and str(self.serving.role) == "manager":
            then(self.staff_id)
            return

        def done(member: Any) -> None:
            if member is None:
                self.notify(self.t("approval.cancelled"), severity="warning", timeout=4)
                return
            then(str(member.id))

        sentence = self.desk.approval_sentence(reason, self.lang)
        self.push_screen(ApprovalDialog(sentence, what), done)

    def _fatal_error(self) -> None:
        """Exit after an unhandled exception, its traceback drawn without local variables.

        Textual's own draws every frame's locals, and the lock screen's and the approval
        dialog's frames hold the PIN just typed: a bug there would print it on the terminal
        (and into the service's journal). Otherwise as Textual 8 does it.
        """
        import rich  # noqa: PLC0415 - only on a crash
        from rich.segment import Segments  # noqa: PLC0415
        from rich.traceback import Traceback  # noqa: PLC0415

        self.bell()
        traceback = Traceback(show_locals=False, width=None, suppress=[rich])
        self._exit_renderables.append(
            Segments(self.console.render(traceback, self.console.options))
        )
        self._close_messages_no_wait()

    # Language ------------------------------------------------------------------------------

    def watch_lang(self, lang: str) -> None:
        """Relabel every key and every screen in the new language."""
        localize_bindings(self, lang)
        for screen in self.screen_stack:
            localize_bindings(screen, lang)
            relabel = getattr(screen, "relabel", None)
            if callable(relabel):
                relabel()
            screen.refresh_bindings()
        self.refresh_bindings()

    def action_cycle_language(self) -> None:
        """Switch to the next language (fr, nl, de, en)."""
        self.lang = next_language(self.lang)
        self.notify(self.t("notice.language"), timeout=2)

    def action_help(self) -> None:
        """Show every key."""
        if isinstance(self.screen, HelpDialog):
            self.screen.dismiss(None)
            return
        self.push_screen(HelpDialog())

    # Status --------------------------------------------------------------------------------

    @work(thread=True, exclusive=True, exit_on_error=False, group="status")
    def refresh_status(self) -> None:
        """Count pending events and read the last sync from the database."""
        self.post_message(msg.StatusRefreshed(self.desk.status()))

    @work(thread=True, exclusive=True, exit_on_error=False, group="check")
    def check_ledger(self) -> None:
        """The full integrity check, after the start (opening the ledger checks far less)."""
        try:
            if not self.desk.store.integrity_check(cancel=self._check_cancel):
                return  # the app is closing: not checked, nothing to say
        except DatabaseError as exc:
            self.post_message(msg.LedgerChecked(clean(exc.text(self.lang), 300)))
            return
        self.post_message(msg.LedgerChecked(""))

    def on_ledger_checked(self, message: msg.LedgerChecked) -> None:
        """A damaged ledger: say so on every status line and in a notice that stays."""
        self.ledger_problem = message.problem
        self._redraw_status()
        if message.problem:
            self.log.error("ledger damaged", problem=message.problem)
            self.notify(
                f"{self.t('status.damaged')}\n{message.problem}",
                severity="error",
                markup=False,
                timeout=3600,
            )

    def on_status_refreshed(self, message: msg.StatusRefreshed) -> None:
        """Keep the facts and redraw every status line."""
        self.facts = message.facts
        if not self.syncing:
            # The facts now hold the ended run's outcome: they say online or offline.
            self.sync_unreachable = False
        self._redraw_status()

    def _redraw_status(self) -> None:
        for screen in self.screen_stack:
            for line in screen.query(StatusLine):
                line.show(self)

    # Codes and the card at the counter -------------------------------------------------------

    def on_code_scanned(self, message: msg.CodeScanned) -> None:
        """Check a code read anywhere, while the counter screen is in front."""
        self.last_activity = self.idle_clock()
        if self.locked:
            # Nobody is serving: the code is not even read, and the lock screen says so.
            self._lock_call("scanned")
            return
        if not isinstance(self.screen, CounterScreen):
            return
        candidates = message.candidates or (message.text,)
        self.screen.show_checking()
        self.check_code(candidates)

    @work(thread=True, exclusive=True, exit_on_error=False, group="ledger")
    def check_code(self, candidates: Sequence[str]) -> None:
        """Verify the code (or look up the typed card number), then load the card.

        A voucher (``CV1:`` code, typed ``CV-`` number) goes to the voucher panel instead.
        """
        voucher = self.desk.identify_voucher(candidates, self.lang)
        if isinstance(voucher, VoucherView):
            self.post_message(VoucherShown(voucher))
            return
        if isinstance(voucher, Refused):
            self.post_message(VoucherRefusedShown(voucher.reason, voucher.sentence))
            return
        verdict = self.desk.identify(candidates, self.lang)
        if isinstance(verdict, Refused):
            self.post_message(msg.CodeRefused(verdict.reason, verdict.sentence))
            return
        self.post_message(msg.CardShown(self.desk.view(verdict)))

    # Its own group: the status refresh is exclusive in "status", and a refresh started right
    # after this reload (a record, a timer) cancelled it before it ran: a stale panel.
    @work(thread=True, exit_on_error=False, group="card")
    def reload_card(self, card_id: str) -> None:
        """Read the card's balance and events again (after a sync)."""
        self.post_message(msg.CardRefreshed(self.desk.view(card_id)))

    def on_card_refreshed(self, message: msg.CardRefreshed) -> None:
        """Fresh figures for the card at the counter (if it is still the one there)."""
        if self.card is not None and self.card.card_id == message.view.card_id:
            self.card = message.view
            self._counter_call("refresh_card", message.view)

    def on_card_shown(self, message: msg.CardShown) -> None:
        """A verified card is now the customer at the counter."""
        if self.locked:
            return
        self.card = message.view
        self.card_done = False
        self.last_activity = self.idle_clock()
        self._counter_call("show_card", message.view)

    def on_code_refused(self, message: msg.CodeRefused) -> None:
        """Say why the code is not usable."""
        self._counter_call("show_refusal", message.sentence)

    def clear_card(self) -> None:
        """The customer has gone."""
        self.card = None
        self.card_done = False
        self._counter_call("show_card", None)
        self.clear_voucher()

    # Vouchers at the counter -----------------------------------------------------------------

    def on_voucher_shown(self, message: VoucherShown) -> None:
        """A voucher is now at the counter (a card already there stays)."""
        self.voucher = message.view
        self._counter_call("show_voucher", message.view)

    def on_voucher_refused_shown(self, message: VoucherRefusedShown) -> None:
        """The code was a voucher that cannot be used: the panel and the banner say why."""
        self.voucher = None
        self._counter_call("show_voucher_refused", message.sentence)

    # Its own group: refresh_status (exclusive in "status") would cancel it before it ran.
    @work(thread=True, exit_on_error=False, group="voucher")
    def reload_voucher(self, view: VoucherView) -> None:
        """Read the voucher's value again (after a sync, or a void of one of its spends)."""
        self.post_message(VoucherRefreshed(self.desk.voucher_view(view.voucher, self.lang)))

    def on_voucher_refreshed(self, message: VoucherRefreshed) -> None:
        """Fresh value for the voucher at the counter (if it is still the one there)."""
        if self.voucher is not None and self.voucher.voucher_id == message.view.voucher_id:
            self.voucher = message.view
            self._counter_call("refresh_voucher", message.view)

    def clear_voucher(self) -> None:
        """The voucher has gone with the customer."""
        self.voucher = None
        self._counter_call("show_voucher", None)

    def record_voucher_spend(self, view: VoucherView, cents: int) -> None:
        """Pay ``cents`` with the voucher; "recorded" only after the commit (the spend names
        who is serving, like every event; above ``[limits] approval_over_cents`` once a
        manager approved it, as ``voucher spend`` asks headless)."""
        if not self.may_act():
            return
        what = plain(self.t("approval.what_voucher", amount=money(cents, self.lang)), 200)
        reason = self.desk.approval("voucher_spend", amount_cents=cents)
        self.with_approval(
            reason, what, lambda approver: self._voucher_spend_now(view, cents, approver)
        )

    def _voucher_spend_now(self, view: VoucherView, cents: int, approver_id: str | None) -> None:
        if not self.may_act():
            return
        self.writing[view.voucher_id] += 1
        self._record_voucher_spend(view, cents, self.staff_id, approver_id)

    def record_purchase_with_voucher(
        self, card_id: str | None, cents: int, view: VoucherView, voucher_cents: int
    ) -> None:
        """Record a purchase paid partly with the voucher: both events in one commit (above
        ``[limits] approval_over_cents`` once a manager approved the purchase)."""
        if not self.may_act():
            return
        what = plain(self.t("approval.what_purchase", amount=money(cents, self.lang)), 200)
        reason = self.desk.approval("purchase", amount_cents=cents)
        self.with_approval(
            reason,
            what,
            lambda approver: self._purchase_with_voucher_now(
                card_id, cents, view, voucher_cents, approver
            ),
        )

    def _purchase_with_voucher_now(
        self,
        card_id: str | None,
        cents: int,
        view: VoucherView,
        voucher_cents: int,
        approver_id: str | None,
    ) -> None:
        if not self.may_act():
            return
        if card_id is not None:
            self.writing[card_id] += 1
        self.writing[view.voucher_id] += 1
        self._record_purchase_with_voucher(
            card_id, cents, view, voucher_cents, self.staff_id, approver_id
        )

    # Never exclusive either: a queued payment must not be cancelled by the next one.
    @work(thread=True, exit_on_error=False, group="ledger")
    def _record_voucher_spend(
        self, view: VoucherView, cents: int, staff_id: str | None, approver_id: str | None
    ) -> None:
        self._record_voucher(
            view,
            None,
            lambda: (
                None,
                self.desk.spend_voucher(
                    view.voucher, cents, staff_id=staff_id, approver_id=approver_id
                ),
            ),
        )

    @work(thread=True, exit_on_error=False, group="ledger")
    def _record_purchase_with_voucher(
        self,
        card_id: str | None,
        cents: int,
        view: VoucherView,
        voucher_cents: int,
        staff_id: str | None,
        approver_id: str | None,
    ) -> None:
        self._record_voucher(
            view,
            card_id,
            lambda: self.desk.purchase_with_voucher(
                card_id,
                cents,
                view.voucher,
                voucher_cents,
                staff_id=staff_id,
                approver_id=approver_id,
            ),
        )

    def _record_voucher(
        self,
        view: VoucherView,
        card_id: str | None,
        call: Callable[[], tuple[Any, Any]],
    ) -> None:
        """Run a voucher write, then post what was committed (or the refusal, and the
        voucher's value as it is now: a spend elsewhere may have lowered it)."""
        lang = self.lang
        try:
            try:
                purchase, spend = call()
            except (LedgerRefusal, VoucherRefused) as refusal:
                self.post_message(msg.ActionRefused(str(refusal.reason), refusal.text(lang)))
                self.post_message(VoucherRefreshed(self.desk.voucher_view(view.voucher, lang)))
                return
            except DatabaseWriteFailed as failure:
                self.log.error("ledger write failed", error=repr(failure))
                self.post_message(msg.ActionRefused("write_failed", failure.text(lang)))
                return
            fresh = self.desk.voucher_view(view.voucher, lang)
            if purchase is None:
                self.post_message(VoucherSpent(spend, None, voucher=fresh))
                return
            card_view = self.desk.view(card_id) if card_id else None
            claimable = self.desk.claimable(purchase.event) if card_id is None else 0
            self.post_message(
                PurchasePaidWithVoucher(
                    purchase, card_view, claimable=claimable, spend=spend, voucher=fresh
                )
            )
        finally:
            self.post_message(msg.WriteFinished(card_id))
            self.post_message(msg.WriteFinished(view.voucher_id))

    def on_voucher_spent(self, message: VoucherSpent) -> None:
        """A voucher payment committed."""
        self._voucher_after(message.voucher)
        self.recorded(message)

    def on_purchase_paid_with_voucher(self, message: PurchasePaidWithVoucher) -> None:
        """A purchase and its voucher part committed (two slips)."""
        self._voucher_after(message.voucher)
        self.recorded(message)
        spend = getattr(message.spend, "event", None)
        self.last_more = (spend.id,) if spend is not None else ()

    def _voucher_after(self, view: VoucherView | None) -> None:
        if (
            view is not None
            and self.voucher is not None
            and self.voucher.voucher_id == view.voucher_id
        ):
            self.voucher = view
            self._counter_call("refresh_voucher", view)

    # Recording -----------------------------------------------------------------------------

    def request_stamp(self, card: CardView) -> None:
        """F2: stamp the card, unless a write for it is in flight; ask first if just stamped.

        A key pressed twice must not make two visits: while the first write runs the key does
        nothing, and a stamp within ``[program] repeat_confirm_seconds`` of the card's last
        one waits for Enter (Escape cancels).
        """
        if card.card_id in self.writing:
            return
        limit = self.settings.program.repeat_confirm_seconds
        age = seconds_since_stamp(card, self.desk.clock())
        if limit <= 0 or age is None or age >= limit:
            self.record_stamp(card.card_id)
            return

        def done(confirmed: bool | None) -> None:
            if confirmed and card.card_id not in self.writing:
                self.record_stamp(card.card_id)

        question = plain(self.t("repeat.question", seconds=max(int(age), 0)), 300)
        self.push_screen(ConfirmDialog(self.t("repeat.title"), question, self.lang), done)

    def record_stamp(self, card_id: str) -> None:
        """Record a visit's stamps, then report it (only after the commit returned)."""
        if not self.may_act():
            return
        self.writing[card_id] += 1
        self._record_stamp(card_id, self.staff_id)

    def record_purchase(self, card_id: str | None, cents: int) -> None:
        """Record a purchase and the stamps its amount gives (above ``[limits]
        approval_over_cents`` once a manager approved it)."""
        if not self.may_act():
            return
        what = plain(self.t("approval.what_purchase", amount=money(cents, self.lang)), 200)
        reason = self.desk.approval("purchase", amount_cents=cents)
        self.with_approval(
            reason, what, lambda approver: self._purchase_now(card_id, cents, approver)
        )

    def _purchase_now(self, card_id: str | None, cents: int, approver_id: str | None) -> None:
        if not self.may_act():
            return
        if card_id is not None:
            self.writing[card_id] += 1
        self._record_purchase(card_id, cents, self.staff_id, approver_id)

    def record_redeem(
        self, card_id: str, approver_id: str | None = None, *, override: bool = False
    ) -> None:
        """Record a reward redemption (refused beyond the offline limits, unless a manager
        approved going beyond them: ``override``)."""
        if not self.may_act():
            return
        self.writing[card_id] += 1
        self._record_redeem(card_id, self.staff_id, approver_id, override)

    # Writes are never exclusive: cancelling a queued write would lose a customer's visit.
    @work(thread=True, exit_on_error=False, group="ledger")
    def _record_stamp(self, card_id: str, staff_id: str | None) -> None:
        self._record(
            msg.StampRecorded, lambda: self.desk.stamp(card_id, staff_id=staff_id), card_id
        )

    @work(thread=True, exit_on_error=False, group="ledger")
    def _record_purchase(
        self, card_id: str | None, cents: int, staff_id: str | None, approver_id: str | None
    ) -> None:
        self._record(
            msg.PurchaseRecorded,
            lambda: self.desk.purchase(card_id, cents, staff_id=staff_id, approver_id=approver_id),
            card_id,
        )

    @work(thread=True, exit_on_error=False, group="ledger")
    def _record_redeem(
        self, card_id: str, staff_id: str | None, approver_id: str | None, override: bool
    ) -> None:
        self._record(
            msg.RewardRedeemed,
            lambda: self.desk.redeem(
                card_id, staff_id=staff_id, approver_id=approver_id, override=override
            ),
            card_id,
        )

    def on_redeem_beyond_offline(self, message: msg.RedeemBeyondOffline) -> None:
        """A reward refused beyond the offline allowance: a manager may give it anyway.

        Only with staff accounts and ``[limits] allow_manager_override``. A manager at the
        counter is asked once more (it goes beyond what this terminal may give alone); a
        cashier gets the approval dialog.
        """
        reason = self.desk.approval("redeem", beyond_offline=True)
        if reason is None or not self.staff_required or self.locked:
            return
        card_id = message.card_id
        what = plain(message.sentence, 300)

        def give(approver_id: str | None) -> None:
            self.record_redeem(card_id, approver_id, override=True)

        if self.serving is not None and str(self.serving.role) == "manager":
            manager = self.staff_id

            def confirmed(yes: bool | None) -> None:
                if yes:
                    give(manager)

            question = Content("\n").join(
                [what, Content(self.desk.approval_sentence(reason, self.lang)).stylize("bold")]
            )
            dialog = ConfirmDialog(self.t("approval.title"), question, self.lang)
            self.push_screen(dialog, confirmed)
            return
        self.with_approval(reason, what, give)

    def record_void(self, event_id: str, card_id: str | None, what: Content | None = None) -> None:
        """Cancel an event with a compensating void (with staff accounts, once a manager
        approved it; ``what`` names the event in the approval dialog)."""
        if not self.may_act():
            return
        self.with_approval(
            self.desk.approval("void"),
            what or Content(""),
            lambda approver: self._void_now(event_id, card_id, approver),
        )

    def _void_now(self, event_id: str, card_id: str | None, approver_id: str | None) -> None:
        if not self.may_act():
            return
        if card_id is not None:
            self.writing[card_id] += 1
        self._record_void(event_id, card_id, self.staff_id, approver_id)

    @work(thread=True, exit_on_error=False, group="ledger")
    def _record_void(
        self, event_id: str, card_id: str | None, staff_id: str | None, approver_id: str | None
    ) -> None:
        self._record(
            msg.EventVoided,
            lambda: self.desk.void(event_id, staff_id=staff_id, approver_id=approver_id),
            card_id,
        )

    def _record(
        self, fact: type[msg.EventRecorded], call: Callable[[], Any], card_id: str | None
    ) -> None:
        try:
            try:
                recorded = call()
            except LedgerRefusal as refusal:
                self.post_message(msg.ActionRefused(refusal.reason, refusal.text(self.lang)))
                if fact is msg.RewardRedeemed and card_id and refusal.reason in OFFLINE_REASONS:
                    self.post_message(msg.RedeemBeyondOffline(card_id, refusal.text(self.lang)))
                return
            except DatabaseWriteFailed as failure:
                # Disk full, locked too long, read-only: nothing was kept; say so in words.
                self.log.error("ledger write failed", error=repr(failure))
                self.post_message(msg.ActionRefused("write_failed", failure.text(self.lang)))
                return
            view = self.desk.view(card_id) if card_id else None
            if fact is msg.PurchaseRecorded and card_id is None:
                claimable = self.desk.claimable(recorded.event)
                self.post_message(msg.PurchaseRecorded(recorded, None, claimable=claimable))
            else:
                self.post_message(fact(recorded, view))
        finally:
            # After the fact above, so the card's keys work again on its fresh view.
            self.post_message(msg.WriteFinished(card_id))

    def on_write_finished(self, message: msg.WriteFinished) -> None:
        """The card's write ended: its keys work again."""
        if message.card_id is not None:
            self.writing[message.card_id] -= 1
            if self.writing[message.card_id] <= 0:
                del self.writing[message.card_id]

    def on_stamp_recorded(self, message: msg.StampRecorded) -> None:
        """Stamps committed."""
        self.recorded(message)

    def on_purchase_recorded(self, message: msg.PurchaseRecorded) -> None:
        """A purchase committed."""
        self.recorded(message)

    def on_reward_redeemed(self, message: msg.RewardRedeemed) -> None:
        """A redemption committed."""
        self.recorded(message)

    def on_event_voided(self, message: msg.EventVoided) -> None:
        """A void committed."""
        self.recorded(message)

    def recorded(self, message: msg.EventRecorded) -> None:
        """Show "recorded", ring the bell, refresh the counts, print the receipt."""
        self.last_recorded = message.recorded
        self.last_more = ()
        if self.voucher is not None and not isinstance(message, VoucherSpent):
            # A void of a spend gives the value back: the voucher's panel says so now.
            self.reload_voucher(self.voucher)
        self.last_activity = self.idle_clock()
        if message.view is not None and (
            self.card is None or self.card.card_id == message.view.card_id
        ):
            self.card = message.view
            # With staff accounts one action ends the customer's turn: the panel stays as a
            # summary, but the next key acts on nobody's card until a card is scanned.
            self.card_done = self.staff_required
        self._counter_call("show_recorded", message)
        for screen in self.screen_stack:
            reload = getattr(screen, "reload", None)
            if callable(reload):
                reload()
        if self.settings.terminal.bell:
            self.bell()
        self.refresh_status()
        self.sync_soon()
        if self.printer is not None and self.receipt_builder is not None:
            # A purchase paid partly with a voucher has two slips: the purchase's and the spend's.
            spend = getattr(message, "spend", None)
            more = (spend.event.id,) if spend is not None else ()
            self.print_receipt(message.recorded.event.id, *more)

    def on_action_refused(self, message: msg.ActionRefused) -> None:
        """Show the core's refusal, in its own words, in the counter's language.

        On the counter the result line and the banner say it; elsewhere (a void in the
        history) a notice does.
        """
        self._counter_call("show_refusal", message.sentence)
        if not isinstance(self.screen, CounterScreen):
            self.notify(message.sentence, severity="warning", markup=False, timeout=6)
        if message.reason in ("staff_required", "unknown_staff", "staff_locked"):
            # Staff accounts were made (or the serving one removed, or locked by wrong PINs
            # elsewhere) while the counter ran: the ledger wants a name, so the counter asks.
            self.staff_required = True
            self.lock()

    def _counter_call(self, method: str, *args: Any) -> None:
        for screen in self.screen_stack:
            if isinstance(screen, CounterScreen):
                getattr(screen, method)(*args)

    # Receipts and the printer ----------------------------------------------------------------

    @work(thread=True, exclusive=True, exit_on_error=False, group="printer")
    def print_receipt(self, event_id: str, *more: str) -> None:
        """Print the event's receipt (and ``more`` events' after it, in one worker: a second
        call would cancel the first); on a fault put the unprinted ones on the screen."""
        if self.receipt_builder is None:
            return
        receipts = [self.receipt_builder(one, self.lang) for one in (event_id, *more)]
        if self.printer is None:
            return
        for index, receipt in enumerate(receipts):
            try:
                self.printer.print_receipt(receipt)
            except Exception as exc:
                text = "\n".join(self.receipt_text(left) for left in receipts[index:])
                self.post_message(msg.PrinterChecked(False, failure_text(exc, self.lang), text))
                return
        self.post_message(msg.PrinterChecked(True))

    def printer_test(self) -> None:
        """Print a test page (or show it when there is no printer); never a customer's slip."""
        self._printer_test()

    @work(thread=True, exclusive=True, exit_on_error=False, group="printer")
    def _printer_test(self) -> None:
        receipt = test_page(self.settings, self.lang, self.desk.clock(), self.desk.tz)
        if self.printer is None:
            self.post_message(
                msg.PrinterChecked(
                    False, self.t("settings.printer_none"), self.receipt_text(receipt)
                )
            )
            return
        try:
            self.printer.print_receipt(receipt)
        except Exception as exc:
            self.post_message(
                msg.PrinterChecked(False, failure_text(exc, self.lang), self.receipt_text(receipt))
            )
            return
        self.post_message(msg.PrinterChecked(True))

    def show_receipt(self, event_id: str, *more: str) -> None:
        """Show an event's receipt (and ``more`` events' after it) on the screen (built in a
        worker: it reads the ledger)."""
        if self.receipt_builder is not None:
            self._build_receipt((event_id, *more), self.lang)

    @work(thread=True, exclusive=True, exit_on_error=False, group="receipt")
    def _build_receipt(self, event_ids: tuple[str, ...], lang: str) -> None:
        builder = self.receipt_builder
        if builder is None:
            return
        text = "\n".join(self.receipt_text(builder(one, lang)) for one in event_ids)
        # A second Ctrl+R cancels this one: only the newest receipt goes on the screen.
        if not get_current_worker().is_cancelled:
            self.post_message(msg.ReceiptBuilt(text))

    def on_receipt_built(self, message: msg.ReceiptBuilt) -> None:
        """Put the receipt on the screen."""
        self.push_screen(ReceiptDialog(message.text))

    def receipt_text(self, receipt: Any) -> str:
        """The receipt as text for the screen, at the configured paper width.

        The claim code is one line marked for ``ReceiptDialog``, which draws it as a QR.
        """
        width = columns_for_paper(self.settings.printer.paper_width_mm)
        lines: list[str] = []
        for block in layout(receipt, width):
            if isinstance(block, Qr):
                lines.append(QR_MARK + block.data)
            else:
                lines += text_lines([block], width)
        return "\n".join(lines) + "\n"

    def on_printer_checked(self, message: msg.PrinterChecked) -> None:
        """Say the print went, or show the receipt on the screen."""
        if message.ok:
            self.notify(self.t("printer.ok"), timeout=2)
            return
        self.notify(
            self.t("printer.failed", detail=clean(message.detail, 300)),
            severity="warning",
            markup=False,
        )
        if message.receipt_text:
            self.push_screen(ReceiptDialog(message.receipt_text))

    @property
    def printer_enabled(self) -> bool:
        """A printer is configured (else receipts are shown on the screen)."""
        return self.printer is not None and self.settings.printer.kind is not PrinterKind.NONE

    # Sync ----------------------------------------------------------------------------------

    def action_sync_now(self) -> None:
        """Run a sync now."""
        self.request_sync()

    def request_sync(self) -> None:
        """F7 on the sync screen: run now, say it runs, and say how it ended."""
        if self.sync_runner is None:
            self.notify(self.t("sync.not_paired"), severity="warning", timeout=6)
            return
        self.sync_requested = True
        self.notify(self.t("sync.started"), timeout=3)
        self.run_sync()

    def run_sync(self) -> None:
        """Start a sync run unless one is already going."""
        if self.sync_runner is None or self.syncing:
            return
        if self._sync_soon_timer is not None:
            # This run starts after every event recorded so far has committed: it sends them.
            self._sync_soon_timer.stop()
            self._sync_soon_timer = None
        self.syncing = True
        self.sync_unreachable = False
        self._sync_cancel = threading.Event()
        self._redraw_status()
        self._sync(self._sync_cancel)

    def sync_soon(self) -> None:
        """Send a recorded event within seconds, not at the next interval.

        The first record arms one timer and the records that follow before it fires join
        that run, so a busy counter makes one sync every few seconds at most, and an event
        waits no longer than the delay. When the timer fires during a run (which may have
        taken its batch before the event committed), one more run follows that one.
        """
        if not self.background_sync or self.sync_runner is None or self.sync_soon_seconds is None:
            return
        if self._sync_soon_timer is None:
            self._sync_soon_timer = self.set_timer(
                self.sync_soon_seconds, self._sync_soon_due, name="sync-soon"
            )

    def _sync_soon_due(self) -> None:
        self._sync_soon_timer = None
        if self.syncing:
            self.sync_again = True
            return
        self.run_sync()

    @work(thread=True, exclusive=True, exit_on_error=False, group="sync")
    def _sync(self, cancel: threading.Event) -> None:
        runner = self.sync_runner
        if runner is None:
            return
        try:
            result = runner(
                lambda _line: None,
                cancel=cancel,
                on_unreachable=self._sync_unreachable,
            )
        except Exception as exc:
            result = SyncResult("error", clean(exc, 160))
        self.post_message(msg.SyncFinished(result.outcome, result.detail, dict(result.counts)))

    def _sync_unreachable(self) -> None:
        """Runs on the sync's thread: tell the app, touch nothing."""
        self.post_message(msg.SyncUnreachable())

    def on_sync_unreachable(self, message: msg.SyncUnreachable) -> None:
        """Say offline now, not after the run's whole retry budget."""
        if self.syncing:
            self.sync_unreachable = True
            self._redraw_status()

    def on_sync_finished(self, message: msg.SyncFinished) -> None:
        """Record the outcome, recount, and say so if the platform is unreachable."""
        self.syncing = False
        self.last_sync = SyncResult(message.outcome, message.detail, message.counts)
        self.refresh_status()
        if self.card is not None:
            # The platform may have confirmed the card's stamps: the panel says so now.
            self.reload_card(self.card.card_id)
        if self.voucher is not None:
            # ...and the voucher's spends elsewhere, or its revocation.
            self.reload_voucher(self.voucher)
        if self.sync_requested:
            self.sync_requested = False
            counts = message.counts
            self.notify(
                self.t(
                    "sync.finished",
                    outcome=outcome_text(message.outcome, self.lang),
                    sent=counts.get("synced", 0),
                    pending=counts.get("pending", 0),
                ),
                severity="information" if message.outcome == "ok" else "warning",
                markup=False,
                timeout=6,
            )
        for screen in self.screen_stack:
            reload = getattr(screen, "reload", None)
            if callable(reload):
                reload()
        if self.sync_again:
            self.sync_again = False
            self.run_sync()

    # The camera ------------------------------------------------------------------------------

    @work(thread=True, exclusive=True, exit_on_error=False, group="camera")
    def start_scanner(self) -> None:
        """Start the scanner child; its events come back on its own thread."""
        if self.scanner is not None:
            self.scanner.start(self._scanner_event)

    def toggle_camera(self) -> None:
        """Camera on or off (fed files, scanner and typed codes work either way)."""
        if self.scanner is None:
            return
        self.camera_wanted = not self.camera_wanted
        self.camera_state = "starting" if self.camera_wanted else "off"
        self._redraw_status()
        self._set_camera(self.camera_wanted)

    @work(thread=True, exclusive=True, exit_on_error=False, group="camera")
    def _set_camera(self, enabled: bool) -> None:
        if self.scanner is not None:
            self.scanner.set_camera(enabled)

    def _scanner_event(self, event: object) -> None:
        """Runs on the scanner's watcher thread: turn events into messages, touch nothing."""
        if isinstance(event, ev.CodeRead):
            source = "demo" if event.source == "file" else "camera"
            self.post_message(msg.CodeScanned(event.text, source))
        elif isinstance(event, ev.Preview):
            self.post_message(msg.PreviewFrame(event.width, event.height, event.pixels))
        elif isinstance(event, ev.CameraReady):
            self.post_message(msg.CameraChanged("running"))
        elif isinstance(event, ev.CameraUnavailable):
            self.post_message(msg.CameraChanged("missing", event.message))
        elif isinstance(event, ev.ScannerCrashed):
            self.post_message(msg.CameraChanged("crashed", event.reason))
        elif isinstance(event, ev.ScannerRestarted):
            self.post_message(msg.CameraChanged("restarted"))
        elif isinstance(event, ev.FileScanned) and (event.error or not event.codes):
            # The child's error is an English technical detail; the shopkeeper gets a sentence.
            self.post_message(msg.CodeRefused("unreadable", self.t("refused.unreadable_image")))

    def on_camera_changed(self, message: msg.CameraChanged) -> None:
        """Show the camera's state; say it when it stops or comes back."""
        previous = self.camera_state
        state = message.state
        if state == "restarted":
            state = "starting"
        if state == "crashed":
            self.notify(self.t("notice.camera_crashed"), severity="warning", timeout=6)
        elif state == "missing" and previous != "missing" and self.camera_wanted:
            self.notify(self.t("notice.camera_missing"), severity="warning", timeout=6)
        elif state == "running" and previous in ("crashed", "missing"):
            self.notify(self.t("notice.camera_back"), timeout=3)
        if not self.camera_wanted:
            state = "crashed" if state == "crashed" else "off"
        self.camera_state = state
        self.camera_detail = clean(message.detail, 160)
        self._redraw_status()

    def on_preview_frame(self, message: msg.PreviewFrame) -> None:
        """Hand a preview frame to the counter screen's preview."""
        self._counter_call("show_preview", message)

    def toggle_preview(self) -> bool:
        """Ask the camera for preview frames, or stop them; the new state.

        With no camera (none found, or turned off) there is nothing to aim with: say so.
        """
        if self.scanner is None or not self.camera_wanted or self.camera_state == "missing":
            self.preview_on = False
            self.notify(self.t("notice.no_camera"), severity="warning", timeout=6)
            return False
        self.preview_on = not self.preview_on
        if self.scanner is not None:
            self._set_preview(self.preview_on)
        return self.preview_on

    @work(thread=True, exclusive=True, exit_on_error=False, group="camera")
    def _set_preview(self, enabled: bool) -> None:
        if self.scanner is not None:
            self.scanner.set_preview(enabled)

    # Demo cards --------------------------------------------------------------------------------

    def present_demo_card(self) -> None:
        """Feed the next demo card image through the scanner's file source."""
        if not self.demo_cards:
            self.notify(self.t("notice.demo_none"), severity="warning")
            return
        path = self.demo_cards[self.demo_index % len(self.demo_cards)]
        self.demo_index += 1
        self.notify(self.t("notice.demo_card", name=clean(path.stem, 40)), timeout=2, markup=False)
        if self.scanner is None:
            self.notify(self.t("notice.no_scanner"), severity="warning")
            return
        self._feed(path)

    def present_demo_voucher(self) -> None:
        """Feed the next demo voucher image through the scanner's file source (F11)."""
        if not self.demo_vouchers:
            self.notify(self.t("notice.demo_none"), severity="warning")
            return
        path = self.demo_vouchers[self.demo_voucher_index % len(self.demo_vouchers)]
        self.demo_voucher_index += 1
        self.notify(
            self.t("voucher.demo_notice", name=clean(path.stem, 40)), timeout=2, markup=False
        )
        if self.scanner is None:
            self.notify(self.t("notice.no_scanner"), severity="warning")
            return
        self._feed(path)

    @work(thread=True, exclusive=False, exit_on_error=False, group="camera")
    def _feed(self, path: Path) -> None:
        if self.scanner is not None:
            self.scanner.feed_file(path)

    # Failures ----------------------------------------------------------------------------------

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        """Any worker that failed: a notice in the shopkeeper's language; the app goes on."""
        worker = event.worker
        if event.state is not WorkerState.ERROR:
            return
        group = worker.group if worker.group in WORK_GROUPS else "other"
        error = worker.error
        detail = failure_text(error, self.lang)
        self.log.error("worker failed", group=group, error=repr(error))
        self.notify(
            self.t("notice.failed", what=self.t(f"work.{group}"), detail=detail),
            severity="error",
            markup=False,
            timeout=8,
        )
        if group == "sync":
            self.syncing = False
            self.refresh_status()
        elif group == "camera":
            self.camera_state = "missing"
            self._redraw_status()
        elif group == "ledger":
            self._counter_call("show_refusal", detail)


def failure_text(error: BaseException | None, lang: str) -> str:
    """A failure in the shopkeeper's words: the core's own sentence, never a Python name."""
    if isinstance(error, DatabaseError | PrinterError):
        return clean(error.text(lang), 300)
    return t("error.unexpected", lang)


def seconds_since_stamp(card: CardView, now: datetime) -> float | None:
    """Seconds since the card's newest stamp still in force (None: none among its events)."""
    times = [row.occurred_at for row in card.events if row.kind == "stamp" and not row.voided]
    return (now - max(times)).total_seconds() if times else None
