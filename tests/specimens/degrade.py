"""Photo degradations, composable by name: what phones, hands, lamps and chat apps do to a card photo.

Each degradation is registered with a stage, and `degrade` runs the requested ones in stage order
(things on the card, then the camera's pose, optics, sensor, resizing, compression), whatever order the
caller listed them in, so any combination is a plausible photo. Geometric ones also report the
homography they applied, which `degrade_tracked` uses to move plate boxes along with the pixels.
Adding a new kind is one decorated function.
"""

from __future__ import annotations

import io
import random
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
from PIL import Image, ImageDraw, ImageEnhance, ImageFilter

from tests.specimens.paint import numpy_rng
from tests.specimens.warp import (
    apply,
    box_corners,
    box_of,
    homography,
    inverse_coefficients,
    rotation,
    scaling,
    translation,
)

# Stages, in the order light reaches the file.
ON_CARD, LIGHT, POSE, TURN, OPTICS, SENSOR, RESIZE, FILE = range(8)


@dataclass(frozen=True)
class Step:
    image: Image.Image
    #: Input -> output pixel homography for geometric steps; None when pixels stay where they were.
    matrix: np.ndarray | None = None


@dataclass(frozen=True)
class Shot:
    """How the photo is taken. `backdrop` is what fills the frame where the picture does not reach:
    "desk" for a card photographed on a table, "fill" for a street photo or plate crop (the frame keeps
    its size; corners left bare are filled with a blur of the picture)."""

    rng: random.Random
    backdrop: Literal["desk", "fill"] = "desk"


Apply = Callable[[Image.Image, Shot], Step]


@dataclass(frozen=True)
class Degradation:
    name: str
    stage: int
    apply: Apply
    #: Part of the "mild" preset: a decent photo taken without care.
    mild: bool = False
    #: Only makes sense on a card (a plastic sleeve), not on a street photo or a plate.
    cards_only: bool = False


DEGRADATIONS: dict[str, Degradation] = {}
ROTATIONS = ("rot90", "rot180", "rot270")


def register(
    name: str, stage: int, *, mild: bool = False, cards_only: bool = False
) -> Callable[[Apply], Apply]:
    def decorator(function: Apply) -> Apply:
        DEGRADATIONS[name] = Degradation(name, stage, function, mild, cards_only)
        return function

    return decorator


# ----------------------------------------------------------------------------------------------- helpers


def _as_array(image: Image.Image) -> np.ndarray:
    return np.asarray(image.convert("RGB"), dtype=np.float32)


def _to_image(pixels: np.ndarray) -> Image.Image:
    return Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8))


