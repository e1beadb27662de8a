"""Running the platform's HTTP server: one process, or N worker processes from an app factory.

``citie-platform serve`` binds the socket itself (so ``--port 0`` can print the port it got),
then runs uvicorn on it. With ``--workers N`` each worker builds its own app and store from
the environment (``app_from_env``, the factory uvicorn imports), so they share nothing but the
database: PostgreSQL serves them all; SQLite lets them read in parallel and write one at a time.
A connection must send its request headers within ``HEADER_TIMEOUT`` seconds.
"""

from __future__ import annotations

import asyncio
import fcntl
import inspect
import os
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import h11
import uvicorn
from uvicorn.protocols.http.h11_impl import H11Protocol
from uvicorn.supervisors import Multiprocess

from city.app import ASGIApp, Limits, create_app, quiet_drops
from city.faults import FaultConfig, Faults
from city.store import PlatformStore

HEADER_TIMEOUT = 10.0
"""Seconds a client may take to send a request's headers (a slow client holds a connection)."""

ENV_DB = "CITIE_PLATFORM_DB"
ENV_DATA_DIR = "CITIE_PLATFORM_DATA_DIR"
ENV_MAX_IN_FLIGHT = "CITIE_PLATFORM_MAX_IN_FLIGHT"
ENV_REQUEST_LOG = "CITIE_PLATFORM_REQUEST_LOG"
ENV_FAULT_CONTROL = "CITIE_PLATFORM_FAULT_CONTROL"
ENV_HEADER_TIMEOUT = "CITIE_PLATFORM_HEADER_TIMEOUT"
ENV_BODY_TIMEOUT = "CITIE_PLATFORM_BODY_TIMEOUT"


class HeaderTimeoutH11(H11Protocol):
    """uvicorn's HTTP/1.1 protocol, closing connections whose headers do not come in time."""

    header_timeout: float = HEADER_TIMEOUT
    _header_timer: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        """Start the header clock with the connection."""
        super().connection_made(transport)
        self._arm()

    def _arm(self) -> None:
        self._disarm()
        self._header_timer = self.loop.call_later(self.header_timeout, self._headers_too_slow)

    def _disarm(self) -> None:
        if self._header_timer is not None:
            self._header_timer.cancel()
            self._header_timer = None

    def _headers_too_slow(self) -> None:
        self._header_timer = None
        if self.conn.their_state is h11.IDLE and not self.transport.is_closing():
            self.transport.close()

    def handle_events(self) -> None:
        """Parse what arrived; the clock stops once a request's headers are complete."""
        super().handle_events()
        if self.conn.their_state is not h11.IDLE:
            self._disarm()

    def on_response_complete(self) -> None:
        """The next request's headers get their own time."""
        super().on_response_complete()
        if not self.transport.is_closing():
            self._arm()

    def connection_lost(self, exc: Exception | None) -> None:
        """Stop the clock with the connection."""
        self._disarm()
        super().connection_lost(exc)


@dataclass
class ServeOptions:
    """Everything ``serve`` needs, also passed to workers through the environment."""

    db: str
    data_dir: Path
    faults: FaultConfig
    request_log: Path | None = None
    fault_control: bool = False
    limits: Limits = field(default_factory=Limits)
    header_timeout: float = HEADER_TIMEOUT

    def export(self) -> None:
        """Put the options where worker processes find them (their environment)."""
        os.environ[ENV_DB] = self.db
        os.environ[ENV_DATA_DIR] = str(self.data_dir)
        os.environ[ENV_MAX_IN_FLIGHT] = str(self.limits.max_in_flight)
        os.environ[ENV_BODY_TIMEOUT] = str(self.limits.body_timeout)
        os.environ[ENV_HEADER_TIMEOUT] = str(self.header_timeout)
        if self.request_log is not None:
            os.environ[ENV_REQUEST_LOG] = str(self.request_log)
        if self.fault_control:
            os.environ[ENV_FAULT_CONTROL] = "1"
        for name in ("fail_rate", "drop_after_commit_rate", "slow_ms", "rate_limit_every"):
            os.environ[f"CITIE_PLATFORM_{name.upper()}"] = str(getattr(self.faults, name))
        os.environ["CITIE_PLATFORM_RETRY_AFTER"] = str(self.faults.retry_after)
        if self.faults.seed is not None:
            os.environ["CITIE_PLATFORM_SEED"] = str(self.faults.seed)


