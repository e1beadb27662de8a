"""``citie-platform``: run the reference city platform and administer it from the shell.

Every command takes ``--data-dir PATH`` (the platform's SQLite file and issuer keys; default a
``citie-platform`` user data folder). JSON output is one object a line; a refusal exits
non-zero with ``refused: <code>: <sentence>`` on stderr.
"""

from __future__ import annotations

import getpass
import json
import os
import socket
import sys
import tomllib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import timedelta
from functools import partial
from pathlib import Path
from typing import Any, BinaryIO, TypeVar

import click
import platformdirs
from pydantic import TypeAdapter, ValidationError

from city import checks, fraud, statement
from city import vouchers as voucher_books
from city.app import Limits
from city.faults import FaultConfig
from city.issuer import Issuer, IssuerError
from city.roots import CityRoot, RootError
from city.serve import ENV_DB, ServeOptions, serving_lock
from city.serve import run as run_server
from city.sheets import write_sheet_pdf, write_voucher_sheet_pdf
from city.store import LIST_PAGE, PlatformError, PlatformStore, is_postgres, open_store, redact
from loyalty.money import AmountError, parse_amount
from loyalty.programs import ProgramError, read_program_file
from loyalty.vouchers import campaign_is_valid, voucher_number
from receipts.cards import render_card_pdf, render_card_png
from receipts.vouchers import render_voucher_file
from sync.protocol import Id

F = TypeVar("F", bound=Callable[..., Any])

DB_NAME = "platform.db"
DB_POINTER = "database.url"
"""A file in the data folder naming the database (``migrate`` writes it; keep it 0600)."""
ISSUER_DIR = "issuer"
MAX_NEW_CARDS = 100_000
"""Most cards one `card new --count` issues (a city's mailing is a few thousand)."""
MAX_NEW_VOUCHERS = 100_000
"""Most vouchers one `voucher new --count` issues."""


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
    db: str | None = None

    @property
    def folder(self) -> Path:
        """The platform's data directory."""
        return self.data_dir or Path(platformdirs.user_data_dir("citie-platform", appauthor=False))

    @property
    def db_target(self) -> str:
        """The database: ``--db``, else CITIE_PLATFORM_DB, else the URL in the data folder's
        ``database.url`` (written by ``migrate``), else platform.db in the data folder.

        A ``postgresql://`` URL is a PostgreSQL server; anything else is a SQLite file.
        """
        if self.db or os.environ.get(ENV_DB):
            return self.db or os.environ[ENV_DB]
        pointer = self.folder / DB_POINTER
        if pointer.is_file():
            lines = pointer.read_text(encoding="utf-8").split()
            if lines:
                return lines[0]
        return str(self.folder / DB_NAME)

    @property
    def db_path(self) -> Path:
        """The platform's SQLite file (when the database is one)."""
        return Path(self.db_target)

    def store(self) -> PlatformStore:
        """Open (creating, migrating) the platform database."""
        target = self.db_target
        skew = max_clock_skew(self.folder)
        rules = fraud_settings(self.folder)
        try:
            store = open_store(target)
        except Exception as exc:
            shown = redact(target)
            hint = (
                "Check the URL, that the server runs, and the role's rights."
                if is_postgres(target)
                else "Check the path and its permissions."
            )
            raise Refused(
                "database_error", f"cannot open the platform database {shown}: {exc}. {hint}"
            ) from exc
        store.max_clock_skew = skew
        store.fraud_settings = rules
        return store


ENV_MAX_CLOCK_SKEW = "CITIE_PLATFORM_MAX_CLOCK_SKEW_HOURS"
CONFIG_NAME = "platform.toml"


def max_clock_skew(folder: Path) -> timedelta:
    """How far from its arrival an event may be dated before it is flagged ``clock_skew``:
    CITIE_PLATFORM_MAX_CLOCK_SKEW_HOURS (``serve --max-clock-skew-hours`` sets it), else
    ``[platform] max_clock_skew_hours`` in the data folder's platform.toml, else 48 hours."""
    raw: object = os.environ.get(ENV_MAX_CLOCK_SKEW)
    where = ENV_MAX_CLOCK_SKEW
    path = folder / CONFIG_NAME
    if raw is None and path.is_file():
        try:
            section = tomllib.loads(path.read_text(encoding="utf-8")).get("platform", {})
        except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
            raise Refused("bad_config", f"cannot read {path}: {exc}.", exit_code=2) from exc
        raw = section.get("max_clock_skew_hours") if isinstance(section, dict) else None
        where = f"[platform] max_clock_skew_hours in {path}"
    if raw is None:
        return checks.DEFAULT_MAX_CLOCK_SKEW
    try:
        hours = float(str(raw))
    except ValueError:
        hours = -1.0
    if not 0 < hours <= 24 * 366:
        raise Refused(
            "bad_config",
            f"{where} must be a number of hours above 0 and at most a year, not {str(raw)[:40]!r}.",
            exit_code=2,
        )
    return timedelta(hours=hours)


def fraud_env(name: str) -> str:
    """The environment variable of a fraud threshold (``serve`` options set them)."""
    return f"CITIE_PLATFORM_{name.upper()}"


