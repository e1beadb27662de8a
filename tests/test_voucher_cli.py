"""Issue 13, headless: ``citie-terminal voucher spend|balance``, and voucher spends in the report.

Every test drives the real ``citie-terminal`` command (click's CliRunner) on a real ledger in
tmp_path, initialised with ``init``; vouchers and cards are issued by a real
``city.issuer.Issuer`` whose trust list the terminal installed with ``keys import``.
"""

from __future__ import annotations

import csv
import io
import json
import os
import sqlite3
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from city.issuer import Issuer
from loyalty.db import Store, iso, utc_now
from loyalty.ledger import Ledger
from loyalty.programs import SHOP_TZ
from loyalty.reports import day_report, month_report
from loyalty.voucher_book import VoucherBook
from loyalty.vouchers import Voucher, voucher_key
from sync.protocol import Updates, VoucherState
from sync.puller import PullReport, _apply_page
from terminal.cli import cli
from tests.test_ledger_hardening import fill_to_the_brim, full_disk

__all__ = ["full_disk"]  # the fixture: a ledger file that may not grow (a real SQLITE_FULL)

CITY = "roeselare"
CAMPAIGN = "Roeselare koopt lokaal"


@dataclass(frozen=True)
class Run:
    """What a command did; Babel's no-break spaces in amounts read as plain spaces here."""

    exit_code: int
    stdout: str
    stderr: str

    @property
    def output(self) -> str:
        return self.stdout + self.stderr


def plain(text: str) -> str:
    return text.replace("\u00a0", " ").replace("\u202f", " ")


class Shop:
    """A terminal made with ``init`` (Dutch, terminal t1) that trusts the city's issuer."""

    def __init__(self, tmp_path: Path, language: str = "nl") -> None:
        self.data_dir = tmp_path / "shop"
        self.issuer = Issuer.open(tmp_path / "issuer")
        self.ok("init", "--terminal-id", "t1", "--shop-language", language)
        trust = tmp_path / "trust.json"
        trust.write_text(json.dumps(self.issuer.trust_list().to_json()), encoding="utf-8")
        self.ok("keys", "import", str(trust))

    def voucher(self, cents: int = 2500, **kwargs: Any) -> tuple[str, str]:
        """A new voucher: (its id, its CV1: code)."""
        voucher, code = self.issuer.issue_voucher(cents, city=CITY, campaign=CAMPAIGN, **kwargs)
        return voucher.voucher_id, code

    def card(self) -> str:
        return self.issuer.issue_card(expires_days=30)[1]

    def run(self, *args: str, stdin: str | None = None, **env: str) -> Run:
        clean: dict[str, str | None] = {k: None for k in os.environ if k.startswith("CITIE_")}
        result = CliRunner().invoke(
            cli, [*args, "--data-dir", str(self.data_dir)], env={**clean, **env}, input=stdin
        )
        return Run(result.exit_code, plain(result.stdout), plain(result.stderr))

    def ok(self, *args: str, stdin: str | None = None, **env: str) -> Run:
        result = self.run(*args, stdin=stdin, **env)
        assert result.exit_code == 0, (result.stdout, result.stderr)
        return result

    def json(self, *args: str, stdin: str | None = None, **env: str) -> dict[str, Any]:
        value: dict[str, Any] = json.loads(self.ok(*args, "--json", stdin=stdin, **env).stdout)
        return value

    def refused(self, *args: str, code: int = 1, stdin: str | None = None, **env: str) -> Run:
        result = self.run(*args, stdin=stdin, **env)
        assert result.exit_code == code, (result.stdout, result.stderr)
        assert result.stderr.startswith("refused: "), result.stderr
        assert "Traceback" not in result.output
        return result

    def events(self) -> list[dict[str, Any]]:
        conn = sqlite3.connect(self.data_dir / "ledger.db")
        conn.row_factory = sqlite3.Row
        try:
            rows = conn.execute("SELECT * FROM events ORDER BY seq").fetchall()
            return [dict(row) for row in rows]
        finally:
            conn.close()


@pytest.fixture
def shop(tmp_path: Path) -> Shop:
    return Shop(tmp_path)


# --- spending, partly and twice -----------------------------------------------------------