@contextmanager
def serving_lock(db_path: Path, *, exclusive: bool) -> Iterator[bool]:
    """A lock beside a SQLite database: ``serve`` holds it shared, ``migrate`` exclusive.

    Yields whether it was taken (``migrate`` does not wait: a serving platform is a refusal).
    """
    lock_path = db_path.with_name(db_path.name + ".serving")
    lock_path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        try:
            fcntl.flock(fd, (fcntl.LOCK_EX | fcntl.LOCK_NB) if exclusive else fcntl.LOCK_SH)
        except BlockingIOError:
            yield False
            return
        yield True
    finally:
        os.close(fd)


def build_app(options: ServeOptions) -> tuple[ASGIApp, PlatformStore]:
    """The app and the store it serves."""
    from city.cli import PlatformEnv, trust_source  # noqa: PLC0415  (the CLI imports this module)

    env = PlatformEnv(data_dir=options.data_dir, db=options.db)
    store = env.store()
    config = options.faults
    faulty = any(
        (config.fail_rate, config.drop_after_commit_rate, config.slow_ms, config.rate_limit_every)
    )
    wanted = faulty or options.request_log is not None or options.fault_control
    faults = Faults(config, options.request_log) if wanted else None
    app = create_app(
        store,
        trust_source(env),
        faults=faults,
        fault_control=options.fault_control,
        limits=options.limits,
    )
    return app, store


def app_from_env() -> ASGIApp:
    """The app factory each worker process calls (options from ``ServeOptions.export``)."""
    log = os.environ.get(ENV_REQUEST_LOG)
    options = ServeOptions(
        db=os.environ[ENV_DB],
        data_dir=Path(os.environ[ENV_DATA_DIR]),
        faults=FaultConfig.from_env(),
        request_log=Path(log) if log else None,
        fault_control=os.environ.get(ENV_FAULT_CONTROL) == "1",
        limits=Limits(
            max_in_flight=int(os.environ.get(ENV_MAX_IN_FLIGHT, "64")),
            body_timeout=float(os.environ.get(ENV_BODY_TIMEOUT, "30")),
        ),
    )
    HeaderTimeoutH11.header_timeout = float(os.environ.get(ENV_HEADER_TIMEOUT, HEADER_TIMEOUT))
    quiet_drops()
    app, _store = build_app(options)
    return app


def _config(app: Any, workers: int) -> uvicorn.Config:
    return uvicorn.Config(
        app,
        factory=workers > 1,
        workers=workers,
        log_level="warning",
        http=HeaderTimeoutH11,
        interface="asgi3",
        # Behind the city's reverse proxy every client comes from the proxy's address: the real
        # one is X-Forwarded-For, believed only from FORWARDED_ALLOW_IPS (default 127.0.0.1),
        # so the per-address rate limit of the open routes sees citizens, not the proxy.
        proxy_headers=True,
        lifespan="off",
        timeout_keep_alive=5,
        timeout_graceful_shutdown=2,
        backlog=4096,
    )


def run(options: ServeOptions, sock: socket.socket, workers: int = 1) -> None:
    """Serve on ``sock`` until stopped: in this process, or in ``workers`` processes."""
    quiet_drops()
    HeaderTimeoutH11.header_timeout = options.header_timeout
    if workers <= 1:
        app, store = build_app(options)
        try:
            uvicorn.Server(_config(app, 1)).run(sockets=[sock])
        finally:
            store.close()
        return
    options.export()
    config = _config("city.serve:app_from_env", workers)
    extra: dict[str, Any] = {}
    if "target" in inspect.signature(Multiprocess).parameters:  # uvicorn before the 0.5x rewrite
        extra["target"] = uvicorn.Server(config).run
    Multiprocess(config, sockets=[sock], **extra).run()
