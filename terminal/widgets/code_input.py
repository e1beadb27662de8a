"""The code field, and the reader that tells a keyboard-wedge burst from a person typing.

A USB barcode scanner "types" a whole code in a few milliseconds and presses Enter. When that
burst came through a Belgian AZERTY layout while the scanner thinks QWERTY, the characters
are garbled; ``scanner.wedge`` groups the keys into bursts and lists the repaired readings,
and the caller tries each with the card verifier.
"""

from __future__ import annotations

import time

from textual import events
from textual.widgets import Input

from scanner import wedge


class WedgeReader:
    """Key timestamps in, at Enter: the readings to try and whether a scanner typed them."""

    def __init__(self) -> None:
        self._reader = wedge.WedgeReader()

    def key(self, character: str | None, at: float) -> None:
        """Note one printable character typed at monotonic time ``at``."""
        if character is not None and len(character) == 1 and character.isprintable():
            self._reader.feed(character, at)

    def finish(self, text: str, at: float) -> tuple[tuple[str, ...], str]:
        """At Enter: the candidate readings of ``text`` (as typed first) and its source."""
        bursts = self._reader.feed("\r", at)
        scanned = bool(bursts) and bursts[-1].is_scan
        return tuple(wedge.candidates(text)), ("wedge" if scanned else "typed")


class CodeInput(Input):
    """The code field: typed, pasted, or filled by a keyboard-wedge scanner."""

    def __init__(self, reader: WedgeReader, *, id: str | None = None) -> None:
        super().__init__(id=id, max_length=600)
        self.reader = reader

    def on_key(self, event: events.Key) -> None:
        """Note the time of each key (the Input itself inserts the character)."""
        self.reader.key(event.character, time.monotonic())
