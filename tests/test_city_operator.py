"""Operator commands of ``citie-platform`` (issue 11, item 8), against both stores.

Found before: ``card revoke`` of a never-issued id and ``program`` for an unknown shop both
succeeded; there was no way to issue a city's mailing, list terminals, cards or programs, or
withdraw a terminal; without the ``[platform]`` extra the script died with an ImportError.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import zlib
from pathlib import Path
from typing import Any

from tests.conftest_platform import PLATFORM, PairedTerminal, RunningPlatform, clean_env

ROOT = Path(__file__).resolve().parent.parent


def run(
    platform: RunningPlatform, *args: str, stdin: str | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*PLATFORM, *args, "--data-dir", str(platform.data_dir)],
        capture_output=True,
        text=True,
        env=clean_env(),
        timeout=120,
        check=False,
        input=stdin,
    )


def lines(result: subprocess.CompletedProcess[str]) -> list[dict[str, Any]]:
    return [json.loads(line) for line in result.stdout.splitlines() if line.strip()]


def test_card_new_count_issues_a_mailing_with_a_pdf_sheet(
    platform: RunningPlatform, tmp_path: Path
) -> None:
    sheet = tmp_path / "mailing.pdf"

    made = run(platform, "card", "new", "--count", "12", "--json", "--pdf", str(sheet))

    assert made.returncode == 0, made.stderr
    *cards, summary = lines(made)
    assert len(cards) == 12 and len({c["card_id"] for c in cards}) == 12
    assert all(c["code"].startswith("CT1:") for c in cards)
    assert summary == {"cards": 12, "pdf": str(sheet)}
    pdf = sheet.read_bytes()
    assert pdf.startswith(b"%PDF")
    pages = pdf.count(b"/Type /Page") - pdf.count(b"/Type /Pages")
    assert pages == 2, "ten cards a page"
    # Every card on the sheets scans back: read each page's image with the real decoder.
    scanned = [text for page in sheet_images(pdf) for text in decode(page)]
    assert sorted(scanned) == sorted(c["code"] for c in cards)
    listed = run(platform, "card", "list", "--json")
    assert sorted(r["card_id"] for r in lines(listed)) == sorted(c["card_id"] for c in cards)


def sheet_images(pdf: bytes) -> list[Any]:
    """The page images of a sheet PDF (one Flate-compressed RGB image a page)."""
    import numpy as np

    images = []
    for match in re.finditer(
        rb"/Width (\d+) /Height (\d+) .*?/Length (\d+) >>\nstream\n", pdf, re.S
    ):
        width, height, length = (int(g) for g in match.groups())
        raw = zlib.decompress(pdf[match.end() : match.end() + length])
        images.append(np.frombuffer(raw, np.uint8).reshape(height, width, 3))
    return images


def decode(image: Any) -> list[str]:
    import cv2

    from scanner.decoders import ZxingDecoder, to_grey

    grey = to_grey(cv2.cvtColor(image, cv2.COLOR_RGB2BGR))
    return [read.text for read in ZxingDecoder().decode(grey)]


def test_card_revoke_refuses_ids_never_issued_and_revokes_nothing(
    platform: RunningPlatform, tmp_path: Path
) -> None:
    cards = [c["card_id"] for c in lines(run(platform, "card", "new", "--count", "3", "--json"))]

    bad = run(platform, "card", "revoke", cards[0], "CT-NEVR-ISSU", "CT-ALSO-NOPE")

    assert bad.returncode == 1
    assert bad.stderr.startswith("refused: unknown_cards: 2 of 3 card id(s) were never issued")
    assert "CT-NEVR-ISSU" in bad.stderr and "CT-ALSO-NOPE" in bad.stderr
    assert platform.query("SELECT COUNT(*) FROM revoked") == [(0,)]
    as_json = run(platform, "card", "revoke", "--json", *(f"CT-NONE-{n:04d}" for n in range(25)))
    assert as_json.returncode == 1 and "(+5 more; --json lists them all)" in as_json.stderr
    assert len(lines(as_json)[0]["unknown"]) == 25

    listing = tmp_path / "lost.txt"
    listing.write_text(f"# lost in the post\n{cards[0]}\n\n{cards[1]}  # a second one\n")
    done = run(platform, "card", "revoke", "--from", str(listing), "--json")
    assert done.returncode == 0, done.stderr
    assert lines(done) == [{"revoked": 2, "already_revoked": 0}]
    again = run(platform, "card", "revoke", "--from", "-", cards[2], stdin=f"{cards[0]}\n")
    assert again.returncode == 0, again.stderr
    assert again.stdout.strip() == "revoked: 1 card(s); 1 were already revoked"
    unknown_file = tmp_path / "typo.txt"
    unknown_file.write_text("CT-TYPO-TYPO\n")
    assert run(platform, "card", "revoke", "--from", str(unknown_file)).returncode == 1


def test_program_for_an_unknown_shop_exits_1_and_program_list_shows_them(
    platform: RunningPlatform, tmp_path: Path
) -> None:
    body = tmp_path / "coffee.json"
    program = {"id": "coffee", "reward_name": "a free coffee", "reward_threshold": 8}
    body.write_text(json.dumps(program | {"max_stamps_per_day": 4}))

    unknown = run(platform, "program", "no-such-shop", str(body))

    assert unknown.returncode == 1
    assert unknown.stderr.startswith("refused: unknown_shop: there is no shop 'no-such-shop'")
    platform.add_terminal("shop-a", "t1")
    assert run(platform, "program", "shop-a", str(body)).returncode == 0
    invalid = tmp_path / "bad.json"
    invalid.write_text(json.dumps({"id": "coffee", "reward_threshold": -1}))
    refused = run(platform, "program", "set", "shop-a", str(invalid))
    assert refused.returncode == 1 and "refused: bad_program: " in refused.stderr
    listed = lines(run(platform, "program", "list", "--json"))
    assert [(p["shop_id"], p["program_id"], p["body"]["reward_threshold"]) for p in listed] == [
        ("shop-a", "coffee", 8)
    ]
    assert run(platform, "program", "list", "--shop", "nowhere").returncode == 1


def test_terminal_list_and_remove(platform: RunningPlatform, terminal_factory: Any) -> None:
    terminal: PairedTerminal = terminal_factory(platform)
    platform.add_terminal("shop-a", "t2")

    listed = lines(run(platform, "terminal", "list", "--json"))
    assert [(t["terminal_id"], t["paired"]) for t in listed] == [("t1", True), ("t2", False)]
    paged = lines(run(platform, "terminal", "list", "--json", "--after", "t1"))
    assert [t["terminal_id"] for t in paged] == ["t2"]

    removed = run(platform, "terminal", "remove", "t1")
    assert removed.returncode == 0, removed.stderr
    missing = run(platform, "terminal", "remove", "t9")
    assert missing.returncode == 1 and missing.stderr.startswith("refused: unknown_terminal: ")
    from sync.job import run_sync
    from tests.conftest_platform import FAST

    report = run_sync(terminal.settings, terminal.store, policy=FAST, backup=False)
    assert report.outcome == "auth", "a removed terminal can no longer sync"


def test_card_list_pages_through_every_card(platform: RunningPlatform) -> None:
    made = [c["card_id"] for c in lines(run(platform, "card", "new", "--count", "5", "--json"))]

    first = lines(run(platform, "card", "list", "--json", "--limit", "2"))
    rest = lines(run(platform, "card", "list", "--json", "--after", first[-1]["card_id"]))

    assert [c["card_id"] for c in first + rest] == sorted(made)


def test_the_script_explains_a_missing_platform_extra() -> None:
    # -S: no site-packages, as on a terminal installed without the [platform] extra.
    script = (
        f"import sys; sys.path.insert(0, {str(ROOT)!r}); sys.argv = ['citie-platform', 'stats']; "
        "from city.launch import main; main()"
    )
    result = subprocess.run(
        [sys.executable, "-S", "-c", script],
        capture_output=True,
        text=True,
        env=clean_env(),
        timeout=60,
        check=False,
    )
    assert result.returncode == 3
    assert "Traceback" not in result.stderr
    assert result.stderr.startswith("refused: platform_extra_missing: ")
    assert "pip install 'citie-terminal[platform]'" in result.stderr
