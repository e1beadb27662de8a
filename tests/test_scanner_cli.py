"""``scan`` and ``doctor`` on a real data directory, real card codes and hostile QR payloads."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from city.issuer import Issuer
from loyalty import schema as _schema  # noqa: F401
from loyalty.db import Store
from loyalty.trust import install_trust
from scanner.events import CodeRead, FileScanned
from scanner.process import ScannerProcess
from scanner.sources import SourceSpec
from terminal.cli import cli
from tests import qrimages

EPC = "BCD\n002\n1\nSCT\nGEBABEBB\nRode Kruis\nBE72000000001616\nEUR12.50\n\n\nGift"
HOSTILE: dict[str, str | bytes] = {
    "url": "https://example.com/pay?x=1",
    "epc": EPC,
    "long": "".join(np.random.default_rng(1).choice(list("ABCDEFGHIJ0123456789"), 3000)),
    "binary": bytes(range(256)),
    "markup": "[@click=app.quit]x[/] [bold red]boom[/]",
    "escape": "\x1b[2J\x1b]0;owned\x07CT1:",
    "c1": "\x9b31m\x85\x90hidden\x9c",
    "fake_card": "CT1:" + "A" * 180,
}


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> dict[str, object]:
    base = tmp_path_factory.mktemp("scan")
    data = base / "data"
    result = CliRunner().invoke(cli, ["init", "--data-dir", str(data)])
    assert result.exit_code == 0, result.output
    issuer = Issuer.open(base / "issuer")
    with Store.open(data / "ledger.db") as store:
        install_trust(store, issuer.trust_list())
    card_id, code = issuer.issue_card()
    rng = np.random.default_rng(4)
    images = base / "images"
    images.mkdir()
    card_png = qrimages.save_png(images / "card.png", qrimages.bgr(qrimages.scene(code, rng)))
    qrimages.save_png(
        images / "card-dark.png", qrimages.invert(qrimages.scene(code, rng, angle=30))
    )
    hostile = base / "hostile"
    hostile.mkdir()
    for name, payload in HOSTILE.items():
        module = 2 if name == "long" else 5
        qrimages.save_png(hostile / f"{name}.png", qrimages.qr_image(payload, module, ec="L"))
    return {
        "data": data,
        "card_id": card_id,
        "code": code,
        "card_png": card_png,
        "images": images,
        "hostile": hostile,
        "base": base,
    }


def scan(*args: str) -> tuple[int, list[dict[str, object]], str]:
    result = CliRunner().invoke(cli, ["scan", "--json", *args])
    lines = [json.loads(line) for line in result.stdout.splitlines() if line.strip()]
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    return result.exit_code, lines, result.stderr


def test_scan_images_verifies_real_cards_exit_0(world: dict[str, object]) -> None:
    status, lines, _ = scan("--data-dir", str(world["data"]), str(world["images"]))
    assert status == 0
    assert len(lines) == 2
    for line in lines:
        assert line["text"] == world["code"]
        assert line["card"]["card_id"] == world["card_id"]  # type: ignore[index]
        assert line["decoder"] == "zxing"
        assert isinstance(line["decode_ms"], float)


def test_hostile_payloads_come_out_as_refusals_exit_1(world: dict[str, object]) -> None:
    hostile = world["hostile"]
    assert isinstance(hostile, Path)
    status, lines, _ = scan("--data-dir", str(world["data"]), str(hostile))
    assert status == 1
    by_name = {Path(str(line["source"])).stem: line for line in lines}
    assert set(by_name) == set(HOSTILE)
    for name, line in by_name.items():
        assert "card" not in line, name
        refused = line["refused"]
        assert isinstance(refused, dict) and refused["reason"] and refused["message"], name
    assert by_name["url"]["text"] == HOSTILE["url"]
    assert by_name["epc"]["text"] == EPC
    assert by_name["markup"]["text"] == HOSTILE["markup"]
    assert by_name["long"]["refused"]["reason"] == "too_long"  # type: ignore[index]
    assert by_name["fake_card"]["refused"]["reason"] == "malformed"  # type: ignore[index]
    assert by_name["c1"]["text"] == HOSTILE["c1"]


def test_control_characters_are_escaped_in_the_json_line(world: dict[str, object]) -> None:
    hostile = world["hostile"]
    assert isinstance(hostile, Path)
    result = CliRunner().invoke(
        cli, ["scan", "--json", "--data-dir", str(world["data"]), str(hostile / "escape.png")]
    )
    raw = result.stdout
    assert "\x1b" not in raw and "\x07" not in raw
    assert "\\u001b[2J" in raw
    c1 = CliRunner().invoke(
        cli, ["scan", "--data-dir", str(world["data"]), str(hostile / "c1.png")]
    )
    assert "\x9b" not in c1.stdout and "\x85" not in c1.stdout
    assert "\\u009b31m" in c1.stdout  # readable mode escapes too


def test_not_initialised_still_decodes_and_says_so(
    world: dict[str, object], tmp_path: Path
) -> None:
    status, lines, _ = scan("--data-dir", str(tmp_path / "nothing"), str(world["card_png"]))
    assert status == 1
    assert lines[0]["text"] == world["code"]
    assert lines[0]["refused"]["reason"] == "not_initialised"  # type: ignore[index]


def test_unreadable_and_empty_files_are_reported_not_raised(
    world: dict[str, object], tmp_path: Path
) -> None:
    junk = tmp_path / "junk.jpg"
    junk.write_bytes(b"\xff\xd8\xff\xe0 truncated")
    blank = qrimages.save_png(tmp_path / "blank.png", np.full((50, 50), 255, np.uint8))
    status, lines, _ = scan(
        "--data-dir", str(world["data"]), str(junk), str(blank), str(tmp_path / "nope.png")
    )
    assert status == 1
    reasons = [line["error"]["reason"] for line in lines]  # type: ignore[index]
    assert reasons == ["unreadable", "no_code", "unreadable"]


def test_video_file_gives_each_held_card_once(world: dict[str, object], tmp_path: Path) -> None:
    rng = np.random.default_rng(2)
    code = str(world["code"])
    frames = [qrimages.scene(code, rng) for _ in range(20)]
    video = qrimages.write_video(tmp_path / "held.avi", frames)
    status, lines, _ = scan("--data-dir", str(world["data"]), str(video))
    assert status == 0
    assert len(lines) == 1 and lines[0]["card"]["card_id"] == world["card_id"]  # type: ignore[index]


def test_scan_without_a_camera_refuses_clearly(world: dict[str, object]) -> None:
    result = CliRunner().invoke(
        cli, ["scan", "--data-dir", str(world["data"]), "--camera", "/dev/video97", "--lang", "en"]
    )
    assert result.exit_code == 1
    assert "refused: camera_unavailable: no camera at /dev/video97" in result.stderr
    assert "typed codes still work" in result.stderr


def test_help_says_what_the_exit_status_means() -> None:
    result = CliRunner().invoke(cli, ["scan", "--help"])
    assert "0 when at least one card was verified" in " ".join(result.output.split())


def test_doctor_checklist_and_exit_status(world: dict[str, object], tmp_path: Path) -> None:
    ok = CliRunner().invoke(cli, ["doctor", "--data-dir", str(world["data"]), "--lang", "en"])
    assert ok.exit_code == 0, ok.output
    assert "[  ok] decoder zxing" in ok.output
    assert "[warn] camera: no camera at /dev/video0" in ok.output
    assert "[  ok] issuer keys: trust list version 1" in ok.output
    assert "[skip] platform" in ok.output
    broken = CliRunner().invoke(cli, ["doctor", "--json", "--data-dir", str(tmp_path / "x")])
    assert broken.exit_code == 1
    report = json.loads(broken.stdout)
    assert report["ok"] is False
    database = next(c for c in report["checks"] if c["name"] == "database")
    assert database["status"] == "fail" and "citie-terminal init" in database["detail"]


def test_doctor_platform_and_printer_targets(world: dict[str, object], tmp_path: Path) -> None:
    config = tmp_path / "config.toml"
    config.write_text(
        '[platform]\nurl = "http://127.0.0.1:9"\n'
        f'[printer]\nkind = "file"\ntarget = "{tmp_path / "receipts.bin"}"\n'
        "[camera]\nenabled = false\n"
    )
    result = CliRunner().invoke(
        cli, ["doctor", "--data-dir", str(world["data"]), "--config", str(config), "--lang", "en"]
    )
    assert result.exit_code == 0, result.output
    assert "[warn] platform: http://127.0.0.1:9 unreachable" in result.output
    assert "[  ok] printer: file" in result.output
    assert "[skip] camera: disabled" in result.output


def test_hostile_payloads_through_the_child_process(world: dict[str, object]) -> None:
    hostile = world["hostile"]
    assert isinstance(hostile, Path)
    got: dict[str, str] = {}
    with ScannerProcess(SourceSpec.nothing()) as scanner:
        for path in sorted(hostile.iterdir()):
            scanner.feed_file(path)
        done = 0
        while done < len(HOSTILE):
            event = scanner.next_event(timeout=20)
            assert event is not None, "the child went quiet"
            if isinstance(event, FileScanned):
                assert event.error is None
                done += 1
            elif isinstance(event, CodeRead):
                got[event.text] = event.decoder
    for name in ("url", "epc", "long", "markup", "escape", "c1", "fake_card"):
        assert HOSTILE[name] in got, name
    assert len(got) == len(HOSTILE)  # binary comes out as some text, not as an exception
