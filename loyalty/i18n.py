"""Messages in the counter's four languages, and locale-aware formatting through Babel.

Each package keeps its own ``Catalog`` of messages (key -> language -> template with
``{named}`` fields); every catalog registers itself so a test can check that every key
exists in fr, nl, de and en and that no translation is just the English text copied.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, tzinfo
from decimal import Decimal
from typing import Any, Final

from babel.dates import format_date, format_datetime, format_time
from babel.numbers import format_currency, format_decimal

LANGUAGES: Final = ("fr", "nl", "de", "en")
# English for visitors, written the European way (27/11/2026, 14:43; €1,234.50).
LOCALES: Final = {"fr": "fr_BE", "nl": "nl_BE", "de": "de_BE", "en": "en_IE"}

CATALOGS: list[Catalog] = []


def locale_for(language: str) -> str:
    """The Babel locale for a counter language (English for anything unknown)."""
    return LOCALES.get(language, "en_IE")


class Catalog:
    """One package's messages in every counter language."""

    def __init__(self, name: str, messages: Mapping[str, Mapping[str, str]]) -> None:
        self.name = name
        self.messages = messages
        CATALOGS.append(self)

    def text(self, key: str, language: str, /, **params: Any) -> str:
        """The message in ``language`` with its fields filled (English for an unknown language)."""
        forms = self.messages[key]
        template = forms.get(language) or forms["en"]
        return template.format(**params) if params else template

    def __contains__(self, key: object) -> bool:
        return key in self.messages


def money(cents: int, language: str, currency: str = "EUR") -> str:
    """An amount in integer cents as the locale writes it: 12,50 EUR is ``€ 12,50`` in nl_BE."""
    return format_currency(Decimal(cents).scaleb(-2), currency, locale=locale_for(language))


def number(value: int | float, language: str) -> str:
    """A number with the locale's separators."""
    return format_decimal(value, locale=locale_for(language))


def date_text(moment: datetime, language: str, tz: tzinfo | None = None) -> str:
    """A date in the locale's medium form."""
    return format_date(moment.astimezone(tz), format="medium", locale=locale_for(language))


def time_text(moment: datetime, language: str, tz: tzinfo | None = None) -> str:
    """A time of day (hours and minutes) in the locale's form."""
    return format_time(moment.astimezone(tz), format="short", locale=locale_for(language))


def datetime_text(moment: datetime, language: str, tz: tzinfo | None = None) -> str:
    """Date and time in the locale's short form."""
    return format_datetime(moment.astimezone(tz), format="short", locale=locale_for(language))
