"""``ScannerProcess``: capture and decoding in a watched child process that restarts itself.

The parent never touches pixels. A watcher thread reads the child's messages, debounces codes,
and turns everything into ``scanner.events`` objects handed to ``on_event`` ON THE WATCHER
THREAD: a Textual app must hop to its own thread (``app.call_from_thread``) before touching
widgets. If the child dies (SIGSEGV, abort, kill) or stops sending heartbeats, the watcher
reports ``ScannerCrashed``, starts a new child at once and reports ``ScannerRestarted`` when
it is up. The child is started with the "spawn" context: forking a process that runs threads
(as a Textual app does) can deadlock the child.

Typical use::

    scanner = ScannerProcess(SourceSpec.camera("0"), debounce_s=3.0, on_event=handle)
    scanner.start()
    scanner.feed_file(Path("demo-card.png"))   # demo mode: "present" a card without a camera
    scanner.stop()
"""

from __future__ import annotations

import contextlib
import logging
import multiprocessing
import queue
import signal
import threading
import time
from collections.abc import Callable, Sequence
from multiprocessing.connection import Connection, wait
from multiprocessing.process import BaseProcess
from pathlib import Path
from typing import Any

from scanner.child import child_main
from scanner.debounce import Debouncer
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
from scanner.sources import SourceSpec

log = logging.getLogger(__name__)

DEFAULT_DECODERS = ("zxing", "zbar", "opencv")

WATCH_TICK_S = 0.1
"""How long the watcher waits for a message before it looks at the clock again."""
WATCH_SLACK_S = 0.25
"""A turn of the watcher's loop longer than the tick plus this was a pause of the parent."""


def _exit_reason(exitcode: int | None) -> str:
    if exitcode is None:
        return "the scanner process stopped answering"
    if exitcode < 0:
        try:
            name = signal.Signals(-exitcode).name
        except ValueError:
            name = f"signal {-exitcode}"
        return f"the scanner process was ended by {name}"
    return f"the scanner process exited with status {exitcode}"


