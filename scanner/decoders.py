"""QR decoders behind one small interface, and the pipeline that decides which to try when.

Every decoder reads QR codes only (Model 2: no Micro QR, no rMQR, no other symbology) from one
grey ``uint8`` image: the frame is converted once, in ``Pipeline.decode``, because pyzbar
reads only the first (blue) channel of a BGR array. No decoder lets an exception out: a
library error on some content (OpenCV raises ``UnicodeDecodeError`` on a code whose bytes
are not UTF-8) is contained, and content that is not UTF-8 text comes out with U+FFFD in
place of the bad bytes, which the card verifier refuses as ``not_a_card``.

The pipeline runs zxing-cpp first and spends the rest of a per-frame deadline on further
steps in the order bench/scanner.py measured them to pay; see ``Pipeline``.
"""

from __future__ import annotations

import functools
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from importlib.metadata import PackageNotFoundError, version
from typing import Any, Protocol

import cv2
import numpy as np
import zxingcpp
from numpy.typing import NDArray

log = logging.getLogger(__name__)

Image = NDArray[np.uint8]
Quad = tuple[tuple[int, int], ...]

DECODER_NAMES = ("zxing", "zbar", "opencv")

QR_MIN_MODULES = 21
"""The smallest QR code (version 1) is 21 modules wide; Micro QR is 11 to 17."""


class DecoderUnavailable(RuntimeError):
    """A decoder's library is not installed or cannot load (e.g. libzbar0 missing)."""


@dataclass(frozen=True)
class Decoded:
    """One code read from one image."""

    text: str
    decoder: str
    corners: Quad = ()


class Decoder(Protocol):
    """Reads QR codes from a grey image; never raises on image content."""

    name: str

    def decode(self, grey: Image) -> list[Decoded]:
        """Every QR code read in ``grey`` (empty list when none)."""
        ...


def to_grey(image: NDArray[Any]) -> Image:
    """A contiguous 2-D ``uint8`` image from a grey, BGR or BGRA frame."""
    if image.dtype != np.uint8:
        image = np.clip(image, 0, 255).astype(np.uint8)
    if image.ndim == 3 and image.shape[2] == 3:
        return cv2.cvtColor(image, cv2.COLOR_BGR2GRAY).astype(np.uint8)
    if image.ndim == 3 and image.shape[2] == 4:
        return cv2.cvtColor(image, cv2.COLOR_BGRA2GRAY).astype(np.uint8)
    if image.ndim == 3 and image.shape[2] == 1:
        image = image[:, :, 0]
    if image.ndim != 2:
        raise ValueError(f"not an image: shape {image.shape}")
    return np.ascontiguousarray(image)


def text_of(data: bytes) -> str:
    """A code's bytes as text: UTF-8, with U+FFFD for bytes that are not (binary content)."""
    return data.decode("utf-8", errors="replace")


def _package_version(name: str) -> str:
    try:
        return version(name)
    except PackageNotFoundError:
        return "unknown"


