"""Counter actions headless: stamp, purchase, redeem, void, balance, report, ledger check.

Each command verifies the card code (issuer keys and revocations from the ledger), applies
the program (the platform's when it sent one with the configured id, else the config's),
records in one transaction and prints what was recorded. ``--json`` prints one JSON object
a line; a refusal exits 1 with ``refused: <reason>: <sentence>`` on stderr.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any, TypeVar

import click

from config import Settings
from loyalty.cards import Card
from loyalty.db import DatabaseError, Store, check_backup, restore, utc_now
from loyalty.ledger import Balance, Ledger, LedgerRefusal, Recorded, backups
from loyalty.money import AmountError, parse_amount
from loyalty.programs import (
    MAX_COUNT,
    SHOP_TZ,
    OfflineLimits,
    Program,
    ProgramError,
    program_in_force,
)
from loyalty.reports import report as build_report
from loyalty.trust import CardVerifier
from sync.lock import SyncBusy, sync_lock
from terminal.cli_support import CliEnv, Refused, common_options, emit, pass_env
from terminal.commands.setup import ensure_private_key, open_store

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

    @property
    def language(self) -> str:
        """The counter's language for explanation lines."""
        return self.settings.shop.language.value

    def program(self) -> Program:
        """The platform's program with the configured id if it sent a valid one, else config's."""
        program_id = self.settings.program.id

        def warn(exc: ProgramError) -> None:
            click.echo(
                f"warning: the platform's program {program_id!r} is not valid ({exc}); "
                "using the program from the config file",
                err=True,
            )

        return program_in_force(self.store.read(), self.settings.program, on_invalid=warn)

    def card_id(self, code: str) -> str:
        """Verify a card code and return its card id, or refuse with the card's reason."""
        result = CardVerifier.from_db(self.store.read()).verify(code, now=utc_now())
        if isinstance(result, Card):
            return result.card_id
        raise Refused(result.reason.value, result.text(self.settings.shop.language.value))


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
        yield Session(settings, store, ledger)
    except LedgerRefusal as refusal:
        # The refusal goes to whoever stands at the counter: the shop's language.
        sentence = refusal.text(settings.shop.language.value)
        raise Refused(refusal.reason.value, sentence) from refusal
    except DatabaseError as exc:
        raise Refused(
            "database_error", exc.text(settings.shop.language.value), exit_code=3
        ) from exc
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
                "balance": balance_json(recorded.balance),
                "lines": [line.to_json(s.language) for line in recorded.lines],
            }
        )
        return
    card = f" card {event.card_id}" if event.card_id else ""
    click.echo(f"recorded: {event.kind.value} {event.receipt_no}{card} ({event.stamps:+d} stamps)")
    click.echo(f"  id: {event.id}")
    for line in recorded.lines:
        click.echo(f"  {line.text(s.language)}")
    if recorded.balance is not None:
        click.echo(f"  balance: {balance_text(recorded.balance)}")


def balance_text(balance: Balance) -> str:
    """A balance on one line, saying what is confirmed and what is pending."""
    if balance.confirmed is None:
        return f"{balance.total} stamps (not confirmed by the platform yet)"
    return f"{balance.total} stamps ({balance.confirmed} confirmed + {balance.pending} pending)"


@click.command()
@click.argument("code")
@click.option(
    "--count",
    type=click.IntRange(1, MAX_COUNT),
    help="Stamps to give (default: what the program gives for a visit).",
)
@json_option
@common_options
@pass_env
def stamp(env: CliEnv, code: str, count: int | None, as_json: bool) -> None:
    """Record stamps for the card in CODE (refused: too_soon, daily_limit, revoked, ...)."""
    with session(env, records=True) as s:
        card_id = s.card_id(code)
        show_recorded(s, s.ledger.stamp(card_id, s.program(), count=count), as_json)


@click.command()
@click.argument("code", required=False)
@click.option("--amount", required=True, help="The amount as typed: 12,50 or 12.50 or € 1.234,50.")
@json_option
@common_options
@pass_env
def purchase(env: CliEnv, code: str | None, amount: str, as_json: bool) -> None:
    """Record a purchase, for the card in CODE or anonymous without one."""
    try:
        cents = parse_amount(amount, max_cents=env.settings.limits.max_purchase_cents)
    except AmountError as exc:
        raise Refused(exc.reason.value, exc.text(env.settings.shop.language.value)) from exc
    with session(env, records=True) as s:
        card_id = None if code is None else s.card_id(code)
        show_recorded(s, s.ledger.purchase(card_id, cents, s.program()), as_json)


