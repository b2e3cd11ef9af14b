"""Labels OCR lost or garbled, found by where the card prints them.

A card prints its labels in a fixed order, left-aligned in columns and rows. A label glare took whole
is placed from the labels on its row and in its column (or between its row's neighbours); a label too
garbled to match is the one short line, sharing some of its glyphs, standing where it should. Either
way its value is then read like any label's (layout.py, cells.py).
"""

from __future__ import annotations

import re
import statistics
from typing import NamedTuple

import numpy as np
from rapidfuzz.distance import LCSseq

from bot.vendors.local.frame import Rect, reads_between, same_row, similar_height
from bot.vendors.local.pages import LabelSpec, PageSpec
from bot.vendors.local.segments import FUZZY_LABEL_LENGTH, FUZZY_LABEL_TRUST, Free, Hit

#: Labels of one column start within this many label heights of each other.
LABEL_COLUMN_SLACK = 0.5
#: A value placed by other values (`cells_placed_by_values`) is looked for this many of its row's
#: heights past its column's start (a four-character name, with room to spare)...
PLACED_VALUE_HEIGHTS = 6.0
#: ...and no nearer than this to the value that ends its row, whose own label stands between them.
ROW_LABEL_HEIGHTS = 3.0
#: The card's table is placed by the values read in it (`cells_placed_by_table`) when their rows lie this
#: close to one even spacing (a share of a row: a two-line address makes its row a third taller, which
#: moves the rows below it by a sixth)...
TABLE_ROW_SLACK = 0.3
#: ...and a row is this many of the values' own heights apart (blur pads a value's box to most of its
#: row; a table whose rows came out flatter than that, or far taller, is not the card's).
TABLE_ROW_HEIGHTS = (0.8, 6.0)
#: A value cell placed by the table reaches this share of a row above and below the row's middle: clear
#: of the neighbouring rows' print, which stands about a third of a row from their own middles (a value
#: on two lines is printed as far from its own, and a taller row keeps it inside).
TABLE_CELL_REACH = 0.45
#: A value with a second column's value on its row ends this share of the way from its own column to that
#: one: the second column's label stands between them, from a little past halfway.
TABLE_SHARED_ROW_END = 0.55
#: With no second column placed, a value is looked for this many of the values' heights along its row,
#: and one that fills its row (an address, a company's name) this many.
TABLE_VALUE_HEIGHTS = 6.0
TABLE_FILLED_ROW_HEIGHTS = 15.0
#: A value is taken to stand in another row than its field's (`misplaced_in_table`) when the table the
#: other values place, at least this many of them, puts it this many rows away from its field's row.
TABLE_MIN_VALUES_LEFT = 3
TABLE_MISPLACED_ROWS = 0.7


def placed_by_neighbours(spec: PageSpec, hits: list[Hit]) -> list[Hit]:
    """Labels glare took whole (no glyph left to match), placed where the card prints them: in the row of
    a label printed on their row and the column of one printed in their column. Their cells are then
    read like any label's whose value detection missed (a ``--`` in a mass cell is too faint for it)."""
    found = {hit.spec.field: hit for hit in hits}
    placed = []
    for order, label in enumerate(spec.labels):
        row, column = found.get(label.same_row or ""), found.get(label.same_column or "")
        if label.field in found or row is None or column is None:
            continue
        # Glyphs as wide as the column label's own (labels print in one size).
        glyph = (column.rect[2] - column.rect[0]) / len(column.spec.variants[0])
        rect = (column.rect[0], row.rect[1], column.rect[0] + glyph * len(label.variants[0]), row.rect[3])
        if rect[0] < row.rect[2] and row.rect[0] < rect[2]:
            continue  # where the row's own label stands: the layout is not the card's
        placed.append(Hit(label, order, rect, 0.0, "", None))
    return placed + _placed_between(spec, found)


def cells_placed_by_values(spec: PageSpec, values: dict[str, Rect], placed: set[str]) -> dict[str, Rect]:
    """Cells of values that detection missed together with their labels, found from other values.

    The 副页 of a driving licence prints its labels small and grey, so in a blurred photo detection
    keeps only the bold values: the ID number (which tells itself) and the file number, but neither
    label, and often not the name. The name is printed in the ID number's value column, on the file
    number's row, so those two say where to look, left of the file number's own label. `values` are
    the rectangles of the values read (page frame); `placed` the fields whose labels were found or
    placed already (their cells are read from there).
    """
    cells: dict[str, Rect] = {}
    for label in spec.labels:
        if label.value_row is None or label.value_column is None:
            continue
        row, column = values.get(label.value_row), values.get(label.value_column)
        if label.field in values or label.field in placed or row is None or column is None:
            continue
        height = row[3] - row[1]
        start = column[0] - 0.3 * height
        end = min(column[0] + PLACED_VALUE_HEIGHTS * height, row[0] - ROW_LABEL_HEIGHTS * height)
        if end - start < 2 * height or row[1] < column[3]:  # not the layout these fields are printed in
            continue
        cells[label.field] = (start, row[1] - 0.35 * height, end, row[3] + 0.35 * height)
    return cells


