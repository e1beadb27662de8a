"""Where frames come from: a camera, a video file, or image files, behind one interface.

A ``SourceSpec`` is a small picklable description handed to the child process, which builds
the real source with ``open_source``. Everything after the source is the same code path.
"""

from __future__ import annotations

import os
import re
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, Protocol

import cv2
import numpy as np
from numpy.typing import NDArray

IMAGE_SUFFIXES = frozenset({".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp", ".pgm"})
VIDEO_SUFFIXES = frozenset({".avi", ".mp4", ".mkv", ".mov", ".webm", ".mjpg", ".mjpeg"})


class SourceUnavailable(Exception):
    """The source cannot give frames now; the message says what is wrong and what to do."""


@dataclass(frozen=True)
class Frame:
    """One captured image and when it was captured (``time.monotonic()``)."""

    image: NDArray[np.uint8]
    ts: float
    index: int


class FrameSource(Protocol):
    """Gives frames until it ends (``read`` returns None) or fails (``SourceUnavailable``)."""

    description: str

    def open(self) -> tuple[int, int]:
        """Start giving frames; returns (width, height); raises ``SourceUnavailable``."""
        ...

    def read(self) -> Frame | None:
        """The next frame, or None at the end; raises ``SourceUnavailable`` when lost."""
        ...

    def close(self) -> None:
        """Release the device or file."""
        ...


@dataclass(frozen=True)
class CameraControls:
    """What the camera is asked for beyond its size: frame rate, exposure and focus."""

    fps: int = 60
    """Asked for; a camera gives its highest rate at the size when it cannot give this."""
    exposure: str = "auto"
    """``auto``, or a fixed exposure in the driver's units (V4L2: 100 microseconds)."""
    focus: str = "auto"
    """``auto``, or a fixed focus position in the driver's units (V4L2: 0 = infinity)."""


@dataclass(frozen=True)
class SourceSpec:
    """A picklable description of a frame source."""

    kind: Literal["camera", "video", "images", "none"]
    target: str = ""
    paths: tuple[str, ...] = ()
    width: int = 1280
    height: int = 720
    loop: bool = False
    realtime: bool = False
    """Video: pace frames at the file's frame rate, as a camera would deliver them."""
    controls: CameraControls = CameraControls()

    @classmethod
    def camera(
        cls,
        device: str,
        width: int = 1280,
        height: int = 720,
        controls: CameraControls | None = None,
    ) -> SourceSpec:
        """A camera by index ("0"), device path (/dev/video0) or stream URL."""
        return cls(
            "camera",
            target=str(device),
            width=width,
            height=height,
            controls=controls or CameraControls(),
        )

    @classmethod
    def video(cls, path: Path | str, *, loop: bool = False, realtime: bool = False) -> SourceSpec:
        """A video file read frame by frame."""
        return cls("video", target=str(path), loop=loop, realtime=realtime)

    @classmethod
    def images(cls, paths: Sequence[Path | str]) -> SourceSpec:
        """Image files, or every image in a folder, once each."""
        return cls("images", paths=tuple(str(p) for p in paths))

    @classmethod
    def nothing(cls) -> SourceSpec:
        """No frame source: the child only decodes files given with ``feed_file``."""
        return cls("none")


def open_source(spec: SourceSpec) -> FrameSource:
    """Build the source a spec describes (not yet opened).

    A camera, and a video played as one (``realtime``), come wrapped in ``LatestFrames``:
    frames keep arriving while a frame is decoded, and the decoder must always get the
    newest, never a queue of old ones.
    """
    if spec.kind == "camera":
        return LatestFrames(CameraSource(spec.target, spec.width, spec.height, spec.controls))
    if spec.kind == "video":
        video = VideoFileSource(Path(spec.target), loop=spec.loop, realtime=spec.realtime)
        return LatestFrames(video) if spec.realtime else video
    if spec.kind == "images":
        return ImageFilesSource([Path(p) for p in spec.paths])
    raise ValueError(f"source kind {spec.kind!r} gives no frames")


def _camera_target(device: str) -> int | str:
    device = device.strip()
    return int(device) if re.fullmatch(r"\d{1,3}", device) else device


