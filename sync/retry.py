"""Retries for platform calls: stamina drives the loop, this decides each wait.

Capped exponential backoff with full jitter (a random wait between 0 and the cap, so a
city's terminals coming back together spread out), never sooner than the platform's
Retry-After, and a total time budget per run: a wait that would end after the budget is not
taken, and the last error propagates instead.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

import stamina

from sync.client import RateLimited, Transient

T = TypeVar("T")


@dataclass(frozen=True)
class RetryPolicy:
    """How long to wait between tries, and for how long to keep trying in one run."""

    initial: float = 0.5
    """First backoff cap in seconds (doubles each try, full jitter below the cap)."""

    maximum: float = 30.0
    """Largest backoff cap in seconds."""

    budget: float = 120.0
    """Seconds one run keeps retrying before it gives up and keeps the events."""

    seed: int | None = None
    """Seed for the jitter (tests); None for a system-random jitter."""


class Retrier:
    """One run's retry state: the deadline, the jitter source and a count of retries."""

    def __init__(self, policy: RetryPolicy) -> None:
        self.policy = policy
        self.deadline = time.monotonic() + policy.budget
        self.random = random.Random(policy.seed)
        self.retries = 0
        self.requests = 0

    def remaining(self) -> float:
        """Seconds left in the budget."""
        return max(0.0, self.deadline - time.monotonic())

    def call(self, fn: Callable[[], T]) -> T:
        """Call ``fn``, retrying ``Transient`` errors within the budget."""
        tries = 0
        policy = self.policy

        def backoff(exc: Exception) -> bool | float:
            nonlocal tries
            if not isinstance(exc, Transient):
                return False
            tries += 1
            cap = min(policy.maximum, policy.initial * 2 ** (tries - 1))
            wait = self.random.uniform(0.0, cap)
            if isinstance(exc, RateLimited):
                wait = max(wait, exc.retry_after)
            if time.monotonic() + wait >= self.deadline:
                return False  # the budget is spent: stop, keep the events for the next run
            self.retries += 1
            return wait

        for attempt in stamina.retry_context(on=backoff, attempts=None, timeout=None):
            with attempt:
                self.requests += 1
                return fn()
        raise AssertionError("unreachable: retry_context either returns or raises")
