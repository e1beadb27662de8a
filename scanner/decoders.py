"""QR decoders behind one small interface, and the pipeline that decides which to try when.

Every decoder reads QR codes only (other symbologies are slower and zbar's DataBar reader has
asserted on plain frames) from one grey ``uint8`` image: the frame is converted once, in
``Pipeline.decode``, because pyzbar reads only the first (blue) channel of a BGR array.

The pipeline runs zxing-cpp first. On a miss it spends a per-frame time budget on fallbacks,
in the order bench/scanner.py showed them to pay off; see ``Pipeline`` for the measured reasons.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from importlib.metadata import PackageNotFoundError, version
from typing import Any, Protocol

import cv2
import numpy as np
import zxingcpp
from numpy.typing import NDArray

Image = NDArray[np.uint8]

DECODER_NAMES = ("zxing", "zbar", "opencv")


class DecoderUnavailable(RuntimeError):
    """A decoder's library is not installed or cannot load (e.g. libzbar0 missing)."""


@dataclass(frozen=True)
class Decoded:
    """One code read from one image."""

    text: str
    decoder: str
    corners: tuple[tuple[int, int], ...] = ()


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


def _package_version(name: str) -> str:
    try:
        return version(name)
    except PackageNotFoundError:
        return "unknown"


class ZxingDecoder:
    """zxing-cpp, QR only: the fast default (about 1-3 ms on a 1280x720 frame here)."""

    name = "zxing"

    def __init__(self, *, try_invert: bool = False, try_downscale: bool = True) -> None:
        self._zx: Any = zxingcpp
        self._format = zxingcpp.BarcodeFormat.QRCode
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
        self, grey: Image, *, scale: float = 1.0, binarizer: str = "LocalAverage"
    ) -> tuple[list[Decoded], int]:
        """Codes read, and how many more zxing located but could not decode.

        ``scale`` is the size of ``grey`` relative to the frame: corners come back in frame
        pixels. ``binarizer`` names a ``zxingcpp.Binarizer`` (LocalAverage is zxing's default).
        """
        results = self._zx.read_barcodes(
            grey,
            formats=self._format,
            try_rotate=True,
            try_downscale=self.try_downscale,
            try_invert=self.try_invert,
            binarizer=getattr(self._zx.Binarizer, binarizer),
            # Plain: the text as encoded. The default (HRI) turns ESC into "<ESC>", which
            # would hide what a code really holds from the verifier and the logs.
            text_mode=self._zx.TextMode.Plain,
            return_errors=True,
        )
        codes: list[Decoded] = []
        located = 0
        for barcode in results:
            if barcode.error is not None or not barcode.valid:
                located += 1
                continue
            corners = _zxing_corners(barcode, scale)
            codes.append(Decoded(_zxing_text(barcode), self.name, corners))
        return codes, located


def _zxing_text(barcode: Any) -> str:
    text = str(barcode.text)
    if text or not barcode.bytes:
        return text
    return bytes(barcode.bytes).decode("utf-8", errors="replace")


def _zxing_corners(barcode: Any, scale: float = 1.0) -> tuple[tuple[int, int], ...]:
    pos = barcode.position
    return tuple(
        (round(p.x / scale), round(p.y / scale))
        for p in (pos.top_left, pos.top_right, pos.bottom_right, pos.bottom_left)
    )


class ZbarDecoder:
    """pyzbar on libzbar, QR only (about 30 ms per 1280x720 frame here)."""

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
        codes: list[Decoded] = []
        for symbol in self._pz.decode(grey, symbols=self._symbols):
            data: bytes = symbol.data
            text = data.decode("utf-8", errors="replace")
            corners = tuple((int(p.x), int(p.y)) for p in symbol.polygon)
            codes.append(Decoded(text, self.name, corners))
        return codes


class OpencvDecoder:
    """OpenCV's QRCodeDetector (slow, about 60 ms per 1280x720 frame; kept as a last resort)."""

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
            ok, texts, points, _ = self._detector.detectAndDecodeMulti(grey)
        except cv2.error:
            return []
        if not ok:
            return []
        codes: list[Decoded] = []
        for i, text in enumerate(texts):
            if not text:
                continue
            corners: tuple[tuple[int, int], ...] = ()
            if points is not None and len(points) > i:
                corners = tuple((int(x), int(y)) for x, y in points[i])
            codes.append(Decoded(str(text), self.name, corners))
        return codes


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


