"""Counter actions headless: stamp, purchase, redeem, void, balance, report, ledger check.

Each command verifies the card code (issuer keys and revocations from the ledger) or takes a
typed card number (``CT-7KQ2-M9XD-4HTW``) this terminal knows, as the counter app does, applies
the shop's program in force (the platform's once it sent one, else the config's), records in
one transaction and prints what was recorded, in one language (the shop's, or ``--lang``).
``--json`` prints one JSON object a line; a refusal exits 1 with
``refused: <reason>: <sentence>`` on stderr. ``report --csv|--month`` and ``ledger export``
are the accountant's exports: money as decimal text with its currency, times in UTC and local.
"""

from __future__ import annotations

import csv
import sys
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime, time
from pathlib import Path
from typing import Any, TypeVar

import click
from babel import Locale

from config import Settings
from loyalty.cards import Card
from loyalty.db import DatabaseError, Store, check_backup, restore, utc_now
from loyalty.i18n import date_text, locale_for, money
from loyalty.ledger import OFFLINE_REASONS, Balance, Ledger, LedgerRefusal, Recorded, backups
from loyalty.money import AmountError, parse_amount
from loyalty.programs import (
    MAX_COUNT,
    SHOP_TZ,
    OfflineLimits,
    Program,
    ProgramError,
    program_in_force,
)
from loyalty.reports import (
    EXPORT_COLUMNS,
    DayReport,
    StaffFigures,
    day_report,
    decimal_text,
    event_rows,
    month_report,
)
from loyalty.reports import report as build_report
from loyalty.staff import CATALOG as STAFF_CATALOG
from loyalty.staff import approval_needed
from loyalty.trust import CardVerifier
from receipts.build import latest_receipt_no
from sync.lock import CounterRunning, SyncBusy, no_counter_open, sync_lock
from terminal.card_numbers import typed_card_refusal
from terminal.cli_support import (
    CliEnv,
    Refused,
    common_options,
    emit,
    parse_day,
    parse_month,
    pass_env,
)
from terminal.commands.setup import ensure_private_key, open_store
from terminal.commands.staff import Acting, staff_options, who_acts
from terminal.flags import card_flag, flag_json, flag_warning
from terminal.i18n import t

F = TypeVar("F", bound=Callable[..., Any])


def register(group: click.Group) -> None:
    """Add the counter actions to the program."""
    for command in (stamp, purchase, redeem, void, balance, report):
        group.add_command(command)
    group.add_command(ledger_group)


def json_option(fn: F) -> F:
    """``--json``: one JSON object a line instead of text."""
    return click.option("--json", "as_json", is_flag=True, help="Print JSON (one object a line).")(
        fn
    )


@dataclass
class Session:
    """The open ledger and what the commands need around it."""

    settings: Settings
    store: Store
    ledger: Ledger
    language: str
    """This run's one language: ``--lang``, else the shop's."""

    def say(self, key: str, /, **params: Any) -> str:
        """A sentence of the command line's catalog in this run's language."""
        return t(key, self.language, **params)

    def program(self) -> Program:
        """The shop's program in force: the platform's once it sent one, else the config's."""

        def warn(exc: ProgramError) -> None:
            click.echo(self.say("cli.program_invalid", problem=exc), err=True)

        return program_in_force(self.store.read(), self.settings.program, on_invalid=warn)

    def acting(
        self, staff_name: str | None, approver_name: str | None, approval: str | None = None
    ) -> Acting:
        """Who records (``--staff``) and approves (``--approver``), their PINs checked."""
        return who_acts(
            self.store,
            self.settings,
            self.language,
            staff_name=staff_name,
            approver_name=approver_name,
            approval=approval,
        )

    def card_id(self, code: str) -> str:
        """The card id of a card code (verified) or a typed card number this terminal knows
        (``Ledger.typed_card``, as at the counter); else refuse with the reason."""
        typed = self.ledger.typed_card([code])
        if typed is not None:
            if typed.refusal is None:
                return typed.card_id
            raise Refused(*typed_card_refusal(typed, self.language))
        result = CardVerifier.from_db(self.store.read()).verify(code, now=utc_now())
        if isinstance(result, Card):
            return result.card_id
        raise Refused(result.reason.value, result.text(self.language))


