"""The platform keeps the books (issue 11, item 4), over real HTTP, against both stores.

A terminal credential used to mint stamps: the platform accepted a void of a +1 event carrying
+100000, a second void of the same event, a redeem of +50 and a stamp of -100000, then sent the
balance to every terminal of the shop as confirmed. Now each such event is rejected with a
reason, the terminal quarantines it, and what is allowed but suspicious is kept and flagged.
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from uuid6 import uuid7

from loyalty.db import iso, utc_now
from sync.job import run_sync
from tests.conftest_platform import (
    FAST,
    PLATFORM,
    PairedTerminal,
    RunningPlatform,
    add_events,
    clean_env,
)

Terminals = Callable[..., PairedTerminal]

CARD = "CT-BOOK-KEEP"
COFFEE = {
    "id": "coffee",
    "stamps_per_visit": 1,
    "reward_threshold": 10,
    "max_stamps_per_day": 5,
}


def set_program(platform: RunningPlatform, shop_id: str, body: dict[str, Any]) -> None:
    with platform.open_store() as store:
        store.set_program(shop_id, str(body["id"]), body)


class Sender:
    """Posts hand-made events with a paired terminal's own credential, as an attacker would."""

    def __init__(self, platform: RunningPlatform, terminal: PairedTerminal) -> None:
        self.platform = platform
        self.terminal = terminal
        self.credential = terminal.settings.token_path.read_text().strip()
        self.seq = 0

    def event(self, kind: str, stamps: int, **fields: Any) -> dict[str, Any]:
        self.seq += 1
        data: dict[str, Any] = {
            "id": str(uuid7()),
            "seq": self.seq,
            "kind": kind,
            "terminal_id": self.terminal.terminal_id,
            "shop_id": self.terminal.shop_id,
            "occurred_at": iso(utc_now()),
            "card_id": CARD,
            "program_id": "coffee",
            "stamps": stamps,
            "receipt_no": f"{self.terminal.terminal_id}-{self.seq}",
        }
        data.update(fields)
        return data

    def send(self, *events: dict[str, Any]) -> list[dict[str, Any]]:
        answer = httpx.post(
            f"{self.platform.url}/v1/events:batch",
            headers={"Authorization": f"Bearer {self.credential}"},
            json={
                "v": 1,
                "terminal_id": self.terminal.terminal_id,
                "batch_id": str(uuid7()),
                "events": list(events),
            },
            timeout=20,
        )
        assert answer.status_code == 200, answer.text
        results: list[dict[str, Any]] = answer.json()["results"]
        return results


def balance(platform: RunningPlatform, shop_id: str = "shop-a") -> list[tuple[Any, ...]]:
    return platform.query(
        "SELECT stamps FROM balances WHERE shop_id = ? AND card_id = ?", [shop_id, CARD]
    )


def verdicts(results: list[dict[str, Any]]) -> list[str]:
    return [r["reason"] if r["status"] == "rejected" else r["status"] for r in results]


def test_the_minting_attack_is_rejected_event_by_event(
    platform: RunningPlatform, terminal_factory: Terminals
) -> None:
    terminal = terminal_factory(platform)
    set_program(platform, "shop-a", COFFEE)
    sender = Sender(platform, terminal)
    stamp = sender.event("stamp", 1)

    results = sender.send(
        stamp,
        sender.event("void", 100_000, voids=stamp["id"]),
        sender.event("void", -1, voids=stamp["id"]),
        sender.event("void", -1, voids=stamp["id"]),
        sender.event("redeem", 50),
        sender.event("stamp", -100_000),
        sender.event("stamp", 100_000),
        sender.event("purchase", 6, amount_cents=1250, currency="EUR"),
    )

    assert verdicts(results) == [
        "accepted",
        "void_mismatch",
        "accepted",
        "already_voided",
        "redeem_invalid",
        "stamps_invalid",
        "stamps_invalid",
        "stamps_invalid",
    ]
    assert all(r["message"] for r in results if r["status"] == "rejected")
    assert balance(platform) == [(0,)]
    stored = platform.query("SELECT COUNT(*) FROM events WHERE card_id = ?", [CARD])
    assert stored == [(2,)], "only the stamp and its one true void are on the books"


def test_without_a_program_on_the_platform_stamps_are_still_bounded(
    platform: RunningPlatform, terminal_factory: Terminals
) -> None:
    terminal = terminal_factory(platform)
    sender = Sender(platform, terminal)

    results = sender.send(
        sender.event("stamp", 3),
        sender.event("redeem", 50),
        sender.event("stamp", 100_000),
        sender.event("redeem", -3),
    )

    assert verdicts(results) == ["accepted", "redeem_invalid", "stamps_invalid", "accepted"]
    assert balance(platform) == [(0,)]


def test_a_redeem_costs_exactly_the_reward(
    platform: RunningPlatform, terminal_factory: Terminals
) -> None:
    terminal = terminal_factory(platform)
    set_program(platform, "shop-a", COFFEE)
    sender = Sender(platform, terminal)

    results = sender.send(sender.event("redeem", -1), sender.event("redeem", -10))

    assert verdicts(results) == ["redeem_invalid", "accepted"]
    assert results[1]["flags"] == ["overdraft"]


