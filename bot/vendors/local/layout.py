"""Card layout parser: OCR lines of a licence page in, normalized fields out.

The printed labels are the anchors, never pixel positions of any one renderer, because real cards and our
specimens share the labels and nothing else. OCR may return a label with its value as one line
(``姓名张三 性别男国籍中国``) or as separate boxes, so every line is split at the labels it contains; a
label left without a value takes the nearest unlabelled box to its right on the same row, then (for
multi-line fields) the boxes that continue it below. English sub-labels are removed before any of that,
so ``Name`` or ``Date of Birth`` never ends up in a value.

Geometry is judged in a frame that undoes the photo's rotation: the median tilt of the text lines is
removed and each quarter turn (0°, 180°, 90°, 270°) is tried; the turn that yields the most values in the
card's own reading order wins. OCR already reads each line the right way up (rapidocr's angle
classifier), so a card photographed upside down only needs its geometry turned, not a second OCR pass.

What each page prints is in pages.py; segments.py splits a line at its labels (line_text.py drops the
English sub-labels first), lost_labels.py finds the labels OCR lost or garbled by where they stand, and
frame.py holds the page's geometry; document.py turns a parsed page into the normalized document;
two_pages.py finds the asked-for page in a photo of both.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from itertools import pairwise

from bot.dates import find_dates
from bot.models import Kind, Side
from bot.plate_grammar import parse_plate
from bot.vendors.local.frame import (
    Frame,
    Rect,
    line_skew,
    mostly_upright,
    reads_between,
    same_row,
    similar_height,
    union,
    vertical_overlap,
)
from bot.vendors.local.line_text import label_text
from bot.vendors.local.lost_labels import (
    cells_placed_by_table,
    cells_placed_by_values,
    labels_by_place,
    misplaced_in_table,
    placed_by_neighbours,
)
from bot.vendors.local.ocr import OcrLine
from bot.vendors.local.page_shown import is_own_title
from bot.vendors.local.pages import PAGES, LabelSpec, PageSpec
from bot.vendors.local.places import looks_like_address
from bot.vendors.local.segments import (
    Free,
    Hit,
    label_pattern,
    split_line,
)
from bot.vendors.local.terms import VOCABULARIES, nationalities
from bot.vendors.local.values import FILE_NUMBER, REPAIR_PENALTY, clean_authority, clean_value
from bot.vendors.local.whole import looks_whole, names_a_model

#: Values read with less confidence than this are read again on their own.
WEAK_CONFIDENCE = 0.8


def _looks_like_vin(text: str) -> bool:
    """17 characters of the VIN alphabet, letters and digits mixed, once OCR's O/I/Q are read as 0/1/0."""
    cleaned = clean_value("vin", text)
    vin = cleaned[0] if cleaned else ""
    mixed = re.search(r"\d", vin) and re.search(r"[A-Z]", vin)
    return bool(re.fullmatch(r"[A-HJ-NPR-Z0-9]{17}", vin) and mixed)


def _is_term(field_name: str) -> Callable[[str], bool]:
    """Whether a line is (one glyph from) a term of the field's national list (terms.py)."""

    def check(text: str) -> bool:
        cleaned = clean_value(field_name, text)
        return cleaned is not None and cleaned[0] in VOCABULARIES[field_name]

    return check


def _is_date_range(text: str) -> bool:
    """``A 至 B`` or ``A 至 长期``, as the validity of a new driving licence is printed."""
    cleaned = clean_value("valid_period", text)
    before, joined, after = (cleaned[0] if cleaned else "").partition("至")
    return bool(joined) and len(find_dates(before)) == 1 and (len(find_dates(after)) == 1 or "长期" in after)


