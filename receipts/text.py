"""Lay a receipt out in character columns (32 for 58 mm paper, 48 for 80 mm) and print it as text.

``layout`` is shared by every renderer: it wraps words, right-aligns amounts and keeps every
row within the paper's columns; the text, ESC/POS and PNG renderers only draw its rows.
"""

from __future__ import annotations

import re
import textwrap
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

from receipts.model import Receipt, VoucherSlip

WIDTHS = (32, 48)
"""Columns of font A on 58 mm and 80 mm paper."""

_RUNS = re.compile(" {2,}")
_SPACES = {"\u00a0", "\u202f", "\u2007", "\u2009", "\u200a", "\u2002", "\u2003", "\u2004"}


def columns_for_paper(paper_width_mm: int) -> int:
    """Text columns for a paper width: 32 on 58 mm, 48 on 80 mm."""
    return 32 if paper_width_mm <= 58 else 48


def clean(text: object) -> str:
    """Text that is safe to print: NFC, no control or format characters, one line.

    Line breaks and tabs become spaces; every other control (C0, C1, DEL), format character
    (bidi overrides, zero-width joiners), surrogate and private-use character is dropped, so
    nothing a config file or the platform says can drive a printer or a terminal. Babel's
    no-break spaces are kept as U+00A0 (they must not break a line, and code pages have it).
    """
    out: list[str] = []
    for char in unicodedata.normalize("NFC", str(text)):
        if char in "\t\n\r\v\f\u2028\u2029\x85":
            out.append(" ")
            continue
        if char in _SPACES:
            out.append("\u00a0")
            continue
        category = unicodedata.category(char)
        if category[0] == "C" or category in ("Zl", "Zp"):
            continue
        if unicodedata.combining(char) and not out:
            continue
        out.append(char)
    return _RUNS.sub(" ", "".join(out)).strip(" ")


@dataclass(frozen=True)
class Row:
    """One printed line: text on the left, an optional amount on the right, within the width."""

    left: str = ""
    right: str = ""
    align: Literal["left", "center"] = "left"
    bold: bool = False


@dataclass(frozen=True)
class Rule:
    """A dividing line across the paper."""


@dataclass(frozen=True)
class Qr:
    """A QR code (the claim code), centred."""

    data: str


Block = Row | Rule | Qr


def text_width(text: str) -> int:
    """Columns a text takes on the printer (one per character: receipts use no wide scripts)."""
    return len(text)


def wrap(text: str, width: int) -> list[str]:
    """Words wrapped to ``width`` columns; a word longer than a line is cut."""
    text = clean(text)
    if not text:
        return []
    return textwrap.wrap(
        text, width=width, break_long_words=True, break_on_hyphens=True, drop_whitespace=True
    ) or [text[:width]]


def _pair(label: str, value: str, width: int, *, bold: bool = False) -> list[Row]:
    """A label with its value right-aligned on the first line; the label wraps under it."""
    label, value = clean(label), clean(value)
    if len(value) > width - 2:
        rows = [Row(line, bold=bold) for line in wrap(label, width)]
        return rows + [Row("", line, bold=bold) for line in wrap(value, width)]
    room = width - len(value) - 1
    parts = wrap(label, room) or [""]
    rows = [Row(parts[0], value, bold=bold)]
    if len(parts) > 1:
        rest = " ".join(parts[1:])
        rows += [Row(line, bold=bold) for line in wrap(rest, width)]
    return rows


def _centred(text: str, width: int, *, bold: bool = False) -> list[Row]:
    return [Row(line, align="center", bold=bold) for line in wrap(text, width)]


def _text(text: str, width: int) -> list[Row]:
    return [Row(line) for line in wrap(text, width)]


