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


# -- camera-like scenes: a card or a phone at arm's length on a busy counter ---------------

HARD_CATEGORIES = (
    "card",
    "phone",
    "phone_dark",
    "small",
    "tilted",
    "defocus",
    "motion",
    "dim",
    "glare",
    "empty",
)
"""bench/scanner.py's camera-like categories; ``empty`` has decoys and no code."""


def decoy_square(side: int, rng: np.random.Generator) -> Grey:
    """A finder-pattern look-alike (nested squares) or a checker tile, as packaging prints."""
    tile = np.full((7, 7), 255, np.uint8)
    if rng.random() < 0.6:
        tile[:, :] = 0
        tile[1:6, 1:6] = 255
        tile[2:5, 2:5] = 0
    else:
        tile = np.where((np.indices((7, 7)).sum(axis=0) % 2) == 0, 0, 255).astype(np.uint8)
    return cv2.resize(tile, (side, side), interpolation=cv2.INTER_NEAREST).astype(np.uint8)


def textured_background(width: int, height: int, rng: np.random.Generator) -> Grey:
    """A counter: wood grain or fabric, printed text lines, decoy squares, shadows and noise."""
    img = noisy_background(width, height, rng).astype(np.float32)
    ys, xs = np.mgrid[0:height, 0:width].astype(np.float32)
    if rng.random() < 0.5:  # wood grain
        freq = rng.uniform(0.02, 0.08)
        wobble = 8 * np.sin(ys * rng.uniform(0.005, 0.02))
        img += 22 * np.sin((xs + wobble) * freq + rng.uniform(0, 6))
    else:  # woven fabric
        period = rng.uniform(3.0, 7.0)
        img += 14 * np.sin(xs * 2 * np.pi / period) * np.sin(ys * 2 * np.pi / period)
    out = np.clip(img, 0, 255).astype(np.uint8)
    for _ in range(int(rng.integers(2, 6))):  # printed matter: lines of "words"
        x, y = int(rng.integers(0, width - 200)), int(rng.integers(0, height - 60))
        ink = int(rng.integers(10, 70))
        for row in range(int(rng.integers(2, 6))):
            cursor = x
            for _ in range(int(rng.integers(3, 9))):
                word = int(rng.integers(8, 40))
                cv2.rectangle(
                    out, (cursor, y + row * 12), (cursor + word, y + row * 12 + 6), ink, -1
                )
                cursor += word + 6
    for _ in range(int(rng.integers(3, 9))):
        decoy = decoy_square(int(rng.integers(10, 40)), rng)
        h, w = decoy.shape
        x, y = int(rng.integers(0, width - w)), int(rng.integers(0, height - h))
        out[y : y + h, x : x + w] = decoy
    return out


