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
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import click

from receipts.text import clean
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
    camera_missing_message,
    camera_name,
    expand_images,
    read_image,
)
from terminal.cli_support import CliEnv, Refused, common_options, emit, pass_env
from terminal.i18n import t

if TYPE_CHECKING:
    from loyalty.db import DatabaseError
    from loyalty.keys import KeyFileError

Verdict = dict[str, Any]
"""A code's verdict as ``scan --json`` prints it: ``{"card": ...}`` or ``{"refused": ...}``."""

Say = Callable[..., str]
"""``CliEnv.say``: a sentence of the terminal catalog in the run's language."""

DETAIL_LIMIT = 200
"""Longest value from outside (a path, a URL, a library's message) put into a sentence."""


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


def _value(value: object) -> str:
    """A value from outside (path, URL, device, a library's message) fit for a sentence."""
    return clean(value)[:DETAIL_LIMIT]


def _device(device: str) -> str:
    return _value(camera_name(device))


def _camera_problem(say: Say, device: str, message: str) -> str:
    """What the scanner said about a camera it cannot use, in the run's language."""
    if message == camera_missing_message(device):
        return say("scan.camera_missing", device=_device(device))
    return say("scan.camera_unavailable", device=_device(device), detail=_value(message))


def make_verifier(env: CliEnv) -> Callable[[str], tuple[Verdict, str]]:
    """A verdict function with the ledger's trust list and revocations, read once.

    It gives the verdict as ``--json`` prints it (the refusal's ``message`` in English, for
    programs) and the refusal's sentence in the run's language ("" for a card).
    """
    from loyalty import cards  # noqa: PLC0415  (only scan needs the card verifier)

    settings = env.settings
    if not settings.database_path.exists():
        message = (
            f"no ledger at {settings.database_path}, so no issuer keys to check cards with; "
            "run `citie-terminal init` and pair or import keys"
        )
        said = env.say("scan.not_initialised", path=_value(settings.database_path))
        refused = {"refused": {"reason": "not_initialised", "message": message}}
        return lambda _text: (refused, said)

    from loyalty import schema as _schema  # noqa: F401, PLC0415  (registers migrations)
    from loyalty.db import DatabaseError, Store  # noqa: PLC0415
    from loyalty.trust import CardVerifier  # noqa: PLC0415

    try:
        with Store.open(settings.database_path) as store:
            verifier = CardVerifier.from_db(store.read())
    except DatabaseError as exc:
        raise Refused("database_error", exc.text(env.language), exit_code=3) from exc

    def verdict(text: str) -> tuple[Verdict, str]:
        result = verifier.verify(text)
        if isinstance(result, cards.Card):
            return {"card": result.to_json()}, ""
        refused = {"reason": result.reason.value, "message": result.message}
        return {"refused": refused}, result.text(env.language)

    return verdict


def camera_controls(env: CliEnv) -> CameraControls:
    """The frame rate, exposure and focus to ask the configured camera for."""
    cam = env.settings.camera
    return CameraControls(exposure=cam.exposure, focus=cam.focus)