def fraud_settings(folder: Path) -> fraud.FraudSettings:
    """The fraud thresholds (``city.fraud``): each from CITIE_PLATFORM_<NAME>, else
    ``[platform] <name>`` in the data folder's platform.toml, else its default."""
    path = folder / CONFIG_NAME
    section: object = {}
    if path.is_file():
        try:
            section = tomllib.loads(path.read_text(encoding="utf-8")).get("platform", {})
        except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
            raise Refused("bad_config", f"cannot read {path}: {exc}.", exit_code=2) from exc
    values: dict[str, tuple[object, str]] = {}
    for name in fraud.SETTING_NAMES:
        if (raw := os.environ.get(fraud_env(name))) is not None:
            values[name] = (raw, fraud_env(name))
        elif isinstance(section, dict) and name in section:
            values[name] = (section[name], f"[platform] {name} in {path}")
    try:
        return fraud.settings_from(values)
    except fraud.FraudConfigError as exc:
        raise Refused("bad_config", f"{exc}.", exit_code=2) from exc


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
    """A function giving the current signed trust list JSON at each pull.

    Signed again only when ``issuer.json`` or ``root.json`` changed (a rotation by another
    process), so thousands of pulls do not each read key files and sign.
    """
    folder = env.folder / ISSUER_DIR
    cache: dict[str, Any] = {}

    def trust() -> dict[str, Any] | None:
        try:
            stamp: object = tuple(
                (folder / name).stat().st_mtime_ns for name in ("issuer.json", "root.json")
            )
        except OSError:
            stamp = None  # not made yet: open() below makes them
        if stamp is not None and cache.get("stamp") == stamp:
            data: dict[str, Any] = cache["data"]
            return data
        try:
            data = signed_trust_json(Issuer.open(folder), CityRoot.open(folder))
        except (IssuerError, RootError):
            return None  # the pull then carries no trust list; `keys export` says why
        cache.update(stamp=stamp, data=data)
        return data

    return trust


def signed_trust_json(issuer: Issuer, root: CityRoot) -> dict[str, Any]:
    """The issuer's trust list signed by the city root (``citie-trust/2``), as JSON."""
    return root.sign(issuer.trust_list()).to_json()


def open_root(env: PlatformEnv) -> CityRoot:
    """The city root key (kept 0600 beside the issuer keys), or a clear refusal."""
    try:
        return CityRoot.open(env.folder / ISSUER_DIR)
    except RootError as exc:
        raise Refused("root_unusable", str(exc), exit_code=3) from exc


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@data_dir_option
def cli() -> None:
    """The reference city platform: pairing, event batches, updates, cards and keys."""


@cli.command()
@click.option(
    "--db",
    help="A SQLite file or a postgresql:// URL (default: CITIE_PLATFORM_DB, else "
    "platform.db in the data directory).",
)
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=8400, show_default=True, help="Port; 0 picks a free one.")
@click.option(
    "--workers",
    type=click.IntRange(1, 64),
    default=1,
    show_default=True,
    help="Worker processes. PostgreSQL serves them all at once; with SQLite they read in "
    "parallel but write one at a time.",
)
@click.option(
    "--max-clock-skew-hours",
    type=click.FloatRange(0.01, 24 * 366),
    help="Flag events dated further than this from their arrival (default: "
    "[platform] max_clock_skew_hours in platform.toml, else 48).",
)
@click.option(
    "--velocity-shops",
    type=click.IntRange(1, 1000),
    help="Flag a card stamped at more than this many shops within --velocity-minutes "
    "(default: [platform] velocity_shops, else 2).",
)
@click.option(
    "--velocity-minutes",
    type=click.IntRange(1, 7 * 24 * 60),
    help="The velocity window (default: [platform] velocity_minutes, else 30).",
)
@click.option(
    "--max-daily-stamps-city",
    type=click.IntRange(1, 1_000_000),
    help="Flag a card given more stamps than this in one day across the city "
    "(default: [platform] max_daily_stamps_city, else 20).",
)
@click.option(
    "--max-void-share",
    type=click.FloatRange(0, 1),
    help="Flag a staff member whose voids in a day pass this share of their events "
    "(default: [platform] max_void_share, else 0.2).",
)
@click.option(
    "--min-void-events",
    type=click.IntRange(1, 1_000_000),
    help="Events a staff member records in a day before the void share counts "
    "(default: [platform] min_void_events, else 10).",
)
@click.option(
    "--max-in-flight",
    type=click.IntRange(1, 100_000),
    default=64,
    show_default=True,
    help="Requests one worker serves at once; more are answered 429 with Retry-After.",
)
@click.option(
    "--header-timeout",
    type=click.FloatRange(0.1, 600),
    default=10.0,
    show_default=True,
    help="Seconds a client may take to send a request's headers.",
)
@click.option(
    "--body-timeout",
    type=click.FloatRange(0.1, 600),
    default=30.0,
    show_default=True,
    help="Seconds a request body may take to arrive (408 after).",
)
@click.option(
    "--forwarded-allow-ips",
    help="Addresses of the reverse proxies whose X-Forwarded-For is believed (comma-separated; "
    "default: FORWARDED_ALLOW_IPS, else 127.0.0.1).",
)
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
    db: str | None,
    host: str,
    port: int,
    workers: int,
    max_clock_skew_hours: float | None,
    velocity_shops: int | None,
    velocity_minutes: int | None,
    max_daily_stamps_city: int | None,
    max_void_share: float | None,
    min_void_events: int | None,
    max_in_flight: int,
    header_timeout: float,
    body_timeout: float,
    forwarded_allow_ips: str | None,
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
    if db is not None:
        env.db = db
    if max_clock_skew_hours is not None:
        os.environ[ENV_MAX_CLOCK_SKEW] = str(max_clock_skew_hours)  # workers inherit it
    for name, value in (
        ("velocity_shops", velocity_shops),
        ("velocity_minutes", velocity_minutes),
        ("max_daily_stamps_city", max_daily_stamps_city),
        ("max_void_share", max_void_share),
        ("min_void_events", min_void_events),
    ):
        if value is not None:
            os.environ[fraud_env(name)] = str(value)  # workers inherit them
    max_clock_skew(env.folder)  # a bad setting is refused before the port is taken
    fraud_settings(env.folder)
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
    env.store().close()  # open once here: a bad URL or path is refused before listening
    options = ServeOptions(
        db=env.db_target,
        data_dir=env.folder,
        faults=config,
        request_log=request_log,
        fault_control=fault_control,
        limits=Limits(max_in_flight=max_in_flight, body_timeout=body_timeout),
        header_timeout=header_timeout,
    )
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
    if is_postgres(options.db):
        run_server(options, sock, workers=workers)
        return
    # Shared with other serves of the file; `migrate` waits for none and refuses instead.
    with serving_lock(Path(options.db), exclusive=False):
        run_server(options, sock, workers=workers)


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


