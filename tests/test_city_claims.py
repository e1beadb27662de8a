"""Claims keep the books too (issue 11, item 5), over real HTTP, against both stores.

Found before: a claim was credited to a revoked card; a claim made before the purchase's void
reached the platform was credited and never taken back; a claim credited what the platform
recomputed instead of what the slip said, past the card's daily limit; a terminal that paired
again could no longer have its earlier slips claimed.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

import httpx

from city.issuer import Issuer
from loyalty.keys import generate_key_pair
from loyalty.ledger import Ledger
from loyalty.programs import Program
from receipts.build import receipt_for
from sync.job import run_sync
from sync.pairing import pair_terminal
from tests.conftest_platform import FAST, PairedTerminal, RunningPlatform

Terminals = Callable[..., PairedTerminal]


def issue_card(platform: RunningPlatform) -> str:
    card_id, _code = Issuer.open(platform.data_dir / "issuer").issue_card()
    with platform.open_store() as store:
        store.add_card(card_id, 365)
    return str(card_id)


def claim(platform: RunningPlatform, code: str, card_id: str) -> httpx.Response:
    return httpx.post(
        f"{platform.url}/v1/claims", json={"code": code, "card_id": card_id}, timeout=20
    )


def sync(terminal: PairedTerminal) -> None:
    report = run_sync(terminal.settings, terminal.store, policy=FAST, backup=False)
    assert report.exit_code == 0, report.to_json()


class Counter:
    """A terminal's ledger with a program of 1 stamp per 10.00 EUR and no visit stamp."""

    def __init__(self, terminal: PairedTerminal) -> None:
        self.terminal = terminal
        self.settings = terminal.with_settings(
            program={"cents_per_stamp": 1000, "stamps_per_visit": 0}
        )
        self.program = Program.from_settings(self.settings.program)
        self.ledger = Ledger(
            terminal.store, shop_id=terminal.shop_id, terminal_id=terminal.terminal_id
        )

    def anonymous_purchase(self, cents: int) -> tuple[str, str]:
        """(event id, claim code) of an anonymous purchase."""
        bought = self.ledger.purchase(None, cents, self.program)
        slip = receipt_for(self.ledger, bought.event.id, self.settings, "en")
        assert slip.claim_code is not None
        return bought.event.id, slip.claim_code

    def stamp(self, card_id: str, count: int) -> None:
        self.ledger.stamp(card_id, self.program, count=count)


def platform_balance(platform: RunningPlatform, card_id: str) -> list[tuple[Any, ...]]:
    return platform.query(
        "SELECT program_id, stamps FROM balances WHERE card_id = ? AND shop_id = 'shop-a'",
        [card_id],
    )


def test_a_revoked_card_cannot_claim(
    platform: RunningPlatform, terminal_factory: Terminals
) -> None:
    counter = Counter(terminal_factory(platform))
    _, code = counter.anonymous_purchase(2500)
    sync(counter.terminal)
    card_id = issue_card(platform)
    with platform.open_store() as store:
        store.revoke(card_id)

    answer = claim(platform, code, card_id)

    assert answer.status_code == 409, answer.text
    assert answer.json()["reason"] == "revoked"
    assert platform_balance(platform, card_id) == []


def test_a_claim_waits_for_its_purchase_and_is_credited_when_it_arrives(
    platform: RunningPlatform, terminal_factory: Terminals
) -> None:
    counter = Counter(terminal_factory(platform))
    _, code = counter.anonymous_purchase(3550)
    card_id = issue_card(platform)

    waiting = claim(platform, code, card_id)

    assert waiting.status_code == 202, waiting.text
    assert waiting.json()["status"] == "waiting"
    assert waiting.json()["slip_stamps"] == 3
    assert claim(platform, code, card_id).status_code == 202, "asking again still waits"
    assert claim(platform, code, issue_card(platform)).json()["reason"] == "already_claimed"
    assert platform_balance(platform, card_id) == []

    sync(counter.terminal)  # the purchase reaches the platform: the claim is credited

    assert platform_balance(platform, card_id) == [("coffee", 3)]
    assert claim(platform, code, card_id).json()["reason"] == "already_claimed"
    sync(counter.terminal)
    assert counter.ledger.balance(card_id).confirmed == 3


def test_a_waiting_claim_whose_purchase_is_voided_credits_nothing(
    platform: RunningPlatform, terminal_factory: Terminals
) -> None:
    counter = Counter(terminal_factory(platform))
    event_id, code = counter.anonymous_purchase(3000)
    card_id = issue_card(platform)
    assert claim(platform, code, card_id).status_code == 202
    counter.ledger.void(event_id)

    sync(counter.terminal)

    assert platform_balance(platform, card_id) == []
    assert claim(platform, code, card_id).json()["reason"] == "voided"


