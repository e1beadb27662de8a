"""App-wide messages: facts in the past tense, requests in the imperative.

Workers never touch widgets; they post one of these and the app or a screen acts on it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from textual.message import Message


@dataclass
class CodeScanned(Message):
    """Text was read from a card: camera, keyboard-wedge burst, typed, or a demo card."""

    text: str
    source: str
    candidates: tuple[str, ...] = ()


@dataclass
class CardShown(Message):
    """A verified card is now the customer at the counter (balance and events attached)."""

    view: Any


@dataclass
class CardRefreshed(Message):
    """The card at the counter was read again (after a sync): its fresh balance and events."""

    view: Any


@dataclass
class CodeRefused(Message):
    """A code was read but is not a usable card; the reason code and its sentence."""

    reason: str
    sentence: str


@dataclass
class EventRecorded(Message):
    """The ledger committed an event (the base of the more specific facts below)."""

    recorded: Any
    view: Any = None


@dataclass
class StampRecorded(EventRecorded):
    """Stamps were committed for the card at the counter."""


@dataclass
class PurchaseRecorded(EventRecorded):
    """A purchase (and the stamps its amount gives) was committed."""

    claimable: int = 0
    """For an anonymous purchase: the stamps its slip lets the customer claim."""


@dataclass
class RewardRedeemed(EventRecorded):
    """A reward redemption was committed."""


@dataclass
class EventVoided(EventRecorded):
    """A compensating void was committed."""


@dataclass
class ActionRefused(Message):
    """The core refused an action; reason code and the sentence in the counter's language."""

    reason: str
    sentence: str


@dataclass
class StatusRefreshed(Message):
    """Fresh status facts counted from the database (pending, last good sync, clock offset)."""

    facts: Any


@dataclass
class SyncFinished(Message):
    """A background or requested sync run ended; its outcome and counts."""

    outcome: str
    detail: str = ""
    counts: dict[str, int] = field(default_factory=dict)


@dataclass
class CameraChanged(Message):
    """The camera child reported a new state (running, missing, crashed, restarted, off)."""

    state: str
    detail: str = ""


@dataclass
class PreviewFrame(Message):
    """A small grey preview frame arrived from the camera child."""

    width: int
    height: int
    pixels: bytes


@dataclass
class ReceiptBuilt(Message):
    """An event's receipt was built as text for the screen (Ctrl+R)."""

    text: str


@dataclass
class PrinterChecked(Message):
    """A printer test or a receipt print ended; ok or the reason, and the text receipt."""

    ok: bool
    detail: str = ""
    receipt_text: str = ""


@dataclass
class RecordPurchase(Message):
    """Record a purchase of this many cents for the card at the counter (or anonymous)."""

    amount_cents: int


@dataclass
class VoidEvent(Message):
    """Cancel this event with a compensating void."""

    event_id: str


@dataclass
class PresentDemoCard(Message):
    """Feed the next demo card image through the scanner's file source."""


@dataclass
class RunSync(Message):
    """Run a sync with the platform now."""


@dataclass
class WriteFinished(Message):
    """A write for this card ended (recorded, refused or failed): its keys work again."""

    card_id: str | None


@dataclass
class SyncUnreachable(Message):
    """A request of the running sync could not reach the platform (the run may retry)."""

    detail: str = ""


@dataclass
class LedgerChecked(Message):
    """The background integrity check of the ledger ended; the problem, or "" when sound."""

    problem: str = ""


@dataclass
class RedeemBeyondOffline(Message):
    """A redeem was refused beyond the offline allowance and a manager may approve it."""

    card_id: str
    sentence: str
