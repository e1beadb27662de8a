"""Fraud signals the city alone sees (issue 14 item 6), on both stores.

Each shop's terminals send their own batches, as they do over HTTP (that path is covered end
to end in test_flags_terminal.py): a card stamped at three shops within half an hour, a card
given more stamps in a day across the city than the city allows, a staff member whose voids
pass a share of their day. Flags are kept on the events, on the card (sent to every terminal
in the updates feed) and on the staff member's day, and listed by ``citie-platform flags``.
"""

from __future__ import annotations

import json
import subprocess
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from uuid6 import uuid7

from city import fraud
from city.cli import fraud_settings
from city.store import PlatformStore, TerminalRecord, open_store
from loyalty.db import iso
from tests.conftest_platform import PLATFORM, STORES, PostgresServer, clean_env

CARD = "CT-FAST-CARD"
# 10:00 in Brussels, on a plain weekday: the local day is the same for every event below.
MORNING = datetime(2026, 3, 3, 9, 0, tzinfo=UTC)
_seq = iter(range(1, 1_000_000))


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


def terminal(store: PlatformStore, shop_id: str, number: int = 1) -> TerminalRecord:
    new = store.add_terminal(shop_name=shop_id, shop_id=shop_id, terminal_id=f"{shop_id}-t{number}")
    return TerminalRecord(id=new.terminal_id, shop_id=shop_id, paired=True)


def event(
    at: TerminalRecord, when: datetime, kind: str = "stamp", stamps: int = 1, **fields: Any
) -> dict[str, Any]:
    number = next(_seq)
    data: dict[str, Any] = {
        "id": str(uuid7()),
        "seq": number,
        "kind": kind,
        "terminal_id": at.id,
        "shop_id": at.shop_id,
        "occurred_at": iso(when),
        "card_id": CARD,
        "program_id": "coffee",
        "stamps": stamps,
        "receipt_no": f"{at.id}-{number}",
    }
    data.update(fields)
    return data


def send(store: PlatformStore, at: TerminalRecord, *events: dict[str, Any]) -> list[list[str]]:
    """Record a batch; every event accepted; the flags of each."""
    results = store.record_batch(at, str(uuid7()), list(events))
    assert [r.status for r in results] == ["accepted"] * len(events), results
    return [list(r.flags) for r in results]


def card_flags(store: PlatformStore) -> dict[str, list[str]]:
    return {row["card_id"]: row["reasons"] for row in store.list_card_flags()}


def test_a_card_at_three_shops_within_half_an_hour_is_flagged_and_sent_to_every_terminal(
    store: PlatformStore,
) -> None:
    baker, butcher, grocer = (terminal(store, s) for s in ("baker", "butcher", "grocer"))
    elsewhere = terminal(store, "florist")
    # The third shop's terminal syncs first; the signal comes when the pattern is whole.
    assert send(store, grocer, event(grocer, MORNING + timedelta(minutes=25))) == [[]]
    assert send(store, baker, event(baker, MORNING)) == [[]]
    assert card_flags(store) == {}
    assert send(store, butcher, event(butcher, MORNING + timedelta(minutes=10))) == [
        [fraud.VELOCITY]
    ]

    assert card_flags(store) == {CARD: [fraud.VELOCITY]}
    assert (store.stats()["flagged_velocity"], store.stats()["flagged_cards"]) == (1, 1)
    stored = store.query("SELECT terminal_id, flags FROM events WHERE flags != ''")
    assert stored == [(butcher.id, fraud.VELOCITY)]
    page = store.updates(elsewhere, "0")
    assert [(f.card_id, f.reasons) for f in page.flags] == [(CARD, [fraud.VELOCITY])]
    # Flagged again for the same reason: the terminals already know, nothing new is sent.
    send(store, baker, event(baker, MORNING + timedelta(minutes=12)))
    assert store.updates(elsewhere, page.next_cursor).flags == []


def test_three_shops_further_apart_than_the_window_raise_nothing(store: PlatformStore) -> None:
    shops = [terminal(store, s) for s in ("baker", "butcher", "grocer")]
    for n, at in enumerate(shops):  # 0, 20, 40 minutes: any 30 minutes hold two shops
        assert send(store, at, event(at, MORNING + timedelta(minutes=20 * n))) == [[]]
    several = terminal(store, "baker", 2)  # more terminals of one shop are one shop
    assert send(store, several, event(several, MORNING + timedelta(minutes=5))) == [[]]
    assert card_flags(store) == {}


def test_a_voided_stamp_is_not_a_visit(store: PlatformStore) -> None:
    baker, butcher, grocer = (terminal(store, s) for s in ("baker", "butcher", "grocer"))
    mistake = event(baker, MORNING)
    send(store, baker, mistake)
    send(store, baker, event(baker, MORNING, "void", -1, voids=mistake["id"]))
    send(store, butcher, event(butcher, MORNING + timedelta(minutes=5)))
    assert send(store, grocer, event(grocer, MORNING + timedelta(minutes=10))) == [[]]