def test_a_void_after_the_credit_takes_it_back_with_a_visible_event(
    platform: RunningPlatform, terminal_factory: Terminals
) -> None:
    counter = Counter(terminal_factory(platform))
    event_id, code = counter.anonymous_purchase(2000)
    sync(counter.terminal)
    card_id = issue_card(platform)
    credited = claim(platform, code, card_id)
    assert credited.status_code == 200, credited.text
    assert credited.json()["stamps"] == 2
    assert platform_balance(platform, card_id) == [("coffee", 2)]

    counter.ledger.void(event_id)
    sync(counter.terminal)

    assert platform_balance(platform, card_id) == [("coffee", 0)]
    books = platform.query(
        "SELECT kind, stamps, terminal_id FROM events WHERE card_id = ? ORDER BY pseq", [card_id]
    )
    assert books == [("claim", 2, "platform"), ("claim_void", -2, "platform")]
    sync(counter.terminal)
    assert counter.ledger.balance(card_id).confirmed == 0


def test_the_credit_is_what_the_slip_says_capped_by_the_daily_limit(
    platform: RunningPlatform, terminal_factory: Terminals
) -> None:
    counter = Counter(terminal_factory(platform))
    # The platform's program is newer and more generous per euro: the slip's +3 still counts.
    with platform.open_store() as store:
        store.set_program(
            "shop-a",
            "coffee",
            {
                "id": "coffee",
                "cents_per_stamp": 100,
                "stamps_per_visit": 0,
                "max_stamps_per_day": 5,
            },
        )
    _, code = counter.anonymous_purchase(3550)
    card_id = issue_card(platform)
    counter.stamp(card_id, 3)  # the card already earned 3 of its 5 today at this shop
    sync(counter.terminal)

    answer = claim(platform, code, card_id)

    assert answer.status_code == 200, answer.text
    assert (answer.json()["slip_stamps"], answer.json()["stamps"]) == (3, 2)
    assert platform_balance(platform, card_id) == [("coffee", 5)]


def test_slips_signed_before_a_re_pairing_stay_claimable(
    platform: RunningPlatform, terminal_factory: Terminals
) -> None:
    terminal = terminal_factory(platform)
    counter = Counter(terminal)
    _, code = counter.anonymous_purchase(1500)
    sync(terminal)
    # The terminal gets a new key pair and pairs again (a reinstalled device).
    generate_key_pair(terminal.settings.private_key_path, terminal.settings.public_key_path)
    new = platform.add_terminal("shop-a", "t1")
    pair_terminal(
        terminal.settings,
        terminal.store,
        platform.url,
        new.token,
        config_path=terminal.data_dir / "config.toml",
        config_is_managed=False,
    )
    card_id = issue_card(platform)

    answer = claim(platform, code, card_id)

    assert answer.status_code == 200, answer.text
    assert answer.json()["stamps"] == 1


def test_a_claim_and_its_purchase_stored_side_by_side_still_meet(
    platform: RunningPlatform, terminal_factory: Terminals
) -> None:
    """The claim's transaction is still open when the purchase's batch arrives. On PostgreSQL
    neither sees the other's uncommitted rows: the batch must wait for the claim and credit it,
    or the claim would wait forever for a purchase already stored."""
    from city.claims import handle_claim

    counter = Counter(terminal_factory(platform))
    event_id, code = counter.anonymous_purchase(4000)
    purchase = counter.ledger.event(event_id)
    assert purchase is not None
    card_id = issue_card(platform)
    credential = counter.terminal.settings.token_path.read_text().strip()
    with platform.open_store() as claims_side, platform.open_store() as batch_side:
        terminal = batch_side.terminal_for(credential)
        assert terminal is not None
        stored: list[Any] = []
        with claims_side.write() as tx:
            status, _ = handle_claim(
                tx, {"code": code, "card_id": card_id}, bump=lambda shop: 10**9
            )
            assert status == 202
            batch = threading.Thread(
                target=lambda: stored.extend(
                    batch_side.record_batch(terminal, "side-by-side", [purchase.to_json()])
                )
            )
            batch.start()
            if platform.store_kind == "postgresql":
                wait_until_blocked_or_done(batch_side, batch)
        batch.join(timeout=60)
    assert [r.status for r in stored] == ["accepted"]
    assert platform_balance(platform, card_id) == [("coffee", 4)]


def wait_until_blocked_or_done(store: Any, batch: threading.Thread) -> None:
    """Until the batch's transaction waits on a lock held by the claim's (or has finished)."""
    deadline = time.monotonic() + 30
    while batch.is_alive() and time.monotonic() < deadline:
        waiting = store.query(
            "SELECT COUNT(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
            "AND datname = current_database()"
        )
        if waiting[0][0]:
            return
        time.sleep(0.01)
