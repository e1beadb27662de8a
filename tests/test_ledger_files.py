"""Issue 10 A2, A4: a lost ledger is refused and restored; customer data files are private.

Real `init`ed data directories, real SQLite files, the real CLI; the restore is checked end
to end against the reference platform over HTTP.
"""

from __future__ import annotations

import json
import os
import sqlite3
import stat
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from city.issuer import Issuer
from city.sqlite_store import SqliteStore
from loyalty.db import LedgerLost, Store, restore
from loyalty.ledger import Ledger, newest_backup
from loyalty.programs import Program
from loyalty.trust import install_trust
from sync.job import run_sync
from sync.retry import RetryPolicy
from terminal.cli_support import CliEnv, Refused
from terminal.main import run_app
from tests.conftest_platform import PairedTerminal, RunningPlatform
from tests.counter_kit import Counter

PROGRAM = Program(id="coffee", reward_threshold=3, max_stamps_per_day=1000)


@pytest.fixture
def counter(tmp_path: Path) -> Counter:
    return Counter.made(tmp_path)


def stamp_some(counter: Counter, n: int) -> None:
    for _ in range(n):
        _card_id, code = counter.issuer.issue_card(expires_days=30)
        counter.ok("stamp", code)


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@contextmanager
def umask(value: int) -> Iterator[None]:
    old = os.umask(value)
    try:
        yield
    finally:
        os.umask(old)


# --- A2: an empty, missing or foreign ledger is not a new ledger ----------------------------


def damage(path: Path, how: str) -> None:
    for tail in ("-wal", "-shm"):
        Path(f"{path}{tail}").unlink(missing_ok=True)
    if how == "empty":
        path.write_bytes(b"")  # truncate -s 0
    elif how == "missing":
        path.unlink()
    elif how == "garbage":
        path.write_bytes(b"this is a shopping list, not a ledger\n" * 100)
    elif how == "foreign_sqlite":
        path.unlink()
        conn = sqlite3.connect(path)
        conn.execute("CREATE TABLE notes (text TEXT)")
        conn.commit()
        conn.close()


@pytest.mark.parametrize("how", ["empty", "missing", "garbage", "foreign_sqlite"])
def test_every_command_refuses_a_lost_ledger_and_names_the_newest_backup(
    counter: Counter, how: str
) -> None:
    stamp_some(counter, 3)
    first = counter.ok("ledger", "backup").split()[1]
    stamp_some(counter, 1)
    newest = counter.ok("ledger", "backup").split()[1]
    assert Path(first) < Path(newest)
    assert newest_backup(counter.data_dir / "backups") == Path(newest)
    damage(counter.ledger_path, how)
    before = counter.ledger_path.read_bytes() if counter.ledger_path.exists() else None
    _card_id, code = counter.issuer.issue_card(expires_days=30)
    trust = counter.data_dir.parent / "trust.json"
    trust.write_text(json.dumps(counter.issuer.trust_list().to_json()))
    commands = [
        ["stamp", code],
        ["purchase", code, "--amount", "12,50"],
        ["redeem", code],
        ["void", "till-2-1"],
        ["balance", code],
        ["report"],
        ["ledger", "check"],
        ["ledger", "backup"],
        ["card", "verify", code],
        ["keys", "import", str(trust)],
        ["receipt", "show", "till-2-1"],
        ["init"],
    ]
    for command in commands:
        result = counter.run(*command)
        assert result.exit_code == 3, (command, result.output)
        assert result.stderr.startswith("refused: ledger_lost: "), (command, result.stderr)
        assert f"citie-terminal ledger restore {newest}" in result.stderr, result.stderr
        assert "recorded" not in result.stdout
    # Nothing turned the lost file into a fresh, empty ledger.
    after = counter.ledger_path.read_bytes() if counter.ledger_path.exists() else None
    assert after == before
    # The app refuses to start on it too, with the same sentence.
    with pytest.raises(Refused) as info:
        run_app(CliEnv(data_dir=counter.data_dir))
    assert info.value.code == "ledger_lost"
    assert newest in info.value.message


