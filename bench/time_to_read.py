"""Time to read: from the first frame that shows the whole code to the verified card.

Run: ``.venv/bin/python bench/time_to_read.py [--cards N] [--fps 30,60] [--exposures 50,250]``.

Clips are generated here, at 1280x720: a customer's card (a real signed card code, 57
modules at 2.6-3.2 px each, as a 720p webcam sees a card 25-30 cm away) enters from the left
or the right fast and blurred by its motion, slows down (over 0.55-1.05 s), settles with a
little hand tremor (0.5-0.9 s), drifts away slowly going out of focus, and leaves; on a
textured counter with decoys, soft lens, sensor noise, MJPEG compression. Motion blur is
the card's speed times the exposure: 1/50 s (auto exposure indoors; at most the frame
period), or 1/250 s (a short ``[camera] exposure``).
The clips of all cards are one video per frame rate and exposure, played by the real scanner
child as a camera (``SourceSpec.video(realtime=True)``: paced at the file's frame rate,
stale frames dropped), with the default decoders, idle and with one core kept busy.

For each card: the time from the first frame in which the whole code is in view to the
moment the parent process holds the verified card (the child's read, the pipe, the
verification). The same clips read frame by frame without the child give the same measure
for zxing-cpp alone (its defaults) and for the pipeline, from frame times; and the pipeline's
cost per frame on every clip frame (no frame may cost more than 33 ms).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import zxingcpp  # noqa: E402

from scanner.decoders import Pipeline, to_grey  # noqa: E402
from scanner.events import CodeRead, SourceEnded  # noqa: E402
from scanner.process import ScannerProcess  # noqa: E402
from scanner.sources import SourceSpec  # noqa: E402
from tests import qrimages  # noqa: E402

SIZE = (1280, 720)
Grey = np.ndarray[Any, np.dtype[np.uint8]]


@dataclass
class Clip:
    """One card's passage: its code, and where it starts and first shows the whole code."""

    code: str
    start: int
    """Index (0-based) of the clip's first frame in the video."""
    visible: int
    """Index (0-based) of the first frame with the whole code in view."""
    end: int


def signed_codes(rng: np.random.Generator, count: int) -> tuple[list[str], Any]:
    """Real card codes from a seeded key, and the trust list that verifies them."""
    from datetime import UTC, datetime, timedelta

    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    from city.issuer import DEFAULT_ISSUER
    from loyalty import cards

    key = Ed25519PrivateKey.from_private_bytes(rng.bytes(32))
    trust = cards.TrustList(
        version=1, keys={"bench001": cards.IssuerKey("bench001", DEFAULT_ISSUER, key.public_key())}
    )
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
    return codes, trust


@dataclass(frozen=True)
class Motion:
    """How one customer moves the card (drawn per clip)."""

    enter_s: float
    """Seconds from the frame's edge to the middle, decelerating."""
    side: float
    """+1: comes in from the right, -1: from the left."""
    settle_s: float
    height: float
    phase: float

    @classmethod
    def draw(cls, rng: np.random.Generator) -> Motion:
        return cls(
            enter_s=float(rng.uniform(0.55, 1.05)),
            side=float(rng.choice([-1.0, 1.0])),
            settle_s=float(rng.uniform(0.5, 0.9)),
            height=float(rng.uniform(0.4, 0.6)),
            phase=float(rng.uniform(0, 6.28)),
        )

    @property
    def length_s(self) -> float:
        return self.enter_s + self.settle_s + 0.7 + 0.4