#: Values no other field of their page could be, found by format alone when their label is unreadable
#: (a thumbnail's labels are often too small to read while its long values survive): an 18-character
#: ID number, a 17-character VIN (GB 16735: no I, O or Q, letters and digits mixed), a plate number,
#: an address (a province first, then a road or a number; no office name), a 12-digit file number
#: (after what OCR left of its English sub-label), a record (the only text on its page dated 年 and 月:
#: 实习期至…, 请于…前申请换证), an inspection stamp (…期至 and a year; the stamp's 检验 is small and often
#: misread, its 有效期至 less so), a vehicle's outer dimensions (three numbers joined by ×), a vehicle
#: type or use character from its national list, a licence class with a lettered grade (B1, C1E; a lone
#: D, E or F could be any stray glyph), a driving licence's validity printed as a range of dates, a
#: vehicle's model (a brand, 牌, then the model code: 大众汽车牌FV7152FBDWG).
SELF_EVIDENT: dict[str, Callable[[str], bool]] = {
    "class": lambda text: re.search(r"[ABC][1-6]", (clean_value("class", text) or ("",))[0]) is not None,
    "vehicle_type": _is_term("vehicle_type"),
    "use_character": _is_term("use_character"),
    "number": lambda text: re.fullmatch(r"\d{17}[\dXx]", text) is not None,
    "vin": _looks_like_vin,
    "plate_number": lambda text: parse_plate(text) is not None,
    "address": looks_like_address,
    "file_number": lambda text: FILE_NUMBER.fullmatch(text.strip()) is not None,
    "record": lambda text: re.search(r"\d{4}\s*年\s*\d{1,2}\s*月", text) is not None,
    "inspection_record": lambda text: re.search(r"(?:检.{0,4}|有效)期至\s*\d{4}", text) is not None,
    "dimensions": lambda text: re.search(r"\d{4}\s*[×xX*✕]\s*\d{4}\s*[×xX*✕]\s*\d{3,4}", text) is not None,
    "valid_period": _is_date_range,
    "model": names_a_model,
    "nationality": lambda text: text.strip() in nationalities(),
}
#: Formats a misread line can take by chance (two Chinese glyphs, 牌, a letter or digit): a line placed
#: by one of them alone must also have been read with some confidence (MIN_PLACED_SCORE).
LOOSE_FORMATS = frozenset({"model", "nationality"})


#: Fields that hold one date, printed bare (the validity period is a range and is not one of them).
DATE_FIELDS = frozenset({"birth_date", "first_issue_date", "valid_from", "register_date", "issue_date"})
#: A line holding a date and nothing else (OCR may turn a dash into a colon or a dot).
_LONE_DATE = re.compile(r"\s*\d{4}\s*[-./:年]\s*\d{1,2}\s*[-./:月]\s*\d{1,2}\s*日?\s*")

#: A value placed by its format rather than its label is trusted this much less.
UNLABELLED_TRUST = 0.9
#: A value read in a cell placed by the card's table alone comes from a page so blurred or small that
#: its labels were lost, and nothing but its place says which field it is: it is trusted this much, which
#: puts even a sure read under the confidence at which the reply asks the user to check it (on the
#: rendered sets, such cells gave ten right values and nine wrong ones, most of them owners and models).
TABLE_TRUST = 0.6
#: A value placed by where it stands alone has only its read to vouch for it: lines the recognizer was
#: unsure of (garbled glyphs score 0.5 to 0.8) are not placed so.
MIN_PLACED_SCORE = 0.8


@dataclass(frozen=True)
class FieldValue:
    """A cleaned value with the OCR confidence behind it and where it sits (in the input lines' space)."""

    value: str
    confidence: float
    rect: Rect | None = None


@dataclass(frozen=True)
class MissingValue:
    """A label whose value should be looked at again: where, in the upright page frame (see PageRead)."""

    field: str
    rect: Rect
    #: Height of the label's text, the scale of what to expect there.
    label_height: float
    #: How far a value read there is trusted, before its own read's confidence: a cell placed by the
    #: card's table alone, with no label found and no format to tell the value, is trusted less.
    trust: float = 1.0


@dataclass
class PageRead:
    """What the parser made of one page.

    `quarter_turns` is how far the photo is turned (clockwise quarter turns) and `skew_degrees` its
    small tilt. `frame_degrees` rotates input points (about the origin) into the upright page frame
    that `MissingValue.rect` is in; `input_rect` maps such a rectangle back.
    """

    spec: PageSpec
    fields: dict[str, FieldValue]
    missing: list[MissingValue] = field(default_factory=list)
    #: Values read with little confidence, worth a second look at the same place.
    weak: list[MissingValue] = field(default_factory=list)
    quarter_turns: int = 0
    skew_degrees: float = 0.0
    frame_degrees: float = 0.0
    labels_found: int = 0

    def input_rect(self, rect: Rect) -> Rect:
        return Frame(self.frame_degrees).back(rect)


