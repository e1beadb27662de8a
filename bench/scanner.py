"""Scanner benchmark on camera-like frames: the pipeline against zxing-cpp alone, idle and loaded.

Run: ``.venv/bin/python bench/scanner.py [--frames N] [--seed S] [--size 1280x720] [--steps]``.

The frames (``tests.qrimages.camera_scene``): real signed card codes (57 modules) on a card or a
phone (light or dark mode), at the size a 720p webcam sees a card 20-35 cm away, on a textured
counter with decoy squares and printed text, through a soft lens, sensor noise and MJPEG
compression; categories add tilt, defocus, motion blur, dim light and glare; ``empty`` frames
hold only decoys. Readers, each handed the BGR frame a camera gives:

* ``zxing-default``: ``zxingcpp.read_barcodes`` with its defaults (QR formats only);
* ``zxing-3-binarisers``: zxing with LocalAverage, then GlobalHistogram, then FixedThreshold;
* ``pipeline``: ``scanner.decoders.Pipeline()`` as the child runs it (its default deadline).

Every frame is read by every reader, idle and with one core kept busy by a process this bench
starts (paused with SIGSTOP between turns), in an order that rotates from frame to frame, so
the idle and loaded columns see the same machine at the same moments. ``--steps`` adds what
each pipeline step buys: the pipeline with every candidate step and no deadline, counting the
frames each step was the first to read and what it cost.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import signal
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import zxingcpp  # noqa: E402

from scanner.decoders import Pipeline, to_grey  # noqa: E402
from tests import qrimages  # noqa: E402

Frame = np.ndarray[Any, np.dtype[np.uint8]]
Reader = Callable[[Frame], set[str]]


@dataclass
class Sample:
    category: str
    image: Frame
    expected: frozenset[str]


@dataclass
class Score:
    hits: dict[str, int] = field(default_factory=dict)
    totals: dict[str, int] = field(default_factory=dict)
    false_positives: int = 0
    times: list[float] = field(default_factory=list)

    def add(self, sample: Sample, texts: set[str], ms: float) -> None:
        self.times.append(ms)
        self.totals[sample.category] = self.totals.get(sample.category, 0) + 1
        self.false_positives += len(texts - sample.expected)
        ok = sample.expected <= texts if sample.expected else not texts
        self.hits[sample.category] = self.hits.get(sample.category, 0) + int(ok)

    def rate(self) -> float:
        hit = sum(v for k, v in self.hits.items() if k != "empty")
        total = sum(v for k, v in self.totals.items() if k != "empty")
        return hit / total if total else 0.0


def card_codes(rng: np.random.Generator, count: int = 8) -> list[str]:
    """Real signed card codes from a seeded key: the same corpus on every run."""
    from datetime import UTC, datetime, timedelta

    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    from city.issuer import DEFAULT_ISSUER
    from loyalty import cards

    key = Ed25519PrivateKey.from_private_bytes(rng.bytes(32))
    issued = datetime(2024, 6, 5, 9, 0, tzinfo=UTC)
    codes: list[str] = []
    while len(codes) < count:
        body = "".join(rng.choice(list(cards.CARD_ID_ALPHABET), size=11))
        ids = [
            f"CT-{body[:4]}-{body[4:8]}-{body[8:]}{c}"
            for c in cards.CARD_ID_ALPHABET
            if cards.card_id_is_valid(f"CT-{body[:4]}-{body[4:8]}-{body[8:]}{c}")
        ]
        if ids:
            codes.append(
                cards.issue(
                    key,
                    kid="bench001",
                    issuer=DEFAULT_ISSUER,
                    card_id=ids[0],
                    issued_at=issued,
                    expires_at=issued + timedelta(days=7300),
                )
            )
    return codes


def corpus(size: tuple[int, int], frames: int, seed: int) -> list[Sample]:
    rng = np.random.default_rng(seed)
    codes = card_codes(rng)
    samples: list[Sample] = []
    for i in range(frames):
        for category in qrimages.HARD_CATEGORIES:
            text = codes[i % len(codes)]
            image = qrimages.bgr(qrimages.camera_scene(category, text, rng, size))
            expected = frozenset() if category == "empty" else frozenset({text})
            samples.append(Sample(category, image, expected))
    return samples


def readers() -> dict[str, Reader]:
    qr = zxingcpp.BarcodeFormat.QRCode
    binarizers = [
        zxingcpp.Binarizer.LocalAverage,
        zxingcpp.Binarizer.GlobalHistogram,
        zxingcpp.Binarizer.FixedThreshold,
    ]

    def zxing_default(img: Frame) -> set[str]:
        return {r.text for r in zxingcpp.read_barcodes(to_grey(img), formats=qr)}

    def zxing_three(img: Frame) -> set[str]:
        grey = to_grey(img)
        for binarizer in binarizers:
            found = {r.text for r in zxingcpp.read_barcodes(grey, formats=qr, binarizer=binarizer)}
            if found:
                return found
        return set()

    pipeline = Pipeline()

    def pipe(img: Frame) -> set[str]:
        return {c.text for c in pipeline.decode(img).codes}

    return {"zxing-default": zxing_default, "zxing-3-binarisers": zxing_three, "pipeline": pipe}


def _spin() -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    x = 0
    while True:
        x = (x * 1103515245 + 12345) & 0xFFFFFFFF


class Busy:
    """One process keeping one core busy, paused (SIGSTOP) or running (SIGCONT) on demand."""

    def __init__(self) -> None:
        self.process = multiprocessing.get_context("spawn").Process(target=_spin, daemon=True)
        self.process.start()
        self.set(False)

    def set(self, busy: bool) -> None:
        pid = self.process.pid
        assert pid is not None
        os.kill(pid, signal.SIGCONT if busy else signal.SIGSTOP)
        if busy:
            time.sleep(0.002)  # let the scheduler put it on a core

    def close(self) -> None:
        self.set(True)
        self.process.kill()
        self.process.join()


def run(samples: Sequence[Sample], names: Sequence[str]) -> dict[str, dict[str, Score]]:
    all_readers = readers()
    scores = {load: {name: Score() for name in names} for load in ("idle", "loaded")}
    busy = Busy()
    try:
        for i, sample in enumerate(samples):
            loads = ("idle", "loaded") if i % 2 == 0 else ("loaded", "idle")
            for load in loads:
                busy.set(load == "loaded")
                order = list(names[i % len(names) :]) + list(names[: i % len(names)])
                for name in order:
                    start = time.perf_counter()
                    texts = all_readers[name](sample.image)
                    ms = (time.perf_counter() - start) * 1000
                    scores[load][name].add(sample, texts, ms)
    finally:
        busy.close()
    return scores


def percentile(values: Sequence[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))]


def print_table(title: str, scores: dict[str, Score]) -> None:
    names = list(scores)
    print(f"\n## {title}\n")
    print("| category | " + " | ".join(names) + " |")
    print("|---|" + "---|" * len(names))
    for category in qrimages.HARD_CATEGORIES:
        cells = [f"{s.hits.get(category, 0)}/{s.totals.get(category, 0)}" for s in scores.values()]
        print(f"| {category} | " + " | ".join(cells) + " |")
    best_median = min(statistics.median(s.times) for s in scores.values())
    rows: list[tuple[str, Callable[[Score], str]]] = [
        ("frames read (not empty)", lambda s: f"{100 * s.rate():.1f}%"),
        ("false positives", lambda s: str(s.false_positives)),
        ("median ms", lambda s: f"{statistics.median(s.times):.2f}"),
        ("p95 ms", lambda s: f"{percentile(s.times, 0.95):.2f}"),
        ("max ms", lambda s: f"{max(s.times):.1f}"),
        ("frames > 33 ms", lambda s: str(sum(t > 33 for t in s.times))),
        ("median vs fastest", lambda s: f"{statistics.median(s.times) / best_median:.2f}x"),
    ]
    for label, cell in rows:
        print(f"| {label} | " + " | ".join(cell(s) for s in scores.values()) + " |")


CANDIDATE_STEPS = (
    "invert",
    "global",
    "fixed",
    "half_sharpen",
    "sharpen",
    "half_sharpen_wide",
    "equalize",
    "blur",
    "otsu",
    "upscale",
    "roi_deblur",
)


def step_report(samples: Sequence[Sample], pipeline: Pipeline, title: str) -> None:
    """Which step first read each frame, and what each step cost when it ran (idle)."""
    runs: dict[str, list[float]] = {}
    first: dict[str, int] = {}
    misses = 0
    for sample in samples:
        if not sample.expected:
            continue
        result = pipeline.decode(sample.image)
        for step, ms in zip(result.steps, result.step_ms, strict=True):
            runs.setdefault(step, []).append(ms)
        if sample.expected <= {c.text for c in result.codes}:
            first[result.steps[-1]] = first.get(result.steps[-1], 0) + 1
        else:
            misses += 1
    total = sum(1 for s in samples if s.expected)
    print(f"\n## {title}\n")
    print("| step | ran on frames | mean ms when run | frames it read first | reads per 100 ms |")
    print("|---|---|---|---|---|")
    for step, times in runs.items():
        spent = sum(times)
        got = first.get(step, 0)
        print(
            f"| {step} | {len(times)} | {statistics.mean(times):.2f} | {got} "
            f"({100 * got / total:.1f}%) | {100 * got / spent if spent else 0:.1f} |"
        )
    print(f"| (none read it) | | | {misses} ({100 * misses / total:.1f}%) | |")


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=20, help="frames per category")
    parser.add_argument("--seed", type=int, default=12)
    parser.add_argument("--size", default="1280x720")
    parser.add_argument("--steps", action="store_true", help="what each pipeline step buys")
    args = parser.parse_args(argv)
    width, height = (int(v) for v in args.size.split("x"))
    samples = corpus((width, height), args.frames, args.seed)
    cores = os.cpu_count()
    print(
        f"# Scanner: {len(samples)} camera-like frames at {width}x{height} "
        f"({args.frames} per category, seed {args.seed}), {cores} cores, "
        "idle and loaded interleaved frame by frame"
    )
    names = ["zxing-default", "zxing-3-binarisers", "pipeline"]
    scores = run(samples, names)
    for load in ("idle", "loaded"):
        what = "idle" if load == "idle" else "one core kept busy by a spinning process"
        print_table(f"{width}x{height}, {what}: frames read / frames", scores[load])
    if args.steps:
        step_report(
            samples,
            Pipeline(deadline_ms=1000),
            "What each default step buys (no deadline, idle; frames with a code; zxing "
            "includes its inverted pass)",
        )
        step_report(
            samples,
            # invert_first=False: the inverted pass as a step of its own, so its yield shows.
            Pipeline(deadline_ms=1000, fallbacks=CANDIDATE_STEPS, invert_first=False),
            "Every candidate step in a row (no deadline, idle; the inverted pass on its own)",
        )


if __name__ == "__main__":
    main()
