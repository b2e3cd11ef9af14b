"""The second look at a doubtful province, with a recognizer scripted per look (hand-made probability
matrices, as in the decoder tests), so each rule is checked without the model's own judgement."""

from __future__ import annotations

import numpy as np

from bot.vendors.local.ocr import CropReading
from bot.vendors.local.plate_decode import FULL_TEMPLATES, decode_best
from bot.vendors.local.plate_province import DOUBTFUL_PROVINCE, second_look
from tests.fakes.readings import scripted_reading

ALPHABET = ("<blank>", "皖", "鄂", "新", "A", "1", "2", "3", "4", "5", "X")


def _plate(province: dict[str, float]) -> CropReading:
    """A seven-character plate whose first step holds `province`, the rest read cleanly."""
    steps: list[dict[str, float]] = [province, {}]
    for char in "A12345":
        steps += [{char: 0.95}, {}]
    return scripted_reading(steps, ALPHABET)


class ScriptedEngine:
    """Answers each look with the next scripted reading, and counts the looks taken."""

    def __init__(self, *readings: CropReading) -> None:
        self.readings = list(readings)
        self.looks = 0

    def read_crop_chars(self, image: np.ndarray) -> CropReading:
        self.looks += 1
        return self.readings.pop(0)


LINE = np.full((48, 180, 3), 128, dtype=np.uint8)


def _first(province: dict[str, float]) -> tuple[CropReading, object]:
    reading = _plate(province)
    read = decode_best(reading, FULL_TEMPLATES)
    assert read is not None
    return reading, read


def test_a_doubtful_province_takes_what_the_softer_looks_agree_on():
    reading, read = _first({"鄂": 0.004, "X": 0.9})  # the recognizer saw another glyph, not a province
    assert read.text == "鄂A12345" and read.probs[0] < DOUBTFUL_PROVINCE
    engine = ScriptedEngine(_plate({"皖": 0.6, "鄂": 0.1}), _plate({"皖": 0.4, "新": 0.2}))
    looked = second_look(engine, LINE, read, reading)  # type: ignore[arg-type]
    assert engine.looks == 2
    assert looked.text == "皖A12345"
    assert looked.probs[0] == np.mean([0.6, 0.4])  # the looks' own evidence, not the first reading's
    assert looked.probs[1:] == read.probs[1:]


def test_looks_are_pooled_so_one_confident_look_does_not_decide_alone():
    reading, read = _first({"新": 0.002, "X": 0.9})
    # One look is sure of 鄂; the other spreads over 皖 and 新; pooled as distributions, 鄂 leads by
    # its share of each look, not by its raw probability.
    engine = ScriptedEngine(_plate({"鄂": 0.9, "皖": 0.05}), _plate({"皖": 0.3, "新": 0.29}))
    looked = second_look(engine, LINE, read, reading)  # type: ignore[arg-type]
    shares = {"鄂": 0.9 / 0.95, "皖": 0.05 / 0.95 + 0.3 / 0.59, "新": 0.29 / 0.59}
    assert looked.text[0] == max(shares, key=shares.__getitem__)


def test_a_confident_province_gets_no_second_look():
    reading, read = _first({"皖": 0.7})
    engine = ScriptedEngine()
    assert second_look(engine, LINE, read, reading) is read  # type: ignore[arg-type]
    assert engine.looks == 0


def test_a_province_the_looks_confirm_keeps_its_character_and_gains_probability():
    reading, read = _first({"皖": 0.01, "X": 0.9})
    engine = ScriptedEngine(_plate({"皖": 0.5}), _plate({"皖": 0.3}))
    looked = second_look(engine, LINE, read, reading)  # type: ignore[arg-type]
    assert looked.text == read.text
    assert looked.probs[0] == np.mean([0.5, 0.3])


def test_looks_with_no_preference_leave_the_province_alone():
    reading, read = _first({"鄂": 0.003, "X": 0.9})
    engine = ScriptedEngine(_plate({"X": 0.9}), _plate({}))  # every province at the same floor
    looked = second_look(engine, LINE, read, reading)  # type: ignore[arg-type]
    assert looked.text == read.text


def test_a_sharp_line_is_also_looked_at_wider():
    """A line taller than the recognizer's (a plate seen large) gets widened looks beside the softer
    one; an enlarged small crop only softer ones."""
    reading, read = _first({"鄂": 0.004, "X": 0.9})
    tall = ScriptedEngine(*[_plate({"皖": 0.5})] * 3)
    assert second_look(tall, np.full((96, 360, 3), 128, np.uint8), read, reading).text[0] == "皖"  # type: ignore[arg-type]
    small = ScriptedEngine(*[_plate({"皖": 0.5})] * 3)
    second_look(small, LINE, read, reading)  # type: ignore[arg-type]
    assert (tall.looks, small.looks) == (3, 2)
