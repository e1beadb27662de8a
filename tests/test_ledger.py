"""The ledger on a real SQLite file: events, outbox, balances, voids, limits, checks, backups."""

from __future__ import annotations

import json
import os
import threading
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

import loyalty.schema  # noqa: F401  (registers the migrations)
from city.issuer import Issuer
from loyalty.db import Store, iso
from loyalty.ledger import EventKind, Ledger, LedgerRefusal, RefusalReason
from loyalty.programs import OfflineLimits, Program
from loyalty.trust import install_trust
from terminal.cli import cli

NOW = datetime(2025, 3, 7, 11, 0, tzinfo=UTC)  # a Friday, 12:00 in Brussels
PROGRAM = Program(id="coffee", reward_threshold=3, max_stamps_per_day=20, cents_per_stamp=1000)
LIMITS = OfflineLimits(per_card_per_day=1, per_terminal_per_day=2, max_hours_since_sync=24)


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    with Store.open(tmp_path / "ledger.db") as opened:
        yield opened


@pytest.fixture
def ledger(store: Store) -> Ledger:
    return Ledger(store, shop_id="shop-1", terminal_id="t1")


def refused(reason: RefusalReason) -> pytest.RaisesExc[LedgerRefusal]:
    return pytest.raises(LedgerRefusal, check=lambda exc: exc.reason is reason)


def mark_synced(store: Store, seq: int, at: datetime) -> None:
    with store.write() as db:
        db.execute(
            "UPDATE outbox SET state = 'synced', updated_at = ? WHERE seq = ?", [iso(at), seq]
        )


def fill(ledger: Ledger, card: str, stamps: int, start: datetime = NOW) -> None:
    for n in range(stamps):
        ledger.stamp(card, PROGRAM, now=start + timedelta(minutes=n))


def test_stamp_writes_event_outbox_and_balance_in_one_go(ledger: Ledger, store: Store) -> None:
    first = ledger.stamp("CT-A", PROGRAM, now=NOW)
    second = ledger.stamp("CT-A", PROGRAM, count=2, now=NOW + timedelta(seconds=1))
    event = first.event
    assert uuid.UUID(event.id).version == 7
    assert uuid.UUID(event.id) < uuid.UUID(second.event.id)  # time-ordered ids
    assert (event.kind, event.stamps, event.receipt_no) == (EventKind.STAMP, 1, "t1-1")
    assert second.event.receipt_no == "t1-2"
    db = store.read()
    row = db.execute(
        "SELECT occurred_at, terminal_id, shop_id, program_id, receipt_no FROM events WHERE id = ?",
        [event.id],
    ).fetchone()
    assert row == ("2025-03-07T11:00:00.000Z", "t1", "shop-1", "coffee", "t1-1")
    assert db.execute("SELECT state FROM outbox ORDER BY seq").fetchall() == [
        ("pending",),
        ("pending",),
    ]
    assert db.execute("SELECT stamps, events FROM balances WHERE card_id = 'CT-A'").fetchone() == (
        3,
        2,
    )
    assert second.balance is not None
    assert (second.balance.local, second.balance.pending, second.balance.total) == (3, 3, 3)
    assert ledger.event("t1-2") == ledger.event(second.event.id)
    assert [e.receipt_no for e in ledger.card_events("CT-A")] == ["t1-2", "t1-1"]
    assert ledger.pending_count() == 2


def test_a_failed_write_leaves_nothing_behind(ledger: Ledger, store: Store) -> None:
    ledger.stamp("CT-A", PROGRAM, now=NOW)
    with store.write() as db:
        db.execute("INSERT INTO revoked_cards VALUES ('CT-B', ?)", [iso(NOW)])
    with refused(RefusalReason.REVOKED):
        ledger.stamp("CT-B", PROGRAM, now=NOW)
    with refused(RefusalReason.REVOKED):
        ledger.redeem("CT-B", PROGRAM, LIMITS, now=NOW)
    db = store.read()
    assert db.execute("SELECT COUNT(*) FROM events").fetchone() == (1,)
    assert db.execute("SELECT COUNT(*) FROM outbox").fetchone() == (1,)
    assert ledger.check().ok


