"""Smoke test of benchmarks/vendors.py: tiny counts, real fakes, and the JSON shape the lead reads.
Timings are never asserted: only that every adapter was measured and every burst call answered."""

from __future__ import annotations

import json
from pathlib import Path

from benchmarks.vendors import FACTORIES, main


def test_writes_figures_for_every_adapter(tmp_path: Path) -> None:
    out = tmp_path / "vendors.json"
    names = {"tencent", "megvii", "baidu", "tencent_legacy"}
    argv = ["--calls", "3", "--concurrent", "3", "--delay", "0.01", "--out", str(out)]
    assert main([*argv, "--only", *sorted(names)]) == 0

    report = json.loads(out.read_text(encoding="utf-8"))
    assert report["settings"]["calls"] == 3
    assert report["skipped"] == {} and set(report["adapters"]) == names
    assert set(report["adapters"]) <= set(FACTORIES)
    for figures in report["adapters"].values():
        added, burst = figures["added"], figures["concurrent"]
        assert added["calls"] == 3
        assert 0 < added["min_ms"] <= added["median_ms"] <= added["p95_ms"] <= added["max_ms"]
        assert added["recognized"] is True
        assert burst["calls"] == 3 and burst["completed"] == 3 and burst["failed"] == {}
        assert burst["max_concurrency"] >= 100
        assert burst["wall_s"] > 0 and burst["raw_same_requests_wall_s"] > 0
