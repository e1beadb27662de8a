"""The factory that builds the counter app, and the thin adapters it calls on the core.

``make_app(...)`` is used by the CLI and by the tests alike. ``Desk`` is the one place that
knows the core's signatures (loyalty.cards, ledger, programs, reports): screens ask it for
plain dataclasses (``CardView``, ``StatusFacts``, ``DayReport``) and never see a SQL row.
Everything here blocks (SQLite, decoding, the network): the app calls it only from workers.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, tzinfo
from multiprocessing import resource_tracker
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from config import Settings
from loyalty.cards import Card
from loyalty.db import Store, parse_iso, utc_now
from loyalty.i18n import datetime_text
from loyalty.programs import SHOP_TZ, OfflineLimits, evaluate, program_in_force
from loyalty.reports import StaffFigures, report
from loyalty.staff import StaffBook, StaffError, StaffMember, approval_needed, approval_text
from loyalty.trust import CardVerifier, load_trust
from loyalty.voucher_book import VoucherBook
from loyalty.vouchers import (
    PREFIX as VOUCHER_PREFIX,
)
from loyalty.vouchers import (
    Voucher,
    VoucherRefusal,
    VoucherRefusalReason,
    verify_voucher,
    voucher_id_is_valid,
    voucher_number,
)
from loyalty.vouchers import refusal as voucher_refusal
from receipts.build import receipt_for
from receipts.escpos import render_escpos
from receipts.model import Receipt
from receipts.printers import printer_for
from receipts.text import columns_for_paper
from scanner.process import ScannerProcess
from scanner.sources import CameraControls, SourceSpec
from sync.job import run_sync
from terminal.card_numbers import typed_card_refusal
from terminal.flags import card_flag
from terminal.i18n import t

if TYPE_CHECKING:
    from loyalty.cards import Card
    from loyalty.ledger import Event, Ledger, Recorded
    from loyalty.programs import Program
    from terminal.app import CounterApp

CLOCK_WARNING_SECONDS = 300
SYNC_SOON_SECONDS = 5.0
"""How long after a recorded event the background sync sends it (records in between join)."""
VOUCHER_OFFLINE_MAX_CENTS = 5000
"""``[vouchers] offline_max_cents`` when the settings have no such section."""
Clock = Callable[[], datetime]
REACHED_OUTCOMES = frozenset({"ok", "quarantined", "pending", "rejected"})
"""Sync outcomes of a run that reached the platform (``sync.job`` outcomes).

