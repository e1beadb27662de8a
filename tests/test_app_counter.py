"""The counter app driven through Pilot on a real ledger: scan, stamp, purchase, redeem, void,
receipt, language switch, a video file as the camera, and the camera child crashing and coming
back."""

from __future__ import annotations

import os
import signal
import threading
from pathlib import Path
from typing import Any

import numpy as np

from loyalty.ledger import EventKind
from loyalty.programs import Program
from receipts.cards import render_card_png
from terminal import messages as msg
from terminal.dialogs.receipt import ReceiptDialog
from terminal.services import CameraScanner, receipt_builder_for
from tests.qrimages import noisy_background, scene, write_video
from tests.test_app_kit import SIZE, make_counter, settle, text_of, type_code

CARD = "CT-TEST-0001"


async def test_scan_then_stamp_shows_the_new_balance(tmp_path: Path) -> None:
    counter = make_counter(tmp_path)
    app = counter.app()
    seen: list[type] = []
    async with app.run_test(size=SIZE, message_hook=lambda m: seen.append(type(m))) as pilot:
        await settle(pilot)
        await type_code(pilot, "  " + counter.card(CARD) + " ")
        assert app.card is not None and app.card.card_id == CARD
        assert "Card CT-TEST-0001" in text_of(app, "#card-title")
        assert "0 of 10 stamps" in text_of(app, "#card-progress")

        await pilot.press("f2")
        await settle(pilot)
        assert counter.ledger.balance(CARD).total == 1
        assert "RECORDED" in text_of(app, "#banner")
        assert "1 of 10 stamps" in text_of(app, "#card-progress")
        assert msg.StampRecorded in seen
        assert "1 to send" in text_of(app, "#status")


async def test_refused_code_says_why_and_records_nothing(tmp_path: Path) -> None:
    counter = make_counter(tmp_path)
    app = counter.app()
    async with app.run_test(size=SIZE) as pilot:
        await type_code(pilot, "https://example.com/pay?x=1")
        assert app.card is None
        assert "REFUSED" in text_of(app, "#scan-result")
        await pilot.press("f2")  # no card: a stamp is refused, not recorded
        await settle(pilot)
        assert "Scan a card first" in text_of(app, "#banner")
    assert counter.ledger.recent() == []


async def test_purchase_accepts_a_comma_amount(tmp_path: Path) -> None:
    counter = make_counter(tmp_path, overrides={"program": {"cents_per_stamp": 500}})
    app = counter.app()
    async with app.run_test(size=SIZE) as pilot:
        await type_code(pilot, counter.card(CARD))
        await pilot.press("f3")
        await pilot.press("1", "2", ",", "5", "0")
        await settle(pilot)
        assert "Gives 3 stamp(s)" in text_of(app, "#purchase-gives")  # 1 visit + 2 per 5.00
        await pilot.press("enter")
        await settle(pilot)
        assert "purchase €12.50" in text_of(app, "#banner")
    [event] = counter.ledger.recent()
    assert event.kind is EventKind.PURCHASE
    assert event.amount_cents == 1250
    assert counter.ledger.balance(CARD).total == 3


async def test_purchase_refuses_a_bad_amount_and_keeps_the_dialog(tmp_path: Path) -> None:
    counter = make_counter(tmp_path)
    app = counter.app()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("f3")
        await pilot.press("1", "2", ",", "5", "5", "5", "enter")
        await settle(pilot)
        assert type(app.screen).__name__ == "PurchaseDialog"
        assert text_of(app, "#purchase-error")
        await pilot.press("escape")
        await settle(pilot)
    assert counter.ledger.recent() == []


