"""City vouchers over real HTTP, on both stores (issue 13, tests): two terminals of two shops
spend one voucher online and agree on what is left; both spend another offline beyond its
value, and the platform keeps both spends and flags one; each shop's statement and the city's
summary sum exactly to the platform's events (folded here, independently); a resend changes
nothing; a revoked voucher reaches the counters and is refused there."""

from __future__ import annotations

import json
import os
import socket
import sqlite3
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import httpx
import pytest
from click.testing import CliRunner
from uuid6 import uuid7

from city.cli import cli
from loyalty.db import iso, utc_now
from loyalty.ledger import Ledger, Recorded
from loyalty.trust import load_trust
from loyalty.voucher_book import VoucherBook, VoucherRefused
from loyalty.vouchers import Voucher, verify_voucher
from sync.job import SyncReport, read_credential, run_sync
from terminal.cli import cli as terminal_cli
from tests.conftest_platform import FAST, PairedTerminal, RunningPlatform

Terminals = Callable[..., PairedTerminal]
CAP = 5000
"""``[vouchers] offline_max_cents``'s default."""


def dead_url() -> str:
    """A port nobody listens on: the terminal is offline."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{sock.getsockname()[1]}"


def platform_cli(platform: RunningPlatform, *args: str) -> str:
    """``citie-platform --data-dir <the platform's> ARGS`` (in this process); its output."""
    result = CliRunner().invoke(cli, ["--data-dir", str(platform.data_dir), *args])
    assert result.exit_code == 0, (args, result.output, result.exception)
    return result.output


def json_lines(platform: RunningPlatform, *args: str) -> list[Any]:
    """The JSON documents a command prints, one a line."""
    return [json.loads(line) for line in platform_cli(platform, *args).splitlines() if line]


def issue(platform: RunningPlatform, amount: str, campaign: str) -> tuple[str, str]:
    """``voucher new --amount ... --json``: (voucher id, code)."""
    (made,) = json_lines(
        platform, "voucher", "new", "--amount", amount, "--campaign", campaign, "--json"
    )
    return str(made["voucher_id"]), str(made["code"])


@dataclass
class Counter:
    """A paired terminal's voucher side: its ledger, its book, its syncs."""

    terminal: PairedTerminal

    @property
    def ledger(self) -> Ledger:
        return Ledger(
            self.terminal.store,
            shop_id=self.terminal.shop_id,
            terminal_id=self.terminal.terminal_id,
            platform_configured=True,
        )

    @property
    def book(self) -> VoucherBook:
        return VoucherBook(self.ledger, offline_max_cents=CAP)

    def voucher(self, code: str) -> Voucher:
        """The code read at this counter, against the trust list it pulled."""
        found = verify_voucher(code, load_trust(self.terminal.store.read()))
        assert isinstance(found, Voucher), found
        return found

    def spend(self, code: str, cents: int | None) -> Recorded:
        return self.book.spend(self.voucher(code), cents)

    def refused(self, code: str, cents: int | None) -> VoucherRefused:
        with pytest.raises(VoucherRefused) as caught:
            self.spend(code, cents)
        return caught.value

    def remaining(self, code: str) -> int:
        return self.book.balance(self.voucher(code)).remaining_cents

    def sync(self, *, online: bool = True, resend: bool = False) -> SyncReport:
        settings = self.terminal.settings
        if not online:
            settings = self.terminal.with_settings(platform={"url": dead_url()})
        report = run_sync(settings, self.terminal.store, policy=FAST, backup=False, resend=resend)
        if online:
            assert report.exit_code == 0, report.to_json()
        else:
            assert report.exit_code != 0 and report.pull is None, report.to_json()
        return report

    def headless(self, *args: str) -> tuple[int, Any]:
        """``citie-terminal ARGS --json`` on this terminal: (exit code, the JSON it printed)."""
        clean = {k: None for k in os.environ if k.startswith("CITIE_")}
        result = CliRunner().invoke(
            terminal_cli, [*args, "--json", "--data-dir", str(self.terminal.data_dir)], env=clean
        )
        return result.exit_code, json.loads(result.stdout.splitlines()[-1])

    def local_voucher_events(self) -> dict[str, tuple[str, int]]:
        """This terminal's voucher events: id -> (voucher id, amount)."""
        rows = (
            self.terminal.store.read()
            .execute("SELECT id, voucher_id, amount_cents FROM events WHERE voucher_id IS NOT NULL")
            .fetchall()
        )
        return {str(r[0]): (str(r[1]), int(r[2])) for r in rows}