Not ``protocol_error``: an answer that is not the protocol (a guest Wi-Fi's login page, a
proxy's error page) came from something else, and the counter is offline all the same."""


# --- What screens are given --------------------------------------------------------------


@dataclass(frozen=True)
class EventRow:
    """One ledger event as a screen shows it."""

    id: str
    receipt_no: str
    kind: str
    occurred_at: datetime
    card_id: str | None
    stamps: int
    amount_cents: int | None
    currency: str
    voids: str | None = None
    voided: bool = False
    reason: str = ""
    staff: str = ""
    """The first name of the staff member who recorded it ("" when none was named)."""
    approver: str = ""
    """The first name of the manager who approved it ("" when none did)."""
    voucher_id: str | None = None
    """The voucher a voucher payment (or its void) was made with."""


@dataclass(frozen=True)
class CardView:
    """The customer at the counter: balance, progress to the reward, recent events."""

    card_id: str
    total: int
    confirmed: int | None
    pending: int
    threshold: int
    reward_name: str
    events: tuple[EventRow, ...] = ()
    flags: tuple[str, ...] = ()
    """Why the city flagged the card (``terminal.flags``): the counter warns, never blocks."""

    @property
    def rewards_available(self) -> int:
        """Whole rewards the balance pays for."""
        return max(self.total, 0) // max(self.threshold, 1)

    @property
    def progress(self) -> int:
        """Stamps towards the next reward."""
        return max(self.total, 0) % max(self.threshold, 1)


@dataclass(frozen=True)
class StatusFacts:
    """What the status line shows, counted from the database (the truth, not a guess)."""

    pending: int
    quarantined: int
    last_good_sync: datetime | None
    clock_offset_seconds: float | None
    paired: bool
    last_outcome: str | None = None
    last_run_at: datetime | None = None
    last_message: str = ""
    clock_behind_seconds: float = 0.0
    """How far this device's clock is behind the newest event in the ledger (0: it is not).
    While behind, the ledger counts limits from the newest event's time (loyalty.ledger)."""

    @property
    def online(self) -> bool:
        """Online means: paired, and the last run reached the platform.

        A run that reached it and left events (recorded during the run, asked for again,
        refused) reached it all the same; busy and cancelled runs are not counted at all.
        """
        return self.paired and self.last_outcome in REACHED_OUTCOMES

    @property
    def clock_warning(self) -> bool:
        """The platform says this device's clock is more than 5 minutes off."""
        return (
            self.clock_offset_seconds is not None
            and abs(self.clock_offset_seconds) > CLOCK_WARNING_SECONDS
        )


@dataclass(frozen=True)
class DayReport:
    """The end-of-day figures, with 30 days of stamps and the day's events by hour."""

    day: date
    stamps: int
    purchases: int
    turnover_cents: int
    rewards: int
    voids: int
    cards: int
    pending: int
    currency: str = "EUR"
    per_day: tuple[int, ...] = ()
    per_hour: tuple[int, ...] = field(default=(0,) * 24)
    voucher_spends: int = 0
    """City voucher spends, voids netted: apart from the loyalty figures (not in purchases)."""
    voucher_spent_cents: int = 0
    """What was paid with city vouchers, voids netted: what the city owes the shop."""
    staff: tuple[StaffFigures, ...] = ()
    """Per staff member who recorded or approved something that day (none without staff)."""


@dataclass(frozen=True)
class Refused:
    """A refusal from the core, said in the counter's language."""

    reason: str
    sentence: str
    retell: Callable[[str], str] | None = field(default=None, compare=False, repr=False)
    """The same refusal in another language (a screen that keeps it shown after F9)."""

    def said_in(self, lang: str) -> str:
        """The sentence in ``lang`` (the one it was said in when it cannot be retold)."""
        return self.retell(lang) if self.retell is not None else self.sentence


@dataclass(frozen=True)
class PurchasePreview:
    """What a purchase of this amount would give, and why (one sentence a line)."""

    stamps: int
    lines: tuple[str, ...]


@dataclass(frozen=True)
class VoucherView:
    """A voucher at the counter: what it is worth now here, or why it cannot be spent.

    ``refusal`` is the sentence (counter's language) when it cannot be spent (revoked,
    spent in full, expired); ``voucher`` is the core's voucher, handed back to spend it.
    """

    voucher_id: str
    campaign: str
    city: str
    currency: str
    face_cents: int
    remaining_cents: int
    offline_left_cents: int
    expires_at: datetime | None
    refusal: str = ""
    reason: str = ""
    voucher: Any = field(default=None, compare=False, repr=False)

    @property
    def spendable_cents(self) -> int:
        """What may be paid with it now: the value left, at most the offline allowance."""
        if self.refusal:
            return 0
        return max(min(self.remaining_cents, self.offline_left_cents), 0)

    @property
    def offline_capped(self) -> bool:
        """The offline allowance, not the value left, limits the spend now."""
        return not self.refusal and self.offline_left_cents < self.remaining_cents


# --- Ports the app is given --------------------------------------------------------------


class ScannerPort(Protocol):
    """The camera child process as the app sees it (``CameraScanner`` wraps scanner.process)."""

    def start(self, on_event: Callable[[object], None]) -> None:
        """Start reading; ``scanner.events`` objects arrive on another thread."""

    def stop(self) -> None:
        """Stop the child and its threads."""

    def feed_file(self, path: Path) -> None:
        """Present an image file as if the camera saw it."""

    def set_preview(self, enabled: bool) -> None:
        """Ask for (or stop) small preview frames."""

    def set_camera(self, enabled: bool) -> None:
        """Read from the camera, or only from fed files (restarts the child)."""


class CameraScanner:
    """``scanner.process.ScannerProcess`` behind the app's port; the source can be swapped."""

    def __init__(self, source: Any, *, decoders: Sequence[str], debounce_s: float) -> None:
        # Start multiprocessing's resource tracker now, while sys.stderr is the real one:
        # inside a running Textual app stderr is captured (fileno -1) and spawning the tracker
        # from a worker then fails with "bad value(s) in fds_to_keep".
        resource_tracker.ensure_running()
        self.source = source
        self.nothing = SourceSpec.nothing()
        self.decoders = tuple(decoders)
        self.debounce_s = debounce_s
        self.camera_on = source.kind != "none"
        self._process: Any = None
        self._on_event: Callable[[object], None] | None = None

    @classmethod
    def from_settings(cls, settings: Settings, *, camera: bool | None = None) -> CameraScanner:
        """The configured camera (or no frame source when the camera is disabled).

        A ``[camera] device`` that names a regular file is a video played as a camera would
        deliver it: at its frame rate, looped (read as a device it would be decoded as fast
        as the CPU allows and end with "the camera stopped giving pictures").
        """
        on = settings.camera.enabled if camera is None else camera
        device = settings.camera.device
        if not on:
            spec = SourceSpec.nothing()
        elif not device.strip().isdigit() and Path(device).is_file():
            spec = SourceSpec.video(device, loop=True, realtime=True)
        else:
            controls = CameraControls(
                exposure=settings.camera.exposure, focus=settings.camera.focus
            )
            spec = SourceSpec.camera(
                device, settings.camera.width, settings.camera.height, controls
            )
        return cls(
            spec, decoders=settings.camera.decoders, debounce_s=settings.camera.debounce_seconds
        )

    @property
    def process(self) -> Any:
        """The running ``ScannerProcess`` (None before start)."""
        return self._process

    def start(self, on_event: Callable[[object], None]) -> None:
        """Spawn the child with the current source."""
        self._on_event = on_event
        spec = self.source if self.camera_on else self.nothing
        self._process = ScannerProcess(spec, self.decoders, self.debounce_s, on_event=on_event)
        self._process.start()

    def stop(self) -> None:
        """Stop the child."""
        if self._process is not None:
            self._process.stop()
            self._process = None

    def feed_file(self, path: Path) -> None:
        """Decode an image file in the child."""
        if self._process is not None:
            self._process.feed_file(path)

    def set_preview(self, enabled: bool) -> None:
        """Preview frames on or off."""
        if self._process is not None:
            self._process.set_preview(enabled)

    def set_camera(self, enabled: bool) -> None:
        """Restart the child with the camera, or with fed files only."""
        self.camera_on = enabled and self.source.kind != "none"
        if self._process is not None and self._on_event is not None:
            self.stop()
            self.start(self._on_event)


class PrinterPort(Protocol):
    """Where receipts go: ``print_text`` raises on a fault (the app then shows it on screen)."""

    def print_receipt(self, receipt: Any) -> None:
        """Print one receipt."""

    def describe(self) -> str:
        """A short name for the settings screen."""


class SyncRunner(Protocol):
    """One sync run; ``cancel`` set ends it soon (events stay pending), ``on_unreachable``
    is called from the run's thread as soon as a request cannot reach the platform."""

    def __call__(
        self,
        progress: Callable[[Any], None],
        *,
        cancel: threading.Event | None = None,
        on_unreachable: Callable[[], None] | None = None,
    ) -> SyncResult:
        """Run once; never raises for a sync failure."""
        ...


@dataclass(frozen=True)
class SyncResult:
    """The outcome of one sync run, reduced to what the app shows."""

    outcome: str
    detail: str = ""
    counts: dict[str, int] = field(default_factory=dict)


# --- The desk: every core call the screens need -------------------------------------------


class Desk:
    """The counter's core operations, in the shop's terms, for a given language."""

    def __init__(
        self,
        settings: Settings,
        store: Store,
        ledger: Ledger,
        *,
        clock: Clock = utc_now,
        tz: tzinfo = SHOP_TZ,
    ) -> None:
        self.settings = settings
        self.store = store
        self.ledger = ledger
        self.clock = clock
        self.tz = tz
        self.staff = StaffBook(store, max_failures=settings.staff.max_failures)

    # Cards -------------------------------------------------------------------------------

    def verify(self, candidates: Sequence[str], lang: str) -> Card | Refused:
        """The first candidate that verifies as a card, or the refusal of the first one."""
        verifier = CardVerifier.from_db(self.store.read())
        verdict = verifier.first(candidates, now=self.clock())
        if verdict is None:
            return Refused("empty", "")
        if isinstance(verdict, Card):
            return verdict
        return Refused(str(verdict.reason), verdict.text(lang))

    def identify(self, candidates: Sequence[str], lang: str) -> str | Refused:
        """The card id a scanned code or a typed card number names, or the refusal.

        A typed number (``CT-7KQ2-M9XD-4HTW``, as printed on cards and slips) finds the card
        when this terminal knows it: its ledger has seen the card, or the platform sent its
        confirmed balance. A revoked card stays refused; a number whose check character does
        not match is named as a typo.
        """
        typed = self.ledger.typed_card(candidates)  # the headless commands' rule too
        if typed is not None:
            if typed.refusal is None:
                return typed.card_id
            return Refused(*typed_card_refusal(typed, lang))
        verdict = self.verify(candidates, lang)
        return verdict.card_id if isinstance(verdict, Card) else verdict

    def program(self) -> Program:
        """The program in force: the platform's copy if synced, else the configured one."""
        return program_in_force(self.store.read(), self.settings.program)

    def limits(self) -> OfflineLimits:
        """The offline redemption limits from the settings."""
        return OfflineLimits.from_settings(self.settings.limits)

    def view(self, card_id: str, limit: int = 8) -> CardView:
        """The card's balance and latest events."""
        program = self.program()
        balance = self.ledger.balance(card_id)
        events = self.ledger.card_events(card_id, limit=limit)
        voided = self._voided_ids([e.id for e in events])
        return CardView(
            card_id=card_id,
            total=balance.total,
            confirmed=balance.confirmed,
            # Stamps not confirmed yet: a pending redeem (a negative delta) is already in
            # the total and is not "-3 not yet confirmed".
            pending=max(balance.pending, 0),
            threshold=program.reward_threshold,
            reward_name=program.reward_name,
            events=tuple(self._row(e, voided) for e in events),
            flags=flag.reasons if (flag := card_flag(self.store.read(), card_id)) else (),
        )

    # Actions -----------------------------------------------------------------------------

    def stamp(
        self, card_id: str, *, staff_id: str | None = None, approver_id: str | None = None
    ) -> Recorded:
        """Record the program's stamps for one visit (``staff_id``: who is serving)."""
        return self.ledger.stamp(
            card_id, self.program(), now=self.clock(), staff_id=staff_id, approver_id=approver_id
        )

    def preview_purchase(self, card_id: str | None, cents: int, lang: str) -> PurchasePreview:
        """What the rule gives for this amount, and why; nothing is recorded."""
        if card_id is None:
            return PurchasePreview(0, ())
        decision = self.ledger.preview_purchase(card_id, cents, self.program(), now=self.clock())
        lines = [line.text(lang, self.tz) for line in decision.lines]
        return PurchasePreview(stamps=decision.stamps, lines=tuple(lines))

    def purchase(
        self,
        card_id: str | None,
        cents: int,
        *,
        staff_id: str | None = None,
        approver_id: str | None = None,
    ) -> Recorded:
        """Record a purchase (anonymous without a card) and the stamps its amount gives."""
        return self.ledger.purchase(
            card_id,
            cents,
            self.program(),
            now=self.clock(),
            staff_id=staff_id,
            approver_id=approver_id,
        )

    def claimable(self, event: Event) -> int:
        """The stamps an anonymous purchase's slip lets a customer claim (as its slip says)."""
        if event.card_id is not None or event.amount_cents is None:
            return 0
        decision = evaluate(
            self.program(), [], now=event.occurred_at, amount_cents=event.amount_cents, tz=self.tz
        )
        return max(decision.stamps, 0)

    def redeem(
        self,
        card_id: str,
        *,
        staff_id: str | None = None,
        approver_id: str | None = None,
        override: bool = False,
    ) -> Recorded:
        """Record a reward redemption within the offline limits (beyond them with
        ``override``: a manager approved it, ``approver_id``)."""
        return self.ledger.redeem(
            card_id,
            self.program(),
            self.limits(),
            now=self.clock(),
            staff_id=staff_id,
            approver_id=approver_id,
            override=override,
        )

    def void(
        self, event_id: str, *, staff_id: str | None = None, approver_id: str | None = None
    ) -> Recorded:
        """Cancel an event with a compensating void."""
        return self.ledger.void(
            event_id, now=self.clock(), staff_id=staff_id, approver_id=approver_id
        )

    # Staff -------------------------------------------------------------------------------

    def staff_required(self) -> bool:
        """Staff accounts exist: the counter is locked until one of them types a PIN."""
        return self.staff.any()

    def staff_members(self) -> list[StaffMember]:
        """The active staff accounts, by name."""
        return self.staff.list()

    def check_pin(self, name_or_id: str, pin: str, lang: str) -> StaffMember | Refused:
        """The staff member whose PIN this is, or why not (throttled, locked...)."""
        try:
            return self.staff.check_pin(name_or_id, pin, now=self.clock())
        except StaffError as refusal:
            return staff_refused(refusal, lang)

    def check_manager(self, name_or_id: str, pin: str, lang: str) -> StaffMember | Refused:
        """The manager whose PIN this is, or why not (not a manager, wrong PIN...)."""
        try:
            return self.staff.check_manager(name_or_id, pin, now=self.clock())
        except StaffError as refusal:
            return staff_refused(refusal, lang)

    def approval(
        self,
        action: str,
        *,
        count: int | None = None,
        amount_cents: int | None = None,
        beyond_offline: bool = False,
    ) -> str | None:
        """Why ``action`` needs a manager (``loyalty.staff.approval_needed``), or None."""
        return approval_needed(
            action,
            limits=self.settings.limits,
            count=count,
            amount_cents=amount_cents,
            beyond_offline=beyond_offline,
        )

    def approval_sentence(self, reason: str, lang: str) -> str:
        """What the action needs, e.g. "A void needs a manager's approval."."""
        return approval_text(reason, lang, limits=self.settings.limits)

    # Vouchers ----------------------------------------------------------------------------

    def voucher_offline_max(self) -> int:
        """``[vouchers] offline_max_cents``: the most one voucher pays here between syncs."""
        vouchers = getattr(self.settings, "vouchers", None)
        return int(getattr(vouchers, "offline_max_cents", VOUCHER_OFFLINE_MAX_CENTS))

    def voucher_book(self) -> VoucherBook:
        """This terminal's voucher spends, with the configured offline allowance."""
        return VoucherBook(self.ledger, offline_max_cents=self.voucher_offline_max())

    def identify_voucher(
        self, candidates: Sequence[str], lang: str
    ) -> VoucherView | Refused | None:
        """The voucher a scanned code or a typed voucher number names, its refusal, or None.

        The counter routes by prefix: a ``CV1:`` code or a typed ``CV-`` number is a voucher
        (never tried as a card), anything else gives None and goes to ``identify``. A typed
        number finds the voucher when this terminal knows it (spent here, or the platform
        sent its state); a wrong check character is named as a typo.
        """
        codes = [c for c in candidates if c.startswith(VOUCHER_PREFIX)]
        if codes:
            trust = load_trust(self.store.read())
            now = self.clock()
            refusal: VoucherRefusal | None = None
            for code in codes:
                verdict = verify_voucher(code, trust, now=now)
                if isinstance(verdict, Voucher):
                    return self.voucher_view(verdict, lang)
                refusal = refusal or verdict
            assert refusal is not None  # codes is not empty
            return Refused(str(refusal.reason), refusal.text(lang))
        numbers = [n for n in (voucher_number(c) for c in candidates) if n is not None]
        if not numbers:
            return None
        valid = [n for n in numbers if voucher_id_is_valid(n)]
        if not valid:
            typo = voucher_refusal(
                VoucherRefusalReason.MALFORMED, "malformed.number", voucher_id=numbers[0]
            )
            return Refused("number_typo", typo.text(lang))
        known = self.voucher_book().known(valid[0])
        if known is None:
            unknown = voucher_refusal(
                VoucherRefusalReason.NOT_A_VOUCHER,
                "not_a_voucher.unknown_number",
                voucher_id=valid[0],
            )
            return Refused("number_unknown", unknown.text(lang))
        return self.voucher_view(known, lang)

    def voucher_view(self, voucher: Any, lang: str) -> VoucherView:
        """The voucher's value here now (``VoucherBook.balance``), refused when it is revoked,
        expired, spent in full, or this terminal has paid the offline allowance with it since
        its last sync (the core's sentence, in ``lang``)."""
        now = self.clock()
        book = self.voucher_book()
        balance = book.balance(voucher, now=now)
        expires_at: datetime | None = getattr(voucher, "expires_at", None) or balance.expires_at
        why: VoucherRefusal | None = None
        if balance.revoked:
            why = voucher_refusal(VoucherRefusalReason.REVOKED)
        elif balance.expired or (expires_at is not None and expires_at <= now):
            # The book judges at the later of the clock and the newest event, as spend does.
            why = voucher_refusal(VoucherRefusalReason.EXPIRED, at=expires_at)
        elif balance.remaining_cents <= 0:
            why = voucher_refusal(VoucherRefusalReason.SPENT)
        elif balance.offline_left_cents <= 0:
            why = voucher_refusal(
                VoucherRefusalReason.OFFLINE_VOUCHER_LIMIT,
                "offline_voucher_limit.none",
                currency=balance.currency,
                limit_cents=self.voucher_offline_max(),
            )
        refusal = why.text(lang) if why is not None else ""
        reason = str(why.reason) if why is not None else ""
        return VoucherView(
            voucher_id=str(voucher.voucher_id),
            campaign=str(getattr(voucher, "campaign", "") or ""),
            city=str(getattr(voucher, "city", "") or ""),
            currency=balance.currency,
            face_cents=balance.face_cents,
            remaining_cents=balance.remaining_cents,
            offline_left_cents=balance.offline_left_cents,
            expires_at=expires_at,
            refusal=refusal,
            reason=reason,
            voucher=voucher,
        )

    def spend_voucher(
        self,
        voucher: Any,
        amount_cents: int,
        *,
        staff_id: str | None = None,
        approver_id: str | None = None,
    ) -> Recorded:
        """Pay ``amount_cents`` with the voucher (``VoucherRefused`` says why not)."""
        return self.voucher_book().spend(
            voucher, amount_cents, now=self.clock(), staff_id=staff_id, approver_id=approver_id
        )

    def purchase_with_voucher(
        self,
        card_id: str | None,
        cents: int,
        voucher: Any,
        voucher_cents: int,
        *,
        staff_id: str | None = None,
        approver_id: str | None = None,
    ) -> tuple[Recorded, Recorded]:
        """A purchase (stamps on the card) paid partly with the voucher: both or neither.

        Both events are written in one ``Store.write()`` transaction (the ledger's and the
        voucher book's own writes nest in it as savepoints): a refused spend, or a failed
        commit, leaves neither the purchase nor the spend.
        """
        with self.store.write():
            purchase = self.purchase(card_id, cents, staff_id=staff_id, approver_id=approver_id)
            spend = self.spend_voucher(voucher, voucher_cents, staff_id=staff_id)
        return purchase, spend

    # Lists and figures ---------------------------------------------------------------------

    def recent(self, limit: int = 200) -> list[EventRow]:
        """The terminal's latest events, newest first."""
        events = self.ledger.recent(limit=limit)
        voided = self._voided_ids([e.id for e in events])
        rows = [self._row(e, voided) for e in events]
        if not any(e.staff_id or e.approver_id for e in events):
            return rows
        names = self.staff.names()
        return [
            replace(
                row,
                staff=staff_first_name(names, e.staff_id),
                approver=staff_first_name(names, e.approver_id),
            )
            for row, e in zip(rows, events, strict=True)
        ]

    def quarantined(self) -> list[EventRow]:
        """Events the platform refused, with its reason."""
        return [self._row(e, set(), reason) for e, reason in self.ledger.quarantined()]

    def status(self) -> StatusFacts:
        """Pending and quarantined counts, last good sync, clock offset, last run."""
        db = self.store.read()
        counts = dict(db.execute("SELECT state, COUNT(*) FROM outbox GROUP BY state").fetchall())
        meta = dict(db.execute("SELECT key, value FROM meta").fetchall())
        # A run that found another one going, or that was cancelled at quit, tried nothing.
        last = db.execute(
            "SELECT outcome, finished_at, started_at, message FROM sync_runs "
            "WHERE finished_at IS NOT NULL AND outcome NOT IN ('busy', 'cancelled') "
            "ORDER BY id DESC LIMIT 1"
        ).fetchone()
        return StatusFacts(
            pending=int(counts.get("pending", 0)) + int(counts.get("in_flight", 0)),
            quarantined=int(counts.get("quarantined", 0)),
            last_good_sync=_maybe_time(meta.get("last_good_sync")),
            clock_offset_seconds=_maybe_float(meta.get("clock_offset_seconds")),
            paired=bool(self.settings.platform.url) and self.settings.token_path.exists(),
            last_outcome=last[0] if last else None,
            last_run_at=_maybe_time(last[1]) if last else None,
            last_message=(last[3] or "") if last else "",
            clock_behind_seconds=self.ledger.clock_behind(self.clock()).total_seconds(),
        )

    def report(self, day: date | None = None) -> DayReport:
        """The day's figures (local shop day), 30 days of stamps, events by hour."""
        day = day or self.clock().astimezone(self.tz).date()
        figures = report(self.store, day, tz=self.tz, currency=self.ledger.currency)
        today = figures.day
        return DayReport(
            day=day,
            stamps=today.stamps_issued,
            purchases=today.purchases,
            turnover_cents=today.purchase_total_cents,
            rewards=today.rewards_redeemed,
            voids=today.voids,
            cards=today.distinct_cards,
            pending=today.pending_sync,
            currency=today.currency,
            per_day=tuple(d.stamps for d in figures.series),
            per_hour=tuple(h.events for h in figures.hours),
            voucher_spends=today.voucher_spends,
            voucher_spent_cents=today.voucher_spent_cents,
            staff=today.staff,
        )

    # Helpers -----------------------------------------------------------------------------

    def _voided_ids(self, ids: Sequence[str]) -> set[str]:
        if not ids:
            return set()
        marks = ",".join("?" for _ in ids)
        rows = self.store.read().execute(
            f"SELECT voids FROM events WHERE voids IN ({marks})",  # noqa: S608 (placeholders only)
            list(ids),
        )
        return {row[0] for row in rows}

    @staticmethod
    def _row(event: Event, voided: set[str], reason: str = "") -> EventRow:
        return EventRow(
            id=event.id,
            receipt_no=event.receipt_no or "",
            kind=str(event.kind),
            occurred_at=event.occurred_at,
            card_id=event.card_id,
            stamps=event.stamps,
            amount_cents=event.amount_cents,
            currency=event.currency or "EUR",
            voids=event.voids,
            voided=event.id in voided,
            reason=reason,
            voucher_id=event.voucher_id,
        )


def staff_first_name(names: dict[str, str], staff_id: str | None) -> str:
    """A staff id's first name (its id when the account is unknown here; "" for none)."""
    if not staff_id:
        return ""
    words = names.get(staff_id, staff_id).split()
    return words[0] if words else staff_id


def staff_refused(refusal: StaffError, lang: str) -> Refused:
    """A staff refusal said in ``lang``, and retold in another after a language switch."""
    return Refused(
        str(refusal.reason),
        staff_sentence(refusal, lang),
        retell=lambda other: staff_sentence(refusal, other),
    )


def staff_sentence(refusal: StaffError, lang: str) -> str:
    """A staff refusal in ``lang``; after a wrong PIN, the wait before the next try too."""
    sentence = refusal.text(lang)
    wait = refusal.params.get("wait")
    if isinstance(wait, int) and wait > 0:
        sentence = f"{sentence} {t('lock.wait', lang, seconds=wait)}"
    return sentence


def _maybe_time(text: str | None) -> datetime | None:
    if not text:
        return None
    try:
        return parse_iso(text).astimezone(UTC)
    except ValueError:
        return None


def _maybe_float(text: str | None) -> float | None:
    try:
        return float(text) if text is not None else None
    except ValueError:
        return None


# --- Printer, sync and receipts behind the app's ports ------------------------------------------


class SlipPrinter:
    """``receipts.printers`` behind the app's port: ESC/POS bytes at the paper's width."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.printer = printer_for(settings.printer)

    def print_receipt(self, receipt: Any) -> None:
        """Render and send one slip; raises ``PrinterError`` when the printer is not there."""
        width = columns_for_paper(self.settings.printer.paper_width_mm)
        self.printer.send(render_escpos(receipt, width=width))

    def describe(self) -> str:
        """Kind and target, for the settings screen."""
        return f"{self.settings.printer.kind.value} {self.settings.printer.target}".strip()


def sync_runner_for(
    settings: Settings, store: Store, *, log: Callable[[dict[str, Any]], None] | None = None
) -> SyncRunner:
    """One background sync run through ``sync.job.run_sync`` (it never raises for a failure).

    ``log`` receives the run's JSON log lines, on the run's thread.
    """

    def run(
        progress: Callable[[Any], None],
        *,
        cancel: threading.Event | None = None,
        on_unreachable: Callable[[], None] | None = None,
    ) -> SyncResult:
        report = run_sync(
            settings,
            store,
            progress=progress,
            log=log,
            backup=False,
            cancel=cancel,
            on_unreachable=on_unreachable,
        )
        return SyncResult(
            report.outcome,
            report.message,
            {"pending": report.pending, "quarantined": report.quarantined, "synced": report.synced},
        )

    return run


def test_page(settings: Settings, lang: str, now: datetime, tz: tzinfo = SHOP_TZ) -> Receipt:
    """A printer test page: the shop's header, the terminal and the time, "it works"."""

    return Receipt(
        language=lang,
        kind="test",
        title=t("printer.test_title", lang),
        shop_name=settings.shop.name,
        shop_address=settings.shop.address,
        terminal_id=settings.terminal.id,
        terminal_label=t("printer.test_terminal", lang),
        receipt_no="1",
        receipt_label=t("printer.test_no", lang),
        occurred_at=now,
        time_text=datetime_text(now, lang, tz),
        footer=t("printer.test_footer", lang),
    )


def receipt_builder_for(
    settings: Settings, ledger: Ledger, tz: tzinfo = SHOP_TZ
) -> Callable[[str, str], Any]:
    """The receipt of an event in a language (``receipts.build.receipt_for``)."""

    def build(event_id: str, lang: str) -> Any:
        return receipt_for(ledger, event_id, settings, lang, tz=tz)

    return build


# --- The factory ---------------------------------------------------------------------------


def make_app(
    settings: Settings,
    ledger: Ledger,
    scanner: ScannerPort | None,
    printer: PrinterPort | None,
    sync_runner: SyncRunner | None,
    *,
    store: Store | None = None,
    clock: Clock = utc_now,
    tz: tzinfo = SHOP_TZ,
    language: str | None = None,
    demo_cards: Sequence[Path] = (),
    background_sync: bool = True,
    receipt_builder: Callable[[str, str], Any] | None = None,
    key_clock: Callable[[], float] = time.monotonic,
    sync_soon_seconds: float | None = SYNC_SOON_SECONDS,
    idle_clock: Callable[[], float] = time.monotonic,
    demo_vouchers: Sequence[Path] = (),
) -> CounterApp:
    """Build the counter app from its parts; nothing in it reads a global setting.

    ``sync_soon_seconds``: how long after a recorded event the background sync sends it
    (None: only at ``[sync] interval_seconds``); only with ``background_sync`` and a runner.
    ``idle_clock`` (seconds, monotonic) times the idle lock and the customer panel's clearing.
    When staff accounts exist the app starts locked.
    ``demo_vouchers``: voucher images F11 presents to the scanner, like ``demo_cards`` (F12).
    """
    from terminal.app import CounterApp  # noqa: PLC0415  (terminal.app imports this module)

    store = store or ledger.store
    desk = Desk(settings, store, ledger, clock=clock, tz=tz)
    if receipt_builder is None:
        receipt_builder = receipt_builder_for(settings, ledger, tz)
    return CounterApp(
        settings=settings,
        desk=desk,
        scanner=scanner,
        printer=printer,
        sync_runner=sync_runner,
        language=language or settings.shop.language.value,
        demo_cards=tuple(demo_cards),
        demo_vouchers=tuple(demo_vouchers),
        background_sync=background_sync,
        receipt_builder=receipt_builder,
        key_clock=key_clock,
        sync_soon_seconds=sync_soon_seconds,
        idle_clock=idle_clock,
        staff_required=desk.staff_required(),
    )
