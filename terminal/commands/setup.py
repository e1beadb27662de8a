"""``init`` and ``config check``: bring a counter device to a working state and keep it there."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import click

from config import Settings
from config.example import render_toml
from config.settings import DEFAULT_REWARD_NAMES, Language, ShopSettings
from loyalty import schema as _schema  # noqa: F401  (registers the ledger migrations)
from loyalty.db import DatabaseError, Store, ledger_file_problem, lost_ledger, private_dir
from loyalty.keys import KeyFileError, check_private, generate_key_pair
from loyalty.ledger import newest_backup
from terminal.cli_support import CliEnv, Refused, common_options, emit, pass_env


def register(group: click.Group) -> None:
    """Add ``init`` and ``config`` to the program."""
    group.add_command(init)
    group.add_command(config_group)


def is_initialised(env: CliEnv) -> bool:
    """Config file and private key are there: this terminal was set up and has a ledger."""
    settings, config_path = env.load()
    return config_path.exists() and settings.private_key_path.exists()


def refuse_lost_ledger(env: CliEnv) -> None:
    """Refuse (exit 3) when an initialised terminal's ledger is missing, empty or not a ledger.

    An empty or missing file is not a new ledger: SQLite would silently make one, and the
    terminal's unsynced events would be forgotten without a word. Points to the newest backup.
    """
    if not is_initialised(env):
        return
    settings = env.settings
    path = settings.database_path
    problem = ledger_file_problem(path)
    if problem is None:
        return
    error = lost_ledger(path, problem, newest_backup(settings.backup_dir), settings.backup_dir)
    raise Refused("ledger_lost", error.text(env.language), exit_code=3)


def open_store(env: CliEnv) -> Store:
    """Open the initialised ledger, or refuse with what to run first (or what to restore)."""
    settings = env.settings
    path = settings.database_path
    refuse_lost_ledger(env)
    if not path.exists():
        raise Refused("not_initialised", env.say("cli.not_initialised", path=path))
    try:
        return Store.open(path)
    except DatabaseError as exc:
        raise Refused("database_error", exc.text(env.language), exit_code=3) from exc


def ensure_private_key(env: CliEnv) -> Path:
    """The terminal's private key path, refusing one that others can read."""
    path = env.settings.private_key_path
    try:
        check_private(path)
    except KeyFileError as exc:
        raise Refused("key_file", exc.text(env.language), exit_code=3) from exc
    return path


def person_at_terminal() -> bool:
    """Whether a person sits at this run: standard input is a terminal (and so is standard
    output, where the questions appear). A script, a pipe, a test or ``make run`` that
    captures the output is never asked anything."""
    return sys.stdin.isatty() and sys.stdout.isatty()


