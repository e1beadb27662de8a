"""Shared parts for the counter app tests: a real ledger in tmp_path, a demo issuer, fixed clock.

Imported by the other ``test_app_*`` modules; its own tests check the kit itself.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from city.issuer import Issuer
from config import Settings
from loyalty import schema as _schema  # noqa: F401
from loyalty.db import Store
from loyalty.ledger import Ledger
from loyalty.trust import install_trust
from terminal.app import CounterApp
from terminal.services import PrinterPort, ScannerPort, SyncRunner, make_app

START = datetime(2025, 3, 14, 9, 30, tzinfo=UTC)
"""A Friday morning in Brussels (10:30 local): the fixed clock every app test starts from."""

SIZE = (120, 40)


@dataclass
class Clock:
    """A clock the test moves by hand."""

    now: datetime = START

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


@dataclass
class Counter:
    """One terminal's parts for a test."""

    settings: Settings
    store: Store
    ledger: Ledger
    issuer: Issuer
    clock: Clock
    codes: dict[str, str] = field(default_factory=dict)

    def card(self, card_id: str) -> str:
        """A signed code for ``card_id`` (issued once, at the fixed start time)."""
        if card_id not in self.codes:
            _, code = self.issuer.issue_card(card_id=card_id, expires_days=365, now=START)
            self.codes[card_id] = code
        return self.codes[card_id]

    def app(
        self,
        *,
        lang: str = "en",
        scanner: ScannerPort | None = None,
        printer: PrinterPort | None = None,
        sync_runner: SyncRunner | None = None,
        demo_cards: tuple[Path, ...] = (),
        **kwargs: Any,
    ) -> CounterApp:
        return make_app(
            self.settings,
            self.ledger,
            scanner,
            printer,
            sync_runner,
            store=self.store,
            clock=self.clock,
            language=lang,
            demo_cards=demo_cards,
            **kwargs,
        )


def make_counter(tmp_path: Path, *, overrides: dict[str, dict[str, Any]] | None = None) -> Counter:
    """A fresh ledger, terminal key pair and installed demo trust list under ``tmp_path``."""
    from loyalty.keys import generate_key_pair

    data: dict[str, Any] = {"storage": {"data_dir": tmp_path / "data"}}
    for section, values in (overrides or {}).items():
        data.setdefault(section, {}).update(values)
    data.setdefault("camera", {}).setdefault("enabled", False)
    data.setdefault("terminal", {}).setdefault("bell", False)
    # The demo shop's address and reward (a real shop's defaults are empty and generic).
    data.setdefault("shop", {}).setdefault("address", "Grote Markt 1, 8800 Roeselare")
    data.setdefault("program", {}).setdefault("reward_name", "a free coffee")
    settings = Settings.model_validate(data)
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    generate_key_pair(settings.private_key_path, settings.public_key_path)
    store = Store.open(settings.database_path)
    issuer = Issuer.open(tmp_path / "issuer", issuer="test-city")
    install_trust(store, issuer.trust_list())
    ledger = Ledger(store, shop_id=settings.shop.id, terminal_id=settings.terminal.id)
    return Counter(settings, store, ledger, issuer, Clock())


def text_of(app: CounterApp, selector: str) -> str:
    """The plain text a Static shows."""
    from textual.widgets import Static

    return str(app.screen.query_one(selector, Static).render())


async def type_code(pilot: Any, code: str) -> None:
    """Type a code into the counter's field and press Enter, then wait for the workers."""
    from terminal.widgets.code_input import CodeInput

    field_ = pilot.app.screen.query_one("#code", CodeInput)
    field_.value = code
    await pilot.press("enter")
    await settle(pilot)


async def settle(pilot: Any) -> None:
    """Let every worker finish and every message be handled."""
    for _ in range(3):
        await pilot.app.workers.wait_for_complete()
        await pilot.pause()


def test_kit_issues_verifiable_codes(tmp_path: Path) -> None:
    from loyalty.cards import Card, verify
    from loyalty.trust import load_trust

    counter = make_counter(tmp_path)
    verdict = verify(counter.card("CT-TEST-0001"), load_trust(counter.store.read()), now=START)
    assert isinstance(verdict, Card)
    assert verdict.card_id == "CT-TEST-0001"


Callback = Callable[[object], None]
