"""The counter app's words in French, Dutch, German and English.

The words are a gettext catalog, ``terminal/locale/<lang>/LC_MESSAGES/terminal.po``
(``msgctxt`` the key, ``msgid`` the English, ``msgstr`` the translation) read by one
``loyalty.i18n.Catalog``; ``t(key, lang, **params)`` fills a template. Templates are trusted
text; values that come from outside go in already cleaned (``terminal.safe``), and the result
is shown as ``Content`` or with ``markup=False``, never as markup.
"""

from __future__ import annotations

from typing import Any, Final

from loyalty.i18n import LANGUAGES, Catalog

LANGUAGE_NAMES: Final = {"fr": "Français", "nl": "Nederlands", "de": "Deutsch", "en": "English"}

# Words that are really the same in that language (the test allows exactly these).
SAME_AS_ENGLISH: Final = frozenset(
    {
        ("status.online", "nl"),
        ("status.online", "de"),
        ("status.offline", "nl"),
        ("status.offline", "de"),
        ("status.demo", "nl"),
        ("status.demo", "de"),
        ("report.hour", "fr"),
        ("status.camera", "nl"),
        ("settings.camera", "nl"),
        ("settings.printer", "nl"),
        ("work.camera", "nl"),
        ("work.printer", "nl"),
    }
)

# The words live in terminal/locale: a new one goes into en/LC_MESSAGES/terminal.po (msgctxt
# the key, msgid the English), then `python -m loyalty.i18n update` and its fr, nl and de
# translations (README: Translations).
UI = Catalog("terminal", "terminal", "terminal")


def t(key: str, lang: str, /, **params: Any) -> str:
    """The message ``key`` in ``lang`` with its fields filled."""
    return UI.text(key, lang, **params)


def next_language(lang: str) -> str:
    """The language after ``lang`` in the cycle fr -> nl -> de -> en -> fr."""
    order = list(LANGUAGES)
    return order[(order.index(lang) + 1) % len(order)] if lang in order else order[0]


def __getattr__(name: str) -> dict[str, dict[str, str]]:
    """``M``: every key with its template in each language, as the catalog holds them."""
    if name == "M":
        return UI.messages
    raise AttributeError(name)
