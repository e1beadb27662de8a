"""A card flagged by the city reaches every terminal as a warning (issue 14 item 6), over real
HTTP, on both stores.

Three shops' terminals stamp one card within minutes and sync: the platform flags it
(``velocity``), and a fourth shop's terminal, at its next sync, says "check this card" and why
when the card is scanned, in the app and in the headless commands, without blocking it.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable

from click.testing import CliRunner

from city.issuer import Issuer
from loyalty.ledger import Ledger
from loyalty.programs import program_in_force
from sync.job import run_sync
from terminal.cli import cli
from terminal.services import make_app
from tests.conftest_platform import FAST, PairedTerminal, RunningPlatform
from tests.test_app_kit import SIZE, settle, text_of, type_code

Terminals = Callable[..., PairedTerminal]
WARNING = "Check this card: used at several shops within minutes (flagged by the city"


def stamp_and_sync(terminal: PairedTerminal, card_id: str) -> None:
    ledger = Ledger(terminal.store, shop_id=terminal.shop_id, terminal_id=terminal.terminal_id)
    ledger.stamp(card_id, program_in_force(terminal.store.read(), terminal.settings.program))
    report = run_sync(terminal.settings, terminal.store, policy=FAST, backup=False)
    assert report.exit_code == 0, report.to_json()


def headless(terminal: PairedTerminal, *args: str) -> str:
    env = {name: None for name in os.environ if name.startswith("CITIE_")}
    result = CliRunner().invoke(cli, [*args, "--data-dir", str(terminal.data_dir)], env=env)
    assert result.exit_code == 0, result.output
    return result.stdout


async def test_a_card_stamped_at_three_shops_is_a_warning_at_a_fourth(
    platform: RunningPlatform, terminal_factory: Terminals
) -> None:
    issuer = Issuer.open(platform.data_dir / "issuer")
    card_id, code = issuer.issue_card()
    _, clean_code = issuer.issue_card()
    with platform.open_store() as store:
        store.add_card(card_id, 365)
    shops = [terminal_factory(platform, f"shop-{s}", f"t-{s}") for s in "abc"]
    fourth = terminal_factory(platform, "shop-d", "t-d")

    for terminal in shops:
        stamp_and_sync(terminal, card_id)
    flagged = platform.query("SELECT card_id, reasons FROM card_flags")
    assert flagged == [(card_id, "velocity")]
    assert platform.query("SELECT terminal_id FROM events WHERE flags = 'velocity'") == [("t-c",)]

    report = run_sync(fourth.settings, fourth.store, policy=FAST, backup=False)
    assert report.exit_code == 0, report.to_json()
    settings = fourth.with_settings(camera={"enabled": False}, terminal={"bell": False})
    ledger = Ledger(fourth.store, shop_id=fourth.shop_id, terminal_id=fourth.terminal_id)
    app = make_app(
        settings, ledger, None, None, None, store=fourth.store, language="en",
        background_sync=False,
    )  # fmt: skip
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await type_code(pilot, clean_code)
        assert "Check this card" not in text_of(app, "#card-progress")
        await type_code(pilot, code)
        assert WARNING in text_of(app, "#card-progress")
        await pilot.press("f2")  # a warning, not a refusal: the visit is recorded
        await settle(pilot)
        assert ledger.balance(card_id).total == 1
        assert WARNING in text_of(app, "#card-progress")

    verified = json.loads(headless(fourth, "card", "verify", code, "--json", "--lang", "en"))
    assert verified["card_id"] == card_id and verified["flags"] == ["velocity"]
    assert verified["warning"].startswith(WARNING)
    balance = json.loads(headless(fourth, "balance", code, "--json"))  # the shop's Dutch
    assert balance["flags"] == ["velocity"] and balance["total"] == 1
    assert balance["warning"].startswith("Controleer deze kaart: binnen enkele minuten")
    said = headless(fourth, "card", "verify", code, "--lang", "fr")
    assert "Vérifiez cette carte : utilisée dans plusieurs commerces" in said
    clean = json.loads(headless(fourth, "card", "verify", clean_code, "--json"))
    assert (clean["flags"], clean["warning"]) == ([], None)


def test_serve_takes_the_thresholds_as_options(
    platform_factory: Callable[..., RunningPlatform], terminal_factory: Terminals
) -> None:
    platform = platform_factory("--velocity-shops", "1", "--velocity-minutes", "5")
    issuer = Issuer.open(platform.data_dir / "issuer")
    card_id, _ = issuer.issue_card()
    first, second = (terminal_factory(platform, f"shop-{s}", f"t-{s}") for s in "ab")

    stamp_and_sync(first, card_id)
    assert platform.query("SELECT card_id FROM card_flags") == []
    stamp_and_sync(second, card_id)  # two shops are one too many with --velocity-shops 1

    assert platform.query("SELECT card_id, reasons FROM card_flags") == [(card_id, "velocity")]
