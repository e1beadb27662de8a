"""`init` and `config check` through the real console script, on a real data directory."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

from loyalty.db import Store

CLI = [sys.executable, "-m", "terminal.cli"]


def run(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("CITIE_")}
    clean.update(env or {})
    return subprocess.run(
        [*CLI, *args], capture_output=True, text=True, env=clean, timeout=60, check=False
    )


def snapshot(directory: Path) -> dict[str, tuple[int, bytes]]:
    return {
        str(p.relative_to(directory)): (p.stat().st_mode, p.read_bytes())
        for p in sorted(directory.rglob("*"))
        if p.is_file() and not p.name.endswith(("-wal", "-shm"))
    }


def test_help_and_version() -> None:
    helped = run("--help")
    assert helped.returncode == 0
    assert "init" in helped.stdout and "config" in helped.stdout
    version = run("--version")
    assert version.returncode == 0
    assert version.stdout.startswith("citie-terminal, version ")


def test_init_creates_everything_then_changes_nothing(tmp_path: Path) -> None:
    data = tmp_path / "data"
    first = run(
        "init",
        "--data-dir",
        str(data),
        "--shop-id",
        "bakkerij-7",
        "--terminal-id",
        "t2",
        "--lang",
        "en",
    )
    assert first.returncode == 0, first.stderr
    assert "created: config" in first.stdout
    assert "created: key pair" in first.stdout
    assert "created: ledger" in first.stdout

    key = data / "terminal.key"
    assert stat.S_IMODE(key.stat().st_mode) == 0o600
    assert (data / "terminal.pub").read_text().strip() != ""
    config = (data / "config.toml").read_text()
    assert 'id = "bakkerij-7"' in config and 'id = "t2"' in config
    with Store.open(data / "ledger.db") as store:
        assert store.applied_migrations()[0] == "0001_ledger"

    before = snapshot(data)
    second = run("init", "--data-dir", str(data), "--lang", "en")
    assert second.returncode == 0, second.stderr
    assert "Nothing to do" in second.stdout
    assert "created" not in second.stdout
    assert snapshot(data) == before


def test_init_never_overwrites_config_without_force(tmp_path: Path) -> None:
    data = tmp_path / "d"
    assert run("init", "--data-dir", str(data)).returncode == 0
    config = data / "config.toml"
    config.write_text(config.read_text().replace('"Demo Coffee"', '"Mijn Zaak"'))
    kept = run("init", "--data-dir", str(data), "--shop-name", "Other")
    assert kept.returncode == 0
    assert "Mijn Zaak" in config.read_text()
    assert "--force" in kept.stdout
    forced = run("init", "--data-dir", str(data), "--shop-name", "Other", "--force")
    assert forced.returncode == 0
    assert 'name = "Other"' in config.read_text()


def test_commands_refuse_a_private_key_others_can_read(tmp_path: Path) -> None:
    data = tmp_path / "d"
    assert run("init", "--data-dir", str(data)).returncode == 0
    key = data / "terminal.key"
    key.chmod(0o644)
    for args in (["init"], ["config", "check"]):
        result = run(*args, "--data-dir", str(data))
        assert result.returncode != 0
        # said in the shop's language (a fresh init's shop speaks Dutch)
        assert "is leesbaar voor andere gebruikers" in result.stderr
        assert f"chmod 600 {key}" in result.stderr
        english = run(*args, "--data-dir", str(data), "--lang", "en")
        assert "can be read by other users" in english.stderr
    key.chmod(0o600)
    assert run("config", "check", "--data-dir", str(data)).returncode == 0


def test_config_check_reports_bad_config_with_status_2(tmp_path: Path) -> None:
    data = tmp_path / "d"
    assert run("init", "--data-dir", str(data)).returncode == 0
    config = data / "config.toml"
    config.write_text(config.read_text().replace("batch_size = 1000", "batch_sise = 1000"))
    result = run("config", "check", "--data-dir", str(data))
    assert result.returncode == 2
    assert "refused: config_invalid:" in result.stderr
    assert "unknown key [sync] batch_sise" in result.stderr
    assert "batch_size" in result.stderr


def test_config_check_ok_and_env_override(tmp_path: Path) -> None:
    data = tmp_path / "d"
    assert run("init", "--data-dir", str(data)).returncode == 0
    ok = run("config", "check", "--data-dir", str(data), "--show", "--lang", "en")
    assert ok.returncode == 0
    assert ok.stdout.startswith(f"ok: {data / 'config.toml'}")
    bad = run("config", "check", "--data-dir", str(data), env={"CITIE_SYNC_BATCH_SIZE": "0"})
    assert bad.returncode == 2
    assert "CITIE_SYNC_BATCH_SIZE" in bad.stderr
