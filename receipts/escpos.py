"""ESC/POS bytes for a receipt, built with python-escpos on a ``Dummy`` printer.

The code page is set explicitly (CP858 by default: CP850 with the euro sign) so é è à ç ë ü
and € print as themselves on any Epson-compatible printer instead of whatever the printer
was left in. The claim code uses the printer's native QR command (``GS ( k``: store, then
print); ``native_qr=False`` sends it as a raster image for printers without that command.
"""

from __future__ import annotations

import copy
import unicodedata
from functools import lru_cache
from typing import Any, Final

from receipts.model import Receipt
from receipts.qr import qr_image
from receipts.text import Qr, Row, Rule, layout, row_text

CODE_PAGES: Final = {"CP858": "cp858", "CP1252": "cp1252", "CP850": "cp850"}
"""Code pages this renderer can select, with the Python codec that matches each."""

DOTS_PER_LINE: Final = {32: 384, 48: 576}
"""Printable dots across 58 mm and 80 mm paper at 203 dpi."""

QR_MODULE_DOTS: Final = {32: 5, 48: 6}
"""QR module size in dots: big enough for a phone camera, small enough for the paper."""


# Letters and marks without a decomposition, but with an obvious stand-in.
_STAND_INS: Final = {
    "\u2018": "'",
    "\u2019": "'",
    "\u201a": "'",
    "\u201c": '"',
    "\u201d": '"',
    "\u201e": '"',
    "\u2026": "...",
    "\u2022": "*",  # the hidden characters of a voucher id on a spend slip
    "Ł": "L",
    "ł": "l",
    "Đ": "D",
    "đ": "d",
    "Ħ": "H",
    "ħ": "h",
    "Œ": "OE",
    "œ": "oe",
}


def printable(text: str, codec: str = "cp858") -> str:
    """Text that the code page can print: accents kept, others reduced to their base letter.

    A character the code page lacks becomes its unaccented form (``ő`` -> ``o``) when there
    is one, a dash for dashes, else ``?``.
    """
    out: list[str] = []
    for char in text:
        try:
            char.encode(codec)
        except UnicodeEncodeError:
            pass
        else:
            out.append(char)
            continue
        if unicodedata.category(char) == "Pd":
            out.append("-")
            continue
        if char in _STAND_INS:
            out.append(_STAND_INS[char])
            continue
        base = "".join(
            c for c in unicodedata.normalize("NFKD", char) if not unicodedata.combining(c)
        )
        try:
            base.encode(codec)
        except UnicodeEncodeError:
            base = ""
        out.append(base or "?")
    return "".join(out)


@lru_cache(maxsize=4)
def _profile_data(width: int) -> dict[str, Any]:
    # python-escpos prints a note on stdout when the profile has no media width, and the
    # image fallback needs the width to centre the code; set it on a private copy.
    from escpos.printer import Dummy  # noqa: PLC0415  (imported late: see render_escpos)

    data: dict[str, Any] = copy.deepcopy(Dummy().profile.profile_data)
    data["media"] = {
        "dpi": 203,
        "width": {"mm": 72 if width == 48 else 48, "pixels": DOTS_PER_LINE[width]},
    }
    return data


def render_escpos(
    receipt: Receipt,
    *,
    width: int = 48,
    native_qr: bool = True,
    code_page: str = "CP858",
    cut: bool = True,
) -> bytes:
    """The receipt as ESC/POS bytes for ``width`` columns (32 on 58 mm, 48 on 80 mm paper)."""
    if width not in DOTS_PER_LINE:
        raise ValueError(f"width must be 32 or 48, not {width}")
    codec = CODE_PAGES.get(code_page.upper())
    if codec is None:
        raise ValueError(f"code page must be one of {', '.join(CODE_PAGES)}, not {code_page}")
    # python-escpos loads its printer capability database (about 0.2 s) on import: only
    # the commands that make ESC/POS bytes pay for it, not every headless command.
    from escpos.constants import QR_ECLEVEL_M  # noqa: PLC0415
    from escpos.printer import Dummy  # noqa: PLC0415

    printer = Dummy()
    printer.profile.profile_data = _profile_data(width)
    printer.hw("INIT")
    printer.charcode(code_page.upper())
    bold = False
    for block in layout(receipt, width):
        if isinstance(block, Rule):
            printer.set(align="left", bold=False)
            bold = False
            printer.textln("-" * width)
        elif isinstance(block, Qr):
            printer.set(align="center", bold=False)
            bold = False
            module = QR_MODULE_DOTS[width]
            if native_qr:
                printer.qr(block.data, ec=QR_ECLEVEL_M, size=module, native=True)
                printer.ln()
            else:
                printer.image(qr_image(block.data, module, border=2).convert("1"), center=True)
            printer.set(align="left")
        else:
            if block.bold != bold:
                printer.set(bold=block.bold)
                bold = block.bold
            printer.textln(printable(_full_row(block, width), codec))
    if bold:
        printer.set(bold=False)
    if cut:
        printer.cut()
    output: bytes = printer.output
    printer.close()
    return output


def _full_row(row: Row, width: int) -> str:
    # Rows are centred with spaces rather than ESC a, so the printed columns match the text
    # preview exactly and no alignment state leaks from one row to the next.
    return row_text(row, width)
