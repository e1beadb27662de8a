"""``citie-platform``: run the reference city platform and administer it from the shell.

Every command takes ``--data-dir PATH`` (the platform's SQLite file and issuer keys; default a
``citie-platform`` user data folder). JSON output is one object a line; a refusal exits
non-zero with ``refused: <code>: <sentence>`` on stderr.
"""

from __future__ import annotations

import json
import socket
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import click
import platformdirs
import uvicorn
from pydantic import TypeAdapter, ValidationError

from loyalty.issuer import Issuer, IssuerError
from loyalty.programs import ProgramError, read_program_file
from receipts.cards import render_card_pdf, render_card_png
from sync.platform.app import create_app, quiet_drops
from sync.platform.faults import FaultConfig, Faults
from sync.platform.store import PlatformError, PlatformStore
from sync.protocol import Id

F = TypeVar("F", bound=Callable[..., Any])

DB_NAME = "platform.db"
ISSUER_DIR = "issuer"


class Refused(click.ClickException):
    """A command that cannot do what was asked: a reason code and a sentence."""

    def __init__(self, code: str, sentence: str, exit_code: int = 1) -> None:
        super().__init__(sentence)
        self.code = code
        self.exit_code = exit_code  # type: ignore[misc]  # click declares it ClassVar

    def show(self, file: Any = None) -> None:
        """Print ``refused: <code>: <sentence>`` on stderr."""
        click.echo(f"refused: {self.code}: {self.message}", err=True)


@dataclass
class PlatformEnv:
    """Options shared by every command."""

    data_dir: Path | None = None
    db: Path | None = None

    @property
    def folder(self) -> Path:
        """The platform's data directory."""
        return self.data_dir or Path(platformdirs.user_data_dir("citie-platform", appauthor=False))

    @property
    def db_path(self) -> Path:
        """The platform's SQLite file."""
        return self.db or self.folder / DB_NAME

    def store(self) -> PlatformStore:
        """Open (creating) the platform database."""
        try:
            return PlatformStore(self.db_path)
        except Exception as exc:
            raise Refused(
                "database_error",
                f"cannot open the platform database {self.db_path}: {exc}. "
                "Check the path and its permissions.",
            ) from exc


pass_env = click.make_pass_decorator(PlatformEnv, ensure=True)


def data_dir_option(fn: F) -> F:
    """``--data-dir`` on the group and on every command."""

    def remember(ctx: click.Context, _param: click.Parameter, value: Path | None) -> None:
        if value is not None:
            ctx.ensure_object(PlatformEnv).data_dir = value

    return click.option(
        "--data-dir",
        type=click.Path(path_type=Path, file_okay=False),
        expose_value=False,
        callback=remember,
        help="Platform data directory (database and issuer keys).",
    )(fn)


def emit(obj: Any) -> None:
    """One JSON object on one line of stdout."""
    sys.stdout.write(json.dumps(obj, ensure_ascii=False) + "\n")
    sys.stdout.flush()


def open_issuer(env: PlatformEnv) -> Issuer:
    """The card issuer (keys kept 0600 in the data directory), or a clear refusal."""
    try:
        return Issuer.open(env.folder / ISSUER_DIR)
    except IssuerError as exc:
        raise Refused("issuer_unusable", str(exc), exit_code=3) from exc


def trust_source(env: PlatformEnv) -> Callable[[], dict[str, Any] | None]:
    """A function giving the current trust list JSON (read again at each pull)."""

    def trust() -> dict[str, Any] | None:
        try:
            issuer = Issuer.open(env.folder / ISSUER_DIR)
        except IssuerError:
            return None  # the pull then carries no trust list; `keys export` says why
        data: dict[str, Any] = issuer.trust_list().to_json()
        return data

    return trust


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@data_dir_option
def cli() -> None:
    """The reference city platform: pairing, event batches, updates, cards and keys."""


