"""QR symbols for slips and cards, made by zxing-cpp's encoder (C++, ~2 ms) with qrcode as fallback.

The pure-Python ``qrcode`` package spends ~20 ms choosing a mask for a claim code, which alone
would blow the 20 ms budget of a PNG preview; zxing-cpp makes the same symbol (same version,
error correction M) in about a tenth of that.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
import qrcode
import zxingcpp
from PIL import Image, ImageOps

QUIET_ZONE: int = 4
"""Modules of white around a code, as the QR standard asks."""


@lru_cache(maxsize=64)
def _symbol(data: str) -> Image.Image:
    """The bare symbol, one pixel a module, black on white, no quiet zone (mode "L")."""
    try:
        barcode = zxingcpp.create_barcode(data, zxingcpp.BarcodeFormat.QRCode, ec_level="M")
        pixels = np.asarray(barcode.to_image(scale=1, add_quiet_zones=False), dtype=np.uint8)
        return Image.fromarray(np.where(pixels < 128, 0, 255).astype(np.uint8), mode="L")
    except (AttributeError, TypeError, ValueError, RuntimeError):
        code = qrcode.QRCode(error_correction=qrcode.constants.ERROR_CORRECT_M, border=0)
        code.add_data(data)
        code.make(fit=True)
        matrix = code.get_matrix()
        image = Image.new("L", (len(matrix), len(matrix)), 255)
        image.putdata([0 if cell else 255 for row in matrix for cell in row])
        return image


def qr_image(data: str, module: int, border: int = QUIET_ZONE) -> Image.Image:
    """The QR code as a greyscale image: ``module`` pixels a module, ``border`` modules of white."""
    symbol = ImageOps.expand(_symbol(data), border=border, fill=255)
    return symbol.resize((symbol.width * module, symbol.height * module), Image.Resampling.NEAREST)


def qr_matrix(data: str, border: int = QUIET_ZONE) -> list[list[bool]]:
    """The modules (True = dark), quiet zone included."""
    symbol = ImageOps.expand(_symbol(data), border=border, fill=255)
    pixels = np.asarray(symbol) < 128
    return [[bool(cell) for cell in row] for row in pixels]
