"""``staff add|list|remove|pin|unlock``, and who acts at the counter for headless commands.

A PIN is never taken from the command line (``ps`` shows every process's arguments to every
user): it is read from ``CITIE_STAFF_PIN`` / ``CITIE_APPROVER_PIN``, else from standard input
(``getpass`` on a terminal, one line each otherwise: the staff PIN first, then the approver's).
A till that scripts the terminal is given its own identity the same way: a staff account
(e.g. ``staff add till-1 --role cashier``) whose PIN the till's script passes in
``CITIE_STAFF_PIN``.

Once any staff account exists, managing staff needs a manager (``--approver NAME``), and
every counter command needs ``--staff NAME``; an action that needs approval (see
``loyalty.staff.approval_needed``) also needs ``--approver NAME``, unless the staff member is
a manager, whose own action is approved by themselves.
"""

from __future__ import annotations

import getpass
import sys
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

import click

from config import Settings
from loyalty.db import DatabaseError, Store
from loyalty.staff import (
    APPROVER_PIN_ENV,
    CATALOG,
    PIN_ENV,
    Role,
    StaffBook,
    StaffError,
    StaffMember,
    StaffReason,
    approval_text,
    check_pin_format,
    read_pin,
)
from terminal.cli_support import CliEnv, Refused, common_options, emit, pass_env
from terminal.commands.setup import open_store

F = TypeVar("F", bound=Callable[..., Any])


def register(group: click.Group) -> None:
    """Add ``staff`` to the program."""
    group.add_command(staff_group)


def say(language: str, key: str, /, **params: Any) -> str:
    """A sentence of the ``staff`` catalog."""
    return CATALOG.text(key, language, **params)


def refused(error: StaffError, language: str) -> Refused:
    """A staff refusal as the command line's: ``refused: <reason>: <sentence>``, exit 1."""
    return Refused(error.reason.value, error.text(language))


def book_for(store: Store, settings: Settings) -> StaffBook:
    """The staff book with this shop's ``[staff] max_failures``."""
    return StaffBook(store, max_failures=settings.staff.max_failures)


# --- who acts at the counter ---------------------------------------------------------------


def staff_options(fn: F) -> F:
    """``--staff NAME`` and ``--approver NAME`` (their PINs never on the command line)."""
    fn = click.option(
        "--approver",
        "approver_name",
        metavar="NAME",
        help="A manager approving this action (PIN: CITIE_APPROVER_PIN, else the next stdin line).",
    )(fn)
    fn = click.option(
        "--staff",
        "staff_name",
        metavar="NAME",
        help="Who records this (PIN: CITIE_STAFF_PIN, else standard input).",
    )(fn)
    return fn


@dataclass(frozen=True)
class Acting:
    """Who records an action and who approved it (both None while no staff account exists)."""

    staff: StaffMember | None = None
    approver: StaffMember | None = None

    @property
    def staff_id(self) -> str | None:
        """The recording staff member's id."""
        return None if self.staff is None else self.staff.id

    @property
    def approver_id(self) -> str | None:
        """The approving manager's id."""
        return None if self.approver is None else self.approver.id

    def approved(self, approval: str, settings: Settings, language: str) -> Acting:
        """This with an approver for ``approval``: the one given, or a manager acting alone.

        Refuses ``approval_needed`` (saying what is needed and how to give it) otherwise.
        """
        if self.approver is not None or self.staff is None:
            return self
        if self.staff.is_manager:
            return Acting(self.staff, self.staff)
        what = approval_text(approval, language, limits=settings.limits)
        raise Refused(
            StaffReason.APPROVAL_NEEDED.value, say(language, "staff.cli.need_approver", what=what)
        )


