"""Scanner faults: binary codes, Micro QR, stale frames, a paused parent, the frame deadline."""

from __future__ import annotations

import ctypes
import json
import threading
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import zxingcpp
from click.testing import CliRunner

from scanner.decoders import (
    Decoded,
    Image,
    OpencvDecoder,
    Pipeline,
    ZbarDecoder,
    ZxingDecoder,
)
from scanner.events import CodeRead, FileScanned, ScanEvent, ScannerCrashed
from scanner.process import ScannerProcess
from scanner.sources import Frame, SourceSpec, open_source
from terminal.cli import cli
from tests import qrimages

WAIT = 20.0  # generous: a loaded machine spawns slowly; never a timing assertion

BINARY = b"\xff\xfe\xc3\x28 not text \x80\x81"


def on_background(code: Image, rng: np.random.Generator, size: tuple[int, int]) -> Image:
    """``code`` pasted on a cluttered counter scene."""
    background = qrimages.noisy_background(size[0], size[1], rng)
    return qrimages.paste(background, code, center=(size[0] * 0.45, size[1] * 0.55))


# -- binary content (issue 10, B10) ---------------------------------------------------------


@pytest.fixture(scope="module")
def binary_png(tmp_path_factory: pytest.TempPathFactory) -> Path:
    image = qrimages.binary_qr(BINARY, module_px=5)
    return qrimages.save_png(tmp_path_factory.mktemp("binary") / "binary.png", image)


@pytest.mark.parametrize("decoder", [ZxingDecoder, ZbarDecoder, OpencvDecoder])
def test_no_decoder_raises_on_a_binary_code(decoder: Callable[[], object]) -> None:
    # OpenCV's binding decoded the bytes as UTF-8 and let UnicodeDecodeError out.
    image = qrimages.binary_qr(BINARY)
    codes: list[Decoded] = decoder().decode(image)  # type: ignore[attr-defined]
    for code in codes:
        # The bytes that are not UTF-8 show as U+FFFD (how many per run is the library's).
        assert code.text.startswith("\ufffd") and "( not text \ufffd" in code.text


