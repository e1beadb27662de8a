"""Scanner benchmark: each QR decoder alone and the pipeline, on a seeded camera-like corpus.

Run: ``.venv/bin/python bench/scanner.py [--frames N] [--seed S] [--only 640x480,1280x720]``.

Prints, per resolution: success per category, false positives on empty frames, median and
p95 milliseconds per frame for each decoder alone and for the pipeline; then the end-to-end
latency from a frame to a verified card through the child process (``ScannerProcess``).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from scanner.decoders import (  # noqa: E402
    Decoded,
    OpencvDecoder,
    Pipeline,
    ZbarDecoder,
    ZxingDecoder,
    to_grey,
)
from tests import qrimages  # noqa: E402

RESOLUTIONS = {"640x480": (640, 480), "1280x720": (1280, 720)}


@dataclass
class Sample:
    category: str
    image: np.ndarray[Any, np.dtype[np.uint8]]
    expected: frozenset[str]


@dataclass
class Score:
    hits: dict[str, int] = field(default_factory=dict)
    totals: dict[str, int] = field(default_factory=dict)
    false_positives: int = 0
    times: list[float] = field(default_factory=list)

    def positive_rate(self) -> float:
        hit = sum(v for k, v in self.hits.items() if k != "empty")
        total = sum(v for k, v in self.totals.items() if k != "empty")
        return hit / total if total else 0.0


def payloads(rng: np.random.Generator) -> list[str]:
    """Eight real signed card codes, the same on every run with the same seed.

    The key, the card ids and the dates come from ``rng`` (Ed25519 signatures are
    deterministic), so the QR modules, and with them the corpus, do not change between runs;
    a fresh ``Issuer`` drew a new key and new ids each time. The trust list is kept for the
    end-to-end run, which then verifies cards for real.
    """
    from datetime import UTC, datetime, timedelta

    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    from city.issuer import DEFAULT_ISSUER
    from loyalty import cards

    key = Ed25519PrivateKey.from_private_bytes(rng.bytes(32))
    kid, issuer = "bench001", DEFAULT_ISSUER  # the length of a real key id and issuer
    _TRUST["trust"] = cards.TrustList(
        version=1, keys={kid: cards.IssuerKey(kid, issuer, key.public_key())}
    )
    issued = datetime(2024, 6, 5, 9, 0, tzinfo=UTC)
    codes = []
    while len(codes) < 8:
        body = "".join(rng.choice(list(cards.CARD_ID_ALPHABET), size=11))
        card_ids = [
            f"CT-{body[:4]}-{body[4:8]}-{body[8:]}{c}"
            for c in cards.CARD_ID_ALPHABET
            if cards.card_id_is_valid(f"CT-{body[:4]}-{body[4:8]}-{body[8:]}{c}")
        ]
        if not card_ids:  # the check value fell outside the alphabet: draw again
            continue
        codes.append(
            cards.issue(
                key,
                kid=kid,
                issuer=issuer,
                card_id=card_ids[0],
                issued_at=issued,
                expires_at=issued + timedelta(days=7300),
            )
        )
    return codes


def corpus(size: tuple[int, int], frames: int, seed: int, codes: list[str]) -> list[Sample]:
    rng = np.random.default_rng(seed)
    samples: list[Sample] = []
    for category in qrimages.CATEGORIES:
        for i in range(frames):
            chosen = [codes[(i + k) % len(codes)] for k in range(2)]
            image = qrimages.bgr(qrimages.corpus_frame(category, chosen, rng, size))
            if category == "empty":
                expected: frozenset[str] = frozenset()
            elif category == "two_codes":
                expected = frozenset(chosen)
            else:
                expected = frozenset(chosen[:1])
            samples.append(Sample(category, image, expected))
    return samples


Reader = Callable[[np.ndarray[Any, np.dtype[np.uint8]]], list[Decoded]]


def readers(include_slow: bool) -> dict[str, Reader]:
    zx = ZxingDecoder()
    zx_inv = ZxingDecoder(try_invert=True)
    out: dict[str, Reader] = {
        "zxing": lambda img: zx.decode(to_grey(img)),
        "zxing+try_invert": lambda img: zx_inv.decode(to_grey(img)),
    }
    if include_slow:
        zb = ZbarDecoder()
        cvd = OpencvDecoder()
        out["zbar"] = lambda img: zb.decode(to_grey(img))
        out["opencv"] = lambda img: cvd.decode(to_grey(img))
    pipe = Pipeline()
    out["pipeline"] = lambda img: pipe.decode(img).codes
    return out


def pipeline_variants() -> dict[str, Reader]:
    """Each fallback alone (no time budget), then whole orders under the default budget."""
    out: dict[str, Reader] = {}
    for label, fallbacks in (
        ("zx only", ()),
        ("+invert", ("invert",)),
        ("+half_sharpen", ("half_sharpen",)),
        ("+half_sharpen_wide", ("half_sharpen_wide",)),
        ("+equalize", ("equalize",)),
        ("+upscale", ("upscale",)),
        ("+sharpen", ("sharpen",)),
        ("+blur", ("blur",)),
        ("+global", ("global",)),
        ("+otsu", ("otsu",)),
    ):
        pipe = Pipeline(("zxing",), fallbacks=fallbacks, budget_ms=1000)
        out[f"pipe {label}"] = lambda img, p=pipe: p.decode(img).codes
    for label, fallbacks in (
        ("inv+eq+up", ("invert", "equalize", "upscale")),
        ("inv+hs+eq", Pipeline.DEFAULT_FALLBACKS),
        ("inv+hs+eq+up", ("invert", "half_sharpen", "equalize", "upscale")),
        ("inv+hs+hsw+eq", ("invert", "half_sharpen", "half_sharpen_wide", "equalize")),
    ):
        pipe = Pipeline(DEFAULT_DEC, fallbacks=fallbacks)
        out[f"budget {label}"] = lambda img, p=pipe: p.decode(img).codes
    for label, decoders in (("zx>zbar", ("zxing", "zbar")), ("zx>zbar>cv", DEFAULT_DEC)):
        pipe = Pipeline(decoders, fallbacks=(), budget_ms=1000)
        out[f"pipe {label}"] = lambda img, p=pipe: p.decode(img).codes
    return out


DEFAULT_DEC = ("zxing", "zbar", "opencv")


def score(reader: Reader, samples: Sequence[Sample]) -> Score:
    result = Score()
    for sample in samples:
        start = time.perf_counter()
        codes = reader(sample.image)
        result.times.append((time.perf_counter() - start) * 1000)
        texts = {c.text for c in codes}
        result.totals[sample.category] = result.totals.get(sample.category, 0) + 1
        if sample.category == "empty":
            result.false_positives += len(texts)
            ok = not texts
        else:
            result.false_positives += len(texts - sample.expected)
            ok = sample.expected <= texts
        result.hits[sample.category] = result.hits.get(sample.category, 0) + int(ok)
    return result


def percentile(values: Sequence[float], q: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    index = min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))
    return ordered[index]


def print_table(resolution: str, scores: dict[str, Score]) -> None:
    names = list(scores)
    width = max(12, *(len(n) for n in names))
    print(f"\n## {resolution}: share of frames read completely (empty: share with no code)\n")
    print("| category | " + " | ".join(names) + " |")
    print("|---|" + "---|" * len(names))
    for category in qrimages.CATEGORIES:
        cells = []
        for name in names:
            s = scores[name]
            cells.append(f"{s.hits.get(category, 0)}/{s.totals.get(category, 0)}")
        print(f"| {category} | " + " | ".join(cells) + " |")
    rows = [
        ("positive frames", lambda s: f"{100 * s.positive_rate():.1f}%"),
        ("false positives", lambda s: str(s.false_positives)),
        ("median ms", lambda s: f"{statistics.median(s.times):.2f}"),
        ("p95 ms", lambda s: f"{percentile(s.times, 0.95):.2f}"),
        ("max ms", lambda s: f"{max(s.times):.1f}"),
    ]
    for label, fn in rows:
        print(f"| **{label}** | " + " | ".join(fn(scores[n]) for n in names) + " |")
    del width


def end_to_end(codes: list[str], frames: int, seed: int) -> None:
    """Frame -> verified card through the child process, with a video file as the camera."""
    import tempfile

    from scanner.events import CodeRead, ScanEvent
    from scanner.process import ScannerProcess
    from scanner.sources import SourceSpec

    verify = _verifier()
    rng = np.random.default_rng(seed)
    tmp = Path(tempfile.mkdtemp(prefix="bench-scanner-"))
    clip = []
    # A customer holds a different card up every 10 frames; blank frames in between.
    for i in range(frames):
        if i % 10 < 6:
            clip.append(qrimages.scene(codes[(i // 10) % len(codes)], rng, size=(1280, 720)))
        else:
            clip.append(qrimages.noisy_background(1280, 720, rng))
    video = qrimages.write_video(tmp / "clip.avi", clip, fps=30)
    latencies: list[float] = []
    decode_ms: list[float] = []
    lock = threading.Lock()
    finished = threading.Event()

    def on_event(event: ScanEvent) -> None:
        if isinstance(event, CodeRead):
            verdict = verify(event.text)
            now = time.monotonic()
            with lock:
                if verdict is not None:
                    latencies.append((now - event.frame_ts) * 1000)
                    decode_ms.append(event.decode_ms)
        elif type(event).__name__ == "SourceEnded":
            finished.set()

    spec = SourceSpec.video(video, realtime=True)
    proc = ScannerProcess(spec, debounce_s=0.0, on_event=on_event)
    proc.start()
    finished.wait(timeout=frames / 30 + 30)
    proc.stop()
    print("\n## End to end through the child process (1280x720 video at 30 fps)\n")
    if not latencies:
        print("no card verified")
        return
    print(
        "| frames with a verified card | decode median ms "
        "| frame to verified card median ms | p95 ms |"
    )
    print("|---|---|---|---|")
    print(
        f"| {len(latencies)} | {statistics.median(decode_ms):.2f} | "
        f"{statistics.median(latencies):.2f} | {percentile(latencies, 0.95):.2f} |"
    )


def _verifier() -> Callable[[str], object | None]:
    """loyalty.cards.verify with the bench issuer's trust list if it exists; else a prefix check."""
    try:
        from loyalty import cards
    except ImportError:
        return lambda text: text if text.startswith("CT1:") else None
    trust = _TRUST.get("trust")
    if trust is None:
        return lambda text: text if text.startswith("CT1:") else None

    def verify(text: str) -> object | None:
        verdict = cards.verify(text, trust)
        return verdict if isinstance(verdict, cards.Card) else None

    return verify


_TRUST: dict[str, Any] = {}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--frames", type=int, default=25, help="frames per category")
    parser.add_argument("--seed", type=int, default=20240605)
    parser.add_argument("--only", default=",".join(RESOLUTIONS))
    parser.add_argument("--variants", action="store_true", help="measure pipeline fallbacks")
    parser.add_argument("--no-slow", action="store_true", help="skip zbar and opencv alone")
    parser.add_argument("--no-e2e", action="store_true", help="skip the child-process run")
    args = parser.parse_args()
    codes = payloads(np.random.default_rng(args.seed))
    print(f"payloads: {len(codes)} codes of {len(codes[0])} characters, seed {args.seed}")
    for name in args.only.split(","):
        samples = corpus(RESOLUTIONS[name], args.frames, args.seed, codes)
        chosen = pipeline_variants() if args.variants else readers(not args.no_slow)
        scores = {label: score(reader, samples) for label, reader in chosen.items()}
        print_table(name, scores)
    if not args.no_e2e:
        end_to_end(codes, 300, args.seed)


if __name__ == "__main__":
    main()
