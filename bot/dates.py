"""Dates as the OCR vendors print them on Chinese licences, parsed into `datetime.date`.

This lives in bot/ (not handlers/) because the vendor adapters and the embedded OCR engine normalize dates
while building the models, and bot/ may not import handlers/. Every function here is pure.

Vendors disagree on the format of the same field: ``2014-12-25`` (Tencent, Face++ v1), ``20141225`` (Baidu,
Face++ v2), ``2014.12.25``, ``2014年12月25日`` (the card itself), ``{year, month, day}`` (FaceID v2), ranges
``A至B`` / ``A-B`` (Alibaba, Face++ ``valid_date``) and old-style periods ``6年`` / ``长期``. OCR adds
full-width digits, stray spaces and unpadded months. Anything we cannot read as a real calendar date is
``None`` rather than a guess, because a wrong date would produce a wrong expiry warning.
"""

from __future__ import annotations

import calendar
import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

#: Years outside this range are OCR noise on a licence (``0014``, ``9014``), not dates.
MIN_YEAR = 1800
MAX_YEAR = 2999

LONG_TERM_WORDS = ("长期", "長期")

_SEP_YM = r"(?:\s*[-./年]\s*|\s+)"
_SEP_MD = r"(?:\s*[-./月]\s*|\s+)"
_DATE_SHAPE = re.compile(
    rf"(?<!\d)(?P<y>\d{{4}}){_SEP_YM}(?P<m>\d{{1,2}}){_SEP_MD}(?P<d>\d{{1,2}})(?!\d)(?:\s*日)?"
    r"|(?<!\d)(?P<y8>\d{4})(?P<m8>\d{2})(?P<d8>\d{2})(?!\d)"
)
_TRAILING_TIME = re.compile(r"(?:[T\s]+)\d{1,2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}:?\d{2})?$")
_RANGE_SEPARATORS = ("至", "到", "-", "~", "—", "–", "/")
_YEARS = re.compile(r"(?<!\d)(?P<n>\d{1,2}|[一二两三四五六七八九十])\s*年")
_CHINESE_NUMERALS = dict(zip("一二三四五六七八九十", range(1, 11), strict=True)) | {"两": 2}
_YEAR_MONTH = re.compile(r"(?<!\d)(?P<y>\d{4})\s*[-./年]\s*(?P<m>\d{1,2})(?!\d)")


@dataclass(frozen=True)
class Validity:
    """A licence's period of validity; `long_term` (长期) means there is no end date at all."""

    valid_from: date | None
    valid_to: date | None
    long_term: bool = False
    #: The period as printed in years (``6年``) when the card gave a length instead of an end date.
    years: int | None = None


def normalize_text(text: str) -> str:
    """NFKC folds full-width digits and punctuation (``２０１４－１２``) to ASCII, which OCR often emits."""
    return unicodedata.normalize("NFKC", text).strip()


def make_date(year: int, month: int, day: int) -> date | None:
    """A real calendar date or None: ``2014-02-30`` is an OCR error, not 2014-03-02."""
    if not MIN_YEAR <= year <= MAX_YEAR:
        return None
    try:
        return date(year, month, day)
    except ValueError:
        return None


def parse_date(text: str | Mapping[str, Any] | date | None) -> date | None:
    """One date in any vendor format; None for empty, partial (``2014-12``) or impossible dates."""
    if text is None:
        return None
    if isinstance(text, date):
        return text
    if isinstance(text, Mapping):
        return _parse_date_parts(text)
    cleaned = _TRAILING_TIME.sub("", normalize_text(str(text)))
    match = _DATE_SHAPE.fullmatch(cleaned)
    return _date_from_match(match) if match else None


def find_dates(text: str | None) -> list[date]:
    """Every real date in free text (a record line, a range), in the order printed."""
    if not text:
        return []
    found = (_date_from_match(match) for match in _DATE_SHAPE.finditer(normalize_text(text)))
    return [day for day in found if day is not None]


