"""``scan`` and ``doctor``: read codes from images, videos or a camera; check the counter device."""

from __future__ import annotations

import ctypes.util
import json
import os
import socket
import statistics
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Literal

import click

from scanner.debounce import Debouncer
from scanner.decoders import DecoderUnavailable, Pipeline, decoder_versions
from scanner.events import CameraUnavailable, CodeRead, ScannerCrashed
from scanner.process import ScannerProcess
from scanner.sources import (
    VIDEO_SUFFIXES,
    CameraControls,
    CameraSource,
    SourceSpec,
    SourceUnavailable,
    VideoFileSource,
    expand_images,
    read_image,
)
from terminal.cli_support import CliEnv, Refused, common_options, emit, pass_env

Verdict = dict[str, Any]


def register(group: click.Group) -> None:
    """Add ``scan`` and ``doctor`` to the program."""
    group.add_command(scan)
    group.add_command(doctor)


def _line(obj: dict[str, Any]) -> None:
    # ensure_ascii: a code's ESC, C1 and other control characters come out as \\uXXXX.
    sys.stdout.write(json.dumps(obj, ensure_ascii=True) + "\n")
    sys.stdout.flush()


def _shown(text: str, limit: int = 80) -> str:
    escaped = json.dumps(text, ensure_ascii=True)[1:-1]
    return escaped if len(escaped) <= limit else escaped[: limit - 3] + "..."


def make_verifier(env: CliEnv) -> Callable[[str], Verdict]:
    """A verdict function with the ledger's trust list and revocations, read once."""
    from loyalty import cards  # noqa: PLC0415  (only scan needs the card verifier)

    settings = env.settings
    if not settings.database_path.exists():
        message = (
            f"no ledger at {settings.database_path}, so no issuer keys to check cards with; "
            "run `citie-terminal init` and pair or import keys"
        )
        return lambda _text: {"refused": {"reason": "not_initialised", "message": message}}

    from loyalty import schema as _schema  # noqa: F401, PLC0415  (registers migrations)
    from loyalty.db import DatabaseError, Store  # noqa: PLC0415
    from loyalty.trust import CardVerifier  # noqa: PLC0415

    try:
        with Store.open(settings.database_path) as store:
            verifier = CardVerifier.from_db(store.read())
    except DatabaseError as exc:
        raise Refused("database_error", str(exc), exit_code=3) from exc

    def verdict(text: str) -> Verdict:
        result = verifier.verify(text)
        if isinstance(result, cards.Card):
            return {"card": result.to_json()}
        return {"refused": {"reason": result.reason.value, "message": result.message}}

    return verdict


def camera_controls(env: CliEnv) -> CameraControls:
    """The frame rate, exposure and focus to ask the configured camera for."""
    cam = env.settings.camera
    return CameraControls(exposure=cam.exposure, focus=cam.focus)


@dataclass
class _Reporter:
    verdict: Callable[[str], Verdict]
    as_json: bool
    verified: int = 0
    codes: int = 0

    def code(self, source: str, text: str, decoder: str, decode_ms: float) -> None:
        self.codes += 1
        verdict = self.verdict(text)
        if "card" in verdict:
            self.verified += 1
        if self.as_json:
            head = {"source": source, "text": text, "decoder": decoder}
            _line({**head, "decode_ms": round(decode_ms, 2), **verdict})
            return
        timing = f"[{decoder} {decode_ms:.1f} ms]"
        if "card" in verdict:
            card = verdict["card"]
            click.echo(
                f"{_shown(source)}: card {card['card_id']} from {card['issuer']}, "
                f"valid until {card['expires_at']} {timing}"
            )
        else:
            refused = verdict["refused"]
            click.echo(
                f"{_shown(source)}: refused {refused['reason']}: {refused['message']} "
                f'{timing} text="{_shown(text)}"'
            )

    def problem(self, source: str, reason: str, message: str) -> None:
        if self.as_json:
            _line({"source": source, "error": {"reason": reason, "message": message}})
        else:
            click.echo(f"{_shown(source)}: {reason}: {message}", err=True)


