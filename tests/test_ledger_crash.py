"""Kill -9 a process recording stamps, again and again: nothing it acknowledged is ever lost.

A child process opens the ledger and records stamps in a loop, printing each event id only
after ``Ledger.stamp`` returned (the commit returned). The parent kills it with SIGKILL at a
random moment, starts the next one on the same file, and at the end checks that every printed
id is in the database, ``integrity_check`` says ok and the balances equal the fold of events.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import loyalty.schema  # noqa: F401  (registers the migrations)
from loyalty.db import Store
from loyalty.ledger import Ledger

ROOT = Path(__file__).resolve().parents[1]
CYCLES = 30

CHILD = """
import sys
import loyalty.schema
from pathlib import Path
from loyalty.db import Store
from loyalty.ledger import Ledger
from loyalty.programs import Program

program = Program(id="coffee", stamps_per_visit=1, max_stamps_per_day=1000)
# Imports are done before the previous child is killed; wait for the parent's go.
sys.stdin.readline()
store = Store.open(Path(sys.argv[1]))
ledger = Ledger(store, shop_id="s", terminal_id="t1")
print("ready", flush=True)
n = int(sys.argv[2])
while True:
    n += 1
    recorded = ledger.stamp(f"CT-{n % 997}", program)
    sys.stdout.write(recorded.event.id + "\\n")
    sys.stdout.flush()
"""


def test_sigkill_never_loses_an_acknowledged_stamp(tmp_path: Path) -> None:
    path = tmp_path / "ledger.db"
    Store.open(path).close()
    rng = random.Random(20250307)
    acknowledged: list[str] = []
    partial_lines = 0
    env = {**os.environ, "PYTHONPATH": str(ROOT)}

    def spawn(cycle: int) -> subprocess.Popen[bytes]:
        return subprocess.Popen(
            [sys.executable, "-c", CHILD, str(path), str(cycle * 10_000)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=env,
            cwd=ROOT,
        )

    upcoming = spawn(0)
    for cycle in range(CYCLES):
        child = upcoming
        if cycle + 1 < CYCLES:
            upcoming = spawn(cycle + 1)  # its imports overlap this cycle
        assert child.stdin is not None and child.stdout is not None
        child.stdin.write(b"go\n")
        child.stdin.flush()
        ready = child.stdout.readline()
        assert ready == b"ready\n", child.stderr.read() if child.stderr else ready
        time.sleep(rng.uniform(0.0, 0.3))
        child.send_signal(signal.SIGKILL)
        # Read through the same buffered reader as the "ready" line: readline() may have read
        # ahead, and communicate() would read the raw pipe and miss those acknowledged ids.
        out = child.stdout.read()
        child.wait(timeout=30)
        for stream in (child.stdin, child.stdout, child.stderr):
            if stream is not None:
                stream.close()
        assert child.returncode == -signal.SIGKILL
        lines = out.decode("ascii", "replace").split("\n")
        # A line without its newline was never fully acknowledged.
        if lines[-1]:
            partial_lines += 1
        acknowledged += [line for line in lines[:-1] if line]

    with Store.open(path) as store:
        rows = store.read().execute("SELECT id FROM events").fetchall()
        stored = {row[0] for row in rows}
        found = [event_id for event_id in acknowledged if event_id in stored]
        lost = len(acknowledged) - len(found)
        check = Ledger(store, shop_id="s", terminal_id="t1").check()
        print(
            f"\ncrash test: cycles={CYCLES} acknowledged={len(acknowledged)} "
            f"found={len(found)} lost={lost} in_db={len(stored)} "
            f"partial_lines={partial_lines} integrity={check.integrity[0]} "
            f"balances_match={not check.mismatches}"
        )
        assert len(acknowledged) >= CYCLES  # the kills did land while stamps were recorded
        assert lost == 0
        assert check.integrity == ["ok"]
        assert check.ok, check.to_json()
        # At most one unacknowledged commit per kill: committed, killed before the print.
        assert len(stored) - len(acknowledged) <= CYCLES
