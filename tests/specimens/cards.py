"""The four card pages: 驾驶证 main page (new and old validity layouts) and 副页, 行驶证 main page and 副页.

Cards are 88 x 60 mm; we draw them at CARD_SIZE (about 11.4 px/mm, what a phone photo of a card held
close gives). Layout follows the real cards: bilingual labels on the main pages, Chinese-only 副页, values
heavier than labels, the red seal on the left of the driving licence and at the bottom right of the vehicle
licence, a 1-inch photo on the driving licence. The picture is seeded from the card's own data, so the
same person always produces the same pixels.
"""

from __future__ import annotations

import random
from typing import Literal

from PIL import Image, ImageDraw

from tests.specimens.data import Person, Vehicle, driving_truth, vehicle_truth
from tests.specimens.paint import (
    RGB,
    draw_centered,
    draw_text,
    fit_lines,
    fit_size,
    paper_noise,
    paste_ink,
    portrait,
    rounded_card,
    seal,
    security_background,
    stamp_box,
)

CARD_SIZE = (1000, 682)
Layout = Literal["new", "old"]
CardSide = Literal["front", "back"]

LABEL: RGB = (35, 35, 35)
VALUE: RGB = (10, 10, 14)
RULE: RGB = (120, 120, 120)
SURROUND: RGB = (238, 238, 236)

DRIVING_TINT: RGB = (247, 240, 232)
DRIVING_LINE: RGB = (236, 222, 212)
OLD_DRIVING_TINT: RGB = (246, 241, 224)
OLD_DRIVING_LINE: RGB = (232, 224, 198)
VEHICLE_TINT: RGB = (236, 241, 240)
VEHICLE_LINE: RGB = (220, 230, 228)

DRIVING_TITLE = "中华人民共和国机动车驾驶证"
DRIVING_TITLE_EN = "Driving License of the People's Republic of China"
DRIVING_BACK_TITLE = "中华人民共和国机动车驾驶证副页"
VEHICLE_TITLE = "中华人民共和国机动车行驶证"
VEHICLE_TITLE_EN = "Vehicle License of the People's Republic of China"


def _card_rng(*parts: object) -> random.Random:
    return random.Random("|".join(str(part) for part in parts))


