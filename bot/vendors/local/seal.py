"""The issuing authority, read from the round red seal.

A seal prints the authority's name along its rim, so text detection sees a ring of tilted glyphs rather
than a line. We find the seal by its colour, unroll the ring with a polar transform (angle becomes x,
radius becomes y, outer rim on top) so the name becomes one straight upright line, and recognize that
line; a rim the linear transform leaves illegible is unrolled again with the log-polar one, which keeps
the glyphs' shapes. The seam of the unrolling goes where the rim has no text, which works whichever way
the photo is turned: turning a seal does not change the clockwise direction its text runs in.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache, lru_cache
from typing import NamedTuple

import cv2
import numpy as np

from bot.vendors.local.layout import FieldValue
from bot.vendors.local.lexicon import LexiconRead, best_word
from bot.vendors.local.ocr import OcrEngine
from bot.vendors.local.places import office_names
from bot.vendors.local.values import clean_authority

#: Where the glyphs sit between the centre (0) and the rim (1): the usual band first, then a narrower
#: inner and a wider outer one for seals laid out differently.
TEXT_BANDS: tuple[tuple[float, float], ...] = ((0.52, 0.92), (0.48, 0.86), (0.58, 0.96))
#: How a rim is unrolled, in the order it is read: each band linearly, then each band conformally (see
#: `unroll`); a confident office name ends the search, so a clear seal is read once.
UNROLLINGS: tuple[tuple[bool, tuple[float, float]], ...] = tuple(
    (conformal, band) for conformal in (False, True) for band in TEXT_BANDS
)
#: How red a pixel must be (R minus the larger of G and B) to count as seal ink.
RED_MARGIN = 32
#: The margins a seal is looked for with, clear red first.
RED_MARGINS = (RED_MARGIN, 20)
#: In the photo with its paper made white (`paper_balanced`) a faded seal may stay paler still; there
#: the palest margin is tried too (in the photo as taken it finds reddish skin, desks and stars).
BALANCED_MARGINS = (*RED_MARGINS, 12)
#: Smallest seal we look for, as a share of the image's short side.
MIN_SEAL_SHARE = 0.08
#: A seal read at least this confident is not read again at other bands.
CONFIDENT_SEAL = 0.9
#: A seal smaller than this (a thumbnail photo) is enlarged before unrolling, so its rim glyphs get
#: enough pixels along the ring for the recognizer.
MIN_READ_RADIUS = 80
#: Largest: a seal never spans most of the photo (a red desk or wall does).
MAX_SEAL_SHARE = 0.7
#: The star is looked for within this many blob radii of the blob's centre (a blob that is only part of
#: its seal is smaller than the seal and off its centre)...
STAR_SEARCH = 1.6
#: ...as a red component this size (in blob radii; a seal's star spans about 0.3 of its diameter) that
#: fills this share of its box (a five-pointed star fills about 0.45; a ring or a glyph much less).
STAR_SIZE = (0.25, 1.0)
STAR_FILL = (0.3, 0.75)
#: A rim is read as a known office when that office is this much likelier than any other (log units:
#: e^3, twenty times)...
MIN_OFFICE_MARGIN = 3.0
#: ...and at most this far below what the recognizer read itself, per character (log units). Rims that
#: name an office sit within 2 even when blurred to half-legible glyphs; red ink that is no office name
#: (or a faded rim) is 4 to 8 away from the name that fits it best, most often the shortest one. The
#: price: a badly blurred seal of an office the lexicon lacks (a district's) can come out as its city's
#: office, with a confidence of 0.15 or so that says how little the glyphs supported it.
MAX_OFFICE_SHORTFALL = 2.0
#: Two readings of one seal (other bands or circles) that each find the same office likeliest by that
#: margin may each lie this far below what the recognizer read: on the dev sets, agreeing readings up
#: to 3 were right, while red ink naming no office or a half-unrolled rim never gave two such readings.
AGREED_SHORTFALL = 3.0
#: Agreeing readings of an office in the place the page's own address names (the holder's, the owner's:
#: a licence is issued where its holder or vehicle is registered, most often where they live) may each
#: lie this far below. Red ink naming no office lies 4 or more away. On the development sets this read
#: two more seals right and none wrong; on a held-out set and on seed 9001 it changed nothing.
LOCAL_AGREED_SHORTFALL = 3.5
#: How much likelier, before the rim is read, the office of the place the page's address lies in is
#: than any other (log units: e^4, some fifty times). A vehicle is registered, and a driving licence
#: mostly issued, where the address on the page lies, so of some seven hundred offices that one issues
#: most licences (nine in ten would be worth e^6.5). It settles a blurred rim between 沈阳 and 辽阳 for
#: the page's own place: 7 more of the 480 seals on the rendered sets read right (an upper bound, as
#: every rendered seal is its address's office). With each address swapped for another city of the
#: seal's province, or another province, none read wrong that did not before; at e^6 the first one did.
LOCAL_OFFICE_PRIOR = 4.0
#: Known office names: a rim read as one of them outranks text read as it stands.
_OFFICES = frozenset(office_names())
#: The paper's own colour is measured on an image this many times smaller, as the brightest colour
#: within this many of its pixels: wider than the seal's star (the largest solid ink on a card), so the
#: star does not pass for paper.
PAPER_STEP = 8
PAPER_REACH = 9


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


def paper_balanced(bgr: np.ndarray) -> np.ndarray:
    """The photo with the paper made white: each channel divided by the paper's local level.

    Light multiplies: a dim corner or a warm, green or cold cast scales every channel of the paper and
    the ink on it alike, so a seal that is plainly red to the eye can sit only a few levels above green
    in absolute terms. Dividing by the paper's own colour nearby (its brightest colour there) leaves
    how much of each colour the ink takes away, which is the same under any light.
    """
    height, width = bgr.shape[:2]
    small = cv2.resize(
        bgr, (max(1, width // PAPER_STEP), max(1, height // PAPER_STEP)), interpolation=cv2.INTER_AREA
    )
    paper = cv2.dilate(small, np.ones((PAPER_REACH, PAPER_REACH), np.uint8)).astype(np.float32)
    paper = cv2.GaussianBlur(paper, (0, 0), PAPER_REACH / 2)
    paper = cv2.resize(paper, (width, height), interpolation=cv2.INTER_LINEAR)
    return np.clip(bgr.astype(np.float32) * (255.0 / np.maximum(paper, 16.0)), 0, 255).astype(np.uint8)


def find_seals(bgr: np.ndarray, margins: tuple[int, ...] = RED_MARGINS) -> list[Seal]:
    """Round red blobs big enough to be a seal, largest first.

    A thumbnail or a noisy photo mixes the seal's thin strokes with paper until few pixels stay clearly
    red and the ring falls apart, so a paler red is accepted when the clear red makes no seal.
    """
    excess = red_excess(bgr)
    for margin in margins:
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


def unroll(
    bgr: np.ndarray, seal: Seal, band: tuple[float, float] = TEXT_BANDS[0], *, conformal: bool = False
) -> np.ndarray | None:
    """The seal's rim text as one upright line (BGR, dark text on white), or None if the rim is empty.

    The linear polar transform keeps each glyph's height but squeezes its outer edge against its inner
    one (by the ratio of their radii), so the rim's upright glyphs come out as trapezoids whose strokes
    bend. With `conformal` the log-polar transform is used instead: it keeps angles, so a glyph keeps its
    shape and only shrinks a little towards the rim. Neither suits every blurred rim, so both are read.
    """
    radius = seal.radius
    if radius <= 2:
        return None
    inner, outer = band[0] * radius, band[1] * radius
    middle = (inner + outer) / 2
    # One sample per pixel of arc along the middle of the band.
    angular = max(64, round(2 * math.pi * middle))
    if conformal:
        # log-polar puts radius r at column radial * ln(r) / ln(radius): one column per pixel at the middle.
        radial = max(16, round(middle * math.log(radius)))
        flags = cv2.WARP_POLAR_LOG
        first, last = (round(radial * math.log(max(r, 1.0)) / math.log(radius)) for r in (inner, outer))
    else:
        radial = max(16, round(radius))
        flags = cv2.WARP_POLAR_LINEAR
        first, last = round(band[0] * radial), round(band[1] * radial)
    ink = seal_ink(bgr)
    polar = cv2.warpPolar(ink, (radial, angular), (seal.cx, seal.cy), radius, flags + cv2.INTER_LINEAR)
    ring = polar[:, max(0, first) : min(radial, last)]
    profile = np.convolve(ring.mean(axis=1), np.ones(5) / 5, mode="same")
    level = 0.3 * float(np.percentile(profile, 90))
    if level <= 0:
        return None
    inked = profile > level
    seam = _widest_gap_centre(inked)
    if seam is None:
        return None
    rolled = np.roll(ring, -seam, axis=0)
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


def read_authority(engine: OcrEngine, bgr: np.ndarray, address: str = "") -> FieldValue | None:
    """The issuing authority named by the largest legible seal, with the seal's box.

    Each seal is unrolled around the circle its red blob gives and, when the blob was only part of a pale or
    blurred seal, around the circle its star and ring give (`star_centred`). The rim is read at the usual text
    band first, then a little further in and out, since seals differ in how close the text sits to the rim;
    then the same bands unrolled conformally (`unroll`). A known office name beats any text read as it stands,
    then the more confident read wins; a confident office name ends the search. A photo in which no seal
    stands out as red is looked at again with its paper made white (`paper_balanced`), and a seal that gave no
    confident office is read once more with its ink judged against the paper right around each stroke. When
    no seal found names an office, the seals the photo with its paper made white shows are read too. The
    page's `address` lets readings of the office of its own place agree from a little further away
    (`_agreed_office`).
    """
    seals = find_seals(bgr)
    balanced_photo = not seals
    if balanced_photo:
        # Dim or colour-cast light leaves the seal too dull to count as red as the photo was taken.
        bgr = paper_balanced(bgr)
        seals = find_seals(bgr, BALANCED_MARGINS)
    # Each seal's circles and enlarged crops are found once, when first read, for both readings.
    views = cache(lambda index: _circle_views(bgr, seals[index]))
    count = min(len(seals), 2)
    first = _read_seals(engine, views, count, balanced=False, address=address)
    if first is not None and first.known and first.confidence >= CONFIDENT_SEAL:
        return first.field
    # Ink is judged against the crop's paper as a whole, so light falling off across a dim or tinted
    # seal leaves its weaker half faint; against the paper nearby, each stroke stands out the same.
    second = _read_seals(engine, views, count, balanced=True, address=address)
    reads = [read for read in (first, second) if read is not None]
    if not balanced_photo and not any(read.known for read in reads):
        # Under a cast only the star may stay clearly red, and pass for a small seal; the photo with its
        # paper made white shows the whole ring.
        balanced = paper_balanced(bgr)
        found = find_seals(balanced, BALANCED_MARGINS)
        missed = [seal for seal in found if not any(_same_circle(seal, old) for old in seals)][:2]
        missed_views = cache(lambda index: _circle_views(balanced, missed[index]))
        third = _read_seals(engine, missed_views, len(missed), balanced=False, address=address)
        reads += [third] if third is not None else []
    return max(reads, key=lambda read: (read.known, read.confidence)).field if reads else None


def _same_circle(first: Seal, second: Seal) -> bool:
    """Whether two seals found are one circle: centres and radii within a fifth of the larger radius."""
    radius = max(first.radius, second.radius)
    shift = math.dist((first.cx, first.cy), (second.cx, second.cy))
    return max(shift, abs(first.radius - second.radius)) < 0.2 * radius


class SealRead(NamedTuple):
    #: The rim names a known office (which outranks any text read as it stands).
    known: bool
    confidence: float
    field: FieldValue


#: A circle a seal is read around, the crop enlarged for reading, and the circle in that crop's pixels.
CircleView = tuple[Seal, np.ndarray, Seal]


def _circle_views(bgr: np.ndarray, found: Seal) -> list[CircleView]:
    """The circles a seal is read around: its blob's and, when the blob was only part of a pale or
    blurred seal, the one its star and ring give (`star_centred`)."""
    circles = [found]
    centred = star_centred(bgr, found)
    if centred is not None and _moved(found, centred):
        circles.append(centred)
    return [(circle, *_enlarged(bgr, circle)) for circle in circles]


def _read_seals(
    engine: OcrEngine,
    views: Callable[[int], list[CircleView]],
    count: int,
    *,
    balanced: bool,
    address: str = "",
) -> SealRead | None:
    """The best read of the first of `count` seals that gives one."""
    best: SealRead | None = None
    for index in range(count):
        offices: list[LexiconRead] = []
        for circle, image, seal in views(index):
            if balanced:
                image = paper_balanced(image)
            for conformal, band in UNROLLINGS:
                strip = unroll(image, seal, band, conformal=conformal)
                if strip is None:
                    continue
                rim = read_rim(engine, strip, address)
                if rim.office is not None:
                    offices.append(rim.office)
                if rim.named is None:
                    continue
                value, confidence = rim.named
                known = value in _OFFICES
                if best is None or (known, confidence) > (best.known, best.confidence):
                    best = SealRead(known, confidence, FieldValue(value, confidence, circle.rect))
                if known and confidence >= CONFIDENT_SEAL:
                    return best
        agreed = _agreed_office(offices, address)
        if agreed is not None and (best is None or not best.known):
            confidence = round(agreed.confidence, 4)
            found = views(index)[0][0]
            best = SealRead(True, confidence, FieldValue(agreed.word, confidence, found.rect))
        if best is not None:
            return best
    return None


def _agreed_office(offices: list[LexiconRead], address: str = "") -> LexiconRead | None:
    """The office that two or more readings of one seal (other bands, another circle) each find the
    likeliest by a clear margin, though too far from what the recognizer saw for one reading to stand
    alone: readings that agree corroborate each other (see AGREED_SHORTFALL), the more so when the
    office is that of the place the page's `address` lies in (LOCAL_AGREED_SHORTFALL). The closest wins."""
    backed: dict[str, list[LexiconRead]] = {}
    for office in offices:
        local = _is_local(office.word, address)
        reach = LOCAL_AGREED_SHORTFALL if local else AGREED_SHORTFALL
        if office.margin >= MIN_OFFICE_MARGIN and office.shortfall <= reach:
            backed.setdefault(office.word, []).append(office)
    agreed = [read for reads in backed.values() if len(reads) >= 2 for read in reads]
    return min(agreed, key=lambda read: read.shortfall, default=None)