@dataclass(frozen=True)
class PipelineResult:
    """What one frame gave: the codes, the time spent and the steps tried."""

    codes: list[Decoded]
    decode_ms: float
    steps: list[str] = field(default_factory=list)


class Pipeline:
    """zxing first; on a miss, fallbacks within ``budget_ms``.

    The fallbacks, in order (each run only while the budget lasts; measured with
    ``bench/scanner.py --variants`` on 25 frames per category):

    * ``invert``: zxing on the inverted image, for phones in dark mode. Done here rather than
      with zxing's own ``try_invert``, which doubles the time of every empty frame.
    * ``half_sharpen``: zxing on a half-size, strongly unsharp-masked copy, for defocus. At
      half size the blur spans half the pixels and the mask is cheap (under 1 ms at 720p).
      Alone it took defocus from 9 to 16 of 25 frames at 720p and from 10 to 15 at 640x480,
      with no false positive; a second seed gave the same picture.
    * ``equalize``: zxing on a CLAHE-equalised copy, for low contrast and glare.
    * the other configured decoders (zbar, opencv) only when zxing located a code it could
      not decode: on empty frames they cost 30-60 ms and find nothing.

    Measured and left out of the default: ``upscale`` (a 1.5x copy: after ``half_sharpen``
    one more small code at 640x480 and none at 720p, for 2-4 ms more per empty frame),
    ``half_sharpen_wide`` (at most one frame in 275 for about 2 ms per empty 720p frame),
    ``otsu`` (one to three small codes at 640x480, none at 720p, about 2 ms per empty 720p
    frame), ``sharpen``, ``blur`` and ``global`` (zxing's GlobalHistogram binariser).

    Which steps run is a constructor argument so bench/scanner.py can measure each one.
    """

    DEFAULT_FALLBACKS: tuple[str, ...] = ("invert", "half_sharpen", "equalize")

    def __init__(
        self,
        decoders: Sequence[str] = DECODER_NAMES,
        *,
        budget_ms: float = 12.0,
        fallbacks: Sequence[str] = DEFAULT_FALLBACKS,
    ) -> None:
        self.budget_ms = budget_ms
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

    @property
    def decoder_names(self) -> list[str]:
        """The decoders that loaded, in the order they are tried."""
        names = ["zxing"] if self._zxing is not None else []
        return names + [d.name for d in self._others]

    def decode(self, frame: NDArray[Any]) -> PipelineResult:
        """Decode one frame (grey, BGR or BGRA); never raises on pixel content."""
        start = time.perf_counter()
        grey = to_grey(frame)
        steps: list[str] = []
        located = 0

        def spent() -> float:
            return (time.perf_counter() - start) * 1000.0

        def done(codes: list[Decoded]) -> PipelineResult:
            return PipelineResult(_unique(codes), spent(), steps)

        if self._zxing is not None:
            steps.append("zxing")
            codes, located = self._zxing.scan(grey)
            if codes:
                return done(codes)
            for step in self.fallbacks:
                if spent() >= self.budget_ms:
                    break
                variant, scale = self._variant(step, grey)
                steps.append(step)
                binarizer = "GlobalHistogram" if step == "global" else "LocalAverage"
                codes, more = self._zxing.scan(variant, scale=scale, binarizer=binarizer)
                located += more
                if codes:
                    return done(codes)
            if not located:
                return done([])
        for decoder in self._others:
            if self._zxing is not None and spent() >= self.budget_ms:
                break
            steps.append(decoder.name)
            codes = decoder.decode(grey)
            if codes:
                return done(codes)
        return done([])

    def _variant(self, step: str, grey: Image) -> tuple[Image, float]:
        """The image a fallback step hands to zxing, and its scale relative to the frame."""
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
        if step == "global":  # the same pixels; ``decode`` switches zxing's binariser
            return grey, 1.0
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
