"""A line split at the labels it holds: the labels found (`Hit`) and the text between them (`Free`).

Labels are matched exactly, then with one glyph misread (long labels anywhere, two-glyph labels only
where a line starts), and a short label found inside a longer one it ends is taken as the longer one.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from bot.vendors.local.frame import Frame, Rect
from bot.vendors.local.line_text import LineText
from bot.vendors.local.ocr import OcrLine
from bot.vendors.local.pages import LabelSpec, PageSpec


@dataclass
class Free:
    """Unlabelled text: a value waiting for its label."""

    text: str
    score: float
    rect: Rect
    used: bool = False

    @property
    def height(self) -> float:
        return self.rect[3] - self.rect[1]


@dataclass
class Hit:
    """A label found in a line, with whatever followed it in that same line."""

    spec: LabelSpec
    order: int
    rect: Rect
    score: float
    inline: str
    inline_rect: Rect | None
    #: Matched with one character misread.
    fuzzy: bool = False

    @property
    def height(self) -> float:
        return self.rect[3] - self.rect[1]


#: Labels at least this long are also found with one character misread (``发证自期``, ``车辆训制代号``).
FUZZY_LABEL_LENGTH = 3
#: A label found with a misread character is trusted this much less when the label appears twice.
FUZZY_LABEL_TRUST = 0.9
#: Glyphs a longer label may have misread when a shorter label it ends with was found inside it.
LONGER_LABEL_MISREADS = 2
_CJK_CHAR = "[\u3400-\u9fff]"


def label_pattern(spec: PageSpec) -> re.Pattern[str]:
    """Every variant exactly, longest first, then (for long labels) with any one Chinese character
    standing in for one of its own: small or blurred print loses single strokes of a label."""
    variants = sorted({variant for label in spec.labels for variant in label.variants}, key=len, reverse=True)
    exact = [re.escape(variant) for variant in variants]
    fuzzy = [
        re.escape(variant[:index]) + _CJK_CHAR + re.escape(variant[index + 1 :])
        for variant in variants
        if len(variant) >= FUZZY_LABEL_LENGTH
        for index in range(len(variant))
    ]
    return re.compile("|".join(exact + fuzzy))


def _line_start_pattern(spec: PageSpec) -> re.Pattern[str]:
    """Only where a line starts, where a label is expected (anywhere inside a value such short runs of
    characters are too common to trust): two-character labels (国籍, 性别) with one character misread,
    and labels of four or more with one character lost (牌型号: glare took the 品 of 品牌型号)."""
    variants = {variant for label in spec.labels for variant in label.variants}
    short = sorted(variant for variant in variants if len(variant) == 2)
    fuzzy = [f"{_CJK_CHAR}{re.escape(variant[1])}|{re.escape(variant[0])}{_CJK_CHAR}" for variant in short]
    shortened = {
        variant[:index] + variant[index + 1 :]
        for variant in variants
        if len(variant) >= 4
        for index in range(len(variant))
    }
    fuzzy += [re.escape(variant) for variant in sorted(shortened - variants, key=len, reverse=True)]
    return re.compile("^(?:" + "|".join(fuzzy) + ")") if fuzzy else re.compile("(?!)")


def label_index(spec: PageSpec, found: str) -> tuple[int, bool]:
    """Which label `found` is (its position in the page's order) and whether it was matched fuzzily."""
    for index, label in enumerate(spec.labels):
        if found in label.variants:
            return index, False
    for index, label in enumerate(spec.labels):
        for variant in label.variants:
            if len(variant) == len(found) and _misread_count(found, variant) <= 1:
                return index, True
    for index, label in enumerate(spec.labels):
        for variant in label.variants:
            if len(variant) == len(found) + 1 and any(
                variant[:cut] + variant[cut + 1 :] == found for cut in range(len(variant))
            ):
                return index, True
    raise KeyError(found)


def sub_rect(rect: Rect, fraction: tuple[float, float]) -> Rect:
    x0, y0, x1, y1 = rect
    width = x1 - x0
    return (x0 + width * fraction[0], y0, x0 + width * fraction[1], y1)


@dataclass(frozen=True)
class LabelSpan:
    """Where in a line's characters a label was found, which label, and whether matched fuzzily."""

    start: int
    end: int
    order: int
    fuzzy: bool


def split_line(
    line: OcrLine, frame: Frame, spec: PageSpec, pattern: re.Pattern[str]
) -> tuple[list[Hit], list[Free]]:
    text = LineText.of(line.text)
    rect = frame.forward(line.points)
    matches: list[re.Match[str]] = list(pattern.finditer(text.chars))
    if not matches or matches[0].start() > 0:
        start = _line_start_pattern(spec).match(text.chars)
        if start is not None and (not matches or start.end() <= matches[0].start()):
            matches.insert(0, start)
    spans = _widened_to_longer_labels(
        [LabelSpan(match.start(), match.end(), *label_index(spec, match.group())) for match in matches],
        text.chars,
        spec,
    )
    hits: list[Hit] = []
    free: list[Free] = []
    head_end = spans[0].start if spans else len(text.chars)
    if head_end > 0:
        free.append(Free(text.chars[:head_end], line.score, sub_rect(rect, text.fraction(0, head_end))))
    for position, span in enumerate(spans):
        value_end = spans[position + 1].start if position + 1 < len(spans) else len(text.chars)
        inline = text.chars[span.end : value_end]
        inline_rect = sub_rect(rect, text.fraction(span.end, value_end)) if inline else None
        label_rect = sub_rect(rect, text.fraction(span.start, span.end))
        score = line.score * (FUZZY_LABEL_TRUST if span.fuzzy else 1.0)
        label = spec.labels[span.order]
        hits.append(Hit(label, span.order, label_rect, score, inline, inline_rect, span.fuzzy))
    return hits, free


def _widened_to_longer_labels(spans: list[LabelSpan], chars: str, spec: PageSpec) -> list[LabelSpan]:
    """A label that ends a longer one (总质量, the end of 准牵引总质量) matches inside that longer label
    when two of its glyphs were misread (准幸们总质量): the characters before it that, read as the
    longer label, are at most two glyphs off make it the longer label."""
    widened: list[LabelSpan] = []
    for span in spans:
        found = chars[span.start : span.end]
        previous_end = widened[-1].end if widened else 0
        for order, label in enumerate(spec.labels):
            longer = [
                variant
                for variant in label.variants
                if order != span.order
                and len(variant) > len(found)
                and any(variant.endswith(own) for own in spec.labels[span.order].variants)
                and span.end - len(variant) >= previous_end
                and _misread_count(chars[span.end - len(variant) : span.end], variant)
                <= LONGER_LABEL_MISREADS
            ]
            if longer:
                span = LabelSpan(span.end - len(longer[0]), span.end, order, True)
                break
        widened.append(span)
    return widened


def _misread_count(text: str, variant: str) -> int:
    return sum(a != b for a, b in zip(text, variant, strict=True))
