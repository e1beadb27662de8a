"""Issue 15 (a real shop's first day), items 1, 6 and 8: set-up for a real shop, one language
per run with ``--json`` everywhere, and the accountant's exports.

Every test drives the real ``citie-terminal`` command (click's CliRunner, or a subprocess on a
pseudo-terminal for the questions ``init`` asks) on a real ledger file in tmp_path.
"""

from __future__ import annotations

import csv
import io
import json
import os
import pty
import re
import select
import subprocess
import sys
from datetime import datetime, timedelta
from pathlib import Path

import click
import pytest
from click.testing import CliRunner, Result

from city.issuer import Issuer
from config import load_settings
from loyalty import schema as _schema  # noqa: F401  (registers the ledger migrations)
from loyalty.db import Store
from loyalty.programs import SHOP_TZ
from loyalty.trust import install_trust
from terminal.cli import cli

DEMO_ADDRESS = "Grote Markt 1, 8800 Roeselare"
DEMO_REWARD_WORDS = ("coffee", "koffie", "café", "Kaffee")


def clean_env() -> dict[str, str | None]:
    """No CITIE_ variable of the developer's shell leaks into a run."""
    return {name: None for name in os.environ if name.startswith("CITIE_")}


def run(data_dir: Path, *args: str) -> Result:
    return CliRunner().invoke(cli, [*args, "--data-dir", str(data_dir)], env=clean_env())


def ok(data_dir: Path, *args: str) -> Result:
    result = run(data_dir, *args)
    assert result.exit_code == 0, (result.stdout, result.stderr)
    return result


class Shop:
    """An initialised terminal with the city's issuer keys installed."""

    def __init__(self, tmp_path: Path, *init: str) -> None:
        self.data_dir = tmp_path / "shop"
        self.issuer = Issuer.open(tmp_path / "issuer")
        ok(self.data_dir, "init", *init)
        with Store.open(self.data_dir / "ledger.db") as store:
            install_trust(store, self.issuer.trust_list())

    def card(self) -> str:
        return self.issuer.issue_card(expires_days=30)[1]

    def ok(self, *args: str) -> Result:
        return ok(self.data_dir, *args)

    def run(self, *args: str) -> Result:
        return run(self.data_dir, *args)


# --- 1. set-up for a real shop ----------------------------------------------------------


def test_init_takes_the_address_reward_and_stamps_and_the_slip_prints_them(
    tmp_path: Path,
) -> None:
    shop = Shop(
        tmp_path,
        "--shop-name",
        "Bakkerij Peeters",
        "--shop-address",
        "Ooststraat 5, 8800 Roeselare",
        "--reward-name",
        "een gratis brood",
        "--stamps-for-reward",
        "8",
        "--shop-language",
        "nl",
    )
    config = (shop.data_dir / "config.toml").read_text(encoding="utf-8")
    assert 'address = "Ooststraat 5, 8800 Roeselare"' in config
    assert 'reward_name = "een gratis brood"' in config
    assert "reward_threshold = 8" in config
    code = shop.card()
    shop.ok("stamp", code)
    slip = shop.ok("receipt", "show", "last").stdout
    assert "Ooststraat 5, 8800 Roeselare" in slip
    assert "een gratis brood" in slip and "/8" in slip
    assert DEMO_ADDRESS not in slip
    balance = json.loads(shop.ok("balance", code, "--json").stdout)
    assert (balance["reward_name"], balance["reward_threshold"]) == ("een gratis brood", 8)


def test_a_new_dutch_shop_prints_no_demo_address_and_no_coffee(tmp_path: Path) -> None:
    shop = Shop(tmp_path, "--shop-name", "Bakkerij Peeters", "--shop-language", "nl")
    shop.ok("stamp", shop.card())
    slip = shop.ok("receipt", "show", "last").stdout
    assert "Bakkerij Peeters" in slip
    assert "Grote Markt" not in slip
    assert not any(word in slip for word in DEMO_REWARD_WORDS), slip
    assert "een beloning" in slip  # the reward's usual words in the shop's language


def test_the_reward_name_follows_the_shop_language(tmp_path: Path) -> None:
    shop = Shop(tmp_path, "--shop-language", "fr")
    code = shop.card()
    shop.ok("stamp", code)
    assert json.loads(shop.ok("balance", code, "--json").stdout)["reward_name"] == "une récompense"
    config = shop.data_dir / "config.toml"
    assert 'reward_name = ""' in config.read_text(encoding="utf-8")
    config.write_text(
        config.read_text(encoding="utf-8").replace('language = "fr"', 'language = "de"'),
        encoding="utf-8",
    )
    assert json.loads(shop.ok("balance", code, "--json").stdout)["reward_name"] == "eine Prämie"


