"""Speed, memory and accuracy of the embedded engine (`local`) on the project's rendered specimens.

    .venv/bin/python -m benchmarks.engine [--count N] [--seed S] [--degrade none|mild] [--out PATH]

Renders `count` specimens of every licence page (driving main page new and old layout, driving 副页,
vehicle main page and 副页), `count` tight plate crops, `count` loose plate crops and `count` street
scenes with two plates, all seeded. Each photo goes through `LocalVendor.recognize_sync` (decode, OCR,
layout, seal, plates) after one warm-up call that loads the models; intake (`bot.images.load`) is outside
the timing because the recognizer does it before any vendor. Prints a table of median and p95 seconds
and field accuracy per category, the peak RSS of the process, and writes the same figures as JSON.
Figures only: nothing here asserts, and timings depend on what else the machine is doing (the load
average is recorded next to them).
"""

from __future__ import annotations

import argparse
import io
import itertools
import json
import os
import platform
import random
import statistics
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from PIL import Image

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # also runnable as `python benchmarks/engine.py`
    sys.path.insert(0, str(ROOT))

from benchmarks.figures import peak_rss_mb, percentile  # noqa: E402
from bot.images import IntakeImage, load  # noqa: E402
from bot.models import Kind, Side  # noqa: E402
from bot.vendors.local import LocalVendor  # noqa: E402
from tests import specimens  # noqa: E402

DEFAULT_OUT = ROOT / "benchmarks" / "results" / "engine.json"
TARGETS = {"licence_median_s": 1.0, "plate_median_s": 0.3, "peak_rss_mb": 700.0}
LICENCE_PAGES = ("driving-front-new", "driving-front-old", "driving-back", "vehicle-front", "vehicle-back")
PLATE_GROUPS = ("plate-crop", "plate-loose", "plate-scene")


@dataclass
class Sample:
    """One photo to time: what to ask for, the intake image, and the fields it must come back with."""

    kind: Kind
    side: Side
    image: IntakeImage
    truth: dict[str, Any] | list[dict[str, Any]]


@dataclass
class Tally:
    seconds: list[float] = field(default_factory=list)
    fields_right: int = 0
    fields_total: int = 0
    exact: int = 0
    extra: int = 0
    #: What was read wrong, for whoever improves the engine next (fake specimen data, nothing personal).
    misses: list[dict[str, Any]] = field(default_factory=list)

    def summary(self) -> dict[str, Any]:
        ordered = sorted(self.seconds)
        return {
            "n": len(ordered),
            "median_s": round(statistics.median(ordered), 3),
            "p95_s": round(percentile(ordered, 0.95), 3),
            "mean_s": round(statistics.fmean(ordered), 3),
            "field_accuracy": round(self.fields_right / self.fields_total, 4) if self.fields_total else None,
            "exact": self.exact,
            "extra_plates": self.extra,
        }


def intake(
    image: Image.Image, degradations: list[str], rng: random.Random, backdrop: str = "desk"
) -> IntakeImage:
    if degradations:
        image = specimens.degrade(image, degradations, rng, backdrop=backdrop)  # type: ignore[arg-type]
    buffer = io.BytesIO()
    image.convert("RGB").save(buffer, "JPEG", quality=92)
    return load(buffer.getvalue(), min_side=15)


def licence_pages(
    person: specimens.Person, vehicle: specimens.Vehicle
) -> Iterator[tuple[str, Kind, Side, Any]]:
    """Every licence page of one person and one vehicle, rendered one at a time (name, kind, side, render)."""
    yield "driving-front-new", "driving", "front", specimens.render_driving(person, "new", "front")
    yield "driving-front-old", "driving", "front", specimens.render_driving(person, "old", "front")
    yield "driving-back", "driving", "back", specimens.render_driving(person, "new", "back")
    yield "vehicle-front", "vehicle", "front", specimens.render_vehicle(vehicle, "front")
    yield "vehicle-back", "vehicle", "back", specimens.render_vehicle(vehicle, "back")


def licence_samples(count: int, seed: int, degrade: str) -> Iterator[tuple[str, Sample]]:
    for index in range(count):
        rng = random.Random(f"{seed}|licence|{index}")
        person, vehicle = specimens.make_person(rng), specimens.make_vehicle(rng)
        for name, kind, side, (image, truth) in licence_pages(person, vehicle):
            kinds = specimens.choose(degrade, rng)
            yield name, Sample(kind, side, intake(image, kinds, rng), dict(truth))


def plate_samples(count: int, seed: int, degrade: str) -> Iterator[tuple[str, Sample]]:
    for index in range(count):
        rng = random.Random(f"{seed}|plate|{index}")
        spec = specimens.make_plate(rng)
        crop, truth = specimens.render_plate(spec)
        yield (
            "plate-crop",
            Sample("plate", "front", intake(crop, specimens.choose(degrade, rng), rng), [truth]),
        )
        loose = specimens.plate_crop(spec, rng)
        yield (
            "plate-loose",
            Sample("plate", "front", intake(loose, specimens.choose(degrade, rng), rng), [truth]),
        )
        scene, truths = specimens.render_plate_scene(
            [specimens.make_plate(rng), specimens.make_plate(rng)], rng
        )
        kinds = [kind for kind in specimens.choose(degrade, rng) if kind not in ("rot90", "rot180", "rot270")]
        yield "plate-scene", Sample("plate", "front", intake(scene, kinds, rng, "fill"), truths)


