"""Key bindings whose descriptions come from the catalog, so the footer speaks every language."""

from __future__ import annotations

from dataclasses import replace

from textual.binding import Binding
from textual.dom import DOMNode

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
