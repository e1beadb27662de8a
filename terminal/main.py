"""Start the counter app from the command line: build its parts, run it, close them.

``run_app(env)`` is what ``citie-terminal`` (no command) calls with its ``CliEnv``. With no
config file the terminal starts in demo mode (see ``terminal.demo``).
"""

from __future__ import annotations

import contextlib
from pathlib import Path

from config.settings import PrinterKind, Settings
from loyalty import schema as _schema  # noqa: F401  (registers the ledger migrations)
from loyalty.db import DatabaseError, Store
from loyalty.ledger import Ledger
from sync.lock import counter_open
from terminal.cli_support import CliEnv, Refused
from terminal.commands.setup import ensure_private_key, open_store
from terminal.demo import CARDS_DIR, demo_settings, demo_voucher_files, prepare
from terminal.services import (
    CameraScanner,
    PrinterPort,
    SlipPrinter,
    SyncRunner,
    make_app,
    sync_runner_for,
)


def run_app(env: CliEnv) -> None:
    """Run the counter app until the shopkeeper quits (Ctrl+Q)."""
    settings, config_path = env.load()
    # Held from before the ledger opens until after it closes: `ledger restore` refuses to
    # swap the file while an app has it (the app would record into the copy set aside).
    with counter_open(settings.database_path):
        _run_app(env, settings, config_path)


def _run_app(env: CliEnv, settings: Settings, config_path: Path) -> None:
    demo = not config_path.exists()
    if demo:
        settings = demo_settings(settings)  # the demo shop's address and reward
        try:
            store = Store.open(settings.database_path)
        except DatabaseError as exc:
            raise Refused("database_error", str(exc), exit_code=3) from exc
    else:
        # Before anything can be recorded: a key others can read, or a ledger that is
        # missing, empty or not a ledger, stops the app with what to do.
        store = open_store(env)
        try:
            ensure_private_key(env)
        except Refused:
            store.close()
            raise
    scanner = CameraScanner.from_settings(settings)
    try:
        cards: tuple[Path, ...] = ()
        if demo:
            cards = prepare(settings, store).cards
        else:
            folder = settings.data_dir / CARDS_DIR
            cards = tuple(sorted(folder.glob("*.png"))) if folder.is_dir() else ()
        # Demo mode made them; `make run` puts the platform's demo vouchers there too.
        vouchers = demo_voucher_files(settings)
        ledger = Ledger(
            store,
            shop_id=settings.shop.id,
            terminal_id=settings.terminal.id,
            platform_configured=bool(settings.platform.url),
        )
        printer: PrinterPort | None = (
            SlipPrinter(settings) if settings.printer.kind is not PrinterKind.NONE else None
        )
        runner: SyncRunner | None = (
            sync_runner_for(settings, store) if settings.platform.url else None
        )
        app = make_app(
            settings,
            ledger,
            scanner,
            printer,
            runner,
            store=store,
            demo_cards=cards,
            demo_vouchers=vouchers,
            language=env.lang,  # --lang starts the counter in that language
        )
        app.run()
    finally:
        with contextlib.suppress(Exception):
            scanner.stop()
        store.close()
