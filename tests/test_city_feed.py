"""The city's part of the updates feed (issue 13 item 4, issue 14 item 6), on both stores.

Revocations, voucher states and card flags share the city's counter and the cursor's second
part: merged in version order, paged in items and bytes, each change sent once, none skipped,
and a pull cut short resumes where it stopped. Rows are written as the platform writes them
(versions from the counter ``version``), directly, so the feed is tested on its own.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from pathlib import Path

import pytest

import city.store as city_store
from city.store import (
    PlatformStore,
    TerminalRecord,
    UpdatesPage,
    format_cursor,
    open_store,
    parse_cursor,
)
from loyalty.vouchers import voucher_key
from tests.conftest_platform import STORES, PostgresServer

SHOP = TerminalRecord(id="shop-a-t1", shop_id="shop-a", paired=True)


@pytest.fixture(params=STORES)
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[PlatformStore]:
    """An empty platform store: a SQLite file, or a fresh PostgreSQL database."""
    if request.param == "sqlite":
        opened = open_store(tmp_path / "platform.db")
    else:
        server: PostgresServer = request.getfixturevalue("postgres_server")
        opened = open_store(server.new_database())
    with opened:
        opened.add_terminal(shop_name="Shop A", shop_id="shop-a", terminal_id="shop-a-t1")
        yield opened


VOUCHER_IDS: dict[str, str] = {}
"""The voucher id of each feed key these tests stored (the feed names vouchers by key)."""


def put_voucher(store: PlatformStore, voucher_id: str, spent: int = 0) -> int:
    """Issue a voucher, or change its spent value: a new version either way."""
    key = voucher_key(voucher_id)
    VOUCHER_IDS[key] = voucher_id

    def work(tx: city_store.Tx) -> int:
        version = store._bump(tx, "version")
        tx.execute(
            "INSERT INTO vouchers (id, key, face_cents, currency, campaign, city, kid, "
            "issued_at, expires_at, spent_cents, version) VALUES (?, ?, 2500, 'EUR', 'spring', "
            "'gent', 'k1', '2026-03-01T00:00:00Z', '2027-03-01T00:00:00Z', ?, ?) "
            "ON CONFLICT(id) DO UPDATE SET spent_cents = excluded.spent_cents, "
            "version = excluded.version",
            [voucher_id, key, spent, version],
        )
        return version

    version: int = store._transaction(work)
    return version


def put_flag(store: PlatformStore, card_id: str, reasons: str) -> int:
    def work(tx: city_store.Tx) -> int:
        version = store._bump(tx, "version")
        tx.execute(
            "INSERT INTO card_flags (card_id, reasons, first_at, last_at, version) "
            "VALUES (?, ?, '2026-03-02T09:00:00Z', '2026-03-02T09:00:00Z', ?) "
            "ON CONFLICT(card_id) DO UPDATE SET reasons = excluded.reasons, "
            "version = excluded.version",
            [card_id, reasons, version],
        )
        return version

    version: int = store._transaction(work)
    return version


def items(page: UpdatesPage) -> list[tuple[str, str, int]]:
    """The page's city items as (kind, id, version); revocations carry no version, so the
    caller's record of versions names them."""
    return (
        [("revoked", r.card_id, 0) for r in page.revoked]
        + [("voucher", VOUCHER_IDS[v.voucher_key], v.version) for v in page.vouchers]
        + [("flag", f.card_id, f.version) for f in page.flags]
    )


def pull_all(
    store: PlatformStore, cursor: str = "0", pages: int = 10_000
) -> tuple[list[UpdatesPage], str]:
    """Pages from ``cursor`` until ``more`` is false (or ``pages`` were taken)."""
    taken: list[UpdatesPage] = []
    for _ in range(pages):
        page = store.updates(SHOP, cursor)
        taken.append(page)
        assert parse_cursor(page.next_cursor) >= parse_cursor(cursor)
        cursor = page.next_cursor
        if not page.more:
            break
    return taken, cursor


