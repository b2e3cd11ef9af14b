"""An inspection stamp's station code read under its grammar: a province, then a letter.

The stamp ends in the code of the station that inspected the vehicle, ``粤B(06)``: a province's
abbreviation and a city letter as plates use them (never I or O), then the station's number. The stamp
is small and red, and its letter is often read as a look-alike that is no letter: B as 8, F as 尺. The
recognizer usually still gives the letter a share of that step, but greedy decoding keeps only the first
choice. So a code whose letter is no letter is read again from its place, and the step takes the
likeliest letter the recognizer saw there. That letter's share among the letters it saw is its
confidence: a letter the recognizer hardly told from others keeps the field flagged for the user.
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import NamedTuple

import numpy as np

from bot.plate_grammar import PROVINCES
from bot.vendors.local.layout import FieldValue, PageRead
from bot.vendors.local.ocr import CropReading, OcrEngine
from bot.vendors.local.value_crop import value_crop

FIELD = "inspection_record"
#: A city letter, as on plates (never I or O, which a stamp's letter is misread as too).
LETTERS = "ABCDEFGHJKLMNPQRSTUVWXYZ"
#: A letter the recognizer gave less than this at the slot is no reading of the glyph: it only happens
#: to lead the letters' faint tail (as in person_names, where a choice needs 0.01; a stamp's letter
#: read as 尺 gave F 0.0098, and the right letters this step found had 0.0098 to 0.07).
MIN_LETTER = 0.001
#: The stamp's end with something other than a city letter after the province: ``粤8(06)``, ``京尺(11)``.
_CODE_WITHOUT_LETTER = re.compile(rf"([{''.join(PROVINCES)}])([^{LETTERS}])[(（]\d+[)）]$")


class LetterRead(NamedTuple):
    letter: str
    #: Its share among the city letters the recognizer saw at the slot.
    confidence: float


def letter_at(reading: CropReading, province: str, misread: str) -> LetterRead | None:
    """The likeliest city letter where `reading` shows `misread` after `province` (the last such place),
    with its share among the letters seen there; None when the line, read again, does not show that pair
    or the recognizer saw no letter there worth the name (`MIN_LETTER`)."""
    chars = reading.chars
    places = [i for i in range(1, len(chars)) if chars[i - 1].char == province and chars[i].char == misread]
    if not places:
        return None
    slot = chars[places[-1]]
    span = reading.char_probs(slot)
    columns = _letter_columns(reading.alphabet)
    seen = span[columns]
    total = float(seen.sum())
    if total <= 0.0:
        return None
    best = int(np.argmax(seen))
    if seen[best] < MIN_LETTER:
        return None
    return LetterRead(reading.alphabet[columns[best]], float(seen[best]) / total)


@lru_cache(maxsize=4)
def _letter_columns(alphabet: tuple[str, ...]) -> np.ndarray:
    """Where the city letters stand in the recognizer's alphabet (index 0 is the CTC blank)."""
    columns = [index for index, char in enumerate(alphabet) if index and len(char) == 1 and char in LETTERS]
    return np.array(columns, dtype=int)


def reconsider_station_code(engine: OcrEngine, bgr: np.ndarray, scale: float, read: PageRead) -> None:
    """The stamp's station code, when its letter was read as no letter, read again under the grammar."""
    current = read.fields.get(FIELD)
    if current is None or current.rect is None:
        return
    found = _CODE_WITHOUT_LETTER.search(current.value)
    if found is None:
        return
    crop = value_crop(bgr, scale, read.frame_degrees, current.rect)
    if crop is None:
        return
    province, misread = found.group(1), found.group(2)
    letter = letter_at(engine.read_crop_chars(crop), province, misread)
    if letter is None:
        return
    value = current.value[: found.start(2)] + letter.letter + current.value[found.end(2) :]
    confidence = round(min(current.confidence, letter.confidence), 4)
    read.fields[FIELD] = FieldValue(value, confidence, current.rect)
