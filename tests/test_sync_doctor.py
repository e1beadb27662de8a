"""``doctor`` tells the truth about the platform: up at /v1/health, and this terminal let in."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from click.testing import CliRunner

from loyalty.keys import write_secret
from sync.pairing import set_toml_key
from terminal.cli import cli
from tests.conftest_platform import PairedTerminal, RunningPlatform

Terminals = Callable[..., PairedTerminal]
NO_CAMERA = "\n[camera]\nenabled = false\n"


def platform_check(terminal: PairedTerminal) -> tuple[int, dict[str, Any]]:
    result = CliRunner().invoke(cli, ["doctor", "--json", "--data-dir", str(terminal.data_dir)])
    report = json.loads(result.stdout)
    return result.exit_code, next(c for c in report["checks"] if c["name"] == "platform")


def test_doctor_says_ok_for_a_platform_that_lets_this_terminal_in(
    platform: RunningPlatform, terminal_factory: Terminals
) -> None:
    terminal = terminal_factory(platform, extra_config=NO_CAMERA)
    code, check = platform_check(terminal)
    assert (code, check["status"]) == (0, "ok"), check
    assert "accepts this terminal's credential" in check["detail"]


def test_doctor_fails_on_a_url_that_answers_404(
    platform: RunningPlatform, terminal_factory: Terminals
) -> None:
    terminal = terminal_factory(platform, extra_config=NO_CAMERA)
    config = terminal.data_dir / "config.toml"
    wrong = f"{platform.url}/not-the-api"
    config.write_text(set_toml_key(config.read_text(), "platform", "url", wrong))
    code, check = platform_check(terminal)
    assert (code, check["status"], check["required"]) == (1, "fail", True), check
    assert "/v1/health" in check["detail"] and "404" in check["detail"]


def test_doctor_fails_with_a_revoked_credential(
    platform: RunningPlatform, terminal_factory: Terminals
) -> None:
    terminal = terminal_factory(platform, extra_config=NO_CAMERA)
    # The operator added the terminal again: the platform forgot the old credential.
    write_secret(terminal.settings.token_path, b"r" * 43 + b"\n")
    code, check = platform_check(terminal)
    assert (code, check["status"]) == (1, "fail"), check
    assert "refuses this terminal's credential" in check["detail"]
    assert "pair" in check["detail"]


def test_doctor_tells_a_dutch_shop_to_pair_again_with_a_revoked_credential(
    platform: RunningPlatform, terminal_factory: Terminals
) -> None:
    terminal = terminal_factory(platform, extra_config=NO_CAMERA)
    write_secret(terminal.settings.token_path, b"r" * 43 + b"\n")
    code, check = platform_check(terminal)
    assert (code, check["name"], check["status"]) == (1, "platform", "fail"), check
    assert check["text"].startswith(
        f"{platform.url} weigert de toegang van deze terminal: koppel hem opnieuw met "
        "`citie-terminal pair` ("
    ), check
    lines = CliRunner().invoke(cli, ["doctor", "--data-dir", str(terminal.data_dir)])
    assert f"[  fout] stadsplatform: {check['text']} (vereist)" in lines.stdout.splitlines()
