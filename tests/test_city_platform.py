"""The city platform under load and abuse, over real HTTP, on both stores (SQLite, PostgreSQL):
dedupe per origin, paged updates, backpressure, bounded open routes, malformed input."""

from __future__ import annotations

import json
import socket
from collections.abc import Callable
from pathlib import Path
from urllib.parse import urlparse

import httpx
import pytest

from city.store import UPDATE_PAGE, format_cursor, parse_cursor
from loyalty.trust import load_trust, revoked_cards
from sync.client import PlatformClient
from sync.job import read_credential, run_sync
from sync.outbox import RetryPolicy
from sync.protocol import BatchRequest, Event
from tests.conftest_platform import FAST, PairedTerminal, RunningPlatform, add_events

Terminals = Callable[..., PairedTerminal]
IMPATIENT = RetryPolicy(initial=0.01, maximum=0.05, budget=0.5, seed=1)


def outbox_reasons(terminal: PairedTerminal) -> list[str]:
    rows = (
        terminal.store.read()
        .execute("SELECT reason FROM outbox WHERE state = 'quarantined'")
        .fetchall()
    )
    return [str(r[0]) for r in rows]


def stored_event(terminal: PairedTerminal, event_id: str) -> Event:
    row = (
        terminal.store.read()
        .execute(
            "SELECT id, seq, kind, terminal_id, shop_id, occurred_at, card_id, program_id, stamps, "
            "amount_cents, currency, voids, receipt_no, detail FROM events WHERE id = ?",
            [event_id],
        )
        .fetchone()
    )
    keys = [
        *("id", "seq", "kind", "terminal_id", "shop_id", "occurred_at", "card_id"),
        *("program_id", "stamps", "amount_cents", "currency", "voids", "receipt_no"),
    ]
    data = dict(zip(keys, row[:13], strict=True))
    return Event.model_validate({**data, "detail": json.loads(row[13])})


# -- 6. dedupe per origin ------------------------------------------------------------------


def test_an_id_stored_from_another_terminal_is_a_conflict_never_a_duplicate(
    platform: RunningPlatform, terminal_factory: Terminals
) -> None:
    first = terminal_factory(platform, "shop-a", "t1")
    (event_id,) = add_events(first.store, 1, shop_id="shop-a", terminal_id="t1")
    assert run_sync(first.settings, first.store, policy=FAST, backup=False).exit_code == 0

    other = terminal_factory(platform, "shop-b", "t2")
    add_events(other.store, 1, shop_id="shop-b", terminal_id="t2", overrides={"id": event_id})
    report = run_sync(other.settings, other.store, policy=FAST, backup=False)

    assert report.exit_code == 1, report.to_json()
    assert other.outbox()["quarantined"] == 1 and other.outbox()["synced"] == 0
    assert outbox_reasons(other)[0].startswith("conflict: ")
    rows = platform.query("SELECT terminal_id, shop_id FROM events WHERE id = ?", [event_id])
    assert rows == [("t1", "shop-a")]
    assert platform.stats()["duplicates_seen"] == 0


def test_duplicate_only_for_the_same_terminal_and_the_same_content(
    platform: RunningPlatform, terminal_factory: Terminals
) -> None:
    terminal = terminal_factory(platform, "shop-a", "t1")
    (event_id,) = add_events(terminal.store, 1, shop_id="shop-a", terminal_id="t1")
    assert run_sync(terminal.settings, terminal.store, policy=FAST, backup=False).exit_code == 0
    event = stored_event(terminal, event_id)

    with PlatformClient(platform.url, read_credential(terminal.settings)) as client:
        replay = client.send_batch(BatchRequest(terminal_id="t1", batch_id="b-2", events=[event]))
        changed = event.model_copy(update={"stamps": event.stamps + 1})
        other = client.send_batch(BatchRequest(terminal_id="t1", batch_id="b-3", events=[changed]))

    assert [r.status for r in replay.results] == ["duplicate"]
    assert [(r.status, r.reason) for r in other.results] == [("rejected", "conflict")]
    assert platform.query("SELECT stamps FROM events WHERE id = ?", [event_id]) == [(1,)]


