"""Counter app benchmarks: process start to first screen ready, and card to "recorded".

``.venv/bin/python bench/app.py [--runs N]`` prints a table (median, p95, ratio to the best
row of its group). The card path is timed with the real scanner child decoding a PNG card
(``feed_file``, the camera's decode path) and with a typed code, then F2 to the commit.
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
    args = parser.parse_args()
    if args.ready_child:
        asyncio.run(_ready_child())
        return
    rows: list[tuple[str, list[float]]] = []
    rows.append(("process start -> first screen ready", start_to_ready(max(3, args.runs // 4))))
    cam_shown, cam_total = asyncio.run(card_to_recorded(args.runs, camera=True))
    typed_shown, typed_total = asyncio.run(card_to_recorded(args.runs, camera=False))
    rows += [
        ("scanner child (PNG frame) -> card shown", cam_shown),
        ("typed code -> card shown", typed_shown),
        ("scanner child (PNG frame) -> F2 -> recorded", cam_total),
        ("typed code -> F2 -> recorded", typed_total),
    ]
    groups = {0: [0], 1: [1, 2], 2: [3, 4]}
    print(f"{'measure':<46} {'n':>4} {'median ms':>10} {'p95 ms':>9} {'x best':>7}")
    for members in groups.values():
        best = min(statistics.median(rows[i][1]) for i in members)
        for i in members:
            name, values = rows[i]
            med = statistics.median(values)
            print(
                f"{name:<46} {len(values):>4} {med:>10.1f} {p95(values):>9.1f} {med / best:>7.2f}"
            )


if __name__ == "__main__":
    main()
