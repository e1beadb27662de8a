"""The lock screen: who is serving? A name (typed or picked) and a PIN, never shown.

The counter starts here when staff accounts exist, and comes back here after
``[staff] idle_lock_minutes`` without a key, or at Ctrl+L. Nothing behind it can be reached:
a card scanned while it is up is refused with a sentence and nothing is recorded.

The PIN is checked in a worker (``Desk.check_pin``: a memory-hard hash, throttled after a wrong
one); the field is emptied as soon as Enter is pressed, so a PIN lives on the screen as dots
only while it is typed. A keyboard-wedge burst is a card, never a PIN: it does not count as a
wrong PIN (a scanned card must never lock a cashier out).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar, cast

from textual import events, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.content import Content
from textual.message import Message
from textual.screen import Screen
from textual.widgets import Input, OptionList, Static
from textual.widgets.option_list import Option
from textual.worker import Worker

from loyalty.staff import PIN_PATTERN
from terminal.i18n import t
from terminal.safe import clean, plain
from terminal.services import Refused
from terminal.widgets.code_input import CodeInput, WedgeReader
from terminal.widgets.keys import KeyBar, key, localize_bindings
from terminal.widgets.status import StatusLine

if TYPE_CHECKING:
    from loyalty.staff import StaffMember
    from terminal.app import CounterApp

LONGEST_NAME = 40


def first_name(name: str) -> str:
    """The first word of a staff member's name, cleaned (how the counter greets them)."""
    words = clean(name, LONGEST_NAME).split()
    return words[0] if words else "?"


def match_staff(members: Sequence[StaffMember], text: str) -> list[StaffMember]:
    """The staff whose name matches what was typed: the exact name, else those it starts.

    Compared without regard to case; a first name (or any word's start) alone is enough
    when it is the only one that matches.
    """
    typed = " ".join(text.split()).casefold()
    if not typed:
        return list(members)
    exact = [m for m in members if m.name.casefold() == typed]
    if exact:
        return exact
    starts = [m for m in members if m.name.casefold().startswith(typed)]
    words = [
        m
        for m in members
        if m not in starts and any(w.startswith(typed) for w in m.name.casefold().split())
    ]
    return starts + words


def looks_like_a_code(text: str, source: str) -> bool:
    """A scanner's burst, or text far too long for a name or a PIN: a card, not a person."""
    return source == "wedge" or len(text) > LONGEST_NAME or ":" in text


def pin_refusal(pin: str, source: str) -> str:
    """The catalog key saying why this entry is not checked as a PIN at all ("" to check it).

    Neither a scanned card nor a malformed PIN is counted as a wrong PIN.
    """
    if looks_like_a_code(pin, source):
        return "lock.scan_refused"
    if not PIN_PATTERN.fullmatch(pin):
        # 4 to 8 ASCII digits; anything else is never checked, so it never counts.
        return "lock.pin_format"
    return ""