def test_the_same_id_twice_in_one_batch_is_stored_once(
    platform: RunningPlatform, terminal_factory: Terminals
) -> None:
    terminal = terminal_factory(platform, "shop-a", "t1")
    (event_id,) = add_events(terminal.store, 1, shop_id="shop-a", terminal_id="t1")
    event = stored_event(terminal, event_id)
    twin = event.model_copy(update={"seq": event.seq + 1, "stamps": 2})
    batch = BatchRequest(terminal_id="t1", batch_id="b-1", events=[event, event, twin])
    answer = httpx.post(  # raw: the terminal's client never sends one id twice
        f"{platform.url}/v1/events:batch",
        content=batch.model_dump_json(),
        headers={"Authorization": f"Bearer {read_credential(terminal.settings)}"},
    )
    results = [(r["status"], r.get("reason")) for r in answer.json()["results"]]
    assert results == [("accepted", None), ("duplicate", None), ("rejected", "conflict")]
    assert platform.query("SELECT COUNT(*) FROM events") == [(1,)]


# -- 7. paging -------------------------------------------------------------------------------


def test_a_new_terminal_pairs_past_100000_revoked_cards_with_everything(
    platform: RunningPlatform, terminal_factory: Terminals
) -> None:
    revoked = [f"CT-R{n:06d}-LOST" for n in range(100_000)]
    with platform.open_store() as store:
        assert store.revoke_many(revoked) == 100_000
        program = {"id": "coffee", "name": "Koffie", "reward_threshold": 10}
        store.set_program("shop-a", "coffee", program)

    terminal = terminal_factory(platform, "shop-a", "t1")  # pairing pulls every page

    assert revoked_cards(terminal.store.read()) == set(revoked)
    assert load_trust(terminal.store.read()).keys, "the issuer keys came with the pages"
    body = terminal.store.read().execute("SELECT body FROM programs WHERE id = 'coffee'").fetchone()
    assert json.loads(body[0])["name"] == "Koffie"
    pages = [r for r in platform.requests() if "/updates" in r["path"]]
    assert all(r["status"] == 200 for r in pages)
    assert len(pages) >= 100_000 // UPDATE_PAGE


def test_revocations_come_once_not_on_every_balance_page(
    platform: RunningPlatform, terminal_factory: Terminals
) -> None:
    terminal = terminal_factory(platform, "shop-a", "t1")
    with platform.open_store() as store:
        store.revoke_many([f"CT-R{n:04d}-LOST" for n in range(50)])
    add_events(terminal.store, UPDATE_PAGE + 500, shop_id="shop-a", terminal_id="t1", cards=4000)
    assert run_sync(terminal.settings, terminal.store, policy=FAST, backup=False).exit_code == 0

    with PlatformClient(platform.url, read_credential(terminal.settings)) as client:
        cursor, revocations, balances, pages = "0", 0, 0, 0
        while True:
            page = client.updates("t1", cursor)
            pages += 1
            assert len(page.revoked) + len(page.balances) + len(page.programs) <= UPDATE_PAGE
            revocations += len(page.revoked)
            balances += len(page.balances)
            cursor = page.next_cursor
            if not page.more:
                break
    assert pages >= 2
    assert revocations == 50
    assert balances == UPDATE_PAGE + 500


# -- 3. backpressure and malformed input ----------------------------------------------------


def _raw(platform: RunningPlatform, payload: bytes, timeout: float = 15.0) -> bytes:
    """Send raw bytes on a new connection; return everything the server sends back."""
    address = urlparse(platform.url)
    with socket.create_connection((address.hostname, address.port), timeout=timeout) as sock:
        sock.sendall(payload)
        chunks = []
        while True:
            try:
                chunk = sock.recv(65536)
            except TimeoutError:
                break
            if not chunk:
                break
            chunks.append(chunk)
    return b"".join(chunks)


