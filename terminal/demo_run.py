"""``make run``: a reference platform in the background, a paired demo terminal, the app.

Everything lives under ``.demo/`` in the working copy (``platform/`` and ``terminal/``), so
a demo never touches a real counter's data. The platform listens on 127.0.0.1:8400 (or a
free port when that one is taken) and is stopped when the app quits, however it quits.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
from pathlib import Path

from config.settings import Language
from receipts.cards import render_card_png
from terminal.demo import (
    DEMO_ADDRESS,
    DEMO_CAMPAIGN,
    DEMO_CITY,
    DEMO_REWARDS,
    DEMO_VOUCHERS,
    VOUCHERS_DIR,
)

ROOT = Path.cwd() / ".demo"
PLATFORM_DIR = ROOT / "platform"
TERMINAL_DIR = ROOT / "terminal"
PORT = 8400
SHOP_ID = "demo-shop"
SHOP_NAME = "Demo Coffee"
TERMINAL_ID = "demo-t1"
DEMO_CARDS = 3
BIN = Path(sys.executable).parent


def _say(text: str) -> None:
    sys.stderr.write(f"make run: {text}\n")


def _run(*args: str, env: dict[str, str] | None = None) -> str:
    result = subprocess.run(
        args, capture_output=True, text=True, env=env, check=False, stdin=subprocess.DEVNULL
    )
    if result.returncode != 0:
        _say(f"`{' '.join(args[:3])} ...` failed:\n{result.stderr.strip()}")
        raise SystemExit(result.returncode or 1)
    return result.stdout


def _port_free(port: int) -> bool:
    with socket.socket() as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def start_platform() -> tuple[subprocess.Popen[str], str]:
    """Start ``citie-platform serve`` and return it with the URL it printed."""
    port = PORT if _port_free(PORT) else 0
    log = (ROOT / "platform.log").open("a", encoding="utf-8")
    process = subprocess.Popen(
        [
            str(BIN / "citie-platform"),
            "--data-dir",
            str(PLATFORM_DIR),
            "serve",
            "--port",
            str(port),
        ],
        stdout=subprocess.PIPE,
        stderr=log,
        text=True,
        start_new_session=True,  # Ctrl+C in the app must not reach the platform first
    )
    assert process.stdout is not None
    line = process.stdout.readline().strip()
    url = next((word for word in line.split() if word.startswith("http://")), "")
    if not url:
        process.terminate()
        _say(f"the platform did not start (see {ROOT / 'platform.log'}); got {line!r}")
        raise SystemExit(1)
    return process, url.rstrip("/")


def prepare_terminal(url: str) -> None:
    """Init, pair and make demo cards once; later runs find them done."""
    terminal = [str(BIN / "citie-terminal"), "--data-dir", str(TERMINAL_DIR)]
    platform = [str(BIN / "citie-platform"), "--data-dir", str(PLATFORM_DIR)]
    env = {**os.environ, "CITIE_PLATFORM_URL": url}
    if not (TERMINAL_DIR / "config.toml").exists():
        init = ["init", "--shop-id", SHOP_ID, "--shop-name", SHOP_NAME]
        init += ["--terminal-id", TERMINAL_ID, "--shop-address", DEMO_ADDRESS]
        # The demo shop speaks Dutch (the default language); so does its reward.
        init += ["--reward-name", DEMO_REWARDS[Language.NL]]
        _run(*terminal, *init, env=env)
    if not (TERMINAL_DIR / "platform.token").exists():
        add = ["terminal", "add", "--shop", SHOP_NAME, "--shop-id", SHOP_ID]
        add += ["--terminal-id", TERMINAL_ID, "--json"]
        added = json.loads(_run(*platform, *add))
        _run(*terminal, "pair", url, added["token"], env=env)
        _say(f"paired terminal {TERMINAL_ID} with the platform at {url}")
    cards = TERMINAL_DIR / "demo-cards"
    cards.mkdir(parents=True, exist_ok=True)
    for number in range(1, DEMO_CARDS + 1):
        path = cards / f"demo-card-{number}.png"
        if path.exists():
            continue
        card = json.loads(_run(*platform, "card", "new", "--expires", "3650", "--json"))
        path.write_bytes(render_card_png(card["code"], card["card_id"]))
    prepare_vouchers(platform)


def prepare_vouchers(platform: list[str]) -> None:
    """City vouchers issued by the platform (so it knows them when their spends arrive), saved
    where the app finds them for F11."""
    folder = TERMINAL_DIR / VOUCHERS_DIR
    folder.mkdir(parents=True, exist_ok=True)
    for number, cents in enumerate(DEMO_VOUCHERS, start=1):
        path = folder / f"demo-voucher-{number}.png"
        if path.exists():
            continue
        amount = f"{cents // 100},{cents % 100:02d}"
        new = ["voucher", "new", "--amount", amount, "--campaign", DEMO_CAMPAIGN]
        new += ["--city", DEMO_CITY, "--expires", "3650", "--png", str(path), "--json"]
        _run(*platform, *new)


def main() -> int:
    """Run the demo and return the app's exit status."""
    ROOT.mkdir(exist_ok=True)
    process, url = start_platform()
    try:
        _say(f"reference platform at {url} (log: {ROOT / 'platform.log'})")
        prepare_terminal(url)
        env = {**os.environ, "CITIE_PLATFORM_URL": url}
        app = subprocess.run(
            [str(BIN / "citie-terminal"), "--data-dir", str(TERMINAL_DIR)], env=env, check=False
        )
        return app.returncode
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
        _say("platform stopped")


if __name__ == "__main__":
    sys.exit(main())