@click.command()
@click.option("--shop-id", help="The shop's id at the city platform.")
@click.option("--shop-name", help="The shop's name for receipts and the status line.")
@click.option("--shop-address", help="The shop's address, printed under its name on slips.")
@click.option("--terminal-id", help="This terminal's id (receipt numbers start with it).")
@click.option(
    "--shop-language",
    "language",
    type=click.Choice([lang.value for lang in Language]),
    help="Counter language at start-up.",
)
@click.option(
    "--reward-name",
    help="What a reward is, e.g. 'een gratis brood' (default: the shop language's words).",
)
@click.option(
    "--stamps-for-reward",
    type=click.IntRange(1, 1000),
    help="Stamps one reward costs (default 10).",
)
@click.option("--platform-url", help="The city platform's base URL (https://...).")
@click.option(
    "--manager",
    metavar="NAME",
    help="Create the first staff account, a manager (PIN typed twice, or one stdin line).",
)
@click.option("--force", is_flag=True, help="Rewrite an existing config file.")
@click.option("--json", "as_json", is_flag=True, help="Print what was done as JSON.")
@common_options
@pass_env
def init(
    env: CliEnv,
    shop_id: str | None,
    shop_name: str | None,
    shop_address: str | None,
    terminal_id: str | None,
    language: str | None,
    reward_name: str | None,
    stamps_for_reward: int | None,
    platform_url: str | None,
    manager: str | None,
    force: bool,
    as_json: bool,
) -> None:
    """Create the data directory, config file, terminal key pair (0600) and the ledger.

    Run in a terminal, it asks for the shop's name, address, reward and stamps per reward
    that no option gave (never when standard input is not a terminal), and for the first
    manager's name and PIN while the terminal has no staff account (empty name: later).
    Running it again changes nothing and says so; --force rewrites the config file.
    """
    env.overrides = {
        "shop": {"id": shop_id, "name": shop_name, "address": shop_address, "language": language},
        "terminal": {"id": terminal_id},
        "program": {"reward_name": reward_name, "reward_threshold": stamps_for_reward},
        "platform": {"url": platform_url},
    }
    settings, config_path = env.load()
    writes_config = force or not config_path.exists()
    if writes_config and person_at_terminal():
        answers = _ask_shop(env, settings, shop_name, shop_address, reward_name, stamps_for_reward)
        if answers:
            for section, values in answers.items():
                env.overrides[section].update(values)
            env.reload()
            settings, config_path = env.load()
    done: list[str] = []
    kept: list[str] = []
    if is_initialised(env):
        # A set-up terminal whose ledger is empty or not a ledger (or missing while a backup
        # exists) is restored, never silently replaced by an empty ledger.
        missing = ledger_file_problem(settings.database_path) == "missing"
        if not missing or newest_backup(settings.backup_dir) is not None:
            refuse_lost_ledger(env)

    private_dir(settings.data_dir)

    if not writes_config:
        kept.append(env.say("cli.what.config_kept", path=config_path))
    else:
        blank = set() if env.data_dir is None else {("storage", "data_dir")}
        if settings.program.reward_name == DEFAULT_REWARD_NAMES[settings.shop.language]:
            # No reward named: the file says so, and the words follow the shop's language.
            blank.add(("program", "reward_name"))
        config_path.parent.mkdir(parents=True, exist_ok=True)
        config_path.write_text(render_toml(settings, blank=frozenset(blank)), encoding="utf-8")
        done.append(env.say("cli.what.config", path=config_path))

    key_path = settings.private_key_path
    if key_path.exists():
        try:
            check_private(key_path)
        except KeyFileError as exc:
            raise Refused("key_file", exc.text(env.language), exit_code=3) from exc
        kept.append(env.say("cli.what.key_pair", path=key_path))
    else:
        generate_key_pair(key_path, settings.public_key_path)
        done.append(env.say("cli.what.key_pair_new", path=key_path))

    db_path = settings.database_path
    existed = db_path.exists()
    try:
        with Store.open(db_path) as store:
            applied = store.migrate() if existed else store.applied_migrations()
    except DatabaseError as exc:
        raise Refused("database_error", exc.text(env.language), exit_code=3) from exc
    if existed and not applied:
        kept.append(env.say("cli.what.ledger", path=db_path))
    else:
        done.append(env.say("cli.what.ledger", path=db_path))
    first_manager = _first_manager(env, settings, manager)

    if as_json:
        emit(
            {
                "created": done,
                "unchanged": kept,
                "data_dir": str(settings.data_dir),
                "shop": {
                    "id": settings.shop.id,
                    "name": settings.shop.name,
                    "address": settings.shop.address,
                    "language": settings.shop.language.value,
                },
                "program": {
                    "id": settings.program.id,
                    "reward_name": settings.program.reward_name,
                    "reward_threshold": settings.program.reward_threshold,
                },
                "manager": first_manager,
            }
        )
        return
    for line in done:
        click.echo(env.say("cli.created", what=line))
    for line in kept:
        click.echo(env.say("cli.unchanged", what=line))
    if first_manager is not None:
        click.echo(first_manager.get("added") or first_manager["how"])
    if not done and (first_manager is None or "added" not in first_manager):
        click.echo(env.say("cli.nothing_to_do"))