@dataclass
class _Reporter:
    verdict: Callable[[str], tuple[Verdict, str]]
    as_json: bool
    say: Say
    verified: int = 0
    codes: int = 0

    def code(self, source: str, text: str, decoder: str, decode_ms: float) -> None:
        self.codes += 1
        verdict, sentence = self.verdict(text)
        if "card" in verdict:
            self.verified += 1
        if self.as_json:
            head = {"source": source, "text": text, "decoder": decoder}
            _line({**head, "decode_ms": round(decode_ms, 2), **verdict})
            return
        timing = f"[{decoder} {decode_ms:.1f} ms]"
        if "card" in verdict:
            card = verdict["card"]
            line = self.say(
                "scan.card",
                source=_shown(source),
                card_id=_value(card["card_id"]),
                issuer=_value(card["issuer"]),
                until=_value(card["expires_at"]),
                timing=timing,
            )
        else:
            line = self.say(
                "scan.refused",
                source=_shown(source),
                reason=verdict["refused"]["reason"],
                message=_value(sentence),
                timing=timing,
                text=_shown(text),
            )
        click.echo(line)

    def problem(self, source: str, reason: str, message: str, sentence: str) -> None:
        """A source that gave no code: ``message`` in English for ``--json``, else ``sentence``."""
        if self.as_json:
            _line({"source": source, "error": {"reason": reason, "message": message}})
        else:
            click.echo(f"{_shown(source)}: {reason}: {sentence}", err=True)

    def unreadable(self, path: Path, exc: SourceUnavailable) -> None:
        """A file that is not there, or not a picture or video the decoders can read."""
        if path.exists():
            sentence = self.say("scan.unreadable", detail=_value(exc))
        else:
            sentence = self.say("scan.no_file")
        self.problem(str(path), "unreadable", str(exc), sentence)


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
    least one card was verified, 1 otherwise (no code, or only refused codes). Sentences are
    in the shop's language (or --lang); --json keeps its codes and English messages.
    """
    settings = env.settings
    verdict = make_verifier(env)
    reporter = _Reporter(verdict, as_json, env.say)
    decoders = tuple(settings.camera.decoders)
    if files:
        _scan_files(files, decoders, settings.camera.debounce_seconds, reporter)
    else:
        device = camera
        if device is None:
            if not settings.camera.enabled:
                raise Refused("no_input", env.say("scan.no_input"))
            device = settings.camera.device
        spec = SourceSpec.camera(
            device, settings.camera.width, settings.camera.height, camera_controls(env)
        )
        _scan_camera(spec, decoders, settings.camera.debounce_seconds, seconds, count, reporter)
    if not as_json:
        click.echo(
            env.say("scan.summary", codes=reporter.codes, verified=reporter.verified), err=True
        )
    if reporter.verified == 0:
        raise click.exceptions.Exit(1)


def _scan_files(
    files: tuple[Path, ...], decoders: tuple[str, ...], debounce_s: float, reporter: _Reporter
) -> None:
    say = reporter.say
    try:
        pipeline = Pipeline(decoders)
    except DecoderUnavailable as exc:
        raise Refused(
            "no_decoder", say("scan.no_decoder", detail=_value(exc)), exit_code=3
        ) from exc
    for path in files:
        if path.is_file() and path.suffix.lower() in VIDEO_SUFFIXES:
            _scan_video(path, pipeline, debounce_s, reporter)
            continue
        if path.is_dir():
            found = list(expand_images([path]))
            if not found:
                reporter.problem(
                    str(path),
                    "no_images",
                    "this folder holds no image files",
                    say("scan.no_images"),
                )
        else:
            found = [path]
        for image_path in found:
            try:
                image = read_image(image_path)
            except SourceUnavailable as exc:
                reporter.unreadable(image_path, exc)
                continue
            result = pipeline.decode(image)
            if not result.codes:
                reporter.problem(
                    str(image_path),
                    "no_code",
                    "no QR code found in this image",
                    say("scan.no_code_in_image"),
                )
            for code in result.codes:
                reporter.code(str(image_path), code.text, code.decoder, result.decode_ms)


def _scan_video(path: Path, pipeline: Pipeline, debounce_s: float, reporter: _Reporter) -> None:
    source = VideoFileSource(path)
    try:
        source.open()
    except SourceUnavailable as exc:
        reporter.unreadable(path, exc)
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
        reporter.problem(
            str(path),
            "no_code",
            "no QR code found in this video",
            reporter.say("scan.no_code_in_video"),
        )


def _scan_camera(
    spec: SourceSpec,
    decoders: tuple[str, ...],
    debounce_s: float,
    seconds: float | None,
    count: int | None,
    reporter: _Reporter,
) -> None:
    say = reporter.say
    deadline = None if seconds is None else time.monotonic() + seconds
    with ScannerProcess(spec, decoders, debounce_s) as scanner:
        try:
            while deadline is None or time.monotonic() < deadline:
                event = scanner.next_event(timeout=0.2)
                if isinstance(event, CameraUnavailable):
                    raise Refused(
                        "camera_unavailable", _camera_problem(say, spec.target, event.message)
                    )
                if isinstance(event, ScannerCrashed):
                    click.echo(say("scan.scanner_restarted", reason=_value(event.reason)), err=True)
                if isinstance(event, CodeRead):
                    reporter.code(spec.target, event.text, event.decoder, event.decode_ms)
                    if count is not None and reporter.codes >= count:
                        return
        except KeyboardInterrupt:
            return


# -- doctor --------------------------------------------------------------------------------

Status = Literal["ok", "warn", "fail", "skip"]
STATUSES: tuple[Status, ...] = ("ok", "warn", "fail", "skip")


@dataclass(frozen=True)
class Said:
    """A doctor's sentence in English (``--json`` ``detail``) and in the run's language."""

    en: str
    text: str

    def aside(self, other: Said) -> Said:
        """This sentence with ``other`` after it in brackets."""
        return Said(f"{self.en} ({other.en})", f"{self.text} ({other.text})")


class _Words:
    """The terminal catalog in English and in the run's language, for the doctor's checks."""

    def __init__(self, language: str) -> None:
        self.language = language

    def __call__(self, key: str, /, **params: Any) -> Said:
        return Said(t(key, "en", **params), t(key, self.language, **params))

    def label(self, key: str, /, **params: Any) -> str:
        """A check's name for the shopkeeper (programs read its English ``name``)."""
        return t(key, self.language, **params)

    def error(self, exc: DatabaseError | KeyFileError) -> Said:
        """A ledger or key file error: its own sentence, which says what to do."""
        return Said(_value_long(exc.text("en")), _value_long(exc.text(self.language)))

    def technical(self, key: str, /, full: str, short: str, **params: Any) -> Said:
        """``key`` with an English library message as its ``detail``: in full in English,
        only its ``short`` codes in another language (the sentence already says it)."""
        en = t(key, "en", detail=_value(full), **params)
        if self.language == "en":
            return Said(en, en)
        return Said(en, t(key, self.language, detail=_value(short), **params))

    def value(self, value: object) -> Said:
        """A value from outside, the same in every language."""
        return Said(_value(value), _value(value))


