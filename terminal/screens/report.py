"""The end-of-day report: the day's figures, 30 days of stamps, the day's events by hour."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import ClassVar

from textual import work
from textual.app import ComposeResult
from textual.binding import BindingType
from textual.containers import Horizontal, Vertical
from textual.content import Content
from textual.widgets import Sparkline, Static

from loyalty.i18n import date_text, money, number
from terminal.i18n import t
from terminal.screens.base import PanelScreen
from terminal.services import DayReport
from terminal.widgets.histogram import HourHistogram
from terminal.widgets.keys import key


class ReportScreen(PanelScreen):
    """Today's figures (or another day's), with a sparkline and an hourly histogram."""

    LABEL = "key.report"
    TITLE_KEY = "key.report"
    BINDINGS: ClassVar[list[BindingType]] = [
        key("left", "day(-1)", "key.day_before", show=False),
        key("right", "day(1)", "key.day_after", show=False),
        key("f5", "refresh", "key.refresh"),
    ]

    def __init__(self, day: date | None = None) -> None:
        super().__init__()
        self.day = day
        self.report: DayReport | None = None

    def compose(self) -> ComposeResult:
        """Figures on the left; sparkline and histogram on the right."""
        yield from self.compose_header()
        with Horizontal(id="report-body"):
            yield Static("", id="report-figures", markup=False)
            with Vertical(id="report-charts"):
                yield Static("", id="report-days-title", classes="hint", markup=False)
                yield Sparkline([], id="report-days")
                yield Static("", id="report-hours-title", classes="hint", markup=False)
                yield HourHistogram(id="report-hours")
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


def _noon(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, 12)
