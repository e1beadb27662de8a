"""The shape of the project: core packages know no screen; the README's commands exist."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
CORE = ["loyalty", "scanner", "sync", "receipts", "config", "city"]


def submodules(package: str) -> list[str]:
    base = ROOT / package
    return sorted(
        ".".join(path.relative_to(ROOT).with_suffix("").parts)
        for path in base.rglob("*.py")
        if path.name != "__main__.py"
    )


# Records who first imports textual or rich. httpx's own command-line module imports rich
# when it is installed (httpx/_main.py, loaded by `import httpx`); that is httpx's choice,
# not a UI dependency of ours, so it is the one importer allowed, and only for rich.
WATCH = """
import importlib, sys, traceback
class Watch:
    seen = []
    def find_spec(self, name, path=None, target=None):
        if name in ('textual', 'rich'):
            frames = [f.filename for f in traceback.extract_stack()[:-1]
                      if 'importlib' not in f.filename and '<frozen' not in f.filename]
            Watch.seen.append((name, frames[-1] if frames else '?'))
        return None
sys.meta_path.insert(0, Watch())
for name in MODULES:
    importlib.import_module(name)
for name, importer in Watch.seen:
    allowed = name == 'rich' and importer.endswith('httpx/_main.py')
    if not allowed:
        print(name, 'imported by', importer)
"""


@pytest.mark.parametrize("package", CORE)
def test_core_package_imports_no_ui_library(package: str) -> None:
    modules = [m.removesuffix(".__init__") for m in submodules(package)]
    code = WATCH.replace("MODULES", repr(modules))
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, check=False
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "", f"{package}: {result.stdout.strip()}"


def test_headless_cli_does_not_import_textual() -> None:
    code = "import sys, terminal.cli; print('textual' in sys.modules)"
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, check=False
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "False"


def test_dependency_direction() -> None:
    allowed = {
        "config": set(),
        "loyalty": {"config"},
        "scanner": {"config"},
        "receipts": {"loyalty", "config"},
        "sync": {"loyalty", "config"},
        # The city platform: the protocol models, printable cards, shared verification.
        "city": {"sync", "receipts", "loyalty", "config"},
    }
    pattern = re.compile(
        r"^\s*(?:from|import)\s+(terminal|scanner|sync|receipts|config|loyalty|city)\b", re.M
    )
    for package, may_import in allowed.items():
        for path in (ROOT / package).rglob("*.py"):
            for target in pattern.findall(path.read_text(encoding="utf-8")):
                assert target == package or target in may_import, (
                    f"{path.relative_to(ROOT)} imports {target}"
                )


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
