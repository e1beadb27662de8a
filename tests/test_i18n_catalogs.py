"""The gettext catalogs: every message in fr, nl, de and en with the English fields, nothing
fuzzy or empty, the translators' tools (``python -m loyalty.i18n check|update``) doing what the
README says, and the ``.po`` files shipped with the package."""

from __future__ import annotations

import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
from babel.messages.pofile import read_po, write_po

import loyalty.cards
import loyalty.claims
import loyalty.db
import loyalty.ledger
import loyalty.money
import loyalty.programs
import receipts.messages
import terminal.i18n
from loyalty.i18n import (
    CATALOGS,
    LANGUAGES,
    PACKAGES,
    Catalog,
    domains,
    locale_folder,
    po_path,
    problems,
    update,
)

ROOT = Path(__file__).resolve().parent.parent
ALLOWED_COPIES = {"terminal": terminal.i18n.SAME_AS_ENGLISH}
MODULES = (loyalty.cards, loyalty.claims, loyalty.db, loyalty.ledger, loyalty.money)
MODULES_TOO = (loyalty.programs, receipts.messages, terminal.i18n)


def _edit(path: Path, key: str, **changes: object) -> None:
    with path.open("rb") as handle:
        catalog = read_po(handle)
    if changes.pop("delete", False):
        catalog.delete(next(m for m in catalog if m.context == key).id, context=key)
    for message in catalog:
        if message.context == key:
            for name, value in changes.items():
                if name == "fuzzy":
                    message.flags.add("fuzzy")
                else:
                    setattr(message, name, value)
    with path.open("wb") as handle:
        write_po(handle, catalog, width=100)


def _copy(tmp_path: Path, package: str = "loyalty") -> Path:
    folder = tmp_path / package / "locale"
    shutil.copytree(locale_folder(package), folder)
    return folder


@pytest.mark.parametrize("package", PACKAGES)
def test_i18n_every_message_in_every_language_with_its_fields(package: str) -> None:
    assert domains(locale_folder(package)), f"{package} keeps no catalog"
    allowed = ALLOWED_COPIES.get(package, frozenset())
    assert problems(locale_folder(package), allowed) == []


def test_i18n_every_catalog_reads_its_four_files() -> None:
    assert len(MODULES) + len(MODULES_TOO) == 8
    assert len(CATALOGS) >= 8
    for catalog in CATALOGS:
        assert catalog.package in PACKAGES, catalog.name
        assert catalog.domain in domains(locale_folder(catalog.package)), catalog.name
        for language in LANGUAGES:
            assert catalog.path(language).is_file(), (catalog.name, language)
        messages = catalog.messages
        assert messages, catalog.name
        for key, forms in messages.items():
            assert set(forms) == set(LANGUAGES), (catalog.name, key)


def test_i18n_the_allowed_english_words_are_really_in_the_catalog() -> None:
    messages = terminal.i18n.UI.messages
    for key, language in terminal.i18n.SAME_AS_ENGLISH:
        assert messages[key][language] == messages[key]["en"], (key, language)


def test_i18n_check_names_what_a_translator_must_do(tmp_path: Path) -> None:
    folder = _copy(tmp_path)
    assert problems(folder) == []
    _edit(po_path(folder, "fr", "db"), "db.write_failed", string="")
    _edit(po_path(folder, "fr", "db"), "db.lost_missing", fuzzy=True)
    _edit(po_path(folder, "nl", "db"), "db.restore_from", string="Herstel de back-up")
    _edit(po_path(folder, "de", "db"), "db.no_backup", delete=True)
    with po_path(folder, "en", "db").open("rb") as handle:
        english = next(m for m in read_po(handle) if m.context)
    _edit(po_path(folder, "de", "db"), english.context, string=english.id)

    assert sorted(problems(folder, frozenset())) == sorted(
        [
            "loyalty/db [fr] db.write_failed: missing",
            "loyalty/db [fr] db.lost_missing: fuzzy (English changed: check it)",
            "loyalty/db [nl] db.restore_from: fields [] but English has ['backup']",
            f"loyalty/db [de] {english.context}: the English text copied",
            "loyalty/db [de] db.no_backup: missing",
        ]
    )
    # The command-line check (without the cognate list) still sees everything but the copy.
    assert len(problems(folder)) == 4


