"""The voucher at the counter: campaign, value left, the offline cap, expiry, or why it is refused.

A visit can have a card and a voucher: this panel sits under the scan result, beside the card
panel, and is hidden while no voucher has been scanned. Everything a voucher carries (its
campaign and city come from the issuer's signed claims, or from the platform) passes through
``terminal.safe`` and is never read as markup. The messages the app posts about vouchers are
here too, beside the panel that shows them.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import tzinfo

from textual.app import ComposeResult
from textual.containers import Vertical
from textual.content import Content
from textual.message import Message
from textual.widgets import Static

from loyalty.i18n import date_text, money
from terminal import messages as msg
from terminal.i18n import t
from terminal.safe import clean, plain
from terminal.services import VoucherView


@dataclass
class VoucherShown(Message):
    """A scanned or typed voucher is now at the counter (its value read from the ledger)."""

    view: VoucherView


@dataclass
class VoucherRefusedShown(Message):
    """A code was a voucher but cannot be spent (bad signature, expired, unknown number...)."""

    reason: str
    sentence: str


@dataclass
class VoucherRefreshed(Message):
    """The voucher at the counter read again (after a spend was refused, or after a sync)."""

    view: VoucherView


@dataclass
class VoucherSpent(msg.EventRecorded):
    """A voucher spend was committed; ``voucher`` is the voucher's value after it."""

    voucher: VoucherView | None = None


@dataclass
class PurchasePaidWithVoucher(msg.PurchaseRecorded):
    """A purchase and the voucher's part of its payment, committed in one transaction."""

    spend: object = None
    """The voucher spend's ``Recorded`` (``recorded`` is the purchase's)."""
    voucher: VoucherView | None = None


def voucher_title(view: VoucherView, lang: str) -> Content:
    """``Voucher CV-…`` in the counter's language (the id cleaned)."""
    return plain(t("voucher.title", lang, voucher_id=clean(view.voucher_id, 40)), 80)


def voucher_where(view: VoucherView) -> Content:
    """``campaign · city`` as one safe line (the issuer's words, never markup)."""
    parts = (clean(part, 40) for part in (view.campaign, view.city))
    return plain(" · ".join(part for part in parts if part.strip()), 90, "italic")


def voucher_lines(view: VoucherView, lang: str, tz: tzinfo) -> Content:
    """Value left, the offline cap when it is lower, expiry; or the refusal's sentence."""
    if view.refusal:
        return plain(view.refusal, 300, "bold $error")
    remaining = money(view.remaining_cents, lang, view.currency)
    face = money(view.face_cents, lang, view.currency)
    lines = [
        Content(t("voucher.remaining", lang, remaining=remaining, face=face)).stylize(
            "bold $success"
        )
    ]
    if view.offline_capped:
        cap = money(view.spendable_cents, lang, view.currency)
        lines.append(Content(t("voucher.offline_cap", lang, amount=cap)).stylize("$warning"))
    if view.expires_at is not None:
        day = date_text(view.expires_at, lang, tz)
        lines.append(Content(t("voucher.expires", lang, date=day)).stylize("$text-muted"))
    return Content("\n").join(lines)


def voucher_what(message: VoucherSpent | PurchasePaidWithVoucher, lang: str) -> str:
    """What the banner says was recorded: the voucher's payment and what is left on it.

    For a purchase paid partly with the voucher: the purchase (its stamps, or the stamps its
    slip lets an anonymous customer claim), then the voucher's part.
    """
    if isinstance(message, PurchasePaidWithVoucher):
        event = message.recorded.event
        spend = getattr(message.spend, "event", None)
        amount = money(event.amount_cents or 0, lang, event.currency or "EUR")
        if event.card_id is None:
            what = t("counter.what_purchase_anon", lang, amount=amount, count=message.claimable)
        else:
            what = t("counter.what_purchase", lang, amount=amount, count=event.stamps)
        paid_cents = spend.amount_cents if spend is not None else 0
        currency = (spend.currency if spend is not None else None) or event.currency or "EUR"
    else:
        spend = message.recorded.event
        what = ""
        paid_cents = spend.amount_cents or 0
        currency = spend.currency or "EUR"
    left = message.voucher.remaining_cents if message.voucher is not None else 0
    part = t(
        "voucher.what_spend",
        lang,
        amount=money(paid_cents or 0, lang, currency),
        left=money(left, lang, currency),
    )
    return f"{what}; {part}" if what else part


class VoucherPanel(Vertical):
    """The voucher at the counter (hidden while there is none)."""

    DEFAULT_CSS = """
    VoucherPanel {
        height: auto; max-height: 60%; display: none;
        border-top: hkey $primary; padding: 0 2;
    }
    VoucherPanel.-shown { display: block; }
    VoucherPanel #voucher-title { text-style: bold; color: $accent; height: 1; }
    VoucherPanel #voucher-title.-refused { color: $error; }
    VoucherPanel #voucher-where { height: 1; text-wrap: nowrap; text-overflow: ellipsis; }
    VoucherPanel #voucher-facts { height: auto; }
    """

    def compose(self) -> ComposeResult:
        """Title, then the facts (or the refusal)."""
        yield Static("", id="voucher-title", markup=False)
        yield Static("", id="voucher-where", markup=False)
        yield Static("", id="voucher-facts", markup=False)

    def show(self, view: VoucherView | None, lang: str, tz: tzinfo) -> None:
        """Draw the voucher, or hide the panel when there is none."""
        self.set_class(view is not None, "-shown")
        title = self.query_one("#voucher-title", Static)
        where = self.query_one("#voucher-where", Static)
        facts = self.query_one("#voucher-facts", Static)
        if view is None:
            for part in (title, where, facts):
                part.update("")
            return
        title.set_class(bool(view.refusal), "-refused")
        title.update(voucher_title(view, lang))
        where.update(voucher_where(view))
        where.display = bool(view.campaign.strip() or view.city.strip())
        facts.update(voucher_lines(view, lang, tz))

    def show_refused(self, sentence: str, lang: str) -> None:
        """A voucher code that cannot be used, with the core's sentence."""
        self.set_class(True, "-shown")
        title = self.query_one("#voucher-title", Static)
        title.set_class(True, "-refused")
        title.update(Content(t("voucher.refused_title", lang)))
        self.query_one("#voucher-where", Static).display = False
        self.query_one("#voucher-facts", Static).update(plain(sentence, 300, "bold $error"))