@contextmanager
def session(env: CliEnv, *, records: bool = False) -> Iterator[Session]:
    """Open the ledger for one command; map ledger and database failures to refusals.

    ``records``: the command records an event, so the private key (which signs the slip's
    claim code) is checked first: a key others can read refuses before anything is kept.
    """
    settings = env.settings
    store = open_store(env)
    try:
        if records:
            ensure_private_key(env)
        ledger = Ledger(
            store,
            shop_id=settings.shop.id,
            terminal_id=settings.terminal.id,
            platform_configured=bool(settings.platform.url),
        )
        yield Session(settings, store, ledger, env.language)
    except LedgerRefusal as refusal:
        # The refusal goes to whoever stands at the counter: the run's one language.
        raise Refused(refusal.reason.value, refusal.text(env.language)) from refusal
    except DatabaseError as exc:
        raise Refused("database_error", exc.text(env.language), exit_code=3) from exc
    finally:
        store.close()


def balance_json(balance: Balance | None) -> dict[str, Any] | None:
    """A balance for JSON output."""
    return None if balance is None else balance.to_json()


def show_recorded(s: Session, recorded: Recorded, as_json: bool) -> None:
    """Print what was recorded: event, stamps, balance and the explanation lines."""
    event = recorded.event
    if as_json:
        emit(
            {
                "event_id": event.id,
                "receipt_no": event.receipt_no,
                "kind": event.kind.value,
                "card_id": event.card_id,
                "stamps": event.stamps,
                "amount_cents": event.amount_cents,
                "currency": event.currency,
                "occurred_at": event.to_json()["occurred_at"],
                "voids": event.voids,
                "staff_id": event.staff_id,
                "approver_id": event.approver_id,
                "balance": balance_json(recorded.balance),
                "lines": [line.to_json(s.language) for line in recorded.lines],
            }
        )
        return
    card = " " + s.say("cli.card", card_id=event.card_id) if event.card_id else ""
    kind = s.say(f"cli.kind.{event.kind.value}")
    stamps = f"{event.stamps:+d}"
    click.echo(
        s.say("cli.recorded", kind=kind, receipt_no=event.receipt_no, card=card, stamps=stamps)
    )
    click.echo("  " + s.say("cli.event_id", id=event.id))
    for line in recorded.lines:
        click.echo(f"  {line.text(s.language)}")
    if recorded.balance is not None:
        click.echo(
            "  " + s.say("cli.balance_line", balance=balance_text(recorded.balance, s.language))
        )


def balance_text(balance: Balance, language: str = "en") -> str:
    """A balance on one line, saying what is confirmed and what is pending."""
    # The total picks the singular or plural sentence by the language's rules.
    form = (
        "one"
        if Locale.parse(locale_for(language)).plural_form(abs(balance.total)) == "one"
        else "other"
    )
    if balance.confirmed is None:
        return t(f"cli.balance.unconfirmed.{form}", language, total=balance.total)
    return t(
        f"cli.balance.confirmed.{form}",
        language,
        total=balance.total,
        confirmed=balance.confirmed,
        pending=balance.pending,
    )


@click.command()
@click.argument("code")
@click.option(
    "--count",
    type=click.IntRange(1, MAX_COUNT),
    help="Stamps to give (default: what the program gives for a visit).",
)
@staff_options
@json_option
@common_options
@pass_env
def stamp(
    env: CliEnv,
    code: str,
    count: int | None,
    staff_name: str | None,
    approver_name: str | None,
    as_json: bool,
) -> None:
    """Record stamps for the card in CODE, its code or typed number (refused: too_soon,
    daily_limit, revoked, number_unknown, ...).

    A --count above [limits] approval_over_stamps needs a manager (--approver NAME).
    """
    with session(env, records=True) as s:
        card_id = s.card_id(code)
        need = approval_needed("stamp", limits=s.settings.limits, count=count)
        who = s.acting(staff_name, approver_name, need)
        recorded = s.ledger.stamp(
            card_id, s.program(), count=count, staff_id=who.staff_id, approver_id=who.approver_id
        )
        show_recorded(s, recorded, as_json)