def test_demo_mode_alone_shows_the_demo_address_and_reward(tmp_path: Path) -> None:
    from terminal.demo import demo_settings

    settings, config_path = load_settings(data_dir=tmp_path, environ={})
    assert not config_path.exists()
    assert settings.shop.address == ""
    demo = demo_settings(settings)
    assert demo.shop.address == DEMO_ADDRESS
    assert demo.program.reward_name == "een gratis koffie"  # the demo shop speaks Dutch
    french, _ = load_settings(data_dir=tmp_path, environ={"CITIE_SHOP_LANGUAGE": "fr"})
    assert demo_settings(french).program.reward_name == "un café offert"


def test_init_asks_for_the_shop_in_a_terminal(tmp_path: Path) -> None:
    """Run in a terminal (a pseudo-terminal here), init asks what no option gave."""
    data = tmp_path / "asked"
    leader, follower = pty.openpty()
    # Typed ahead: the terminal keeps the lines until init reads them.
    # The last, empty answer: no first manager yet (init then says how to add one).
    answers = "Bakkerij Peeters\nOoststraat 5, 8800 Roeselare\neen gratis brood\n8\n\n"
    os.write(leader, answers.encode())
    env = {k: v for k, v in os.environ.items() if not k.startswith("CITIE_")}
    command = [sys.executable, "-m", "terminal.cli", "init", "--data-dir", str(data)]
    process = subprocess.Popen(
        [*command, "--shop-language", "nl"],
        stdin=follower,
        stdout=follower,
        stderr=subprocess.PIPE,
        env=env,
    )
    os.close(follower)
    shown = b""
    while True:
        ready, _, _ = select.select([leader], [], [], 60)
        if not ready:  # still waiting for an answer nobody will type: fail, do not hang
            process.kill()
            pytest.fail(f"init kept asking: {shown!r}")
        try:
            chunk = os.read(leader, 4096)
        except OSError:  # EIO: the child closed the terminal
            break
        if not chunk:
            break
        shown += chunk
    os.close(leader)
    assert process.stderr is not None
    asked = process.stderr.read()  # the questions (Python's input() writes them there)
    process.stderr.close()
    assert process.wait(timeout=60) == 0, shown + asked
    assert b"Naam van de zaak" in asked  # asked in the shop's language
    config = (data / "config.toml").read_text(encoding="utf-8")
    assert 'name = "Bakkerij Peeters"' in config
    assert 'address = "Ooststraat 5, 8800 Roeselare"' in config
    assert 'reward_name = "een gratis brood"' in config
    assert "reward_threshold = 8" in config


def test_init_never_asks_when_standard_input_is_not_a_terminal(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "terminal.cli", "init", "--data-dir", str(tmp_path / "d")],
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        env={k: v for k, v in os.environ.items() if not k.startswith("CITIE_")},
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "Naam van de zaak" not in done.stdout


# --- 6. one language per run, one JSON per line -----------------------------------------


def test_a_dutch_shop_answers_only_in_dutch(tmp_path: Path) -> None:
    shop = Shop(tmp_path, "--shop-language", "nl")
    code = shop.card()
    out = shop.ok("stamp", code).stdout
    assert "geregistreerd: stempel" in out and "Bezoek: 1 stempel" in out
    assert "saldo: 1 stempel (" in out
    for english in ("recorded", "balance", " stamps", "confirmed", "card "):
        assert english not in out, (english, out)
    balance = shop.ok("balance", code).stdout
    assert "beschikbare beloningen" in balance and "rewards" not in balance
    report = shop.ok("report").stdout
    assert "stempels gegeven:" in report and "stamps issued" not in report


def test_lang_picks_the_language_of_one_run(tmp_path: Path) -> None:
    shop = Shop(tmp_path, "--shop-language", "nl")
    out = shop.ok("stamp", shop.card(), "--lang", "fr").stdout
    assert "enregistré : tampon" in out and "Visite : 1 tampon" in out
    assert "Bezoek" not in out and "recorded" not in out
    # The global option, before the command, works too.
    result = CliRunner().invoke(
        cli, ["--lang", "de", "report", "--data-dir", str(shop.data_dir)], env=clean_env()
    )
    assert result.exit_code == 0, result.stderr
    assert "Stempel vergeben:" in result.stdout


