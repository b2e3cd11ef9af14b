"""Finding plates by their colour, and cutting any plate-shaped quadrilateral out upright.

Text detection misses plates it should see (a plate is a short line among car grilles and reflections)
and costs most of a photo's time. A Chinese plate is, however, a saturated blue, yellow or green
rectangle of a known shape, so an HSV mask, a morphological close (which fills the characters in) and a
filter on the rotated rectangle's aspect ratio and fill propose plate regions at any size and tilt for
the price of a few image passes. Every proposal is warped upright from its rotated rectangle, so a
tilted plate reaches the recognizer level.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import cv2
import numpy as np

Rect = tuple[float, float, float, float]
Quad = np.ndarray  # 4x2 float32, clockwise from top-left

#: Proposals are searched on the image shrunk to this long side (plates stay well above 10 px tall).
LOCATE_SIDE = 800
#: Aspect ratios (long / short side) a plate's coloured ground can have: two-row plates are ~1.7,
#: single-row ones 3.1 (blue/yellow) to 3.8 (green, 480x140); perspective and clipping widen the band.
MIN_ASPECT, MAX_ASPECT = 1.3, 6.5
#: Share of the rotated rectangle the coloured blob must fill (a plate is a solid rectangle).
MIN_FILL = 0.5
#: Smallest proposal worth reading, in pixels of the located image.
MIN_AREA = 180
#: Share of a proposal's pixels on strong vertical strokes below which it holds no characters (a painted
#: panel, a sign's plain ground): measured at the recognizer's 48 px height; plates sit near 0.3.
MIN_STROKE_SHARE = 0.08
#: Most a plate's long side may lean off level (or, in a photo turned sideways, off plumb), in degrees.
MAX_TILT = 35
#: Most proposals read per photo, largest first.
MAX_PROPOSALS = 4


@dataclass(frozen=True)
class Proposal:
    colour: str
    #: Corners in full-image pixels, clockwise from top-left, the long side horizontal.
    quad: Quad
    rect: Rect


def _masks(hsv: np.ndarray) -> dict[str, np.ndarray]:
    hue, sat, val = hsv[:, :, 0], hsv[:, :, 1], hsv[:, :, 2]
    return {
        "blue": ((hue >= 98) & (hue <= 128) & (sat >= 90) & (val >= 60)),
        "yellow": ((hue >= 14) & (hue <= 34) & (sat >= 90) & (val >= 90)),
        "green": ((hue >= 38) & (hue <= 88) & (sat >= 60) & (val >= 70)),
    }


def order_quad(points: np.ndarray) -> Quad:
    """Corners clockwise from top-left, with the long side running left to right."""
    points = np.asarray(points, dtype=np.float32).reshape(4, 2)
    centre = points.mean(axis=0)
    angles = np.arctan2(points[:, 1] - centre[1], points[:, 0] - centre[0])
    ordered = points[np.argsort(angles)]  # clockwise in image coordinates, starting upper-left-ish
    start = int(np.argmin(ordered.sum(axis=1)))
    ordered = np.roll(ordered, -start, axis=0)
    top = np.linalg.norm(ordered[1] - ordered[0])
    side = np.linalg.norm(ordered[3] - ordered[0])
    if side > top * 1.2:  # standing on its short side: the plate is turned ~90 degrees
        ordered = np.roll(ordered, -1, axis=0)
    return ordered


def colour_proposals(bgr: np.ndarray) -> list[Proposal]:
    """Plate-coloured, plate-shaped regions, largest first."""
    height, width = bgr.shape[:2]
    scale = min(1.0, LOCATE_SIDE / max(height, width))
    small = cv2.resize(bgr, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA) if scale < 1 else bgr
    hsv = cv2.cvtColor(small, cv2.COLOR_BGR2HSV)
    close = cv2.getStructuringElement(cv2.MORPH_RECT, (9, 3))
    found: list[tuple[float, Proposal]] = []
    for colour, mask in _masks(hsv).items():
        mask = cv2.morphologyEx(mask.astype(np.uint8) * 255, cv2.MORPH_CLOSE, close)
        mask = cv2.morphologyEx(mask, cv2.MORPH_OPEN, np.ones((3, 3), np.uint8))
        contours, _ = cv2.findContours(mask, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
        for contour in contours:
            area = cv2.contourArea(contour)
            if area < MIN_AREA:
                continue
            (cx, cy), (w, h), angle = cv2.minAreaRect(contour)
            long_side, short_side = max(w, h), min(w, h)
            if short_side < 6 or not MIN_ASPECT <= long_side / short_side <= MAX_ASPECT:
                continue
            if area / (w * h) < MIN_FILL:
                continue
            quad = order_quad(cv2.boxPoints(((cx, cy), (w, h), angle)) / scale)
            if _off_level(quad) > MAX_TILT:
                continue
            xs, ys = quad[:, 0], quad[:, 1]
            rect = (float(xs.min()), float(ys.min()), float(xs.max()), float(ys.max()))
            found.append((area, Proposal(colour, quad, rect)))
    found.sort(key=lambda item: item[0], reverse=True)
    return [proposal for _, proposal in found[:MAX_PROPOSALS]]


def _off_level(quad: Quad) -> float:
    """Degrees between the plate's long side and the nearest of level and plumb: a plate in a photo
    turned sideways stands on its short side, and the reader turns its crop upright."""
    dx, dy = quad[1] - quad[0]
    angle = abs(float(np.degrees(np.arctan2(dy, dx)))) % 90
    return min(angle, 90 - angle)


def quad_from_points(points: Sequence[tuple[float, float]]) -> Quad:
    return order_quad(np.asarray(points, dtype=np.float32))


def warp_upright(bgr: np.ndarray, quad: Quad, pad_x: float = 0.06, pad_y: float = 0.12) -> np.ndarray:
    """The quadrilateral cut out as an upright rectangle with a margin, at least 48 px tall (the
    recognizer's input height), so small and tilted plates arrive the same as close-ups."""
    top_left, top_right, bottom_right, bottom_left = quad.astype(np.float32)
    across = (top_right - top_left + bottom_right - bottom_left) / 2
    down = (bottom_left - top_left + bottom_right - top_right) / 2
    width, height = float(np.linalg.norm(across)), float(np.linalg.norm(down))
    if width < 2 or height < 2:
        return np.zeros((0, 0, 3), np.uint8)
    grow_x, grow_y = across * pad_x, down * pad_y
    source = np.float32(
        [
            top_left - grow_x - grow_y,
            top_right + grow_x - grow_y,
            bottom_right + grow_x + grow_y,
            bottom_left - grow_x + grow_y,
        ]
    )
    out_h = max(48.0, height * (1 + 2 * pad_y))
    out_w = out_h * width * (1 + 2 * pad_x) / (height * (1 + 2 * pad_y))
    target = np.float32([[0, 0], [out_w, 0], [out_w, out_h], [0, out_h]])
    matrix = cv2.getPerspectiveTransform(source, target)
    return cv2.warpPerspective(
        bgr, matrix, (round(out_w), round(out_h)), flags=cv2.INTER_CUBIC, borderMode=cv2.BORDER_REPLICATE
    )


def looks_lettered(crop: np.ndarray) -> bool:
    """Whether an upright crop carries characters: their strokes make strong horizontal gradients that a
    plain coloured region lacks. Cheap next to a recognizer run, which it saves on most false proposals."""
    if crop.size == 0:
        return False
    gray = cv2.cvtColor(crop, cv2.COLOR_BGR2GRAY) if crop.ndim == 3 else crop
    height, width = gray.shape[:2]
    gray = cv2.resize(gray, (max(1, round(48 * width / max(height, 1))), 48)).astype(np.float32)
    strokes = np.abs(cv2.Sobel(gray, cv2.CV_32F, 1, 0))
    return float((strokes > 60).mean()) >= MIN_STROKE_SHARE
