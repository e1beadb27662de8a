"""``citie-terminal receipt show|print``: through the real CLI, ledger and printer kinds."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from click.testing import CliRunner
from PIL import Image

from config import load_settings
from loyalty import schema as _schema  # noqa: F401  (registers the ledger migrations)
from loyalty.db import Store
from loyalty.ledger import Ledger
from loyalty.programs import Program
from terminal.cli import cli

FRENCH = {"CITIE_SHOP_LANGUAGE": "fr"}


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    runner = CliRunner()
    result = runner.invoke(cli, ["init", "--data-dir", str(tmp_path)], env=FRENCH)
    assert result.exit_code == 0, result.output
    settings, _ = load_settings(data_dir=tmp_path, overrides={"shop": {"language": "fr"}})
    with Store.open(settings.database_path) as store:
        ledger = Ledger(store, shop_id=settings.shop.id, terminal_id=settings.terminal.id)
        program = Program.from_settings(settings.program)
        ledger.stamp("CT-AAAA-BBBB-CCCC", program)
        ledger.purchase(None, 2550, program)
    return tmp_path


def run(data_dir: Path, *args: str, env: dict[str, str] | None = None) -> tuple[int, str, str]:
    runner = CliRunner()
    result = runner.invoke(cli, [*args, "--data-dir", str(data_dir)], env={**FRENCH, **(env or {})})
    return result.exit_code, result.stdout, result.stderr


def test_show_last_prints_the_text_slip_in_the_shop_language(data_dir: Path) -> None:
    code, out, _ = run(data_dir, "receipt", "show", "last", "--width", "32")
    assert code == 0
    assert "demo-t1-2" in out and "Tampons à recevoir" in out and "TVA" in out
    assert max(map(len, out.splitlines())) <= 32
    code, out, _ = run(data_dir, "receipt", "show", "demo-t1-1")
    assert code == 0 and "CT-AAAA-BBBB-CCCC" in out and max(map(len, out.splitlines())) == 48


def test_png_and_escpos_need_an_output_file(data_dir: Path, tmp_path: Path) -> None:
    code, _, err = run(data_dir, "receipt", "show", "last", "--format", "png")
    assert code == 2 and "refused: output_needed" in err
    target = tmp_path / "slip.png"
    code, _, _ = run(
        data_dir, "receipt", "show", "last", "--format", "png", "--output", str(target)
    )
    assert code == 0 and Image.open(io.BytesIO(target.read_bytes())).format == "PNG"
    raw = tmp_path / "slip.bin"
    code, _, _ = run(data_dir, "receipt", "show", "1", "--format", "escpos", "--output", str(raw))
    assert code == 1  # "1" is not a slip number: refused, nothing written
    assert not raw.exists()
    code, _, _ = run(
        data_dir, "receipt", "show", "demo-t1-2", "--format", "escpos", "--output", str(raw)
    )
    assert code == 0 and b"\x1d(k" in raw.read_bytes()


def test_print_to_a_file_printer_and_again(data_dir: Path, tmp_path: Path) -> None:
    spool = tmp_path / "spool.bin"
    env = {"CITIE_PRINTER_KIND": "file", "CITIE_PRINTER_TARGET": str(spool)}
    code, out, _ = run(data_dir, "receipt", "print", "last", "--lang", "en", env=env)
    assert code == 0 and "printed slip demo-t1-2" in out
    once = spool.read_bytes()
    code, _, _ = run(data_dir, "receipt", "print", "demo-t1-2", "--lang", "en", env=env)
    assert code == 0 and spool.read_bytes() == once + once


def test_a_failing_printer_is_a_clear_refusal_and_the_slip_stays(
    data_dir: Path, tmp_path: Path
) -> None:
    env = {"CITIE_PRINTER_KIND": "usb", "CITIE_PRINTER_TARGET": str(tmp_path / "lp0")}
    code, out, err = run(data_dir, "receipt", "print", "last", env=env)
    assert code == 4 and out == ""
    assert "refused: printer_absent" in err and "receipt print demo-t1-2" in err
    code, _, err = run(data_dir, "receipt", "print", "last")
    assert code == 4 and "printer_none" in err
    code, out, _ = run(data_dir, "receipt", "show", "demo-t1-2")
    assert code == 0 and "demo-t1-2" in out


def test_unknown_and_empty(tmp_path: Path) -> None:
    runner = CliRunner()
    assert runner.invoke(cli, ["init", "--data-dir", str(tmp_path)]).exit_code == 0
    code, _, err = run(tmp_path, "receipt", "show", "last")
    assert code == 1 and "refused: no_receipts" in err
    code, _, err = run(tmp_path, "receipt", "show", "demo-t1-99")
    assert code == 1 and "refused: unknown_receipt" in err