def test_spend_partly_twice_then_the_balance_says_what_is_left(shop: Shop) -> None:
    voucher_id, code = shop.voucher(2500)
    first = shop.json("voucher", "spend", code, "--amount", "7,50")
    assert set(first) == {
        "event_id",
        "receipt_no",
        "kind",
        "voucher_id",
        "amount_cents",
        "currency",
        "remaining_after_cents",
        "campaign",
        "city",
        "occurred_at",
        "staff_id",
        "approver_id",
    }
    assert (first["staff_id"], first["approver_id"]) == (None, None)  # no staff accounts
    assert first["kind"] == "voucher_spend"
    assert (first["voucher_id"], first["amount_cents"], first["currency"]) == (
        voucher_id,
        750,
        "EUR",
    )
    assert first["remaining_after_cents"] == 1750
    assert (first["campaign"], first["city"]) == (CAMPAIGN, CITY)
    second = shop.ok("voucher", "spend", code, "--amount", "€ 5,00").stdout
    # Dutch, the shop's language: what was paid, the slip, and what is left.
    assert "€ 5,00 betaald met stadsbon" in second
    assert "nog op de bon: € 12,50" in second
    events = shop.events()
    assert [(e["kind"], e["amount_cents"], e["voucher_id"], e["card_id"]) for e in events] == [
        ("voucher_spend", 750, voucher_id, None),
        ("voucher_spend", 500, voucher_id, None),
    ]
    assert json.loads(events[1]["detail"])["remaining_after_cents"] == 1250
    balance = shop.json("voucher", "balance", code)
    assert (balance["voucher_id"], balance["face_cents"], balance["remaining_cents"]) == (
        voucher_id,
        2500,
        1250,
    )
    assert balance["local_unconfirmed"] == 1250
    assert balance["confirmed_spent"] is None
    assert (balance["campaign"], balance["city"]) == (CAMPAIGN, CITY)
    text = shop.ok("voucher", "balance", code).stdout
    assert f"stadsbon {voucher_id}: nog € 12,50 van € 25,00" in text
    assert f"actie: {CAMPAIGN} ({CITY})" in text
    assert "nog niets bevestigd door de stad, € 12,50 hier" in text
    # The other languages of the run.
    english = shop.ok("voucher", "balance", code, "--lang", "en").stdout
    assert "€12.50 left of €25.00" in english
    french = shop.ok("voucher", "balance", code, "--lang", "fr").stdout
    assert "reste 12,50 € sur 25,00 €" in french


def test_all_pays_the_whole_value_left_and_then_nothing_more(shop: Shop) -> None:
    _voucher_id, code = shop.voucher(2500)
    shop.ok("voucher", "spend", code, "--amount", "10")
    rest = shop.json("voucher", "spend", code, "--all")
    assert (rest["amount_cents"], rest["remaining_after_cents"]) == (1500, 0)
    again = shop.refused("voucher", "spend", code, "--amount", "1", "--lang", "en")
    assert again.stderr.split(":")[1].strip() in ("spent", "insufficient")
    assert len(shop.events()) == 2
    assert shop.json("voucher", "balance", code)["remaining_cents"] == 0


def test_a_void_gives_the_value_back(shop: Shop) -> None:
    _voucher_id, code = shop.voucher(2000)
    spent = shop.json("voucher", "spend", code, "--amount", "15,00")
    assert shop.json("voucher", "balance", code)["remaining_cents"] == 500
    shop.ok("void", spent["receipt_no"])
    assert shop.json("voucher", "balance", code)["remaining_cents"] == 2000
    assert shop.json("voucher", "spend", code, "--all")["amount_cents"] == 2000


# --- refusals ------------------------------------------------------------------------------


def test_more_than_is_left_is_refused_naming_what_is_left(shop: Shop) -> None:
    _voucher_id, code = shop.voucher(2500)
    # More than the face value of a fresh voucher.
    over = shop.refused("voucher", "spend", code, "--amount", "30,00")
    assert over.stderr.startswith("refused: insufficient: ")
    assert "€ 25,00" in over.stderr
    shop.ok("voucher", "spend", code, "--amount", "7,50")
    too_much = shop.refused("voucher", "spend", code, "--amount", "20,00", "--lang", "en")
    assert too_much.stderr.startswith("refused: insufficient: ")
    assert "€17.50" in too_much.stderr
    as_json = shop.run("voucher", "spend", code, "--amount", "20,00", "--json", "--lang", "fr")
    assert as_json.exit_code == 1
    refusal = json.loads(as_json.stdout)
    assert {"refused", "language", "text", "remaining_cents", "currency"} <= set(refusal)
    assert refusal["refused"] == "insufficient"
    assert refusal["remaining_cents"] == 1750
    assert refusal["language"] == "fr"
    assert "17,50 €" in refusal["text"]
    assert as_json.stderr.startswith("refused: insufficient: ")
    # Nothing but the one spend was recorded.
    assert [e["amount_cents"] for e in shop.events()] == [750]