# ----------------------------------------------------------------------------------------------- parsing


@dataclass
class _Candidate:
    read: PageRead
    #: Fields read plus the labels' agreement with the printed order, then, to tell two frames apart
    #: that those leave equal (a page that kept a single label), the share of text on the labels' rows
    #: that stands after them, as values do; last, for a page that kept no label, whether its title
    #: stands above its values.
    score: tuple[float, float, float]


def parse_page(kind: Kind, side: Side, lines: Sequence[OcrLine]) -> PageRead:
    """Read a page's fields from its OCR lines, whichever way up the photo was taken."""
    spec = PAGES[(kind, side)]
    if not lines:
        return PageRead(spec, {})
    skew = line_skew(lines)
    turns = (0, 2, 1, 3) if mostly_upright(lines) else (1, 3, 0, 2)
    best: _Candidate | None = None
    for quarter in turns[:2]:
        # Rotating the geometry by -(tilt) levels the lines; a further quarter turn stands the page up.
        frame = Frame(-skew - 90.0 * quarter)
        candidate = _parse_in_frame(spec, lines, frame, quarter)
        candidate.read.skew_degrees = skew
        if best is None or candidate.score > best.score:
            best = candidate
    assert best is not None
    return best.read


def _parse_in_frame(spec: PageSpec, lines: Sequence[OcrLine], frame: Frame, quarter: int) -> _Candidate:
    pattern = label_pattern(spec)
    hits: list[Hit] = []
    free: list[Free] = []
    for line in lines:
        line_hits, line_free = split_line(line, frame, spec, pattern)
        hits.extend(line_hits)
        free.extend(line_free)
    hits = _first_hit_per_field(hits)
    hits.extend(labels_by_place(spec, hits, free))
    values: dict[str, tuple[str, float, list[Rect], bool]] = {}
    pending: list[Hit] = []
    for hit in sorted(hits, key=lambda item: (item.rect[1], item.rect[0])):
        found = _inline_value(hit)
        if found is None:
            found = _right_value(hit, hits, free)
        if found is None:
            pending.append(hit)
        else:
            values[hit.spec.field] = found
    for hit in pending:
        if hit.spec.below:
            found = _below_value(hit, free)
            if found is not None:
                values[hit.spec.field] = found
    for hit in hits:
        if hit.spec.multiline and hit.spec.field in values:
            values[hit.spec.field] = _continue_below(values[hit.spec.field], hit.spec, hits, free)
    _claim_row_tail(values, hits)
    _claim_self_evident(spec, values, hits, free)
    # Where each field was found: its value, or else its label (a label stands on its value's row).
    found_at = {hit.spec.field: hit.rect for hit in hits}
    found_at.update({name: union(rects) for name, (_text, _score, rects, _repaired) in values.items()})
    misplaced = misplaced_in_table(spec, found_at)
    if misplaced is not None:
        # A row away from where its field prints: its label was another field's, misread. Label and
        # value go, and the table places the cells of that field and of the one whose row it stands in.
        values.pop(misplaced, None)
        hits = [hit for hit in hits if hit.spec.field != misplaced]
    fields = {
        name: FieldValue(
            text, round(score * (REPAIR_PENALTY if repaired else 1.0), 4), frame.back(union(rects))
        )
        for name, (text, score, rects, repaired) in values.items()
    }
    missing = [
        MissingValue(hit.spec.field, _search_area(hit, hits, free, from_label=False), hit.height)
        for hit in [*hits, *placed_by_neighbours(spec, hits)]
        if hit.spec.field not in fields
    ]
    if "plate_number" not in fields and any(label.field == "plate_number" for label in spec.labels):
        missing.extend(_plates_missing_their_province(free, {item.field for item in missing}))
    value_rects = {name: union(rects) for name, (_text, _score, rects, _repaired) in values.items()}
    placed = {item.field for item in missing} | {hit.spec.field for hit in hits}
    for name, rect in cells_placed_by_values(spec, value_rects, placed).items():
        missing.append(MissingValue(name, rect, rect[3] - rect[1]))
        placed.add(name)
    for name, (rect, height) in cells_placed_by_table(spec, value_rects, placed).items():
        missing.append(MissingValue(name, rect, height, TABLE_TRUST))
    # Values read with little confidence, or read confidently but cut short (whole.py), get a second look.
    weak = [
        MissingValue(hit.spec.field, _search_area(hit, hits, free, from_label=True), hit.height)
        for hit in hits
        if hit.spec.field in fields
        and (
            fields[hit.spec.field].confidence < WEAK_CONFIDENCE
            or not looks_whole(hit.spec.field, fields[hit.spec.field].value)
        )
    ]
    read = PageRead(
        spec,
        fields,
        missing,
        weak,
        quarter_turns=quarter,
        frame_degrees=frame.degrees,
        labels_found=len(hits),
    )
    agreement = _reading_order_agreement(hits)
    return _Candidate(
        read,
        (len(fields) + agreement, _values_after_labels(hits, free), _title_on_top(spec, free, value_rects)),
    )