def _holder(code: Grey, kind: str, rng: np.random.Generator) -> Grey:
    """The code on what carries it: a printed card, or a phone (light or dark mode)."""
    side = code.shape[0]
    if kind == "card":
        # The card code fills most of the card's height, the text is to its right.
        height = int(side * 1.08)
        width = int(height * 85.6 / 54)
        card = np.full((height, width), int(rng.integers(225, 250)), np.uint8)
        top = (height - side) // 2
        card[top : top + side, 4 : 4 + side] = code[:, : min(side, width - 4)]
        for row in range(4):
            y = int(height * (0.2 + 0.18 * row))
            x0 = side + 12
            cv2.rectangle(card, (x0, y), (width - 12, y + max(3, height // 30)), 40, -1)
        cv2.rectangle(card, (0, 0), (width - 1, height - 1), 120, 2)
        return card
    dark = kind == "phone_dark"
    screen_w = int(side * 1.2)
    screen_h = int(screen_w * 2.0)
    screen = np.full((screen_h, screen_w), 30 if dark else 245, np.uint8)
    shown = invert(code) if dark else code
    top, left = (screen_h - side) // 2, (screen_w - side) // 2
    screen[top : top + side, left : left + side] = shown
    cv2.rectangle(screen, (10, 10), (screen_w - 10, 30), 200 if dark else 60, -1)  # app bar
    bezel = max(6, screen_w // 14)
    phone = np.full((screen_h + 2 * bezel, screen_w + 2 * bezel), 12, np.uint8)
    phone[bezel : bezel + screen_h, bezel : bezel + screen_w] = screen
    return phone


def jpeg(img: Grey, quality: int) -> Grey:
    """``img`` after the JPEG round trip an MJPEG camera puts every frame through."""
    ok, data = cv2.imencode(".jpg", img, [cv2.IMWRITE_JPEG_QUALITY, int(quality)])
    if not ok:
        raise RuntimeError("cv2.imencode failed")
    return np.asarray(cv2.imdecode(data, cv2.IMREAD_GRAYSCALE), dtype=np.uint8)


def held_code(
    payload: str, rng: np.random.Generator, module_px: float, kind: str = "card"
) -> tuple[Grey, int]:
    """A card or phone showing ``payload`` at ``module_px``; and the code's side in pixels."""
    code = qr_image(payload, module_px=1)
    side = max(21, round(code.shape[0] * module_px))
    code = cv2.resize(code, (side, side), interpolation=cv2.INTER_AREA).astype(np.uint8)
    return _holder(code, kind, rng), side


def camera_scene(
    category: str,
    payload: str,
    rng: np.random.Generator,
    size: tuple[int, int] = (1280, 720),
) -> Grey:
    """One camera-like frame of a ``HARD_CATEGORIES`` category.

    A card code (57 modules for a real card payload) at the size a 720p webcam sees a card
    held 20-35 cm away (2.3-3.6 px per module; ``small``: 1.7-2.3), on a textured counter
    with decoys, through a slightly soft lens, sensor noise and MJPEG compression.
    """
    width, height = size
    scale = height / 720
    background = textured_background(width, height, rng)
    if category == "empty":
        img = background
    else:
        module = float(rng.uniform(2.3, 3.6)) * scale
        if category == "small":
            module = float(rng.uniform(1.7, 2.3)) * scale
        kind = {"card": "card", "phone": "phone", "phone_dark": "phone_dark"}.get(category)
        if kind is None:
            kind = "card" if rng.random() < 0.6 else str(rng.choice(["phone", "phone_dark"]))
        holder, _ = held_code(payload, rng, module, kind)
        angle = float(rng.uniform(-20, 20))
        skew = 0.08
        if category == "tilted":
            angle = float(rng.uniform(-60, 60))
            skew = 0.22
        h, w = holder.shape
        reach = 0.5 * float(np.hypot(h, w)) * 0.85
        cx = rng.uniform(min(reach, width / 2), max(width - reach, width / 2))
        cy = rng.uniform(min(reach, height / 2), max(height - reach, height / 2))
        img = paste(background, holder, center=(cx, cy), angle=angle, skew=skew, rng=rng)
        if category == "defocus":
            img = defocus(img, float(rng.uniform(1.0, 2.0)) * scale)
        elif category == "motion":
            img = motion_blur(img, int(rng.integers(3, 8) * scale), float(rng.uniform(0, 180)))
        elif category == "dim":
            low = int(rng.integers(30, 60))
            img = low_contrast(img, low, low + int(rng.integers(45, 80)))
            img = add_noise(img, float(rng.uniform(5, 9)), rng)
        elif category == "glare":
            spot = (cx + rng.uniform(-0.3, 0.3) * w, cy + rng.uniform(-0.3, 0.3) * h)
            img = glare(
                img, spot, float(rng.uniform(0.06, 0.12) * width), float(rng.uniform(120, 200))
            )
    img = defocus(img, 0.6 * scale)
    img = add_noise(img, 3.0, rng)
    return jpeg(img, int(rng.integers(60, 86)))
