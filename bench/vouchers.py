"""City voucher benchmarks: verify + spend at the counter, a shop's statement, the QR's size.

Run: ``.venv/bin/python bench/vouchers.py [--spends 400] [--statement 1000000] [--stores
sqlite,postgresql] [--dir PATH]``.

1. What the counter pays for a voucher: ``loyalty.vouchers.verify_voucher`` then
   ``VoucherBook.spend`` (one durable write: WAL, ``synchronous=FULL`` on a real file),
   against the cheapest honest alternative in the same ledger file, in the same run,
   interleaved call by call: a card read (``loyalty.cards.verify``) and a stamp on it
   (``Ledger.stamp``), which is one durable write too. Idle, and with one core kept busy by a
   spinning process (the counter box has two cores; the app and the scanner child share them).
   The cases run in a fresh random order each round, so none always follows the same one.
   Aim: verify + spend under 1 ms median.
2. ``citie-platform statement`` for a shop with 1,000,000 voucher spends in the period (5% of
   them voided), the events written with executemany (SQLite) or COPY (PostgreSQL, started
   here from the Debian package with its durable defaults, like bench/fleet.py), never through
   HTTP. Aim: under 2 s on SQLite. Timed as the command writes it (``statement.write``) in CSV,
   JSON and text into a file, and the whole command (``--csv``, Python's start-up and imports
   included). The summary of every campaign is timed on the same data.
3. A voucher code's length and its QR version at error correction M (what a printed voucher
   and a phone screen carry), against a card's.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import random
import resource
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime, timedelta
from functools import partial
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import loyalty.schema  # noqa: E402,F401  (registers the migrations)
from city import statement  # noqa: E402
from city.issuer import Issuer  # noqa: E402
from city.store import EVENT_COLUMNS, PlatformStore, open_store  # noqa: E402
from city.vouchers import summary  # noqa: E402
from loyalty.cards import Card, verify  # noqa: E402
from loyalty.db import Store, iso  # noqa: E402
from loyalty.ledger import Ledger  # noqa: E402
from loyalty.programs import Program  # noqa: E402
from loyalty.voucher_book import VoucherBook  # noqa: E402
from loyalty.vouchers import Voucher, verify_voucher, voucher_key  # noqa: E402

PROGRAM = Program(id="coffee", stamps_per_visit=1, max_stamps_per_day=1000)
Row = tuple[str, list[float], str]
"""(what, wall times in µs, the group its ratio is taken in)."""
Cpu = dict[str, list[float]]
"""CPU times in µs of this process, by row name (where the work is in this process)."""


def p95(values: list[float]) -> float:
    return sorted(values)[max(0, int(len(values) * 0.95) - 1)]


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


# -- 1. verify + spend ---------------------------------------------------------------------


def counter_rows(directory: Path, spends: int) -> list[Row]:
    """Voucher verify + spend against card verify + stamp, one ledger, interleaved."""
    issuer = Issuer.open(directory / "issuer")
    trust = issuer.trust_list()
    # One voucher per spend: each spend is a whole visit's (7,50 of a 25,00 voucher), and no
    # voucher reaches the offline cap, as at a real counter.
    vouchers = [
        issuer.issue_voucher(2500, city="Gent", campaign="bench")[1] for _ in range(2 * spends + 1)
    ]
    # The counter shows a scanned voucher's value before the amount is typed; that look-up
    # computes its key (``voucher_key``: scrypt, ~12 ms on purpose, cached per process), so
    # the spend itself finds it cached. Both are timed: first sight, and shown first.
    shown = [
        issuer.issue_voucher(2500, city="Gent", campaign="bench")[1] for _ in range(2 * spends + 1)
    ]
    shown_ids = [v.voucher_id for v in map(partial(verify_voucher, trust=trust), shown)]  # type: ignore[union-attr]
    cards = [issuer.issue_card()[1] for _ in range(50)]
    results: dict[tuple[str, str], list[float]] = {}
    busy = Busy()
    try:
        with Store.open(directory / "counter.db", synchronous="FULL") as store:
            ledger = Ledger(store, shop_id="s", terminal_id="t1")
            book = VoucherBook(ledger)
            next_voucher: Iterator[str] = iter(vouchers)
            next_shown: Iterator[str] = iter(shown)
            turn = iter(range(10**9))

            def voucher_spend() -> None:
                found = verify_voucher(next(next_voucher), trust)
                assert isinstance(found, Voucher), found
                book.spend(found, 750)

            def shown_spend() -> None:
                found = verify_voucher(next(next_shown), trust)
                assert isinstance(found, Voucher), found
                book.spend(found, 750)

            def card_stamp() -> None:
                card = verify(cards[next(turn) % len(cards)], trust)
                assert isinstance(card, Card), card
                ledger.stamp(card.card_id, PROGRAM)

            def voucher_verify() -> None:
                verify_voucher(vouchers[0], trust)

            def card_verify() -> None:
                verify(cards[0], trust)

            cases: list[tuple[str, Callable[[], None]]] = [
                ("voucher verify + spend, first sight", voucher_spend),
                ("voucher verify + spend, shown first", shown_spend),
                ("card verify + stamp", card_stamp),
                ("voucher verify", voucher_verify),
                ("card verify", card_verify),
            ]
            voucher_spend()  # warm up: the first writes create the tables' pages
            voucher_key(shown_ids[0])
            shown_spend()
            card_stamp()
            # A fresh order each round: a rotation kept each case behind the same neighbour
            # (voucher verify always right after a stamp's fsync, card verify right after it,
            # on warm caches), which showed the voucher read at twice the card's cost.
            shuffle = random.Random(13)
            for n in range(spends):
                for voucher_id in shown_ids[1 + 2 * n : 3 + 2 * n]:  # shown before the amount
                    voucher_key(voucher_id)
                loads = ("idle", "busy") if n % 2 == 0 else ("busy", "idle")
                order = shuffle.sample(cases, len(cases))
                for load in loads:
                    busy.set(load == "busy")
                    for name, fn in order:
                        start = time.perf_counter_ns()
                        fn()
                        elapsed = (time.perf_counter_ns() - start) / 1000
                        results.setdefault((name, load), []).append(elapsed)
                busy.set(False)
    finally:
        busy.close()
    return [
        (f"{name}, {load}", results[name, load], f"{'write' if '+' in name else 'read'}-{load}")
        for load in ("idle", "busy")
        for name, _fn in cases
    ]


def fsync_row(directory: Path, n: int) -> Row:
    """A bare 4 KiB write + fsync on the same disk: the floor under any durable commit."""
    fd = os.open(directory / "fsync.bin", os.O_WRONLY | os.O_CREAT, 0o600)
    block = b"x" * 4096
    out: list[float] = []
    try:
        for _ in range(n):
            start = time.perf_counter_ns()
            os.pwrite(fd, block, 0)
            os.fsync(fd)
            out.append((time.perf_counter_ns() - start) / 1000)
    finally:
        os.close(fd)
    return ("(for scale: bare write + fsync 4 KiB), idle", out, "fsync")


# -- 2. the statement ----------------------------------------------------------------------

SHOP = "shop-big"
PERIOD_START = date(2026, 3, 1)
PERIOD_DAYS = 31
SPENDS_PER_VOUCHER = 10
VOID_EVERY = 20
"""One spend in 20 is voided (5%)."""


def statement_events(spends: int) -> Iterator[tuple[Any, ...]]:
    """``spends`` voucher spends of one shop over March 2026 (4 terminals), one in 20 voided,
    then a tenth as many of another shop (which the statement must leave out); rows in
    ``EVENT_COLUMNS`` order."""
    # From 06:00 UTC on the first day to the last day's: inside the shop-local month.
    base = datetime.combine(PERIOD_START, datetime.min.time(), tzinfo=UTC) + timedelta(hours=6)
    step = (PERIOD_DAYS - 1) * 86400 / (1.1 * spends + spends // VOID_EVERY + 2)
    seq = 0
    for shop, count in ((SHOP, spends), ("shop-other", spends // 10)):
        for n in range(count):
            seq += 1
            terminal = f"{shop}-t{n % 4}"
            voucher = f"CV-{n // SPENDS_PER_VOUCHER:012d}"
            spend_id = f"00000000-0000-7000-8000-{seq:012d}"
            at = base + timedelta(seconds=seq * step)
            yield (
                spend_id, seq, "voucher_spend", terminal, shop, iso(at),
                iso(at + timedelta(seconds=30)), None, "voucher",
                0, 250, "EUR", None, f"{terminal}-{seq}", "{}", "b", 0, f"d{seq}", "",
                voucher, None, None,
            )  # fmt: skip
            if n % VOID_EVERY == VOID_EVERY - 1:
                seq += 1
                at = base + timedelta(seconds=seq * step)
                yield (
                    f"00000000-0000-7000-9000-{seq:012d}", seq, "void", terminal, shop,
                    iso(at), iso(at + timedelta(seconds=30)), None, "voucher", 0,
                    -250, "EUR", spend_id, f"{terminal}-{seq}", "{}", "b", 0, f"d{seq}", "",
                    voucher, None, None,
                )  # fmt: skip


def voucher_rows(spends: int) -> Iterator[tuple[Any, ...]]:
    issued = iso(datetime(2026, 2, 1, tzinfo=UTC))
    expires = iso(datetime(2027, 2, 1, tzinfo=UTC))
    for n in range(spends // SPENDS_PER_VOUCHER + 1):
        yield (
            f"CV-{n:012d}", 2500, "EUR", f"bench-{n % 3}", "Gent", "k", issued, expires,
            None, 0, 0, n + 1,
        )  # fmt: skip


VOUCHER_COLUMNS = (
    "id, face_cents, currency, campaign, city, kid, issued_at, expires_at, revoked_at, "
    "spent_cents, overspent, version"
)


def build_sqlite(path: Path, spends: int) -> None:
    """The platform's SQLite file (migrated by ``open_store``), filled with executemany."""
    import sqlite3

    open_store(str(path)).close()
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA synchronous = OFF")  # building only; the platform reads it as is
    marks = ", ".join("?" * len(EVENT_COLUMNS))
    with conn:
        conn.executemany(
            f"INSERT INTO events ({', '.join(EVENT_COLUMNS)}) VALUES ({marks})",
            statement_events(spends),
        )
        conn.executemany(
            f"INSERT INTO vouchers ({VOUCHER_COLUMNS}) VALUES ({', '.join('?' * 12)})",
            voucher_rows(spends),
        )
        fold_spent(conn)
    conn.execute("ANALYZE")
    conn.close()


