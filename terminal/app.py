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

from textual import work
from textual.app import App
from textual.binding import BindingType
from textual.reactive import reactive
from textual.timer import Timer
from textual.worker import Worker, WorkerState, get_current_worker

from config import Settings
from config.settings import PrinterKind
from loyalty.db import DatabaseError, DatabaseWriteFailed
from loyalty.i18n import LANGUAGES
from loyalty.ledger import LedgerRefusal
from receipts.printers import PrinterError
from receipts.text import Qr, columns_for_paper, layout, text_lines
from scanner import events as ev
from terminal import messages as msg
from terminal.dialogs.confirm import ConfirmDialog
from terminal.dialogs.help import HelpDialog
from terminal.dialogs.receipt import QR_MARK, ReceiptDialog
from terminal.i18n import next_language, t
from terminal.safe import clean, plain
from terminal.screens.counter import CounterScreen
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
    test_page,
)
from terminal.widgets.keys import key, localize_bindings
from terminal.widgets.status import StatusLine

WORK_GROUPS = ("camera", "ledger", "sync", "printer", "receipt", "status", "check")


class CounterApp(App[None]):
    """The loyalty terminal at the shop counter."""

    CSS_PATH = "app.tcss"
    TITLE = "citie-terminal"
    ENABLE_COMMAND_PALETTE = False
    BINDINGS: ClassVar[list[BindingType]] = [
        # Priority: quit and help work in every dialog too (the key bar always shows them).
        key("f1", "help", "key.help", priority=True),
        key("f9", "cycle_language", "key.language"),
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
        sync_soon_seconds: float | None = SYNC_SOON_SECONDS,
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
        self.writing: Counter[str] = Counter()
        """Writes in flight per card (its stamp key does nothing until they end)."""
        self.demo_index = 0
        self.ledger_problem = ""
        """What the background integrity check found wrong with the ledger ("" when sound)."""
        self.preview_on = False
        self.sync_requested = False
        """The shopkeeper asked for the running sync (F7): its outcome gets a notice."""

    # Start and stop ------------------------------------------------------------------------

    def on_mount(self) -> None:
        """Show the counter, start the camera, count the status, schedule the sync."""
        localize_bindings(self, self.lang)
        self.push_screen(CounterScreen(self.key_clock))
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
        if not isinstance(self.screen, CounterScreen):
            return
        candidates = message.candidates or (message.text,)
        self.screen.show_checking()
        self.check_code(candidates)

    @work(thread=True, exclusive=True, exit_on_error=False, group="ledger")
    def check_code(self, candidates: Sequence[str]) -> None:
        """Verify the code (or look up the typed card number), then load the card."""
        verdict = self.desk.identify(candidates, self.lang)
        if isinstance(verdict, Refused):
            self.post_message(msg.CodeRefused(verdict.reason, verdict.sentence))
            return
        self.post_message(msg.CardShown(self.desk.view(verdict)))

    @work(thread=True, exit_on_error=False, group="status")
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
        self.card = message.view
        self._counter_call("show_card", message.view)

    def on_code_refused(self, message: msg.CodeRefused) -> None:
        """Say why the code is not usable."""
        self._counter_call("show_refusal", message.sentence)

    def clear_card(self) -> None:
        """The customer has gone."""
        self.card = None
        self._counter_call("show_card", None)

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
        self.writing[card_id] += 1
        self._record_stamp(card_id)

    def record_purchase(self, card_id: str | None, cents: int) -> None:
        """Record a purchase and the stamps its amount gives."""
        if card_id is not None:
            self.writing[card_id] += 1
        self._record_purchase(card_id, cents)

    def record_redeem(self, card_id: str) -> None:
        """Record a reward redemption (refused beyond the offline limits)."""
        self.writing[card_id] += 1
        self._record_redeem(card_id)

    # Writes are never exclusive: cancelling a queued write would lose a customer's visit.
    @work(thread=True, exit_on_error=False, group="ledger")
    def _record_stamp(self, card_id: str) -> None:
        self._record(msg.StampRecorded, lambda: self.desk.stamp(card_id), card_id)

    @work(thread=True, exit_on_error=False, group="ledger")
    def _record_purchase(self, card_id: str | None, cents: int) -> None:
        self._record(msg.PurchaseRecorded, lambda: self.desk.purchase(card_id, cents), card_id)

    @work(thread=True, exit_on_error=False, group="ledger")
    def _record_redeem(self, card_id: str) -> None:
        self._record(msg.RewardRedeemed, lambda: self.desk.redeem(card_id), card_id)

    def record_void(self, event_id: str, card_id: str | None) -> None:
        """Cancel an event with a compensating void."""
        if card_id is not None:
            self.writing[card_id] += 1
        self._record_void(event_id, card_id)

    @work(thread=True, exit_on_error=False, group="ledger")
    def _record_void(self, event_id: str, card_id: str | None) -> None:
        self._record(msg.EventVoided, lambda: self.desk.void(event_id), card_id)

    def _record(
        self, fact: type[msg.EventRecorded], call: Callable[[], Any], card_id: str | None
    ) -> None:
        try:
            try:
                recorded = call()
            except LedgerRefusal as refusal:
                self.post_message(msg.ActionRefused(refusal.reason, refusal.text(self.lang)))
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
        if message.view is not None and (
            self.card is None or self.card.card_id == message.view.card_id
        ):
            self.card = message.view
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
            self.print_receipt(message.recorded.event.id)

    def on_action_refused(self, message: msg.ActionRefused) -> None:
        """Show the core's refusal, in its own words, in the counter's language.

        On the counter the result line and the banner say it; elsewhere (a void in the
        history) a notice does.
        """
        self._counter_call("show_refusal", message.sentence)
        if not isinstance(self.screen, CounterScreen):
            self.notify(message.sentence, severity="warning", markup=False, timeout=6)

    def _counter_call(self, method: str, *args: Any) -> None:
        for screen in self.screen_stack:
            if isinstance(screen, CounterScreen):
                getattr(screen, method)(*args)

    # Receipts and the printer ----------------------------------------------------------------

    @work(thread=True, exclusive=True, exit_on_error=False, group="printer")
    def print_receipt(self, event_id: str) -> None:
        """Print the event's receipt; on a fault put it on the screen instead."""
        if self.receipt_builder is None:
            return
        receipt = self.receipt_builder(event_id, self.lang)
        if self.printer is None:
            return
        try:
            self.printer.print_receipt(receipt)
        except Exception as exc:
            self.post_message(
                msg.PrinterChecked(False, failure_text(exc, self.lang), self.receipt_text(receipt))
            )
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

    def show_receipt(self, event_id: str) -> None:
        """Show an event's receipt on the screen (built in a worker: it reads the ledger)."""
        if self.receipt_builder is not None:
            self._build_receipt(event_id, self.lang)

    @work(thread=True, exclusive=True, exit_on_error=False, group="receipt")
    def _build_receipt(self, event_id: str, lang: str) -> None:
        if self.receipt_builder is None:
            return
        text = self.receipt_text(self.receipt_builder(event_id, lang))
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
