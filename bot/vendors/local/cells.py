"""A second look at a label's cell: values text detection skipped, clipped or read with little confidence.

Detection misses short or faint values (``--``, ``5人``) and sometimes clips long ones. The parser knows
where such a value must be (right of its label, in the upright page frame), so the page is turned
upright, the printed ink in that cell is found, and that ink alone is recognized without detection.
"""

from __future__ import annotations

import math
import re

import cv2
import numpy as np

from bot.vendors.local.frame import Rect
from bot.vendors.local.layout import PageRead, offer_value
from bot.vendors.local.lexicon import best_word
from bot.vendors.local.ocr import OcrEngine
from bot.vendors.local.person_names import read_name
from bot.vendors.local.plates import read_printed_plate
from bot.vendors.local.terms import closed_vocabulary

#: Labels found without a value (or with a weak one) get one targeted re-read each, this many per page.
MAX_REREADS = 6
#: A re-read of an empty cell returns noise; below this score it is ignored.
REREAD_MIN_SCORE = 0.5
#: Brightest channel below this always counts as printed ink (black or grey, not red seal ink)...
INK_LEVEL = 100
#: ...and in a blurred or hazy photo, anything darker than halfway between paper and the darkest print,
#: up to this level (red seal ink stays brighter in its red channel).
MAX_INK_LEVEL = 160
#: Share of a cell's column (or row) a table rule covers; a glyph's stroke spans much less of it.
RULE_COVER = 0.75
#: A rule is printed finer and paler than text: this much darker than the paper (grey levels), at most
#: this wide (a share of the cell's height).
RULE_CONTRAST = 25
RULE_WIDTH = 0.1
#: Ink this small (in pixels) is a speck: noise, or what is left of a rule that noise broke up; kept, it
#: stretched a lone dash's box into a glyph-sized one.
SPECK_PIXELS = 2
#: A cell whose darkest pixel is not this much darker than its paper holds no print, only noise...
MIN_INK_CONTRAST = 80
#: ...except a cell that is never blank (a mass cell prints a quantity or ``--``), where a glare-washed
#: dash may stand out by no more than this, and any print darker than halfway to the paper is ink.
FAINT_INK_CONTRAST = 50
#: Cells of the 副页 that print ``--`` when the vehicle has no such mass (never blank); how much a dash
#: shape is trusted.
DASH_FIELDS = frozenset({"approved_load", "traction_mass", "total_mass", "curb_weight"})
DASH_CONFIDENCE = 0.7
#: A lone dash is a hard glyph for the recognizer (its score stays low), but noise is never read as a
#: row of dashes, so in those cells a dash read is accepted at this lower score.
DASH_MIN_SCORE = 0.3
#: A faint cell (glare) of a field that prints from a closed list (使用性质, 车辆类型, 国籍) is read as
#: the list's likeliest term, and only when that term is this much likelier than the next (log units)...
MIN_TERM_MARGIN = 3.0
#: ...and no further than this below the recognizer's own best path, per character (log units).
MAX_TERM_SHORTFALL = 2.0
#: A faint cell's print is looked for only where something lies this far below the paper around it.
FAINT_INK_DEPTH = 20
_DASH_READ = re.compile(r"^[-—–一_－]+$")


def scaled_rect(rect: Rect, factor: float) -> Rect:
    return (rect[0] * factor, rect[1] * factor, rect[2] * factor, rect[3] * factor)


def reread_cells(engine: OcrEngine, bgr: np.ndarray, scale: float, read: PageRead) -> None:
    """Detection skips short or faint values (``--``, ``5人``) and sometimes clips long ones; read the
    ink right of such a label directly, without detection, in the page turned upright. A plate number
    is read under the plate grammar, which reads a blurred province glyph as the likeliest province."""
    items = [*read.missing, *read.weak][:MAX_REREADS]
    if not items:
        return
    upright, (dx, dy) = _upright_page(bgr, read.frame_degrees)
    for item in items:
        x0, y0, x1, y1 = scaled_rect(item.rect, 1 / scale)
        area = (x0 + dx, y0 + dy, x1 + dx, y1 + dy)
        one_row = not read.spec.label(item.field).multiline
        found = _ink_rect(upright, area, never_blank=item.field in DASH_FIELDS, one_row=one_row)
        vocabulary = closed_vocabulary(item.field)
        faint = found is None and vocabulary is not None
        if faint:
            found = _ink_rect(upright, area, faint=True, one_row=one_row)
        if found is None:
            continue
        (cx0, cy0, cx1, cy1), (ink_width, ink_height) = found
        rect = read.input_rect(scaled_rect((cx0 - dx, cy0 - dy, cx1 - dx, cy1 - dy), scale))
        if item.field in DASH_FIELDS and _is_dash(ink_width, ink_height, item.label_height / scale):
            offer_value(read, item.field, "--", DASH_CONFIDENCE * item.trust, rect)
            continue
        crop = np.ascontiguousarray(upright[cy0:cy1, cx0:cx1])
        if item.field == "plate_number":
            plate = read_printed_plate(engine, crop)
            if plate is not None:
                offer_value(read, item.field, plate.text, plate.confidence * item.trust, rect)
            continue
        if faint and vocabulary is not None:
            term = _read_term(engine, crop, vocabulary)
            if term is not None:
                offer_value(read, item.field, term[0], term[1] * item.trust, rect)
            continue
        text, score = engine.read_crop(crop)
        minimum = DASH_MIN_SCORE if item.field in DASH_FIELDS and _DASH_READ.match(text) else REREAD_MIN_SCORE
        if text and score >= minimum:
            offer_value(read, item.field, text, score * item.trust, rect)
        elif item.field == "name":  # always a person's (an owner may be a company)
            # Too faint to take as any text, the cell may still read as a name (万晚车 as 万晓海).
            name = read_name(engine.read_crop_chars(crop))
            if name is not None and not _holds_a_label(read, name.text):
                offer_value(read, item.field, name.text, name.confidence * item.trust, rect)