async def test_redeem_refused_then_allowed_then_offline_limit(tmp_path: Path) -> None:
    counter = make_counter(
        tmp_path, overrides={"program": {"stamps_per_visit": 10, "max_stamps_per_day": 50}}
    )
    app = counter.app()
    async with app.run_test(size=SIZE) as pilot:
        await type_code(pilot, counter.card(CARD))
        await pilot.press("f4", "enter")
        await settle(pilot)
        assert "REFUSED" in text_of(app, "#banner")
        assert counter.ledger.balance(CARD).total == 0

        await pilot.press("f2")
        await settle(pilot)
        await pilot.press("f2", "enter")  # a second visit within a minute: Enter confirms it
        await settle(pilot)
        assert "Rewards available: 2" in text_of(app, "#card-progress")
        await pilot.press("f4")
        await settle(pilot)
        assert "a free coffee" in text_of(app, "#redeem-question")
        await pilot.press("enter")
        await settle(pilot)
        assert "reward given" in text_of(app, "#banner")
        assert counter.ledger.balance(CARD).total == 10

        await pilot.press("f4", "enter")  # one unconfirmed reward per card per day offline
        await settle(pilot)
        assert "REFUSED" in text_of(app, "#banner")
        assert counter.ledger.balance(CARD).total == 10


async def test_void_from_history_cancels_the_stamp(tmp_path: Path) -> None:
    counter = make_counter(tmp_path)
    app = counter.app()
    async with app.run_test(size=SIZE) as pilot:
        await type_code(pilot, counter.card(CARD))
        await pilot.press("f2")
        await settle(pilot)
        assert counter.ledger.balance(CARD).total == 1
        await pilot.press("f5")
        await settle(pilot)
        assert type(app.screen).__name__ == "HistoryScreen"
        await pilot.press("delete")
        await settle(pilot)
        assert "Void demo-t1-1" in text_of(app, "#confirm-question")
        await pilot.press("enter")
        await settle(pilot)
        kinds = [e.kind for e in counter.ledger.recent()]
        assert kinds == [EventKind.VOID, EventKind.STAMP]
        assert counter.ledger.balance(CARD).total == 0
        # Voiding the same event again is refused at once (no question first), and said so.
        await pilot.press("down", "delete")
        await settle(pilot)
        assert type(app.screen).__name__ == "HistoryScreen"
        assert any("already" in str(n.message) for n in app._notifications)
        assert len(counter.ledger.recent()) == 2


async def test_ctrl_r_builds_the_receipt_in_a_worker_and_shows_it(tmp_path: Path) -> None:
    counter = make_counter(tmp_path)
    build = receipt_builder_for(counter.settings, counter.ledger)
    threads: list[threading.Thread] = []

    def builder(event_id: str, lang: str) -> Any:
        threads.append(threading.current_thread())
        return build(event_id, lang)

    app = counter.app(receipt_builder=builder)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("ctrl+r")  # nothing recorded yet: nothing to show
        await settle(pilot)
        assert not isinstance(app.screen, ReceiptDialog)
        await type_code(pilot, counter.card(CARD))
        await pilot.press("f2")
        await settle(pilot)
        await pilot.press("ctrl+r")
        await settle(pilot)
        assert isinstance(app.screen, ReceiptDialog)
        assert "demo-t1-1" in text_of(app, "#receipt-text")
        await pilot.press("escape")
        await settle(pilot)
        assert type(app.screen).__name__ == "CounterScreen"
    assert threads and threading.main_thread() not in threads


async def test_language_switch_relabels_everything(tmp_path: Path) -> None:
    counter = make_counter(tmp_path)
    app = counter.app(lang="fr")
    async with app.run_test(size=SIZE) as pilot:
        await type_code(pilot, counter.card(CARD))
        assert "Carte CT-TEST-0001" in text_of(app, "#card-title")
        assert "tampons sur 10" in text_of(app, "#card-progress")
        await pilot.press("f9")
        await settle(pilot)
        assert app.lang == "nl"
        assert "Kaart CT-TEST-0001" in text_of(app, "#card-title")
        assert "0 van 10 stempels" in text_of(app, "#card-progress")
        footer = {b.binding.description for b in app.screen.active_bindings.values()}
        assert {"Stempel", "Aankoop", "Beloning", "Taal"} <= footer
        await pilot.press("f9")
        await settle(pilot)
        assert app.lang == "de"
        assert "Karte CT-TEST-0001" in text_of(app, "#card-title")
        await pilot.press("f8")
        await settle(pilot)
        await pilot.press("down", "enter")  # de -> en in the settings list
        await settle(pilot)
        assert app.lang == "en"


