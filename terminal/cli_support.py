"""What every command shares: options, the settings, the ledger, refusals and JSON output.

Nothing here imports textual or rich, so headless commands start fast.
"""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import click

from config import ConfigError, Settings, load_settings

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

    @property
    def settings(self) -> Settings:
        """The validated settings."""
        return self.load()[0]

    @property
    def config_path(self) -> Path:
        """The config file that was (or would be) read."""
        return self.load()[1]


pass_env = click.make_pass_decorator(CliEnv, ensure=True)


def common_options(fn: F) -> F:
    """``--data-dir`` and ``--config`` on a subcommand too (they may come after its name)."""

    def set_data_dir(ctx: click.Context, _param: click.Parameter, value: Path | None) -> None:
        if value is not None:
            ctx.ensure_object(CliEnv).data_dir = value

    def set_config(ctx: click.Context, _param: click.Parameter, value: Path | None) -> None:
        if value is not None:
            ctx.ensure_object(CliEnv).config = value

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
