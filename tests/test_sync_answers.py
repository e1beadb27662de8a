"""Malformed platform answers and transport faults: a clear error, nothing marked synced.

These faults (a 10 MB body, wrong types, a TLS failure) are ones the reference platform
cannot produce on demand, so an ``httpx.MockTransport`` stands in for it.
"""

from __future__ import annotations

import json
import socket
import ssl
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

from config import Settings, load_settings
from loyalty import schema as _schema  # noqa: F401
from loyalty.db import Store
from loyalty.keys import write_secret
from sync.client import (
    InsecureURL,
    PlatformClient,
    ProtocolError,
    RateLimited,
    retry_after_seconds,
)
from sync.job import run_sync
from sync.outbox import RetryPolicy
from sync.pairing import set_toml_key
from tests.conftest_platform import add_events, write_config

QUICK = RetryPolicy(initial=0.01, maximum=0.02, budget=30.0, seed=3)
"""Short waits; a budget no loaded machine spends on the run's own ledger writes (these runs
stop on the answer, never on the budget)."""
GIVE_UP_AT_ONCE = RetryPolicy(initial=3600, maximum=3600, budget=60.0, seed=1)
"""The first backoff (484 s with this seed) would end after the budget: the run stops at the
first failure, the platform's, however slow the machine."""
CREDENTIAL = "c" * 43


@pytest.fixture
def terminal(tmp_path: Path) -> Iterator[tuple[Settings, Store]]:
    write_config(tmp_path, "shop-a", "t1", '\n[platform]\nurl = "http://127.0.0.1:9"\n')
    settings, _ = load_settings(data_dir=tmp_path, environ={})
    write_secret(settings.token_path, CREDENTIAL.encode())
    store = Store.open(settings.database_path)
    add_events(store, 20, shop_id="shop-a", terminal_id="t1")
    yield settings, store
    store.close()


def states(store: Store) -> dict[str, int]:
    rows = store.read().execute("SELECT state, COUNT(*) FROM outbox GROUP BY state").fetchall()
    return {state: number for state, number in rows}


def sync_with(
    terminal: tuple[Settings, Store], handler: Callable[[httpx.Request], httpx.Response]
) -> tuple[int, str, str]:
    settings, store = terminal
    report = run_sync(
        settings, store, transport=httpx.MockTransport(handler), policy=QUICK, backup=False
    )
    return report.exit_code, report.code, report.message


def test_bad_json_marks_nothing_synced(terminal: tuple[Settings, Store]) -> None:
    code, reason, message = sync_with(
        terminal, lambda request: httpx.Response(200, text="<html>captive portal</html>")
    )
    assert (code, reason) == (2, "bad_json")
    assert "not JSON" in message
    assert states(terminal[1]) == {"pending": 20}


def test_wrong_types_mark_nothing_synced(terminal: tuple[Settings, Store]) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content)
        results = [{"id": e["id"], "status": 1} for e in body["events"]]
        return httpx.Response(
            200, json={"v": 1, "batch_id": body["batch_id"], "server_time": "x", "results": results}
        )

    code, reason, message = sync_with(terminal, handler)
    assert (code, reason) == (2, "bad_answer")
    assert "protocol v1" in message
    assert states(terminal[1]) == {"pending": 20}


def test_results_for_other_events_mark_nothing_synced(terminal: tuple[Settings, Store]) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content)
        results = [{"id": f"x{n}", "status": "accepted"} for n, _ in enumerate(body["events"])]
        return httpx.Response(
            200,
            json={
                "v": 1,
                "batch_id": body["batch_id"],
                "server_time": "2026-03-02T09:00:00.000Z",
                "results": results,
            },
        )

    code, reason, _ = sync_with(terminal, handler)
    assert (code, reason) == (2, "results_mismatch")
    assert states(terminal[1]) == {"pending": 20}


def test_ten_megabyte_answer_is_refused_without_reading_it_all(
    terminal: tuple[Settings, Store],
) -> None:
    served = 0

    def chunks() -> Iterator[bytes]:
        nonlocal served
        for _ in range(160):  # 160 x 64 KB = 10 MB
            served += 65536
            yield b" " * 65536

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, content=chunks())

    code, reason, message = sync_with(terminal, handler)
    assert (code, reason) == (2, "answer_too_large")
    assert "limit" in message
    assert served <= 2 * 1024 * 1024 + 65536, f"read {served} bytes of a 10 MB answer"
    assert states(terminal[1]) == {"pending": 20}


