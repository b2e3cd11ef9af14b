"""Both pages of a vehicle licence photographed side by side: where the asked-for page lies.

A 行驶证's main page and 副页 are often laid side by side for one photo. Each page is recognised by the
labels only it prints, and the border between the pages is the widest strip free of text between the
two groups, so the engine can read the asked-for page alone without the other page's values.
"""

from __future__ import annotations

import math
import re
import statistics
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from bot.models import Kind, Side
from bot.vendors.local.frame import line_skew
from bot.vendors.local.line_text import label_text
from bot.vendors.local.ocr import OcrLine
from bot.vendors.local.pages import PAGES, PageSpec

#: Labels of a page (and of its facing page) found before a photo counts as holding both.
MIN_PAGE_LABELS = 2


@dataclass(frozen=True)
class PageRegion:
    """The half of a photo holding one page when the facing page lies beside it: points `p` with
    `normal · p < threshold` (`normal` points from the asked-for page to the other one)."""

    normal: tuple[float, float]
    threshold: float

    def crop(self, width: int, height: int) -> tuple[tuple[int, int, int, int], np.ndarray]:
        """The bounding rectangle of the page's half inside a `width` x `height` image, and the mask of
        that half within the rectangle."""
        ys, xs = np.ogrid[0:height, 0:width]
        inside = xs * self.normal[0] + ys * self.normal[1] < self.threshold
        rows, cols = np.flatnonzero(inside.any(axis=1)), np.flatnonzero(inside.any(axis=0))
        if len(rows) == 0:
            return (0, 0, width, height), np.ones((height, width), bool)
        x0, x1, y0, y1 = int(cols[0]), int(cols[-1]) + 1, int(rows[0]), int(rows[-1]) + 1
        return (x0, y0, x1, y1), inside[y0:y1, x0:x1]


def page_region(kind: Kind, side: Side, lines: Sequence[OcrLine]) -> PageRegion | None:
    """Where the asked-for page is when the photo also holds its facing page (both pages of a 行驶证
    photographed side by side); None for a photo of one page.

    Each page is recognised by the labels only it prints (号牌号码 is on both); the border between them is
    the widest strip free of text between the two groups, so the other page's values stay out.
    """
    other_side: Side = "back" if side == "front" else "front"
    if (kind, other_side) not in PAGES:
        return None
    own, other = exclusive_label_centres(PAGES[(kind, side)], PAGES[(kind, other_side)], lines)
    if len(own) < MIN_PAGE_LABELS or len(other) < MIN_PAGE_LABELS:
        return None
    own_centre, other_centre = _mean(list(own.values())), _mean(list(other.values()))
    dx, dy = other_centre[0] - own_centre[0], other_centre[1] - own_centre[1]
    if math.hypot(dx, dy) < 1.0:
        return None
    # Pages lie beside (or above) each other along the print's own axes, whatever the labels' spread.
    direction = math.degrees(math.atan2(dy, dx))
    skew = line_skew(lines)
    axis = skew + 90.0 * round((direction - skew) / 90.0)
    normal = (round(math.cos(math.radians(axis)), 9), round(math.sin(math.radians(axis)), 9))

    def project(point: tuple[float, float]) -> float:
        return point[0] * normal[0] + point[1] * normal[1]

    own_far = max(project(point) for point in own.values())
    other_near = min(project(point) for point in other.values())
    if own_far >= other_near:
        return None  # the two groups of labels interleave: not two pages beside each other
    spans = [(min(map(project, line.points)), max(map(project, line.points))) for line in lines]
    threshold = _widest_gap(spans, own_far, other_near)
    return PageRegion(normal, threshold)


def exclusive_label_centres(
    page: PageSpec, facing: PageSpec, lines: Sequence[OcrLine]
) -> tuple[dict[str, tuple[float, float]], dict[str, tuple[float, float]]]:
    """Centres of the lines holding labels printed only on `page`, and of those only on `facing`."""
    own_variants = {variant for label in page.labels for variant in label.variants}
    other_variants = {variant for label in facing.labels for variant in label.variants}
    everything = sorted(own_variants | other_variants, key=len, reverse=True)
    pattern = re.compile("|".join(re.escape(variant) for variant in everything))
    own: dict[str, tuple[float, float]] = {}
    other: dict[str, tuple[float, float]] = {}
    for line in lines:
        for match in pattern.finditer(label_text(line.text)):
            variant = match.group()
            if variant in own_variants and variant not in other_variants:
                own.setdefault(variant, (line.cx, line.cy))
            elif variant in other_variants and variant not in own_variants:
                other.setdefault(variant, (line.cx, line.cy))
    return own, other


def _mean(points: list[tuple[float, float]]) -> tuple[float, float]:
    return (statistics.fmean(x for x, _ in points), statistics.fmean(y for _, y in points))


def _widest_gap(spans: list[tuple[float, float]], start: float, end: float) -> float:
    """The middle of the widest stretch of `start..end` that no span covers (the middle of the stretch
    itself when text covers all of it)."""
    best_gap, best_middle = 0.0, (start + end) / 2
    reach = start
    for low, high in sorted(spans):
        if high <= reach:
            continue
        if low > reach and min(low, end) - reach > best_gap:
            best_gap, best_middle = min(low, end) - reach, (reach + min(low, end)) / 2
        reach = max(reach, high)
        if reach >= end:
            break
    if reach < end and end - reach > best_gap:
        best_middle = (reach + end) / 2
    return best_middle