def camera_name(device: str) -> str:
    """How a camera is named to people: an index ("0") is its /dev/videoN path."""
    return f"/dev/video{device}" if re.fullmatch(r"\d{1,3}", device.strip()) else device


def camera_missing_message(device: str) -> str:
    """The sentence for a camera that is not there."""
    return (
        f"no camera at {camera_name(device)}: plug one in or set [camera] device; "
        "the scanner and typed codes still work"
    )


class CameraSource:
    """An OpenCV camera: index, /dev/videoN path or rtsp/http URL, at a configured size.

    Asks for MJPEG (USB cameras give 1280x720 at 30-60 fps only compressed), the configured
    size and frame rate, and the exposure and focus of ``controls``; ``granted`` then holds
    what the camera actually gave, which ``doctor`` reports.
    """

    def __init__(
        self,
        device: str,
        width: int = 1280,
        height: int = 720,
        controls: CameraControls | None = None,
    ) -> None:
        self.device = device
        self.width = width
        self.height = height
        self.controls = controls or CameraControls()
        self.description = f"camera {device}"
        self.granted: dict[str, str] = {}
        self._cap: cv2.VideoCapture | None = None
        self._index = 0

    def open(self) -> tuple[int, int]:
        """Open the device; ``SourceUnavailable`` with a clear message if it is not there."""
        target = _camera_target(self.device)
        is_url = isinstance(target, str) and "://" in target
        if not is_url:
            path = f"/dev/video{target}" if isinstance(target, int) else target
            if path.startswith("/dev/") and not os.path.exists(path):
                raise SourceUnavailable(camera_missing_message(self.device))
        if isinstance(target, int):
            cap = cv2.VideoCapture(target, cv2.CAP_V4L2)
        else:
            cap = cv2.VideoCapture(target)
        if not cap.isOpened():
            cap.release()
            raise SourceUnavailable(camera_missing_message(self.device))
        _ask(cap, self.width, self.height, self.controls)
        ok, image = cap.read()
        if not ok or image is None:
            cap.release()
            raise SourceUnavailable(
                f"the camera at {self.device} opened but gives no picture: check that no other "
                "program uses it, or set [camera] device; the scanner and typed codes still work"
            )
        self._cap = cap
        self.granted = _granted(cap, image)
        return int(image.shape[1]), int(image.shape[0])

    def read(self) -> Frame | None:
        """The next frame; ``SourceUnavailable`` when the camera was unplugged."""
        if self._cap is None:
            raise SourceUnavailable(camera_missing_message(self.device))
        ok, image = self._cap.read()
        if not ok or image is None:
            self.close()
            raise SourceUnavailable(
                f"the camera at {self.device} stopped giving pictures (unplugged?); "
                "reconnecting; the scanner and typed codes still work"
            )
        self._index += 1
        return Frame(np.asarray(image, dtype=np.uint8), time.monotonic(), self._index)

    def close(self) -> None:
        """Release the device."""
        if self._cap is not None:
            self._cap.release()
            self._cap = None


def _ask(cap: cv2.VideoCapture, width: int, height: int, controls: CameraControls) -> None:
    """Ask the camera for a size, rate, exposure and focus; it keeps what it cannot give."""
    cap.set(cv2.CAP_PROP_FOURCC, cv2.VideoWriter.fourcc(*"MJPG"))
    cap.set(cv2.CAP_PROP_FRAME_WIDTH, width)
    cap.set(cv2.CAP_PROP_FRAME_HEIGHT, height)
    cap.set(cv2.CAP_PROP_FPS, controls.fps)
    # A one-frame buffer keeps latency low: an old frame is worse than a skipped one.
    cap.set(cv2.CAP_PROP_BUFFERSIZE, 1)
    # V4L2 auto exposure: 3 = aperture priority (auto), 1 = manual. A short fixed exposure
    # is what freezes a moving card when motion blur dominates at a counter.
    if controls.exposure == "auto":
        cap.set(cv2.CAP_PROP_AUTO_EXPOSURE, 3)
    else:
        cap.set(cv2.CAP_PROP_AUTO_EXPOSURE, 1)
        cap.set(cv2.CAP_PROP_EXPOSURE, float(controls.exposure))
    if controls.focus == "auto":
        cap.set(cv2.CAP_PROP_AUTOFOCUS, 1)
    else:
        cap.set(cv2.CAP_PROP_AUTOFOCUS, 0)
        cap.set(cv2.CAP_PROP_FOCUS, float(controls.focus))


