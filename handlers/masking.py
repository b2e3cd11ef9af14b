"""Masking of personal data, for replies in group chats and for the session log (store_fields="masked").

A masked value must still be useful to the people who see it: staff in a group chat compare the visible
ends of an ID number with the card in their hand, so maskers keep a recognisable part (the region code
and the last digits, the family name, the district) and hide the rest with one ``*`` per hidden
character, so the shape of the value stays visible too.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from functools import lru_cache
from typing import Any

from bot.divisions import address_heads, longest_head
from bot.models import Document

MASK_CHAR = "*"
#: Appended to a shortened address: the street part is dropped, not just starred, so its length leaks nothing.
ADDRESS_ELLIPSIS = "***"

ID_HEAD = 6  # region code of a resident ID number
ID_TAIL = 4  # last 3 sequence digits + check digit
#: A 15-digit number (before 1999) keeps its region and its last 3 digits: its birth date is YYMMDD at
#: positions 7-12, so a fourth kept digit would show the day's last one.
OLD_ID_TAIL = 3
NUMBER_TAIL = 4
#: Characters that carry nothing personal and keep a foreign or minority name readable as a name.
_NAME_SEPARATORS = frozenset(" ·•.-")

# One administrative unit name: no street-level words and no digits, so a street never passes for one.
_UNIT = r"[^省市区县旗路街道号村镇乡巷弄栋室\d]"
_PROVINCE = rf"(?:{_UNIT}{{2,8}}?(?:省|自治区|特别行政区))?"
_CITY = rf"{_UNIT}{{1,10}}?(?:市|自治州|地区|盟)"
# 小区, 社区, 园区 … are housing estates and campuses, not districts.
_DISTRICT_END = r"(?<![小社园校景厂营])(?:区|县|旗)"
# For an address whose head is not written as the division codes name it (no province, an older name):
# a district or county name is at most four characters long (浦东新区, 土默特左旗); a longer run before
# 区 is a housing estate's block (金色家园西区), which must not pass for one.
_DISTRICT_PATTERNS = (
    # 省 + 市 + 区/县/旗, or a county-level city (苏州市昆山市); also 北京市朝阳区.
    re.compile(rf"^{_PROVINCE}{_CITY}(?:{_UNIT}|市){{1,4}}?(?:{_DISTRICT_END}|市)"),
    # A county directly under a province (河北省正定县) or an address that starts at the district.
    re.compile(rf"^{_PROVINCE}(?:{_UNIT}|市){{1,4}}?{_DISTRICT_END}"),
    # A county-level city with no district below it (江苏省昆山市玉山镇): the city is the district level.
    re.compile(rf"^{_PROVINCE}{_CITY}"),
)


#: An 18-character resident ID: 17 digits and a check character (GB 11643).
_RESIDENT_ID = re.compile(r"[0-9]{17}[0-9Xx]")


def mask_id(number: str) -> str:
    """A resident ID number keeps its region code (first 6) and its last 4 (3 of an old 15-digit one);
    any other number (a passport, a permit) keeps only its last 4, never more than half of it.
    Spaces OCR read inside are dropped first, so a star never stands for one."""
    compact = "".join(number.split())
    if _RESIDENT_ID.fullmatch(compact):
        return compact[:ID_HEAD] + MASK_CHAR * 8 + compact[-ID_TAIL:]
    if len(compact) == 15 and compact.isdigit():
        return compact[:ID_HEAD] + MASK_CHAR * 6 + compact[-OLD_ID_TAIL:]
    return mask_number(compact)


def mask_number(value: str) -> str:
    """Last 4 characters kept (enough to tell two records apart), never more than half of the value."""
    keep = min(NUMBER_TAIL, len(value) // 2)
    return MASK_CHAR * (len(value) - keep) + (value[len(value) - keep :] if keep else "")


def mask_name(name: str) -> str:
    """First character (usually the family name) kept, one star per remaining letter."""
    if not name:
        return name
    rest = "".join(ch if ch in _NAME_SEPARATORS else MASK_CHAR for ch in name[1:])
    return name[0] + rest


def mask_address(address: str) -> str:
    """Address cut after its county-level division (…省…市…区, or 广东省东莞市 where the city has no
    districts), the rest replaced by ``***``.

    The head is looked up among the country's divisions first (bot/divisions.py), then recognised by
    its shape; an address with neither (a foreign one, a read too garbled) keeps nothing of its own.
    """
    if not address:
        return address
    head = _division_head(address)
    if head is not None:
        return head + ADDRESS_ELLIPSIS
    for pattern in _DISTRICT_PATTERNS:
        match = pattern.match(address)
        if match and len(match.group(0)) < len(address):
            return match.group(0) + ADDRESS_ELLIPSIS
    return ADDRESS_ELLIPSIS


def _division_head(address: str) -> str | None:
    """The longest county-level head of the division codes that `address` starts with."""
    heads = _heads()
    for length in range(min(len(address) - 1, longest_head()), 1, -1):
        if address[:length] in heads:
            return address[:length]
    return None


@lru_cache(maxsize=1)
def _heads() -> frozenset[str]:
    return frozenset(address_heads())


def mask_birth_date(value: str) -> str:
    """Year only: enough to judge age roughly, not enough to identify someone."""
    return value[:4]


def _masker_for(document: Document, field: str) -> Callable[[str], str]:
    if field == "number" and document.kind == "driving":
        return mask_id  # the driving licence number is the holder's resident ID number
    if field in ("name", "owner"):
        return mask_name
    if field == "address":
        return mask_address
    if field == "birth_date":
        return mask_birth_date
    # file_number and any personal field added later: the safe default hides all but the tail.
    return mask_number


def mask_document(document: Document) -> dict[str, Any]:
    """The document's JSON-ready values (as `Document.values()`) with its personal fields masked."""
    values = document.values()
    for field in document.personal_fields:
        key = value_key(document, field)
        value = values.get(key)
        if value is None or value == "":
            continue
        values[key] = _masker_for(document, field)(str(value))
    return values


def value_key(document: Document, field: str) -> str:
    """`values()` is keyed by alias (``class``), `personal_fields` by attribute name (``class_``)."""
    info = type(document).model_fields.get(field)
    return info.alias if info is not None and info.alias else field
