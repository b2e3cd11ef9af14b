"""Reading a line that must be one of a known list of names, from the recognizer's per-step probabilities.

Greedy decoding takes each glyph on its own, so a blurred seal rim comes out as a string that shares
half its characters with the office it names, and string distance to the lexicon then has too little to
go on. Scoring each name instead by the probability the recognizer gives to *all* the ways of writing it
over its time steps (the CTC forward algorithm, which is what the recognizer was trained to maximize)
uses every glyph's whole distribution, including the second and third choices that greedy decoding
throws away. All names are scored at once, as one array per time step.

Written here rather than imported: the one well-kept implementation of the CTC forward sum in Python
is torch's ``ctc_loss``, several hundred megabytes of dependency for thirty lines of numpy; the tests
check this one against a brute-force sum over every alignment.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from bot.vendors.local.ocr import CropReading

_FLOOR = 1e-12
#: Words scored in full per line: the likeliest by a cheap bound (each character's best step anywhere
#: on the line), which keeps a seven-hundred-name lexicon at a few milliseconds a line.
SHORTLIST = 32


@dataclass(frozen=True)
class LexiconRead:
    word: str
    #: log P(word | the line), summed over every CTC alignment.
    log_likelihood: float
    #: How much likelier the word is than the next best in the lexicon (log units).
    margin: float
    #: How far below the recognizer's own best path the word lies, per character (log units; 0 when
    #: the recognizer read exactly this word).
    shortfall: float

    @property
    def confidence(self) -> float:
        """Per character, how close the word comes to what the recognizer saw; 1 when it read it."""
        return float(np.exp(-self.shortfall))


def log_likelihoods(reading: CropReading, words: Sequence[str]) -> np.ndarray:
    """log P(word | reading) for each word (-inf for a word with a character the recognizer lacks, or
    longer than the line has steps for)."""
    index = _index(reading.alphabet)
    logs = np.log(np.maximum(reading.probs, _FLOOR))
    steps = len(logs)
    scores = np.full(len(words), -np.inf)
    usable = [
        number
        for number, word in enumerate(words)
        if word and all(char in index for char in word) and len(word) <= steps
    ]
    if not usable:
        return scores
    # Each word as CTC states: blank, w0, blank, w1, ..., blank; padded to the longest.
    longest = 2 * max(len(words[number]) for number in usable) + 1
    labels = np.zeros((len(usable), longest), dtype=np.int64)
    ends = np.empty(len(usable), dtype=np.int64)
    for row, number in enumerate(usable):
        word = words[number]
        labels[row, 1 : 2 * len(word) : 2] = [index[char] for char in word]
        ends[row] = 2 * len(word)
    # A state may be reached from two back only across a blank between two different characters.
    skips = np.zeros(labels.shape, dtype=bool)
    skips[:, 2:] = (labels[:, 2:] != 0) & (labels[:, 2:] != labels[:, :-2])
    inside = np.arange(longest)[None, :] <= ends[:, None]
    alpha = np.full(labels.shape, -np.inf)
    alpha[:, 0] = logs[0, 0]
    alpha[:, 1] = logs[0, labels[:, 1]]
    blocked = np.full((len(usable), 2), -np.inf)
    for step in range(1, steps):
        from_previous = np.concatenate([blocked[:, :1], alpha[:, :-1]], axis=1)
        from_two_back = np.where(skips, np.concatenate([blocked, alpha[:, :-2]], axis=1), -np.inf)
        alpha = np.logaddexp(np.logaddexp(alpha, from_previous), from_two_back) + logs[step, labels]
        alpha = np.where(inside, alpha, -np.inf)
    rows = np.arange(len(usable))
    scores[usable] = np.logaddexp(alpha[rows, ends], alpha[rows, ends - 1])
    return scores


def best_word(reading: CropReading, words: Sequence[str]) -> LexiconRead | None:
    """The likeliest word of `words` on the line, with its margin over the next and its shortfall."""
    if len(words) == 0 or reading.probs.ndim != 2 or len(reading.probs) == 0:
        return None
    words = _shortlist(reading, words)
    scores = log_likelihoods(reading, words)
    order = np.argsort(-scores)
    best = int(order[0])
    if not np.isfinite(scores[best]):
        return None
    runner_up = float(scores[order[1]]) if len(order) > 1 else -np.inf
    own_path = float(np.log(np.maximum(reading.probs.max(axis=1), _FLOOR)).sum())
    word = words[best]
    return LexiconRead(
        word,
        float(scores[best]),
        float(scores[best] - runner_up),
        max(0.0, (own_path - float(scores[best])) / len(word)),
    )


def _shortlist(reading: CropReading, words: Sequence[str]) -> Sequence[str]:
    """The SHORTLIST words whose characters the line shows most strongly, each at its best step. No
    single alignment of a word can score above that bound; on a recognizer's peaked output, where one
    alignment carries most of a word's likelihood, the likeliest words are among those with the best
    bounds."""
    if len(words) <= SHORTLIST:
        return words
    columns = _columns(tuple(words), reading.alphabet)
    best_step = np.log(np.maximum(reading.probs.max(axis=0), _FLOOR))
    # Two extra columns: padding past a word's end (counts 0), a character the alphabet lacks (-inf).
    extended = np.concatenate([best_step, [0.0, -np.inf]])
    keep = np.argsort(-extended[columns].sum(axis=1), kind="stable")[:SHORTLIST]
    return [words[number] for number in sorted(keep)]


@lru_cache(maxsize=8)
def _columns(words: tuple[str, ...], alphabet: tuple[str, ...]) -> np.ndarray:
    """Each word as alphabet columns, padded (see _shortlist for the two extra columns)."""
    index = _index(alphabet)
    padding, missing = len(alphabet), len(alphabet) + 1
    columns = np.full((len(words), max(map(len, words))), padding, dtype=np.int64)
    for row, word in enumerate(words):
        columns[row, : len(word)] = [index.get(char, missing) for char in word]
    return columns


@lru_cache(maxsize=2)
def _index(alphabet: tuple[str, ...]) -> dict[str, int]:
    """Each character's column (the blank, column 0, is no character)."""
    return {char: column for column, char in enumerate(alphabet) if column > 0}
