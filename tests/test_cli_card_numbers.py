"""Headless counter commands take a typed card number as the counter app does (review R1).

The real ``citie-terminal`` (CliRunner) on a real ledger: a number this terminal's ledger has
seen or the platform confirmed is taken by stamp, purchase, redeem, balance and card verify;
an unknown one, a typo and a revoked card are refused with the app's reasons and sentences.
"""

from __future__ import annotations

import json
from pathlib import Path

from loyalty.cards import new_card_id
from loyalty.db import Store, iso, utc_now
from terminal.i18n import t
from tests.test_staff_cli import Shop


def _typo(card_id: str) -> str:
    chars = list(card_id)
    chars[4] = "A" if chars[4] != "A" else "B"
    return "".join(chars)


def test_headless_commands_take_a_typed_card_number_this_terminal_knows(tmp_path: Path) -> None:
    shop = Shop(tmp_path)
    code = shop.card()
    seen = json.loads(shop.ok("stamp", code, "--count", "3", "--json").stdout)["card_id"]
    confirmed, revoked, unknown = new_card_id(), new_card_id(), new_card_id()
    with Store.open(shop.data_dir / "ledger.db") as store, store.write() as db:
        db.execute(
            "INSERT INTO confirmed_balances (card_id, stamps, confirmed_at) VALUES (?, 12, ?)",
            [confirmed, iso(utc_now())],
        )
        db.execute(
            "INSERT INTO revoked_cards (card_id, revoked_at) VALUES (?, ?)",
            [revoked, iso(utc_now())],
        )
    # As people type it: lower case, spaces for dashes.
    typed = seen.lower().replace("-", " ")
    stamped = json.loads(shop.ok("stamp", typed, "--json").stdout)
    assert stamped["card_id"] == seen and stamped["stamps"] == 1
    bought = json.loads(shop.ok("purchase", seen, "--amount", "4,50", "--json").stdout)
    assert bought["card_id"] == seen
    assert json.loads(shop.ok("balance", confirmed, "--json").stdout)["total"] == 12
    redeemed = json.loads(shop.ok("redeem", confirmed, "--json").stdout)
    assert redeemed["card_id"] == confirmed and redeemed["stamps"] < 0
    verified = json.loads(shop.ok("card", "verify", seen, "--json").stdout)
    assert verified["card_id"] == seen and verified["typed"] is True
    assert seen in shop.ok("card", "verify", typed, "--lang", "nl").stdout
    before = json.loads(shop.ok("balance", seen, "--json").stdout)

    for command in (["stamp"], ["purchase", "--amount", "5"], ["redeem"], ["balance"]):
        for number, reason, sentence in (
            (unknown, "number_unknown", t("card.number_unknown", "fr", card_id=unknown)),
            (_typo(seen), "number_typo", t("card.number_typo", "fr")),
        ):
            run = shop.refused(reason, command[0], number, *command[1:], "--lang", "fr")
            assert sentence in run.stderr
        run = shop.refused("revoked", command[0], revoked, *command[1:], "--lang", "de")
        assert revoked not in run.stdout
    for number, reason in ((unknown, "number_unknown"), (revoked, "revoked")):
        run = shop.refused(reason, "card", "verify", number, "--json", "--lang", "nl")
        shown = json.loads(run.stdout)
        assert shown["refused"] == reason and shown["card_id"] == number
        assert shown["text"] in run.stderr
    assert json.loads(shop.ok("balance", seen, "--json").stdout) == before


def test_history_names_a_mistyped_card_number_instead_of_listing_nothing(tmp_path: Path) -> None:
    shop = Shop(tmp_path)
    seen = json.loads(shop.ok("stamp", shop.card(), "--json").stdout)["card_id"]
    listed = [
        json.loads(line)
        for line in shop.ok("history", "--card", seen, "--json").stdout.splitlines()
    ]
    assert [row["card_id"] for row in listed] == [seen]
    run = shop.refused("number_typo", "history", "--card", _typo(seen), "--lang", "de")
    assert t("card.number_typo", "de") in run.stderr
    # A number this terminal never saw simply has no events here.
    assert shop.ok("history", "--card", new_card_id(), "--json").stdout == ""
