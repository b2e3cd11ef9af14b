"""Plate finding and reading in the embedded engine, on plates and street scenes the project renders.

The decoder is checked on hand-made probability matrices (no model needed); everything else runs the
real recognizer once per image, so the module reads only a handful of images.
"""

from __future__ import annotations

import io
import random

import cv2
import numpy as np
import pytest
from PIL import Image

from bot.images import MIN_SHORT_SIDE_PLATE, load
from bot.models import PlateColor
from bot.plate_grammar import parse_plate
from bot.vendors.base import ErrorCategory, VendorError
from bot.vendors.local import LocalVendor
from bot.vendors.local.ocr import CropReading, EngineUnavailable, shared_engine
from bot.vendors.local.plate_decode import FULL_TEMPLATES, decode_best, decode_template
from bot.vendors.local.plate_locate import colour_proposals, order_quad, warp_upright
from bot.vendors.local.plates import (
    TWO_ROW_MAX_ASPECT,
    PlateRead,
    _best_per_place,
    _plates_in,
    _text_band,
    _turned_upright,
    color_shares,
    police_reading,
    read_plates,
    read_upright,
)
from tests.fakes.readings import scripted_reading
from tests.specimens.data import PlateSpec
from tests.specimens.plates import render_plate, render_plate_scene

# ----------------------------------------------------------------------------------------------- decoder

ALPHABET = ("<blank>", "京", "游", "A", "B", "1", "I", "2", "3", "4", "5", "D", "警", "·")


def _reading(steps: list[dict[str, float]]) -> CropReading:
    return scripted_reading(steps, ALPHABET)


def _spell(text: str, *, blank_between: bool = True) -> list[dict[str, float]]:
    steps: list[dict[str, float]] = []
    for char in text:
        steps.append({char: 0.95})
        if blank_between:
            steps.append({})
    return steps


def test_decoder_reads_plate_shapes_where_greedy_reads_confusables():
    # The recognizer says I where a plate can only print 1, and a look-alike where the province stands.
    steps = [{"游": 0.8, "京": 0.1}, {}, *_spell("A·12I45")]
    read = decode_best(_reading(steps), FULL_TEMPLATES)
    assert read is not None
    assert read.text == "京A12145"
    assert parse_plate(read.text) is not None
    assert read.probs[0] < 0.5 < min(read.probs[1:])


def test_decoder_picks_the_format_whose_length_fits():
    seven = decode_best(_reading(_spell("京A12345")), FULL_TEMPLATES)
    eight = decode_best(_reading(_spell("京AD12345")), FULL_TEMPLATES)
    assert seven is not None and seven.template == "ordinary"
    assert eight is not None and eight.template == "new_energy_small"
    assert eight.text == "京AD12345"


def test_a_wide_glyph_does_not_fill_two_slots():
    # "京A11234" style runs: one glyph spread over three steps is one character, not three.
    steps = [{"京": 0.95}, {}, {"A": 0.95}, {}, {"1": 0.95}, {"1": 0.95}, {"1": 0.95}, {}]
    steps += _spell("2345")
    read = decode_template(_reading(steps), "ordinary", FULL_TEMPLATES["ordinary"])
    assert read is not None
    assert read.text == "京A12345"


def test_two_glyphs_read_back_to_back_do_not_fill_one_slot():
    """An 8-character plate whose glyphs the recognizer read with no blank between two of them: a
    7-character format could lay one slot over both (each step is a likely serial character) and tie
    with the 8-character one; a slot lasts only while its character stays the same."""
    steps = [*_spell("京A"), *_spell("D1"), {"2": 0.95}, {"3": 0.95}, {}, *_spell("45")]
    read = decode_best(_reading(steps), FULL_TEMPLATES)
    assert read is not None and read.text == "京AD12345"
    seven = decode_template(_reading(steps), "ordinary", FULL_TEMPLATES["ordinary"])
    assert seven is not None and seven.log_likelihood < read.log_likelihood - 2


def test_suffix_template_wins_only_when_the_suffix_is_there():
    police = decode_best(_reading(_spell("京A1234警")), FULL_TEMPLATES)
    assert police is not None and police.text == "京A1234警"


# ----------------------------------------------------------------------------------------------- geometry


def test_order_quad_starts_top_left_and_runs_along_the_long_side():
    tall_first = np.float32([[10, 0], [10, 40], [0, 40], [0, 0]])  # 10 wide, 40 tall: turned plate
    ordered = order_quad(tall_first)
    assert np.linalg.norm(ordered[1] - ordered[0]) > np.linalg.norm(ordered[3] - ordered[0])
    wide = np.float32([[100, 30], [0, 30], [0, 0], [100, 0]])
    assert order_quad(wide)[0].tolist() == [0.0, 0.0]