def fold_spent(conn: Any) -> None:
    conn.execute(
        "UPDATE vouchers SET spent_cents = COALESCE((SELECT SUM(amount_cents) FROM events e "
        "WHERE e.voucher_id = vouchers.id), 0)"
    )


def build_postgres(url: str, spends: int) -> None:
    """The platform's PostgreSQL database (migrated by ``open_store``), filled with COPY."""
    import psycopg

    open_store(url).close()
    with psycopg.connect(url) as conn:
        with conn.cursor() as cur:
            with cur.copy(f"COPY events ({', '.join(EVENT_COLUMNS)}) FROM STDIN") as copy:
                for row in statement_events(spends):
                    copy.write_row(row)
            with cur.copy(f"COPY vouchers ({VOUCHER_COLUMNS}) FROM STDIN") as copy:
                for row in voucher_rows(spends):
                    copy.write_row(row)
            fold_spent(cur)
        conn.commit()
        conn.autocommit = True
        conn.execute("VACUUM ANALYZE")


def make_summary(store: PlatformStore) -> None:
    """Every campaign's books (``voucher summary``), read in one snapshot."""
    with store.read() as tx:
        summary(tx)


def expected_total(spends: int) -> int:
    return 250 * (spends - spends // VOID_EVERY)


def statement_file(
    store: PlatformStore, first: date, last: date, fmt: statement.Format, out: Path
) -> int:
    """``statement`` (``--csv``, ``--json`` or text) into a file, as the command writes it
    (``statement.write``); the total."""
    with out.open("w", encoding="utf-8") as file:
        totals = statement.write(store, SHOP, first, last, fmt, file)
    (total,) = totals.by_currency.values()
    return total.net_cents


def statement_command(target: str, directory: Path, out: Path) -> None:
    """The whole ``citie-platform statement --csv`` into a file: Python's start-up and
    imports included."""
    env = {**os.environ, "CITIE_PLATFORM_DB": target}
    with out.open("wb") as file:
        subprocess.run(
            [sys.executable, "-m", "city.cli", "statement", "--data-dir", str(directory),
             "--shop", SHOP, "--from", str(PERIOD_START), "--to",
             str(PERIOD_START + timedelta(days=PERIOD_DAYS - 1)), "--csv"],
            stdout=file, check=True, env=env, cwd=ROOT,
        )  # fmt: skip


def statement_rows(
    store_kind: str, target: str, spends: int, runs: int, directory: Path, cpu: Cpu
) -> list[Row]:
    """The statement as CSV, JSON and text into a file, the whole command, and the summary,
    timed on the built database, interleaved run by run; this process's CPU time beside the
    wall time (on a loaded machine the wall time waits for a core)."""
    last = PERIOD_START + timedelta(days=PERIOD_DAYS - 1)
    lines = spends + spends // VOID_EVERY
    names = {
        "csv": f"statement --csv, {lines:,} lines + total, {store_kind}",
        "json": f"statement --json into a file, {store_kind}",
        "text": f"statement (text) into a file, {store_kind}",
        "command": f"the whole command, --csv (start-up too), {store_kind}",
        "summary": f"voucher summary (every campaign), {store_kind}",
    }
    times: dict[str, list[float]] = {key: [] for key in names}

    def children_ns() -> int:  # the command's CPU is its child's
        usage = resource.getrusage(resource.RUSAGE_CHILDREN)
        return int((usage.ru_utime + usage.ru_stime) * 1e9)

    def timed(key: str, fn: Callable[[], object]) -> object:
        wall, used = time.perf_counter_ns(), time.process_time_ns() + children_ns()
        result = fn()
        times[key].append((time.perf_counter_ns() - wall) / 1000)
        spent = time.process_time_ns() + children_ns() - used
        cpu.setdefault(names[key], []).append(spent / 1000)
        return result

    out = directory / "statement.out"
    with open_store(target) as store:
        with store.write() as tx:  # the command refuses a shop it does not know
            tx.execute(
                "INSERT INTO shops (id, name, created_at) VALUES (?, ?, ?) ON CONFLICT DO NOTHING",
                [SHOP, "Bench", iso(datetime(2026, 1, 1, tzinfo=UTC))],
            )
        for _ in range(runs):
            for fmt in ("csv", "json", "text"):
                done = timed(fmt, partial(statement_file, store, PERIOD_START, last, fmt, out))
                assert done == expected_total(spends), done
            timed("command", lambda: statement_command(target, directory, out))
            timed("summary", lambda: make_summary(store))
    return [
        (names[key], times[key], "summary" if key == "summary" else "statement") for key in names
    ]


# -- 3. the QR ------------------------------------------------------------------------------


def qr_rows(directory: Path) -> list[tuple[str, int, int, int, str]]:
    """(what, characters, QR version at ECC M, modules a side, mode) of codes as issued."""
    import qrcode
    from qrcode.constants import ERROR_CORRECT_M
    from qrcode.util import MODE_8BIT_BYTE, MODE_ALPHA_NUM, MODE_NUMBER, QRData

    issuer = Issuer.open(directory / "qr-issuer")
    samples = {
        "card (CT1:)": [issuer.issue_card()[1] for _ in range(50)],
        "voucher 25,00 (CV1:)": [
            issuer.issue_voucher(2500, city="Gent", campaign="Lente 2026")[1] for _ in range(50)
        ],
        "voucher 1.000.000,00, 40-char campaign": [
            issuer.issue_voucher(100_000_000, city="Sint-Niklaas", campaign="C" * 40)[1]
            for _ in range(50)
        ],
    }
    modes = {MODE_NUMBER: "numeric", MODE_ALPHA_NUM: "alphanumeric", MODE_8BIT_BYTE: "byte"}
    rows = []
    for name, codes in samples.items():
        longest = max(codes, key=len)
        code = qrcode.QRCode(error_correction=ERROR_CORRECT_M, border=4)
        code.add_data(longest)
        code.make(fit=True)
        assert code.version is not None
        mode = modes.get(QRData(longest).mode, "?")
        rows.append((name, len(longest), code.version, 17 + 4 * code.version, mode))
    return rows


# -- the tables ------------------------------------------------------------------------------


def print_rows(title: str, rows: list[Row], cpu: Cpu | None = None) -> None:
    print(f"\n{title}\n")
    header = f"{'what':<52} {'median µs':>10} {'p95 µs':>10} {'per second':>11} {'ratio':>7}"
    if cpu is not None:
        header += f" {'cpu µs (this process)':>22}"
    print(header)
    print("-" * len(header))
    best: dict[str, float] = {}
    for _name, values, group in rows:
        best[group] = min(best.get(group, statistics.median(values)), statistics.median(values))
    for name, values, group in rows:
        med = statistics.median(values)
        ratio = med / best[group] if best[group] else 1.0
        line = f"{name:<52} {med:>10.1f} {p95(values):>10.1f} {1e6 / med:>11,.0f} {ratio:>6.2f}x"
        if cpu is not None:
            line += f" {statistics.median(cpu[name]):>22.1f}"
        print(line)


def load() -> str:
    return "load average {:.1f} {:.1f} {:.1f}".format(*os.getloadavg())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--spends", type=int, default=400, help="Interleaved rounds at the counter."
    )
    parser.add_argument("--statement", type=int, default=1_000_000, help="Spends in the statement.")
    parser.add_argument("--runs", type=int, default=3, help="Statement runs per store.")
    parser.add_argument("--stores", default="sqlite,postgresql")
    parser.add_argument("--dir", type=Path, default=None, help="Where to put the databases.")
    args = parser.parse_args()
    if args.dir is None:  # the million-spend databases take most of a gigabyte: removed after
        with tempfile.TemporaryDirectory(prefix="bench-vouchers-") as folder:
            run(args, Path(folder))
    else:
        args.dir.mkdir(parents=True, exist_ok=True)
        run(args, args.dir)