@cli.command()
@click.option("--db", type=click.Path(path_type=Path, dir_okay=False), help="SQLite file.")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=8400, show_default=True, help="Port; 0 picks a free one.")
@click.option("--fail-rate", type=float, help="Share of requests answered 500.")
@click.option("--drop-after-commit-rate", type=float, help="Share of answers dropped after commit.")
@click.option("--slow-ms", type=int, help="Milliseconds to wait before each answer.")
@click.option("--rate-limit-every", type=int, help="Answer every Nth request with 429.")
@click.option("--retry-after", type=float, help="Seconds in Retry-After on 429 answers.")
@click.option("--seed", type=int, help="Random seed for the faults.")
@click.option(
    "--request-log",
    type=click.Path(path_type=Path, dir_okay=False),
    help="Append one JSON line per API request (arrival time, fault, status).",
)
@click.option("--fault-control", is_flag=True, help="Allow POST /_faults (tests only).")
@data_dir_option
@pass_env
def serve(
    env: PlatformEnv,
    db: Path | None,
    host: str,
    port: int,
    fail_rate: float | None,
    drop_after_commit_rate: float | None,
    slow_ms: int | None,
    rate_limit_every: int | None,
    retry_after: float | None,
    seed: int | None,
    request_log: Path | None,
    fault_control: bool,
) -> None:
    """Serve the sync API over HTTP and print the URL it listens on.

    Faults can also come from CITIE_PLATFORM_FAIL_RATE, ..._DROP_AFTER_COMMIT_RATE,
    ..._SLOW_MS, ..._RATE_LIMIT_EVERY, ..._RETRY_AFTER and ..._SEED.
    """
    env.db = db
    try:
        config = FaultConfig.from_env()
        for name, value in (
            ("fail_rate", fail_rate),
            ("drop_after_commit_rate", drop_after_commit_rate),
            ("slow_ms", slow_ms),
            ("rate_limit_every", rate_limit_every),
            ("retry_after", retry_after),
            ("seed", seed),
        ):
            if value is not None:
                setattr(config, name, value)
        config.check()
    except ValueError as exc:
        raise Refused("bad_faults", f"{exc}.", exit_code=2) from exc
    faulty = any(
        (config.fail_rate, config.drop_after_commit_rate, config.slow_ms, config.rate_limit_every)
    )
    store = env.store()
    faults = Faults(config, request_log) if faulty or request_log or fault_control else None
    app = create_app(store, trust_source(env), faults=faults, fault_control=fault_control)

    try:
        sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
    except OSError as exc:
        raise Refused(
            "cannot_listen", f"cannot listen on {host}:{port} ({exc.strerror}). Try another --port."
        ) from exc
    bound = sock.getsockname()[1]
    shown = f"[{host}]" if ":" in host else host
    click.echo(f"listening on http://{shown}:{bound}", err=False)
    sys.stdout.flush()
    quiet_drops()
    server = uvicorn.Server(
        uvicorn.Config(
            app,
            log_level="warning",
            http="h11",
            interface="asgi3",
            proxy_headers=False,
            lifespan="off",
            timeout_graceful_shutdown=2,
        )
    )
    try:
        server.run(sockets=[sock])
    finally:
        store.close()


@cli.group()
def terminal() -> None:
    """Terminals and their pairing tokens."""


