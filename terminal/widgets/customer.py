"""The customer at the counter: card id, stamp progress, rewards available, recent events."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, tzinfo

from babel.dates import format_skeleton
from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.content import Content
from textual.widgets import DataTable, Static

from loyalty.i18n import datetime_text, locale_for, money, time_text
from receipts.build import mask_voucher_id
from terminal.flags import flag_warning
from terminal.i18n import t
from terminal.safe import clean, plain
from terminal.services import CardView, EventRow

FULL = "●"
EMPTY = "○"
MAX_DOTS = 20


def progress_content(view: CardView, lang: str) -> Content:
    """Stamp dots towards the next reward, the count, and the rewards available."""
    threshold = max(view.threshold, 1)
    done = view.progress
    dots = Content("")
    if threshold <= MAX_DOTS:
        dots = Content.assemble(
            (FULL * done, "bold $success"), (EMPTY * (threshold - done), "$text-muted"), " "
        )
    reward = clean(view.reward_name, 60)
    lines = [
        dots + Content(t("counter.stamps", lang, count=done, threshold=threshold)),
    ]
    if view.flags:  # the city's warning first: the shopkeeper reads it before anything else
        lines.insert(0, Content(flag_warning(view.flags, lang)).stylize("bold $warning"))
    if view.rewards_available:
        lines.append(
            Content(
                t("counter.rewards", lang, count=view.rewards_available, reward=reward)
            ).stylize("bold $success")
        )
    else:
        lines.append(Content(t("counter.no_reward", lang, count=threshold - done, reward=reward)))
    if view.pending:
        lines.append(
            Content(t("counter.pending_note", lang, count=view.pending)).stylize("$text-muted")
        )
    return Content("\n").join(lines)


def event_kind_text(row: EventRow, lang: str) -> str:
    """The event kind in the counter's language, marked when it was voided."""
    kind = t(f"event.{row.kind}", lang) if f"event.{row.kind}" in _KINDS else clean(row.kind, 12)
    return f"{kind} ({t('event.voided', lang)})" if row.voided else kind


_KINDS = {f"event.{k}" for k in ("stamp", "purchase", "redeem", "void", "enroll", "voucher_spend")}


def event_cells(row: EventRow, lang: str, tz: tzinfo) -> list[Text]:
    """One event as table cells: plain rich ``Text`` (DataTable parses ``str`` as markup)."""
    style = "strike dim" if row.voided else ("red" if row.kind == "void" else "")
    amount = "" if row.amount_cents is None else money(row.amount_cents, lang, row.currency)
    stamps = f"{row.stamps:+d}" if row.stamps else ""
    card = clean(row.card_id, 40) if row.card_id else t("event.anonymous", lang)
    if not row.card_id and row.voucher_id:
        # Masked as on its slip: a typed voucher number can be spent.
        card = mask_voucher_id(row.voucher_id)
    values = [
        datetime_text(row.occurred_at, lang, tz),
        event_kind_text(row, lang),
        card,
        stamps,
        amount,
        clean(row.receipt_no, 40),
    ]
    return [Text(value, style=style, no_wrap=True) for value in values]


COLUMNS = ("col.time", "col.kind", "col.card", "col.stamps", "col.amount", "col.receipt")
CARD_COLUMNS = ("col.time", "col.kind", "col.stamps", "col.amount")
"""The card panel's columns: the card is the one at the counter, the receipt is on the slip."""


def short_time(moment: datetime, lang: str, tz: tzinfo) -> str:
    """Day and month, then the time (``14/3 10:20``; ``14.3. 10:20`` in German)."""
    local = moment.astimezone(tz)
    day = format_skeleton("dM", local, locale=locale_for(lang))
    return f"{day} {time_text(moment, lang, tz)}"


def fill_table(
    table: DataTable[Text],
    rows: Sequence[EventRow],
    lang: str,
    tz: tzinfo,
    *,
    extra: str | None = None,
    columns: Sequence[str] = COLUMNS,
    staff: bool = False,
) -> None:
    """Replace a table's columns and rows (keys are event ids); ``staff``: a column with
    who recorded each event and who approved it."""
    cursor = table.cursor_row
    table.clear(columns=True)
    for column in columns:
        table.add_column(t(column, lang), key=column)
    if extra:
        table.add_column(t(extra, lang), key=extra)
    if staff:
        table.add_column(t("staff.col", lang), key="staff.col")
    for row in rows:
        cells = event_cells(row, lang, tz)
        if columns is not COLUMNS:
            cells[0] = Text(short_time(row.occurred_at, lang, tz), style=cells[0].style)
            cells = [cells[COLUMNS.index(column)] for column in columns]
        if extra:
            cells.append(Text(clean(row.reason, 120), no_wrap=True))
        if staff:
            cells.append(Text(staff_text(row, lang), style=cells[0].style, no_wrap=True))
        table.add_row(*cells, key=row.id)
    if rows:
        table.move_cursor(row=min(cursor, len(rows) - 1))


def staff_text(row: EventRow, lang: str) -> str:
    """Who recorded the event, and the manager who approved it (first names)."""
    who = clean(row.staff, 40)
    if not row.approver:
        return who
    return t("staff.approved_by", lang, staff=who or "?", approver=clean(row.approver, 40))


class CustomerPanel(Vertical):
    """The card at the counter: who, how far to the reward, what happened lately."""

    DEFAULT_CSS = """
    CustomerPanel { height: 1fr; padding: 0 1; }
    CustomerPanel #card-title { text-style: bold; height: 1; }
    CustomerPanel #card-progress { height: auto; margin: 1 0; }
    CustomerPanel #recent-title { color: $text-muted; height: 1; }
    CustomerPanel DataTable { height: 1fr; }
    """

    def compose(self) -> ComposeResult:
        """Title, progress, and the recent events table."""
        yield Static("", id="card-title", markup=False)
        yield Static("", id="card-progress", markup=False)
        yield Static("", id="recent-title", markup=False)
        table: DataTable[Text] = DataTable(id="card-events", cursor_type="row", zebra_stripes=True)
        table.can_focus = False
        yield table

    def show(self, view: CardView | None, lang: str, tz: tzinfo, *, done: bool = False) -> None:
        """Draw the card (or say there is none); ``done``: its turn ended, a summary only."""
        title = self.query_one("#card-title", Static)
        progress = self.query_one("#card-progress", Static)
        recent = self.query_one("#recent-title", Static)
        table: DataTable[Text] = self.query_one("#card-events", DataTable)
        if view is None:
            title.update(Content(t("counter.no_card", lang)))
            progress.update("")
            recent.update("")
            table.clear(columns=True)
            return
        key = "staff.card_summary" if done else "counter.card"
        title.update(Content(t(key, lang, card_id=clean(view.card_id, 40))))
        progress.update(progress_content(view, lang))
        recent.update(
            Content(t("counter.recent", lang) if view.events else t("counter.no_recent", lang))
        )
        fill_table(table, view.events, lang, tz, columns=CARD_COLUMNS)


def card_line(view: CardView, lang: str) -> Content:
    """One line naming the card (safe)."""
    return plain(t("counter.card", lang, card_id=clean(view.card_id, 40)))