@dataclass(frozen=True)
class PlatformEvent:
    """A voucher event as the platform stored it."""

    id: str
    kind: str
    terminal_id: str
    shop_id: str
    voucher_id: str
    amount_cents: int
    voids: str | None
    flags: tuple[str, ...]


def voucher_events(platform: RunningPlatform) -> list[PlatformEvent]:
    rows = platform.query(
        "SELECT id, kind, terminal_id, shop_id, voucher_id, amount_cents, voids, flags "
        "FROM events WHERE voucher_id IS NOT NULL ORDER BY pseq"
    )
    return [
        PlatformEvent(
            r[0],
            r[1],
            r[2],
            r[3],
            r[4],
            int(r[5]),
            r[6],
            tuple(f for f in (r[7] or "").split(",") if f),
        )
        for r in rows
    ]


def spent_by_fold(events: list[PlatformEvent]) -> dict[str, int]:
    """Each voucher's spent value: its spends, less their voids."""
    spent: dict[str, int] = defaultdict(int)
    for event in events:
        assert event.kind in ("voucher_spend", "void"), event
        spent[event.voucher_id] += event.amount_cents
    return dict(spent)


def platform_vouchers(platform: RunningPlatform) -> dict[str, tuple[int, int, int]]:
    """voucher id -> (face, spent, overspent) as the platform's ``vouchers`` table holds them."""
    rows = platform.query("SELECT id, face_cents, spent_cents, overspent FROM vouchers")
    return {str(r[0]): (int(r[1]), int(r[2]), int(r[3])) for r in rows}


def statement(platform: RunningPlatform, shop_id: str) -> list[Any]:
    """``statement --shop SHOP --json`` from yesterday to tomorrow: its lines, then the total."""
    today = utc_now().date()
    return json_lines(
        platform,
        "statement",
        "--shop",
        shop_id,
        "--from",
        (today - timedelta(days=1)).isoformat(),
        "--to",
        (today + timedelta(days=1)).isoformat(),
        "--json",
    )


def test_one_voucher_two_shops_online_offline_statements_resend_and_revoke(
    platform: RunningPlatform, terminal_factory: Terminals
) -> None:
    one = Counter(terminal_factory(platform, "shop-a", "t1"))
    two = Counter(terminal_factory(platform, "shop-b", "t2"))
    first_id, first = issue(platform, "25,00", "Lente")
    second_id, second = issue(platform, "40,00", "Lente")
    one.sync()
    two.sync()
    assert one.remaining(first) == two.remaining(first) == 2500

    # -- online: spent partly at both, each syncing before the other spends ---------------
    assert one.spend(first, 750).event.amount_cents == 750
    one.sync()
    two.sync()
    assert two.remaining(first) == 1750, "t2 learned t1's spend from the platform"
    assert two.spend(first, 500).event.amount_cents == 500
    two.sync()
    one.sync()
    assert one.remaining(first) == two.remaining(first) == 1250
    assert platform_vouchers(platform)[first_id][1] == 1250
    for counter in (one, two):  # what `citie-terminal voucher balance` says, too
        code, balance = counter.headless("voucher", "balance", first)
        assert code == 0, balance
        assert (balance["confirmed_spent"], balance["remaining_cents"]) == (1250, 1250)

    # A spend voided at once gives its value back, on the counter and on the platform.
    slip = one.spend(first, 200)
    assert one.remaining(first) == 1050
    one.ledger.void(slip.event.id)
    assert one.remaining(first) == 1250
    one.sync()
    two.sync()
    assert one.remaining(first) == two.remaining(first) == 1250
    assert platform_vouchers(platform)[first_id][1] == 1250

    # -- offline: both spend the same voucher beyond its value ----------------------------
    one.sync(online=False)
    two.sync(online=False)
    kept_one = one.spend(second, 3000)
    too_much = one.refused(second, 1500)
    assert too_much.reason == "insufficient"
    assert too_much.refusal.remaining_cents == 1000, "the refusal offers what is left"
    kept_two = two.spend(second, 3000)  # t2 knows nothing of t1's spend: within what it knows
    assert one.remaining(second) == 1000 and two.remaining(second) == 1000

    one.sync()
    two.sync()
    one.sync()
    events = voucher_events(platform)
    by_id = {e.id: e for e in events}
    assert kept_one.event.id in by_id and kept_two.event.id in by_id, "both spends kept"
    assert "voucher_overspent" not in by_id[kept_one.event.id].flags
    assert "voucher_overspent" in by_id[kept_two.event.id].flags, "the one past the value"
    assert [e.id for e in events if "voucher_overspent" in e.flags] == [kept_two.event.id]
    face, spent, overspent = platform_vouchers(platform)[second_id]
    assert (face, spent) == (4000, 6000) and overspent
    assert one.remaining(second) == two.remaining(second) == 0, "the counters learn it is spent"
    assert one.refused(second, 1).reason in ("spent", "insufficient")

    # -- the platform's books equal the fold of its events ----------------------------------
    folded = spent_by_fold(events)
    assert {v: s for v, (_f, s, _o) in platform_vouchers(platform).items()} == {
        first_id: folded[first_id],
        second_id: folded[second_id],
    }
    for counter in (one, two):  # each terminal's events are on the platform, exactly
        mine = counter.local_voucher_events()
        theirs = {
            e.id: (e.voucher_id, e.amount_cents)
            for e in events
            if e.terminal_id == counter.terminal.terminal_id
        }
        assert mine == theirs
    books = check_books(platform, events, {first_id: 2500, second_id: 4000})

    # -- a resend of everything changes nothing ----------------------------------------------
    for counter in (one, two):
        report = counter.sync(resend=True)
        assert report.push is not None and report.push.accepted == 0, report.to_json()
    assert voucher_events(platform) == events, "exactly once"
    assert check_books(platform, events, {first_id: 2500, second_id: 4000}) == books
    assert one.remaining(first) == two.remaining(first) == 1250, "nothing counted twice"
    assert one.remaining(second) == two.remaining(second) == 0

    # -- a revocation reaches both counters, which then refuse the voucher ------------------
    platform_cli(platform, "voucher", "revoke", first_id)
    one.sync()
    two.sync()
    for counter in (one, two):
        assert counter.book.balance(counter.voucher(first)).revoked
        assert counter.refused(first, 100).reason == "revoked"
        code, answer = counter.headless("voucher", "spend", first, "--amount", "1,00")
        assert (code, answer["refused"]) == (1, "revoked"), answer
    assert voucher_events(platform) == events, "a refused spend records nothing"


