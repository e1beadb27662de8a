"""Benchmark: a fleet of terminals syncing with one city platform over real HTTP, both stores.

For each store (SQLite file; PostgreSQL started here from the Debian package, durable defaults)
the platform runs as ``citie-platform serve --workers W`` and N simulated terminals push their
events and pull their updates, all at once or spread over a window. A terminal is a faithful
generator of what ``sync.outbox`` / ``sync.puller`` send: the protocol's own models make the
``BatchRequest`` bodies; one keep-alive HTTP/1.1 connection per terminal, written with asyncio
streams (httpx spends more CPU per request than the platform, and the fleet shares the cores);
the client's 20 s read timeout, Retry-After honoured (``sync.client.retry_after_seconds``), full
jitter backoff after other failures, and the client's 120 s budget, after which it gives up and
keeps its events (a give-up). Terminals are registered in bulk (pairing 10,000 terminals over
HTTP would only measure the pairing rate limit).

Prints, per scenario: events/s, batch round trip p50/p95/p99 (first try to accepted answer,
waits included), transport errors, 429s, retries, give-ups (runs that ran out of the client's
budget; the terminal comes back at its next sync for up to 15 minutes), terminals left with
unsynced events at the end, the platform's peak RSS (all its
processes), the CPU milliseconds per accepted batch of the platform (cpu/b) and of PostgreSQL
(db/b; SQLite runs inside the platform) and of the simulated fleet itself (fleet/b), the
machine's load average at the end, and an exactly-once check on the platform's database
(every generated id stored once, nothing else). Scenarios with one-event batches report commits/s.

    .venv/bin/python bench/fleet.py [--stores sqlite,postgresql] [--sizes 100,1000,10000]
        [--workers 2] [--quick]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import httpx  # noqa: E402
from uuid6 import uuid7  # noqa: E402

from city.store import PlatformStore, hash_secret, new_secret, open_store  # noqa: E402
from loyalty.db import iso  # noqa: E402
from sync.client import retry_after_seconds  # noqa: E402
from sync.protocol import BatchRequest, Event  # noqa: E402

READ_TIMEOUT = 20.0
BUDGET = 120.0
TERMINALS_PER_SHOP = 4


@dataclass(frozen=True)
class Scenario:
    """N terminals, each sending ``batches`` batches of ``batch`` events."""

    name: str
    terminals: int
    batches: int
    batch: int
    spread: float = 0.0
    """Seconds over which the terminals start (0: all at once)."""
    horizon: float = 0.0
    """Seconds a terminal keeps coming back after a give-up (0: one run only)."""


@dataclass
class Tally:
    """What the terminals saw."""

    latencies: list[float] = field(default_factory=list)
    accepted: int = 0
    batches_done: int = 0
    errors: int = 0
    limited: int = 0
    retries: int = 0
    give_ups: int = 0
    unsynced: int = 0
    pulls: int = 0
    first: float = 0.0
    last: float = 0.0


@dataclass
class FleetTerminal:
    """A registered terminal: ids and credential."""

    terminal_id: str
    shop_id: str
    credential: str


def register(store: PlatformStore, prefix: str, count: int) -> list[FleetTerminal]:
    """Shops and paired terminals, written in one transaction."""
    now = iso(datetime.now(UTC))
    made = [
        FleetTerminal(f"{prefix}-t{n}", f"{prefix}-s{n // TERMINALS_PER_SHOP}", new_secret())
        for n in range(count)
    ]
    shops = sorted({t.shop_id for t in made})
    with store.write() as tx:
        tx.executemany(
            "INSERT INTO shops (id, name, created_at) VALUES (?, ?, ?)",
            [(s, s, now) for s in shops],
        )
        tx.executemany(
            "INSERT INTO terminals (id, shop_id, credential_hash, created_at, paired_at) "
            "VALUES (?, ?, ?, ?, ?)",
            [(t.terminal_id, t.shop_id, hash_secret(t.credential), now, now) for t in made],
        )
    return made


def bodies(terminal: FleetTerminal, scenario: Scenario, ids: list[str]) -> list[bytes]:
    """The terminal's batches as the outbox sends them (stamps on the shop's cards)."""
    start = datetime.now(UTC) - timedelta(hours=1)
    out = []
    seq = 0
    for b in range(scenario.batches):
        events = []
        for _ in range(scenario.batch):
            seq += 1
            event_id = str(uuid7())
            ids.append(event_id)
            events.append(
                Event(
                    id=event_id,
                    seq=seq,
                    kind="stamp",
                    terminal_id=terminal.terminal_id,
                    shop_id=terminal.shop_id,
                    occurred_at=iso(start + timedelta(seconds=seq)),
                    card_id=f"CT-{random.randrange(200):04d}-{terminal.shop_id[-6:]}",
                    program_id="coffee",
                    stamps=1,
                    receipt_no=f"{terminal.terminal_id}-{seq}",
                )
            )
        batch = BatchRequest(terminal_id=terminal.terminal_id, batch_id=f"b{b}", events=events)
        out.append(batch.model_dump_json().encode())
    return out


async def run_terminal(
    client: Connection,
    terminal: FleetTerminal,
    batches: list[bytes],
    delay: float,
    tally: Tally,
    horizon: float,
) -> None:
    """Push every batch (retrying as the client does), then pull every updates page.

    A run that exhausts the client's budget gives up and keeps its events; the terminal tries
    again at its next sync (``[sync] interval_seconds``, 60 s) while within ``horizon``.
    """
    await asyncio.sleep(delay)
    headers = {"Authorization": f"Bearer {terminal.credential}"}
    end = time.monotonic() + horizon
    pending = list(batches)
    started = time.monotonic()
    while pending:
        deadline = time.monotonic() + BUDGET
        tries = 0
        gave_up = False
        while pending and not gave_up:
            wait: float | None = None
            try:
                answer = await client.request("POST", "/v1/events:batch", pending[0], headers)
                if answer.status_code == 200:
                    results = json.loads(answer.content)["results"]
                    tally.accepted += sum(r["status"] == "accepted" for r in results)
                    tally.batches_done += 1
                    tally.latencies.append(time.monotonic() - started)
                    tally.last = time.monotonic()
                    tries = 0
                    pending.pop(0)
                    started = time.monotonic()
                    continue
                if answer.status_code == 429:
                    tally.limited += 1
                    wait = retry_after_seconds(answer.headers.get("retry-after"))
                else:
                    tally.errors += 1
            except HttpError:
                tally.errors += 1
            tries += 1
            tally.retries += 1
            if wait is None:  # full jitter, doubling from 0.5 s up to 30 s, as sync.retry
                wait = random.uniform(0, min(30.0, 0.5 * 2 ** min(tries - 1, 16)))
            if time.monotonic() + wait > deadline:
                tally.give_ups += 1
                gave_up = True
            else:
                await asyncio.sleep(wait)
        if pending:
            if time.monotonic() + 60 > end:
                tally.unsynced += 1
                return
            await asyncio.sleep(random.uniform(45, 75))  # the next sync of this terminal
    cursor = "0"
    while True:
        try:
            answer = await client.request(
                "GET", f"/v1/terminals/{terminal.terminal_id}/updates?cursor={cursor}", b"", headers
            )
        except HttpError:
            tally.errors += 1
            return
        if answer.status_code == 429:
            tally.limited += 1
            await asyncio.sleep(retry_after_seconds(answer.headers.get("retry-after")))
            continue
        if answer.status_code != 200:
            tally.errors += 1
            return
        page = json.loads(answer.content)
        tally.pulls += 1
        cursor = page["next_cursor"]
        if not page["more"]:
            client.close()
            return


class HttpError(Exception):
    """The connection failed or timed out (the terminal counts it and retries)."""


@dataclass
class Answer:
    """One HTTP answer."""

    status_code: int
    headers: dict[str, str]
    content: bytes


class Connection:
    """One terminal's keep-alive HTTP/1.1 connection, written by hand: httpx costs more CPU per
    request than the platform does, and the fleet shares the machine's cores with it."""

    def __init__(self, host: str, port: int) -> None:
        self.host = host
        self.port = port
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def request(
        self, method: str, path: str, body: bytes = b"", headers: dict[str, str] | None = None
    ) -> Answer:
        try:
            return await asyncio.wait_for(self._request(method, path, body, headers or {}), 30)
        except (OSError, TimeoutError, asyncio.IncompleteReadError, ValueError) as exc:
            self.close()
            raise HttpError(str(exc)) from exc

    async def _request(
        self, method: str, path: str, body: bytes, headers: dict[str, str]
    ) -> Answer:
        if self.reader is not None and self.reader.at_eof():
            self.close()  # the platform closed the idle keep-alive connection: open a new one
        if self.writer is None:
            self.reader, self.writer = await asyncio.wait_for(
                asyncio.open_connection(self.host, self.port, limit=2**24), 10
            )
        assert self.reader is not None
        lines = [f"{method} {path} HTTP/1.1", f"Host: {self.host}", f"Content-Length: {len(body)}"]
        lines += [f"{k}: {v}" for k, v in headers.items()]
        if body:
            lines.append("Content-Type: application/json")
        self.writer.write(("\r\n".join(lines) + "\r\n\r\n").encode() + body)
        head = await asyncio.wait_for(self.reader.readuntil(b"\r\n\r\n"), READ_TIMEOUT)
        status_line, *header_lines = head.decode("latin-1").split("\r\n")
        found = {}
        for line in header_lines:
            if ":" in line:
                key, _, value = line.partition(":")
                found[key.strip().lower()] = value.strip()
        length = int(found.get("content-length", "0"))
        content = await asyncio.wait_for(self.reader.readexactly(length), READ_TIMEOUT)
        if found.get("connection", "").lower() == "close":
            self.close()
        return Answer(int(status_line.split()[1]), found, content)

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
        self.reader = self.writer = None