def test_the_daily_limit_counts_every_terminal_of_the_shop_and_flags_the_excess(
    platform: RunningPlatform, terminal_factory: Terminals
) -> None:
    set_program(platform, "shop-a", COFFEE)
    one = Sender(platform, terminal_factory(platform, terminal_id="t1"))
    two = Sender(platform, terminal_factory(platform, terminal_id="t2"))

    first = one.send(one.event("stamp", 3))
    second = two.send(two.event("stamp", 2), two.event("stamp", 1))

    assert [r["flags"] for r in first + second] == [[], [], ["daily_limit"]]
    assert verdicts(first + second) == ["accepted"] * 3, "kept, like an overdraft"
    assert balance(platform) == [(6,)]
    flagged = platform.query("SELECT terminal_id, flags FROM events WHERE flags != ''")
    assert flagged == [("t2", "daily_limit")]
    assert platform.stats()["flagged_daily_limit"] == 1
    listed = subprocess.run(
        [*PLATFORM, "flags", "--json", "--data-dir", str(platform.data_dir)],
        capture_output=True,
        text=True,
        env=clean_env(),
        timeout=60,
        check=True,
    ).stdout.splitlines()
    (row,) = (json.loads(line) for line in listed)
    assert (row["terminal_id"], row["card_id"], row["flags"]) == ("t2", CARD, ["daily_limit"])


def test_events_dated_far_from_their_arrival_are_kept_and_flagged(
    platform: RunningPlatform, terminal_factory: Terminals
) -> None:
    terminal = terminal_factory(platform)
    sender = Sender(platform, terminal)
    long_ago = iso(datetime.now(UTC) - timedelta(hours=49))
    soon = iso(datetime.now(UTC) + timedelta(hours=47))

    results = sender.send(
        sender.event("stamp", 1, occurred_at=long_ago), sender.event("stamp", 1, occurred_at=soon)
    )

    assert verdicts(results) == ["accepted", "accepted"]
    assert [r["flags"] for r in results] == [["clock_skew"], []]
    assert platform.stats()["flagged_clock_skew"] == 1


def test_the_terminal_quarantines_what_the_platform_rejects(
    platform: RunningPlatform, terminal_factory: Terminals
) -> None:
    terminal = terminal_factory(platform)
    set_program(platform, "shop-a", COFFEE)
    good = add_events(terminal.store, 2, shop_id="shop-a", terminal_id="t1", cards=2)
    (bad,) = add_events(terminal.store, 1, shop_id="shop-a", terminal_id="t1", stamps=100_000)

    report = run_sync(terminal.settings, terminal.store, policy=FAST, backup=False)

    assert report.exit_code == 1, report.to_json()
    assert report.push is not None and report.push.rejected == 1
    row = (
        terminal.store.read()
        .execute(
            "SELECT o.state, o.reason FROM outbox o JOIN events e ON e.seq = o.seq WHERE e.id = ?",
            [bad],
        )
        .fetchone()
    )
    assert row[0] == "quarantined" and row[1].startswith("stamps_invalid: ")
    assert sorted(platform.event_ids("t1")) == sorted(good)
    assert json.dumps(report.to_json())  # the report stays plain JSON


def test_the_clock_skew_limit_is_the_operators_to_set(
    platform_factory: Callable[..., RunningPlatform], terminal_factory: Terminals, tmp_path: Path
) -> None:
    platform = platform_factory("--max-clock-skew-hours", "1")
    sender = Sender(platform, terminal_factory(platform))
    two_hours_ago = iso(datetime.now(UTC) - timedelta(hours=2))

    (result,) = sender.send(sender.event("stamp", 1, occurred_at=two_hours_ago))

    assert result["flags"] == ["clock_skew"]
    folder = tmp_path / "bad-config"
    folder.mkdir()
    (folder / "platform.toml").write_text("[platform]\nmax_clock_skew_hours = -3\n")
    refused = subprocess.run(
        [*PLATFORM, "serve", "--port", "0", "--data-dir", str(folder)],
        capture_output=True,
        text=True,
        env=clean_env(),
        timeout=60,
        check=False,
    )
    assert refused.returncode == 2
    assert refused.stderr.startswith("refused: bad_config: [platform] max_clock_skew_hours in ")


def test_an_event_may_follow_the_program_in_force_at_its_time(
    platform: RunningPlatform, terminal_factory: Terminals
) -> None:
    terminal = terminal_factory(platform)
    set_program(platform, "shop-a", {**COFFEE, "max_stamps_per_day": 5})
    set_program(platform, "shop-a", {**COFFEE, "max_stamps_per_day": 3})
    sender = Sender(platform, terminal)
    before_the_change = iso(datetime.now(UTC) - timedelta(hours=1))

    results = sender.send(
        sender.event("stamp", 5, occurred_at=before_the_change, card_id="CT-OLD-PROG"),
        sender.event("stamp", 5, card_id="CT-NEW-PROG"),
    )

    assert verdicts(results) == ["accepted", "stamps_invalid"]
