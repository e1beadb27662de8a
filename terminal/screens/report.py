"""The end-of-day report: the day's figures, 30 days of stamps, the day's events by hour, city
voucher spends apart from the loyalty figures, and what each staff member did."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from datetime import date, datetime, timedelta
from typing import ClassVar

from textual import work
from textual.app import ComposeResult
from textual.binding import BindingType
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.content import Content
from textual.events import Resize
from textual.widgets import Sparkline, Static

from loyalty.i18n import date_text, money, number
from loyalty.reports import StaffFigures
from terminal.i18n import t
from terminal.safe import clean
from terminal.screens.base import PanelScreen
from terminal.services import DayReport
from terminal.widgets.histogram import HourHistogram, histogram_content
from terminal.widgets.keys import key

STAFF_COLUMNS = ("stamps", "rewards", "purchases", "voids", "approvals")
"""The per-staff figures, in the order of the headless report's line."""
MIN_STAFF_ROWS = 2
"""Staff rows shown at least, however small the display; more than fit scroll."""
LONGEST_NAME = 24
CHARTS_ROWS = 15
"""Rows the charts take at full height: titles, sparkline (4), its margin, histogram (8)."""
COMPACT_SPARKLINE = 3
COMPACT_BARS = 3
"""Sparkline and histogram bar heights when the staff table needs the room."""
FULL_BARS = 6
COMPACT_CHARTS_ROWS = CHARTS_ROWS - (4 - COMPACT_SPARKLINE) - (FULL_BARS - COMPACT_BARS)
GAP = "  "


class ReportScreen(PanelScreen):
    """Today's figures (or another day's), with a sparkline and an hourly histogram; per staff
    member below them when staff recorded anything that day."""

    LABEL = "key.report"
    TITLE_KEY = "key.report"
    BINDINGS: ClassVar[list[BindingType]] = [
        key("left", "day(-1)", "key.day_before", show=False),
        key("right", "day(1)", "key.day_after", show=False),
        key("f5", "refresh", "key.refresh"),
    ]
    DEFAULT_CSS = """
    ReportScreen #report-page { height: 1fr; }
    ReportScreen #report-staff { height: auto; padding: 0 2; display: none; }
    ReportScreen #report-staff.-shown { display: block; }
    ReportScreen #report-staff-rows { height: auto; scrollbar-size-vertical: 1; }
    ReportScreen #report-staff-lines { height: auto; }
    """

    def __init__(self, day: date | None = None) -> None:
        super().__init__()
        self.day = day
        self.report: DayReport | None = None

    def compose(self) -> ComposeResult:
        """Figures on the left, sparkline and histogram on the right; staff below, full width."""
        yield from self.compose_header()
        with Vertical(id="report-page"):
            with Horizontal(id="report-body"):
                yield Static("", id="report-figures", markup=False)
                with Vertical(id="report-charts"):
                    yield Static("", id="report-days-title", classes="hint", markup=False)
                    yield Sparkline([], id="report-days")
                    yield Static("", id="report-hours-title", classes="hint", markup=False)
                    yield HourHistogram(id="report-hours")
            with Vertical(id="report-staff"):
                yield Static("", id="report-staff-head", markup=False)
                with VerticalScroll(id="report-staff-rows"):
                    yield Static("", id="report-staff-lines", markup=False)
        yield from self.compose_footer()

    def relabel(self) -> None:
        """Figures in the current language."""
        super().relabel()
        report = self.report
        if report is None:
            return
        lang = self.lang
        title = t("report.title", lang, day=date_text(_noon(report.day), lang))
        self.query_one("#screen-title", Static).update(Content(title))
        rows = [
            (t("report.stamps", lang), number(report.stamps, lang)),
            (t("report.purchases", lang), number(report.purchases, lang)),
            (t("report.turnover", lang), money(report.turnover_cents, lang, report.currency)),
            (t("report.rewards", lang), number(report.rewards, lang)),
            (t("report.voids", lang), number(report.voids, lang)),
            (t("report.cards", lang), number(report.cards, lang)),
            ("", ""),
            # City vouchers apart: money the city owes the shop, never loyalty turnover.
            (t("report.voucher_spends", lang), number(report.voucher_spends, lang)),
            (
                t("report.voucher_sum", lang),
                money(report.voucher_spent_cents, lang, report.currency),
            ),
            ("", ""),
            (t("report.not_synced", lang, count=report.pending), ""),
        ]
        width = max(len(label) for label, _ in rows) + 2
        figures = "\n".join(
            f"{label:<{width}}{value:>12}" if value else label for label, value in rows
        )
        self.query_one("#report-figures", Static).update(Content(figures))
        peak = max(report.per_day, default=0)
        self.query_one("#report-days-title", Static).update(
            Content(t("report.days30", lang, peak=peak))
        )
        self.query_one("#report-hours-title", Static).update(Content(t("report.hours", lang)))
        self._show_staff(report.staff, lang)

    def _show_staff(self, staff: Sequence[StaffFigures], lang: str) -> None:
        section = self.query_one("#report-staff", Vertical)
        section.set_class(bool(staff), "-shown")
        if not staff:
            self._fit(0)
            return
        # The page less the section's padding (2 each side) and the scrollbar's column.
        width = self.query_one("#report-page", Vertical).size.width - 5
        head, lines = staff_table(staff, lang, width if width > 20 else 75)
        self.query_one("#report-staff-head", Static).update(Content(head).stylize("bold"))
        self.query_one("#report-staff-lines", Static).update(Content("\n".join(lines)))
        self._fit(len(staff))
        if self.focused is None:
            # Up, down, Page Up/Down then scroll the rows; left and right still change the day
            # (a container that cannot scroll sideways passes them on).
            self.query_one("#report-staff-rows", VerticalScroll).focus()

    def _fit(self, staff: int) -> None:
        """As many staff rows as the display has room for (every one on a large display),
        with full-height charts when the room allows, else lower ones so more rows show."""
        report = self.report
        if report is None:
            return
        figures = len(str(self.query_one("#report-figures", Static).render()).splitlines())
        # The page less the staff header and the body's padding; the body is as tall as the
        # taller of the figures and the charts.
        page = self.query_one("#report-page", Vertical).size.height
        room = page - 1 - self.query_one("#report-body", Horizontal).gutter.height
        full = room - max(figures, CHARTS_ROWS)
        low = room - max(figures, COMPACT_CHARTS_ROWS)
        shown = min(staff, max(low, MIN_STAFF_ROWS))
        compact = full < shown
        rows = self.query_one("#report-staff-rows", VerticalScroll)
        rows.styles.max_height = max(shown, MIN_STAFF_ROWS)
        sparkline = self.query_one("#report-days", Sparkline)
        # Inline styles: the app's stylesheet gives the full height, this screen lowers it.
        sparkline.styles.height = COMPACT_SPARKLINE if compact else None
        # As many hours as the column has room for (3 cells each): the busy ones, not always
        # midnight to 10 (at 80 columns an afternoon's hours were cut off).
        fit = self.query_one("#report-charts", Vertical).content_region.width // 3
        self.query_one(HourHistogram).update(
            hours_content(report.per_hour, fit, COMPACT_BARS if compact else FULL_BARS)
        )

    def on_resize(self, event: Resize) -> None:
        """The table's width and the charts' height follow the display."""
        if self.report is not None:
            self.call_after_refresh(self.relabel)

    def reload(self) -> None:
        """Compute the figures from the ledger."""
        self._load()

    @work(thread=True, exclusive=True, exit_on_error=False, group="status")
    def _load(self) -> None:
        report = self.counter.desk.report(self.day)
        self.app.call_from_thread(self._show, report)

    def _show(self, report: DayReport) -> None:
        self.report = report
        self.query_one("#report-days", Sparkline).data = [float(v) for v in report.per_day]
        self.query_one(HourHistogram).show(report.per_hour)
        self.relabel()

    def action_refresh(self) -> None:
        """Compute again."""
        self.reload()

    def action_day(self, step: int) -> None:
        """The day before or after."""
        current = self.report.day if self.report is not None else None
        if current is None:
            return
        day = current + timedelta(days=step)
        desk = self.counter.desk
        if day > desk.clock().astimezone(desk.tz).date():
            # Tomorrow has no figures yet: stay on today and say why.
            self.notify(t("report.no_future", self.lang), timeout=3)
            return
        self.day = day
        self.reload()