def test_purchase_keeps_integer_cents_and_earns_by_the_rules(ledger: Ledger) -> None:
    recorded = ledger.purchase("CT-A", 2550, PROGRAM, now=NOW)
    assert (recorded.event.amount_cents, recorded.event.currency) == (2550, "EUR")
    assert recorded.event.stamps == 3  # 1 per visit + 2 per 10,00
    assert [line.key for line in recorded.lines] == [
        "programs.per_visit",
        "programs.per_amount",
        "programs.total",
    ]
    assert [line.key for line in ledger.event(recorded.event.id).lines] == [  # type: ignore[union-attr]
        line.key for line in recorded.lines
    ]
    anonymous = ledger.purchase(None, 990, PROGRAM, now=NOW)
    assert (anonymous.event.card_id, anonymous.event.stamps, anonymous.balance) == (None, 0, None)
    with pytest.raises(ValueError, match="more than zero"):
        ledger.purchase("CT-A", 0, PROGRAM, now=NOW)


def test_rules_refuse_stamps_but_a_purchase_is_still_recorded(ledger: Ledger) -> None:
    gap = PROGRAM.model_copy(update={"min_minutes_between_stamps": 30})
    ledger.stamp("CT-A", gap, now=NOW)
    with refused(RefusalReason.TOO_SOON) as info:
        ledger.stamp("CT-A", gap, now=NOW + timedelta(minutes=5))
    assert "next stamp from" in info.value.message
    assert "volgende stempel vanaf" in info.value.text("nl")
    bought = ledger.purchase("CT-A", 5000, gap, now=NOW + timedelta(minutes=5))
    assert bought.event.stamps == 0
    assert bought.lines[0].key == "programs.too_soon"
    assert ledger.stamp("CT-A", gap, now=NOW + timedelta(minutes=30)).event.stamps == 1


def test_purchase_preview_is_what_the_purchase_then_gives(ledger: Ledger, store: Store) -> None:
    gap = PROGRAM.model_copy(update={"min_minutes_between_stamps": 30})
    preview = ledger.preview_purchase("CT-A", 2550, gap, now=NOW)
    assert ledger.pending_count() == 0  # nothing recorded
    bought = ledger.purchase("CT-A", 2550, gap, now=NOW)
    assert (preview.stamps, preview.lines, preview.refusal) == (3, bought.lines, None)

    soon = NOW + timedelta(minutes=5)
    too_soon = ledger.preview_purchase("CT-A", 5000, gap, now=soon)
    assert too_soon.stamps == 0
    assert too_soon.refusal is not None
    assert too_soon.lines == ledger.purchase("CT-A", 5000, gap, now=soon).lines
    # Voiding the purchase that earned stamps frees the gap, as it does for ``purchase``.
    ledger.void(bought.event.id, now=soon)
    assert ledger.preview_purchase("CT-A", 5000, gap, now=soon).stamps == 6
    with pytest.raises(ValueError, match="more than zero"):
        ledger.preview_purchase("CT-A", 0, gap, now=NOW)
    assert store.read().execute("SELECT COUNT(*) FROM events").fetchone()[0] == 3


def test_voided_stamps_do_not_count_for_the_daily_limit(ledger: Ledger) -> None:
    small = PROGRAM.model_copy(update={"max_stamps_per_day": 2})
    a = ledger.stamp("CT-A", small, count=2, now=NOW)
    with refused(RefusalReason.DAILY_LIMIT):
        ledger.stamp("CT-A", small, now=NOW)
    ledger.void(a.event.id, now=NOW)
    assert ledger.stamp("CT-A", small, count=2, now=NOW).event.stamps == 2
    # The next local day starts at 23:00 UTC in March.
    assert ledger.stamp("CT-A", small, now=datetime(2025, 3, 7, 23, 0, tzinfo=UTC)).event.stamps


def test_redeem_takes_the_threshold_and_refuses_below_it(ledger: Ledger) -> None:
    fill(ledger, "CT-A", 2)
    with refused(RefusalReason.BELOW_THRESHOLD) as info:
        ledger.redeem("CT-A", PROGRAM, LIMITS, now=NOW)
    assert info.value.message == "Not enough stamps for a free coffee: 2 of 3"
    fill(ledger, "CT-A", 2, NOW + timedelta(minutes=5))
    recorded = ledger.redeem("CT-A", PROGRAM, LIMITS, now=NOW + timedelta(hours=1))
    assert (recorded.event.kind, recorded.event.stamps) == (EventKind.REDEEM, -3)
    assert recorded.event.detail["reward"] == "a free coffee"
    assert recorded.balance is not None and recorded.balance.total == 1
    assert recorded.lines[0].text("fr") == "Récompense : a free coffee (-3 tampons)"


