"""The country's county-level divisions, for putting right the head of an address OCR misread.

An address on a licence begins with its province, prefecture and county exactly as the division codes
name them (``浙江省杭州市西湖区``), and that head is where a misread glyph (铺江区 for 锦江区) or glare
that swallowed a few (江苏省南武区 for 江苏省南京市玄武区) does the most harm: the rest of the address
means nothing without it. Unlike the street and the number, the head is one of about three thousand
known strings, so a read close to exactly one of them is that one.

The heads come from the country's division codes (bot/divisions.py).
"""

from __future__ import annotations

import numpy as np
from rapidfuzz.distance import Levenshtein
from rapidfuzz.process import cdist

from bot.divisions import address_heads, head_parts, longest_head

#: A head is put right when it lies at most this share of its characters away from the read (three
#: edits for the usual nine-character head: a glyph or two misread, or a short run lost to glare)...
MAX_EDIT_SHARE = 1 / 3
#: ...and every other head lies at least this many edits further: two heads of one prefecture differ
#: only in their county, and a read halfway between them is left as read.
MIN_MARGIN = 1
#: A head whose glyphs were lost is completed only from a last division read whole and at least this
#: long: a two-glyph name (城区) turns up inside too many other words.
MIN_WHOLE_DIVISION = 3


def repair_address_head(address: str) -> str | None:
    """`address` with its head replaced by the one known head it is close to, or None when its head is
    already a known one, or no head is close enough, or two are equally close."""
    heads = address_heads()
    cuts = list(range(2, min(len(address), longest_head() + 3) + 1))
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
    for above, last in head_parts():
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