def _claim_row_tail(values: dict[str, tuple[str, float, list[Rect], bool]], hits: list[Hit]) -> None:
    """A short value read on one line with the next label on its row and that label's value (性别男国箱中国:
    国籍 misread inside a line, where no label is looked for) leaves the rest of its line to the next
    label's field, when the field's cleaner finds a whole value of it there (a nationality is a country)."""
    for hit in hits:
        if hit.spec.between is None or not hit.inline or hit.inline_rect is None:
            continue
        after, own = hit.spec.between[1], values.get(hit.spec.field)
        if after in values or own is None or own[2] != [hit.inline_rect]:
            continue
        start = hit.inline.find(own[0])
        end = start + len(own[0])
        cleaned = clean_value(after, hit.inline[end:]) if start >= 0 and end < len(hit.inline) else None
        if cleaned is None or not looks_whole(after, cleaned[0]):
            continue
        x0, y0, x1, y1 = hit.inline_rect
        rect = (x0 + (x1 - x0) * end / len(hit.inline), y0, x1, y1)
        values[after] = (cleaned[0], hit.score * UNLABELLED_TRUST, [rect], cleaned[1])


def _claim_self_evident(
    spec: PageSpec,
    values: dict[str, tuple[str, float, list[Rect], bool]],
    hits: list[Hit],
    free: list[Free],
) -> None:
    """A value whose format nothing else on its page shares (an 18-character ID number) is taken even
    when its label was lost to glare or a thumbnail, if exactly one unclaimed line has that format;
    a value that may wrap (an address) takes its continuation lines too."""
    for name, has_format in SELF_EVIDENT.items():
        label = next((label for label in spec.labels if label.field == name), None)
        if name in values or label is None:
            continue
        matching = [segment for segment in free if not segment.used and has_format(segment.text)]
        if len(matching) != 1 or (name in LOOSE_FORMATS and matching[0].score < MIN_PLACED_SCORE):
            continue
        cleaned = clean_value(name, matching[0].text)
        if cleaned is not None:
            _claim(values, name, matching[0], cleaned)
            if label.multiline:
                values[name] = _continue_below(values[name], label, hits, free)
    _claim_lone_dates(spec, values, free)
    _claim_between_labels(spec, values, hits, free)


#: What any printed value holds: a letter, a digit, a Chinese character or a dash (``--``).
_WRITING = re.compile(r"[0-9A-Za-z\u3400-\u9fff\-—–_－]")


