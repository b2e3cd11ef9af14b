"""Reading a plate crop under the plate grammar, from the recognizer's per-step probabilities.

Greedy CTC decoding picks each character on its own, so one bad glyph breaks the whole plate: the
province (the smallest, densest glyph) comes out as a Latin letter or vanishes, a rivet becomes a ``1``.
Here every plate format is a *template*, a sequence of slots each holding one character class
(province, issuing letter, serial character, digit, suffix), and a Viterbi pass finds, for each template,
the likeliest way to lay its slots over the recognizer's time steps, with blanks (or the plate's middle
dot) between them. The template whose best alignment is likeliest wins. Since every template spans every
time step, their likelihoods are comparable: an 8-character template on a 7-character plate has to invent
a character where the recognizer saw blank, and pays for it.

The decoded slots carry the probability the recognizer gave the chosen character, so the plate's
confidence says how sure the recognizer was of *this* reading, not of its unconstrained first choice.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from bot.plate_grammar import OCR_CONFUSIONS, PROVINCES, parse_plate
from bot.vendors.local.ocr import CropReading

LETTERS = "ABCDEFGHJKLMNPQRSTUVWXYZ"  # no I, no O (GA 36)
DIGITS = "0123456789"
SERIAL = LETTERS + DIGITS
SUFFIXES = "警学挂领港澳"
PROVINCE_CHARS = "".join(PROVINCES)
#: Marks a recognizer may emit between characters (the plate's dot, a rivet, a frame edge).
GAP_MARKS = "·•・.。-—_:：,，'`|/ "
#: A character the recognizer saw outside the plate's slots (frame, screw, sticker) costs this factor.
EDGE_JUNK = 0.05
#: What a plate character is read as when the recognizer uses a shape a plate never prints (GA 36 has
#: no I and no O in the serial; the middle dot's neighbour 1 comes out as a bar).
_NEVER_PRINTED = {"1": "Il|", "0": "Oo"}
#: How much a known OCR confusion (0 for D, 8 for B) counts towards the character the grammar needs.
CONFUSION_WEIGHT = 0.5
#: Price of anchoring the province slot on another Chinese character the recognizer preferred.
LOOKALIKE = 0.3
#: Floor for probabilities before taking logs.
_FLOOR = 1e-9

#: Every plate format as its slot classes, whole plate (GA 36-2018 and the new-energy announcements).
FULL_TEMPLATES: dict[str, tuple[str, ...]] = {
    "ordinary": (PROVINCE_CHARS, LETTERS, *[SERIAL] * 5),
    "new_energy_small": (PROVINCE_CHARS, LETTERS, "ABCDEFGHJK", SERIAL, *[DIGITS] * 4),
    "new_energy_large": (PROVINCE_CHARS, LETTERS, *[DIGITS] * 5, "DF"),
    "suffixed": (PROVINCE_CHARS, LETTERS, *[SERIAL] * 4, SUFFIXES),
    "armed_police": ("W", "J", PROVINCE_CHARS, *[DIGITS] * 4, SERIAL),
}
#: Green plates are new-energy plates only.
NEW_ENERGY_TEMPLATES = {
    name: slots for name, slots in FULL_TEMPLATES.items() if name.startswith("new_energy")
}
#: A police plate (white ground, its 警 printed in red, GA 36): on a small or blurred plate the recognizer
#: sees the red 警 only as some glyph, so that slot is anchored by any glyph (as a province is) once the
#: glyph's colour has said what it is (plates.police_reading).
POLICE_SUFFIX = "警"
POLICE_TEMPLATES: dict[str, tuple[str, ...]] = {
    "police": (PROVINCE_CHARS, LETTERS, *[SERIAL] * 4, POLICE_SUFFIX),
}
#: Slot classes that any glyph may anchor, at a price: Chinese characters the recognizer often cannot
#: name on a plate but does see.
_ANCHORED = (PROVINCE_CHARS, POLICE_SUFFIX)
#: The top row of a two-row (yellow, large-vehicle) plate, and what its bottom row may be.
TOP_TEMPLATES: dict[str, tuple[str, ...]] = {"top": (PROVINCE_CHARS, LETTERS)}
BOTTOM_TEMPLATES: dict[str, tuple[str, ...]] = {
    "serial": tuple([SERIAL] * 5),
    "serial_suffixed": (*[SERIAL] * 4, SUFFIXES),
    "serial_large_new_energy": (*[DIGITS] * 5, "DF"),
}


@dataclass(frozen=True)
class SlotRead:
    """What one template slot decoded to: its character and the recognizer's probability for it."""

    text: str
    #: Per-slot probabilities, in plate order.
    probs: tuple[float, ...]
    #: Log-likelihood of the whole alignment (comparable between templates over the same reading).
    log_likelihood: float
    template: str
    #: Slots whose character is not the recognizer's own first choice at that place.
    overruled: int
    #: First and last time step of each slot (where on the crop each character stands).
    spans: tuple[tuple[int, int], ...] = ()

    @property
    def confidence(self) -> float:
        """Mean slot probability, pulled towards the weakest slot: one doubtful character is enough for
        a plate to be doubtful, and a wrong reading is nearly always wrong in one place."""
        if not self.probs:
            return 0.0
        return float(np.mean(self.probs)) ** 0.5 * float(min(self.probs)) ** 0.5


