"""Manager approval: a void, a large purchase, a reward beyond the offline allowance.

The dialog says why a manager is needed and what is being approved, asks for the manager's
name and PIN (dots only, emptied at Enter) and checks them in a worker
(``Desk.check_manager``: the same throttling and lock-out as the lock screen). It returns the
approving manager, or None when cancelled: then nothing is recorded.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar, cast

from textual import work
from textual.app import ComposeResult
from textual.binding import BindingType
from textual.containers import Horizontal, Vertical
from textual.content import Content
from textual.message import Message
from textual.screen import ModalScreen
from textual.widgets import Input, Static
from textual.worker import Worker

from terminal.i18n import t
from terminal.safe import plain
from terminal.screens.lock import first_name, looks_like_a_code, match_staff, pin_refusal
from terminal.services import Refused
from terminal.widgets.code_input import CodeInput, WedgeReader
from terminal.widgets.keys import KeyBar, key, localize_bindings

if TYPE_CHECKING:
    from loyalty.staff import StaffMember
    from terminal.app import CounterApp


class ApprovalDialog(ModalScreen["StaffMember | None"]):
    """A manager's name and PIN; Escape cancels (nothing is recorded)."""

    BINDINGS: ClassVar[list[BindingType]] = [key("escape", "cancel", "key.cancel")]

    @dataclass
    class Checked(Message):
        """The manager's PIN check ended: the manager, or the sentence saying why not."""

        member: Any
        sentence: str = ""

    @dataclass
    class Listed(Message):
        """The staff accounts, read in a worker."""

        members: list[Any]

    def __init__(self, reason: str, what: Content) -> None:
        super().__init__()
        self.reason = reason
        """Why a manager is needed (a sentence in the counter's language, trusted text)."""
        self.what = what
        """What is being approved (safe Content)."""
        self.members: list[StaffMember] = []
        self.checking = False
        self.message_key = ""
        self.message_text = ""

    @property
    def counter(self) -> CounterApp:
        """The app, typed."""
        return cast("CounterApp", self.app)

    def compose(self) -> ComposeResult:
        """Title, reason, what, the two fields, the managers' names, the message."""
        reader = WedgeReader(self.counter.key_clock)
        with Vertical(id="approval-box", classes="dialog"):
            yield Static("", id="approval-title", classes="dialog-title", markup=False)
            yield Static("", id="approval-reason", markup=False)
            yield Static(self.what, id="approval-what", markup=False)
            with Horizontal(id="approval-fields"):
                yield CodeInput(reader, id="approval-name")
                pin = CodeInput(WedgeReader(self.counter.key_clock), id="approval-pin")
                pin.password = True
                yield pin
            yield Static("", id="approval-managers", classes="hint", markup=False)
            yield Static("", id="approval-message", classes="error", markup=False)
        yield KeyBar()

    def on_mount(self) -> None:
        """Label, read the managers' names, put the cursor in the name."""
        localize_bindings(self, self.counter.lang)
        self.relabel()
        self.query_one("#approval-name", Input).focus()
        self._load()

    def relabel(self) -> None:
        """Every text in the current language."""
        lang = self.counter.lang
        self.query_one("#approval-title", Static).update(Content(t("approval.title", lang)))
        self.query_one("#approval-reason", Static).update(
            Content(self.reason).stylize("bold $warning")
        )
        self.query_one("#approval-name", Input).placeholder = t("approval.name", lang)
        self.query_one("#approval-pin", Input).placeholder = t("lock.pin_placeholder", lang)
        managers = [first_name(m.name) for m in self.members if str(m.role) == "manager"]
        self.query_one("#approval-managers", Static).update(
            plain(t("approval.managers", lang, names=", ".join(managers)), 200)
            if managers
            else Content("")
        )
        if self.message_key or self.message_text:
            self._say(self.message_key, self.message_text)

    @work(thread=True, exit_on_error=False, group="staff")
    def _load(self) -> None:
        self.post_message(self.Listed(list(self.counter.desk.staff_members())))

    def on_approval_dialog_listed(self, message: Listed) -> None:
        """The managers' first names under the fields."""
        self.members = list(message.members)
        self.relabel()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        """Enter on the name goes to the PIN; Enter on the PIN checks both."""
        event.stop()
        text = event.value
        if event.input.id == "approval-name":
            name_input = cast(CodeInput, event.input)
            _candidates, source = name_input.reader.finish(text)
            if looks_like_a_code(text, source):
                event.input.value = ""
                self._say("approval.scan_refused")
                return
            self.query_one("#approval-pin", Input).focus()
            return
        event.input.value = ""
        pin_input = cast(CodeInput, event.input)
        _candidates, source = pin_input.reader.finish(text)
        if self.checking:
            return
        refusal = pin_refusal(text, source)
        if refusal:
            self._say("approval.scan_refused" if refusal == "lock.scan_refused" else refusal)
            return
        name = self.query_one("#approval-name", Input).value.strip()
        if not name:
            self._say("approval.name_first")
            self.query_one("#approval-name", Input).focus()
            return
        matches = match_staff(self.members, name)
        who = matches[0].id if len(matches) == 1 else name
        self.checking = True
        self._say("lock.checking")
        self._check(who, text)

    @work(thread=True, exit_on_error=False, group="staff")
    def _check(self, who: str, pin: str) -> None:
        verdict = self.counter.desk.check_manager(who, pin, self.counter.lang)
        if isinstance(verdict, Refused):
            self.post_message(self.Checked(None, verdict.sentence))
        else:
            self.post_message(self.Checked(verdict))

    def on_approval_dialog_checked(self, message: Checked) -> None:
        """A manager's right PIN approves; anything else says why and waits."""
        self.checking = False
        if message.member is not None:
            self.dismiss(message.member)
            return
        self._say("", message.sentence)

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        """A failed check: the app's one handler says so, and Enter works again."""
        if event.worker.group == "staff" and event.state.name in ("ERROR", "CANCELLED"):
            self.checking = False
        self.counter.on_worker_state_changed(event)

    def _say(self, key_: str, text: str = "") -> None:
        self.message_key = key_
        self.message_text = text
        sentence = t(key_, self.counter.lang) if key_ else text
        self.query_one("#approval-message", Static).update(plain(sentence, 300))

    def action_cancel(self) -> None:
        """Escape: no approval, nothing recorded."""
        self.dismiss(None)