def who_acts(
    store: Store,
    settings: Settings,
    language: str,
    *,
    staff_name: str | None,
    approver_name: str | None,
    approval: str | None = None,
) -> Acting:
    """Check ``--staff`` (and ``--approver``) with their PINs; the one way commands do it.

    Without staff accounts nothing is asked and nothing is recorded about who acted. With
    them, ``--staff`` is required; ``approval`` (a key from ``approval_needed``) requires an
    approver: ``--approver``, or the staff member being a manager. Everything that can be
    refused without a PIN is refused before any PIN is read. H3's ``voucher spend`` and every
    counter command call this.
    """
    book = book_for(store, settings)
    try:
        if not book.any():
            if staff_name is None and approver_name is None:
                return Acting()
            raise StaffError(StaffReason.UNKNOWN_STAFF, name=staff_name or approver_name or "")
        if staff_name is None:
            raise Refused(StaffReason.STAFF_REQUIRED.value, say(language, "staff.cli.need_staff"))
        member = book.get(staff_name)
        if member is None:
            raise StaffError(StaffReason.UNKNOWN_STAFF, name=staff_name)
        if approver_name is not None:
            approver = book.get(approver_name)
            if approver is None:
                raise StaffError(StaffReason.UNKNOWN_STAFF, name=approver_name)
            if not approver.is_manager:
                raise StaffError(StaffReason.NOT_A_MANAGER, name=approver.name)
        elif approval is not None:
            Acting(member).approved(approval, settings, language)  # refuses before any PIN
        pin = read_pin(language, name=member.name)
        acting = Acting(book.check_pin(member.id, pin))
        if approver_name is not None:
            approver_pin = read_pin(
                language,
                env_var=APPROVER_PIN_ENV,
                prompt_key="staff.prompt.approver",
                name=approver_name,
            )
            acting = Acting(acting.staff, book.check_manager(approver_name, approver_pin))
    except StaffError as error:
        raise refused(error, language) from None
    if approval is not None:
        acting = acting.approved(approval, settings, language)
    return acting


def manager_check(
    book: StaffBook, language: str, approver_name: str | None, *, needed: bool
) -> StaffMember | None:
    """A manager's name and PIN for managing staff (``needed`` once a manager exists)."""
    if not needed:
        return None
    if approver_name is None:
        raise Refused(StaffReason.APPROVAL_NEEDED.value, say(language, "staff.cli.manager_needed"))
    try:
        pin = read_pin(
            language,
            env_var=APPROVER_PIN_ENV,
            prompt_key="staff.prompt.approver",
            name=approver_name,
        )
        return book.check_manager(approver_name, pin)
    except StaffError as error:
        raise refused(error, language) from None


def read_new_pin(language: str, name: str) -> str:
    """A new PIN: typed twice on a terminal (hidden), else one line of standard input."""
    try:
        if sys.stdin.isatty():
            first = getpass.getpass(say(language, "staff.prompt.new_pin", name=name)).strip()
            check_pin_format(first)
            again = getpass.getpass(say(language, "staff.prompt.again")).strip()
            if again != first:
                raise StaffError(StaffReason.PIN_MISMATCH)
            return first
        line = sys.stdin.readline()
        if not line.strip():
            raise StaffError(StaffReason.PIN_MISSING, "staff.pin_missing_new")
        return check_pin_format(line.strip())
    except StaffError as error:
        raise refused(error, language) from None


def add_member(
    store: Store, settings: Settings, language: str, name: str, role: Role, pin: str
) -> StaffMember:
    """Add an account (``init --manager`` and ``staff add``); refusals in ``language``."""
    try:
        return book_for(store, settings).add(name, role, pin)
    except StaffError as error:
        raise refused(error, language) from None


# --- the commands --------------------------------------------------------------------------


@click.group("staff")
def staff_group() -> None:
    """Staff accounts: who records at the counter, and the managers who approve.

    PINs (4 to 8 digits) are never given on the command line: they are typed (hidden) or read
    from standard input, one line each; an approver's PIN may come from CITIE_APPROVER_PIN.
    """


def _open(env: CliEnv) -> tuple[Store, StaffBook]:
    store = open_store(env)
    return store, book_for(store, env.settings)


@staff_group.command("add")
@click.argument("name")
@click.option(
    "--role",
    type=click.Choice([role.value for role in Role]),
    required=True,
    help="cashier, or manager (approves, unlocks, manages staff). The first must be a manager.",
)
@click.option("--approver", "approver_name", metavar="NAME", help="A manager allowing this.")
@click.option("--json", "as_json", is_flag=True, help="Print the new account as JSON.")
@common_options
@pass_env
def staff_add(env: CliEnv, name: str, role: str, approver_name: str | None, as_json: bool) -> None:
    """Add NAME with a new PIN (typed twice, or one line of standard input).

    Once a manager exists, --approver NAME with that manager's PIN (CITIE_APPROVER_PIN or
    the first line of standard input, before the new PIN).
    """
    language = env.language
    store, book = _open(env)
    try:
        manager_check(book, language, approver_name, needed=book.any())
        pin = read_new_pin(language, name)
        member = add_member(store, env.settings, language, name, Role(role), pin)
    except DatabaseError as exc:
        raise Refused("database_error", exc.text(language), exit_code=3) from exc
    finally:
        store.close()
    if as_json:
        emit(member.to_json())
        return
    shown_role = say(language, f"staff.role.{member.role.value}")
    click.echo(say(language, "staff.cli.added", name=member.name, role=shown_role, id=member.id))


