"""docs/API.md names only what the code has: every module, class, function and method it lists.

The page is the map the next developer reads first; a name that moved or was renamed makes it
lie. This test reads the page the way a person does: a ``## pkg.module`` heading or a
``# pkg.module`` comment in a code block sets the module being described; inside code blocks a
``class Name`` and the ``def name(`` lines indented under it, and a ``name(`` at the start of a
line, must exist there; anywhere on the page a backticked dotted name that starts with one of the
project's packages (``loyalty.db.iso``) must import and resolve.
"""

from __future__ import annotations

import importlib
import inspect
import re
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[1]
API = ROOT / "docs" / "API.md"
PACKAGES = ("loyalty", "scanner", "sync", "receipts", "config", "terminal", "city")

_ANY_PACKAGE = "|".join(PACKAGES)
DOTTED = re.compile(rf"`((?:{_ANY_PACKAGE})(?:\.[A-Za-z_][A-Za-z0-9_]*)+)")
MODULE_HEADING = re.compile(rf"^##? +((?:{_ANY_PACKAGE})(?:\.[a-z_]+)+)\b")
CLASS_LINE = re.compile(r"^(?:@dataclass[^ ]* +)?class +([A-Za-z_][A-Za-z0-9_]*)")
METHOD_LINE = re.compile(r"^ {4}def +([A-Za-z_][A-Za-z0-9_]*)\(")
CALL_LINE = re.compile(r"^([a-z_][a-z0-9_]*)\(")
PARAM = re.compile(r"^\*{0,2}([A-Za-z_][A-Za-z0-9_]*)")


def resolve(dotted: str) -> Any:
    """Import the longest module prefix of ``dotted`` and walk the rest as attributes."""
    parts = dotted.split(".")
    for split in range(len(parts), 0, -1):
        try:
            obj: Any = importlib.import_module(".".join(parts[:split]))
        except ModuleNotFoundError:
            continue
        for attr in parts[split:]:
            obj = getattr(obj, attr)
        return obj
    raise ModuleNotFoundError(dotted)


def documented_parameters(line: str) -> list[str]:
    """Parameter names of the first ``name(...)`` on a line, when its parentheses close there."""
    start = line.find("(")
    depth = 0
    for end in range(start, len(line)):
        depth += {"(": 1, "[": 1, "{": 1, ")": -1, "]": -1, "}": -1}.get(line[end], 0)
        if depth == 0:
            break
    else:
        return []
    names: list[str] = []
    piece = ""
    depth = 0
    for char in line[start + 1 : end] + ",":
        depth += {"(": 1, "[": 1, "{": 1, ")": -1, "]": -1, "}": -1}.get(char, 0)
        if char == "," and depth == 0:
            m = PARAM.match(piece.strip())
            if m and m.group(1) not in {"self", "cls"}:
                names.append(m.group(1))
            piece = ""
        else:
            piece += char
    return names


def signatures() -> list[tuple[int, str, list[str]]]:
    """(line number, dotted callable, parameter names) for each signature the page writes out."""
    found: list[tuple[int, str, list[str]]] = []
    module = ""
    cls = ""
    in_code = False
    for number, line in enumerate(API.read_text(encoding="utf-8").splitlines(), 1):
        if line.startswith("```"):
            in_code = not in_code
            cls = ""
            continue
        if heading := MODULE_HEADING.match(line):
            module, cls = heading.group(1), ""
        if not in_code or not module:
            continue
        if m := CLASS_LINE.match(line):
            cls = m.group(1)
        elif cls and (m := METHOD_LINE.match(line)):
            found.append((number, f"{module}.{cls}.{m.group(1)}", documented_parameters(line)))
        elif m := CALL_LINE.match(line):
            cls = ""
            found.append((number, f"{module}.{m.group(1)}", documented_parameters(line)))
    return found


def references() -> list[tuple[int, str]]:
    """(line number, dotted name) for every name the page claims exists."""
    found: list[tuple[int, str]] = []
    module = ""
    cls = ""
    in_code = False
    for number, line in enumerate(API.read_text(encoding="utf-8").splitlines(), 1):
        if line.startswith("```"):
            in_code = not in_code
            cls = ""
            continue
        heading = MODULE_HEADING.match(line)
        if heading:
            module = heading.group(1)
            cls = ""
        found.extend((number, name) for name in DOTTED.findall(line))
        if not in_code or not module:
            continue
        if m := CLASS_LINE.match(line):
            cls = m.group(1)
            found.append((number, f"{module}.{cls}"))
        elif cls and (m := METHOD_LINE.match(line)):
            found.append((number, f"{module}.{cls}.{m.group(1)}"))
        elif m := CALL_LINE.match(line):
            cls = ""
            found.append((number, f"{module}.{m.group(1)}"))
    return found


def test_the_page_names_things() -> None:
    # Guards the parser: a page it can no longer read would make the test below pass vacuously.
    names = {name for _, name in references()}
    assert len(names) >= 40
    assert "loyalty.ledger.Ledger.stamp" in names
    assert "receipts.text.render_text" in names


def test_every_name_on_the_page_exists() -> None:
    missing: list[str] = []
    for number, name in references():
        try:
            resolve(name)
        except (ImportError, AttributeError) as exc:
            missing.append(f"docs/API.md:{number}: {name} ({type(exc).__name__}: {exc})")
    assert not missing, "\n".join(missing)


def test_every_documented_parameter_exists() -> None:
    wrong: list[str] = []
    checked = 0
    for number, name, params in signatures():
        try:
            target = resolve(name)
            accepted = inspect.signature(target).parameters
        except (ImportError, AttributeError, TypeError, ValueError):
            continue  # a missing name is test_every_name_on_the_page_exists's finding
        if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in accepted.values()):
            continue
        checked += 1
        unknown = [p for p in params if p not in accepted and p != "..."]
        if unknown:
            wrong.append(f"docs/API.md:{number}: {name} has no parameter {', '.join(unknown)}")
    assert checked >= 20
    assert not wrong, "\n".join(wrong)


@pytest.mark.parametrize("package", [p for p in PACKAGES if (ROOT / p).is_dir()])
def test_every_package_has_a_section(package: str) -> None:
    text = API.read_text(encoding="utf-8")
    assert re.search(rf"^##? +{package}\b", text, re.MULTILINE), f"no section for {package}"
