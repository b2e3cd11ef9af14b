"""A second look at a plate's province when the recognizer could not place it.

The province is the plate's smallest, densest glyph, and in a plate's narrow type the general recognizer
often sees no province at all there: on real 94x24 crops, every reading that got the province wrong gave
it less than 10 % probability, and below 1 % it was right only half the time. Its character-level
evidence is brittle rather than absent, though: the same crop read slightly softer (a Gaussian blur of
one pixel at the recognizer's 48 px line height) or smaller (3/4 scale, which the recognizer resamples
back up, so again smoother strokes) often gives the province a clear reading that the sharp upscaled crop
did not. A plate seen large enough (toll-booth photos) has a sharp province that is simply drawn narrow,
and there widening the line helps instead. The looks are pooled, each as a distribution over the
provinces, so no one look decides alone.

Only doubtful provinces get the second look (two more recognizer passes on a small crop), so a plate
read well costs nothing more.
"""

from __future__ import annotations

from dataclasses import replace

import cv2
import numpy as np

from bot.vendors.local.ocr import CropReading, OcrEngine
from bot.vendors.local.plate_decode import PROVINCE_CHARS, SlotRead, class_columns

#: A province read with less probability than this gets a second look.
DOUBTFUL_PROVINCE = 0.1
#: The recognizer's line height, at which the softer looks are defined.
LINE_HEIGHT = 48
#: The softer looks: blur sigma in pixels at LINE_HEIGHT, and the smaller scale.
BLUR_SIGMA = 1.0
SMALLER = 0.75
#: Widening factors for a sharp line: a plate's Han glyph is drawn in a cell half as wide as it is tall,
#: and the recognizer knows Han characters as squares.
WIDER = (1.6, 1.3)
#: Steps either side of the province's span that may still hold it in a look of different width.
SPAN_SLACK = 1


#: Each province's place in PROVINCE_CHARS, the order of the distributions below.
_PLACE = {char: place for place, char in enumerate(PROVINCE_CHARS)}


def _province_probabilities(reading: CropReading, start: int, end: int) -> np.ndarray:
    """Each province's best probability within steps start..end (PROVINCE_CHARS order)."""
    columns, labels = class_columns(reading.alphabet, PROVINCE_CHARS)
    found = np.zeros(len(PROVINCE_CHARS))
    found[[_PLACE[label] for label in labels]] = reading.probs[max(start, 0) : end + 1][:, columns].max(
        axis=0, initial=0.0
    )
    return found


def _looks(line: np.ndarray) -> list[np.ndarray]:
    """The other views of the line: softer ones always; wider ones too when the line was not enlarged
    to reach the recognizer's height, so its province is sharp and only its narrow plate shape is in the
    way (widening a tiny, enlarged crop only spreads its blur, and reads fewer provinces right)."""
    height = max(line.shape[0], 1)
    at_height = cv2.resize(
        line, (max(round(line.shape[1] * LINE_HEIGHT / height), 1), LINE_HEIGHT), interpolation=cv2.INTER_AREA
    )
    softer = cv2.GaussianBlur(at_height, (0, 0), BLUR_SIGMA)
    if height > LINE_HEIGHT:
        wider = [cv2.resize(line, None, fx=factor, fy=1.0, interpolation=cv2.INTER_CUBIC) for factor in WIDER]
        return [*wider, softer]
    return [softer, cv2.resize(at_height, None, fx=SMALLER, fy=SMALLER, interpolation=cv2.INTER_AREA)]


def second_look(engine: OcrEngine, line: np.ndarray, read: SlotRead, first_reading: CropReading) -> SlotRead:
    """`read` (decoded from `first_reading` of `line`) with its province re-decided when it was doubtful.

    The first reading itself is left out of the pool: it is the view that could not see the province,
    and pooling it in (or letting it veto a change) read fewer real crops right. The province's
    probability becomes the looks' mean for the chosen one, so a plate whose province stays unclear
    stays doubtful."""
    if not read.spans or read.text[:1] not in PROVINCE_CHARS or read.probs[0] >= DOUBTFUL_PROVINCE:
        return read
    first, last = read.spans[0]
    steps = len(first_reading.probs)
    pooled = np.zeros(len(PROVINCE_CHARS))
    looks: list[np.ndarray] = []
    for look in _looks(line):
        reading = engine.read_crop_chars(look)
        ratio = len(reading.probs) / max(steps, 1)
        found = _province_probabilities(
            reading, int(first * ratio) - SPAN_SLACK, int(np.ceil((last + 1) * ratio)) + SPAN_SLACK
        )
        pooled += found / max(float(found.sum()), 1e-9)
        looks.append(found)
    choice = int(pooled.argmax())
    current = PROVINCE_CHARS.index(read.text[0])
    if pooled[choice] <= pooled[current]:  # no preference (a tie) keeps what the first reading chose
        choice = current
    seen = float(np.mean([found[choice] for found in looks]))
    province = PROVINCE_CHARS[choice]
    if province == read.text[0]:
        return replace(read, probs=(max(read.probs[0], seen), *read.probs[1:]))
    return replace(read, text=province + read.text[1:], probs=(seen, *read.probs[1:]))
