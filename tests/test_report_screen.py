"""The counter app's end-of-day report (F6) shows what ``citie-terminal report`` shows (issues 13
item 6 and 14 item 5): city voucher spends apart from the loyalty figures (count and sum, voids
netted) and, when staff recorded anything that day, each staff member's stamps, rewards,
purchases, voids and approvals given, by first name.

Real parts only: a real SQLite ledger in tmp_path, staff accounts with real PINs typed on the
lock screen, events recorded through the Ledger with staff and approver ids, a city voucher
signed by the test issuer and spent through ``loyalty.voucher_book.VoucherBook``, the real app
driven by Pilot.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from textual.containers import VerticalScroll
from textual.widgets import Sparkline

from loyalty.i18n import money, number
from loyalty.programs import OfflineLimits, Program
from loyalty.staff import StaffBook, StaffMember
from loyalty.voucher_book import VoucherBook
from terminal.app import CounterApp
from terminal.i18n import next_language, t
from terminal.screens.lock import LockScreen
from terminal.screens.report import ReportScreen
from tests.test_app_kit import START, Counter, make_counter, settle, text_of
from tests.test_screens_fit import screen_text

ANNA_PIN = "4821"
BRAM_PIN = "135790"
FIELDS = ("stamps", "rewards", "purchases", "voids", "approvals")


@dataclass
class Ticks:
    """A monotonic clock that stands still: the idle lock never fires during a test."""

    now: float = 5000.0

    def __call__(self) -> float:
        return self.now


@dataclass
class PersonKeys:
    """Keys typed at a person's pace (a scanner-fast burst would be read as a card)."""

    now: float = 1000.0

    def __call__(self) -> float:
        self.now += 0.18
        return self.now


@dataclass
class Day:
    """A day at a counter with staff, and what each of them did."""

    counter: Counter
    anna: StaffMember
    bram: StaffMember
    expected: dict[str, tuple[int, int, int, int, int]]
    """First name -> stamps, rewards, purchases, voids, approvals given."""

    def app(self, lang: str) -> CounterApp:
        return self.counter.app(lang=lang, idle_clock=Ticks(), key_clock=PersonKeys())


def staff_day(tmp_path: Path, *, more_staff: tuple[str, ...] = ()) -> Day:
    """Anna (manager) and Bram (cashier) at work on START's day, a voucher paid and one voided.

    Bram: two stamps, a purchase, 7,50 paid with a city voucher, a void of his second stamp
    (approved by Anna). Anna: a reward, 5,00 paid with the voucher and her own void of it.
    """
    counter = make_counter(tmp_path)
    program = Program.from_settings(counter.settings.program)
    ledger = counter.ledger
    # Days before, when nobody had an account yet: enough stamps for a reward.
    given = 0
    while given < program.reward_threshold:
        days = 9 - given // program.max_stamps_per_day
        count = min(program.max_stamps_per_day, program.reward_threshold - given)
        ledger.stamp("CT-REP-0003", program, count=count, now=START - timedelta(days=days))
        given += count
    book = StaffBook(counter.store)
    anna = book.add("Anna Peeters", "manager", ANNA_PIN, now=START - timedelta(days=1))
    bram = book.add("Bram De Smet", "cashier", BRAM_PIN, now=START - timedelta(days=1))
    others = [
        book.add(name, "cashier", f"{5000 + n}", now=START - timedelta(days=1))
        for n, name in enumerate(more_staff)
    ]
    voucher, _ = counter.issuer.issue_voucher(
        2500, city="roeselare", campaign="Winterbon", now=START - timedelta(days=1)
    )
    at = START - timedelta(hours=3)
    step = timedelta(minutes=5)
    first = ledger.stamp("CT-REP-0001", program, now=at, staff_id=bram.id)
    second = ledger.stamp("CT-REP-0002", program, now=at + step, staff_id=bram.id)
    bought = ledger.purchase("CT-REP-0001", 1250, program, now=at + 2 * step, staff_id=bram.id)
    vouchers = VoucherBook(ledger)
    vouchers.spend(voucher, 750, now=at + 3 * step, staff_id=bram.id)
    ledger.void(second.event.id, now=at + 4 * step, staff_id=bram.id, approver_id=anna.id)
    limits = OfflineLimits.from_settings(counter.settings.limits)
    ledger.redeem("CT-REP-0003", program, limits, now=at + 5 * step, staff_id=anna.id)
    paid = vouchers.spend(voucher, 500, now=at + 6 * step, staff_id=anna.id)
    ledger.void(paid.event.id, now=at + 7 * step, staff_id=anna.id, approver_id=anna.id)
    bram_stamps = first.event.stamps + second.event.stamps + bought.event.stamps
    expected = {"Anna": (0, 1, 0, 1, 2), "Bram": (bram_stamps, 0, 1, 1, 0)}
    for n, member in enumerate(others):
        # Each of the others gives one stamp on a card of their own.
        card = f"CT-REP-{100 + n:04d}"
        ledger.stamp(card, program, now=at + (8 + n) * step, staff_id=member.id)
        expected[member.first_name] = (1, 0, 0, 0, 0)
    return Day(counter, anna, bram, expected)


