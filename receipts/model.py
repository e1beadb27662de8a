"""A receipt as plain data, already in the shop's language: renderers only lay it out.

Every text field here has been cleaned of control characters when the receipt was built
(``receipts.text.clean``), because shop names, reward names and rule explanations come from
config files and the platform, not from this code.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime


@dataclass(frozen=True)
class ReceiptLine:
    """One priced line: a label and its amount, both as printed."""

    label: str
    amount: str
    amount_cents: int


@dataclass(frozen=True)
class VoucherSlip:
    """What a city voucher spend's slip (or its void's) says about the voucher."""

    id_label: str
    masked_id: str
    """The voucher id with all but its last group hidden (``CV-••••-••••-4HTW``): a typed
    id spends the voucher, so a slip left on the counter must not give it away."""
    campaign: str | None
    """The campaign as a sentence (``Campagne : Roeselare 2026``), None when unknown."""
    paid: ReceiptLine
    """Paid with the voucher; on a void's slip, what went back onto the voucher."""
    left: ReceiptLine | None = None
    """The value left on the voucher right after the spend; None on a void's slip."""


@dataclass(frozen=True)
class Receipt:
    """What the customer takes home from one recorded event."""

    language: str
    kind: str
    """The event kind: purchase, stamp, redeem, void, enroll or voucher_spend."""
    title: str
    shop_name: str
    shop_address: str
    terminal_id: str
    terminal_label: str
    receipt_no: str
    receipt_label: str
    occurred_at: datetime
    """The event's time (UTC, timezone-aware)."""
    time_text: str
    """The event's local time (Europe/Brussels) as the shop's locale writes it."""
    footer: str
    card_line: str | None = None
    lines: tuple[ReceiptLine, ...] = ()
    total: ReceiptLine | None = None
    stamps_label: str | None = None
    stamps: int = 0
    """The signed stamp delta of this event (for a claim: the stamps the code can collect)."""
    explanations: tuple[str, ...] = ()
    """The rule's explanation of the stamps, one sentence a line."""
    balance_label: str | None = None
    balance: int | None = None
    """The card's stamps right after this event; None for an anonymous purchase."""
    progress: str | None = None
    reward: str | None = None
    """The reward redeemed, as a sentence (``Beloning: een gratis koffie``)."""
    void_notice: str | None = None
    """On a void's receipt: the cancelled receipt. On a cancelled receipt: what cancelled it."""
    claim_code: str | None = None
    claim_hint: str | None = None
    voucher: VoucherSlip | None = None
    """On a city voucher spend's slip (and its void's): the voucher's lines."""
    staff_label: str | None = None
    staff_name: str | None = None
    """Who served: the staff member's first name (``[staff] slip_name = "first"``)."""
    event_ids: tuple[str, ...] = field(default=())