def check_books(
    platform: RunningPlatform, events: list[PlatformEvent], faces: dict[str, int]
) -> list[Any]:
    """Each shop's statement and the city's summary against the fold of ``events`` (the
    platform's stored voucher events); returns what they printed."""
    printed: list[Any] = []
    for shop_id in sorted({e.shop_id for e in events}):
        mine = [e for e in events if e.shop_id == shop_id]
        *lines, end = statement(platform, shop_id)
        printed += [*lines, end]
        shown = {
            line["event_id"]: (
                line["kind"],
                line["terminal_id"],
                line["voucher_id"],
                line["amount_cents"],
                line["voids"],
            )
            for line in lines
        }
        assert len(shown) == len(lines), "each event on one line"
        assert shown == {
            e.id: (e.kind, e.terminal_id, e.voucher_id, e.amount_cents, e.voids) for e in mine
        }
        (total,) = end["totals"]
        spends = [e.amount_cents for e in mine if e.kind == "voucher_spend"]
        voids = [e.amount_cents for e in mine if e.kind == "void"]
        assert (total["spends"], total["voids"]) == (len(spends), len(voids)), end
        assert total["spent_cents"] == sum(spends), end
        assert total["voided_cents"] == -sum(voids), end
        assert total["total_cents"] == sum(e.amount_cents for e in mine), end
    summary = json_lines(platform, "voucher", "summary", "--json")
    printed += summary
    *campaigns, city = summary
    assert city["campaign"] is None and [c["campaign"] for c in campaigns] == ["Lente"]
    net = spent_by_fold(events)
    for figures in (campaigns[0], city):
        assert figures["vouchers"] == len(faces)
        assert figures["issued_cents"] == sum(faces.values())
        assert figures["spent_cents"] == sum(e.amount_cents for e in events if e.kind != "void")
        assert figures["voided_cents"] == -sum(e.amount_cents for e in events if e.kind == "void")
        assert figures["expired_cents"] == figures["revoked_cents"] == 0
        assert figures["overspent_cents"] == sum(max(0, net[v] - f) for v, f in faces.items())
        assert figures["outstanding_cents"] == sum(max(0, f - net[v]) for v, f in faces.items())
        assert figures["spends"] == sum(e.kind == "voucher_spend" for e in events)
        assert figures["voids"] == sum(e.kind == "void" for e in events)
    return printed


