"""Issue 15 item 2: programs from the platform just work, whatever their id, and the program
file format is a JSON Schema that ``citie-platform program`` checks.

The reference platform runs as a real subprocess on 127.0.0.1; the terminal is the real
``citie-terminal`` command on a real ledger file.
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

from tests.conftest_platform import PLATFORM, TERMINAL, RunningPlatform, clean_env


def run(cmd: list[str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*cmd, *args], capture_output=True, text=True, env=clean_env(), timeout=60, check=False
    )


def ok(cmd: list[str], *args: str) -> str:
    done = run(cmd, *args)
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


def write(path: Path, body: dict[str, Any]) -> Path:
    path.write_text(json.dumps(body), encoding="utf-8")
    return path


def paired_terminal(platform: RunningPlatform, tmp_path: Path) -> tuple[str, str]:
    """A Dutch bakery's terminal paired with the platform: (terminal data dir, platform dir)."""
    pdir = str(platform.data_dir)
    added = ok(
        PLATFORM,
        *("terminal", "add", "--shop", "Bakkerij Peeters", "--shop-id", "bakkerij-7"),
        *("--terminal-id", "t1", "--json", "--data-dir", pdir),
    )
    data = str(tmp_path / "counter")
    ok(
        TERMINAL,
        *("init", "--data-dir", data, "--shop-id", "bakkerij-7", "--terminal-id", "t1"),
        *("--shop-name", "Bakkerij Peeters", "--shop-language", "nl"),
    )
    ok(TERMINAL, "pair", platform.url, json.loads(added)["token"], "--data-dir", data)
    return data, pdir


def test_the_platforms_program_is_in_force_whatever_its_id(
    platform_factory: Callable[..., RunningPlatform], tmp_path: Path
) -> None:
    platform = platform_factory()
    data, pdir = paired_terminal(platform, tmp_path)
    code = json.loads(ok(PLATFORM, "card", "new", "--json", "--data-dir", pdir))["code"]
    before = json.loads(ok(TERMINAL, "balance", code, "--json", "--data-dir", data))
    assert before["reward_threshold"] == 10  # before the platform sent one: the config's

    # Two programs set one after the other, in one pull: the one set last is in force,
    # though its id sorts first and neither is the config's [program] id ("coffee").
    zomer = {"id": "zomer-2026", "reward_threshold": 12, "reward_name": "een zomertaart"}
    brood = {
        "id": "brood-2027",
        "reward_threshold": 6,
        "reward_name": "een gratis brood",
        "stamps_per_visit": 2,
    }
    ok(
        PLATFORM,
        "program",
        "bakkerij-7",
        str(write(tmp_path / "z.json", zomer)),
        "--data-dir",
        pdir,
    )
    ok(
        PLATFORM,
        "program",
        "bakkerij-7",
        str(write(tmp_path / "a.json", brood)),
        "--data-dir",
        pdir,
    )
    synced = run(TERMINAL, "sync", "--data-dir", data)
    assert synced.returncode == 0, synced.stdout + synced.stderr

    stamped = json.loads(ok(TERMINAL, "stamp", code, "--json", "--data-dir", data))
    assert stamped["stamps"] == 2
    after = json.loads(ok(TERMINAL, "balance", code, "--json", "--data-dir", data))
    assert (after["reward_threshold"], after["reward_name"]) == (6, "een gratis brood")
    exported = json.loads(ok(TERMINAL, "ledger", "export", "--json", "--data-dir", data))
    assert exported["program_id"] == "brood-2027"
    slip = ok(TERMINAL, "receipt", "show", "last", "--data-dir", data)
    assert "een gratis brood" in slip

    # A later program replaces it at the next pull.
    later = {"id": "actie", "reward_threshold": 4, "reward_name": "een taart"}
    ok(
        PLATFORM,
        "program",
        "bakkerij-7",
        str(write(tmp_path / "c.json", later)),
        "--data-dir",
        pdir,
    )
    assert run(TERMINAL, "sync", "--data-dir", data).returncode == 0
    now = json.loads(ok(TERMINAL, "balance", code, "--json", "--data-dir", data))
    assert (now["reward_threshold"], now["reward_name"]) == (4, "een taart")


def test_a_program_file_that_breaks_the_format_is_refused_with_the_field_and_the_fix(
    platform_factory: Callable[..., RunningPlatform], tmp_path: Path
) -> None:
    platform = platform_factory()
    pdir = str(platform.data_dir)
    zero = write(tmp_path / "zero.json", {"id": "brood", "reward_threshold": 0})
    refused = run(PLATFORM, "program", "bakkerij-7", str(zero), "--data-dir", pdir)
    assert refused.returncode != 0
    assert "refused: bad_program" in refused.stderr
    assert "reward_threshold" in refused.stderr and "from 1 to 1000" in refused.stderr
    assert "program.schema.json" in refused.stderr

    typo = write(tmp_path / "typo.json", {"id": "brood", "reward_treshold": 8})
    refused = run(PLATFORM, "program", "bakkerij-7", str(typo), "--data-dir", pdir)
    assert refused.returncode != 0
    assert "reward_treshold" in refused.stderr and "reward_threshold" in refused.stderr

    campaign = {"id": "brood", "campaigns": [{"name": "x", "multiplier": 50}]}
    refused = run(
        PLATFORM,
        "program",
        "bakkerij-7",
        str(write(tmp_path / "c.json", campaign)),
        "--data-dir",
        pdir,
    )
    assert refused.returncode != 0
    assert "campaigns.0.multiplier" in refused.stderr and "from 1 to 10" in refused.stderr
    # The reward is on every slip: a file names it, in the shop's language (no default words).
    unnamed = write(tmp_path / "unnamed.json", {"id": "brood", "reward_threshold": 8})
    refused = run(PLATFORM, "program", "bakkerij-7", str(unnamed), "--data-dir", pdir)
    assert refused.returncode != 0
    assert "reward_name" in refused.stderr and "Field required" in refused.stderr
    assert platform.query("SELECT COUNT(*) FROM programs") == [(0,)]


def test_the_schema_file_is_the_models_schema() -> None:
    """Regenerate it with ``python -m loyalty.programs`` when the model changes."""
    from loyalty.programs import SCHEMA_PATH, Program, program_schema, schema_text

    assert SCHEMA_PATH.read_text(encoding="utf-8") == schema_text()
    schema = json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))
    assert schema == program_schema()
    assert set(schema["properties"]) == set(Program.model_fields)
    assert schema["additionalProperties"] is False
    assert schema["properties"]["reward_threshold"]["minimum"] == 1
    assert schema["required"] == ["id", "reward_name"]
    assert "description" in schema["properties"]["reward_threshold"]
