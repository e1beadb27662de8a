"""Key bindings whose descriptions come from the catalog, and the key bar that shows them.

The key bar is Textual's ``Footer`` without its leak, and with only the keys that fit: every
screen and dialog uses ``KeyBar``.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace
from typing import Any

from rich.cells import cell_len
from textual import events
from textual.app import ComposeResult
from textual.binding import Binding
from textual.dom import DOMNode
from textual.widgets import Footer
from textual.widgets._footer import FooterKey

from terminal.i18n import UI, t

ALWAYS_SHOWN = ("key.quit", "key.help")
"""Keys the bar shows whatever its width: a shopkeeper can always leave and ask for help."""


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


def fitting_keys(
    keys: Iterable[tuple[str, str, str]], width: int
) -> tuple[list[tuple[str, str, str]], bool]:
    """The keys (catalog id, key display, description) that fit ``width`` cells, and compact.

    Quit and help are always kept; the others keep their order of importance (the order the
    screen lists them, the app's own keys last) and the least important ones go first. The
    compact style (one space less a key) is used only when the full one does not fit.
    """
    keys = list(keys)

    def size(key: tuple[str, str, str], compact: bool) -> int:
        # Textual's FooterKey: " key desc " normally, "key desc" plus a margin when compact.
        return cell_len(key[1]) + cell_len(key[2]) + (2 if compact else 3)

    for compact in (False, True):
        if sum(size(k, compact) for k in keys) <= width:
            return keys, compact
    kept = [k for k in keys if k[0] in ALWAYS_SHOWN]
    room = width - sum(size(k, True) for k in kept)
    chosen = set(id(k) for k in kept)
    for candidate in keys:
        if id(candidate) in chosen:
            continue
        need = size(candidate, True)
        if need <= room:
            chosen.add(id(candidate))
            room -= need
        else:
            break
    return [k for k in keys if id(k) in chosen], True


class KeyBar(Footer):
    """The footer with the keys that fit, which lets go of the keys it replaces.

    Textual's ``Footer`` recomposes whenever the bindings change (each time a dialog opens or
    closes) and binds every new ``FooterKey`` with ``data_bind(compact=Footer.compact)``. That
    leaves a watcher on the long-lived footer that holds the key, and nothing removes it when
    the key is removed: after a day at the counter, hundreds of megabytes of dead keys
    (Textual 8.2.8, upstream Textualize/textual#6666, open). After each recompose the watchers
    of removed keys are dropped here. Remove this class when the upstream fix is released.
    """

    def compose(self) -> ComposeResult:
        """One key per action, the ones that fit the width (quit and help always)."""
        if not self._bindings_ready:
            return
        seen: set[str] = set()
        entries: list[tuple[Binding, bool, str]] = []
        for _node, binding, enabled, tooltip in self.screen.active_bindings.values():
            if binding.show and binding.action not in seen:
                seen.add(binding.action)
                entries.append((binding, enabled, tooltip))
        # A dialog hides the app's keys from the chain, but quit and help (priority keys)
        # still work there: show them too.
        shown = {b.id for b, _, _ in entries}
        for items in self.app._bindings.key_to_bindings.values():
            for binding in items:
                if binding.id in ALWAYS_SHOWN and binding.id not in shown:
                    shown.add(binding.id)
                    entries.append((binding, True, ""))
        labels = [
            (b.id or b.action, self.app.get_key_display(b), b.description) for b, _, _ in entries
        ]
        width = self.size.width or self.app.size.width
        kept, compact = fitting_keys(labels, width)
        self._shown_for = width
        self.set_reactive(Footer.compact, compact)
        self.set_class(compact, "-compact")
        kept_ids = {id(k) for k in kept}
        for (binding, enabled, tooltip), label in zip(entries, labels, strict=True):
            if id(label) in kept_ids:
                footer_key = FooterKey(
                    binding.key,
                    label[1],
                    binding.description,
                    binding.action,
                    disabled=not enabled,
                    tooltip=tooltip,
                    classes="-compact" if compact else "",
                )
                # Set, not data-bound: a binding to the footer is what leaked (see below).
                footer_key.set_reactive(FooterKey.compact, compact)
                yield footer_key

    def on_resize(self, event: events.Resize) -> None:
        """Choose the keys again for the new width."""
        if event.size.width != getattr(self, "_shown_for", None) and self._bindings_ready:
            self.call_after_refresh(self.recompose)

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