class ZxingDecoder:
    """zxing-cpp, QR Model 2 only: the fast default (about 1-3 ms on a 1280x720 frame here)."""

    name = "zxing"

    def __init__(self, *, try_invert: bool = False, try_downscale: bool = True) -> None:
        self._zx: Any = zxingcpp
        # QRCodeModel2, not QRCode: in zxing-cpp 3.1 QRCode is a family that includes Micro QR,
        # which background clutter can fake (a phantom code from a sharpened texture).
        self._format = zxingcpp.BarcodeFormat.QRCodeModel2
        self._accepted = {zxingcpp.BarcodeFormat.QRCode, zxingcpp.BarcodeFormat.QRCodeModel2}
        self.try_invert = try_invert
        self.try_downscale = try_downscale

    @staticmethod
    def version() -> str:
        """The installed zxing-cpp version."""
        return _package_version("zxing-cpp")

    def decode(self, grey: Image) -> list[Decoded]:
        """Codes read in ``grey``."""
        return self.scan(grey)[0]

    def scan(
        self,
        grey: Image,
        *,
        scale: float = 1.0,
        binarizer: str = "LocalAverage",
        try_invert: bool | None = None,
    ) -> tuple[list[Decoded], list[Quad]]:
        """Codes read, and where zxing located codes it could not decode (frame pixels).

        ``scale`` is the size of ``grey`` relative to the frame: corners come back in frame
        pixels. ``binarizer`` names a ``zxingcpp.Binarizer`` (LocalAverage is zxing's default).
        """
        try:
            results = self._zx.read_barcodes(
                grey,
                formats=self._format,
                try_rotate=True,
                try_downscale=self.try_downscale,
                try_invert=self.try_invert if try_invert is None else try_invert,
                binarizer=getattr(self._zx.Binarizer, binarizer),
                # Plain: the text as encoded. The default (HRI) turns ESC into "<ESC>", which
                # would hide what a code really holds from the verifier and the logs.
                text_mode=self._zx.TextMode.Plain,
                return_errors=True,
            )
        except Exception:  # contained: a library fault must not end the scanner
            log.exception("zxing-cpp failed on a %s image", grey.shape)
            return [], []
        codes: list[Decoded] = []
        located: list[Quad] = []
        for barcode in results:
            if barcode.format not in self._accepted:
                continue
            corners = _zxing_corners(barcode, scale)
            if barcode.error is not None or not barcode.valid:
                located.append(corners)
                continue
            codes.append(Decoded(_zxing_text(barcode), self.name, corners))
        return codes, located


def _zxing_text(barcode: Any) -> str:
    data = bytes(barcode.bytes)
    if barcode.content_type == zxingcpp.ContentType.Binary or not barcode.text:
        # zxing shows binary bytes as Latin-1 text; a card is ASCII, so both views refuse it,
        # but the strict UTF-8 view is the same whichever decoder read the code.
        return text_of(data) if data else str(barcode.text)
    return str(barcode.text)


def _zxing_corners(barcode: Any, scale: float = 1.0) -> Quad:
    pos = barcode.position
    return tuple(
        (round(p.x / scale), round(p.y / scale))
        for p in (pos.top_left, pos.top_right, pos.bottom_right, pos.bottom_left)
    )


class ZbarDecoder:
    """pyzbar on libzbar, QR only (about 30 ms per 1280x720 frame here; zbar has no Micro QR)."""

    name = "zbar"

    def __init__(self) -> None:
        try:
            # Imported here: pyzbar raises ImportError at import when libzbar0 is missing.
            from pyzbar import pyzbar  # noqa: PLC0415
        except ImportError as exc:  # libzbar0 missing raises ImportError from pyzbar
            raise DecoderUnavailable(
                f"pyzbar cannot load libzbar ({exc}); install it with "
                "`apt-get install --no-install-recommends libzbar0`"
            ) from exc
        self._pz: Any = pyzbar
        self._symbols = [pyzbar.ZBarSymbol.QRCODE]

    @staticmethod
    def version() -> str:
        """The installed pyzbar version and the libzbar it loaded."""
        return _package_version("pyzbar")

    def decode(self, grey: Image) -> list[Decoded]:
        """Codes read in ``grey``."""
        try:
            symbols = self._pz.decode(grey, symbols=self._symbols)
        except Exception:  # contained: a library fault must not end the scanner
            log.exception("pyzbar failed on a %s image", grey.shape)
            return []
        codes: list[Decoded] = []
        for symbol in symbols:
            corners = tuple((int(p.x), int(p.y)) for p in symbol.polygon)
            codes.append(Decoded(text_of(bytes(symbol.data)), self.name, corners))
        return codes


class OpencvDecoder:
    """OpenCV's QRCodeDetector (slow, about 60 ms per 1280x720 frame; used on located codes)."""

    name = "opencv"

    def __init__(self) -> None:
        self._detector = cv2.QRCodeDetector()

    @staticmethod
    def version() -> str:
        """The OpenCV version."""
        return str(cv2.__version__)

    def decode(self, grey: Image) -> list[Decoded]:
        """Codes read in ``grey``."""
        try:
            ok, texts, points, straight = self._detector.detectAndDecodeMulti(grey)
        except UnicodeDecodeError as exc:
            # The binding decodes the code's bytes as UTF-8 and raises on binary content:
            # the bytes are in the exception, so the code is still reported (and refused).
            return [Decoded(text_of(bytes(exc.object)), self.name)]
        except Exception:  # cv2.error and anything else: contained
            log.exception("OpenCV failed on a %s image", grey.shape)
            return []
        if not ok:
            return []
        codes: list[Decoded] = []
        for i, text in enumerate(texts):
            if not text:
                continue
            # The rectified code is one pixel per module: Micro QR is under 21 wide.
            if _modules(straight, i) < QR_MIN_MODULES:
                continue
            corners: Quad = ()
            if points is not None and len(points) > i:
                corners = tuple((int(x), int(y)) for x, y in points[i])
            codes.append(Decoded(str(text), self.name, corners))
        return codes