def test_offline_limits_per_card_and_per_terminal(ledger: Ledger, store: Store) -> None:
    for card, stamps in (("CT-A", 9), ("CT-B", 6), ("CT-C", 6)):
        fill(ledger, card, stamps)
    first = ledger.redeem("CT-A", PROGRAM, LIMITS, now=NOW + timedelta(hours=1))
    with refused(RefusalReason.OFFLINE_CARD_LIMIT):
        ledger.redeem("CT-A", PROGRAM, LIMITS, now=NOW + timedelta(hours=1))
    # Once the platform accepted the first one, it no longer counts as unconfirmed.
    mark_synced(store, first.event.seq, NOW + timedelta(hours=1))
    ledger.redeem("CT-A", PROGRAM, LIMITS, now=NOW + timedelta(hours=2))
    ledger.redeem("CT-B", PROGRAM, LIMITS, now=NOW + timedelta(hours=2))
    with refused(RefusalReason.OFFLINE_TERMINAL_LIMIT) as info:
        ledger.redeem("CT-C", PROGRAM, LIMITS, now=NOW + timedelta(hours=2))
    assert "(limit 2)" in info.value.message
    # A voided redemption gave nothing and stops counting.
    latest = ledger.card_events("CT-B", 1)[0]
    ledger.void(latest.id, now=NOW + timedelta(hours=2))
    ledger.redeem("CT-C", PROGRAM, LIMITS, now=NOW + timedelta(hours=2))
    # A new local day resets the per-day counts.
    ledger.redeem("CT-A", PROGRAM, LIMITS, now=NOW + timedelta(days=1))
    assert ledger.check().ok


def test_sync_age_only_matters_with_a_platform(store: Store) -> None:
    offline = Ledger(store, shop_id="s", terminal_id="t1")
    online = Ledger(store, shop_id="s", terminal_id="t1", platform_configured=True)
    fill(offline, "CT-A", 9)
    roomy = LIMITS.model_copy(update={"per_card_per_day": 5, "per_terminal_per_day": 5})
    with refused(RefusalReason.SYNC_TOO_OLD) as info:
        online.redeem("CT-A", PROGRAM, roomy, now=NOW)
    assert "never synced" in info.value.message
    no_age_limit = roomy.model_copy(update={"max_hours_since_sync": 0})
    online.redeem("CT-A", PROGRAM, no_age_limit, now=NOW)
    offline.redeem("CT-A", PROGRAM, roomy, now=NOW)
    with store.write() as db:
        db.execute(
            "INSERT INTO meta VALUES ('last_good_sync', ?)", [iso(NOW - timedelta(hours=30))]
        )
    with refused(RefusalReason.SYNC_TOO_OLD) as info:
        online.redeem("CT-A", PROGRAM, roomy, now=NOW)
    assert info.value.message.startswith("Last good sync 30 h ago (limit 24 h)")
    with store.write() as db:
        db.execute("UPDATE meta SET value = ? WHERE key = 'last_good_sync'", [iso(NOW)])
    online.redeem("CT-A", PROGRAM, roomy, now=NOW + timedelta(hours=1))


def test_void_compensates_once_and_never_a_void(ledger: Ledger) -> None:
    bought = ledger.purchase("CT-A", 3000, PROGRAM, now=NOW)
    voided = ledger.void(bought.event.receipt_no, now=NOW)
    assert voided.event.kind is EventKind.VOID
    assert voided.event.voids == bought.event.id
    assert (voided.event.stamps, voided.event.amount_cents) == (-4, -3000)
    assert voided.balance is not None and voided.balance.local == 0
    assert voided.lines[0].text("en") == "Void of t1-1 (purchase): -4 stamp(s)"
    with refused(RefusalReason.ALREADY_VOIDED) as info:
        ledger.void(bought.event.id, now=NOW)
    assert info.value.message == "Event t1-1 was already voided by t1-2"
    with refused(RefusalReason.CANNOT_VOID_VOID):
        ledger.void(voided.event.id, now=NOW)
    with refused(RefusalReason.UNKNOWN_EVENT):
        ledger.void("t1-99", now=NOW)
    assert ledger.voided_by(bought.event.id) == voided.event
    anonymous = ledger.purchase(None, 500, PROGRAM, now=NOW)
    assert ledger.void(anonymous.event.id, now=NOW).balance is None
    assert ledger.check().ok


def test_events_are_append_only(store: Store, ledger: Ledger) -> None:
    ledger.stamp("CT-A", PROGRAM, now=NOW)
    with pytest.raises(Exception, match="append-only"), store.write() as db:
        db.execute("UPDATE events SET stamps = 100")
    with pytest.raises(Exception, match="append-only"), store.write() as db:
        db.execute("DELETE FROM events")


