"""An inspection stamp's station code read again under its grammar: a province, then a city letter."""

from __future__ import annotations

import cv2
import numpy as np
from PIL import Image, ImageDraw

import bot.vendors.local.vendor as vendor_module
from bot.vendors.local.layout import FieldValue, PageRead
from bot.vendors.local.ocr import shared_engine
from bot.vendors.local.pages import PAGES
from bot.vendors.local.station_code import letter_at, reconsider_station_code
from bot.vendors.local.value_crop import value_crop
from tests.fakes.readings import scripted_reading
from tests.rendered_reads import read_rendered_vehicle
from tests.specimens.fonts import font

ALPHABET = ("", "粤", "8", "B", "R", "I", "(", "0", "6", ")")


def test_the_letter_the_recognizer_gave_a_share_is_taken_where_it_read_a_digit():
    steps = [{"粤": 0.9}, {}, {"8": 0.9, "B": 0.06}, {}, {"(": 0.9}, {"0": 0.9}, {"6": 0.9}, {")": 0.9}]
    reading = scripted_reading(steps, ALPHABET)
    assert reading.text == "粤8(06)"
    letter = letter_at(reading, "粤", "8")
    assert letter is not None
    assert letter.letter == "B"
    assert letter.confidence > 0.9  # no other letter had a share worth the name


def test_letters_plates_never_use_are_not_chosen():
    """I and O are left out of plate and station codes, however likely the recognizer thought them."""
    steps = [{"粤": 0.9}, {}, {"8": 0.8, "I": 0.15, "R": 0.04}, {}, {"(": 0.9}, {"0": 0.9}, {")": 0.9}]
    letter = letter_at(scripted_reading(steps, ALPHABET), "粤", "8")
    assert letter is not None and letter.letter == "R"


def test_a_letter_hardly_told_from_others_comes_with_a_low_confidence():
    steps = [{"粤": 0.9}, {}, {"8": 0.9, "B": 0.004, "R": 0.004}, {}, {"(": 0.9}, {")": 0.9}]
    letter = letter_at(scripted_reading(steps, ALPHABET), "粤", "8")
    assert letter is not None and letter.confidence < 0.6


def test_a_letter_the_recognizer_barely_saw_is_no_reading_however_alone_it_is():
    """B at 0.0005 leads the letters' tail by far, but at that level it says nothing of the glyph."""
    steps = [{"粤": 0.9}, {}, {"8": 0.99, "B": 0.0005}, {}, {"(": 0.9}, {")": 0.9}]
    assert letter_at(scripted_reading(steps, ALPHABET), "粤", "8") is None


def test_a_line_read_again_without_the_misread_pair_is_left_alone():
    steps = [{"粤": 0.9}, {}, {"6": 0.9}, {}, {"(": 0.9}, {")": 0.9}]
    assert letter_at(scripted_reading(steps, ALPHABET), "粤", "8") is None


def _blurred_stamp(text: str) -> tuple[np.ndarray, tuple[float, float, float, float]]:
    """A small red stamp line, blurred until the recognizer's first choice for B is 8."""
    photo = Image.new("RGB", (400, 60), (245, 245, 240))
    ImageDraw.Draw(photo).text((20, 18), text, font=font(16), fill=(200, 40, 60))
    bgr = cv2.GaussianBlur(np.asarray(photo)[:, :, ::-1].copy(), (0, 0), 1.5)
    return bgr, (18.0, 16.0, 334.0, 37.0)


def _page_with_record(value: str, rect: tuple[float, float, float, float]) -> PageRead:
    return PageRead(PAGES[("vehicle", "back")], {"inspection_record": FieldValue(value, 0.99, rect)})


def test_a_blurred_station_letter_read_as_a_digit_is_put_right_from_the_photo():
    bgr, rect = _blurred_stamp("检验有效期至2025年02月粤B(06)")
    crop = value_crop(bgr, 1.0, 0.0, rect)
    assert crop is not None
    greedy = shared_engine().read_crop_chars(crop).text
    assert greedy.endswith("粤8(06)"), "the blur no longer misleads the recognizer's first choice"
    read = _page_with_record("检验有效期至2025年02月粤8(06)", rect)
    reconsider_station_code(shared_engine(), bgr, 1.0, read)
    assert read.fields["inspection_record"].value == "检验有效期至2025年02月粤B(06)"
    assert read.fields["inspection_record"].confidence > 0.6  # B stood out among the letters: not flagged


def test_a_code_that_already_has_its_letter_is_not_read_again():
    bgr, rect = _blurred_stamp("检验有效期至2025年02月粤B(06)")
    read = _page_with_record("检验有效期至2025年02月粤R(06)", rect)
    reconsider_station_code(shared_engine(), bgr, 1.0, read)
    assert read.fields["inspection_record"].value == "检验有效期至2025年02月粤R(06)"


def test_the_engine_reads_a_stamps_letter_again_on_every_vehicle_back(monkeypatch):
    """The step is wired into the page read: it sees the stamp the page read found (a sharp render, so
    its letter is a letter and it is left alone)."""
    seen: list[str] = []

    def spy(engine, bgr, scale, read: PageRead) -> None:
        seen.append(read.fields["inspection_record"].value)
        reconsider_station_code(engine, bgr, scale, read)

    monkeypatch.setattr(vendor_module, "reconsider_station_code", spy)
    result, truth = read_rendered_vehicle("station-code", "back")
    assert seen == [truth["inspection_record"]]
    assert result.document is not None
    assert result.document.values()["inspection_record"] == truth["inspection_record"]
