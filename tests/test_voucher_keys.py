"""The updates feed names a city voucher by its key, never by its id (review R2, high).

A voucher id typed from the paper is enough to spend the voucher, and every terminal gets
every voucher's state; so a terminal must never learn an id it was not shown. The feed sends
``voucher_key`` (``loyalty.vouchers.voucher_key``, scrypt of the id) and the ledger keeps only
keys: a typed id still finds its voucher, balances and revocations still arrive.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

import loyalty.schema  # noqa: F401  (registers the migrations)
from city import postgres_store, sqlite_store
from city.store import PlatformStore, TerminalRecord, open_store
from loyalty import db as ledger_db
from loyalty.db import Store, iso, utc_now
from loyalty.ledger import Ledger
from loyalty.voucher_book import VoucherBook
from loyalty.vouchers import VoucherRefusalReason, new_voucher_id, voucher_key
from tests.conftest_platform import STORES, PairedTerminal, PostgresServer, RunningPlatform
from tests.test_vouchers_http import Counter, json_lines, platform_cli

Terminals = Callable[..., PairedTerminal]
OLD_VOUCHER = new_voucher_id()


def id_forms(voucher_id: str) -> list[bytes]:
    """The ways an id could sit in a file: printed, without dashes, and its random body."""
    body = voucher_id.removeprefix("CV-").replace("-", "")
    return [voucher_id.encode(), voucher_id.replace("-", "").encode(), body.encode()]


def files_holding(folder: Path, voucher_ids: list[str]) -> dict[str, list[str]]:
    """Which of ``voucher_ids`` occur in the raw bytes of any file under ``folder`` (the
    ledger, its WAL and shared memory, config, logs): {file name: ids found}."""
    found: dict[str, list[str]] = {}
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        data = path.read_bytes()
        hits = [v for v in voucher_ids if any(form in data for form in id_forms(v))]
        if hits:
            found[path.name] = hits
    return found


def test_voucher_key_is_the_same_for_every_typed_form_and_hides_the_id() -> None:
    voucher_id = new_voucher_id()
    key = voucher_key(voucher_id)
    assert len(key) == 32 and int(key, 16) >= 0
    body = voucher_id.removeprefix("CV-").replace("-", "")
    assert voucher_key(f" cv {body.lower()} ") == key
    assert voucher_key(new_voucher_id()) != key
    assert not any(form.decode().lower() in key for form in id_forms(voucher_id)[2:])


def test_a_synced_terminal_holds_no_voucher_id_it_was_not_shown_yet_spends_a_typed_one(
    platform: RunningPlatform, terminal_factory: Terminals
) -> None:
    made = json_lines(platform, "voucher", "new", "--amount", "25,00", "--count", "40", "--json")
    ids = [str(m["voucher_id"]) for m in made]
    codes = {str(m["voucher_id"]): str(m["code"]) for m in made}
    paper, revoked = ids[0], ids[1]
    platform_cli(platform, "voucher", "revoke", revoked)
    other = Counter(terminal_factory(platform, "shop-b", "t2"))
    other.sync()  # the trust list
    other.spend(codes[paper], 1000)
    other.sync()
    shop = Counter(terminal_factory(platform, "shop-a", "t1"))
    shop.sync()  # (pairing pulled once already)

    # Every voucher's state is here, and none of the ids: not in the ledger, its WAL, or
    # any other file of the terminal's.
    assert (
        shop.terminal.store.read().execute("SELECT COUNT(*) FROM voucher_states").fetchone()[0]
        == 40
    )
    assert files_holding(shop.terminal.data_dir, ids) == {}

    # The id typed from the paper finds the voucher, with what the city says was spent.
    known = shop.book.known(paper)
    assert known is not None
    assert (known.voucher_id, known.face_cents, known.spent_cents) == (paper, 2500, 1000)
    code, shown = shop.headless("voucher", "balance", paper)
    assert code == 0 and shown["remaining_cents"] == 1500, shown
    code, spent = shop.headless("voucher", "spend", paper, "--all")
    assert code == 0, spent
    # Revocations still arrive: by typed id and by the code itself.
    code, refused = shop.headless("voucher", "spend", revoked, "--amount", "1,00")
    assert (code, refused["refused"]) == (1, "revoked"), refused
    assert shop.refused(codes[revoked], 100).reason is VoucherRefusalReason.REVOKED

    shop.sync()
    # The spend carried the clear id the shopkeeper typed, and the platform folded it.
    assert platform.query(
        "SELECT amount_cents FROM events WHERE voucher_id = ? AND terminal_id = 't1'", [paper]
    ) == [(1500,)]
    assert platform.query("SELECT spent_cents FROM vouchers WHERE id = ?", [paper]) == [(2500,)]
    # The confirmed balance came back by key: nothing left, confirmed by the city.
    balance = shop.book.balance(shop.voucher(codes[paper]))
    assert (balance.confirmed_spent, balance.local_unconfirmed, balance.remaining_cents) == (
        2500,
        0,
        0,
    )
    # The ids this terminal holds now are only those it was shown (its spend names one).
    held = {v for hits in files_holding(shop.terminal.data_dir, ids).values() for v in hits}
    assert paper in held and held <= {paper, revoked}


def test_the_ledger_migration_rekeys_clear_ids_and_keeps_their_marks(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "ledger.db"
    voucher_id, *others = [new_voucher_id() for _ in range(120)]  # several pages of them
    monkeypatch.setattr(ledger_db, "MIGRATIONS", [m for m in ledger_db.MIGRATIONS if m[0] < "0011"])
    store = Store.open(path)
    with store.write() as db:
        db.execute(
            "INSERT INTO voucher_states (voucher_id, face_cents, currency, expires_at, "
            "campaign, spent_cents, revoked_at, version) VALUES (?, 2500, 'EUR', "
            "'2030-01-01T00:00:00.000Z', 'Lente', 700, NULL, 3)",
            [voucher_id],
        )
        db.conn.executemany(
            "INSERT INTO voucher_states (voucher_id, face_cents, currency, expires_at, "
            "spent_cents, version) VALUES (?, 500, 'EUR', '2030-01-01T00:00:00.000Z', 0, 1)",
            [(other,) for other in others],
        )
    (mark,) = (
        store.read()
        .execute("SELECT mark FROM voucher_states WHERE voucher_id = ?", [voucher_id])
        .fetchone()
    )
    store.close()
    monkeypatch.undo()

    store = Store.open(path)
    assert "0011_voucher_keys" in store.applied_migrations()
    read = store.read()
    columns = [r[1] for r in read.execute("PRAGMA table_info(voucher_states)")]
    assert "voucher_id" not in columns
    assert read.execute(
        "SELECT voucher_key, spent_cents, version, mark FROM voucher_states WHERE version = 3"
    ).fetchall() == [(voucher_key(voucher_id), 700, 3, mark)]
    assert {r[0] for r in read.execute("SELECT voucher_key FROM voucher_states")} == {
        voucher_key(v) for v in [voucher_id, *others]
    }
    ledger = Ledger(store, shop_id="s", terminal_id="t", platform_configured=True)
    known = VoucherBook(ledger).known(voucher_id)
    assert known is not None and known.spent_cents == 700
    # A newer version from the feed still replaces it (the triggers are back).
    with store.write() as db:
        db.execute("UPDATE voucher_states SET spent_cents = 900, version = 4 WHERE version = 3")
    assert store.read().execute("SELECT MAX(mark) FROM voucher_states").fetchone()[0] > mark
    store.close()
    # The clear ids' old pages were overwritten, not just freed.
    with sqlite3.connect(path) as raw:
        raw.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    assert files_holding(tmp_path, [voucher_id, *others]) == {}


@pytest.fixture(params=STORES)
def old_platform(
    request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Callable[[], PlatformStore]]:
    """A platform database made before migration 9, and a way to open it up to date."""
    monkeypatch.setattr(sqlite_store, "SQLITE", sqlite_store.SQLITE[:8])
    monkeypatch.setattr(postgres_store, "POSTGRES", postgres_store.POSTGRES[:8])
    if request.param == "sqlite":
        where = str(tmp_path / "platform.db")
    else:
        server: PostgresServer = request.getfixturevalue("postgres_server")
        where = server.new_database()
    opened: list[PlatformStore] = []

    def reopen() -> PlatformStore:
        monkeypatch.undo()
        store = open_store(where)
        opened.append(store)
        return store

    with open_store(where) as store:
        store.add_terminal(shop_name="Shop A", shop_id="shop-a", terminal_id="shop-a-t1")
        store._transaction(
            lambda tx: tx.execute(
                "INSERT INTO vouchers (id, face_cents, currency, campaign, city, kid, "
                "issued_at, expires_at, version) VALUES (?, 2500, 'EUR', '', 'gent', 'k1', "
                "?, '2030-01-01T00:00:00.000Z', 1)",
                [OLD_VOUCHER, iso(utc_now())],
            )
        )
    yield reopen
    for store in opened:
        store.close()


def test_the_platform_migration_keys_vouchers_issued_before_it(
    old_platform: Callable[[], PlatformStore],
) -> None:
    store = old_platform()
    with store.read() as tx:
        rows = tx.execute("SELECT id, key FROM vouchers").fetchall()
    assert [tuple(r) for r in rows] == [(OLD_VOUCHER, voucher_key(OLD_VOUCHER))]
    page = store.updates(TerminalRecord(id="shop-a-t1", shop_id="shop-a", paired=True), "0")
    assert [v.voucher_key for v in page.vouchers] == [voucher_key(OLD_VOUCHER)]
    assert OLD_VOUCHER not in repr(page)