def interleave(store: PlatformStore, count: int, seed: int) -> dict[tuple[str, str], int]:
    """Revocations, new and changed vouchers and flags, interleaved; the latest version of
    each item (a revocation's is the counter's value after it)."""
    rng = random.Random(seed)
    latest: dict[tuple[str, str], int] = {}
    for n in range(count):
        choice = rng.randrange(5)
        if choice == 0:
            card = f"CT-REV{seed}{n:03d}-LOST"
            store.revoke(card)
            with store.read() as tx:
                latest[("revoked", card)] = store._counter(tx, "version")
        elif choice in (1, 2):
            voucher = f"CV-{rng.randrange(count // 3 + 1):04d}-TEST"
            latest[("voucher", voucher)] = put_voucher(store, voucher, spent=rng.randrange(2500))
        else:
            card = f"CT-FLG{rng.randrange(count // 3 + 1):04d}-TEST"
            latest[("flag", card)] = put_flag(store, card, rng.choice(["velocity", "a,b"]))
        if n % 17 == 0:  # the shop's own sequence moves too
            store.set_program("shop-a", f"p{n}", {"id": f"p{n}", "reward_threshold": 10})
    return latest


def delivered(pages: list[UpdatesPage], latest: dict[tuple[str, str], int]) -> list[int]:
    """Every city item's version, page after page (a page's three lists are one set of
    changes, so within a page they are sorted)."""
    versions = []
    for page in pages:
        versions += sorted(version or latest[(kind, key)] for kind, key, version in items(page))
    return versions


@pytest.mark.parametrize(("page_items", "page_bytes"), [(7, 1024 * 1024), (2000, 900)])
def test_revocations_vouchers_and_flags_come_once_each_in_version_order(
    store: PlatformStore, monkeypatch: pytest.MonkeyPatch, page_items: int, page_bytes: int
) -> None:
    monkeypatch.setattr(city_store, "UPDATE_PAGE", page_items)
    monkeypatch.setattr(city_store, "UPDATE_PAGE_BYTES", page_bytes)
    latest = interleave(store, 120, seed=page_items)

    pages, cursor = pull_all(store)

    versions = delivered(pages, latest)
    assert versions == sorted(latest.values())  # each item once, at its latest, in order
    assert len(pages) > 3 and all(p.more for p in pages[:-1])
    for page in pages:
        assert len(page.revoked) + len(page.vouchers) + len(page.flags) <= page_items
    programs = [p.id for page in pages for p in page.programs]
    assert programs == [f"p{n}" for n in range(0, 120, 17)]
    with store.read() as tx:
        tops = store._counter(tx, "shop:shop-a"), store._counter(tx, "version")
    assert cursor == format_cursor(*tops)
    again = store.updates(SHOP, cursor)
    assert items(again) == [] and not again.more and again.next_cursor == cursor
    voucher = next(v for page in pages for v in page.vouchers)
    assert (voucher.face_cents, voucher.currency, voucher.campaign) == (2500, "EUR", "spring")
    flag = next(f for page in pages for f in page.flags)
    assert flag.reasons in (["velocity"], ["a", "b"])


def test_a_pull_cut_short_resumes_and_sees_later_changes(
    store: PlatformStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(city_store, "UPDATE_PAGE", 5)
    latest = interleave(store, 40, seed=3)
    first, cursor = pull_all(store, pages=3)
    assert first[-1].more
    sent_before = delivered(first, latest)

    later = interleave(store, 40, seed=4)  # changes while the terminal was away
    rest, _ = pull_all(store, cursor)

    sent_after = delivered(rest, {**latest, **later})
    assert sent_before == sorted(sent_before) and sent_after == sorted(sent_after)
    assert max(sent_before) < min(sent_after)  # nothing sent twice
    final = {**latest, **later}
    # What the terminal holds at the end is each item's latest version: nothing skipped.
    held: dict[tuple[str, str], int] = {}
    for page in [*first, *rest]:
        for kind, key, version in items(page):
            held[(kind, key)] = version or final[(kind, key)]
    for key, version in final.items():
        if key[0] != "revoked":
            assert held[key] == version, key
    assert {k for k in final if k[0] == "revoked"} <= set(held)


def test_a_list_that_came_back_full_holds_back_the_others(
    store: PlatformStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Ten revocations, then one flag: with pages of 3 the flag waits for its turn, behind
    the revocations numbered before it, however many pages they take."""
    monkeypatch.setattr(city_store, "UPDATE_PAGE", 3)
    store.revoke_many([f"CT-R{n:03d}-LOST" for n in range(10)])
    put_flag(store, "CT-FLAG-0001", "velocity")

    pages, _ = pull_all(store)

    kinds = [kind for page in pages for kind, _, _ in items(page)]
    assert kinds == ["revoked"] * 10 + ["flag"]