def cells_placed_by_table(
    spec: PageSpec, values: dict[str, Rect], placed: set[str]
) -> dict[str, tuple[Rect, float]]:
    """Cells of values that detection missed together with their labels, found from the card's table.

    A 行驶证 prints its values in a table of rows of one height, each value left-aligned in its column.
    Blur or a thumbnail can take every small label and leave the bold values; the ones whose format
    tells them (a plate, a VIN, a date, the dimensions) are placed by it, and their rows and columns
    place the table: an even spacing through their rows' middles, and each column's left edge. A value
    still missing then has its cell where its row and column cross, to be read there (cells.py). Values
    that fit no even spacing (a value taken for the wrong field, or a layout not the card's) place
    nothing. `values` are the rectangles of the values read (page frame); `placed` the fields whose
    labels were found or placed already (their cells are read from there). Each cell comes with the
    height of the values' print, the scale of what to expect in it.
    """
    cells_of = _table_cells(spec)
    table = _fit_table(cells_of, values)
    if table is None:
        return {}
    pitch, top, height = table.pitch, table.top, table.height
    anchors = [(cells_of[name], rect) for name, rect in values.items() if name in cells_of]
    columns: dict[int, float] = {}
    for column in {column for (_row, column), _rect in anchors}:
        columns[column] = statistics.median(rect[0] for (_row, of), rect in anchors if of == column)
    shared_rows = {row for row, column in cells_of.values() if column > 0}
    cells: dict[str, tuple[Rect, float]] = {}
    for label in spec.labels:
        if label.cell is None or label.field in values or label.field in placed:
            continue
        row, column = label.cell
        start = columns.get(column)
        if start is None:
            continue
        next_start = columns.get(column + 1)
        if next_start is None:
            end = start + (TABLE_FILLED_ROW_HEIGHTS if label.fills_row else TABLE_VALUE_HEIGHTS) * height
        elif row in shared_rows:
            end = start + TABLE_SHARED_ROW_END * (next_start - start)
        else:  # the row is this value's alone: it may run on past where the second column starts
            end = next_start + (next_start - start)
        middle = top + pitch * row
        reach = TABLE_CELL_REACH * pitch
        cells[label.field] = ((start - 0.3 * height, middle - reach, end, middle + reach), height)
    return cells


def misplaced_in_table(spec: PageSpec, found_at: dict[str, Rect]) -> str | None:
    """The one field found in a row of the card's table other than its own, if any.

    A label misread as another (私定航质量, 核定载质量 misread, matched as 总质量) gives its row and its
    value to the wrong field, a row away from where that field prints. When the fields found (each by
    its value, or by its label, which stands on its value's row: `found_at`, page frame) fit no even
    spacing of rows together, leaving one out may: that one, standing most of a row or more from its
    field's row, was found by the wrong label. Where leaving out either of two does, the one whose
    absence leaves the others the more even spacing is taken.
    """
    cells_of = _table_cells(spec)
    if _fit_table(cells_of, found_at) is not None:
        return None
    suspects: list[tuple[float, str]] = []
    for name in [name for name in found_at if name in cells_of]:
        others = {other: rect for other, rect in found_at.items() if other != name}
        table = _fit_table(cells_of, others, min_values=TABLE_MIN_VALUES_LEFT)
        if table is None:
            continue
        middle = (found_at[name][1] + found_at[name][3]) / 2
        if abs(table.top + table.pitch * cells_of[name][0] - middle) >= TABLE_MISPLACED_ROWS * table.pitch:
            suspects.append((table.spread, name))
    suspects.sort()
    if not suspects or (len(suspects) > 1 and suspects[0][0] == suspects[1][0]):
        return None
    return suspects[0][1]


def _table_cells(spec: PageSpec) -> dict[str, tuple[int, int]]:
    return {label.field: label.cell for label in spec.labels if label.cell is not None}


class TableFit(NamedTuple):
    #: Row spacing and the first row's middle (page frame), and the height of the print that placed them.
    pitch: float
    top: float
    height: float
    #: How far the farthest row found lies from the spacing, as a share of a row.
    spread: float