def _claim_between_labels(
    spec: PageSpec,
    values: dict[str, tuple[str, float, list[Rect], bool]],
    hits: list[Hit],
    free: list[Free],
) -> None:
    """Values whose labels were lost outright, placed by what was found around them.

    Between two fields found next to each other in print order (by their labels, or by values already
    placed), the card prints the values of the fields in between, in that order. When as many unclaimed
    lines read with some confidence lie there (in reading order) as those fields are empty, and each
    line fits its field's format, they are those fields' values; any other count is no evidence, so no
    guess. What is left of a label, or a line the recognizer was unsure of away from the others (a
    garbled label, a speck), neither fills a field nor stops the others being placed; one that may be
    the rest of a value split in two stops it (placed alone, the sharp half would be a value cut short)."""
    order = {label.field: index for index, label in enumerate(spec.labels)}
    placed = [(order[name], rects[0]) for name, (_text, _score, rects, _repaired) in values.items()]
    anchors = sorted([(hit.order, hit.rect) for hit in hits] + placed, key=lambda anchor: anchor[0])
    for (before, before_rect), (after, after_rect) in pairwise(anchors):
        missing = [label.field for label in spec.labels[before + 1 : after] if label.field not in values]
        if not missing:
            continue
        lying = [
            segment
            for segment in free
            if not segment.used
            and reads_between(segment.rect, before_rect, after_rect)
            and _WRITING.search(segment.text)  # the seal's star, read as ★, is no line of the card
            and not _label_remnant(spec, segment.text)
        ]
        between = [segment for segment in lying if segment.score >= MIN_PLACED_SCORE]
        unsure = [segment for segment in lying if segment.score < MIN_PLACED_SCORE]
        if len(between) != len(missing) or any(_may_continue(line, between) for line in unsure):
            continue
        ordered = _reading_order(between)
        cleaned = [clean_value(name, segment.text) for name, segment in zip(missing, ordered, strict=True)]
        if any(value is None for value in cleaned):
            continue
        for name, segment, value in zip(missing, ordered, cleaned, strict=True):
            if value is not None:
                _claim(values, name, segment, value)


def _may_continue(unsure: Free, lines: list[Free]) -> bool:
    """Whether a line read unsure may be the rest of one of `lines` (one value split into two boxes,
    half of it under glare): on the same row, and closer to it than a glyph and a half."""
    return any(
        same_row(unsure.rect, line.rect)
        and max(unsure.rect[0] - line.rect[2], line.rect[0] - unsure.rect[2]) < 1.5 * line.height
        for line in lines
    )


def _label_remnant(spec: PageSpec, text: str) -> bool:
    """Whether a line is what glare left of a label (有人 of 所有人): no value, and no label to match."""
    return any(text in variant for label in spec.labels for variant in label.variants)


def _claim_lone_dates(
    spec: PageSpec, values: dict[str, tuple[str, float, list[Rect], bool]], free: list[Free]
) -> None:
    """When as many unclaimed lines are lone dates as the page has date fields empty, they are those
    fields, in the order the card prints them (its labels' order: row by row, left to right): nothing
    else on a card is printed as a bare date. Any other count is no evidence, so no guess."""
    # A validity printed as a range (a new card) gives the start date; no lone date does.
    ranged = "valid_period" in values and _is_date_range(values["valid_period"][0])
    dates = [
        label.field
        for label in spec.labels
        if label.field in DATE_FIELDS and not (ranged and label.field == "valid_from")
    ]
    missing = [name for name in dates if name not in values]
    if not missing:
        return
    lone_dates = [segment for segment in free if not segment.used and _LONE_DATE.fullmatch(segment.text)]
    if len(lone_dates) != len(missing):
        return
    for name, segment in zip(missing, _reading_order(lone_dates), strict=True):
        cleaned = clean_value(name, segment.text)
        if cleaned is not None:
            _claim(values, name, segment, cleaned)


def _reading_order(segments: list[Free]) -> list[Free]:
    """Row by row from the top (boxes sharing a row stay one row, however the page is tilted), then
    left to right within a row."""
    rows: list[list[Free]] = []
    for segment in sorted(segments, key=lambda item: (item.rect[1] + item.rect[3]) / 2):
        if rows and same_row(rows[-1][0].rect, segment.rect):
            rows[-1].append(segment)
        else:
            rows.append([segment])
    return [segment for row in rows for segment in sorted(row, key=lambda item: item.rect[0])]


def _claim(
    values: dict[str, tuple[str, float, list[Rect], bool]],
    name: str,
    segment: Free,
    cleaned: tuple[str, bool],
) -> None:
    """Take an unclaimed line as `name`'s value; placed by format, not label, so trusted less."""
    segment.used = True
    values[name] = (cleaned[0], segment.score * UNLABELLED_TRUST, [segment.rect], cleaned[1])


