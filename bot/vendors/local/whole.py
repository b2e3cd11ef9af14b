"""Whether a field's value has every part its card always prints, so its confidence can say when not.

The recognizer's score is the mean of its glyphs' probabilities, so a value that glare or a clipped box
cut short (``道177号`` for a whole address, ``实习期至2``) scores as high as a whole one: every glyph it
kept is sharp. Each field below has a part no whole value lacks (an address starts with its province and
ends in a unit, a model names its brand before 牌, an inspection stamp ends in its station's code, the
dimensions are three numbers, a plate number follows the plate grammar); a value without it was cut
short or misread, and is trusted less, which is what tells a user to look at the card.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from functools import lru_cache

from bot.divisions import address_heads, head_parts
from bot.vendors.local.places import PROVINCIAL_NAMES
from bot.vendors.local.plates import match_plate
from bot.vendors.local.terms import nationalities
from bot.vendors.local.values import PROBATION

#: A value missing a part its field always prints keeps this share of its confidence: read with every
#: glyph sharp, it lands at 0.5, under the 0.6 at which a reply asks the user to compare a field with
#: the card (handlers/checks.py).
CUT_SHORT_TRUST = 0.5

#: A brand of two Chinese characters or more, then 牌 (``大众汽车牌``, ``丰田牌``), then the model code.
_MODEL_SHAPE = re.compile(r"[\u3400-\u9fff]{2,}牌[0-9A-Z]")


def names_a_model(text: str) -> bool:
    """Whether `text` holds a brand, 牌 and a model code: a whole model, and the shape no other field of
    a vehicle licence prints."""
    return _MODEL_SHAPE.search(text) is not None


#: The stamp's month, then its station's code, which ends in a letter and a number in brackets (``津A(04)``;
#: the province glyph before the letter is the one most often misread, so it is not asked for).
_STAMP_END = re.compile(r"\d{4}年\d{1,2}月.*[A-Z][(（]\d+[)）]$")
#: Length, width and height, in millimetres.
_DIMENSIONS = re.compile(r"\d{3,5}×\d{3,5}×\d{3,5}mm")
#: The probation phrase is followed by a whole date.
_PROBATION_DATE = re.compile(r"\d{4}年\d{1,2}月\d{1,2}日")


def _address_whole(value: str) -> bool:
    """A province first, no number left without its unit at the end (``…3单元80`` lost ``3室``), and more
    than the divisions: a household is registered at a street or a village, never at a district alone
    (``四川省成都市锦江区`` lost ``人民路249号`` to glare)."""
    return value.startswith(PROVINCIAL_NAMES) and not value[-1].isdigit() and value not in _division_names()


@lru_cache(maxsize=1)
def _division_names() -> frozenset[str]:
    """Every province, prefecture and county-level head as an address writes it: all an address
    reduced to its divisions can be."""
    return frozenset(above for above, _last in head_parts()) | frozenset(address_heads())


def _plate_whole(value: str) -> bool:
    """A number the plate grammar reads: one it rejects (``辽江AFH1171``) holds a misread glyph."""
    return match_plate(value) is not None


def _record_whole(value: str) -> bool:
    if not value.startswith(PROBATION):
        return True  # other records (a note, a stamp) have no one shape
    return _PROBATION_DATE.match(value, len(PROBATION)) is not None


WHOLE: dict[str, Callable[[str], bool]] = {
    "address": _address_whole,
    "name": lambda value: len(value) >= 2,
    "nationality": lambda value: value in nationalities(),
    "model": names_a_model,
    "inspection_record": lambda value: _STAMP_END.search(value) is not None,
    "dimensions": lambda value: _DIMENSIONS.fullmatch(value) is not None,
    "record": _record_whole,
    "plate_number": _plate_whole,
    # Every term of either list has two characters or more; one left alone (非 of 非营运) was cut short.
    "use_character": lambda value: len(value) >= 2,
    "vehicle_type": lambda value: len(value) >= 2,
}


def looks_whole(field_name: str, value: str) -> bool:
    """Whether `value` has every part `field_name` always prints (True for fields with no such part)."""
    check = WHOLE.get(field_name)
    return check is None or check(value)
