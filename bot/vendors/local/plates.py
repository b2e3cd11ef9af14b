"""Plate finding and reading for the embedded engine.

A plate photo is either a tight crop of one plate (what plate datasets and cropping apps send) or a scene
with plates somewhere in it. Scenes go through text detection and recognition, and only lines that obey
the plate grammar survive, so shop signs and stickers drop out. Tight crops are read without detection
(the recognizer on the whole crop, and on its two rows when it is shaped like a two-row plate), with
detection as the fallback.

Every plate-like box is read once more on its own, keeping the recognizer's per-character
probabilities, and decoded under the grammar: the first character is the likeliest *province*, the
second the likeliest *letter*. A plate's province is its smallest, densest glyph, so this is where an
unconstrained read fails most (冀 read as 其, or dropped). Each such choice, and each OCR-confusion swap
the grammar needed (position 2 a letter, no I or O in the serial), lowers the confidence, which starts
from the recognizer's own character probabilities. Colour comes from the plate's pixels, except where
its format fixes it (new-energy green, police white, Hong Kong black).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

import cv2
import numpy as np

from bot.models import PlateColor
from bot.plate_grammar import PROVINCES, PlateFormat, candidate_repairs, normalize_plate, parse_plate
from bot.vendors.local.ocr import DET_LIMIT_SIDE, CharRead, CropReading, OcrEngine, OcrLine

Rect = tuple[float, float, float, float]

#: Confidence kept per character the grammar had to choose or repair.
REPAIR_PENALTY = 0.85
#: A reading this confident from the cheap crop path is not worth a detection pass.
GOOD_ENOUGH = 0.9
#: Marks OCR may read the plate's middle dot as, when it does not drop it.
SEPARATORS = frozenset("·•・.。-—_:：,，'`|/")
#: Below this probability a province the recognizer left out (decoded as blank) is not put back.
MIN_PROVINCE_PROB = 0.02
#: The letter after the province (发牌机关代号): A-Z without I and O.
AUTHORITY_LETTERS = "ABCDEFGHJKLMNPQRSTUVWXYZ"
PROVINCE_CHARS = "".join(PROVINCES)
#: Traditional forms the recognizer sometimes returns for the simplified characters plates print.
@dataclass(frozen=True)
class PlateRead:
    number: str
    color: PlateColor
    confidence: float
    rect: Rect
    double_layer: bool = False
    #: What OCR said before normalization and repair (for the log).
    raw: str = ""


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


def grammar_decode(reading: CropReading, *, head: bool = True) -> tuple[str, float, int]:
    """Decode a reading under the plate grammar: returns text, mean character probability and how many
    characters the grammar chose instead of the recognizer's first choice.

    With `head`, the first character must be a province and the second a letter; a province the
    recognizer dropped (decoded as blank before the letter) is put back when it is at all likely.
    """
    chars = [char for char in reading.chars if char.char not in SEPARATORS and char.char.strip()]
    changes = 0
    if head and chars:
        first = chars[0]
        if first.char.isascii() and first.start > 0:
            province, prob = reading.best_of(PROVINCE_CHARS, 0, first.start - 1)
            if prob >= MIN_PROVINCE_PROB:
                chars.insert(0, CharRead(province, prob, 0, first.start - 1))
                changes += 1
        elif first.char not in PROVINCES:
            province, prob = reading.best_of(PROVINCE_CHARS, first.start, first.end)
            if province:
                chars[0] = CharRead(province, prob, first.start, first.end)
                changes += 1
        if len(chars) > 1 and chars[1].char.upper() not in AUTHORITY_LETTERS:
            letter, prob = reading.best_of(AUTHORITY_LETTERS, chars[1].start, chars[1].end)
            if letter:
                chars[1] = CharRead(letter, prob, chars[1].start, chars[1].end)
                changes += 1
    text = "".join(char.char for char in chars)
    score = float(np.mean([char.prob for char in chars])) if chars else 0.0
    return text, score, changes


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
    coloured = max(("blue", "yellow", "green"), key=lambda name: shares[name])
    if shares[coloured] >= 0.2:
        return PlateColor(coloured)
    if max(shares["white"], shares["black"]) < 0.2:
        return PlateColor.OTHER
    return PlateColor.WHITE if shares["white"] >= shares["black"] else PlateColor.BLACK


# ----------------------------------------------------------------------------------------------- reading


@dataclass(frozen=True)
class _Candidate:
    text: str
    score: float
    rect: Rect
    double_layer: bool = False
    #: Characters the grammar chose over the recognizer's first choice while decoding.
    chosen: int = 0


def _to_plate(bgr: np.ndarray, candidate: _Candidate) -> PlateRead | None:
    matched = match_plate(candidate.text)
    if matched is None:
        return None
    number, parsed, changes = matched
    confidence = candidate.score * REPAIR_PENALTY ** (changes + candidate.chosen)
    color = plate_color(parsed, color_shares(bgr, candidate.rect))
    return PlateRead(
        number, color, round(confidence, 4), candidate.rect, candidate.double_layer, candidate.text
    )


def _crop(bgr: np.ndarray, rect: Rect, pad_x: float, pad_y: float, extra_left: float = 0.0) -> np.ndarray:
    height, width = bgr.shape[:2]
    x0, y0, x1, y1 = rect
    box_w, box_h = x1 - x0, y1 - y0
    left, right = max(0, round(x0 - box_w * (pad_x + extra_left))), min(width, round(x1 + box_w * pad_x))
    top, bottom = max(0, round(y0 - box_h * pad_y)), min(height, round(y1 + box_h * pad_y))
    return bgr[top:bottom, left:right]


def _scaled_for_recognition(crop: np.ndarray, target_height: int = 48) -> np.ndarray:
    """Tiny crops (a 94x24 plate) are enlarged so strokes survive the recognizer's resampling."""
    if crop.shape[0] >= target_height:
        return crop
    factor = target_height / max(crop.shape[0], 1)
    return cv2.resize(crop, None, fx=factor, fy=factor, interpolation=cv2.INTER_CUBIC)


