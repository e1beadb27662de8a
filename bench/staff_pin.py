"""Staff PIN check cost: scrypt parameters, and a whole ``StaffBook.check_pin`` on a ledger.

``.venv/bin/python bench/staff_pin.py [--runs N]`` prints a table (median, p95 in ms, ratio to
the fastest row). The scrypt rows run interleaved (one of each per round), so a busy machine
slows them alike. ``check_pin`` is the real path: the read, the hash with the stored
parameters, and the write transaction that records the outcome.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def p95(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=20)
    runs = parser.parse_args().runs

    import loyalty.schema  # noqa: F401
    from loyalty.db import Store
    from loyalty.staff import SCRYPT_N, Role, StaffBook

    rows: dict[str, list[float]] = {}
    settings = [(2**14, 8, 1), (2**15, 8, 1), (2**16, 8, 1)]
    salt = os.urandom(16)
    with tempfile.TemporaryDirectory() as tmp, Store.open(Path(tmp) / "ledger.db") as store:
        book = StaffBook(store)
        book.add("Anna", Role.MANAGER, "48213957")
        for _ in range(runs):
            for n, r, p in settings:
                start = time.perf_counter()
                hashlib.scrypt(b"48213957", salt=salt, n=n, r=r, p=p, dklen=32, maxmem=2**28)
                rows.setdefault(f"scrypt n=2**{n.bit_length() - 1} r={r} p={p}", []).append(
                    (time.perf_counter() - start) * 1000
                )
            start = time.perf_counter()
            book.check_pin("Anna", "48213957")
            rows.setdefault(
                f"check_pin (n=2**{SCRYPT_N.bit_length() - 1}, ledger read + write)", []
            ).append((time.perf_counter() - start) * 1000)
    best = min(statistics.median(v) for v in rows.values())
    width = max(len(name) for name in rows)
    print(f"{'what':<{width}}  {'median ms':>9}  {'p95 ms':>7}  {'ratio':>5}")
    for name, values in rows.items():
        median = statistics.median(values)
        print(f"{name:<{width}}  {median:>9.1f}  {p95(values):>7.1f}  {median / best:>5.2f}")
    print(f"({runs} runs each, interleaved)")


if __name__ == "__main__":
    main()
