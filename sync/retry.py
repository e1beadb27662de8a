"""Retries for platform calls: stamina drives the loop, this decides each wait.

Capped exponential backoff with full jitter (a random wait between 0 and the cap, so a
city's terminals coming back together spread out), never sooner than the platform's
Retry-After, and a total time budget per run: a wait that would end after the budget is not
taken, and the last error propagates instead. The wait itself happens in the backoff hook,
on the run's ``cancel`` event, because tenacity's sleep cannot be interrupted: a cancel cuts
the wait short and the run stops with ``Cancelled``; otherwise stamina retries at once.
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

import stamina

from sync.client import BudgetSpent, Cancelled, RateLimited, SyncError, Transient

T = TypeVar("T")

_MAX_DOUBLINGS = 64
"""Past this many doublings every backoff cap is the policy's maximum anyway."""

OnRetry = Callable[[SyncError, float, int], None]
"""Told of each retry before its wait: the error, the wait in seconds, the try number."""

OnFailure = Callable[[SyncError], None]
"""Told of each request that failed for want of the platform (retried or not)."""


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
    """One run's retry state: the deadline, the jitter source, the cancel flag and counts."""

    def __init__(
        self,
        policy: RetryPolicy,
        *,
        cancel: threading.Event | None = None,
        on_retry: OnRetry | None = None,
        on_failure: OnFailure | None = None,
    ) -> None:
        self.policy = policy
        self.deadline = time.monotonic() + policy.budget
        self.random = random.Random(policy.seed)
        self.cancel = cancel or threading.Event()
        self.on_retry = on_retry
        self.on_failure = on_failure
        self.retries = 0
        self.requests = 0

    def start(self) -> float:
        """Start the budget's clock now (after setup that is not the platform's time)."""
        self.deadline = time.monotonic() + self.policy.budget
        return self.deadline

    def remaining(self) -> float:
        """Seconds left in the budget."""
        return max(0.0, self.deadline - time.monotonic())

    def check_cancel(self) -> None:
        """Raise ``Cancelled`` when the run was asked to stop."""
        if self.cancel.is_set():
            raise Cancelled("the sync was cancelled; events stay pending and go with the next run.")

    def pause(self, seconds: float) -> None:
        """Wait, unless the run is cancelled first (then ``Cancelled``)."""
        if self.cancel.wait(max(0.0, seconds)):
            self.check_cancel()

    def call(self, fn: Callable[[], T]) -> T:
        """Call ``fn``, retrying ``Transient`` errors within the budget."""
        tries = 0
        policy = self.policy
        last: Transient | None = None

        def backoff(exc: Exception) -> bool | float:
            nonlocal tries, last
            if not isinstance(exc, Transient) or isinstance(exc, BudgetSpent):
                return False
            last = exc
            tries += 1
            if self.on_failure is not None:
                self.on_failure(exc)
            # The exponent stops growing long before the cap: 2 ** 1024 is no float, and a
            # platform that fails fast can be tried thousands of times in one budget.
            cap = min(policy.maximum, policy.initial * 2 ** min(tries - 1, _MAX_DOUBLINGS))
            wait = self.random.uniform(0.0, cap)
            if isinstance(exc, RateLimited):
                wait = max(wait, exc.retry_after)
            if time.monotonic() + wait >= self.deadline:
                return False  # the budget is spent: stop, keep the events for the next run
            self.retries += 1
            if self.on_retry is not None:
                self.on_retry(exc, wait, tries)
            if self.cancel.wait(wait):
                return False  # cancelled during the wait: call() turns this into Cancelled
            return 0.0  # waited here already

        self.check_cancel()
        try:
            for attempt in stamina.retry_context(on=backoff, attempts=None, timeout=None):
                with attempt:
                    self.check_cancel()
                    self.requests += 1
                    return fn()
        except BudgetSpent:
            self.check_cancel()
            if last is not None:
                # The budget ran out during the last wait: the failure worth telling is the
                # platform's, not the clock's.
                raise last from None
            raise
        except Transient:
            self.check_cancel()
            raise
        raise AssertionError("unreachable: retry_context either returns or raises")