def test_balance_confirmed_plus_pending(ledger: Ledger, store: Store) -> None:
    fill(ledger, "CT-A", 3)
    early = ledger.card_events("CT-A")[::-1]
    mark_synced(store, early[0].seq, NOW + timedelta(minutes=10))
    with store.write() as db:
        # The platform confirmed 7 at 11:20 (stamps from other terminals included).
        db.execute(
            "INSERT INTO confirmed_balances (card_id, stamps, confirmed_at) VALUES (?, ?, ?)",
            ["CT-A", 7, iso(NOW + timedelta(minutes=20))],
        )
    # "After the confirmation" is the order things happened in, not the clock (issue 10 A7).
    mark_synced(store, early[1].seq, NOW + timedelta(minutes=30))
    balance = ledger.balance("CT-A")
    # Pending: the one never synced and the one synced after the confirmation.
    assert (balance.local, balance.confirmed, balance.pending, balance.total) == (3, 7, 2, 9)
    assert balance.confirmed_at == NOW + timedelta(minutes=20)
    # A card only the platform knows about.
    with store.write() as db:
        db.execute(
            "INSERT INTO confirmed_balances (card_id, stamps, confirmed_at) VALUES ('CT-Z', 12, ?)",
            [iso(NOW)],
        )
    elsewhere = ledger.balance("CT-Z")
    assert (elsewhere.local, elsewhere.pending, elsewhere.total) == (0, 0, 12)
    # Redemption goes by the total, so local may go below zero.
    recorded = ledger.redeem("CT-Z", PROGRAM, LIMITS, now=NOW)
    assert recorded.balance is not None
    assert (recorded.balance.local, recorded.balance.total) == (-3, 9)
    # Moving an outbox row back (e.g. in_flight -> pending) keeps balances.unsynced right.
    # A row the platform accepted before the confirmation and set pending again (only
    # `sync --resend-all` does that) is still in the confirmation: not pending twice.
    with store.write() as db:
        db.execute("UPDATE outbox SET state = 'in_flight' WHERE seq = ?", [early[2].seq])
        db.execute("UPDATE outbox SET state = 'pending' WHERE seq = ?", [early[2].seq])
        db.execute("UPDATE outbox SET state = 'pending' WHERE seq = ?", [early[0].seq])
    assert ledger.balance("CT-A").pending == 2
    assert ledger.check().ok


def test_lookups_use_indexes_only(store: Store, ledger: Ledger) -> None:
    fill(ledger, "CT-A", 2)
    with store.write() as db:
        db.execute(
            "INSERT INTO confirmed_balances (card_id, stamps, confirmed_at) VALUES ('CT-A', 1, ?)",
            [iso(NOW)],
        )
    plans: list[str] = []
    conn = store.read().conn
    statements: list[str] = []
    conn.set_trace_callback(statements.append)
    ledger.balance("CT-A")
    ledger.event("t1-1")
    ledger.card_events("CT-A")
    conn.set_trace_callback(None)
    assert statements
    for sql in statements:
        for row in conn.execute(f"EXPLAIN QUERY PLAN {sql}").fetchall():
            plans.append(row[3])
    # SEARCH is an index seek; any SCAN (even "USING INDEX") walks a whole table or index.
    assert plans
    assert not [plan for plan in plans if plan.startswith("SCAN")], plans


def test_check_finds_a_tampered_balance_and_rebuild_fixes_it(ledger: Ledger, store: Store) -> None:
    fill(ledger, "CT-A", 3)
    fill(ledger, "CT-B", 1)
    assert ledger.check().ok
    with store.write() as db:
        db.execute("UPDATE balances SET stamps = 10 WHERE card_id = 'CT-A'")
        db.execute("DELETE FROM balances WHERE card_id = 'CT-B'")
    check = ledger.check()
    assert not check.ok
    found = {(m.card_id, m.column, m.table, m.fold) for m in check.mismatches}
    assert ("CT-A", "stamps", 10, 3) in found
    assert ("CT-B", "stamps", None, 1) in found
    assert check.integrity == ["ok"]
    assert ledger.rebuild_balances() == 2
    assert ledger.check().ok
    assert ledger.balance("CT-A").local == 3