def _modules(straight: Any, i: int) -> int:
    if straight is None or len(straight) <= i or straight[i] is None:
        return QR_MIN_MODULES  # not given: leave the code in
    return int(min(np.shape(straight[i])[:2]))


class _ZxingDeblur:
    """zxing on sharpened copies of a located code's region, for blur (``roi_deblur``).

    On a crop of a few hundred pixels this is cheap (under 1 ms here): a strong unsharp mask
    at the crop's size, then at twice its size, where a 2-3 px module is large enough for
    the mask to restore edges that defocus or motion spread over a module.
    """

    name = "roi_deblur"

    def __init__(self, zxing: ZxingDecoder) -> None:
        self._zxing = zxing

    def decode(self, grey: Image) -> list[Decoded]:
        """Codes read in ``grey`` after sharpening."""
        codes = self._zxing.scan(_unsharp(grey, 1.5, 3.0))[0]
        # Twice the size only for small crops: on a large one the modules are big enough
        # already and zxing on the 4x area costs 10 ms for nothing.
        if not codes and max(grey.shape) <= ROI_UPSCALE_MAX_PX:
            up = cv2.resize(grey, None, fx=2.0, fy=2.0, interpolation=cv2.INTER_CUBIC)
            codes = self._zxing.scan(_unsharp(up.astype(np.uint8), 3.0, 2.0), scale=2.0)[0]
        return [replace(c, decoder=self.name) for c in codes]


def make_decoder(name: str) -> Decoder:
    """A decoder by its config name: zxing, zbar or opencv (``DecoderUnavailable`` if absent)."""
    if name == "zxing":
        return ZxingDecoder()
    if name == "zbar":
        return ZbarDecoder()
    if name == "opencv":
        return OpencvDecoder()
    raise ValueError(f"unknown decoder {name!r}: choose from {', '.join(DECODER_NAMES)}")


def decoder_versions() -> dict[str, str | None]:
    """Each decoder's version, or None when it cannot load here."""
    found: dict[str, str | None] = {}
    for name, cls in (("zxing", ZxingDecoder), ("zbar", ZbarDecoder), ("opencv", OpencvDecoder)):
        try:
            make_decoder(name)
        except (DecoderUnavailable, ImportError):
            found[name] = None
        else:
            found[name] = cls.version()
    return found


def _contained(decoder: Decoder, image: Image) -> Callable[[], list[Decoded]]:
    """``decoder.decode(image)`` as a call that returns [] rather than raise."""

    def run() -> list[Decoded]:
        try:
            return decoder.decode(image)
        except Exception:  # every decoder contains its own; this is the last line
            log.exception("decoder %s failed", decoder.name)
            return []

    return run


def _merge(regions: list[Quad], shape: tuple[int, ...]) -> list[tuple[int, int, int, int]]:
    """Boxes around located codes, with a margin for the quiet zone, largest first."""
    height, width = shape[:2]
    boxes: list[tuple[int, int, int, int]] = []
    for quad in regions:
        if not quad:
            continue
        xs = [x for x, _ in quad]
        ys = [y for _, y in quad]
        side = max(max(xs) - min(xs), max(ys) - min(ys), 8)
        margin = side // 3 + 4
        box = (
            max(0, min(xs) - margin),
            max(0, min(ys) - margin),
            min(width, max(xs) + margin),
            min(height, max(ys) + margin),
        )
        if box[2] - box[0] < 8 or box[3] - box[1] < 8:
            continue
        if any(_overlap(box, other) > 0.5 for other in boxes):
            continue
        boxes.append(box)
    return sorted(boxes, key=lambda b: (b[2] - b[0]) * (b[3] - b[1]), reverse=True)


