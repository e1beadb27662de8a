"""The status line: shop, online or offline, events pending, last good sync, camera, clock."""

from __future__ import annotations

from typing import TYPE_CHECKING

from textual.content import Content
from textual.widgets import Static

from loyalty.i18n import datetime_text
from terminal.i18n import UI, t
from terminal.safe import clean, plain

if TYPE_CHECKING:
    from terminal.app import CounterApp

SEPARATOR = "  │  "
NARROW_SEPARATOR = " │ "


class StatusLine(Static):
    """One line that is always the truth: counted from the database, never guessed."""

    DEFAULT_CSS = """
    StatusLine {
        height: 1;
        width: 1fr;
        background: $panel;
        color: $text;
        padding: 0 1;
    }
    """

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__("", markup=False, id=id)

    def on_mount(self) -> None:
        """Draw from what the app knows now."""
        self.show(self.app)  # type: ignore[arg-type]

    def on_resize(self) -> None:
        """Fit the line to the new width."""
        self.show(self.app)  # type: ignore[arg-type]

    def show(self, app: CounterApp) -> None:
        """Redraw from the app's facts, camera state and language, fitted to the width."""
        width = self.content_size.width or max(app.size.width - 2, 1)
        self.update(status_content(app, width))


def status_content(app: CounterApp, width: int | None = None) -> Content:
    """The status line's text as safe Content, fitted to ``width`` cells when given.

    When the full line is too wide it shortens in this order: narrower separators, the
    camera's state without its explanation, no last-sync time, the shop's name cut, then
    who is serving. The connection, the pending count, the camera and any warning always stay.
    """
    lang = app.lang
    facts = app.facts
    shop = plain(app.settings.shop.name, 40, "bold")
    parts: list[Content] = []
    if app.ledger_problem:
        parts.append(Content(t("status.damaged", lang)).stylize("bold reverse $error"))
    if app.demo_cards:
        parts.append(Content(t("status.demo", lang)).stylize("bold $warning"))
    if app.sync_unreachable:
        # A request of the running sync failed: offline now, whatever it retries.
        parts.append(Content("○ " + t("status.offline", lang)).stylize("bold $error"))
    elif app.syncing:
        parts.append(Content(t("status.syncing", lang)))
    elif facts is None or not facts.paired:
        parts.append(Content("○ " + t("status.not_paired", lang)))
    elif facts.online:
        parts.append(Content("● " + t("status.online", lang)).stylize("bold $success"))
    else:
        parts.append(Content("○ " + t("status.offline", lang)).stylize("bold $error"))
    last_sync: Content | None = None
    if facts is not None:
        pending = Content(t("status.pending", lang, count=facts.pending))
        parts.append(pending.stylize("bold $warning") if facts.pending else pending)
        if facts.last_good_sync is None:
            last_sync = Content(t("status.never_synced", lang))
        else:
            when = datetime_text(facts.last_good_sync, lang, app.desk.tz)
            last_sync = Content(t("status.last_sync", lang, when=when))
    warnings: list[Content] = []
    if facts is not None and facts.clock_warning and facts.clock_offset_seconds is not None:
        minutes = round(abs(facts.clock_offset_seconds) / 60)
        warnings.append(Content(t("status.clock", lang, minutes=minutes)).stylize("bold $error"))
    if facts is not None and facts.clock_behind_seconds >= 60:
        warnings.append(clock_behind(facts.clock_behind_seconds, lang).stylize("bold $error"))

    def camera(short: bool) -> Content:
        state = app.camera_state
        name = f"camera.short.{state}" if short and f"camera.short.{state}" in UI else ""
        part = Content(t("status.camera", lang, state=t(name or f"camera.{state}", lang)))
        return part.stylize("$warning") if state in ("missing", "crashed") else part

    serving: Content | None = None
    if app.serving is not None:
        who = clean(app.serving.first_name, 20)
        serving = Content(t("staff.serving", lang, name=who)).stylize("bold")

    def line(
        sep: str, short: bool, with_sync: bool, name: Content | None, staff: bool = True
    ) -> Content:
        middle = parts + ([last_sync] if with_sync and last_sync is not None else [])
        who = [serving] if staff and serving is not None else []
        items = ([name] if name is not None else []) + who + middle + [camera(short)] + warnings
        return Content(sep).join(items)

    attempts = [
        (SEPARATOR, False, True),
        (NARROW_SEPARATOR, False, True),
        (NARROW_SEPARATOR, True, True),
        (NARROW_SEPARATOR, True, False),
    ]
    if width is None:
        return line(SEPARATOR, False, True, shop)
    for sep, short, with_sync in attempts:
        candidate = line(sep, short, with_sync, shop)
        if candidate.cell_length <= width:
            return candidate
    rest = line(NARROW_SEPARATOR, True, False, None)
    room = width - rest.cell_length - len(NARROW_SEPARATOR)
    if room >= 4:
        return line(NARROW_SEPARATOR, True, False, plain(app.settings.shop.name, room, "bold"))
    if rest.cell_length <= width:
        return rest
    return line(NARROW_SEPARATOR, True, False, None, staff=False)


def clock_behind(seconds: float, lang: str) -> Content:
    """The clock is behind the newest event: limits count from that event, say so."""
    minutes = int(seconds // 60)
    if minutes < 120:
        return Content(t("status.clock_behind_min", lang, minutes=minutes))
    return Content(t("status.clock_behind_h", lang, hours=minutes // 60))
