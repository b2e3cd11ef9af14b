"""Write specimen datasets in the layout the accuracy benchmark and the end-to-end tests read.

    OUT/driving/NAME.jpg + NAME.gt.json     {"kind", "side", "degradations", "fields"} (+ "layout")
    OUT/vehicle/NAME.jpg + NAME.gt.json
    OUT/plates/crops/*.jpg, OUT/plates/scenes/*.jpg
    OUT/plates/labels.csv                   file,plate,color,kind,double_layer,source,x,y,width,height

`file` in labels.csv is relative to the folder holding labels.csv. A scene with several plates has one
row per plate, all naming the same file; x,y,width,height is the plate's box in that file (empty for
crops, where the plate fills the image). Every item draws from its own seeded generator, so item 7 of
seed 3 is the same picture whatever `count` is.
"""

from __future__ import annotations

import csv
import json
import random
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from PIL import Image

from tests.specimens.cards import render_driving, render_vehicle
from tests.specimens.data import (
    NAME_POOLS,
    NamePool,
    make_person,
    make_plate,
    make_vehicle,
    sample_person,
    sample_vehicle,
)
from tests.specimens.degrade import DEGRADATIONS, PRESETS, choose, degrade, degrade_tracked, ordered_names
from tests.specimens.plates import plate_crop, render_plate, render_plate_scene

LABEL_COLUMNS = ("file", "plate", "color", "kind", "double_layer", "source", "x", "y", "width", "height")
JPEG_QUALITY = 92
SAMPLE_FILES = ("driving_front.jpg", "driving_back.jpg", "vehicle_front.jpg", "vehicle_back.jpg", "plate.jpg")

Degradations = str | Sequence[str]


@dataclass(frozen=True)
class DatasetSummary:
    driving: int
    vehicle: int
    plate_images: int
    plate_rows: int


def _item_rng(seed: int, kind: str, index: int) -> random.Random:
    return random.Random(f"specimens:{seed}:{kind}:{index}")


def _kinds_for(degradations: Degradations, rng: random.Random, *, card: bool = True) -> list[str]:
    """A preset name picks a random combination per image; a list of names applies exactly those."""
    if isinstance(degradations, str):
        if degradations in PRESETS:
            return choose(degradations, rng, card=card)
        degradations = [name.strip() for name in degradations.split(",") if name.strip()]
    unknown = [name for name in degradations if name not in DEGRADATIONS]
    if unknown:
        raise ValueError(
            f"unknown degradation(s) {unknown}; presets: {PRESETS}, kinds: {sorted(DEGRADATIONS)}"
        )
    return ordered_names(degradations)


