"""Messages in the counter's four languages, and locale-aware formatting through Babel.

Each package keeps its messages as gettext catalogs, ``<package>/locale/<lang>/LC_MESSAGES/
<domain>.po``: ``msgctxt`` is the message key the code asks for, ``msgid`` the English sentence
and ``msgstr`` the translation, a template with ``{named}`` fields. A ``Catalog`` reads a
language's file the first time a sentence in that language is asked for (once per process).
``python -m loyalty.i18n update`` merges new or changed English sentences into the other
languages; ``python -m loyalty.i18n check`` lists what a translator still has to do.
"""

from __future__ import annotations

import string
import sys
from collections.abc import Mapping, Sequence
from datetime import datetime, tzinfo
from decimal import Decimal
from importlib.resources import files
from pathlib import Path
from typing import Any, Final

from babel.dates import format_date, format_datetime, format_time
from babel.numbers import format_currency, format_decimal

LANGUAGES: Final = ("fr", "nl", "de", "en")
# English for visitors, written the European way (27/11/2026, 14:43; €1,234.50).
LOCALES: Final = {"fr": "fr_BE", "nl": "nl_BE", "de": "de_BE", "en": "en_IE"}
# The packages that keep a locale folder (``check`` and ``update`` walk these).
PACKAGES: Final = ("loyalty", "receipts", "terminal")
SOURCE: Final = "en"

CATALOGS: list[Catalog] = []


def locale_for(language: str) -> str:
    """The Babel locale for a counter language (English for anything unknown)."""
    return LOCALES.get(language, "en_IE")


def locale_folder(package: str) -> Path:
    """The folder holding ``package``'s gettext catalogs."""
    return Path(str(files(package))) / "locale"


def po_path(folder: Path, language: str, domain: str) -> Path:
    """Where ``domain``'s messages in ``language`` live under a locale folder."""
    return folder / language / "LC_MESSAGES" / f"{domain}.po"


def read_messages(path: Path) -> dict[str, str]:
    """Key -> template from one ``.po`` file; an empty or fuzzy entry counts as missing."""
    from babel.messages.pofile import read_po  # noqa: PLC0415 - only when a sentence is asked for

    with path.open("rb") as handle:
        catalog = read_po(handle, ignore_obsolete=True)
    return {
        message.context: message.string
        for message in catalog
        if message.context
        and isinstance(message.string, str)
        and message.string
        and not message.fuzzy
    }


class Catalog:
    """One package's messages in every counter language, read from its gettext domain."""

    def __init__(self, name: str, package: str, domain: str, *, folder: Path | None = None) -> None:
        self.name = name
        self.package = package
        self.domain = domain
        # Where the ``.po`` files are: the package's ``locale`` folder unless given (tests).
        self.folder = folder
        self._texts: dict[str, dict[str, str]] = {}
        CATALOGS.append(self)

    def path(self, language: str) -> Path:
        """The ``.po`` file of ``language``."""
        return po_path(self.folder or locale_folder(self.package), language, self.domain)

    def templates(self, language: str) -> Mapping[str, str]:
        """Key -> template in ``language`` (read once per process)."""
        texts = self._texts.get(language)
        if texts is None:
            path = self.path(language)
            texts = read_messages(path) if path.is_file() else {}
            self._texts[language] = texts
        return texts

    def text(self, key: str, language: str, /, **params: Any) -> str:
        """The message in ``language`` with its fields filled (English for an unknown language)."""
        template = (
            self.templates(language).get(key) if language in LANGUAGES else None
        ) or self.templates(SOURCE)[key]
        return template.format(**params) if params else template

    @property
    def messages(self) -> dict[str, dict[str, str]]:
        """Every key with its template in each language that has one."""
        by_language = {language: self.templates(language) for language in LANGUAGES}
        return {
            key: {lang: texts[key] for lang, texts in by_language.items() if key in texts}
            for key in self.templates(SOURCE)
        }

    def __contains__(self, key: object) -> bool:
        return key in self.templates(SOURCE)


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


# --- catalogs for translators: check and update (``python -m loyalty.i18n check|update``) ----


HEADER: Final = (
    "# Messages of citie-terminal. msgctxt is the key the code asks for, msgid the English\n"
    "# sentence, msgstr the translation: keep every {field} of the English.\n"
    "# After changing the English (en), run: python -m loyalty.i18n update\n"
    "#"
)


def fields(template: str) -> list[str]:
    """The ``{named}`` fields of a template, sorted (what every language must keep)."""
    return sorted(name for _, name, _, _ in string.Formatter().parse(template) if name)


def domains(folder: Path) -> list[str]:
    """The gettext domains a locale folder keeps (one per ``Catalog``), from its English files."""
    return sorted(path.stem for path in (folder / SOURCE / "LC_MESSAGES").glob("*.po"))


def _read(path: Path) -> Any:
    from babel.messages.pofile import denormalize, read_po  # noqa: PLC0415

    with path.open("rb") as handle:
        catalog = read_po(handle)
    # read_po keeps a fuzzy entry's old English (``#| msgid``) as a comment: make it the
    # previous msgid again, so a second update writes the same file.
    for message in catalog:
        previous = [line[1:].strip() for line in message.user_comments if line.startswith("|")]
        if previous and previous[0].startswith("msgid "):
            message.user_comments = [c for c in message.user_comments if not c.startswith("|")]
            message.previous_id = [denormalize("\n".join(previous)[len("msgid ") :])]
    return catalog


