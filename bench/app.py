"""Counter app benchmarks: process start to first screen ready, and card to "recorded".

``.venv/bin/python bench/app.py [--runs N]`` prints a table (median, p95, ratio to the best
row of its group). The card path is timed three ways, each then F2 to the commit:

* a video file as the camera (``[camera] device = <file>``, written with ``cv2.VideoWriter``):
  the scanner child plays it at its frame rate as a camera delivers frames; each card is in
  view for a while after an empty scene, and the time starts at the frame in which the card
  was first read (the child stamps each frame with ``time.monotonic()`` as it is delivered);
* the real scanner child decoding a PNG card (``feed_file``): the decode path without the
  frame source;
* a typed code.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def p95(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]


async def _ready_child() -> None:
    from tests.test_app_kit import SIZE, make_counter

    started = float(os.environ["BENCH_T0"])
    with tempfile.TemporaryDirectory() as tmp:
        app = make_counter(Path(tmp)).app()
        async with app.run_test(size=SIZE) as pilot:
            await pilot.pause()
            print(f"{(time.time() - started) * 1000:.1f}")


FPS = 30.0
EMPTY_FRAMES = 15
CARD_FRAMES = 25
"""Each card: 0.5 s of an empty scene, then 0.83 s in view (F2 is pressed as it is shown)."""


def write_camera_video(path: Path, codes: list[str], size: tuple[int, int]) -> None:
    """An empty scene, then a card held up, for each code in turn (30 fps, MJPG)."""
    import numpy as np

    from tests.qrimages import add_noise, noisy_background, scene, write_video

    rng = np.random.default_rng(7)
    width, height = size
    module = 4.0 * height / 480
    empties = [noisy_background(width, height, rng) for _ in range(4)]

    def frames() -> Iterator[Any]:
        for n, code in enumerate(codes):
            yield from (empties[(n + k) % len(empties)] for k in range(EMPTY_FRAMES))
            card = add_noise(scene(code, rng, size=size, module_px=module), 6, rng)
            yield from (card for _ in range(CARD_FRAMES))

    write_video(path, frames(), fps=FPS)


async def video_to_recorded(
    runs: int, size: tuple[int, int]
) -> tuple[list[float], list[float], list[float], int]:
    """Frame -> code read in the app process, -> card shown, -> F2 -> recorded; and misses."""
    from scanner.events import CodeRead
    from terminal import messages as msg
    from terminal.services import CameraScanner
    from tests.test_app_kit import SIZE, make_counter

    read: list[float] = []
    shown: list[float] = []
    total: list[float] = []
    missed = 0
    with tempfile.TemporaryDirectory() as tmp:
        video = Path(tmp) / "camera.avi"
        width, height = size
        counter = make_counter(
            Path(tmp),
            overrides={
                "program": {"max_stamps_per_day": 1000},
                "camera": {
                    "enabled": True,
                    "device": str(video),
                    "width": width,
                    "height": height,
                },
            },
        )
        cards = {counter.card(f"CT-VID-{n:04d}"): f"CT-VID-{n:04d}" for n in range(runs)}
        write_camera_video(video, list(cards), size)
        frame_at: dict[str, float] = {}
        read_at: dict[str, float] = {}
        shown_at: dict[str, float] = {}
        recorded_at: dict[str, float] = {}

        class TimedScanner(CameraScanner):
            """The app's scanner, noting when each card's frame was delivered and read."""

            def start(self, on_event: Any) -> None:
                def tap(event: object) -> None:
                    if isinstance(event, CodeRead) and event.text in cards:
                        card_id = cards[event.text]
                        frame_at.setdefault(card_id, event.frame_ts)
                        read_at.setdefault(card_id, time.monotonic())
                    on_event(event)

                super().start(tap)

        def hook(message: Any) -> None:
            if isinstance(message, msg.CardShown):
                shown_at.setdefault(message.view.card_id, time.monotonic())
            elif isinstance(message, msg.StampRecorded) and message.view is not None:
                recorded_at.setdefault(message.view.card_id, time.monotonic())

        scanner = TimedScanner.from_settings(counter.settings)
        assert scanner.source.kind == "video", scanner.source
        app = counter.app(scanner=scanner)
        async with app.run_test(size=SIZE, message_hook=hook) as pilot:
            for card_id in cards.values():
                # Each card is in view for CARD_FRAMES after EMPTY_FRAMES; a card not shown
                # well after its turn is a miss (the scene was not read), not a hang.
                deadline = time.monotonic() + 10
                while card_id not in shown_at and time.monotonic() < deadline:
                    await pilot.pause(0.001)
                if card_id not in shown_at or app.card is None or app.card.card_id != card_id:
                    missed += 1
                    continue
                await pilot.press("f2")
                while card_id not in recorded_at:
                    await pilot.pause(0.001)
                start = frame_at[card_id]
                read.append((read_at[card_id] - start) * 1000)
                shown.append((shown_at[card_id] - start) * 1000)
                total.append((recorded_at[card_id] - start) * 1000)
        counter.store.close()
    return read, shown, total, missed


def start_to_ready(runs: int) -> list[float]:
    times = []
    for _ in range(runs):
        env = {**os.environ, "BENCH_T0": repr(time.time())}
        out = subprocess.run(
            [sys.executable, __file__, "--ready-child"],
            capture_output=True,
            text=True,
            env=env,
            check=True,
        )
        times.append(float(out.stdout.strip().splitlines()[-1]))
    return times


async def card_to_recorded(runs: int, *, camera: bool) -> tuple[list[float], list[float]]:
    from receipts.cards import render_card_png
    from terminal import messages as msg
    from terminal.services import CameraScanner
    from terminal.widgets.code_input import CodeInput
    from tests.test_app_kit import SIZE, make_counter, settle

    shown: list[float] = []
    total: list[float] = []
    with tempfile.TemporaryDirectory() as tmp:
        counter = make_counter(Path(tmp), overrides={"program": {"max_stamps_per_day": 1000}})
        scanner = CameraScanner.from_settings(counter.settings, camera=False) if camera else None
        marks: dict[str, float] = {}

        def hook(message: Any) -> None:
            if isinstance(message, msg.CardShown):
                marks.setdefault("shown", time.perf_counter())
            elif isinstance(message, msg.StampRecorded):
                marks.setdefault("recorded", time.perf_counter())

        app = counter.app(scanner=scanner)
        async with app.run_test(size=SIZE, message_hook=hook) as pilot:
            await settle(pilot)
            if scanner is not None:
                while scanner.process is None or not scanner.process.pid:
                    await pilot.pause(0.05)
            for n in range(runs):
                card_id = f"CT-BENCH-{n:04d}"
                code = counter.card(card_id)
                marks.clear()
                app.clear_card()
                await pilot.pause()
                t0 = time.perf_counter()
                if scanner is not None:
                    png = Path(tmp) / f"{card_id}.png"
                    png.write_bytes(render_card_png(code, card_id, language="en"))
                    t0 = time.perf_counter()
                    scanner.feed_file(png)
                    while "shown" not in marks:
                        await pilot.pause(0.001)
                else:
                    app.screen.query_one("#code", CodeInput).value = code
                    await pilot.press("enter")
                    while "shown" not in marks:
                        await pilot.pause(0.001)
                await pilot.press("f2")
                while "recorded" not in marks:
                    await pilot.pause(0.001)
                shown.append((marks["shown"] - t0) * 1000)
                total.append((marks["recorded"] - t0) * 1000)
        counter.store.close()
    return shown, total


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--ready-child", action="store_true")
    parser.add_argument(
        "--video-size", default="1280x720", help="the video camera's frame size (WxH)"
    )
    args = parser.parse_args()
    if args.ready_child:
        asyncio.run(_ready_child())
        return
    rows: list[tuple[str, list[float]]] = []
    rows.append(("process start -> first screen ready", start_to_ready(max(3, args.runs // 4))))
    width, height = (int(v) for v in args.video_size.lower().split("x"))
    video = f"{width}x{height}"
    vid_read, vid_shown, vid_total, missed = asyncio.run(
        video_to_recorded(args.runs, (width, height))
    )
    cam_shown, cam_total = asyncio.run(card_to_recorded(args.runs, camera=True))
    typed_shown, typed_total = asyncio.run(card_to_recorded(args.runs, camera=False))
    rows += [
        (f"video camera {video} frame -> code read (app)", vid_read),
        (f"video camera {video} frame -> card shown", vid_shown),
        ("scanner child (PNG frame) -> card shown", cam_shown),
        ("typed code -> card shown", typed_shown),
        (f"video camera {video} frame -> F2 -> recorded", vid_total),
        ("scanner child (PNG frame) -> F2 -> recorded", cam_total),
        ("typed code -> F2 -> recorded", typed_total),
    ]
    groups = {0: [0], 1: [1], 2: [2, 3, 4], 3: [5, 6, 7]}
    if missed:
        print(f"video camera: {missed} of {args.runs} cards not shown in their turn")
    print(f"{'measure':<50} {'n':>4} {'median ms':>10} {'p95 ms':>9} {'x best':>7}")
    for members in groups.values():
        medians = [statistics.median(rows[i][1]) for i in members if rows[i][1]]
        best = min(medians, default=1.0)
        for i in members:
            name, values = rows[i]
            if not values:
                print(f"{name:<50} {0:>4} {'-':>10} {'-':>9} {'-':>7}")
                continue
            med = statistics.median(values)
            print(
                f"{name:<50} {len(values):>4} {med:>10.1f} {p95(values):>9.1f} {med / best:>7.2f}"
            )


if __name__ == "__main__":
    main()
