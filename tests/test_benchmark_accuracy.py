"""The accuracy benchmark runs on any folder in the documented layout and writes its JSON."""

from __future__ import annotations

import csv
import json
import os
import random
from pathlib import Path

import pytest

from benchmarks.accuracy import main, separation
from tests.specimens import make_person, render_driving, render_plate


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


def _plate_photo(path: Path, number: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    image, _ = render_plate(number, "blue")
    image.convert("RGB").save(path, quality=92)


def test_labels_saved_by_excel_are_read_and_what_cannot_be_scored_is_named(tmp_path: Path):
    plates = tmp_path / "set" / "plates"
    _plate_photo(plates / "a.jpg", "苏E6T1M0")
    _plate_photo(plates / "unlabelled.jpg", "京A12345")
    # A byte-order mark and CRLF rows, as Excel writes them; a row whose photo is gone; a label spelled
    # with a separator and a space; no kind column.
    rows = "file,plate\r\na.jpg, 苏E·6T1M0\r\ngone.jpg,京A00000\r\nunlabelled.jpg\r\n"
    (plates / "labels.csv").write_text(rows, encoding="utf-8-sig")
    out = tmp_path / "accuracy.json"

    assert main(["--data", str(tmp_path / "set"), "--out", str(out)]) == 0

    summary = json.loads(out.read_text(encoding="utf-8"))
    assert summary["plates_by_folder"]["set"] == {"right": 1, "total": 1, "accuracy": 1.0}
    # Without a kind column the kind is the format the grammar gives the labelled number.
    assert summary["plates_by_kind"] == {"ordinary": {"right": 1, "total": 1, "accuracy": 1.0}}
    problems = " | ".join(summary["problems"])
    assert "gone.jpg: in labels.csv but no such file" in problems
    assert "1 photos have no row in labels.csv" in problems and "unlabelled.jpg" in problems
    assert "labels.csv line 4: no file or no plate" in problems


def test_licence_truth_files_that_cannot_be_scored_are_named_and_the_rest_still_run(tmp_path: Path):
    driving = tmp_path / "set" / "driving"
    driving.mkdir(parents=True)
    image, truth = render_driving(make_person(random.Random(3)), "new", "back")
    image.convert("RGB").save(driving / "scan[1].jpg", quality=92)  # glob characters in the name
    # No "side": the back page's own fields (档案编号, 记录) say which page it is.
    (driving / "scan[1].gt.json").write_text(
        json.dumps({"fields": truth}, ensure_ascii=False), encoding="utf-8"
    )
    (driving / "nofields.gt.json").write_text('{"side": "front"}', encoding="utf-8")
    (driving / "nullfields.gt.json").write_text('{"side": "front", "fields": null}', encoding="utf-8")
    (driving / "noimage.gt.json").write_text(
        '{"side": "front", "fields": {"name": "张三"}}', encoding="utf-8"
    )
    ambiguous = {"fields": {"number": truth["number"], "name": truth["name"]}}
    (driving / "either.gt.json").write_text(json.dumps(ambiguous, ensure_ascii=False), encoding="utf-8")
    image.convert("RGB").save(driving / "either.jpg", quality=92)
    out = tmp_path / "accuracy.json"

    assert main(["--data", str(tmp_path / "set"), "--out", str(out)]) == 0

    summary = json.loads(out.read_text(encoding="utf-8"))
    assert set(summary["fields"]) == {f"driving.back.{name}" for name in truth}
    assert summary["pages_all_fields_right"]["driving.back"]["total"] == 1
    problems = " | ".join(summary["problems"])
    assert 'nofields.gt.json: not {"fields": {...}} JSON' in problems
    assert 'nullfields.gt.json: not {"fields": {...}} JSON' in problems
    assert "noimage.gt.json: no image beside it" in problems
    assert 'either.gt.json: its fields do not tell the front page from the back; add "side"' in problems


def test_a_folder_that_is_not_there_and_a_cloud_vendor_without_keys_are_refused(tmp_path: Path):
    with pytest.raises(SystemExit) as missing:
        main(["--data", str(tmp_path / "nowhere"), "--out", str(tmp_path / "a.json")])
    assert missing.value.code == 2
    env = {key: value for key, value in os.environ.items() if not key.startswith("LICENCE_BOT_")}
    with pytest.MonkeyPatch.context() as patch:
        patch.chdir(tmp_path)  # no config.toml here
        patch.setattr(os, "environ", env)
        with pytest.raises(SystemExit) as keyless:
            main(["--data", str(tmp_path), "--vendor", "tencent", "--out", str(tmp_path / "a.json")])
    assert keyless.value.code == 2
    assert not (tmp_path / "a.json").exists()


def test_two_data_folders_with_one_name_are_reported_apart(tmp_path: Path):
    for parent, number in (("one", "苏E6T1M0"), ("two", "京A12345")):
        plates = tmp_path / parent / "set" / "plates"
        _plate_photo(plates / "a.jpg", number)
        (plates / "labels.csv").write_text(f"file,plate\na.jpg,{number}\n", encoding="utf-8")
    out = tmp_path / "accuracy.json"

    assert (
        main(
            [
                "--data",
                str(tmp_path / "one" / "set"),
                "--data",
                str(tmp_path / "two" / "set"),
                "--out",
                str(out),
            ]
        )
        == 0
    )

    rows = json.loads(out.read_text(encoding="utf-8"))["plates_by_folder"]
    assert set(rows) == {"set", "set#2"} and all(row["total"] == 1 for row in rows.values())


def test_fields_are_also_counted_by_what_their_page_went_through(tmp_path: Path, capsys):
    """A rendered page's truth names its degradations; each of its fields counts under every one, and a
    page without them under "none", so what fails can be told from what the photo suffered."""
    driving = tmp_path / "set" / "driving"
    driving.mkdir(parents=True)
    image, truth = render_driving(make_person(random.Random(5)), "new", "back")
    for name, degradations in (("a", ["blur", "small"]), ("b", [])):
        image.convert("RGB").save(driving / f"{name}.jpg", quality=92)
        page = {"side": "back", "fields": truth, "degradations": degradations}
        (driving / f"{name}.gt.json").write_text(json.dumps(page, ensure_ascii=False), encoding="utf-8")
    out = tmp_path / "accuracy.json"

    assert main(["--data", str(tmp_path / "set"), "--out", str(out)]) == 0

    by_degradation = json.loads(out.read_text(encoding="utf-8"))["fields_by_degradation"]
    assert set(by_degradation) == {"blur", "small", "none"}
    assert {tally["total"] for tally in by_degradation.values()} == {len(truth)}
    assert "by what the photo went through" in capsys.readouterr().out
