"""Collapse repeated reads of one code: a code held in front of the camera is reported once."""

from __future__ import annotations

import time
from collections.abc import Callable


class Debouncer:
    """The same text within ``window_s`` of its last sighting is dropped; other text passes.

    The window slides: a code held up for ten seconds is reported once, and again only after
    it has been out of view for ``window_s``. Codes are tracked one by one, so two cards in
    view at once do not re-trigger each other.
    """

    def __init__(self, window_s: float = 3.0, clock: Callable[[], float] = time.monotonic) -> None:
        if window_s < 0:
            raise ValueError("window_s must be 0 or more")
        self.window_s = window_s
        self._clock = clock
        self._last_seen: dict[str, float] = {}

    def accept(self, text: str, now: float | None = None) -> bool:
        """True when ``text`` should be reported now; records the sighting either way."""
        now = self._clock() if now is None else now
        self._forget(now)
        last = self._last_seen.get(text)
        self._last_seen[text] = now
        return last is None or now - last > self.window_s

    def reset(self) -> None:
        """Forget every code (e.g. after the shopkeeper cancels a transaction)."""
        self._last_seen.clear()

    def _forget(self, now: float) -> None:
        # Bounded memory: a camera may see many codes over a day.
        if len(self._last_seen) > 64:
            self._last_seen = {
                t: seen for t, seen in self._last_seen.items() if now - seen <= self.window_s
            }