def test_the_threshold_comes_from_the_settings(store: PlatformStore) -> None:
    store.fraud_settings = fraud.FraudSettings(velocity_shops=1, velocity_minutes=5)
    baker, butcher = terminal(store, "baker"), terminal(store, "butcher")
    send(store, baker, event(baker, MORNING))
    assert send(store, butcher, event(butcher, MORNING + timedelta(minutes=6))) == [[]]
    assert send(store, butcher, event(butcher, MORNING + timedelta(minutes=4))) == [
        [fraud.VELOCITY]
    ]


def test_more_stamps_in_a_day_than_the_city_allows_flags_the_card(store: PlatformStore) -> None:
    shops = [terminal(store, s) for s in ("baker", "butcher", "grocer")]
    # Hours apart (no velocity), each shop within any daily limit of its own.
    assert send(store, shops[0], event(shops[0], MORNING, stamps=8)) == [[]]
    assert send(store, shops[1], event(shops[1], MORNING + timedelta(hours=2), stamps=8)) == [[]]
    flags = send(
        store,
        shops[2],
        event(shops[2], MORNING + timedelta(hours=4), stamps=4),
        event(shops[2], MORNING + timedelta(hours=4, minutes=1), stamps=1),
    )
    assert flags == [[], [fraud.CITY_DAILY_LIMIT]]  # 20 is the limit, 21 passes it
    assert card_flags(store) == {CARD: [fraud.CITY_DAILY_LIMIT]}
    figures = store.stats()  # a shop's own daily_limit is another count
    assert (figures["flagged_city_daily_limit"], figures["flagged_daily_limit"]) == (1, 0)
    # The next day starts again from zero.
    tomorrow = MORNING + timedelta(days=1)
    assert send(store, shops[0], event(shops[0], tomorrow, stamps=8)) == [[]]
    # A second reason is added to the card's flag, and the card is sent again.
    cursor = store.updates(shops[0], "0").next_cursor
    for n, at in enumerate(shops):
        send(store, at, event(at, tomorrow + timedelta(hours=3, minutes=n)))
    assert card_flags(store) == {CARD: [fraud.CITY_DAILY_LIMIT, fraud.VELOCITY]}
    (again,) = store.updates(shops[0], cursor).flags
    assert again.reasons == [fraud.CITY_DAILY_LIMIT, fraud.VELOCITY]


def test_a_staff_member_whose_voids_pass_the_share_is_listed(store: PlatformStore) -> None:
    till = terminal(store, "baker")
    other_till = terminal(store, "baker", 2)

    def day_of(at: TerminalRecord, staff: str | None, stamps: int, voids: int) -> None:
        events = []
        for n in range(stamps):
            stamp = event(at, MORNING + timedelta(minutes=n), staff_id=staff, card_id=f"CT-S{n}")
            events.append(stamp)
            if n < voids:
                events.append(
                    event(at, MORNING + timedelta(minutes=n, seconds=30), "void", -1,
                          voids=stamp["id"], staff_id=staff, card_id=f"CT-S{n}")
                )  # fmt: skip
        send(store, at, *events)

    day_of(till, "st-anna", 8, 3)  # 3 voids of 11 events: over a fifth
    day_of(till, "st-bert", 8, 2)  # 2 of 10: a fifth, not over it
    day_of(other_till, "st-anna", 3, 2)  # 2 of 5: too few events to tell
    day_of(other_till, None, 9, 3)  # 3 of 12, recorded without staff accounts

    listed = store.list_staff_flags()
    assert [(r["terminal_id"], r["staff_id"], r["events"], r["voids"]) for r in listed] == [
        (till.id, "st-anna", 11, 3),
        (other_till.id, None, 12, 3),
    ]
    assert {r["day"] for r in listed} == {"2026-03-03"}
    assert store.stats()["flagged_staff_days"] == 2
    assert card_flags(store) == {}  # a staff member is flagged, not the cards


def test_flags_lists_events_cards_and_staff(tmp_path: Path) -> None:
    folder = tmp_path / "platform"
    folder.mkdir()
    (folder / "platform.toml").write_text(
        "[platform]\nvelocity_shops = 1\nmax_void_share = 0.1\nmin_void_events = 2\n"
    )
    with open_store(folder / "platform.db") as store:
        store.max_clock_skew = timedelta(days=3650)
        store.fraud_settings = fraud_settings(folder)
        baker, butcher = terminal(store, "baker"), terminal(store, "butcher")
        send(store, baker, event(baker, MORNING, staff_id="st-anna"))
        wrong = event(baker, MORNING, staff_id="st-anna")
        send(store, baker, wrong)
        send(store, baker, event(baker, MORNING, "void", -1, voids=wrong["id"], staff_id="st-anna"))
        send(store, butcher, event(butcher, MORNING + timedelta(minutes=1)))

    listed = subprocess.run(
        [*PLATFORM, "flags", "--json", "--data-dir", str(folder)],
        capture_output=True, text=True, env=clean_env(), timeout=60, check=True,
    ).stdout.splitlines()  # fmt: skip
    rows = [json.loads(line) for line in listed]
    assert [r["flags"] for r in rows if "pseq" in r] == [[fraud.VELOCITY]]
    (card,) = (r for r in rows if r.get("card_flag"))
    assert (card["card_id"], card["reasons"]) == (CARD, [fraud.VELOCITY])
    (staff,) = (r for r in rows if r.get("staff_flag"))
    assert (staff["terminal_id"], staff["staff_id"], staff["events"], staff["voids"]) == (
        baker.id,
        "st-anna",
        3,
        1,
    )
    text = subprocess.run(
        [*PLATFORM, "flags", "--data-dir", str(folder)],
        capture_output=True, text=True, env=clean_env(), timeout=60, check=True,
    ).stdout  # fmt: skip
    assert f"card {CARD}  velocity" in text and "staff st-anna" in text


