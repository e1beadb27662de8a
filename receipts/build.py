"""Build a ``Receipt`` from a ledger event, in the shop's language.

The receipt is rebuilt from the ledger every time it is shown or printed, so a slip printed
again after a paper jam says exactly what the first one said (the claim code included:
Ed25519 signatures are deterministic), plus a "cancelled by" line if the event was voided
since.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import tzinfo
from typing import Final

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from config.settings import Settings
from loyalty.claims import sign_claim
from loyalty.i18n import datetime_text, money
from loyalty.keys import load_private_key
from loyalty.ledger import Event, EventKind, Ledger
from loyalty.programs import SHOP_TZ, Program, evaluate, program_in_force
from loyalty.staff import StaffBook
from receipts.messages import MESSAGES
from receipts.model import Receipt, ReceiptLine, VoucherSlip
from receipts.text import clean

SCHEME: Final = "Citie"
"""The city scheme's name, as the customer knows the app."""

_TITLES: Final = {
    EventKind.PURCHASE: "title_purchase",
    EventKind.STAMP: "title_stamp",
    EventKind.REDEEM: "title_redeem",
    EventKind.VOID: "title_void",
    EventKind.ENROLL: "title_enroll",
    EventKind.VOUCHER_SPEND: "title_voucher_spend",
}

MASK: Final = "\u2022"
"""What stands for each hidden character of a voucher id on a slip."""


Say = Callable[..., str]


class ReceiptNotFound(LookupError):
    """No event with that id or receipt number; ``reason`` is ``unknown_receipt``."""

    reason = "unknown_receipt"

    def __init__(self, ref: str) -> None:
        self.ref = clean(ref)[:80]
        super().__init__(MESSAGES.text("unknown_receipt", "en", ref=self.ref))

    def text(self, language: str) -> str:
        """The sentence in the counter's language."""
        return MESSAGES.text("unknown_receipt", language, ref=self.ref)


def latest_receipt_no(ledger: Ledger) -> str | None:
    """The newest event's receipt number, or None on an empty ledger."""
    recent = ledger.recent(limit=1)
    return recent[0].receipt_no if recent else None


def receipt_for(
    ledger: Ledger,
    event_id_or_no: str,
    settings: Settings,
    language: str,
    *,
    private_key: Ed25519PrivateKey | None = None,
    tz: tzinfo = SHOP_TZ,
) -> Receipt:
    """The receipt of one recorded event (by event id or receipt number).

    An anonymous purchase's receipt carries a claim code signed with the terminal's key:
    ``private_key``, or the key file named by the settings (``KeyFileError`` if it is missing
    or readable by others). Raises ``ReceiptNotFound`` for an unknown reference.
    """
    event = ledger.event(event_id_or_no.strip())
    if event is None:
        raise ReceiptNotFound(event_id_or_no)
    lang = language if language in ("fr", "nl", "de", "en") else "en"
    # The program the event was recorded under: the platform's copy, else the config's.
    program = program_in_force(ledger.store.read(), settings.program, program_id=event.program_id)

    def say(key: str, **params: object) -> str:
        return clean(MESSAGES.text(key, lang, **params))

    currency = event.currency or ledger.currency
    fields: dict[str, object] = {}
    if event.card_id is not None:
        fields["card_line"] = f"{say('card')} {clean(event.card_id)}"

    voucher_event = event.voucher_id is not None and (
        event.kind is EventKind.VOUCHER_SPEND or event.detail.get("voided_kind") == "voucher_spend"
    )
    if voucher_event:
        fields["voucher"] = _voucher_slip(ledger, event, lang, currency, say)
    elif event.amount_cents is not None:
        amount = money(event.amount_cents, lang, currency)
        label = "line_purchase" if event.amount_cents >= 0 else "line_purchase_cancelled"
        fields["lines"] = (ReceiptLine(say(label), clean(amount), event.amount_cents),)
        fields["total"] = ReceiptLine(say("total"), clean(amount), event.amount_cents)

    explanations = tuple(clean(line.text(lang, tz)) for line in event.lines)
    if event.kind in (EventKind.PURCHASE, EventKind.STAMP) and event.card_id is not None:
        fields.update(stamps_label=say("stamps_earned"), stamps=event.stamps)
        fields["explanations"] = explanations
    elif event.kind is EventKind.REDEEM:
        reward = event.detail.get("reward")
        reward_name = clean(reward) if isinstance(reward, str) else clean(program.reward_name)
        fields.update(stamps_label=say("stamps_used"), stamps=event.stamps)
        fields["reward"] = say("reward_redeemed", reward=reward_name)
    elif event.kind is EventKind.VOID:
        key = "stamps_cancelled" if event.stamps <= 0 else "stamps_returned"
        if event.stamps:
            fields.update(stamps_label=say(key), stamps=event.stamps)
        voided = event.detail.get("voided_receipt_no")
        if not isinstance(voided, str):
            original = ledger.event(event.voids) if event.voids else None
            voided = original.receipt_no if original else "?"
        fields["void_notice"] = say("void_notice", no=clean(voided))

    served_by = _served_by(ledger, event, settings)
    if served_by:
        fields.update(staff_label=say("served_by"), staff_name=served_by)

    cancelled_by = ledger.voided_by(event.id) if event.kind is not EventKind.VOID else None
    if cancelled_by is not None:
        fields["void_notice"] = say("voided_by", no=cancelled_by.receipt_no)

    if event.card_id is not None and event.kind is not EventKind.ENROLL:
        balance = _balance_after(ledger, event)
        fields.update(balance_label=say("balance"), balance=balance)
        fields["progress"] = _progress(balance, program, say)
    elif (
        event.kind is EventKind.PURCHASE and event.amount_cents is not None and cancelled_by is None
    ):
        fields.update(_claim_fields(event, program, settings, lang, say, private_key, tz))

    return Receipt(
        language=lang,
        kind=event.kind.value,
        title=say(_TITLES[event.kind]),
        shop_name=clean(settings.shop.name),
        shop_address=clean(settings.shop.address),
        terminal_id=clean(event.terminal_id),
        terminal_label=say("terminal"),
        receipt_no=clean(event.receipt_no),
        receipt_label=say("slip_no"),
        occurred_at=event.occurred_at,
        time_text=clean(datetime_text(event.occurred_at, lang, tz)),
        footer=say("footer_voucher" if voucher_event else "footer"),
        event_ids=(event.id,),
        **fields,  # type: ignore[arg-type]
    )


