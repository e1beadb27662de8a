"""``history``: the ledger's events newest first, with who recorded and who approved each."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import click

from loyalty.i18n import datetime_text, money
from loyalty.ledger import Event
from loyalty.programs import SHOP_TZ
from loyalty.staff import CATALOG, StaffBook, StaffError, StaffReason
from terminal.card_numbers import typed_card_refusal
from terminal.cli_support import CliEnv, Refused, common_options, emit, parse_day, pass_env
from terminal.commands.counter import session
from terminal.i18n import UI


def register(group: click.Group) -> None:
    """Add ``history`` to the program."""
    group.add_command(history)


def _kind(kind: str, language: str) -> str:
    key = f"cli.kind.{kind}"
    return UI.text(key, language) if key in UI else kind


def _line(event: Event, names: dict[str, str], language: str) -> str:
    amount = (
        ""
        if event.amount_cents is None
        else money(event.amount_cents, language, event.currency or "EUR")
    )
    nobody = CATALOG.text("staff.history.nobody", language)
    who = nobody if event.staff_id is None else names.get(event.staff_id, event.staff_id)
    parts = [
        datetime_text(event.occurred_at, language, SHOP_TZ),
        event.receipt_no,
        _kind(event.kind.value, language),
        event.card_id or "-",
        f"{event.stamps:+d}",
        amount,
        who,
    ]
    if event.approver_id is not None:
        approver = names.get(event.approver_id, event.approver_id)
        parts.append(CATALOG.text("staff.history.approved", language, name=approver))
    return "  ".join(part for part in parts if part)


@click.command()
@click.option("--card", "code", metavar="CODE", help="Only this card (its code or its number).")
@click.option("--staff", "staff_name", metavar="NAME", help="Only what NAME recorded or approved.")
@click.option("--day", "day_text", metavar="DATE", help="Only this local day (25/11/2026, ...).")
@click.option("--limit", type=click.IntRange(1, 100_000), default=50, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="One JSON object a line.")
@common_options
@pass_env
def history(
    env: CliEnv,
    code: str | None,
    staff_name: str | None,
    day_text: str | None,
    limit: int,
    as_json: bool,
) -> None:
    """The ledger's events, newest first, naming who recorded each and who approved it."""
    start = end = None
    if day_text is not None:
        day = parse_day(env, day_text)
        start = datetime.combine(day, datetime.min.time(), tzinfo=SHOP_TZ)
        end = datetime.combine(day + timedelta(days=1), datetime.min.time(), tzinfo=SHOP_TZ)
    with session(env) as s:
        card_id = None
        if code is not None:
            typed = s.ledger.typed_card([code])
            if typed is not None and typed.refusal == "number_typo":
                # A mistyped number would list nothing, as if the card had no events.
                raise Refused(*typed_card_refusal(typed, s.language))
            # A number the terminal does not know (or a revoked card) still has a history.
            card_id = typed.card_id if typed is not None else s.card_id(code)
        book = StaffBook(s.store)
        staff_id = None
        if staff_name is not None:
            member = book.get(staff_name, removed=True)
            if member is None:
                error = StaffError(StaffReason.UNKNOWN_STAFF, name=staff_name)
                raise Refused(error.reason.value, error.text(s.language))
            staff_id = member.id
        names = book.names()
        events = s.ledger.events(
            card_id=card_id, staff_id=staff_id, start=start, end=end, limit=limit
        )
    if as_json:
        for event in events:
            row: dict[str, Any] = event.to_json()
            row["staff_name"] = None if event.staff_id is None else names.get(event.staff_id)
            row["approver_name"] = (
                None if event.approver_id is None else names.get(event.approver_id)
            )
            emit(row)
        return
    if not events:
        click.echo(CATALOG.text("staff.history.none", s.language))
        return
    for event in events:
        click.echo(_line(event, names, s.language))
