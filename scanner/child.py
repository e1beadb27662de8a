"""The scanner's child process: capture and decode, send back only text, timings and previews.

Runs in a process started with the "spawn" context, so native decoder crashes (or a hang in a
camera driver) stay here. Messages to the parent are small tuples on a ``Connection``:

* ``("hello", pid, decoder_names, unavailable)`` once at start;
* ``("beat", monotonic)`` at least every ``BEAT_S`` seconds while the loop runs;
* ``("code", text, decoder, decode_ms, frame_ts, origin, frame_index)`` for each code read;
* ``("ready", width, height)`` / ``("unavailable", message)`` / ``("ended",)`` for the source;
* ``("file", path, codes, error)`` after a ``("feed", path)`` command;
* ``("preview", width, height, pixels)`` at most ``PREVIEW_PER_S`` times a second when asked.

A live source (camera, video played as one) is read on its own thread and only its newest
frame is decoded (``LatestFrames``). Each frame's decoding fits ``deadline_ms``, and no
decoder error leaves the loop: the child is never silent for more than a frame or two.

Commands from the parent: ``("stop",)``, ``("preview", bool)``, ``("feed", path)``.
"""

from __future__ import annotations

import logging
import os
import signal
import time
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

import cv2

from scanner.decoders import Pipeline, PipelineResult, to_grey
from scanner.sources import (
    WAITING,
    Frame,
    FrameSource,
    LatestFrames,
    SourceSpec,
    SourceUnavailable,
    open_source,
    read_image,
)

log = logging.getLogger(__name__)

BEAT_S = 0.2
PREVIEW_PER_S = 4.0
PREVIEW_SIZE = (64, 48)
MAX_BACKOFF_S = 5.0


def child_main(
    conn: Connection, spec: SourceSpec, decoders: tuple[str, ...], deadline_ms: float, preview: bool
) -> None:
    """Entry point of the child process."""
    # Ctrl-C in a terminal reaches the whole process group; the parent decides when we stop.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    cv2.setNumThreads(1)
    try:
        pipeline = Pipeline(decoders, deadline_ms=deadline_ms)
        conn.send(("hello", os.getpid(), pipeline.decoder_names, dict(pipeline.unavailable)))
        _Loop(conn, spec, pipeline, preview).run()
    except (BrokenPipeError, EOFError, ConnectionResetError):
        return  # the parent went away: nothing left to report to


class _Loop:
    def __init__(self, conn: Connection, spec: SourceSpec, pipeline: Pipeline, preview: bool):
        self.conn = conn
        self.spec = spec
        self.pipeline = pipeline
        self.preview = preview
        self.source: FrameSource | None = None
        self.ended = spec.kind == "none"
        self.next_open_at = 0.0
        self.backoff = 0.5
        self.last_problem = ""
        self.last_beat = 0.0
        self.last_preview = 0.0
        self.stopping = False

    def run(self) -> None:
        try:
            while not self.stopping:
                self.beat()
                idle = self.ended or self.source is None
                wait = min(0.1, max(0.0, self.next_open_at - time.monotonic())) if idle else 0.0
                self.commands(0.1 if self.ended else wait)
                if self.stopping or self.ended:
                    continue
                if self.source is None:
                    if time.monotonic() >= self.next_open_at:
                        self.open()
                    continue
                self.step(self.source)
        finally:
            if self.source is not None:
                self.source.close()

    def beat(self) -> None:
        now = time.monotonic()
        if now - self.last_beat >= BEAT_S:
            self.conn.send(("beat", now))
            self.last_beat = now

    def commands(self, wait: float) -> None:
        while self.conn.poll(wait):
            wait = 0.0
            message: Any = self.conn.recv()
            kind = message[0]
            if kind == "stop":
                self.stopping = True
                return
            if kind == "preview":
                self.preview = bool(message[1])
            elif kind == "feed":
                self.feed(Path(message[1]))
            self.beat()

    def open(self) -> None:
        source = open_source(self.spec)
        try:
            width, height = source.open()
        except SourceUnavailable as exc:
            source.close()
            self.problem(str(exc))
            return
        self.source = source
        self.backoff = 0.5
        self.last_problem = ""
        self.conn.send(("ready", width, height))

    def problem(self, message: str) -> None:
        # Say it once per outage, not on every retry.
        if message != self.last_problem:
            self.conn.send(("unavailable", message))
            self.last_problem = message
        self.next_open_at = time.monotonic() + self.backoff
        self.backoff = min(self.backoff * 2, MAX_BACKOFF_S)

    def step(self, source: FrameSource) -> None:
        try:
            if isinstance(source, LatestFrames):
                got = source.take(BEAT_S)
                if isinstance(got, str) and got == WAITING:
                    return  # back to beats and commands; the capture thread keeps trying
                frame = got if isinstance(got, Frame) else None
            else:
                frame = source.read()
        except SourceUnavailable as exc:
            source.close()
            self.source = None
            self.problem(str(exc))
            return
        if frame is None:
            source.close()
            self.source = None
            self.ended = True
            self.conn.send(("ended",))
            return
        result = self.decode(frame.image)
        for code in result.codes:
            message = (code.text, code.decoder, result.decode_ms, frame.ts, "camera", frame.index)
            self.conn.send(("code", *message))
        if self.preview and frame.ts - self.last_preview >= 1.0 / PREVIEW_PER_S:
            self.last_preview = frame.ts
            small = cv2.resize(to_grey(frame.image), PREVIEW_SIZE, interpolation=cv2.INTER_AREA)
            self.conn.send(("preview", PREVIEW_SIZE[0], PREVIEW_SIZE[1], small.tobytes()))

    def feed(self, path: Path) -> None:
        try:
            image = read_image(path)
        except SourceUnavailable as exc:
            self.conn.send(("file", str(path), 0, str(exc)))
            return
        ts = time.monotonic()
        result = self.decode(image)
        for code in result.codes:
            self.conn.send(("code", code.text, code.decoder, result.decode_ms, ts, "file", 0))
        self.conn.send(("file", str(path), len(result.codes), None))

    def decode(self, image: Any) -> PipelineResult:
        """The pipeline's result; an unexpected error costs this frame, never the child."""
        try:
            return self.pipeline.decode(image)
        except Exception:
            log.exception("decoding a frame failed")
            return PipelineResult([], 0.0)
