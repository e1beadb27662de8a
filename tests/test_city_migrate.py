"""Growing from SQLite to PostgreSQL: ``citie-platform migrate --to postgresql://...``."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Callable
from pathlib import Path
from urllib.parse import urlparse

from city.issuer import Issuer
from loyalty.trust import revoked_cards
from sync.job import run_sync
from tests.conftest_platform import (
    FAST,
    PLATFORM,
    PairedTerminal,
    PostgresServer,
    add_events,
    clean_env,
    start_platform,
)

Terminals = Callable[..., PairedTerminal]


def migrate(data_dir: Path, url: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*PLATFORM, "migrate", "--to", url, "--json", "--data-dir", str(data_dir)],
        capture_output=True,
        text=True,
        env=clean_env(),
        timeout=120,
        check=False,
    )


def test_a_town_moves_to_postgresql_and_its_terminals_carry_on(
    tmp_path: Path, terminal_factory: Terminals, postgres_server: PostgresServer
) -> None:
    data_dir = tmp_path / "town"
    platform = start_platform(data_dir)
    try:
        assert platform.store_kind == "sqlite"
        terminal = terminal_factory(platform, "shop-a", "t1")
        first = add_events(terminal.store, 300, shop_id="shop-a", terminal_id="t1")
        with platform.open_store() as store:
            store.revoke_many(["CT-LOST-0001", "CT-LOST-0002"])
            card_id, _code = Issuer.open(data_dir / "issuer").issue_card()
            store.add_card(str(card_id), 365)
        assert run_sync(terminal.settings, terminal.store, policy=FAST, backup=False).exit_code == 0
        url = postgres_server.new_database()
        refused = migrate(data_dir, url)
        assert refused.returncode == 1
        assert "refused: platform_serving" in refused.stderr
        before = platform.stats()
    finally:
        platform.stop()

    moved = migrate(data_dir, url)
    assert moved.returncode == 0, moved.stderr
    report = json.loads(moved.stdout)
    assert report["tables"]["events"] == 300
    assert (data_dir / "database.url").read_text().strip() == url

    # The same data directory, on the same port, now serves from PostgreSQL.
    again = start_platform(data_dir, "--port", str(urlparse(platform.url).port))
    try:
        assert again.store_kind == "postgresql"
        assert again.stats() == before
        # Same credential, same cursor: only the new events go, only the new changes come.
        second = add_events(terminal.store, 50, shop_id="shop-a", terminal_id="t1")
        with again.open_store() as store:
            store.revoke("CT-LOST-0003")
        report = run_sync(terminal.settings, terminal.store, policy=FAST, backup=False)
        assert report.exit_code == 0, report.to_json()
        assert sorted(again.event_ids("t1")) == sorted(first + second)
        assert {"CT-LOST-0001", "CT-LOST-0003"} <= revoked_cards(terminal.store.read())
        assert again.stats()["duplicates_seen"] == before["duplicates_seen"]
    finally:
        again.stop()


def test_migrate_refuses_a_target_that_holds_a_platform(
    tmp_path: Path, postgres_server: PostgresServer
) -> None:
    url = postgres_server.new_database()
    first = start_platform(tmp_path / "one")
    first.add_terminal("shop-a", "t1")
    first.stop()
    assert migrate(tmp_path / "one", url).returncode == 0
    second = start_platform(tmp_path / "two")
    second.add_terminal("shop-b", "t9")
    second.stop()
    refused = migrate(tmp_path / "two", url)
    assert refused.returncode == 1
    assert "refused: target_not_empty" in refused.stderr