def test_offline_at_most_the_allowance_is_spent_on_one_voucher(shop: Shop) -> None:
    _voucher_id, code = shop.voucher(10000)
    shop.ok("voucher", "spend", code, "--amount", "40,00")
    over = shop.refused("voucher", "spend", code, "--amount", "20,00", "--lang", "en")
    assert over.stderr.startswith("refused: offline_voucher_limit: ")
    assert "€10.00" in over.stderr  # what may still be spent here before a sync
    balance = shop.json("voucher", "balance", code)
    assert (balance["remaining_cents"], balance["spendable_cents"]) == (6000, 1000)
    text = shop.ok("voucher", "balance", code, "--lang", "en").stdout
    assert "spendable here until the next sync: €10.00" in text
    # --all is the whole value left: not what the allowance lets be paid, so it says so.
    whole = shop.refused("voucher", "spend", code, "--all", "--lang", "en")
    assert whole.stderr.startswith("refused: offline_voucher_limit: ")
    assert shop.json("voucher", "spend", code, "--amount", "10")["remaining_after_cents"] == 5000


@pytest.mark.parametrize(
    ("amount", "reason"),
    [
        ("0", "zero"),
        ("0,00", "zero"),
        ("-1", "negative"),
        ("12,505", "ambiguous"),
        ("twaalf", "not_a_number"),
        ("", "empty"),
        ("99999999999", "too_large"),
    ],
)
def test_hostile_amounts_are_refused_before_anything_is_kept(
    shop: Shop, amount: str, reason: str
) -> None:
    _voucher_id, code = shop.voucher()
    result = shop.refused("voucher", "spend", code, "--amount", amount)
    assert result.stderr.startswith(f"refused: {reason}: ")
    assert "recorded" not in result.stdout
    as_json = shop.run("voucher", "spend", code, "--amount", amount, "--json")
    assert json.loads(as_json.stdout)["refused"] == reason
    assert shop.events() == []


def test_amount_and_all_are_one_or_the_other(shop: Shop) -> None:
    _voucher_id, code = shop.voucher()
    neither = shop.refused("voucher", "spend", code, "--lang", "en", code=2)
    assert "--amount 7,50" in neither.stderr and "--all" in neither.stderr
    both = shop.refused("voucher", "spend", code, "--amount", "1", "--all", "--lang", "en", code=2)
    assert "not both" in both.stderr
    assert shop.events() == []


def test_a_card_is_not_a_voucher_and_a_voucher_is_not_a_card(shop: Shop) -> None:
    card = shop.card()
    _voucher_id, voucher = shop.voucher()
    for args in (("voucher", "spend", card, "--amount", "1"), ("voucher", "balance", card)):
        refused = shop.refused(*args)
        assert refused.stderr.startswith("refused: not_a_voucher: "), refused.stderr
    for args in (("stamp", voucher), ("balance", voucher), ("purchase", voucher, "--amount", "5")):
        refused = shop.refused(*args)
        assert refused.stderr.startswith("refused: not_a_card: "), refused.stderr
    as_json = shop.run("voucher", "spend", card, "--amount", "1", "--json", "--lang", "en")
    answer = json.loads(as_json.stdout)
    assert (answer["refused"], answer["language"]) == ("not_a_voucher", "en")
    assert shop.events() == []


def test_a_tampered_expired_or_foreign_voucher_is_refused(shop: Shop, tmp_path: Path) -> None:
    _voucher_id, code = shop.voucher()
    body = code[4:]
    tampered = "CV1:" + body[:40] + ("A" if body[40] != "A" else "B") + body[41:]
    result = shop.refused("voucher", "spend", tampered, "--amount", "1")
    assert result.stderr.split(":")[1].strip() in ("bad_signature", "malformed")
    old = datetime.now(SHOP_TZ) - timedelta(days=40)
    _old_id, expired = shop.voucher(expires_days=30, now=old)
    assert shop.refused("voucher", "spend", expired, "--amount", "1").stderr.startswith(
        "refused: expired: "
    )
    foreign = Issuer.open(tmp_path / "elsewhere").issue_voucher(1000, city="x", campaign="y")[1]
    assert shop.refused("voucher", "balance", foreign).stderr.startswith("refused: unknown_key: ")
    assert shop.events() == []


