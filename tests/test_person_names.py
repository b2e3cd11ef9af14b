"""A person's name read again with how often people are given each character."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
from PIL import Image, ImageDraw

from bot.vendors.local.layout import FieldValue, PageRead
from bot.vendors.local.ocr import shared_engine
from bot.vendors.local.pages import PAGES
from bot.vendors.local.person_names import (
    given_name_log_prior,
    likeliest_name,
    looks_personal,
    read_name,
    reconsider_names,
)
from bot.vendors.local.value_crop import value_crop
from tests.fakes.readings import scripted_reading
from tests.specimens.fonts import font

ALPHABET = ("", "孟", "慧", "意", "品", "晶", "沈", "颗", "颖", "洁", "B", "8")


def test_the_prior_counts_names_people_are_given_far_above_lookalikes_nobody_is():
    prior, unseen = given_name_log_prior()
    assert prior["晶"] - prior["品"] > 2  # about nine times as common in given names
    assert prior["颖"] - prior["颗"] > 6
    assert prior["彤"] - prior["形"] > 3
    assert all(value > unseen for value in prior.values())
    assert len(prior) > 9000


def test_a_given_name_glyph_the_recognizer_was_unsure_of_is_read_as_the_one_people_are_given():
    reading = scripted_reading([{"孟": 0.95}, {}, {"慧": 0.9}, {}, {"品": 0.7, "晶": 0.25}, {}], ALPHABET)
    assert reading.text == "孟慧品"
    name = likeliest_name(reading, "孟慧品")
    assert name is not None and name.text == "孟慧晶"
    assert 0.5 < name.confidence < 1.0  # the other reading keeps a share


def test_a_glyph_the_recognizer_is_sure_of_is_not_overruled_by_the_prior():
    reading = scripted_reading([{"孟": 0.95}, {}, {"慧": 0.9}, {}, {"品": 0.97, "晶": 0.02}, {}], ALPHABET)
    name = likeliest_name(reading, "孟慧品")
    assert name is not None and name.text == "孟慧品"


def test_the_surname_is_left_as_read():
    """The table counts given names: 晶 is a common given name, which says nothing of surnames."""
    reading = scripted_reading([{"品": 0.55, "晶": 0.4}, {}, {"慧": 0.9}, {}], ALPHABET)
    name = likeliest_name(reading, "品慧")
    assert name is not None and name.text == "品慧"


def test_a_line_read_again_as_something_else_is_no_evidence_for_either_reading():
    reading = scripted_reading([{"孟": 0.95}, {}, {"意": 0.9}, {}, {"品": 0.6, "晶": 0.35}, {}], ALPHABET)
    assert likeliest_name(reading, "孟慧品") is None


def test_a_name_read_with_no_second_thought_comes_back_as_it_was():
    reading = scripted_reading([{"孟": 0.99}, {}, {"慧": 0.99}, {}, {"晶": 0.99}, {}], ALPHABET)
    name = likeliest_name(reading, "孟慧晶")
    assert name is not None and (name.text, name.confidence) == ("孟慧晶", 1.0)


@pytest.mark.parametrize(
    ("value", "personal"),
    [
        ("张伟", True),
        ("欧阳明辉", True),
        ("李", False),
        ("成都瑞达汽车租赁有限公司", False),
        ("市公安局", False),
        ("John", False),
    ],
)
def test_only_an_owner_that_looks_like_a_person_is_read_as_a_name(value, personal):
    assert looks_personal(value) is personal


def _blurred_name_row(text: str) -> tuple[np.ndarray, tuple[float, float, float, float]]:
    """A row with `text` blurred as a soft photo blurs it (the recognizer reads 沈颖洁 as 沈颗洁 here),
    and the box the page read would give the value."""
    photo = Image.new("RGB", (420, 100), (245, 245, 240))
    ImageDraw.Draw(photo).text((200, 34), text, font=font(24), fill=(30, 30, 30))
    bgr = cv2.GaussianBlur(np.asarray(photo)[:, :, ::-1].copy(), (0, 0), 1.8)
    return bgr, (180.0, 20.0, 228.0 + 24 * len(text), 80.0)


def _page_with_name(value: str, rect: tuple[float, float, float, float], degrees: float = 0.0) -> PageRead:
    return PageRead(
        PAGES[("driving", "front")], {"name": FieldValue(value, 0.8, rect)}, frame_degrees=degrees
    )


def test_a_blurred_given_name_read_as_its_lookalike_is_put_right_from_the_photo():
    bgr, rect = _blurred_name_row("沈颖洁")
    crop = value_crop(bgr, 1.0, 0.0, rect)
    assert crop is not None
    greedy = shared_engine().read_crop_chars(crop).text
    assert greedy == "沈颗洁", "the blur no longer misleads the recognizer's first choice"
    read = _page_with_name("沈颗洁", rect)
    reconsider_names(shared_engine(), bgr, 1.0, read)
    assert read.fields["name"].value == "沈颖洁"
    assert read.fields["name"].confidence <= 0.8  # never more sure than the page read was


def test_the_name_is_cut_out_of_a_photo_turned_a_quarter_and_scaled():
    """The value's box is in the photo's pixels, `scale` times the engine's; the parser's frame turns a
    photo taken a quarter turn clockwise back by -90 degrees."""
    bgr, (x0, y0, x1, y1) = _blurred_name_row("沈颖洁")
    turned = np.ascontiguousarray(np.rot90(bgr, k=-1))  # clockwise: (x, y) goes to (h - 1 - y, x)
    height = bgr.shape[0]
    box = (height - y1, x0, height - y0, x1)
    read = _page_with_name("沈颗洁", tuple(2.0 * value for value in box), degrees=-90.0)
    reconsider_names(shared_engine(), turned, 2.0, read)
    assert read.fields["name"].value == "沈颖洁"


def test_a_company_owner_is_not_read_as_a_persons_name():
    bgr, rect = _blurred_name_row("沈颖洁")
    read = PageRead(PAGES[("vehicle", "front")], {"owner": FieldValue("沈颗洁有限公司", 0.8, rect)})
    reconsider_names(shared_engine(), bgr, 1.0, read)
    assert read.fields["owner"].value == "沈颗洁有限公司"


def test_a_name_cell_read_alone_is_read_in_chinese_characters_with_the_given_name_prior():
    """Detection missed the name; its cell's ink, read alone, is faint: a capital outscores the glyph
    at one step, and the look-alike nobody is named with leads at another."""
    steps = [{"沈": 0.8}, {}, {"B": 0.45, "颖": 0.35}, {}, {"颗": 0.5, "颖": 0.35}, {}, {"洁": 0.8}, {}]
    reading = scripted_reading(steps, ALPHABET)
    assert reading.text == "沈B颗洁"
    name = read_name(reading)
    assert name is not None and name.text == "沈颖颖洁"
    assert name.confidence < 0.8  # no surer than the faint glyphs it was read from


@pytest.mark.parametrize(
    "steps",
    [
        [{"B": 0.7}, {}, {"8": 0.6}, {}],  # no Chinese character at all: a smudge, or another value
        [{"沈": 0.9}, {}],  # one character is no name
        [{"沈": 0.2}, {}, {"洁": 0.25}, {}],  # too faint to be a reading
    ],
)
def test_a_name_cell_that_shows_no_name_gives_none(steps):
    assert read_name(scripted_reading(steps, ALPHABET)) is None