@terminal.command("list")
@click.option("--after", default="", help="Start after this terminal id (the next page).")
@click.option("--limit", type=click.IntRange(1, None), help="Most terminals to list.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON, one terminal a line.")
@data_dir_option
@pass_env
def terminal_list(env: PlatformEnv, after: str, limit: int | None, as_json: bool) -> None:
    """The registered terminals by id: shop, paired or not, last call."""
    with env.store() as store:
        for row in _pages(store.list_terminals, after, limit, "terminal_id"):
            if as_json:
                emit(row)
            else:
                state = "paired" if row["paired"] else "not paired"
                seen = row["last_seen_at"] or "never"
                click.echo(f"{row['terminal_id']}  shop {row['shop_id']}  {state}  seen {seen}")


@terminal.command("remove")
@click.argument("terminal_id")
@data_dir_option
@pass_env
def terminal_remove(env: PlatformEnv, terminal_id: str) -> None:
    """Withdraw a terminal's credential and pairing token; its events stay on the books.

    `terminal add` with the same id gives it a new pairing token later.
    """
    with env.store() as store:
        removed = store.remove_terminal(terminal_id.strip())
    if not removed:
        raise Refused(
            "unknown_terminal",
            f"there is no terminal {terminal_id!r}; `citie-platform terminal list` shows them.",
        )
    click.echo(f"removed: terminal {terminal_id} can no longer sync (its events are kept)")


@cli.group()
def card() -> None:
    """Customer cards."""


@card.command("new")
@click.option(
    "--count",
    type=click.IntRange(1, MAX_NEW_CARDS),
    default=1,
    show_default=True,
    help="How many cards to issue (a city's mailing).",
)
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
    help="Also write a printable card (85.6 x 54 mm at 300 dpi) as PNG (one card only).",
)
@click.option(
    "--pdf",
    "pdf_path",
    type=click.Path(path_type=Path, dir_okay=False),
    help="Also write the printable card as a PDF of card size; with --count, A4 sheets of ten.",
)
@click.option(
    "--language",
    type=click.Choice(["fr", "nl", "de", "en"]),
    default="nl",
    show_default=True,
    help="Language of the hint printed on the card.",
)
@click.option("--json", "as_json", is_flag=True, help="Print JSON, one card a line.")
@data_dir_option
@pass_env
def card_new(
    env: PlatformEnv,
    count: int,
    expires_days: int,
    png_path: Path | None,
    pdf_path: Path | None,
    language: str,
    as_json: bool,
) -> None:
    """Issue cards and print their codes; --png/--pdf also write printable cards."""
    if count > 1 and png_path is not None:
        raise Refused(
            "png_one_card",
            "--png writes one card; for several cards use --pdf, which writes A4 sheets.",
        )
    cards = issue_cards(env, expires_days, count)
    written: dict[str, str] = {}
    first_id, first_code = cards[0]
    # Sheets are written a page at a time: a mailing's PDF never sits whole in memory.
    outputs: list[tuple[Path | None, Callable[[BinaryIO], object]]] = [
        (png_path, lambda out: out.write(render_card_png(first_code, first_id, language=language))),
        (
            pdf_path,
            lambda out: (
                out.write(render_card_pdf(first_code, first_id, language=language))
                if count == 1
                else write_sheet_pdf(cards, out, language=language)
            ),
        ),
    ]
    for path, render in outputs:
        if path is None:
            continue
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            with path.open("wb") as out:
                render(out)
        except OSError as exc:
            issued = cards[0][0] if count == 1 else f"{count} cards"
            raise click.ClickException(
                f"card {issued} was issued, but {path} could not be written "
                f"({exc.strerror}); choose another path and print it again."
            ) from exc
        written[path.suffix.lstrip(".") or "file"] = str(path)
    for card_id, code in cards:
        if as_json:
            emit(
                {"card_id": card_id, "code": code, "expires_days": expires_days}
                | (written if count == 1 else {})
            )
        else:
            click.echo(code)
    if as_json and count > 1 and written:
        emit({"cards": count, **written})
    elif not as_json:
        for path_text in written.values():
            click.echo(f"written: {path_text}", err=True)