@click.command()
@click.argument("files", nargs=-1, type=click.Path(path_type=Path))
@click.option(
    "--camera",
    "camera",
    metavar="DEV",
    help="Read from a camera: index (0), /dev/videoN or rtsp:// URL. "
    "Without FILE or --camera, the configured [camera] device.",
)
@click.option("--seconds", type=float, help="Camera: stop after this many seconds.")
@click.option("--count", type=int, help="Camera: stop after this many codes.")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per code read.")
@common_options
@pass_env
def scan(
    env: CliEnv,
    files: tuple[Path, ...],
    camera: str | None,
    seconds: float | None,
    count: int | None,
    as_json: bool,
) -> None:
    """Read QR codes from image files, folders, video files or a camera, and verify them.

    For each code: the source, the text (control characters escaped), the decoder, the decode
    time, and the verified card or the refusal (reason and sentence). Exit status 0 when at
    least one card was verified, 1 otherwise (no code, or only refused codes).
    """
    settings = env.settings
    verdict = make_verifier(env)
    reporter = _Reporter(verdict, as_json)
    decoders = tuple(settings.camera.decoders)
    if files:
        _scan_files(files, decoders, settings.camera.debounce_seconds, reporter)
    else:
        device = camera
        if device is None:
            if not settings.camera.enabled:
                raise Refused(
                    "no_input",
                    "the camera is disabled in [camera] enabled; give image or video files, "
                    "or --camera DEV",
                )
            device = settings.camera.device
        spec = SourceSpec.camera(
            device, settings.camera.width, settings.camera.height, camera_controls(env)
        )
        _scan_camera(spec, decoders, settings.camera.debounce_seconds, seconds, count, reporter)
    if not as_json:
        click.echo(f"{reporter.codes} code(s) read, {reporter.verified} verified card(s)", err=True)
    if reporter.verified == 0:
        raise click.exceptions.Exit(1)


def _scan_files(
    files: tuple[Path, ...], decoders: tuple[str, ...], debounce_s: float, reporter: _Reporter
) -> None:
    try:
        pipeline = Pipeline(decoders)
    except DecoderUnavailable as exc:
        raise Refused("no_decoder", str(exc), exit_code=3) from exc
    for path in files:
        if path.is_file() and path.suffix.lower() in VIDEO_SUFFIXES:
            _scan_video(path, pipeline, debounce_s, reporter)
            continue
        if path.is_dir():
            found = list(expand_images([path]))
            if not found:
                reporter.problem(str(path), "no_images", "this folder holds no image files")
        else:
            found = [path]
        for image_path in found:
            try:
                image = read_image(image_path)
            except SourceUnavailable as exc:
                reporter.problem(str(image_path), "unreadable", str(exc))
                continue
            result = pipeline.decode(image)
            if not result.codes:
                reporter.problem(str(image_path), "no_code", "no QR code found in this image")
            for code in result.codes:
                reporter.code(str(image_path), code.text, code.decoder, result.decode_ms)


def _scan_video(path: Path, pipeline: Pipeline, debounce_s: float, reporter: _Reporter) -> None:
    source = VideoFileSource(path)
    try:
        source.open()
    except SourceUnavailable as exc:
        reporter.problem(str(path), "unreadable", str(exc))
        return
    debouncer = Debouncer(debounce_s)
    found = 0
    try:
        while (frame := source.read()) is not None:
            result = pipeline.decode(frame.image)
            for code in result.codes:
                found += 1
                # Video time, not wall time: a held card is one code however fast we decode.
                if debouncer.accept(code.text, now=frame.index / 30.0):
                    reporter.code(
                        f"{path}#{frame.index}", code.text, code.decoder, result.decode_ms
                    )
    finally:
        source.close()
    if not found:
        reporter.problem(str(path), "no_code", "no QR code found in this video")


def _scan_camera(
    spec: SourceSpec,
    decoders: tuple[str, ...],
    debounce_s: float,
    seconds: float | None,
    count: int | None,
    reporter: _Reporter,
) -> None:
    deadline = None if seconds is None else time.monotonic() + seconds
    with ScannerProcess(spec, decoders, debounce_s) as scanner:
        try:
            while deadline is None or time.monotonic() < deadline:
                event = scanner.next_event(timeout=0.2)
                if isinstance(event, CameraUnavailable):
                    raise Refused("camera_unavailable", event.message)
                if isinstance(event, ScannerCrashed):
                    click.echo(f"scanner restarted: {event.reason}", err=True)
                if isinstance(event, CodeRead):
                    reporter.code(spec.target, event.text, event.decoder, event.decode_ms)
                    if count is not None and reporter.codes >= count:
                        return
        except KeyboardInterrupt:
            return


# -- doctor --------------------------------------------------------------------------------

Status = Literal["ok", "warn", "fail", "skip"]


@dataclass(frozen=True)
class Check:
    """One line of the doctor's checklist."""

    name: str
    status: Status
    detail: str
    required: bool = False