def test_a_code_piped_on_stdin_is_read(shop: Shop) -> None:
    voucher_id, code = shop.voucher()
    result = shop.run("voucher", "spend", "-", "--amount", "2", "--json", stdin=code + "\n")
    assert result.exit_code == 0, result.stderr
    assert json.loads(result.stdout)["voucher_id"] == voucher_id
    flood = shop.run("voucher", "balance", "-", stdin="A" * 5000)
    assert flood.exit_code == 1 and flood.stderr.startswith("refused: too_long: ")


# --- a typed voucher id ----------------------------------------------------------------------


def test_a_typed_id_unknown_here_or_mistyped_is_refused_with_a_sentence(shop: Shop) -> None:
    voucher_id, code = shop.voucher()
    shop.ok("voucher", "spend", code, "--amount", "1")
    typed = voucher_id.lower().replace("-", " ")
    unknown = shop.refused("voucher", "spend", typed, "--amount", "1", "--lang", "en")
    assert unknown.stderr.startswith("refused: number_unknown: ")
    assert f"Voucher number {voucher_id} is not known on this terminal yet" in unknown.stderr
    last = voucher_id[-1]
    typo = voucher_id[:-1] + ("A" if last != "A" else "B")
    mistyped = shop.refused("voucher", "balance", typo, "--lang", "en")
    assert mistyped.stderr.startswith("refused: number_typo: ")
    assert "typing mistake" in mistyped.stderr
    assert len(shop.events()) == 1


def confirm(shop: Shop, voucher: Voucher, *, spent: int, version: int, **extra: str) -> None:
    """The platform's word on a voucher, stored by the real puller (one page of updates)."""
    state = VoucherState(
        voucher_key=voucher_key(voucher.voucher_id),
        face_cents=voucher.face_cents,
        currency=voucher.currency,
        expires_at=iso(voucher.expires_at),
        campaign=voucher.campaign,
        spent_cents=spent,
        version=version,
        **extra,  # type: ignore[arg-type]
    )
    updates = Updates(
        cursor="0", next_cursor=str(version), server_time=iso(utc_now()), vouchers=[state]
    )
    with Store.open(shop.data_dir / "ledger.db") as store:
        _apply_page(store, updates, PullReport())


def test_a_typed_id_the_platform_sent_spends_like_the_code(shop: Shop) -> None:
    voucher, code = shop.issuer.issue_voucher(2500, city=CITY, campaign=CAMPAIGN)
    shop.ok("voucher", "spend", code, "--amount", "7,50")
    typed = " ".join(voucher.voucher_id.lower().split("-"))  # "cv 7kq2 m9xd 4htw"
    shop.refused("voucher", "balance", typed)
    # The platform has not received the spend yet: it says nothing was spent.
    confirm(shop, voucher, spent=0, version=1)
    balance = shop.json("voucher", "balance", typed)
    assert (balance["voucher_id"], balance["remaining_cents"]) == (voucher.voucher_id, 1750)
    assert (balance["confirmed_spent"], balance["local_unconfirmed"]) == (0, 750)
    assert balance["campaign"] == CAMPAIGN
    text = shop.ok("voucher", "balance", typed, "--lang", "en").stdout
    assert "€17.50 left of €25.00" in text and "€0.00 confirmed by the city" in text
    spent = shop.json("voucher", "spend", typed, "--amount", "2,50")
    assert (spent["voucher_id"], spent["remaining_after_cents"]) == (voucher.voucher_id, 1500)
    # The city revoked it: refused by number and by code alike, nothing recorded.
    confirm(shop, voucher, spent=0, version=2, revoked_at=iso(utc_now()))
    for ref in (typed, code):
        refused = shop.refused("voucher", "spend", ref, "--amount", "1")
        assert refused.stderr.startswith("refused: revoked: ")
    assert shop.refused("voucher", "balance", typed).stderr.startswith("refused: revoked: ")
    assert len(shop.events()) == 2
    # A voucher past its expiry is refused by number as by code.
    old, old_code = shop.issuer.issue_voucher(
        1000, city=CITY, campaign=CAMPAIGN, expires_days=30, now=utc_now() - timedelta(days=40)
    )
    confirm(shop, old, spent=0, version=3)
    for ref in (old.voucher_id, old_code):
        expired = shop.refused("voucher", "spend", ref, "--amount", "1")
        assert expired.stderr.startswith("refused: expired: ")
    assert len(shop.events()) == 2


