"""City vouchers at the counter (issue 13 item 2): the real app through Pilot on a real SQLite
ledger, vouchers issued by ``city.issuer.Issuer`` whose trust list the terminal installed.

Scan a voucher, see its value; pay part of it, the rest, never more than is left; a purchase
with stamps on the card paid partly with the voucher in one commit (both or neither); the
demo key; the counter's routing by prefix; nothing of a voucher's text read as markup.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

import cv2
from textual.widgets import Static

from loyalty.ledger import EventKind, Ledger
from loyalty.vouchers import voucher_key
from receipts.cards import render_card_png
from terminal.dialogs.approval import ApprovalDialog
from terminal.dialogs.receipt import ReceiptDialog
from terminal.dialogs.voucher import VoucherDialog
from terminal.services import (
    CameraScanner,
    SlipPrinter,
    VoucherView,
    make_app,
    sync_runner_for,
)
from terminal.widgets.voucher import VoucherPanel, VoucherShown
from tests.conftest_platform import PairedTerminal, RunningPlatform
from tests.test_app_counter import wait_until
from tests.test_app_kit import SIZE, START, Counter, make_counter, settle, text_of, type_code
from tests.test_app_wedge import SCANNER_GAP_S, KeyClock, blur, garble_on_azerty, type_burst
from tests.test_staff_app import ANNA_PIN, BRAM_PIN, shop, type_keys, unlock, wait_for
from tests.test_vouchers_http import issue, platform_cli

CARD = "CT-TEST-0001"


def voucher_code(counter: Counter, cents: int = 2500, **claims: object) -> tuple[str, str]:
    """(voucher id, signed CV1: code) from the counter's trusted issuer, issued at START."""
    args: dict[str, object] = {"city": "roeselare", "campaign": "Spring in town", "now": START}
    args.update(claims)
    voucher, code = counter.issuer.issue_voucher(cents, **args)  # type: ignore[arg-type]
    return voucher.voucher_id, code


def spends(counter: Counter) -> list[int]:
    """The amounts of the ledger's voucher spends, oldest first (voids negative)."""
    rows = counter.store.read().execute(
        "SELECT amount_cents FROM events WHERE voucher_id IS NOT NULL ORDER BY seq"
    )
    return [int(row[0]) for row in rows]


def panel_text(app: object) -> str:
    """What the voucher panel shows (title, campaign and city, facts)."""
    screen = app.screen  # type: ignore[attr-defined]
    parts = ("#voucher-title", "#voucher-where", "#voucher-facts")
    return "\n".join(str(screen.query_one(part, Static).render()) for part in parts)


async def test_scanning_a_voucher_shows_its_campaign_value_and_expiry(tmp_path: Path) -> None:
    counter = make_counter(tmp_path)
    voucher_id, code = voucher_code(counter)
    app = counter.app()
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        assert not app.screen.query_one(VoucherPanel).display
        await type_code(pilot, code)
        assert app.voucher is not None and app.voucher.voucher_id == voucher_id
        assert app.card is None
        assert app.screen.query_one(VoucherPanel).display
        shown = panel_text(app)
        assert f"Voucher {voucher_id}" in shown
        assert "Spring in town · roeselare" in shown
        assert "€25.00 left of €25.00" in shown
        assert "Valid until" in shown
        assert "offline" not in shown  # the value left is under the offline allowance
        assert f"Voucher {voucher_id}" in text_of(app, "#scan-result")
        # The pay key shows now that a voucher is at the counter.
        keys = {b.binding.key for b in app.screen.active_bindings.values()}
        assert "f10" in keys


async def test_partial_spend_is_recorded_and_the_value_drops(tmp_path: Path) -> None:
    counter = make_counter(tmp_path)
    _, code = voucher_code(counter)
    app = counter.app()
    async with app.run_test(size=SIZE) as pilot:
        await type_code(pilot, code)
        await pilot.press("f10")
        await settle(pilot)
        assert isinstance(app.screen, VoucherDialog)
        await pilot.press("7", ",", "5", "0")
        assert "€17.50" in text_of(app, "#voucher-after")
        await pilot.press("enter")
        await settle(pilot)
        assert type(app.screen).__name__ == "CounterScreen"
        assert spends(counter) == [750]
        banner = text_of(app, "#banner")
        assert "RECORDED" in banner and "voucher pays €7.50, €17.50 left" in banner
        assert "€17.50 left of €25.00" in panel_text(app)
        assert app.voucher is not None and app.voucher.remaining_cents == 1750
    [event] = counter.ledger.recent()
    assert event.kind is EventKind.VOUCHER_SPEND and event.card_id is None


