"""Issue 13 item 6: a city voucher spend's slip, in the shop's four languages.

The spend is made by the real ``citie-terminal voucher spend`` on a real ledger (a voucher
issued by a real ``city.issuer.Issuer``); the slip is built from that ledger by
``receipts.build.receipt_for`` and rendered as text (32 and 48 columns), PNG and ESC/POS,
and shown by ``citie-terminal receipt show``.
"""

from __future__ import annotations

import io
import json
import os
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result
from PIL import Image

from city.issuer import Issuer
from config import Settings, load_settings
from loyalty.db import Store
from loyalty.ledger import Ledger
from receipts.build import mask_voucher_id, receipt_for
from receipts.escpos import render_escpos
from receipts.png import render_png
from receipts.text import render_text
from terminal.cli import cli

CAMPAIGN = "Roeselare koopt lokaal"

# What each language's slip must say: the title, paid, left, given back, not a VAT receipt.
WORDS = {
    "nl": ("Betaling met stadsbon", "Betaald met de bon", "Nog op de bon", "Teruggezet op de bon",
           "geen btw-kasticket", "€ 7,50", "€ 17,50"),
    "fr": ("Paiement par bon de la ville", "Payé avec le bon", "Reste sur le bon",
           "Rendu au bon", "pas un ticket de caisse TVA", "7,50 €", "17,50 €"),
    "de": ("Zahlung mit Stadtgutschein", "Mit dem Gutschein bezahlt", "Restwert des Gutscheins",
           "Dem Gutschein gutgeschrieben", "kein MwSt.-Kassenbon", "7,50 €", "17,50 €"),
    "en": ("City voucher payment", "Paid with the voucher", "Value left on the voucher",
           "Given back to the voucher", "not a VAT receipt", "€7.50", "€17.50"),
}  # fmt: skip


class Shop:
    """A terminal made with ``init`` that trusts the city's issuer (``keys import``)."""

    def __init__(self, tmp_path: Path) -> None:
        self.data_dir = tmp_path / "shop"
        self.issuer = Issuer.open(tmp_path / "issuer")
        self.ok("init", "--terminal-id", "t1", "--shop-name", "Bakkerij Peeters")
        trust = tmp_path / "trust.json"
        trust.write_text(json.dumps(self.issuer.trust_list().to_json()), encoding="utf-8")
        self.ok("keys", "import", str(trust))

    def run(self, *args: str) -> Result:
        env = {name: None for name in os.environ if name.startswith("CITIE_")}
        return CliRunner().invoke(cli, [*args, "--data-dir", str(self.data_dir)], env=env)

    def ok(self, *args: str) -> str:
        result = self.run(*args)
        assert result.exit_code == 0, (result.stdout, result.stderr)
        return result.stdout.replace("\u00a0", " ")

    def spend(self, code: str, amount: str) -> dict[str, Any]:
        value: dict[str, Any] = json.loads(
            self.ok("voucher", "spend", code, "--amount", amount, "--json")
        )
        return value

    @property
    def settings(self) -> Settings:
        return load_settings(data_dir=self.data_dir)[0]


@pytest.fixture
def spent(tmp_path: Path) -> tuple[Shop, str, dict[str, Any]]:
    """A shop where 7,50 of a 25,00 voucher was spent: (shop, voucher id, the spend's JSON)."""
    shop = Shop(tmp_path)
    voucher, code = shop.issuer.issue_voucher(2500, city="roeselare", campaign=CAMPAIGN)
    return shop, voucher.voucher_id, shop.spend(code, "7,50")


def test_mask_keeps_only_the_last_group() -> None:
    dots = "\u2022" * 4
    assert mask_voucher_id("CV-7KQ2-M9XD-4HTW") == f"CV-{dots}-{dots}-4HTW"
    assert mask_voucher_id("ABCDEFGH") == f"{dots}EFGH"
    assert mask_voucher_id("CV-\x1b[31m-X-4HTW").endswith("-4HTW")


@pytest.mark.parametrize("language", ["nl", "fr", "de", "en"])
@pytest.mark.parametrize("width", [32, 48])
def test_the_spend_slip_in_four_languages(
    spent: tuple[Shop, str, dict[str, Any]], language: str, width: int
) -> None:
    shop, voucher_id, spend = spent
    with Store.open(shop.data_dir / "ledger.db") as store:
        ledger = Ledger(store, shop_id="s", terminal_id="t1")
        receipt = receipt_for(ledger, spend["receipt_no"], shop.settings, language)
    text = render_text(receipt, width).replace("\u00a0", " ")
    lines = text.splitlines()
    assert all(len(line) <= width for line in lines), text
    title, paid, left, _back, not_vat, amount, rest = WORDS[language]
    flat = " ".join(line.strip() for line in lines)
    for words in (title, not_vat):
        assert words in flat, (words, text)
    assert any(line.startswith(paid) and line.endswith(amount) for line in lines), text
    assert any(line.startswith(left) and line.endswith(rest) for line in lines), text
    # Only the last group of the id is printed: a typed id spends the voucher.
    last = voucher_id.rsplit("-", 1)[1]
    assert f"CV-\u2022\u2022\u2022\u2022-\u2022\u2022\u2022\u2022-{last}" in text
    assert voucher_id not in text and voucher_id[3:7] not in text
    assert CAMPAIGN.split(maxsplit=1)[0] in text
    assert "Bakkerij Peeters" in text and spend["receipt_no"] in text
    # The loyalty slip's words are not on it: no stamps, no card, no purchase line.
    assert receipt.card_line is None and receipt.stamps_label is None and not receipt.lines
    assert receipt.claim_code is None


def test_png_and_escpos_render_the_spend_slip(spent: tuple[Shop, str, dict[str, Any]]) -> None:
    shop, voucher_id, spend = spent
    with Store.open(shop.data_dir / "ledger.db") as store:
        ledger = Ledger(store, shop_id="s", terminal_id="t1")
        receipt = receipt_for(ledger, spend["receipt_no"], shop.settings, "fr")
    for width in (32, 48):
        image = Image.open(io.BytesIO(render_png(receipt, width)))
        assert image.mode == "L" and image.height > 300
        data = render_escpos(receipt, width=width)
        text = data.decode("cp858", errors="replace").replace("\u00a0", " ")
        last = voucher_id.rsplit("-", 1)[1]
        # The printer's code page has no bullet: the hidden characters print as stars.
        assert f"CV-****-****-{last}" in text
        assert "Payé avec le bon" in text and "\u20ac" in text


def test_receipt_show_and_the_void_slip(spent: tuple[Shop, str, dict[str, Any]]) -> None:
    shop, voucher_id, spend = spent
    shown = shop.ok("receipt", "show", "last", "--width", "32", "--lang", "en")
    assert "City voucher payment" in shown and "Value left on the voucher" in shown
    shop.ok("void", spend["receipt_no"])
    void = shop.ok("receipt", "show", "last", "--lang", "nl")
    assert "Annulering" in void and "Teruggezet op de bon" in void and "€ 7,50" in void
    assert f"-{voucher_id.rsplit('-', 1)[1]}" in void and voucher_id not in void
    assert "Nog op de bon" not in void  # what is left after a void is the balance's to say
    reprint = shop.ok("receipt", "show", spend["receipt_no"], "--lang", "en")
    assert "CANCELLED" in reprint
    for fmt in ("png", "escpos"):
        out = shop.data_dir / f"slip.{fmt}"
        shop.ok("receipt", "show", spend["receipt_no"], "--format", fmt, "--output", str(out))
        assert out.stat().st_size > 100