def _value_long(text: str) -> str:
    # A library sentence that names a path and the fix: longer than a bare value.
    return clean(text)[: DETAIL_LIMIT * 3]


@dataclass(frozen=True)
class Check:
    """One line of the doctor's checklist.

    ``name`` and ``status`` are stable English codes and ``detail`` the English sentence
    (``doctor --json`` is read by programs); ``label`` and ``said.text`` are the name and
    the sentence in the run's language.
    """

    name: str
    status: Status
    said: Said
    required: bool = False
    label: str = ""

    @property
    def detail(self) -> str:
        """The sentence in English."""
        return self.said.en

    def to_json(self) -> dict[str, Any]:
        """The check as ``doctor --json`` prints it: English codes and sentence, and ``text``."""
        return {
            "name": self.name,
            "status": self.status,
            "detail": self.said.en,
            "required": self.required,
            "text": self.said.text,
        }


@click.command()
@click.option("--json", "as_json", is_flag=True, help="One JSON object with every check.")
@click.option("--camera-seconds", type=float, default=1.5, help="How long to watch the camera.")
@common_options
@pass_env
def doctor(env: CliEnv, as_json: bool, camera_seconds: float) -> None:
    """Check the camera, decoders, database, platform and printer; say what to fix.

    Exit status 1 only when something the counter needs is broken (a QR decoder, the
    database); a missing camera, platform or printer is a warning, since the counter works
    without them (typed codes, offline, on-screen receipts). Lines are in the shop's
    language (or --lang); with --json each check keeps its English name, status and detail,
    and "text" says the detail in that language.
    """
    checks = list(_doctor_checks(env, camera_seconds))
    broken = [c for c in checks if c.status == "fail" and c.required]
    if as_json:
        emit(
            {
                "ok": not broken,
                "language": env.language,
                "checks": [c.to_json() for c in checks],
            }
        )
    else:
        words = {status: env.say(f"doctor.status.{status}") for status in STATUSES}
        width = max(len(word) for word in words.values())
        required = env.say("doctor.required")
        for c in checks:
            need = f" ({required})" if c.required and c.status == "fail" else ""
            click.echo(f"[{words[c.status]:>{width}}] {c.label or c.name}: {c.said.text}{need}")
        if broken:
            click.echo(env.say("doctor.summary_failed", count=len(broken)))
        else:
            click.echo(env.say("doctor.summary_ok"))
    if broken:
        raise click.exceptions.Exit(1)