def test_a_resend_counts_nothing_twice_at_the_counter(
    platform: RunningPlatform, terminal_factory: Terminals
) -> None:
    one = Counter(terminal_factory(platform, "shop-a", "t1"))
    _voucher_id, code = issue(platform, "25,00", "Lente")
    one.sync()
    one.spend(code, 750)
    one.sync()
    assert one.remaining(code) == 1750
    report = one.sync(resend=True)
    assert report.push is not None and report.push.duplicate == 1, report.to_json()
    assert one.remaining(code) == 1750, "the resent spend is the one already confirmed"


def raw_batch(
    platform: RunningPlatform, counter: Counter, events: list[dict[str, Any]]
) -> list[tuple[str, str | None, list[str]]]:
    """Events as a hostile or broken terminal could send them (no client-side checks):
    (status, reason, flags) of each."""
    answer = httpx.post(
        f"{platform.url}/v1/events:batch",
        json={"v": 1, "terminal_id": "t1", "batch_id": f"raw-{uuid7()}", "events": events},
        headers={"Authorization": f"Bearer {read_credential(counter.terminal.settings)}"},
        timeout=30,
    )
    assert answer.status_code == 200, answer.text[:500]
    return [(r["status"], r.get("reason"), r.get("flags", [])) for r in answer.json()["results"]]


def test_hostile_spends_over_http_and_a_tampered_ledger_never_bend_the_books(
    platform: RunningPlatform, terminal_factory: Terminals
) -> None:
    one = Counter(terminal_factory(platform, "shop-a", "t1"))
    voucher_id, code = issue(platform, "25,00", "Lente")
    (card,) = json_lines(platform, "card", "new", "--json")
    one.sync()
    kept = one.spend(code, 750)
    one.sync()

    def spend(**fields: Any) -> dict[str, Any]:
        event = {
            "id": str(uuid7()),
            "seq": 1000 + len(fields),
            "kind": "voucher_spend",
            "terminal_id": "t1",
            "shop_id": "shop-a",
            "occurred_at": iso(utc_now()),
            "program_id": "voucher",
            "amount_cents": 100,
            "currency": "EUR",
            "voucher_id": voucher_id,
            "receipt_no": "t1-raw",
        }
        return event | fields

    results = raw_batch(
        platform,
        one,
        [
            spend(amount_cents=0),
            spend(amount_cents=-1),
            spend(voucher_id=card["card_id"]),  # a card where a voucher is expected
            spend(voucher_id=code),  # the whole code, not its id
            spend(card_id=card["card_id"]),
            spend(stamps=3),
            spend(amount_cents=10**12),
            spend(currency="USD"),
            spend(kind="stamp", card_id=card["card_id"], stamps=1, amount_cents=None),
        ],
    )
    assert [(status, reason) for status, reason, _flags in results] == [
        ("rejected", "amount_invalid"),
        ("rejected", "amount_invalid"),
        ("rejected", "voucher_unknown"),
        ("rejected", "malformed"),
        ("rejected", "voucher_invalid"),
        ("rejected", "voucher_invalid"),
        ("rejected", "malformed"),
        ("rejected", "currency_mismatch"),
        ("rejected", "voucher_invalid"),
    ]
    # More than the face value (12,505 typed as cents): kept, as a bearer voucher spent
    # offline must be, and flagged for the city; never refused, never a 500.
    ((status, _reason, flags),) = raw_batch(platform, one, [spend(amount_cents=12505)])
    assert (status, flags) == ("accepted", ["voucher_overspent"])
    events = voucher_events(platform)
    assert [e.amount_cents for e in events] == [750, 12505]
    assert platform_vouchers(platform)[voucher_id][1:] == (750 + 12505, 1)

    # Someone edits the ledger file: the synced spend of 7,50 becomes 0,75, and everything
    # is sent again. The platform keeps what it was first told; the edit is a conflict.
    with sqlite3.connect(one.terminal.settings.database_path) as raw:
        raw.execute("DROP TRIGGER events_no_update")
        raw.execute("UPDATE events SET amount_cents = 75 WHERE id = ?", [kept.event.id])
    settings, store = one.terminal.settings, one.terminal.store
    report = run_sync(settings, store, policy=FAST, backup=False, resend=True)
    assert (report.exit_code, report.outcome, report.quarantined) == (1, "quarantined", 1)
    assert report.push is not None and report.push.accepted == 0, report.to_json()
    reason = (
        one.terminal.store.read()
        .execute("SELECT reason FROM outbox WHERE state = 'quarantined'")
        .fetchone()[0]
    )
    assert str(reason).startswith("conflict"), reason
    assert voucher_events(platform) == events, "the books never moved"
    assert platform_vouchers(platform)[voucher_id][1] == 750 + 12505
