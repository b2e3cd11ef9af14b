"""Which licence page a photo shows when it is not the one asked for.

Field staff pick the command and then photograph whatever is at hand: the 副页 for the main page, a
vehicle licence after /driving, a plate after /vehicle. Read as the page asked for, such a photo gave
the few values the pages share (a name, a file number, a plate placed by its format) and "could not
read … retake it", which no retake fixes. The labels tell the pages apart: each page prints some that
the asked-for page does not, and a photo that shows none of the asked-for page's own labels and
several of another page's shows that other page.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from functools import lru_cache

from bot.models import Kind, Side
from bot.vendors.local.line_text import label_text
from bot.vendors.local.ocr import OcrLine
from bot.vendors.local.pages import PAGES
from bot.vendors.local.two_pages import MIN_PAGE_LABELS, exclusive_label_centres

Page = tuple[Kind, Side]


def page_shown_instead(kind: Kind, side: Side, lines: Sequence[OcrLine]) -> Page | None:
    """The page the photo shows instead of the asked-for one, or None when it may well be the asked-for
    page (or no page at all). A page qualifies when the photo holds none of the labels the asked-for
    page prints and it does not, and at least `MIN_PAGE_LABELS` of those it prints and the asked-for
    page does not; of those that qualify, the one with most of its labels in view is taken, and none
    when two tie (a driving licence's 副页 and a vehicle licence's 副页 both print 档案编号)."""
    asked = PAGES.get((kind, side))
    if asked is None or shows_own_title(kind, side, lines):
        return None
    candidates = []
    for page, spec in PAGES.items():
        if page == (kind, side):
            continue
        theirs_not_asked = exclusive_label_centres(asked, spec, lines)
        if not theirs_not_asked[0] and len(theirs_not_asked[1]) >= MIN_PAGE_LABELS:
            candidates.append(page)
    if not candidates:
        return None
    seen = labels_seen(lines)
    best = max(candidates, key=lambda page: seen[page])
    rivals = [seen[page] for page in PAGES if page != best]
    return best if all(count < seen[best] for count in rivals) else None


#: The word each licence's title ends in (中华人民共和国机动车驾驶证); the 副页's title adds 副页.
_TITLE_WORDS: dict[Kind, str] = {"driving": "驾驶证", "vehicle": "行驶证"}


def shows_own_title(kind: Kind, side: Side, lines: Sequence[OcrLine]) -> bool:
    """Whether a line reads as the page's own title: the page is in the photo, whatever else lies beside
    it and however garbled its labels (a vehicle licence next to a driving licence, both thumbnails)."""
    return any(is_own_title(kind, side, line.text) for line in lines)


def is_own_title(kind: Kind, side: Side, text: str) -> bool:
    """Whether `text` reads as the title of this page (中华人民共和国机动车驾驶证副页 for a 副页)."""
    word = _TITLE_WORDS.get(kind)
    cleaned = label_text(text)
    return word is not None and word in cleaned and ("副页" in cleaned) == (side == "back")


def labels_seen(lines: Sequence[OcrLine]) -> dict[Page, int]:
    """How many of each page's labels the lines hold. Longer labels are matched first, so the 记录 of a
    driving licence's 副页 is not found inside a vehicle licence's 检验记录."""
    pattern, pages_of = _label_index()
    seen: dict[Page, set[str]] = {page: set() for page in PAGES}
    for line in lines:
        for match in pattern.finditer(label_text(line.text)):
            for page, field in pages_of[match.group()]:
                seen[page].add(field)
    return {page: len(fields) for page, fields in seen.items()}


@lru_cache(maxsize=1)
def _label_index() -> tuple[re.Pattern[str], dict[str, list[tuple[Page, str]]]]:
    """One pattern for every label variant of every page (longest first), and the pages and fields each
    variant labels."""
    pages_of: dict[str, list[tuple[Page, str]]] = {}
    for page, spec in PAGES.items():
        for label in spec.labels:
            for variant in label.variants:
                pages_of.setdefault(variant, []).append((page, label.field))
    variants = sorted(pages_of, key=len, reverse=True)
    return re.compile("|".join(re.escape(variant) for variant in variants)), pages_of
