"""An operator clears a card's flag (issue 14 item 6, the gap H6 left): on both stores.

A card flagged by the city (``city.fraud``) warns at every counter until somebody who checked
it says it is fine: ``citie-platform flags clear CARD_ID... [--reason TEXT]`` records who,
when and why, gives the card's flag a new version, and the updates feed sends it cleared; a
terminal that had the warning loses it at its next sync, one that never had it gets none.
Ids without a flag in force are refused and nothing is cleared. Events that arrive after the
clearing are judged afresh: a card they catch again is flagged again, with a new first_at.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from city import fraud
from city.cli import cli as platform_cli
from city.issuer import Issuer
from city.store import PlatformStore, open_store
from loyalty.db import Store, parse_iso
from loyalty.ledger import Ledger
from sync.job import run_sync
from sync.protocol import CardFlag, Updates
from sync.puller import PullReport, _apply_page
from terminal.services import make_app
from tests.conftest_platform import FAST, STORES, PairedTerminal, PostgresServer, RunningPlatform
from tests.test_app_kit import SIZE, settle, text_of, type_code
from tests.test_city_fraud import CARD, MORNING, event, send, terminal
from tests.test_flags_terminal import WARNING, headless, stamp_and_sync

Terminals = Callable[..., PairedTerminal]


@pytest.fixture(params=STORES)
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[PlatformStore]:
    """An empty platform store: a SQLite file, or a fresh PostgreSQL database."""
    if request.param == "sqlite":
        opened = open_store(tmp_path / "platform.db")
    else:
        server: PostgresServer = request.getfixturevalue("postgres_server")
        opened = open_store(server.new_database())
    opened.max_clock_skew = timedelta(days=3650)  # the events are dated in March 2026
    with opened:
        yield opened


def active(store: PlatformStore) -> dict[str, list[str]]:
    return {row["card_id"]: row["reasons"] for row in store.list_card_flags()}


def test_a_cleared_flag_is_sent_cleared_and_only_new_events_flag_the_card_again(
    store: PlatformStore,
) -> None:
    baker, butcher, grocer, florist = (
        terminal(store, s) for s in ("baker", "butcher", "grocer", "florist")
    )
    elsewhere = terminal(store, "tailor")
    for n, at in enumerate((baker, butcher, grocer)):
        send(store, at, event(at, MORNING + timedelta(minutes=5 * n)))
    assert active(store) == {CARD: [fraud.VELOCITY]}
    first = store.updates(elsewhere, "0")
    (flagged,) = first.flags
    assert not flagged.cleared

    done = store.clear_card_flags([CARD], by="ann", why="a family sharing the card")
    assert (done.cleared, done.unflagged) == ([CARD], [])

    (cleared,) = store.updates(elsewhere, first.next_cursor).flags
    assert (cleared.card_id, cleared.cleared, cleared.reasons) == (CARD, True, [fraud.VELOCITY])
    assert cleared.version > flagged.version
    assert [(f.card_id, f.cleared) for f in store.updates(elsewhere, "0").flags] == [(CARD, True)]
    assert active(store) == {} and store.stats()["flagged_cards"] == 0
    (kept,) = store.list_card_flags(cleared=True)
    assert (kept["cleared"], kept["cleared_by"], kept["cleared_why"]) == (
        True,
        "ann",
        "a family sharing the card",
    )
    # Cleared already: refused, like an id that was never flagged.
    again = store.clear_card_flags([CARD], by="ann")
    assert (again.cleared, again.unflagged) == ([], [CARD])

    # One more visit in the same half hour: what the operator saw is forgiven, no new flag.
    assert send(store, florist, event(florist, MORNING + timedelta(minutes=12))) == [[]]
    assert active(store) == {}
    # New visits at two more shops: the rules catch the card again, a new flag from now.
    send(store, baker, event(baker, MORNING + timedelta(minutes=14)))
    assert send(store, butcher, event(butcher, MORNING + timedelta(minutes=16))) == [
        [fraud.VELOCITY]
    ]
    assert active(store) == {CARD: [fraud.VELOCITY]}
    (row,) = store.list_card_flags()
    assert parse_iso(row["first_at"]) > parse_iso(str(kept["cleared_at"]))
    assert (row["cleared"], row["cleared_at"], row["cleared_by"]) == (False, None, None)
    (back,) = store.updates(elsewhere, first.next_cursor).flags
    assert (back.cleared, back.flagged_at) == (False, row["first_at"])
    history = store.query("SELECT card_id, cleared_by, why, reasons FROM card_flag_clearings")
    assert history == [(CARD, "ann", "a family sharing the card", fraud.VELOCITY)]


def test_clearing_ids_without_a_flag_clears_nothing(store: PlatformStore) -> None:
    baker, butcher, grocer = (terminal(store, s) for s in ("baker", "butcher", "grocer"))
    for n, at in enumerate((baker, butcher, grocer)):
        send(store, at, event(at, MORNING + timedelta(minutes=5 * n)))
    version = store.query("SELECT value FROM counters WHERE name = 'version'")

    done = store.clear_card_flags([CARD, "CT-NEVER-SEEN"], by="ann")

    assert (done.cleared, done.unflagged) == ([], ["CT-NEVER-SEEN"])
    assert active(store) == {CARD: [fraud.VELOCITY]}
    assert store.query("SELECT value FROM counters WHERE name = 'version'") == version
    assert store.query("SELECT COUNT(*) FROM card_flag_clearings") == [(0,)]


def test_a_flag_in_force_reads_as_before_and_a_cleared_one_says_so() -> None:
    flag = CardFlag(
        card_id=CARD, reasons=["velocity"], flagged_at="2026-03-03T09:00:00.000Z", version=3
    )
    assert "cleared" not in flag.model_dump_json()  # a terminal without the field reads it
    cleared = flag.model_copy(update={"cleared": True})
    assert json.loads(cleared.model_dump_json())["cleared"] is True
    assert CardFlag.model_validate_json(cleared.model_dump_json()).cleared


def _page(cursor: str, *flags: CardFlag) -> Updates:
    return Updates(
        cursor=cursor,
        next_cursor=str(int(cursor) + 1),
        server_time="2026-03-03T09:00:00.000Z",
        flags=list(flags),
    )


def test_an_older_flag_never_brings_back_a_cleared_one(tmp_path: Path) -> None:
    from terminal.flags import card_flag

    store = Store.open(tmp_path / "ledger.db")
    try:
        flag = CardFlag(
            card_id=CARD, reasons=["velocity"], flagged_at="2026-03-03T09:00:00.000Z", version=3
        )
        _apply_page(store, _page("0", flag), PullReport())
        assert card_flag(store.read(), CARD) is not None
        cleared = flag.model_copy(update={"cleared": True, "version": 5})
        _apply_page(store, _page("1", cleared), PullReport())
        assert card_flag(store.read(), CARD) is None
        _apply_page(store, _page("2", flag), PullReport())  # older: stays cleared
        assert card_flag(store.read(), CARD) is None
        newer = flag.model_copy(update={"version": 7, "flagged_at": "2026-03-04T09:00:00.000Z"})
        _apply_page(store, _page("3", newer), PullReport())
        note = card_flag(store.read(), CARD)
        assert note is not None and note.flagged_at == "2026-03-04T09:00:00.000Z"
    finally:
        store.close()


def platform_command(platform: RunningPlatform, *args: str) -> Result:
    env = {name: None for name in os.environ if name.startswith("CITIE_")}
    return CliRunner().invoke(platform_cli, [*args, "--data-dir", str(platform.data_dir)], env=env)


def verified(terminal: PairedTerminal, code: str) -> dict[str, Any]:
    answer: dict[str, Any] = json.loads(
        headless(terminal, "card", "verify", code, "--json", "--lang", "en")
    )
    return answer


def sync(terminal: PairedTerminal) -> None:
    report = run_sync(terminal.settings, terminal.store, policy=FAST, backup=False)
    assert report.exit_code == 0, report.to_json()


async def test_an_operator_clears_a_flag_and_every_terminal_drops_the_warning(
    platform: RunningPlatform, terminal_factory: Terminals
) -> None:
    issuer = Issuer.open(platform.data_dir / "issuer")
    card_id, code = issuer.issue_card()
    with platform.open_store() as opened:
        opened.add_card(card_id, 365)
    shops = [terminal_factory(platform, f"shop-{s}", f"t-{s}") for s in "abc"]
    fourth = terminal_factory(platform, "shop-d", "t-d")
    for at in shops:
        stamp_and_sync(at, card_id)
    sync(fourth)
    assert verified(fourth, code)["warning"].startswith(WARNING)

    refused = platform_command(platform, "flags", "clear", card_id, "CT-NOT-FLAGGED")
    assert refused.exit_code == 1
    assert "refused: unknown_flag: 1 of 2 card id(s)" in refused.stderr
    assert "CT-NOT-FLAGGED" in refused.stderr and "Nothing was cleared" in refused.stderr
    listed = platform_command(platform, "flags", "--json")
    assert [
        r["card_id"] for r in map(json.loads, listed.stdout.splitlines()) if "card_flag" in r
    ] == [card_id]

    cleared = platform_command(
        platform, "flags", "clear", card_id, "--reason", "sisters, two shops", "--by", "ann",
        "--json",
    )  # fmt: skip
    assert cleared.exit_code == 0, cleared.output
    assert json.loads(cleared.stdout) == {"cleared": 1, "card_ids": [card_id]}
    listed = platform_command(platform, "flags", "--json")
    assert not [r for r in map(json.loads, listed.stdout.splitlines()) if "card_flag" in r]
    every = platform_command(platform, "flags", "--all")
    assert f"card {card_id}  velocity  since " in every.stdout
    assert "cleared " in every.stdout and " by ann: sisters, two shops" in every.stdout

    sync(fourth)  # it had the warning: gone at its next sync
    answer = verified(fourth, code)
    assert (answer["flags"], answer["warning"]) == ([], None)
    assert json.loads(headless(fourth, "balance", code, "--json"))["warning"] is None
    fifth = terminal_factory(platform, "shop-e", "t-e")  # never had it: never gets it
    sync(fifth)
    assert verified(fifth, code)["flags"] == []
    settings = fourth.with_settings(camera={"enabled": False}, terminal={"bell": False})
    ledger = Ledger(fourth.store, shop_id=fourth.shop_id, terminal_id=fourth.terminal_id)
    app = make_app(
        settings, ledger, None, None, None, store=fourth.store, language="en",
        background_sync=False,
    )  # fmt: skip
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await type_code(pilot, code)
        assert "Check this card" not in text_of(app, "#card-progress")

    # Three shops again after the clearing: the card is flagged again and the warning is back.
    for at in shops:
        stamp_and_sync(at, card_id)
    sync(fourth)
    assert verified(fourth, code)["warning"].startswith(WARNING)
    flags = platform.query(
        "SELECT reasons, cleared_at FROM card_flags WHERE card_id = ?", [card_id]
    )
    assert flags == [("velocity", None)]


def test_the_data_folder_may_come_before_the_subcommand(tmp_path: Path) -> None:
    env = {name: None for name in os.environ if name.startswith("CITIE_")}
    folder = str(tmp_path / "platform")

    refused = CliRunner().invoke(
        platform_cli, ["flags", "--data-dir", folder, "clear", CARD], env=env
    )
    listed = CliRunner().invoke(platform_cli, ["flags", f"--data-dir={folder}", "--json"], env=env)

    assert refused.exit_code == 1 and "refused: unknown_flag:" in refused.stderr
    assert (listed.exit_code, listed.stdout) == (0, "")
    assert (tmp_path / "platform" / "platform.db").is_file()