def test_a_refusal_is_said_in_the_language_of_the_run(tmp_path: Path) -> None:
    missing = run(tmp_path / "nothing", "stamp", "CT1:X", "--lang", "de")
    assert missing.exit_code == 1
    assert "refused: not_initialised: kein Journal" in missing.stderr


def _leaf_commands(group: click.Group, path: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    found: list[tuple[str, ...]] = []
    for name, command in group.commands.items():
        if isinstance(command, click.Group):
            found += _leaf_commands(command, (*path, name))
        else:
            found.append((*path, name))
    return found


def _command(path: tuple[str, ...]) -> click.Command:
    command: click.Command = cli
    for name in path:
        assert isinstance(command, click.Group)
        command = command.commands[name]
    return command


# ``sync`` prints JSON lines whatever is asked (the nightly job's log): nothing to switch.
ALWAYS_JSON = {("sync",)}


def test_every_command_that_prints_takes_json() -> None:
    missing = [
        " ".join(path)
        for path in _leaf_commands(cli)
        if path not in ALWAYS_JSON
        and "--json" not in {opt for p in _command(path).params for opt in p.opts}
    ]
    assert missing == []


def test_every_command_takes_lang() -> None:
    for path in _leaf_commands(cli):
        opts = {opt for p in _command(path).params for opt in p.opts}
        assert "--lang" in opts, path


@pytest.mark.parametrize("written", ["25/11/2026", "25.11.2026", "2026-11-25", "25-11-2026"])
def test_report_day_accepts_the_shop_date_formats(tmp_path: Path, written: str) -> None:
    shop = Shop(tmp_path)
    result = json.loads(shop.ok("report", "--day", written, "--json").stdout)
    assert result["day"] == "2026-11-25"


def test_a_day_that_is_not_a_date_is_refused_in_the_shop_language(tmp_path: Path) -> None:
    shop = Shop(tmp_path, "--shop-language", "fr")
    result = shop.run("report", "--day", "31/02/2026")
    assert result.exit_code == 2
    assert "refused: bad_date:" in result.stderr
    assert "n'est pas une date" in result.stderr and "25/11/2026" in result.stderr


def test_receipt_print_takes_the_readme_options(tmp_path: Path) -> None:
    shop = Shop(tmp_path, "--shop-language", "en")
    shop.ok("stamp", shop.card())
    narrow, wide = tmp_path / "narrow.bin", tmp_path / "wide.bin"
    out = shop.ok("receipt", "print", "last", "--width", "32", "--output", str(narrow)).stdout
    assert f"printed slip {shop.data_dir.name}" not in out  # the slip number, not the folder
    assert str(narrow) in out
    shop.ok("receipt", "print", "last", "--width", "48", "--output", str(wide))
    assert narrow.read_bytes().startswith(b"\x1b@") and wide.read_bytes().startswith(b"\x1b@")
    assert narrow.read_bytes() != wide.read_bytes()
    shown = json.loads(shop.ok("receipt", "show", "last", "--width", "32", "--json").stdout)
    assert shown["columns"] == 32
    assert max(len(line) for line in shown["text"].splitlines()) <= 32


def test_config_check_takes_json(tmp_path: Path) -> None:
    shop = Shop(tmp_path)
    checked = json.loads(shop.ok("config", "check", "--json").stdout)
    assert checked["ok"] is True and checked["config"].endswith("config.toml")


# --- 8. exports -------------------------------------------------------------------------


def _day_with_a_void(shop: Shop) -> tuple[str, str, str]:
    code = shop.card()
    stamp = json.loads(shop.ok("stamp", code, "--json").stdout)
    bought = json.loads(shop.ok("purchase", code, "--amount", "12,50", "--json").stdout)
    voided = json.loads(shop.ok("void", bought["receipt_no"], "--json").stdout)
    return stamp["receipt_no"], bought["receipt_no"], voided["receipt_no"]


def _csv(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text)))


def test_report_csv_lists_the_days_events_with_their_voids(tmp_path: Path) -> None:
    shop = Shop(tmp_path, "--shop-language", "en")
    stamp_no, bought_no, void_no = _day_with_a_void(shop)
    rows = _csv(shop.ok("report", "--csv").stdout)
    assert [row["receipt_no"] for row in rows] == [stamp_no, bought_no, void_no]
    bought, void = rows[1], rows[2]
    assert (bought["kind"], bought["amount"], bought["currency"]) == ("purchase", "12.50", "EUR")
    assert bought["voided_by_receipt_no"] == void_no
    assert (void["kind"], void["amount"], void["voids_receipt_no"]) == ("void", "-12.50", bought_no)
    assert rows[0]["amount"] == "" and rows[0]["stamps"] == "1"
    moment = datetime.fromisoformat(bought["occurred_at_local"])
    assert bought["occurred_at_utc"].endswith("Z")
    assert moment.utcoffset() == datetime.now(SHOP_TZ).utcoffset()
    assert datetime.fromisoformat(bought["occurred_at_utc"].replace("Z", "+00:00")) - moment < (
        timedelta(seconds=1)
    )


