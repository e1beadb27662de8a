"""``pair`` and ``sync``: register with the city platform, and the nightly sync job.

``citie-terminal sync`` writes one JSON object per line on stdout (``sync_started``,
``resend_all``, ``backup``, ``retry_scheduled``, ``push_finished``, ``pull_finished``,
``warning`` and last ``sync_finished`` with the summary) and exits 0 when every event is
synced, 1 when some are quarantined, 2 when the platform could not be reached, answered
nonsense or another sync was running (events kept), 3 on an auth or configuration error.
Whatever else reaches stderr (log records, warnings, an unexpected error) is one JSON object
a line too, so the nightly job's ``>> citie-sync.jsonl 2>&1`` stays a JSON-lines file.
"""

from __future__ import annotations

import json
import logging
import sys
import traceback
from typing import Any, NoReturn

import click
import stamina

from loyalty.db import DatabaseError, Store, iso
from loyalty.ledger import Ledger
from receipts.text import clean
from sync.client import SyncError
from sync.job import EXIT_AUTH_OR_CONFIG, EXIT_UNREACHABLE, run_sync
from sync.outbox import RetryPolicy
from sync.pairing import pair_terminal
from terminal.cli_support import CliEnv, Refused, common_options, emit, pass_env
from terminal.commands.setup import ensure_private_key, open_store


def register(group: click.Group) -> None:
    """Add ``pair`` and ``sync`` to the program."""
    group.add_command(pair)
    group.add_command(sync)


@click.command()
@click.argument("url")
@click.argument("token")
@click.option("--json", "as_json", is_flag=True, help="Print what was done as JSON.")
@common_options
@pass_env
def pair(env: CliEnv, url: str, token: str, as_json: bool) -> None:
    """Register with the platform at URL using a one-time pairing TOKEN; pull keys and rules.

    The credential is stored 0600 in the data directory and never printed. The URL is
    written into config.toml, unless --config names a file you manage: then the command
    says what to set.
    """
    settings, config_path = env.load()
    ensure_private_key(env)
    store = open_store(env)
    try:
        result = pair_terminal(
            settings,
            store,
            url,
            token,
            config_path=config_path,
            config_is_managed=env.config is not None,
        )
    except SyncError as exc:
        raise Refused(exc.code, _pair_refusal(env, exc, url), EXIT_AUTH_OR_CONFIG) from exc
    except DatabaseError as exc:
        raise Refused("database_error", exc.text(env.language), EXIT_AUTH_OR_CONFIG) from exc
    finally:
        store.close()
    if as_json:
        emit(result.to_json())
        return
    say = env.say
    click.echo(
        say("cli.pair.done", terminal=result.terminal_id, shop=result.shop_id, url=result.url)
    )
    click.echo(say("cli.pair.credential", path=result.token_path))
    if result.config_written:
        click.echo(say("cli.pair.config_written", path=result.config_path))
    else:
        click.echo(say("cli.pair.to_set", path=result.config_path))
        for section, values in result.to_set.items():
            for key, value in values.items():
                click.echo(f'  [{section}] {key} = "{value}"')
    if result.pull is not None:
        pulled = result.pull
        click.echo(
            say(
                "cli.pair.pulled",
                version=pulled.trust_version,
                programs=pulled.programs,
                revoked=pulled.revoked,
            )
        )
    if result.pull_error:
        click.echo(say("cli.pair.pull_failed", detail=result.pull_error))


PAIR_REFUSALS = frozenset(
    {
        "unreachable",
        "timeout",
        "connection_lost",
        "server_error",
        "rate_limited",
        "unknown_pairing_token",
        "bad_pairing_token",
        "insecure_url",
        "proxy_unsupported",
        "tls_error",
        "no_key_pair",
    }
)
"""The pairing failures a shopkeeper meets, said in the shop's language (others: English)."""


def _pair_refusal(env: CliEnv, exc: SyncError, url: str) -> str:
    if exc.code not in PAIR_REFUSALS:
        return exc.message
    return env.say(f"cli.pair.refused.{exc.code}", url=clean(url.strip())[:200])


