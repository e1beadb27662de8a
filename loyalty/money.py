"""Amounts as a Belgian counter types them, read once at the edge into integer cents.

Accepted: ``12,50``, ``12.50``, ``€ 12,50``, ``12,50 €``, ``EUR 12,50``, ``12,50 EUR``,
``12€50``, ``5,-``, ``1.234,50``, ``1 234,50`` (ordinary, non-breaking or narrow spaces),
``1,234.50``, ``12`` and every form :func:`loyalty.i18n.money` writes in fr, nl, de and en.

The one separator that cannot be read is a single ``.`` or ``,`` followed by exactly three
digits (``1.234``, ``1,234``): it is a thousands separator to some and decimals to others, so
it is refused as ``ambiguous`` rather than guessed. Floats are never used.
"""

from __future__ import annotations

import re
from decimal import Decimal
from enum import StrEnum
from typing import Final

from loyalty.i18n import Catalog, money

DEFAULT_MAX_CENTS: Final = 1_000_000
MAX_INPUT_LENGTH: Final = 40

_SPACES = dict.fromkeys(map(ord, "\u00a0\u202f\u2009\u2007\t"), " ")
_MINUS_SIGNS = ("-", "\u2212", "\u2013")
_CURRENCY = re.compile(r"^(?:€|EUR)\s*|\s*(?:€|EUR)$", re.IGNORECASE)
# French habit: 12€50 for twelve euros fifty.
_EURO_INSIDE = re.compile(r"(\d+)\s*€\s*(\d{2})")
_WHOLE_EUROS = re.compile(r"(?<=[0-9])[.,]-{1,2}$")
_DIGITS_AND_SEPARATORS = re.compile(r"[0-9.,' ]+")


class AmountReason(StrEnum):
    """Why a typed amount was refused: a closed set, stable across versions."""

    EMPTY = "empty"
    NOT_A_NUMBER = "not_a_number"
    NEGATIVE = "negative"
    ZERO = "zero"
    TOO_MANY_DECIMALS = "too_many_decimals"
    TOO_LARGE = "too_large"
    AMBIGUOUS = "ambiguous"


MESSAGES = Catalog("loyalty.money", "loyalty", "money")


class AmountError(ValueError):
    """A typed amount that cannot be used: a stable reason code and an English sentence."""

    def __init__(self, reason: AmountReason, max_cents: int = DEFAULT_MAX_CENTS) -> None:
        self.reason = reason
        self.max_cents = max_cents
        self.message = self.text("en")
        super().__init__(self.message)

    def text(self, language: str) -> str:
        """The sentence in the counter's language (fr, nl, de, en)."""
        if self.reason is AmountReason.TOO_LARGE:
            return MESSAGES.text(
                self.reason.value, language, maximum=money(self.max_cents, language)
            )
        return MESSAGES.text(self.reason.value, language)


def parse_amount(text: str, *, max_cents: int = DEFAULT_MAX_CENTS) -> int:
    """The amount in integer cents, or AmountError naming what is wrong."""
    if not isinstance(text, str):
        raise AmountError(AmountReason.NOT_A_NUMBER, max_cents)
    if len(text) > MAX_INPUT_LENGTH:
        raise AmountError(AmountReason.NOT_A_NUMBER, max_cents)
    value = text.translate(_SPACES).strip()
    if not value:
        raise AmountError(AmountReason.EMPTY, max_cents)
    negative = value.startswith(_MINUS_SIGNS)
    if negative or value.startswith("+"):
        value = value[1:].strip()
    value = _CURRENCY.sub("", value, count=2).strip()
    if value.startswith(_MINUS_SIGNS):
        # "€ -12,50" and "EUR -12,50"
        negative = True
        value = value[1:].strip()
    # "5,-" and "5,--": whole euros, as written on price tags.
    value = _WHOLE_EUROS.sub("", value)
    euro_inside = _EURO_INSIDE.fullmatch(value)
    if euro_inside:
        value = f"{euro_inside[1]},{euro_inside[2]}"
    if not value or not _DIGITS_AND_SEPARATORS.fullmatch(value):
        raise AmountError(AmountReason.NOT_A_NUMBER, max_cents)
    cents = _cents(value, max_cents)
    if negative and cents:
        raise AmountError(AmountReason.NEGATIVE, max_cents)
    if cents == 0:
        raise AmountError(AmountReason.ZERO, max_cents)
    if cents > max_cents:
        raise AmountError(AmountReason.TOO_LARGE, max_cents)
    return cents


def _cents(value: str, max_cents: int) -> int:
    """Cents from digits with separators (no sign, no currency)."""
    whole, decimals = _split(value, max_cents)
    if not whole and not decimals:
        raise AmountError(AmountReason.NOT_A_NUMBER, max_cents)
    if len(decimals) > 2:
        raise AmountError(AmountReason.TOO_MANY_DECIMALS, max_cents)
    if len(whole) > 12:
        raise AmountError(AmountReason.TOO_LARGE, max_cents)
    return int(Decimal(f"{whole or '0'}.{decimals or '0'}").scaleb(2))


def _split(value: str, max_cents: int) -> tuple[str, str]:
    """(whole digits, decimal digits) once the role of each separator is settled."""
    separators = [c for c in value if c in ".,' "]
    if not separators:
        return value, ""
    kinds = set(separators)
    last = value.rfind(separators[-1])
    if len(kinds) == 1 and (separators[-1] in " '" or len(separators) > 1):
        # One kind, used for grouping only: 1 234, 1.234.567, 1'234
        if separators[-1] in ".," and len(separators) > 1 and len(value) - last - 1 != 3:
            # "1.234.5": the last group is not thousands, so this is a typing slip.
            raise AmountError(AmountReason.NOT_A_NUMBER, max_cents)
        return _grouped(value, max_cents), ""
    if len(kinds) == 1:
        # A single "." or ",": decimals, unless exactly three digits follow a short whole
        # part, where it might be either (1.234 is 1234 to a Belgian, 1.234 to a Briton).
        whole, decimals = value.split(separators[-1])
        if len(decimals) == 3 and 1 <= len(whole) <= 3 and not whole.startswith("0"):
            raise AmountError(AmountReason.AMBIGUOUS, max_cents)
        if not decimals and not whole:
            raise AmountError(AmountReason.NOT_A_NUMBER, max_cents)
        return whole, decimals
    # Several kinds: the last one is the decimal mark and must not appear earlier.
    mark = separators[-1]
    if mark not in ".," or separators.count(mark) > 1:
        raise AmountError(AmountReason.NOT_A_NUMBER, max_cents)
    whole, decimals = value[:last], value[last + 1 :]
    return _grouped(whole, max_cents), decimals


def _grouped(value: str, max_cents: int) -> str:
    """Digits of a number written with one grouping separator in threes: 1.234.567."""
    separator = next((c for c in value if c in ".,' "), None)
    if separator is None:
        return value
    if any(c in ".,' " and c != separator for c in value):
        raise AmountError(AmountReason.NOT_A_NUMBER, max_cents)
    groups = value.split(separator)
    if not 1 <= len(groups[0]) <= 3 or any(len(g) != 3 for g in groups[1:]):
        raise AmountError(AmountReason.NOT_A_NUMBER, max_cents)
    return "".join(groups)