class RssSampler:
    """The peak resident memory of a process and all its descendants."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.peak = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> RssSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        while not self._stop.wait(0.25):
            self.peak = max(self.peak, tree_rss(self.pid))


def tree_pids(pid: int) -> list[int]:
    """A process and all its descendants."""
    found, todo = [], [pid]
    while todo:
        current = todo.pop()
        found.append(current)
        try:
            for task in Path(f"/proc/{current}/task").iterdir():
                todo += [int(c) for c in (task / "children").read_text().split()]
        except (OSError, ValueError):
            continue
    return found


def tree_cpu(pid: int) -> float:
    """CPU seconds (user + system) used so far by a process and its living descendants."""
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0
    for current in tree_pids(pid):
        try:
            fields = Path(f"/proc/{current}/stat").read_text().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])
        except (OSError, IndexError, ValueError):
            continue
    return total / ticks


def tree_rss(pid: int) -> int:
    total = 0
    todo = [pid]
    while todo:
        current = todo.pop()
        try:
            status = Path(f"/proc/{current}/status").read_text()
            total += next(
                int(line.split()[1]) * 1024
                for line in status.splitlines()
                if line.startswith("VmRSS")
            )
            for task in Path(f"/proc/{current}/task").iterdir():
                todo += [int(c) for c in (task / "children").read_text().split()]
        except (OSError, StopIteration, ValueError):
            continue
    return total


@dataclass
class Platform:
    """A ``citie-platform serve`` subprocess."""

    url: str
    process: subprocess.Popen[str]

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


def serve(data_dir: Path, db: str, workers: int, max_in_flight: int) -> Platform:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CITIE_")}
    process = subprocess.Popen(
        [
            sys.executable, "-m", "city.cli", "serve", "--port", "0", "--data-dir", str(data_dir),
            "--db", db, "--workers", str(workers), "--max-in-flight", str(max_in_flight),
        ],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, env=env, cwd=ROOT,
    )  # fmt: skip
    assert process.stdout is not None
    line = process.stdout.readline().strip()
    if not line.startswith("listening on "):
        process.kill()
        raise RuntimeError(f"the platform did not start: {line!r}")
    url = line.removeprefix("listening on ")
    for _ in range(400):
        try:
            if httpx.get(f"{url}/v1/health", timeout=1).status_code == 200:
                break
        except httpx.HTTPError:
            pass
        time.sleep(0.05)
    return Platform(url, process)


async def drive(
    url: str,
    fleet: list[FleetTerminal],
    plans: list[list[bytes]],
    spread: float,
    horizon: float = 0.0,
) -> Tally:
    tally = Tally()
    address = urlsplit(url)
    host, port = address.hostname or "127.0.0.1", address.port or 80
    tally.first = time.monotonic()
    await asyncio.gather(
        *(
            run_terminal(
                Connection(host, port),
                t,
                plan,
                random.uniform(0, spread) if spread else 0.0,
                tally,
                horizon,
            )
            for t, plan in zip(fleet, plans, strict=True)
        )
    )
    return tally


def run_scenario(
    store_kind: str,
    db: str,
    work: Path,
    scenario: Scenario,
    workers: int,
    max_in_flight: int,
    db_pid: int = 0,
) -> dict[str, Any]:
    prefix = f"f{int(time.time() * 1000) % 10**9}"
    with open_store(db) as store:
        fleet = register(store, prefix, scenario.terminals)
    ids: list[str] = []
    plans = [bodies(t, scenario, ids) for t in fleet]
    platform = serve(work / "platform", db, workers, max_in_flight)
    try:
        with RssSampler(platform.process.pid) as rss:
            cpu_before = tree_cpu(platform.process.pid)
            db_before = tree_cpu(db_pid) if db_pid else 0.0
            own_before = time.process_time()
            tally = asyncio.run(
                drive(platform.url, fleet, plans, scenario.spread, scenario.horizon)
            )
            own = time.process_time() - own_before
            cpu = tree_cpu(platform.process.pid) - cpu_before
            db_cpu = (tree_cpu(db_pid) - db_before) if db_pid else 0.0
    finally:
        platform.stop()
    with open_store(db) as store:
        stored = {
            r[0]
            for r in store.query(
                "SELECT e.id FROM events e JOIN terminals t ON t.id = e.terminal_id "
                "WHERE t.id LIKE ?",
                [f"{prefix}-%"],
            )
        }
    wanted = set(ids)
    if stored == wanted:
        exact = "ok"
    elif stored < wanted and tally.unsynced:
        exact = f"ok, {len(wanted - stored)} still on {tally.unsynced} terminals"
    else:
        exact = f"FAIL: {len(stored & wanted)} of {len(wanted)}, {len(stored - wanted)} extra"
    span = max(tally.last - tally.first, 1e-9)
    lat = sorted(tally.latencies) or [0.0]

    def pct(p: float) -> float:
        return lat[min(len(lat) - 1, int(p * len(lat)))]

    return {
        "store": store_kind,
        "scenario": scenario.name,
        "terminals": scenario.terminals,
        "events": len(ids),
        "events_s": tally.accepted / span,
        "commits_s": tally.batches_done / span,
        "p50": statistics.median(lat),
        "p95": pct(0.95),
        "p99": pct(0.99),
        "errors": tally.errors,
        "r429": tally.limited,
        "retries": tally.retries,
        "give_ups": tally.give_ups,
        "unsynced": tally.unsynced,
        "rss_mb": rss.peak / 2**20,
        "cpu_ms_batch": 1000 * cpu / max(tally.batches_done, 1),
        "db_cpu_ms_batch": 1000 * db_cpu / max(tally.batches_done, 1),
        "fleet_cpu_ms_batch": 1000 * own / max(tally.batches_done, 1),
        "load": os.getloadavg()[0],
        "exact": exact,
        "seconds": span,
    }


def scenarios(sizes: list[int], quick: bool) -> list[Scenario]:
    out = []
    for n in sizes:
        # Terminals that gave up come back at their next sync, for up to 15 minutes.
        out.append(Scenario(f"{n} at once", n, 1, 20, horizon=900.0))
        if n < 10_000:
            out.append(Scenario(f"{n} spread", n, 1, 20, spread=max(10.0, n / 200)))
    out.append(Scenario("1-event batches", 50 if quick else 200, 10, 1))
    out.append(Scenario("1000-event batches", 4 if quick else 10, 5, 1000))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stores", default="sqlite,postgresql")
    parser.add_argument("--sizes", default="100,1000")
    parser.add_argument("--workers", type=int, default=2, help="Workers on PostgreSQL.")
    parser.add_argument("--sqlite-workers", type=int, default=2, help="Workers on SQLite.")
    parser.add_argument(
        "--big-stores", default="postgresql", help="Stores that run the 10,000-terminal scenario."
    )
    parser.add_argument("--max-in-flight", type=int, default=256)
    parser.add_argument("--quick", action="store_true", help="Smaller batch scenarios.")
    parser.add_argument("--only", default="", help="Run only scenarios whose name has this.")
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",") if s]
    rows = []
    with tempfile.TemporaryDirectory(prefix="citie-fleet-") as tmp:
        work = Path(tmp)
        server = None
        try:
            stores = []
            db_pids: dict[str, int] = {}
            for kind in args.stores.split(","):
                if kind == "sqlite":
                    stores.append((kind, str(work / "platform" / "platform.db")))
                elif kind == "postgresql":
                    from tests.conftest_platform import PostgresServer

                    server = PostgresServer.start(bench=True)
                    stores.append((kind, server.new_database()))
                    pid_file = server.folder / "data" / "postmaster.pid"
                    db_pids[kind] = int(pid_file.read_text().split()[0])
            plan = [s for s in scenarios(sizes, args.quick) if args.only in s.name]
            # Interleaved: each scenario on every store before the next scenario.
            for scenario in plan:
                for kind, db in stores:
                    if scenario.terminals >= 10_000 and kind not in args.big_stores.split(","):
                        continue
                    workers = args.sqlite_workers if kind == "sqlite" else args.workers
                    row = run_scenario(
                        kind, db, work, scenario, workers, args.max_in_flight, db_pids.get(kind, 0)
                    )
                    rows.append(row)
                    print(json.dumps(row), file=sys.stderr, flush=True)
        finally:
            if server is not None:
                server.stop()
    print_table(rows, args.workers, args.sqlite_workers, args.max_in_flight)


def print_table(
    rows: list[dict[str, Any]], workers: int, sqlite_workers: int, max_in_flight: int
) -> None:
    print(
        f"\nfleet: serve --workers {sqlite_workers} on SQLite, {workers} on PostgreSQL, "
        f"--max-in-flight {max_in_flight}, "
        f"{os.cpu_count()} cores shared by the platform, the database and the fleet"
    )
    head = (
        f"{'scenario':<20} {'store':<10} {'events':>7} {'events/s':>9} {'vs best':>7} "
        f"{'commits/s':>9} {'p50 s':>6} {'p95 s':>6} {'p99 s':>6} {'err':>5} {'429':>6} "
        f"{'retries':>7} {'gave up':>7} {'left':>5} {'RSS MB':>7} {'wall s':>7} {'cpu/b':>6} "
        f"{'db/b':>5} {'fleet/b':>7} {'load':>5}  exactly once"
    )
    print(head)
    print("-" * len(head))
    for name in dict.fromkeys(r["scenario"] for r in rows):
        group = [r for r in rows if r["scenario"] == name]
        best = max(r["events_s"] for r in group) or 1.0
        for r in group:
            print(
                f"{r['scenario']:<20} {r['store']:<10} {r['events']:>7} {r['events_s']:>9.0f} "
                f"{r['events_s'] / best:>7.2f} {r['commits_s']:>9.0f} {r['p50']:>6.2f} "
                f"{r['p95']:>6.2f} {r['p99']:>6.2f} {r['errors']:>5} {r['r429']:>6} "
                f"{r['retries']:>7} {r['give_ups']:>7} {r['unsynced']:>5} {r['rss_mb']:>7.0f} "
                f"{r['seconds']:>7.1f}"
                f" {r['cpu_ms_batch']:>6.1f} {r['db_cpu_ms_batch']:>5.1f} "
                f"{r['fleet_cpu_ms_batch']:>7.1f} {r['load']:>5.1f}  {r['exact']}"
            )


if __name__ == "__main__":
    main()
