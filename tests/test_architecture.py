"""The shape of the project: the import contracts hold (and catch what they should), the headless
CLI loads no screen library, the README's commands exist."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
CORE = ["loyalty", "scanner", "sync", "receipts", "config", "city"]


def test_headless_cli_does_not_import_textual() -> None:
    code = "import sys, terminal.cli; print('textual' in sys.modules)"
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, check=False
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "False"


def test_core_loads_no_textual_at_run_time() -> None:
    """What a static graph cannot see (an import by name at run time): import every core
    module and look. Rich is left to the contracts: httpx loads it for its own CLI."""
    modules = sorted(
        ".".join(path.relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__")
        for package in CORE
        for path in (ROOT / package).rglob("*.py")
        if path.name != "__main__.py"
    )
    code = (
        "import importlib, sys\n"
        f"for name in {modules!r}:\n"
        "    importlib.import_module(name)\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] == 'textual'))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, check=False
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"


PACKAGES = ["terminal", *CORE]
LINT_IMPORTS = Path(sys.executable).parent / "lint-imports"


def lint_imports(root: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        # The contracts in root/pyproject.toml (found in the working directory: import-linter
        # 2.1, the lowest allowed, takes no config path argument).
        [str(LINT_IMPORTS), "--no-cache"],
        capture_output=True,
        text=True,
        cwd=root,
        check=False,
    )


def test_import_contracts_are_kept() -> None:
    result = lint_imports(ROOT)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout


def test_import_contracts_are_the_arrows_of_api_md() -> None:
    """Each package may import exactly what docs/API.md's arrows say; the rest is forbidden."""
    api = (ROOT / "docs" / "API.md").read_text(encoding="utf-8")
    direction = api.split("Dependency direction:", 1)[1].split("\n\n", 1)[0]
    arrows = {
        source: {t.strip() for t in targets.split(",")}
        for source, targets in re.findall(r"`(\w+) -> ([\w, ]+)`", direction)
    }
    arrows.setdefault("config", set())
    linter = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["tool"][
        "importlinter"
    ]
    packages = set(linter["root_packages"])
    assert set(PACKAGES) <= packages
    assert set(arrows) == packages  # every package has its arrow (config: none)
    forbidden = {
        c["source_modules"][0]: set(c["forbidden_modules"])
        for c in linter["contracts"]
        if len(c["source_modules"]) == 1
    }
    for package in sorted(packages):
        expected = packages - {package} - arrows[package]
        assert forbidden.get(package, set()) == expected, package
    # Only terminal draws: every other package is under the UI contract.
    ui = [c for c in linter["contracts"] if set(c["forbidden_modules"]) == {"textual", "rich"}]
    assert len(ui) == 1 and set(ui[0]["source_modules"]) == packages - {"terminal"}


@pytest.mark.parametrize(
    ("module", "line", "contract"),
    [
        # httpx imports rich before sync does, so watching the first import never saw this.
        ("sync/outbox.py", "import rich", "The core never imports a UI library"),
        ("loyalty/ledger.py", "from textual.app import App", "The core never imports a UI"),
        ("loyalty/cards.py", "import receipts.text", "loyalty -> config"),
        ("config/load.py", "import loyalty.db", "config imports nothing of ours"),
        ("sync/outbox.py", "import receipts.cards", "sync -> loyalty, config"),
        ("city/store.py", "import terminal.app", "city -> sync, receipts, loyalty, config"),
        ("terminal/app.py", "import city.store", "terminal imports city only in the demo"),
        ("receipts/text.py", "import sync.protocol", "receipts -> loyalty, config"),
        ("scanner/events.py", "import loyalty.cards", "scanner -> config"),
    ],
)
def test_import_contracts_catch_a_forbidden_import(
    tmp_path: Path, module: str, line: str, contract: str
) -> None:
    for package in PACKAGES:
        shutil.copytree(ROOT / package, tmp_path / package, ignore=shutil.ignore_patterns("*.pyc"))
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    target = tmp_path / module
    # Inside a function: imported only when called, as a lazy import would be.
    target.write_text(
        target.read_text(encoding="utf-8") + f"\n\ndef _added() -> None:\n    {line}\n",
        encoding="utf-8",
    )
    result = lint_imports(tmp_path)
    assert result.returncode == 1, result.stdout + result.stderr
    broken = [row for row in result.stdout.splitlines() if " BROKEN" in row]
    # Indirect imports count too: sync -> loyalty -> receipts also breaks sync's contract.
    assert any(row.startswith(contract) for row in broken), result.stdout


def test_terminal_imports_city_only_in_the_demo_launcher() -> None:
    pattern = re.compile(r"^\s*(?:from|import)\s+city\b", re.M)
    launchers = {"terminal/demo.py", "terminal/demo_run.py"}
    for path in (ROOT / "terminal").rglob("*.py"):
        relative = path.relative_to(ROOT).as_posix()
        if relative not in launchers:
            assert not pattern.search(path.read_text(encoding="utf-8")), f"{relative} imports city"


def test_readme_quick_start_commands_exist_in_makefile() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    quick = readme.split("## Quick start", 1)[1].split("\n## ", 1)[0]
    commands = re.findall(r"^make (\w+)$", quick, re.M)
    assert commands == ["run", "test"]
    for target in commands:
        assert re.search(rf"^{target}:", makefile, re.M), f"make {target} missing"
    assert "make test" in (ROOT / ".ci" / "run").read_text(encoding="utf-8")