def _write(path: Path, catalog: Any) -> bool:
    """Write ``catalog`` as a ``.po``/``.pot`` file; False when the file already says that."""
    from io import BytesIO  # noqa: PLC0415

    from babel.messages.pofile import write_po  # noqa: PLC0415

    buffer = BytesIO()
    write_po(buffer, catalog, width=100, ignore_obsolete=True, include_previous=True)
    data = buffer.getvalue()
    if path.is_file() and path.read_bytes() == data:
        return False
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return True


def update(folder: Path) -> list[Path]:
    """English is the source: make each English entry's translation its ``msgid``, write the
    template (``<domain>.pot``) and merge it into the other languages (a new sentence comes in
    empty, a changed one fuzzy with the old English kept as ``#| msgid``). Returns the files
    written."""
    from babel.messages.catalog import Catalog as PoCatalog  # noqa: PLC0415

    written: list[Path] = []
    for domain in domains(folder):
        english = _read(po_path(folder, SOURCE, domain))
        template = PoCatalog(
            domain=domain, project="citie-terminal", header_comment=HEADER, fuzzy=False
        )
        template.creation_date = english.creation_date
        for message in english:
            if not message.id:
                continue
            message.string = message.id
            message.flags.discard("fuzzy")
            template.add(
                message.id, "", auto_comments=message.auto_comments, context=message.context
            )
        for path, catalog in (
            (po_path(folder, SOURCE, domain), english),
            (folder / f"{domain}.pot", template),
        ):
            if _write(path, catalog):
                written.append(path)
        for language in LANGUAGES:
            if language == SOURCE:
                continue
            path = po_path(folder, language, domain)
            if path.is_file():
                catalog = _read(path)
            else:
                catalog = PoCatalog(
                    locale=language,
                    domain=domain,
                    project="citie-terminal",
                    header_comment=HEADER,
                    fuzzy=False,
                )
            earlier = {m.context: m.previous_id for m in catalog if m.previous_id}
            catalog.update(template, update_creation_date=False)
            # Babel drops the old English of an entry still fuzzy from an earlier update.
            for message in catalog:
                if message.fuzzy and not message.previous_id:
                    message.previous_id = earlier.get(message.context, [])
            if _write(path, catalog):
                written.append(path)
    return written


def problems(folder: Path, same_as_english: frozenset[tuple[str, str]] | None = None) -> list[str]:
    """What a translator still has to do in a locale folder's catalogs, one line each (empty when
    every key is in every language, filled, not fuzzy, with the English fields). Given the
    ``(key, language)`` pairs that really are the English word, any other copy of the English
    text is reported too."""
    found: list[str] = []
    for domain in domains(folder):
        english = _read(po_path(folder, SOURCE, domain))
        source = {m.context: m for m in english if m.id}
        where = f"{folder.parent.name}/{domain}"
        for key, message in source.items():
            if not key:
                found.append(f"{where} [en] {message.id!r}: no msgctxt (the key the code asks for)")
            elif message.string != message.id or message.fuzzy:
                found.append(f"{where} [en] {key}: msgstr differs from msgid (run update)")
        template = folder / f"{domain}.pot"
        if not template.is_file() or {(m.context, m.id) for m in _read(template) if m.id} != {
            (key, m.id) for key, m in source.items()
        }:
            found.append(f"{where}: {template.name} is not the English of en (run update)")
        for language in LANGUAGES:
            if language == SOURCE:
                continue
            path = po_path(folder, language, domain)
            if not path.is_file():
                found.append(f"{where} [{language}]: no {path.name} (run update)")
                continue
            catalog = {m.context: m for m in _read(path) if m.id}
            for key, message in source.items():
                entry = catalog.get(key)
                text = entry.string if entry is not None else None
                if entry is None or not isinstance(text, str) or not text.strip():
                    found.append(f"{where} [{language}] {key}: missing")
                elif entry.fuzzy:
                    found.append(f"{where} [{language}] {key}: fuzzy (English changed: check it)")
                elif fields(text) != fields(message.id):
                    found.append(
                        f"{where} [{language}] {key}: fields {fields(text)} "
                        f"but English has {fields(message.id)}"
                    )
                elif (
                    same_as_english is not None
                    and text == message.id
                    and (key, language) not in same_as_english
                ):
                    found.append(f"{where} [{language}] {key}: the English text copied")
            for key in catalog.keys() - source.keys():
                found.append(f"{where} [{language}] {key}: not in English (run update)")
    return found


def main(argv: Sequence[str] | None = None) -> int:
    """``check``: list what is missing, exit 1 if anything is; ``update``: merge English in."""
    args = list(sys.argv[1:] if argv is None else argv)
    if args not in (["check"], ["update"]):
        sys.stderr.write("usage: python -m loyalty.i18n check|update\n")
        return 2
    if args == ["update"]:
        for package in PACKAGES:
            for path in update(locale_folder(package)):
                sys.stdout.write(f"written: {path}\n")
        return 0
    # A translation equal to the English is left to the tests, which know the allowed cognates.
    found = [line for package in PACKAGES for line in problems(locale_folder(package))]
    for line in found:
        sys.stdout.write(f"{line}\n")
    return 1 if found else 0


if __name__ == "__main__":
    raise SystemExit(main())
