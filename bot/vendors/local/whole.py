"""Whether a field's value has every part its card always prints, so its confidence can say when not.

The recognizer's score is the mean of its glyphs' probabilities, so a value that glare or a clipped box
cut short (``道177号`` for a whole address, ``实习期至2``) scores as high as a whole one: every glyph it
kept is sharp. Each field below has a part no whole value lacks (an address starts with its province, a
model names its brand before 牌, an inspection stamp ends in its station's code); a value without it was
cut short or misread, and is trusted less, which is what tells a user to look at the card.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from bot.vendors.local.places import PROVINCIAL_NAMES
from bot.vendors.local.terms import nationalities

#: A value missing a part its field always prints is trusted this much: below what any whole read of
#: the development sets scored that was wrong only in its glyphs (the confident misreads sit at 0.8-1).
CUT_SHORT_TRUST = 0.5

#: A brand of two Chinese characters or more, then 牌 (``大众汽车牌``, ``丰田牌``), then the model code.
_MODEL = re.compile(r"[\u3400-\u9fff]{2,}牌[0-9A-Z]")
#: The stamp's month, then its station's code: a province, a letter and a number in brackets.
_STAMP_END = re.compile(r"\d{4}年\d{1,2}月.*[A-Z][(（]\d+[)）]$")
#: The probation phrase is followed by a whole date.
_PROBATION = "实习期至"
_PROBATION_DATE = re.compile(r"\d{4}年\d{1,2}月\d{1,2}日")


def _record_whole(value: str) -> bool:
    if not value.startswith(_PROBATION):
        return True  # other records (a note, a stamp) have no one shape
    return _PROBATION_DATE.match(value, len(_PROBATION)) is not None


WHOLE: dict[str, Callable[[str], bool]] = {
    "address": lambda value: value.startswith(PROVINCIAL_NAMES),
    "name": lambda value: len(value) >= 2,
    "nationality": lambda value: value in nationalities(),
    "model": lambda value: _MODEL.search(value) is not None,
    "inspection_record": lambda value: _STAMP_END.search(value) is not None,
    "record": _record_whole,
}


def looks_whole(field_name: str, value: str) -> bool:
    """Whether `value` has every part `field_name` always prints (True for fields with no such part)."""
    check = WHOLE.get(field_name)
    return check is None or check(value)
