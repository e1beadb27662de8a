"""Fault injection for reliability tests: 500s, slow answers, answers dropped after commit, 429s.

Configured once at start-up (``citie-platform serve --fail-rate ...`` or ``CITIE_PLATFORM_*``
environment variables) and, when the server runs with ``--fault-control``, changed at run time
through ``POST /_faults`` (tests queue exact faults for the next requests with it).
Every request the platform answers is written to an optional request log (one JSON object a
line with the time it arrived and the fault applied), so tests can measure gaps on the
platform's own clock.
"""

from __future__ import annotations

import json
import os
import random
import threading
import time
from collections import deque
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

FaultKind = Literal["fail", "drop", "slow", "rate_limit", "none"]
FAULT_KINDS: tuple[str, ...] = ("fail", "drop", "slow", "rate_limit", "none")


@dataclass
class FaultConfig:
    """How often and how the platform misbehaves on purpose."""

    fail_rate: float = 0.0
    """Share of requests answered 500 before anything is stored."""

    drop_after_commit_rate: float = 0.0
    """Share of requests whose answer is dropped (connection closed) after the commit."""

    slow_ms: int = 0
    """Milliseconds to wait before answering each request."""

    rate_limit_every: int = 0
    """Answer every Nth request with 429 (0: never)."""

    retry_after: float = 1.0
    """Seconds sent in Retry-After with each 429."""

    seed: int | None = None
    """Random seed, for repeatable fault sequences."""

    paths: tuple[str, ...] = ("/v1/events:batch", "/v1/terminals/")
    """Path prefixes the faults apply to (pairing and health are left alone)."""

    queue: list[str] = field(default_factory=list)
    """Exact faults for the next matching requests, consumed first (fail, drop, slow, ...)."""

    @classmethod
    def from_env(cls, environ: dict[str, str] | None = None) -> FaultConfig:
        """Defaults overridden by ``CITIE_PLATFORM_FAIL_RATE`` and friends."""
        env = dict(os.environ) if environ is None else environ
        config = cls()
        for name, kind in (
            ("fail_rate", float),
            ("drop_after_commit_rate", float),
            ("slow_ms", int),
            ("rate_limit_every", int),
            ("retry_after", float),
            ("seed", int),
        ):
            value = env.get(f"CITIE_PLATFORM_{name.upper()}")
            if value:
                setattr(config, name, kind(value))
        config.check()
        return config

    def check(self) -> None:
        """Refuse impossible values with a sentence."""
        for name in ("fail_rate", "drop_after_commit_rate"):
            value = getattr(self, name)
            if not 0.0 <= value <= 1.0:
                raise ValueError(f"{name} must be between 0 and 1, not {value}")
        if self.slow_ms < 0 or self.rate_limit_every < 0 or self.retry_after < 0:
            raise ValueError("slow_ms, rate_limit_every and retry_after cannot be negative")
        for kind in self.queue:
            if kind not in FAULT_KINDS:
                raise ValueError(f"unknown fault {kind!r}; use one of {', '.join(FAULT_KINDS)}")


@dataclass(frozen=True)
class Decision:
    """What to do to one request."""

    fail: bool = False
    drop: bool = False
    slow_ms: int = 0
    rate_limit: float | None = None

    def label(self) -> str:
        """A short name for the request log."""
        if self.rate_limit is not None:
            return "rate_limit"
        if self.fail:
            return "fail"
        if self.drop:
            return "drop"
        return "slow" if self.slow_ms else "none"


class Faults:
    """Decides, request by request, which fault to inject (thread-safe)."""

    def __init__(self, config: FaultConfig, request_log: Path | None = None) -> None:
        config.check()
        self._config = config
        self._queue: deque[str] = deque(config.queue)
        self._random = random.Random(config.seed)
        self._lock = threading.Lock()
        self._count = 0
        self._log_path = request_log
        self.injected: dict[str, int] = {kind: 0 for kind in FAULT_KINDS}

    @property
    def config(self) -> FaultConfig:
        """The current configuration."""
        return self._config

    def configure(self, changes: dict[str, Any]) -> FaultConfig:
        """Change the configuration at run time (only with ``--fault-control``)."""
        with self._lock:
            data = asdict(self._config)
            unknown = set(changes) - set(data)
            if unknown:
                raise ValueError(f"unknown fault setting(s): {', '.join(sorted(unknown))}")
            data.update(changes)
            data["paths"] = tuple(data["paths"])
            config = FaultConfig(**data)
            config.check()
            self._config = config
            self._queue = deque(config.queue)
            if "seed" in changes:
                self._random = random.Random(config.seed)
            self._count = 0
            return config

    def applies(self, path: str) -> bool:
        """Whether faults apply to a request path."""
        return any(path.startswith(prefix) for prefix in self._config.paths)

    def decide(self) -> Decision:
        """The fault (if any) for the next request."""
        with self._lock:
            config = self._config
            self._count += 1
            if self._queue:
                kind = self._queue.popleft()
                decision = Decision(
                    fail=kind == "fail",
                    drop=kind == "drop",
                    slow_ms=max(config.slow_ms, 200) if kind == "slow" else config.slow_ms,
                    rate_limit=config.retry_after if kind == "rate_limit" else None,
                )
            elif config.rate_limit_every and self._count % config.rate_limit_every == 0:
                decision = Decision(rate_limit=config.retry_after, slow_ms=config.slow_ms)
            else:
                roll = self._random.random()
                decision = Decision(
                    fail=roll < config.fail_rate,
                    drop=config.fail_rate
                    <= roll
                    < config.fail_rate + config.drop_after_commit_rate,
                    slow_ms=config.slow_ms,
                )
            self.injected[decision.label()] += 1
            return decision

    def log(self, method: str, path: str, arrived: float, decision: Decision, status: int) -> None:
        """Append one request to the request log, if there is one."""
        if self._log_path is None:
            return
        line = json.dumps(
            {
                "t": arrived,
                "method": method,
                "path": path,
                "fault": decision.label(),
                "status": status,
            }
        )
        with self._lock, self._log_path.open("a", encoding="utf-8") as out:
            out.write(line + "\n")


def now() -> float:
    """The platform's clock for the request log (seconds since the epoch)."""
    return time.time()