def run(args: argparse.Namespace, directory: Path) -> None:

    counter = counter_rows(directory, args.spends)
    counter.append(fsync_row(directory, args.spends))
    print(f"\nvoucher benchmarks ({os.cpu_count()} cores, files in {directory}; {load()})")
    print_rows(
        f"1. at the counter: {args.spends} rounds, interleaved call by call, idle and with one "
        "core kept busy\n   (durable: WAL, synchronous=FULL on a real file; ratio against the "
        "fastest row of the same kind and load)",
        counter,
    )

    rows: list[Row] = []
    cpu: Cpu = {}
    built: list[str] = []
    server = None
    try:
        for kind in args.stores.split(","):
            started = time.perf_counter()
            if kind == "sqlite":
                target = str(directory / "platform.db")
                build_sqlite(Path(target), args.statement)
            elif kind == "postgresql":
                if not list(Path("/usr/lib/postgresql").glob("*/bin/pg_ctl")):
                    built.append("postgresql not installed: not measured (make postgresql)")
                    continue
                from tests.conftest_platform import PostgresServer

                server = PostgresServer.start(bench=True)
                target = server.new_database()
                build_postgres(target, args.statement)
            else:
                raise SystemExit(f"unknown store {kind!r}: sqlite or postgresql")
            built.append(f"{kind} built in {time.perf_counter() - started:.1f} s")
            rows += statement_rows(kind, target, args.statement, args.runs, directory, cpu)
    finally:
        if server is not None:
            server.stop()
    print_rows(
        f"2. the books: a shop with {args.statement:,} voucher spends in a month (1 in "
        f"{VOID_EVERY} voided) and {args.statement // 10:,} of another shop; {args.runs} runs "
        f"each ({', '.join(built)}); {load()}\n   aim: statement < 2 s on SQLite; "
        "PostgreSQL's own CPU is not in the cpu column (the whole command's is its process's)",
        rows,
        cpu,
    )

    print("\n3. the QR a code makes (the longest of 50 issued), error correction M\n")
    header = f"{'code':<40} {'characters':>10} {'QR version':>10} {'modules':>8}  mode"
    print(header)
    print("-" * len(header))
    for name, chars, version, modules, mode in qr_rows(directory):
        print(f"{name:<40} {chars:>10} {version:>10} {modules:>8}  {mode}")


if __name__ == "__main__":
    main()
