"""What about a licence photo, rather than the card, kept it from being read: print too small or
blurred, or no colour to find the red seal by.

The reply can then say what to do differently (move closer, send the original, hold the phone steady)
instead of only that a field was not read. Both are judged on the text the engine found, in units of
its own height, so they mean the same at any resolution and on any background.

Thresholds were set on rendered development pages (seeds 777 and 555, 160 pages) against the
degradations each was rendered with: print at most 20 px high in every thumbnail, at least 30 px in every
other photo; edges at most 0.076 of the line height wide in every sharp photo that was not a thumbnail,
from 0.078 in the blurred ones (a thumbnail's own edges are that wide, so it is told to move closer
instead). Each threshold sits clear of the sharp side, so a hint is rarely given where nothing is
wrong; the mildest blurs, which cost little, go unnamed.
"""

from __future__ import annotations

import statistics
from collections.abc import Sequence

import cv2
import numpy as np

from bot.models import Severity, Warning
from bot.vendors.local.ocr import OcrLine

#: Print lower than this (pixels, in the photo as sent) is a thumbnail or a card shot from too far: the
#: recognizer reads glyphs at 48 px and has to guess at strokes that were never in the photo.
MIN_TEXT_HEIGHT = 24.0
#: How wide a glyph's edge is (its contrast over its steepest gradient), as a share of the line's
#: height, beyond which the photo is out of focus or shaken.
MAX_EDGE_WIDTH = 0.09
#: Lines judged: read this confidently, at least this many characters, with print this much darker
#: than the paper (a glare-washed line has no edge to measure); fewer such lines than this, no verdict.
JUDGED_SCORE = 0.8
JUDGED_LENGTH = 2
JUDGED_CONTRAST = 30.0
MIN_JUDGED_LINES = 3


def photo_warnings(gray: np.ndarray, lines: Sequence[OcrLine], scale: float) -> list[Warning]:
    """Warnings about the photo (`photo_small`, `photo_blur`) from the lines read in `gray` (the pixels
    the engine read, `scale` times smaller than the photo as sent)."""
    judged = [
        line
        for line in lines
        if line.score >= JUDGED_SCORE and len(line.text) >= JUDGED_LENGTH and _thickness(line) >= 6
    ]
    if len(judged) < MIN_JUDGED_LINES:
        return []
    height = statistics.median(_thickness(line) for line in judged) * scale
    if height < MIN_TEXT_HEIGHT:
        return [
            Warning(
                code="photo_small",
                severity=Severity.WARNING,
                message=f"the card's print is {height:.0f} px high in the photo",
                params={},
            )
        ]
    widths = [width for line in judged if (width := _edge_width(gray, line)) is not None]
    if len(widths) >= MIN_JUDGED_LINES and statistics.median(widths) > MAX_EDGE_WIDTH:
        return [
            Warning(code="photo_blur", severity=Severity.WARNING, message="the photo is blurred", params={})
        ]
    return []


#: A photo whose three channels differ by less than this on average (grey levels) is black and white:
#: a seal's red ink is then as grey as the print, and the seal cannot be found by its colour. A colour
#: photo of a card, even of white paper in grey light, differs by several times this (JPEG's chroma
#: noise alone is about 1).
MAX_GREY_CHROMA = 3.0


def colourless_seal_warning(bgr: np.ndarray) -> list[Warning]:
    """`photo_colourless` for a black-and-white photo, whose seal (the issuing authority) could not be
    read for want of colour: the user learns why the field is missing and what would mend it."""
    sample = bgr[::4, ::4].astype(np.int16)
    chroma = float(np.mean(sample.max(axis=2) - sample.min(axis=2)))
    if chroma >= MAX_GREY_CHROMA:
        return []
    return [
        Warning(
            code="photo_colourless",
            severity=Severity.WARNING,
            message="the photo is black and white, so the red seal naming the issuing authority was not read",
            params={},
        )
    ]


def _edge_width(gray: np.ndarray, line: OcrLine) -> float | None:
    """How wide the line's edges are, as a share of its height: contrast over the steepest gradient,
    which is about one pixel for sharp print and grows with the blur's radius."""
    x0, y0 = max(0, int(line.x0)), max(0, int(line.y0))
    x1, y1 = min(gray.shape[1], int(line.x1)), min(gray.shape[0], int(line.y1))
    if x1 - x0 < 8 or y1 - y0 < 6:
        return None
    crop = gray[y0:y1, x0:x1].astype(np.float32)
    low, high = np.percentile(crop, (2, 98))
    # Sobel's 3×3 kernel weighs the central difference by 4 (and spans two pixels): /8 gives levels per px.
    across = cv2.Sobel(crop, cv2.CV_32F, 1, 0, ksize=3)
    down = cv2.Sobel(crop, cv2.CV_32F, 0, 1, ksize=3)
    steepest = float(np.percentile(np.hypot(across, down), 99)) / 8
    if high - low < JUDGED_CONTRAST or steepest <= 0:
        return None
    return float((high - low) / steepest / _thickness(line))


def _thickness(line: OcrLine) -> float:
    """The line's height across its writing, whichever way the photo is turned or tilted."""
    (ax, ay), (bx, by), _, (dx, dy) = line.points
    return min(float(np.hypot(bx - ax, by - ay)), float(np.hypot(dx - ax, dy - ay)))
