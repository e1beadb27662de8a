"""The two programs end to end: citie-platform admin commands, citie-terminal pair and sync."""

from __future__ import annotations

import json
import stat
import subprocess
from collections.abc import Callable
from pathlib import Path

from tests.conftest_platform import PLATFORM, TERMINAL, RunningPlatform, clean_env


def run(cmd: list[str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*cmd, *args], capture_output=True, text=True, env=clean_env(), timeout=60, check=False
    )


def test_pair_then_sync_through_the_console_commands(
    platform_factory: Callable[..., RunningPlatform], tmp_path: Path
) -> None:
    platform = platform_factory()
    pdir = str(platform.data_dir)
    added = run(
        PLATFORM,
        "terminal",
        "add",
        "--shop",
        "Bakkerij Jan",
        "--shop-id",
        "bakkerij-jan",
        "--terminal-id",
        "bj-1",
        "--json",
        "--data-dir",
        pdir,
    )
    assert added.returncode == 0, added.stderr
    ticket = json.loads(added.stdout)
    assert ticket["terminal_id"] == "bj-1" and len(ticket["token"]) >= 32

    data = tmp_path / "counter"
    init = run(
        TERMINAL,
        "init",
        "--data-dir",
        str(data),
        "--shop-id",
        "bakkerij-jan",
        "--terminal-id",
        "bj-1",
    )
    assert init.returncode == 0, init.stderr
    paired = run(TERMINAL, "pair", platform.url, ticket["token"], "--data-dir", str(data))
    assert paired.returncode == 0, paired.stderr
    assert ticket["token"] not in paired.stdout
    config = (data / "config.toml").read_text()
    assert f'url = "{platform.url}"' in config
    assert 'id = "bakkerij-jan"' in config, "the rest of the config is kept"
    token_file = data / "platform.token"
    assert stat.S_IMODE(token_file.stat().st_mode) == 0o600

    again = run(TERMINAL, "pair", platform.url, ticket["token"], "--data-dir", str(data))
    assert again.returncode == 3
    assert "refused: unknown_pairing_token" in again.stderr

    synced = run(TERMINAL, "sync", "--data-dir", str(data))
    assert synced.returncode == 0, synced.stdout + synced.stderr
    lines = [json.loads(line) for line in synced.stdout.splitlines()]
    assert lines[0]["event"] == "sync_started"
    assert lines[-1]["outcome"] == "ok"
    assert token_file.read_text().strip() not in synced.stdout + synced.stderr

    card = run(PLATFORM, "card", "new", "--json", "--data-dir", pdir)
    assert card.returncode == 0, card.stderr
    assert json.loads(card.stdout)["code"].startswith("CT1:")
    exported = run(PLATFORM, "keys", "export", "--data-dir", pdir)
    assert json.loads(exported.stdout)["version"] >= 1
    stats = run(PLATFORM, "stats", "--json", "--data-dir", pdir)
    figures = json.loads(stats.stdout)
    assert figures["terminals"] == 1 and figures["cards"] == 1 and figures["events"] == 0


def test_sync_without_pairing_exits_3(tmp_path: Path) -> None:
    data = tmp_path / "counter"
    assert run(TERMINAL, "init", "--data-dir", str(data)).returncode == 0
    result = run(TERMINAL, "sync", "--data-dir", str(data), "--no-backup")
    assert result.returncode == 3
    last = json.loads(result.stdout.splitlines()[-1])
    assert last["outcome"] == "config"
    assert "pair" in last["message"]


def test_platform_refuses_bad_fault_settings(tmp_path: Path) -> None:
    result = run(PLATFORM, "serve", "--port", "0", "--fail-rate", "2", "--data-dir", str(tmp_path))
    assert result.returncode == 2
    assert "refused: bad_faults: fail_rate must be between 0 and 1" in result.stderr


def test_pairing_speaks_the_shops_language(
    platform_factory: Callable[..., RunningPlatform], tmp_path: Path
) -> None:
    platform = platform_factory()
    pdir = str(platform.data_dir)
    added = run(
        PLATFORM,
        "terminal",
        "add",
        "--shop",
        "Bakker",
        "--shop-id",
        "bakker",
        "--terminal-id",
        "b-1",
        "--json",
        "--data-dir",
        pdir,
    )
    token = json.loads(added.stdout)["token"]
    data = str(tmp_path / "counter")
    init = run(
        TERMINAL,
        "init",
        "--data-dir",
        data,
        "--shop-id",
        "bakker",
        "--terminal-id",
        "b-1",
        "--shop-language",
        "nl",
    )
    assert init.returncode == 0, init.stderr

    insecure = run(TERMINAL, "pair", "http://platform.example", token, "--data-dir", data)
    assert insecure.returncode == 3
    assert insecure.stderr.startswith("refused: insecure_url: Het adres http://platform.example")
    french = run(
        TERMINAL, "pair", "http://platform.example", token, "--data-dir", data, "--lang", "fr"
    )
    assert "L'adresse http://platform.example doit commencer par https://" in french.stderr

    paired = run(TERMINAL, "pair", platform.url, token, "--data-dir", data)
    assert paired.returncode == 0, paired.stderr
    assert paired.stdout.startswith(f"Gekoppeld: terminal b-1 van winkel bakker op {platform.url}.")
    assert "Ontvangen van het platform: sleutellijst versie 1" in paired.stdout
    spent = run(TERMINAL, "pair", platform.url, token, "--data-dir", data, "--lang", "de")
    assert spent.returncode == 3
    assert "refused: unknown_pairing_token: Dieser Kopplungscode ist unbekannt" in spent.stderr


def test_pairing_with_a_busy_platform_says_to_try_again_in_the_shops_language(
    tmp_path: Path,
) -> None:
    import socket
    import threading

    server = socket.create_server(("127.0.0.1", 0))
    port = server.getsockname()[1]

    def busy() -> None:
        with server:
            conn, _ = server.accept()
            with conn:
                conn.recv(65536)
                body = b'{"v": 1, "error": "rate_limited", "message": "too many requests"}'
                conn.sendall(
                    b"HTTP/1.1 429 Too Many Requests\r\nRetry-After: 3\r\n"
                    b"Content-Type: application/json\r\nContent-Length: "
                    + str(len(body)).encode()
                    + b"\r\n\r\n"
                    + body
                )

    threading.Thread(target=busy, daemon=True).start()
    data = str(tmp_path / "counter")
    assert run(TERMINAL, "init", "--data-dir", data, "--shop-language", "fr").returncode == 0
    busy_pair = run(TERMINAL, "pair", f"http://127.0.0.1:{port}", "t" * 43, "--data-dir", data)
    assert busy_pair.returncode == 3
    assert busy_pair.stderr.startswith(
        f"refused: rate_limited: La plateforme http://127.0.0.1:{port} est occupée"
    ), busy_pair.stderr
