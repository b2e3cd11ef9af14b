"""A model's brand read again among the known brands: a blurred glyph's look-alike (特期拉) gives way to
the brand the recognizer also saw (特斯拉); a brand read sharply, known or not, is left as read."""

from __future__ import annotations

import numpy as np
import pytest

import bot.vendors.local.vendor as vendor_module
from bot.vendors.local.brands import BRANDS, likeliest_brand, reconsider_brand
from bot.vendors.local.layout import FieldValue, PageRead
from bot.vendors.local.ocr import CropReading, OcrEngine
from bot.vendors.local.pages import PAGES
from tests.fakes.readings import scripted_reading
from tests.rendered_reads import read_rendered_vehicle

ALPHABET = ("", "特", "斯", "期", "拉", "牌", "T", "1")


def _tesla(second_glyph: dict[str, float]) -> CropReading:
    steps = [{"特": 0.9}, {}, second_glyph, {}, {"拉": 0.9}, {}, {"牌": 0.9}, {}, {"T": 0.9}, {}, {"1": 0.9}]
    return scripted_reading(steps, ALPHABET)


def test_a_brand_glyph_blurred_into_a_look_alike_is_read_as_the_known_brand():
    reading = _tesla({"期": 0.6, "斯": 0.1})
    assert reading.text == "特期拉牌T1"
    found = likeliest_brand(reading, "特期拉", "T1")
    assert found is not None and found[0] == "特斯拉"
    assert 0.5 < found[1] < 1.0  # the glyphs alone leaned the other way: not a certainty


def test_a_brand_read_sharply_is_kept_though_a_known_brand_is_one_glyph_away():
    """What the list lacks is only ever kept as read: a glyph the recognizer was sure of is evidence
    worth more than the prior of a known brand."""
    found = likeliest_brand(_tesla({"期": 0.99, "斯": 0.001}), "特期拉", "T1")
    assert found is not None and found[0] == "特期拉"


def test_the_list_holds_each_brand_once_as_printed_before_its_mark():
    """Chinese brands without 牌 (which the step puts back) and without the code's letters and digits."""
    assert len(BRANDS) == len(set(BRANDS))
    for brand in BRANDS:
        assert "牌" not in brand and not any(char.isascii() and char.isalnum() for char in brand)


class _ScriptedEngine:
    """An engine whose recognizer returns one prepared reading, and counts how often it is asked."""

    def __init__(self, reading: CropReading) -> None:
        self.reading = reading
        self.calls = 0

    def read_crop_chars(self, image: np.ndarray) -> CropReading:
        self.calls += 1
        return self.reading


def _front_with_model(value: str) -> PageRead:
    fields = {"model": FieldValue(value, 0.99, (10.0, 10.0, 200.0, 40.0))}
    return PageRead(PAGES[("vehicle", "front")], fields)


@pytest.mark.parametrize(
    ("value", "expected", "reads"),
    [
        ("特期拉牌T1", "特斯拉牌T1", 1),  # no known brand: read again, and put right
        ("特斯拉牌T1", "特斯拉牌T1", 0),  # a known brand is not read again
        ("T1", "T1", 0),  # no brand before 牌 to judge
    ],
)
def test_the_page_step_reads_again_only_a_brand_the_list_lacks(value: str, expected: str, reads: int):
    engine = _ScriptedEngine(_tesla({"期": 0.6, "斯": 0.1}))
    read = _front_with_model(value)
    reconsider_brand(engine, np.full((60, 240, 3), 240, np.uint8), 1.0, read)  # type: ignore[arg-type]
    assert (read.fields["model"].value, engine.calls) == (expected, reads)
    if reads:
        assert read.fields["model"].confidence < 0.95  # no surer than the brand's own share


def test_the_engine_reads_the_brand_again_on_every_vehicle_front(monkeypatch):
    """The step is wired into the page read: it sees the model the page read found (a sharp render of a
    known brand, which it leaves alone)."""
    seen: list[str] = []

    def spy(engine: OcrEngine, bgr: np.ndarray, scale: float, read: PageRead) -> None:
        seen.append(read.fields["model"].value)
        reconsider_brand(engine, bgr, scale, read)

    monkeypatch.setattr(vendor_module, "reconsider_brand", spy)
    result, truth = read_rendered_vehicle("brand", "front")
    assert seen == [truth["model"]]
    assert str(truth["model"]).partition("牌")[0] in BRANDS
    assert result.document is not None
    assert result.document.values()["model"] == truth["model"]
