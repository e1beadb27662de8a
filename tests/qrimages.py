"""Real QR images for tests and benchmarks: codes rendered with qrcode onto camera-like frames.

Everything takes a seeded ``numpy.random.Generator`` so a corpus is the same on every run.
Images are grey ``uint8`` arrays unless a function says otherwise; ``bgr`` turns one into the
three-channel array a camera gives.
"""

from __future__ import annotations

import string
from collections.abc import Iterable, Sequence
from pathlib import Path

import cv2
import numpy as np
import qrcode
import qrcode.constants
from numpy.typing import NDArray

Grey = NDArray[np.uint8]

BASE45 = string.digits + string.ascii_uppercase + " $%*+-./:"

_EC = {
    "L": qrcode.constants.ERROR_CORRECT_L,
    "M": qrcode.constants.ERROR_CORRECT_M,
    "Q": qrcode.constants.ERROR_CORRECT_Q,
    "H": qrcode.constants.ERROR_CORRECT_H,
}

CATEGORIES = (
    "clean",
    "small",
    "rotated",
    "perspective",
    "defocus",
    "motion",
    "noise",
    "low_contrast",
    "glare",
    "inverted",
    "two_codes",
    "empty",
)


def fake_card_text(rng: np.random.Generator, length: int = 190) -> str:
    """A string shaped like a card code: ``CT1:`` and Base45 characters (not a valid card)."""
    body = "".join(rng.choice(list(BASE45), size=length))
    return "CT1:" + body


def qr_modules(payload: str | bytes, ec: str = "M") -> NDArray[np.bool_]:
    """The module matrix of a QR code (True = dark), with a 4-module quiet zone."""
    code = qrcode.QRCode(error_correction=_EC[ec], box_size=1, border=4)
    code.add_data(payload)
    code.make(fit=True)
    return np.array(code.get_matrix(), dtype=bool)


def qr_image(payload: str | bytes, module_px: int = 6, ec: str = "M") -> Grey:
    """A black-on-white QR code with ``module_px`` pixels per module."""
    modules = qr_modules(payload, ec)
    img = np.where(modules, 0, 255).astype(np.uint8)
    return cv2.resize(
        img, None, fx=module_px, fy=module_px, interpolation=cv2.INTER_NEAREST
    ).astype(np.uint8)