def test_fraud_settings_come_from_the_environment_then_platform_toml(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in fraud.SETTING_NAMES:
        monkeypatch.delenv(f"CITIE_PLATFORM_{name.upper()}", raising=False)
    assert fraud_settings(tmp_path) == fraud.FraudSettings()
    (tmp_path / "platform.toml").write_text("[platform]\nvelocity_shops = 4\n")
    monkeypatch.setenv("CITIE_PLATFORM_VELOCITY_MINUTES", "45")
    assert fraud_settings(tmp_path) == fraud.FraudSettings(velocity_shops=4, velocity_minutes=45)
    monkeypatch.setenv("CITIE_PLATFORM_VELOCITY_SHOPS", "3")
    assert fraud_settings(tmp_path).velocity_shops == 3


@pytest.mark.parametrize(
    ("line", "said"),
    [
        ("velocity_shops = 0", "[platform] velocity_shops in "),
        ('max_void_share = "half"', "must be a share from 0 to 1, not 'half'"),
        ("max_daily_stamps_city = 2.5", "must be a whole number from 1 to 1000000, not '2.5'"),
    ],
)
def test_a_bad_threshold_is_refused_naming_it(tmp_path: Path, line: str, said: str) -> None:
    (tmp_path / "platform.toml").write_text(f"[platform]\n{line}\n")
    refused = subprocess.run(
        [*PLATFORM, "stats", "--data-dir", str(tmp_path)],
        capture_output=True, text=True, env=clean_env(), timeout=60, check=False,
    )  # fmt: skip
    assert refused.returncode == 2
    assert refused.stderr.startswith("refused: bad_config: ")
    assert said in refused.stderr


def test_two_shops_syncing_at_once_still_see_each_other_on_postgresql(
    postgres_server: PostgresServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """PostgreSQL runs two shops' batches side by side (READ COMMITTED): each would read the
    card's events without the other's and neither would see three shops. The first batch to
    judge waits until the second is judging too (then the race is real) or is waiting for the
    card's lock (then it is prevented): the signal must come either way."""
    import psycopg

    url = postgres_server.new_database()
    store = open_store(url)
    store.max_clock_skew = timedelta(days=3650)
    baker, butcher, grocer = (terminal(store, s) for s in ("baker", "butcher", "grocer"))
    send(store, baker, event(baker, MORNING))
    real = fraud.judge
    turns = threading.Lock()
    judging: list[str] = []
    both = threading.Event()

    def waiting_for_a_card_lock(conn: psycopg.Connection[Any]) -> bool:
        row = conn.execute(
            "SELECT COUNT(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted "
            "AND classid = 7468691 "  # the card locks' key (city.store._lock_cards)
            "AND database = (SELECT oid FROM pg_database WHERE datname = current_database())"
        ).fetchone()
        return bool(row and row[0])

    def judge(events: Any, past: Any, settings: fraud.FraudSettings) -> fraud.Findings:
        with turns:
            judging.append(events[0].shop_id)
            first = len(judging) == 1
        if first:
            with psycopg.connect(url, autocommit=True) as conn:
                for _ in range(3000):  # the other batch's state, looked at until it is known
                    if both.wait(0.01) or waiting_for_a_card_lock(conn):
                        break
                else:
                    raise AssertionError("the other batch neither judged nor waited")
        else:
            both.set()
        return real(events, past, settings)

    monkeypatch.setattr(fraud, "judge", judge)
    answers: dict[str, list[list[str]]] = {}

    def sync(at: TerminalRecord, minutes: int) -> None:
        answers[at.shop_id] = send(store, at, event(at, MORNING + timedelta(minutes=minutes)))

    threads = [
        threading.Thread(target=sync, args=(at, n + 5)) for n, at in enumerate((butcher, grocer))
    ]
    try:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(60)
    finally:
        store.close()
    assert sorted(answers) == ["butcher", "grocer"]
    assert sorted(flags for answer in answers.values() for flags in answer) == [
        [],
        [fraud.VELOCITY],
    ]
