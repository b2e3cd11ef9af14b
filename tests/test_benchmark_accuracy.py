"""The accuracy benchmark runs on any folder in the documented layout and writes its JSON."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from benchmarks.accuracy import main, separation
from tests.specimens import render_plate


def test_accuracy_benchmark_scores_a_tiny_labelled_folder(tmp_path: Path):
    plates = tmp_path / "set" / "plates" / "crops"
    plates.mkdir(parents=True)
    image, truth = render_plate("苏E6T1M0", "blue")
    image.convert("RGB").save(plates / "a.jpg", quality=92)
    with (plates.parent / "labels.csv").open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["file", "plate", "kind"])
        writer.writerow(["crops/a.jpg", truth["number"], "blue"])
        writer.writerow(["crops/a.jpg", "京A00000", "blue"])  # a plate that is not in the photo
    out = tmp_path / "accuracy.json"

    assert main(["--data", str(tmp_path / "set"), "--out", str(out)]) == 0

    summary = json.loads(out.read_text(encoding="utf-8"))
    assert summary["plates_by_folder"]["set/crops"] == {"right": 1, "total": 2, "accuracy": 0.5}
    assert summary["plates_by_kind"]["blue"]["total"] == 2
    assert summary["plate_seconds"]["count"] == 1  # one photo, two labels
    assert [m["want"] for m in summary["misses"]] == ["京A00000"]
    assert summary["fields_overall"]["total"] == 0 and summary["peak_rss_mb"] > 0
    # The photo's leading read is one of its plates; with no wrong read there is nothing to separate.
    assert summary["confidence"]["plates"]["right"] == 1
    assert summary["confidence"]["plates"]["right_above_wrong"] is None


def test_a_known_label_error_is_scored_both_as_labelled_and_as_shown(tmp_path: Path):
    plates = tmp_path / "set" / "plates" / "crops"
    plates.mkdir(parents=True)
    image, truth = render_plate("苏E6T1M0", "blue")
    image.convert("RGB").save(plates / "a.jpg", quality=92)
    image.convert("RGB").save(plates / "b.jpg", quality=92)
    with (plates.parent / "labels.csv").open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["file", "plate"])
        writer.writerow(["crops/a.jpg", "苏E6T1N0"])  # mislabelled: the photo shows 苏E6T1M0
        writer.writerow(["crops/b.jpg", "苏E6T1N0"])  # the same wrong label, not listed as an error
    corrections = tmp_path / "corrections.csv"
    corrections.write_text(
        f"file,labelled,shown,note\ncrops/a.jpg,苏E6T1N0,{truth['number']},M not N\n", encoding="utf-8"
    )
    out = tmp_path / "accuracy.json"

    args = ["--data", str(tmp_path / "set"), "--label-corrections", str(corrections), "--out", str(out)]
    assert main(args) == 0

    summary = json.loads(out.read_text(encoding="utf-8"))
    assert summary["plates_by_folder"]["set/crops"]["right"] == 0  # labels are scored as given
    assert summary["plates_as_shown"]["set/crops"] == {"right": 1, "total": 2, "accuracy": 0.5}
    shown = {miss["file"].rsplit("/", 1)[-1]: miss.get("photo_shows") for miss in summary["misses"]}
    assert shown == {"a.jpg": truth["number"], "b.jpg": None}


def test_separation_is_the_chance_a_right_read_outscores_a_wrong_one():
    reads = [(0.9, True), (0.8, True), (0.5, False), (0.85, False)]
    # Of the four right/wrong pairs, only 0.8 against 0.85 has the wrong read on top.
    assert separation(reads)["right_above_wrong"] == pytest.approx(0.75)
    assert separation([(0.7, True), (0.7, False)])["right_above_wrong"] == pytest.approx(0.5)
    assert separation([(0.2, True), (0.9, False)])["right_above_wrong"] == 0.0
    summary = separation([(0.9, True), (0.7, True)])
    assert summary["right_above_wrong"] is None and summary["right_median"] == pytest.approx(0.8)