def trajectory(t: float, m: Motion) -> tuple[float, float, float]:
    """Where the card's centre is at ``t`` s (fraction of the frame), and how defocused.

    Phases: enter (fast from the edge, decelerating to the middle), settle (a little
    tremor), drift (0.7 s, slowly away and out of focus), leave (0.4 s, accelerating).
    """
    tremor = 0.002 * np.sin(2 * np.pi * 7 * t + m.phase)
    if t < m.enter_s:
        u = t / m.enter_s
        x = 0.5 + m.side * (0.8 - 0.8 * (1 - (1 - u) ** 3))
        return x, m.height + 0.02 * (1 - u), 0.0
    t -= m.enter_s
    if t < m.settle_s:
        return 0.5 + tremor, m.height + tremor, 0.0
    t -= m.settle_s
    if t < 0.7:
        u = t / 0.7
        return 0.5 - m.side * 0.06 * u + tremor, m.height - 0.03 * u, 1.6 * u
    u = min(1.0, (t - 0.7) / 0.4)
    return 0.5 - m.side * (0.06 + 1.0 * u**2), m.height - 0.03, 1.6


def render(
    background: Grey,
    holder: Grey,
    code_box: tuple[int, int, int],
    x: float,
    y: float,
    blur_px: float,
    blur_angle: float,
    sigma: float,
    rng: np.random.Generator,
) -> tuple[Grey, bool]:
    """One frame, and whether the whole code is in it."""
    width, height = SIZE
    h, w = holder.shape
    cx, cy = x * width, y * height
    img = qrimages.paste(background, holder, center=(cx, cy))
    left, top, side = code_box
    x0, y0 = cx - w / 2 + left, cy - h / 2 + top
    visible = x0 >= 0 and y0 >= 0 and x0 + side <= width and y0 + side <= height
    # Blur only around the card: the rest of the scene stands still.
    pad = int(blur_px) + 8
    bx0, by0 = max(0, int(cx - w / 2) - pad), max(0, int(cy - h / 2) - pad)
    bx1, by1 = min(width, int(cx + w / 2) + pad), min(height, int(cy + h / 2) + pad)
    if bx1 > bx0 and by1 > by0:
        part = img[by0:by1, bx0:bx1]
        if blur_px >= 1.5:
            part = qrimages.motion_blur(part, round(blur_px), blur_angle)
        if sigma > 0.3:
            part = qrimages.defocus(part, sigma)
        img[by0:by1, bx0:bx1] = part
    img = qrimages.defocus(img, 0.6)
    return qrimages.add_noise(img, 3.0, rng), visible


def make_video(
    path: Path, codes: Sequence[str], fps: float, seed: int, exposure_s: float
) -> list[Clip]:
    """One video with a clip per card, and where each clip's code is first fully visible."""
    rng = np.random.default_rng(seed)
    width, height = SIZE
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter.fourcc(*"MJPG"), fps, SIZE)
    if not writer.isOpened():
        raise RuntimeError(f"cannot write {path}")
    exposure = min(exposure_s, 1 / fps)
    clips: list[Clip] = []
    index = 0
    try:
        for code in codes:
            background = qrimages.textured_background(width, height, rng)
            holder, side = qrimages.held_code(code, rng, float(rng.uniform(2.6, 3.2)), "card")
            top = (holder.shape[0] - side) // 2
            motion = Motion.draw(rng)
            start, visible = index, -1
            frames = int((motion.length_s + 0.15) * fps)
            for i in range(frames):
                t = i / fps - 0.15  # a few empty frames before the card comes in
                if t < 0:
                    x, y, sigma = 2.0, 0.5, 0.0
                else:
                    x, y, sigma = trajectory(t, motion)
                x2, y2, _ = trajectory(max(0.0, t) + exposure, motion)
                speed = float(np.hypot((x2 - x) * width, (y2 - y) * height))
                angle = float(np.degrees(np.arctan2((y2 - y) * height, (x2 - x) * width)))
                frame, whole = render(
                    background, holder, (4, top, side), x, y, speed, angle, sigma, rng
                )
                if whole and visible < 0:
                    visible = index
                writer.write(cv2.cvtColor(frame, cv2.COLOR_GRAY2BGR))
                index += 1
            clips.append(Clip(code, start, visible, index))
    finally:
        writer.release()
    return clips