async def test_overspend_is_refused_with_what_is_left_offered_then_taken(tmp_path: Path) -> None:
    counter = make_counter(tmp_path)
    _, code = voucher_code(counter, 2000)
    app = counter.app()
    async with app.run_test(size=SIZE) as pilot:
        await type_code(pilot, code)
        await pilot.press("f10", "5", "enter")
        await settle(pilot)
        assert spends(counter) == [500]
        await pilot.press("f10", "3", "0", ",", "0", "0", "enter")
        await settle(pilot)
        # Refused in the dialog, nothing recorded, and what is left is offered.
        assert isinstance(app.screen, VoucherDialog)
        assert "Only €15.00 is left" in text_of(app, "#voucher-error")
        assert "F2 pays €15.00" in text_of(app, "#voucher-error")
        assert spends(counter) == [500]
        await pilot.press("f2")
        await settle(pilot)
        assert spends(counter) == [500, 1500]
        assert "voucher pays €15.00, €0.00 left" in text_of(app, "#banner")
        # Spent in full: the panel says so, and the pay key refuses with that sentence.
        assert "spent in full" in panel_text(app)
        await pilot.press("f10")
        await settle(pilot)
        assert not isinstance(app.screen, VoucherDialog)
        assert "spent in full" in text_of(app, "#banner")
    assert spends(counter) == [500, 1500]


async def test_hostile_amounts_are_refused_in_the_shopkeepers_language(tmp_path: Path) -> None:
    counter = make_counter(tmp_path)
    _, code = voucher_code(counter)
    app = counter.app(lang="nl")
    async with app.run_test(size=SIZE) as pilot:
        await type_code(pilot, code)
        await pilot.press("f10")
        await settle(pilot)
        for typed in ("0", "-1", "12,505"):
            app.screen.query_one("#voucher-amount").value = typed  # type: ignore[attr-defined]
            await pilot.press("enter")
            await settle(pilot)
            assert isinstance(app.screen, VoucherDialog), typed
            assert text_of(app, "#voucher-error"), typed
        await pilot.press("escape")
        await settle(pilot)
    assert spends(counter) == []


async def test_card_and_voucher_in_one_visit_purchase_with_stamps_and_a_voucher_part(
    tmp_path: Path,
) -> None:
    counter = make_counter(tmp_path, overrides={"program": {"cents_per_stamp": 500}})
    voucher_id, code = voucher_code(counter)
    app = counter.app()
    async with app.run_test(size=SIZE) as pilot:
        await type_code(pilot, counter.card(CARD))
        await type_code(pilot, code)
        # A visit can have both: the card stays on its panel beside the voucher.
        assert app.card is not None and app.card.card_id == CARD
        assert "Card CT-TEST-0001" in text_of(app, "#card-title")
        assert app.voucher is not None
        await pilot.press("f3", "1", "2", ",", "5", "0", "enter")
        await settle(pilot)
        assert isinstance(app.screen, VoucherDialog)
        assert "Purchase of €12.50" in text_of(app, "#voucher-purchase")
        # More than the purchase is refused with the purchase offered.
        await pilot.press("2", "0", "enter")
        await settle(pilot)
        assert "at most the purchase, €12.50" in text_of(app, "#voucher-error")
        app.screen.query_one("#voucher-amount").value = "7,50"  # type: ignore[attr-defined]
        await pilot.press("enter")
        await settle(pilot)
        banner = text_of(app, "#banner")
        assert "purchase €12.50, 3 stamp(s); voucher pays €7.50, €17.50 left" in banner
        assert "3 of 10 stamps" in text_of(app, "#card-progress")
        assert "€17.50 left of €25.00" in panel_text(app)
    purchase, spend = sorted(counter.ledger.recent(), key=lambda e: e.seq)
    assert purchase.kind is EventKind.PURCHASE and purchase.card_id == CARD
    assert purchase.amount_cents == 1250 and purchase.stamps == 3
    assert spend.kind is EventKind.VOUCHER_SPEND and spend.voucher_id == voucher_id
    assert spend.amount_cents == 750
    assert counter.ledger.balance(CARD).total == 3


