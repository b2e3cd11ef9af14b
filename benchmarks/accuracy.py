"""Accuracy of a vendor (the embedded engine by default) on labelled plates and licence pages.

    python benchmarks/accuracy.py --data DIR [--data DIR ...] [--specimens N] [--vendor local]

A data folder is laid out as:
    DIR/plates/labels.csv      columns `file,plate` (+ optional `kind`); `file` relative to DIR/plates;
                               a photo holding several plates has one row per plate
    DIR/driving/NAME.jpg + NAME.gt.json, DIR/vehicle/NAME.jpg + NAME.gt.json, each gt.json holding
                               {"side": "front"|"back", "fields": {normalized field: value}}
Any part may be missing. `--specimens N` also renders N seeded specimens of every page, plate crop and
plate scene with random degradations (rotations included) into a temporary folder and measures them.

Plates are scored by exact match: a labelled plate counts when the vendor returned that number among
the plates of its photo. Labels are scored as given; where a label disagrees with what its photo plainly
shows (benchmarks/plate_label_corrections.csv: file, label, what the plate shows, why), the plate is
also scored against the photo, in a second table, so a wrong label neither hides nor inflates a miss.
Licence fields are scored per field, after the same checks a chat reply gets
(check-digit repairs included), so the figure is what a user sees. Prints tables and writes JSON.
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import json
import resource
import statistics
import sys
import tempfile
import time
from bisect import bisect_left, bisect_right
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bot.images import MIN_SHORT_SIDE, MIN_SHORT_SIDE_PLATE, ImageRejected, load  # noqa: E402
from bot.vendors.base import Vendor, VendorError, build_vendor  # noqa: E402
from handlers.checks import run_checks  # noqa: E402

DEFAULT_OUT = ROOT / "benchmarks" / "results" / "accuracy.json"
DEFAULT_CORRECTIONS = ROOT / "benchmarks" / "plate_label_corrections.csv"


@dataclass
class Tally:
    right: int = 0
    total: int = 0

    def add(self, ok: bool) -> None:
        self.right += int(ok)
        self.total += 1

    @property
    def rate(self) -> float | None:
        return self.right / self.total if self.total else None

    def as_dict(self) -> dict[str, Any]:
        return {"right": self.right, "total": self.total, "accuracy": self.rate}


@dataclass
class Report:
    plates_by_folder: dict[str, Tally] = field(default_factory=lambda: defaultdict(Tally))
    plates_by_kind: dict[str, Tally] = field(default_factory=lambda: defaultdict(Tally))
    #: The same folders scored against what the photos show, where a label is known to be wrong.
    plates_as_shown: dict[str, Tally] = field(default_factory=lambda: defaultdict(Tally))
    fields: dict[str, Tally] = field(default_factory=lambda: defaultdict(Tally))
    pages: dict[str, Tally] = field(default_factory=lambda: defaultdict(Tally))
    plate_seconds: list[float] = field(default_factory=list)
    licence_seconds: list[float] = field(default_factory=list)
    misses: list[dict[str, Any]] = field(default_factory=list)
    #: (confidence, right) of each photo's leading plate and of each licence field read, to measure
    #: whether the engine's confidence tells its right reads from its wrong ones.
    plate_confidence: list[tuple[float, bool]] = field(default_factory=list)
    field_confidence: list[tuple[float, bool]] = field(default_factory=list)


def load_corrections(path: Path | None) -> dict[tuple[str, str], str]:
    """(file, label as given) -> what the plate shows. Keyed on the label too, so a data set whose label
    has since been fixed is scored as it is."""
    if path is None or not path.is_file():
        return {}
    with path.open(encoding="utf-8") as handle:
        return {(row["file"], row["labelled"]): row["shown"] for row in csv.DictReader(handle)}


async def read_plates(
    vendor: Vendor, root: Path, name: str, report: Report, corrections: dict[tuple[str, str], str]
) -> None:
    labels = root / "plates" / "labels.csv"
    if not labels.is_file():
        return
    by_file: dict[str, list[dict[str, str]]] = defaultdict(list)
    with labels.open(encoding="utf-8") as handle:
        for row in csv.DictReader(handle):
            by_file[row["file"]].append(row)
    for file, rows in by_file.items():
        seconds, numbers, confidence = await _timed_plates(vendor, root / "plates" / file)
        report.plate_seconds.append(seconds)
        if confidence is not None:
            # Judged against what the photo shows, so a label error does not count a right read wrong.
            plates_shown = {corrections.get((file, row["plate"]), row["plate"]) for row in rows}
            report.plate_confidence.append((confidence, numbers[0] in plates_shown))
        for row in rows:
            ok = row["plate"] in numbers
            folder = f"{name}/{Path(file).parts[0]}" if len(Path(file).parts) > 1 else name
            report.plates_by_folder[folder].add(ok)
            report.plates_by_kind[row.get("kind") or "unlabelled"].add(ok)
            shown = corrections.get((file, row["plate"]))
            report.plates_as_shown[folder].add(ok if shown is None else shown in numbers)
            if not ok:
                miss = {"file": f"{name}/plates/{file}", "want": row["plate"], "got": numbers}
                report.misses.append(miss if shown is None else {**miss, "photo_shows": shown})


async def _timed_plates(vendor: Vendor, path: Path) -> tuple[float, list[str], float | None]:
    """Seconds, the plate numbers read, and the confidence of the first (the one a reply leads with)."""
    started = time.perf_counter()
    confidence = None
    try:
        image = load(path.read_bytes(), min_side=MIN_SHORT_SIDE_PLATE)
        recognition = await vendor.recognize("plate", "front", image)
        numbers = [plate.number for plate in recognition.plates]
        confidence = recognition.plates[0].confidence if recognition.plates else None
    except (ImageRejected, VendorError) as error:
        numbers = [f"<{type(error).__name__}>"]
    return time.perf_counter() - started, numbers, confidence


async def read_licences(vendor: Vendor, root: Path, name: str, report: Report, today: date) -> None:
    for kind in ("driving", "vehicle"):
        for truth_path in sorted((root / kind).glob("*.gt.json")):
            truth = json.loads(truth_path.read_text(encoding="utf-8"))
            side = truth.get("side", "front")
            image_path = _image_beside(truth_path)
            started = time.perf_counter()
            values: dict[str, Any] = {}
            confidences: dict[str, float | None] = {}
            try:
                image = load(image_path.read_bytes(), min_side=MIN_SHORT_SIDE)
                recognition = await vendor.recognize(kind, side, image)
                if recognition.document is not None:
                    confidences = {name: meta.confidence for name, meta in recognition.document.meta.items()}
                values = run_checks(recognition, today=today).fields()
            except (ImageRejected, VendorError):
                pass
            report.licence_seconds.append(time.perf_counter() - started)
            all_right = True
            for field_name, expected in truth["fields"].items():
                ok = _same(values.get(field_name), expected)
                report.fields[f"{kind}.{side}.{field_name}"].add(ok)
                confidence = confidences.get(field_name)
                if values.get(field_name) not in (None, "") and confidence is not None:
                    report.field_confidence.append((confidence, ok))
                all_right &= ok
                if not ok:
                    got = values.get(field_name)
                    report.misses.append(
                        {
                            "file": f"{name}/{kind}/{image_path.name}",
                            "field": field_name,
                            "want": expected,
                            "got": got,
                            "confidence": confidence,
                            "degradations": truth.get("degradations", []),
                        }
                    )
            report.pages[f"{kind}.{side}"].add(all_right)


def _image_beside(truth_path: Path) -> Path:
    stem = truth_path.name.removesuffix(".gt.json")
    for candidate in truth_path.parent.glob(stem + ".*"):
        if not candidate.name.endswith(".gt.json"):
            return candidate
    raise FileNotFoundError(f"no image beside {truth_path}")


def _same(got: Any, expected: Any) -> bool:
    if expected in (None, "") and got in (None, ""):
        return True
    return str(got).strip() == str(expected).strip()


def percentile(values: list[float], q: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))
    return ordered[index]


def separation(reads: list[tuple[float, bool]]) -> dict[str, Any]:
    """How well a confidence tells right reads from wrong ones: the chance that a right read scores
    higher than a wrong one (ties count half; the area under the ROC curve), with each side's median.
    0.5 means the confidence says nothing; None when either side is empty."""
    right = [score for score, ok in reads if ok]
    wrong = [score for score, ok in reads if not ok]
    summary: dict[str, Any] = {
        "right": len(right),
        "wrong": len(wrong),
        "right_median": statistics.median(right) if right else None,
        "wrong_median": statistics.median(wrong) if wrong else None,
        "right_above_wrong": None,
    }
    if right and wrong:
        ordered = sorted(right)
        # For each wrong read, the right reads it outscores (and half those it ties with).
        wrong_on_top = sum(
            bisect_left(ordered, score) + 0.5 * (bisect_right(ordered, score) - bisect_left(ordered, score))
            for score in wrong
        )
        summary["right_above_wrong"] = 1 - wrong_on_top / (len(right) * len(wrong))
    return summary


def summarize(report: Report, args: argparse.Namespace) -> dict[str, Any]:
    tallies = report.fields.values()
    all_fields = Tally(sum(t.right for t in tallies), sum(t.total for t in tallies))
    return {
        "vendor": args.vendor,
        "plates_by_folder": {k: v.as_dict() for k, v in sorted(report.plates_by_folder.items())},
        "plates_by_kind": {k: v.as_dict() for k, v in sorted(report.plates_by_kind.items())},
        "plates_as_shown": {k: v.as_dict() for k, v in sorted(report.plates_as_shown.items())},
        "fields_overall": all_fields.as_dict(),
        "fields": {k: v.as_dict() for k, v in sorted(report.fields.items())},
        "pages_all_fields_right": {k: v.as_dict() for k, v in sorted(report.pages.items())},
        "plate_seconds": _timing(report.plate_seconds),
        "licence_seconds": _timing(report.licence_seconds),
        "confidence": {
            "plates": separation(report.plate_confidence),
            "fields": separation(report.field_confidence),
        },
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "misses": report.misses[: args.keep_misses],
    }


def _timing(values: list[float]) -> dict[str, Any]:
    return {
        "count": len(values),
        "median": statistics.median(values) if values else None,
        "p95": percentile(values, 0.95),
    }


def print_summary(summary: dict[str, Any]) -> None:
    def table(title: str, rows: dict[str, dict[str, Any]]) -> None:
        if not rows:
            return
        print(f"\n{title}")
        for key, tally in rows.items():
            rate = "-" if tally["accuracy"] is None else f"{tally['accuracy']:.1%}"
            print(f"  {key:<40}{tally['right']:>6}/{tally['total']:<6}{rate:>8}")

    table("plates, exact match, by folder", summary["plates_by_folder"])
    table("plates, exact match, by kind", summary["plates_by_kind"])
    if summary["plates_as_shown"] != summary["plates_by_folder"]:
        table("plates, exact match against what the photo shows (label errors)", summary["plates_as_shown"])
    table("licence fields", summary["fields"])
    overall = summary["fields_overall"]
    if overall["total"]:
        print(f"\n  all licence fields: {overall['right']}/{overall['total']} = {overall['accuracy']:.2%}")
    for label in ("plate_seconds", "licence_seconds"):
        timing = summary[label]
        if timing["count"]:
            median, p95, count = timing["median"], timing["p95"], timing["count"]
            print(f"  {label}: median {median:.3f} s, p95 {p95:.3f} s over {count}")
    for label, reads in summary["confidence"].items():
        if reads["right_above_wrong"] is not None:
            print(
                f"  confidence, {label}: a right read scores above a wrong one"
                f" {reads['right_above_wrong']:.0%} of the time (medians {reads['right_median']:.2f} right,"
                f" {reads['wrong_median']:.2f} wrong; {reads['right']} right, {reads['wrong']} wrong)"
            )
    print(f"  peak RSS: {summary['peak_rss_mb']:.0f} MB")


async def run(args: argparse.Namespace) -> dict[str, Any]:
    vendor = build_vendor(args.vendor, {})
    report = Report()
    corrections = load_corrections(args.label_corrections)
    roots = [(Path(path), Path(path).name) for path in args.data]
    with tempfile.TemporaryDirectory() as scratch:
        if args.specimens:
            from tests.specimens import generate

            generate(Path(scratch), count=args.specimens, seed=args.seed, degradations=args.degrade)
            roots.append((Path(scratch), "specimens"))
        for root, name in roots:
            await read_plates(vendor, root, name, report, corrections)
            await read_licences(vendor, root, name, report, args.today)
    await vendor.aclose()
    return summarize(report, args)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", action="append", default=[], metavar="DIR", help="a labelled data folder")
    parser.add_argument("--specimens", type=int, default=0, metavar="N", help="also render N specimens")
    parser.add_argument("--seed", type=int, default=2024)
    parser.add_argument("--degrade", default="all", help="specimen degradations: none, mild, all")
    parser.add_argument("--vendor", default="local")
    parser.add_argument("--today", type=date.fromisoformat, default=date(2025, 6, 1))
    parser.add_argument("--keep-misses", type=int, default=200, help="misses kept in the JSON")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    parser.add_argument(
        "--label-corrections",
        type=Path,
        default=DEFAULT_CORRECTIONS,
        metavar="CSV",
        help="plates whose label disagrees with the photo (file,labelled,shown,note)",
    )
    args = parser.parse_args(argv)
    if not args.data and not args.specimens:
        parser.error("give --data DIR and/or --specimens N")
    summary = asyncio.run(run(args))
    print_summary(summary)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(summary, ensure_ascii=False, indent=2, default=str), encoding="utf-8")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