@click.command()
@click.option("--json", "as_json", is_flag=True, help="One JSON object with every check.")
@click.option("--camera-seconds", type=float, default=1.5, help="How long to watch the camera.")
@common_options
@pass_env
def doctor(env: CliEnv, as_json: bool, camera_seconds: float) -> None:
    """Check the camera, decoders, database, platform and printer; say what to fix.

    Exit status 1 only when something the counter needs is broken (a QR decoder, the
    database); a missing camera, platform or printer is a warning, since the counter works
    without them (typed codes, offline, on-screen receipts).
    """
    checks = list(_doctor_checks(env, camera_seconds))
    broken = [c for c in checks if c.status == "fail" and c.required]
    if as_json:
        emit({"ok": not broken, "checks": [asdict(c) for c in checks]})
    else:
        for c in checks:
            need = " (required)" if c.required and c.status == "fail" else ""
            click.echo(f"[{c.status:>4}] {c.name}: {c.detail}{need}")
        click.echo(
            "all required checks pass" if not broken else f"{len(broken)} required check(s) failed"
        )
    if broken:
        raise click.exceptions.Exit(1)


def _doctor_checks(env: CliEnv, camera_seconds: float) -> Iterator[Check]:
    settings = env.settings
    yield from _decoder_checks(tuple(settings.camera.decoders))
    yield _camera_check(env, camera_seconds)
    yield from _database_checks(env)
    yield _platform_check(env)
    yield _printer_check(env)


def _decoder_checks(configured: tuple[str, ...]) -> Iterator[Check]:
    versions = decoder_versions()
    for name in ("zxing", "zbar", "opencv"):
        found = versions.get(name)
        use = "in use" if name in configured else "not in [camera] decoders"
        if found is not None:
            extra = ""
            if name == "zbar":
                extra = f", libzbar {ctypes.util.find_library('zbar') or 'found by pyzbar'}"
            yield Check(f"decoder {name}", "ok", f"version {found}{extra} ({use})", name == "zxing")
        elif name == "zbar":
            yield Check(
                "decoder zbar",
                "warn",
                "libzbar is missing: `apt-get install --no-install-recommends libzbar0` "
                "(zxing reads codes without it)",
            )
        else:
            yield Check(f"decoder {name}", "fail", "cannot load; reinstall the package", True)
    try:
        pipeline = Pipeline(configured)
    except DecoderUnavailable as exc:
        yield Check("decode self-test", "fail", str(exc), True)
        return
    image = _test_code_image("CT1:DOCTOR-SELF-TEST")
    result = pipeline.decode(image)
    if [c.text for c in result.codes] == ["CT1:DOCTOR-SELF-TEST"]:
        yield Check(
            "decode self-test",
            "ok",
            f"read a generated code in {result.decode_ms:.1f} ms with {result.codes[0].decoder}",
            True,
        )
    else:
        yield Check("decode self-test", "fail", "could not read a generated QR code", True)


def _test_code_image(text: str) -> Any:
    import numpy as np  # noqa: PLC0415
    import qrcode  # noqa: PLC0415

    code = qrcode.QRCode(box_size=4, border=4)
    code.add_data(text)
    code.make(fit=True)
    modules = np.array(code.get_matrix(), dtype=bool)
    small = np.where(modules, 0, 255).astype(np.uint8)
    return np.kron(small, np.ones((4, 4), dtype=np.uint8))


def _camera_check(env: CliEnv, seconds: float) -> Check:
    cam = env.settings.camera
    if not cam.enabled:
        return Check("camera", "skip", "disabled in [camera] enabled")
    source = CameraSource(cam.device, cam.width, cam.height, camera_controls(env))
    try:
        width, height = source.open()
    except SourceUnavailable as exc:
        return Check("camera", "warn", str(exc))
    try:
        pipeline = Pipeline(tuple(cam.decoders))
        times: list[float] = []
        frames = 0
        start = time.monotonic()
        while time.monotonic() - start < seconds:
            try:
                frame = source.read()
            except SourceUnavailable as exc:
                return Check("camera", "warn", str(exc))
            if frame is None:
                break
            frames += 1
            times.append(pipeline.decode(frame.image).decode_ms)
        elapsed = max(time.monotonic() - start, 1e-6)
    finally:
        source.close()
    median = statistics.median(times) if times else float("nan")
    granted = source.granted
    asked = f"asked {cam.width}x{cam.height} at {source.controls.fps} fps"
    return Check(
        "camera",
        "ok",
        f"{cam.device}: {width}x{height} at {frames / elapsed:.1f} fps measured ({asked}; "
        f"the camera says {granted.get('size', '?')} {granted.get('format', '?')} at "
        f"{granted.get('fps', '?')} fps, exposure {granted.get('exposure', '?')}, "
        f"focus {granted.get('focus', '?')}), decode {median:.1f} ms median on live frames",
    )