def test_tls_failure_is_clear_and_sends_nothing(terminal: tuple[Settings, Store]) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        error = ssl.SSLCertVerificationError("certificate verify failed: self-signed certificate")
        raise httpx.ConnectError("[SSL: CERTIFICATE_VERIFY_FAILED]", request=request) from error

    code, reason, message = sync_with(terminal, handler)
    assert (code, reason) == (3, "tls_error")
    assert "certificate" in message
    assert states(terminal[1]) == {"pending": 20}


def test_connection_refused_keeps_events(terminal: tuple[Settings, Store]) -> None:
    settings, store = terminal
    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    data = settings.model_dump()
    data["platform"]["url"] = f"http://127.0.0.1:{port}"
    report = run_sync(Settings.model_validate(data), store, policy=GIVE_UP_AT_ONCE, backup=False)
    assert (report.exit_code, report.code) == (2, "unreachable")
    assert "cannot connect" in report.message
    assert states(store) == {"pending": 20}


def test_413_halves_the_batch(terminal: tuple[Settings, Store]) -> None:
    sizes: list[int] = []

    def handler(request: httpx.Request) -> httpx.Response:
        if request.method == "GET":
            cursor = request.url.params.get("cursor", "0")
            return httpx.Response(
                200,
                json={
                    "v": 1,
                    "cursor": cursor,
                    "next_cursor": cursor,
                    "server_time": "2026-03-02T09:00:00.000Z",
                },
            )
        body = json.loads(request.content)
        sizes.append(len(body["events"]))
        if len(body["events"]) > 5:
            return httpx.Response(413, json={"v": 1, "error": "too_large", "message": "smaller"})
        results = [{"id": e["id"], "status": "accepted"} for e in body["events"]]
        return httpx.Response(
            200,
            json={
                "v": 1,
                "batch_id": body["batch_id"],
                "server_time": "2026-03-02T09:00:00.000Z",
                "results": results,
            },
        )

    settings, store = terminal
    report = run_sync(
        settings, store, transport=httpx.MockTransport(handler), policy=QUICK, backup=False
    )
    assert report.exit_code == 0, report.to_json()
    assert report.push is not None and report.push.accepted == 20
    assert sizes[:3] == [20, 10, 5]
    assert set(sizes[2:]) <= {5}


def test_other_4xx_stops_the_run_and_401_says_pair(terminal: tuple[Settings, Store]) -> None:
    code, reason, message = sync_with(
        terminal, lambda r: httpx.Response(404, json={"v": 1, "error": "not_found"})
    )
    assert (code, reason) == (2, "not_found") and "404" in message
    code, _reason, message = sync_with(
        terminal, lambda r: httpx.Response(401, json={"v": 1, "error": "unauthorized"})
    )
    assert code == 3 and "pair" in message.lower()
    assert CREDENTIAL not in message
    assert states(terminal[1]) == {"pending": 20}


def test_plain_http_is_refused_off_loopback() -> None:
    with pytest.raises(InsecureURL):
        PlatformClient("http://platform.example.org", CREDENTIAL)
    client = PlatformClient("https://platform.example.org", CREDENTIAL)
    assert CREDENTIAL not in repr(client)
    client.close()


def test_retry_after_forms() -> None:
    assert retry_after_seconds("2.5") == 2.5
    assert retry_after_seconds("-3") == 0.0
    assert retry_after_seconds("nonsense", default=1.0) == 1.0
    assert retry_after_seconds("Wed, 21 Oct 2015 07:28:00 GMT") == 0.0
    assert retry_after_seconds("99999") == 3600.0
    error = RateLimited("wait", 2.0)
    assert error.retry_after == 2.0


def test_malformed_answer_raises_protocol_error_directly() -> None:
    client = PlatformClient(
        "https://platform.example.org",
        CREDENTIAL,
        transport=httpx.MockTransport(lambda r: httpx.Response(200, json={"v": 2})),
    )
    with pytest.raises(ProtocolError):
        client.updates("t1", "0")
    client.close()


def test_set_toml_key_keeps_the_rest() -> None:
    text = '# my terminal\n[shop]\nid = "a"  # the shop\n\n[platform]\nurl = ""\nread_timeout = 9\n'
    changed = set_toml_key(text, "platform", "url", "https://p.example")
    assert changed == text.replace('url = ""', 'url = "https://p.example"')
    added = set_toml_key('[shop]\nid = "a"\n', "platform", "url", "https://p.example")
    assert added.endswith('[platform]\nurl = "https://p.example"\n')