def star_centred(bgr: np.ndarray, seal: Seal) -> Seal | None:
    """The seal's circle as its star and ring draw it, or None without a star.

    On a pale, blurred or small seal the clearly red pixels break up, and the largest red blob may be
    the star with part of the rim, off centre and too small; unrolled around the wrong centre the rim
    text slants out of the band. An official seal has a five-pointed star at its centre, solid enough
    to survive blur, so the star near the blob's middle gives the centre; the ring is the outermost
    radius at which red ink stays dense (per unit of circumference: paper beyond it, or a reddish desk
    in one corner, is sparse).
    """
    reach = STAR_SEARCH * seal.radius
    height, width = bgr.shape[:2]
    x0, y0 = max(0, int(seal.cx - reach)), max(0, int(seal.cy - reach))
    x1, y1 = min(width, int(seal.cx + reach) + 1), min(height, int(seal.cy + reach) + 1)
    ink = (red_excess(bgr[y0:y1, x0:x1]) >= RED_MARGINS[-1]).astype(np.uint8)
    count, _labels, stats, _centroids = cv2.connectedComponentsWithStats(ink, connectivity=8)
    star: tuple[float, float, float, float] | None = None  # distance, x, y, size
    for index in range(1, count):
        x, y, box_w, box_h, area = stats[index]
        size = max(box_w, box_h)
        centre_x, centre_y = x0 + x + box_w / 2, y0 + y + box_h / 2
        offset = math.dist((centre_x, centre_y), (seal.cx, seal.cy))
        if (
            STAR_SIZE[0] * seal.radius <= size <= STAR_SIZE[1] * seal.radius
            and 0.75 <= box_w / box_h <= 1.33
            and STAR_FILL[0] <= area / (box_w * box_h) <= STAR_FILL[1]
            and offset <= seal.radius
            and (star is None or offset < star[0])
        ):
            star = (offset, centre_x, centre_y, float(size))
    if star is None:
        return None
    _offset, cx, cy, star_size = star
    rows, columns = np.nonzero(ink)
    distances = np.hypot(columns + x0 - cx, rows + y0 - cy)
    radii = np.arange(int(reach) + 2)
    counts, _edges = np.histogram(distances, bins=radii)
    density = np.convolve(counts / (2 * np.pi * (radii[:-1] + 0.5)), np.ones(5) / 5, mode="same")
    beyond_star = density[int(star_size) :]
    if beyond_star.size == 0 or beyond_star.max() <= 0:
        return None
    dense = np.flatnonzero(beyond_star >= 0.5 * beyond_star.max())
    return Seal(cx, cy, float(int(star_size) + dense[-1]))