def test_report_month_as_json_and_csv(tmp_path: Path) -> None:
    shop = Shop(tmp_path, "--shop-language", "en")
    _day_with_a_void(shop)
    today = datetime.now(SHOP_TZ).date()
    month = f"{today.year:04d}-{today.month:02d}"
    figures = json.loads(shop.ok("report", "--month", month, "--json").stdout)
    assert figures["month"] == month
    assert figures["total"]["purchases"] == 0  # the purchase and its void net out
    assert figures["total"]["voids"] == 1 and figures["total"]["stamps_issued"] >= 1
    assert today.isoformat() in [day["day"] for day in figures["days"]]
    rows = _csv(shop.ok("report", "--month", month, "--csv").stdout)
    assert rows[-1]["day"] == "total" and rows[-1]["purchase_total"] == "0.00"
    assert len(rows) == len(figures["days"]) + 1
    text = shop.ok("report", "--month", month).stdout
    assert f"month report {month}" in text
    assert shop.run("report", "--month", "2026-13").exit_code == 2


def test_ledger_export_for_the_accountant(tmp_path: Path) -> None:
    shop = Shop(tmp_path, "--shop-language", "en")
    _, bought_no, void_no = _day_with_a_void(shop)
    lines = shop.ok("ledger", "export", "--json").stdout.splitlines()
    rows = [json.loads(line) for line in lines]
    assert [row["kind"] for row in rows] == ["stamp", "purchase", "void"]
    for row in rows:
        assert not isinstance(row["amount"], float)  # money is decimal text, never a float
    assert rows[1]["amount"] == "12.50" and rows[1]["voided_by_receipt_no"] == void_no
    assert rows[2]["voids_receipt_no"] == bought_no
    assert _csv(shop.ok("ledger", "export", "--csv").stdout) == [
        {k: str(v) for k, v in row.items()} for row in rows
    ]
    today = datetime.now(SHOP_TZ).date()
    tomorrow = (today + timedelta(days=1)).strftime("%d/%m/%Y")
    assert shop.ok("ledger", "export", "--json", "--from", tomorrow).stdout == ""
    ranged = shop.ok("ledger", "export", "--json", "--from", today.isoformat(), "--to", tomorrow)
    assert len(ranged.stdout.splitlines()) == 3
    backwards = shop.run("ledger", "export", "--from", tomorrow, "--to", today.isoformat())
    assert backwards.exit_code == 2 and "swap the two dates" in backwards.stderr
    both = shop.run("ledger", "export", "--csv", "--json")
    assert both.exit_code == 2 and "not both" in both.stderr


def test_ledger_export_is_csv_by_default_with_a_header(tmp_path: Path) -> None:
    shop = Shop(tmp_path, "--shop-language", "en")
    _day_with_a_void(shop)
    text = shop.ok("ledger", "export").stdout
    header = text.splitlines()[0]
    assert re.fullmatch(r"[a-z_,]+", header) and header.startswith("receipt_no,event_id,kind")
    assert len(text.splitlines()) == 4


def test_void_last_cancels_the_newest_event_and_an_empty_ledger_says_there_is_nothing(
    tmp_path: Path,
) -> None:
    # A shopkeeper who pressed stamp by mistake types `void last`, as `receipt show last`.
    shop = Shop(tmp_path, "--shop-language", "nl")
    refused = shop.run("void", "last")
    assert refused.exit_code == 1
    assert "nog niets geregistreerd" in refused.stderr
    code = shop.card()
    first = json.loads(shop.ok("stamp", code, "--json").stdout)
    second = json.loads(shop.ok("stamp", code, "--json").stdout)
    voided = json.loads(shop.ok("void", "LAST", "--json").stdout)
    assert voided["kind"] == "void"
    assert voided["voids"] == second["event_id"] != first["event_id"]
    # The newest event is now that void: a second `void last` is refused (a void is final).
    again = shop.run("void", "last")
    assert again.exit_code == 1
    assert "cannot_void_void" in again.stderr
    assert f"{voided['receipt_no']} is een annulering" in again.stderr
    balance = json.loads(shop.ok("balance", code, "--json").stdout)
    assert balance["total"] == 1
