"""The issuing authority, read from the round red seal.

A seal prints the authority's name along its rim, so text detection sees a ring of tilted glyphs rather
than a line. We find the seal by its colour, unroll the ring with a polar transform (angle becomes x,
radius becomes y, outer rim on top) so the name becomes one straight upright line, and recognize that
line. The seam of the unrolling goes where the rim has no text, which works whichever way the photo is
turned: turning a seal does not change the clockwise direction its text runs in.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np

from bot.vendors.local.layout import FieldValue
from bot.vendors.local.lexicon import best_word
from bot.vendors.local.ocr import OcrEngine
from bot.vendors.local.places import office_names
from bot.vendors.local.values import clean_authority

#: Where the glyphs sit between the centre (0) and the rim (1): the usual band first, then a narrower
#: inner and a wider outer one for seals laid out differently.
TEXT_BANDS: tuple[tuple[float, float], ...] = ((0.52, 0.92), (0.48, 0.86), (0.58, 0.96))
#: How red a pixel must be (R minus the larger of G and B) to count as seal ink.
RED_MARGIN = 32
#: The margins a seal is looked for with, clear red first.
RED_MARGINS = (RED_MARGIN, 20)
#: Smallest seal we look for, as a share of the image's short side.
MIN_SEAL_SHARE = 0.08
#: A seal read at least this confident is not read again at other bands.
CONFIDENT_SEAL = 0.9
#: A seal smaller than this (a thumbnail photo) is enlarged before unrolling, so its rim glyphs get
#: enough pixels along the ring for the recognizer.
MIN_READ_RADIUS = 80
#: Largest: a seal never spans most of the photo (a red desk or wall does).
MAX_SEAL_SHARE = 0.7
#: A rim is read as a known office when that office is this much likelier than any other (log units:
#: e^3, twenty times)...
MIN_OFFICE_MARGIN = 3.0
#: ...and at most this far below what the recognizer read itself, per character (log units). Rims that
#: name an office sit within 2 even when blurred to half-legible glyphs; red ink that is no office name
#: (or a faded rim) is 4 to 8 away from the name that fits it best, most often the shortest one. The
#: price: a badly blurred seal of an office the lexicon lacks (a district's) can come out as its city's
#: office, with a confidence of 0.15 or so that says how little the glyphs supported it.
MAX_OFFICE_SHORTFALL = 2.0


@dataclass(frozen=True)
class Seal:
    cx: float
    cy: float
    radius: float

    @property
    def rect(self) -> tuple[float, float, float, float]:
        return (self.cx - self.radius, self.cy - self.radius, self.cx + self.radius, self.cy + self.radius)


def red_excess(bgr: np.ndarray) -> np.ndarray:
    """How much redder than green and blue each pixel is (R minus the larger of G and B)."""
    pixels = bgr.astype(np.int16)
    return pixels[:, :, 2] - np.maximum(pixels[:, :, 0], pixels[:, :, 1])


def seal_ink(bgr: np.ndarray) -> np.ndarray:
    """0..255 map of seal ink: how much light the ink takes out of the green channel, where it is red.

    JPEG keeps colour at half resolution, so redness alone smears thin strokes; the green channel keeps
    the detail (red ink is dark in green) and a blurred redness gate keeps black print out.
    """
    excess = cv2.blur(red_excess(bgr).astype(np.float32), (5, 5))
    gate = np.clip((excess - RED_MARGIN / 4) / (RED_MARGIN / 2), 0.0, 1.0)
    green = bgr[:, :, 1].astype(np.float32)
    paper = float(np.percentile(green, 90))
    darkness = np.clip((paper - green) * (255.0 / max(paper - 30.0, 1.0)), 0.0, 255.0)
    return (darkness * gate).astype(np.uint8)


def find_seals(bgr: np.ndarray) -> list[Seal]:
    """Round red blobs big enough to be a seal, largest first.

    A thumbnail or a noisy photo mixes the seal's thin strokes with paper until few pixels stay clearly
    red and the ring falls apart, so a paler red is accepted when the clear red makes no seal.
    """
    excess = red_excess(bgr)
    for margin in RED_MARGINS:
        seals = _round_red_blobs(bgr, (excess >= margin).astype(np.uint8))
        if seals:
            return seals
    return []


def _round_red_blobs(bgr: np.ndarray, mask: np.ndarray) -> list[Seal]:
    short_side = min(bgr.shape[:2])
    kernel_size = max(3, short_side // 60) | 1
    closed = cv2.morphologyEx(mask, cv2.MORPH_CLOSE, np.ones((kernel_size, kernel_size), np.uint8))
    count, _labels, stats, _centroids = cv2.connectedComponentsWithStats(closed, connectivity=8)
    seals = []
    for index in range(1, count):
        x, y, width, height, area = stats[index]
        if (
            not short_side * MIN_SEAL_SHARE
            <= min(width, height)
            <= max(width, height)
            <= short_side * MAX_SEAL_SHARE
        ):
            continue
        if not 0.75 <= width / height <= 1.33:
            continue
        # A seal is a ring with text and a star: neither a few specks nor a solid red disc (or desk).
        if not 0.06 * width * height <= area <= 0.6 * width * height:
            continue
        seals.append(Seal(x + width / 2, y + height / 2, (width + height) / 4))
    seals.sort(key=lambda seal: seal.radius, reverse=True)
    # The star in a seal's middle is a red blob too; keep only seals not inside a bigger one.
    return [
        seal
        for index, seal in enumerate(seals)
        if not any(
            math.dist((seal.cx, seal.cy), (outer.cx, outer.cy)) < outer.radius for outer in seals[:index]
        )
    ]


def unroll(bgr: np.ndarray, seal: Seal, band: tuple[float, float] = TEXT_BANDS[0]) -> np.ndarray | None:
    """The seal's rim text as one upright line (BGR, dark text on white), or None if the rim is empty."""
    radius = seal.radius
    angular = max(64, round(2 * math.pi * radius * sum(band) / 2))
    radial = max(16, round(radius))
    ink = seal_ink(bgr)
    polar = cv2.warpPolar(
        ink, (radial, angular), (seal.cx, seal.cy), radius, cv2.WARP_POLAR_LINEAR + cv2.INTER_LINEAR
    )
    band = polar[:, round(band[0] * radial) : round(band[1] * radial)]
    profile = np.convolve(band.mean(axis=1), np.ones(5) / 5, mode="same")
    level = 0.3 * float(np.percentile(profile, 90))
    if level <= 0:
        return None
    inked = profile > level
    seam = _widest_gap_centre(inked)
    if seam is None:
        return None
    rolled = np.roll(band, -seam, axis=0)
    text_rows = np.flatnonzero(np.roll(inked, -seam))
    margin = max(4, round(0.04 * angular))
    start, end = max(0, text_rows[0] - margin), min(angular, text_rows[-1] + margin + 1)
    strip = rolled[start:end].T[::-1]  # x = angle (clockwise = reading order), y = radius, rim on top
    dark_on_white = 255 - strip
    padded = cv2.copyMakeBorder(dark_on_white, 6, 6, 6, 6, cv2.BORDER_CONSTANT, value=255)
    return cv2.cvtColor(np.ascontiguousarray(padded), cv2.COLOR_GRAY2BGR)


