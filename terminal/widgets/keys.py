"""Key bindings whose descriptions come from the catalog, and the key bar that shows them.

The key bar is Textual's ``Footer`` without its leak: every screen and dialog uses ``KeyBar``.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from textual.binding import Binding
from textual.dom import DOMNode
from textual.widgets import Footer

from terminal.i18n import UI, t


def key(
    keys: str, action: str, label: str, *, show: bool = True, priority: bool = False
) -> Binding:
    """A binding whose id is the catalog key ``label``; ``localize_bindings`` fills the text."""
    return Binding(keys, action, label, show=show, priority=priority, id=label)


def localize_bindings(node: DOMNode, lang: str) -> None:
    """Say a node's key descriptions in ``lang`` (each binding's id is its catalog key)."""
    bindings = node._bindings.key_to_bindings
    for name, items in list(bindings.items()):
        bindings[name] = [
            replace(b, description=t(b.id, lang)) if b.id and b.id in UI else b for b in items
        ]


class KeyBar(Footer):
    """The footer with every key, which lets go of the keys it replaces.

    Textual's ``Footer`` recomposes whenever the bindings change (each time a dialog opens or
    closes) and binds every new ``FooterKey`` with ``data_bind(compact=Footer.compact)``. That
    leaves a watcher on the long-lived footer that holds the key, and nothing removes it when
    the key is removed: after a day at the counter, hundreds of megabytes of dead keys
    (Textual 8.2.8, upstream Textualize/textual#6666, open). After each recompose the watchers
    of removed keys are dropped here. Remove this class when the upstream fix is released.
    """

    async def recompose(self) -> None:
        """Rebuild the keys, then forget the watchers of the keys just removed."""
        await super().recompose()
        self.forget_removed_keys()

    def forget_removed_keys(self) -> None:
        """Drop the watchers whose widget has been removed (they are never called again)."""
        # Textual keeps the watchers in this attribute (textual/reactive.py, ``_watch``).
        watchers: dict[str, list[tuple[Any, Any]]] = getattr(self, "__watchers", {})
        for name, entries in watchers.items():
            watchers[name] = [
                (node, callback)
                for node, callback in entries
                if not (getattr(node, "_closing", False) or getattr(node, "_closed", False))
            ]