def test_past_the_requests_in_flight_the_answer_is_429_with_retry_after(
    platform_factory: Callable[..., RunningPlatform],
) -> None:
    platform = platform_factory("--max-in-flight", "1")
    address = urlparse(platform.url)
    with socket.create_connection((address.hostname, address.port), timeout=15) as held:
        # A claim whose body never finishes keeps the only slot busy.
        held.sendall(b"POST /v1/claims HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{")
        answer = httpx.post(f"{platform.url}/v1/claims", json={"code": "x", "card_id": "y"})
        health = httpx.get(f"{platform.url}/v1/health")
        assert answer.status_code == 429
        assert answer.json()["error"] == "rate_limited"
        assert 1 <= int(answer.headers["retry-after"]) <= 5
        assert health.status_code == 200, "health is never refused"
        held.sendall(b"}" + b" " * 98)  # the body ends: the claim is answered, the slot freed
        assert held.recv(65536).startswith(b"HTTP/1.1 400")
    after = httpx.post(f"{platform.url}/v1/claims", json={"code": "x", "card_id": "y"})
    assert after.status_code != 429, "the slot is free again once the slow request ended"


def test_open_routes_read_a_few_kilobytes_then_answer_413(platform: RunningPlatform) -> None:
    huge = b'{"code": "' + b"A" * (31 * 1024 * 1024) + b'", "card_id": "CT-1"}'
    for path in ("/v1/claims", "/v1/pair"):
        declared = httpx.post(f"{platform.url}{path}", content=huge, timeout=30)
        assert declared.status_code == 413, path
        assert declared.json()["error"] == "too_large"

        def chunks() -> object:
            yield b"[" * 2048
            yield b"A" * 8192

        streamed = httpx.post(f"{platform.url}{path}", content=chunks(), timeout=30)
        assert streamed.status_code == 413, path


def test_open_routes_are_rate_limited_per_address(platform: RunningPlatform) -> None:
    statuses = [
        httpx.post(f"{platform.url}/v1/claims", json={"code": "x", "card_id": "CT-1"})
        for _ in range(40)
    ]
    limited = [s for s in statuses if s.status_code == 429]
    assert limited, [s.status_code for s in statuses]
    assert all(1 <= int(s.headers["retry-after"]) <= 5 for s in limited)


def test_malformed_input_is_a_400_with_a_reason_never_a_500(
    platform: RunningPlatform, terminal_factory: Terminals
) -> None:
    terminal = terminal_factory(platform, "shop-a", "t1")
    auth = {"Authorization": f"Bearer {read_credential(terminal.settings)}"}
    updates = f"{platform.url}/v1/terminals/t1/updates"
    deep = b"[" * 100_000
    cases = [
        httpx.post(f"{platform.url}/v1/events:batch", content=deep, headers=auth),
        httpx.post(f"{platform.url}/v1/events:batch", content=b'{"v": 1', headers=auth),
        httpx.post(f"{platform.url}/v1/events:batch", json={"v": 1, "events": []}, headers=auth),
        httpx.post(f"{platform.url}/v1/claims", content=b"[" * 3000),
        httpx.post(f"{platform.url}/v1/pair", content=b"[" * 3000),
        httpx.post(f"{platform.url}/v1/pair", json={"token": 5}),
        httpx.get(updates, params={"cursor": "²"}, headers=auth),
        httpx.get(updates, params={"cursor": "1e5"}, headers=auth),
        httpx.get(f"{updates}?cursor=%00", headers=auth),
    ]
    for n, answer in enumerate(cases):
        assert answer.status_code == 400, (n, answer.status_code, answer.text[:200])
        problem = answer.json()
        assert problem["error"] and problem["message"], n


