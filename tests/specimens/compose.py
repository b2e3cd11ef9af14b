"""Compositions of several card pages in one photo: what people send when one picture is quicker.

A 行驶证 is a folding booklet: the main page and the 副页 face each other, and many owners photograph
both at once, side by side, on the desk. `side_by_side` lays two pages out like that (a small gap, a
little vertical play between them) so a reader must find the page it was asked for by its labels and
keep the other page's values out.
"""

from __future__ import annotations

import random

from PIL import Image

from tests.specimens.cards import SURROUND, CardSide, render_vehicle
from tests.specimens.data import Vehicle


def side_by_side(left: Image.Image, right: Image.Image, rng: random.Random) -> Image.Image:
    """Two pages next to each other on one plain background, tops roughly level."""
    gap = rng.randint(12, 60)
    play = rng.randint(0, 30)
    width = left.width + gap + right.width
    height = max(left.height, right.height) + play
    sheet = Image.new("RGB", (width, height), SURROUND)
    left_top, right_top = (0, play) if rng.random() < 0.5 else (play, 0)
    sheet.paste(left.convert("RGB"), (0, left_top))
    sheet.paste(right.convert("RGB"), (left.width + gap, right_top))
    return sheet


def render_vehicle_pair(
    vehicle: Vehicle, side: CardSide, rng: random.Random
) -> tuple[Image.Image, dict[str, object]]:
    """Both pages of a 行驶证 in one photo (main page left or right at random) and the truth of `side`."""
    front, front_truth = render_vehicle(vehicle, "front")
    back, back_truth = render_vehicle(vehicle, "back")
    pages = (front, back) if rng.random() < 0.5 else (back, front)
    return side_by_side(*pages, rng), front_truth if side == "front" else back_truth
