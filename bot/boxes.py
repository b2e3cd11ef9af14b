"""Draw the boxes a vendor returned onto the photo: the "show boxes" answer in chats.

Some people would rather look than read: a numbered outline on each recognized field or plate shows at
a glance what was read where (and what was missed). Numbers rather than words are drawn, because the
default font has no Chinese glyphs and shipping a CJK font for this is not worth it; the caption beside
the photo names each number in the user's language.

Pure Pillow, in memory: the photo and the drawing never touch the disk.
"""

from __future__ import annotations

import io
from dataclasses import dataclass

from PIL import ImageDraw, ImageFont

from bot.images import load, to_pil
from bot.models import Box, Recognition

#: Longest side of the picture we send back: enough to read every outline, far under Telegram's limits.
MAX_OUTPUT_SIDE = 2048
_COLOURS = ((230, 40, 40), (20, 120, 230), (20, 160, 60), (220, 130, 0), (150, 50, 200), (0, 150, 150))


@dataclass(frozen=True)
class LabeledBox:
    """One outline: `name` is the field name (`number`, `vin`) or `plate`; `box` in upright pixels."""

    name: str
    box: Box


def boxes_of(recognition: Recognition) -> list[LabeledBox]:
    """The boxes worth drawing, in reading order: plates in the vendor's order, fields in card order."""
    if recognition.kind == "plate":
        return [LabeledBox("plate", plate.box) for plate in recognition.plates if plate.box is not None]
    document = recognition.document
    if document is None:
        return []
    order = {name: index for index, name in enumerate(type(document).field_names())}
    boxed = [(name, meta.box) for name, meta in document.meta.items() if meta.box is not None]
    boxed.sort(key=lambda item: order.get(item[0], order.get(f"{item[0]}_", len(order))))  # class -> class_
    return [LabeledBox(name, box) for name, box in boxed]


def draw_boxes(photo: bytes, boxes: list[LabeledBox]) -> bytes:
    """A JPEG of `photo` (EXIF-upright, scaled to at most MAX_OUTPUT_SIDE) with box i drawn as number i+1.

    Boxes are in the pixel space of the upright photo the user sent, so they are scaled along with it.
    The photo is decoded as intake decodes it, so the picture is the one that was read (16-bit greys
    scaled rather than clipped to white, transparency on white) and is never decoded whole when a
    smaller decode will do. Raises `ImageRejected` for bytes intake would refuse (callers only pass
    photos it accepted).
    """
    image = load(photo, min_side=1, decode_side=MAX_OUTPUT_SIDE)
    upright = to_pil(image, max_side=MAX_OUTPUT_SIDE)
    scale = upright.width / image.width
    canvas = ImageDraw.Draw(upright)
    line = max(2, round(max(upright.size) / 400))
    font = ImageFont.load_default(size=max(14, round(max(upright.size) / 45)))
    for index, labeled in enumerate(boxes):
        _draw_one(canvas, labeled.box, scale, str(index + 1), _COLOURS[index % len(_COLOURS)], line, font)
    out = io.BytesIO()
    upright.save(out, "JPEG", quality=85)
    return out.getvalue()


def _draw_one(
    canvas: ImageDraw.ImageDraw,
    box: Box,
    scale: float,
    tag: str,
    colour: tuple[int, int, int],
    line: int,
    font: ImageFont.ImageFont | ImageFont.FreeTypeFont,
) -> None:
    left, top = box.x * scale, box.y * scale
    right, bottom = (box.x + box.width) * scale, (box.y + box.height) * scale
    canvas.rectangle((left, top, right, bottom), outline=colour, width=line)
    tag_left, tag_top, tag_right, tag_bottom = canvas.textbbox((0, 0), tag, font=font)
    width, height = tag_right - tag_left + 2 * line, tag_bottom - tag_top + 2 * line
    label_top = top - height if top - height >= 0 else bottom  # above the box, or below at the top edge
    canvas.rectangle((left, label_top, left + width, label_top + height), fill=colour)
    canvas.text((left + line - tag_left, label_top + line - tag_top), tag, fill=(255, 255, 255), font=font)