class LockScreen(Screen[None]):
    """Pick who is serving, type the PIN; the counter opens for them."""

    BINDINGS: ClassVar[list[BindingType]] = [
        key("escape", "back", "lock.key_other"),
        Binding("down", "move(1)", show=False),
        Binding("up", "move(-1)", show=False),
    ]

    @dataclass
    class Checked(Message):
        """The PIN check ended: the member now serving, or the sentence saying why not."""

        member: Any
        refusal: Refused | None = None

    @dataclass
    class Listed(Message):
        """The staff accounts, read in a worker."""

        members: list[Any]

    def __init__(self, key_clock: Callable[[], float] = time.monotonic) -> None:
        super().__init__()
        self.members: list[StaffMember] = []
        self.shown: list[StaffMember] = []
        self.chosen: StaffMember | None = None
        self.checking = False
        self.message_key = ""
        self.message_text = ""
        self.message_refusal: Refused | None = None
        self.name_reader = WedgeReader(key_clock)
        self.pin_reader = WedgeReader(key_clock)

    @property
    def counter(self) -> CounterApp:
        """The app, typed."""
        return cast("CounterApp", self.app)

    def compose(self) -> ComposeResult:
        """Status line, title, name and list on the left, PIN on the right, the message."""
        yield StatusLine(id="status")
        yield Static("", id="screen-title", classes="screen-title", markup=False)
        yield Static("", id="lock-hint", classes="hint", markup=False)
        with Horizontal(id="lock-body"):
            with Vertical(id="lock-who"):
                yield Static("", id="lock-name-label", markup=False)
                yield CodeInput(self.name_reader, id="lock-name")
                staff = OptionList(id="lock-staff")
                staff.can_focus = False
                yield staff
            with Vertical(id="lock-pin-box"):
                yield Static("", id="lock-pin-label", markup=False)
                pin = CodeInput(self.pin_reader, id="lock-pin")
                pin.password = True
                yield pin
                yield Static("", id="lock-message", classes="error", markup=False)
        yield KeyBar()

    def on_mount(self) -> None:
        """Label everything, put the cursor in the name, read the staff list."""
        localize_bindings(self, self.counter.lang)
        self.relabel()
        self.query_one("#lock-name", Input).focus()
        self.load()

    def relabel(self) -> None:
        """Every text in the current language."""
        lang = self.counter.lang
        self.query_one("#screen-title", Static).update(Content(t("lock.title", lang)))
        self.query_one("#lock-hint", Static).update(Content(t("lock.hint", lang)))
        self.query_one("#lock-name-label", Static).update(Content(t("lock.name", lang)))
        self.query_one("#lock-name", Input).placeholder = t("lock.name_placeholder", lang)
        self.query_one("#lock-pin", Input).placeholder = t("lock.pin_placeholder", lang)
        self._pin_label()
        self._list()
        if self.message_key:
            self._say(self.message_key)
        elif self.message_refusal is not None:
            self._say_refusal(self.message_refusal)
        self.query_one(StatusLine).show(self.counter)

    # The staff list ---------------------------------------------------------------------

    def load(self) -> None:
        """Read the staff accounts again (in a worker: it is the ledger's database)."""
        self._load()

    @work(thread=True, exit_on_error=False, group="staff")
    def _load(self) -> None:
        self.post_message(self.Listed(list(self.counter.desk.staff_members())))

    def on_lock_screen_listed(self, message: Listed) -> None:
        """Show the names; a chosen member keeps the PIN field."""
        self.members = list(message.members)
        if not self.members:
            # Every account was removed while the counter ran: nothing is left to guard.
            self.counter.unlock(None)
            return
        self._list()

    def _list(self) -> None:
        lang = self.counter.lang
        typed = self.query_one("#lock-name", Input).value
        # Once somebody is chosen the whole list shows again, with them highlighted.
        self.shown = match_staff(self.members, "" if self.chosen else typed)
        staff = self.query_one("#lock-staff", OptionList)
        staff.clear_options()
        for member in self.shown:
            label = Content(clean(member.name, LONGEST_NAME))
            if member.locked:
                label = label + Content(" " + t("lock.account_locked", lang)).stylize("$error")
            staff.add_option(Option(label, id=member.id))
        if self.shown:
            chosen = self.chosen.id if self.chosen is not None else None
            staff.highlighted = next(
                (index for index, m in enumerate(self.shown) if m.id == chosen), 0
            )

    def on_input_changed(self, event: Input.Changed) -> None:
        """Typing a name narrows the list; typing again after a choice un-chooses."""
        if event.input.id != "lock-name":
            return
        event.stop()
        if self.chosen is not None and event.value != self.chosen.name:
            self.chosen = None
            self._pin_label()
        self._list()

    def action_move(self, step: int) -> None:
        """Up and down move through the list while the name is typed."""
        staff = self.query_one("#lock-staff", OptionList)
        if not self.shown:
            return
        current = staff.highlighted if staff.highlighted is not None else 0
        staff.highlighted = max(0, min(len(self.shown) - 1, current + step))

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        """A click on a name chooses it."""
        event.stop()
        member = next((m for m in self.shown if m.id == event.option.id), None)
        if member is not None:
            self._choose(member)

    def _choose(self, member: StaffMember) -> None:
        self.chosen = member
        name = self.query_one("#lock-name", Input)
        with name.prevent(Input.Changed):
            name.value = member.name
        self._list()
        self._pin_label()
        self._say("")
        self.query_one("#lock-pin", Input).focus()

    def _pin_label(self) -> None:
        lang = self.counter.lang
        label = (
            t("lock.pin_for", lang, name=first_name(self.chosen.name))
            if self.chosen is not None
            else t("lock.pin", lang)
        )
        self.query_one("#lock-pin-label", Static).update(plain(label, 60))

    # Enter in either field ------------------------------------------------------------------

    def on_key(self, event: events.Key) -> None:
        """A scanner's burst typed while nothing has the focus still lands in the name."""
        name = self.query_one("#lock-name", Input)
        pin = self.query_one("#lock-pin", Input)
        if name.has_focus or pin.has_focus:
            return
        if event.is_printable and event.character is not None:
            self.name_reader.key(event.character)
            name.focus()
            name.insert_text_at_cursor(event.character)
            event.stop()
            event.prevent_default()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        """Enter on the name chooses it; Enter on the PIN checks it."""
        event.stop()
        text = event.value
        if event.input.id == "lock-name":
            _candidates, source = self.name_reader.finish(text)
            if looks_like_a_code(text, source):
                event.input.value = ""
                self.scanned()
                return
            self._submit_name(text)
        elif event.input.id == "lock-pin":
            # The PIN leaves the field at once: nothing but dots was ever drawn, and now not
            # even those.
            event.input.value = ""
            _candidates, source = self.pin_reader.finish(text)
            self._submit_pin(text, source)

    def _submit_name(self, text: str) -> None:
        staff = self.query_one("#lock-staff", OptionList)
        if not text.strip() and staff.highlighted is None:
            return
        index = staff.highlighted if staff.highlighted is not None else 0
        if not self.shown or index >= len(self.shown):
            self._say("lock.unknown_name")
            return
        self._choose(self.shown[index])

    def _submit_pin(self, pin: str, source: str) -> None:
        if self.checking:
            return
        if self.chosen is None:
            matches = match_staff(self.members, self.query_one("#lock-name", Input).value)
            if len(matches) != 1:
                self._say("lock.choose_first")
                self.query_one("#lock-name", Input).focus()
                return
            self.chosen = matches[0]
            self._pin_label()
        refusal = pin_refusal(pin, source)
        if refusal:
            self._say(refusal)
            return
        self.checking = True
        self._say("lock.checking")
        self._check(self.chosen.id, pin)

    # Not exclusive (neither is the list's reload): a cancelled check would lose its answer.
    @work(thread=True, exit_on_error=False, group="staff")
    def _check(self, staff_id: str, pin: str) -> None:
        verdict = self.counter.desk.check_pin(staff_id, pin, self.counter.lang)
        if isinstance(verdict, Refused):
            self.post_message(self.Checked(None, verdict))
        else:
            self.post_message(self.Checked(verdict))

    def on_lock_screen_checked(self, message: Checked) -> None:
        """The right PIN opens the counter; a wrong one says why, and how long to wait."""
        self.checking = False
        if message.member is not None:
            self.counter.unlock(message.member)
            return
        if message.refusal is not None:
            self._say_refusal(message.refusal)
        self.load()

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        """A failed check: the app's one handler says so, and Enter works again."""
        if event.worker.group == "staff" and event.state.name in ("ERROR", "CANCELLED"):
            self.checking = False
        self.counter.on_worker_state_changed(event)

    # What the app tells it ------------------------------------------------------------------

    def scanned(self) -> None:
        """A card was scanned while locked: refused, nothing read, nothing recorded."""
        self._say("lock.scan_refused")

    def _say(self, key_: str, text: str = "") -> None:
        self.message_key = key_
        self.message_text = text
        self.message_refusal = None
        message = self.query_one("#lock-message", Static)
        message.set_class(key_ == "lock.checking", "-quiet")
        sentence = t(key_, self.counter.lang) if key_ else text
        message.update(plain(sentence, 300))

    def _say_refusal(self, refusal: Refused) -> None:
        """The core's refusal, kept so a language switch says it again in the new language."""
        self._say("", refusal.said_in(self.counter.lang))
        self.message_refusal = refusal

    def action_back(self) -> None:
        """Escape: choose somebody else."""
        self.chosen = None
        name = self.query_one("#lock-name", Input)
        name.value = ""
        self.query_one("#lock-pin", Input).value = ""
        self._pin_label()
        self._say("")
        name.focus()
