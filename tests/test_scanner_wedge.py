"""Keyboard-wedge logic on recorded timing traces, AZERTY repair, and debounce."""

from __future__ import annotations

import string
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pytest

from city.issuer import Issuer
from loyalty import cards
from scanner.debounce import Debouncer
from scanner.wedge import (
    AZERTY_TO_QWERTY,
    QWERTY_TO_AZERTY,
    WedgeReader,
    candidates,
    repair_azerty,
    split,
    strip_controls,
)

BASE45 = string.digits + string.ascii_uppercase + " $%*+-./:"


def as_azerty(text: str) -> str:
    """What a US-QWERTY scanner's keys show on a Belgian AZERTY computer."""
    return "".join(QWERTY_TO_AZERTY.get(ch, ch) for ch in text)


def trace(text: str, start: float, gaps_ms: tuple[float, float], seed: int, enter: bool = True):
    """Recorded (char, ts) events with gaps drawn uniformly from ``gaps_ms``."""
    rng = np.random.default_rng(seed)
    events = []
    ts = start
    for ch in text + ("\r" if enter else ""):
        events.append((ch, ts))
        ts += float(rng.uniform(*gaps_ms)) / 1000
    return events


# Fixtures: recorded traces of the kinds a counter sees.
SCANNER_FAST = trace("CT1:6BFOXN4THH00", 0.0, (2, 8), seed=1)
HUMAN_TYPING = trace("12,50", 0.0, (80, 300), seed=2)
HUMAN_FAST = trace("CT-7KQ2-M9XD", 0.0, (45, 95), seed=3)
SCANNER_NO_ENTER = trace("CT1:ABCDEF", 0.0, (2, 8), seed=4, enter=False)


def test_scanner_burst_is_a_scan() -> None:
    bursts = split(SCANNER_FAST)
    assert len(bursts) == 1
    assert bursts[0].is_scan
    assert bursts[0].text == "CT1:6BFOXN4THH00"
    assert 2 <= bursts[0].median_gap_ms <= 8


def test_person_typing_is_never_a_scan() -> None:
    for recorded in (HUMAN_TYPING, HUMAN_FAST):
        bursts = split(recorded)
        assert bursts, "typing must still come out"
        assert all(b.kind == "human" for b in bursts)
        assert "".join(b.text for b in bursts) == "".join(
            ch for ch, _ in recorded if ch not in "\r\n"
        )


def test_mixed_trace_keeps_order_and_kinds() -> None:
    events = (
        HUMAN_TYPING + trace("CT1:XYZ123", 2.5, (2, 8), seed=5) + trace("ok", 4.0, (120, 200), 6)
    )
    bursts = split(events)
    kinds = [b.kind for b in bursts]
    assert kinds.count("scanner") == 1
    scan = next(b for b in bursts if b.kind == "scanner")
    assert scan.text == "CT1:XYZ123" and scan.ended_with_enter
    assert kinds.index("scanner") > 0 and kinds.index("scanner") < len(kinds) - 1


def test_burst_without_enter_is_a_scanner_burst_but_not_a_complete_scan() -> None:
    reader = WedgeReader()
    done = [b for ch, ts in SCANNER_NO_ENTER for b in reader.feed(ch, ts)]
    assert done == []
    last_ts = SCANNER_NO_ENTER[-1][1]
    assert reader.flush(now=last_ts + 0.01) is None  # still within the gap: may continue
    burst = reader.flush(now=last_ts + 0.2)
    assert burst is not None
    assert burst.kind == "scanner" and not burst.ended_with_enter and not burst.is_scan
    assert burst.text == "CT1:ABCDEF"


def test_control_characters_are_stripped_from_bursts() -> None:
    noisy = "\x02CT1:\x1b[31mAB\x9bC\x7fD\u200b\x03"
    bursts = split(trace(noisy, 0.0, (2, 5), seed=8))
    assert bursts[0].text == "CT1:[31mABCD"
    assert strip_controls("a\tb\x00c\x85d") == "abcd"


def test_azerty_repair_gives_back_every_base45_character() -> None:
    original = "CT1:" + BASE45
    typed = as_azerty(original)
    assert typed.startswith("CT&M")
    assert as_azerty("1234567890") == "&é\"'(§è!çà"
    assert repair_azerty(typed) == original
    assert candidates(typed)[1] == original


def test_layout_maps_are_inverse_and_one_to_one() -> None:
    assert len(set(AZERTY_TO_QWERTY.values())) == len(AZERTY_TO_QWERTY)
    for typed, meant in AZERTY_TO_QWERTY.items():
        assert QWERTY_TO_AZERTY[meant] == typed


def test_candidates_order_and_no_duplicates() -> None:
    assert candidates("  CT1:ABC \r\n") == candidates("CT1:ABC")
    got = candidates("CT1:ABC")
    assert got[0] == "CT1:ABC"
    assert len(got) == len(set(got))
    assert candidates("\x1b\x00") == []
    assert "CT1:ABC" in candidates("ct1:abc".upper().swapcase())


@pytest.fixture(scope="module")
def issuer(tmp_path_factory: pytest.TempPathFactory) -> Issuer:
    return Issuer.open(Path(tmp_path_factory.mktemp("issuer")))


def test_a_real_card_typed_through_azerty_verifies_after_repair(issuer: Issuer) -> None:
    now = datetime.now(UTC)
    card_id, code = issuer.issue_card(now=now)
    trust = issuer.trust_list()
    typed = as_azerty(code)
    burst = split(trace(typed, 0.0, (2, 8), seed=9))[0]
    assert burst.is_scan
    assert isinstance(cards.verify(burst.text, trust, now=now), cards.Refusal)
    verified = [
        r for r in candidates(burst.text) if isinstance(cards.verify(r, trust, now=now), cards.Card)
    ]
    assert verified[:1] == [code]
    result = cards.verify(verified[0], trust, now=now)
    assert isinstance(result, cards.Card) and result.card_id == card_id


def test_caps_lock_on_azerty_is_undone_too(issuer: Issuer) -> None:
    now = datetime.now(UTC)
    _, code = issuer.issue_card(now=now)
    typed = "".join(
        ch.swapcase() if ch.isascii() and ch.isalpha() else ch for ch in as_azerty(code)
    )
    trust = issuer.trust_list()
    assert any(isinstance(cards.verify(r, trust, now=now), cards.Card) for r in candidates(typed))


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_debounce_same_code_once_other_code_at_once() -> None:
    clock = Clock()
    d = Debouncer(3.0, clock=clock)
    assert d.accept("A")
    clock.now += 1.0
    assert not d.accept("A")
    assert d.accept("B")
    clock.now += 2.9
    assert not d.accept("A")  # seen 2.9 s ago: the window slides while it is held up
    clock.now += 3.1
    assert d.accept("A")
    d.reset()
    assert d.accept("A")


def test_debounce_window_zero_reports_everything_and_memory_stays_bounded() -> None:
    clock = Clock()
    d = Debouncer(0.0, clock=clock)
    clock.now += 0.001
    assert d.accept("A") and (clock.__setattr__("now", clock.now + 0.001) or d.accept("A"))
    d3 = Debouncer(3.0, clock=clock)
    for i in range(1000):
        clock.now += 10
        assert d3.accept(f"code{i}")
    assert len(d3._last_seen) <= 65
    with pytest.raises(ValueError, match="0 or more"):
        Debouncer(-1)