# ----------------------------------------------------------------------------------------------- engine


@pytest.fixture(scope="module")
def engine():
    try:
        return shared_engine()
    except EngineUnavailable as exc:  # pragma: no cover - an installation without the models
        pytest.skip(str(exc))


def _bgr(image: Image.Image) -> np.ndarray:
    return np.ascontiguousarray(np.asarray(image.convert("RGB"))[:, :, ::-1])


def _numbers(engine, image: np.ndarray) -> list[str]:
    return [plate.number for plate in read_plates(engine, image).plates]


@pytest.mark.parametrize(
    ("spec", "color"),
    [
        (PlateSpec("苏E6T1M0", PlateColor.BLUE), PlateColor.BLUE),
        (PlateSpec("粤BD12345", PlateColor.GREEN, kind="green"), PlateColor.GREEN),
        (PlateSpec("冀D5L690", PlateColor.YELLOW, double_layer=True, kind="yellow"), PlateColor.YELLOW),
    ],
)
def test_tight_crops_read_with_their_colour(engine, spec, color):
    crop, truth = render_plate(spec, scale=0.5)
    scan = read_plates(engine, _bgr(crop))
    assert [plate.number for plate in scan.plates] == [truth["number"]]
    assert scan.plates[0].color == color
    assert scan.plates[0].double_layer == truth["double_layer"]


def test_blue_plate_under_a_teal_cast_keeps_its_seven_characters(engine):
    """A colour cast can make a blue plate mostly "green" pixels; its reading must not be forced into
    the eight-character new-energy formats."""
    crop, truth = render_plate(PlateSpec("皖A5Y646", PlateColor.BLUE), scale=0.5)
    hsv = cv2.cvtColor(_bgr(crop), cv2.COLOR_BGR2HSV)
    hsv[:, :, 0] = np.where(hsv[:, :, 1] > 60, np.clip(hsv[:, :, 0].astype(int) - 25, 0, 179), hsv[:, :, 0])
    teal = cv2.cvtColor(hsv, cv2.COLOR_HSV2BGR)
    shares = color_shares(teal, (0.0, 0.0, float(teal.shape[1]), float(teal.shape[0])))
    assert shares["green"] > max(shares["blue"], 0.25), "the cast must make the crop look green"
    reads = read_upright(engine, teal)
    assert reads and reads[0][0].text == truth["number"]


def test_tilted_plate_is_found_by_colour_and_read_upright(engine):
    crop, truth = render_plate(PlateSpec("浙A7K392", PlateColor.BLUE), scale=0.45)
    canvas = Image.new("RGB", (900, 600), (120, 118, 110))
    canvas.paste(crop.rotate(14, expand=True, fillcolor=(120, 118, 110)), (260, 220))
    image = _bgr(canvas)
    proposals = colour_proposals(image)
    assert proposals, "a saturated blue plate-shaped region must be proposed"
    upright = warp_upright(image, proposals[0].quad)
    assert upright.shape[1] > 2.5 * upright.shape[0]
    assert truth["number"] in [read.text for read, _ in read_upright(engine, upright)]
    assert truth["number"] in _numbers(engine, image)


def test_two_plates_in_a_street_scene_are_both_read(engine):
    specs = [PlateSpec("京N5B821", PlateColor.BLUE), PlateSpec("鲁B63H70", PlateColor.YELLOW, kind="yellow")]
    scene, truths = render_plate_scene(specs, random.Random(7), size=(1280, 720))
    numbers = _numbers(engine, _bgr(scene))
    assert {truth["number"] for truth in truths} <= set(numbers)