def _moved(before: Seal, after: Seal) -> bool:
    """Whether a second circle is worth reading: its centre or radius differs by a tenth of the radius."""
    shift = math.dist((before.cx, before.cy), (after.cx, after.cy))
    return max(shift, abs(after.radius - before.radius)) >= 0.1 * before.radius


@dataclass(frozen=True)
class RimRead:
    #: The office name that fits the rim best, however well (None when no name can be scored).
    office: LexiconRead | None
    #: What the rim is taken to name on its own, with a confidence: that office when it fits clearly,
    #: else the rim read as text and cleaned; None when neither.
    named: tuple[str, float] | None


def _is_local(office: str, address: str) -> bool:
    """Whether `office` is that of the place `address` lies in (its name up to 公安 begins the address)."""
    return bool(address) and address.startswith(office.partition("公安")[0])


@lru_cache(maxsize=8)
def _office_prior(address: str) -> np.ndarray:
    """Each office name's prior (log units, aligned with `office_names()`): the local office's is
    LOCAL_OFFICE_PRIOR, every other one's 0."""
    return np.array([LOCAL_OFFICE_PRIOR if _is_local(office, address) else 0.0 for office in office_names()])


def read_rim(engine: OcrEngine, strip: np.ndarray, address: str = "") -> RimRead:
    """The authority an unrolled rim names, with a confidence.

    Scored against every office name first (lexicon.best_word), which reads a blurred rim that greedy
    decoding garbles, with the office of the place the page's `address` lies in weighed as likelier
    (LOCAL_OFFICE_PRIOR); a rim that fits no office name clearly enough is read as text and cleaned,
    which keeps offices outside the lexicon (and tells red ink that is no office name apart).
    """
    reading = engine.read_crop_chars(strip)
    office = best_word(reading, office_names(), _office_prior(address))
    if office is not None and office.margin >= MIN_OFFICE_MARGIN and office.shortfall <= MAX_OFFICE_SHORTFALL:
        return RimRead(office, (office.word, round(office.confidence, 4)))
    cleaned = clean_authority(reading.text)
    if cleaned is None:
        return RimRead(office, None)
    value, trust = cleaned
    return RimRead(office, (value, round(reading.score * trust, 4)))