def first_hour(counts: Sequence[int], hours: int) -> int:
    """The first hour to draw when only ``hours`` of the day fit: from the first busy hour,
    later if the last busy one would not show (the latest hours matter most at closing)."""
    if hours >= len(counts) or hours < 1:
        return 0
    busy = [hour for hour, count in enumerate(counts) if count]
    if not busy:
        return 0
    start = max(busy[0], busy[-1] - hours + 1)
    return min(start, len(counts) - hours)


def hours_content(counts: Sequence[int], hours: int, height: int) -> Content:
    """The histogram of the hours that fit ``hours`` columns, labelled with their real hours."""
    first = first_hour(counts, hours)
    shown = list(counts[first : first + hours]) if hours >= 1 else list(counts)
    drawn = histogram_content(shown, height).plain.split("\n")
    bars = "\n".join(drawn[:-1])
    labels = "".join(f"{hour:>3}" for hour in range(first, first + len(shown)))
    return Content(f"{bars}\n{labels}").stylize("$accent", 0, len(bars))


def staff_names(staff: Sequence[StaffFigures]) -> list[str]:
    """What the table calls each staff member: the first name, cleaned; the whole name when two
    share a first name (two Annas are never one line you cannot tell apart)."""
    full = [clean(figures.name, LONGEST_NAME * 4) for figures in staff]
    first = [name.split()[0] if name.split() else "?" for name in full]
    twice = {name for name, count in Counter(n.casefold() for n in first).items() if count > 1}
    pairs = zip(first, full, strict=True)
    return [whole if one.casefold() in twice else one for one, whole in pairs]


def staff_table(staff: Sequence[StaffFigures], lang: str, width: int) -> tuple[str, list[str]]:
    """The header line and one line per staff member, at most ``width`` characters each:
    numbers right-aligned under their column's word, names cut with an ellipsis to fit."""
    heads = [t(f"report.staff.{column}", lang) for column in STAFF_COLUMNS]
    values = [
        [number(getattr(figures, column), lang) for column in STAFF_COLUMNS] for figures in staff
    ]
    widths = [max(len(head), *(len(row[n]) for row in values)) for n, head in enumerate(heads)]
    names = staff_names(staff)
    name_head = t("report.staff.name", lang)
    figures_width = sum(len(GAP) + w for w in widths)
    longest = max(len(name_head), *(len(name) for name in names))
    name_width = max(min(longest, LONGEST_NAME, width - figures_width), 4)

    def line(name: str, cells: Sequence[str]) -> str:
        shown = clean(name, name_width)
        return f"{shown:<{name_width}}" + "".join(
            f"{GAP}{cell:>{w}}" for cell, w in zip(cells, widths, strict=True)
        )

    return line(name_head, heads), [
        line(name, row) for name, row in zip(names, values, strict=True)
    ]


def _noon(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, 12)
