"""``init`` and ``config check``: bring a counter device to a working state and keep it there."""

from __future__ import annotations

from pathlib import Path

import click

from config.example import render_toml
from config.settings import Language
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
    raise Refused("ledger_lost", error.text(settings.shop.language.value), exit_code=3)


def open_store(env: CliEnv) -> Store:
    """Open the initialised ledger, or refuse with what to run first (or what to restore)."""
    settings = env.settings
    path = settings.database_path
    refuse_lost_ledger(env)
    if not path.exists():
        raise Refused(
            "not_initialised",
            f"no ledger at {path}. Run `citie-terminal init` first "
            "(with the same --data-dir or --config).",
        )
    try:
        return Store.open(path)
    except DatabaseError as exc:
        raise Refused(
            "database_error", exc.text(settings.shop.language.value), exit_code=3
        ) from exc


def ensure_private_key(env: CliEnv) -> Path:
    """The terminal's private key path, refusing one that others can read."""
    path = env.settings.private_key_path
    try:
        check_private(path)
    except KeyFileError as exc:
        raise Refused("key_file", str(exc), exit_code=3) from exc
    return path


@click.command()
@click.option("--shop-id", help="The shop's id at the city platform.")
@click.option("--shop-name", help="The shop's name for receipts and the status line.")
@click.option("--terminal-id", help="This terminal's id (receipt numbers start with it).")
@click.option(
    "--shop-language",
    "language",
    type=click.Choice([lang.value for lang in Language]),
    help="Counter language at start-up.",
)
@click.option("--platform-url", help="The city platform's base URL (https://...).")
@click.option("--force", is_flag=True, help="Rewrite an existing config file.")
@click.option("--json", "as_json", is_flag=True, help="Print what was done as JSON.")
@common_options
@pass_env
def init(
    env: CliEnv,
    shop_id: str | None,
    shop_name: str | None,
    terminal_id: str | None,
    language: str | None,
    platform_url: str | None,
    force: bool,
    as_json: bool,
) -> None:
    """Create the data directory, config file, terminal key pair (0600) and the ledger.

    Running it again changes nothing and says so; --force rewrites the config file.
    """
    env.overrides = {
        "shop": {"id": shop_id, "name": shop_name, "language": language},
        "terminal": {"id": terminal_id},
        "platform": {"url": platform_url},
    }
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

    if config_path.exists() and not force:
        kept.append(f"config {config_path} (use --force to rewrite it)")
    else:
        blank = frozenset() if env.data_dir is None else frozenset({("storage", "data_dir")})
        config_path.parent.mkdir(parents=True, exist_ok=True)
        config_path.write_text(render_toml(settings, blank=blank), encoding="utf-8")
        done.append(f"config {config_path}")

    key_path = settings.private_key_path
    if key_path.exists():
        try:
            check_private(key_path)
        except KeyFileError as exc:
            raise Refused("key_file", str(exc), exit_code=3) from exc
        kept.append(f"key pair {key_path}")
    else:
        generate_key_pair(key_path, settings.public_key_path)
        done.append(f"key pair {key_path} (private key mode 0600)")

    db_path = settings.database_path
    existed = db_path.exists()
    try:
        with Store.open(db_path) as store:
            applied = store.migrate() if existed else store.applied_migrations()
    except DatabaseError as exc:
        raise Refused("database_error", str(exc), exit_code=3) from exc
    if existed and not applied:
        kept.append(f"ledger {db_path}")
    else:
        done.append(f"ledger {db_path}")

    if as_json:
        emit({"created": done, "unchanged": kept, "data_dir": str(settings.data_dir)})
        return
    for line in done:
        click.echo(f"created: {line}")
    for line in kept:
        click.echo(f"unchanged: {line}")
    if not done:
        click.echo("Nothing to do: this terminal is already initialised.")


@click.group("config")
def config_group() -> None:
    """Look at the configuration."""


@config_group.command("check")
@click.option("--show", is_flag=True, help="Also print the effective settings as TOML.")
@common_options
@pass_env
def config_check(env: CliEnv, show: bool) -> None:
    """Validate the config file, environment and options; name the file, key and fix on error."""
    settings, path = env.load()
    where = str(path) if path.exists() else f"{path} (not there: defaults)"
    key_path = settings.private_key_path
    if key_path.exists():
        try:
            check_private(key_path)
        except KeyFileError as exc:
            raise Refused("key_file", str(exc), exit_code=2) from exc
    click.echo(f"ok: {where}")
    if show:
        click.echo(render_toml(settings), nl=False)