def test_lost_ledger_without_a_backup_says_so_in_the_shop_language(counter: Counter) -> None:
    counter.ledger_path.write_bytes(b"")
    config = counter.data_dir / "config.toml"
    config.write_text(config.read_text().replace('language = "en"', 'language = "fr"'))
    result = counter.run("report")
    assert result.exit_code == 3
    assert "est vide (0 octet)" in result.stderr
    assert "Aucune sauvegarde" in result.stderr


def test_a_brand_new_data_dir_still_initialises_and_works(tmp_path: Path) -> None:
    fresh = Counter(tmp_path / "fresh", Issuer.open(tmp_path / "issuer"))
    assert "created: ledger" in fresh.ok("init", "--lang", "en")
    assert "events: 0" in fresh.ok("ledger", "check", "--lang", "en")
    # A set-up terminal whose ledger is missing and that has no backup may start over.
    fresh.ledger_path.unlink()
    assert "created: ledger" in fresh.ok("init", "--lang", "en")


def test_backup_output_is_a_consistent_copy_and_never_overwrites(
    counter: Counter, tmp_path: Path
) -> None:
    stamp_some(counter, 2)
    out = tmp_path / "copies" / "today.db"
    line = counter.ok("ledger", "backup", "--output", str(out))
    assert line.strip() == f"backup: {out} (2 events)"
    assert counter.events(out) == 2
    again = counter.run("ledger", "backup", "--output", str(out))
    assert again.exit_code == 1
    assert again.stderr.startswith("refused: backup_exists: ")


def test_restore_keeps_the_damaged_file_aside_and_brings_the_events_back(
    counter: Counter,
) -> None:
    stamp_some(counter, 4)
    made = json.loads(counter.ok("ledger", "backup", "--json"))
    assert made["events"] == 4
    backup = Path(made["backup"])
    # What a crash leaves: a truncated ledger beside its -wal and -shm.
    counter.ledger_path.write_bytes(b"")
    Path(f"{counter.ledger_path}-wal").write_bytes(b"wal leftovers")
    Path(f"{counter.ledger_path}-shm").write_bytes(b"shm leftovers")
    result = counter.run("ledger", "restore", str(backup), "--json")
    assert result.exit_code == 0, result.output
    done = json.loads(result.stdout)
    kept = Path(done["kept_aside"])
    assert kept.name.startswith("ledger.db.damaged-") and kept.name.endswith("Z")
    assert kept.read_bytes() == b""
    assert Path(f"{kept}-wal").read_bytes() == b"wal leftovers"
    assert Path(f"{kept}-shm").read_bytes() == b"shm leftovers"
    assert done["events"] == 4 and done["pending"] == 4
    assert counter.events() == 4
    assert mode(counter.ledger_path) == 0o600
    assert "integrity: ok" in counter.ok("ledger", "check")
    stamp_some(counter, 1)
    assert counter.events() == 5


def test_restore_refuses_a_damaged_backup_and_leaves_the_ledger_alone(
    counter: Counter, tmp_path: Path
) -> None:
    stamp_some(counter, 2)
    bad = tmp_path / "bad.db"
    bad.write_bytes(b"SQLite format 3\x00" + b"\xa5" * 8000)
    before = counter.ledger_path.read_bytes()
    result = counter.run("ledger", "restore", str(bad))
    assert result.exit_code == 3
    assert result.stderr.startswith("refused: backup_damaged: ")
    assert counter.ledger_path.read_bytes() == before
    assert not list(counter.data_dir.glob("ledger.db.damaged-*"))
    missing = counter.run("ledger", "restore", str(tmp_path / "nope.db"))
    assert missing.exit_code == 1 and "backup_missing" in missing.stderr


