"""Keyboard-wedge barcode scanners: tell a scanner burst from a person typing, repair layouts.

A USB scanner "types" a code as key presses a few milliseconds apart, then Enter. A person
types 80-300 ms apart. ``WedgeReader`` takes ``(character, timestamp)`` key events one by one
and hands back finished ``Burst`` objects; ``split`` does the same for a whole recorded trace.

A scanner set up for US QWERTY on a Belgian AZERTY keyboard sends the key positions of the
QWERTY characters, and the computer reads them with the AZERTY layout: ``1234567890`` arrives
as ``&é"'(§è!çà``, ``A`` as ``Q``, ``:`` as ``M``. ``candidates`` lists the readings worth
trying (as typed, AZERTY-repaired, ...) so the caller keeps the first that verifies as a card.
Pure logic: no I/O, no clock of its own.
"""

from __future__ import annotations

import itertools
import statistics
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

ENTER = frozenset({"\r", "\n"})

# Key positions row by row: US QWERTY (unshifted, shifted) and Belgian AZERTY (be-latin1).
_US_ROWS = (
    ("`1234567890-=", "~!@#$%^&*()_+"),
    ("qwertyuiop[]", "QWERTYUIOP{}"),
    ("asdfghjkl;'\\", 'ASDFGHJKL:"|'),
    ("zxcvbnm,./", "ZXCVBNM<>?"),
)
_BE_ROWS = (
    ("²&é\"'(§è!çà)-", "³1234567890°_"),
    ("azertyuiop^$", "AZERTYUIOP¨*"),
    ("qsdfghjklmùµ", "QSDFGHJKLM%£"),
    ("wxcvbn,;:=", "WXCVBN?./+"),
)


def _layout_map(
    typed_as: tuple[tuple[str, str], ...], meant: tuple[tuple[str, str], ...]
) -> dict[str, str]:
    mapping: dict[str, str] = {}
    for (typed_plain, typed_shift), (meant_plain, meant_shift) in zip(typed_as, meant, strict=True):
        for typed, wanted in zip(typed_plain + typed_shift, meant_plain + meant_shift, strict=True):
            if typed != wanted:
                mapping[typed] = wanted
    return mapping


AZERTY_TO_QWERTY: dict[str, str] = _layout_map(_BE_ROWS, _US_ROWS)
"""What a QWERTY-configured scanner meant, for each character an AZERTY computer shows."""

QWERTY_TO_AZERTY: dict[str, str] = _layout_map(_US_ROWS, _BE_ROWS)
"""The other way round: an AZERTY-configured scanner on a QWERTY computer."""


def strip_controls(text: str) -> str:
    """``text`` without control characters (C0, DEL, C1) and other invisible format marks."""
    return "".join(ch for ch in text if unicodedata.category(ch) not in {"Cc", "Cf"})


def repair_azerty(text: str) -> str:
    """What a US-QWERTY scanner meant when a Belgian AZERTY computer shows ``text``."""
    return "".join(AZERTY_TO_QWERTY.get(ch, ch) for ch in text)


def repair_qwerty(text: str) -> str:
    """What a Belgian-AZERTY scanner meant when a US-QWERTY computer shows ``text``."""
    return "".join(QWERTY_TO_AZERTY.get(ch, ch) for ch in text)


def _swap_letters(text: str) -> str:
    # Caps Lock on the computer flips letters only, not digits or symbols.
    return "".join(ch.swapcase() if ch.isascii() and ch.isalpha() else ch for ch in text)


def candidates(text: str) -> list[str]:
    """Readings of a scanned or typed code, most likely first, without duplicates.

    As typed (stripped of control characters and outer spaces), AZERTY-repaired, with Caps
    Lock undone, both, and QWERTY-repaired. Try each with the card verifier and keep the first
    that verifies: a repaired reading that happens to verify is the code that was printed.
    """
    base = strip_controls(text).strip()
    readings = [
        base,
        repair_azerty(base),
        _swap_letters(base),
        repair_azerty(_swap_letters(base)),
        repair_qwerty(base),
    ]
    seen: set[str] = set()
    out: list[str] = []
    for reading in readings:
        if reading and reading not in seen:
            seen.add(reading)
            out.append(reading)
    return out


