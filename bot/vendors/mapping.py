"""Vendor answer -> normalized page, driven by one table per vendor and page.

Every cloud adapter fills the same pages from differently named keys (the field-mapping tables of the
vendor reference). Each adapter keeps its table, ``{normalized field: vendor key}``, so that it reads as
that vendor's column, plus a `FieldReader` that knows how its vendor wraps a value (a plain value, a
``{"words": …}`` entry, an item with confidence and box). The rules that are the same for every vendor
live here once, so that no adapter can drift from the others:

- a date-typed field of the page goes through `parse_date`; ``plate_number`` through `normalize_plate`;
- a driving licence's validity is read from its start and end fields by `read_validity`;
- the vehicle 副页's ``inspection_valid_until`` is derived from its inspection record.

Anything else a vendor does differently stays as code in its adapter, next to its table.
"""

from __future__ import annotations

import functools
import typing
from collections.abc import Mapping
from datetime import date
from typing import Any, TypeVar

from bot.dates import parse_date, parse_inspection_until, parse_validity
from bot.models import Box, Document, FieldMeta
from bot.plate_grammar import normalize_plate

__all__ = [
    "FieldReader",
    "FieldTable",
    "FlatFields",
    "Keys",
    "clamp_unit",
    "plain_text",
    "plate_number",
    "read_page",
    "read_validity",
    "rect_box",
    "scaled_box",
]

PageT = TypeVar("PageT", bound=Document)

#: A vendor key, or several tried in order (a vendor that renamed a key, or a page with a fallback).
Keys = str | tuple[str, ...]
#: normalized field name -> the vendor's key(s) for it.
FieldTable = Mapping[str, Keys]

#: Fields holding a plate number, which every vendor spells its own way (``京A·12345``, ``京 a 12345``).
PLATE_FIELDS = frozenset({"plate_number"})


def plain_text(value: Any) -> str | None:
    """A scalar answer value as stripped text; None and blank both mean "not read"."""
    if value is None:
        return None
    text = str(value).strip()
    return text or None


def plate_number(text: str | None) -> str | None:
    return normalize_plate(text) if text else None


def clamp_unit(score: float) -> float:
    """A confidence forced into 0..1: vendors occasionally overshoot their own documented range."""
    return min(1.0, max(0.0, score))


def scaled_box(left: float, top: float, right: float, bottom: float, scale: float) -> Box:
    """Edges in the sent (possibly shrunk) image's pixels, as a box in the pixels of the photo the user
    sent. A missing scale counts as 1, so a vendor answer never divides by zero."""
    scale = scale if scale > 0 else 1.0
    x0, y0, x1, y1 = (round(value / scale) for value in (left, top, right, bottom))
    return Box(x=x0, y=y0, width=x1 - x0, height=y1 - y0)


def rect_box(rect: Any, names: tuple[str, str, str, str], scale: float) -> Box | None:
    """A ``{x, y, width, height}`` rectangle under the vendor's `names` for those four, or None when the
    answer holds something else."""
    if not isinstance(rect, Mapping):
        return None
    try:
        x, y, width, height = (float(rect[name]) for name in names)
    except (KeyError, TypeError, ValueError):
        return None
    return scaled_box(x, y, x + width, y + height, scale)


class FieldReader:
    """How one vendor wraps a field's value. `text` returns the first of `keys` holding a value and may
    record that field's confidence and box in `meta` under the normalized name `field`."""

    def __init__(self) -> None:
        self.meta: dict[str, FieldMeta] = {}

    def text(self, field: str, *keys: str) -> str | None:
        raise NotImplementedError

    def date(self, field: str, *keys: str) -> date | None:
        return parse_date(self.text(field, *keys))

    def plate(self, field: str, *keys: str) -> str | None:
        return plate_number(self.text(field, *keys))


class FlatFields(FieldReader):
    """Plain values at the top of an answer object, with neither confidence nor box (Tencent 3.0, Huawei).

    `scalars_only` makes a nested object or list under a field's key count as "not read" rather than
    being turned into text, for vendors that nest a page's sides under keys a field might share.
    """

    def __init__(self, source: Mapping[str, Any], *, scalars_only: bool = False) -> None:
        super().__init__()
        self._source = source
        self._scalars_only = scalars_only

    def text(self, field: str, *keys: str) -> str | None:
        for key in keys:
            value = self._source.get(key)
            if self._scalars_only and isinstance(value, Mapping | list):
                continue
            text = plain_text(value)
            if text:
                return text
        return None


def _names(keys: Keys) -> tuple[str, ...]:
    return (keys,) if isinstance(keys, str) else keys


@functools.cache
def _date_fields(model: type[Document]) -> frozenset[str]:
    return frozenset(
        name for name, info in model.model_fields.items() if date in typing.get_args(info.annotation)
    )


def read_page(model: type[PageT], table: FieldTable, reader: FieldReader, **special: Any) -> PageT:
    """The page `model` with every field of `table` read through `reader`; `special` holds the fields
    the adapter computes itself (a validity, a vendor's quirk) and wins over the table."""
    dates = _date_fields(model)
    values: dict[str, Any] = {}
    for field, keys in table.items():
        if field in dates:
            values[field] = reader.date(field, *_names(keys))
        elif field in PLATE_FIELDS:
            values[field] = reader.plate(field, *_names(keys))
        else:
            values[field] = reader.text(field, *_names(keys))
    if "inspection_valid_until" in model.model_fields and "inspection_record" in values:
        # The stamp gives a month; the inspection is valid through the end of the latest one.
        values["inspection_valid_until"] = parse_inspection_until(values["inspection_record"])
    values.update(special)
    return model(**values, meta=reader.meta)


def read_validity(reader: FieldReader, *, start: Keys, end: Keys) -> dict[str, Any]:
    """``valid_from``, ``valid_to`` and ``long_term`` of a 驾驶证 main page, for `read_page`.

    The end field may hold the whole range, a length in years counted from the start field ("6年"),
    长期, or just the end date; the start field serves whenever the end field gives no readable start.
    """
    valid_from = reader.date("valid_from", *_names(start))
    validity = parse_validity(reader.text("valid_to", *_names(end)), valid_from)
    return {
        "valid_from": validity.valid_from or valid_from,
        "valid_to": validity.valid_to,
        "long_term": validity.long_term,
    }
