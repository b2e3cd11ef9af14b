"""Plate finding and reading for the embedded engine.

A plate photo is either a tight crop of one plate (what plate datasets and cropping apps send) or a scene
with plates somewhere in it. Work goes cheapest first, and stops once a plate is read well:

1. a tight crop is read whole by the recognizer alone (and as two rows when it is shaped like a
   two-row plate);
2. plate-coloured, plate-shaped regions (plate_locate) are warped upright and read the same way, which
   finds tilted and small plates without running text detection, the costliest step;
3. text detection, its plate-like lines warped upright from their quadrilaterals with a margin (it clips
   a plate's ends), two-row plates from a serial row and the province row above it; at a second, larger
   scale only when a big photo gave no plate at all.

Every read is decoded under the plate grammar (plate_decode): each format is a template of character
classes aligned to the recognizer's per-step probabilities, so the first character can only be a
province, no I or O reaches the serial, and the confidence is the recognizer's own probability for the
characters reported, pulled towards the weakest one. Colour comes from the plate's pixels, except where
its format fixes it (new-energy green, police white, Hong Kong black); a white plate whose last glyph is
red is a police plate whatever the recognizer made of that glyph. A crop that reads badly is turned half
round when the plate grammar finds it likelier that way (a photo taken sideways or upside down).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, replace

import cv2
import numpy as np

from bot.models import PlateColor
from bot.plate_grammar import PROVINCES, PlateFormat, candidate_repairs, normalize_plate, parse_plate
from bot.vendors.local.ocr import DET_LIMIT_SIDE, CropReading, OcrEngine, OcrLine, line_length
from bot.vendors.local.plate_decode import (
    BOTTOM_TEMPLATES,
    FULL_TEMPLATES,
    NEW_ENERGY_TEMPLATES,
    POLICE_TEMPLATES,
    TOP_TEMPLATES,
    SlotRead,
    decode_best,
    join_rows,
)
from bot.vendors.local.plate_locate import colour_proposals, looks_lettered, quad_from_points, warp_upright
from bot.vendors.local.plate_province import second_look

Rect = tuple[float, float, float, float]

#: A plate read this confidently needs no further, costlier look (colour regions, then detection).
GOOD_ENOUGH = 0.8
#: In a scene, weaker readings are not reported: any blue sign decodes as *some* plate.
MIN_SCENE_CONFIDENCE = 0.5
#: A plate's text line is about 3 times as long as it is high (a 440×140 mm plate; 2.9 at most in the
#: real scene photos, two-row plates less); in a scene a detected line over this in either direction is
#: prose, and reading it only costs recognition time. (Not in a tight crop: there the plate's own line
#: can come out as a thin slanted box, 8.4 times as long as high on one real 94×24 crop.)
MAX_PLATE_LINE_ASPECT = 8.0
#: At most this many plate-shaped lines are read per detection pass (the real photos held at most 4): a
#: photographed page sent as a plate photo held hundreds and took half a minute to read.
MAX_SCENE_LINES = 40
#: GA 36 issues serials with at most two letters (none of the 1,109 real labels has three); a scene
#: reading with more is a printed word decoded under the grammar. (A white ground is for police and
#: armed-police plates only: every white plate the real and rendered photos hold ends in 警.)
MAX_SERIAL_LETTERS = 2
#: A province glyph the recognizer gives less than this was not seen at all: the grammar chose it.
MIN_SEEN_PROVINCE = 0.05
#: How far past a detected line's ends a plate is looked for (a clipped province or 警/学/挂), in line widths.
LINE_EXTRA = 0.1
#: Least probability of the province read above a lone serial row for the pair to count as a two-row plate.
MIN_TOP_PROVINCE = 0.05
#: Share of green pixels that makes a crop look like a new-energy plate.
GREEN_PLATE_SHARE = 0.25
#: How much likelier (log units, e^2.5 = 12x) a 7-character reading of a green-looking crop must be than
#: its best new-energy reading to be taken instead: a blue plate under a warm or teal cast looks green.
NEW_ENERGY_MARGIN = 2.5
#: A crop narrower than this (width / height) may be a two-row plate.
TWO_ROW_MAX_ASPECT = 2.6
#: Share of a two-row plate's height its province row takes (GA 36: 220 mm plate, 60+ mm upper row).
TOP_ROW_SHARE = 0.4
PROVINCE_CHARS = "".join(PROVINCES)
#: Glyph rows of a too-tall crop: rows with at least this share of the strongest rows' vertical strokes,
#: a band at least this many rows tall and at most this share of the crop (else it is the plate itself).
BAND_LEVEL = 0.6
MIN_BAND_ROWS = 8
MAX_BAND_SHARE = 0.6
#: Two readings of one plate that differ in at most this many characters are judged on those characters.
MAX_DISPUTED = 2
#: A police plate's last glyph is red: at least this share of its columns' pixels are red, and RED_RATIO
#: times the share in the serial's columns (a red car around a plate is red everywhere).
MIN_SUFFIX_RED = 0.04
RED_RATIO = 3.0
#: Grey level (0..255) below which a pixel counts as dark when telling a white plate's ground.
DARK_GREY = 90


@dataclass(frozen=True)
class PlateRead:
    number: str
    color: PlateColor
    confidence: float
    rect: Rect
    double_layer: bool = False
    #: What OCR said before normalization and repair (for the log).
    raw: str = ""
    #: The recognizer's probability for each character, in plate order.
    slot_probs: tuple[float, ...] = ()
    #: The ground colour seen behind it (`color` is the one its format fixes, where GA 36 fixes one).
    ground: PlateColor = PlateColor.OTHER


@dataclass
class PlateScan:
    """Everything one image gave: the plates, plus every OCR line read on the way (for the raw log)."""

    plates: list[PlateRead]
    lines: list[OcrLine]


# ----------------------------------------------------------------------------------------------- grammar


def _changes(before: str, after: str) -> int:
    return sum(1 for a, b in zip(before, after, strict=False) if a != b) + abs(len(before) - len(after))


def match_plate(text: str) -> tuple[str, PlateFormat, int] | None:
    """The grammatical plate a text most likely is, with its format and how many characters we changed.

    Tries the text as read, then the fewest OCR-confusion swaps that make it grammatical (only when that
    is unambiguous), then without a separator OCR read as a character (``京A1·12345`` -> ``京A12345``).
    """
    number = normalize_plate(text)
    if not number:
        return None
    attempts = [(number, 0)]
    if len(number) >= 3 and number[2] in "1I|L:;,'`":
        attempts.append((number[:2] + number[3:], 1))
    for candidate, extra in attempts:
        parsed = parse_plate(candidate)
        if parsed is not None:
            return candidate, parsed, extra
        repairs = candidate_repairs(candidate)
        if len(repairs) == 1:
            parsed = parse_plate(repairs[0])
            if parsed is not None:
                return repairs[0], parsed, extra + _changes(candidate, repairs[0])
    return None


_PROVINCE_ROW = re.compile("[" + PROVINCE_CHARS + "][A-Z]")
_SERIAL_ROW = re.compile(r"[A-Z0-9]{4,5}[警学挂领港澳]?")


def _is_top_row(text: str) -> bool:
    return bool(_PROVINCE_ROW.fullmatch(normalize_plate(text)))


def _is_bottom_row(text: str) -> bool:
    return bool(_SERIAL_ROW.fullmatch(normalize_plate(text)))


def _plate_like(text: str) -> bool:
    """Worth a closer look: mostly Latin letters and digits, about a plate long (shop signs are not)."""
    number = normalize_plate(text)
    latin = sum(1 for char in number if char.isascii() and char.isalnum())
    return 5 <= len(number) <= 9 and latin >= 4


# ----------------------------------------------------------------------------------------------- colour

_HSV_CLASSES = ("blue", "yellow", "green", "white", "black")


def color_shares(bgr: np.ndarray, rect: Rect) -> dict[str, float]:
    """Share of the plate box's pixels in each plate colour (HSV bands; OpenCV hue runs 0..180)."""
    height, width = bgr.shape[:2]
    x0, y0, x1, y1 = (round(value) for value in rect)
    x0, y0, x1, y1 = max(0, x0), max(0, y0), min(width, x1), min(height, y1)
    if x1 <= x0 or y1 <= y0:
        return dict.fromkeys(_HSV_CLASSES, 0.0)
    hsv = cv2.cvtColor(bgr[y0:y1, x0:x1], cv2.COLOR_BGR2HSV).reshape(-1, 3).astype(np.int16)
    hue, sat, val = hsv[:, 0], hsv[:, 1], hsv[:, 2]
    masks = {
        "blue": (hue >= 95) & (hue <= 130) & (sat >= 80) & (val >= 50),
        "yellow": (hue >= 12) & (hue < 35) & (sat >= 80) & (val >= 80),
        "green": (hue >= 35) & (hue < 95) & (sat >= 40) & (val >= 60),
        "white": (sat < 45) & (val >= 150),
        "black": val < 70,
    }
    total = float(len(hue))
    return {name: float(mask.sum()) / total for name, mask in masks.items()}