def _light_on_dark(crop: Image) -> bool:
    """True when a located code's surroundings are darker than the code (dark mode).

    The crop's outer band is the quiet zone and beyond: light around a printed code, dark
    around a code on a phone in dark mode.
    """
    height, width = crop.shape
    band = max(2, min(height, width) // 10)
    inner = crop[band:-band, band:-band]
    if inner.size == 0:
        return False
    ring_sum = float(crop.sum(dtype=np.int64)) - float(inner.sum(dtype=np.int64))
    ring_mean = ring_sum / max(crop.size - inner.size, 1)
    return ring_mean < float(inner.mean())


def _overlap(a: tuple[int, int, int, int], b: tuple[int, int, int, int]) -> float:
    w = min(a[2], b[2]) - max(a[0], b[0])
    h = min(a[3], b[3]) - max(a[1], b[1])
    if w <= 0 or h <= 0:
        return 0.0
    smaller = min((a[2] - a[0]) * (a[3] - a[1]), (b[2] - b[0]) * (b[3] - b[1]))
    return (w * h) / max(smaller, 1)


def _shifted(code: Decoded, dx: int, dy: int) -> Decoded:
    return replace(code, corners=tuple((x + dx, y + dy) for x, y in code.corners))


@dataclass(frozen=True)
class PipelineResult:
    """What one frame gave: the codes, the time spent, the steps tried and those skipped."""

    codes: list[Decoded]
    decode_ms: float
    steps: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    """Steps left out because their expected cost would have passed the frame's deadline."""
    step_ms: list[float] = field(default_factory=list)
    """What each step in ``steps`` took, in the same order."""


# Expected cost of each step in ms per megapixel before the pipeline has measured it here.
_FIRST_GUESS_MS_PER_MP = {"zbar": 40.0, "opencv": 80.0, "roi_deblur": 15.0}
_DEFAULT_GUESS_MS_PER_MP = 3.0

DEFAULT_DEADLINE_MS = 25.0
"""A frame's decoding ends within this: inside a 30 fps frame period with room for capture
and the pipe. On an idle machine every default step fits in under 10 ms; the deadline bites
only under load, and 15 ms there cut the last steps (2 points fewer hard frames read)."""
_MIN_MP = 0.02

_BINARIZERS = {"global": "GlobalHistogram", "fixed": "FixedThreshold"}
"""Steps that give zxing the frame as it is, with another of its binarisers."""

ROI_UPSCALE_MAX_PX = 240
"""``roi_deblur`` doubles a located region's size only up to this many pixels a side."""

ROI_STEPS = frozenset({"zbar", "opencv", "roi_deblur"})
"""Steps that run only on the regions where zxing located a code it could not decode."""


class Pipeline:
    """zxing first; on a miss, more steps while they fit the frame's deadline.

    Every step has an expected cost (a running mean of what it took here, per megapixel): a
    step starts only if the time spent plus its expected cost stays within ``deadline_ms``,
    so a loaded machine skips the last steps instead of overrunning the frame period. The
    order is by measured yield per millisecond on camera-like frames (``bench/scanner.py
    --steps``: which step first read a frame, and what it cost when it ran):

    * ``zxing`` itself also tries the inverted image (zxing's ``try_invert``), for phones
      in dark mode: a fifth of the hard frames are read only that way, so it is part of the
      first pass and runs whatever the load (as a separate ``invert`` step after a slow
      first pass, the deadline cut it on a loaded machine).
    * ``global``: zxing's GlobalHistogram binariser on the same pixels (about 1% of first
      reads, and the cheapest step: 0.4 ms).
    * ``fixed``: zxing's FixedThreshold binariser, with the inverted image too (about 1%:
      small and defocused codes LocalAverage misses; 144 -> 146 of 180 hard frames).
    * ``half_sharpen``: zxing on a half-size, strongly unsharp-masked copy, for defocus
      (about 1%); it also locates blurred codes for the region steps.
    * ``zbar`` and ``opencv`` (the other configured decoders), only on the regions where
      zxing located a code it could not decode, cropped with a margin (inverted when the
      code is light on dark): on a whole 720p frame they cost 30-60 ms (OpenCV once took
      18 s) and read nothing zxing misses; on a located card they cost a few ms, and the
      deadline leaves them out when it is short. Without zxing configured the decoders
      read the whole frame.

    Measured and left out of the default: ``roi_deblur`` (sharpening a located region, for
    motion blur and defocus: in bench/time_to_read.py the pipeline without it reads the
    clips as early, and on still frames it read 0-3 of 180 after the other steps),
    ``equalize`` (CLAHE; 0-2 of 180),
    ``sharpen`` (3% first reads at three times the cost of ``global``), ``otsu``,
    ``upscale``, ``blur``, ``half_sharpen_wide``. Which steps run is a constructor argument
    so the bench can measure each one.
    """

    DEFAULT_FALLBACKS: tuple[str, ...] = ("global", "fixed", "half_sharpen")

    def __init__(
        self,
        decoders: Sequence[str] = DECODER_NAMES,
        *,
        deadline_ms: float = DEFAULT_DEADLINE_MS,
        fallbacks: Sequence[str] = DEFAULT_FALLBACKS,
        invert_first: bool = True,
    ) -> None:
        self.deadline_ms = deadline_ms
        self.invert_first = invert_first
        self.fallbacks = tuple(fallbacks)
        self.unavailable: dict[str, str] = {}
        self._zxing: ZxingDecoder | None = None
        self._others: list[Decoder] = []
        for name in decoders:
            try:
                decoder = make_decoder(name)
            except DecoderUnavailable as exc:
                self.unavailable[name] = str(exc)
                continue
            if isinstance(decoder, ZxingDecoder):
                self._zxing = decoder
            else:
                self._others.append(decoder)
        if self._zxing is None and not self._others:
            raise DecoderUnavailable(
                "no QR decoder can load: " + "; ".join(self.unavailable.values())
            )
        self._clahe = cv2.createCLAHE(clipLimit=3.0, tileGridSize=(8, 8))
        self._cost: dict[str, float] = {}

    @property
    def decoder_names(self) -> list[str]:
        """The decoders that loaded, in the order they are tried."""
        names = ["zxing"] if self._zxing is not None else []
        return names + [d.name for d in self._others]

    def expected_ms(self, step: str, megapixels: float) -> float:
        """What ``step`` is expected to cost on an image of this size, from what it took here."""
        per_mp = self._cost.get(step, _FIRST_GUESS_MS_PER_MP.get(step, _DEFAULT_GUESS_MS_PER_MP))
        return per_mp * max(megapixels, _MIN_MP)

    def _measured(self, step: str, megapixels: float, ms: float) -> None:
        # Below _MIN_MP a step's fixed overhead dominates: counted as that size, a 1x1 image
        # does not teach that a megapixel costs seconds.
        per_mp = ms / max(megapixels, _MIN_MP)
        old = self._cost.get(step)
        # A running mean that follows the machine's load within a few frames; one very slow
        # frame (a page fault, a preempted core) moves it, but not for long.
        self._cost[step] = per_mp if old is None else 0.8 * old + 0.2 * per_mp

    def decode(self, frame: NDArray[Any]) -> PipelineResult:
        """Decode one frame (grey, BGR or BGRA); never raises on pixel content."""
        start = time.perf_counter()
        grey = to_grey(frame)
        megapixels = grey.size / 1e6
        steps: list[str] = []
        skipped: list[str] = []
        step_ms: list[float] = []
        regions: list[Quad] = []

        def spent() -> float:
            return (time.perf_counter() - start) * 1000.0

        def fits(step: str, mp: float) -> bool:
            if spent() + self.expected_ms(step, mp) <= self.deadline_ms:
                return True
            skipped.append(step)
            return False

        def timed(step: str, mp: float, run: Callable[[], list[Decoded]]) -> list[Decoded]:
            steps.append(step)
            began = time.perf_counter()
            codes = run()
            took = (time.perf_counter() - began) * 1000.0
            step_ms.append(took)
            self._measured(step, mp, took)
            return codes

        def done(codes: list[Decoded]) -> PipelineResult:
            return PipelineResult(_unique(codes), spent(), steps, skipped, step_ms)

        zxing = self._zxing
        if zxing is None:
            # No locator: the configured decoders read the whole frame, within the deadline
            # after the first one.
            for i, decoder in enumerate(self._others):
                if i and not fits(decoder.name, megapixels):
                    continue
                codes = timed(decoder.name, megapixels, _contained(decoder, grey))
                if codes:
                    return done(codes)
            return done([])

        def zxing_step(step: str) -> list[Decoded]:
            variant, scale = self._variant(step, grey)
            binarizer = _BINARIZERS.get(step, "LocalAverage")
            # The first pass tries the inverted image too (zxing's own try_invert): dark
            # mode phones are a fifth of the reads, so it must run whatever the load.
            invert_too = step in ("zxing", "fixed") and self.invert_first
            codes, located = zxing.scan(
                variant, scale=scale, binarizer=binarizer, try_invert=invert_too
            )
            regions.extend(located)
            return codes

        codes = timed("zxing", megapixels, lambda: zxing_step("zxing"))
        if codes:
            return done(codes)
        for step in self.fallbacks:
            if step in ROI_STEPS or not fits(step, megapixels):
                continue
            codes = timed(step, megapixels, functools.partial(zxing_step, step))
            if codes:
                return done(codes)
        if not regions:
            return done([])
        roi_steps: list[tuple[str, Decoder]] = [
            (name, _ZxingDeblur(zxing)) for name in self.fallbacks if name == "roi_deblur"
        ] + [(d.name, d) for d in self._others]
        for x0, y0, x1, y1 in _merge(regions, grey.shape)[:2]:
            crop = np.ascontiguousarray(grey[y0:y1, x0:x1])
            if _light_on_dark(crop):  # zbar and OpenCV read dark modules only
                crop = cv2.bitwise_not(crop).astype(np.uint8)
            crop_mp = crop.size / 1e6
            for name, decoder in roi_steps:
                if not fits(name, crop_mp):
                    continue
                found = timed(name, crop_mp, _contained(decoder, crop))
                if found:
                    return done([_shifted(code, x0, y0) for code in found])
        return done([])

    def _variant(self, step: str, grey: Image) -> tuple[Image, float]:
        """The image a fallback step hands to zxing, and its scale relative to the frame."""
        if step in ("zxing", *_BINARIZERS):  # the same pixels; only the binariser changes
            return grey, 1.0
        if step == "invert":
            return cv2.bitwise_not(grey).astype(np.uint8), 1.0
        if step == "half_sharpen":
            return _unsharp(_half(grey), 1.0, 8.0), 0.5
        if step == "half_sharpen_wide":
            return _unsharp(_half(grey), 2.0, 3.0), 0.5
        if step == "equalize":
            return self._clahe.apply(grey).astype(np.uint8), 1.0
        if step == "upscale":
            up = cv2.resize(grey, None, fx=1.5, fy=1.5, interpolation=cv2.INTER_LINEAR)
            return up.astype(np.uint8), 1.5
        if step == "sharpen":
            return _unsharp(grey, 1.5, 0.8), 1.0
        if step == "blur":
            return cv2.GaussianBlur(grey, (0, 0), 1.5).astype(np.uint8), 1.0
        if step == "otsu":
            _, binary = cv2.threshold(grey, 0, 255, cv2.THRESH_BINARY + cv2.THRESH_OTSU)
            return binary.astype(np.uint8), 1.0
        raise ValueError(f"unknown pipeline step {step!r}")


def _half(grey: Image) -> Image:
    """``grey`` at half size, each pixel the mean of the four it replaces."""
    height, width = grey.shape
    size = (max(1, width // 2), max(1, height // 2))
    return cv2.resize(grey, size, interpolation=cv2.INTER_AREA).astype(np.uint8)


def _unsharp(grey: Image, sigma: float, amount: float) -> Image:
    """``grey`` plus ``amount`` times its detail above a Gaussian of ``sigma`` (saturating)."""
    blurred = cv2.GaussianBlur(grey, (0, 0), sigma)
    return cv2.addWeighted(grey, 1.0 + amount, blurred, -amount, 0).astype(np.uint8)


def _unique(codes: list[Decoded]) -> list[Decoded]:
    seen: set[str] = set()
    out: list[Decoded] = []
    for code in codes:
        if code.text not in seen:
            seen.add(code.text)
            out.append(code)
    return out