def test_slow_headers_are_cut_off_and_a_slow_body_gets_408(
    platform_factory: Callable[..., RunningPlatform],
) -> None:
    platform = platform_factory("--header-timeout", "1", "--body-timeout", "1")
    # Headers that never end: the server closes the connection without an answer.
    assert _raw(platform, b"POST /v1/claims HTTP/1.1\r\nHost: x\r\n") == b""
    answer = _raw(platform, b"POST /v1/claims HTTP/1.1\r\nHost: x\r\nContent-Length: 50\r\n\r\n{")
    assert answer.startswith(b"HTTP/1.1 408"), answer[:100]
    assert b"body_timeout" in answer


def test_a_terminal_refused_with_429_comes_back_and_lands_everything(
    platform_factory: Callable[..., RunningPlatform], terminal_factory: Terminals, tmp_path: Path
) -> None:
    platform = platform_factory("--max-in-flight", "1")
    terminal = terminal_factory(platform, "shop-a", "t1")
    ids = add_events(terminal.store, 30, shop_id="shop-a", terminal_id="t1")
    address = urlparse(platform.url)
    with socket.create_connection((address.hostname, address.port), timeout=15) as held:
        held.sendall(b"POST /v1/claims HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{")
        # A budget shorter than any Retry-After: the terminal gives up rather than come back early.
        busy = run_sync(terminal.settings, terminal.store, policy=IMPATIENT, backup=False)
    assert busy.exit_code != 0
    assert terminal.outbox()["synced"] == 0
    assert any(r["status"] == 429 for r in platform.requests())
    report = run_sync(terminal.settings, terminal.store, policy=FAST, backup=False)
    assert report.exit_code == 0, report.to_json()
    assert sorted(platform.event_ids("t1")) == sorted(ids)


@pytest.mark.parametrize("workers", [2])
def test_serve_with_workers_lands_every_event_once(
    platform_factory: Callable[..., RunningPlatform], terminal_factory: Terminals, workers: int
) -> None:
    platform = platform_factory("--workers", str(workers))
    terminals = [terminal_factory(platform, "shop-a", f"t{n}") for n in range(1, 4)]
    sent = []
    for terminal in terminals:
        sent += add_events(terminal.store, 200, shop_id="shop-a", terminal_id=terminal.terminal_id)
        assert run_sync(terminal.settings, terminal.store, policy=FAST, backup=False).exit_code == 0
    stored = platform.query("SELECT id FROM events")
    assert sorted(r[0] for r in stored) == sorted(sent)


def test_the_cursor_carries_the_shop_and_the_revocation_sequences() -> None:
    assert parse_cursor(format_cursor(7, 123)) == (7, 123)
    assert parse_cursor(format_cursor(0, 0)) == (0, 0)
    # A cursor from before the split counted one city-wide sequence: it stands for both.
    assert parse_cursor("12345") == (12345, 12345)
    for bad in ("²", "1e5", "-1", "1" * 41, ""):
        with pytest.raises(ValueError):
            parse_cursor(bad)


def test_behind_the_proxy_the_rate_limit_is_per_citizen_not_per_proxy(
    platform: RunningPlatform,
) -> None:
    """The proxy (127.0.0.1 here) says who the client is; each citizen has a bucket of its own."""
    claim = {"code": "x", "card_id": "CT-1"}
    spread = [
        httpx.post(
            f"{platform.url}/v1/claims", json=claim, headers={"X-Forwarded-For": f"203.0.113.{n}"}
        )
        for n in range(40)
    ]
    assert [a.status_code for a in spread if a.status_code == 429] == []
    one = [
        httpx.post(
            f"{platform.url}/v1/claims", json=claim, headers={"X-Forwarded-For": "198.51.100.7"}
        )
        for _ in range(40)
    ]
    assert any(a.status_code == 429 for a in one)
