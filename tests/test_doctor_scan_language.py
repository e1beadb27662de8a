"""``doctor`` and ``scan`` speak the shop's language: a Dutch shop reads Dutch lines that say
what is wrong and what to do, ``--json`` keeps its English codes for programs, and nothing
from outside (a device, a path) brings a control character to the terminal.

Real parts: ``citie-terminal`` through click's CliRunner on a real data directory (``init
--shop-language nl``), real issuer keys, real QR images read back by the real decoders.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from click.testing import CliRunner, Result

from loyalty.cards import Refusal
from loyalty.db import Store
from loyalty.trust import CardVerifier
from terminal.cli import cli
from tests import qrimages
from tests.test_firstday_cli import Shop, clean_env

ENGLISH_WORDS = ("cannot", "required", "integrity ok", "no camera", "can be written", "events")


def dutch_shop(tmp_path: Path, *, camera: str = "/dev/video97", printer: str = "") -> Shop:
    """A Dutch shop with issuer keys, a missing camera, a dead platform and a file printer."""
    shop = Shop(tmp_path, "--shop-language", "nl")
    config = shop.data_dir / "config.toml"
    target = printer or str(tmp_path / "bonnetjes.bin")
    text = config.read_text(encoding="utf-8")
    for old, new in (
        ('url = ""', 'url = "http://127.0.0.1:9"'),
        ('device = "0"', f'device = "{camera}"'),
        ('kind = "none"', 'kind = "file"'),
        ('target = ""', f'target = "{target}"'),
    ):
        assert text.count(old) == 1, old
        text = text.replace(old, new)
    config.write_text(text, encoding="utf-8")
    return shop


def doctor(shop: Shop, *args: str) -> Result:
    return CliRunner().invoke(
        cli,
        ["doctor", "--camera-seconds", "0.2", *args, "--data-dir", str(shop.data_dir)],
        env=clean_env(),
    )


def scan(data_dir: Path, *args: str) -> Result:
    return CliRunner().invoke(cli, ["scan", *args, "--data-dir", str(data_dir)], env=clean_env())


def test_doctor_on_a_dutch_shop_speaks_dutch(tmp_path: Path) -> None:
    shop = dutch_shop(tmp_path)
    result = doctor(shop)
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    expected = [
        "[  goed] QR-decoder zxing: versie ",
        "[  goed] decodeertest: een aangemaakte code gelezen in ",
        "[let op] camera: geen camera op /dev/video97: sluit er een aan of stel [camera] device "
        "in; de scanner en getypte codes werken nog",
        f"[  goed] databank: {shop.data_dir / 'ledger.db'}: integriteit in orde, "
        "0 gebeurtenis(sen)",
        f"[  goed] privésleutel: {shop.data_dir / 'terminal.key'}: alleen voor de eigenaar",
        "[  goed] sleutels van de uitgever: vertrouwenslijst versie 1, 1 sleutel(s)",
        "[let op] stadsplatform: http://127.0.0.1:9 onbereikbaar (unreachable); de "
        "gebeurtenissen wachten in de wachtrij",
        f"[  goed] printer: bestand {tmp_path / 'bonnetjes.bin'} kan geschreven worden",
    ]
    for start in expected:
        assert any(line.startswith(start) for line in lines), (start, result.stdout)
    assert lines[-1] == "alle vereiste controles zijn in orde"
    for word in ENGLISH_WORDS:
        assert word not in result.stdout, word


def test_doctor_on_a_dutch_shop_names_a_broken_part_and_its_fix_in_dutch(tmp_path: Path) -> None:
    shop = dutch_shop(tmp_path)
    key = shop.data_dir / "terminal.key"
    key.chmod(0o644)
    result = doctor(shop)
    assert result.exit_code == 1, result.output
    line = next(line for line in result.stdout.splitlines() if "privésleutel" in line)
    assert line.startswith(f"[  fout] privésleutel: Het sleutelbestand {key} is leesbaar"), line
    assert f"chmod 600 {key}" in line
    assert line.endswith(" (vereist)"), line
    assert result.stdout.splitlines()[-1] == "1 vereiste controle(s) mislukt"
    # --lang still picks another language for one run.
    french = doctor(shop, "--lang", "fr")
    assert "[    échec] clé privée: " in french.stdout, french.stdout
    assert "(indispensable)" in french.stdout
    assert french.stdout.splitlines()[-1] == "1 contrôle(s) indispensable(s) en échec"


def test_doctor_json_keeps_english_codes_and_adds_the_dutch_text(tmp_path: Path) -> None:
    shop = dutch_shop(tmp_path)
    result = doctor(shop, "--json")
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["ok"] is True and report["language"] == "nl"
    checks = {check["name"]: check for check in report["checks"]}
    assert set(checks) == {
        "decoder zxing",
        "decoder zbar",
        "decoder opencv",
        "decode self-test",
        "camera",
        "database",
        "private key",
        "issuer keys",
        "platform",
        "printer",
    }
    assert {c["status"] for c in checks.values()} <= {"ok", "warn", "fail", "skip"}
    camera = checks["camera"]
    assert camera["status"] == "warn" and camera["required"] is False
    assert camera["detail"].startswith("no camera at /dev/video97: plug one in")
    assert camera["text"].startswith("geen camera op /dev/video97: sluit er een aan")
    platform = checks["platform"]
    assert platform["status"] == "warn"
    assert "unreachable" in platform["detail"] and "onbereikbaar" in platform["text"]
    assert checks["printer"]["text"].endswith("kan geschreven worden")


def test_doctor_shows_no_control_character_from_outside(tmp_path: Path) -> None:
    # The config refuses control characters; a data folder's name is the way in.
    data_dir = tmp_path / "winkel\x1b[31m\u202e"
    init = CliRunner().invoke(
        cli, ["init", "--shop-language", "nl", "--data-dir", str(data_dir)], env=clean_env()
    )
    assert init.exit_code == 0, init.output
    for args in ((), ("--json",)):
        result = CliRunner().invoke(
            cli, ["doctor", *args, "--data-dir", str(data_dir)], env=clean_env()
        )
        assert result.exit_code == 0, result.output
        for char in ("\x1b", "\u202e"):
            assert char not in result.stdout, (char, args)
    plain = CliRunner().invoke(cli, ["doctor", "--data-dir", str(data_dir)], env=clean_env())
    line = next(line for line in plain.stdout.splitlines() if "databank" in line)
    assert f"{tmp_path}/winkel[31m/ledger.db: integriteit in orde" in line, line


def card_images(shop: Shop, folder: Path) -> tuple[str, Path, Path, Path]:
    folder.mkdir()
    card_id, code = shop.issuer.issue_card(expires_days=30)
    rng = np.random.default_rng(7)
    card = qrimages.save_png(folder / "kaart.png", qrimages.bgr(qrimages.scene(code, rng)))
    link = qrimages.save_png(folder / "link.png", qrimages.qr_image("https://example.com/x"))
    blank = qrimages.save_png(folder / "leeg.png", np.full((60, 60), 255, np.uint8))
    return card_id, card, link, blank


def test_scan_on_a_dutch_shop_speaks_dutch(tmp_path: Path) -> None:
    shop = Shop(tmp_path, "--shop-language", "nl")
    card_id, card, link, blank = card_images(shop, tmp_path / "beelden")
    empty = tmp_path / "leeg"
    empty.mkdir()
    missing = tmp_path / "weg.png"
    result = scan(shop.data_dir, str(card), str(link), str(blank), str(missing), str(empty))
    assert result.exit_code == 0, result.output
    out = result.stdout.splitlines()
    assert f": kaart {card_id} van " in out[0], out
    assert " geldig tot " in out[0]
    with Store.open(shop.data_dir / "ledger.db") as store:
        refusal = CardVerifier.from_db(store.read()).verify("https://example.com/x")
    assert isinstance(refusal, Refusal)
    assert f": geweigerd not_a_card: {refusal.text('nl')} [" in out[1], out
    assert out[1].endswith(' tekst="https://example.com/x"'), out
    err = result.stderr.splitlines()
    # Sources are shown escaped and cut to 80 characters; the sentence after them is Dutch.
    assert err[0].endswith(": no_code: geen QR-code gevonden in deze afbeelding"), err
    assert err[1].endswith(": unreadable: dit bestand bestaat niet: controleer de naam en de map")
    assert err[2].endswith("leeg: no_images: deze map bevat geen afbeeldingen"), err
    assert err[-1] == "2 code(s) gelezen, 1 geldige kaart(en)"
    # --json stays as it was: English messages and reason codes for programs.
    as_json = scan(shop.data_dir, "--json", str(link), str(blank))
    lines = [json.loads(line) for line in as_json.stdout.splitlines()]
    assert lines[0]["refused"]["reason"] == "not_a_card"
    assert lines[0]["refused"]["message"] == refusal.message
    assert lines[1]["error"] == {"reason": "no_code", "message": "no QR code found in this image"}


def test_scan_refusals_on_a_dutch_shop_are_dutch(tmp_path: Path) -> None:
    shop = Shop(tmp_path, "--shop-language", "nl")
    camera = scan(shop.data_dir, "--camera", "/dev/video97\x1b[2J\u202e", "--seconds", "20")
    assert camera.exit_code == 1
    assert camera.stderr.startswith(
        "refused: camera_unavailable: geen camera op /dev/video97[2J: sluit er een aan"
    ), camera.stderr
    assert "\x1b" not in camera.stderr and "\u202e" not in camera.stderr
    config = shop.data_dir / "config.toml"
    config.write_text(config.read_text().replace("enabled = true", "enabled = false", 1))
    no_input = scan(shop.data_dir)
    assert no_input.exit_code == 1
    assert no_input.stderr.startswith(
        "refused: no_input: de camera staat uit in [camera] enabled: geef afbeeldingen of "
        "video's, of --camera DEV"
    ), no_input.stderr
    # A folder never set up: the code is still read, and the refusal says what to run.
    nowhere = tmp_path / "nergens"
    _card_id, card, _link, _blank = card_images(shop, tmp_path / "beelden")
    fresh = scan(nowhere, str(card))
    assert fresh.exit_code == 1
    assert "geweigerd not_initialised: geen register op " in fresh.stdout, fresh.stdout
    assert "voer `citie-terminal init` uit" in fresh.stdout