def _granted(cap: cv2.VideoCapture, image: NDArray[Any]) -> dict[str, str]:
    """What the camera says it gives (values a driver does not report come back as -1/0)."""
    code = int(cap.get(cv2.CAP_PROP_FOURCC))
    fourcc = "".join(chr((code >> (8 * i)) & 0xFF) for i in range(4)).strip("\0 ") or "?"
    auto_exposure = cap.get(cv2.CAP_PROP_AUTO_EXPOSURE)
    autofocus = cap.get(cv2.CAP_PROP_AUTOFOCUS)
    return {
        "size": f"{image.shape[1]}x{image.shape[0]}",
        "fps": f"{cap.get(cv2.CAP_PROP_FPS):g}",
        "format": fourcc if fourcc.isprintable() else "?",
        "exposure": "auto"
        if auto_exposure == 3
        else f"{cap.get(cv2.CAP_PROP_EXPOSURE):g} (auto mode {auto_exposure:g})",
        "focus": "auto" if autofocus == 1 else f"{cap.get(cv2.CAP_PROP_FOCUS):g}",
    }


class VideoFileSource:
    """A video file as a camera stand-in, optionally paced in real time and looped."""

    def __init__(self, path: Path, *, loop: bool = False, realtime: bool = False) -> None:
        self.path = path
        self.loop = loop
        self.realtime = realtime
        self.description = f"video {path}"
        self._cap: cv2.VideoCapture | None = None
        self._index = 0
        self._period = 0.0
        self._next_at = 0.0

    def open(self) -> tuple[int, int]:
        """Open the file; ``SourceUnavailable`` if it is missing or not a video."""
        if not self.path.is_file():
            raise SourceUnavailable(f"no video file at {self.path}")
        cap = cv2.VideoCapture(str(self.path))
        if not cap.isOpened():
            cap.release()
            raise SourceUnavailable(f"{self.path} is not a video OpenCV can read")
        fps = cap.get(cv2.CAP_PROP_FPS)
        self._period = 1.0 / fps if self.realtime and 1 <= fps <= 240 else 0.0
        self._next_at = time.monotonic()
        self._cap = cap
        return int(cap.get(cv2.CAP_PROP_FRAME_WIDTH)), int(cap.get(cv2.CAP_PROP_FRAME_HEIGHT))

    def read(self) -> Frame | None:
        """The next frame, or None at the end (unless looping)."""
        if self._cap is None:
            return None
        if self._period:
            delay = self._next_at - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            self._next_at = max(self._next_at + self._period, time.monotonic() - self._period)
        ok, image = self._cap.read()
        if (not ok or image is None) and self.loop and self._index > 0:
            self._cap.set(cv2.CAP_PROP_POS_FRAMES, 0)
            ok, image = self._cap.read()
        if not ok or image is None:
            return None
        self._index += 1
        return Frame(np.asarray(image, dtype=np.uint8), time.monotonic(), self._index)

    def close(self) -> None:
        """Release the file."""
        if self._cap is not None:
            self._cap.release()
            self._cap = None


