"""Accuracy of a vendor (the embedded engine by default) on labelled plates and licence pages.

    python benchmarks/accuracy.py --data DIR [--data DIR ...] [--specimens N] [--vendor local]
                                  [--config TOML]

A data folder is laid out as:
    DIR/plates/labels.csv      columns `file,plate` (+ optional `kind`); `file` relative to DIR/plates;
                               a photo holding several plates has one row per plate
    DIR/driving/NAME.jpg + NAME.gt.json, DIR/vehicle/NAME.jpg + NAME.gt.json (subfolders too), each
                               gt.json holding {"fields": {normalized field: value}} and, where its
                               fields could be either page's, "side": "front" or "back"
Any part may be missing. Plates are reported per folder (the first folder under plates/) and per kind:
the `kind` column where the set has one, else the format the plate grammar gives the label.
`--specimens N` also renders N seeded driving and N vehicle pages (fronts and backs in turn, so N/2 of
each page), N plate crops and N plate scenes, with random degradations (rotations included), into a
temporary folder and measures them; `--names real` gives its people names as real people bear them.
A cloud vendor takes its keys from the bot's config (`--config`).

Nothing in a data folder is skipped unseen: a photo without a label or truth file, a label without its
photo, a truth file without fields or naming a field its page lacks are listed under "problems"; a photo
the vendor refuses or fails on is scored as a miss, listed under "failed", and kept out of the timings.
One read before the clock starts takes the model load (or a cloud vendor's connection) off the first photo.

Plates are scored by exact match: a labelled plate counts when the vendor returned that number among
the plates of its photo (both spelled as the grammar normalizes them: ``京A·12345`` is ``京A12345``).
Labels are scored as given; where a label disagrees with what its photo plainly shows
(benchmarks/plate_label_corrections.csv: file, label, what the plate shows, why), the plate is also
scored against the photo, in a second table, so a wrong label neither hides nor inflates a miss.
Licence fields are scored per field, after the same checks a chat reply gets (check-digit repairs
included), so the figure is what a user sees. Prints tables and writes JSON.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import csv
import io
import json
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

from benchmarks.figures import peak_rss_mb, percentile  # noqa: E402
from bot.config import ConfigError, load_config  # noqa: E402
from bot.images import MIN_SHORT_SIDE, MIN_SHORT_SIDE_PLATE, ImageRejected, load  # noqa: E402
from bot.models import DOCUMENT_MODELS, SIDES, Kind, Side  # noqa: E402
from bot.plate_grammar import normalize_plate, parse_plate  # noqa: E402
from bot.vendors.base import Vendor, VendorError, build_vendor  # noqa: E402
from handlers.checks import run_checks  # noqa: E402
from tests.specimens import generate, render_plate  # noqa: E402
from tests.specimens.data import NAME_POOLS  # noqa: E402

DEFAULT_OUT = ROOT / "benchmarks" / "results" / "accuracy.json"
DEFAULT_CORRECTIONS = ROOT / "benchmarks" / "plate_label_corrections.csv"
IMAGE_SUFFIXES = frozenset({".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff"})


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
    #: Fields of pages that went through each degradation (a rendered page's truth names those it had;
    #: a page with several counts under each), so what fails can be told from what the photo suffered.
    fields_by_degradation: dict[str, Tally] = field(default_factory=lambda: defaultdict(Tally))
    pages: dict[str, Tally] = field(default_factory=lambda: defaultdict(Tally))
    plate_seconds: list[float] = field(default_factory=list)
    licence_seconds: list[float] = field(default_factory=list)
    misses: list[dict[str, Any]] = field(default_factory=list)
    #: (confidence, right) of each photo's leading plate and of each licence field read, to measure
    #: whether the engine's confidence tells its right reads from its wrong ones.
    plate_confidence: list[tuple[float, bool]] = field(default_factory=list)
    field_confidence: list[tuple[float, bool]] = field(default_factory=list)
    #: Photos the vendor refused or failed on: scored as misses, kept out of the timings.
    failures: list[dict[str, str]] = field(default_factory=list)
    #: What in the data could not be scored (a missing image, a truth file without fields...).
    problems: list[str] = field(default_factory=list)


def load_corrections(path: Path | None) -> dict[tuple[str, str], str]:
    """(file, label as given) -> what the plate shows. Keyed on the label too, so a data set whose label
    has since been fixed is scored as it is."""
    if path is None or not path.is_file():
        return {}
    with path.open(encoding="utf-8-sig", newline="") as handle:
        return {
            (row["file"], normalize_plate(row["labelled"])): normalize_plate(row["shown"])
            for row in csv.DictReader(handle)
        }


async def read_plates(
    vendor: Vendor, root: Path, name: str, report: Report, corrections: dict[tuple[str, str], str]
) -> None:
    folder = root / "plates"
    labels = folder / "labels.csv"
    if not labels.is_file():
        if folder.is_dir():
            report.problems.append(f"{name}/plates: no labels.csv, so none of its photos was measured")
        return
    by_file: dict[str, list[dict[str, str]]] = defaultdict(list)
    # utf-8-sig: a labels file saved by Excel starts with a byte-order mark, which would rename `file`.
    with labels.open(encoding="utf-8-sig", newline="") as handle:
        reader = csv.DictReader(handle)
        if not {"file", "plate"} <= set(reader.fieldnames or ()):
            report.problems.append(
                f"{name}/plates/labels.csv: needs the columns file,plate; has {reader.fieldnames}"
            )
            return
        for number, row in enumerate(reader, start=2):
            if not (row.get("file") or "").strip() or not (row.get("plate") or "").strip():
                report.problems.append(
                    f"{name}/plates/labels.csv line {number}: no file or no plate; not scored"
                )
                continue
            by_file[row["file"].strip()].append(row)
    _report_unlisted(folder, set(by_file), f"{name}/plates", "no row in labels.csv", report)
    for file, rows in by_file.items():
        path = folder / file
        if not path.is_file():
            report.problems.append(
                f"{name}/plates/{file}: in labels.csv but no such file; its plates were not scored"
            )
            continue
        seconds, numbers, confidence, error = await _timed_plates(vendor, path)
        if error is None:
            report.plate_seconds.append(seconds)
        else:
            report.failures.append({"file": f"{name}/plates/{file}", "error": error})
        wanted = [normalize_plate(row["plate"]) for row in rows]
        if confidence is not None:
            # Judged against what the photo shows, so a label error does not count a right read wrong.
            plates_shown = {corrections.get((file, plate), plate) for plate in wanted}
            report.plate_confidence.append((confidence, numbers[0] in plates_shown))
        for row, plate in zip(rows, wanted, strict=True):
            ok = plate in numbers
            folder_name = f"{name}/{Path(file).parts[0]}" if len(Path(file).parts) > 1 else name
            report.plates_by_folder[folder_name].add(ok)
            report.plates_by_kind[_plate_kind(row, plate)].add(ok)
            shown = corrections.get((file, plate))
            report.plates_as_shown[folder_name].add(ok if shown is None else shown in numbers)
            if not ok:
                miss = {"file": f"{name}/plates/{file}", "want": plate, "got": numbers}
                if error is not None:
                    miss["error"] = error
                report.misses.append(miss if shown is None else {**miss, "photo_shows": shown})


def _plate_kind(row: dict[str, str], plate: str) -> str:
    """The set's own `kind` column where it has one (it can say what a number cannot: a plate's colour,
    a crop or a street scene); otherwise the format the plate grammar gives the labelled number."""
    if row.get("kind"):
        return row["kind"]
    parsed = parse_plate(plate)
    return parsed.kind if parsed else "not a plate number"


async def _timed_plates(vendor: Vendor, path: Path) -> tuple[float, list[str], float | None, str | None]:
    """Seconds, the plate numbers read, the confidence of the first (the one a reply leads with), and why
    the photo could not be read at all."""
    started = time.perf_counter()
    try:
        image = load(path.read_bytes(), min_side=MIN_SHORT_SIDE_PLATE)
        recognition = await vendor.recognize("plate", "front", image)
    except (ImageRejected, VendorError) as error:
        return time.perf_counter() - started, [], None, _describe(error)
    numbers = [normalize_plate(plate.number) for plate in recognition.plates]
    confidence = recognition.plates[0].confidence if recognition.plates else None
    return time.perf_counter() - started, numbers, confidence, None


def _describe(error: Exception) -> str:
    return f"{type(error).__name__}: {error}"


async def read_licences(vendor: Vendor, root: Path, name: str, report: Report, today: date) -> None:
    for kind in ("driving", "vehicle"):
        folder = root / kind
        if not folder.is_dir():
            continue
        truths = sorted(folder.rglob("*.gt.json"))
        listed = {str(path.relative_to(folder)).removesuffix(".gt.json") for path in truths}
        _report_unlisted(folder, listed, f"{name}/{kind}", "no .gt.json beside it", report, by_stem=True)
        for truth_path in truths:
            await _read_licence(vendor, kind, truth_path, f"{name}/{kind}", report, today)


async def _read_licence(
    vendor: Vendor, kind: Kind, truth_path: Path, where: str, report: Report, today: date
) -> None:
    label = f"{where}/{truth_path.name}"
    try:
        truth = json.loads(truth_path.read_text(encoding="utf-8-sig"))
        expected_fields = truth["fields"]
        if not isinstance(expected_fields, dict):
            raise TypeError(f"fields is a {type(expected_fields).__name__}")
    except (ValueError, KeyError, TypeError) as error:
        report.problems.append(
            f'{label}: not {{"fields": {{...}}}} JSON ({_describe(error)}); page not scored'
        )
        return
    side = _page_side(kind, truth)
    if side is None:
        report.problems.append(
            f'{label}: its fields do not tell the front page from the back; add "side": "front" or "back"'
        )
        return
    known = _field_names(kind, side)
    unknown = sorted(set(expected_fields) - known)
    if unknown:
        report.problems.append(f"{label}: no {kind} {side} field is named {', '.join(unknown)}; not scored")
    image_path = _image_beside(truth_path)
    if image_path is None:
        report.problems.append(f"{label}: no image beside it; page not scored")
        return
    started = time.perf_counter()
    values: dict[str, Any] = {}
    confidences: dict[str, float | None] = {}
    error = None
    try:
        image = load(image_path.read_bytes(), min_side=MIN_SHORT_SIDE)
        recognition = await vendor.recognize(kind, side, image)
        if recognition.document is not None:
            confidences = {field: meta.confidence for field, meta in recognition.document.meta.items()}
        values = run_checks(recognition, today=today).fields()
    except (ImageRejected, VendorError) as failure:
        error = _describe(failure)
        report.failures.append({"file": f"{where}/{image_path.name}", "error": error})
    else:
        report.licence_seconds.append(time.perf_counter() - started)
    all_right = True
    for field_name, expected in expected_fields.items():
        if field_name in unknown:
            continue
        ok = _same(values.get(field_name), expected)
        report.fields[f"{kind}.{side}.{field_name}"].add(ok)
        for degradation in truth.get("degradations") or ["none"]:
            report.fields_by_degradation[degradation].add(ok)
        confidence = confidences.get(field_name)
        if values.get(field_name) not in (None, "") and confidence is not None:
            report.field_confidence.append((confidence, ok))
        all_right &= ok
        if not ok:
            miss = {
                "file": f"{where}/{image_path.name}",
                "field": field_name,
                "want": expected,
                "got": values.get(field_name),
                "confidence": confidence,
                "degradations": truth.get("degradations", []),
            }
            report.misses.append(miss if error is None else {**miss, "error": error})
    report.pages[f"{kind}.{side}"].add(all_right)


def _field_names(kind: Kind, side: Side) -> set[str]:
    """A page's fields as a data set names them: the document's card fields, `class` for `class_`."""
    model = DOCUMENT_MODELS[(kind, side)]
    return {model.model_fields[name].alias or name for name in model.field_names()}


def _page_side(kind: Kind, truth: dict[str, Any]) -> Side | None:
    """The side the truth file names, or else the one page whose fields include all of its own (a 副页
    number and name alone could be either)."""
    if truth.get("side") in ("front", "back"):
        return truth["side"]
    if truth.get("side") is not None:
        return None
    fitting = [side for side in SIDES if set(truth["fields"]) <= _field_names(kind, side)]
    return fitting[0] if len(fitting) == 1 else None


def _image_beside(truth_path: Path) -> Path | None:
    stem = truth_path.name.removesuffix(".gt.json")
    for candidate in sorted(truth_path.parent.iterdir()):
        if candidate.stem == stem and candidate.suffix.lower() in IMAGE_SUFFIXES:
            return candidate
    return None


def _report_unlisted(
    folder: Path, listed: set[str], where: str, why: str, report: Report, *, by_stem: bool = False
) -> None:
    """Photos in a data folder that nothing scores are named, so a set is never measured short unseen."""
    unlisted = []
    for path in sorted(folder.rglob("*")):
        if path.suffix.lower() not in IMAGE_SUFFIXES:
            continue
        relative = path.relative_to(folder)
        key = str(relative.with_suffix("")) if by_stem else str(relative)
        if key not in listed:
            unlisted.append(str(relative))
    if unlisted:
        shown = ", ".join(unlisted[:5]) + (f" and {len(unlisted) - 5} more" if len(unlisted) > 5 else "")
        report.problems.append(f"{where}: {len(unlisted)} photos have {why} and were not measured: {shown}")


def _same(got: Any, expected: Any) -> bool:
    if expected in (None, "") and got in (None, ""):
        return True
    return str(got).strip() == str(expected).strip()


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
        "fields_by_degradation": {k: v.as_dict() for k, v in sorted(report.fields_by_degradation.items())},
        "pages_all_fields_right": {k: v.as_dict() for k, v in sorted(report.pages.items())},
        "plate_seconds": _timing(report.plate_seconds),
        "licence_seconds": _timing(report.licence_seconds),
        "confidence": {
            "plates": separation(report.plate_confidence),
            "fields": separation(report.field_confidence),
        },
        "peak_rss_mb": peak_rss_mb(),
        "failed": {"count": len(report.failures), "photos": report.failures[: args.keep_misses]},
        "problems": report.problems,
        "misses": report.misses[: args.keep_misses],
    }


def _timing(values: list[float]) -> dict[str, Any]:
    return {
        "count": len(values),
        "median": statistics.median(values) if values else None,
        "p95": percentile(values, 0.95) if values else None,
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
    if set(summary["fields_by_degradation"]) - {"none"}:  # only rendered pages name their degradations
        table(
            "licence fields, by what the photo went through (a page counts under each)",
            summary["fields_by_degradation"],
        )
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
    failed = summary["failed"]
    if failed["count"]:
        print(f"\n{failed['count']} photos could not be read (scored as misses, not timed), e.g.:")
        for photo in failed["photos"][:5]:
            print(f"  {photo['file']}: {photo['error']}")
    if summary["problems"]:
        print(f"\n{len(summary['problems'])} problems in the data (not scored):")
        for problem in summary["problems"]:
            print(f"  {problem}")


async def run(args: argparse.Namespace, vendor_table: dict[str, Any]) -> dict[str, Any]:
    vendor = build_vendor(args.vendor, vendor_table)
    report = Report()
    corrections = load_corrections(args.label_corrections)
    roots = _named_roots(args.data)
    with tempfile.TemporaryDirectory() as scratch:
        if args.specimens:
            rendered = Path(scratch)
            generate(rendered, args.specimens, args.seed, degradations=args.degrade, names=args.names)
            taken = any(name.split("#")[0] == "specimens" for _, name in roots)
            roots.append((rendered, "specimens#rendered" if taken else "specimens"))
        await _warm_up(vendor)
        for root, name in roots:
            if not any((root / part).is_dir() for part in ("plates", "driving", "vehicle")):
                report.problems.append(f"{name}: no plates/, driving/ or vehicle/ folder; nothing measured")
            await read_plates(vendor, root, name, report, corrections)
            await read_licences(vendor, root, name, report, args.today)
    await vendor.aclose()
    return summarize(report, args)


def _named_roots(folders: list[str]) -> list[tuple[Path, str]]:
    """Each data folder with the name its rows are reported under: the folder's own name (``.`` too),
    numbered where two folders share one, so their figures are never summed into one row."""
    roots: list[tuple[Path, str]] = []
    for folder in folders:
        path = Path(folder).resolve()
        taken = sum(1 for _, name in roots if name.split("#")[0] == path.name)
        roots.append((path, f"{path.name}#{taken + 1}" if taken else path.name))
    return roots


async def _warm_up(vendor: Vendor) -> None:
    """One read before the clock starts: the embedded engine loads its models on its first call (about a
    second), a cloud vendor opens its connection (one call it bills), and either would otherwise be
    counted against the first photo."""
    image, _ = render_plate("京A12345", "blue")
    buffer = io.BytesIO()
    image.convert("RGB").save(buffer, "JPEG", quality=92)
    with contextlib.suppress(ImageRejected, VendorError):  # the measured photos meet it too, and say so
        await vendor.recognize("plate", "front", load(buffer.getvalue(), min_side=MIN_SHORT_SIDE_PLATE))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", action="append", default=[], metavar="DIR", help="a labelled data folder")
    parser.add_argument("--specimens", type=int, default=0, metavar="N", help="also render N specimens")
    parser.add_argument("--seed", type=int, default=2024)
    parser.add_argument("--degrade", default="all", help="specimen degradations: none, mild, all")
    parser.add_argument(
        "--names",
        choices=NAME_POOLS,
        default="common",
        help="specimen names: common (a few dozen popular given-name characters) or real (as often as "
        "people are given them)",
    )
    parser.add_argument("--vendor", default="local")
    parser.add_argument(
        "--config",
        type=Path,
        metavar="TOML",
        help="the bot's config, for a cloud vendor's keys (default: ./config.toml and the environment)",
    )
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
    for folder in args.data:
        if not Path(folder).is_dir():
            parser.error(f"--data {folder}: no such folder")
    vendor_table: dict[str, Any] = {}
    if args.vendor != "local":
        try:
            vendor_table = load_config(args.config).vendors.table(args.vendor)
        except ConfigError as error:
            parser.error(str(error))
        if not vendor_table:
            parser.error(f"no [vendors.{args.vendor}] keys: give --config with them")
    summary = asyncio.run(run(args, vendor_table))
    print_summary(summary)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(summary, ensure_ascii=False, indent=2, default=str), encoding="utf-8")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