def plate_color(parsed: PlateFormat, shares: dict[str, float]) -> PlateColor:
    """The plate's colour: fixed by its format where GA 36 fixes it, otherwise its dominant ground."""
    if parsed.kind == "new_energy":
        return PlateColor.YELLOW_GREEN if parsed.size == "large" else PlateColor.GREEN
    if parsed.kind in ("police", "armed_police"):
        return PlateColor.WHITE
    if parsed.kind in ("hk", "macau", "embassy", "consulate"):
        return PlateColor.BLACK
    if parsed.kind in ("coach", "trailer"):
        return PlateColor.YELLOW
    return ground_color(shares)


def ground_color(shares: dict[str, float]) -> PlateColor:
    """The dominant ground behind a reading, whatever its format says the plate's colour must be."""
    coloured = max(("blue", "yellow", "green"), key=lambda name: shares[name])
    if shares[coloured] >= 0.2:
        return PlateColor(coloured)
    if max(shares["white"], shares["black"]) < 0.2:
        return PlateColor.OTHER
    return PlateColor.WHITE if shares["white"] >= shares["black"] else PlateColor.BLACK


# ----------------------------------------------------------------------------------------------- reading


def _scaled_for_recognition(crop: np.ndarray, target_height: int = 48) -> np.ndarray:
    """Tiny crops (a 94x24 plate) are enlarged so strokes survive the recognizer's resampling."""
    if crop.shape[0] >= target_height:
        return crop
    factor = target_height / max(crop.shape[0], 1)
    return cv2.resize(crop, None, fx=factor, fy=factor, interpolation=cv2.INTER_CUBIC)


