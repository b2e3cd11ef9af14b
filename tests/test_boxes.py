"""Drawing recognized boxes onto the photo, and the bounded in-memory store the "show boxes" button uses."""

from __future__ import annotations

import io

import numpy as np
from PIL import Image

from bot.boxes import MAX_OUTPUT_SIDE, LabeledBox, boxes_of, draw_boxes
from bot.channels.telegram_photos import PhotoMemory
from bot.models import Box, DrivingLicence, FieldMeta, Plate, Recognition

GREY = (128, 128, 128)


def jpeg(size: tuple[int, int], orientation: int | None = None) -> bytes:
    image = Image.new("RGB", size, GREY)
    buffer = io.BytesIO()
    if orientation is None:
        image.save(buffer, "JPEG")
    else:
        exif = Image.Exif()
        exif[0x0112] = orientation
        image.save(buffer, "JPEG", exif=exif)
    return buffer.getvalue()


def decoded(data: bytes) -> Image.Image:
    return Image.open(io.BytesIO(data)).convert("RGB")


def is_grey(pixel: tuple[int, ...]) -> bool:
    return all(abs(channel - 128) < 12 for channel in pixel[:3])


def test_boxes_follow_card_order_and_skip_fields_without_one():
    document = DrivingLicence(
        number="1",
        name="王芳",
        class_="C1",
        meta={
            "valid_to": FieldMeta(box=Box(x=1, y=1, width=2, height=2)),
            "name": FieldMeta(confidence=0.9, box=Box(x=5, y=5, width=2, height=2)),
            "class": FieldMeta(box=Box(x=9, y=9, width=2, height=2)),
            "number": FieldMeta(confidence=0.9),
        },
    )
    recognition = Recognition(kind="driving", vendor="x", document=document)
    assert [box.name for box in boxes_of(recognition)] == ["name", "class", "valid_to"]


def test_plate_boxes_and_empty_results():
    plates = [Plate(number="京A12345", box=Box(x=0, y=0, width=5, height=5)), Plate(number="京B1")]
    assert [b.name for b in boxes_of(Recognition(kind="plate", vendor="x", plates=plates))] == ["plate"]
    assert boxes_of(Recognition(kind="driving", vendor="x")) == []


def test_drawn_outline_is_where_the_box_is():
    box = Box(x=100, y=80, width=200, height=60)
    picture = decoded(draw_boxes(jpeg((640, 420)), [LabeledBox("plate", box)]))
    assert picture.size == (640, 420)
    assert not is_grey(picture.getpixel((200, 81)))  # top edge
    assert not is_grey(picture.getpixel((299, 110)))  # right edge
    assert is_grey(picture.getpixel((200, 110)))  # inside stays as it was
    assert is_grey(picture.getpixel((600, 400)))  # far away too


def test_boxes_are_in_upright_pixels_and_big_photos_are_scaled_down():
    # Stored 400x300 but EXIF says rotate 90°: the user (and the vendor) saw 300x400.
    upright = decoded(
        draw_boxes(jpeg((400, 300), orientation=6), [LabeledBox("n", Box(x=10, y=350, width=50, height=30))])
    )
    assert upright.size == (300, 400)
    assert not is_grey(upright.getpixel((35, 351)))
    big = decoded(
        draw_boxes(jpeg((4096, 1024)), [LabeledBox("n", Box(x=2048, y=512, width=400, height=200))])
    )
    assert big.size == (MAX_OUTPUT_SIDE, 512)
    assert not is_grey(big.getpixel((1124, 257)))  # the box moved with the scale (x/2, y/2)


def test_a_sixteen_bit_scan_is_drawn_as_it_was_read_not_clipped_to_white():
    grey = Image.fromarray(np.full((420, 640), 0x8000, np.uint16))  # mid grey in 16 bits
    buffer = io.BytesIO()
    grey.save(buffer, "PNG")
    picture = decoded(draw_boxes(buffer.getvalue(), [LabeledBox("n", Box(x=10, y=10, width=50, height=30))]))
    assert all(abs(channel - 128) <= 2 for channel in picture.getpixel((600, 400)))


def test_photo_memory_is_bounded_by_count_bytes_and_time():
    now = [0.0]
    memory = PhotoMemory(max_photos=2, ttl=10, max_bytes=250, clock=lambda: now[0])
    memory.put("a", b"x" * 100, "u")
    memory.put("b", b"x" * 100, "u")
    assert memory.get("a") is not None  # touching a makes b the least recently used
    memory.put("c", b"x" * 100, "u")
    assert memory.get("b") is None and memory.get("a") is not None and memory.get("c") is not None
    memory.put("d", b"x" * 200, "u")  # over the byte bound: older photos give way
    assert len(memory) == 1 and memory.total_bytes == 200
    memory.put("huge", b"x" * 300, "u")
    assert memory.get("huge") is None
    now[0] = 11
    assert memory.get("d") is None and memory.total_bytes == 0
    disabled = PhotoMemory(max_photos=0, ttl=10)
    disabled.put("a", b"x", "u")
    assert disabled.get("a") is None
