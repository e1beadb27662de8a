"""The sync against hostile and broken platforms: nothing hangs, nothing lies, every line is JSON.

A platform that trickles its answer or answers with JSON nested a hundred thousand levels deep
is a tiny raw-socket server on 127.0.0.1 (the reference platform cannot misbehave this way);
the nightly command runs as a real subprocess, as cron runs it.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import socket
import struct
import subprocess
import termios
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpcore
import httpx
import pytest

import sync.client
from config import Settings, load_settings
from loyalty import schema as _schema  # noqa: F401  (registers the ledger migrations)
from loyalty.db import DatabaseWriteFailed, Store
from loyalty.keys import write_secret
from sync.client import BudgetSpent, PlatformClient, ProtocolError, SyncError, Transient
from sync.job import run_sync
from sync.lock import sync_lock
from sync.outbox import RetryPolicy, counts
from sync.retry import Retrier
from tests.conftest_platform import (
    FAST,
    TERMINAL,
    PairedTerminal,
    RunningPlatform,
    add_events,
    clean_env,
    write_config,
)

CREDENTIAL = "c" * 43
HANG_GUARD = 120.0
"""Seconds after which a test gives up on a run that should have stopped long before (the
bug being tested keeps it going for ever); never a measure of how fast anything is."""

Handler = Callable[[socket.socket, bytes], None]


class RawServer:
    """Accepts connections on 127.0.0.1 and hands each request's bytes to ``handler``."""

    def __init__(self, handler: Handler) -> None:
        self.handler = handler
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.stop = threading.Event()
        self.requests = threading.Event()
        self.threads: list[threading.Thread] = []
        self.accepter = threading.Thread(target=self._accept, daemon=True)
        self.accepter.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def _accept(self) -> None:
        self.sock.settimeout(0.1)
        while not self.stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            thread = threading.Thread(target=self._serve, args=(conn,), daemon=True)
            thread.start()
            self.threads.append(thread)

    def _serve(self, conn: socket.socket) -> None:
        with conn:
            conn.settimeout(5)
            data = b""
            try:
                while b"\r\n\r\n" not in data:
                    chunk = conn.recv(65536)
                    if not chunk:
                        return
                    data += chunk
                head, _, body = data.partition(b"\r\n\r\n")
                length = 0
                for line in head.split(b"\r\n")[1:]:
                    name, _, value = line.partition(b":")
                    if name.strip().lower() == b"content-length":
                        length = int(value.strip())
                while len(body) < length:
                    chunk = conn.recv(65536)
                    if not chunk:
                        return
                    body += chunk
                self.requests.set()
                self.handler(conn, head + b"\r\n\r\n" + body)
            except OSError:
                return

    def close(self) -> None:
        self.stop.set()
        self.sock.close()
        self.accepter.join(5)
        for thread in self.threads:
            thread.join(5)


@pytest.fixture
def servers() -> Iterator[Callable[[Handler], RawServer]]:
    made: list[RawServer] = []

    def make(handler: Handler) -> RawServer:
        server = RawServer(handler)
        made.append(server)
        return server

    yield make
    for server in made:
        server.close()


def trickle(prefix: bytes, stop: threading.Event, every: float = 0.2) -> Handler:
    """A handler that sends ``prefix`` then one byte every ``every`` seconds, for ever."""

    def handle(conn: socket.socket, _request: bytes) -> None:
        conn.sendall(prefix)
        while not stop.wait(every):
            conn.sendall(b"a")

    return handle


def answer(status: str, body: bytes) -> Handler:
    def handle(conn: socket.socket, _request: bytes) -> None:
        conn.sendall(
            f"HTTP/1.1 {status}\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n".encode()
            + body
        )

    return handle


def counter_for(
    url: str, data_dir: Path, extra: str = "", platform: str = "", events: int = 20
) -> Settings:
    """A terminal's data directory pointing at ``url``, with a credential and pending events."""
    data_dir.mkdir(parents=True, exist_ok=True)
    config = f'\n[platform]\nurl = "{url}"\n{platform}\n{extra}'
    write_config(data_dir, "shop-a", "t1", config)
    settings, _ = load_settings(data_dir=data_dir, environ={})
    write_secret(settings.token_path, CREDENTIAL.encode())
    with Store.open(settings.database_path) as store:
        add_events(store, events, shop_id="shop-a", terminal_id="t1")
    return settings


def sync_command(data_dir: Path, *flags: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*TERMINAL, "sync", "--data-dir", str(data_dir), "--no-backup", *flags],
        capture_output=True,
        text=True,
        env=clean_env(),
        timeout=HANG_GUARD,
        check=False,
    )