def read_frames(path: Path) -> list[Grey]:
    cap = cv2.VideoCapture(str(path))
    frames: list[Grey] = []
    while True:
        ok, image = cap.read()
        if not ok:
            break
        frames.append(to_grey(np.asarray(image, dtype=np.uint8)))
    cap.release()
    return frames


def offline(frames: Sequence[Grey], clips: Sequence[Clip], fps: float) -> dict[str, Any]:
    """Frame-by-frame reads without the child: latencies for zxing alone and the pipeline."""
    qr = zxingcpp.BarcodeFormat.QRCode
    pipeline = Pipeline()
    # The candidate blur step (sharpening where zxing located a code it could not decode):
    # kept in the default only if it reads the clips earlier.
    plain = Pipeline(fallbacks=(*Pipeline.DEFAULT_FALLBACKS, "roi_deblur"))
    out: dict[str, Any] = {"zxing-default": [], "pipeline": [], "deblur": [], "pipeline_ms": []}
    for clip in clips:
        done = {"zxing-default": False, "pipeline": False, "deblur": False}
        for j in range(clip.start, clip.end):
            began = time.perf_counter()
            result = pipeline.decode(frames[j])
            ms = (time.perf_counter() - began) * 1000
            out["pipeline_ms"].append(ms)
            if j < clip.visible:
                continue
            if not done["pipeline"] and clip.code in {c.text for c in result.codes}:
                done["pipeline"] = True
                out["pipeline"].append((j - clip.visible) * 1000 / fps + ms)
            if not done["deblur"]:
                other = plain.decode(frames[j])
                if clip.code in {c.text for c in other.codes}:
                    done["deblur"] = True
                    out["deblur"].append((j - clip.visible) * 1000 / fps + other.decode_ms)
            if not done["zxing-default"]:
                began = time.perf_counter()
                texts = {r.text for r in zxingcpp.read_barcodes(frames[j], formats=qr)}
                zms = (time.perf_counter() - began) * 1000
                if clip.code in texts:
                    done["zxing-default"] = True
                    out["zxing-default"].append((j - clip.visible) * 1000 / fps + zms)
        for name, hit in done.items():
            if not hit:
                out[name].append(float("inf"))
    return out


def through_child(path: Path, clips: Sequence[Clip], fps: float, trust: Any) -> list[float]:
    """Latency per clip through the real scanner child playing the video as a camera."""
    from loyalty import cards

    by_code = {clip.code: clip for clip in clips}
    latency: dict[str, float] = {}
    spec = SourceSpec.video(path, realtime=True)
    with ScannerProcess(spec, debounce_s=0.0) as scanner:
        deadline = time.monotonic() + 60 + (clips[-1].end / fps)
        while time.monotonic() < deadline:
            event = scanner.next_event(timeout=0.5)
            if isinstance(event, SourceEnded):
                break
            if not isinstance(event, CodeRead) or event.text in latency:
                continue
            clip = by_code.get(event.text)
            if clip is None:
                continue
            verdict = cards.verify(event.text, trust)
            verified_at = time.monotonic()
            if not isinstance(verdict, cards.Card):
                continue
            # When the first fully visible frame came off the "camera": the frame read was
            # captured at frame_ts, (index - visible) frame periods after it.
            seen_at = event.frame_ts - ((event.frame_index - 1) - clip.visible) / fps
            latency[event.text] = (verified_at - seen_at) * 1000
    return [latency.get(clip.code, float("inf")) for clip in clips]


def percentile(values: Sequence[float], q: float) -> float:
    ordered = sorted(values)  # a missed clip counts as infinitely late
    return ordered[min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))]