def _widest_gap_centre(inked: np.ndarray) -> int | None:
    """Index at the middle of the longest circular run of angles without ink."""
    if inked.all():
        return None
    if not inked.any():
        return None
    # Start scanning at an inked angle so a gap wrapping past the end is counted as one run.
    first = int(np.flatnonzero(inked)[0])
    order = np.roll(np.arange(len(inked)), -first)
    best_start = best_length = 0
    run_start = run_length = 0
    for position, index in enumerate(order):
        if inked[index]:
            run_length = 0
            continue
        if run_length == 0:
            run_start = position
        run_length += 1
        if run_length > best_length:
            best_start, best_length = run_start, run_length
    return int(order[(best_start + best_length // 2) % len(inked)])


def _enlarged(bgr: np.ndarray, seal: Seal) -> tuple[np.ndarray, Seal]:
    """The seal's neighbourhood, enlarged when the seal is small, and the seal in that image's pixels."""
    if seal.radius >= MIN_READ_RADIUS:
        return bgr, seal
    height, width = bgr.shape[:2]
    margin = 1.3 * seal.radius
    x0, y0 = max(0, int(seal.cx - margin)), max(0, int(seal.cy - margin))
    x1, y1 = min(width, int(seal.cx + margin) + 1), min(height, int(seal.cy + margin) + 1)
    factor = MIN_READ_RADIUS / max(seal.radius, 1.0)
    crop = cv2.resize(bgr[y0:y1, x0:x1], None, fx=factor, fy=factor, interpolation=cv2.INTER_CUBIC)
    return crop, Seal((seal.cx - x0) * factor, (seal.cy - y0) * factor, seal.radius * factor)


def read_authority(engine: OcrEngine, bgr: np.ndarray) -> FieldValue | None:
    """The issuing authority named by the largest legible seal, with the seal's box.

    The rim is unrolled at the usual text band first; a read that names no authority, or names one with
    little confidence, is tried again with the band a little further in and out, since seals differ in
    how close the text sits to the rim, and the most confident read wins.
    """
    best: FieldValue | None = None
    for found in find_seals(bgr)[:2]:
        image, seal = _enlarged(bgr, found)
        for band in TEXT_BANDS:
            strip = unroll(image, seal, band)
            if strip is None:
                continue
            named = read_rim(engine, strip)
            if named is None:
                continue
            value, confidence = named
            if best is None or confidence > best.confidence:
                x0, y0, x1, y1 = found.rect
                best = FieldValue(value, confidence, (float(x0), float(y0), float(x1), float(y1)))
            if best.confidence >= CONFIDENT_SEAL:
                return best
        if best is not None:
            return best
    return best


def read_rim(engine: OcrEngine, strip: np.ndarray) -> tuple[str, float] | None:
    """The authority an unrolled rim names, with a confidence.

    Scored against every office name first (lexicon.best_word), which reads a blurred rim that greedy
    decoding garbles; a rim that fits no office name clearly enough is read as text and cleaned, which
    keeps offices outside the lexicon (and tells red ink that is no office name apart).
    """
    reading = engine.read_crop_chars(strip)
    office = best_word(reading, office_names())
    if office is not None and office.margin >= MIN_OFFICE_MARGIN and office.shortfall <= MAX_OFFICE_SHORTFALL:
        return office.word, round(office.confidence, 4)
    cleaned = clean_authority(reading.text)
    if cleaned is None:
        return None
    value, trust = cleaned
    return value, round(reading.score * trust, 4)