# --- staff accounts ----------------------------------------------------------------------------

ANNA = "48213957"  # the manager's PIN
BERT = "73950482"  # the cashier's PIN


def test_with_staff_accounts_a_spend_says_who_and_a_large_one_needs_a_manager(
    shop: Shop,
) -> None:
    anna = shop.json("staff", "add", "Anna", "--role", "manager", stdin=f"{ANNA}\n")
    bert = shop.json(
        "staff", "add", "Bert", "--role", "cashier", "--approver", "anna", stdin=f"{ANNA}\n{BERT}\n"
    )
    _voucher_id, code = shop.voucher(3000)
    nobody = shop.refused("voucher", "spend", code, "--amount", "5")
    assert nobody.stderr.startswith("refused: staff_required: ")
    assert shop.events() == []
    # The code from standard input, then the PIN on the next line.
    small = shop.json(
        "voucher", "spend", "-", "--amount", "5", "--staff", "bert", stdin=f"{code}\n{BERT}\n"
    )
    assert (small["staff_id"], small["approver_id"]) == (bert["id"], None)
    # Above [limits] approval_over_cents a manager approves; --all asks for all that is left.
    limit = {"CITIE_LIMITS_APPROVAL_OVER_CENTS": "1000", "CITIE_STAFF_PIN": BERT}
    large = shop.refused(
        "voucher", "spend", code, "--all", "--staff", "bert", "--lang", "en", **limit
    )
    assert large.stderr.startswith("refused: approval_needed: ")
    approved = shop.json(
        "voucher",
        "spend",
        code,
        "--amount",
        "12,00",
        "--staff",
        "bert",
        "--approver",
        "anna",
        CITIE_APPROVER_PIN=ANNA,
        **limit,
    )
    assert (approved["staff_id"], approved["approver_id"]) == (bert["id"], anna["id"])
    assert [(e["staff_id"], e["approver_id"], e["amount_cents"]) for e in shop.events()] == [
        (bert["id"], None, 500),
        (bert["id"], anna["id"], 1200),
    ]
    for output in (small, approved):
        assert ANNA not in json.dumps(output) and BERT not in json.dumps(output)


# --- exit codes for the config and the database ------------------------------------------------


def test_a_bad_config_exits_2_and_a_lost_ledger_3(shop: Shop) -> None:
    _voucher_id, code = shop.voucher()
    config = shop.data_dir / "config.toml"
    good = config.read_text(encoding="utf-8")
    config.write_text(good.replace("batch_size = 1000", "batch_sise = 1000"), encoding="utf-8")
    bad = shop.refused("voucher", "spend", code, "--amount", "1", code=2)
    assert bad.stderr.startswith("refused: config_invalid: ")
    config.write_text(good, encoding="utf-8")
    (shop.data_dir / "ledger.db").write_bytes(b"this is a shopping list, not a ledger\n" * 100)
    for args in (("voucher", "spend", code, "--amount", "1"), ("voucher", "balance", code)):
        lost = shop.refused(*args, code=3)
        assert "recorded" not in lost.stdout


def test_a_full_disk_refuses_the_spend_and_never_says_recorded(shop: Shop, full_disk: None) -> None:
    _voucher_id, code = shop.voucher()
    with Store.open(shop.data_dir / "ledger.db") as store:
        fill_to_the_brim(store)
    before = len(shop.events())
    for _ in range(30):  # a spend may still fit in the last free bytes of a page
        result = shop.run("voucher", "spend", code, "--amount", "0,01", "--lang", "en")
        if result.exit_code != 0:
            break
        assert result.stdout.startswith("recorded: ")
        before += 1
    assert result.exit_code == 3, result.output
    assert result.stderr.startswith("refused: database_error: Nothing was recorded")
    assert "recorded" not in result.stdout
    assert len(shop.events()) == before


