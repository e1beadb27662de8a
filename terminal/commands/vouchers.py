"""``voucher spend|balance``: pay with a city voucher headless, or look at what is left on one.

CODE is the voucher's ``CV1:`` code (scanned, pasted or piped with ``-``) or the voucher id
typed from the paper (``CV-7KQ2-M9XD-4HTW``, any case, spaces or dashes). A typed id is found
only when the platform told this terminal about the voucher (a sync brings it); a card's code
is refused as not a voucher. A spend is "recorded" only once its ledger transaction committed;
a refusal exits 1 with ``refused: <reason>: <sentence>`` on stderr, in the run's language
(``insufficient`` names the value left). A bad config exits 2, a damaged database 3.
"""

from __future__ import annotations

import sys
from typing import Any

import click

from loyalty.db import utc_now
from loyalty.i18n import date_text, money
from loyalty.money import AmountError, parse_amount
from loyalty.programs import SHOP_TZ
from loyalty.staff import approval_needed
from loyalty.trust import load_trust
from loyalty.voucher_book import (
    SpendableVoucher,
    VoucherBalance,
    VoucherBook,
    VoucherRefused,
    revoked_vouchers,
)
from loyalty.vouchers import (
    MAX_LENGTH,
    PREFIX,
    VoucherRefusal,
    VoucherRefusalReason,
    refusal,
    verify_voucher,
    voucher_id_is_valid,
    voucher_number,
)
from receipts.text import clean
from terminal.cli_support import CliEnv, Refused, common_options, emit, pass_env
from terminal.commands.counter import Session, json_option, session
from terminal.commands.staff import staff_options


def register(group: click.Group) -> None:
    """Add ``voucher`` to the program."""
    group.add_command(voucher_group)


@click.group("voucher")
def voucher_group() -> None:
    """City vouchers: pay with one (whole or in part), or see what is left on it."""


def book_for(s: Session) -> VoucherBook:
    """The voucher book over this run's ledger, with the shop's offline allowance."""
    return VoucherBook(s.ledger, offline_max_cents=s.settings.vouchers.offline_max_cents)


def refuse(s: Session, why: VoucherRefusal, as_json: bool) -> Refused:
    """The refusal to raise; with ``--json`` its JSON goes to stdout first."""
    text = why.text(s.language)
    if as_json:
        emit({**why.to_json(), "language": s.language, "text": text})
    return Refused(why.reason.value, text)


def refuse_plain(s: Session, code: str, text: str, as_json: bool) -> Refused:
    """A refusal that is not a voucher's own (a typed number), JSON on stdout with ``--json``."""
    if as_json:
        emit({"refused": code, "language": s.language, "text": text})
    return Refused(code, text)


def read_code(code: str) -> str:
    """CODE as given, or its line of standard input for ``-`` (a code holds spaces).

    One line only: a staff PIN may follow it on standard input.
    """
    if code == "-":
        # A little more than the limit, so that verification still says "too long".
        return sys.stdin.readline(MAX_LENGTH + 1)
    return code


def find_voucher(s: Session, book: VoucherBook, code: str, as_json: bool) -> SpendableVoucher:
    """The voucher CODE names: a verified ``CV1:`` code, or a typed id this terminal knows."""
    text = code.strip()
    now = utc_now()
    if not text.upper().startswith(PREFIX):
        number = voucher_number(text)
        if number is not None:
            if not voucher_id_is_valid(number):
                raise refuse_plain(s, "number_typo", s.say("voucher.cli.number_typo"), as_json)
            known = book.known(number)
            if known is None:
                raise refuse_plain(
                    s,
                    "number_unknown",
                    s.say("voucher.cli.number_unknown", voucher_id=number),
                    as_json,
                )
            # The same answers a scanned code gets from the verifier.
            if known.revoked_at is not None:
                raise refuse(s, refusal(VoucherRefusalReason.REVOKED), as_json)
            if now >= known.expires_at:
                raise refuse(s, refusal(VoucherRefusalReason.EXPIRED, at=known.expires_at), as_json)
            return known
    # Anything else goes to the verifier: a card's code is refused as not a voucher there.
    db = s.store.read()
    result = verify_voucher(code, load_trust(db), revoked=revoked_vouchers(db), now=now)
    if isinstance(result, VoucherRefusal):
        raise refuse(s, result, as_json)
    return result


def money_text(s: Session, cents: int, currency: str) -> str:
    """An amount as the run's language writes it."""
    return money(cents, s.language, currency)