def _decoded(engine: OcrEngine, crop: np.ndarray, rect: Rect, *, head: bool = True) -> list[_Candidate]:
    """A crop read as it is and as the grammar decodes it (the same text when nothing needed choosing)."""
    if crop.size == 0 or min(crop.shape[:2]) < 4:
        return []
    reading = engine.read_crop_chars(_scaled_for_recognition(crop))
    if not reading.chars:
        return []
    text, score, chosen = grammar_decode(reading, head=head)
    candidates = [_Candidate(reading.text, reading.score, rect)]
    if chosen:
        candidates.append(_Candidate(text, score, rect, chosen=chosen))
    return candidates


def is_tight_crop(width: int, height: int) -> bool:
    """A photo of one plate and little else: plate-shaped (one or two rows) and not scene-sized."""
    aspect = width / max(height, 1)
    if 2.5 <= aspect <= 6.5:
        return True
    return 1.3 <= aspect < 2.5 and max(width, height) <= 640


def _crop_reads(engine: OcrEngine, bgr: np.ndarray) -> list[_Candidate]:
    """Recognition without detection: the whole crop as one line, and as two rows when it is plate-tall."""
    height, width = bgr.shape[:2]
    whole = (0.0, 0.0, float(width), float(height))
    candidates = _decoded(engine, bgr, whole)
    if width / max(height, 1) < 2.6:
        split = round(height * 0.4)
        tops = _decoded(engine, bgr[:split], whole)
        bottoms = _decoded(engine, bgr[split:], whole, head=False)
        candidates += [
            _Candidate(top.text + bottom.text, min(top.score, bottom.score), whole, True, top.chosen)
            for top in tops
            for bottom in bottoms
        ]
    return candidates


def _stacked(top: Rect, bottom: Rect) -> bool:
    """A ``冀A`` row right above a serial row, centred on it and no wider."""
    top_width, bottom_width = top[2] - top[0], bottom[2] - bottom[0]
    bottom_height = bottom[3] - bottom[1]
    centred = abs((top[0] + top[2]) / 2 - (bottom[0] + bottom[2]) / 2) <= 0.25 * bottom_width
    close = bottom[1] - 0.6 * bottom_height <= top[3] <= bottom[1] + 0.6 * bottom_height
    return centred and close and top_width <= bottom_width * 1.1