def json_lines(text: str) -> list[dict[str, Any]]:
    """Every line parsed as one JSON object (a line that is not one fails the test)."""
    lines = []
    for line in text.splitlines():
        value = json.loads(line)
        assert isinstance(value, dict), line
        lines.append(value)
    return lines


def outbox(settings: Settings) -> dict[str, int]:
    with Store.open(settings.database_path) as store:
        found = counts(store.read())
    return {state: number for state, number in found.items() if number}


# --- B12: a deeply nested answer is a protocol error, exit 2 -----------------------------


def test_deeply_nested_answer_is_a_protocol_error_with_exit_2(
    servers: Callable[[Handler], RawServer], tmp_path: Path
) -> None:
    nested = b"[" * 100_000 + b"]" * 100_000
    server = servers(answer("200 OK", nested))
    settings = counter_for(server.url, tmp_path / "counter")
    result = sync_command(tmp_path / "counter")
    assert result.returncode == 2, result.stderr
    last = json_lines(result.stdout)[-1]
    assert last["event"] == "sync_finished"
    assert (last["outcome"], last["code"]) == ("protocol_error", "answer_too_deep")
    assert "nested" in last["message"]
    json_lines(result.stderr)  # anything on stderr is JSON too
    assert outbox(settings) == {"pending": 20}


def nested_within(depth: int) -> Any:
    value: Any = "2026-03-02T09:00:00Z"
    for _ in range(depth):
        value = [value]
    return value


@pytest.mark.parametrize("status", [200, 401])
def test_nesting_the_parser_accepts_is_still_refused(status: int) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        body = {"v": 1, "ok": True, "server_time": nested_within(500), "error": nested_within(500)}
        return httpx.Response(status, json=body)

    transport = httpx.MockTransport(handler)
    with (
        PlatformClient("http://127.0.0.1:9", transport=transport) as client,
        pytest.raises(Exception) as caught,
    ):
        client.health()
    if status == 200:
        assert isinstance(caught.value, ProtocolError)
        assert caught.value.code == "answer_too_deep"
    else:
        assert "401" in str(caught.value)


# --- C14: a trickling platform cannot hold the run past its budget -----------------------


@pytest.mark.parametrize(
    "prefix",
    [
        b"HTTP/1.1 200 OK\r\nX-Slow: ",
        b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 100000\r\n\r\n",
    ],
    ids=["headers", "body"],
)
def test_trickling_platform_cannot_hold_the_sync_past_its_budget(
    servers: Callable[[Handler], RawServer], tmp_path: Path, prefix: bytes
) -> None:
    stop = threading.Event()
    server = servers(trickle(prefix, stop))
    try:
        # Each byte comes well within read_timeout, so only a total deadline can stop this.
        settings = counter_for(
            server.url,
            tmp_path / "counter",
            "[sync]\ntime_budget_seconds = 2\n",
            "read_timeout = 5\n",
        )
        result = sync_command(tmp_path / "counter")
    finally:
        stop.set()
    assert result.returncode == 2, result.stderr
    last = json_lines(result.stdout)[-1]
    assert (last["outcome"], last["code"]) == ("unreachable", "timeout")
    assert outbox(settings) == {"pending": 20}
    with Store.open(settings.database_path) as store, sync_lock(store.path):
        pass  # the lock is free for the next run


class SteppingClock:
    """A monotonic clock that moves one second each time it is read: the budget's end falls
    between two reads, as it does by chance on a loaded machine."""

    def __init__(self) -> None:
        self.now = 1000.0

    def monotonic(self) -> float:
        self.now += 1.0
        return self.now