@voucher_group.command("spend")
@click.argument("code")
@click.option("--amount", help="What the voucher pays, as typed: 7,50 or 7.50 or € 7,50.")
@click.option("--all", "whole", is_flag=True, help="Pay with the whole value left.")
@staff_options
@json_option
@common_options
@pass_env
def spend(
    env: CliEnv,
    code: str,
    amount: str | None,
    whole: bool,
    staff_name: str | None,
    approver_name: str | None,
    as_json: bool,
) -> None:
    """Pay AMOUNT with the city voucher in CODE (or its typed id); print the value left.

    Refused (exit 1): insufficient (the value left is named), offline_voucher_limit, expired,
    revoked, spent, not_a_voucher, number_unknown, and amounts that are zero, negative,
    ambiguous (12,505) or too large. CODE "-" reads the code from standard input. With staff
    accounts, --staff is required; above [limits] approval_over_cents a manager approves.
    """
    if (amount is None) == (not whole):
        key = "voucher.cli.amount_and_all" if whole else "voucher.cli.amount_needed"
        raise Refused("bad_options", env.say(key), exit_code=2)
    cents: int | None = None
    if amount is not None:
        try:
            cents = parse_amount(amount, max_cents=env.settings.limits.max_purchase_cents)
        except AmountError as exc:
            if as_json:
                emit(
                    {
                        "refused": exc.reason.value,
                        "language": env.language,
                        "text": exc.text(env.language),
                    }
                )
            raise Refused(exc.reason.value, exc.text(env.language)) from exc
    text = read_code(code)
    with session(env) as s:
        book = book_for(s)
        voucher = find_voucher(s, book, text, as_json)
        # --all pays what may be spent now: that is the amount a manager must approve.
        asked = book.balance(voucher).spendable_cents if cents is None else cents
        need = approval_needed("voucher_spend", limits=s.settings.limits, amount_cents=asked)
        who = s.acting(staff_name, approver_name, need)
        try:
            recorded = book.spend(
                voucher,
                cents,
                now=utc_now(),
                staff_id=who.staff_id,
                approver_id=who.approver_id,
            )
        except VoucherRefused as exc:
            raise refuse(s, exc.refusal, as_json) from exc
    # Only here, after the transaction committed, is the spend said to be recorded.
    event = recorded.event
    assert event.amount_cents is not None
    currency = event.currency or voucher.currency
    left = event.detail.get("remaining_after_cents")
    if as_json:
        emit(
            {
                "event_id": event.id,
                "receipt_no": event.receipt_no,
                "kind": event.kind.value,
                "voucher_id": event.voucher_id,
                "amount_cents": event.amount_cents,
                "currency": currency,
                "remaining_after_cents": left,
                "campaign": voucher.campaign,
                "city": voucher.city,
                "occurred_at": event.to_json()["occurred_at"],
                "staff_id": event.staff_id,
                "approver_id": event.approver_id,
            }
        )
        return
    click.echo(
        s.say(
            "voucher.cli.recorded",
            amount=money_text(s, event.amount_cents, currency),
            voucher_id=clean(event.voucher_id),
            receipt_no=event.receipt_no,
        )
    )
    if isinstance(left, int):
        click.echo("  " + s.say("voucher.cli.left", amount=money_text(s, left, currency)))
    click.echo("  " + s.say("cli.event_id", id=event.id))


def balance_json(voucher: SpendableVoucher, balance: VoucherBalance) -> dict[str, Any]:
    """What ``voucher balance --json`` prints: the balance, and the voucher's campaign."""
    return {**balance.to_json(), "campaign": voucher.campaign, "city": voucher.city}


@voucher_group.command("balance")
@click.argument("code")
@json_option
@common_options
@pass_env
def balance(env: CliEnv, code: str, as_json: bool) -> None:
    """What is left on the city voucher in CODE (or its typed id): confirmed + spent here.

    CODE "-" reads the code from standard input.
    """
    text = read_code(code)
    with session(env) as s:
        book = book_for(s)
        voucher = find_voucher(s, book, text, as_json)
        current = book.balance(voucher, now=utc_now())
    if as_json:
        emit(balance_json(voucher, current))
        return
    currency = current.currency
    click.echo(
        s.say(
            "voucher.cli.balance",
            voucher_id=clean(current.voucher_id),
            remaining=money_text(s, current.remaining_cents, currency),
            face=money_text(s, current.face_cents, currency),
        )
    )
    expires = date_text(current.expires_at, s.language, SHOP_TZ)
    # What the voucher says was signed by the city, yet is still text from outside.
    campaign = clean(voucher.campaign)
    if voucher.city:  # a voucher found by its typed id: the platform's facts name no city
        campaign = f"{campaign} ({clean(voucher.city)})"
    click.echo("  " + s.say("voucher.cli.campaign", campaign=campaign, expires=expires))
    local = money_text(s, current.local_unconfirmed, currency)
    if current.confirmed_spent is None:
        click.echo("  " + s.say("voucher.cli.spent_unconfirmed", local=local))
    else:
        confirmed = money_text(s, current.confirmed_spent, currency)
        click.echo("  " + s.say("voucher.cli.spent", confirmed=confirmed, local=local))
    if current.spendable_cents < current.remaining_cents:
        offline = money_text(s, current.spendable_cents, currency)
        click.echo("  " + s.say("voucher.cli.offline_left", amount=offline))