def issue_card(env: PlatformEnv, expires_days: int) -> tuple[str, str]:
    """Issue one card and record it; the single place card outputs (--png/--pdf) build on."""
    return issue_cards(env, expires_days, 1)[0]


def issue_cards(env: PlatformEnv, expires_days: int, count: int) -> list[tuple[str, str]]:
    """Issue ``count`` cards and record them in one transaction: (card id, code) pairs."""
    issuer = open_issuer(env)
    cards = [issuer.issue_card(expires_days=expires_days) for _ in range(count)]
    with env.store() as store:
        store.add_cards([card_id for card_id, _ in cards], expires_days)
    return [(str(card_id), str(code)) for card_id, code in cards]


@card.command("revoke")
@click.argument("card_ids", nargs=-1)
@click.option(
    "--from",
    "from_file",
    type=click.File("r", encoding="utf-8"),
    help="A file of card ids, one a line ('-' reads standard input; # starts a comment).",
)
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@data_dir_option
@pass_env
def card_revoke(env: PlatformEnv, card_ids: tuple[str, ...], from_file: Any, as_json: bool) -> None:
    """Revoke cards: terminals refuse them after their next pull.

    Ids this platform never issued are refused (all listed, exit 1) and nothing is revoked.
    """
    wanted = [c.strip() for c in card_ids if c.strip()]
    if from_file is not None:
        for line in from_file:
            text = line.split("#", 1)[0].strip()
            if text:
                wanted.append(text)
    if not wanted:
        raise Refused("no_cards", "name the cards to revoke: card revoke ID... or --from FILE.")
    wanted = list(dict.fromkeys(wanted))
    with env.store() as store:
        unknown = store.unknown_cards(wanted)
        if unknown:
            if as_json:  # every id, for the script that made the list
                emit({"revoked": 0, "unknown": unknown})
            shown = ", ".join(unknown[:20]) + (
                f" (+{len(unknown) - 20} more; --json lists them all)" if len(unknown) > 20 else ""
            )
            raise Refused(
                "unknown_cards",
                f"{len(unknown)} of {len(wanted)} card id(s) were never issued by this platform: "
                f"{shown}. Nothing was revoked; check the ids and try again.",
            )
        fresh = store.revoke_many(wanted)
    if as_json:
        emit({"revoked": fresh, "already_revoked": len(wanted) - fresh})
        return
    if len(wanted) == 1:
        card_id = wanted[0]
        click.echo(f"revoked: {card_id}" if fresh else f"unchanged: {card_id} was already revoked")
        return
    click.echo(f"revoked: {fresh} card(s); {len(wanted) - fresh} were already revoked")


@card.command("list")
@click.option("--after", default="", help="Start after this card id (the next page).")
@click.option(
    "--limit",
    type=click.IntRange(1, None),
    help="Most cards to list (default: all, read a page at a time).",
)
@click.option("--json", "as_json", is_flag=True, help="Print JSON, one card a line.")
@data_dir_option
@pass_env
def card_list(env: PlatformEnv, after: str, limit: int | None, as_json: bool) -> None:
    """The issued cards by id, with their issue date and revocation."""
    with env.store() as store:
        for row in _pages(store.list_cards, after, limit, "card_id"):
            if as_json:
                emit(row)
            else:
                state = f"revoked {row['revoked_at']}" if row["revoked_at"] else "active"
                click.echo(f"{row['card_id']}  issued {row['issued_at']}  {state}")


def _pages(
    fetch: Callable[[str, int], list[dict[str, Any]]],
    after: str,
    limit: int | None,
    key: str,
) -> Iterator[dict[str, Any]]:
    """Rows from a paged store listing, a page at a time, up to ``limit``."""
    shown = 0
    while limit is None or shown < limit:
        size = LIST_PAGE if limit is None else min(LIST_PAGE, limit - shown)
        page = fetch(after, size)
        yield from page
        shown += len(page)
        if len(page) < size:
            return
        after = str(page[-1][key])


@cli.group()
def keys() -> None:
    """Issuer keys."""


@keys.command("export")
@data_dir_option
@pass_env
def keys_export(env: PlatformEnv) -> None:
    """Print the trust list (issuer public keys, versioned, signed by the city root) as JSON."""
    emit(signed_trust_json(open_issuer(env), open_root(env)))


@keys.command("rotate")
@data_dir_option
@pass_env
def keys_rotate(env: PlatformEnv) -> None:
    """Add a new issuer key; the trust list version goes up."""
    issuer = open_issuer(env)
    issuer.rotate()
    emit(signed_trust_json(issuer, open_root(env)))


@keys.command("rotate-root")
@data_dir_option
@pass_env
def keys_rotate_root(env: PlatformEnv) -> None:
    """Make a new city root key, announced by the current one; print the signed list.

    Terminals pinned to the old root follow the announcement at their next pull; the old
    root's private key file can then be moved off the server.
    """
    root = open_root(env)
    old = root.current.kid
    try:
        new = root.rotate()
    except RootError as exc:
        raise Refused("root_unusable", str(exc), exit_code=3) from exc
    click.echo(f"city root {old} -> {new.kid}", err=True)
    emit(signed_trust_json(open_issuer(env), root))