async def unlock(pilot: Any, name: str, pin: str) -> None:
    """Type a name, Enter, the PIN, Enter on the lock screen, as a person does."""
    assert isinstance(pilot.app.screen, LockScreen)
    for char in f"{name}\r{pin}\r":
        await pilot.press("enter" if char == "\r" else "space" if char == " " else char)
    await settle(pilot)


async def open_report(pilot: Any, *, staff: bool = True) -> ReportScreen:
    await settle(pilot)
    if staff:
        await unlock(pilot, "Anna Peeters", ANNA_PIN)
    await pilot.press("f6")
    await settle(pilot)
    screen = pilot.app.screen
    assert isinstance(screen, ReportScreen) and screen.report is not None
    return screen


def staff_rows(app: CounterApp) -> dict[str, list[str]]:
    """The staff table as shown: name -> its five figures (names are the text before them)."""
    lines = text_of(app, "#report-staff-lines").splitlines()
    rows: dict[str, list[str]] = {}
    for line in lines:
        found = re.fullmatch(r"(.*?)((?:\s+\S+){5})", line)
        assert found, line
        rows[found.group(1).strip()] = found.group(2).split()
    return rows


@pytest.mark.parametrize("lang", ["en", "fr"])
async def test_report_shows_voucher_spends_apart_and_what_each_staff_member_did(
    tmp_path: Path, lang: str
) -> None:
    day = staff_day(tmp_path)
    app = day.app(lang)
    async with app.run_test(size=(100, 30)) as pilot:
        screen = await open_report(pilot)
        report = screen.report
        assert report is not None
        figures = text_of(app, "#report-figures")
        lines = figures.splitlines()
        # One voucher spend kept (Anna's was voided the same day), 7,50 owed by the city.
        spends = next(line for line in lines if line.startswith(t("report.voucher_spends", lang)))
        assert spends.split()[-1] == number(1, lang), spends
        paid = next(line for line in lines if line.startswith(t("report.voucher_sum", lang)))
        assert paid.endswith(money(750, lang)), paid
        # Apart from the loyalty figures: the purchase alone, 12,50, in the turnover.
        turnover = next(line for line in lines if line.startswith(t("report.turnover", lang)))
        assert turnover.endswith(money(1250, lang)), turnover
        assert report.purchases == 1 and report.voids == 2

        head = text_of(app, "#report-staff-head")
        words = [t(f"report.staff.{field}", lang) for field in ("name", *FIELDS)]
        assert head.split() == " ".join(words).split(), head
        rows = staff_rows(app)
        assert rows == {
            name: [number(n, lang) for n in figures_] for name, figures_ in day.expected.items()
        }
        # Whole, on the display: the header and both rows, each number under its word.
        shown = screen_text(app)
        for line in (head, *text_of(app, "#report-staff-lines").splitlines()):
            assert line.rstrip() in shown, line
        ends = [m.end() for m in re.finditer(r"\S+", head)][1:]
        for line in text_of(app, "#report-staff-lines").splitlines():
            assert [m.end() for m in re.finditer(r"\S+", line)][-5:] == ends, (head, line)
        # F9: the next language, the table and the voucher rows with it.
        await pilot.press("f9")
        await settle(pilot)
        other = next_language(lang)
        words = [t(f"report.staff.{field}", other) for field in ("name", *FIELDS)]
        assert text_of(app, "#report-staff-head").split() == " ".join(words).split()
        assert t("report.voucher_sum", other) in text_of(app, "#report-figures")