@terminal.command("add")
@click.option("--shop", "shop_name", required=True, help="The shop's name.")
@click.option("--shop-id", help="The shop's id (default: made from the name).")
@click.option("--terminal-id", help="The terminal's id (default: <shop-id>-t<N>).")
@click.option("--url", default="", help="The platform URL to show in the pairing hint.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@data_dir_option
@pass_env
def terminal_add(
    env: PlatformEnv,
    shop_name: str,
    shop_id: str | None,
    terminal_id: str | None,
    url: str,
    as_json: bool,
) -> None:
    """Register a terminal and print its one-time pairing token."""
    for label, value in (("--shop-id", shop_id), ("--terminal-id", terminal_id)):
        if value is not None:
            try:
                TypeAdapter(Id).validate_python(value)
            except ValidationError as exc:
                raise Refused(
                    "bad_id",
                    f"{label} {value!r} is not a valid id (1-64 letters, digits, . _ : -).",
                ) from exc
    with env.store() as store:
        try:
            new = store.add_terminal(shop_name=shop_name, shop_id=shop_id, terminal_id=terminal_id)
        except PlatformError as exc:
            raise Refused(exc.code, exc.message) from exc
    hint = f"citie-terminal pair {url or 'URL'} {new.token}"
    if as_json:
        emit(
            {
                "terminal_id": new.terminal_id,
                "shop_id": new.shop_id,
                "token": new.token,
                "url": url or None,
                "hint": hint,
            }
        )
        return
    click.echo(f"terminal {new.terminal_id} of shop {new.shop_id}")
    click.echo(f"pairing token (shown once): {new.token}")
    click.echo(f"on the terminal, run: {hint}")


@cli.group()
def card() -> None:
    """Customer cards."""


@card.command("new")
@click.option(
    "--expires",
    "expires_days",
    type=click.IntRange(1, 3650),
    default=365,
    show_default=True,
    help="Days until the card expires.",
)
@click.option(
    "--png",
    "png_path",
    type=click.Path(path_type=Path, dir_okay=False),
    help="Also write a printable card (85.6 x 54 mm at 300 dpi) as PNG.",
)
@click.option(
    "--pdf",
    "pdf_path",
    type=click.Path(path_type=Path, dir_okay=False),
    help="Also write the printable card as a one-page PDF of card size.",
)
@click.option(
    "--language",
    type=click.Choice(["fr", "nl", "de", "en"]),
    default="nl",
    show_default=True,
    help="Language of the hint printed on the card.",
)
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@data_dir_option
@pass_env
def card_new(
    env: PlatformEnv,
    expires_days: int,
    png_path: Path | None,
    pdf_path: Path | None,
    language: str,
    as_json: bool,
) -> None:
    """Issue a new card and print its code; --png/--pdf also write a printable card."""
    card_id, code = issue_card(env, expires_days)
    written: dict[str, str] = {}
    if png_path is not None or pdf_path is not None:
        outputs = ((png_path, render_card_png), (pdf_path, render_card_pdf))
        for path, render in outputs:
            if path is None:
                continue
            try:
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_bytes(render(code, card_id, language=language))
            except OSError as exc:
                raise click.ClickException(
                    f"card {card_id} was issued, but {path} could not be written "
                    f"({exc.strerror}); choose another path and print it again."
                ) from exc
            written[path.suffix.lstrip(".") or "file"] = str(path)
    if as_json:
        emit({"card_id": card_id, "code": code, "expires_days": expires_days, **written})
    else:
        click.echo(code)
        for path_text in written.values():
            click.echo(f"written: {path_text}", err=True)


def issue_card(env: PlatformEnv, expires_days: int) -> tuple[str, str]:
    """Issue one card and record it; the single place card outputs (--png/--pdf) build on."""
    issuer = open_issuer(env)
    card_id, code = issuer.issue_card(expires_days=expires_days)
    with env.store() as store:
        store.add_card(card_id, expires_days)
    return str(card_id), str(code)


@card.command("revoke")
@click.argument("card_id")
@data_dir_option
@pass_env
def card_revoke(env: PlatformEnv, card_id: str) -> None:
    """Revoke a card: terminals refuse it after their next pull."""
    with env.store() as store:
        fresh = store.revoke(card_id.strip())
    click.echo(f"revoked: {card_id}" if fresh else f"unchanged: {card_id} was already revoked")


@cli.group()
def keys() -> None:
    """Issuer keys."""


@keys.command("export")
@data_dir_option
@pass_env
def keys_export(env: PlatformEnv) -> None:
    """Print the trust list (issuer public keys, versioned) as JSON."""
    emit(open_issuer(env).trust_list().to_json())


@keys.command("rotate")
@data_dir_option
@pass_env
def keys_rotate(env: PlatformEnv) -> None:
    """Add a new issuer key; the trust list version goes up."""
    issuer = open_issuer(env)
    issuer.rotate()
    emit(issuer.trust_list().to_json())


@cli.command("program")
@click.argument("shop_id")
@click.argument("program_file", type=click.Path(path_type=Path, dir_okay=False, exists=True))
@data_dir_option
@pass_env
def program_set(env: PlatformEnv, shop_id: str, program_file: Path) -> None:
    """Set a shop's program from a JSON file (sent to its terminals at their next pull).

    The file follows loyalty/program.schema.json; a file that does not is refused with the
    field and the fix. The shop's terminals use the program set last, whatever its id.
    """
    try:
        text = program_file.read_text(encoding="utf-8")
        read_program_file(text)
        body = json.loads(text)
    except ProgramError as exc:
        raise Refused("bad_program", f"{program_file}: {exc}") from exc
    except (ValueError, OSError) as exc:
        raise Refused("bad_program", f"{program_file} is not readable JSON ({exc}).") from exc
    with env.store() as store:
        store.set_program(shop_id, body["id"], body)
    click.echo(f"program {body['id']} set for shop {shop_id}")


@cli.command()
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@data_dir_option
@pass_env
def stats(env: PlatformEnv, as_json: bool) -> None:
    """Events, cards, terminals, duplicates seen and overdrafts."""
    with env.store() as store:
        figures = store.stats()
    if as_json:
        emit(figures)
        return
    width = max(len(k) for k in figures)
    for key, value in figures.items():
        click.echo(f"{key.replace('_', ' '):<{width}}  {value}")


def main() -> None:
    """Console-script entry point."""
    try:
        cli(prog_name="citie-platform")
    except IssuerError as exc:  # raised mid-command, e.g. a key file others can read
        click.echo(f"refused: issuer_unusable: {exc}", err=True)
        sys.exit(3)


if __name__ == "__main__":
    main()