def _first_hit_per_field(hits: list[Hit]) -> list[Hit]:
    """A label printed twice (or a label word inside a title) keeps its best-placed occurrence: the one
    carrying a value beats a bare one, and higher OCR confidence breaks ties."""
    best: dict[str, Hit] = {}
    for hit in hits:
        current = best.get(hit.spec.field)
        if current is None or _hit_rank(hit) > _hit_rank(current):
            best[hit.spec.field] = hit
    return list(best.values())


def _hit_rank(hit: Hit) -> tuple[bool, bool, float]:
    return (not hit.fuzzy, bool(hit.inline), hit.score)


def _inline_value(hit: Hit) -> tuple[str, float, list[Rect], bool] | None:
    if not hit.inline or hit.inline_rect is None:
        return None
    cleaned = clean_value(hit.spec.field, hit.inline)
    if cleaned is None:
        return None
    return (cleaned[0], hit.score, [hit.inline_rect], cleaned[1])


def _right_value(hit: Hit, hits: list[Hit], free: list[Free]) -> tuple[str, float, list[Rect], bool] | None:
    """The nearest unused unlabelled box to the right on the label's row, with no other label between."""
    right_edge = (hit.inline_rect or hit.rect)[2]
    # Detection boxes are padded, so a value printed close to its label may start inside the label's box.
    slack = hit.height * 1.2
    limit = _next_label_x(hit.rect, hits)
    candidates = [
        segment
        for segment in free
        if not segment.used
        and segment.rect[0] >= right_edge - slack
        and (segment.rect[0] + segment.rect[2]) / 2 > right_edge
        and segment.rect[0] < limit
        and same_row(segment.rect, hit.rect)
    ]

    # Nearest first; a box squarely on the label's row is taken over one that starts a little nearer but
    # only grazes the row (in a tilted photo, the wrapped second line of the value starts the same way).
    def nearness(segment: Free) -> float:
        return segment.rect[0] - hit.height * vertical_overlap(segment.rect, hit.rect)

    for segment in sorted(candidates, key=nearness):
        cleaned = clean_value(hit.spec.field, segment.text)
        if cleaned is None:
            continue
        segment.used = True
        return (cleaned[0], segment.score, [segment.rect], cleaned[1])
    return None


def _below_value(hit: Hit, free: list[Free]) -> tuple[str, float, list[Rect], bool] | None:
    """Stamp boxes (检验记录) hang below and right of their label."""
    height = hit.height
    candidates = [
        segment
        for segment in free
        if not segment.used
        and segment.rect[1] >= hit.rect[1]
        and segment.rect[1] <= hit.rect[3] + 3 * height
        and segment.rect[2] > hit.rect[0]
    ]
    for segment in sorted(candidates, key=lambda item: (item.rect[1], item.rect[0])):
        cleaned = clean_value(hit.spec.field, segment.text)
        if cleaned is None:
            continue
        segment.used = True
        return (cleaned[0], segment.score, [segment.rect], cleaned[1])
    return None


def _continue_below(
    found: tuple[str, float, list[Rect], bool], spec: LabelSpec, hits: list[Hit], free: list[Free]
) -> tuple[str, float, list[Rect], bool]:
    """Append the lines a wrapped value continues on: just below, left-aligned with it, of similar size,
    and not the value of some other label on their own row. A line that starts an address is the
    address row (its label lost), never the rest of a name above it. A value that fills its row also
    takes what follows it along each row (`_continue_along_row`)."""
    field_name = spec.field
    if spec.fills_row:
        found = _continue_along_row(found, field_name, hits, free)
    while True:
        text, score, rects, repaired = found
        last = rects[-1]
        first = rects[0]
        height = last[3] - last[1]
        candidates = [
            segment
            for segment in free
            if not segment.used
            and last[3] - 0.5 * height <= segment.rect[1] <= last[3] + 0.9 * height
            and abs(segment.rect[0] - first[0]) <= 1.5 * height
            and similar_height(segment.height, height)
            and not any(
                same_row(other.rect, segment.rect)
                and other.rect[0] < segment.rect[0]
                and other.spec.field != field_name  # a tilted photo's second line grazes its own label's row
                for other in hits
            )
        ]
        if not candidates:
            return found
        segment = min(candidates, key=lambda item: item.rect[1])
        if field_name != "address" and looks_like_address(segment.text):
            return found
        cleaned = clean_value(field_name, segment.text)
        segment.used = True
        if cleaned is None:
            return found
        found = (text + cleaned[0], min(score, segment.score), [*rects, segment.rect], repaired or cleaned[1])
        if spec.fills_row:
            found = _continue_along_row(found, field_name, hits, free)


