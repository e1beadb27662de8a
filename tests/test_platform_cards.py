"""`citie-platform card new --png/--pdf`: a printable card that scans back and verifies."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
from click.testing import CliRunner

from city.cli import cli
from loyalty.cards import Card, verify
from loyalty.signed_trust import parse_signed
from scanner.decoders import ZxingDecoder, to_grey


def test_printable_card_scans_back_on_the_first_frame(tmp_path: Path) -> None:
    runner = CliRunner()
    png, pdf = tmp_path / "out" / "card.png", tmp_path / "out" / "card.pdf"
    made = runner.invoke(
        cli,
        ["--data-dir", str(tmp_path / "p"), "card", "new", "--png", str(png), "--pdf", str(pdf),
         "--language", "fr", "--json"],
    )  # fmt: skip
    assert made.exit_code == 0, made.output
    issued = json.loads(made.output.splitlines()[-1])
    assert issued["png"] == str(png) and issued["pdf"] == str(pdf)
    assert pdf.read_bytes().startswith(b"%PDF")

    image = cv2.imread(str(png))
    assert image.shape[:2] == (638, 1011)  # 85.6 x 54 mm at 300 dpi
    texts = [read.text for read in ZxingDecoder().decode(to_grey(image))]
    assert texts == [issued["code"]]

    exported = runner.invoke(cli, ["--data-dir", str(tmp_path / "p"), "keys", "export"])
    assert exported.exit_code == 0, exported.output
    signed = parse_signed(json.loads(exported.output))
    signed.verify(None)
    card = verify(texts[0], signed.trust)
    assert isinstance(card, Card)
    assert card.card_id == issued["card_id"]


def test_unwritable_output_says_the_card_was_issued(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    result = CliRunner().invoke(
        cli,
        ["--data-dir", str(tmp_path / "p"), "card", "new", "--png", str(blocker / "card.png")],
    )
    assert result.exit_code != 0
    assert "was issued" in result.output
    assert "Traceback" not in result.output