def _line(crop: np.ndarray) -> np.ndarray | None:
    """The crop as the recognizer reads it (grey, at least its line height); None when too small to read."""
    if crop.size == 0 or min(crop.shape[:2]) < 4:
        return None
    return _scaled_for_recognition(_grey(crop))


def _slot_read(engine: OcrEngine, crop: np.ndarray, templates: dict[str, tuple[str, ...]]) -> SlotRead | None:
    line = _line(crop)
    return None if line is None else decode_best(engine.read_crop_chars(line), templates)


def read_printed_plate(engine: OcrEngine, crop: np.ndarray) -> SlotRead | None:
    """A plate number printed on a licence, read under every plate format; None unless its serial is
    legible (as for plates in photos, the province may be doubtful, and the confidence then says so)."""
    read = _slot_read(engine, crop, FULL_TEMPLATES)
    return read if read is not None and _serial_legible(read.probs) else None


def _single_row_read(engine: OcrEngine, crop: np.ndarray) -> SlotRead | None:
    """The crop read as one row, under every format; a green-looking crop leans to the new-energy ones.

    Only new-energy plates are green (GA 36), and on a tiny crop the recognizer may merge two of an
    eight-character plate's glyphs, which a 7-character format would then take, so a green crop's
    new-energy reading stands unless a 7-character one is far likelier. Colour alone cannot decide:
    a blue plate under a warm or teal cast (one real crop in thirty) is mostly "green" pixels, and its
    7-character reading is then the far likelier one (by 4 or more log units on real crops, where true
    new-energy plates stay within 1).
    """
    line = _line(crop)
    if line is None:
        return None
    reading = engine.read_crop_chars(line)
    best = decode_best(reading, FULL_TEMPLATES)
    shares = _ground(crop)
    if best is not None and best.template not in NEW_ENERGY_TEMPLATES and _looks_green(shares):
        green = decode_best(reading, NEW_ENERGY_TEMPLATES)
        if green is not None and best.log_likelihood - green.log_likelihood <= NEW_ENERGY_MARGIN:
            best = green
    if _white_ground(crop):
        best = police_reading(reading, crop) or best
    if best is None or not _serial_legible(best.probs):
        return best  # no second look at the province of a plate whose serial is not there either
    return second_look(engine, line, best, reading)