def _continue_along_row(
    found: tuple[str, float, list[Rect], bool], field_name: str, hits: list[Hit], free: list[Free]
) -> tuple[str, float, list[Rect], bool]:
    """Append the unlabelled boxes that follow the value's last box on its row, nearest first, up to any
    label. Detection splits a printed row where its ink breaks: a wide space, or glyphs that glare
    washed out. A break wider than a glyph may hide lost characters, so the value is then trusted as
    little as a repaired one."""
    text, score, rects, repaired = found
    while True:
        last = rects[-1]
        height = last[3] - last[1]
        limit = _next_label_x(last, hits)
        candidates = [
            segment
            for segment in free
            if not segment.used
            and segment.rect[0] >= last[2] - 0.5 * height
            and segment.rect[0] < limit
            and same_row(segment.rect, last)
            and similar_height(segment.height, height)
        ]
        if not candidates:
            return (text, score, rects, repaired)
        segment = min(candidates, key=lambda item: item.rect[0])
        cleaned = clean_value(field_name, segment.text)
        if cleaned is None:
            return (text, score, rects, repaired)
        segment.used = True
        gap = segment.rect[0] - last[2]
        text, score, rects = text + cleaned[0], min(score, segment.score), [*rects, segment.rect]
        repaired = repaired or cleaned[1] or gap > height


def _next_label_x(rect: Rect, hits: list[Hit], default: float = math.inf) -> float:
    """Where the next label to the right of `rect` on its row starts: a value never runs past it."""
    return min(
        (other.rect[0] for other in hits if other.rect[0] > rect[0] and same_row(other.rect, rect)),
        default=default,
    )


def _search_area(hit: Hit, hits: list[Hit], free: list[Free], *, from_label: bool) -> Rect:
    """Where a value should be: right of the label (or of what followed it on its line) up to the next
    label on its row, or as far as the page's text reaches, as tall as the label's row."""
    height = hit.height
    start = (hit.rect if from_label else (hit.inline_rect or hit.rect))[2] + 0.3 * height
    page_right = max([segment.rect[2] for segment in free] + [other.rect[2] for other in hits])
    end = min(_next_label_x(hit.rect, hits, default=page_right) - 0.3 * height, start + 14 * height)
    end = max(end, start + 2 * height)
    return (start, hit.rect[1] - 0.35 * height, end, hit.rect[3] + 0.35 * height)


def _values_after_labels(hits: list[Hit], free: list[Free]) -> float:
    """Share of the unlabelled text on the labels' rows that lies right of its label (0..1): values
    follow their labels, so in a frame turned over they all come before them."""
    after = total = 0
    for hit in hits:
        for segment in free:
            if same_row(segment.rect, hit.rect):
                total += 1
                after += segment.rect[0] > hit.rect[0]
    return after / total if total else 0.0


#: A plate whose province glyph was misread (a blurred 渝 as 油, 皖 as R): anything or nothing, then
#: the city letter and five or six serial characters (I and O are never printed).
_PLATE_WITHOUT_PROVINCE = re.compile(r"[^A-Z0-9]?[A-HJ-NP-Z][A-HJ-NP-Z0-9]{5,6}")


def _plates_missing_their_province(free: list[Free], missing: set[str]) -> list[MissingValue]:
    """The plate number's cell, when its label was lost and the plate itself failed the grammar only
    for its province glyph: one unclaimed line reading as a plate after its first character. Its ink
    is then read under every plate format (cells.py), which takes the likeliest province."""
    if "plate_number" in missing:
        return []
    found = [
        segment
        for segment in free
        if not segment.used
        and _PLATE_WITHOUT_PROVINCE.fullmatch(text := segment.text.strip())
        and parse_plate(text) is None
    ]
    if len(found) != 1:
        return []
    x0, y0, x1, y1 = found[0].rect
    pad = 0.3 * (y1 - y0)
    return [MissingValue("plate_number", (x0 - pad, y0 - pad, x1 + pad, y1 + pad), y1 - y0)]


