"""One home for each piece of domain logic (issue 10, E24): the program in force, card
verification, the shop time zone, UTC time text and printer addresses each live in one place
that every caller uses; the copies that drifted apart are gone."""

from __future__ import annotations

import os
import re
import socket
import threading
from pathlib import Path

import pytest
from click.testing import CliRunner

from config import ConfigError, load_settings
from config.settings import PrinterKind, PrinterSettings, network_address
from loyalty import schema as _schema  # noqa: F401  (registers the migrations)
from loyalty.db import Store
from loyalty.programs import program_in_force
from receipts.printers import NetworkPrinter, printer_for
from terminal.cli import cli

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ["terminal", "scanner", "sync", "receipts", "config", "loyalty"]


def places(pattern: str) -> list[str]:
    """The source files (of our packages) where the pattern occurs."""
    found = []
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            if re.search(pattern, path.read_text(encoding="utf-8")):
                found.append(path.relative_to(ROOT).as_posix())
    return found


def test_the_program_in_force_is_read_in_one_place() -> None:
    assert places(r"SELECT body FROM programs WHERE id") == ["loyalty/programs.py"]


def test_card_codes_are_verified_in_one_place() -> None:
    # loyalty.cards.verify is called only by loyalty.trust.CardVerifier (and defined in cards).
    callers = places(r"from loyalty\.cards import [^\n]*\bverify\b|cards\.verify\(")
    assert callers == ["loyalty/trust.py"]
    assert "revoked_cards(" not in (ROOT / "terminal" / "services.py").read_text(encoding="utf-8")


def test_the_shop_time_zone_is_named_in_one_place() -> None:
    assert places(r"ZoneInfo\(") == ["loyalty/programs.py"]
    assert places(r"[\"']Europe/Brussels[\"']") == ["loyalty/programs.py"]


def test_utc_time_text_is_written_in_one_place() -> None:
    # The ledger's format (milliseconds and a Z); a card's whole-second times are its own.
    assert places(r"%S\.%f") == ["loyalty/db.py"]


def test_printer_addresses_are_parsed_in_one_place() -> None:
    assert places(r"rpartition\(\":\"\)") == []


@pytest.mark.parametrize(
    ("target", "address"),
    [
        ("10.0.0.9", ("10.0.0.9", 9100)),
        (" printer.local:9101 ", ("printer.local", 9101)),
        ("[::1]:9101", ("::1", 9101)),
        ("[fe80::1]", ("fe80::1", 9100)),
        ("::1", ("::1", 9100)),  # a bare IPv6 address has no port
    ],
)
def test_network_printer_addresses(target: str, address: tuple[str, int]) -> None:
    assert network_address(target) == address
    assert NetworkPrinter(target).address() == address
    settings = PrinterSettings(kind=PrinterKind.NETWORK, target=target)
    assert settings.network_address() == address
    printer = printer_for(settings)
    assert isinstance(printer, NetworkPrinter) and printer.address() == address


@pytest.mark.parametrize("target", ["10.0.0.9:99999", "10.0.0.9:abc", "10.0.0.9:", "[::1", ":9100"])
def test_a_bad_network_printer_target_is_refused_by_the_config(tmp_path: Path, target: str) -> None:
    environ = {"CITIE_PRINTER_KIND": "network", "CITIE_PRINTER_TARGET": target}
    with pytest.raises(ConfigError) as caught:
        load_settings(data_dir=tmp_path, environ=environ)
    message = str(caught.value)
    assert f"environment variable CITIE_PRINTER_TARGET = {target!r}" in message
    assert "host:port" in message or "[address]" in message


def test_a_file_printer_target_may_hold_colons(tmp_path: Path) -> None:
    environ = {"CITIE_PRINTER_KIND": "file", "CITIE_PRINTER_TARGET": "/tmp/a:b:c.bin"}
    settings, _ = load_settings(data_dir=tmp_path, environ=environ)
    assert settings.printer.target == "/tmp/a:b:c.bin"


def test_doctor_reaches_an_ipv6_network_printer_like_the_printer_does(tmp_path: Path) -> None:
    """doctor parsed the target its own way: "[::1]:PORT" was unreachable for it alone."""
    try:
        listener = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
        listener.bind(("::1", 0))
    except OSError:
        pytest.skip("no IPv6 loopback on this machine")
    listener.listen(4)
    port = listener.getsockname()[1]
    accepted: list[socket.socket] = []
    thread = threading.Thread(target=lambda: accepted.append(listener.accept()[0]), daemon=True)
    thread.start()
    env: dict[str, str | None] = {n: None for n in os.environ if n.startswith("CITIE_")}
    env |= {
        "CITIE_PRINTER_KIND": "network",
        "CITIE_PRINTER_TARGET": f"[::1]:{port}",
        "CITIE_CAMERA_ENABLED": "false",
    }
    data_dir = tmp_path / "terminal"
    runner = CliRunner()
    assert runner.invoke(cli, ["init", "--data-dir", str(data_dir)], env=env).exit_code == 0
    result = runner.invoke(cli, ["doctor", "--data-dir", str(data_dir), "--lang", "en"], env=env)
    thread.join(timeout=10)
    for conn in accepted:
        conn.close()
    listener.close()
    printer_line = [line for line in result.output.splitlines() if "printer:" in line]
    assert printer_line and "accepts connections" in printer_line[0], result.output


def test_an_invalid_stored_program_falls_back_to_the_config_and_says_why(tmp_path: Path) -> None:
    settings, _ = load_settings(data_dir=tmp_path, environ={})
    heard: list[str] = []
    with Store.open(tmp_path / "ledger.db") as store:
        with store.write() as db:
            db.execute(
                "INSERT INTO programs (id, body, updated_at) VALUES (?, ?, ?)",
                ["coffee", '{"id": "coffee", "reward_threshold": 0}', "2026-01-01T00:00:00.000Z"],
            )
        program = program_in_force(
            store.read(), settings.program, on_invalid=lambda exc: heard.append(str(exc))
        )
        assert program.reward_threshold == settings.program.reward_threshold
        assert heard and "reward_threshold" in heard[0]
        with store.write() as db:
            db.execute(
                "UPDATE programs SET body = ? WHERE id = 'coffee'",
                ['{"id": "coffee", "reward_threshold": 7, "reward_name": "a croissant"}'],
            )
        program = program_in_force(store.read(), settings.program)
        assert (program.reward_threshold, program.reward_name) == (7, "a croissant")
