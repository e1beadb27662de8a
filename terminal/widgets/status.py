"""The status line: shop, online or offline, events pending, last good sync, camera, clock."""

from __future__ import annotations

from typing import TYPE_CHECKING

from textual.content import Content
from textual.widgets import Static

from loyalty.i18n import datetime_text
from terminal.i18n import t
from terminal.safe import plain

if TYPE_CHECKING:
    from terminal.app import CounterApp

SEPARATOR = "  │  "


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

    def show(self, app: CounterApp) -> None:
        """Redraw from the app's facts, camera state and language."""
        self.update(status_content(app))


def status_content(app: CounterApp) -> Content:
    """The status line's text as safe Content."""
    lang = app.lang
    facts = app.facts
    parts: list[Content] = [plain(app.settings.shop.name, 40, "bold")]
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
    if facts is not None:
        pending = Content(t("status.pending", lang, count=facts.pending))
        parts.append(pending.stylize("bold $warning") if facts.pending else pending)
        if facts.last_good_sync is None:
            parts.append(Content(t("status.never_synced", lang)))
        else:
            when = datetime_text(facts.last_good_sync, lang, app.desk.tz)
            parts.append(Content(t("status.last_sync", lang, when=when)))
    camera = t(f"camera.{app.camera_state}", lang)
    camera_part = Content(t("status.camera", lang, state=camera))
    if app.camera_state in ("missing", "crashed"):
        camera_part = camera_part.stylize("$warning")
    parts.append(camera_part)
    if facts is not None and facts.clock_warning and facts.clock_offset_seconds is not None:
        minutes = round(abs(facts.clock_offset_seconds) / 60)
        parts.append(Content(t("status.clock", lang, minutes=minutes)).stylize("bold $error"))
    if facts is not None and facts.clock_behind_seconds >= 60:
        parts.append(clock_behind(facts.clock_behind_seconds, lang).stylize("bold $error"))
    return Content(SEPARATOR).join(parts)


def clock_behind(seconds: float, lang: str) -> Content:
    """The clock is behind the newest event: limits count from that event, say so."""
    minutes = int(seconds // 60)
    if minutes < 120:
        return Content(t("status.clock_behind_min", lang, minutes=minutes))
    return Content(t("status.clock_behind_h", lang, hours=minutes // 60))