async def test_purchase_with_a_voucher_is_both_or_neither(tmp_path: Path) -> None:
    counter = make_counter(tmp_path)
    _, code = voucher_code(counter, 1000)
    app = counter.app()
    async with app.run_test(size=SIZE) as pilot:
        await type_code(pilot, counter.card(CARD))
        await type_code(pilot, code)
        await pilot.press("f3", "2", "0", "enter")
        await settle(pilot)
        await pilot.press("8")
        assert isinstance(app.screen, VoucherDialog)
        # Meanwhile the voucher is paid with elsewhere on this terminal: only 4.00 is left.
        assert app.voucher is not None
        counter.ledger  # noqa: B018  (the same ledger the app writes to)
        app.desk.spend_voucher(app.voucher.voucher, 600)
        await pilot.press("enter")
        await settle(pilot)
        assert "REFUSED" in text_of(app, "#banner")
        assert "€4.00" in text_of(app, "#banner")
        # Neither event was kept: the purchase went with the refused spend.
        kinds = [e.kind for e in counter.ledger.recent()]
        assert kinds == [EventKind.VOUCHER_SPEND]
        assert counter.ledger.balance(CARD).total == 0
        # The panel says what is really left now.
        assert "€4.00 left of €10.00" in panel_text(app)
    assert spends(counter) == [600]


async def test_purchase_without_the_voucher_f4_records_the_purchase_alone(tmp_path: Path) -> None:
    counter = make_counter(tmp_path)
    _, code = voucher_code(counter)
    app = counter.app()
    async with app.run_test(size=SIZE) as pilot:
        await type_code(pilot, counter.card(CARD))
        await type_code(pilot, code)
        await pilot.press("f3", "9", "enter")
        await settle(pilot)
        await pilot.press("f4")
        await settle(pilot)
        assert "purchase €9.00" in text_of(app, "#banner")
        # Escape in the voucher's question cancels the whole purchase.
        await pilot.press("f3", "4", "enter")
        await settle(pilot)
        await pilot.press("escape")
        await settle(pilot)
    [event] = counter.ledger.recent()
    assert event.kind is EventKind.PURCHASE and event.amount_cents == 900
    assert spends(counter) == []


async def test_routing_by_prefix_card_voucher_and_typed_voucher_number(tmp_path: Path) -> None:
    counter = make_counter(tmp_path)
    voucher_id, code = voucher_code(counter)
    app = counter.app()
    async with app.run_test(size=SIZE) as pilot:
        await type_code(pilot, code)
        assert app.voucher is not None and app.card is None
        await type_code(pilot, counter.card(CARD))
        assert app.card is not None and app.card.card_id == CARD
        assert app.voucher is not None  # the voucher stays for this visit
        # A typed voucher number with a typo is named a typo (never tried as a card).
        typo = voucher_id[:-1] + ("A" if voucher_id[-1] != "A" else "B")
        await type_code(pilot, typo.lower().replace("-", " "))
        assert "typing mistake" in text_of(app, "#banner")
        assert "Voucher refused" in panel_text(app)
        assert app.card is not None  # the card is still the customer's
        # Escape: the customer has gone, card and voucher both.
        await pilot.press("escape")
        await settle(pilot)
        assert app.card is None and app.voucher is None
        assert not app.screen.query_one(VoucherPanel).display


async def test_an_expired_voucher_is_shown_refused_and_cannot_be_spent(tmp_path: Path) -> None:
    counter = make_counter(tmp_path)
    _, code = voucher_code(counter, expires_days=1, now=START - timedelta(days=3))
    app = counter.app(lang="fr")
    async with app.run_test(size=SIZE) as pilot:
        await type_code(pilot, code)
        assert app.voucher is None
        assert "Bon refusé" in panel_text(app)
        assert "REFUS" in text_of(app, "#banner")
        await pilot.press("f10")
        await settle(pilot)
        assert not isinstance(app.screen, VoucherDialog)
    assert spends(counter) == []


