"""Geometry of a photographed page: its small tilt and quarter turn undone, and rows compared in it.

The parser judges rows and columns in a frame that undoes the photo's rotation (`Frame`); `line_skew`
and `mostly_upright` say which rotations are worth trying.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from bot.vendors.local.ocr import OcrLine

Rect = tuple[float, float, float, float]


def _rotate(point: tuple[float, float], degrees: float) -> tuple[float, float]:
    radians = math.radians(degrees)
    cos, sin = math.cos(radians), math.sin(radians)
    x, y = point
    return (x * cos - y * sin, x * sin + y * cos)


def _bounds(points: Iterable[tuple[float, float]]) -> Rect:
    xs, ys = zip(*points, strict=True)
    return (min(xs), min(ys), max(xs), max(ys))


def _corners(rect: Rect) -> list[tuple[float, float]]:
    x0, y0, x1, y1 = rect
    return [(x0, y0), (x1, y0), (x1, y1), (x0, y1)]


def union(rects: Iterable[Rect]) -> Rect:
    return _bounds(point for rect in rects for point in _corners(rect))


def line_skew(lines: Sequence[OcrLine]) -> float:
    """Median tilt (degrees, -45..45) of the long edges of elongated lines: the photo's small rotation."""
    tilts = []
    for line in lines:
        p0, p1, p2 = line.points[0], line.points[1], line.points[2]
        top = (p1[0] - p0[0], p1[1] - p0[1])
        side = (p2[0] - p1[0], p2[1] - p1[1])
        long_edge, short_edge = (top, side) if math.hypot(*top) >= math.hypot(*side) else (side, top)
        if math.hypot(*long_edge) < 2 * max(math.hypot(*short_edge), 1.0):
            continue
        angle = math.degrees(math.atan2(long_edge[1], long_edge[0]))
        tilts.append((angle + 45.0) % 90.0 - 45.0)
    return statistics.median(tilts) if tilts else 0.0


def mostly_upright(lines: Sequence[OcrLine]) -> bool:
    """True when most elongated lines run across the image: the photo is turned 0° or 180°, not 90°."""
    wide = sum(1 for line in lines if line.width >= line.height)
    return wide * 2 >= len(lines)


@dataclass(frozen=True)
class Frame:
    """The page as if upright: `degrees` rotates input points into it."""

    degrees: float

    def forward(self, rect_points: Iterable[tuple[float, float]]) -> Rect:
        return _bounds(_rotate(point, self.degrees) for point in rect_points)

    def back(self, rect: Rect) -> Rect:
        return _bounds(_rotate(point, -self.degrees) for point in _corners(rect))


def similar_height(height: float, reference: float) -> bool:
    """Whether a box is of the size of the print it is compared with (a wrapped line with the line it
    continues, a label with the other labels): within a factor of about 1.6 either way."""
    return 0.6 <= height / max(reference, 1.0) <= 1.6


def vertical_overlap(a: Rect, b: Rect) -> float:
    """Shared height as a share of the smaller box: 1.0 when one row fully contains the other."""
    shared = min(a[3], b[3]) - max(a[1], b[1])
    smaller = min(a[3] - a[1], b[3] - b[1]) or 1.0
    return max(shared, 0.0) / smaller


def same_row(a: Rect, b: Rect) -> bool:
    return vertical_overlap(a, b) >= 0.4


def reads_between(rect: Rect, before: Rect, after: Rect) -> bool:
    """Whether a box comes after `before` and before `after` in reading order (rows, then columns)."""

    def precedes(first: Rect, second: Rect) -> bool:
        if same_row(first, second):
            return first[0] < second[0]
        return (first[1] + first[3]) / 2 < (second[1] + second[3]) / 2

    return precedes(before, rect) and precedes(rect, after)
