"""Decoders and pipeline on real QR images: noisy, rotated, blurred, inverted, two per frame."""

from __future__ import annotations

import numpy as np
import pytest

from scanner.decoders import (
    DECODER_NAMES,
    OpencvDecoder,
    Pipeline,
    ZbarDecoder,
    ZxingDecoder,
    make_decoder,
    to_grey,
)
from tests import qrimages


@pytest.fixture(scope="module")
def rng() -> np.random.Generator:
    return np.random.default_rng(7)


@pytest.fixture(scope="module")
def pipeline() -> Pipeline:
    return Pipeline()


def test_every_decoder_reads_a_clean_code_on_a_noisy_background(rng: np.random.Generator) -> None:
    text = qrimages.fake_card_text(rng, 60)
    image = qrimages.scene(text, rng, size=(640, 480), module_px=6)
    for decoder in (ZxingDecoder(), ZbarDecoder(), OpencvDecoder()):
        assert [c.text for c in decoder.decode(image)] == [text], decoder.name


def test_zbar_gets_a_grey_image_so_a_blue_tinted_code_still_reads(rng: np.random.Generator) -> None:
    # pyzbar on a BGR array reads only the blue channel: a code drawn in blue on white
    # vanishes there. The pipeline converts to grey first.
    text = "CT1:BLUE-INK"
    grey = qrimages.scene(text, rng, size=(640, 480), module_px=5)
    colour = qrimages.bgr(grey)
    dark = grey < 128
    colour[dark] = (255, 60, 0)  # blue modules: bright in the blue channel, dark in grey
    assert ZbarDecoder().decode(colour[:, :, 0].copy()) == []
    assert [c.text for c in Pipeline(("zbar",)).decode(colour).codes] == [text]


@pytest.mark.parametrize("category", [c for c in qrimages.CATEGORIES if c != "empty"])
def test_pipeline_reads_each_hard_category_most_of_the_time(
    pipeline: Pipeline, category: str
) -> None:
    rng = np.random.default_rng(100 + qrimages.CATEGORIES.index(category))
    hits = 0
    for _ in range(6):
        texts = [qrimages.fake_card_text(rng, 100) for _ in range(2)]
        image = qrimages.bgr(qrimages.corpus_frame(category, texts, rng, (640, 480)))
        got = {c.text for c in pipeline.decode(image).codes}
        expected = set(texts) if category == "two_codes" else {texts[0]}
        assert got <= set(texts), "a code that is not in the frame"
        hits += expected <= got
    # Small, defocused and motion-blurred codes are where every decoder gives up first.
    needed = 3 if category in {"small", "defocus", "motion"} else 5
    assert hits >= needed, f"{category}: {hits}/6"


def test_inverted_code_is_read_by_the_first_pass(rng: np.random.Generator) -> None:
    text = "CT1:DARK-MODE-PHONE"
    image = qrimages.invert(qrimages.scene(text, rng, size=(640, 480), module_px=4))
    assert ZxingDecoder().decode(image) == []
    result = Pipeline().decode(image)
    assert [c.text for c in result.codes] == [text]
    assert result.steps == ["zxing"]
    # As a step of its own (how bench/scanner.py --steps measures it).
    result = Pipeline(fallbacks=("invert",), invert_first=False).decode(image)
    assert [c.text for c in result.codes] == [text]
    assert result.steps == ["zxing", "invert"]


def test_rotated_and_blurred_codes(rng: np.random.Generator) -> None:
    text = "CT1:ROTATED"
    image = qrimages.rotate(qrimages.qr_image(text, module_px=5), 37)
    image = qrimages.defocus(image, 1.2)
    assert [c.text for c in Pipeline().decode(image).codes] == [text]
    blurred = qrimages.motion_blur(qrimages.qr_image(text, module_px=6), 4, 30)
    assert [c.text for c in Pipeline().decode(blurred).codes] == [text]


OLD_FALLBACKS = ("invert", "equalize", "upscale")  # the default before half_sharpen


