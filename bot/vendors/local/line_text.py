"""A recognized line's text as the layout parser matches labels in it, and where each glyph lies.

OCR reads a label with its English sub-label (``姓名 Name``) and often with its value in one line; the
sub-label is dropped before labels are matched, and each kept character remembers its share of the
line's width, so the part of a line that holds a label or a value can be cut out of the line's box.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

_ASCII_WORD = re.compile(r"[A-Za-z][A-Za-z'’]*\.?")
_UNITS = frozenset({"kg", "mm", "t", "cm", "m"})
_VIN_LABEL = re.compile(r"(?<![A-Za-z0-9])VIN(?![A-Za-z0-9])")
#: The last word of each English sub-label the licences print (Name, Date of Birth, Plate No., Model…).
_SUB_LABEL_ENDINGS = (
    "name",
    "sex",
    "nationality",
    "address",
    "birth",
    "issue",
    "class",
    "period",
    "no",
    "type",
    "owner",
    "character",
    "model",
    "date",
)
#: Capitals ending a word after its lower-case letters.
_JOINED_CAPITALS = re.compile(r"(?<=[a-z])[A-Z]+$")


def _char_width(char: str) -> float:
    """Relative advance of a character, so a span of a line maps to roughly the right pixels."""
    return 1.0 if unicodedata.east_asian_width(char) in ("W", "F") else 0.55


def _english_spans(text: str) -> list[tuple[int, int]]:
    """Spans of English sub-labels: lower-case words (``Name``, ``Date of Birth``, misread ``irt``)
    and a free-standing ``VIN``. Units glued to a number (``1500kg``) are values, not labels, and so
    are capitals OCR joined to a sub-label (`_sub_label_length`)."""
    spans = []
    for match in _ASCII_WORD.finditer(text):
        word = match.group().rstrip(".")
        lower = {char for char in word if char.islower()}
        # "Cl" is a class code with its 1 misread as l, not a word.
        if len(word) < 2 or not lower or lower == {"l"}:
            continue
        before = text[match.start() - 1] if match.start() else ""
        if word.lower() in _UNITS and before.isdigit():
            continue
        spans.append((match.start(), match.start() + _sub_label_length(match.group())))
    spans.extend(match.span() for match in _VIN_LABEL.finditer(text))
    return spans


def _sub_label_length(word: str) -> int:
    """How much of `word` is sub-label: all of it, except capitals after a sub-label's whole last word
    that do not make another one (``ClassC1``: the class C1 joined to Class). Capitals that do are the
    sub-label read in capitals (``PlateNO``, ``ModeL``), not a value."""
    joined = _JOINED_CAPITALS.search(word)
    if joined is None:
        return len(word)
    head, whole = word[: joined.start()].lower(), word.lower()
    if head.endswith(_SUB_LABEL_ENDINGS) and not whole.endswith(_SUB_LABEL_ENDINGS):
        return joined.start()
    return len(word)


@dataclass(frozen=True)
class LineText:
    """A line's text without English sub-labels and whitespace, each kept character with its position
    along the line as a fraction of the line's length (0..1)."""

    chars: str
    starts: tuple[float, ...]
    ends: tuple[float, ...]

    @classmethod
    def of(cls, text: str) -> LineText:
        text = unicodedata.normalize("NFKC", text)
        widths = [_char_width(char) for char in text]
        total = sum(widths) or 1.0
        dropped = [False] * len(text)
        for start, end in _english_spans(text):
            for index in range(start, end):
                dropped[index] = True
        chars, starts, ends, offset = [], [], [], 0.0
        for index, char in enumerate(text):
            if not dropped[index] and not char.isspace():
                chars.append(char)
                starts.append(offset / total)
                ends.append((offset + widths[index]) / total)
            offset += widths[index]
        return cls("".join(chars), tuple(starts), tuple(ends))

    def fraction(self, start: int, end: int) -> tuple[float, float]:
        if start >= end:
            return (0.0, 0.0)
        return (self.starts[start], self.ends[end - 1])


def label_text(text: str) -> str:
    """A line's text as labels are matched in: English sub-labels and whitespace removed."""
    return LineText.of(text).chars
