"""A parsed page turned into the normalized document, with the repairs only the whole page allows.

Some repairs need more than one field, or a field once it is whole: an inspection stamp's province is
checked against the plate, an address's head against the country's divisions once its row is joined,
and a value missing a part its field always prints keeps a lower confidence. The validity printed as a
range (new cards) or as a start and a number of years (old ones) becomes its start and end dates.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import date

from bot.dates import parse_validity
from bot.models import DOCUMENT_MODELS, Box, Document, FieldMeta
from bot.plate_grammar import PROVINCES
from bot.vendors.local.divisions import repair_address_head
from bot.vendors.local.frame import Rect
from bot.vendors.local.layout import FieldValue, PageRead
from bot.vendors.local.values import REPAIR_PENALTY
from bot.vendors.local.whole import CUT_SHORT_TRUST, looks_whole


def build_document(read: PageRead, authority: FieldValue | None = None) -> Document:
    """The normalized model of the page, with a FieldMeta (confidence, box) for every field read."""
    fields = _address_head_repaired(_stamp_agrees_with_plate(dict(read.fields)))
    fields = {name: _distrusted_if_cut_short(name, value) for name, value in fields.items()}
    if authority is not None and read.spec.has_seal and "issuing_authority" not in fields:
        fields["issuing_authority"] = authority
    values: dict[str, object] = {}
    meta: dict[str, FieldMeta] = {}

    def put(name: str, value: object, source: FieldValue) -> None:
        values[name] = value
        meta[name] = FieldMeta(confidence=source.confidence, box=_box(source.rect))

    for name, read_value in fields.items():
        if name in ("valid_period", "valid_from"):
            continue
        if name in ("birth_date", "first_issue_date", "register_date", "issue_date"):
            put(name, date.fromisoformat(read_value.value), read_value)
        else:
            put(name, read_value.value, read_value)
    if read.spec.kind == "driving" and read.spec.side == "front":
        _put_validity(fields, put)
    model = DOCUMENT_MODELS[(read.spec.kind, read.spec.side)]
    return model.model_validate({**values, "meta": meta})


_STAMP_PLATE = re.compile(r"(.)([A-Z])(?=\(\d+\)$)")


def _stamp_agrees_with_plate(fields: dict[str, FieldValue]) -> dict[str, FieldValue]:
    """An inspection stamp ends with the plate's province and letter (``渝A(05)``). A stamp character that
    is no province at all, before the plate's own letter, can only be the plate's province misread."""
    record, plate = fields.get("inspection_record"), fields.get("plate_number")
    if record is None or plate is None or len(plate.value) < 2:
        return fields
    match = _STAMP_PLATE.search(record.value)
    if match is None or match.group(1) in PROVINCES or match.group(2) != plate.value[1]:
        return fields
    if plate.value[0] not in PROVINCES:
        return fields
    value = record.value[: match.start(1)] + plate.value[0] + record.value[match.start(1) + 1 :]
    fields["inspection_record"] = FieldValue(value, round(record.confidence * REPAIR_PENALTY, 4), record.rect)
    return fields


def _address_head_repaired(fields: dict[str, FieldValue]) -> dict[str, FieldValue]:
    """The address with its province, prefecture and county put right (`divisions.repair_address_head`),
    once the whole of it is assembled: glare that splits a row into two boxes also swallows the glyphs
    between them (江苏省南 | 武区…), and only the joined text shows which head it was."""
    address = fields.get("address")
    repaired = repair_address_head(address.value) if address is not None else None
    if address is None or repaired is None:
        return fields
    fields["address"] = FieldValue(repaired, round(address.confidence * REPAIR_PENALTY, 4), address.rect)
    return fields


def _distrusted_if_cut_short(name: str, value: FieldValue) -> FieldValue:
    """A value missing a part its field always prints (`whole.looks_whole`) keeps a lower confidence."""
    if looks_whole(name, value.value):
        return value
    return FieldValue(value.value, round(value.confidence * CUT_SHORT_TRUST, 4), value.rect)


def _put_validity(fields: dict[str, FieldValue], put: Callable[[str, object, FieldValue], None]) -> None:
    """New cards print ``A 至 B``; old ones print 有效起始日期 A and 有效期限 ``6年`` (or 长期)."""
    start = fields.get("valid_from")
    period = fields.get("valid_period")
    start_day = date.fromisoformat(start.value) if start else None
    if period is None:
        if start is not None and start_day is not None:
            put("valid_from", start_day, start)
        return
    validity = parse_validity(period.value, start_day)
    if validity.valid_from is not None:
        put(
            "valid_from", validity.valid_from, start if start and validity.valid_from == start_day else period
        )
    if validity.valid_to is not None:
        put("valid_to", validity.valid_to, period)
    if validity.long_term:
        put("long_term", True, period)


def _box(rect: Rect | None) -> Box | None:
    if rect is None:
        return None
    x0, y0, x1, y1 = rect
    return Box(x=round(x0), y=round(y0), width=max(round(x1 - x0), 1), height=max(round(y1 - y0), 1))
