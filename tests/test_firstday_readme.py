"""Issue 15: the README's command reference matches the programs' ``--help``.

Every command and option the table in "## Commands" lists exists in the real click command
(the one ``--help`` describes), and every ``citie-terminal`` command is in the table. The
platform's command group is found through its ``citie-platform`` console script, wherever
that lives.
"""

from __future__ import annotations

import importlib
import re
import sys
from dataclasses import dataclass
from importlib.metadata import entry_points
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from terminal.cli import cli as terminal_cli

README = Path(__file__).resolve().parents[1] / "README.md"


@dataclass(frozen=True)
class Row:
    """One command of the table: the program, the command path, the options it lists."""

    program: str
    path: tuple[str, ...]
    options: tuple[str, ...]
    text: str


def table_rows() -> list[Row]:
    section = README.read_text(encoding="utf-8").split("\n## Commands\n", 1)[1]
    section = section.split("\n## ", 1)[0]
    rows = []
    for line in section.splitlines():
        found = re.match(r"^\| `((?:citie-terminal|citie-platform)[^`]*)` \|", line)
        if found is None:
            continue
        text = found.group(1).replace("\\|", "|")
        words = text.split()
        path = []
        for word in words[1:]:
            if not re.fullmatch(r"[a-z][a-z-]*", word):
                break
            path.append(word)
        options = tuple(re.findall(r"(?<![\w-])(--[a-z][a-z-]*)", text))
        rows.append(Row(words[0], tuple(path), options, text))
    return rows


def platform_group() -> click.Group:
    """The group behind the ``citie-platform`` console script (its module's top group)."""
    (script,) = entry_points(group="console_scripts", name="citie-platform")
    main = script.load()
    module = sys.modules[main.__module__]
    if not any(isinstance(value, click.Group) for value in vars(module).values()):
        # A launcher (city.launch checks the [platform] extra first): the group is the CLI's.
        module = importlib.import_module("city.cli")
    groups = [value for value in vars(module).values() if isinstance(value, click.Group)]
    nested = {id(sub) for group in groups for sub in group.commands.values()}
    (top,) = [group for group in groups if id(group) not in nested]
    return top


def command_at(group: click.Group, path: tuple[str, ...]) -> click.Command:
    command: click.Command = group
    for name in path:
        assert isinstance(command, click.Group), f"{' '.join(path)}: {command.name} has no {name}"
        assert name in command.commands, f"the README names a command that is not there: {path}"
        command = command.commands[name]
    return command


def leaf_paths(group: click.Group, path: tuple[str, ...] = ()) -> set[tuple[str, ...]]:
    found: set[tuple[str, ...]] = set()
    for name, command in group.commands.items():
        if isinstance(command, click.Group):
            found |= leaf_paths(command, (*path, name))
        else:
            found.add((*path, name))
    return found


def help_options(group: click.Group, prog: str, path: tuple[str, ...]) -> str:
    """What ``PROG PATH --help`` prints (the real help, not the parameter objects)."""
    result = CliRunner().invoke(group, [*path, "--help"], prog_name=prog)
    assert result.exit_code == 0, result.output
    return result.output


ROWS = table_rows()


def test_the_table_is_there_and_covers_both_programs() -> None:
    programs = {row.program for row in ROWS}
    assert programs == {"citie-terminal", "citie-platform"}
    assert len(ROWS) >= 25


@pytest.mark.parametrize("row", ROWS, ids=[row.text.split(" [")[0] for row in ROWS])
def test_every_listed_command_and_option_is_in_its_help(row: Row) -> None:
    group = terminal_cli if row.program == "citie-terminal" else platform_group()
    command = command_at(group, row.path)
    assert not isinstance(command, click.Group) or not row.path, (
        f"{row.text}: names a group, not a command"
    )
    shown = help_options(group, row.program, row.path)
    for option in row.options:
        assert re.search(rf"(?<![\w-]){re.escape(option)}(?![\w-])", shown), (
            f"README lists {option} for `{row.program} {' '.join(row.path)}`, "
            f"but its --help does not have it"
        )


def test_every_terminal_command_is_in_the_table() -> None:
    listed = {row.path for row in ROWS if row.program == "citie-terminal"}
    missing = sorted(" ".join(path) for path in leaf_paths(terminal_cli) - listed)
    assert missing == [], f"commands missing from the README's table: {missing}"