def add_years(start: date, years: int) -> date:
    """`start` moved by whole years; Feb 29 lands on Feb 28, the last day that exists in that year."""
    try:
        return start.replace(year=start.year + years)
    except ValueError:
        return start.replace(year=start.year + years, day=28)


def period_end(start: date, months: int) -> date:
    """The last day of a period of `months` calendar months that begins on `start` (the day before the
    same day `months` later: 12 months from 2024-01-10 end 2025-01-09). Where the later month lacks
    that day (12 months from 29 February) the period runs to that month's end."""
    year, month = divmod(start.month - 1 + months, 12)
    year, month = start.year + year, month + 1
    last = calendar.monthrange(year, month)[1]
    if start.day > last:
        return date(year, month, last)
    return date(year, month, start.day) - timedelta(days=1)


def end_of_month(year: int, month: int) -> date | None:
    """Last day of the month: an inspection stamped ``2014年09月`` is valid through 2014-09-30."""
    if not 1 <= month <= 12:
        return None
    return make_date(year, month, calendar.monthrange(year, month)[1])


def parse_validity(text: str | None, valid_from: date | None = None) -> Validity:
    """Read a validity field: ``A至B`` / ``A-B``, ``6年`` counted from `valid_from`, ``长期``, or one date.

    A single date means the end of validity, because vendors that split the range put the end date in its
    own field; `valid_from` comes from the separate start-date field. An unreadable end stays None.
    """
    if not text or not text.strip():
        return Validity(valid_from, None)
    normalized = normalize_text(text)
    long_term = any(word in normalized for word in LONG_TERM_WORDS)
    shapes = list(_DATE_SHAPE.finditer(normalized))
    if len(shapes) >= 2:
        return Validity(_date_from_match(shapes[0]), _date_from_match(shapes[-1]))
    remainder = normalized
    if len(shapes) == 1:
        shape = shapes[0]
        after = normalized[shape.end() :].strip()
        # ``2014-12-25 6年`` (the old card's start and term run together) starts on its date.
        if not (long_term or after.startswith(_RANGE_SEPARATORS) or _parse_years(after) is not None):
            return Validity(valid_from, _date_from_match(shape))
        valid_from = _date_from_match(shape)
        remainder = after
    if long_term:
        return Validity(valid_from, None, long_term=True)
    years = _parse_years(remainder)
    if years is None:
        return Validity(valid_from, None)
    valid_to = add_years(valid_from, years) if valid_from is not None else None
    return Validity(valid_from, valid_to, years=years)


def parse_inspection_until(record: str | None) -> date | None:
    """Last day the vehicle inspection is valid, from a record like ``检验有效期至2014年09月云A(01)``.

    The stamp gives a month, and the inspection is valid through the end of it. A 副页 accumulates
    stamps over the years, so the latest one is the one in force.
    """
    if not record:
        return None
    normalized = normalize_text(record)
    months = (end_of_month(int(match["y"]), int(match["m"])) for match in _YEAR_MONTH.finditer(normalized))
    valid = [day for day in months if day is not None]
    return max(valid) if valid else None


def _date_from_match(match: re.Match[str]) -> date | None:
    if match["y"] is not None:
        return make_date(int(match["y"]), int(match["m"]), int(match["d"]))
    return make_date(int(match["y8"]), int(match["m8"]), int(match["d8"]))


def _parse_date_parts(parts: Mapping[str, Any]) -> date | None:
    """FaceID's ``{"year": "2014", "month": "12", "day": "25"}`` (strings or numbers)."""
    try:
        year, month, day = (int(normalize_text(str(parts[key]))) for key in ("year", "month", "day"))
    except (KeyError, TypeError, ValueError):
        return None
    return make_date(year, month, day)


def _parse_years(text: str) -> int | None:
    match = _YEARS.search(text)
    if match is None:
        return None
    count = match["n"]
    years = int(count) if count.isdigit() else _CHINESE_NUMERALS[count]
    return years if years > 0 else None