def _holds_a_label(read: PageRead, text: str) -> bool:
    """Whether `text` holds one of the page's labels: a cell placed too far reaches the next label,
    and 档案编号 reads as four Chinese characters as well as any name does."""
    return any(variant in text for label in read.spec.labels for variant in label.variants)


def _read_term(engine: OcrEngine, crop: np.ndarray, vocabulary: tuple[str, ...]) -> tuple[str, float] | None:
    """The term of `vocabulary` the crop shows, scored over every glyph's whole distribution (a faint
    glyph's second choice counts), with its per-character confidence; None when no term stands out."""
    term = best_word(engine.read_crop_chars(crop), vocabulary)
    if term is None or term.margin < MIN_TERM_MARGIN or term.shortfall > MAX_TERM_SHORTFALL:
        return None
    return term.word, round(term.confidence, 4)


def _upright_page(bgr: np.ndarray, degrees: float) -> tuple[np.ndarray, tuple[float, float]]:
    """`bgr` rotated by `degrees` about the origin (the parser's page frame), shifted into view; returns
    the image and the shift that was added to frame coordinates."""
    if abs(degrees) < 0.05:
        return bgr, (0.0, 0.0)
    height, width = bgr.shape[:2]
    cos, sin = math.cos(math.radians(degrees)), math.sin(math.radians(degrees))
    corners = [
        (x * cos - y * sin, x * sin + y * cos) for x, y in ((0, 0), (width, 0), (width, height), (0, height))
    ]
    xs, ys = [x for x, _ in corners], [y for _, y in corners]
    dx, dy = -min(xs), -min(ys)
    matrix = np.array([[cos, -sin, dx], [sin, cos, dy]], dtype=np.float64)
    size = (math.ceil(max(xs) + dx), math.ceil(max(ys) + dy))
    upright = cv2.warpAffine(bgr, matrix, size, flags=cv2.INTER_LINEAR, borderValue=(255, 255, 255))
    return upright, (dx, dy)


def _is_dash(ink_width: int, ink_height: int, label_height: float) -> bool:
    """A lone flat stroke in a quantity cell: the ``--`` printed where a vehicle has no such mass. Blur
    thickens a dash as much as it lengthens it, so a blurred one is only about twice as long as tall."""
    return (
        ink_height <= 0.35 * label_height
        and ink_width >= 1.8 * ink_height
        and ink_width <= 2.5 * label_height
    )