@pytest.mark.parametrize("seed", range(4))
def test_strongly_defocused_code_needs_the_half_sharpen_step(seed: int) -> None:
    # A lens far out of focus: the blur (sigma 3 px) is wider than half a module (5 px).
    # zxing alone and every older fallback miss it; the sharpened half-size copy reads it.
    rng = np.random.default_rng(seed)
    text = f"CT1:DEFOCUS-{seed}"
    image = qrimages.defocus(qrimages.scene(text, rng, size=(640, 480), module_px=5), 3.0)
    assert ZxingDecoder().decode(image) == []
    old = Pipeline(("zxing",), fallbacks=OLD_FALLBACKS, deadline_ms=1000)
    assert old.decode(image).codes == []
    result = Pipeline(("zxing",), fallbacks=("half_sharpen",), deadline_ms=1000).decode(image)
    assert [c.text for c in result.codes] == [text]
    assert result.steps == ["zxing", "half_sharpen"]
    # Corners come back in frame pixels, not in the half-size copy's.
    xs = [x for x, _ in result.codes[0].corners]
    assert max(xs) - min(xs) > 100
    assert [c.text for c in Pipeline(deadline_ms=1000).decode(image).codes] == [text]


def test_half_sharpen_finds_nothing_in_empty_frames() -> None:
    rng = np.random.default_rng(5)
    backgrounds = [qrimages.noisy_background(640, 480, rng) for _ in range(4)]
    frames = backgrounds + [qrimages.defocus(b, 3.0) for b in backgrounds]
    frames += [
        np.zeros((480, 640), np.uint8),
        np.full((480, 640), 255, np.uint8),
        np.zeros((1, 1), np.uint8),
        np.zeros((1, 3), np.uint8),
        rng.integers(0, 256, (480, 640), dtype=np.uint8),
    ]
    pipeline = Pipeline(("zxing",), fallbacks=("half_sharpen",), deadline_ms=1000)
    for frame in frames:
        result = pipeline.decode(frame)
        assert result.codes == []
        assert result.steps == ["zxing", "half_sharpen"]


def test_two_codes_in_one_frame_both_come_out(rng: np.random.Generator) -> None:
    image = qrimages.two_codes("CT1:LEFT", "CT1:RIGHT", rng, size=(800, 480), module_px=5)
    assert {c.text for c in Pipeline().decode(image).codes} == {"CT1:LEFT", "CT1:RIGHT"}


def test_no_false_positive_on_empty_and_degenerate_frames(pipeline: Pipeline) -> None:
    rng = np.random.default_rng(3)
    frames = [qrimages.noisy_background(640, 480, rng) for _ in range(6)]
    frames += [
        np.zeros((480, 640), np.uint8),
        np.full((480, 640), 255, np.uint8),
        np.zeros((1, 1), np.uint8),
        rng.integers(0, 256, (480, 640), dtype=np.uint8),
    ]
    for frame in frames:
        assert pipeline.decode(frame).codes == []


def test_to_grey_accepts_every_camera_layout() -> None:
    grey = np.arange(12, dtype=np.uint8).reshape(3, 4)
    assert to_grey(grey).shape == (3, 4)
    assert to_grey(np.dstack([grey] * 3)).shape == (3, 4)
    assert to_grey(np.dstack([grey] * 4)).shape == (3, 4)
    assert to_grey(grey.astype(np.float32) * 100).dtype == np.uint8
    with pytest.raises(ValueError, match="not an image"):
        to_grey(np.zeros((2, 2, 2, 2), np.uint8))


def test_unknown_decoder_name_is_refused_with_the_choices() -> None:
    with pytest.raises(ValueError, match="zxing, zbar, opencv"):
        make_decoder("wechat")
    assert set(DECODER_NAMES) == {"zxing", "zbar", "opencv"}


def test_slow_decoders_only_run_when_zxing_located_a_code(pipeline: Pipeline) -> None:
    empty = qrimages.noisy_background(640, 480, np.random.default_rng(11))
    assert pipeline.decode(empty).steps[0] == "zxing"
    assert "zbar" not in pipeline.decode(empty).steps
    assert "opencv" not in pipeline.decode(empty).steps