async def test_demo_card_and_camera_crash_recovery(tmp_path: Path) -> None:
    counter = make_counter(tmp_path)
    png = tmp_path / "card.png"
    png.write_bytes(render_card_png(counter.card(CARD), CARD, language="en"))
    scanner = CameraScanner.from_settings(counter.settings, camera=False)
    app = counter.app(scanner=scanner, demo_cards=(png,))
    notices: list[str] = []
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        app.notify = lambda message, **kw: notices.append(str(message))  # type: ignore[method-assign]
        await wait_until(pilot, lambda: scanner.process is not None and scanner.process.pid)

        await pilot.press("f12")
        await wait_until(pilot, lambda: app.card is not None)
        assert app.card is not None and app.card.card_id == CARD

        old_pid = scanner.process.pid
        os.kill(old_pid, signal.SIGKILL)
        await wait_until(pilot, lambda: any("camera stopped" in n for n in notices))
        await wait_until(pilot, lambda: scanner.process.pid not in (None, old_pid))
        assert scanner.process.restarts >= 1
        # The restarted child still reads cards, and the counter still records.
        app.clear_card()
        await pilot.press("f12")
        await wait_until(pilot, lambda: app.card is not None)
        await pilot.press("f2")
        await settle(pilot)
        assert counter.ledger.balance(CARD).total == 1


async def wait_until(pilot: object, condition: object, tries: int = 400) -> None:
    """Pump the app until ``condition()`` holds (the child process answers in its own time)."""
    import asyncio

    for _ in range(tries):
        if condition():  # type: ignore[operator]
            return
        await pilot.pause(0.05)  # type: ignore[attr-defined]
        await asyncio.sleep(0)
    raise AssertionError("condition not met")


async def test_a_video_file_as_the_camera_shows_the_card_and_stamps(tmp_path: Path) -> None:
    video = tmp_path / "camera.avi"
    counter = make_counter(tmp_path, overrides={"camera": {"enabled": True, "device": str(video)}})
    rng = np.random.default_rng(6)
    empty = noisy_background(640, 480, rng)
    card = scene(counter.card(CARD), rng, size=(640, 480), module_px=4)
    write_video(video, [empty] * 10 + [card] * 20)  # a customer steps up and holds the card
    scanner = CameraScanner.from_settings(counter.settings)
    assert (scanner.source.kind, scanner.source.realtime, scanner.source.loop) == (
        "video",
        True,
        True,
    )
    app = counter.app(scanner=scanner)
    async with app.run_test(size=SIZE) as pilot:
        await wait_until(pilot, lambda: app.card is not None)
        assert app.card is not None and app.card.card_id == CARD
        assert app.camera_state == "running"
        await pilot.press("f2")
        await wait_until(pilot, lambda: counter.ledger.balance(CARD).total == 1)
        await settle(pilot)
        assert "RECORDED" in text_of(app, "#banner")


async def test_a_status_refresh_right_after_a_card_reload_does_not_cancel_it(
    tmp_path: Path,
) -> None:
    counter = make_counter(tmp_path)
    app = counter.app()
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await type_code(pilot, counter.card(CARD))
        assert "0 of 10 stamps" in text_of(app, "#card-progress")
        program = Program.from_settings(counter.settings.program)
        counter.ledger.stamp(CARD, program, now=counter.clock())  # recorded elsewhere
        # After a sync the app reloads the card; a status refresh may start in the same
        # moment (a record, the timer): the panel must still show the new figures.
        app.reload_card(CARD)
        app.refresh_status()
        await app.workers.wait_for_complete()
        await settle(pilot)
        assert "1 of 10 stamps" in text_of(app, "#card-progress")