async def test_a_vouchers_text_is_never_markup_nor_control_characters(tmp_path: Path) -> None:
    counter = make_counter(tmp_path)
    # What a signed code can carry: printable, but markup to Rich and Textual.
    _, code = voucher_code(counter, campaign="[bold]x[/] [red]y")
    app = counter.app()
    async with app.run_test(size=SIZE) as pilot:
        await type_code(pilot, code)
        assert "[bold]x[/] [red]y · roeselare" in panel_text(app)
        # What the platform's feed could send: control characters too.
        assert app.voucher is not None
        hostile = VoucherView(
            voucher_id="CV-\x1b[2J-0001",
            campaign="[bold]x[/]\x1b[2J\x07",
            city="[link=http://x]c[/link]\x9b",
            currency="EUR",
            face_cents=2500,
            remaining_cents=2500,
            offline_left_cents=5000,
            expires_at=None,
            voucher=app.voucher.voucher,
        )
        app.post_message(VoucherShown(hostile))
        await settle(pilot)
        shown = panel_text(app)
        assert "[bold]x[/][2J" in shown
        assert "[link=http://x]c[/link]" in shown
        assert not any(ch in shown for ch in "\x1b\x07\x9b")
        assert "CV-[2J-0001" in text_of(app, "#scan-result")


async def test_f11_presents_the_next_demo_voucher(tmp_path: Path) -> None:
    counter = make_counter(tmp_path)
    voucher_id, code = voucher_code(counter)
    png = tmp_path / "demo-voucher-1.png"
    png.write_bytes(render_card_png(code, voucher_id, "Spring in town", language="en"))
    scanner = CameraScanner.from_settings(counter.settings, camera=False)
    app = counter.app(scanner=scanner, demo_vouchers=(png,))
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await wait_until(pilot, lambda: scanner.process is not None and scanner.process.pid)
        await pilot.press("f11")
        await wait_until(pilot, lambda: app.voucher is not None)
        assert app.voucher is not None and app.voucher.voucher_id == voucher_id
        await settle(pilot)
        assert "€25.00 left of €25.00" in panel_text(app)


async def test_f11_does_nothing_outside_demo_mode(tmp_path: Path) -> None:
    counter = make_counter(tmp_path)
    app = counter.app()
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        keys = {b.binding.key for b in app.screen.active_bindings.values()}
        assert "f11" not in keys and "f10" not in keys
        await pilot.press("f11")
        await settle(pilot)
        assert app.voucher is None


def platform_sent(counter: Counter, voucher_id: str, **state: object) -> None:
    """A voucher's state as the puller stores what the platform's updates bring."""
    row: dict[str, object] = {
        "voucher_key": voucher_key(voucher_id),
        "face_cents": 2500,
        "currency": "EUR",
        "expires_at": (START + timedelta(days=365)).isoformat(),
        "campaign": "Spring in town",
        "spent_cents": 0,
        "revoked_at": None,
        "version": 1,
    }
    row.update(state)
    with counter.store.write() as db:
        db.execute(
            "INSERT INTO voucher_states (voucher_key, face_cents, currency, expires_at, campaign, "
            "spent_cents, revoked_at, version) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            list(row.values()),
        )


async def test_a_typed_voucher_number_the_platform_sent_is_shown_and_spent(
    tmp_path: Path,
) -> None:
    counter = make_counter(tmp_path)
    voucher_id, _ = voucher_code(counter)
    unknown_id, _ = voucher_code(counter)
    platform_sent(counter, voucher_id, spent_cents=1000)
    app = counter.app()
    async with app.run_test(size=SIZE) as pilot:
        # Not sent by the platform yet: said so, and what to do.
        await type_code(pilot, unknown_id)
        assert "not known to this terminal yet" in text_of(app, "#banner")
        assert app.voucher is None
        # Typed as people type it from the paper.
        await type_code(pilot, voucher_id.lower().replace("-", " "))
        assert app.voucher is not None and app.voucher.voucher_id == voucher_id
        shown = panel_text(app)
        assert "€15.00 left of €25.00" in shown  # 10.00 spent elsewhere in the city
        assert "Spring in town" in shown
        await pilot.press("f10", "f2")
        await settle(pilot)
        assert "voucher pays €15.00, €0.00 left" in text_of(app, "#banner")
    assert spends(counter) == [1500]


