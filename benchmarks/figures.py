"""The figures every benchmark reports, computed one way: a nearest-rank percentile and peak RSS."""

from __future__ import annotations

import math
import resource
import sys
from collections.abc import Sequence


def percentile(samples: Sequence[float], fraction: float) -> float:
    """Nearest rank, so the figure is a time actually observed: p95 of 30 photos is the 29th fastest,
    of 200 calls the 190th. (``round`` would round 28.5 to even and report the 28th.)"""
    if not samples:
        raise ValueError("no samples")
    ordered = sorted(samples)
    return ordered[max(0, math.ceil(fraction * len(ordered)) - 1)]


def peak_rss_mb() -> float:
    """Peak resident set size of this process; Linux reports it in KiB, macOS in bytes."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / (1024 * 1024) if sys.platform == "darwin" else peak / 1024
