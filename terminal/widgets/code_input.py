"""The code field, and the reader that tells a keyboard-wedge burst from a person typing.

A USB barcode scanner "types" a whole code in a few milliseconds and presses Enter. When that
burst came through a Belgian AZERTY layout while the scanner thinks QWERTY, the characters
are garbled; ``scanner.wedge`` groups the keys into bursts and lists the repaired readings,
and the caller tries each with the card verifier.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from textual import events
from textual.widgets import Input

from scanner import wedge


class WedgeReader:
    """Key timestamps in, at Enter: the readings to try and whether a scanner typed them."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._reader = wedge.WedgeReader()
        # Injected so that a test, not the machine's speed, decides how far apart keys came.
        self.clock = clock

    def key(self, character: str | None) -> None:
        """Note one printable character typed now."""
        if character is not None and len(character) == 1 and character.isprintable():
            self._reader.feed(character, self.clock())

    def finish(self, text: str) -> tuple[tuple[str, ...], str]:
        """At Enter: the candidate readings of ``text`` (as typed first) and its source."""
        bursts = self._reader.feed("\r", self.clock())
        scanned = bool(bursts) and bursts[-1].is_scan
        return tuple(wedge.candidates(text)), ("wedge" if scanned else "typed")


class CodeInput(Input):
    """The code field: typed, pasted, or filled by a keyboard-wedge scanner."""

    def __init__(self, reader: WedgeReader, *, id: str | None = None) -> None:
        # Not select-on-focus: the counter screen puts the first keys of a burst typed
        # elsewhere into this field before the focus lands, and a selection would let the next
        # key replace them.
        super().__init__(id=id, max_length=600, select_on_focus=False)
        self.reader = reader

    def on_key(self, event: events.Key) -> None:
        """Note the time of each key (the Input itself inserts the character)."""
        self.reader.key(event.character)