def test_i18n_update_brings_new_and_changed_english_to_translators(tmp_path: Path) -> None:
    folder = _copy(tmp_path)
    en = po_path(folder, "en", "db")
    with en.open("rb") as handle:
        catalog = read_po(handle)
    catalog.add("The ledger is on {device}.", context="db.where")
    old = next(m for m in catalog if m.context == "db.no_backup")
    old_english = old.id
    catalog.delete(old.id, context="db.no_backup")
    catalog.add(old_english.replace("call", "phone"), old_english, context="db.no_backup")
    with en.open("wb") as handle:
        write_po(handle, catalog, width=100)

    written = update(folder)
    assert set(written) == {
        en,
        folder / "db.pot",
        *(po_path(folder, language, "db") for language in ("fr", "nl", "de")),
    }
    assert update(folder) == []  # nothing left to do: the files stay as they are
    with po_path(folder, "nl", "db").open("rb") as handle:
        dutch = {m.context: m for m in read_po(handle) if m.id}
    assert dutch["db.where"].string == ""
    assert dutch["db.no_backup"].fuzzy
    # The old English stays beside the fuzzy entry, for the translator's tool to show the change.
    assert f'#| msgid "{old_english}"' in po_path(folder, "nl", "db").read_text(encoding="utf-8")
    with en.open("rb") as handle:
        english = {m.context: m for m in read_po(handle) if m.id}
    assert english["db.where"].string == "The ledger is on {device}."
    assert english["db.no_backup"].string == old_english.replace("call", "phone")
    found = problems(folder)
    for language in ("fr", "nl", "de"):
        assert f"loyalty/db [{language}] db.where: missing" in found
        assert f"loyalty/db [{language}] db.no_backup: fuzzy (English changed: check it)" in found


def test_i18n_a_fuzzy_or_empty_translation_is_never_shown(tmp_path: Path) -> None:
    folder = _copy(tmp_path)
    _edit(po_path(folder, "fr", "db"), "db.no_backup", fuzzy=True)
    _edit(po_path(folder, "nl", "db"), "db.no_backup", string="")
    catalog = Catalog("test.db", "loyalty", "db", folder=folder)
    try:
        english = catalog.text("db.no_backup", "en", folder="/x")
        assert english.startswith("No backup in /x")
        assert catalog.text("db.no_backup", "fr", folder="/x") == english
        assert catalog.text("db.no_backup", "nl", folder="/x") == english
        assert catalog.text("db.no_backup", "de", folder="/x") != english
        assert catalog.text("db.no_backup", "xx", folder="/x") == english
        assert "db.no_backup" in catalog and "db.nothing" not in catalog
        with pytest.raises(KeyError):
            catalog.text("db.nothing", "fr")
    finally:
        CATALOGS.remove(catalog)


def test_i18n_check_command_passes_on_the_tree() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "loyalty.i18n", "check"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert (done.returncode, done.stdout) == (0, "")
    wrong = subprocess.run(
        [sys.executable, "-m", "loyalty.i18n", "translate"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert wrong.returncode == 2 and "check|update" in wrong.stderr


def test_i18n_the_package_ships_every_catalog_file() -> None:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    patterns = config["tool"]["setuptools"]["package-data"]["*"]
    for package in PACKAGES:
        base = ROOT / package
        shipped = {path for pattern in patterns for path in base.glob(pattern)}
        files = {p for p in (base / "locale").rglob("*") if p.suffix in {".po", ".pot"}}
        assert files, package
        assert files <= shipped, sorted(str(p) for p in files - shipped)
