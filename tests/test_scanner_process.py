"""The child process: a video file as the camera, crashes and hangs, file feeding, previews."""

from __future__ import annotations

import itertools
import os
import signal
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import pytest

from scanner.events import (
    CameraReady,
    CameraUnavailable,
    CodeRead,
    FileScanned,
    Preview,
    ScanEvent,
    ScannerCrashed,
    ScannerRestarted,
    SourceEnded,
)
from scanner.process import ScannerProcess
from scanner.sources import SourceSpec
from tests import qrimages

WAIT = 20.0  # generous: a loaded CI machine spawns slowly; never a timing assertion


class Recorder:
    """Collects events from the watcher thread and lets the test wait for one."""

    def __init__(self) -> None:
        self.events: list[ScanEvent] = []
        self._cond = threading.Condition()

    def __call__(self, event: ScanEvent) -> None:
        with self._cond:
            self.events.append(event)
            self._cond.notify_all()

    def wait_for(self, pred: Callable[[list[ScanEvent]], bool], timeout: float = WAIT) -> None:
        with self._cond:
            ok = self._cond.wait_for(lambda: pred(self.events), timeout)
        assert ok, f"not seen in {timeout} s; events: {self.events[-10:]}"

    def of(self, kind: type) -> list:
        with self._cond:
            return [e for e in self.events if isinstance(e, kind)]


@pytest.fixture(scope="module")
def codes() -> list[str]:
    return ["CT1:VIDEO-ONE", "CT1:VIDEO-TWO"]


