"""The embedded engine's photo hints on drawn lines of print: thumbnails and blur are named, sharp print
of a normal size is not, and too few lines give no verdict."""

from __future__ import annotations

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

from bot.vendors.local.ocr import OcrLine
from bot.vendors.local.photo_quality import MIN_JUDGED_LINES, MIN_TEXT_HEIGHT, photo_warnings
from tests.specimens.fonts import font

TEXTS = (
    "中华人民共和国机动车驾驶证",
    "北京市东城区景山前街4号",
    "2014-10-13",
    "小型汽车",
    "LFVH76CB3M2030613",
)


def page(height: int, *, blur: float = 0.0, count: int = len(TEXTS)) -> tuple[np.ndarray, list[OcrLine]]:
    """Lines of print `height` px high on paper, and the boxes a detector would give them."""
    image = Image.new("L", (20 * height, 2 * height * count + height), 235)
    draw = ImageDraw.Draw(image)
    typeface = font(round(height * 0.8))
    lines = []
    for number, text in enumerate(TEXTS[:count]):
        top = height + 2 * height * number
        draw.text((height, top), text, fill=25, font=typeface)
        x0, y0, x1, y1 = draw.textbbox((height, top), text, font=typeface)
        pad = 0.15 * height
        lines.append(OcrLine.from_rect(text, 0.99, x0 - pad, y0 - pad, x1 + pad, y1 + pad))
    if blur:
        image = image.filter(ImageFilter.GaussianBlur(blur))
    return np.asarray(image), lines


def codes(gray: np.ndarray, lines: list[OcrLine], scale: float = 1.0) -> list[str]:
    return [warning.code for warning in photo_warnings(gray, lines, scale)]


def test_sharp_print_of_a_normal_size_gets_no_hint() -> None:
    assert codes(*page(40)) == []


def test_print_too_small_in_the_photo_as_sent_is_named() -> None:
    gray, lines = page(16)
    assert codes(gray, lines) == ["photo_small"]
    # The engine may be given a copy shrunk from the photo as sent: the size that counts is the photo's.
    assert "photo_small" not in codes(gray, lines, scale=2 * MIN_TEXT_HEIGHT / 16)


def test_blurred_print_is_named_and_blur_is_judged_against_the_print_size() -> None:
    assert codes(*page(40, blur=3.0)) == ["photo_blur"]
    assert codes(*page(80, blur=1.0)) == []  # a pixel of blur is nothing on print this large


def test_too_few_lines_give_no_verdict() -> None:
    assert codes(*page(16, count=MIN_JUDGED_LINES - 1)) == []


def test_the_lines_kept_in_the_raw_answer_come_back_as_the_engine_read_them() -> None:
    # The hints are judged on the lines the session log keeps (rounded to a tenth of a pixel).
    line = OcrLine("小型汽车", 0.98765, ((10.04, 20.0), (110.0, 22.5), (109.0, 52.5), (9.0, 50.0)))
    again = OcrLine.from_raw(line.to_raw())
    assert again.text == line.text and again.score == round(line.score, 4)
    for (x, y), (x_again, y_again) in zip(line.points, again.points, strict=True):
        assert abs(x - x_again) <= 0.05 and abs(y - y_again) <= 0.05