async def test_a_voucher_the_city_revoked_is_shown_refused(tmp_path: Path) -> None:
    counter = make_counter(tmp_path)
    voucher_id, code = voucher_code(counter)
    platform_sent(counter, voucher_id, revoked_at=START.isoformat(), version=2)
    app = counter.app(lang="de")
    async with app.run_test(size=SIZE) as pilot:
        await type_code(pilot, code)
        assert app.voucher is not None and app.voucher.reason == "revoked"
        shown = panel_text(app)
        assert voucher_id in shown
        assert "Stadt" in shown  # the core's sentence: cancelled by the city, in German
        assert "ABGELEHNT" in text_of(app, "#banner")
        await pilot.press("f10")
        await settle(pilot)
        assert not isinstance(app.screen, VoucherDialog)
        # A purchase with the card is not offered the revoked voucher.
        await pilot.press("f3", "5", "enter")
        await settle(pilot)
        assert not isinstance(app.screen, VoucherDialog)
    assert spends(counter) == []
    [event] = counter.ledger.recent()
    assert event.kind is EventKind.PURCHASE


async def test_the_spend_slip_shows_like_other_slips(tmp_path: Path) -> None:
    counter = make_counter(tmp_path)
    voucher_id, code = voucher_code(counter)
    app = counter.app()
    async with app.run_test(size=SIZE) as pilot:
        await type_code(pilot, code)
        await pilot.press("f10", "7", ",", "5", "0", "enter")
        await settle(pilot)
        await pilot.press("ctrl+r")
        await settle(pilot)
        assert isinstance(app.screen, ReceiptDialog)
        slip = text_of(app, "#receipt-text")
        assert voucher_id[-4:] in slip and voucher_id not in slip  # masked but its last group
        assert "7.50" in slip and "17.50" in slip


async def test_a_purchase_paid_with_a_voucher_prints_both_slips(tmp_path: Path) -> None:
    slips = tmp_path / "slips.bin"
    counter = make_counter(tmp_path, overrides={"printer": {"kind": "file", "target": str(slips)}})
    voucher_id, code = voucher_code(counter)
    app = counter.app(printer=SlipPrinter(counter.settings))
    async with app.run_test(size=SIZE) as pilot:
        await type_code(pilot, counter.card(CARD))
        await type_code(pilot, code)
        await pilot.press("f3", "1", "2", "enter")
        await settle(pilot)
        await pilot.press("f2")  # the voucher pays the whole purchase
        await settle(pilot)
        assert "voucher pays €12.00, €13.00 left" in text_of(app, "#banner")
    printed = slips.read_bytes()
    # Two slips, two cuts: the purchase's, then the voucher spend's with its masked id.
    assert printed.count(b"\x1dV") == 2
    first, second = printed.split(b"\x1dV")[:2]
    assert voucher_id[-4:].encode() not in first
    assert voucher_id[-4:].encode() in second
    purchase, spend = sorted(counter.ledger.recent(), key=lambda e: e.seq)
    assert (purchase.amount_cents, spend.amount_cents) == (1200, 1200)


def test_demo_mode_issues_vouchers_the_terminal_verifies(tmp_path: Path) -> None:
    from config import Settings
    from loyalty.db import Store
    from loyalty.trust import load_trust
    from loyalty.vouchers import Voucher, verify_voucher
    from scanner.decoders import ZxingDecoder, to_grey
    from terminal.demo import prepare

    settings = Settings.model_validate({"storage": {"data_dir": tmp_path / "data"}})
    settings.data_dir.mkdir(parents=True)
    with Store.open(settings.database_path) as store:
        kit = prepare(settings, store)
        again = prepare(settings, store)  # running it again changes nothing
        trust = load_trust(store.read())
    assert len(kit.vouchers) == 2 and again.vouchers == kit.vouchers
    assert not any("voucher" in line for line in again.created)
    faces = []
    for path in kit.vouchers:
        grey = cv2.imread(str(path), cv2.IMREAD_GRAYSCALE)
        [decoded] = ZxingDecoder().decode(to_grey(grey))
        voucher = verify_voucher(decoded.text, trust)
        assert isinstance(voucher, Voucher), voucher
        faces.append(voucher.face_cents)
    assert faces == [2500, 1000]


