"""Issue 15 item 4: what the screen says is true.

The real app through Pilot on a real ledger in tmp_path; the sync tests talk to the reference
platform over real HTTP on 127.0.0.1, the full disk is a real SQLite ``max_page_count``.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from textual.widgets import DataTable

from loyalty.ledger import Ledger
from loyalty.programs import Program
from terminal import messages as msg
from terminal.app import CounterApp
from terminal.dialogs.confirm import ConfirmDialog
from terminal.dialogs.redeem import RedeemDialog
from terminal.screens.counter import CounterScreen
from terminal.screens.history import HistoryScreen
from terminal.screens.report import ReportScreen
from terminal.services import SlipPrinter, make_app, sync_runner_for
from tests.conftest_platform import PairedTerminal, RunningPlatform
from tests.test_app_kit import SIZE, make_counter, settle, text_of, type_code
from tests.test_app_sync_soon import Seen, issue_card
from tests.test_ledger_hardening import fill_to_the_brim

CARD = "CT-TRUE-0001"


def notices(app: CounterApp) -> list[str]:
    """The notices on the screen now."""
    return [str(n.message) for n in app._notifications]


def platform_app(terminal: PairedTerminal, lang: str = "en", budget: float = 5.0) -> CounterApp:
    settings = terminal.with_settings(
        sync={"interval_seconds": 3600, "time_budget_seconds": budget},
        camera={"enabled": False},
        terminal={"bell": False},
    )
    ledger = Ledger(terminal.store, shop_id=terminal.shop_id, terminal_id=terminal.terminal_id)
    return make_app(
        settings,
        ledger,
        None,
        None,
        sync_runner_for(settings, terminal.store),
        store=terminal.store,
        language=lang,
        background_sync=False,
    )


# --- The card panel after a sync -------------------------------------------------------------


async def test_card_panel_refreshes_after_a_sync(
    platform: RunningPlatform, terminal_factory: Callable[..., PairedTerminal]
) -> None:
    terminal = terminal_factory(platform)
    code = issue_card(platform)
    app = platform_app(terminal)
    seen = Seen()
    async with app.run_test(size=SIZE, message_hook=seen) as pilot:
        await settle(pilot)
        await type_code(pilot, code)
        await pilot.press("f2")
        await settle(pilot)
        assert "not yet confirmed" in text_of(app, "#card-progress")
        app.run_sync()
        await seen.until(msg.SyncFinished, 1)
        await settle(pilot)
        assert app.facts is not None and app.facts.pending == 0
        # The status line says "0 to send": the panel no longer says "not yet confirmed".
        assert "not yet confirmed" not in text_of(app, "#card-progress")
        assert app.card is not None and app.card.pending == 0


# --- Refusals: cleared by the next card, never under a notice ----------------------------------


async def test_a_new_card_clears_the_previous_refusal(tmp_path: Path) -> None:
    counter = make_counter(tmp_path)
    app = counter.app()
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await type_code(pilot, "https://example.com/not-a-card")
        assert "web link" in text_of(app, "#banner")
        await type_code(pilot, counter.card(CARD))
        assert text_of(app, "#banner").strip() == ""
        assert CARD in text_of(app, "#scan-result")


async def test_a_refusal_at_the_counter_is_on_the_banner_not_in_a_notice(tmp_path: Path) -> None:
    counter = make_counter(tmp_path)
    program = Program.from_settings(counter.settings.program)
    stamp = counter.ledger.stamp(CARD, program, now=counter.clock())
    counter.ledger.void(stamp.event.id, now=counter.clock())
    app = counter.app()
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        app.record_void(stamp.event.id, CARD)  # the ledger refuses: already voided
        await settle(pilot)
        assert "already" in text_of(app, "#banner")
        assert notices(app) == []


# --- Refused at once, not after a confirmation --------------------------------------------------


async def test_f4_with_too_few_stamps_refuses_at_once(tmp_path: Path) -> None:
    counter = make_counter(tmp_path)
    app = counter.app()
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await type_code(pilot, counter.card(CARD))
        await pilot.press("f4")
        await settle(pilot)
        assert not isinstance(app.screen, RedeemDialog)
        assert isinstance(app.screen, CounterScreen)
        banner = text_of(app, "#banner")
        assert "0" in banner and "10" in banner, banner


async def test_voiding_a_voided_row_refuses_at_once(tmp_path: Path) -> None:
    counter = make_counter(tmp_path)
    program = Program.from_settings(counter.settings.program)
    stamp = counter.ledger.stamp(CARD, program, now=counter.clock())
    counter.ledger.void(stamp.event.id, now=counter.clock())
    app = counter.app()
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("f5")
        await settle(pilot)
        assert isinstance(app.screen, HistoryScreen)
        table = app.screen.query_one("#history", DataTable)
        table.move_cursor(row=1)  # newest first: the void, then the voided stamp
        await pilot.press("delete")
        await settle(pilot)
        assert not isinstance(app.screen, ConfirmDialog)
        assert any(stamp.event.receipt_no in n and "void" in n for n in notices(app))
        table.move_cursor(row=0)  # the void itself cannot be voided either
        await pilot.press("delete")
        await settle(pilot)
        assert not isinstance(app.screen, ConfirmDialog)


# --- The anonymous purchase's message -----------------------------------------------------------


async def test_anonymous_purchase_says_the_stamps_its_slip_lets_claim(tmp_path: Path) -> None:
    counter = make_counter(tmp_path)
    app = counter.app()
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("f3", "2", "5", ",", "0", "0", "enter")
        await settle(pilot)
        event_id = app.last_recorded.event.id
        assert app.receipt_builder is not None
        slip = app.receipt_builder(event_id, "en")
        assert slip.stamps > 0
        banner = text_of(app, "#banner")
        assert f"claims {slip.stamps} stamp" in banner, banner


# --- The report's keys ----------------------------------------------------------------------------


async def test_report_help_names_its_day_keys_and_never_steps_into_the_future(
    tmp_path: Path,
) -> None:
    counter = make_counter(tmp_path)
    app = counter.app()
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("f1")
        await settle(pilot)
        keys = text_of(app, "#help-keys")
        assert "←" in keys and "Previous day" in keys
        assert "→" in keys and "Next day" in keys
        await pilot.press("escape", "f6")
        await settle(pilot)
        report = app.screen
        assert isinstance(report, ReportScreen) and report.report is not None
        today = report.report.day
        await pilot.press("right")
        await settle(pilot)
        assert report.report.day == today
        assert any("still to come" in n for n in notices(app))
        await pilot.press("left")
        await settle(pilot)
        assert (today - report.report.day).days == 1


# --- Sync now, printer test, camera preview, demo key ---------------------------------------------


async def test_f7_sync_now_shows_progress_and_outcome(
    platform: RunningPlatform, terminal_factory: Callable[..., PairedTerminal]
) -> None:
    terminal = terminal_factory(platform)
    code = issue_card(platform)
    app = platform_app(terminal)
    seen = Seen()
    async with app.run_test(size=SIZE, message_hook=seen) as pilot:
        await settle(pilot)
        await type_code(pilot, code)
        await pilot.press("f2")
        await settle(pilot)
        await pilot.press("f7")
        await settle(pilot)
        await pilot.press("f7")
        assert any("Sync running" in n for n in notices(app))
        await seen.until(msg.SyncFinished, 1)
        await settle(pilot)
        assert any("Sync finished: " in n and "1 sent, 0 waiting" in n for n in notices(app))


async def test_printer_test_prints_a_test_page_not_the_last_slip(tmp_path: Path) -> None:
    paper = tmp_path / "printer.bin"
    counter = make_counter(tmp_path, overrides={"printer": {"kind": "file", "target": str(paper)}})
    program = Program.from_settings(counter.settings.program)
    last = counter.ledger.stamp(CARD, program, now=counter.clock())
    app = counter.app(printer=SlipPrinter(counter.settings))
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("f8", "f3")
        await settle(pilot)
    printed = paper.read_bytes()
    assert b"Printer test" in printed
    assert b"If you can read this, the printer works." in printed
    assert (last.event.receipt_no or "").encode() not in printed
    assert CARD.encode() not in printed


async def test_ctrl_t_with_no_camera_says_so(tmp_path: Path) -> None:
    counter = make_counter(tmp_path)
    app = counter.app()
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("ctrl+t")
        await settle(pilot)
        assert any("No camera" in n for n in notices(app))
        assert not app.preview_on


async def test_f12_is_shown_only_in_demo_mode(tmp_path: Path) -> None:
    from tests.test_screens_fit import screen_text

    counter = make_counter(tmp_path)
    app = counter.app()
    async with app.run_test(size=(200, 30)) as pilot:
        await settle(pilot)
        assert "f12" not in screen_text(app).splitlines()[-1]
        await pilot.press("f1")
        await settle(pilot)
        assert "F12" not in text_of(app, "#help-keys")
    card = tmp_path / "card.png"
    card.write_bytes(b"")
    demo = counter.app(demo_cards=(card,))
    async with demo.run_test(size=(200, 30)) as pilot:
        await settle(pilot)
        assert "f12" in screen_text(demo).splitlines()[-1]


# --- Errors in the shop's language ---------------------------------------------------------------


async def test_a_failed_worker_is_said_in_the_shop_language(tmp_path: Path) -> None:
    counter = make_counter(tmp_path)

    def broken(event_id: str, lang: str) -> Any:
        raise RuntimeError("receipt template missing")

    app = counter.app(lang="nl", receipt_builder=broken)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await type_code(pilot, counter.card(CARD))
        await pilot.press("f2")
        await settle(pilot)
        await pilot.press("ctrl+r")
        await settle(pilot)
        said = " ".join(notices(app))
        assert "onverwachte fout" in said
        assert "RuntimeError" not in said and "template" not in said


async def test_the_sync_screen_says_why_in_the_shop_language(
    platform: RunningPlatform, terminal_factory: Callable[..., PairedTerminal]
) -> None:
    terminal = terminal_factory(platform)
    platform.stop()
    app = platform_app(terminal, lang="nl", budget=1.0)
    seen = Seen()
    async with app.run_test(size=SIZE, message_hook=seen) as pilot:
        await settle(pilot)
        app.run_sync()
        await seen.until(msg.SyncFinished, 1)
        await settle(pilot)
        await pilot.press("f7")
        await settle(pilot)
        facts = text_of(app, "#sync-facts")
        assert app.last_sync is not None and app.last_sync.detail  # the core's English cause
        assert app.last_sync.detail not in facts
        assert "internetverbinding" in facts


async def test_quarantine_reasons_are_in_the_shop_language(tmp_path: Path) -> None:
    counter = make_counter(tmp_path)
    program = Program.from_settings(counter.settings.program)
    stamp = counter.ledger.stamp(CARD, program, now=counter.clock())
    with counter.store.write() as db:
        # What sync.outbox writes for a rejected event: "code: the platform's sentence".
        db.execute(
            "UPDATE outbox SET state = 'quarantined', reason = ? WHERE seq = ?",
            ["program_mismatch: the event's program is not the shop's", stamp.event.seq],
        )
    app = counter.app(lang="fr")
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("f7")
        await settle(pilot)
        table = app.screen.query_one("#quarantined", DataTable)
        reason = str(table.get_row_at(0)[-1])
        assert reason == "refusé par la plateforme (program_mismatch)"


async def test_a_full_disk_refuses_the_stamp_in_the_shop_language(tmp_path: Path) -> None:
    counter = make_counter(tmp_path)
    store = counter.store
    code = counter.card(CARD)
    pages = store.pragma("page_count")
    store._write_conn.execute(f"PRAGMA max_page_count = {pages}")
    fill_to_the_brim(store)
    app = counter.app(lang="de")
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await type_code(pilot, code)
        await pilot.press("f2")
        await settle(pilot)
        banner = text_of(app, "#banner")
        assert banner.strip(), "the write failed silently"
        assert "✔" not in banner
        assert "Nichts wurde erfasst" in banner, banner
        assert "DatabaseWriteFailed" not in banner
        assert not app.writing  # the card's keys work again


async def test_notices_never_cover_the_result_or_the_banner(tmp_path: Path) -> None:
    from textual.widgets._toast import Toast

    counter = make_counter(tmp_path)
    app = counter.app()
    async with app.run_test(size=(80, 24), notifications=True) as pilot:
        await settle(pilot)
        await type_code(pilot, counter.card(CARD))
        await pilot.press("f2")
        await settle(pilot)
        for n in range(3):
            app.notify(f"notice {n}: a sentence long enough to take a few lines of the screen")
        await settle(pilot)
        toasts = [toast.region for toast in app.screen.query(Toast)]
        assert toasts
        for selector in ("#banner", "#scan-result"):
            region = app.screen.query_one(selector).region
            assert all(not toast.overlaps(region) for toast in toasts), selector


async def test_a_void_names_the_cancelled_slip_by_its_number(tmp_path: Path) -> None:
    counter = make_counter(tmp_path)
    program = Program.from_settings(counter.settings.program)
    stamp = counter.ledger.stamp(CARD, program, now=counter.clock())
    app = counter.app()
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        app.record_void(stamp.event.id, CARD)
        await settle(pilot)
        banner = text_of(app, "#banner")
        assert f"void of {stamp.event.receipt_no}" in banner, banner
        assert stamp.event.id not in banner


async def test_a_printer_fault_is_said_in_the_shop_language(tmp_path: Path) -> None:
    # A file printer whose folder does not exist: the real FilePrinter fails to open it.
    target = tmp_path / "no-such-folder" / "printer.bin"
    counter = make_counter(tmp_path, overrides={"printer": {"kind": "file", "target": str(target)}})
    counter.ledger.stamp(CARD, Program.from_settings(counter.settings.program), now=counter.clock())
    app = counter.app(lang="nl", printer=SlipPrinter(counter.settings))
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("f8", "f3")
        await settle(pilot)
        said = " ".join(notices(app))
        assert "Errno" not in said and "Could not" not in said, said
        from receipts.printers import MESSAGES

        dutch = [
            MESSAGES.text(f"printer_{r}", "nl", target=str(target)) for r in ("absent", "failed")
        ]
        assert any(sentence[:30] in said for sentence in dutch), said