def test_restored_terminal_sends_its_pending_events_exactly_once(
    platform: RunningPlatform,
    terminal_factory: Callable[..., PairedTerminal],
) -> None:
    terminal = terminal_factory(platform)
    ledger = Ledger(terminal.store, shop_id=terminal.shop_id, terminal_id=terminal.terminal_id)
    early = [ledger.stamp(f"CT-E{n}", PROGRAM).event.id for n in range(3)]
    assert run_sync(terminal.settings, terminal.store, backup=False).exit_code == 0
    late = [ledger.stamp(f"CT-L{n}", PROGRAM).event.id for n in range(2)]
    backup = ledger.backup(terminal.settings.backup_dir, 3)  # holds the late ones pending
    assert run_sync(terminal.settings, terminal.store, backup=False).exit_code == 0
    terminal.store.close()
    terminal.settings.database_path.write_bytes(b"")  # the ledger is lost after the sync
    assert restore(backup, terminal.settings.database_path) is not None
    terminal.store = Store.open(terminal.settings.database_path)
    assert terminal.outbox()["pending"] == 2
    report = run_sync(terminal.settings, terminal.store, backup=False)
    assert report.exit_code == 0, report.to_json()
    assert report.push is not None and report.push.duplicate == 2
    assert terminal.outbox() == {"pending": 0, "in_flight": 0, "synced": 5, "quarantined": 0}
    landed = platform.event_ids(terminal.terminal_id)
    assert sorted(landed) == sorted(early + late)  # each exactly once


# --- A4: private files, and the key checked before anything is recorded --------------------


@pytest.mark.parametrize("mask", [0o022, 0o000])
def test_customer_data_files_are_private_whatever_the_umask(tmp_path: Path, mask: int) -> None:
    with umask(mask):
        made = Counter(tmp_path / "terminal", Issuer.open(tmp_path / "issuer"))
        made.ok("init")
        with Store.open(made.ledger_path) as opened:
            install_trust(opened, made.issuer.trust_list())
            stamp_some(made, 1)
            backup = Path(made.ok("ledger", "backup").split()[1])
            for tail in ("", "-wal", "-shm"):
                assert mode(Path(f"{made.ledger_path}{tail}")) == 0o600, tail
        assert mode(backup) == 0o600
        assert mode(backup.parent) == 0o700
        assert mode(made.data_dir) == 0o700
        assert mode(tmp_path / "issuer" / "issuer.json") == 0o600
        assert mode(tmp_path / "issuer") == 0o700
        platform_db = tmp_path / "platform" / "platform.db"
        with SqliteStore(platform_db):
            for tail in ("", "-wal", "-shm"):
                assert mode(Path(f"{platform_db}{tail}")) == 0o600, tail
        assert mode(platform_db.parent) == 0o700


def test_an_old_world_readable_ledger_is_made_private_when_opened(tmp_path: Path) -> None:
    path = tmp_path / "ledger.db"
    Store.open(path).close()
    path.chmod(0o644)
    with Store.open(path):
        assert mode(path) == 0o600


def test_a_world_readable_key_refuses_before_anything_is_recorded(counter: Counter) -> None:
    key = counter.data_dir / "terminal.key"
    assert key.exists()
    key.chmod(0o644)
    _card_id, code = counter.issuer.issue_card(expires_days=30)
    for command in (
        ["stamp", code],
        ["purchase", code, "--amount", "5"],
        ["purchase", "--amount", "5"],
        ["redeem", code],
        ["void", "till-2-1"],
    ):
        result = counter.run(*command)
        assert result.exit_code == 3, (command, result.output)
        assert result.stderr.startswith("refused: key_file: "), result.stderr
        assert "chmod 600" in result.stderr
    assert counter.events() == 0
    with pytest.raises(Refused) as info:
        run_app(CliEnv(data_dir=counter.data_dir))
    assert info.value.code == "key_file"
    doctor = counter.run("doctor", "--json")
    assert doctor.exit_code == 1
    checks = {c["name"]: c for c in json.loads(doctor.stdout)["checks"]}
    assert checks["private key"]["status"] == "fail"
    assert "chmod 600" in checks["private key"]["detail"]
    dutch = counter.run("stamp", code, "--lang", "nl")
    assert dutch.stderr.startswith(
        f"refused: key_file: Het sleutelbestand {key} is leesbaar voor andere gebruikers "
        f"(modus 0644). Herstel het met: chmod 600 {key}"
    ), dutch.stderr
    key.chmod(0o600)
    assert counter.run("stamp", code).exit_code == 0