@staff_group.command("list")
@click.option("--removed", is_flag=True, help="Also the removed accounts (their events stay).")
@click.option("--json", "as_json", is_flag=True, help="Print {'staff': [...]} as JSON.")
@common_options
@pass_env
def staff_list(env: CliEnv, removed: bool, as_json: bool) -> None:
    """The staff accounts: name, role, id, and whether locked."""
    language = env.language
    store, book = _open(env)
    try:
        members = book.list(removed=removed)
    finally:
        store.close()
    if as_json:
        emit({"staff": [member.to_json() for member in members]})
        return
    if not members:
        click.echo(say(language, "staff.cli.none"))
        return
    width = max(len(member.name) for member in members)
    for member in members:
        state = (
            "removed" if member.removed_at is not None else "locked" if member.locked else "active"
        )
        role = say(language, f"staff.role.{member.role.value}")
        shown_state = say(language, f"staff.state.{state}")
        click.echo(f"{member.name:<{width}}  {role:<18}  {member.id}  {shown_state}")


@staff_group.command("remove")
@click.argument("name")
@click.option("--approver", "approver_name", metavar="NAME", help="The manager allowing this.")
@click.option("--json", "as_json", is_flag=True, help="Print the removed account as JSON.")
@common_options
@pass_env
def staff_remove(env: CliEnv, name: str, approver_name: str | None, as_json: bool) -> None:
    """Remove NAME: no more actions with this account; past events keep naming it.

    The last manager cannot be removed. Needs --approver NAME (a manager's PIN).
    """
    language = env.language
    store, book = _open(env)
    try:
        manager_check(book, language, approver_name, needed=True)
        member = book.remove(name)
    except StaffError as error:
        raise refused(error, language) from None
    finally:
        store.close()
    if as_json:
        emit(member.to_json())
        return
    click.echo(say(language, "staff.cli.removed", name=member.name))


@staff_group.command("pin")
@click.argument("name")
@click.option(
    "--approver", "approver_name", metavar="NAME", help="A manager resetting a forgotten PIN."
)
@click.option("--json", "as_json", is_flag=True, help="Print the account as JSON.")
@common_options
@pass_env
def staff_pin(env: CliEnv, name: str, approver_name: str | None, as_json: bool) -> None:
    """Change NAME's PIN: the current PIN first (CITIE_STAFF_PIN or a line of standard input),
    or --approver NAME (a manager's PIN) for a forgotten one; then the new PIN.
    """
    language = env.language
    store, book = _open(env)
    try:
        if approver_name is not None:
            manager_check(book, language, approver_name, needed=True)
        else:
            member = book.get(name)
            if member is None:
                raise StaffError(StaffReason.UNKNOWN_STAFF, name=name)
            book.check_pin(member.id, read_pin(language, name=member.name))
        pin = read_new_pin(language, name)
        changed = book.set_pin(name, pin)
    except StaffError as error:
        raise refused(error, language) from None
    finally:
        store.close()
    if as_json:
        emit(changed.to_json())
        return
    click.echo(say(language, "staff.cli.pin_changed", name=changed.name))


@staff_group.command("unlock")
@click.argument("name")
@click.option("--approver", "approver_name", metavar="NAME", help="The manager unlocking it.")
@click.option("--json", "as_json", is_flag=True, help="Print the account as JSON.")
@common_options
@pass_env
def staff_unlock(env: CliEnv, name: str, approver_name: str | None, as_json: bool) -> None:
    """Unlock NAME after too many wrong PINs (needs --approver NAME, a manager's PIN).

    When every manager is locked nobody could approve, so a manager is then unlocked without
    one: whoever runs this command owns the data folder, which holds the ledger itself.
    """
    language = env.language
    store, book = _open(env)
    try:
        managers = [m for m in book.list() if m.is_manager]
        target = book.get(name)
        stranded = all(m.locked for m in managers) and target is not None and target.is_manager
        manager_check(book, language, approver_name, needed=not stranded)
        member = book.unlock(name)
    except StaffError as error:
        raise refused(error, language) from None
    finally:
        store.close()
    if as_json:
        emit(member.to_json())
        return
    click.echo(say(language, "staff.cli.unlocked", name=member.name))


__all__ = [
    "APPROVER_PIN_ENV",
    "PIN_ENV",
    "Acting",
    "add_member",
    "read_new_pin",
    "staff_options",
    "who_acts",
]