def expand_images(paths: Sequence[Path]) -> Iterator[Path]:
    """Files as given, and the image files of folders in name order."""
    for path in paths:
        if path.is_dir():
            yield from sorted(p for p in path.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
        else:
            yield path


def read_image(path: Path) -> NDArray[np.uint8]:
    """An image file as an array; ``SourceUnavailable`` naming the file if it cannot be read."""
    if not path.is_file():
        raise SourceUnavailable(f"no file at {path}")
    try:
        data = np.fromfile(path, dtype=np.uint8)
        image = cv2.imdecode(data, cv2.IMREAD_UNCHANGED) if data.size else None
    except (cv2.error, OSError, ValueError) as exc:
        raise SourceUnavailable(f"{path} cannot be read as an image: {exc}") from exc
    if image is None:
        raise SourceUnavailable(f"{path} is not an image OpenCV can read (PNG, JPEG, ...)")
    image = np.asarray(image)
    if image.dtype != np.uint8:
        # 16-bit PNG or float TIFF: scale to 8 bits rather than refuse.
        low, high = float(image.min()), float(image.max())
        image = (image.astype(np.float64) - low) * (255.0 / max(high - low, 1e-9))
    return np.asarray(image, dtype=np.uint8)


WAITING = "waiting"
"""``LatestFrames.take`` found no new frame within its timeout (the source is still live)."""


class LatestFrames:
    """A live source read on its own thread; ``read`` and ``take`` give the newest frame only.

    A frame that was not taken before the next one arrived is dropped (and counted): after a
    slow frame the decoder works on what the camera sees now, not on what it saw a second
    ago. The capture thread spends its time in OpenCV calls that release the GIL.
    """

    def __init__(self, source: FrameSource, *, stall_s: float = 10.0) -> None:
        self.source = source
        self.description = source.description
        self.stall_s = stall_s
        self.dropped = 0
        """Frames that arrived and were replaced by a newer one before anyone took them."""
        self.delivered = 0
        self._cond = threading.Condition()
        self._latest: Frame | None = None
        self._ended = False
        self._error: SourceUnavailable | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def open(self) -> tuple[int, int]:
        """Open the source and start capturing."""
        size = self.source.open()
        self._stop.clear()
        self._thread = threading.Thread(target=self._capture, name="frame-capture", daemon=True)
        self._thread.start()
        return size

    def _capture(self) -> None:
        while not self._stop.is_set():
            try:
                frame = self.source.read()
            except SourceUnavailable as exc:
                with self._cond:
                    self._error = exc
                    self._cond.notify_all()
                return
            with self._cond:
                if frame is None:
                    self._ended = True
                    self._cond.notify_all()
                    return
                if self._latest is not None:
                    self.dropped += 1
                self._latest = frame
                self._cond.notify_all()

    def take(self, timeout: float) -> Frame | str | None:
        """The newest frame not yet taken, None at the end, or ``WAITING`` after ``timeout``.

        Raises ``SourceUnavailable`` when the source was lost.
        """
        with self._cond:
            self._cond.wait_for(
                lambda: self._latest is not None or self._ended or self._error is not None,
                timeout,
            )
            frame, self._latest = self._latest, None
            if frame is not None:
                self.delivered += 1
                return frame
            if self._error is not None:
                raise self._error
            return None if self._ended else WAITING

    def read(self) -> Frame | None:
        """The newest frame (waiting for one), or None at the end."""
        waited = 0.0
        while waited < self.stall_s:
            got = self.take(0.25)
            if not isinstance(got, str):
                return got
            waited += 0.25
        raise SourceUnavailable(
            f"{self.description} gave no picture for {self.stall_s:g} s; reconnecting"
        )

    def close(self) -> None:
        """Stop capturing, then release the source."""
        self._stop.set()
        if self._thread is not None:
            # A read in flight ends within one frame period; the source is closed after it.
            self._thread.join(2.0)
            self._thread = None
        self.source.close()


class ImageFilesSource:
    """Image files (or folders of them), one frame each; unreadable files are skipped."""

    def __init__(self, paths: Sequence[Path]) -> None:
        self.paths = list(paths)
        self.description = "images " + ", ".join(str(p) for p in self.paths[:3])
        self._files: Iterator[Path] = iter(())
        self._index = 0
        self.skipped: list[tuple[Path, str]] = []

    def open(self) -> tuple[int, int]:
        """Start at the first file."""
        self._files = expand_images(self.paths)
        return 0, 0

    def read(self) -> Frame | None:
        """The next readable image, or None when every file was read."""
        for path in self._files:
            try:
                image = read_image(path)
            except SourceUnavailable as exc:
                self.skipped.append((path, str(exc)))
                continue
            self._index += 1
            return Frame(np.asarray(image, dtype=np.uint8), time.monotonic(), self._index)
        return None

    def close(self) -> None:
        """Nothing to release."""
        self._files = iter(())