class _ProgramGroup(click.Group):
    """``program SHOP FILE`` still sets a program; ``program list`` and ``program set`` too."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        if args and args[0] not in self.commands and args[0] not in ("-h", "--help"):
            args = ["set", *args]
        return super().parse_args(ctx, args)


@cli.group("program", cls=_ProgramGroup)
def program() -> None:
    """Shops' programs: `program SHOP FILE` sets one, `program list` shows them."""


@program.command("set")
@click.argument("shop_id")
@click.argument("program_file", type=click.Path(path_type=Path, dir_okay=False, exists=True))
@data_dir_option
@pass_env
def program_set(env: PlatformEnv, shop_id: str, program_file: Path) -> None:
    """Set a shop's program from a JSON file (sent to its terminals at their next pull)."""
    try:
        text = program_file.read_text(encoding="utf-8")
        read_program_file(text)  # loyalty/program.schema.json: names the field and the fix
        body = json.loads(text)
    except ProgramError as exc:
        raise Refused("bad_program", f"{program_file}: {exc}") from exc
    except (ValueError, OSError) as exc:
        raise Refused("bad_program", f"{program_file} is not readable JSON ({exc}).") from exc
    with env.store() as store:
        if not store.shop_exists(shop_id):
            raise Refused(
                "unknown_shop",
                f"there is no shop {shop_id!r} on this platform; register it with "
                "`citie-platform terminal add --shop NAME --shop-id ID` first.",
            )
        store.set_program(shop_id, body["id"], body)
    click.echo(f"program {body['id']} set for shop {shop_id}")


@program.command("list")
@click.option("--shop", "shop_id", help="Only this shop's programs.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON, one program a line.")
@data_dir_option
@pass_env
def program_list(env: PlatformEnv, shop_id: str | None, as_json: bool) -> None:
    """The programs in force, by shop."""
    with env.store() as store:
        if shop_id is not None and not store.shop_exists(shop_id):
            raise Refused("unknown_shop", f"there is no shop {shop_id!r} on this platform.")
        rows = store.list_programs(shop_id)
    for row in rows:
        if as_json:
            emit(row)
        else:
            body = row["body"]
            reward, most = body.get("reward_threshold", "?"), body.get("max_stamps_per_day", "?")
            click.echo(
                f"{row['shop_id']}  {row['program_id']}  reward {reward} stamps  "
                f"max {most}/day  version {row['version']}"
            )