@pytest.fixture(scope="module")
def video(tmp_path_factory: pytest.TempPathFactory, codes: list[str]) -> Path:
    rng = np.random.default_rng(5)
    frames = [qrimages.scene(codes[(i // 15) % 2], rng, size=(640, 480)) for i in range(30)]
    return qrimages.write_video(tmp_path_factory.mktemp("video") / "camera.avi", frames)


@pytest.fixture
def recorder() -> Recorder:
    return Recorder()


@pytest.fixture
def running(video: Path, recorder: Recorder) -> Iterator[ScannerProcess]:
    scanner = ScannerProcess(
        SourceSpec.video(video, loop=True, realtime=True),
        debounce_s=0.3,
        on_event=recorder,
        heartbeat_timeout_s=1.0,
    )
    scanner.start()
    try:
        yield scanner
    finally:
        scanner.stop()


def test_video_as_camera_gives_both_codes_debounced(
    running: ScannerProcess, recorder: Recorder, codes: list[str]
) -> None:
    recorder.wait_for(lambda ev: {e.text for e in ev if isinstance(e, CodeRead)} >= set(codes))
    assert recorder.of(CameraReady)[0] == CameraReady(640, 480)
    reads = recorder.of(CodeRead)
    assert all(r.decoder == "zxing" and r.source == "camera" for r in reads)
    # 15 frames of each code in a row at 30 fps: debounce reports each run once.
    for a, b in itertools.pairwise(reads):
        assert a.text != b.text
    assert running.decoder_names == ["zxing", "zbar", "opencv"]


@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGSEGV])
def test_killed_child_is_reported_and_restarted_and_decodes_again(
    running: ScannerProcess, recorder: Recorder, sig: signal.Signals
) -> None:
    recorder.wait_for(lambda ev: any(isinstance(e, CodeRead) for e in ev))
    first_pid = running.pid
    assert first_pid is not None
    os.kill(first_pid, sig)
    recorder.wait_for(lambda ev: any(isinstance(e, ScannerRestarted) for e in ev))
    crash = recorder.of(ScannerCrashed)[0]
    assert sig.name in crash.reason
    assert running.pid != first_pid and running.restarts == 1
    before = len(recorder.of(CodeRead))
    recorder.wait_for(lambda ev: len([e for e in ev if isinstance(e, CodeRead)]) > before)


def test_hung_child_is_killed_and_restarted(running: ScannerProcess, recorder: Recorder) -> None:
    recorder.wait_for(lambda ev: any(isinstance(e, CodeRead) for e in ev))
    pid = running.pid
    assert pid is not None
    os.kill(pid, signal.SIGSTOP)  # a real hang: the process exists but does nothing
    recorder.wait_for(lambda ev: any(isinstance(e, ScannerRestarted) for e in ev))
    assert "hung" in recorder.of(ScannerCrashed)[0].reason
    before = len(recorder.of(CodeRead))
    recorder.wait_for(lambda ev: len([e for e in ev if isinstance(e, CodeRead)]) > before)


def test_feed_file_and_previews_without_a_camera(tmp_path: Path, recorder: Recorder) -> None:
    rng = np.random.default_rng(9)
    card = qrimages.save_png(tmp_path / "demo.png", qrimages.scene("CT1:DEMO", rng))
    empty = qrimages.save_png(tmp_path / "empty.png", qrimages.noisy_background(320, 240, rng))
    broken = tmp_path / "broken.png"
    broken.write_bytes(b"\x89PNG\r\n\x1a\n not really")
    with ScannerProcess(SourceSpec.nothing(), on_event=recorder) as scanner:
        for path in (card, card, empty, broken, tmp_path / "missing.png"):
            scanner.feed_file(path)
        recorder.wait_for(lambda ev: len([e for e in ev if isinstance(e, FileScanned)]) == 5)
    reads = recorder.of(CodeRead)
    # Files are never debounced: presenting the demo card twice reads it twice.
    assert [r.text for r in reads] == ["CT1:DEMO", "CT1:DEMO"]
    assert {r.source for r in reads} == {"file"}
    done = recorder.of(FileScanned)
    assert [d.codes for d in done] == [1, 1, 0, 0, 0]
    assert done[2].error is None
    assert "not an image" in (done[3].error or "")
    assert "no file" in (done[4].error or "")


def test_a_file_fed_before_the_child_is_started_is_read_once_it_is(
    tmp_path: Path, recorder: Recorder
) -> None:
    # The counter app starts the scanner in a worker: a demo card presented (F12) in that
    # moment reached a scanner with no child yet and was dropped without a word.
    card = qrimages.save_png(
        tmp_path / "demo.png", qrimages.scene("CT1:EARLY", np.random.default_rng(4))
    )
    scanner = ScannerProcess(SourceSpec.nothing(), decoders=("zxing",), on_event=recorder)
    scanner.feed_file(card)
    with scanner:
        recorder.wait_for(lambda ev: any(isinstance(e, FileScanned) for e in ev))
    assert [r.text for r in recorder.of(CodeRead)] == ["CT1:EARLY"]
    assert [d.codes for d in recorder.of(FileScanned)] == [1]


def test_preview_frames_are_small_and_only_on_request(video: Path, recorder: Recorder) -> None:
    with ScannerProcess(SourceSpec.video(video, realtime=True), on_event=recorder) as scanner:
        recorder.wait_for(lambda ev: any(isinstance(e, CodeRead) for e in ev))
        assert recorder.of(Preview) == []
        scanner.set_preview(True)
        recorder.wait_for(lambda ev: any(isinstance(e, Preview) for e in ev))
        recorder.wait_for(lambda ev: any(isinstance(e, SourceEnded) for e in ev))
    preview = recorder.of(Preview)[0]
    assert (preview.width, preview.height) == (64, 48)
    assert len(preview.pixels) == 64 * 48


def test_missing_camera_says_what_to_do_and_files_still_work(
    tmp_path: Path, recorder: Recorder
) -> None:
    card = qrimages.save_png(tmp_path / "c.png", qrimages.qr_image("CT1:TYPED-STILL-WORKS"))
    with ScannerProcess(SourceSpec.camera("/dev/video97"), on_event=recorder) as scanner:
        recorder.wait_for(lambda ev: any(isinstance(e, CameraUnavailable) for e in ev))
        scanner.feed_file(card)
        recorder.wait_for(lambda ev: any(isinstance(e, FileScanned) for e in ev))
    message = recorder.of(CameraUnavailable)[0].message
    assert message == (
        "no camera at /dev/video97: plug one in or set [camera] device; "
        "the scanner and typed codes still work"
    )
    assert len(recorder.of(CameraUnavailable)) == 1  # said once, not on every retry
    assert [r.text for r in recorder.of(CodeRead)] == ["CT1:TYPED-STILL-WORKS"]


def test_a_failing_event_handler_does_not_stop_the_scanner(tmp_path: Path) -> None:
    seen: list[ScanEvent] = []
    done = threading.Event()

    def handler(event: ScanEvent) -> None:
        seen.append(event)
        if isinstance(event, FileScanned):
            done.set()
        if isinstance(event, CodeRead):
            raise RuntimeError("a bug in the app")

    card = qrimages.save_png(tmp_path / "c.png", qrimages.qr_image("CT1:X"))
    with ScannerProcess(SourceSpec.nothing(), on_event=handler) as scanner:
        scanner.feed_file(card)
        assert done.wait(WAIT)
    assert any(isinstance(e, CodeRead) for e in seen)