@pytest.mark.parametrize("decoders", ["opencv", "zxing", "zxing,zbar,opencv"])
def test_scan_refuses_a_binary_code_as_not_a_card(
    tmp_path: Path, binary_png: Path, decoders: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    data = tmp_path / "data"
    assert CliRunner().invoke(cli, ["init", "--data-dir", str(data)]).exit_code == 0
    monkeypatch.setenv("CITIE_CAMERA_DECODERS", decoders)
    result = CliRunner().invoke(cli, ["scan", "--json", "--data-dir", str(data), str(binary_png)])
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    assert result.exit_code == 1
    lines = [json.loads(line) for line in result.stdout.splitlines() if line.strip()]
    assert len(lines) == 1, lines
    assert lines[0]["refused"]["reason"] == "not_a_card"
    assert "\ufffd" in lines[0]["text"]


def test_the_scanner_child_survives_a_binary_code(binary_png: Path) -> None:
    with ScannerProcess(SourceSpec.nothing(), ("opencv",), 0.0) as scanner:
        scanner.feed_file(binary_png)
        events = _events_until(scanner, lambda e: isinstance(e, FileScanned | ScannerCrashed))
    assert not [e for e in events if isinstance(e, ScannerCrashed)], events
    assert scanner.restarts == 0
    read = [e for e in events if isinstance(e, CodeRead)]
    assert [e.text for e in read] == [BINARY.decode("utf-8", errors="replace")]
    assert next(e for e in events if isinstance(e, FileScanned)).codes == 1


def _events_until(
    scanner: ScannerProcess, last: Callable[[ScanEvent], bool], timeout: float = WAIT
) -> list[ScanEvent]:
    events: list[ScanEvent] = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        event = scanner.next_event(timeout=0.2)
        if event is None:
            continue
        events.append(event)
        if last(event):
            return events
    raise AssertionError(f"no final event in {timeout} s: {events}")


# -- QR only (issue 12, item 3) -------------------------------------------------------------


@pytest.mark.parametrize("seed", range(3))
def test_a_micro_qr_on_a_cluttered_background_is_never_read(seed: int) -> None:
    rng = np.random.default_rng(seed)
    micro = on_background(qrimages.micro_qr(f"CT1:{seed}", 8), rng, (1280, 720))
    # The image is a readable Micro QR: zxing-cpp 3.1's "QRCode" family includes it.
    raw = zxingcpp.read_barcodes(micro, formats=zxingcpp.BarcodeFormat.QRCode)
    assert [b.text for b in raw] == [f"CT1:{seed}"]
    assert Pipeline(deadline_ms=1000).decode(micro).codes == []
    assert Pipeline(deadline_ms=1000).decode(qrimages.invert(micro)).codes == []
    for decoder in (ZxingDecoder(), ZbarDecoder(), OpencvDecoder()):
        assert decoder.decode(micro) == [], decoder.name
    # The same text as a QR code on the same kind of background reads.
    regular = on_background(qrimages.qr_image(f"CT1:{seed}", 6), rng, (1280, 720))
    assert [c.text for c in Pipeline().decode(regular).codes] == [f"CT1:{seed}"]


# -- stale frames (issue 12, item 1) --------------------------------------------------------


def test_a_video_played_as_a_camera_drops_frames_the_decoder_had_no_time_for(
    tmp_path: Path,
) -> None:
    rng = np.random.default_rng(2)
    frames = [qrimages.noisy_background(320, 240, rng) for _ in range(4)] * 30
    video = qrimages.write_video(tmp_path / "camera.avi", frames, fps=60.0)
    source = open_source(SourceSpec.video(video, loop=True, realtime=True))
    source.open()
    try:
        first = source.read()
        assert isinstance(first, Frame)
        # A slow frame's worth of decoding: the camera goes on meanwhile.
        done = threading.Event()
        done.wait(0.5)
        second = source.read()
        assert isinstance(second, Frame)
        # The next frame decoded is the newest one, not the one after the first.
        assert second.index > first.index + 1
        third = source.read()
        assert isinstance(third, Frame) and third.index > second.index
    finally:
        source.close()


# -- a paused parent (issue 10, D20) --------------------------------------------------------


def _freeze_interpreter(seconds: float) -> None:
    """Hold the GIL for ``seconds``, as a collector pass over a large heap does.

    ``ctypes.PyDLL`` calls keep the GIL: no thread of this process runs meanwhile, while
    the child goes on beating into the pipe.
    """
    libc = ctypes.PyDLL(None)
    libc.usleep(ctypes.c_uint(int(seconds * 1_000_000)))


def test_a_pause_of_the_parent_does_not_make_the_child_look_hung() -> None:
    events: list[ScanEvent] = []
    scanner = ScannerProcess(
        SourceSpec.nothing(), ("zxing",), 0.0, on_event=events.append, heartbeat_timeout_s=1.0
    )
    scanner.start()
    try:
        ready = threading.Event()
        for _ in range(int(WAIT / 0.05)):
            if scanner.pid is not None:
                break
            ready.wait(0.05)
        pid = scanner.pid
        assert pid is not None
        # Longer than the heartbeat timeout, three times over: the watcher thread wakes from
        # each pause with the child's beats unread in the pipe.
        for _ in range(3):
            _freeze_interpreter(2.0)
            ready.wait(0.3)
        assert not [e for e in events if isinstance(e, ScannerCrashed)], events
        assert scanner.restarts == 0
        assert scanner.pid == pid
    finally:
        scanner.stop()


# -- the frame deadline (issue 12, item 1) --------------------------------------------------


class Recording:
    """A real decoder that notes the size of every image it is handed."""

    def __init__(self, decoder: ZbarDecoder | OpencvDecoder) -> None:
        self.decoder = decoder
        self.name = decoder.name
        self.shapes: list[tuple[int, ...]] = []

    def decode(self, grey: Image) -> list[Decoded]:
        self.shapes.append(grey.shape)
        return self.decoder.decode(grey)


def damaged_code(rng: np.random.Generator) -> Image:
    """A code zxing locates (finder patterns intact) but cannot decode (data covered)."""
    code = qrimages.qr_image(qrimages.fake_card_text(rng, 120), 5, ec="L")
    side = code.shape[0]
    code[side // 3 : side * 2 // 3, side // 4 : side * 3 // 4] = 128
    return on_background(code, rng, (1280, 720))


def test_slow_decoders_only_see_the_region_zxing_located() -> None:
    rng = np.random.default_rng(9)
    pipeline = Pipeline(deadline_ms=1000)
    recorders = [Recording(ZbarDecoder()), Recording(OpencvDecoder())]
    pipeline._others = list(recorders)  # watch what the real decoders are handed
    result = pipeline.decode(damaged_code(rng))
    assert result.codes == []
    assert "zbar" in result.steps and "opencv" in result.steps
    for recorder in recorders:
        assert recorder.shapes, recorder.name
        for height, width in recorder.shapes:
            assert height < 720 / 2 and width < 1280 / 2, (recorder.name, recorder.shapes)
    empty = qrimages.noisy_background(1280, 720, rng)
    assert "zbar" not in pipeline.decode(empty).steps


def test_a_step_that_would_pass_the_deadline_is_skipped() -> None:
    rng = np.random.default_rng(10)
    image = damaged_code(rng)
    tight = Pipeline(deadline_ms=0.0).decode(image)
    assert tight.steps == ["zxing"]
    assert set(tight.skipped) >= {"global", "fixed", "half_sharpen", "zbar", "opencv"}
    roomy = Pipeline(deadline_ms=1000).decode(image)
    assert roomy.skipped == []
    assert roomy.steps[:4] == ["zxing", "global", "fixed", "half_sharpen"]
    assert {"zbar", "opencv"} <= set(roomy.steps)


# -- the camera's settings (issue 12, item 4) -----------------------------------------------


def test_exposure_and_focus_settings_reach_the_camera_the_app_opens(tmp_path: Path) -> None:
    from config import Settings
    from terminal.services import CameraScanner

    settings = Settings.model_validate(
        {"storage": {"data_dir": tmp_path}, "camera": {"exposure": 120, "focus": "Auto"}}
    )
    spec = CameraScanner.from_settings(settings).source
    assert spec.kind == "camera"
    assert (spec.width, spec.height) == (1280, 720)
    assert (spec.controls.exposure, spec.controls.focus, spec.controls.fps) == ("120", "auto", 60)


@pytest.mark.parametrize("value", ["fast", "-5", "1e9", ""])
def test_an_exposure_that_is_not_auto_or_a_number_is_refused_naming_the_key(value: str) -> None:
    from pydantic import ValidationError

    from config import Settings

    with pytest.raises(ValidationError, match=r"camera\.exposure"):
        Settings.model_validate({"camera": {"exposure": value}})


@pytest.mark.parametrize("seed", range(3))
def test_a_dark_mode_phone_is_read_even_when_there_is_no_time_for_a_second_step(
    seed: int,
) -> None:
    # A loaded machine leaves no time after the first pass: dark mode must be in it.
    rng = np.random.default_rng(40 + seed)
    text = qrimages.fake_card_text(rng, 190)
    frame = qrimages.camera_scene("phone_dark", text, rng)
    result = Pipeline(deadline_ms=0.0).decode(qrimages.bgr(frame))
    assert result.steps == ["zxing"]
    assert [c.text for c in result.codes] == [text]