async def test_report_without_staff_has_no_staff_table(tmp_path: Path) -> None:
    counter = make_counter(tmp_path)
    program = Program.from_settings(counter.settings.program)
    counter.ledger.stamp("CT-REP-0001", program, now=START - timedelta(hours=1))
    app = counter.app(lang="en")
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_report(pilot, staff=False)
        assert not screen.query_one("#report-staff").display
        shown = screen_text(app)
        assert t("report.staff.approvals", "en") not in shown
        # The voucher rows are there, at zero: nothing was paid with a city voucher.
        assert t("report.voucher_sum", "en") in shown and money(0, "en") in shown


async def test_staff_names_with_markup_or_control_characters_are_shown_as_text(
    tmp_path: Path,
) -> None:
    day = staff_day(tmp_path)
    # The book refuses control characters in a name; a ledger file edited by hand (or an
    # account from elsewhere) may still hold some, so they are written in directly.
    with day.counter.store.write() as db:
        db.execute(
            "UPDATE staff SET name = ? WHERE id = ?",
            ["[b]Anna[/b]\x1b[31m\u202eX\x07 Peeters", day.anna.id],
        )
        db.execute("UPDATE staff SET name = ? WHERE id = ?", ["[red]Bram De Smet", day.bram.id])
    app = day.app("en")
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        # Anna's name is no longer what she types: unlock as Bram, then open the report.
        await unlock(pilot, "[red]Bram", BRAM_PIN)
        await pilot.press("f6")
        await settle(pilot)
        assert isinstance(app.screen, ReportScreen)
        rows = staff_rows(app)
        assert set(rows) == {"[b]Anna[/b][31mX", "[red]Bram"}, rows
        shown = screen_text(app)
        assert "[b]Anna[/b][31mX" in shown and "[red]Bram" in shown
        for bad in ("\x1b", "\x07", "\u202e"):
            assert bad not in text_of(app, "#report-staff-lines")


MORE_STAFF = ("Anna Claes", "Charlotte Vandenbroucke-Desmet", "Dries", "Emma", "Fatima El Amrani")