@click.command()
@click.option("--no-backup", is_flag=True, help="Skip the backup before syncing.")
@click.option(
    "--resend-all",
    is_flag=True,
    help="Mark every event pending again and send it (after the platform lost its data and "
    "the terminal was paired again; the platform answers `duplicate` for events it has).",
)
@click.option("--retry-initial", type=float, hidden=True, help="First backoff cap (tests).")
@click.option("--retry-max", type=float, hidden=True, help="Largest backoff cap (tests).")
@click.option(
    "--show-quarantined",
    is_flag=True,
    help="Do not sync: list the events the platform rejected, with its reasons (exit 1 if any).",
)
@common_options
@pass_env
def sync(
    env: CliEnv,
    no_backup: bool,
    resend_all: bool,
    retry_initial: float | None,
    retry_max: float | None,
    show_quarantined: bool,
) -> None:
    """The nightly job: backup, push pending events, pull updates, print a summary.

    One JSON object per line on stdout (and on stderr, if anything goes there). Exit status:
    0 all synced, 1 some quarantined, 2 platform unreachable or answering nonsense (events
    kept) or another sync running, 3 auth or config error.
    """
    _log_json()
    try:
        settings = env.settings
        store = open_store(env)
    except Refused as exc:
        emit(
            {
                "event": "sync_finished",
                "outcome": "config",
                "exit_code": EXIT_AUTH_OR_CONFIG,
                "code": exc.code,
                "message": exc.message,
            }
        )
        sys.exit(EXIT_AUTH_OR_CONFIG)
    if show_quarantined:
        _show_quarantined(env, store)
    defaults = RetryPolicy(budget=settings.sync.time_budget_seconds)
    policy = RetryPolicy(
        initial=retry_initial if retry_initial is not None else defaults.initial,
        maximum=retry_max if retry_max is not None else defaults.maximum,
        budget=defaults.budget,
    )
    try:
        report = run_sync(
            settings, store, log=emit, policy=policy, backup=not no_backup, resend=resend_all
        )
    except Exception as exc:
        # An error the run did not foresee still ends with a JSON summary, not a traceback.
        emit(
            {
                "event": "sync_finished",
                "outcome": "error",
                "exit_code": EXIT_UNREACHABLE,
                "code": "internal_error",
                "message": f"the sync stopped on an unexpected error ({type(exc).__name__}: "
                f"{str(exc)[:300]}); events stay pending. Report this with the traceback.",
                "traceback": traceback.format_exc(),
            }
        )
        sys.exit(EXIT_UNREACHABLE)
    finally:
        store.close()
    sys.exit(report.exit_code)


class _JsonLines(logging.Formatter):
    """A log record as one JSON object: level, logger, message and the record's extras."""

    _PLAIN = frozenset(logging.makeLogRecord({}).__dict__) | {"message", "asctime"}

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "event": record.getMessage(),
            "level": record.levelname.lower(),
            "logger": record.name,
        }
        for key, value in record.__dict__.items():
            if key not in self._PLAIN:
                line[key] = value
        if record.exc_info:
            line["traceback"] = self.formatException(record.exc_info)
        return json.dumps(line, ensure_ascii=True, default=repr)


def _log_json() -> None:
    """Route logging and warnings to stderr as JSON lines (the job's log is JSON lines)."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(_JsonLines())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(logging.WARNING)
    logging.captureWarnings(True)
    # The run logs each retry itself (``retry_scheduled`` with the real wait: the retrier
    # waits in its backoff hook, so stamina's own line would say 0 s).
    stamina.instrumentation.set_on_retry_hooks([])


def _show_quarantined(env: CliEnv, store: Store) -> NoReturn:
    """Print each quarantined event with the platform's reason; exit 1 if there is any."""
    settings = env.settings
    try:
        ledger = Ledger(store, shop_id=settings.shop.id, terminal_id=settings.terminal.id)
        held = ledger.quarantined()
    finally:
        store.close()
    for event, reason in held:
        emit(
            {
                "event": "quarantined",
                "id": event.id,
                "receipt_no": event.receipt_no,
                "kind": event.kind.value,
                "card_id": event.card_id,
                "occurred_at": iso(event.occurred_at),
                "reason": reason,
            }
        )
    sys.exit(1 if held else 0)