def layout(receipt: Receipt, width: int, *, with_qr: bool = True) -> list[Block]:
    """The receipt as rows no wider than ``width`` columns, plus the claim QR if any."""
    if width < 16:
        raise ValueError("a receipt needs at least 16 columns")
    blocks: list[Block] = []
    blocks += _centred(receipt.shop_name, width, bold=True)
    blocks += _centred(receipt.shop_address, width)
    blocks.append(Rule())
    blocks += _centred(receipt.title, width, bold=True)
    blocks += _pair(receipt.receipt_label, receipt.receipt_no, width)
    blocks += _pair(receipt.terminal_label, receipt.terminal_id, width)
    if receipt.staff_name:
        blocks += _pair(receipt.staff_label or "", receipt.staff_name, width)
    blocks += _text(receipt.time_text, width)
    if receipt.card_line:
        blocks += _text(receipt.card_line, width)
    if receipt.void_notice:
        blocks += _centred(receipt.void_notice, width, bold=True)
    if receipt.voucher is not None:
        blocks += _voucher_rows(receipt.voucher, width)
    if receipt.lines or receipt.total:
        blocks.append(Rule())
        for line in receipt.lines:
            blocks += _pair(line.label, line.amount, width)
        if receipt.total is not None:
            blocks += _pair(receipt.total.label, receipt.total.amount, width, bold=True)
    if receipt.stamps_label or receipt.reward or receipt.explanations:
        blocks.append(Rule())
    if receipt.reward:
        blocks += _text(receipt.reward, width)
    if receipt.stamps_label:
        sign = "+" if receipt.stamps > 0 else ""
        blocks += _pair(receipt.stamps_label, f"{sign}{receipt.stamps}", width, bold=True)
    for sentence in receipt.explanations:
        for i, part in enumerate(wrap(sentence, width - 2)):
            blocks.append(Row(("- " if i == 0 else "  ") + part))
    if receipt.balance_label is not None and receipt.balance is not None:
        blocks += _pair(receipt.balance_label, str(receipt.balance), width, bold=True)
    if receipt.progress:
        blocks += _text(receipt.progress, width)
    if receipt.claim_code:
        blocks.append(Rule())
        if receipt.claim_hint:
            blocks += _centred(receipt.claim_hint, width)
        if with_qr:
            blocks.append(Qr(receipt.claim_code))
    blocks.append(Rule())
    blocks += _centred(receipt.footer, width)
    return blocks


def _voucher_rows(voucher: VoucherSlip, width: int) -> list[Block]:
    rows: list[Block] = [Rule()]
    rows += _pair(voucher.id_label, voucher.masked_id, width)
    if voucher.campaign:
        rows += _text(voucher.campaign, width)
    rows += _pair(voucher.paid.label, voucher.paid.amount, width, bold=True)
    if voucher.left is not None:
        rows += _pair(voucher.left.label, voucher.left.amount, width, bold=True)
    return rows


def row_text(row: Row, width: int) -> str:
    """One row as exactly the characters printed (no trailing spaces)."""
    if row.align == "center":
        pad = max(0, (width - text_width(row.left)) // 2)
        return (" " * pad + row.left).rstrip()
    if not row.right:
        return row.left.rstrip()
    gap = max(1 if row.left else 0, width - text_width(row.left) - text_width(row.right))
    return row.left + " " * gap + row.right


def text_lines(blocks: Iterable[Block], width: int) -> list[str]:
    """Blocks as text lines; a QR becomes its data, cut to the width (for screens and logs)."""
    lines: list[str] = []
    for block in blocks:
        if isinstance(block, Rule):
            lines.append("-" * width)
        elif isinstance(block, Qr):
            data = block.data
            lines += [data[i : i + width] for i in range(0, len(data), width)]
        else:
            lines.append(row_text(block, width))
    return lines


def render_text(receipt: Receipt, width: int = 48) -> str:
    """The receipt as plain text for ``width`` columns (32 or 48), ending with a newline."""
    if width not in WIDTHS:
        raise ValueError(f"width must be one of {WIDTHS}, not {width}")
    return "\n".join(text_lines(layout(receipt, width), width)) + "\n"