def _faint_ink_mask(brightest: np.ndarray) -> np.ndarray | None:
    """Print under glare: what lies well below the paper around it. Glare brightens the cell unevenly, so
    one level for the whole cell takes the dim side's paper for ink; the paper is estimated instead at
    each pixel by closing the cell (a stroke is thinner than a third of the cell's height). At this
    contrast a table rule breaks into pieces that no longer cross the cell, so rules are taken out
    first as what an opening along their length keeps: a run far longer than any glyph."""
    height = len(brightest)
    size = max(3, height // 3) | 1
    kernel = cv2.getStructuringElement(cv2.MORPH_RECT, (size, size))
    depth = cv2.morphologyEx(brightest, cv2.MORPH_CLOSE, kernel).astype(np.int16) - brightest
    for rule in ((2 * height, 1), (1, max(3, round(0.6 * height)))):
        lines = cv2.morphologyEx(depth, cv2.MORPH_OPEN, cv2.getStructuringElement(cv2.MORPH_RECT, rule))
        depth = depth - lines
    deepest = int(cv2.blur(depth, (3, 3)).max())
    if deepest < FAINT_INK_DEPTH:
        return None
    return (depth > deepest / 3).astype(np.uint8)


def _ink_mask(brightest: np.ndarray, *, never_blank: bool = False) -> np.ndarray | None:
    """Print in a cell (brightest channel per pixel), judged against the cell's own paper, so blur and
    sleeves that lighten thin strokes (a ``--``) do not erase them; None when the cell is blank."""
    paper = float(np.percentile(brightest, 90))
    darkest = float(cv2.blur(brightest, (3, 3)).min())
    if paper - darkest < (FAINT_INK_CONTRAST if never_blank else MIN_INK_CONTRAST):
        return None
    level = max(INK_LEVEL, (paper + darkest) / 2)
    if not never_blank:
        level = min(MAX_INK_LEVEL, level)
    return (brightest < level).astype(np.uint8)


def _vertical_rules(brightest: np.ndarray) -> list[int]:
    """Columns where a table's vertical rule runs: a thin line, only a little darker than the paper
    (rules print grey and fine), down nearly the whole height. A shadow is as tall but far wider."""
    paper = float(np.percentile(brightest, 90))
    covered = (brightest < paper - RULE_CONTRAST).mean(axis=0) > RULE_COVER
    rules = []
    start = None
    for column, on in enumerate([*covered, False]):
        if on and start is None:
            start = column
        elif not on and start is not None:
            if column - start <= max(3, RULE_WIDTH * len(brightest)):
                rules.append(start)
            start = None
    return rules


def _drop_neighbouring_rows(ink: np.ndarray) -> None:
    """Clear the print of the rows above and below the cell's own: a cell's area runs a little past its
    row, so a tight row spacing or a tilted card brings in the foot of the value above it or the head
    of the one below (a name's cell read as the ID number over it). Such print is a band of ink rows
    cut by the area's top or bottom edge; it is cleared when some band lies wholly inside the area."""
    inked = np.concatenate(([0], ink.any(axis=1).astype(np.int8), [0]))
    edges = np.flatnonzero(np.diff(inked))
    bands = list(zip(edges[::2], edges[1::2], strict=True))
    cut = [(top, bottom) for top, bottom in bands if top == 0 or bottom == len(ink)]
    if len(cut) < len(bands):
        for top, bottom in cut:
            ink[top:bottom] = 0


def _is_rule(stat: np.ndarray, height: int, width: int) -> bool:
    """Table rules cross the whole cell, even in a tilted photo; print never does. A rule slanted by
    perspective crosses the cell only partly, but it runs in from the cell's edge, where print never is."""
    x, y, w, h = (int(value) for value in stat[:4])
    if h > 0.8 * height or w > 0.8 * width:
        return True
    from_top_or_bottom = (y == 0 or y + h == height) and h > 0.5 * height and w < 0.5 * h
    from_left_or_right = (x == 0 or x + w == width) and w > 0.5 * width and h < 0.5 * w
    return from_top_or_bottom or from_left_or_right


def _ink_rect(
    bgr: np.ndarray,
    area: tuple[float, float, float, float],
    *,
    never_blank: bool = False,
    faint: bool = False,
    one_row: bool = True,
) -> tuple[tuple[int, int, int, int], tuple[int, int]] | None:
    """The dark print inside `area` (with a margin) and its own width and height, ignoring table rules
    and red seal ink; None for an empty cell (see FAINT_INK_CONTRAST for cells that are never blank,
    and `_faint_ink_mask` for the `faint` print of a term under glare). A `one_row` value leaves out
    the print of the rows beside its own (`_drop_neighbouring_rows`); one that may wrap keeps it."""
    height, width = bgr.shape[:2]
    x0, y0 = max(0, round(area[0])), max(0, round(area[1]))
    x1, y1 = min(width, round(area[2])), min(height, round(area[3]))
    if x1 - x0 < 8 or y1 - y0 < 8:
        return None
    brightest = bgr[y0:y1, x0:x1].max(axis=2)
    ink = _faint_ink_mask(brightest) if faint else _ink_mask(brightest, never_blank=never_blank)
    if ink is None:
        return None
    # A table rule runs through (nearly) the whole cell, even where noise breaks it into pieces.
    ink[:, ink.mean(axis=0) > RULE_COVER] = 0
    ink[ink.mean(axis=1) > RULE_COVER, :] = 0
    count, labels, stats, _ = cv2.connectedComponentsWithStats(ink, connectivity=8)
    for index in range(1, count):
        if _is_rule(stats[index], ink.shape[0], ink.shape[1]) or stats[index][4] <= SPECK_PIXELS:
            ink[labels == index] = 0
    # A value never crosses a rule: the first rule after some print closes the value's cell (what lies
    # beyond is the next cell, whose label detection may have missed).
    closing = [column for column in _vertical_rules(brightest) if ink[:, :column].any()]
    if closing:
        ink[:, closing[0] :] = 0
    if one_row:
        _drop_neighbouring_rows(ink)
    rows, cols = np.flatnonzero(ink.any(axis=1)), np.flatnonzero(ink.any(axis=0))
    if len(rows) == 0 or ink.sum() < 12:
        return None
    ink_height, ink_width = int(rows[-1] - rows[0] + 1), int(cols[-1] - cols[0] + 1)
    # Recognition wants some paper around the ink; a lone dash needs more than its own few pixels.
    pad = max(10, round(min(ink_height, ink_width) * 0.5))
    rect = (
        max(0, x0 + int(cols[0]) - pad),
        max(0, y0 + int(rows[0]) - pad),
        min(width, x0 + int(cols[-1]) + 1 + pad),
        min(height, y0 + int(rows[-1]) + 1 + pad),
    )
    return rect, (ink_width, ink_height)