def desk(size: tuple[int, int], rng: random.Random) -> Image.Image:
    """What lies under the card in a photo: a wood, laminate or fabric colour with grain and falloff.

    Drawn at a quarter of the size and enlarged: a desk has no detail worth the time at full size.
    """
    width, height = size
    small_w, small_h = max(1, width // 4), max(1, height // 4)
    base = np.array(
        rng.choice(
            ((122, 86, 58), (168, 132, 96), (70, 72, 78), (196, 196, 190), (40, 44, 52), (150, 160, 170))
        ),
        dtype=np.float32,
    )
    generator = numpy_rng(rng)
    grain = generator.standard_normal((small_h, 1), dtype=np.float32) * rng.uniform(3.0, 9.0)
    ys, xs = np.mgrid[0:small_h, 0:small_w].astype(np.float32)
    falloff = 1.0 - 0.25 * (
        ((xs - small_w * rng.random()) / small_w) ** 2 + ((ys - small_h * rng.random()) / small_h) ** 2
    )
    speckle = generator.standard_normal((small_h, small_w), dtype=np.float32) * 2.5
    pixels = base[None, None, :] * falloff[..., None] + (grain + speckle)[..., None]
    return _to_image(pixels).resize(size, Image.Resampling.BILINEAR)


def warp_onto_desk(image: Image.Image, matrix: np.ndarray, size: tuple[int, int], shot: Shot) -> Image.Image:
    """Apply the forward homography `matrix`; fill what the picture no longer covers.

    Cards get a desk around them. Street photos ("fill") get a blurred stretch of themselves, so the
    frame keeps its size and no plate near an edge is cropped away from its label.
    """
    rgb = image.convert("RGB")
    coefficients = inverse_coefficients(matrix)
    warped = rgb.transform(size, Image.Transform.PERSPECTIVE, coefficients, Image.Resampling.BICUBIC)
    coverage = Image.new("L", image.size, 255).transform(
        size, Image.Transform.PERSPECTIVE, coefficients, Image.Resampling.BILINEAR
    )
    if shot.backdrop == "fill":
        background = rgb.resize(size, Image.Resampling.BILINEAR).filter(
            ImageFilter.GaussianBlur(max(size) / 40)
        )
    else:
        background = desk(size, shot.rng)
    background.paste(warped, mask=coverage)
    return background


def _soft_spot(
    size: tuple[int, int], center: tuple[float, float], radii: tuple[float, float], angle: float
) -> np.ndarray:
    """A rotated Gaussian blob in 0..1: the shape of a lamp's reflection."""
    width, height = size
    ys, xs = np.mgrid[0:height, 0:width].astype(np.float32)
    dx, dy = xs - center[0], ys - center[1]
    c, s = np.cos(angle), np.sin(angle)
    u, v = (dx * c + dy * s) / radii[0], (-dx * s + dy * c) / radii[1]
    return np.exp(-(u * u + v * v))


# ----------------------------------------------------------------------------------------------- on the card


@register("glare", ON_CARD)
def glare(image: Image.Image, shot: Shot) -> Step:
    rng = shot.rng
    """A lamp or window reflected in the laminate: a washed-out bright patch that erases some print."""
    width, height = image.size
    center = (width * rng.uniform(0.25, 0.75), height * rng.uniform(0.25, 0.75))
    radii = (width * rng.uniform(0.12, 0.25), height * rng.uniform(0.06, 0.14))
    spot = _soft_spot(image.size, center, radii, rng.uniform(-0.6, 0.6))
    strength = rng.uniform(0.85, 1.15)
    pixels = _as_array(image)
    pixels = pixels + (255.0 - pixels) * np.clip(spot * strength, 0.0, 1.0)[..., None]
    return Step(_to_image(pixels))


@register("sleeve", ON_CARD, cards_only=True)
def sleeve(image: Image.Image, shot: Shot) -> Step:
    rng = shot.rng
    """A plastic sleeve: milky haze, lower contrast, a diagonal sheen and the sleeve's welded edge."""
    width, height = image.size
    pixels = _as_array(image.filter(ImageFilter.GaussianBlur(0.6)))
    haze = rng.uniform(0.08, 0.16)
    pixels = pixels * (1 - haze) + 235.0 * haze
    band = _soft_spot(
        image.size,
        (width * rng.uniform(0.2, 0.8), height / 2),
        (width * 0.9, height * 0.08),
        rng.uniform(0.5, 1.0),
    )
    pixels = pixels + (255.0 - pixels) * band[..., None] * rng.uniform(0.25, 0.45)
    result = _to_image(pixels)
    inset = int(min(width, height) * rng.uniform(0.01, 0.025))
    ImageDraw.Draw(result).rectangle(
        (inset, inset, width - inset, height - inset), outline=(250, 250, 250), width=2
    )
    return Step(result)


@register("lighting", LIGHT, mild=True)
def lighting(image: Image.Image, shot: Shot) -> Step:
    rng = shot.rng
    """Uneven light and a colour cast: one side in shadow, warm indoor bulbs or cold daylight."""
    width, height = image.size
    ys, xs = np.mgrid[0:height, 0:width].astype(np.float32)
    angle = rng.uniform(0, 2 * np.pi)
    ramp = ((xs / width - 0.5) * np.cos(angle) + (ys / height - 0.5) * np.sin(angle)) + 0.5
    gain = rng.uniform(0.55, 0.8) + ramp * rng.uniform(0.25, 0.45)
    cast = np.array([rng.uniform(0.92, 1.06), 1.0, rng.uniform(0.86, 1.04)], dtype=np.float32)
    return Step(_to_image(_as_array(image) * gain[..., None] * cast[None, None, :]))


# ----------------------------------------------------------------------------------------------- pose


def _desk_margin(image: Image.Image, shot: Shot) -> tuple[int, int]:
    if shot.backdrop == "fill":
        return 0, 0
    return int(image.width * shot.rng.uniform(0.06, 0.14)), int(image.height * shot.rng.uniform(0.06, 0.14))


@register("perspective", POSE, mild=True)
def perspective(image: Image.Image, shot: Shot) -> Step:
    """The phone not held parallel to the card: corners pulled unevenly, the desk showing around it."""
    rng = shot.rng
    width, height = image.size
    mx, my = _desk_margin(image, shot)
    size = (width + 2 * mx, height + 2 * my)

    def pull(span: float) -> float:
        return rng.uniform(-0.3, 1.0) * 0.08 * span

    target = [
        (mx + pull(width), my + pull(height)),
        (mx + width - pull(width), my + pull(height)),
        (mx + width - pull(width), my + height - pull(height)),
        (mx + pull(width), my + height - pull(height)),
    ]
    matrix = homography([(0, 0), (width, 0), (width, height), (0, height)], target)
    return Step(warp_onto_desk(image, matrix, size, shot), matrix)


@register("rotate", POSE, mild=True)
def rotate(image: Image.Image, shot: Shot) -> Step:
    """A hand-held tilt of 2 to 8 degrees either way (the whole card stays in the frame)."""
    rng = shot.rng
    degrees = rng.uniform(2.0, 8.0) * rng.choice((-1, 1))
    width, height = image.size
    if shot.backdrop == "fill":
        out_w, out_h = width, height
    else:
        theta = np.radians(abs(degrees))
        mx, my = _desk_margin(image, shot)
        out_w = int(width * np.cos(theta) + height * np.sin(theta)) + 2 * mx
        out_h = int(width * np.sin(theta) + height * np.cos(theta)) + 2 * my
    to_centre, from_centre = translation(-width / 2, -height / 2), translation(out_w / 2, out_h / 2)
    matrix = from_centre @ rotation(degrees) @ to_centre
    return Step(warp_onto_desk(image, matrix, (out_w, out_h), shot), matrix)


def _quarter_turn(turns: int) -> Apply:
    transposes = {1: Image.Transpose.ROTATE_90, 2: Image.Transpose.ROTATE_180, 3: Image.Transpose.ROTATE_270}

    def turn(image: Image.Image, shot: Shot) -> Step:
        width, height = image.size
        if turns == 1:
            matrix = np.array([[0.0, 1.0, 0.0], [-1.0, 0.0, width], [0.0, 0.0, 1.0]])
        elif turns == 2:
            matrix = np.array([[-1.0, 0.0, width], [0.0, -1.0, height], [0.0, 0.0, 1.0]])
        else:
            matrix = np.array([[0.0, -1.0, height], [1.0, 0.0, 0.0], [0.0, 0.0, 1.0]])
        return Step(image.transpose(transposes[turns]), matrix)

    turn.__doc__ = (
        f"The photo turned {turns * 90} degrees counter-clockwise (a phone held sideways or upside down)."
    )
    return turn


for _turns, _name in enumerate(ROTATIONS, start=1):
    register(_name, TURN)(_quarter_turn(_turns))


# ----------------------------------------------------------------------------------------------- camera


@register("blur", OPTICS)
def blur(image: Image.Image, shot: Shot) -> Step:
    rng = shot.rng
    """Out of focus or shaken: a Gaussian whose radius scales with the image."""
    radius = rng.uniform(1.2, 2.4) * max(image.width, image.height) / 1000
    return Step(image.filter(ImageFilter.GaussianBlur(max(0.6, radius))))


@register("noise", SENSOR, mild=True)
def noise(image: Image.Image, shot: Shot) -> Step:
    rng = shot.rng
    """Sensor noise of a dim room, with a little contrast loss."""
    pixels = _as_array(ImageEnhance.Contrast(image.convert("RGB")).enhance(rng.uniform(0.8, 0.95)))
    sigma = rng.uniform(5.0, 11.0)
    return Step(_to_image(pixels + numpy_rng(rng).standard_normal(pixels.shape, dtype=np.float32) * sigma))


@register("small", RESIZE)
def small(image: Image.Image, shot: Shot) -> Step:
    rng = shot.rng
    """A thumbnail-sized copy (what some chat apps forward): about 400 px wide, or a third for crops."""
    width, height = image.size
    target = rng.randint(380, 420) if width > 700 else max(40, int(width * rng.uniform(0.3, 0.5)))
    factor = target / width
    size = (target, max(1, round(height * factor)))
    return Step(image.resize(size, Image.Resampling.BILINEAR), scaling(size[0] / width, size[1] / height))


@register("jpeg", FILE, mild=True)
def jpeg(image: Image.Image, shot: Shot) -> Step:
    rng = shot.rng
    """Heavy re-compression, as after a chat app forwarded the photo twice."""
    buffer = io.BytesIO()
    image.convert("RGB").save(buffer, "JPEG", quality=rng.randint(15, 45))
    buffer.seek(0)
    with Image.open(buffer) as decoded:
        return Step(decoded.convert("RGB"))


# ----------------------------------------------------------------------------------------------- api


def _ordered(kinds: Iterable[str]) -> list[Degradation]:
    chosen = []
    for kind in kinds:
        if kind not in DEGRADATIONS:
            raise ValueError(f"unknown degradation {kind!r}; known: {', '.join(sorted(DEGRADATIONS))}")
        chosen.append(DEGRADATIONS[kind])
    return sorted(chosen, key=lambda degradation: degradation.stage)


def degrade_tracked(
    image: Image.Image,
    kinds: Sequence[str],
    rng: random.Random,
    boxes: Sequence[dict[str, int]] = (),
    *,
    backdrop: Literal["desk", "fill"] = "desk",
) -> tuple[Image.Image, list[dict[str, int]]]:
    """Apply `kinds` in stage order; return the image and `boxes` moved to where their content went.

    Cards are photographed on a desk; street scenes pass backdrop="fill" to keep their frame.
    """
    shot = Shot(rng, backdrop)
    corners = [box_corners(box) for box in boxes]
    for degradation in _ordered(kinds):
        step = degradation.apply(image, shot)
        image = step.image
        if step.matrix is not None:
            corners = [apply(step.matrix, quad) for quad in corners]
    return image.convert("RGB"), [box_of(quad, image.size) for quad in corners]


def degrade(
    image: Image.Image,
    kinds: Sequence[str],
    rng: random.Random,
    *,
    backdrop: Literal["desk", "fill"] = "desk",
) -> Image.Image:
    """The image as a photo with `kinds` of trouble (names in DEGRADATIONS), applied in stage order."""
    degraded, _ = degrade_tracked(image, kinds, rng, backdrop=backdrop)
    return degraded


def ordered_names(kinds: Iterable[str]) -> list[str]:
    """`kinds` in the order `degrade` applies them (what a gt.json records)."""
    return [degradation.name for degradation in _ordered(kinds)]


PRESETS = ("none", "mild", "all")


def choose(preset: str, rng: random.Random, *, card: bool = True) -> list[str]:
    """A random plausible combination for a preset: none, mild (1-2 gentle ones) or all (1-3 of any,
    plus a quarter turn one time in four). `card=False` leaves out what only happens to cards."""
    if preset not in PRESETS:
        raise ValueError(f"unknown degradation preset {preset!r}; use one of {', '.join(PRESETS)}")
    if preset == "none":
        return []
    usable = {name: item for name, item in DEGRADATIONS.items() if card or not item.cards_only}
    if preset == "mild":
        pool = sorted(name for name, item in usable.items() if item.mild)
        return ordered_names(rng.sample(pool, rng.randint(1, 2)))
    pool = sorted(name for name in usable if name not in ROTATIONS)
    picked = rng.sample(pool, rng.randint(1, 3))
    if rng.random() < 0.25:
        picked.append(rng.choice(ROTATIONS))
    return ordered_names(picked)
