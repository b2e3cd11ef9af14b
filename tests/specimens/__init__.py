"""Specimen images the project renders itself: driving licences, vehicle licences and plates.

Real licence photos cannot be shared, so tests, benchmarks and the README demo draw their own: cards in
the real layouts with data that passes the real checks, plates in the real proportions, and composable
photo degradations. Everything is seeded, so a seed names one exact dataset.

    python -m tests.specimens --out DIR [--count N] [--seed S] [--degrade none|mild|all|KIND,KIND]
    python -m tests.specimens sample --out DIR
"""

from tests.specimens.cards import CARD_SIZE, render_driving, render_vehicle
from tests.specimens.data import (
    REFERENCE_DATE,
    Person,
    PlateSpec,
    Vehicle,
    make_person,
    make_plate,
    make_vehicle,
    sample_person,
    sample_vehicle,
)
from tests.specimens.dataset import LABEL_COLUMNS, SAMPLE_FILES, DatasetSummary, generate, write_sample
from tests.specimens.degrade import DEGRADATIONS, PRESETS, choose, degrade, degrade_tracked, register
from tests.specimens.fonts import FontNotFound, find_cjk_font
from tests.specimens.plates import plate_crop, render_plate, render_plate_scene

__all__ = [
    "CARD_SIZE",
    "DEGRADATIONS",
    "LABEL_COLUMNS",
    "PRESETS",
    "REFERENCE_DATE",
    "SAMPLE_FILES",
    "DatasetSummary",
    "FontNotFound",
    "Person",
    "PlateSpec",
    "Vehicle",
    "choose",
    "degrade",
    "degrade_tracked",
    "find_cjk_font",
    "generate",
    "make_person",
    "make_plate",
    "make_vehicle",
    "plate_crop",
    "register",
    "render_driving",
    "render_plate",
    "render_plate_scene",
    "render_vehicle",
    "sample_person",
    "sample_vehicle",
    "write_sample",
]
