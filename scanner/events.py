"""What the scanner tells its caller: small frozen dataclasses, one per kind of event.

``ScannerProcess`` delivers them on its own watcher thread. A Textual app must hop to its
own thread before touching widgets (``app.call_from_thread(...)``, or ``post_message``).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class CodeRead:
    """A QR code was read (after debounce): its text is untrusted data, never markup."""

    text: str
    decoder: str
    decode_ms: float
    frame_ts: float
    """``time.monotonic()`` when the frame was captured (same clock in parent and child)."""
    source: str = "camera"
    """``camera`` for the configured frame source, ``file`` for ``feed_file``."""
    frame_index: int = 0
    """The frame's number in its source (1 = first; 0 for a fed file)."""


@dataclass(frozen=True)
class ScannerCrashed:
    """The child process died or hung; it is being restarted."""

    reason: str


@dataclass(frozen=True)
class ScannerRestarted:
    """A new child process is up after a crash."""

    pid: int


@dataclass(frozen=True)
class CameraUnavailable:
    """The frame source cannot give frames; the message says what to do."""

    message: str


@dataclass(frozen=True)
class CameraReady:
    """The frame source gives frames (again), at this size."""

    width: int
    height: int


@dataclass(frozen=True)
class SourceEnded:
    """A video file or image folder has no more frames (a camera never ends)."""


@dataclass(frozen=True)
class FileScanned:
    """``feed_file`` finished: how many codes it read, or why it could not read the file."""

    path: str
    codes: int
    error: str | None = None


@dataclass(frozen=True)
class Preview:
    """A small grey preview frame: ``width * height`` bytes, row by row."""

    width: int
    height: int
    pixels: bytes


ScanEvent = (
    CodeRead
    | ScannerCrashed
    | ScannerRestarted
    | CameraUnavailable
    | CameraReady
    | SourceEnded
    | FileScanned
    | Preview
)
