"""The ``citie-terminal`` command: the counter app by default, and every counter action headless.

Exit status 0 means success; a refusal exits non-zero with ``refused: <reason>: <sentence>``
on stderr; a bad configuration exits 2.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from importlib.metadata import version

import click

from loyalty.staff import take_env_pins
from terminal.cli_support import CliEnv, common_options

# Each module adds its commands to the group through register(group).
COMMAND_MODULES = [
    "terminal.commands.setup",
    "terminal.commands.cards",
    "terminal.commands.receipts",
    "terminal.commands.scan",
    "terminal.commands.sync",
    "terminal.commands.counter",
    "terminal.commands.vouchers",
    "terminal.commands.staff",
    "terminal.commands.history",
]


@click.group(
    invoke_without_command=True,
    context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100},
)
@click.version_option(version("citie-terminal"), "--version", prog_name="citie-terminal")
@common_options
@click.pass_context
def cli(ctx: click.Context) -> None:
    """The loyalty terminal for the shop counter.

    Without a command, starts the counter app (demo data when no config exists).
    """
    ctx.ensure_object(CliEnv)
    # Before anything runs: no child process or traceback may inherit a PIN from the
    # environment (loyalty.staff.read_pin takes it from memory).
    take_env_pins()
    if ctx.invoked_subcommand is None:
        run_app = _app_runner()
        if run_app is None:
            click.echo(ctx.get_help())
            return
        run_app(ctx.obj)


def _app_runner() -> Callable[[CliEnv], None] | None:
    try:
        module = importlib.import_module("terminal.main")
    except ModuleNotFoundError as exc:
        if exc.name == "terminal.main":
            return None
        raise
    runner: Callable[[CliEnv], None] = module.run_app
    return runner


for _name in COMMAND_MODULES:
    importlib.import_module(_name).register(cli)


def main() -> None:
    """Console-script entry point."""
    cli(prog_name="citie-terminal")


if __name__ == "__main__":
    main()