def _label(draw: ImageDraw.ImageDraw, x: float, y: float, zh: str, en: str = "", size: int = 25) -> float:
    """Bilingual label on one line, the English smaller; returns where it ends."""
    end = draw_text(draw, (x, y), zh, size, fill=LABEL)
    if en:
        end = draw_text(draw, (end + 8, y + 2), en, max(12, size * 3 // 5), fill=LABEL)
    return end


def _value(
    draw: ImageDraw.ImageDraw,
    x: float,
    y: float,
    text: str,
    size: int = 29,
    tracking: float = 0,
    max_width: float | None = None,
) -> float:
    """A printed value, shrunk to `max_width` when it is long (as card printers do) rather than cut."""
    if max_width is not None:
        size = fit_size(text, size, max_width, tracking)
    return draw_text(draw, (x, y), text, size, fill=VALUE, bold=True, tracking=tracking)


def _stacked_label(draw: ImageDraw.ImageDraw, x: float, y: float, zh: str, en: str) -> None:
    """Vehicle-licence cells: Chinese label with its English under it, centred on the row."""
    if en:
        draw_text(draw, (x, y - 11), zh, 22, fill=LABEL)
        draw_text(draw, (x, y + 15), en, 13, fill=LABEL)
    else:
        draw_text(draw, (x, y), zh, 23, fill=LABEL)


def _finish(card: Image.Image, rng: random.Random) -> Image.Image:
    return rounded_card(paper_noise(card, rng, 2.5), SURROUND)


# ----------------------------------------------------------------------------------------------- driving


def _driving_front(person: Person, layout: Layout) -> Image.Image:
    rng = _card_rng("driving", "front", layout, person.id_number, person.name)
    tint, line = (DRIVING_TINT, DRIVING_LINE) if layout == "new" else (OLD_DRIVING_TINT, OLD_DRIVING_LINE)
    card = security_background(CARD_SIZE, tint, line, rng)
    draw = ImageDraw.Draw(card)
    width, _height = CARD_SIZE

    draw_centered(draw, width / 2, 42, DRIVING_TITLE, 40, fill=(20, 20, 20), tracking=4)
    draw_centered(draw, width / 2, 88, DRIVING_TITLE_EN, 19, fill=LABEL)
    draw.line((40, 112, width - 40, 112), fill=RULE, width=1)

    _label(draw, 60, 145, "证号")
    _value(draw, 200, 145, person.id_number, 31, tracking=5)

    end = _label(draw, 60, 200, "姓名", "Name")
    _value(draw, end + 18, 200, person.name)
    end = _label(draw, 420, 200, "性别", "Sex")
    _value(draw, end + 14, 200, person.sex)
    end = _label(draw, 600, 200, "国籍", "Nationality")
    _value(draw, end + 14, 200, person.nationality)

    _label(draw, 60, 255, "住址", "Address")
    address_size, address_lines = fit_lines(person.address, 28, 520, 2)
    for row, text in enumerate(address_lines):
        _value(draw, 215, 255 + row * 38, text, address_size)

    photo_box = (760, 238, 960, 518)
    card.paste(portrait((photo_box[2] - photo_box[0], photo_box[3] - photo_box[1]), rng), photo_box[:2])
    draw.rectangle(photo_box, outline=RULE, width=1)

    rows = (
        ("出生日期", "Date of Birth", person.birth_date.isoformat()),
        ("初次领证日期", "Date of First Issue", person.first_issue_date.isoformat()),
        ("准驾车型", "Class", person.licence_class),
    )
    for index, (zh, en, value) in enumerate(rows):
        y = 355 + index * 62
        _label(draw, 285, y, zh, en, size=24)
        _value(draw, 585, y, value, 29)

    draw.line((40, 578, width - 40, 578), fill=RULE, width=1)
    if layout == "new":
        end = _label(draw, 60, 620, "有效期限", "Valid Period")
        period = "长期" if person.long_term else person.valid_to.isoformat()  # type: ignore[union-attr]
        _value(draw, end + 24, 620, f"{person.valid_from.isoformat()} 至 {period}", 29)
    else:
        end = _label(draw, 60, 620, "有效起始日期", "Valid From", size=24)
        _value(draw, end + 16, 620, person.valid_from.isoformat(), 29)
        end = _label(draw, 640, 620, "有效期限", "Valid For", size=24)
        _value(draw, end + 16, 620, "长期" if person.long_term else f"{person.valid_years}年", 29)

    paste_ink(card, seal(person.issuing_authority, 105, rng), (160, 445))
    return _finish(card, rng)


def _driving_back(person: Person) -> Image.Image:
    rng = _card_rng("driving", "back", person.id_number, person.name)
    card = security_background(CARD_SIZE, DRIVING_TINT, DRIVING_LINE, rng)
    draw = ImageDraw.Draw(card)
    width, height = CARD_SIZE

    draw_centered(draw, width / 2, 48, DRIVING_BACK_TITLE, 40, fill=(20, 20, 20), tracking=3)
    draw.line((40, 92, width - 40, 92), fill=RULE, width=1)
    _label(draw, 60, 140, "证号")
    _value(draw, 180, 140, person.id_number, 31, tracking=5)
    _label(draw, 60, 205, "姓名")
    _value(draw, 180, 205, person.name)
    _label(draw, 500, 205, "档案编号")
    _value(draw, 630, 205, person.file_number, 29, tracking=2)

    box_top = 250
    draw.rectangle((40, box_top, width - 40, height - 40), outline=RULE, width=2)
    _label(draw, 60, box_top + 40, "记录")
    for line_y in range(box_top + 80, height - 60, 60):
        draw.line((60, line_y, width - 60, line_y), fill=(200, 196, 190), width=1)
    if person.record:
        _value(draw, 150, box_top + 40, person.record, 29)
    return _finish(card, rng)


def render_driving(
    person: Person, layout: Layout = "new", side: CardSide = "front"
) -> tuple[Image.Image, dict[str, object]]:
    """驾驶证 page and its normalized truth. `layout` matters only for the main page's validity rows."""
    if layout not in ("new", "old"):
        raise ValueError(f"layout must be 'new' or 'old', not {layout!r}")
    if side == "front":
        return _driving_front(person, layout), driving_truth(person, "front")
    if side == "back":
        return _driving_back(person), driving_truth(person, "back")
    raise ValueError(f"side must be 'front' or 'back', not {side!r}")


# ----------------------------------------------------------------------------------------------- vehicle

_TABLE_LEFT, _TABLE_RIGHT = 36, CARD_SIZE[0] - 36
_LABEL_WIDTH = 176


def _table(draw: ImageDraw.ImageDraw, top: int, row_heights: list[int], splits: dict[int, int]) -> list[int]:
    """Rule a table; `splits` maps a row index to the x of its second label cell. Returns row centres."""
    centres, y = [], top
    draw.rectangle((_TABLE_LEFT, top, _TABLE_RIGHT, top + sum(row_heights)), outline=RULE, width=2)
    for index, row_height in enumerate(row_heights):
        centres.append(y + row_height // 2)
        draw.line((_TABLE_LEFT + _LABEL_WIDTH, y, _TABLE_LEFT + _LABEL_WIDTH, y + row_height), fill=RULE)
        if index in splits:
            x = splits[index]
            draw.line((x, y, x, y + row_height), fill=RULE)
            draw.line((x + _LABEL_WIDTH, y, x + _LABEL_WIDTH, y + row_height), fill=RULE)
        y += row_height
        if index < len(row_heights) - 1:
            draw.line((_TABLE_LEFT, y, _TABLE_RIGHT, y), fill=RULE)
    return centres


def _vehicle_front(vehicle: Vehicle) -> Image.Image:
    rng = _card_rng("vehicle", "front", vehicle.vin, vehicle.plate.number)
    card = security_background(CARD_SIZE, VEHICLE_TINT, VEHICLE_LINE, rng)
    draw = ImageDraw.Draw(card)
    width, _height = CARD_SIZE
    draw_centered(draw, width / 2, 38, VEHICLE_TITLE, 40, fill=(20, 20, 20), tracking=4)
    draw_centered(draw, width / 2, 82, VEHICLE_TITLE_EN, 19, fill=LABEL)

    split = 520
    address_size, address_lines = fit_lines(
        vehicle.address, 26, _TABLE_RIGHT - _TABLE_LEFT - _LABEL_WIDTH - 30, 2
    )
    heights = [74, 70, 96 if len(address_lines) > 1 else 70, 74, 70, 70, 74]
    rows = _table(draw, 108, heights, {0: split, 3: split, 6: split})
    value_x, right_value_x = _TABLE_LEFT + _LABEL_WIDTH + 14, split + _LABEL_WIDTH + 14
    label_x, right_label_x = _TABLE_LEFT + 12, split + 12

    _stacked_label(draw, label_x, rows[0], "号牌号码", "Plate No.")
    _value(draw, value_x, rows[0], vehicle.plate.number, 30, tracking=2)
    _stacked_label(draw, right_label_x, rows[0], "车辆类型", "Vehicle Type")
    _value(draw, right_value_x, rows[0], vehicle.vehicle_type, 27, max_width=_TABLE_RIGHT - right_value_x - 8)
    _stacked_label(draw, label_x, rows[1], "所有人", "Owner")
    _value(draw, value_x, rows[1], vehicle.owner, 28, max_width=_TABLE_RIGHT - value_x - 8)
    _stacked_label(draw, label_x, rows[2], "住址", "Address")
    for index, text in enumerate(address_lines):
        offset = (index - (len(address_lines) - 1) / 2) * 34
        _value(draw, value_x, rows[2] + offset, text, address_size)
    _stacked_label(draw, label_x, rows[3], "使用性质", "Use Character")
    _value(draw, value_x, rows[3], vehicle.use_character, 27, max_width=split - value_x - 8)
    _stacked_label(draw, right_label_x, rows[3], "品牌型号", "Model")
    right_width = _TABLE_RIGHT - right_value_x - 8
    _value(draw, right_value_x, rows[3], vehicle.model, 27, max_width=right_width)
    _stacked_label(draw, label_x, rows[4], "车辆识别代号", "VIN")
    _value(draw, value_x, rows[4], vehicle.vin, 29, tracking=3)
    _stacked_label(draw, label_x, rows[5], "发动机号码", "Engine No.")
    _value(draw, value_x, rows[5], vehicle.engine_number, 29, tracking=2)
    _stacked_label(draw, label_x, rows[6], "注册日期", "Register Date")
    _value(draw, value_x, rows[6], vehicle.register_date.isoformat(), 28)
    _stacked_label(draw, right_label_x, rows[6], "发证日期", "Issue Date")
    _value(draw, right_value_x, rows[6], vehicle.issue_date.isoformat(), 28)

    paste_ink(card, seal(vehicle.issuing_authority, 100, rng), (845, rows[5] - 10))
    return _finish(card, rng)


def _vehicle_back(vehicle: Vehicle) -> Image.Image:
    rng = _card_rng("vehicle", "back", vehicle.vin, vehicle.plate.number)
    card = security_background(CARD_SIZE, VEHICLE_TINT, VEHICLE_LINE, rng)
    draw = ImageDraw.Draw(card)
    split = 500
    heights = [72, 72, 72, 72, 72, 250]
    rows = _table(draw, 40, heights, {0: split, 1: split, 2: split, 4: split})
    value_x, right_value_x = _TABLE_LEFT + _LABEL_WIDTH + 14, split + _LABEL_WIDTH + 14
    label_x, right_label_x = _TABLE_LEFT + 14, split + 14

    cells = (
        (label_x, value_x, rows[0], "号牌号码", vehicle.plate.number, 2),
        (right_label_x, right_value_x, rows[0], "档案编号", vehicle.file_number, 2),
        (label_x, value_x, rows[1], "核定载人数", vehicle.approved_passengers, 0),
        (right_label_x, right_value_x, rows[1], "总质量", vehicle.total_mass, 0),
        (label_x, value_x, rows[2], "整备质量", vehicle.curb_weight, 0),
        (right_label_x, right_value_x, rows[2], "核定载质量", vehicle.approved_load, 0),
        (label_x, value_x, rows[3], "外廓尺寸", vehicle.dimensions, 0),
        (label_x, value_x, rows[4], "准牵引总质量", vehicle.traction_mass, 0),
        (right_label_x, right_value_x, rows[4], "备注", vehicle.remarks or "", 0),
    )
    for lx, vx, y, label, value, tracking in cells:
        _stacked_label(draw, lx, y, label, "")
        if value:
            _value(draw, vx, y, value, 28, tracking=tracking)
    record_top = 40 + sum(heights[:5])
    _stacked_label(draw, label_x, record_top + 40, "检验记录", "")
    stamp = stamp_box(vehicle.inspection_record, 27, rng)
    paste_ink(card, stamp, (value_x + 40 + stamp.width / 2, record_top + 70 + rng.uniform(-8, 8)))
    return _finish(card, rng)


def render_vehicle(vehicle: Vehicle, side: CardSide = "front") -> tuple[Image.Image, dict[str, object]]:
    """行驶证 page and its normalized truth."""
    if side == "front":
        return _vehicle_front(vehicle), vehicle_truth(vehicle, "front")
    if side == "back":
        return _vehicle_back(vehicle), vehicle_truth(vehicle, "back")
    raise ValueError(f"side must be 'front' or 'back', not {side!r}")