def _scene_candidates(engine: OcrEngine, bgr: np.ndarray, lines: Sequence[OcrLine]) -> list[_Candidate]:
    """Each line as read; each plate-like line read again on its own under the grammar; two-row plates
    from a top row found above a serial row, or read above a serial row that has none."""
    candidates = [_Candidate(line.text, line.score, line.rect) for line in lines]
    tops = [line for line in lines if _is_top_row(line.text)]
    for line in lines:
        if _plate_like(line.text) and not _is_bottom_row(line.text) and match_plate(line.text) is None:
            # Detection clips a plate's ends most: the province on the left, a 学/警/挂 on the right.
            clipped_left = normalize_plate(line.text)[:1].isascii()
            crop = _crop(bgr, line.rect, 0.08, 0.1, extra_left=0.12 if clipped_left else 0.0)
            candidates += _decoded(engine, crop, line.rect)
        if not _is_bottom_row(line.text):
            continue
        above = [top for top in tops if _stacked(top.rect, line.rect)]
        top_reads = [_Candidate(top.text, top.score, top.rect) for top in above]
        if not above:
            # The top row of a two-row plate is half as tall as the serial and often goes undetected;
            # it sits just above the serial's box, over its middle half.
            x0, y0, x1, _ = line.rect
            width, height = x1 - x0, line.height
            region = (x0 + 0.15 * width, y0 - 0.45 * height, x1 - 0.15 * width, y0 + 0.12 * height)
            top_reads = _decoded(engine, _crop(bgr, region, 0.0, 0.0), region)
        for top in top_reads:
            rect = (min(top.rect[0], line.x0), top.rect[1], max(top.rect[2], line.x1), line.y1)
            score = min(top.score, line.score)
            candidates.append(_Candidate(top.text + line.text, score, rect, True, top.chosen))
    return candidates


def _best_per_place(plates: list[PlateRead]) -> list[PlateRead]:
    """One plate per place: overlapping readings keep the most confident one."""
    kept: list[PlateRead] = []
    for plate in sorted(plates, key=lambda item: item.confidence, reverse=True):
        if all(_overlap(plate.rect, other.rect) < 0.3 for other in kept):
            kept.append(plate)
    return sorted(kept, key=lambda item: (item.rect[0], item.rect[1]))


def _overlap(a: Rect, b: Rect) -> float:
    width = min(a[2], b[2]) - max(a[0], b[0])
    height = min(a[3], b[3]) - max(a[1], b[1])
    if width <= 0 or height <= 0:
        return 0.0
    smaller = min((a[2] - a[0]) * (a[3] - a[1]), (b[2] - b[0]) * (b[3] - b[1])) or 1.0
    return width * height / smaller


def _plates(bgr: np.ndarray, candidates: Sequence[_Candidate]) -> list[PlateRead]:
    return [plate for plate in (_to_plate(bgr, candidate) for candidate in candidates) if plate is not None]


def read_plates(engine: OcrEngine, bgr: np.ndarray, det_limit: int = DET_LIMIT_SIDE) -> PlateScan:
    """All plates in a BGR image (left to right), each read once at its most confident."""
    height, width = bgr.shape[:2]
    tight = is_tight_crop(width, height)
    plates: list[PlateRead] = []
    if tight:
        plates = _plates(bgr, _crop_reads(engine, bgr))
        best = max(plates, key=lambda plate: plate.confidence, default=None)
        if best is not None and best.confidence >= GOOD_ENOUGH:
            return PlateScan([best], [])
    lines = engine.read(bgr, det_limit=det_limit)
    plates += _plates(bgr, _scene_candidates(engine, bgr, lines))
    if tight:
        best = max(plates, key=lambda plate: plate.confidence, default=None)
        return PlateScan([best] if best else [], lines)
    return PlateScan(_best_per_place(plates), lines)
