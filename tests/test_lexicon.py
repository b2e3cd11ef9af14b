"""Reading a line as one word of a lexicon: the CTC forward sum, and choosing among words by it."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest

from bot.vendors.local.lexicon import best_word, log_likelihoods
from bot.vendors.local.ocr import CropReading
from bot.vendors.local.places import office_names
from tests.fakes.readings import scripted_reading

ALPHABET = ("", "山", "东", "济", "南", "市", "西", "安")


def _collapse(path: tuple[int, ...]) -> str:
    """What a CTC path writes: repeats merged, then blanks dropped."""
    merged = [label for index, label in enumerate(path) if index == 0 or label != path[index - 1]]
    return "".join(ALPHABET[label] for label in merged if label)


def test_the_likelihood_of_a_word_sums_every_alignment_that_writes_it():
    rng = np.random.default_rng(4)
    probs = rng.dirichlet(np.ones(4), size=5)  # five steps over blank, 山, 东, 济
    padded = np.zeros((5, len(ALPHABET)))
    padded[:, :4] = probs
    reading = CropReading.decode(padded, ALPHABET)
    words = ["山东", "山山", "济", "山东济", "东济山东济"]
    expected = dict.fromkeys(words, 0.0)
    for path in itertools.product(range(4), repeat=5):
        written = _collapse(path)
        if written in expected:
            expected[written] += math.prod(probs[step, label] for step, label in enumerate(path))
    scores = log_likelihoods(reading, words)
    for word, score in zip(words, scores, strict=True):
        assert score == pytest.approx(math.log(expected[word]), rel=1e-9)
    # Four 山 need a blank between each: seven steps, and the line has five.
    assert log_likelihoods(reading, ["山山山山"])[0] == -np.inf


def test_the_word_is_read_through_a_glyph_greedy_decoding_gets_wrong():
    steps = [
        {"山": 0.9},
        {},
        {"东": 0.8},
        {},
        {"西": 0.5, "济": 0.4},  # greedy takes 西
        {},
        {"南": 0.9},
        {},
    ]
    reading = scripted_reading(steps, ALPHABET)
    assert reading.text == "山东西南"
    found = best_word(reading, ["山东济南", "山西", "安南"])
    assert found is not None and found.word == "山东济南"
    assert found.margin > 3  # no other word comes close
    assert 0 < found.shortfall < 0.5  # one glyph a little below the recognizer's own choice
    exact = best_word(scripted_reading(steps[:4], ALPHABET), ["山东", "山东济南"])
    assert exact is not None and exact.word == "山东" and exact.confidence == pytest.approx(1.0, abs=0.01)


def test_the_margin_is_over_the_runner_up_of_the_whole_lexicon():
    """A blurred rim like 辽宁省沈阳市…: the city's first glyph is faint, and a neighbour's glyph nearly
    as likely. Many names that only reuse the line's strong glyphs (辽 twice, as 辽宁省辽阳市 does) look
    likelier by any bound that takes each glyph at its best step, yet fit the line far worse. The margin
    must be over the real runner-up, the neighbour; a shortlist by such a bound once left it out and
    called a two-unit lead twelve."""
    alphabet = ("", "甲", "乙", "丙", "丁", "戊")
    steps = [{"甲": 0.95}, {}, {"乙": 0.95}, {}, {"丙": 0.2, "戊": 0.15}, {}, {"丁": 0.95}, {}]
    reading = scripted_reading(steps, alphabet)
    strong = "甲乙丁"
    echoes = ["".join(word) for word in itertools.product(strong, repeat=4)]
    words = ["甲乙丙丁", "甲乙戊丁", *echoes]
    scores = log_likelihoods(reading, words)
    found = best_word(reading, words)
    assert found is not None and found.word == "甲乙丙丁"
    assert found.margin == pytest.approx(scores[0] - scores[1], rel=1e-9)
    assert found.margin < 1.0  # 0.2 against 0.15: a lead of log(4/3)


def test_a_prior_ranks_the_words_but_the_confidence_is_the_line_s_alone():
    """A glyph the line leaves between two words: a prior for one of them settles it, and sets the
    margin, while the shortfall still says how far below the recognizer's own reading the word lies."""
    alphabet = ("", "甲", "乙", "丙", "丁", "戊")
    steps = [{"甲": 0.95}, {}, {"乙": 0.95}, {}, {"丙": 0.2, "戊": 0.15}, {}, {"丁": 0.95}, {}]
    reading = scripted_reading(steps, alphabet)
    words = ["甲乙丙丁", "甲乙戊丁"]
    scores = log_likelihoods(reading, words)
    plain = best_word(reading, words)
    assert plain is not None and plain.word == "甲乙丙丁"
    favoured = best_word(reading, words, np.array([0.0, 4.0]))
    assert favoured is not None and favoured.word == "甲乙戊丁"
    assert favoured.margin == pytest.approx(4.0 - (scores[0] - scores[1]))
    assert favoured.log_likelihood == pytest.approx(scores[1])
    # The favoured word is further from what the recognizer read than the plain best, prior or not.
    assert favoured.shortfall > plain.shortfall
    alone = best_word(reading, words[1:])
    assert alone is not None and favoured.shortfall == pytest.approx(alone.shortfall)


def test_the_office_lexicon_is_scored_whole():
    """Lines as a recognizer gives them for a seal rim (each glyph a peak with a rival or two beside it,
    blanks between, some glyphs nearly lost): the best and its margin are over every office name."""
    names = office_names()
    alphabet = ("", *sorted({char for name in names for char in name}))
    rng = np.random.default_rng(9)
    for _ in range(25):
        written = names[rng.integers(len(names))]
        steps: list[dict[str, float]] = []
        for char in written:
            rivals = [str(rival) for rival in rng.choice(alphabet[1:], size=2) if rival != char]
            share = float(rng.uniform(0.15, 0.9))
            steps += [{char: share} | dict.fromkeys(rivals, (1 - share) * 0.45), {}]
        reading = scripted_reading(steps, alphabet)
        scores = np.sort(log_likelihoods(reading, names))
        found = best_word(reading, names)
        assert found is not None and found.log_likelihood == pytest.approx(scores[-1])
        assert found.margin == pytest.approx(scores[-1] - scores[-2])