def police_reading(reading: CropReading, crop: np.ndarray) -> SlotRead | None:
    """The crop as a police plate, when its last glyph is red and its serial is not.

    Only a police plate prints a red character at its end (GA 36: white ground, black characters, a
    red 警), and the red 警 is the glyph a general recognizer loses first: small or blurred, it reads as
    a 1 or a 7. So the 警 slot is anchored by whatever glyph stands there, and the colour of that glyph's
    columns says whether it is a 警. Its probability is the recognizer's for a glyph being there at all:
    the colour, not the recognizer, named it.
    """
    police = decode_best(reading, POLICE_TEMPLATES)
    if police is None:
        return None
    red = _red_ink(crop)
    width = crop.shape[1]

    def red_share(start: float, end: float) -> float:
        columns = red[:, reading.x_of(start, width) : reading.x_of(end, width)]
        return float(columns.mean()) if columns.size else 0.0

    # A slot's time steps fall somewhere on its glyph (CTC fires early or late), so the suffix glyph is
    # taken as everything right of the last serial character's steps.
    serial_end = police.spans[-2][1] + 1
    suffix = red_share(serial_end, len(reading.probs) * reading.coverage)
    serial = red_share(police.spans[1][0], serial_end)
    if suffix < MIN_SUFFIX_RED or suffix < RED_RATIO * serial:
        return None
    first, last = police.spans[-1]
    glyph = float(reading.probs[first : last + 1, 1:].max())
    return replace(police, probs=(*police.probs[:-1], glyph))


def _red_ink(crop: np.ndarray) -> np.ndarray:
    """Pixels of saturated red (hue wraps around 0 in OpenCV's 0..180 scale)."""
    hsv = cv2.cvtColor(crop, cv2.COLOR_BGR2HSV)
    hue, sat, val = hsv[:, :, 0], hsv[:, :, 1], hsv[:, :, 2]
    return ((hue <= 8) | (hue >= 170)) & (sat >= 80) & (val >= 60)


def _grey(crop: np.ndarray) -> np.ndarray:
    """The crop in grey (still three channels), for the recognizer only; colour is judged elsewhere.

    A general text recognizer has seen little white-on-blue text, and on a small blue plate the
    colour pulls its reading of the dense province glyph towards other characters: read in grey,
    1.2 % more of the 1000 real 94x24 crops came out exact, and no rendered plate read worse.
    """
    if crop.ndim != 3:
        return crop
    return cv2.cvtColor(cv2.cvtColor(crop, cv2.COLOR_BGR2GRAY), cv2.COLOR_GRAY2BGR)


