"""`ledger restore` never swaps the ledger file under a running counter app.

The app would go on recording into the file set aside, and every visit it said "recorded"
for after the restore would be gone from the restored ledger.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from sync.lock import CounterRunning, counter_open, no_counter_open
from terminal import app as terminal_app
from terminal import main as terminal_main
from terminal.cli_support import CliEnv
from tests.counter_kit import Counter
from tests.test_ledger_files import stamp_some


@pytest.fixture
def counter(tmp_path: Path) -> Counter:
    return Counter.made(tmp_path)


def test_restore_is_refused_while_a_counter_app_has_the_ledger_open(counter: Counter) -> None:
    stamp_some(counter, 3)
    backup = Path(json.loads(counter.ok("ledger", "backup", "--json"))["backup"])
    stamp_some(counter, 1)
    before = counter.ledger_path.read_bytes()
    with counter_open(counter.ledger_path):  # what run_app holds while the app runs
        refused = counter.run("ledger", "restore", str(backup), "--lang", "nl")
    assert refused.exit_code == 1
    assert refused.stderr.startswith("refused: counter_running: ")
    assert "toonbank-app" in refused.stderr and "Ctrl+Q" in refused.stderr
    assert counter.ledger_path.read_bytes() == before
    assert not list(counter.data_dir.glob("ledger.db.damaged-*"))
    # Once the app has quit, the same restore goes ahead.
    done = counter.run("ledger", "restore", str(backup), "--json")
    assert done.exit_code == 0, done.output
    assert json.loads(done.stdout)["events"] == 3


def test_the_counter_app_holds_the_ledger_while_it_runs(
    counter: Counter, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen: list[str] = []

    def run(self: object) -> None:  # stands in for Textual's run loop: is the ledger held?
        try:
            with no_counter_open(counter.ledger_path):
                seen.append("free")
        except CounterRunning:
            seen.append("held")

    monkeypatch.setattr(terminal_app.CounterApp, "run", run)
    monkeypatch.setattr(terminal_main.CameraScanner, "from_settings", lambda _s: None)
    env = CliEnv(data_dir=counter.data_dir, config=None)
    terminal_main.run_app(env)
    assert seen == ["held"]
    with no_counter_open(counter.ledger_path):  # and let go once the app has quit
        pass