class ScannerProcess:
    """A frame source and decoders in a child process, restarted after a crash or hang.

    ``on_event`` is called on the watcher thread with each ``ScanEvent``; when it is None the
    events are queued and ``next_event(timeout)`` returns them. Codes from the frame source
    go through a ``Debouncer(debounce_s)``; codes from ``feed_file`` are always reported.
    """

    def __init__(
        self,
        source: SourceSpec,
        decoders: Sequence[str] = DEFAULT_DECODERS,
        debounce_s: float = 3.0,
        on_event: Callable[[ScanEvent], None] | None = None,
        *,
        deadline_ms: float = 25.0,  # scanner.decoders.DEFAULT_DEADLINE_MS, without zxing here
        heartbeat_timeout_s: float = 3.0,
        startup_timeout_s: float = 20.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.source = source
        self.decoders = tuple(decoders)
        self.deadline_ms = deadline_ms
        self.heartbeat_timeout_s = heartbeat_timeout_s
        self.startup_timeout_s = startup_timeout_s
        self.debouncer = Debouncer(debounce_s, clock=clock)
        self._on_event = on_event
        self._queue: queue.Queue[ScanEvent] = queue.Queue()
        self._ctx = multiprocessing.get_context("spawn")
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self._process: BaseProcess | None = None
        self._conn: Connection | None = None
        self._preview = False
        self._pending_files: list[str] = []
        self._started_at = 0.0
        self._last_heard = 0.0
        self._up = False
        self._restarts = 0
        self._crashes_in_a_row = 0
        self.pid: int | None = None
        """The current child's process id, once it said hello."""
        self.decoder_names: list[str] = []
        self.unavailable: dict[str, str] = {}

    # -- the caller's side -------------------------------------------------------------

    @property
    def restarts(self) -> int:
        """How many times the child was restarted after a crash or hang."""
        return self._restarts

    @property
    def running(self) -> bool:
        """True between ``start`` and ``stop``."""
        return self._thread is not None and self._thread.is_alive()

    def start(self) -> None:
        """Start the child and the watcher thread; returns at once."""
        if self.running:
            return
        self._stopping.clear()
        self._spawn()
        self._thread = threading.Thread(target=self._watch, name="scanner-watcher", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 2.0) -> None:
        """Ask the child to stop, kill it if it does not within ``timeout``; join the watcher."""
        self._stopping.set()
        self._send(("stop",))
        if self._thread is not None:
            self._thread.join(timeout + 1.0)
            self._thread = None
        self._reap(timeout)

    def set_preview(self, enabled: bool) -> None:
        """Ask for (or stop) small ``Preview`` frames, a few per second."""
        self._preview = enabled
        self._send(("preview", enabled))

    def feed_file(self, path: Path | str) -> None:
        """Decode an image file in the child; codes then a ``FileScanned`` event follow.

        A file fed before ``start`` (or while a crashed child is replaced) waits and goes to
        the next child: it is never dropped silently.
        """
        with self._lock:
            self._pending_files.append(str(path))
            self._send_locked(("feed", str(path)))

    def next_event(self, timeout: float | None = None) -> ScanEvent | None:
        """The next queued event (only when no ``on_event`` was given), or None on timeout."""
        try:
            return self._queue.get(timeout=timeout)
        except queue.Empty:
            return None

    def __enter__(self) -> ScannerProcess:
        self.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self.stop()

    # -- the watcher thread ------------------------------------------------------------

    def _spawn(self) -> None:
        parent_end, child_end = self._ctx.Pipe(duplex=True)
        process = self._ctx.Process(
            target=child_main,
            args=(child_end, self.source, self.decoders, self.deadline_ms, self._preview),
            name="citie-scanner",
            daemon=True,
        )
        process.start()
        child_end.close()
        with self._lock:
            self._process = process
            self._conn = parent_end
            self._up = False
            self._started_at = time.monotonic()
            self._last_heard = self._started_at
            # Files fed while there was no child (before start): the new child reads them.
            for pending in self._pending_files:
                self._send_locked(("feed", pending))

    def _send(self, message: tuple[Any, ...]) -> None:
        with self._lock:
            self._send_locked(message)

    def _send_locked(self, message: tuple[Any, ...]) -> None:
        conn = self._conn
        if conn is None:
            return  # no child yet: _spawn sends what is still pending
        # A closed pipe means the child is gone; the watcher notices and restarts it.
        with contextlib.suppress(OSError, ValueError):
            conn.send(message)

    def _emit(self, event: ScanEvent) -> None:
        if self._on_event is None:
            self._queue.put(event)
            return
        try:
            self._on_event(event)
        except Exception:
            # The caller's bug must not stop the scanner.
            log.exception("scanner event handler failed on %r", type(event).__name__)

    def _watch(self) -> None:
        last_turn = time.monotonic()
        while not self._stopping.is_set():
            process, conn = self._process, self._conn
            if process is None or conn is None:
                return
            try:
                ready = wait([conn, process.sentinel], timeout=WATCH_TICK_S)
            except OSError:
                ready = [process.sentinel]
            # Only time this thread spent listening counts as the child's silence. A pause
            # of the whole parent (a collector pass over a large heap, an event handler
            # that waits for a busy app, a suspended laptop) stops this thread too, and the
            # child's beats then sit unread in the pipe: forgive the part of the gap that
            # is longer than one turn of this loop, and read the pipe before judging.
            now = time.monotonic()
            stalled = now - last_turn - WATCH_TICK_S - WATCH_SLACK_S
            if stalled > 0:
                self._last_heard += stalled
            dead = not self._drain(conn)
            # The turn is timed from when the wait returned, not after the drain: a pause of
            # this thread after that point (the drain's handlers, or the GIL taken by another
            # thread while the OS had this one descheduled) is forgiven at the next turn, and
            # never judged here as the child's silence against beats read before it.
            last_turn = now
            if process.sentinel in ready or dead or not process.is_alive():
                if self._stopping.is_set():
                    return
                self._drain(conn)
                process.join(0.5)
                self._crashed(_exit_reason(process.exitcode))
                last_turn = time.monotonic()
                continue
            limit = self.heartbeat_timeout_s if self._up else self.startup_timeout_s
            if last_turn - self._last_heard > limit:
                if self._stopping.is_set():
                    return
                self._crashed(f"the scanner process sent nothing for {limit:g} s (hung)")
                last_turn = time.monotonic()

    def _drain(self, conn: Connection) -> bool:
        """Handle every waiting message; False when the connection is closed."""
        try:
            while conn.poll(0):
                self._handle(conn.recv())
        except (EOFError, OSError):
            return False
        return True

    def _handle(self, message: Any) -> None:
        self._last_heard = time.monotonic()
        kind = message[0]
        if kind == "beat":
            return
        if kind == "code":
            _, text, decoder, decode_ms, frame_ts, origin, index = message
            if origin == "file" or self.debouncer.accept(text):
                ms, ts = float(decode_ms), float(frame_ts)
                self._emit(CodeRead(text, decoder, ms, ts, origin, int(index)))
        elif kind == "hello":
            self.pid = int(message[1])
            self.decoder_names = list(message[2])
            self.unavailable = dict(message[3])
            self._up = True
            if self._restarts and self._crashes_in_a_row:
                self._crashes_in_a_row = 0
                self._emit(ScannerRestarted(self.pid))
        elif kind == "ready":
            self._emit(CameraReady(int(message[1]), int(message[2])))
        elif kind == "unavailable":
            self._emit(CameraUnavailable(str(message[1])))
        elif kind == "ended":
            self._emit(SourceEnded())
        elif kind == "file":
            _, path, count, error = message
            with self._lock:
                if path in self._pending_files:
                    self._pending_files.remove(path)
            self._emit(FileScanned(str(path), int(count), error))
        elif kind == "preview":
            _, width, height, pixels = message
            self._emit(Preview(int(width), int(height), bytes(pixels)))

    def _crashed(self, reason: str) -> None:
        self._reap(0.0)
        with self._lock:
            lost, self._pending_files = self._pending_files, []
        self._emit(ScannerCrashed(reason))
        for path in lost:
            self._emit(
                FileScanned(path, 0, f"the scanner crashed while reading this file: {reason}")
            )
        self._restarts += 1
        self._crashes_in_a_row += 1
        # A code that crashes the decoder stays in front of the camera: wait a little longer
        # each time in a row, but never past the 2 s the counter can live with.
        delay = min(0.25 * (2 ** (self._crashes_in_a_row - 1)) - 0.25, 1.0)
        if delay > 0 and self._stopping.wait(delay):
            return
        if not self._stopping.is_set():
            self._spawn()

    def _reap(self, timeout: float) -> None:
        with self._lock:
            process, conn = self._process, self._conn
            self._process, self._conn = None, None
        if process is not None:
            process.join(timeout)
            if process.is_alive():
                process.kill()
                process.join(1.0)
            process.close()
        if conn is not None:
            conn.close()