class _Columns:
    """Alphabet columns that may stand for each character of a class, with a weight: lowercase letters
    and shapes a plate never prints (I, O) count fully as the character they must be; a character the
    class cannot hold but OCR often mistakes for one it can (0 where only a letter may stand, so D)
    counts at CONFUSION_WEIGHT."""

    def __init__(self, alphabet: tuple[str, ...]) -> None:
        self.alphabet = alphabet
        self.index = {char: position for position, char in enumerate(alphabet)}
        self._cache: dict[str, tuple[np.ndarray, list[str], np.ndarray]] = {}

    def of(self, chars: str) -> tuple[np.ndarray, list[str], np.ndarray]:
        cached = self._cache.get(chars)
        if cached is None:
            found: dict[int, tuple[str, float]] = {}
            for char in chars:
                stand_ins = {char: 1.0, char.lower(): 1.0}
                stand_ins |= dict.fromkeys(_NEVER_PRINTED.get(char, ""), 1.0)
                for misread, meant in OCR_CONFUSIONS.items():
                    if char in meant and misread not in chars:
                        stand_ins.setdefault(misread, CONFUSION_WEIGHT)
                for variant, weight in stand_ins.items():
                    column = self.index.get(variant)
                    if column is not None and found.get(column, ("", 0.0))[1] < weight:
                        found[column] = (char, weight)
            columns = np.asarray(list(found), dtype=np.int64)
            labels = [label for label, _ in found.values()]
            weights = np.asarray([weight for _, weight in found.values()], dtype=np.float64)
            cached = (columns, labels, weights)
            self._cache[chars] = cached
        return cached


_COLUMNS: dict[int, _Columns] = {}


def _columns(alphabet: tuple[str, ...]) -> _Columns:
    key = id(alphabet)
    found = _COLUMNS.get(key)
    if found is None or found.alphabet is not alphabet:
        found = _Columns(alphabet)
        _COLUMNS.clear()
        _COLUMNS[key] = found
    return found


def class_columns(alphabet: tuple[str, ...], chars: str) -> tuple[np.ndarray, list[str]]:
    """The alphabet's columns that stand for the characters of `chars`, and the character each stands
    for (cached per alphabet, as the decoder's own columns are)."""
    columns, labels, _weights = _columns(alphabet).of(chars)
    return columns, labels


def _align(
    log_slots: list[np.ndarray], log_gap: np.ndarray, log_edge: np.ndarray, slot_chars: list[np.ndarray]
) -> tuple[float, list[int]]:
    """Viterbi over states gap0, slot0, gap1, slot1, ..., gapN; returns the best path's log-likelihood
    and the state of every time step. As in CTC, a slot may follow the previous one without a blank
    between only when their characters differ (else one wide glyph would fill two slots), and a slot
    lasts over several steps only while its likeliest character stays the same (else two glyphs read
    back to back, 9 then 3, would fill one slot, and a 7-character format would swallow an 8-character
    plate at no cost)."""
    steps = len(log_gap)
    count = len(log_slots)
    states = 2 * count + 1
    emit = np.empty((steps, states))
    for gap in range(count + 1):
        emit[:, 2 * gap] = log_edge if gap in (0, count) else log_gap
    for slot, values in enumerate(log_slots):
        emit[:, 2 * slot + 1] = values
    score = np.full(states, -np.inf)
    score[0], score[1] = emit[0, 0], emit[0, 1]
    back = np.zeros((steps, states), dtype=np.int8)
    chars = np.stack(slot_chars, axis=1)  # steps x slots: each slot's likeliest character per step
    direct = np.zeros((steps, states), dtype=bool)
    direct[1:, 3::2] = chars[1:, 1:] != chars[:-1, :-1]
    kept = np.ones((steps, states), dtype=bool)  # gaps may always last
    kept[1:, 1::2] = chars[1:] == chars[:-1]
    for step in range(1, steps):
        stay = np.where(kept[step], score, -np.inf)
        advance = np.concatenate(([-np.inf], score[:-1]))
        skip = np.concatenate(([-np.inf, -np.inf], score[:-2]))
        skip[~direct[step]] = -np.inf  # only a slot, and only from a different character
        options = np.stack([stay, advance, skip])
        choice = options.argmax(axis=0)
        score = options[choice, np.arange(states)] + emit[step]
        back[step] = choice
    end = states - 1 if score[states - 1] >= score[states - 2] else states - 2
    best = float(score[end])
    path = [end]
    for step in range(steps - 1, 0, -1):
        end -= int(back[step, end])
        path.append(end)
    path.reverse()
    return best, path