def _database_checks(env: CliEnv) -> Iterator[Check]:
    settings = env.settings
    path = settings.database_path
    if not path.exists():
        yield Check("database", "fail", f"no ledger at {path}: run `citie-terminal init`", True)
        return
    from loyalty import schema as _schema  # noqa: F401, PLC0415
    from loyalty.db import DatabaseError, Store  # noqa: PLC0415
    from loyalty.keys import KeyFileError, check_private  # noqa: PLC0415
    from loyalty.trust import load_trust  # noqa: PLC0415

    try:
        # check=True: the doctor runs the full integrity check that opening skips.
        with Store.open(path, check=True) as store:
            db = store.read()
            events = db.execute("SELECT count(*) FROM events").fetchone()[0]
            trust = load_trust(db)
    except DatabaseError as exc:
        yield Check("database", "fail", str(exc), True)
        return
    yield Check("database", "ok", f"{path}: integrity ok, {events} event(s)", True)
    try:
        check_private(settings.private_key_path)
    except KeyFileError as exc:
        yield Check("private key", "fail", str(exc), True)
    else:
        yield Check("private key", "ok", f"{settings.private_key_path}: owner only", True)
    if trust.keys:
        yield Check(
            "issuer keys", "ok", f"trust list version {trust.version}, {len(trust.keys)} key(s)"
        )
    else:
        yield Check(
            "issuer keys",
            "warn",
            "no issuer keys: cards cannot be verified; run `citie-terminal pair` or `keys import`",
        )


def _platform_check(env: CliEnv) -> Check:
    """The platform answers ``/v1/health`` and accepts this terminal's credential."""
    import sqlite3  # noqa: PLC0415
    from contextlib import closing  # noqa: PLC0415

    from sync.client import PlatformClient, SyncError, Transient  # noqa: PLC0415
    from sync.job import read_credential  # noqa: PLC0415

    settings = env.settings
    platform = settings.platform
    if not platform.url:
        return Check("platform", "skip", "no [platform] url: the counter works offline")

    def client(credential: str | None = None) -> PlatformClient:
        return PlatformClient(
            platform.url,
            credential,
            connect_timeout=min(platform.connect_timeout, 3.0),
            read_timeout=min(platform.read_timeout, 5.0),
            total_timeout=10.0,
        )

    cursor = "0"  # the terminal's own cursor, so the check reads little and changes nothing
    try:
        with closing(sqlite3.connect(f"file:{settings.database_path}?mode=ro", uri=True)) as db:
            row = db.execute("SELECT value FROM meta WHERE key = 'sync_cursor'").fetchone()
        cursor = str(row[0]) if row and str(row[0]).isdigit() else "0"
    except sqlite3.Error:
        pass
    step = "health"
    try:
        with client() as anonymous:
            anonymous.health()
        step = "credential"
        with client(read_credential(settings)) as paired:
            paired.updates(settings.terminal.id, cursor)
    except Transient as exc:
        return Check(
            "platform",
            "warn",
            f"{platform.url} unreachable ({exc.code}: {exc.message}); events wait in the outbox",
        )
    except SyncError as exc:
        what = (
            "does not answer as a citie platform at /v1/health"
            if step == "health"
            else "refuses this terminal's credential"
        )
        return Check("platform", "fail", f"{platform.url} {what}: {exc.message}", True)
    return Check("platform", "ok", f"{platform.url} is up and accepts this terminal's credential")


def _printer_check(env: CliEnv) -> Check:
    printer = env.settings.printer
    kind = printer.kind.value
    target = printer.target.strip()
    if kind == "none":
        return Check("printer", "skip", "no printer: receipts are shown on screen")
    if kind == "file":
        folder = Path(target).parent
        if folder.is_dir() and os.access(folder, os.W_OK):
            return Check("printer", "ok", f"file {target} can be written")
        return Check("printer", "warn", f"cannot write {target}: check [printer] target")
    if kind == "usb":
        if os.path.exists(target) and os.access(target, os.W_OK):
            return Check("printer", "ok", f"usb {target} present")
        return Check(
            "printer",
            "warn",
            f"no writable printer at {target}: plug it in or fix [printer] target",
        )
    try:
        with socket.create_connection(printer.network_address(), timeout=1.0):
            pass
    except (OSError, ValueError) as exc:
        return Check("printer", "warn", f"network printer {target} unreachable ({exc})")
    return Check("printer", "ok", f"network printer {target} accepts connections")