def mask_voucher_id(voucher_id: str) -> str:
    """A voucher id with only its prefix and last group showing: ``CV-••••-••••-4HTW``.

    An id of another shape keeps its last four characters.
    """
    text = clean(voucher_id)
    groups = text.split("-")
    if len(groups) >= 3:
        hidden = [MASK * len(group) for group in groups[1:-1]]
        return "-".join([groups[0], *hidden, groups[-1]])
    keep = min(4, len(text) // 2)
    return MASK * (len(text) - keep) + text[len(text) - keep :]


def _voucher_slip(ledger: Ledger, event: Event, lang: str, currency: str, say: Say) -> VoucherSlip:
    """The voucher's lines: paid with it (or given back by a void), value left, campaign."""
    assert event.voucher_id is not None
    detail = event.detail
    if event.kind is EventKind.VOID and event.voids is not None:
        # The campaign was recorded with the spend, not with its void.
        original = ledger.event(event.voids)
        if original is not None:
            detail = original.detail
    campaign = detail.get("campaign")
    cents = abs(event.amount_cents or 0)
    amount = clean(money(cents, lang, currency))
    if event.kind is EventKind.VOID:
        paid = ReceiptLine(say("voucher_returned"), amount, cents)
        left = None
    else:
        paid = ReceiptLine(say("voucher_paid"), amount, cents)
        after = event.detail.get("remaining_after_cents")
        left = (
            ReceiptLine(say("voucher_left"), clean(money(after, lang, currency)), after)
            if isinstance(after, int) and not isinstance(after, bool)
            else None
        )
    return VoucherSlip(
        id_label=say("voucher"),
        masked_id=mask_voucher_id(event.voucher_id),
        campaign=say("voucher_campaign", campaign=clean(campaign))
        if isinstance(campaign, str) and clean(campaign)
        else None,
        paid=paid,
        left=left,
    )


def _served_by(ledger: Ledger, event: Event, settings: Settings) -> str:
    """The first name of who recorded the event, when the slip shows it ("" otherwise)."""
    if event.staff_id is None or settings.staff.slip_name != "first":
        return ""
    member = StaffBook(ledger.store).get(event.staff_id, removed=True)
    # A removed account keeps its name: a reprint says what the first slip said.
    return clean(member.first_name)[:40] if member is not None else ""


def _balance_after(ledger: Ledger, event: Event) -> int:
    # The card's balance now, less what this terminal recorded for it after this event:
    # right after recording that is simply the balance; for a reprint it is the balance
    # the slip showed the first time (up to what other terminals did since).
    assert event.card_id is not None
    now = ledger.balance(event.card_id).total
    row = (
        ledger.store.read()
        .execute(
            "SELECT COALESCE(SUM(stamps), 0) FROM events WHERE card_id = ? AND seq > ?",
            [event.card_id, event.seq],
        )
        .fetchone()
    )
    return int(now - row[0])


def _progress(balance: int, program: Program, say: Say) -> str:
    reward = clean(program.reward_name)
    need = program.reward_threshold
    if balance >= need:
        return say("progress_ready", have=balance, need=need, reward=reward)
    have = max(balance, 0)
    return say("progress", have=have, need=need, left=need - have, reward=reward)


def _claim_fields(
    event: Event,
    program: Program,
    settings: Settings,
    lang: str,
    say: Say,
    private_key: Ed25519PrivateKey | None,
    tz: tzinfo,
) -> dict[str, object]:
    """The claim code of an anonymous purchase: what a fresh card would earn for it."""
    assert event.amount_cents is not None
    decision = evaluate(program, [], now=event.occurred_at, amount_cents=event.amount_cents, tz=tz)
    if decision.stamps <= 0:
        return {}
    key = private_key or load_private_key(settings.private_key_path)
    code = sign_claim(
        key,
        terminal_id=event.terminal_id,
        shop_id=event.shop_id,
        event_ids=[event.id],
        receipt_no=event.receipt_no,
        amount_cents=event.amount_cents,
        currency=event.currency or "EUR",
        stamps=decision.stamps,
        occurred_at=event.occurred_at,
        program_id=event.program_id,
    )
    return {
        "stamps_label": say("stamps_to_claim"),
        "stamps": decision.stamps,
        "explanations": tuple(clean(line.text(lang, tz)) for line in decision.lines),
        "claim_code": code,
        "claim_hint": say("claim_hint", scheme=SCHEME),
    }
