"""Ledger benchmarks: durable stamp latency, balance lookup at 1,000,000 events, rules, cards.

Run: ``.venv/bin/python bench/ledger.py [--events 1000000] [--stamps 400] [--dir PATH]``.
Prints one table (median, p95, and ratios against the best alternative measured in the same
run). Aims on the 2-core counter box: durable stamp < 1 ms median, balance lookup < 1 ms,
open + balance on the 1,000,000-event ledger < 50 ms (what every headless command pays),
card verification within 1.5x of a bare Ed25519 verify.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import loyalty.schema  # noqa: E402,F401  (registers the migrations)
from loyalty.db import Store, iso  # noqa: E402
from loyalty.ledger import Ledger, note_platform_time  # noqa: E402
from loyalty.programs import Campaign, PastStamp, Program, evaluate  # noqa: E402

PROGRAM = Program(id="coffee", stamps_per_visit=1, max_stamps_per_day=1000)


def timed(fn: Callable[[], object], n: int) -> list[float]:
    """Per-call wall time in microseconds, ``n`` calls."""
    out: list[float] = []
    for _ in range(n):
        start = time.perf_counter_ns()
        fn()
        out.append((time.perf_counter_ns() - start) / 1000)
    return out


def p95(values: list[float]) -> float:
    return sorted(values)[max(0, int(len(values) * 0.95) - 1)]


def stamp_latency(directory: Path, synchronous: str, n: int) -> list[float]:
    path = directory / f"stamps-{synchronous.lower()}.db"
    with Store.open(path, synchronous=synchronous) as store:
        ledger = Ledger(store, shop_id="s", terminal_id="t1")
        counter = iter(range(10**9))
        ledger.stamp("CT-warm", PROGRAM)
        return timed(lambda: ledger.stamp(f"CT-{next(counter) % 500}", PROGRAM), n)


def fsync_latency(directory: Path, n: int) -> list[float]:
    """A bare 4 KiB write + fsync on the same disk: the floor under any durable commit."""
    path = directory / "fsync.bin"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT, 0o600)
    block = b"x" * 4096
    try:

        def once() -> None:
            os.pwrite(fd, block, 0)
            os.fsync(fd)

        return timed(once, n)
    finally:
        os.close(fd)


def build_big(path: Path, events: int) -> None:
    """A ledger with ``events`` events of one card, mostly synced, built with executemany."""
    Store.open(path).close()
    import sqlite3

    conn = sqlite3.connect(path)
    conn.execute("PRAGMA journal_mode = WAL")
    conn.execute("PRAGMA synchronous = OFF")  # building only; the measured store uses FULL
    base = datetime(2024, 1, 1, tzinfo=UTC)
    confirmed_at = base + timedelta(seconds=events + 10)
    chunk = 100_000
    pending_tail = 20
    for start in range(0, events, chunk):
        stop = min(events, start + chunk)
        rows = [
            (
                seq,
                f"00000000-0000-7000-8000-{seq:012d}",
                "stamp",
                "t1",
                "s",
                iso(base + timedelta(seconds=seq)),
                "CT-BIG",
                "coffee",
                1,
                f"t1-{seq}",
            )
            for seq in range(start + 1, stop + 1)
        ]
        conn.execute("BEGIN")
        conn.executemany(
            "INSERT INTO events (seq, id, kind, terminal_id, shop_id, occurred_at, card_id, "
            "program_id, stamps, receipt_no) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            rows,
        )
        conn.executemany(
            "INSERT INTO outbox (seq, state, card_id, updated_at) VALUES (?, ?, 'CT-BIG', ?)",
            [
                (
                    row[0],
                    "pending" if row[0] > events - pending_tail else "synced",
                    iso(base + timedelta(seconds=row[0])),
                )
                for row in rows
            ],
        )
        conn.execute("COMMIT")
    conn.execute("BEGIN")
    conn.execute(
        "INSERT INTO balances (card_id, stamps, events, unsynced, updated_at) "
        "VALUES ('CT-BIG', ?, ?, ?, ?)",
        [events, events, pending_tail, iso(confirmed_at)],
    )
    conn.execute(
        "INSERT INTO confirmed_balances (card_id, stamps, confirmed_at) VALUES ('CT-BIG', ?, ?)",
        [events - pending_tail, iso(confirmed_at)],
    )
    conn.execute("COMMIT")
    conn.close()


def floor_rows(big: Path, events: int, n: int) -> list[tuple[str, list[float], str]]:
    """Durable stamps on the big ledger, its time floor from one seek (no platform answer
    yet) or bounded by the platform's clock (three lookups), interleaved in blocks of 25."""
    blocks = max(1, n // 50)
    alone: list[float] = []
    bounded: list[float] = []
    heard = datetime(2024, 1, 1, tzinfo=UTC) + timedelta(seconds=events)
    with Store.open(big) as store:
        ledger = Ledger(store, shop_id="s", terminal_id="t1")
        counter = iter(range(10**9))

        def stamp() -> None:
            ledger.stamp(f"CT-F{next(counter) % 500}", PROGRAM)

        for _ in range(blocks):
            with store.write() as db:
                db.execute("DELETE FROM meta WHERE key LIKE 'platform_time%'")
            alone += timed(stamp, 25)
            with store.write() as db:
                note_platform_time(db, heard, up_to_seq=events - 20)
            bounded += timed(stamp, 25)
    return [
        (f"stamp commit, FULL, {events:,}-event ledger", alone, "floor"),
        ("  same, floor bounded by the platform's clock", bounded, "floor"),
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--stamps", type=int, default=400)
    parser.add_argument("--open-runs", type=int, default=10, help="Rounds of open + balance.")
    parser.add_argument("--dir", type=Path, default=None, help="Where to put the databases.")
    args = parser.parse_args()
    directory = args.dir or Path(tempfile.mkdtemp(prefix="bench-ledger-"))
    directory.mkdir(parents=True, exist_ok=True)
    rows: list[tuple[str, list[float], str]] = []

    full = stamp_latency(directory, "FULL", args.stamps)
    normal = stamp_latency(directory, "NORMAL", args.stamps)
    fsync = fsync_latency(directory, args.stamps)
    rows += [
        ("stamp commit, synchronous=FULL", full, "normal"),
        ("stamp commit, synchronous=NORMAL", normal, "normal"),
        ("bare write+fsync 4 KiB (disk floor)", fsync, "fsync"),
    ]

    big = directory / "big.db"
    started = time.perf_counter()
    build_big(big, args.events)
    built = time.perf_counter() - started
    with Store.open(big) as store:
        ledger = Ledger(store, shop_id="s", terminal_id="t1")
        balance = ledger.balance("CT-BIG")
        assert balance.local == args.events, balance
        assert balance.pending == 20 and balance.total == args.events, balance
        lookups = timed(lambda: ledger.balance("CT-BIG"), 2000)
        db = store.read()
        fold = timed(
            lambda: db.execute(
                "SELECT SUM(stamps) FROM events WHERE card_id = 'CT-BIG'"
            ).fetchone(),
            5,
        )
    rows += [
        (f"balance lookup, card with {args.events:,} events", lookups, "lookup"),
        ("  (for scale: fold of the card's events)", fold, "lookup"),
    ]
    rows += open_rows(big, args.events, args.open_runs)
    rows += floor_rows(big, args.events, args.stamps)

    now = datetime(2025, 3, 8, 11, tzinfo=UTC)
    program = Program(
        id="coffee",
        stamps_per_visit=1,
        cents_per_stamp=1000,
        max_stamps_per_day=5,
        min_minutes_between_stamps=10,
        campaigns=(Campaign(name="Saturday", weekdays=frozenset({6})),),
    )
    history = [PastStamp(now - timedelta(hours=h), 1) for h in range(1, 4)]
    rules = timed(lambda: evaluate(program, history, now=now, amount_cents=2550), 20_000)
    rows.append(("rule evaluation (3 past stamps, campaign)", rules, "rules"))

    card_rows = card_bench(directory)
    rows += card_rows

    print(f"\nledger benchmarks ({os.cpu_count()} cores, databases in {directory})")
    print(f"big database built in {built:.1f} s with executemany\n")
    header = f"{'what':<46} {'median µs':>10} {'p95 µs':>10} {'per second':>11} {'ratio':>7}"
    print(header)
    print("-" * len(header))
    best: dict[str, float] = {}
    for _name, values, group in rows:
        med = statistics.median(values)
        best[group] = min(best.get(group, med), med)
    for name, values, group in rows:
        med = statistics.median(values)
        ratio = med / best[group] if best[group] else 1.0
        print(f"{name:<46} {med:>10.1f} {p95(values):>10.1f} {1e6 / med:>11,.0f} {ratio:>6.2f}x")
    print(
        "\nratio: against the fastest row of the same kind in this run "
        "(stamp commits vs NORMAL, lookups vs the indexed lookup, opens vs the open without "
        "the full check, cards vs bare Ed25519)."
    )


def open_and_balance(path: Path, *, check: bool) -> None:
    """What every headless command pays: a cold ``Store.open`` and one balance, then close."""
    with Store.open(path, check=check) as store:
        Ledger(store, shop_id="s", terminal_id="t1").balance("CT-BIG")


def open_rows(path: Path, events: int, runs: int) -> list[tuple[str, list[float], str]]:
    """Open + balance as it is (header and schema only) against a full integrity check at
    every open (as before issue 10), interleaved so both see the same machine load."""
    quick: list[float] = []
    full: list[float] = []
    for n in range(runs):
        quick += timed(lambda: open_and_balance(path, check=False), 5)
        if n < max(1, runs // 5):  # the full check takes seconds: fewer runs of it
            full += timed(lambda: open_and_balance(path, check=True), 1)
    return [
        (f"open + balance, {events:,} events", quick, "open"),
        ("  open + full integrity_check + balance", full, "open"),
    ]


def card_bench(directory: Path) -> list[tuple[str, list[float], str]]:
    try:
        from city.issuer import Issuer
        from loyalty.cards import Card, verify
    except ImportError as exc:
        print(f"card verification: loyalty.cards not available ({exc}); not measured")
        return []
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    issuer = Issuer.open(directory / "issuer")
    _card_id, code = issuer.issue_card(expires_days=30)
    trust = issuer.trust_list()
    assert isinstance(verify(code, trust), Card)
    checked = timed(lambda: verify(code, trust), 5000)
    key = Ed25519PrivateKey.generate()
    message = os.urandom(60)
    signature = key.sign(message)
    public = key.public_key()
    bare = timed(lambda: public.verify(signature, message), 5000)
    return [
        ("card verify (loyalty.cards.verify)", checked, "cards"),
        ("bare Ed25519 verify (cryptography)", bare, "cards"),
    ]


if __name__ == "__main__":
    main()