@dataclass(frozen=True)
class KeyEvent:
    """One character as the keyboard delivered it, at ``ts`` seconds (any monotonic clock)."""

    char: str
    ts: float


@dataclass(frozen=True)
class Burst:
    """A run of key events: what a scanner sent, or what a person typed."""

    text: str
    """The characters without Enter and without control characters."""
    kind: Literal["scanner", "human"]
    ended_with_enter: bool
    started: float
    ended: float
    median_gap_ms: float

    @property
    def is_scan(self) -> bool:
        """True when a scanner sent it and it ended with Enter (a complete code)."""
        return self.kind == "scanner" and self.ended_with_enter


class WedgeReader:
    """Groups key events into bursts and says which came from a scanner.

    Events closer than ``max_gap_s`` belong to one run. A run is a scanner burst when it has
    at least ``min_chars`` characters and its median gap is at most ``scanner_gap_s``; a
    person's fastest rollover gives two or three close keys, not a dozen. Enter ends a run;
    a run without Enter ends when ``flush(now)`` sees ``max_gap_s`` of silence.
    """

    def __init__(
        self, *, max_gap_s: float = 0.05, scanner_gap_s: float = 0.025, min_chars: int = 4
    ) -> None:
        self.max_gap_s = max_gap_s
        self.scanner_gap_s = scanner_gap_s
        self.min_chars = min_chars
        self._run: list[KeyEvent] = []

    def feed(self, char: str, ts: float) -> list[Burst]:
        """Add one key event; returns the bursts it finished (zero, one or two)."""
        done: list[Burst] = []
        if self._run and ts - self._run[-1].ts > self.max_gap_s:
            done.append(self._finish(enter=False))
        if char in ENTER:
            self._run.append(KeyEvent(char, ts))
            done.append(self._finish(enter=True))
            return done
        self._run.append(KeyEvent(char, ts))
        return done

    def flush(self, now: float | None = None) -> Burst | None:
        """End the current run if quiet for ``max_gap_s`` (always when ``now`` is None)."""
        if not self._run:
            return None
        if now is not None and now - self._run[-1].ts <= self.max_gap_s:
            return None
        return self._finish(enter=False)

    @property
    def pending(self) -> str:
        """Characters of the run not yet finished."""
        return "".join(e.char for e in self._run)

    def _finish(self, *, enter: bool) -> Burst:
        run, self._run = self._run, []
        times = [e.ts for e in run]
        gaps = [b - a for a, b in itertools.pairwise(times)]
        median_gap = statistics.median(gaps) if gaps else float("inf")
        chars = [e.char for e in run if e.char not in ENTER]
        text = strip_controls("".join(chars))
        is_scanner = len(chars) >= self.min_chars and median_gap <= self.scanner_gap_s
        return Burst(
            text=text,
            kind="scanner" if is_scanner else "human",
            ended_with_enter=enter,
            started=times[0],
            ended=times[-1],
            median_gap_ms=median_gap * 1000 if gaps else 0.0,
        )


def split(
    events: Iterable[tuple[str, float]],
    *,
    max_gap_s: float = 0.05,
    scanner_gap_s: float = 0.025,
    min_chars: int = 4,
) -> list[Burst]:
    """Every burst in a recorded trace of ``(character, timestamp)`` events, in order."""
    reader = WedgeReader(max_gap_s=max_gap_s, scanner_gap_s=scanner_gap_s, min_chars=min_chars)
    bursts: list[Burst] = []
    for char, ts in events:
        bursts.extend(reader.feed(char, ts))
    last = reader.flush()
    if last is not None:
        bursts.append(last)
    return [b for b in bursts if b.text or b.ended_with_enter]
