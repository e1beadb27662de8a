"""Settings is the one place that validates: a control character in any config string is refused
by ``config check`` and by every command alike (exit 2, naming the key, the escaped value and the
fix), never by a pydantic traceback from a model built later (issue 10, B9)."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from city.issuer import Issuer
from config import ConfigError, load_settings
from config.load import env_var_name
from config.settings import SECTIONS, ProgramSettings
from loyalty.db import Store
from loyalty.programs import Program
from loyalty.trust import install_trust
from terminal.cli import cli


def run(data_dir: Path, *args: str, **env: str) -> Result:
    clean_env: dict[str, str | None] = {n: None for n in os.environ if n.startswith("CITIE_")}
    clean_env.update(env)
    return CliRunner().invoke(cli, [*args, "--data-dir", str(data_dir)], env=clean_env)


@pytest.fixture
def terminal(tmp_path: Path) -> tuple[Path, str, str]:
    """An initialised terminal with one recorded stamp: (data dir, card code, receipt number)."""
    data_dir = tmp_path / "terminal"
    issuer = Issuer.open(tmp_path / "issuer")
    init = ["init", "--shop-language", "en", "--reward-name", "a free coffee"]
    assert run(data_dir, *init).exit_code == 0
    with Store.open(data_dir / "ledger.db") as store:
        install_trust(store, issuer.trust_list())
    _, code = issuer.issue_card(expires_days=30)
    first = run(data_dir, "stamp", code)
    assert first.exit_code == 0, first.output
    receipt_no = re.search(r"recorded: stamp (\S+)", first.stdout)
    assert receipt_no is not None
    return data_dir, code, receipt_no.group(1)


def commands(code: str, receipt_no: str) -> list[list[str]]:
    return [
        ["config", "check"],
        ["stamp", code],
        ["purchase", code, "--amount", "4.50"],
        ["receipt", "show", receipt_no],
    ]


def assert_refused(result: Result, where: str, shown: str) -> None:
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output
    assert "validation error" not in result.output.lower()
    assert where in result.stderr, result.stderr
    assert shown in result.stderr, result.stderr  # the value, escaped
    assert "U+0009" in result.stderr or "U+001B" in result.stderr
    assert "plain spaces" in result.stderr  # the fix


def test_tab_in_the_toml_reward_name_is_refused_by_every_command(
    terminal: tuple[Path, str, str],
) -> None:
    data_dir, code, receipt_no = terminal
    config = data_dir / "config.toml"
    text = config.read_text(encoding="utf-8")
    assert 'reward_name = "a free coffee"' in text
    config.write_text(text.replace('"a free coffee"', '"a free\tcoffee"'), encoding="utf-8")
    for args in commands(code, receipt_no):
        result = run(data_dir, *args)
        assert_refused(result, f"{config}, key [program] reward_name", r"'a free\tcoffee'")
    # Nothing was recorded by the refused stamp and purchase.
    with Store.open(data_dir / "ledger.db") as store:
        assert store.read().execute("SELECT count(*) FROM events").fetchone()[0] == 1


def test_escape_in_the_reward_name_env_var_is_refused_by_every_command(
    terminal: tuple[Path, str, str],
) -> None:
    data_dir, code, receipt_no = terminal
    for args in commands(code, receipt_no):
        result = run(data_dir, *args, CITIE_PROGRAM_REWARD_NAME="a free\x1b[31mcoffee")
        assert_refused(
            result, "environment variable CITIE_PROGRAM_REWARD_NAME", r"'a free\x1b[31mcoffee'"
        )


def test_blank_reward_name_is_refused_by_config_check_not_by_stamp(
    terminal: tuple[Path, str, str],
) -> None:
    """The program strips whitespace; so does the setting, so "   " is refused up front."""
    data_dir, code, _ = terminal
    for args in (["config", "check"], ["stamp", code]):
        result = run(data_dir, *args, CITIE_PROGRAM_REWARD_NAME="   ")
        assert result.exit_code == 2, result.output
        assert "CITIE_PROGRAM_REWARD_NAME" in result.stderr
        assert "Traceback" not in result.output


def _text_fields() -> list[tuple[str, str]]:
    found = []
    for section, model in SECTIONS.items():
        for key, field in model.model_fields.items():
            annotation = str(field.annotation)
            if field.annotation is str or "str" in annotation or "Path" in annotation:
                found.append((section, key))
    return found


@pytest.mark.parametrize(("section", "key"), _text_fields())
def test_every_string_setting_refuses_control_characters(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, section: str, key: str
) -> None:
    name = env_var_name(section, key)
    monkeypatch.setenv("CITIE_DATA_DIR", str(tmp_path))  # no config file there
    with pytest.raises(ConfigError) as caught:
        load_settings(environ={name: "ab\ncd", "CITIE_DATA_DIR": str(tmp_path)})
    assert f"environment variable {name} = 'ab\\ncd'" in str(caught.value)
    assert "U+000A" in str(caught.value)


def test_text_fields_cover_the_strings_that_reach_the_counter() -> None:
    fields = _text_fields()
    for wanted in [
        ("shop", "name"),
        ("shop", "address"),
        ("program", "reward_name"),
        ("printer", "target"),
        ("camera", "device"),
        ("platform", "url"),
        ("storage", "data_dir"),
    ]:
        assert wanted in fields


@given(st.text(max_size=70))
def test_every_accepted_program_setting_builds_a_program(reward_name: str) -> None:
    """Settings is never looser than the Program built from it."""
    try:
        settings = ProgramSettings(reward_name=reward_name)
    except ValidationError:
        return
    assert Program.from_settings(settings).reward_name == settings.reward_name