@click.command()
@click.argument("code")
@json_option
@common_options
@pass_env
def redeem(env: CliEnv, code: str, as_json: bool) -> None:
    """Redeem one reward for the card in CODE, within the offline limits."""
    with session(env, records=True) as s:
        card_id = s.card_id(code)
        limits = OfflineLimits.from_settings(s.settings.limits)
        show_recorded(s, s.ledger.redeem(card_id, s.program(), limits), as_json)


@click.command()
@click.argument("event_id")
@json_option
@common_options
@pass_env
def void(env: CliEnv, event_id: str, as_json: bool) -> None:
    """Cancel EVENT_ID (an event id or a receipt number) with a compensating event."""
    with session(env, records=True) as s:
        show_recorded(s, s.ledger.void(event_id.strip()), as_json)


@click.command()
@click.argument("code")
@json_option
@common_options
@pass_env
def balance(env: CliEnv, code: str, as_json: bool) -> None:
    """The card's balance: confirmed by the platform + pending here."""
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
                }
            )
            return
        click.echo(f"card {card_id}: {balance_text(current)}")
        click.echo(
            f"  rewards available: {rewards} ({program.reward_name}, "
            f"{program.reward_threshold} stamps each)"
        )


@click.command()
@click.option(
    "--day",
    type=click.DateTime(formats=["%Y-%m-%d"]),
    help="The local day (YYYY-MM-DD); default: today in the shop's time zone.",
)
@json_option
@common_options
@pass_env
def report(env: CliEnv, day: datetime | None, as_json: bool) -> None:
    """End-of-day figures: stamps, rewards, purchases, cards, voids, pending sync."""
    wanted: date = day.date() if day is not None else utc_now().astimezone(SHOP_TZ).date()
    with session(env) as s:
        result = build_report(s.store, wanted)
    if as_json:
        emit(result.to_json())
        return
    d = result.day
    euros = f"{d.purchase_total_cents // 100},{d.purchase_total_cents % 100:02d}"
    if d.purchase_total_cents < 0:
        euros = f"-{-d.purchase_total_cents // 100},{-d.purchase_total_cents % 100:02d}"
    click.echo(f"report {d.day.isoformat()} ({SHOP_TZ.key})")
    click.echo(f"  stamps issued:    {d.stamps_issued}")
    click.echo(f"  rewards redeemed: {d.rewards_redeemed}")
    click.echo(f"  purchases:        {d.purchases} ({euros} {d.currency})")
    click.echo(f"  distinct cards:   {d.distinct_cards}")
    click.echo(f"  voids:            {d.voids}")
    click.echo(f"  pending sync:     {d.pending_sync} (quarantined {d.quarantined})")
    busy = [h for h in result.hours if h.events]
    if busy:
        click.echo("  hours: " + ", ".join(f"{h.hour:02d}h {h.events}" for h in busy))


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
        click.echo(f"integrity: {', '.join(result.integrity[:3])}")
        click.echo(f"events: {result.events}, cards: {result.cards}")
        if rebuilt is not None:
            click.echo(f"rebuilt: {rebuilt} balance rows")
        for m in result.mismatches[:20]:
            click.echo(f"  mismatch {m.card_id} {m.column}: table {m.table}, events {m.fold}")
    if result.integrity != ["ok"]:
        raise Refused(
            "database_damaged",
            f"integrity_check: {result.integrity[0]}. Stop the terminal and restore the latest "
            "backup from the backups folder.",
            exit_code=3,
        )
    if not result.ok:
        raise Refused(
            "ledger_mismatch",
            f"{len(result.mismatches)} balance value(s) differ from the events "
            f"and {result.events_without_outbox} event(s) have no outbox row. "
            "Run `citie-terminal ledger check --repair` to rebuild the balances.",
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
        raise Refused(
            "backup_exists",
            f"{output} already exists; choose a new file name (a backup never overwrites).",
        )
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
        click.echo(f"backup: {made} ({events} events)")


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
        raise Refused("backup_missing", f"no backup file at {file}.")
    try:
        check_backup(file)
    except DatabaseError as exc:
        raise Refused("backup_damaged", str(exc), exit_code=3) from exc
    target = settings.database_path
    try:
        with sync_lock(target):
            kept = restore(file, target)
    except SyncBusy as exc:
        raise Refused(
            "busy", f"a sync is running on {target}; wait for it to finish ({exc})."
        ) from exc
    except (DatabaseError, OSError) as exc:
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
    click.echo(f"restored: {file} -> {target} ({events} events)")
    if kept is not None:
        click.echo(f"  the previous file is kept as {kept}")
    click.echo(f"  {pending} event(s) pending: the next sync sends them")


def _count_events(path: Path) -> int:
    with Store.open(path) as copy:
        return int(copy.read().execute("SELECT COUNT(*) FROM events").fetchone()[0])