def score(recognition: Any, sample: Sample, tally: Tally) -> None:
    if sample.kind == "plate":
        assert isinstance(sample.truth, list)
        got = [(plate.number, plate.color.value, plate.double_layer) for plate in recognition.plates]
        wanted = [(truth["number"], truth["color"], truth["double_layer"]) for truth in sample.truth]
        right = sum(1 for item in wanted if item in got)
        tally.fields_right += right
        tally.fields_total += len(wanted)
        tally.exact += right == len(wanted) and len(got) == len(wanted)
        tally.extra += len([item for item in got if item not in wanted])
        if right < len(wanted) or len(got) != len(wanted):
            tally.misses.append({"got": got, "expected": wanted})
        return
    assert isinstance(sample.truth, dict)
    fields = recognition.fields()
    # inspection_valid_until is derived by the checks from the record, not read off the card.
    checked = {key: value for key, value in sample.truth.items() if key != "inspection_valid_until"}
    right = sum(1 for key, value in checked.items() if fields.get(key) == value)
    tally.fields_right += right
    tally.fields_total += len(checked)
    tally.exact += right == len(checked)
    wrong = {
        key: {"got": fields.get(key), "expected": value}
        for key, value in checked.items()
        if fields.get(key) != value
    }
    if wrong:
        tally.misses.append(wrong)


def run(count: int, seed: int, degrade: str) -> dict[str, Any]:
    vendor = LocalVendor()
    load_before = os.getloadavg()
    started = time.perf_counter()
    warm_image, _ = specimens.render_plate(specimens.make_plate(random.Random(seed)))
    vendor.recognize_sync("plate", "front", intake(warm_image, [], random.Random(seed)))
    model_load_s = time.perf_counter() - started

    tallies: dict[str, Tally] = {name: Tally() for name in (*LICENCE_PAGES, *PLATE_GROUPS)}
    # Rendered one at a time: a list of decoded photos would weigh more than the engine being measured.
    for name, sample in itertools.chain(
        licence_samples(count, seed, degrade), plate_samples(count, seed, degrade)
    ):
        began = time.perf_counter()
        recognition = vendor.recognize_sync(sample.kind, sample.side, sample.image)
        tallies[name].seconds.append(time.perf_counter() - began)
        score(recognition, sample, tallies[name])

    def pooled(names: tuple[str, ...]) -> dict[str, Any]:
        merged = Tally()
        for name in names:
            tally = tallies[name]
            merged.seconds += tally.seconds
            merged.fields_right += tally.fields_right
            merged.fields_total += tally.fields_total
            merged.exact += tally.exact
            merged.extra += tally.extra
        return merged.summary()

    return {
        "engine": "local (rapidocr on onnxruntime)",
        "settings": vendor.settings.model_dump(),
        "count_per_category": count,
        "seed": seed,
        "degrade": degrade,
        "machine": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "platform": platform.platform(),
            "load_average_before": [round(value, 2) for value in load_before],
            "load_average_after": [round(value, 2) for value in os.getloadavg()],
        },
        "model_load_s": round(model_load_s, 3),
        "categories": {name: tally.summary() for name, tally in tallies.items()},
        "misses": {name: tally.misses[:20] for name, tally in tallies.items() if tally.misses},
        "licence_photo": pooled(LICENCE_PAGES),
        "plate_photo": pooled(PLATE_GROUPS),
        "plate_crop_photo": pooled(("plate-crop", "plate-loose")),
        "peak_rss_mb": round(peak_rss_mb(), 1),
        "targets": TARGETS,
    }


def print_report(report: dict[str, Any]) -> None:
    header = f"{'category':<20}{'n':>5}{'median s':>10}{'p95 s':>9}{'fields':>9}{'exact':>8}"
    print(header)
    print("-" * len(header))
    rows = [*report["categories"].items(), ("licence photo", report["licence_photo"])]
    rows += [("plate photo", report["plate_photo"]), ("plate crop photo", report["plate_crop_photo"])]
    for name, figures in rows:
        accuracy = figures["field_accuracy"]
        shown = f"{accuracy * 100:.1f}%" if accuracy is not None else "-"
        print(
            f"{name:<20}{figures['n']:>5}{figures['median_s']:>10.3f}{figures['p95_s']:>9.3f}"
            f"{shown:>9}{figures['exact']:>5}/{figures['n']:<3}"
        )
    machine = report["machine"]
    print(f"\nmodel load + first call: {report['model_load_s']:.2f} s")
    print(f"peak RSS: {report['peak_rss_mb']:.0f} MB")
    print(f"load average before/after: {machine['load_average_before']} / {machine['load_average_after']}")
    targets = report["targets"]
    checks = [
        ("licence photo median", report["licence_photo"]["median_s"], targets["licence_median_s"], "s"),
        ("plate photo median", report["plate_photo"]["median_s"], targets["plate_median_s"], "s"),
        ("peak RSS", report["peak_rss_mb"], targets["peak_rss_mb"], "MB"),
    ]
    for label, value, target, unit in checks:
        verdict = "within" if value <= target else "OVER"
        print(f"{label}: {value} {unit} ({verdict} target {target} {unit})")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--count", type=int, default=10, help="specimens per category (default 10)")
    parser.add_argument("--seed", type=int, default=1, help="dataset seed (default 1)")
    parser.add_argument("--degrade", choices=("none", "mild"), default="none", help="photo degradations")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help=f"JSON output (default {DEFAULT_OUT})")
    args = parser.parse_args(argv)
    if args.count < 1:
        parser.error("--count must be at least 1")
    report = run(args.count, args.seed, args.degrade)
    print_report(report)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    print(f"\nwrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