@click.command()
@click.argument("code", required=False)
@click.option("--amount", required=True, help="The amount as typed: 12,50 or 12.50 or € 1.234,50.")
@staff_options
@json_option
@common_options
@pass_env
def purchase(
    env: CliEnv,
    code: str | None,
    amount: str,
    staff_name: str | None,
    approver_name: str | None,
    as_json: bool,
) -> None:
    """Record a purchase, for the card in CODE or anonymous without one.

    A purchase above [limits] approval_over_cents needs a manager (--approver NAME).
    """
    try:
        cents = parse_amount(amount, max_cents=env.settings.limits.max_purchase_cents)
    except AmountError as exc:
        raise Refused(exc.reason.value, exc.text(env.language)) from exc
    with session(env, records=True) as s:
        card_id = None if code is None else s.card_id(code)
        need = approval_needed("purchase", limits=s.settings.limits, amount_cents=cents)
        who = s.acting(staff_name, approver_name, need)
        recorded = s.ledger.purchase(
            card_id, cents, s.program(), staff_id=who.staff_id, approver_id=who.approver_id
        )
        show_recorded(s, recorded, as_json)


@click.command()
@click.argument("code")
@staff_options
@json_option
@common_options
@pass_env
def redeem(
    env: CliEnv, code: str, staff_name: str | None, approver_name: str | None, as_json: bool
) -> None:
    """Redeem one reward for the card in CODE, within the offline limits.

    Beyond them, with [limits] allow_manager_override on, a manager may approve it
    (--approver NAME).
    """
    with session(env, records=True) as s:
        card_id = s.card_id(code)
        limits = OfflineLimits.from_settings(s.settings.limits)
        who = s.acting(staff_name, approver_name)
        program = s.program()
        try:
            recorded = s.ledger.redeem(
                card_id, program, limits, staff_id=who.staff_id, approver_id=who.approver_id
            )
        except LedgerRefusal as refusal:
            need = approval_needed(
                "redeem",
                limits=s.settings.limits,
                beyond_offline=refusal.reason in OFFLINE_REASONS,
            )
            if need is None or who.staff is None:
                raise
            who = who.approved(need, s.settings, s.language)
            recorded = s.ledger.redeem(
                card_id,
                program,
                limits,
                staff_id=who.staff_id,
                approver_id=who.approver_id,
                override=True,
            )
        show_recorded(s, recorded, as_json)


@click.command()
@click.argument("event_id", metavar="ID|last")
@staff_options
@json_option
@common_options
@pass_env
def void(
    env: CliEnv, event_id: str, staff_name: str | None, approver_name: str | None, as_json: bool
) -> None:
    """Cancel ID (an event id, a receipt number, or "last") with a compensating event.

    "last" is the newest event recorded on this terminal (as in `receipt show last`).
    Once staff accounts exist a void needs a manager: --approver NAME, or --staff a manager.
    """
    with session(env, records=True) as s:
        who = s.acting(staff_name, approver_name, approval_needed("void", limits=s.settings.limits))
        target = event_id.strip()
        if target.lower() == "last":
            latest = latest_receipt_no(s.ledger)
            if latest is None:
                raise Refused("nothing_to_void", s.say("cli.nothing_to_void"))
            target = latest
        recorded = s.ledger.void(target, staff_id=who.staff_id, approver_id=who.approver_id)
        show_recorded(s, recorded, as_json)


@click.command()
@click.argument("code")
@json_option
@common_options
@pass_env
def balance(env: CliEnv, code: str, as_json: bool) -> None:
    """The card's balance (CODE: its code or typed number): confirmed + pending here."""
    with session(env) as s:
        card_id = s.card_id(code)
        program = s.program()
        current = s.ledger.balance(card_id)
        rewards = max(current.total, 0) // program.reward_threshold
        if as_json:
            emit(
                {
                    **current.to_json(),
                    "reward_threshold": program.reward_threshold,
                    "reward_name": program.reward_name,
                    "rewards_available": rewards,
                    **flag_json(card_flag(s.store.read(), card_id), s.language),
                }
            )
            return
        text = balance_text(current, s.language)
        click.echo(s.say("cli.card_balance", card_id=card_id, balance=text))
        click.echo(
            "  "
            + s.say(
                "cli.rewards_available",
                count=rewards,
                reward=program.reward_name,
                threshold=program.reward_threshold,
            )
        )
        if (flag := card_flag(s.store.read(), card_id)) is not None:
            click.echo("  " + flag_warning(flag.reasons, s.language))


def one_format(env: CliEnv, as_csv: bool, as_json: bool) -> None:
    """Refuse ``--csv`` together with ``--json``."""
    if as_csv and as_json:
        raise Refused("bad_options", env.say("cli.one_format"), exit_code=2)


