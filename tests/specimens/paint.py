"""Drawing pieces shared by the cards: security-print background, text with weight and tracking, the red
seal, the photo. Each takes its own seeded `random.Random`, so a card looks the same for the same data.
"""

from __future__ import annotations

import math
import random

import numpy as np
from PIL import Image, ImageChops, ImageDraw, ImageFilter

from tests.specimens.fonts import font

RGB = tuple[int, int, int]
SEAL_RED: RGB = (214, 38, 44)


def numpy_rng(rng: random.Random) -> np.random.Generator:
    """A numpy generator drawn from `rng`, so pixel noise follows the same seed as the layout."""
    return np.random.default_rng(rng.getrandbits(64))


def paper_noise(image: Image.Image, rng: random.Random, amount: float = 3.0) -> Image.Image:
    pixels = np.asarray(image, dtype=np.float32)
    grain = numpy_rng(rng).standard_normal(pixels.shape[:2], dtype=np.float32)[..., None] * amount
    return Image.fromarray(np.clip(pixels + grain, 0, 255).astype(np.uint8))


def security_background(size: tuple[int, int], tint: RGB, line: RGB, rng: random.Random) -> Image.Image:
    """Pale tint with guilloche waves and a faint rosette, like the anti-copy print of real cards."""
    width, height = size
    image = Image.new("RGB", size, tint)
    draw = ImageDraw.Draw(image)
    wavelength = rng.uniform(90, 140)
    for row in range(-2, height // 9 + 2):
        phase = rng.uniform(0, 0.4) + row * 0.35
        amplitude = rng.uniform(5, 9)
        points = [
            (x, row * 9 + amplitude * math.sin(2 * math.pi * x / wavelength + phase))
            for x in range(0, width + 8, 8)
        ]
        draw.line(points, fill=line, width=1)
    cx, cy = width * rng.uniform(0.4, 0.6), height * rng.uniform(0.45, 0.6)
    radius = min(size) * 0.32
    for petal in range(24):
        turn = petal * math.pi / 24
        points = []
        for step in range(73):
            t = step * math.pi / 36
            ex, ey = radius * math.cos(t), radius * 0.35 * math.sin(t)
            points.append(
                (
                    cx + ex * math.cos(turn) - ey * math.sin(turn),
                    cy + ex * math.sin(turn) + ey * math.cos(turn),
                )
            )
        draw.line(points, fill=line, width=1)
    return image


def rounded_card(card: Image.Image, surround: RGB, radius: int = 28) -> Image.Image:
    """The card's rounded corners over `surround` (a scanner lid, a table)."""
    mask = Image.new("L", card.size, 0)
    ImageDraw.Draw(mask).rounded_rectangle((0, 0, card.width - 1, card.height - 1), radius, fill=255)
    base = Image.new("RGB", card.size, surround)
    base.paste(card, mask=mask)
    return base


def text_width(text: str, size: int, tracking: float = 0.0) -> float:
    return font(size).getlength(text) + tracking * max(len(text) - 1, 0)


def draw_text(
    draw: ImageDraw.ImageDraw,
    xy: tuple[float, float],
    text: str,
    size: int,
    *,
    fill: RGB = (25, 25, 25),
    bold: bool = False,
    tracking: float = 0.0,
    anchor: str = "lm",
) -> float:
    """Draw `text` starting at `xy` (anchor left-middle by default) and return the x where it ends.

    Card values are printed in a heavier face than the pre-printed labels; one CJK font is all CI has,
    so weight is a thin stroke in the same colour.
    """
    face = font(size)
    stroke = 1 if bold else 0
    x, y = xy
    if not tracking:
        draw.text((x, y), text, font=face, fill=fill, anchor=anchor, stroke_width=stroke, stroke_fill=fill)
        return x + face.getlength(text)
    for char in text:
        draw.text((x, y), char, font=face, fill=fill, anchor=anchor, stroke_width=stroke, stroke_fill=fill)
        x += face.getlength(char) + tracking
    return x - tracking


def draw_centered(
    draw: ImageDraw.ImageDraw, cx: float, y: float, text: str, size: int, **kwargs: object
) -> None:
    tracking = float(kwargs.pop("tracking", 0.0))  # type: ignore[arg-type]
    start = cx - text_width(text, size, tracking) / 2
    draw_text(draw, (start, y), text, size, tracking=tracking, **kwargs)  # type: ignore[arg-type]


def wrap(text: str, size: int, max_width: float) -> list[str]:
    """Break `text` into lines no wider than `max_width` (Chinese addresses break anywhere)."""
    lines, current = [], ""
    for char in text:
        if current and text_width(current + char, size) > max_width:
            lines.append(current)
            current = ""
        current += char
    if current:
        lines.append(current)
    return lines


def fit_size(text: str, size: int, max_width: float, tracking: float = 0.0, smallest: int = 12) -> int:
    """The largest size up to `size` at which `text` fits `max_width`: cards shrink long values, never cut."""
    while size > smallest and text_width(text, size, tracking) > max_width:
        size -= 1
    return size


def fit_lines(
    text: str, size: int, max_width: float, max_lines: int, smallest: int = 12
) -> tuple[int, list[str]]:
    """A size and the wrapped lines so `text` takes at most `max_lines` lines: nothing is dropped."""
    lines = wrap(text, size, max_width)
    while len(lines) > max_lines and size > smallest:
        size -= 1
        lines = wrap(text, size, max_width)
    return size, lines


def _star(cx: float, cy: float, outer: float) -> list[tuple[float, float]]:
    inner = outer * 0.382
    points = []
    for index in range(10):
        radius = outer if index % 2 == 0 else inner
        angle = -math.pi / 2 + index * math.pi / 5
        points.append((cx + radius * math.cos(angle), cy + radius * math.sin(angle)))
    return points


def seal(text: str, radius: int, rng: random.Random, color: RGB = SEAL_RED) -> Image.Image:
    """Round red issuing-authority seal: ring, star, the authority's name along the upper arc.

    Returned as RGBA so it can be laid over printed text like real stamp ink; the ink is a little
    uneven because a perfect disc is the mark of a fake.
    """
    size = radius * 2 + 8
    ink = Image.new("L", (size, size), 0)
    draw = ImageDraw.Draw(ink)
    c = size / 2
    draw.ellipse((c - radius, c - radius, c + radius, c + radius), outline=255, width=max(3, radius // 22))
    draw.polygon(_star(c, c + radius * 0.05, radius * 0.3), fill=255)
    char_size = max(10, int(radius * 0.27))
    span = math.radians(min(250.0, 22.0 * len(text)))
    for index, char in enumerate(text):
        angle = -math.pi / 2 - span / 2 + span * (index + 0.5) / len(text)
        glyph = Image.new("L", (char_size * 2, char_size * 2), 0)
        ImageDraw.Draw(glyph).text((char_size, char_size), char, font=font(char_size), fill=255, anchor="mm")
        glyph = glyph.rotate(-math.degrees(angle) - 90, resample=Image.Resampling.BICUBIC)
        distance = radius - char_size * 0.85
        gx, gy = c + distance * math.cos(angle), c + distance * math.sin(angle)
        ink.paste(255, (int(gx - char_size), int(gy - char_size)), glyph)
    speckle = numpy_rng(rng).uniform(0.55, 1.0, (size, size))
    alpha = (np.asarray(ink, dtype=np.float32) * speckle * rng.uniform(0.75, 0.9)).astype(np.uint8)
    stamp = Image.new("RGBA", (size, size), (*color, 0))
    stamp.putalpha(Image.fromarray(alpha).filter(ImageFilter.GaussianBlur(0.6)))
    return stamp.rotate(rng.uniform(-12, 12), resample=Image.Resampling.BICUBIC)


def stamp_box(text: str, size: int, rng: random.Random, color: RGB = (150, 30, 60)) -> Image.Image:
    """Rectangular inspection stamp (检验记录): framed text in uneven ink, slightly askew."""
    width = int(text_width(text, size) + size * 1.4)
    height = int(size * 2.0)
    ink = Image.new("L", (width, height), 0)
    draw = ImageDraw.Draw(ink)
    draw.rectangle((2, 2, width - 3, height - 3), outline=255, width=3)
    draw.text(
        (width / 2, height / 2), text, font=font(size), fill=255, anchor="mm", stroke_width=1, stroke_fill=255
    )
    speckle = numpy_rng(rng).uniform(0.6, 1.0, (height, width))
    alpha = (np.asarray(ink, dtype=np.float32) * speckle * 0.92).astype(np.uint8)
    stamp = Image.new("RGBA", (width, height), (*color, 0))
    stamp.putalpha(Image.fromarray(alpha))
    return stamp.rotate(rng.uniform(-2.5, 2.5), resample=Image.Resampling.BICUBIC, expand=True)


def portrait(size: tuple[int, int], rng: random.Random) -> Image.Image:
    """A 1-inch ID photo stand-in: plain backdrop, head and shoulders in soft tones."""
    width, height = size
    backdrop = rng.choice(((236, 240, 246), (205, 225, 245), (248, 248, 248)))
    image = Image.new("RGB", size, backdrop)
    draw = ImageDraw.Draw(image)
    skin = rng.choice(((226, 196, 170), (214, 180, 150), (236, 208, 184)))
    hair = rng.choice(((30, 28, 28), (45, 35, 30), (60, 50, 45)))
    shirt = rng.choice(((40, 50, 80), (230, 230, 235), (70, 70, 75)))
    draw.ellipse((width * 0.08, height * 0.68, width * 0.92, height * 1.35), fill=shirt)
    draw.rectangle((width * 0.42, height * 0.5, width * 0.58, height * 0.72), fill=skin)
    draw.ellipse((width * 0.27, height * 0.14, width * 0.73, height * 0.6), fill=skin)
    draw.chord((width * 0.25, height * 0.1, width * 0.75, height * 0.5), 180, 360, fill=hair)
    return image.filter(ImageFilter.GaussianBlur(1.2))


def paste_ink(base: Image.Image, overlay: Image.Image, center: tuple[float, float]) -> None:
    """Lay RGBA ink over `base` by multiplying, as ink does: black print stays black under a red seal."""
    x = int(center[0] - overlay.width / 2)
    y = int(center[1] - overlay.height / 2)
    white = Image.new("RGB", overlay.size, (255, 255, 255))
    tint = Image.composite(overlay.convert("RGB"), white, overlay.getchannel("A"))
    region = base.crop((x, y, x + overlay.width, y + overlay.height))
    base.paste(ImageChops.multiply(region, tint), (x, y))