def test_small_far_plate_is_found(engine):
    scene, truths = render_plate_scene([PlateSpec("川A2C5D8", PlateColor.BLUE)], random.Random(3))
    small = scene.resize((scene.width * 6 // 10, scene.height * 6 // 10), Image.Resampling.BILINEAR)
    assert truths[0]["number"] in _numbers(engine, _bgr(small))


def test_dim_plate_is_read(engine):
    crop, truth = render_plate(PlateSpec("湘C88F21", PlateColor.BLUE), scale=0.5)
    dim = (_bgr(crop).astype(np.float32) * 0.45).astype(np.uint8)
    assert _numbers(engine, dim) == [truth["number"]]


def test_confidence_ranks_right_reads_above_wrong_ones(engine):
    """The true reading of a plate outscores the same crop forced into a wrong format, and a clean
    crop's reading outscores a badly blurred one's."""
    crop, truth = render_plate(PlateSpec("豫P3M826", PlateColor.BLUE), scale=0.5)
    image = _bgr(crop)
    reading = engine.read_crop_chars(image)
    right = decode_template(reading, "ordinary", FULL_TEMPLATES["ordinary"])
    wrong = [
        decode_template(reading, name, slots) for name, slots in FULL_TEMPLATES.items() if name != "ordinary"
    ]
    assert right is not None and right.text == truth["number"]
    assert all(other is None or other.confidence < right.confidence for other in wrong)
    blurred = cv2.GaussianBlur(image, (0, 0), 4.0)
    blurred_read = decode_best(engine.read_crop_chars(blurred), FULL_TEMPLATES)
    assert blurred_read is None or blurred_read.confidence < right.confidence


# ------------------------------------------------------------------------------------ one plate, two reads


def _plate_read(number: str, probs: tuple[float, ...], rect=(100.0, 100.0, 300.0, 160.0)) -> PlateRead:
    confidence = float(np.mean(probs)) ** 0.5 * min(probs) ** 0.5  # as SlotRead.confidence
    return PlateRead(number, PlateColor.BLUE, confidence, rect, slot_probs=probs)


def test_two_reads_of_one_plate_are_judged_where_they_disagree():
    """Both reads share a doubtful province, which sets their confidence; the read whose disputed serial
    character is the surer one wins, though its doubtful province is a little weaker."""
    six = _plate_read("苏E6T1M0", (0.11, 0.99, 0.87, 0.99, 0.83, 0.99, 0.74))
    shifted = (105.0, 98.0, 305.0, 162.0)
    gee = _plate_read("苏EGT1M0", (0.15, 0.99, 0.52, 0.95, 0.42, 0.98, 0.80), rect=shifted)
    assert gee.confidence > six.confidence
    assert [plate.number for plate in _best_per_place([gee, six])] == ["苏E6T1M0"]


def test_reads_that_disagree_throughout_are_judged_by_confidence():
    right = _plate_read("藏DT5022", (0.05, 0.6, 0.7, 0.8, 0.6, 0.9, 0.9))
    other = _plate_read("新T0E0TS", (0.03, 0.9, 0.9, 0.9, 0.9, 0.9, 0.9), rect=(102.0, 100.0, 302.0, 160.0))
    assert right.confidence > other.confidence
    assert [plate.number for plate in _best_per_place([other, right])] == ["藏DT5022"]
    # Plates in different places are both kept, whatever they read.
    apart = _plate_read("新T0E0TS", other.slot_probs, rect=(600.0, 100.0, 800.0, 160.0))
    assert len(_best_per_place([right, apart])) == 2


def test_a_plate_framed_with_wide_margins_is_also_read_from_its_glyph_band(engine):
    """A crop much taller than its one-row plate gives the recognizer a line mostly of margin; the band
    of glyph rows is found by its vertical strokes and read as well."""
    crop, truth = render_plate(PlateSpec("浙A205LK", PlateColor.BLUE), scale=0.3)
    plate = _bgr(crop)
    height, width = plate.shape[:2]
    side = width // 10
    framed = cv2.copyMakeBorder(plate, height, height, side, side, cv2.BORDER_CONSTANT, value=(90, 90, 90))
    assert framed.shape[1] / framed.shape[0] < TWO_ROW_MAX_ASPECT  # too tall to be read as one row only
    band = _text_band(framed)
    assert band is not None and band.shape[0] < 0.6 * framed.shape[0]
    assert truth["number"] in [read.text for read, _ in read_upright(engine, framed)]
    assert _text_band(np.full_like(framed, 90)) is None  # no glyphs, no band


# --------------------------------------------------------------------------------- turned photos, police


@pytest.mark.parametrize("turn", [cv2.ROTATE_90_CLOCKWISE, cv2.ROTATE_180, cv2.ROTATE_90_COUNTERCLOCKWISE])
def test_a_street_photo_taken_sideways_or_upside_down_is_read(engine, turn):
    """A phone held sideways or upside down (and no EXIF to say so) stands the plate on its end or head;
    the crop is cut with its long side level and turned upright."""
    spec = PlateSpec("桂AL17G5", PlateColor.BLUE)
    scene, truths = render_plate_scene([spec], random.Random(5), size=(960, 640))
    assert truths[0]["number"] in _numbers(engine, cv2.rotate(_bgr(scene), turn))


class _SaysUpsideDown:
    """The real engine, except that its direction classifier calls every crop upside down."""

    def __init__(self, engine) -> None:
        self._engine = engine

    def upside_down(self, image: np.ndarray) -> bool:
        return True

    def __getattr__(self, name: str):
        return getattr(self._engine, name)


def test_the_direction_classifier_alone_does_not_turn_a_plate(engine):
    """PP-OCR's direction classifier calls some upright plates upside down; the plate grammar has the
    last word, so an upright crop stays upright and an upside-down one is turned."""
    crop, truth = render_plate(PlateSpec("皖A91Y91", PlateColor.BLUE), scale=0.5)
    upright = _bgr(crop)
    fooled = _SaysUpsideDown(engine)
    assert _turned_upright(fooled, upright) is upright
    assert [plate.number for plate in _plates_in(fooled, upright, upright, (0, 0, 1, 1))] == [truth["number"]]
    turned = cv2.rotate(upright, cv2.ROTATE_180)
    assert np.array_equal(_turned_upright(fooled, turned), upright)


def _small_police_crop(number: str) -> np.ndarray:
    """A police plate as a far car shows it: small and soft, its red 警 no longer a legible glyph."""
    crop, _ = render_plate(PlateSpec(number, PlateColor.WHITE, kind="police"), scale=0.25)
    return cv2.GaussianBlur(_bgr(crop), (0, 0), 2.2)


def test_a_police_plate_whose_red_glyph_is_illegible_is_read_by_its_colour(engine):
    crop = _small_police_crop("湘A5921警")
    unaided = decode_best(engine.read_crop_chars(crop), FULL_TEMPLATES)
    assert unaided is not None and not unaided.text.endswith("警"), "the recognizer alone must miss the 警"
    reads = read_upright(engine, crop)
    assert reads and reads[0][0].text == "湘A5921警"
    plates = _plates_in(engine, crop, crop, (0.0, 0.0, float(crop.shape[1]), float(crop.shape[0])))
    assert plates[0].color == PlateColor.WHITE


def test_only_a_red_last_glyph_makes_a_police_plate(engine):
    """The same white plate with its last glyph black, or with red all over it (a red car, a red lamp
    behind the whole plate), is not read as a police plate."""
    crop = _small_police_crop("湘A5921警")
    reading = engine.read_crop_chars(crop)
    assert police_reading(reading, crop) is not None
    grey = cv2.cvtColor(cv2.cvtColor(crop, cv2.COLOR_BGR2GRAY), cv2.COLOR_GRAY2BGR)
    assert police_reading(engine.read_crop_chars(grey), grey) is None
    washed = crop.copy()
    washed[:, :, 2] = np.maximum(washed[:, :, 2], 200)
    washed[:, :, :2] = (washed[:, :, :2] * 0.3).astype(np.uint8)
    assert police_reading(engine.read_crop_chars(washed), washed) is None


@pytest.mark.parametrize(("number", "ground"), [("苏EVE083", None), ("粤Z661H澳", 85)])
def test_a_dark_plate_with_red_beside_its_last_glyph_is_not_a_police_plate(engine, number, ground):
    """A plate whose ground has lost its colour (a night shot, a magenta cast) or a black plate a dim
    photo leaves dark grey is darker than its characters: no white plate, whatever red (a lamp, a red
    car) stands past its end."""
    crop, truth = render_plate(PlateSpec(number, PlateColor.BLACK), scale=0.4)
    plate = _bgr(crop)
    if ground is not None:
        plate[plate.max(axis=2) < 60] = ground
    lamp = np.zeros((plate.shape[0], plate.shape[1] // 8, 3), np.uint8)
    lamp[:] = (30, 30, 210)
    lit = np.hstack([plate, lamp])
    reads = read_upright(engine, lit)
    assert reads and not reads[0][0].text.endswith("警")
    assert reads[0][0].text == truth["number"]


def test_reading_steps_map_onto_the_image_without_the_padding():
    """The recognizer pads a short line on the right; a step's place on the image leaves that out."""
    reading = CropReading.decode(np.zeros((40, 3)), ("", "A", "B"), coverage=0.5)
    assert reading.x_of(0, 200) == 0
    assert reading.x_of(20, 200) == 200
    assert reading.x_of(10, 200) == 100


@pytest.mark.parametrize("size", [(20000, 15), (15, 20000)])
def test_a_strip_too_thin_at_the_working_size_is_a_bad_photo_not_an_engine_fault(engine, size):
    """20000×15 becomes 1600×1 once scaled: OpenCV was asked for an empty image and the user was told
    the service had failed."""
    buffer = io.BytesIO()
    Image.new("RGB", size, (40, 60, 200)).save(buffer, "PNG")
    photo = load(buffer.getvalue(), min_side=MIN_SHORT_SIDE_PLATE)
    with pytest.raises(VendorError) as raised:
        LocalVendor().recognize_sync("plate", "front", photo)
    assert (raised.value.category, raised.value.code) == (ErrorCategory.BAD_IMAGE, "too_thin")
