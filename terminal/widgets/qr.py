"""A QR code drawn in the terminal with half-block characters (two modules a cell, stacked).

The on-screen slip shows its claim code this way, so a customer can claim it with a phone
even when there is no printer. Dark modules are black on a white cell, whatever the theme:
phone cameras expect dark on light, with the quiet zone around it.
"""

from __future__ import annotations

import qrcode
from qrcode.constants import ERROR_CORRECT_L
from textual.content import Content

QUIET_ZONE = 2
"""Modules of white around the code (the standard asks for 4; 2 reads well on a screen)."""
STYLE = "#000000 on #ffffff"

_CELLS = {(False, False): " ", (True, False): "▀", (False, True): "▄", (True, True): "█"}


def qr_matrix(data: str) -> list[list[bool]]:
    """The code's modules, quiet zone included (True: dark)."""
    code = qrcode.QRCode(border=QUIET_ZONE, error_correction=ERROR_CORRECT_L)
    code.add_data(data)
    code.make(fit=True)
    return [[bool(module) for module in row] for row in code.get_matrix()]


def qr_lines(data: str) -> list[str]:
    """The code as lines of half blocks: each line holds two rows of modules."""
    matrix = qr_matrix(data)
    if len(matrix) % 2:
        matrix.append([False] * len(matrix[0]))
    return [
        "".join(_CELLS[(top, bottom)] for top, bottom in zip(upper, lower, strict=True))
        for upper, lower in zip(matrix[0::2], matrix[1::2], strict=True)
    ]


def qr_content(data: str, width: int = 0) -> Content:
    """The code as Content (black on white), centred in ``width`` columns when given."""
    lines = qr_lines(data)
    pad = " " * max(0, (width - len(lines[0])) // 2) if lines else ""
    return Content("\n").join(Content(pad) + Content(line).stylize(STYLE) for line in lines)
