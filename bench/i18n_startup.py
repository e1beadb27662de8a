"""What reading the gettext catalogs costs a headless command: start-up of this tree against a
git revision (default: before the catalogs moved out of Python dicts).

``.venv/bin/python bench/i18n_startup.py [--runs N] [--ref REV]`` extracts ``REV`` with
``git archive`` into a temporary folder and times, interleaved, a fresh interpreter that
imports ``terminal.cli`` and asks for one sentence in Dutch (what ``citie-terminal balance``
pays before it touches the ledger); then, in this process, the first sentence of a language
(the ``.po`` read) against the next ones. Prints median, p95 and the ratio to the best row.
"""

from __future__ import annotations

import argparse
import io
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

SNIPPET = (
    "import time; t0 = time.perf_counter(); import terminal.cli; t1 = time.perf_counter();"
    "from terminal.i18n import t; t('cli.balance_line', 'nl', balance='1');"
    "t2 = time.perf_counter(); print(t1 - t0, t2 - t1)"
)


def p95(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]


def extract(ref: str, into: Path) -> Path:
    data = subprocess.run(["git", "archive", ref], cwd=ROOT, capture_output=True, check=True).stdout
    with tarfile.open(fileobj=io.BytesIO(data)) as archive:
        archive.extractall(into, filter="data")
    return into


def run(tree: Path) -> tuple[float, float, float]:
    start = time.perf_counter()
    out = subprocess.run(
        [sys.executable, "-c", SNIPPET], cwd=tree, capture_output=True, text=True, check=True
    ).stdout
    total = time.perf_counter() - start
    imported, first = (float(x) for x in out.split())
    return total, imported, first


def table(title: str, rows: dict[str, list[float]]) -> None:
    best = min(statistics.median(v) for v in rows.values())
    print(f"\n{title}")
    print(f"{'':40} {'median ms':>10} {'p95 ms':>10} {'ratio':>7}")
    for name, values in rows.items():
        median = statistics.median(values)
        print(f"{name:40} {median * 1000:10.2f} {p95(values) * 1000:10.2f} {median / best:7.2f}")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument("--ref", default="8a1e9de~1")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        trees = {
            "dicts (" + args.ref + ")": extract(args.ref, Path(tmp)),
            "catalogs (this tree)": ROOT,
        }
        rows: dict[str, dict[str, list[float]]] = {
            "process": {},
            "import terminal.cli": {},
            "first sentence": {},
        }
        for _ in range(args.runs):
            for name, tree in trees.items():
                total, imported, first = run(tree)
                rows["process"].setdefault(name, []).append(total)
                rows["import terminal.cli"].setdefault(name, []).append(imported)
                rows["first sentence"].setdefault(name, []).append(first)
    print(f"{args.runs} runs each, interleaved")
    table("python -c 'import terminal.cli; t(..., \"nl\")', whole process", rows["process"])
    table("import terminal.cli", rows["import terminal.cli"])
    table("first t(key, 'nl') after the import", rows["first sentence"])

    from loyalty.i18n import LANGUAGES, Catalog

    first_read: list[float] = []
    later: list[float] = []
    for _ in range(args.runs):
        for language in LANGUAGES:
            catalog = Catalog("bench", "terminal", "terminal")
            start = time.perf_counter()
            catalog.text("cli.balance_line", language, balance="1")
            first_read.append(time.perf_counter() - start)
            start = time.perf_counter()
            catalog.text("cli.balance_line", language, balance="1")
            later.append(time.perf_counter() - start)
    table(
        "terminal domain, in process (one language)",
        {"first sentence (reads the .po)": first_read, "next sentences": later},
    )


if __name__ == "__main__":
    main()