def write_csv(rows: Iterable[dict[str, Any]], columns: Sequence[str]) -> None:
    """Rows as CSV on stdout: a header line, then one line per row (RFC 4180 quoting)."""
    writer = csv.DictWriter(sys.stdout, fieldnames=list(columns), lineterminator="\r\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({name: row.get(name, "") for name in columns})
    sys.stdout.flush()


DAY_COLUMNS = (
    "day",
    "stamps_issued",
    "rewards_redeemed",
    "purchases",
    "purchase_total",
    "currency",
    "distinct_cards",
    "voids",
    "pending_sync",
    "quarantined",
    "voucher_spends",
    "voucher_total",
)
"""The columns of ``report --month --csv``: one row per local day, then the month's total."""


def _day_row(figures: DayReport, day: str) -> dict[str, Any]:
    return {
        **figures.to_json(),
        "day": day,
        "purchase_total": decimal_text(figures.purchase_total_cents),
        "voucher_total": decimal_text(figures.voucher_spent_cents),
    }


def _figures_lines(s: Session, d: DayReport) -> None:
    money_text = money(d.purchase_total_cents, s.language, d.currency)
    pending = s.say("cli.report.quarantined", pending=d.pending_sync, quarantined=d.quarantined)
    # City vouchers last, apart from the loyalty figures: money the city owes the shop.
    vouchers = money(d.voucher_spent_cents, s.language, d.currency)
    rows = [
        (s.say(key), value)
        for key, value in (
            ("cli.report.stamps", d.stamps_issued),
            ("cli.report.rewards", d.rewards_redeemed),
            ("cli.report.purchases", f"{d.purchases} ({money_text})"),
            ("cli.report.cards", d.distinct_cards),
            ("cli.report.voids", d.voids),
            ("cli.report.pending", pending),
            ("voucher.cli.report", f"{d.voucher_spends} ({vouchers})"),
        )
    ]
    # One column for the figures, wide enough for the longest label in this language
    # ("cartes différentes :" ran into its number).
    column = max(18, *(len(label) + 1 for label, _ in rows))
    for label, value in rows:
        click.echo(f"  {label:<{column}}{value}")


@click.command()
@click.option(
    "--day",
    "day_text",
    metavar="DATE",
    help="The local day: 25/11/2026, 25.11.2026 or 2026-11-25 (default: today).",
)
@click.option(
    "--month",
    "month_text",
    metavar="YYYY-MM",
    help="A whole local month instead of a day: each day's figures and the totals.",
)
@click.option("--csv", "as_csv", is_flag=True, help="CSV: the day's events, or the month's days.")
@click.option(
    "--by-staff",
    is_flag=True,
    help="With --csv: one row per staff member (stamps, rewards, purchases, voids, approvals).",
)
@json_option
@common_options
@pass_env
def report(
    env: CliEnv,
    day_text: str | None,
    month_text: str | None,
    as_csv: bool,
    by_staff: bool,
    as_json: bool,
) -> None:
    """End-of-day figures: stamps, rewards, purchases, cards, voids, pending sync, and city
    voucher spends apart (count and sum, voids netted).

    --csv prints the day's events (one row each, voids included; a voucher spend names its
    voucher_id) or, with --month, one row per day and the month's total: money as decimal text
    with its currency. Per staff member (who recorded, who approved): in the text, in --json
    ("staff"), and with --csv --by-staff one row each.
    """
    one_format(env, as_csv, as_json)
    if day_text is not None and month_text is not None:
        raise Refused("bad_options", env.say("cli.month_and_day"), exit_code=2)
    if month_text is not None:
        year, month = parse_month(env, month_text)
        _month(env, year, month, as_csv, as_json, by_staff)
        return
    wanted: date = (
        parse_day(env, day_text) if day_text is not None else utc_now().astimezone(SHOP_TZ).date()
    )
    with session(env) as s:
        if as_csv and by_staff:
            write_csv(_staff_rows(day_report(s.store, wanted).staff), STAFF_COLUMNS)
            return
        if as_csv:
            write_csv(event_rows(s.store, wanted, wanted), EXPORT_COLUMNS)
            return
        result = build_report(s.store, wanted)
    if as_json:
        emit(result.to_json())
        return
    d = result.day
    noon = datetime.combine(d.day, time(12), tzinfo=SHOP_TZ)
    day_shown = date_text(noon, s.language, SHOP_TZ)
    click.echo(s.say("cli.report.title", day=day_shown, tz=SHOP_TZ.key))
    _figures_lines(s, d)
    _staff_lines(s, d.staff)
    busy = [h for h in result.hours if h.events]
    if busy:
        hours = ", ".join(f"{h.hour:02d}h {h.events}" for h in busy)
        click.echo("  " + s.say("cli.report.hours", hours=hours))


STAFF_COLUMNS = (
    "staff_id",
    "name",
    "stamps",
    "rewards",
    "purchases",
    "purchase_total",
    "voids",
    "approvals",
)
"""The columns of ``report --csv --by-staff``: one row per staff member."""


def _staff_rows(staff: Sequence[StaffFigures]) -> list[dict[str, Any]]:
    return [{**f.to_json(), "purchase_total": decimal_text(f.purchase_total_cents)} for f in staff]


def _staff_lines(s: Session, staff: Sequence[StaffFigures]) -> None:
    if not staff:
        return
    click.echo("  " + STAFF_CATALOG.text("staff.report.title", s.language))
    for f in staff:
        line = STAFF_CATALOG.text(
            "staff.report.line",
            s.language,
            name=f.name,
            stamps=f.stamps,
            rewards=f.rewards,
            purchases=f.purchases,
            voids=f.voids,
            approvals=f.approvals,
        )
        click.echo(f"    {line}")


def _month(
    env: CliEnv, year: int, month: int, as_csv: bool, as_json: bool, by_staff: bool = False
) -> None:
    with session(env) as s:
        result = month_report(s.store, year, month)
    if as_json:
        emit(result.to_json())
        return
    total = result.total
    if as_csv and by_staff:
        write_csv(_staff_rows(result.staff), STAFF_COLUMNS)
        return
    if as_csv:
        rows = [_day_row(d, d.day.isoformat()) for d in result.days]
        rows.append(_day_row(total, s.say("cli.report.total")))
        write_csv(rows, DAY_COLUMNS)
        return
    click.echo(s.say("cli.report.month_title", month=f"{year:04d}-{month:02d}", tz=SHOP_TZ.key))
    _figures_lines(s, total)
    _staff_lines(s, total.staff)


@click.group("ledger")
def ledger_group() -> None:
    """The ledger database itself."""


@ledger_group.command("check")
@click.option("--repair", is_flag=True, help="Rebuild the balance table from the events.")
@json_option
@common_options
@pass_env
def ledger_check(env: CliEnv, repair: bool, as_json: bool) -> None:
    """Integrity check, and every card balance compared with the fold of its events.

    Exits 1 (ledger_mismatch) when a balance disagrees; --repair rebuilds them first.
    """
    with session(env) as s:
        rebuilt = s.ledger.rebuild_balances() if repair else None
        result = s.ledger.check()
    if as_json:
        emit({**result.to_json(), "rebuilt": rebuilt})
    else:
        click.echo(s.say("cli.check.integrity", result=", ".join(result.integrity[:3])))
        click.echo(s.say("cli.check.counts", events=result.events, cards=result.cards))
        if rebuilt is not None:
            click.echo(s.say("cli.check.rebuilt", count=rebuilt))
        for m in result.mismatches[:20]:
            mismatch = s.say(
                "cli.check.mismatch", card_id=m.card_id, column=m.column, table=m.table, fold=m.fold
            )
            click.echo(f"  {mismatch}")
    if result.integrity != ["ok"]:
        raise Refused(
            "database_damaged", s.say("cli.check.damaged", first=result.integrity[0]), exit_code=3
        )
    if not result.ok:
        raise Refused(
            "ledger_mismatch",
            s.say(
                "cli.check.mismatches",
                mismatches=len(result.mismatches),
                orphans=result.events_without_outbox,
            ),
        )


@ledger_group.command("backup")
@click.option(
    "--output",
    type=click.Path(path_type=Path, dir_okay=False),
    help="Write the copy here (default: a new ledger-<UTC time>.db in the backups folder).",
)
@json_option
@common_options
@pass_env
def ledger_backup(env: CliEnv, output: Path | None, as_json: bool) -> None:
    """An online, consistent copy of the ledger (the counter may keep recording meanwhile).

    Without --output it is the nightly backup: a new file in the backups folder, keeping
    the newest [sync] keep_backups. An existing --output file is never overwritten.
    """
    if output is not None and output.exists():
        raise Refused("backup_exists", env.say("cli.backup.exists", path=output))
    with session(env) as s:
        if output is None:
            folder = s.settings.backup_dir
            # keep_backups = 0 turns the nightly backups off; a backup asked for by hand
            # then removes none of the ones already there.
            keep = s.settings.sync.keep_backups or len(backups(folder)) + 1
            made = s.ledger.backup(folder, keep)
        else:
            made = s.store.backup(output)
    events = _count_events(made)
    if as_json:
        emit({"backup": str(made), "events": events})
    else:
        click.echo(env.say("cli.backup.made", path=made, events=events))


@ledger_group.command("restore")
@click.argument("file", type=click.Path(path_type=Path, dir_okay=False))
@json_option
@common_options
@pass_env
def ledger_restore(env: CliEnv, file: Path, as_json: bool) -> None:
    """Put the backup FILE in place as this terminal's ledger (stop the app first).

    FILE is checked in full first. The current ledger (damaged, empty or good) and its
    -wal/-shm are kept aside as ledger.db.damaged-<UTC time>, never overwritten. Events the
    backup holds as pending are sent again at the next sync; the platform's dedupe answers
    "duplicate" for those it already has.
    """
    settings = env.settings
    if not file.is_file():
        raise Refused("backup_missing", env.say("cli.restore.missing", path=file))
    try:
        check_backup(file)
    except DatabaseError as exc:
        raise Refused("backup_damaged", exc.text(env.language), exit_code=3) from exc
    target = settings.database_path
    try:
        with no_counter_open(target), sync_lock(target):
            kept = restore(file, target)
    except CounterRunning as exc:
        raise Refused(
            "counter_running", env.say("cli.restore.counter_running", path=target)
        ) from exc
    except SyncBusy as exc:
        raise Refused("busy", env.say("cli.restore.busy", path=target, detail=exc)) from exc
    except DatabaseError as exc:
        raise Refused("database_error", exc.text(env.language), exit_code=3) from exc
    except OSError as exc:
        raise Refused("database_error", str(exc), exit_code=3) from exc
    with Store.open(target) as store:
        pending = int(
            store.read()
            .execute("SELECT COUNT(*) FROM outbox WHERE state IN ('pending', 'in_flight')")
            .fetchone()[0]
        )
        events = int(store.read().execute("SELECT COUNT(*) FROM events").fetchone()[0])
    if as_json:
        emit(
            {
                "restored": str(file),
                "ledger": str(target),
                "kept_aside": None if kept is None else str(kept),
                "events": events,
                "pending": pending,
            }
        )
        return
    click.echo(env.say("cli.restore.done", file=file, target=target, events=events))
    if kept is not None:
        click.echo("  " + env.say("cli.restore.kept", path=kept))
    click.echo("  " + env.say("cli.restore.pending", pending=pending))


def _count_events(path: Path) -> int:
    with Store.open(path) as copy:
        return int(copy.read().execute("SELECT COUNT(*) FROM events").fetchone()[0])


@ledger_group.command("export")
@click.option("--csv", "as_csv", is_flag=True, help="CSV with a header line (the default).")
@json_option
@click.option(
    "--from",
    "from_text",
    metavar="DATE",
    help="First local day (25/11/2026, 25.11.2026 or 2026-11-25); default: the first event.",
)
@click.option("--to", "to_text", metavar="DATE", help="Last local day; default: the newest event.")
@common_options
@pass_env
def ledger_export(
    env: CliEnv, as_csv: bool, as_json: bool, from_text: str | None, to_text: str | None
) -> None:
    """Every event for the accountant: one row each, voids shown as rows that name the slip
    they cancel (and the cancelled slip names its void). Money is decimal text with its
    currency, never a float; times are in UTC and in the shop's local time.
    """
    one_format(env, as_csv, as_json)
    first = None if from_text is None else parse_day(env, from_text, "--from")
    last = None if to_text is None else parse_day(env, to_text, "--to")
    if first is not None and last is not None and first > last:
        raise Refused("bad_range", env.say("cli.bad_range", start=first, end=last), exit_code=2)
    with session(env) as s:
        rows = event_rows(s.store, first, last)
        if as_json:
            for row in rows:
                emit(row)
        else:
            write_csv(rows, EXPORT_COLUMNS)
