"""Redeem confirmation: what the reward is, what it costs, and the offline limits."""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar, cast

from textual.app import ComposeResult
from textual.binding import BindingType
from textual.containers import Vertical
from textual.content import Content
from textual.screen import ModalScreen
from textual.widgets import Static

from terminal.i18n import t
from terminal.safe import clean
from terminal.services import CardView
from terminal.widgets.keys import KeyBar, key, localize_bindings

if TYPE_CHECKING:
    from terminal.app import CounterApp


class RedeemDialog(ModalScreen[bool]):
    """Enter (or F4) gives the reward; Escape does not. The ledger may still refuse."""

    BINDINGS: ClassVar[list[BindingType]] = [
        key("enter", "confirm", "key.confirm"),
        key("f4", "confirm", "key.confirm", show=False),
        key("escape", "cancel", "key.cancel"),
    ]

    def __init__(self, card: CardView) -> None:
        super().__init__()
        self.card = card

    @property
    def counter(self) -> CounterApp:
        """The app, typed."""
        return cast("CounterApp", self.app)

    def compose(self) -> ComposeResult:
        """The question, the cost, and the offline note when it applies."""
        with Vertical(id="redeem-box", classes="dialog"):
            yield Static("", id="redeem-title", classes="dialog-title", markup=False)
            yield Static("", id="redeem-question", markup=False)
            yield Static("", id="redeem-costs", markup=False)
            yield Static("", id="redeem-offline", classes="hint", markup=False)
        yield KeyBar()

    def on_mount(self) -> None:
        """Label in the current language."""
        localize_bindings(self, self.counter.lang)
        self.relabel()

    def relabel(self) -> None:
        """Every text in the current language."""
        app = self.counter
        lang = app.lang
        card = self.card
        reward = clean(card.reward_name, 60)
        self.query_one("#redeem-title", Static).update(Content(t("redeem.title", lang)))
        self.query_one("#redeem-question", Static).update(
            Content(
                t("redeem.question", lang, reward=reward, card_id=clean(card.card_id, 40))
            ).stylize("bold")
        )
        self.query_one("#redeem-costs", Static).update(
            Content(t("redeem.costs", lang, threshold=card.threshold, balance=card.total))
        )
        offline = app.facts is None or not app.facts.online
        self.query_one("#redeem-offline", Static).update(
            Content(t("redeem.offline", lang)) if offline else Content("")
        )

    def action_confirm(self) -> None:
        """Give the reward."""
        self.dismiss(True)

    def action_cancel(self) -> None:
        """Do not."""
        self.dismiss(False)