async def test_over_http_a_spend_syncs_once_and_a_revocation_reaches_the_panel(
    platform: RunningPlatform, terminal_factory: Callable[..., PairedTerminal]
) -> None:
    """The counter against the reference platform: the spend is sent, the platform's
    confirmation comes back, and the city's revocation turns the panel to refused."""
    terminal = terminal_factory(platform)
    settings = terminal.with_settings(camera={"enabled": False}, terminal={"bell": False})
    ledger = Ledger(
        terminal.store,
        shop_id=terminal.shop_id,
        terminal_id=terminal.terminal_id,
        platform_configured=True,
    )
    voucher_id, code = issue(platform, "25,00", "Spring in town")
    app = make_app(
        settings,
        ledger,
        None,
        None,
        sync_runner_for(settings, terminal.store),
        store=terminal.store,
        language="en",
        background_sync=False,
    )
    async with app.run_test(size=SIZE) as pilot:
        app.run_sync()  # the issuer's trust list arrives with the first sync
        await settle(pilot)
        await type_code(pilot, code)
        assert app.voucher is not None and app.voucher.voucher_id == voucher_id
        await pilot.press("f10", "7", ",", "5", "0", "enter")
        await settle(pilot)
        app.run_sync()
        await settle(pilot)
        assert "0 to send" in text_of(app, "#status")
        assert "€17.50 left of €25.00" in panel_text(app)
        platform_cli(platform, "voucher", "revoke", voucher_id)
        app.run_sync()
        await settle(pilot)
        # The sync brought the revocation: the panel says so without a new scan.
        assert app.voucher is not None and app.voucher.reason == "revoked"
        assert "cancelled by the city" in panel_text(app)
        await pilot.press("f10")
        await settle(pilot)
        assert not isinstance(app.screen, VoucherDialog)
    stored = platform.query("SELECT amount_cents FROM events WHERE voucher_id = ?", [voucher_id])
    assert [row[0] for row in stored] == [750]


async def test_staff_a_cashiers_voucher_payments_and_a_large_purchase_waits_for_a_manager(
    tmp_path: Path,
) -> None:
    """Issue 14 beside 13: a spend names who served; a purchase paid partly with a voucher
    above ``approval_over_cents`` waits for a manager, then both events are kept."""
    place = shop(tmp_path, overrides={"limits": {"approval_over_cents": 10_000}})
    counter = place.counter
    _, code = voucher_code(counter, 5000)
    app = place.app()
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await unlock(pilot, "bram", BRAM_PIN)
        await type_code(pilot, counter.card(CARD))
        await type_code(pilot, code)
        await pilot.press("f10", "5", "enter")
        await settle(pilot)
        [spend] = counter.ledger.recent()
        assert (spend.kind, spend.staff_id, spend.approver_id) == (
            EventKind.VOUCHER_SPEND,
            place.bram.id,
            None,
        )
        await pilot.press("f3", "1", "5", "0", "enter")  # 150.00 > 100.00
        await settle(pilot)
        await pilot.press("2", "0", "enter")  # the voucher pays 20.00 of it
        await settle(pilot)
        assert isinstance(app.screen, ApprovalDialog)
        assert len(counter.ledger.recent()) == 1  # nothing more until a manager says so
        await type_keys(pilot, "anna")
        await pilot.press("enter")
        await type_keys(pilot, ANNA_PIN)
        await pilot.press("enter")
        await settle(pilot)
        purchase, part = sorted(counter.ledger.recent()[:2], key=lambda e: e.seq)
        assert (purchase.amount_cents, purchase.staff_id, purchase.approver_id) == (
            15_000,
            place.bram.id,
            place.anna.id,
        )
        assert (part.kind, part.amount_cents, part.staff_id) == (
            EventKind.VOUCHER_SPEND,
            2000,
            place.bram.id,
        )
        assert "€25.00 left of €50.00" in panel_text(app)