def _save(image: Image.Image, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    image.convert("RGB").save(path, "JPEG", quality=JPEG_QUALITY)


def _write_card(
    folder: Path, name: str, image: Image.Image, truth: dict[str, object], meta: dict[str, object]
) -> None:
    _save(image, folder / f"{name}.jpg")
    (folder / f"{name}.gt.json").write_text(
        json.dumps({**meta, "fields": truth}, ensure_ascii=False, indent=2) + "\n"
    )


def _driving_item(out: Path, seed: int, index: int, degradations: Degradations, names: NamePool) -> None:
    rng = _item_rng(seed, "driving", index)
    person = make_person(rng, names=names)
    side = "front" if index % 2 == 0 else "back"
    layout = "old" if rng.random() < 0.3 else "new"
    image, truth = render_driving(person, layout, side)
    kinds = _kinds_for(degradations, rng)
    name = f"{index:04d}_{side}" + (f"_{layout}" if side == "front" else "")
    meta: dict[str, object] = {"kind": "driving", "side": side, "degradations": kinds}
    if side == "front":
        meta["layout"] = layout
    _write_card(out / "driving", name, degrade(image, kinds, rng), truth, meta)


def _vehicle_item(out: Path, seed: int, index: int, degradations: Degradations, names: NamePool) -> None:
    rng = _item_rng(seed, "vehicle", index)
    side = "front" if index % 2 == 0 else "back"
    image, truth = render_vehicle(make_vehicle(rng, names=names), side)
    kinds = _kinds_for(degradations, rng)
    meta = {"kind": "vehicle", "side": side, "degradations": kinds}
    _write_card(out / "vehicle", f"{index:04d}_{side}", degrade(image, kinds, rng), truth, meta)


def _plate_row(
    file: str, truth: dict[str, object], kind: str, source: str, box: dict[str, int] | None
) -> dict[str, str]:
    row = {
        "file": file,
        "plate": str(truth["number"]),
        "color": str(truth["color"]),
        "kind": kind,
        "double_layer": "1" if truth["double_layer"] else "0",
        "source": source,
    }
    for key in ("x", "y", "width", "height"):
        row[key] = str(box[key]) if box else ""
    return row


def _crop_item(out: Path, seed: int, index: int, degradations: Degradations) -> dict[str, str]:
    """Half tight crops (the plate edge to edge), half loose crops cut from a car photo."""
    rng = _item_rng(seed, "crop", index)
    spec = make_plate(rng)
    if rng.random() < 0.5:
        image, truth = render_plate(spec, scale=rng.uniform(0.3, 1.0))
    else:
        image, truth = plate_crop(spec, rng), spec.truth()
    kinds = _kinds_for(degradations, rng, card=False)
    file = f"crops/{spec.number}_{index}.jpg"
    _save(degrade(image, kinds, rng, backdrop="fill"), out / file)
    return _plate_row(file, truth, spec.kind, "crop", None)


def _scene_item(out: Path, seed: int, index: int, degradations: Degradations) -> list[dict[str, str]]:
    rng = _item_rng(seed, "scene", index)
    count = rng.choices((1, 2, 3), weights=(6, 3, 1))[0]
    specs = [make_plate(rng) for _ in range(count)]
    image, truths = render_plate_scene(specs, rng)
    kinds = _kinds_for(degradations, rng, card=False)
    image, boxes = degrade_tracked(image, kinds, rng, [truth["box"] for truth in truths], backdrop="fill")  # type: ignore[misc]
    file = f"scenes/scene_{index:04d}.jpg"
    _save(image, out / file)
    return [
        _plate_row(file, truth, spec.kind, "scene", box)
        for spec, truth, box in zip(specs, truths, boxes, strict=True)
    ]


def generate(
    out_dir: Path,
    count: int = 20,
    seed: int = 0,
    degradations: Degradations = "mild",
    names: NamePool = "common",
) -> DatasetSummary:
    """Write `count` driving pages, vehicle pages, plate crops and plate scenes under `out_dir`.

    `degradations` is a preset (none, mild, all: a random combination per image) or a list of
    degradation names applied to every image; `names` is the pool people's names come from (see
    `make_name`).
    """
    if count < 0:
        raise ValueError("count must not be negative")
    if names not in NAME_POOLS:
        raise ValueError(f"unknown name pool {names!r}; pools: {NAME_POOLS}")
    out_dir = Path(out_dir)
    rows: list[dict[str, str]] = []
    for index in range(count):
        _driving_item(out_dir, seed, index, degradations, names)
        _vehicle_item(out_dir, seed, index, degradations, names)
        rows.append(_crop_item(out_dir / "plates", seed, index, degradations))
        rows.extend(_scene_item(out_dir / "plates", seed, index, degradations))
    plates = out_dir / "plates"
    plates.mkdir(parents=True, exist_ok=True)
    with (plates / "labels.csv").open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=LABEL_COLUMNS)
        writer.writeheader()
        writer.writerows(rows)
    return DatasetSummary(count, count, 2 * count, len(rows))


def write_sample(out_dir: Path) -> dict[str, dict[str, object]]:
    """One clean picture of each page and a car photo, plus truth.json: what the README demo reads."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    person, vehicle = sample_person(), sample_vehicle()
    pages = {
        "driving_front.jpg": render_driving(person, "new", "front"),
        "driving_back.jpg": render_driving(person, "new", "back"),
        "vehicle_front.jpg": render_vehicle(vehicle, "front"),
        "vehicle_back.jpg": render_vehicle(vehicle, "back"),
    }
    truths: dict[str, dict[str, object]] = {}
    for file, (image, truth) in pages.items():
        _save(image, out_dir / file)
        truths[file] = truth
    scene, plates = render_plate_scene([vehicle.plate], random.Random("sample-scene"), size=(1024, 768))
    _save(scene, out_dir / "plate.jpg")
    truths["plate.jpg"] = plates[0]
    (out_dir / "truth.json").write_text(json.dumps(truths, ensure_ascii=False, indent=2) + "\n")
    return truths