def _first_manager(env: CliEnv, settings: Settings, name: str | None) -> dict[str, Any] | None:
    """The first manager (``--manager``, or asked in a terminal), or how to add one later.

    None when the terminal already has staff accounts; the new account's JSON, or
    ``{"name": None, "how": sentence}`` when none was made.
    """
    # Imported here: the staff commands build on this module's open_store.
    from loyalty.staff import CATALOG, Role, StaffBook  # noqa: PLC0415
    from terminal.commands.staff import add_member, read_new_pin  # noqa: PLC0415

    language = env.language
    with Store.open(settings.database_path) as store:
        book = StaffBook(store)
        if book.any():
            if name is not None and book.get(name) is None:
                # A further manager is added by a manager: ``staff add NAME --approver``.
                raise Refused("approval_needed", CATALOG.text("staff.cli.manager_needed", language))
            return None
        if name is None and person_at_terminal():
            name = click.prompt(
                CATALOG.text("staff.prompt.manager_name", language).rstrip(": "),
                default="",
                show_default=False,
            ).strip()
        if not name:
            return {"name": None, "how": CATALOG.text("staff.cli.init_how", language)}
        pin = read_new_pin(language, name)
        member = add_member(store, settings, language, name, Role.MANAGER, pin)
    role = CATALOG.text("staff.role.manager", language)
    added = CATALOG.text("staff.cli.added", language, name=member.name, role=role, id=member.id)
    return {**member.to_json(), "added": added}


def _ask_shop(
    env: CliEnv,
    settings: Settings,
    shop_name: str | None,
    shop_address: str | None,
    reward_name: str | None,
    stamps_for_reward: int | None,
) -> dict[str, dict[str, Any]]:
    """Ask a person at the terminal for what no option gave; the answers as overrides."""
    shop: dict[str, Any] = {}
    program: dict[str, Any] = {}
    if shop_name is None:
        demo_name = settings.shop.name == ShopSettings.model_fields["name"].default
        shop["name"] = click.prompt(
            env.say("cli.ask.shop_name"), default=None if demo_name else settings.shop.name
        ).strip()
    if shop_address is None:
        shop["address"] = click.prompt(
            env.say("cli.ask.shop_address"), default=settings.shop.address, show_default=False
        ).strip()
    if reward_name is None:
        program["reward_name"] = click.prompt(
            env.say("cli.ask.reward_name"), default=settings.program.reward_name
        ).strip()
    if stamps_for_reward is None:
        program["reward_threshold"] = click.prompt(
            env.say("cli.ask.stamps_for_reward"),
            default=settings.program.reward_threshold,
            type=click.IntRange(1, 1000),
        )
    return {key: value for key, value in {"shop": shop, "program": program}.items() if value}


@click.group("config")
def config_group() -> None:
    """Look at the configuration."""


@config_group.command("check")
@click.option("--show", is_flag=True, help="Also print the effective settings as TOML.")
@click.option("--json", "as_json", is_flag=True, help="Print the outcome as JSON.")
@common_options
@pass_env
def config_check(env: CliEnv, show: bool, as_json: bool) -> None:
    """Validate the config file, environment and options; name the file, key and fix on error."""
    settings, path = env.load()
    key_path = settings.private_key_path
    if key_path.exists():
        try:
            check_private(key_path)
        except KeyFileError as exc:
            raise Refused("key_file", exc.text(env.language), exit_code=2) from exc
    if as_json:
        shown = settings.model_dump(mode="json") if show else None
        emit({"ok": True, "config": str(path), "exists": path.exists(), "settings": shown})
        return
    where = str(path) if path.exists() else env.say("cli.config_missing", path=path)
    click.echo(env.say("cli.config_ok", path=where))
    if show:
        click.echo(render_toml(settings), nl=False)
