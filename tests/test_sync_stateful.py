"""A Hypothesis state machine over a real platform: after a quiet final sync, every event the
counter recorded is on the platform exactly once, whatever happened on the way."""

from __future__ import annotations

import contextlib
import itertools
import socket
import tempfile
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule, run_state_machine_as_test

from config import Settings
from loyalty.db import Store
from sync.job import run_sync
from sync.outbox import RetryPolicy
from tests.conftest_platform import RunningPlatform, add_events, make_terminal, start_platform

TINY = RetryPolicy(initial=0.005, maximum=0.02, budget=0.15)
QUIET = RetryPolicy(initial=0.005, maximum=0.05, budget=20.0)


class Killed(BaseException):
    """The sync process died (as with SIGKILL): nothing after this point runs."""


class KillAfterCommit(httpx.BaseTransport):
    """Real HTTP; the process 'dies' right after the platform answered a batch."""

    def __init__(self) -> None:
        self.inner = httpx.HTTPTransport()

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        response = self.inner.handle_request(request)
        if request.url.path == "/v1/events:batch":
            response.read()
            response.close()
            raise Killed
        return response

    def close(self) -> None:
        self.inner.close()


@pytest.fixture(scope="module")
def shared_platform(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningPlatform]:
    platform = start_platform(tmp_path_factory.mktemp("stateful-platform"))
    yield platform
    platform.stop()


def dead_url() -> str:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{sock.getsockname()[1]}"


def test_every_recorded_event_lands_exactly_once(
    shared_platform: RunningPlatform, tmp_path: Path
) -> None:
    platform = shared_platform
    numbers = itertools.count()
    offline_url = dead_url()

    class SyncMachine(RuleBasedStateMachine):
        def __init__(self) -> None:
            super().__init__()
            self.terminal_id = f"h{next(numbers)}"
            root = Path(tempfile.mkdtemp(dir=tmp_path))
            self.terminal = make_terminal(root, platform, "shop-h", self.terminal_id)
            self.offline = False
            self.recorded: list[str] = []
            platform.faults(queue=[])

        def current(self) -> Settings:
            if not self.offline:
                return self.terminal.settings
            return self.terminal.with_settings(platform={"url": offline_url})

        def record(self, count: int, kind: str, stamps: int) -> None:
            self.recorded += add_events(
                self.terminal.store,
                count,
                shop_id="shop-h",
                terminal_id=self.terminal_id,
                kind=kind,
                stamps=stamps,
                cards=3,
            )

        @rule(count=st.integers(1, 40))
        def stamp(self, count: int) -> None:
            self.record(count, "stamp", 1)

        @rule()
        def redeem(self) -> None:
            self.record(1, "redeem", -10)

        @rule()
        def go_offline(self) -> None:
            self.offline = True

        @rule()
        def come_back(self) -> None:
            self.offline = False

        @rule(
            faults=st.lists(st.sampled_from(["none", "drop", "fail", "rate_limit"]), max_size=4),
            batch_size=st.sampled_from([7, 50]),
        )
        def sync(self, faults: list[str], batch_size: int) -> None:
            platform.faults(queue=faults, retry_after=0.02)
            config = self.current()
            config = config.model_copy(
                update={"sync": config.sync.model_copy(update={"batch_size": batch_size})}
            )
            report = run_sync(config, self.terminal.store, policy=TINY, backup=False)
            assert report.exit_code in (0, 2), report.to_json()
            if self.offline:
                assert report.push is None or report.push.accepted == 0

        @rule()
        def kill_and_restart(self) -> None:
            platform.faults(queue=[])
            with contextlib.suppress(Killed):
                run_sync(
                    self.current(),
                    self.terminal.store,
                    transport=KillAfterCommit(),
                    policy=TINY,
                    backup=False,
                )
            self.terminal.store.close()
            self.terminal.store = Store.open(self.terminal.settings.database_path)

        @invariant()
        def nothing_lost_nothing_doubled(self) -> None:
            local = self.terminal.store.read().execute("SELECT COUNT(*) FROM events").fetchone()
            assert local[0] == len(self.recorded)
            on_platform = platform.event_ids(self.terminal_id)
            assert len(on_platform) == len(set(on_platform))
            assert set(on_platform) <= set(self.recorded)

        def teardown(self) -> None:
            try:
                platform.faults(queue=[])
                report = run_sync(
                    self.terminal.settings, self.terminal.store, policy=QUIET, backup=False
                )
                assert report.exit_code == 0, report.to_json()
                on_platform = platform.event_ids(self.terminal_id)
                assert sorted(on_platform) == sorted(self.recorded)
                outbox = self.terminal.outbox()
                assert outbox["synced"] == len(self.recorded)
                assert outbox["pending"] == outbox["in_flight"] == outbox["quarantined"] == 0
            finally:
                self.terminal.store.close()

    run_state_machine_as_test(
        SyncMachine,
        settings=settings(
            max_examples=15,
            stateful_step_count=15,
            deadline=None,
            suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
        ),
    )
