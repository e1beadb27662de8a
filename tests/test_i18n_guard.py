"""Sentences in the four languages live in the gettext catalogs (``<package>/locale``), never in
a Python dict again: a dict keyed by language codes in the code fails here, with where to put
the words instead."""

from __future__ import annotations

import ast
from pathlib import Path

from loyalty.i18n import LANGUAGES

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("terminal", "scanner", "sync", "receipts", "config", "loyalty")
# Dicts keyed by language that are not translations: Babel locale codes, and each language's
# name in itself (the same whatever the shop's language).
NOT_TRANSLATIONS = {("loyalty/i18n.py", "LOCALES"), ("terminal/i18n.py", "LANGUAGE_NAMES")}
WHERE = (
    "put the sentence in <package>/locale/en/LC_MESSAGES/<domain>.po (msgctxt the key, msgid "
    "the English), run `python -m loyalty.i18n update`, and translate it in the fr, nl and de "
    ".po files (README: Translations)"
)


def _language_dicts(path: Path) -> list[tuple[int, str]]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names: dict[int, str] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Assign | ast.AnnAssign) and node.value is not None:
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            for target in targets:
                if isinstance(target, ast.Name):
                    names[id(node.value)] = target.id
    found = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Dict):
            continue
        keys = {k.value for k in node.keys if isinstance(k, ast.Constant)}
        if len(keys & set(LANGUAGES)) >= 2:
            found.append((node.lineno, names.get(id(node), "")))
    return sorted(found)


def test_i18n_no_sentences_in_python_dicts() -> None:
    offenders = []
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            rel = path.relative_to(ROOT).as_posix()
            for line, name in _language_dicts(path):
                if (rel, name) not in NOT_TRANSLATIONS:
                    offenders.append(f"{rel}:{line}")
    assert offenders == [], f"a dict of translations in the code: {WHERE}"


def test_i18n_the_guard_sees_a_dict_of_translations(tmp_path: Path) -> None:
    sample = tmp_path / "sample.py"
    sample.write_text(
        'M = {"hello": {"fr": "bonjour", "nl": "hallo", "de": "hallo", "en": "hello"}}\n'
        'CATALOG = Catalog("x", {"k": {"en": "a", "fr": "b"}})\n'
        'LOCALES = {"fr": "fr_BE", "en": "en_IE"}\n',
        encoding="utf-8",
    )
    assert [line for line, _ in _language_dicts(sample)] == [1, 2, 3]
    assert _language_dicts(sample)[2][1] == "LOCALES"