def test_a_budget_that_ends_before_the_connect_is_a_spent_budget_not_a_timeout(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    clock = SteppingClock()
    monkeypatch.setattr(sync.client, "time", clock)
    # The request starts at 1001, before the run's deadline (1001.5); the connect at 1002.
    client = PlatformClient(f"http://127.0.0.1:{closed_port()}", deadline=clock.now + 1.5)
    with client, pytest.raises(BudgetSpent) as caught:
        client.health()
    assert "budget is spent" in caught.value.message


def test_a_budget_spent_after_a_failure_reports_the_platforms_failure() -> None:
    refused = Transient("cannot connect to the platform at http://127.0.0.1:9")
    outcomes: list[Transient] = [refused, BudgetSpent("the sync's time budget is spent")]

    def request() -> None:
        raise outcomes.pop(0)

    retrier = Retrier(RetryPolicy(initial=0.001, maximum=0.001, budget=3000, seed=1))
    with pytest.raises(Transient) as caught:
        retrier.call(request)
    assert caught.value is refused
    assert not outcomes


def test_a_platform_that_fails_fast_can_be_tried_thousands_of_times_in_one_budget() -> None:
    # Each try doubled the backoff cap: after about 1,000 tries 2 ** tries no longer fit a
    # float and the retry hook itself raised OverflowError instead of waiting.
    failures = [Transient("cannot connect to the platform") for _ in range(1500)]

    def request() -> str:
        if failures:
            raise failures.pop()
        return "answered"

    retrier = Retrier(RetryPolicy(initial=1e-9, maximum=1e-9, budget=3000, seed=1))
    assert retrier.call(request) == "answered"
    assert not failures


# --- C13 support: cancel, and offline as soon as a request fails -------------------------


def run_in_thread(fn: Callable[[], Any]) -> tuple[threading.Thread, list[Any]]:
    out: list[Any] = []
    thread = threading.Thread(target=lambda: out.append(fn()), daemon=True)
    thread.start()
    return thread, out


def test_cancel_stops_a_run_stuck_on_a_trickling_answer(
    servers: Callable[[Handler], RawServer], tmp_path: Path
) -> None:
    stop = threading.Event()
    server = servers(trickle(b"HTTP/1.1 200 OK\r\nX-Slow: ", stop))
    settings = counter_for(server.url, tmp_path / "counter")
    cancel = threading.Event()
    patient = RetryPolicy(initial=1, maximum=1, budget=3000, seed=1)
    with Store.open(settings.database_path) as store:
        thread, out = run_in_thread(
            lambda: run_sync(settings, store, policy=patient, backup=False, cancel=cancel)
        )
        assert server.requests.wait(HANG_GUARD)
        cancel.set()
        thread.join(HANG_GUARD)
        stop.set()
        assert not thread.is_alive(), "the run did not stop on cancel"
        report = out[0]
        assert (report.outcome, report.code, report.exit_code) == ("cancelled", "cancelled", 2)
        assert counts(store.read())["pending"] == 20
        with sync_lock(store.path):
            pass


def test_cancel_does_not_wait_for_a_connect_that_hangs(tmp_path: Path) -> None:
    # A listening socket whose one-place queue is full drops further SYNs: a connect to it
    # hangs like one to a platform behind a dead route.
    with socket.socket() as full, socket.socket() as filler:
        full.bind(("127.0.0.1", 0))
        full.listen(0)
        filler.connect(full.getsockname())
        url = f"http://127.0.0.1:{full.getsockname()[1]}"
        settings = counter_for(url, tmp_path / "counter", platform="connect_timeout = 60\n")
        cancel = threading.Event()
        patient = RetryPolicy(initial=1, maximum=1, budget=3000, seed=1)
        with Store.open(settings.database_path) as store:
            thread, out = run_in_thread(
                lambda: run_sync(settings, store, policy=patient, backup=False, cancel=cancel)
            )
            # The connect runs on its own thread (named sync-connect) so that a cancel need
            # not wait for it: cancel while it is there.
            looking = threading.Event()
            for _ in range(int(HANG_GUARD * 100)):
                if any(t.name == "sync-connect" for t in threading.enumerate()):
                    break
                assert thread.is_alive(), out
                looking.wait(0.01)
            else:
                pytest.fail("the run never connected on its own thread")
            cancel.set()
            # 30 s, half of connect_timeout (a cancel ends it within a quarter second): without
            # the fix the run sits in the connect for the whole minute.
            thread.join(HANG_GUARD / 4)
            assert not thread.is_alive(), "the run waited for the connect"
            assert out[0].outcome == "cancelled"
            assert counts(store.read())["pending"] == 20


def unread_bytes(conn: socket.socket) -> int:
    """Bytes the peer sent that this side has not read yet."""
    return int(struct.unpack("i", fcntl.ioctl(conn.fileno(), termios.FIONREAD, b"\0" * 4))[0])


def test_cancel_ends_an_upload_the_platform_stopped_reading() -> None:
    with socket.create_server(("127.0.0.1", 0)) as listener:
        listener.settimeout(HANG_GUARD)
        cancel = threading.Event()
        # A body far larger than both sides' socket buffers: the send blocks once they fill.
        client = PlatformClient(
            f"http://127.0.0.1:{listener.getsockname()[1]}",
            CREDENTIAL,
            read_timeout=300,
            cancel=cancel,
        )
        errors: list[SyncError] = []

        def upload() -> None:
            try:
                client._request("POST", "/v1/events:batch", content=b"x" * 20_000_000)
            except SyncError as exc:
                errors.append(exc)

        thread, _ = run_in_thread(upload)
        conn, _ = listener.accept()  # and never reads
        with conn:
            looking = threading.Event()
            for _ in range(int(HANG_GUARD * 100)):
                if unread_bytes(conn) > 100_000:  # the body is on its way: the send is stuck
                    break
                looking.wait(0.01)
            else:
                pytest.fail("the upload never started")
            cancel.set()
            # Half a minute: a cancel ends it within a quarter second; without the fix the
            # send waits out its 300 s write timeout.
            thread.join(HANG_GUARD / 4)
            stuck = thread.is_alive()
        thread.join(HANG_GUARD)
        client.close()
    assert not stuck, "the cancel waited for the stuck upload"
    assert [e.code for e in errors] == ["cancelled"], errors


def test_a_name_lookup_that_hangs_ends_at_the_request_deadline(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    release = threading.Event()

    def lookup_that_hangs(*_args: Any, **_kwargs: Any) -> httpcore.NetworkStream:
        # getaddrinfo takes no timeout: a dead resolver holds the connect for as long as it
        # likes (a fault no real part here produces on demand).
        release.wait(HANG_GUARD)
        raise httpcore.ConnectError("the resolver gave up")

    monkeypatch.setattr(httpcore.SyncBackend, "connect_tcp", lookup_that_hangs)
    errors: list[SyncError] = []

    def request() -> None:
        with PlatformClient("http://localhost:9", total_timeout=0.5) as client:
            try:
                client.health()
            except SyncError as exc:
                errors.append(exc)

    thread, _ = run_in_thread(request)
    thread.join(HANG_GUARD / 2)
    stuck = thread.is_alive()
    release.set()
    thread.join(HANG_GUARD)
    assert not stuck, "the request waited for the name lookup past its deadline"
    assert [(type(e), e.code) for e in errors] == [(Transient, "timeout")], errors


def closed_port() -> int:
    with socket.create_server(("127.0.0.1", 0)) as sock:
        return int(sock.getsockname()[1])


def test_cancel_cuts_a_retry_wait_short_and_offline_is_told_at_the_first_failure(
    tmp_path: Path,
) -> None:
    settings = counter_for(f"http://127.0.0.1:{closed_port()}", tmp_path / "counter")
    cancel = threading.Event()
    told: list[int] = []
    first_failure = threading.Event()
    lines: list[dict[str, Any]] = []

    def on_unreachable() -> None:
        told.append(len(lines))
        first_failure.set()

    # Waits of up to an hour between tries: only the cancel can end this run in time.
    patient = RetryPolicy(initial=3600, maximum=3600, budget=3000, seed=1)
    with Store.open(settings.database_path) as store:
        thread, out = run_in_thread(
            lambda: run_sync(
                settings,
                store,
                policy=patient,
                backup=False,
                cancel=cancel,
                on_unreachable=on_unreachable,
                log=lines.append,
            )
        )
        assert first_failure.wait(HANG_GUARD)
        cancel.set()
        thread.join(HANG_GUARD)
        assert not thread.is_alive(), "the retry wait did not end on cancel"
        report = out[0]
        assert report.outcome == "cancelled"
        assert counts(store.read())["pending"] == 20
    assert len(told) == 1
    events = [line["event"] for line in lines]
    # told before the first retry was even scheduled, long before the run finished
    assert told[0] <= events.index("retry_scheduled") < events.index("sync_finished")


# --- C15: every line the nightly job writes is JSON --------------------------------------


def test_nightly_job_against_a_closed_port_writes_only_json_lines(tmp_path: Path) -> None:
    data_dir = tmp_path / "counter"
    counter_for(f"http://127.0.0.1:{closed_port()}", data_dir, "[sync]\ntime_budget_seconds = 1\n")
    result = sync_command(data_dir, "--retry-initial", "0.01", "--retry-max", "0.05")
    assert result.returncode == 2
    out = json_lines(result.stdout)
    err = json_lines(result.stderr)
    retries = [line for line in out + err if "retry" in str(line.get("event"))]
    assert len(retries) >= 3, "the test needs retries to look at"
    assert all(line["wait_seconds"] >= 0 for line in retries if "wait_seconds" in line)
    assert out[-1]["event"] == "sync_finished"
    assert (out[-1]["outcome"], out[-1]["code"]) == ("unreachable", "unreachable")


def test_log_records_reach_stderr_as_json_objects() -> None:
    import logging

    from terminal.commands.sync import _JsonLines

    record = logging.LogRecord(
        "stamina", logging.WARNING, __file__, 1, "stamina.retry_scheduled", None, None
    )
    record.__dict__["stamina.retry_num"] = 2
    assert json.loads(_JsonLines().format(record)) == {
        "event": "stamina.retry_scheduled",
        "level": "warning",
        "logger": "stamina",
        "stamina.retry_num": 2,
    }


# --- C17: an answer for another batch is refused ----------------------------------------


def test_answer_for_another_batch_marks_nothing_synced(tmp_path: Path) -> None:
    settings = counter_for("http://127.0.0.1:9", tmp_path / "counter")

    def handler(request: httpx.Request) -> httpx.Response:
        if request.method != "POST":
            return httpx.Response(503)
        body = json.loads(request.content)
        results = [{"id": e["id"], "status": "accepted"} for e in body["events"]]
        return httpx.Response(
            200,
            json={
                "v": 1,
                "batch_id": "b-someone-else",
                "server_time": "2026-03-02T09:00:00.000Z",
                "results": results,
            },
        )

    with Store.open(settings.database_path) as store:
        report = run_sync(
            settings, store, transport=httpx.MockTransport(handler), policy=FAST, backup=False
        )
        assert (report.exit_code, report.outcome, report.code) == (
            2,
            "protocol_error",
            "results_mismatch",
        )
        assert "b-someone-else" in report.message
        assert counts(store.read())["pending"] == 20
        assert counts(store.read())["synced"] == 0


# --- D21: events recorded during the run are not a failure -------------------------------


def test_events_recorded_during_the_run_leave_it_a_success(
    platform: RunningPlatform, terminal_factory: Callable[..., PairedTerminal]
) -> None:
    terminal = terminal_factory(platform)
    add_events(terminal.store, 30, shop_id="shop-a", terminal_id="t1")

    def log(line: dict[str, Any]) -> None:
        # The counter records three visits while the run pulls (the app does this any time).
        if line["event"] == "push_finished":
            add_events(terminal.store, 3, shop_id="shop-a", terminal_id="t1")

    report = run_sync(terminal.settings, terminal.store, policy=FAST, backup=False, log=log)
    assert (report.outcome, report.exit_code) == ("ok", 0), report.to_json()
    assert (report.pending, report.pending_new, report.synced) == (3, 3, 30)
    assert "3 recorded during the run" in report.message
    assert len(platform.event_ids("t1")) == 30
    again = run_sync(terminal.settings, terminal.store, policy=FAST, backup=False)
    assert (again.outcome, again.pending, again.synced) == ("ok", 0, 33)


def test_unreachable_is_said_only_when_the_platform_was_not_reached(tmp_path: Path) -> None:
    settings = counter_for(f"http://127.0.0.1:{closed_port()}", tmp_path / "counter")
    with Store.open(settings.database_path) as store:
        report = run_sync(
            settings,
            store,
            policy=RetryPolicy(initial=0.01, maximum=0.02, budget=0.3, seed=2),
            backup=False,
        )
    assert (report.outcome, report.exit_code, report.pending_new) == ("unreachable", 2, 0)


# --- a ledger that cannot keep the run's bookkeeping ---------------------------------------


def test_a_full_ledger_ends_the_sync_as_a_database_error_not_a_traceback(
    tmp_path: Path,
) -> None:
    from tests.test_ledger_hardening import fill_to_the_brim

    settings = counter_for(f"http://127.0.0.1:{closed_port()}", tmp_path / "t1", events=5)
    with Store.open(settings.database_path) as store:
        pages = store.pragma("page_count")
        store._write_conn.execute(f"PRAGMA max_page_count = {pages}")
        fill_to_the_brim(store)
        for size in (3000, 300, 30, 1):  # and the pages of the table of runs
            with contextlib.suppress(DatabaseWriteFailed):
                while True:
                    with store.write() as db:
                        db.execute(
                            "INSERT INTO sync_runs (started_at, message) VALUES ('x', ?)",
                            ["x" * size],
                        )
        pending = counts(store.read())["pending"]
        lines: list[dict[str, Any]] = []
        report = run_sync(settings, store, log=lines.append, backup=False, policy=FAST)
        assert (report.outcome, report.code, report.exit_code) == ("error", "database_error", 2)
        assert "database or disk is full" in report.message
        assert lines[-1]["outcome"] == "error"
        with sync_lock(store.path):  # the run let go of the lock
            pass
        assert counts(store.read())["pending"] == pending >= 5