async def test_staff_a_cashiers_voucher_payment_above_the_limit_waits_for_a_manager(
    tmp_path: Path,
) -> None:
    """As headless `voucher spend` asks: a payment above ``approval_over_cents`` needs a
    manager, Escape records nothing, the approved spend names both."""
    place = shop(tmp_path, overrides={"limits": {"approval_over_cents": 1_000}})
    counter = place.counter
    _, code = voucher_code(counter, 5000)
    app = place.app()
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await unlock(pilot, "bram", BRAM_PIN)
        await type_code(pilot, code)
        await pilot.press("f10", "1", "5", "enter")  # 15.00 > 10.00
        await settle(pilot)
        assert isinstance(app.screen, ApprovalDialog)
        await pilot.press("escape")
        await settle(pilot)
        assert counter.ledger.recent() == []
        await pilot.press("f10", "1", "5", "enter")
        await settle(pilot)
        assert isinstance(app.screen, ApprovalDialog)
        await type_keys(pilot, "anna")
        await pilot.press("enter")
        await type_keys(pilot, ANNA_PIN)
        await pilot.press("enter")
        await settle(pilot)
        [spend] = counter.ledger.recent()
        assert (spend.kind, spend.amount_cents, spend.staff_id, spend.approver_id) == (
            EventKind.VOUCHER_SPEND,
            1_500,
            place.bram.id,
            place.anna.id,
        )


async def test_staff_a_voucher_alone_at_the_counter_is_cleared_by_the_idle_clock(
    tmp_path: Path,
) -> None:
    place = shop(tmp_path, overrides={"counter": {"clear_after_seconds": 30}})
    _, code = voucher_code(place.counter)
    app = place.app()
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await unlock(pilot, "bram", BRAM_PIN)
        await type_code(pilot, code)
        assert app.voucher is not None and app.card is None
        place.ticks.now += 31
        await wait_for(pilot, lambda: app.voucher is None)
        assert not app.screen.query_one(VoucherPanel).display


async def test_ctrl_r_after_a_purchase_paid_with_a_voucher_shows_both_slips(
    tmp_path: Path,
) -> None:
    counter = make_counter(tmp_path)
    voucher_id, code = voucher_code(counter)
    app = counter.app()
    async with app.run_test(size=SIZE) as pilot:
        await type_code(pilot, counter.card(CARD))
        await type_code(pilot, code)
        await pilot.press("f3", "1", "2", "enter")
        await settle(pilot)
        await pilot.press("5", "enter")
        await settle(pilot)
        await pilot.press("ctrl+r")
        await settle(pilot)
        assert isinstance(app.screen, ReceiptDialog)
        slips = text_of(app, "#receipt-text")
        purchase, spend = sorted(counter.ledger.recent(), key=lambda e: e.seq)
        assert purchase.receipt_no in slips and spend.receipt_no in slips
        assert slips.index(purchase.receipt_no) < slips.index(spend.receipt_no)
        assert voucher_id[-4:] in slips


async def test_history_names_a_voucher_payment_and_its_void_gives_the_value_back(
    tmp_path: Path,
) -> None:
    from textual.widgets import DataTable

    counter = make_counter(tmp_path)
    voucher_id, code = voucher_code(counter)
    app = counter.app(lang="nl")
    async with app.run_test(size=SIZE) as pilot:
        await type_code(pilot, code)
        await pilot.press("f10", "7", ",", "5", "0", "enter")
        await settle(pilot)
        await pilot.press("f5")
        await settle(pilot)
        table = app.screen.query_one("#history", DataTable)
        kind, voucher = (str(cell) for cell in table.get_row_at(0)[1:3])
        assert kind == "bon", kind  # in the shop's words, not "voucher_spe…"
        assert voucher == "CV-••••-••••-" + voucher_id[-4:]  # masked as on its slip
        await pilot.press("delete")
        await settle(pilot)
        await pilot.press("enter")
        await settle(pilot)
        assert spends(counter) == [750, -750]
        await pilot.press("escape")
        await settle(pilot)
        # The void gave the value back, and the panel says so at once.
        assert "Nog €\xa025,00 van €\xa025,00" in panel_text(app), app._notifications