def _doctor_checks(env: CliEnv, camera_seconds: float) -> Iterator[Check]:
    settings = env.settings
    words = _Words(env.language)
    yield from _decoder_checks(words, tuple(settings.camera.decoders))
    yield _camera_check(env, words, camera_seconds)
    yield from _database_checks(env, words)
    yield _platform_check(env, words)
    yield _printer_check(env, words)


PACKAGES = {"zxing": "zxing-cpp", "zbar": "pyzbar", "opencv": "opencv-python-headless"}
"""The Python package each decoder comes from, named in the doctor's fix."""


def _decoder_checks(say: _Words, configured: tuple[str, ...]) -> Iterator[Check]:
    versions = decoder_versions()
    for name in ("zxing", "zbar", "opencv"):
        found = versions.get(name)
        label = say.label("doctor.check.decoder", decoder=name)
        if found is not None:
            use = "doctor.decoder.in_use" if name in configured else "doctor.decoder.unused"
            detail = say(use, version=_value(found))
            if name == "zbar":
                library = ctypes.util.find_library("zbar")
                where = say.value(library) if library else say("doctor.decoder.zbar_by_pyzbar")
                detail = detail.aside(where)
            yield Check(f"decoder {name}", "ok", detail, name == "zxing", label)
        elif name == "zbar":
            yield Check("decoder zbar", "warn", say("doctor.decoder.zbar_missing"), label=label)
        else:
            detail = say("doctor.decoder.broken", package=PACKAGES[name])
            yield Check(f"decoder {name}", "fail", detail, True, label)
    label = say.label("doctor.check.self_test")
    try:
        pipeline = Pipeline(configured)
    except DecoderUnavailable as exc:
        detail = say("doctor.self_test.no_decoder", detail=_value(exc))
        yield Check("decode self-test", "fail", detail, True, label)
        return
    image = _test_code_image("CT1:DOCTOR-SELF-TEST")
    result = pipeline.decode(image)
    if [c.text for c in result.codes] == ["CT1:DOCTOR-SELF-TEST"]:
        detail = say(
            "doctor.self_test.ok",
            ms=f"{result.decode_ms:.1f}",
            decoder=result.codes[0].decoder,
        )
        yield Check("decode self-test", "ok", detail, True, label)
    else:
        detail = say("doctor.self_test.failed")
        yield Check("decode self-test", "fail", detail, True, label)


def _test_code_image(text: str) -> Any:
    import numpy as np  # noqa: PLC0415
    import qrcode  # noqa: PLC0415

    code = qrcode.QRCode(box_size=4, border=4)
    code.add_data(text)
    code.make(fit=True)
    modules = np.array(code.get_matrix(), dtype=bool)
    small = np.where(modules, 0, 255).astype(np.uint8)
    return np.kron(small, np.ones((4, 4), dtype=np.uint8))


def _camera_check(env: CliEnv, say: _Words, seconds: float) -> Check:
    cam = env.settings.camera
    label = say.label("work.camera")
    device = _device(cam.device)
    if not cam.enabled:
        return Check("camera", "skip", say("doctor.camera.disabled"), label=label)
    source = CameraSource(cam.device, cam.width, cam.height, camera_controls(env))
    try:
        width, height = source.open()
    except SourceUnavailable as exc:
        # open() fails one of two ways: no device there, or a device that gives no picture.
        if str(exc) == camera_missing_message(cam.device):
            return Check("camera", "warn", say("scan.camera_missing", device=device), label=label)
        return Check("camera", "warn", say("doctor.camera.no_picture", device=device), label=label)
    try:
        pipeline = Pipeline(tuple(cam.decoders))
        times: list[float] = []
        frames = 0
        start = time.monotonic()
        while time.monotonic() - start < seconds:
            try:
                frame = source.read()
            except SourceUnavailable:
                detail = say("doctor.camera.stopped", device=device)
                return Check("camera", "warn", detail, label=label)
            if frame is None:
                break
            frames += 1
            times.append(pipeline.decode(frame.image).decode_ms)
        elapsed = max(time.monotonic() - start, 1e-6)
    finally:
        source.close()
    median = statistics.median(times) if times else float("nan")
    granted = source.granted
    detail = say(
        "doctor.camera.ok",
        device=device,
        width=width,
        height=height,
        fps=f"{frames / elapsed:.1f}",
        asked_width=cam.width,
        asked_height=cam.height,
        asked_fps=source.controls.fps,
        size=_value(granted.get("size", "?")),
        format=_value(granted.get("format", "?")),
        granted_fps=_value(granted.get("fps", "?")),
        exposure=_value(granted.get("exposure", "?")),
        focus=_value(granted.get("focus", "?")),
        median=f"{median:.1f}",
    )
    return Check("camera", "ok", detail, label=label)