class _FlagsGroup(click.Group):
    """``flags [--json]`` still lists; ``flags list`` and ``flags clear`` too (after any
    ``--data-dir PATH`` given first)."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        lead = 0
        while lead < len(args) and args[lead].split("=", 1)[0] == "--data-dir":
            lead += 1 if "=" in args[lead] else 2
        rest = args[lead:]
        if not rest or (rest[0] not in self.commands and rest[0] not in ("-h", "--help")):
            args = [*args[:lead], "list", *rest]
        return super().parse_args(ctx, args)


@cli.group("flags", cls=_FlagsGroup)
@data_dir_option
def flags() -> None:
    """Flagged events, cards and staff days: `flags [--json]` lists them, `flags clear
    CARD_ID...` clears cards an operator checked and found fine."""


@flags.command("list")
@click.option("--after", type=click.IntRange(0, None), default=0, help="Start after this pseq.")
@click.option("--limit", type=click.IntRange(1, None), help="Most events to list.")
@click.option(
    "--all", "show_all", is_flag=True, help="List cleared card flags too (who, when and why)."
)
@click.option("--json", "as_json", is_flag=True, help="Print JSON, one event a line.")
@data_dir_option
@pass_env
def flags_list(
    env: PlatformEnv, after: int, limit: int | None, show_all: bool, as_json: bool
) -> None:
    """Events kept but flagged: overdraft, daily_limit (across the shop's terminals),
    clock_skew (dated far from their arrival), velocity and city_daily_limit (across the
    city), oldest first, a page at a time (--after, --limit); then every flagged card (sent
    to the terminals as a warning; cleared ones only with --all) and every staff member's day
    whose voids passed max_void_share (JSON lines with "card_flag" or "staff_flag": true)."""
    with env.store() as store:
        rows = _pages(
            lambda last, size: store.list_flagged(int(last), size), str(after), limit, "pseq"
        )
        for row in rows:
            if as_json:
                emit(row)
            else:
                cents = int(row.get("amount_cents") or 0)
                what = (
                    f"voucher {row['voucher_id']} {statement.cents_text(cents, '').strip()}"
                    if row.get("voucher_id")
                    else f"card {row['card_id'] or '-'}"
                )
                click.echo(
                    f"{row['pseq']}  {','.join(row['flags'])}  {row['kind']} {row['stamps']:+d}  "
                    f"{what}  terminal {row['terminal_id']}  "
                    f"at {row['occurred_at']} (received {row['received_at']})"
                )
        for card in _pages(
            lambda last, size: store.list_card_flags(int(last), size, cleared=show_all),
            "0",
            None,
            "version",
        ):
            if as_json:
                emit({"card_flag": True, **card})
            else:
                cleared = (
                    f"  cleared {card['cleared_at']} by {card['cleared_by'] or '?'}"
                    + (f": {card['cleared_why']}" if card["cleared_why"] else "")
                    if card["cleared"]
                    else ""
                )
                click.echo(
                    f"card {card['card_id']}  {','.join(card['reasons'])}  "
                    f"since {card['first_at']} (last {card['last_at']}){cleared}"
                )
        for day in _staff_flag_pages(store):
            if as_json:
                emit({"staff_flag": True, "reason": fraud.VOID_SHARE, **day})
            else:
                click.echo(
                    f"staff {day['staff_id'] or '(none)'}  terminal {day['terminal_id']}  "
                    f"{day['day']}  void_share {day['voids']}/{day['events']} voids"
                )


@flags.command("clear")
@click.argument("card_ids", nargs=-1)
@click.option("--reason", "why", default="", help="Why the flag is cleared (kept with it).")
@click.option("--by", help="Who clears it (default: the login name).")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@data_dir_option
@pass_env
def flags_clear(
    env: PlatformEnv, card_ids: tuple[str, ...], why: str, by: str | None, as_json: bool
) -> None:
    """Clear cards' flags after checking them (a family sharing a card, a test card):
    terminals drop the warning at their next pull; new suspicious events flag them again.

    Ids without a flag in force are refused (all listed, exit 1) and nothing is cleared.
    """
    wanted = list(dict.fromkeys(c.strip() for c in card_ids if c.strip()))
    if not wanted:
        raise Refused("no_cards", "name the cards to clear: flags clear CARD_ID...")
    with env.store() as store:
        done = store.clear_card_flags(wanted, by=by or _login_name(), why=why)
    if done.unflagged:
        if as_json:
            emit({"cleared": 0, "unknown": done.unflagged})
        shown = ", ".join(done.unflagged[:20]) + (
            f" (+{len(done.unflagged) - 20} more; --json lists them all)"
            if len(done.unflagged) > 20
            else ""
        )
        raise Refused(
            "unknown_flag",
            f"{len(done.unflagged)} of {len(wanted)} card id(s) have no flag in force: {shown}. "
            "Nothing was cleared; `citie-platform flags` lists the flagged cards.",
        )
    if as_json:
        emit({"cleared": len(done.cleared), "card_ids": done.cleared})
        return
    for card_id in done.cleared:
        click.echo(f"cleared: {card_id}")
    click.echo("terminals drop the warning at their next sync", err=True)


def _login_name() -> str:
    try:
        return getpass.getuser()
    except (OSError, KeyError):  # no login name in some containers
        return "unknown"


def _staff_flag_pages(store: PlatformStore) -> Iterator[dict[str, Any]]:
    after = ("", "", "")
    while page := store.list_staff_flags(after):
        yield from page
        if len(page) < LIST_PAGE:
            return
        last = page[-1]
        after = (last["day"], last["terminal_id"], last["staff_id"] or "")


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


@cli.group()
def voucher() -> None:
    """City vouchers: issue, revoke, and the books (summary); `statement` is a shop's payout."""


def parse_face(text: str) -> int:
    """``--amount`` in cents (``25,00``, ``25.00``, ``€ 25``), or a refusal naming why not."""
    try:
        return parse_amount(text)
    except AmountError as exc:
        raise Refused(
            "bad_amount", f"--amount {text[:40]!r} ({exc.reason.value}): {exc.text('en')}"
        ) from exc


@voucher.command("new")
@click.option("--amount", required=True, help="The face value, e.g. 25,00 (cents after , or .).")
@click.option(
    "--count",
    type=click.IntRange(1, MAX_NEW_VOUCHERS),
    default=1,
    show_default=True,
    help="How many vouchers to issue (a city's mailing).",
)
@click.option(
    "--expires",
    "expires_days",
    type=click.IntRange(1, 3650),
    default=365,
    show_default=True,
    help="Days until the vouchers expire.",
)
@click.option("--campaign", default="", help="The campaign they belong to (the summary's lines).")
@click.option("--city", help="The issuing city's short name (default: the issuer's name).")
@click.option(
    "--png",
    "png_path",
    type=click.Path(path_type=Path, dir_okay=False),
    help="Also write the printable voucher (85.6 x 54 mm at 300 dpi) as PNG (one voucher only).",
)
@click.option(
    "--pdf",
    "pdf_path",
    type=click.Path(path_type=Path, dir_okay=False),
    help="Also write it as a PDF of card size; with --count, A4 sheets of ten for a mailing.",
)
@click.option(
    "--language",
    type=click.Choice(["fr", "nl", "de", "en"]),
    default="nl",
    show_default=True,
    help="Language of the words printed on the voucher.",
)
@click.option("--json", "as_json", is_flag=True, help="Print JSON, one voucher a line.")
@data_dir_option
@pass_env
def voucher_new(
    env: PlatformEnv,
    amount: str,
    count: int,
    expires_days: int,
    campaign: str,
    city: str | None,
    png_path: Path | None,
    pdf_path: Path | None,
    language: str,
    as_json: bool,
) -> None:
    """Issue city vouchers and print their codes (the last line); --png/--pdf print them."""
    face = parse_face(amount)
    if count > 1 and png_path is not None:
        raise Refused(
            "png_one_voucher",
            "--png writes one voucher; for several use --pdf, which writes A4 sheets.",
        )
    if not campaign_is_valid(campaign) or len(campaign) > voucher_books.MAX_CAMPAIGN:
        raise Refused(
            "bad_campaign",
            f"--campaign {campaign[:40]!r} must be at most {voucher_books.MAX_CAMPAIGN} "
            "printable characters, without spaces at the ends.",
        )
    issuer = open_issuer(env)
    try:
        made = [
            issuer.issue_voucher(
                face,
                city=city or issuer.issuer,
                campaign=campaign,
                expires_days=expires_days,
            )
            for _ in range(count)
        ]
    except ValueError as exc:
        raise Refused("bad_voucher", f"{exc}.") from exc
    with env.store() as store:
        store.add_vouchers([v for v, _ in made])
    first, first_code = made[0]

    outputs: list[tuple[Path | None, Callable[[BinaryIO], object]]] = [
        (
            png_path,
            lambda out: out.write(
                render_voucher_file(first_code, first, kind="png", language=language)
            ),
        ),
        (
            pdf_path,
            lambda out: (
                out.write(render_voucher_file(first_code, first, kind="pdf", language=language))
                if count == 1
                else write_voucher_sheet_pdf(
                    [
                        (
                            v.voucher_id,
                            code,
                            v.face_cents,
                            v.currency,
                            v.expires_at,
                            v.city,
                            v.campaign,
                        )
                        for v, code in made
                    ],
                    out,
                    language=language,
                )
            ),
        ),
    ]
    written: dict[str, str] = {}
    for path, render in outputs:
        if path is None:
            continue
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            with path.open("wb") as out:
                render(out)
        except OSError as exc:
            issued = first.voucher_id if count == 1 else f"{count} vouchers"
            raise Refused(
                "not_written",
                f"voucher {issued} was issued, but {path} could not be written "
                f"({exc.strerror}); choose another path and print it again.",
            ) from exc
        written[path.suffix.lstrip(".") or "file"] = str(path)
    for issued_voucher, code in made:
        if as_json:
            emit(issued_voucher.to_json() | {"code": code} | (written if count == 1 else {}))
        else:
            click.echo(code)
    if as_json and count > 1 and written:
        emit({"vouchers": count, **written})
    elif not as_json:
        for path_text in written.values():
            click.echo(f"written: {path_text}", err=True)


@voucher.command("revoke")
@click.argument("voucher_ids", nargs=-1)
@click.option(
    "--from",
    "from_file",
    type=click.File("r", encoding="utf-8"),
    help="A file of voucher ids, one a line ('-' reads standard input; # starts a comment).",
)
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@data_dir_option
@pass_env
def voucher_revoke(
    env: PlatformEnv, voucher_ids: tuple[str, ...], from_file: Any, as_json: bool
) -> None:
    """Revoke vouchers: terminals refuse them after their next pull; spends already made
    offline still arrive, kept and flagged voucher_revoked.

    Ids this platform never issued are refused (all listed, exit 1) and nothing is revoked.
    """
    typed = [v.strip() for v in voucher_ids if v.strip()]
    if from_file is not None:
        for line in from_file:
            text = line.split("#", 1)[0].strip()
            if text:
                typed.append(text)
    if not typed:
        raise Refused(
            "no_vouchers", "name the vouchers to revoke: voucher revoke ID... or --from FILE."
        )
    # A typed id in any case, with spaces or dashes, is the voucher it names.
    wanted = list(dict.fromkeys(voucher_number(v) or v for v in typed))
    with env.store() as store:
        unknown = store.unknown_vouchers(wanted)
        if unknown:
            if as_json:
                emit({"revoked": 0, "unknown": unknown})
            shown = ", ".join(repr(u[:40]) for u in unknown[:20]) + (
                f" (+{len(unknown) - 20} more; --json lists them all)" if len(unknown) > 20 else ""
            )
            raise Refused(
                "unknown_vouchers",
                f"{len(unknown)} of {len(wanted)} voucher id(s) were never issued by this "
                f"platform: {shown}. Nothing was revoked; check the ids and try again.",
            )
        fresh = store.revoke_vouchers(wanted)
    if as_json:
        emit({"revoked": fresh, "already_revoked": len(wanted) - fresh})
    elif len(wanted) == 1:
        click.echo(
            f"revoked: {wanted[0]}" if fresh else f"unchanged: {wanted[0]} was already revoked"
        )
    else:
        click.echo(f"revoked: {fresh} voucher(s); {len(wanted) - fresh} were already revoked")


@voucher.command("summary")
@click.option(
    "--json", "as_json", is_flag=True, help="Print JSON, one campaign a line, then the total."
)
@data_dir_option
@pass_env
def voucher_summary(env: PlatformEnv, as_json: bool) -> None:
    """The city's voucher books per campaign and in total: issued, spent, voided, expired
    (unspent value of expired vouchers), revoked (unspent value), overspent (spent beyond the
    face value) and outstanding (the city's liability), all from the stored events."""
    with env.store() as store:
        figures = store.voucher_summary()
    if as_json:
        for line in figures:
            emit(line.to_json())
        return
    names = ("issued", "spent", "voided", "expired", "revoked", "overspent", "outstanding")
    click.echo(f"{'campaign':<24} {'vouchers':>8} " + " ".join(f"{n:>14}" for n in names))
    for line in figures:
        label = "TOTAL" if line.campaign == voucher_books.TOTAL else (line.campaign or "-")
        amounts = (
            line.issued_cents,
            line.spent_cents,
            line.voided_cents,
            line.expired_cents,
            line.revoked_cents,
            line.overspent_cents,
            line.outstanding_cents,
        )
        click.echo(
            f"{click.unstyle(label)[:24]:<24} {line.vouchers:>8} "
            + " ".join(f"{statement.cents_text(a, line.currency):>14}" for a in amounts)
        )


@cli.command("statement")
@click.option("--shop", "shop_id", required=True, help="The shop the city pays.")
@click.option("--from", "first", required=True, help="First day (2026-11-01 or 01/11/2026).")
@click.option("--to", "last", required=True, help="Last day, included.")
@click.option(
    "--by",
    type=click.Choice(["received", "occurred"]),
    default="received",
    show_default=True,
    help="Count a spend on the day the platform received it (a paid period never changes) "
    "or on the terminal's own day.",
)
@click.option(
    "--csv", "as_csv", is_flag=True, help="Print CSV (a line a spend or void, then the total)."
)
@click.option(
    "--json", "as_json", is_flag=True, help="Print JSON, one line a spend or void, then the total."
)
@data_dir_option
@pass_env
def statement_command(
    env: PlatformEnv, shop_id: str, first: str, last: str, by: str, as_csv: bool, as_json: bool
) -> None:
    """What the city owes a shop for the vouchers spent there in shop-local days FROM to TO:
    every spend, every void of one (a negative line naming the spend), and the total."""
    if as_csv and as_json:
        raise Refused("bad_format", "choose one of --csv and --json.", exit_code=2)
    days = []
    for label, text in (("--from", first), ("--to", last)):
        try:
            days.append(statement.parse_day(text))
        except ValueError as exc:
            raise Refused("bad_day", f"{label}: {exc}.", exit_code=2) from exc
    start, end = days
    if end < start:
        raise Refused("bad_period", f"--to {end} is before --from {start}.", exit_code=2)
    if (end - start).days >= statement.MAX_DAYS:
        raise Refused(
            "bad_period", f"a statement covers at most {statement.MAX_DAYS} days.", exit_code=2
        )
    order: statement.By = "received" if by == "received" else "occurred"
    with env.store() as store:
        if not store.shop_exists(shop_id):
            raise Refused("unknown_shop", f"there is no shop {shop_id[:64]!r} on this platform.")
        fmt: statement.Format = "csv" if as_csv else "json" if as_json else "text"
        totals = statement.write(store, shop_id, start, end, fmt, sys.stdout, order)
    if as_json:
        emit(
            {
                "shop_id": shop_id,
                "from": str(start),
                "to": str(end),
                "by": by,
                "totals": totals.to_json(),
            }
        )
    elif not as_csv:
        if not totals.by_currency:
            click.echo(f"no voucher spends at shop {shop_id} from {start} to {end}.")
        for total in totals.by_currency.values():
            money_text = partial(statement.cents_text, currency=total.currency)
            click.echo(
                f"total {money_text(total.net_cents)}: "
                f"{total.spends} spend(s) {money_text(total.spent_cents)}, "
                f"{total.voids} void(s) {money_text(-total.voided_cents)}"
            )
    sys.stdout.flush()


@cli.command("migrate")
@click.option(
    "--to",
    "target",
    required=True,
    help="The PostgreSQL database to move to: postgresql://user@host/dbname (empty).",
)
@click.option("--db", help="The SQLite file to move from (default: the data directory's).")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@data_dir_option
@pass_env
def migrate_command(env: PlatformEnv, target: str, db: str | None, as_json: bool) -> None:
    """Move a SQLite platform to PostgreSQL: copy every table, check counts and balances.

    Refused while the SQLite platform is serving. Afterwards the data directory's
    database.url names the PostgreSQL database, so `serve` and every command use it, and the
    terminals keep their credentials and cursors. The SQLite file stays as it was.
    """
    from city.migrate import migrate  # noqa: PLC0415  (psycopg only here)
    from city.sqlite_store import SqliteStore  # noqa: PLC0415

    if db is not None:
        env.db = db
    source_target = env.db_target
    if is_postgres(source_target):
        raise Refused(
            "already_postgresql", f"this platform already runs on {redact(source_target)}."
        )
    if not is_postgres(target):
        raise Refused("bad_target", "--to must be a postgresql:// URL.", exit_code=2)
    source_path = Path(source_target)
    if not source_path.is_file():
        raise Refused("no_database", f"there is no platform database at {source_path}.")
    with serving_lock(source_path, exclusive=True) as alone:
        if not alone:
            raise Refused(
                "platform_serving",
                f"a citie-platform serve is using {source_path}; stop it, then migrate.",
            )
        source = SqliteStore(source_path)
        try:
            report = migrate(source, target, None if as_json else click.echo)
        except PlatformError as exc:
            raise Refused(exc.code, exc.message) from exc
        except Exception as exc:
            raise Refused("database_error", f"cannot migrate to {redact(target)}: {exc}.") from exc
        finally:
            source.close()
        pointer = env.folder / DB_POINTER
        pointer.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(pointer, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            out.write(target + "\n")
    if as_json:
        emit(
            {
                "to": redact(target),
                "tables": {t.table: t.target for t in report.tables},
                "balances_sha256": report.balances_digest,
            }
        )
        return
    click.echo(f"moved to {redact(target)}; {pointer} now names it. Start serve again.")


def main() -> None:
    """Console-script entry point."""
    try:
        cli(prog_name="citie-platform")
    except IssuerError as exc:  # raised mid-command, e.g. a key file others can read
        click.echo(f"refused: issuer_unusable: {exc}", err=True)
        sys.exit(3)


if __name__ == "__main__":
    main()