async def test_offline_allowance_caps_a_voucher_between_syncs(tmp_path: Path) -> None:
    """Issue 13 item 3 at the counter: 50.00 at most per voucher here between syncs; the
    panel says "offline: up to", the dialog offers that much, then says it is used up."""
    counter = make_counter(tmp_path)
    _, code = voucher_code(counter, 10000)
    app = counter.app()
    async with app.run_test(size=SIZE) as pilot:
        await type_code(pilot, code)
        assert "€100.00 left of €100.00" in panel_text(app)
        assert "offline: up to €50.00" in panel_text(app)
        await pilot.press("f10", "4", "5", "enter")
        await settle(pilot)
        assert "offline: up to €5.00" in panel_text(app)
        await pilot.press("f10", "1", "0", "enter")
        await settle(pilot)
        assert isinstance(app.screen, VoucherDialog)
        assert "at most €5.00 here" in text_of(app, "#voucher-error")
        await pilot.press("f2")
        await settle(pilot)
        assert spends(counter) == [4500, 500]
        # Used up until the next sync: said on the panel, and F10 refuses with it.
        assert "since the last sync" in panel_text(app)
        await pilot.press("f10")
        await settle(pilot)
        assert not isinstance(app.screen, VoucherDialog)
        assert "since the last sync" in text_of(app, "#banner")
    assert spends(counter) == [4500, 500]


async def test_a_usb_scanner_burst_of_a_voucher_shows_it_beside_the_card(tmp_path: Path) -> None:
    """A keyboard-wedge scanner types the voucher's code anywhere on the counter (garbled by
    a Belgian AZERTY layout too): the repaired reading routes to the voucher, never a card."""
    counter = make_counter(tmp_path)
    voucher_id, code = voucher_code(counter)
    typed = garble_on_azerty(code)
    assert typed != code and not typed.startswith("CV1:")
    clock = KeyClock()
    app = counter.app(key_clock=clock)
    async with app.run_test(size=SIZE) as pilot:
        await type_code(pilot, counter.card(CARD))
        await blur(pilot)
        await type_burst(pilot, typed, clock, SCANNER_GAP_S)
        assert app.voucher is not None and app.voucher.voucher_id == voucher_id
        assert app.card is not None and app.card.card_id == CARD
        assert "€25.00 left of €25.00" in panel_text(app)


async def test_a_refused_vouchers_sentence_follows_the_language(tmp_path: Path) -> None:
    counter = make_counter(tmp_path)
    _, code = voucher_code(counter, 500)
    app = counter.app(lang="en")
    async with app.run_test(size=SIZE) as pilot:
        await type_code(pilot, code)
        await pilot.press("f10", "f2")
        await settle(pilot)
        assert "spent in full" in panel_text(app)
        await pilot.press("f9")  # en -> fr
        await settle(pilot)
        assert app.lang == "fr"
        shown = panel_text(app)
        assert "spent in full" not in shown and "Bon CV-" in shown, shown


async def test_a_clock_set_back_does_not_reopen_an_expired_voucher(tmp_path: Path) -> None:
    """The ledger judges time at the later of the clock and its newest event: so does the
    panel (it offered a voucher the spend would then refuse as expired)."""
    from loyalty.programs import Program

    counter = make_counter(tmp_path)
    _, code = voucher_code(counter, expires_days=2, now=START - timedelta(days=1))
    # A visit recorded two days on; then the terminal's clock is set back to START.
    program = Program.from_settings(counter.settings.program)
    counter.ledger.stamp("CT-TEST-0009", program, now=START + timedelta(days=2))
    app = counter.app()
    async with app.run_test(size=SIZE) as pilot:
        await type_code(pilot, code)
        assert app.voucher is not None and app.voucher.reason == "expired"
        assert "expired on" in panel_text(app)
        await pilot.press("f10")
        await settle(pilot)
        assert not isinstance(app.screen, VoucherDialog)
    assert spends(counter) == []