def _fit_table(
    cells_of: dict[str, tuple[int, int]], found_at: dict[str, Rect], min_values: int = 2
) -> TableFit | None:
    """The even spacing of the table's rows that the fields found fit; None when fewer than
    `min_values` of them on two rows or more place it, or they fit no even spacing of a plausible
    height."""
    anchors = [(cells_of[name][0], rect) for name, rect in found_at.items() if name in cells_of]
    if len(anchors) < min_values or len({row for row, _rect in anchors}) < 2:
        return None
    height = statistics.median(rect[3] - rect[1] for _row, rect in anchors)
    row_numbers = np.array([row for row, _rect in anchors], dtype=float)
    middles = np.array([(rect[1] + rect[3]) / 2 for _row, rect in anchors])
    pitch, top = np.polyfit(row_numbers, middles, 1)
    if not TABLE_ROW_HEIGHTS[0] * height <= pitch <= TABLE_ROW_HEIGHTS[1] * height:
        return None
    spread = float(np.abs(top + pitch * row_numbers - middles).max() / pitch)
    if spread > TABLE_ROW_SLACK:
        return None
    return TableFit(float(pitch), float(top), float(height), spread)


def _placed_between(spec: PageSpec, found: dict[str, Hit]) -> list[Hit]:
    """Labels glare or detection took whole with their values, on a row with no column to place them
    by (性别 between 姓名 and 国籍): their cell runs from the end of the row's earlier label and what was
    read with it to the later label, so the re-read sees the lost label and value together (性别男);
    the field's cleaner keeps the value (a sex is 男 or 女 wherever it stands)."""
    placed = []
    for order, label in enumerate(spec.labels):
        if label.between is None or label.field in found:
            continue
        before, after = found.get(label.between[0]), found.get(label.between[1])
        if before is None or after is None or not same_row(before.rect, after.rect):
            continue
        end = before.inline_rect or before.rect
        rect = (end[2], before.rect[1], end[2], before.rect[3])
        placed.append(Hit(label, order, rect, 0.0, "", None))
    return placed


def labels_by_place(spec: PageSpec, hits: list[Hit], free: list[Free]) -> list[Hit]:
    """Labels too garbled to match (``厕有入`` for 所有人, ``A型号`` for 品牌型号), found by where they stand.

    A card's labels are printed in a fixed order and left-aligned in columns. A short line without
    digits that shares some of a lost label's characters, sits between the labels printed before and
    after it, starts where another row's label starts and has unlabelled text (its value) next on its
    row can only be that label. Exactly one such line is needed; it is taken as a misread label (trusted
    as a fuzzy match is)."""
    found = sorted(hits, key=lambda hit: hit.order)
    if not found:
        return []
    label_height = statistics.median(hit.height for hit in found)
    placed: list[Hit] = []
    for order, label in enumerate(spec.labels):
        if any(hit.order == order for hit in hits):
            continue
        before = [hit for hit in found if hit.order < order]
        after = [hit for hit in found if hit.order > order]
        if not before or not after:
            continue
        candidates = [
            segment
            for segment in free
            if not segment.used
            and similar_height(segment.height, label_height)
            and _could_be_label(segment.text, label)
            and reads_between(segment.rect, before[-1].rect, after[0].rect)
            and any(
                abs(segment.rect[0] - hit.rect[0]) <= LABEL_COLUMN_SLACK * hit.height
                and not same_row(segment.rect, hit.rect)
                for hit in found
            )
            and _value_follows(segment, hits, free)
        ]
        if len(candidates) != 1:
            continue
        segment = candidates[0]
        segment.used = True
        placed.append(
            Hit(label, order, segment.rect, segment.score * FUZZY_LABEL_TRUST, "", None, fuzzy=True)
        )
    return placed


def _could_be_label(text: str, label: LabelSpec) -> bool:
    """Short, no digits, and at least a third of the characters of some variant of three or more in
    order (a two-character label misread in one is matched where a line starts; one sharing a single
    character with a line, such as 国籍 with a nationality 中国, is no evidence)."""
    if re.search(r"\d", text):
        return False
    return any(
        len(variant) >= FUZZY_LABEL_LENGTH
        and len(text) <= len(variant) + 1
        and LCSseq.similarity(text, variant) >= len(variant) / 3
        for variant in label.variants
    )


def _value_follows(segment: Free, hits: list[Hit], free: list[Free]) -> bool:
    """Whether the next box to the right on the segment's row is unlabelled text (its value) rather than
    another label, as it is after every label printed beside its value."""
    right = [
        (other.rect[0], isinstance(other, Free))
        for other in [*hits, *free]
        if other is not segment
        and other.rect[0] > segment.rect[2] - 0.5 * segment.height
        and same_row(other.rect, segment.rect)
    ]
    return bool(right) and min(right)[1]