def cells(values: Sequence[float]) -> str:
    read = [v for v in values if v != float("inf")]
    missed = len(values) - len(read)

    def show(v: float) -> str:
        return "missed" if v == float("inf") else f"{v:.0f}"

    worst = max(read) if read else float("inf")
    median = percentile(values, 0.5)
    return f"{show(median)} | {show(percentile(values, 0.95))} | {show(worst)} | {missed}"


def _spin() -> None:
    import signal

    signal.signal(signal.SIGINT, signal.SIG_IGN)
    x = 0
    while True:
        x = (x * 1103515245 + 12345) & 0xFFFFFFFF


class Busy:
    """One process keeping one core busy, paused (SIGSTOP) or running (SIGCONT) on demand."""

    def __init__(self) -> None:
        import multiprocessing

        self.process = multiprocessing.get_context("spawn").Process(target=_spin, daemon=True)
        self.process.start()
        self.set(False)

    def set(self, busy: bool) -> None:
        import os
        import signal

        assert self.process.pid is not None
        os.kill(self.process.pid, signal.SIGCONT if busy else signal.SIGSTOP)

    def close(self) -> None:
        self.set(True)
        self.process.kill()
        self.process.join()


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cards", type=int, default=8, help="clips (cards) per frame rate")
    parser.add_argument("--fps", default="30,60")
    parser.add_argument("--seed", type=int, default=21)
    parser.add_argument(
        "--exposures",
        default="50,250",
        help="exposures as 1/N s: 50 is auto exposure indoors; 250 a short [camera] exposure",
    )
    args = parser.parse_args(argv)
    rates = [float(v) for v in args.fps.split(",")]
    exposures = [int(v) for v in args.exposures.split(",")]
    codes, trust = signed_codes(np.random.default_rng(args.seed), args.cards)
    rows: list[tuple[str, str, str, str]] = []
    costs: list[tuple[str, list[float]]] = []
    busy = Busy()
    try:
        with tempfile.TemporaryDirectory() as folder:
            runs = [(fps, exp) for exp in exposures for fps in rates]
            for n, (fps, exp) in enumerate(runs):
                path = Path(folder) / f"clips-{fps:g}-{exp}.avi"
                clips = make_video(path, codes, fps, args.seed + n, 1 / exp)
                frames = read_frames(path)
                off = offline(frames, clips, fps)
                rate = f"{fps:g} fps, 1/{exp} s"
                for reader, key in (
                    ("zxing-cpp alone, frame by frame", "zxing-default"),
                    ("pipeline, frame by frame", "pipeline"),
                    ("pipeline + roi_deblur", "deblur"),
                ):
                    rows.append((reader, rate, "idle", cells(off[key])))
                costs.append((f"{rate} clips", off["pipeline_ms"]))
                loads = ("idle", "loaded") if n % 2 == 0 else ("loaded", "idle")
                for load in loads:
                    busy.set(load == "loaded")
                    child = through_child(path, clips, fps, trust)
                    rows.append(("scanner child, video as camera", rate, load, cells(child)))
                busy.set(False)
    finally:
        busy.close()
    print(
        f"# Time to read: {args.cards} clips per frame rate at {SIZE[0]}x{SIZE[1]}, "
        "first fully visible frame -> verified card (ms); loaded = one core kept busy\n"
    )
    print("| reader | clips | load | p50 ms | p95 ms | max ms | missed |")
    print("|---|---|---|---|---|---|---|")
    for reader, rate, load, text in rows:
        print(f"| {reader} | {rate} | {load} | {text} |")
    print("\n## Pipeline cost per 720p clip frame (frame by frame, idle)\n")
    print("| clips | frames | median ms | p95 ms | max ms | frames > 33 ms |")
    print("|---|---|---|---|---|---|")
    for label, times in costs:
        print(
            f"| {label} | {len(times)} | {statistics.median(times):.2f} | "
            f"{percentile(times, 0.95):.2f} | {max(times):.1f} | {sum(t > 33 for t in times)} |"
        )


if __name__ == "__main__":
    main()