def test_backup_is_a_usable_copy_with_retention(ledger: Ledger, tmp_path: Path) -> None:
    fill(ledger, "CT-A", 2)
    dest = tmp_path / "backups"
    dest.mkdir()
    (dest / "notes.txt").write_text("not a backup")
    made = [ledger.backup(dest, retention=2) for _ in range(4)]
    kept = sorted(p.name for p in dest.iterdir())
    assert kept == sorted([made[2].name, made[3].name, "notes.txt"])
    with Store.open(made[3]) as copy:
        assert copy.read().execute("SELECT COUNT(*) FROM events").fetchone() == (2,)
    with pytest.raises(ValueError, match="retention"):
        ledger.backup(dest, retention=0)


def test_every_connection_has_the_pragmas(tmp_path: Path) -> None:
    store = Store.open(tmp_path / "ledger.db")
    ledger = Ledger(store, shop_id="s", terminal_id="t1")
    ledger.stamp("CT-A", PROGRAM, now=NOW)
    connections = [store.db.conn]
    found: list[object] = []

    def in_thread() -> None:
        ledger.balance("CT-A")
        found.append(store.read().conn)

    threads = [threading.Thread(target=in_thread) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    ledger.balance("CT-A")
    connections += [store.read().conn, *found]
    assert len({id(c) for c in connections}) == 5
    for conn in connections:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert conn.execute("PRAGMA synchronous").fetchone()[0] == 2
        assert conn.execute("PRAGMA busy_timeout").fetchone()[0] > 0
    store.close()


def test_threads_cannot_pass_a_limit_together(ledger: Ledger) -> None:
    small = PROGRAM.model_copy(update={"max_stamps_per_day": 7, "reward_threshold": 5})
    errors: list[BaseException] = []
    outcomes: list[str] = []
    lock = threading.Lock()

    def worker(action: str) -> None:
        try:
            for _ in range(5):
                try:
                    if action == "stamp":
                        ledger.stamp("CT-A", small, now=NOW)
                    else:
                        ledger.redeem("CT-A", small, OfflineLimits(per_card_per_day=100), now=NOW)
                    with lock:
                        outcomes.append(action)
                except LedgerRefusal as refusal:
                    with lock:
                        outcomes.append(refusal.reason.value)
        except BaseException as exc:  # any other failure fails the test below
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(a,)) for a in ["stamp"] * 4 + ["redeem"] * 2]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors
    assert outcomes.count("stamp") == 7
    assert ledger.balance("CT-A").local == 7 - 5 * outcomes.count("redeem") >= 0
    assert ledger.check().ok


# --- the command line, on a real `init`ed data directory ---------------------------------


@dataclass
class Counter:
    """A terminal made with `citie-terminal init`, trusting a test issuer."""

    data_dir: Path
    issuer: Issuer

    def run(self, *args: str) -> Result:
        env = {name: None for name in os.environ if name.startswith("CITIE_")}
        return CliRunner().invoke(cli, [*args, "--data-dir", str(self.data_dir)], env=env)

    def json(self, *args: str) -> dict[str, Any]:
        result = self.run(*args, "--json")
        assert result.exit_code == 0, result.output
        lines = result.stdout.strip().splitlines()
        assert len(lines) == 1
        data: dict[str, Any] = json.loads(lines[0])
        return data

    def refused(self, reason: str, *args: str) -> str:
        result = self.run(*args)
        assert result.exit_code == 1, result.output
        assert result.stderr.startswith(f"refused: {reason}: "), result.stderr
        return result.stderr

    def card(self) -> tuple[str, str]:
        return self.issuer.issue_card(expires_days=30)


@pytest.fixture
def counter(tmp_path: Path) -> Counter:
    data_dir = tmp_path / "terminal"
    runner = Counter(data_dir, Issuer.open(tmp_path / "issuer"))
    done = runner.run("init", "--terminal-id", "till-2", "--shop-language", "en")
    assert done.exit_code == 0, done.output
    with Store.open(data_dir / "ledger.db") as opened:
        install_trust(opened, runner.issuer.trust_list())
    return runner


