"""Every benchmark reports its percentiles by nearest rank: an observed value, never one rounded away."""

from __future__ import annotations

import pytest

from benchmarks.figures import percentile


def test_p95_of_thirty_is_the_twenty_ninth_fastest():
    samples = [float(n) for n in range(30, 0, -1)]  # 30 down to 1, unsorted on purpose
    assert percentile(samples, 0.95) == 29.0  # ceil(28.5); rounding half to even gave the 28th
    assert percentile(samples, 0.5) == 15.0
    assert percentile([7.0], 0.95) == 7.0


def test_p95_of_twenty_and_of_two_hundred():
    assert percentile([float(n) for n in range(1, 21)], 0.95) == 19.0
    assert percentile([float(n) for n in range(1, 201)], 0.95) == 190.0


def test_no_samples_is_an_error_not_a_figure():
    with pytest.raises(ValueError):
        percentile([], 0.95)
