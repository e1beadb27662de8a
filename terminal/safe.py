"""Plain, bounded text for the screen: whatever a code, the platform or a rule says.

Anything that did not come from this program's own catalog passes through here before it is
shown: control characters (C0, C1, ESC, DEL), bidirectional overrides and isolates that could
make text lie about its order are removed, and the length is capped. The result is a Textual
``Content`` (never parsed as markup), or a plain ``str`` for widgets built with ``markup=False``.
"""

from __future__ import annotations

import re
import unicodedata

from textual.content import Content

DEFAULT_LIMIT = 120
"""Longest text shown from outside, in characters; longer text ends with an ellipsis."""

# C0 (includes ESC, TAB, CR, LF), DEL, C1, the bidi embeddings/overrides U+202A-U+202E,
# the isolates U+2066-U+2069, and the implicit marks U+200E/U+200F/U+061C: a right-to-left
# override in a card id or a shop name could make "EVIL" read as "LIVE".
_UNSAFE = re.compile("[\x00-\x1f\x7f-\x9f\u200e\u200f\u061c\u202a-\u202e\u2066-\u2069]")
_SPACE_LIKE = re.compile("[\t\n\r\x0b\x0c\x85\u2028\u2029]+")
ELLIPSIS = "…"


def clean(text: object, limit: int = DEFAULT_LIMIT) -> str:
    """``text`` as one safe line: control and bidi characters gone, at most ``limit`` characters.

    Line breaks and tabs become one space, so a multi-line value cannot push the layout about.
    """
    value = text if isinstance(text, str) else str(text)
    # Cap before the regex work so a 3 MB string costs as little as a 3 KB one.
    if len(value) > limit * 4:
        value = value[: limit * 4]
    value = _SPACE_LIKE.sub(" ", value)
    value = _UNSAFE.sub("", value)
    # Unpaired surrogates cannot be encoded for the terminal.
    value = value.encode("utf-8", "replace").decode("utf-8")
    value = "".join(ch for ch in value if unicodedata.category(ch) != "Cs")
    if len(value) > limit:
        value = value[: max(limit - 1, 0)] + ELLIPSIS
    return value


def plain(text: object, limit: int = DEFAULT_LIMIT, style: str = "") -> Content:
    """Safe ``Content`` for a widget: never markup, never a control character."""
    content = Content(clean(text, limit))
    return content.stylize(style) if style else content


def join(*parts: Content | str, separator: str = "") -> Content:
    """Assemble catalog text (``str``, trusted) and safe ``Content`` without parsing markup."""
    pieces: list[Content] = []
    for index, part in enumerate(parts):
        if index and separator:
            pieces.append(Content(separator))
        pieces.append(part if isinstance(part, Content) else Content(part))
    return Content("").join(pieces) if pieces else Content("")
