"""Receipt speed: build from the ledger, then text, PNG and ESC/POS for a typical slip.

Run: ``.venv/bin/python bench/receipts.py [--rounds N]``. The slip is an anonymous
purchase (the heaviest kind: it carries a signed claim QR) in a real ledger in a temporary
folder. Alternatives are measured in the same run, interleaved in blocks so drift in the
machine's speed hits all alike: the PNG with its QR made by zxing-cpp (used) against the
pure-Python qrcode package and against Pillow's default zlib level, and ESC/POS with the
image QR fallback against the native QR command. Every PNG row except "again" makes its QR
afresh (the symbol cache is cleared), as the first preview of a new slip does.
"""

from __future__ import annotations

import argparse
import io
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

# Run as a script, this file's folder comes first on sys.path and its name would hide the
# ``receipts`` package; drop the folder before anything from the project is imported.
_HERE = Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != _HERE]


def timings(fn: Callable[[], object], count: int) -> list[float]:
    """Per-call wall times in milliseconds."""
    out = []
    for _ in range(count):
        start = time.perf_counter()
        fn()
        out.append((time.perf_counter() - start) * 1000)
    return out


def png_default_level(receipt: Any) -> bytes:
    """The PNG at Pillow's default zlib level, for comparison."""
    from receipts.png import render_png_image

    buffer = io.BytesIO()
    render_png_image(receipt, 48).save(buffer, format="PNG")
    return buffer.getvalue()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=200)
    args = parser.parse_args()

    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    from config.settings import ProgramSettings, Settings, StorageSettings
    from loyalty import schema as _schema  # noqa: F401  (registers the ledger migrations)
    from loyalty.db import Store
    from loyalty.ledger import Ledger
    from loyalty.programs import Program
    from receipts.build import receipt_for
    from receipts.escpos import render_escpos
    from receipts.png import render_png
    from receipts.text import render_text

    with tempfile.TemporaryDirectory() as folder:
        settings = Settings(
            storage=StorageSettings(data_dir=Path(folder)),
            program=ProgramSettings(cents_per_stamp=1000),
        )
        store = Store.open(settings.database_path, synchronous="NORMAL")
        ledger = Ledger(store, shop_id=settings.shop.id, terminal_id=settings.terminal.id)
        program = Program.from_settings(settings.program)
        key = Ed25519PrivateKey.generate()
        anonymous = ledger.purchase(None, 2550, program).event.receipt_no
        receipt = receipt_for(ledger, anonymous, settings, "nl", private_key=key)

        import types

        import receipts.qr as qr_module

        zxing = qr_module.zxingcpp

        def cold_png() -> bytes:
            qr_module._symbol.cache_clear()
            return render_png(receipt, 48)

        def default_level_png() -> bytes:
            qr_module._symbol.cache_clear()
            return png_default_level(receipt)

        def qrcode_lib_png() -> bytes:
            qr_module._symbol.cache_clear()
            qr_module.zxingcpp = types.SimpleNamespace()  # type: ignore[assignment]
            try:
                return render_png(receipt, 48)
            finally:
                qr_module.zxingcpp = zxing

        def image_fallback() -> bytes:
            qr_module._symbol.cache_clear()
            return render_escpos(receipt, width=48, native_qr=False)

        cases: dict[str, Callable[[], object]] = {
            "build (ledger + claim signature)": lambda: receipt_for(
                ledger, anonymous, settings, "nl", private_key=key
            ),
            "text 32 columns": lambda: render_text(receipt, 32),
            "text 48 columns": lambda: render_text(receipt, 48),
            "PNG 48, zxing QR, zlib 1 (used)": cold_png,
            "PNG 48, same slip again (QR cached)": lambda: render_png(receipt, 48),
            "PNG 48, zxing QR, zlib default": default_level_png,
            "PNG 48, qrcode-lib QR, zlib 1": qrcode_lib_png,
            "ESC/POS, native QR (used)": lambda: render_escpos(receipt, width=48),
            "ESC/POS, image QR fallback": image_fallback,
        }
        for fn in cases.values():  # warm caches (fonts, code pages) before measuring
            fn()
        results: dict[str, list[float]] = {name: [] for name in cases}
        block = max(1, args.rounds // 10)
        for _ in range(0, args.rounds, block):
            for name, fn in cases.items():
                results[name] += timings(fn, block)
        sizes = {
            "PNG 48, zxing QR, zlib 1 (used)": len(render_png(receipt, 48)),
            "PNG 48, zxing QR, zlib default": len(png_default_level(receipt)),
            "ESC/POS, native QR (used)": len(render_escpos(receipt, width=48)),
            "ESC/POS, image QR fallback": len(render_escpos(receipt, width=48, native_qr=False)),
        }
        store.close()

    pairs = {
        "PNG 48, zxing QR, zlib 1 (used)": "PNG",
        "PNG 48, zxing QR, zlib default": "PNG",
        "PNG 48, qrcode-lib QR, zlib 1": "PNG",
        "ESC/POS, native QR (used)": "ESC/POS",
        "ESC/POS, image QR fallback": "ESC/POS",
    }
    best: dict[str, float] = {}
    for name, group in pairs.items():
        median = statistics.median(results[name])
        best[group] = min(best.get(group, median), median)

    print(f"typical slip: anonymous purchase with claim QR, {args.rounds} rounds each")
    print(f"| {'step':36} | median ms | p95 ms | vs best | bytes |")
    print(f"|{'-' * 38}|-----------|--------|---------|-------|")
    for name, values in results.items():
        values.sort()
        median = statistics.median(values)
        p95 = values[int(len(values) * 0.95) - 1]
        group = pairs.get(name)
        ratio = f"{median / best[group]:.2f}x" if group else "-"
        size = str(sizes.get(name, "-"))
        print(f"| {name:36} | {median:9.2f} | {p95:6.2f} | {ratio:>7} | {size:>5} |")


if __name__ == "__main__":
    main()
