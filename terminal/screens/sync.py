"""Sync status: events waiting, events the platform refused (and why), last run, run now."""

from __future__ import annotations

from dataclasses import replace
from typing import ClassVar

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import BindingType
from textual.content import Content
from textual.widgets import DataTable, Static

from loyalty.i18n import datetime_text
from terminal.i18n import UI, t
from terminal.safe import clean
from terminal.screens.base import PanelScreen
from terminal.services import EventRow, StatusFacts
from terminal.widgets.customer import fill_table
from terminal.widgets.keys import key


def outcome_text(outcome: str | None, lang: str) -> str:
    """A sync outcome code in words."""
    name = f"sync.outcome.{outcome}"
    return t(name, lang) if name in UI else clean(outcome or "", 30)


FAILED_OUTCOMES = frozenset(
    {"unreachable", "unavailable", "auth", "config", "error", "protocol_error", "rejected"}
)
"""Sync outcomes after which the shopkeeper is told what to do."""


def quarantine_reason(reason: str, lang: str) -> str:
    """The platform's refusal in the shop's words, with its code ("code: English sentence")."""
    code = reason.split(":", 1)[0].strip()
    word = t("sync.reason.refused", lang)
    return f"{word} ({clean(code, 40)})" if code and " " not in code else word


def sync_hint(outcome: str) -> str:
    """The catalog key of what to do after a sync run that did not succeed."""
    if outcome in ("unreachable", "unavailable"):
        return "sync.hint.unreachable"
    if outcome == "auth":
        return "sync.hint.auth"
    return "sync.hint.other"


class SyncScreen(PanelScreen):
    """What is waiting, what was refused, and a key to sync now."""

    LABEL = "key.sync"
    TITLE_KEY = "sync.title"
    BINDINGS: ClassVar[list[BindingType]] = [
        key("f7", "sync_now", "key.run_sync"),
        key("f5", "refresh", "key.refresh"),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.facts: StatusFacts | None = None
        self.rows: list[EventRow] = []

    def compose(self) -> ComposeResult:
        """Counts, last run, and the refused events with their reasons."""
        yield from self.compose_header()
        yield Static("", id="sync-facts", markup=False)
        table: DataTable[Text] = DataTable(id="quarantined", cursor_type="row")
        yield table
        yield from self.compose_footer()

    def relabel(self) -> None:
        """Facts in the current language."""
        super().relabel()
        lang = self.lang
        app = self.counter
        facts = self.facts or app.facts
        lines: list[str] = []
        if not app.settings.platform.url:
            lines.append(t("sync.not_paired", lang))
        if facts is not None:
            lines.append(t("sync.pending", lang, count=facts.pending))
            lines.append(t("sync.quarantined", lang, count=facts.quarantined))
            good = (
                datetime_text(facts.last_good_sync, lang, app.desk.tz)
                if facts.last_good_sync
                else t("sync.never", lang)
            )
            lines.append(t("sync.last_good", lang, when=good))
            if facts.last_run_at is not None:
                when = datetime_text(facts.last_run_at, lang, app.desk.tz)
                lines.append(
                    t(
                        "sync.last_run",
                        lang,
                        when=when,
                        outcome=outcome_text(facts.last_outcome, lang),
                    )
                )
        last = app.last_sync
        if last is not None and last.outcome in FAILED_OUTCOMES:
            # What to do, in the shop's language; the core's technical sentence (in English,
            # naming sockets and status codes) goes to the log, not to the shopkeeper.
            lines.append(t(sync_hint(last.outcome), lang))
        if app.syncing:
            lines.append(t("status.syncing", lang))
        self.query_one("#sync-facts", Static).update(Content("\n".join(lines)))
        fill_table(
            self.query_one("#quarantined", DataTable),
            [replace(row, reason=quarantine_reason(row.reason, lang)) for row in self.rows],
            lang,
            app.desk.tz,
            extra="col.reason",
        )

    def reload(self) -> None:
        """Count from the database."""
        self._load()

    @work(thread=True, exclusive=True, exit_on_error=False, group="status")
    def _load(self) -> None:
        facts = self.counter.desk.status()
        rows = self.counter.desk.quarantined()
        self.app.call_from_thread(self._show, facts, rows)

    def _show(self, facts: StatusFacts, rows: list[EventRow]) -> None:
        self.facts = facts
        self.rows = rows
        self.relabel()

    def action_sync_now(self) -> None:
        """Run a sync now: a notice says it runs and another how it ended."""
        self.counter.request_sync()
        self.relabel()

    def action_refresh(self) -> None:
        """Count again."""
        self.reload()