def _rows(crop: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """A two-row plate's rows: the short province row over the middle of the serial row."""
    height, width = crop.shape[:2]
    top = crop[: round(height * TOP_ROW_SHARE), round(width * 0.15) : round(width * 0.85)]
    return top, crop[round(height * (TOP_ROW_SHARE - 0.06)) :]


def _ground(crop: np.ndarray) -> dict[str, float]:
    height, width = crop.shape[:2]
    return color_shares(crop, (0.0, 0.0, float(width), float(height)))


def _white_ground(crop: np.ndarray) -> bool:
    """Whether the plate's ground, in the crop's middle (a crop's margins hold the car), is white: the
    ground outweighs the characters, so white must outweigh blue, yellow and green (a coloured plate's
    ground) and dark grey (DARK_GREY: a white plate's characters, or the ground of a black plate, which
    a dim photo leaves dark grey rather than black; on a tiny blurred white plate the characters spread
    into lighter greys and stay under the white)."""
    height, width = crop.shape[:2]
    rect = (0.1 * width, 0.25 * height, 0.9 * width, 0.75 * height)
    shares = color_shares(crop, rect)
    middle = crop[round(rect[1]) : round(rect[3]), round(rect[0]) : round(rect[2])]
    darker = float((cv2.cvtColor(middle, cv2.COLOR_BGR2GRAY) < DARK_GREY).mean()) if middle.size else 1.0
    return shares["white"] > max(shares["blue"], shares["yellow"], shares["green"], darker)


def _looks_green(shares: dict[str, float]) -> bool:
    return shares["green"] >= GREEN_PLATE_SHARE and shares["green"] > max(shares["blue"], shares["yellow"])


def _text_band(crop: np.ndarray) -> np.ndarray | None:
    """The crop's one band of glyph rows, when the crop is much taller than a one-row plate.

    A plate found with a wide margin above and below fills only part of the recognizer's line (which
    is as tall as the crop), so its glyphs get too few time steps and one can drop out. Glyph rows are
    where vertical strokes are dense (a horizontal Sobel), in one run; a margin of a quarter of the
    band's height is kept either side. None when no single clear band stands out.
    """
    height = crop.shape[0]
    grey = cv2.cvtColor(crop, cv2.COLOR_BGR2GRAY) if crop.ndim == 3 else crop
    strokes = np.abs(cv2.Sobel(grey, cv2.CV_32F, 1, 0, ksize=3)).mean(axis=1)
    strong = strokes >= BAND_LEVEL * float(strokes.max())
    runs: list[tuple[int, int]] = []
    start = None
    for row, on in enumerate([*strong.tolist(), False]):
        if on and start is None:
            start = row
        elif not on and start is not None:
            runs.append((start, row))
            start = None
    first, end = max(runs, key=lambda run: run[1] - run[0], default=(0, 0))
    band = end - first
    if band < MIN_BAND_ROWS or band > MAX_BAND_SHARE * height:
        return None
    margin = round(band * 0.25)
    return crop[max(0, first - margin) : min(height, end + margin)]


def read_upright(engine: OcrEngine, crop: np.ndarray) -> list[tuple[SlotRead, bool]]:
    """An upright plate crop read as one row and, when it is shaped like one, as a two-row plate."""
    reads: list[tuple[SlotRead, bool]] = []
    single = _single_row_read(engine, crop)
    if single is not None:
        reads.append((single, False))
    height, width = crop.shape[:2]
    if width / max(height, 1) < TWO_ROW_MAX_ASPECT:
        band = _text_band(crop)
        if band is not None:
            banded = _single_row_read(engine, band)
            if banded is not None:
                reads.append((banded, False))
        top_crop, bottom_crop = _rows(crop)
        top = _slot_read(engine, top_crop, TOP_TEMPLATES)
        bottom = _slot_read(engine, bottom_crop, BOTTOM_TEMPLATES)
        if top is not None and bottom is not None:
            joined = join_rows(top, bottom)
            if parse_plate(joined.text) is not None:
                reads.append((joined, True))
    return reads


def _to_plate(bgr: np.ndarray, read: SlotRead, rect: Rect, double_layer: bool, raw: str = "") -> PlateRead:
    parsed = parse_plate(read.text)
    assert parsed is not None  # templates only produce grammatical plates
    shares = color_shares(bgr, rect)
    return PlateRead(
        read.text,
        plate_color(parsed, shares),
        round(read.confidence, 4),
        rect,
        double_layer,
        raw or read.text,
        read.probs,
        ground_color(shares),
    )


def _plates_in(
    engine: OcrEngine, bgr: np.ndarray, crop: np.ndarray, rect: Rect, raw: str = ""
) -> list[PlateRead]:
    reads = read_upright(engine, crop)
    if not any(read.confidence >= GOOD_ENOUGH for read, _ in reads):
        upright = _turned_upright(engine, crop)
        if upright is not crop:
            reads = read_upright(engine, upright)
    return [_to_plate(bgr, read, rect, double, raw) for read, double in reads]


def _turned_upright(engine: OcrEngine, crop: np.ndarray) -> np.ndarray:
    """The crop, or the crop turned half round when it stands on its head (a phone held upside down, a
    street photo turned sideways: a crop is cut with its long side level, so only 0 or 180 remain).
    Asked only when the crop read as it is gave no confident plate.

    PP-OCR's text-direction classifier is cheap but not to be trusted alone on plates: it calls one
    upright real plate in fifteen upside down (plates with 0, 6, 8, 9 and H read either way). So it only
    raises the question, and the plate grammar answers it: the crop is turned when its likeliest plate
    reading is likelier turned (on upright real plates the upright reading wins by 2 to 15 log units,
    on upside-down rendered ones the turned reading by 10 or more).
    """
    if not engine.upside_down(crop):
        return crop
    turned = cv2.rotate(crop, cv2.ROTATE_180)
    return turned if _plate_likelihood(engine, turned) > _plate_likelihood(engine, crop) else crop


def _plate_likelihood(engine: OcrEngine, crop: np.ndarray) -> float:
    best = _slot_read(engine, crop, FULL_TEMPLATES)
    return -np.inf if best is None else best.log_likelihood


#: A one-row plate crop is at least this many times as wide as high; a two-row plate (and a card) less.
ONE_ROW_ASPECT = 2.5


def is_tight_crop(width: int, height: int) -> bool:
    """A photo of one plate and little else: plate-shaped (one or two rows) and not scene-sized."""
    aspect = width / max(height, 1)
    if ONE_ROW_ASPECT <= aspect <= 6.5:
        return True
    return 1.3 <= aspect < ONE_ROW_ASPECT and max(width, height) <= 640


def _stacked(top: Rect, bottom: Rect) -> bool:
    """A ``冀A`` row right above a serial row, centred on it and no wider."""
    top_width, bottom_width = top[2] - top[0], bottom[2] - bottom[0]
    bottom_height = bottom[3] - bottom[1]
    centred = abs((top[0] + top[2]) / 2 - (bottom[0] + bottom[2]) / 2) <= 0.25 * bottom_width
    close = bottom[1] - 0.6 * bottom_height <= top[3] <= bottom[1] + 0.6 * bottom_height
    return centred and close and top_width <= bottom_width * 1.1


def _line_crop(bgr: np.ndarray, line: OcrLine, extra: float) -> np.ndarray:
    """The detected line cut out upright from its quadrilateral; detection clips a plate's ends most
    (the province on the left, a 学/警/挂 on the right), so the cut reaches a little further."""
    quad = quad_from_points(line.points).copy()
    across = quad[1] - quad[0]
    quad[0] -= across * extra
    quad[3] -= across * extra
    quad[1] += across * extra
    quad[2] += across * extra
    return warp_upright(bgr, quad, pad_x=0.05, pad_y=0.12)


def _scene_plates(engine: OcrEngine, bgr: np.ndarray, lines: Sequence[OcrLine]) -> list[PlateRead]:
    """Plate-like lines read again, upright and under the grammar; two-row plates from a serial row and
    the province row above it (detected, or looked for where it must be)."""
    plates: list[PlateRead] = []
    tops = [line for line in lines if _is_top_row(line.text)]
    for line in lines:
        bottom_row = _is_bottom_row(line.text)
        if _plate_like(line.text) or match_plate(line.text) is not None:
            crop = _line_crop(bgr, line, LINE_EXTRA)
            plates += _plates_in(engine, bgr, crop, line.rect, line.text)
        if not bottom_row:
            continue
        bottom = _slot_read(engine, _line_crop(bgr, line, 0.0), BOTTOM_TEMPLATES)
        if bottom is None:
            continue
        above = [top.rect for top in tops if _stacked(top.rect, line.rect)]
        if not above:
            x0, y0, x1, _ = line.rect
            width, height = x1 - x0, line.height
            above = [(x0 + 0.15 * width, y0 - 0.45 * height, x1 - 0.15 * width, y0 + 0.12 * height)]
        for region in above:
            top = _slot_read(engine, _crop(bgr, region, 0.05, 0.1), TOP_TEMPLATES)
            if top is None or top.probs[0] < MIN_TOP_PROVINCE:
                # A serial row with nothing legible above it is a clipped one-row plate, not a two-row
                # plate: a two-row plate's province is its largest glyph.
                continue
            joined = join_rows(top, bottom)
            if parse_plate(joined.text) is None:
                continue
            rect = (min(region[0], line.x0), region[1], max(region[2], line.x1), line.y1)
            plates.append(_to_plate(bgr, joined, rect, True, line.text))
    return plates


def _crop(bgr: np.ndarray, rect: Rect, pad_x: float, pad_y: float) -> np.ndarray:
    height, width = bgr.shape[:2]
    x0, y0, x1, y1 = rect
    box_w, box_h = x1 - x0, y1 - y0
    left, right = max(0, round(x0 - box_w * pad_x)), min(width, round(x1 + box_w * pad_x))
    top, bottom = max(0, round(y0 - box_h * pad_y)), min(height, round(y1 + box_h * pad_y))
    return bgr[top:bottom, left:right]


def _colour_plates(engine: OcrEngine, bgr: np.ndarray) -> list[PlateRead]:
    plates: list[PlateRead] = []
    for proposal in colour_proposals(bgr):
        crop = warp_upright(bgr, proposal.quad)
        if looks_lettered(crop):
            plates += _plates_in(engine, bgr, crop, proposal.rect)
    return plates


def _best_per_place(plates: list[PlateRead]) -> list[PlateRead]:
    """One plate per place: of overlapping readings, the one that wins where they disagree."""
    kept: list[PlateRead] = []
    for plate in sorted(plates, key=lambda item: item.confidence, reverse=True):
        rivals = [index for index, other in enumerate(kept) if _overlap(plate.rect, other.rect) >= 0.3]
        if not rivals:
            kept.append(plate)
        elif len(rivals) == 1 and _reads_better(plate, kept[rivals[0]]):
            kept[rivals[0]] = plate
    return sorted(kept, key=lambda item: (item.rect[0], item.rect[1]))


def _reads_better(plate: PlateRead, other: PlateRead) -> bool:
    """Whether `plate` is the better of two readings of the same plate.

    A plate's confidence leans on its weakest character, which is often a doubtful province both readings
    share; then it says nothing about the serial character they disagree on. Two readings of the same
    length that disagree on a character or two are judged on those characters (the weaker of them, in
    each); readings that disagree more are not one text read two ways, and confidence judges them.
    """
    same_shape = len(plate.number) == len(other.number) == len(plate.slot_probs) == len(other.slot_probs)
    if not same_shape:
        return plate.confidence > other.confidence
    differing = [index for index, (a, b) in enumerate(zip(plate.number, other.number, strict=True)) if a != b]
    if not differing or len(differing) > MAX_DISPUTED:
        return plate.confidence > other.confidence
    mine = min(plate.slot_probs[index] for index in differing)
    theirs = min(other.slot_probs[index] for index in differing)
    return mine > theirs


def _overlap(a: Rect, b: Rect) -> float:
    width = min(a[2], b[2]) - max(a[0], b[0])
    height = min(a[3], b[3]) - max(a[1], b[1])
    if width <= 0 or height <= 0:
        return 0.0
    smaller = min((a[2] - a[0]) * (a[3] - a[1]), (b[2] - b[0]) * (b[3] - b[1])) or 1.0
    return width * height / smaller


def _best(plates: Sequence[PlateRead]) -> PlateRead | None:
    best: PlateRead | None = None
    for plate in sorted(plates, key=lambda item: item.confidence, reverse=True):
        if best is None or _reads_better(plate, best):
            best = plate
    return best


def read_plates(engine: OcrEngine, bgr: np.ndarray, det_limit: int = DET_LIMIT_SIDE) -> PlateScan:
    """All plates in a BGR image (left to right), each read once at its most confident.

    Cheapest first: a tight crop is read whole; then plate-coloured regions are read without detection;
    text detection runs only when neither gave a confident plate, and at a larger scale only when the
    first pass found no plate at all in a big photo (a car across the street).
    """
    height, width = bgr.shape[:2]
    tight = is_tight_crop(width, height)
    plates: list[PlateRead] = []
    # A small photo of a licence is shaped like a two-row plate crop, and its print is no plate; a
    # one-row crop is judged by its letters alone, as its ground may be a washed-out blue that looks
    # white (a real 94×24 crop of 皖ASZ600 was lost to the ground rule).
    card_shaped = tight and width / max(height, 1) < ONE_ROW_ASPECT

    def issued(plate: PlateRead) -> bool:
        return _could_be_issued(plate, ground_counts=card_shaped or not tight)

    if tight:
        whole = (0.0, 0.0, float(width), float(height))
        plates = [plate for plate in _plates_in(engine, bgr, bgr, whole) if issued(plate)]
        best = _best(plates)
        if best is not None and best.confidence >= GOOD_ENOUGH:
            return PlateScan([best], [])
    plates += _colour_plates(engine, bgr)
    lines: list[OcrLine] = []
    if not any(_settled(plate) for plate in plates):
        # A tight crop is one plate, whose line may come out as a thin slanted box (94×11 in a 94×24
        # crop of a tilted plate); only in a wider photo is a very long line prose.
        wanted = None if tight else _plate_shaped
        lines = engine.read(bgr, det_limit=det_limit, wanted=wanted, max_lines=MAX_SCENE_LINES)
        plates += _scene_plates(engine, bgr, lines)
        if not _reportable(plates) and max(height, width) > det_limit * 1.25:
            larger = min(max(height, width), det_limit * 2)
            lines = engine.read(bgr, det_limit=larger, wanted=wanted, max_lines=MAX_SCENE_LINES)
            plates += _scene_plates(engine, bgr, lines)
    if tight:
        best = _best([plate for plate in plates if issued(plate)])
        return PlateScan([best] if best else [], lines)
    return PlateScan(_best_per_place(_reportable(plates)), lines)


def _plate_shaped(corners: np.ndarray) -> bool:
    """A detected line (four corners) no longer, along or across, than a plate's text could be."""
    return line_length(corners) <= MAX_PLATE_LINE_ASPECT


def _reportable(plates: Sequence[PlateRead]) -> list[PlateRead]:
    """In a scene anything can decode as a plate; only readings whose serial the recognizer stood behind
    (all but one of its characters clearly) count. The province and letter may be doubtful: the province
    is the plate's smallest glyph and the letter sits beside the dot, and such a plate is still worth
    reporting (its confidence says so). Print on paper is not a plate either: a licence sent as a plate
    photo had its labels (姓名 Name as 鲁B1NAME, Model as 云YM0DEL) and its dates (1988-07-21 as 鲁B80721)
    reported as plates; a word has more letters than a serial may, and a date on paper is black on
    white, which GA 36 gives only to police and armed-police plates, whose formats say so."""
    return [plate for plate in plates if _serial_legible(plate.slot_probs) and _could_be_issued(plate)]


def _could_be_issued(plate: PlateRead, *, ground_counts: bool = True) -> bool:
    parsed = parse_plate(plate.number)
    if parsed is None:
        return False
    if sum(char.isascii() and char.isalpha() for char in parsed.serial) > MAX_SERIAL_LETTERS:
        return False
    if not ground_counts or plate.ground != PlateColor.WHITE or parsed.kind in ("police", "armed_police"):
        return True
    # A new-energy plate fades from green to white, and a washed-out photo may show it white: there the
    # province the recognizer did not see either says it is print on paper (a date read as 桂D20031D).
    return parsed.kind == "new_energy" and plate.slot_probs[0] >= MIN_SEEN_PROVINCE


def _serial_legible(probs: Sequence[float]) -> bool:
    """The recognizer stood behind the serial: all but one of its characters clearly."""
    serial = probs[2:]
    return (
        len(serial) > 1
        and float(np.mean(serial)) >= MIN_SCENE_CONFIDENCE
        and sorted(serial)[1] >= MIN_SCENE_CONFIDENCE / 4
    )


def _settled(plate: PlateRead) -> bool:
    """Read well enough, apart from perhaps its province, that detection would not find it better."""
    return min(plate.slot_probs[1:], default=0.0) >= GOOD_ENOUGH