def decode_template(reading: CropReading, name: str, slots: tuple[str, ...]) -> SlotRead | None:
    """The reading decoded as one template, or None when the reading is too short to hold it."""
    probs = reading.probs
    if probs.ndim != 2 or len(probs) < len(slots):
        return None
    columns = _columns(reading.alphabet)
    logs = np.log(np.maximum(probs, _FLOOR))
    gap_columns = columns.of(GAP_MARKS)[0]
    log_gap = np.maximum(logs[:, 0], logs[:, gap_columns].max(axis=1)) if len(gap_columns) else logs[:, 0]
    log_edge = np.maximum(log_gap, logs[:, 1:].max(axis=1) + np.log(EDGE_JUNK))
    slot_columns = [columns.of(chars) for chars in slots]
    if any(len(cols) == 0 for cols, _, _ in slot_columns):
        return None
    # Each slot's view of the reading: how likely each character it may hold is, at every step.
    views = [probs[:, cols] * weights for cols, _, weights in slot_columns]
    log_slots = [np.log(np.maximum(view.max(axis=1), _FLOOR)) for view in views]
    # A province the recognizer took for another character (沪 as 游, 皖 as U) still marks where the
    # province stands: any glyph there may anchor the province slot, at a price. Otherwise the whole
    # plate would rather shift one slot and drop a serial character than use an unreadable province.
    glyphs = logs[:, 1:].max(axis=1) + np.log(LOOKALIKE)
    for slot, chars in enumerate(slots):
        if chars in _ANCHORED:
            log_slots[slot] = np.maximum(log_slots[slot], glyphs)
    slot_chars = [
        np.asarray([ord(labels[index]) for index in view.argmax(axis=1)])
        for view, (_, labels, _) in zip(views, slot_columns, strict=True)
    ]
    likelihood, path = _align(log_slots, log_gap, log_edge, slot_chars)
    path_array = np.asarray(path)
    greedy = probs.argmax(axis=1)
    text: list[str] = []
    slot_probs: list[float] = []
    spans: list[tuple[int, int]] = []
    overruled = 0
    for slot, (view, (cols, labels, _)) in enumerate(zip(views, slot_columns, strict=True)):
        steps = np.flatnonzero(path_array == 2 * slot + 1)
        window = view[steps]
        best = int(window.sum(axis=0).argmax())
        text.append(labels[best])
        slot_probs.append(float(window[:, best].max()))
        spans.append((int(steps[0]), int(steps[-1])))
        if not np.isin(greedy[steps], cols[best : best + 1]).any():
            overruled += 1
    return SlotRead("".join(text), tuple(slot_probs), likelihood, name, overruled, tuple(spans))


def decode_best(reading: CropReading, templates: dict[str, tuple[str, ...]]) -> SlotRead | None:
    """The likeliest template's decoding; whole plates must also pass the grammar (粤Z for 港/澳)."""
    reads = [decode_template(reading, name, slots) for name, slots in templates.items()]
    valid = [
        read
        for read in reads
        if read is not None and (templates in (TOP_TEMPLATES, BOTTOM_TEMPLATES) or parse_plate(read.text))
    ]
    return max(valid, key=lambda read: read.log_likelihood, default=None)


def join_rows(top: SlotRead, bottom: SlotRead) -> SlotRead:
    """A two-row plate: the top row's province and letter, then the bottom row's serial."""
    return SlotRead(
        top.text + bottom.text,
        top.probs + bottom.probs,
        top.log_likelihood + bottom.log_likelihood,
        f"{top.template}+{bottom.template}",
        top.overruled + bottom.overruled,
    )
