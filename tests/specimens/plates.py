"""Licence plates: the plate itself (GA 36-2018 proportions) and street scenes with plates on cars.

Plates are drawn in millimetres scaled to pixels: 440 x 140 mm single-row, 480 x 140 mm new-energy,
440 x 220 mm double-row. Glyphs are squeezed into the tall narrow cells real plates use, so the
recognizer sees plate-like shapes rather than book type.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

from bot.models import PlateColor
from tests.specimens.data import PlateSpec
from tests.specimens.fonts import font
from tests.specimens.paint import RGB, draw_text, numpy_rng
from tests.specimens.warp import Quad, box_of, perspective_coefficients

MM_SINGLE = (440, 140)
MM_NEW_ENERGY = (480, 140)
MM_DOUBLE = (440, 220)


@dataclass(frozen=True)
class Palette:
    background: RGB
    text: RGB
    frame: RGB


PALETTES: dict[PlateColor, Palette] = {
    PlateColor.BLUE: Palette((12, 68, 176), (250, 250, 250), (235, 240, 250)),
    PlateColor.YELLOW: Palette((247, 192, 22), (18, 18, 18), (18, 18, 18)),
    PlateColor.GREEN: Palette((96, 194, 120), (14, 14, 14), (14, 14, 14)),
    PlateColor.YELLOW_GREEN: Palette((88, 180, 96), (14, 14, 14), (14, 14, 14)),
    PlateColor.WHITE: Palette((246, 246, 244), (14, 14, 14), (14, 14, 14)),
    PlateColor.BLACK: Palette((18, 18, 20), (245, 245, 245), (235, 235, 235)),
}
POLICE_RED: RGB = (214, 22, 30)
GREEN_TOP: RGB = (236, 248, 238)
YELLOW_LEFT: RGB = (243, 200, 30)


@lru_cache(maxsize=512)
def _glyph(char: str, width: int, height: int) -> Image.Image:
    """The character's ink, heavy-stroked and fitted to a width x height cell (narrow glyphs keep shape)."""
    size = 160
    stroke = 6 if char.isascii() else 2  # plate digits are heavy; dense Han characters would turn to blobs
    canvas = Image.new("L", (size * 2, size * 2), 0)
    ImageDraw.Draw(canvas).text(
        (size, size), char, font=font(size), fill=255, anchor="mm", stroke_width=stroke, stroke_fill=255
    )
    box = canvas.getbbox()
    if box is None:
        return Image.new("L", (width, height), 0)
    ink = canvas.crop(box)
    scaled_width = min(width, max(1, round(ink.width * height / ink.height)))
    ink = ink.resize((scaled_width, height), Image.Resampling.LANCZOS)
    cell = Image.new("L", (width, height), 0)
    cell.paste(ink, ((width - scaled_width) // 2, 0))
    return cell


def _paint_glyph(plate: Image.Image, char: str, box: tuple[float, float, float, float], color: RGB) -> None:
    x0, y0, x1, y1 = (round(v) for v in box)
    mask = _glyph(char, max(1, x1 - x0), max(1, y1 - y0))
    plate.paste(color, (x0, y0), mask)


def _background(color: PlateColor, size: tuple[int, int], split_x: float) -> Image.Image:
    """Plate ground: flat, gradient green (small new-energy), or yellow|green (large new-energy)."""
    palette = PALETTES[color]
    width, height = size
    if color == PlateColor.GREEN:
        top, bottom = np.array(GREEN_TOP, np.float32), np.array(palette.background, np.float32)
        ramp = np.linspace(0.0, 1.0, height, dtype=np.float32)[:, None, None]
        pixels = top + (bottom - top) * ramp**0.8
        return Image.fromarray(np.broadcast_to(pixels, (height, width, 3)).astype(np.uint8))
    image = Image.new("RGB", size, palette.background)
    if color == PlateColor.YELLOW_GREEN:
        ImageDraw.Draw(image).rectangle((0, 0, split_x, height), fill=YELLOW_LEFT)
    return image


def _frame(image: Image.Image, palette: Palette, scale: float) -> Image.Image:
    """Rounded outline, the inset frame line and the two rivets near the top."""
    width, height = image.size
    draw = ImageDraw.Draw(image)
    inset, radius = 4 * scale, 10 * scale
    draw.rounded_rectangle(
        (inset, inset, width - inset, height - inset),
        radius,
        outline=palette.frame,
        width=max(1, round(3 * scale)),
    )
    for rivet_x in (width * 0.22, width * 0.78):
        r = 5 * scale
        draw.ellipse(
            (rivet_x - r, 12 * scale - r, rivet_x + r, 12 * scale + r),
            fill=tuple(c // 2 + 60 for c in palette.background),
        )
    mask = Image.new("L", image.size, 0)
    ImageDraw.Draw(mask).rounded_rectangle((0, 0, width - 1, height - 1), radius + 2 * scale, fill=255)
    out = Image.new("RGBA", image.size, (0, 0, 0, 0))
    out.paste(image, mask=mask)
    return out


def _single_row(spec: PlateSpec, color: PlateColor, scale: float) -> Image.Image:
    new_energy = len(spec.number) == 8
    mm_w, mm_h = MM_NEW_ENERGY if new_energy else MM_SINGLE
    char_w, gap, dot_gap = (43, 9, 34) if new_energy else (45, 12, 34)
    char_h, top = 90, 25
    count = len(spec.number)
    used = count * char_w + (count - 2) * gap + dot_gap
    x = (mm_w - used) / 2
    positions = []
    for index in range(count):
        positions.append(x)
        x += char_w + (dot_gap if index == 1 else gap)
    split = (positions[2] - dot_gap / 2) * scale
    image = _background(color, (round(mm_w * scale), round(mm_h * scale)), split)
    palette = PALETTES[color]
    for index, char in enumerate(spec.number):
        ink = POLICE_RED if char == "警" else palette.text
        box = (
            positions[index] * scale,
            top * scale,
            (positions[index] + char_w) * scale,
            (top + char_h) * scale,
        )
        _paint_glyph(image, char, box, ink)
    dot_x, dot_y, r = (positions[1] + char_w + dot_gap / 2) * scale, (mm_h / 2) * scale, 5 * scale
    ImageDraw.Draw(image).ellipse((dot_x - r, dot_y - r, dot_x + r, dot_y + r), fill=palette.text)
    return _frame(image, palette, scale)


def _double_row(spec: PlateSpec, color: PlateColor, scale: float) -> Image.Image:
    """Two rows: province and authority letter small on top, the serial large below."""
    mm_w, mm_h = MM_DOUBLE
    image = _background(color, (round(mm_w * scale), round(mm_h * scale)), 0)
    palette = PALETTES[color]
    top_chars, bottom_chars = spec.number[:2], spec.number[2:]
    for index, char in enumerate(top_chars):
        x = 110 + index * 140
        _paint_glyph(image, char, (x * scale, 15 * scale, (x + 80) * scale, 75 * scale), palette.text)
    dot_x, r = 220 * scale, 5 * scale
    ImageDraw.Draw(image).ellipse((dot_x - r, 45 * scale - r, dot_x + r, 45 * scale + r), fill=palette.text)
    char_w, gap = 65, 15
    used = len(bottom_chars) * char_w + (len(bottom_chars) - 1) * gap
    x = (mm_w - used) / 2
    for char in bottom_chars:
        ink = POLICE_RED if char == "警" else palette.text
        _paint_glyph(image, char, (x * scale, 90 * scale, (x + char_w) * scale, 200 * scale), ink)
        x += char_w + gap
    return _frame(image, palette, scale)


def plate_image(spec: PlateSpec, scale: float = 1.0) -> Image.Image:
    """The plate as RGBA (transparent outside its rounded outline) at `scale` pixels per millimetre."""
    if spec.double_layer:
        return _double_row(spec, spec.color, scale)
    return _single_row(spec, spec.color, scale)


def render_plate(
    plate: PlateSpec | str,
    color: PlateColor | str | None = None,
    *,
    double_layer: bool | None = None,
    scale: float = 1.0,
) -> tuple[Image.Image, dict[str, object]]:
    """A tight plate crop (RGB) and its truth {number, color, double_layer}."""
    spec = plate if isinstance(plate, PlateSpec) else PlateSpec(plate, PlateColor(color or PlateColor.BLUE))
    if color is not None or double_layer is not None:
        spec = PlateSpec(
            spec.number,
            PlateColor(color) if color is not None else spec.color,
            spec.double_layer if double_layer is None else double_layer,
            spec.kind,
        )
    if spec.color not in PALETTES:
        raise ValueError(f"no plate palette for colour {spec.color!r}")
    rgba = plate_image(spec, scale)
    crop = Image.new("RGB", rgba.size, (70, 70, 72))
    crop.paste(rgba, mask=rgba.getchannel("A"))
    return crop, spec.truth()


# ----------------------------------------------------------------------------------------------- scenes

SHOP_SIGNS = (
    "平安便利店",
    "汽车美容中心",
    "兰州拉面",
    "联华超市",
    "停车场 P",
    "中国石化",
    "洗车 打蜡 保养",
    "五金建材",
)
CAR_COLORS: tuple[RGB, ...] = (
    (235, 235, 235),
    (30, 30, 32),
    (150, 150, 155),
    (160, 30, 30),
    (40, 60, 120),
    (200, 190, 170),
)


def _vertical_gradient(size: tuple[int, int], top: RGB, bottom: RGB) -> Image.Image:
    width, height = size
    ramp = np.linspace(0.0, 1.0, height, dtype=np.float32)[:, None, None]
    pixels = np.array(top, np.float32) + (np.array(bottom, np.float32) - np.array(top, np.float32)) * ramp
    return Image.fromarray(np.broadcast_to(pixels, (height, width, 3)).astype(np.uint8))


def _street(size: tuple[int, int], rng: random.Random) -> Image.Image:
    """Buildings, a shop sign with other text and a road: distractors a plate finder must ignore."""
    width, height = size
    horizon = int(height * rng.uniform(0.35, 0.5))
    scene = _vertical_gradient(
        size, (rng.randint(150, 200), rng.randint(170, 210), rng.randint(190, 230)), (200, 200, 195)
    )
    draw = ImageDraw.Draw(scene)
    x = -rng.randint(0, 80)
    while x < width:
        building_w = rng.randint(width // 6, width // 3)
        top = rng.randint(0, horizon // 2)
        shade = rng.randint(120, 200)
        draw.rectangle(
            (x, top, x + building_w, horizon),
            fill=(shade, shade - rng.randint(0, 20), shade - rng.randint(0, 30)),
        )
        for wy in range(top + 15, horizon - 20, 34):
            for wx in range(x + 12, x + building_w - 20, 30):
                draw.rectangle((wx, wy, wx + 16, wy + 20), fill=(90, 110, 130))
        x += building_w + rng.randint(0, 30)
    sign_text = rng.choice(SHOP_SIGNS)
    sign_size = max(18, height // 22)
    sign_w = int(font(sign_size).getlength(sign_text)) + sign_size
    sign_x = rng.randint(10, max(11, width - sign_w - 10))
    sign_y = rng.randint(sign_size * 2, max(sign_size * 2 + 1, horizon // 2))
    board, lettering = rng.choice(
        (((180, 20, 30), (250, 240, 120)), ((20, 90, 160), (250, 250, 250)), ((240, 240, 240), (200, 20, 30)))
    )
    draw.rectangle((sign_x, sign_y - sign_size, sign_x + sign_w, sign_y + sign_size), fill=board)
    draw_text(draw, (sign_x + sign_size / 2, sign_y), sign_text, sign_size, fill=lettering)
    draw.rectangle((0, horizon, width, height), fill=(rng.randint(80, 110),) * 3)
    for stripe_x in range(rng.randint(0, 60), width, 160):
        draw.rectangle((stripe_x, int(height * 0.9), stripe_x + 70, int(height * 0.92)), fill=(220, 220, 210))
    return scene


def _car(scene: Image.Image, left: int, car_w: int, bottom: int, rng: random.Random) -> tuple[float, float]:
    """Draw the back of a car; return the centre of its plate mount on the bumper."""
    draw = ImageDraw.Draw(scene)
    body = rng.choice(CAR_COLORS)
    car_h = int(car_w * rng.uniform(0.62, 0.75))
    top = bottom - car_h
    dark = tuple(max(0, c - 60) for c in body)
    draw.ellipse(
        (left - car_w * 0.05, bottom - car_h * 0.06, left + car_w * 1.05, bottom + car_h * 0.08),
        fill=(40, 40, 40),
    )
    draw.rounded_rectangle(
        (left + car_w * 0.12, top, left + car_w * 0.88, top + car_h * 0.45), car_w // 10, fill=body
    )
    draw.polygon(
        [
            (left + car_w * 0.2, top + car_h * 0.06),
            (left + car_w * 0.8, top + car_h * 0.06),
            (left + car_w * 0.86, top + car_h * 0.4),
            (left + car_w * 0.14, top + car_h * 0.4),
        ],
        fill=(50, 60, 70),
    )
    draw.rounded_rectangle(
        (left, top + car_h * 0.38, left + car_w, bottom - car_h * 0.05), car_w // 14, fill=body
    )
    for lamp_x in (left + car_w * 0.03, left + car_w * 0.79):
        draw.rounded_rectangle(
            (lamp_x, top + car_h * 0.46, lamp_x + car_w * 0.18, top + car_h * 0.58), 6, fill=(190, 30, 30)
        )
    draw.rectangle(
        (left + car_w * 0.02, bottom - car_h * 0.2, left + car_w * 0.98, bottom - car_h * 0.05), fill=dark
    )
    return left + car_w / 2, top + car_h * 0.7


def _place_plate(
    scene: Image.Image, spec: PlateSpec, center: tuple[float, float], plate_w: float, rng: random.Random
) -> dict[str, int]:
    """Warp the plate a little (the camera is never square-on), paste it, return its box in the scene."""
    plate = plate_image(spec, scale=max(0.15, plate_w / MM_SINGLE[0]))
    jitter = 0.06
    w, h = plate.size
    corners: Quad = (
        (rng.uniform(0, jitter) * w, rng.uniform(0, jitter) * h),
        (w - rng.uniform(0, jitter) * w, rng.uniform(0, jitter) * h),
        (w - rng.uniform(0, jitter) * w, h - rng.uniform(0, jitter) * h),
        (rng.uniform(0, jitter) * w, h - rng.uniform(0, jitter) * h),
    )
    source: Quad = ((0, 0), (w, 0), (w, h), (0, h))
    warped = plate.transform(
        plate.size,
        Image.Transform.PERSPECTIVE,
        perspective_coefficients(corners, source),
        Image.Resampling.BICUBIC,
    )
    x0, y0 = round(center[0] - w / 2), round(center[1] - h / 2)
    scene.paste(warped, (x0, y0), warped.getchannel("A"))
    placed: Quad = tuple((x + x0, y + y0) for x, y in corners)  # type: ignore[assignment]
    return box_of(placed, scene.size)


SCENE_SIZES = ((1280, 720), (1024, 768), (1200, 900), (800, 1066))


def render_plate_scene(
    plates: Sequence[PlateSpec], rng: random.Random, size: tuple[int, int] | None = None
) -> tuple[Image.Image, list[dict[str, object]]]:
    """A street photo with one car per plate, left to right; truth per plate includes its pixel `box`."""
    if not plates:
        raise ValueError("a plate scene needs at least one plate")
    width, height = size or rng.choice(SCENE_SIZES)
    scene = _street((width, height), rng)
    slot = width / len(plates)
    truths: list[dict[str, object]] = []
    for index, spec in enumerate(plates):
        car_w = int(slot * rng.uniform(0.55, 0.85))
        left = int(index * slot + rng.uniform(0, slot - car_w))
        bottom = int(height * rng.uniform(0.8, 0.97))
        center = _car(scene, left, car_w, bottom, rng)
        plate_w = car_w * rng.uniform(0.24, 0.32)
        box = _place_plate(
            scene, spec, (center[0] + rng.uniform(-0.03, 0.03) * car_w, center[1]), plate_w, rng
        )
        truths.append({**spec.truth(), "box": box})
    pixels = np.asarray(scene.filter(ImageFilter.GaussianBlur(0.6)), dtype=np.float32)
    pixels += numpy_rng(rng).standard_normal(pixels.shape, dtype=np.float32) * 3.0
    return Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8)), truths


def plate_crop(spec: PlateSpec, rng: random.Random) -> Image.Image:
    """A loose crop around a plate on a car, like the crops plate datasets ship: margin, tilt, noise."""
    scene, truth = render_plate_scene([spec], rng, size=(900, 700))
    box = truth[0]["box"]
    assert isinstance(box, dict)
    margin_x = box["width"] * rng.uniform(0.04, 0.15)
    margin_y = box["height"] * rng.uniform(0.08, 0.3)
    return scene.crop(
        (
            round(box["x"] - margin_x),
            round(box["y"] - margin_y),
            round(box["x"] + box["width"] + margin_x),
            round(box["y"] + box["height"] + margin_y),
        )
    )