def _database_checks(env: CliEnv, say: _Words) -> Iterator[Check]:
    settings = env.settings
    path = settings.database_path
    label = say.label("doctor.check.database")
    if not path.exists():
        detail = say("doctor.database.missing", path=_value(path))
        yield Check("database", "fail", detail, True, label)
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
        yield Check("database", "fail", say.error(exc), True, label)
        return
    detail = say("doctor.database.ok", path=_value(path), events=events)
    yield Check("database", "ok", detail, True, label)
    label = say.label("doctor.check.private_key")
    try:
        check_private(settings.private_key_path)
    except KeyFileError as exc:
        yield Check("private key", "fail", say.error(exc), True, label)
    else:
        detail = say("doctor.private_key.ok", path=_value(settings.private_key_path))
        yield Check("private key", "ok", detail, True, label)
    label = say.label("doctor.check.issuer_keys")
    if trust.keys:
        detail = say("doctor.issuer_keys.ok", version=trust.version, count=len(trust.keys))
        yield Check("issuer keys", "ok", detail, label=label)
    else:
        yield Check("issuer keys", "warn", say("doctor.issuer_keys.none"), label=label)


def _platform_check(env: CliEnv, say: _Words) -> Check:
    """The platform answers ``/v1/health`` and accepts this terminal's credential."""
    import sqlite3  # noqa: PLC0415
    from contextlib import closing  # noqa: PLC0415

    from sync.client import PlatformClient, SyncError, Transient  # noqa: PLC0415
    from sync.job import read_credential  # noqa: PLC0415

    settings = env.settings
    platform = settings.platform
    label = say.label("doctor.check.platform")
    if not platform.url:
        return Check("platform", "skip", say("doctor.platform.none"), label=label)
    url = _value(platform.url)

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
    except SyncError as exc:
        if isinstance(exc, Transient):
            status: Status = "warn"
            key = "doctor.platform.unreachable"
        else:
            status = "fail"
            key = "doctor.platform.not_citie" if step == "health" else "doctor.platform.refused"
        http = getattr(exc, "status", None)
        short = f"{exc.code} {http}" if isinstance(http, int) else exc.code
        detail = say.technical(key, f"{exc.code}: {exc.message}", short, url=url)
        return Check("platform", status, detail, status == "fail", label)
    return Check("platform", "ok", say("doctor.platform.ok", url=url), label=label)


def _printer_check(env: CliEnv, say: _Words) -> Check:
    printer = env.settings.printer
    kind = printer.kind.value
    target = printer.target.strip()
    shown = _value(target)
    label = say.label("work.printer")

    def check(status: Status, key: str, **params: str) -> Check:
        return Check("printer", status, say(key, target=shown, **params), label=label)

    if kind == "none":
        return check("skip", "doctor.printer.none")
    if kind == "file":
        folder = Path(target).parent
        if folder.is_dir() and os.access(folder, os.W_OK):
            return check("ok", "doctor.printer.file_ok")
        return check("warn", "doctor.printer.file_unwritable")
    if kind == "usb":
        if os.path.exists(target) and os.access(target, os.W_OK):
            return check("ok", "doctor.printer.usb_ok")
        return check("warn", "doctor.printer.usb_missing")
    try:
        with socket.create_connection(printer.network_address(), timeout=1.0):
            pass
    except (OSError, ValueError) as exc:
        return check("warn", "doctor.printer.network_unreachable", detail=_value(exc))
    return check("ok", "doctor.printer.network_ok")