# --- the end-of-day report and the accountant's export ------------------------------------


def test_the_report_counts_voucher_spends_apart_from_loyalty_figures(shop: Shop) -> None:
    voucher_id, code = shop.voucher(5000)
    shop.ok("voucher", "spend", code, "--amount", "7,50")
    cancelled = shop.json("voucher", "spend", code, "--amount", "5,00")
    shop.ok("voucher", "spend", code, "--amount", "2,25")
    shop.ok("purchase", "--amount", "20,00")
    shop.ok("void", cancelled["receipt_no"])  # the same day: nets out
    day = shop.json("report")
    assert (day["voucher_spends"], day["voucher_spent_cents"]) == (2, 975)
    # Loyalty figures are not touched by the vouchers.
    assert (day["purchases"], day["purchase_total_cents"]) == (1, 2000)
    assert day["voids"] == 1
    text = shop.ok("report").stdout
    assert "stadsbonnen:" in text and "2 (€ 9,75)" in text
    # Every figure stands apart from its label, the longest French one included.
    french = shop.ok("report", "--lang", "fr").stdout.splitlines()
    assert [line.split(":  ")[-1].strip() for line in french if "bons de la ville" in line] == [
        "2 (9,75 €)"
    ]
    assert any(line.strip() == "cartes différentes : 0" for line in french), french
    this_month = datetime.now(SHOP_TZ).strftime("%Y-%m")
    month = shop.json("report", "--month", this_month)
    assert (month["total"]["voucher_spends"], month["total"]["voucher_spent_cents"]) == (2, 975)
    month_csv = shop.ok("report", "--month", this_month, "--csv").stdout
    per_day = list(csv.DictReader(io.StringIO(month_csv)))
    assert per_day[-1]["voucher_spends"] == "2" and per_day[-1]["voucher_total"] == "9.75"
    rows = list(csv.DictReader(io.StringIO(shop.ok("report", "--csv").stdout)))
    spends = [r for r in rows if r["kind"] == "voucher_spend"]
    assert [(r["amount"], r["voucher_id"], r["card_id"]) for r in spends] == [
        ("7.50", voucher_id, ""),
        ("5.00", voucher_id, ""),
        ("2.25", voucher_id, ""),
    ]
    assert spends[1]["voided_by_receipt_no"] != ""
    (void_row,) = [r for r in rows if r["kind"] == "void"]
    assert (void_row["amount"], void_row["voucher_id"]) == ("-5.00", voucher_id)
    (purchase_row,) = [r for r in rows if r["kind"] == "purchase"]
    assert purchase_row["voucher_id"] == ""
    export = list(csv.DictReader(io.StringIO(shop.ok("ledger", "export").stdout)))
    assert [r["voucher_id"] for r in export] == [r["voucher_id"] for r in rows]


def test_a_spend_voided_on_a_later_day_books_the_void_on_that_day(tmp_path: Path) -> None:
    issuer = Issuer.open(tmp_path / "issuer")
    yesterday = datetime(2026, 11, 24, 15, 0, tzinfo=SHOP_TZ)
    today = yesterday + timedelta(days=1)
    voucher, _code = issuer.issue_voucher(
        5000, city=CITY, campaign=CAMPAIGN, now=yesterday - timedelta(days=1)
    )
    with Store.open(tmp_path / "ledger.db") as store:
        book = VoucherBook(Ledger(store, shop_id="s", terminal_id="t1"))
        kept = book.spend(voucher, 1000, now=yesterday)
        cancelled = book.spend(voucher, 750, now=yesterday + timedelta(hours=1))
        book.ledger.void(cancelled.event.id, now=today)
        before = day_report(store, yesterday.date())
        after = day_report(store, today.date())
        month = month_report(store, 2026, 11).total
    # The day that is closed keeps its figures; the void is booked on the day it was made.
    assert (before.voucher_spends, before.voucher_spent_cents) == (2, 1750)
    assert (after.voucher_spends, after.voucher_spent_cents, after.voids) == (-1, -750, 1)
    assert (month.voucher_spends, month.voucher_spent_cents) == (1, 1000)
    assert (before.purchases, before.purchase_total_cents, before.stamps_issued) == (0, 0, 0)
    assert kept.event.amount_cents == 1000