# --- A5: backups are bounded, and only a sync that reached the platform makes one ----------


@pytest.mark.parametrize("key", ["keep_backups", "backup_retention"])
def test_keep_backups_bounds_the_backups_folder(counter: Counter, key: str) -> None:
    config = counter.data_dir / "config.toml"
    text = config.read_text()
    assert "keep_backups = 7" in text  # the default, written by init
    config.write_text(text.replace("keep_backups = 7", f"{key} = 2"))
    assert counter.run("config", "check").exit_code == 0
    stamp_some(counter, 1)
    made = [Path(counter.ok("ledger", "backup").split()[1]) for _ in range(4)]
    kept = sorted((counter.data_dir / "backups").iterdir())
    assert kept == made[2:]


def test_a_sync_that_cannot_reach_the_platform_makes_no_backup(
    platform: RunningPlatform,
    terminal_factory: Callable[..., PairedTerminal],
) -> None:
    terminal = terminal_factory(platform)
    ledger = Ledger(terminal.store, shop_id=terminal.shop_id, terminal_id=terminal.terminal_id)
    ledger.stamp("CT-1", PROGRAM)
    reached = run_sync(terminal.settings, terminal.store)
    assert reached.exit_code == 0 and reached.backup is not None
    assert [p.name for p in terminal.settings.backup_dir.iterdir()] == [Path(reached.backup).name]
    platform.stop()
    ledger.stamp("CT-2", PROGRAM)
    quick = RetryPolicy(initial=0.01, maximum=0.02, budget=0.3)
    for _ in range(3):
        down = run_sync(terminal.settings, terminal.store, policy=quick)
        assert down.outcome == "unreachable", down.to_json()
        assert down.backup is None
    assert [p.name for p in terminal.settings.backup_dir.iterdir()] == [Path(reached.backup).name]


@pytest.mark.parametrize("how", ["empty", "foreign_sqlite"])
def test_opening_never_turns_a_lost_ledger_into_a_new_one(counter: Counter, how: str) -> None:
    damage(counter.ledger_path, how)
    before = counter.ledger_path.read_bytes()
    with pytest.raises(LedgerLost, match="restore"):
        Store.open(counter.ledger_path)
    doctor = counter.run("doctor", "--json")
    assert doctor.exit_code == 1
    checks = {c["name"]: c for c in json.loads(doctor.stdout)["checks"]}
    assert checks["database"]["status"] == "fail"
    assert counter.ledger_path.read_bytes() == before


def test_keep_backups_zero_never_prunes_a_backup_made_by_hand(counter: Counter) -> None:
    config = counter.data_dir / "config.toml"
    config.write_text(config.read_text().replace("keep_backups = 7", "keep_backups = 0"))
    made = [Path(counter.ok("ledger", "backup").split()[1]) for _ in range(3)]
    assert sorted((counter.data_dir / "backups").iterdir()) == made


def _receipts(counter: Counter, n: int) -> list[str]:
    numbers = []
    for _ in range(n):
        _card_id, code = counter.issuer.issue_card(expires_days=30)
        numbers.append(json.loads(counter.ok("stamp", code, "--json"))["receipt_no"])
    return numbers


@pytest.mark.parametrize("current", ["readable", "truncated"])
def test_receipt_numbers_after_a_restore_never_repeat_a_lost_one(
    counter: Counter, current: str
) -> None:
    _receipts(counter, 4)
    backup = Path(json.loads(counter.ok("ledger", "backup", "--json"))["backup"])
    lost = _receipts(counter, 3)  # on customers' slips, not in the backup
    if current == "truncated":
        counter.ledger_path.write_bytes(b"")
    assert counter.run("ledger", "restore", str(backup)).exit_code == 0
    after = _receipts(counter, 2)
    assert not set(after) & set(lost)
    terminal = after[0].rsplit("-", 1)[0]
    assert after == [f"{terminal}-1001", f"{terminal}-1002"]
