"""The app checks the whole ledger in the background after it starts (opening it checks only
the header and the schema) and says so on the status line when the file is damaged."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from loyalty.db import Store
from loyalty.ledger import Ledger
from loyalty.programs import Program
from terminal import messages as msg
from terminal.app import CounterApp
from terminal.services import make_app
from tests.test_app_kit import SIZE, Counter, make_counter, settle, text_of


def _ledger_with_a_damaged_index(tmp_path: Path) -> Counter:
    """A real ledger of 300 stamps whose ``events_kind_time`` index page is overwritten."""
    counter = make_counter(tmp_path, overrides={"program": {"max_stamps_per_day": 1000}})
    program = Program.from_settings(counter.settings.program)
    for n in range(300):
        counter.ledger.stamp(f"CT-DMG-{n:04d}", program, now=counter.clock())
    counter.store.close()
    path = counter.settings.database_path
    with sqlite3.connect(path) as db:
        db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        page_size = db.execute("PRAGMA page_size").fetchone()[0]
        (root,) = db.execute(
            "SELECT rootpage FROM sqlite_master WHERE name = 'events_kind_time'"
        ).fetchone()
    db.close()
    with path.open("r+b") as file:
        file.seek((root - 1) * page_size + 8)
        file.write(b"\xa5" * (page_size - 8))
    return counter


def _app_on(counter: Counter, lang: str) -> tuple[Store, CounterApp]:
    store = Store.open(counter.settings.database_path)
    ledger = Ledger(
        store, shop_id=counter.settings.shop.id, terminal_id=counter.settings.terminal.id
    )
    app = make_app(
        counter.settings, ledger, None, None, None, store=store, clock=counter.clock, language=lang
    )
    return store, app


@pytest.mark.parametrize(
    ("lang", "words"),
    [
        ("en", "LEDGER DAMAGED"),
        ("fr", "REGISTRE ENDOMMAGÉ"),
        ("nl", "REGISTER BESCHADIGD"),
        ("de", "JOURNAL BESCHÄDIGT"),
    ],
)
async def test_a_damaged_ledger_is_shown_on_the_status_line(
    tmp_path: Path, lang: str, words: str
) -> None:
    counter = _ledger_with_a_damaged_index(tmp_path)
    store, app = _app_on(counter, lang)
    seen: list[msg.LedgerChecked] = []

    def hook(message: object) -> None:
        if isinstance(message, msg.LedgerChecked):
            seen.append(message)

    try:
        async with app.run_test(size=SIZE, message_hook=hook) as pilot:
            await settle(pilot)
            assert [bool(m.problem) for m in seen] == [True]
            assert words in text_of(app, "#status")
    finally:
        store.close()


async def test_a_sound_ledger_shows_no_warning(tmp_path: Path) -> None:
    counter = make_counter(tmp_path)
    app = counter.app()
    seen: list[msg.LedgerChecked] = []
    async with app.run_test(
        size=SIZE,
        message_hook=lambda m: seen.append(m) if isinstance(m, msg.LedgerChecked) else None,
    ) as pilot:
        await settle(pilot)
        assert [m.problem for m in seen] == [""]
        assert "DAMAGED" not in text_of(app, "#status")