def test_cli_stamp_purchase_redeem_void_balance(counter: Counter) -> None:
    card_id, code = counter.card()
    first = counter.json("stamp", code)
    assert (first["receipt_no"], first["card_id"], first["stamps"]) == ("till-2-1", card_id, 1)
    assert uuid.UUID(first["event_id"]).version == 7
    assert first["balance"] == {
        "card_id": card_id,
        "local": 1,
        "confirmed": None,
        "pending": 1,
        "total": 1,
        "confirmed_at": None,
    }
    assert [line["text"] for line in first["lines"]] == ["Visit: 1 stamp", "Total: 1 stamp"]
    counter.json("stamp", f"  {code}\n", "--count", "4")  # stray whitespace from a scanner
    message = counter.refused("daily_limit", "stamp", code)
    assert "Daily limit of 5 stamps" in message
    bought = counter.json("purchase", code, "--amount", "12,50")
    assert (bought["amount_cents"], bought["currency"], bought["stamps"]) == (1250, "EUR", 0)
    anonymous = counter.json("purchase", "--amount", "€ 1.234,50")
    assert (anonymous["card_id"], anonymous["amount_cents"]) == (None, 123450)
    counter.refused("ambiguous", "purchase", code, "--amount", "12,505")
    counter.refused("zero", "purchase", "--amount", "0,00")
    counter.refused("below_threshold", "redeem", code)
    voided = counter.json("void", first["receipt_no"])
    assert (voided["voids"], voided["stamps"], voided["balance"]["total"]) == (
        first["event_id"],
        -1,
        4,
    )
    counter.refused("already_voided", "void", first["event_id"])
    counter.refused("cannot_void_void", "void", voided["event_id"])
    counter.refused("unknown_event", "void", "till-2-999")
    shown = counter.json("balance", code)
    assert (shown["total"], shown["reward_threshold"], shown["rewards_available"]) == (4, 10, 0)
    text = counter.run("balance", code)
    assert text.exit_code == 0 and "4 stamps (not confirmed" in text.stdout


def test_cli_refuses_what_is_not_a_good_card(counter: Counter) -> None:
    counter.refused("not_a_card", "stamp", "https://example.com/pay")
    _card_id, code = counter.card()
    counter.refused(
        "bad_signature", "stamp", code[:-2] + ("A" if code[-2] != "A" else "B") + code[-1]
    )
    revoked_id, revoked_code = counter.card()
    with Store.open(counter.data_dir / "ledger.db") as opened, opened.write() as db:
        db.execute("INSERT INTO revoked_cards VALUES (?, ?)", [revoked_id, iso(NOW)])
    counter.refused("revoked", "redeem", revoked_code)
    bare = Counter(counter.data_dir.parent / "nothing", counter.issuer)
    bare.refused("not_initialised", "stamp", code)


def test_cli_uses_the_platform_program_when_it_sent_a_valid_one(counter: Counter) -> None:
    _card_id, code = counter.card()
    platform = Program(id="coffee", stamps_per_visit=0, cents_per_stamp=500, reward_threshold=2)
    with Store.open(counter.data_dir / "ledger.db") as opened, opened.write() as db:
        db.execute("INSERT INTO programs VALUES ('coffee', ?, ?)", [platform.to_json(), iso(NOW)])
    bought = counter.json("purchase", code, "--amount", "12,50")
    assert bought["stamps"] == 2
    assert counter.json("redeem", code)["stamps"] == -2
    with Store.open(counter.data_dir / "ledger.db") as opened, opened.write() as db:
        db.execute('UPDATE programs SET body = \'{"id": "coffee", "bad": 1}\'')
    result = counter.run("stamp", code, "--json")
    assert result.exit_code == 0
    assert "using the program from the config file" in result.stderr
    assert json.loads(result.stdout)["stamps"] == 1


def test_cli_report_and_ledger_check(counter: Counter) -> None:
    _card_id, code = counter.card()
    counter.json("stamp", code, "--count", "2")
    counter.json("purchase", "--amount", "20")
    figures = counter.json("report")
    assert (figures["stamps_issued"], figures["purchases"], figures["purchase_total_cents"]) == (
        2,
        1,
        2000,
    )
    assert (figures["distinct_cards"], figures["pending_sync"], len(figures["series"])) == (
        1,
        2,
        30,
    )
    old = counter.json("report", "--day", "2020-01-01")
    assert old["stamps_issued"] == 0
    assert counter.run("report", "--day", "yesterday").exit_code == 2
    text = counter.run("report")
    assert text.exit_code == 0 and "stamps issued:    2" in text.stdout
    assert counter.json("ledger", "check")["ok"] is True
    with Store.open(counter.data_dir / "ledger.db") as opened, opened.write() as db:
        db.execute("UPDATE balances SET stamps = stamps + 7")
    counter.refused("ledger_mismatch", "ledger", "check")
    repaired = counter.json("ledger", "check", "--repair")
    assert (repaired["ok"], repaired["rebuilt"]) == (True, 1)
