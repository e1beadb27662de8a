"""What every command shares: options, the settings, the ledger, refusals and JSON output.

Nothing here imports textual or rich, so headless commands start fast.
"""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any, TypeVar

import click

from config import ConfigError, Settings, load_settings
from config.settings import Language
from terminal.i18n import t

F = TypeVar("F", bound=Callable[..., Any])


class Refused(click.ClickException):
    """A command that cannot do what was asked: a reason code and a sentence, exit non-zero."""

    def __init__(self, code: str, sentence: str, exit_code: int = 1) -> None:
        super().__init__(sentence)
        self.code = code
        # click declares exit_code on the class; a refusal's status belongs to the instance.
        object.__setattr__(self, "exit_code", exit_code)

    def show(self, file: Any = None) -> None:
        """Print ``refused: <code>: <sentence>`` on stderr."""
        click.echo(f"refused: {self.code}: {self.message}", err=True)


@dataclass
class CliEnv:
    """The options given to the program, and what is built from them on first use."""

    data_dir: Path | None = None
    config: Path | None = None
    lang: str | None = None
    overrides: dict[str, dict[str, Any]] = field(default_factory=dict)
    _settings: Settings | None = None
    _config_path: Path | None = None

    def load(self) -> tuple[Settings, Path]:
        """Load the settings once (exit 2 with a clear message on a bad config)."""
        if self._settings is None or self._config_path is None:
            try:
                self._settings, self._config_path = load_settings(
                    data_dir=self.data_dir, config=self.config, overrides=self.overrides
                )
            except ConfigError as exc:
                raise Refused("config_invalid", str(exc), exit_code=ConfigError.exit_code) from exc
        return self._settings, self._config_path

    def reload(self) -> None:
        """Forget the loaded settings (after ``overrides`` changed)."""
        self._settings = None
        self._config_path = None

    @property
    def settings(self) -> Settings:
        """The validated settings."""
        return self.load()[0]

    @property
    def config_path(self) -> Path:
        """The config file that was (or would be) read."""
        return self.load()[1]

    @property
    def language(self) -> str:
        """The one language of this run: ``--lang``, else the shop's."""
        if self.lang is not None:
            return self.lang
        return self.settings.shop.language.value

    def say(self, key: str, /, **params: Any) -> str:
        """A sentence of the command line's catalog in this run's language."""
        return t(key, self.language, **params)


pass_env = click.make_pass_decorator(CliEnv, ensure=True)


def common_options(fn: F) -> F:
    """``--data-dir``, ``--config`` and ``--lang`` on a subcommand too (also after its name)."""

    def set_data_dir(ctx: click.Context, _param: click.Parameter, value: Path | None) -> None:
        if value is not None:
            ctx.ensure_object(CliEnv).data_dir = value

    def set_config(ctx: click.Context, _param: click.Parameter, value: Path | None) -> None:
        if value is not None:
            ctx.ensure_object(CliEnv).config = value

    def set_lang(ctx: click.Context, _param: click.Parameter, value: str | None) -> None:
        if value is not None:
            ctx.ensure_object(CliEnv).lang = value

    fn = click.option(
        "--lang",
        type=click.Choice([lang.value for lang in Language]),
        expose_value=False,
        callback=set_lang,
        help="Language of this run's output (default: the shop's language).",
    )(fn)
    fn = click.option(
        "--config",
        type=click.Path(path_type=Path, dir_okay=False),
        expose_value=False,
        callback=set_config,
        help="Config file (default: config.toml in the data directory).",
    )(fn)
    fn = click.option(
        "--data-dir",
        type=click.Path(path_type=Path, file_okay=False),
        expose_value=False,
        callback=set_data_dir,
        help="Data directory (default: the user data folder, or CITIE_DATA_DIR).",
    )(fn)
    return fn


# json.dumps escapes C0 controls; these are the rest a terminal may act on: DEL, C1, and the
# bidirectional overrides that can make a line read differently from what it holds.
_UNSAFE = re.compile("[\u007f-\u009f\u200e\u200f\u202a-\u202e\u2066-\u2069\u2028\u2029]")


def emit(obj: Any) -> None:
    """One JSON object on one line of stdout, with no character a terminal would act on."""
    text = json.dumps(obj, ensure_ascii=False, sort_keys=False, default=str)
    sys.stdout.write(_UNSAFE.sub(lambda m: f"\\u{ord(m.group()):04x}", text) + "\n")
    sys.stdout.flush()


DAY_FORMATS = ("%Y-%m-%d", "%d/%m/%Y", "%d.%m.%Y", "%d-%m-%Y")
"""How shops write a day: 2026-11-25, and the Belgian 25/11/2026, 25.11.2026, 25-11-2026."""


def parse_day(env: CliEnv, value: str, option: str = "--day") -> date:
    """A day as the shop writes it, or a refusal in the run's language."""
    text = value.strip()
    for fmt in DAY_FORMATS:
        try:
            return datetime.strptime(text, fmt).date()
        except ValueError:
            continue
    raise Refused("bad_date", f"{option}: " + env.say("cli.bad_date", value=value), exit_code=2)


def parse_month(env: CliEnv, value: str) -> tuple[int, int]:
    """A month as ``2026-11`` (or ``11/2026``, ``11.2026``): year and month."""
    text = value.strip()
    for fmt in ("%Y-%m", "%m/%Y", "%m.%Y", "%m-%Y"):
        try:
            moment = datetime.strptime(text, fmt)
        except ValueError:
            continue
        return moment.year, moment.month
    raise Refused("bad_month", "--month: " + env.say("cli.bad_month", value=value), exit_code=2)
