"""Benchmark: 100,000 pending events synced to the reference platform on loopback.

Runs the platform as a subprocess (``citie-platform serve --port 0``), fills a fresh ledger
with pending events, then runs one sync in a separate worker process so that the peak memory
(ru_maxrss) measured is the terminal's alone. Scenarios: no faults at two batch sizes, and
10% injected faults (5% answered 500, 5% answers dropped after commit). Prints a table:
events/s end to end, per-batch round trip median and p95, peak RSS, requests, retries and
duplicates, with the ratio of each throughput to the best one measured in this run.

    .venv/bin/python bench/sync.py [--events 100000]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def fill(store: object, count: int, shop_id: str, terminal_id: str) -> None:
    """Append ``count`` events with pending outbox rows, as the ledger does (in bulk)."""
    from uuid6 import uuid7

    from loyalty.db import Store, iso

    assert isinstance(store, Store)
    start = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
    chunk = 10_000
    for offset in range(0, count, chunk):
        rows = []
        for n in range(offset, min(count, offset + chunk)):
            rows.append(
                (
                    str(uuid7()),
                    terminal_id,
                    shop_id,
                    iso(start + timedelta(seconds=n)),
                    f"CT-{n % 5000:04d}-BNCH",
                    f"{terminal_id}-{n + 1}",
                )
            )
        with store.write() as db:
            first = db.execute("SELECT COALESCE(MAX(seq), 0) FROM events").fetchone()[0] + 1
            db.conn.executemany(
                "INSERT INTO events (id, kind, terminal_id, shop_id, occurred_at, card_id, "
                "program_id, stamps, receipt_no, detail) "
                "VALUES (?, 'stamp', ?, ?, ?, ?, 'coffee', 1, ?, '{\"lines\": []}')",
                rows,
            )
            db.execute(
                "INSERT INTO outbox (seq, state, card_id, updated_at) "
                "SELECT seq, 'pending', card_id, occurred_at FROM events WHERE seq >= ?",
                [first],
            )


def worker(data_dir: Path) -> None:
    """Run one sync in this process and print its figures as JSON."""
    from config import load_settings
    from loyalty import schema as _schema  # noqa: F401
    from loyalty.db import Store
    from sync.job import run_sync
    from sync.outbox import SendProgress

    settings, _ = load_settings(data_dir=data_dir, environ={})
    store = Store.open(settings.database_path)
    marks: list[float] = []

    def progress(_step: SendProgress) -> None:
        marks.append(time.perf_counter())

    started = time.perf_counter()
    report = run_sync(settings, store, progress=progress, backup=False)
    elapsed = time.perf_counter() - started
    store.close()
    gaps = [b - a for a, b in zip([started, *marks], marks, strict=False)]
    push = report.push
    print(
        json.dumps(
            {
                "exit_code": report.exit_code,
                "seconds": elapsed,
                "synced": report.synced,
                "requests": push.requests if push else 0,
                "retries": push.retries if push else 0,
                "duplicates": push.duplicate if push else 0,
                "batch_median_ms": 1000 * statistics.median(gaps) if gaps else 0,
                "batch_p95_ms": 1000 * statistics.quantiles(gaps, n=20)[18]
                if len(gaps) > 20
                else 0,
                "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
            }
        )
    )


def scenario(name: str, events: int, batch: int, flags: list[str], root: Path) -> dict[str, object]:
    from config import load_settings
    from loyalty import schema as _schema  # noqa: F401
    from loyalty.db import Store
    from loyalty.keys import generate_key_pair
    from sync.pairing import pair_terminal
    from tests.conftest_platform import start_platform, write_config

    work = root / name.replace(" ", "-")
    platform = start_platform(work / "platform", *flags)
    try:
        data_dir = work / "terminal"
        data_dir.mkdir(parents=True)
        config = write_config(
            data_dir, "bench-shop", "bench-t1", f"\n[sync]\nbatch_size = {batch}\n"
        )
        settings, _ = load_settings(data_dir=data_dir, environ={})
        generate_key_pair(settings.private_key_path, settings.public_key_path)
        new = platform.add_terminal("bench-shop", "bench-t1")
        with Store.open(settings.database_path) as store:
            pair_terminal(
                settings,
                store,
                platform.url,
                new.token,
                config_path=config,
                config_is_managed=False,
            )
            fill(store, events, "bench-shop", "bench-t1")
        env = {k: v for k, v in os.environ.items() if not k.startswith("CITIE_")}
        done = subprocess.run(
            [sys.executable, __file__, "--worker", str(data_dir)],
            capture_output=True,
            text=True,
            check=True,
            env=env,
            cwd=ROOT,
        )
        figures: dict[str, object] = json.loads(done.stdout.strip().splitlines()[-1])
        on_platform = platform.query("SELECT COUNT(*), COUNT(DISTINCT id) FROM events")[0]
        figures.update(
            name=name,
            batch=batch,
            events=events,
            on_platform=on_platform[0],
            distinct=on_platform[1],
            faults_injected=sum(1 for r in platform.requests() if r["fault"] != "none"),
        )
        return figures
    finally:
        platform.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--worker", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        worker(args.worker)
        return
    faults = ["--fail-rate", "0.05", "--drop-after-commit-rate", "0.05", "--seed", "1"]
    runs = []
    with tempfile.TemporaryDirectory() as tmp:
        for name, batch, flags in (
            ("no faults", 500, []),
            ("no faults", 1000, []),  # the default [sync] batch_size
            ("no faults", 2000, []),
            ("10% faults", 1000, faults),
        ):
            runs.append(scenario(f"{name} b{batch}", args.events, batch, flags, Path(tmp)))
    best = max(r["events"] / r["seconds"] for r in runs)  # type: ignore[operator]
    header = (
        f"{'scenario':<16} {'events':>7} {'s':>6} {'events/s':>9} {'vs best':>7} "
        f"{'batch med ms':>12} {'p95 ms':>7} {'RSS MB':>7} {'reqs':>5} {'retries':>7} "
        f"{'dups':>5} {'faults':>6} {'platform':>8} {'exit':>4}"
    )
    print(header)
    print("-" * len(header))
    for r in runs:
        rate = r["events"] / r["seconds"]  # type: ignore[operator]
        print(
            f"{r['name']:<16} {r['events']:>7} {r['seconds']:>6.1f} {rate:>9.0f} "
            f"{rate / best:>7.2f} {r['batch_median_ms']:>12.1f} {r['batch_p95_ms']:>7.1f} "
            f"{r['peak_rss_mb']:>7.1f} {r['requests']:>5} {r['retries']:>7} "
            f"{r['duplicates']:>5} {r['faults_injected']:>6} {r['distinct']:>8} {r['exit_code']:>4}"
        )


if __name__ == "__main__":
    main()