def noisy_background(width: int, height: int, rng: np.random.Generator) -> Grey:
    """A counter-like scene: a gradient, soft blobs, a few edges and sensor noise."""
    ys, xs = np.mgrid[0:height, 0:width].astype(np.float32)
    base = 90 + 60 * (xs / width) + 30 * (ys / height)
    low = rng.normal(0, 25, (max(2, height // 40), max(2, width // 40))).astype(np.float32)
    base += cv2.resize(low, (width, height), interpolation=cv2.INTER_CUBIC)
    img = np.clip(base, 0, 255).astype(np.uint8)
    for _ in range(int(rng.integers(3, 8))):
        p1 = (int(rng.integers(0, width)), int(rng.integers(0, height)))
        p2 = (int(rng.integers(0, width)), int(rng.integers(0, height)))
        cv2.line(img, p1, p2, int(rng.integers(20, 235)), int(rng.integers(1, 6)))
    for _ in range(int(rng.integers(1, 4))):
        x, y = int(rng.integers(0, width)), int(rng.integers(0, height))
        w, h = int(rng.integers(20, width // 4)), int(rng.integers(20, height // 4))
        cv2.rectangle(img, (x, y), (x + w, y + h), int(rng.integers(20, 235)), -1)
    noise = rng.normal(0, 4, img.shape)
    return np.clip(img + noise, 0, 255).astype(np.uint8)


def paste(
    background: Grey,
    code: Grey,
    *,
    center: tuple[float, float],
    angle: float = 0.0,
    skew: float = 0.0,
    rng: np.random.Generator | None = None,
) -> Grey:
    """Warp ``code`` onto ``background`` at ``center``, rotated by ``angle`` degrees.

    ``skew`` (0..0.4) moves the corners towards a perspective view.
    """
    h, w = code.shape
    src = np.array([[0, 0], [w, 0], [w, h], [0, h]], dtype=np.float32)
    corners = src - np.array([w / 2, h / 2], dtype=np.float32)
    if skew and rng is not None:
        corners = corners * (1 + rng.uniform(-skew, skew, corners.shape)).astype(np.float32)
    theta = np.deg2rad(angle)
    rot = np.array([[np.cos(theta), -np.sin(theta)], [np.sin(theta), np.cos(theta)]], np.float32)
    dst = (corners @ rot.T + np.array(center, dtype=np.float32)).astype(np.float32)
    matrix = cv2.getPerspectiveTransform(src, dst)
    height, width = background.shape
    warped = cv2.warpPerspective(code, matrix, (width, height), flags=cv2.INTER_LINEAR)
    mask = cv2.warpPerspective(
        np.full_like(code, 255), matrix, (width, height), flags=cv2.INTER_LINEAR
    )
    alpha = mask.astype(np.float32) / 255.0
    out = background.astype(np.float32) * (1 - alpha) + warped.astype(np.float32) * alpha
    return np.clip(out, 0, 255).astype(np.uint8)


def rotate(img: Grey, angle: float) -> Grey:
    """Rotate a whole image about its centre, keeping its size (white corners)."""
    h, w = img.shape
    matrix = cv2.getRotationMatrix2D((w / 2, h / 2), angle, 1.0)
    return cv2.warpAffine(img, matrix, (w, h), borderValue=255).astype(np.uint8)


def defocus(img: Grey, radius: float) -> Grey:
    """Gaussian blur like an out-of-focus lens."""
    return cv2.GaussianBlur(img, (0, 0), radius).astype(np.uint8)


def motion_blur(img: Grey, length: int, angle: float = 0.0) -> Grey:
    """Linear motion blur over ``length`` pixels."""
    length = max(1, int(length))
    kernel = np.zeros((length, length), np.float32)
    kernel[length // 2, :] = 1.0
    centre = (length / 2 - 0.5, length / 2 - 0.5)
    kernel = cv2.warpAffine(kernel, cv2.getRotationMatrix2D(centre, angle, 1.0), (length, length))
    kernel /= max(float(kernel.sum()), 1e-6)
    return cv2.filter2D(img, -1, kernel).astype(np.uint8)


def add_noise(img: Grey, sigma: float, rng: np.random.Generator) -> Grey:
    """Gaussian sensor noise."""
    return np.clip(img + rng.normal(0, sigma, img.shape), 0, 255).astype(np.uint8)


def low_contrast(img: Grey, low: int, high: int) -> Grey:
    """Squeeze the grey range to [low, high]."""
    return (low + img.astype(np.float32) * ((high - low) / 255.0)).astype(np.uint8)


def glare(img: Grey, center: tuple[float, float], radius: float, strength: float) -> Grey:
    """A bright soft spot, as a lamp reflected on a phone screen."""
    h, w = img.shape
    ys, xs = np.mgrid[0:h, 0:w].astype(np.float32)
    dist2 = (xs - center[0]) ** 2 + (ys - center[1]) ** 2
    spot = strength * np.exp(-dist2 / (2 * radius**2))
    return np.clip(img.astype(np.float32) + spot, 0, 255).astype(np.uint8)


def invert(img: Grey) -> Grey:
    """Light modules on a dark ground, as a phone in dark mode shows."""
    return (255 - img).astype(np.uint8)


def bgr(img: Grey) -> NDArray[np.uint8]:
    """The three-channel image a camera hands over."""
    return cv2.cvtColor(img, cv2.COLOR_GRAY2BGR).astype(np.uint8)


def scene(
    payload: str | bytes,
    rng: np.random.Generator,
    *,
    size: tuple[int, int] = (640, 480),
    module_px: float = 5.0,
    angle: float = 0.0,
    skew: float = 0.0,
    ec: str = "M",
) -> Grey:
    """One code on a noisy background at a random place where it fits."""
    width, height = size
    code = qr_image(payload, module_px=1, ec=ec)
    side = round(code.shape[0] * module_px)
    code = cv2.resize(code, (side, side), interpolation=cv2.INTER_NEAREST).astype(np.uint8)
    half = side * 0.75
    cx = rng.uniform(min(half, width / 2), max(width - half, width / 2))
    cy = rng.uniform(min(half, height / 2), max(height - half, height / 2))
    bg = noisy_background(width, height, rng)
    return paste(bg, code, center=(cx, cy), angle=angle, skew=skew, rng=rng)


def two_codes(
    first: str | bytes,
    second: str | bytes,
    rng: np.random.Generator,
    *,
    size: tuple[int, int] = (640, 480),
    module_px: float = 3.0,
) -> Grey:
    """Two codes side by side in one frame."""
    width, height = size
    img = noisy_background(width, height, rng)
    for payload, fx in ((first, 0.27), (second, 0.73)):
        code = qr_image(payload, module_px=1)
        side = round(code.shape[0] * module_px)
        code = cv2.resize(code, (side, side), interpolation=cv2.INTER_NEAREST).astype(np.uint8)
        img = paste(
            img,
            code,
            center=(width * fx, height / 2 + rng.uniform(-0.1, 0.1) * height),
            angle=float(rng.uniform(-15, 15)),
        )
    return img


def corpus_frame(
    category: str, payloads: Sequence[str], rng: np.random.Generator, size: tuple[int, int]
) -> Grey:
    """One frame of a bench/test corpus category (see ``CATEGORIES``)."""
    width, height = size
    # Module size scales with the frame so a code covers a similar share of the view.
    scale = height / 480
    text = payloads[0]
    if category == "empty":
        return noisy_background(width, height, rng)
    if category == "two_codes":
        return two_codes(payloads[0], payloads[1], rng, size=size, module_px=3.2 * scale)
    module = float(rng.uniform(3.5, 5.5)) * scale
    angle = float(rng.uniform(-12, 12))
    if category == "small":
        return scene(text, rng, size=size, module_px=float(rng.uniform(1.3, 2.2)) * scale)
    if category == "rotated":
        return scene(text, rng, size=size, module_px=module, angle=float(rng.uniform(20, 340)))
    if category == "perspective":
        return scene(text, rng, size=size, module_px=module, angle=angle, skew=0.25)
    img = scene(text, rng, size=size, module_px=module, angle=angle)
    if category == "clean":
        return img
    if category == "defocus":
        return defocus(img, float(rng.uniform(1.2, 3.2)) * scale)
    if category == "motion":
        length = int(rng.integers(4, 10) * scale)
        return motion_blur(img, length, float(rng.uniform(0, 180)))
    if category == "noise":
        return add_noise(img, float(rng.uniform(20, 45)), rng)
    if category == "low_contrast":
        low = int(rng.integers(70, 110))
        return add_noise(low_contrast(img, low, low + int(rng.integers(18, 45))), 2, rng)
    if category == "glare":
        center = (float(rng.uniform(0.3, 0.7) * width), float(rng.uniform(0.3, 0.7) * height))
        return glare(
            img, center, float(rng.uniform(0.08, 0.15) * width), float(rng.uniform(150, 260))
        )
    if category == "inverted":
        return invert(img)
    raise ValueError(f"unknown category {category!r}")


def write_video(
    path: Path, frames: Iterable[Grey], fps: float = 30.0, fourcc: str = "MJPG"
) -> Path:
    """Write grey frames as a colour video that ``cv2.VideoCapture`` reads like a camera."""
    writer: cv2.VideoWriter | None = None
    try:
        for frame in frames:
            if writer is None:
                h, w = frame.shape
                writer = cv2.VideoWriter(str(path), cv2.VideoWriter.fourcc(*fourcc), fps, (w, h))
                if not writer.isOpened():
                    raise RuntimeError(f"cv2.VideoWriter cannot write {path} with {fourcc}")
            writer.write(bgr(frame))
    finally:
        if writer is not None:
            writer.release()
    return path


def save_png(path: Path, img: NDArray[np.uint8]) -> Path:
    """Write an image file (PNG keeps every pixel)."""
    if not cv2.imwrite(str(path), img):
        raise RuntimeError(f"cannot write {path}")
    return path


def segno_image(code: object, module_px: int = 5, border: int = 4) -> Grey:
    """A segno QR or Micro QR symbol as a black-on-white grey image."""
    import io

    buffer = io.BytesIO()
    code.save(buffer, kind="png", scale=module_px, border=border)  # type: ignore[attr-defined]
    data = np.frombuffer(buffer.getvalue(), np.uint8)
    return np.asarray(cv2.imdecode(data, cv2.IMREAD_GRAYSCALE), dtype=np.uint8)


def binary_qr(payload: bytes, module_px: int = 5, *, eci_utf8: bool = True) -> Grey:
    """A byte-mode QR code holding ``payload`` as is (made with segno, not qrcode).

    With ``eci_utf8`` the code declares its bytes UTF-8 (ECI 26) although they are not: the
    content OpenCV's binding decodes as UTF-8 and raises ``UnicodeDecodeError`` on.
    """
    import segno

    if eci_utf8:
        code = segno.make_qr(payload, mode="byte", eci=True, encoding="utf-8")
    else:
        code = segno.make_qr(payload, mode="byte")
    return segno_image(code, module_px)


def micro_qr(text: str, module_px: int = 6) -> Grey:
    """A Micro QR symbol (11 to 17 modules): not a card code, never to be read as one."""
    import segno

    return segno_image(segno.make_micro(text), module_px, border=2)