def _title_on_top(spec: PageSpec, free: list[Free], values: dict[str, Rect]) -> float:
    """1 when the page's title stands above the values read, as every licence page prints it; 0 when
    below; 0.5 when no title or value was read. It decides between a frame and the same turned over
    only when no label does: a blurred 副页 can keep just its bold values and its title, and its name
    cell is then found from the values' places (`cells_placed_by_values`), which must be the right way
    up. The values, not all the photo's text: a receipt below the card is no part of its page."""
    titles = [segment for segment in free if is_own_title(spec.kind, spec.side, segment.text)]
    middles = sorted((rect[1] + rect[3]) / 2 for rect in values.values())
    if not titles or not middles:
        return 0.5
    middle = middles[len(middles) // 2]
    return sum((title.rect[1] + title.rect[3]) / 2 < middle for title in titles) / len(titles)


def _reading_order_agreement(hits: list[Hit]) -> float:
    """Share of label pairs that appear in the card's printed order (0..1): upright cards score high,
    the same card turned over scores low."""
    agree = total = 0
    ordered = sorted(hits, key=lambda item: item.order)
    for index, first in enumerate(ordered):
        for second in ordered[index + 1 :]:
            total += 1
            if same_row(first.rect, second.rect):
                agree += first.rect[0] < second.rect[0]
            else:
                agree += first.rect[1] < second.rect[1]
    return agree / total if total else 0.0


# ----------------------------------------------------------------------------------------------- models


def authority_from_lines(lines: Sequence[OcrLine]) -> FieldValue | None:
    """An issuing authority printed (or stamped) legibly as a straight line of text."""
    best: FieldValue | None = None
    for line in lines:
        cleaned = clean_authority(line.text)
        if cleaned is None:
            continue
        value, trust = cleaned
        score = line.score * trust
        if best is None or len(value) * score > len(best.value) * best.confidence:
            best = FieldValue(value, round(score, 4), line.rect)
    return best


def offer_value(read: PageRead, field_name: str, text: str, score: float, rect: Rect) -> bool:
    """A targeted re-read of one field's place: kept when the field had no value or a less confident one
    (in place of a confident value cut short, only a whole one: a shorter piece is no better). A re-read
    that lacks a part its field always prints never replaces a value that has it, however sure: the ink
    it found was clipped (glare took ``瑶`` of ``宋瑶``, and the sharp ``宋`` alone outscored the pair).

    The text is cleaned like any OCR line (English sub-labels and whitespace removed), so a crop that
    caught part of the label still gives the value.
    """
    cleaned = clean_value(field_name, _after_label(read.spec.label(field_name), label_text(text)))
    if cleaned is None:
        return False
    confidence = round(score * (REPAIR_PENALTY if cleaned[1] else 1.0), 4)
    current = read.fields.get(field_name)
    if current is not None:
        surer_already = current.confidence >= confidence
        # A confident value is looked at again only for being cut short, and a whole value is never
        # replaced by a piece: either way, a re-read that is not whole is no better.
        piece = not looks_whole(field_name, cleaned[0]) and (
            current.confidence >= WEAK_CONFIDENCE or looks_whole(field_name, current.value)
        )
        if surer_already or piece:
            return False
    read.fields[field_name] = FieldValue(cleaned[0], confidence, rect)
    read.missing = [item for item in read.missing if item.field != field_name]
    read.weak = [item for item in read.weak if item.field != field_name]
    return True


def _after_label(spec: LabelSpec, text: str) -> str:
    """What follows the field's own label in a re-read crop that caught the label or its last characters
    (``籍中国`` from a crop starting inside 国籍)."""
    for variant in sorted(spec.variants, key=len, reverse=True):
        position = text.find(variant)
        if position >= 0:
            return text[position + len(variant) :]
    for variant in spec.variants:
        for size in range(len(variant) - 1, 0, -1):
            if text.startswith(variant[-size:]):
                return text[size:]
    return text
