"""A person's name read again with what is known about names: which characters people are given.

Blur and JPEG loss turn a given name's glyph into its look-alike: 晶 into 品, 晨 into 展, 彤 into 形,
颖 into 颗. The recognizer often still gives the right glyph a fair share of its probability, but greedy
decoding keeps only the first choice, and the look-alike is usually a character almost nobody is named
with. So the value's line is read again, keeping every step's distribution, and each candidate name
(the recognizer's leading choices at each given-name character) is scored by its likelihood on the line
(the CTC forward sum, as for a seal's office) times how often people are given its characters. The
first character, the surname, is left as read: the table counts given names only (a compound surname's
second character, 阳 of 欧阳, is judged as a given name's, which it usually also is).

The counts are ngender's, as bot/given_names.py reads them.
"""

from __future__ import annotations

import itertools
import math
import re
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from bot.given_names import given_name_counts
from bot.vendors.local.layout import FieldValue, PageRead
from bot.vendors.local.lexicon import log_likelihoods
from bot.vendors.local.ocr import CropReading, OcrEngine
from bot.vendors.local.value_crop import value_crop

#: Fields that hold a person's name (a vehicle's owner may be a company, which `looks_personal` tells).
PERSON_FIELDS = ("name", "owner")
#: A Chinese personal name: a surname of one or two characters and a given name of one or two.
_PERSONAL = re.compile(r"^[\u4e00-\u9fff]{2,4}$")
#: Characters a short company or office name ends with; such an owner is no person.
_ORGANISATION_ENDS = "司局队厂店社院所部站校行馆场处会团"
#: The recognizer's choices considered at each given-name character: the leading few, each above this
#: share of its step (below it, a character is no reading of the glyph, whatever its prior).
CHOICES = 3
MIN_CHOICE = 0.01
#: A name read from its cell alone (`read_name`) needs this mean probability over its characters.
MIN_NAME_SCORE = 0.3


@dataclass(frozen=True)
class NameRead:
    text: str
    #: The chosen name's share of the candidates' joint score: 1 when no other candidate comes close.
    confidence: float


def looks_personal(value: str) -> bool:
    return bool(_PERSONAL.match(value)) and value[-1] not in _ORGANISATION_ENDS


@lru_cache(maxsize=1)
def given_name_log_prior() -> tuple[dict[str, float], float]:
    """log P(character) among given-name characters, add-one smoothed, and the log prior of a character
    the table never saw (possible, only rarer than any it saw)."""
    counts = {char: men + women for char, (men, women) in given_name_counts().items()}
    total = sum(counts.values()) + len(counts) + 1
    return {char: math.log((count + 1) / total) for char, count in counts.items()}, math.log(1 / total)


def likeliest_name(reading: CropReading, value: str) -> NameRead | None:
    """The likeliest of the names the line may show: `value` and those that differ from it in given-name
    characters where the recognizer had a second thought. None when the line, read again, does not show
    `value`: two reads that disagree are two pieces of evidence, and this line's distribution is only
    one of them, so the prior would be choosing on half of what was seen (tried: it turned 冯轶宁 into
    冯铁宁, which the page read had right)."""
    start = reading.text.find(value)
    if start < 0:
        return None
    prior, floor = given_name_log_prior()
    options: list[list[str]] = [[value[0]]]
    for char in reading.chars[start + 1 : start + len(value)]:
        span = reading.char_probs(char)
        ranked = [int(index) for index in np.argsort(-span)[: CHOICES + 1]]
        choices = [
            reading.alphabet[index]
            for index in ranked
            if index != 0 and span[index] >= MIN_CHOICE and _is_hanzi(reading.alphabet[index])
        ]
        options.append(list(dict.fromkeys([char.char, *choices]))[:CHOICES])
    if all(len(choice) == 1 for choice in options):
        return NameRead(value, 1.0)
    before, after = reading.text[:start], reading.text[start + len(value) :]
    names = ["".join(combo) for combo in itertools.product(*options)]
    scores = log_likelihoods(reading, [before + name + after for name in names])
    scores += np.array([sum(prior.get(char, floor) for char in name[1:]) for name in names])
    best = int(np.argmax(scores))
    if not np.isfinite(scores[best]):
        return None
    shares = np.exp(scores - scores[best])
    return NameRead(names[best], float(1.0 / shares.sum()))


def read_name(reading: CropReading) -> NameRead | None:
    """A personal name read from a crop of its cell alone (detection had missed it): the line decoded
    in Chinese characters only, as a name is printed, then `likeliest_name`'s prior on its given name.
    None when that is no name of two to four characters, or when its characters were too faint to be
    a reading (`MIN_NAME_SCORE`). The confidence is the weaker of the recognizer's and the prior's."""
    hanzi = np.array([index == 0 or _is_hanzi(char) for index, char in enumerate(reading.alphabet)])
    only_hanzi = CropReading.decode(reading.probs * hanzi, reading.alphabet, reading.coverage)
    if not looks_personal(only_hanzi.text) or only_hanzi.score < MIN_NAME_SCORE:
        return None
    name = likeliest_name(only_hanzi, only_hanzi.text)
    if name is None:
        return None
    return NameRead(name.text, min(name.confidence, only_hanzi.score))


def _is_hanzi(char: str) -> bool:
    return "\u4e00" <= char <= "\u9fff"


def reconsider_names(engine: OcrEngine, bgr: np.ndarray, scale: float, read: PageRead) -> None:
    """Each personal name on the page, read again from its place with the given-name prior."""
    for field in PERSON_FIELDS:
        current = read.fields.get(field)
        if current is None or current.rect is None or not looks_personal(current.value):
            continue
        crop = value_crop(bgr, scale, read.frame_degrees, current.rect)
        if crop is None:
            continue
        name = likeliest_name(engine.read_crop_chars(crop), current.value)
        if name is None or name.text == current.value:
            continue
        confidence = round(min(current.confidence, name.confidence), 4)
        read.fields[field] = FieldValue(name.text, confidence, current.rect)