@pytest.mark.parametrize("lang", ["fr", "nl", "de", "en"])
async def test_report_with_seven_staff_fits_80x24_and_the_table_scrolls(
    tmp_path: Path, lang: str
) -> None:
    day = staff_day(tmp_path, more_staff=MORE_STAFF)
    app = day.app(lang)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_report(pilot)
        lines = screen_text(app).splitlines()
        shown = "\n".join(lines)
        footer = lines[-1]
        assert f"^q {t('key.quit', lang)}" in footer and f"f1 {t('key.help', lang)}" in footer
        # Every figure, the voucher rows included, whole on the display.
        figures = screen.query_one("#report-figures")
        assert figures.region.height >= len(text_of(app, "#report-figures").splitlines())
        for line in text_of(app, "#report-figures").splitlines():
            assert line.rstrip() in shown, line
        # The charts stay, lower, and nothing covers them (the hours are as wide as they were:
        # cut on the right at 80 columns).
        body = screen.query_one("#report-body").content_region
        for chart in ("#report-days-title", "#report-days", "#report-hours-title", "#report-hours"):
            part = screen.query_one(chart).region
            assert part.height > 0 and body.y <= part.y and part.bottom <= body.bottom, chart
        assert screen.query_one("#report-days", Sparkline).region.height >= 2
        staff = screen.query_one("#report-staff")
        assert staff.region.y >= body.bottom
        # The header and the first rows whole; two Annas by their whole names.
        head = text_of(app, "#report-staff-head")
        assert head.rstrip() in shown
        rows = staff_rows(app)
        assert "Anna Peeters" in rows and "Anna Claes" in rows and "Anna" not in rows
        assert len(rows) == 7
        table = text_of(app, "#report-staff-lines").splitlines()
        # Six rows fit under the lowered charts at 80x24.
        for line in table[:6]:
            assert line.rstrip() in shown, line
        assert table[-1].rstrip() not in shown
        # The rest scrolls into view.
        scroller = screen.query_one("#report-staff-rows", VerticalScroll)
        assert scroller.max_scroll_y > 0
        await pilot.press("down", "down")
        await settle(pilot)
        assert scroller.scroll_y > 0
        await pilot.press("pagedown")
        await settle(pilot)
        assert table[-1].rstrip() in screen_text(app)
        assert rows["Fatima"] == [number(n, lang) for n in (1, 0, 0, 0, 0)]
        # The day before nobody recorded anything: no table, and the charts full height again.
        await pilot.press("left")
        await settle(pilot)
        assert screen.report is not None and screen.report.day < START.date()
        assert not screen.query_one("#report-staff").display
        assert screen.query_one("#report-days", Sparkline).region.height == 4
        assert t("report.staff.approvals", lang) not in screen_text(app)


async def test_report_on_a_larger_display_shows_every_staff_row_and_full_charts(
    tmp_path: Path,
) -> None:
    day = staff_day(tmp_path, more_staff=MORE_STAFF)
    app = day.app("nl")
    async with app.run_test(size=(120, 36)) as pilot:
        screen = await open_report(pilot)
        shown = screen_text(app)
        table = text_of(app, "#report-staff-lines").splitlines()
        assert len(table) == 7
        for line in table:
            assert line.rstrip() in shown, line
        assert screen.query_one("#report-staff-rows", VerticalScroll).max_scroll_y == 0
        assert screen.query_one("#report-days", Sparkline).region.height == 4
        # Every hour of the day under the histogram at 120 columns, 23 included.
        assert "22 23" in shown


async def test_report_at_80_columns_draws_the_afternoons_hours(tmp_path: Path) -> None:
    """Only 11 of the day's 24 hours fit beside the figures at 80 columns: the busy ones are
    drawn, labelled with their real hours (it always drew midnight to 10, so at closing time an
    afternoon's events were cut off)."""
    counter = make_counter(tmp_path)
    program = Program.from_settings(counter.settings.program)
    # START is 10:30 in Brussels: a stamp at 9:30, two at 15:10 and one at 17:40.
    for minutes in (-60, 280, 290, 430):
        counter.ledger.stamp(
            f"CT-REP-{minutes + 100:04d}", program, now=START + timedelta(minutes=minutes)
        )
    counter.clock.now = START + timedelta(hours=8)
    app = counter.app(lang="de")
    async with app.run_test(size=(80, 24)) as pilot:
        await open_report(pilot, staff=False)
        drawn = text_of(app, "#report-hours").splitlines()
        assert drawn[-1].split() == [str(hour) for hour in range(9, 20)], drawn[-1]
        # The counts above the bars, each over its hour: 1 at 9, 2 at 15, 1 at 17.
        hours = {int(m.group()): m.end() for m in re.finditer(r"\d+", drawn[-1])}
        assert drawn[0].split() == ["1", "2", "1"], drawn[0]
        assert [m.end() for m in re.finditer(r"\d+", drawn[0])] == [hours[9], hours[15], hours[17]]
        assert text_of(app, "#report-hours").count("\n") + 1 <= 8
        shown = screen_text(app)
        assert drawn[-1].strip() in shown
