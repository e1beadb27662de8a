"""Benchmark: what the city-wide fraud signals cost each event batch, on both stores.

A platform holding ``--events`` stamps on ``--cards`` cards over 40 shops and 12 hours (a
day of a small city) records batches of ``--batch`` stamps from one terminal, on cards that
already have events city-wide that day, with the fraud checks on (``PlatformStore._fraud``:
the cards' events read city-wide, velocity and city daily limit judged, ``card_flags`` and
``staff_days`` written) and off (the step skipped), interleaved round by round so both see
the same machine load. PostgreSQL is started here from the Debian package, with its durable
defaults.

Prints per store: batches recorded, median and p95 milliseconds per batch with the checks on
and off, and the ratio on/off of the medians.

    .venv/bin/python bench/fraud.py [--stores sqlite,postgresql] [--rounds 200] [--batch 20]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from contextlib import ExitStack
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from uuid6 import uuid7  # noqa: E402

from city.store import PlatformStore, TerminalRecord, open_store  # noqa: E402
from loyalty.db import iso  # noqa: E402

SHOPS = 40
DAY = datetime.now(UTC).replace(hour=8, minute=0, second=0, microsecond=0)


def fill(store: PlatformStore, events: int, cards: int) -> list[TerminalRecord]:
    """Shops with a terminal each, and ``events`` stamps spread over them and 12 hours
    (with the defaults a card comes twice a day, hours apart: nothing is flagged)."""
    terminals = []
    for n in range(SHOPS):
        new = store.add_terminal(shop_name=f"shop {n}", shop_id=f"shop-{n}")
        terminals.append(TerminalRecord(new.terminal_id, new.shop_id, True))
    per_batch = 500
    step = timedelta(hours=12) / events
    for start in range(0, events, per_batch):
        at = terminals[(start // per_batch) % SHOPS]
        batch = [
            stamp(at, f"CT-{(start + k) % cards:05d}-BNCH", DAY + step * (start + k))
            for k in range(min(per_batch, events - start))
        ]
        store.record_batch(at, str(uuid7()), batch)
    return terminals


_seq = iter(range(1, 10**9))


def stamp(at: TerminalRecord, card: str, when: datetime) -> dict[str, Any]:
    number = next(_seq)
    return {
        "id": str(uuid7()),
        "seq": number,
        "kind": "stamp",
        "terminal_id": at.id,
        "shop_id": at.shop_id,
        "occurred_at": iso(when),
        "card_id": card,
        "program_id": "coffee",
        "stamps": 1,
        "receipt_no": f"{at.id}-{number}",
        "staff_id": "st-bench",
    }


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def run(store: PlatformStore, args: argparse.Namespace) -> dict[str, list[float]]:
    terminals = fill(store, args.events, args.cards)
    timings: dict[str, list[float]] = {"on": [], "off": []}
    real = PlatformStore._fraud

    def skipped(self: PlatformStore, *_: Any) -> None:
        return None

    for n in range(args.rounds):
        for mode in ("on", "off") if n % 2 == 0 else ("off", "on"):
            at = terminals[(n * 7 + len(mode)) % SHOPS]
            when = DAY + timedelta(hours=2, seconds=n)
            batch = [
                stamp(at, f"CT-{(n * args.batch + k) % args.cards:05d}-BNCH", when)
                for k in range(args.batch)
            ]
            PlatformStore._fraud = real if mode == "on" else skipped  # type: ignore[method-assign]
            started = time.perf_counter()
            store.record_batch(at, str(uuid7()), batch)
            timings[mode].append((time.perf_counter() - started) * 1000)
    PlatformStore._fraud = real  # type: ignore[method-assign]
    return timings


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stores", default="sqlite,postgresql")
    parser.add_argument("--rounds", type=int, default=200)
    parser.add_argument("--batch", type=int, default=20)
    parser.add_argument("--events", type=int, default=50_000)
    parser.add_argument("--cards", type=int, default=25_000)
    args = parser.parse_args()
    rows = []
    for kind in args.stores.split(","):
        with ExitStack() as stack:
            if kind == "sqlite":
                folder = Path(stack.enter_context(tempfile.TemporaryDirectory()))
                store = stack.enter_context(open_store(folder / "platform.db"))
            else:
                from tests.conftest_platform import PostgresServer

                server = PostgresServer.start(bench=True)
                stack.callback(server.stop)
                store = stack.enter_context(open_store(server.new_database()))
            timings = run(store, args)
        on, off = timings["on"], timings["off"]
        rows.append(
            (
                kind,
                len(on) + len(off),
                statistics.median(on),
                percentile(on, 0.95),
                statistics.median(off),
                percentile(off, 0.95),
                statistics.median(on) / statistics.median(off),
            )
        )
    print(
        f"batches of {args.batch} stamps, {args.events:,} events on {args.cards:,} cards "
        f"over {SHOPS} shops, {args.rounds} rounds interleaved"
    )
    header = ("store", "batches", "on p50 ms", "on p95 ms", "off p50 ms", "off p95 ms", "on/off")
    print("  ".join(f"{h:>11}" for h in header))
    for row in rows:
        name, count, *figures, ratio = row
        cells = [f"{name:>11}", f"{count:>11}", *(f"{v:>11.2f}" for v in figures)]
        print("  ".join([*cells, f"{ratio:>10.2f}x"]))


if __name__ == "__main__":
    main()
