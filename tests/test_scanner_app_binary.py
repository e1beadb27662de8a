"""The counter app with a QR code whose bytes are not UTF-8 in front of the camera (issue 10, B10).

Real parts: the scanner child replaying image files as its frame source, OpenCV as the decoder
(its binding raised ``UnicodeDecodeError`` on such a code and the child died), the real app.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from scanner.sources import SourceSpec
from terminal.services import CameraScanner
from tests import qrimages
from tests.test_app_counter import wait_until
from tests.test_app_kit import SIZE, make_counter, settle, text_of

CARD = "CT-TEST-0001"


async def test_a_binary_code_at_the_camera_is_refused_and_the_scanner_keeps_reading(
    tmp_path: Path,
) -> None:
    counter = make_counter(tmp_path)
    binary = qrimages.binary_qr(b"\xff\xfe\xc3\x28 binary \x80", module_px=5)
    frame = qrimages.paste(
        qrimages.noisy_background(640, 480, np.random.default_rng(3)),
        binary,
        center=(320, 240),
    )
    binary_png = qrimages.save_png(tmp_path / "binary.png", qrimages.bgr(frame))
    # A plain, large code: OpenCV alone misses some printed-card renderings (the code differs
    # per run with the test's fresh issuer key), which made this test fail 1 run in 10.
    card_png = qrimages.save_png(
        tmp_path / "card.png", qrimages.bgr(qrimages.qr_image(counter.card(CARD), module_px=6))
    )
    scanner = CameraScanner(SourceSpec.images([binary_png]), decoders=("opencv",), debounce_s=0)
    app = counter.app(scanner=scanner)
    async with app.run_test(size=SIZE) as pilot:
        await wait_until(pilot, lambda: "not a loyalty card" in text_of(app, "#scan-result"))
        assert "plain text" in text_of(app, "#scan-result")
        assert scanner.process is not None and scanner.process.restarts == 0
        # The same child goes on reading: a real card presented next is shown.
        pid = scanner.process.pid
        scanner.feed_file(card_png)
        await wait_until(pilot, lambda: app.card is not None)
        await settle(pilot)
        assert app.card is not None and app.card.card_id == CARD
        assert scanner.process.pid == pid and scanner.process.restarts == 0


async def test_a_picture_with_no_code_is_refused_with_a_sentence(tmp_path: Path) -> None:
    # The child reports "no code in this file" with no text of its own: the counter must say
    # something a shopkeeper can act on, never a bare "REFUSED:".
    counter = make_counter(tmp_path)
    empty_png = qrimages.save_png(
        tmp_path / "empty.png",
        qrimages.bgr(qrimages.noisy_background(640, 480, np.random.default_rng(5))),
    )
    scanner = CameraScanner(SourceSpec.nothing(), decoders=("zxing",), debounce_s=0)
    app = counter.app(scanner=scanner, lang="nl")
    async with app.run_test(size=SIZE) as pilot:
        await wait_until(pilot, lambda: scanner.process is not None)
        scanner.feed_file(empty_png)
        await wait_until(pilot, lambda: "leesbare code" in text_of(app, "#scan-result"))
        assert "typ het kaartnummer" in text_of(app, "#scan-result")
