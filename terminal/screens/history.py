"""The terminal's history, newest first, with void (a void is a new event that stays visible)."""

from __future__ import annotations

from typing import ClassVar

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import BindingType
from textual.content import Content
from textual.widgets import DataTable, Static

from loyalty.ledger import LedgerRefusal, RefusalReason
from terminal.dialogs.confirm import ConfirmDialog
from terminal.i18n import t
from terminal.safe import plain
from terminal.screens.base import PanelScreen
from terminal.services import EventRow
from terminal.widgets.customer import event_kind_text, fill_table
from terminal.widgets.keys import key


class HistoryScreen(PanelScreen):
    """Every event of this terminal; Delete voids the selected one."""

    LABEL = "key.history"
    TITLE_KEY = "history.title"
    BINDINGS: ClassVar[list[BindingType]] = [
        key("delete", "void", "key.void"),
        key("f5", "refresh", "key.refresh"),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.rows: list[EventRow] = []

    def compose(self) -> ComposeResult:
        """Title, hint, the events table, footer."""
        yield from self.compose_header()
        yield Static("", id="history-hint", classes="hint", markup=False)
        table: DataTable[Text] = DataTable(id="history", cursor_type="row", zebra_stripes=True)
        yield table
        yield from self.compose_footer()

    def on_mount(self) -> None:
        """Focus the table."""
        super().on_mount()
        self.query_one("#history", DataTable).focus()

    def relabel(self) -> None:
        """Texts and the table in the current language."""
        super().relabel()
        hint = t("history.hint", self.lang) if self.rows else t("history.empty", self.lang)
        self.query_one("#history-hint", Static).update(Content(hint))
        fill_table(
            self.query_one("#history", DataTable),
            self.rows,
            self.lang,
            self.counter.desk.tz,
            staff=any(row.staff or row.approver for row in self.rows),
        )

    def reload(self) -> None:
        """Read the latest events."""
        self._load()

    def on_screen_resume(self) -> None:
        """Back on top (a dialog closed): fill the table again. Filled while covered (a void
        recorded as the approval dialog closes), its columns kept their titles' widths."""
        self.relabel()

    @work(thread=True, exclusive=True, exit_on_error=False, group="status")
    def _load(self) -> None:
        rows = self.counter.desk.recent(200)
        self.app.call_from_thread(self._show, rows)

    def _show(self, rows: list[EventRow]) -> None:
        self.rows = rows
        self.relabel()

    def action_refresh(self) -> None:
        """Read again."""
        self.reload()

    def selected(self) -> EventRow | None:
        """The row under the cursor."""
        table = self.query_one("#history", DataTable)
        if not self.rows or table.cursor_row < 0 or table.cursor_row >= len(self.rows):
            return None
        return self.rows[table.cursor_row]

    def _refusal(self, row: EventRow) -> LedgerRefusal | None:
        """Why the ledger would refuse to void this row, as far as the list shows it."""
        if row.kind == "void":
            return LedgerRefusal.of(
                RefusalReason.CANNOT_VOID_VOID, "ledger.cannot_void_void", ref=row.receipt_no
            )
        if row.voided:
            by = next((r.receipt_no for r in self.rows if r.voids == row.id), "?")
            return LedgerRefusal.of(
                RefusalReason.ALREADY_VOIDED, "ledger.already_voided", ref=row.receipt_no, by=by
            )
        return None

    def action_void(self) -> None:
        """Confirm, then void the selected event (the ledger refuses what cannot be voided)."""
        row = self.selected()
        if row is None:
            return
        refusal = self._refusal(row)
        if refusal is not None:
            # The ledger would refuse it: say so now, not after a confirmation.
            self.notify(refusal.text(self.lang), severity="warning", markup=False, timeout=6)
            return
        question = plain(
            t(
                "history.void_question",
                self.lang,
                receipt=row.receipt_no,
                kind=event_kind_text(row, self.lang),
            ),
            200,
        )

        def done(yes: bool | None) -> None:
            if yes:
                self.counter.record_void(row.id, row.card_id, question)

        self.app.push_screen(ConfirmDialog(t("key.void", self.lang), question, self.lang), done)
