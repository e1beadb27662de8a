"""Claiming an anonymous purchase at the reference platform, over real HTTP on 127.0.0.1.

The terminal prints a slip with a claim code signed by its own key; the customer's city app
posts it with their card id; the platform credits the card once, and the terminal learns the
confirmed balance at its next sync.
"""

from __future__ import annotations

from collections.abc import Callable

import httpx

from city.issuer import Issuer
from loyalty.ledger import Ledger
from loyalty.programs import Program
from receipts.build import receipt_for
from sync.job import run_sync
from tests.conftest_platform import FAST, PairedTerminal, RunningPlatform


def issue_card(platform: RunningPlatform) -> str:
    issuer = Issuer.open(platform.data_dir / "issuer")
    card_id, _code = issuer.issue_card()
    with platform.open_store() as store:
        store.add_card(card_id, 365)
    return card_id


def claim(platform: RunningPlatform, code: str, card_id: str) -> httpx.Response:
    return httpx.post(f"{platform.url}/v1/claims", json={"code": code, "card_id": card_id})


def test_anonymous_purchase_is_claimed_once_and_reaches_the_terminal(
    platform: RunningPlatform, terminal_factory: Callable[..., PairedTerminal]
) -> None:
    terminal = terminal_factory(platform)
    ledger = Ledger(terminal.store, shop_id=terminal.shop_id, terminal_id=terminal.terminal_id)
    settings = terminal.with_settings(program={"cents_per_stamp": 1000, "stamps_per_visit": 0})
    bought = ledger.purchase(None, 3550, Program.from_settings(settings.program))
    slip = receipt_for(ledger, bought.event.id, settings, "nl")
    assert slip.claim_code is not None
    card_id = issue_card(platform)
    # The purchase reaches the platform first (a claim before it waits: test_city_claims.py).
    assert run_sync(terminal.settings, terminal.store, policy=FAST, backup=False).exit_code == 0

    first = claim(platform, slip.claim_code, card_id)
    assert first.status_code == 200, first.text
    assert first.json()["status"] == "credited"
    assert first.json()["stamps"] == 3  # 35,50 EUR at 1 stamp per 10,00 EUR

    again = claim(platform, slip.claim_code, card_id)
    assert again.status_code == 409
    assert again.json()["reason"] == "already_claimed"
    other_card = claim(platform, slip.claim_code, issue_card(platform))
    assert other_card.json()["reason"] == "already_claimed"

    rows = platform.query(
        "SELECT stamps FROM balances WHERE card_id = ? AND shop_id = ?", [card_id, "shop-a"]
    )
    assert rows == [(3,)]
    # The terminal learns the credited balance at its next sync.
    assert run_sync(terminal.settings, terminal.store, policy=FAST, backup=False).exit_code == 0
    assert ledger.balance(card_id).confirmed == 3


def test_refusals_unknown_card_forged_code_and_voided_purchase(
    platform: RunningPlatform, terminal_factory: Callable[..., PairedTerminal]
) -> None:
    terminal = terminal_factory(platform)
    ledger = Ledger(terminal.store, shop_id=terminal.shop_id, terminal_id=terminal.terminal_id)
    program = Program.from_settings(terminal.settings.program)
    card_id = issue_card(platform)

    slip = receipt_for(
        ledger, ledger.purchase(None, 1200, program).event.id, terminal.settings, "en"
    )
    assert slip.claim_code is not None
    unknown = claim(platform, slip.claim_code, "CT-AAAA-BBBB-CCCC")
    assert (unknown.status_code, unknown.json()["reason"]) == (404, "unknown_card")

    forged = (
        slip.claim_code[:-6] + ("A" if slip.claim_code[-6] != "A" else "B") + slip.claim_code[-5:]
    )
    refused = claim(platform, forged, card_id)
    assert refused.status_code == 422
    assert refused.json()["reason"] in {"bad_signature", "malformed"}

    not_json = httpx.post(f"{platform.url}/v1/claims", content=b"{nope")
    assert not_json.status_code == 400

    # A purchase voided at the counter (and synced) no longer gives stamps.
    bought = ledger.purchase(None, 2500, program)
    voided_slip = receipt_for(ledger, bought.event.id, terminal.settings, "en")
    assert voided_slip.claim_code is not None
    ledger.void(bought.event.id)
    assert run_sync(terminal.settings, terminal.store, policy=FAST, backup=False).exit_code == 0
    voided = claim(platform, voided_slip.claim_code, card_id)
    assert (voided.status_code, voided.json()["reason"]) == (409, "voided")
