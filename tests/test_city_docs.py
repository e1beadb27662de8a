"""Running it for a city (issue 11, item 12): the shipped systemd unit and the README's
per-terminal cron line work as written."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

from tests.conftest_platform import PLATFORM, clean_env

ROOT = Path(__file__).resolve().parents[1]
UNIT = ROOT / "config" / "systemd" / "citie-platform.service"


def unit_value(text: str, key: str) -> str:
    joined = text.replace("\\\n", " ")
    match = re.search(rf"^{key}=(.*)$", joined, re.M)
    assert match is not None, f"{key}= missing from {UNIT.name}"
    return match.group(1).strip()


def test_the_platform_unit_runs_serve_with_options_serve_has() -> None:
    text = UNIT.read_text(encoding="utf-8")
    command = unit_value(text, "ExecStart").split()
    assert command[0].endswith("/citie-platform") and command[1] == "serve"
    assert unit_value(text, "User") not in ("", "root")
    assert "CITIE_PLATFORM_DB" in text, "the database URL comes from the 0600 environment file"
    assert command[command.index("--host") + 1] == "127.0.0.1", "only the reverse proxy faces out"
    shown = subprocess.run(
        [*PLATFORM, "serve", "--help"],
        capture_output=True,
        text=True,
        env=clean_env(),
        timeout=60,
        check=True,
    ).stdout
    for option in (arg for arg in command if arg.startswith("--")):
        assert option in shown, f"{UNIT.name} passes {option}, which serve does not know"


def test_the_readme_cron_line_gives_each_terminal_its_own_slot() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    found = re.search(r"`(id=t1; slot=.*?)`\n", readme)
    assert found is not None, "the README's per-terminal cron line is missing"
    script = found.group(1)
    lines = {}
    for terminal_id in ("t1", "t2", "bakkerij-7-t1", "bakkerij-7-t2"):
        ours = script.replace("id=t1;", f"id={terminal_id};", 1)
        lines[terminal_id] = subprocess.run(
            ["bash", "-c", ours], capture_output=True, text=True, timeout=10, check=True
        ).stdout.strip()
    slots = set()
    for line in lines.values():
        minute, hour, *rest = line.split()
        assert 0 <= int(minute) <= 59 and int(hour) in (2, 3)
        assert rest[:3] == ["*", "*", "*"] and "citie-terminal sync" in line
        slots.add((minute, hour))
    assert len(slots) == len(lines), f"two terminals share a slot: {lines}"
