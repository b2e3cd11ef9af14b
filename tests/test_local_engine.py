"""The embedded engine `local`.

Two halves: the layout parser, plate grammar and seal finder on synthetic input (fast, no OCR), then the
engine end to end on specimens the project renders itself. The OCR model loads once for the module; a
card takes about a second on two cores, so the end-to-end cases are few and chosen to cover every page,
every plate colour and the mild degradations a phone photo brings.
"""

from __future__ import annotations

import asyncio
import io
import math
import random
import unicodedata
from datetime import date

import cv2
import numpy as np
import pytest
from PIL import Image, ImageDraw, ImageFilter
from pydantic import ValidationError

from bot.images import IntakeImage, load
from bot.models import DrivingLicence, PlateColor
from bot.plate_grammar import parse_plate
from bot.vendors.base import ErrorCategory, VendorChain, VendorError, build_vendor, known_vendors, shows_page
from bot.vendors.local.document import build_document
from bot.vendors.local.layout import (
    FieldValue,
    PageRead,
    authority_from_lines,
    offer_value,
    parse_page,
)
from bot.vendors.local.line_text import label_text
from bot.vendors.local.ocr import EngineFailure, OcrEngine, OcrLine, line_length, model_paths, shared_engine
from bot.vendors.local.plates import MAX_SCENE_LINES, color_shares, is_tight_crop, match_plate, plate_color
from bot.vendors.local.seal import find_seals, unroll
from bot.vendors.local.values import REPAIR_PENALTY, clean_authority, clean_value
from bot.vendors.local.vendor import NO_LABELS, LocalSettings, LocalVendor
from tests import specimens
from tests.specimens.fonts import font as font_of

# ----------------------------------------------------------------------------------------------- helpers


def _advance(char: str, height: float) -> float:
    """How wide a synthetic OCR box draws a character: CJK square, Latin about half as wide."""
    return height if unicodedata.east_asian_width(char) in ("W", "F") else height * 0.55


def line(text: str, x: float, y: float, *, height: float = 32.0, score: float = 0.99) -> OcrLine:
    width = sum(_advance(char, height) for char in text)
    return OcrLine.from_rect(text, score, x, y, x + width, y + height)


def turned(lines: list[OcrLine], degrees: float, centre: tuple[float, float] = (500, 340)) -> list[OcrLine]:
    """The same lines in a photo turned `degrees` clockwise: boxes move, text stays as OCR read it."""
    radians = math.radians(degrees)
    cos, sin = math.cos(radians), math.sin(radians)
    cx, cy = centre

    def move(point: tuple[float, float]) -> tuple[float, float]:
        x, y = point[0] - cx, point[1] - cy
        return (cx + x * cos - y * sin, cy + x * sin + y * cos)

    return [OcrLine(item.text, item.score, tuple(move(p) for p in item.points)) for item in lines]  # type: ignore[misc]


DRIVER = {
    "number": "11010519491231002X",
    "name": "王芳",
    "sex": "女",
    "nationality": "中国",
    "address": "北京市朝阳区建国路88号院3号楼",
    "birth_date": "1949-12-31",
    "first_issue_date": "2000-05-10",
    "class": "C1",
    "valid_from": "2020-05-10",
    "valid_to": "2026-05-10",
    "long_term": False,
}


def driving_split() -> list[OcrLine]:
    """A 驾驶证 main page read box by box: labels, English sub-labels under them, values to the right."""
    return [
        line("中华人民共和国机动车驾驶证", 200, 20, height=40),
        line("Driving License of the People's Republic of China", 280, 70, height=20),
        line("证号", 50, 120),
        line("11010519491231002X", 190, 121),
        line("姓名", 50, 180),
        line("Name", 50, 214, height=14),
        line("王芳", 170, 182),
        line("性别", 400, 180),
        line("Sex", 400, 214, height=14),
        line("女", 480, 181),
        line("国籍", 580, 180),
        line("Nationality", 580, 214, height=14),
        line("中国", 680, 181),
        line("住址", 50, 250),
        line("Address", 50, 284, height=14),
        line("北京市朝阳区建国路", 170, 251),
        line("88号院3号楼", 170, 289),
        line("出生日期", 280, 340),
        line("Date of Birth", 280, 374, height=14),
        line("1949-12-31", 580, 341),
        line("初次领证日期", 280, 400),
        line("Date of First Issue", 280, 434, height=14),
        line("2000-05-10", 580, 401),
        line("准驾车型", 280, 460),
        line("Class", 280, 494, height=14),
        line("C1", 580, 461),
        line("有效期限", 50, 600),
        line("Valid Period", 50, 634, height=14),
        line("2020-05-10 至 2026-05-10", 260, 601),
    ]


def driving_merged() -> list[OcrLine]:
    """The same page where OCR joined labels, English sub-labels and values into long lines."""
    address = line("住址 Address 北京市朝阳区建国路", 50, 250)
    value_x = 50 + sum(_advance(char, 32) for char in "住址 Address ")
    return [
        line("证号 11010519491231002X", 50, 120),
        line("姓名 Name 王芳 性别 Sex女国籍 Nationality 中国", 50, 180),
        address,
        line("88号院3号楼", value_x, 289),
        line("出生日期 Date of Birth 1949-12-31", 280, 340),
        line("初次领证日期 Date of First Issue 2000-05-10", 280, 400),
        line("准驾车型 Class C1", 280, 460),
        line("有效期限 Valid Period 2020-05-10至2026-05-10", 50, 600),
    ]


def values(read: PageRead) -> dict[str, object]:
    return build_document(read).values()


def expected_driver(**changes: object) -> dict[str, object]:
    return {**DRIVER, "issuing_authority": None, **changes}


# ----------------------------------------------------------------------------------------------- layout


def test_reads_a_page_of_separate_boxes_without_english_in_values():
    read = parse_page("driving", "front", driving_split())
    assert values(read) == expected_driver()


def test_reads_labels_and_values_joined_into_one_line():
    read = parse_page("driving", "front", driving_merged())
    assert values(read) == expected_driver()


def test_a_code_joined_to_its_sub_label_without_a_space_is_kept():
    """OCR reads ``Class C1`` as ``ClassC1``: the capitals after the word's last lower-case letter are
    the class, since no sub-label ends in a capital."""
    lines = [line("准驾车型 ClassC1", 280, 460) if "Class" in one.text else one for one in driving_merged()]
    assert values(parse_page("driving", "front", lines)) == expected_driver()
    assert label_text("型 ClassC1") == "型C1"
    assert label_text("姓名 Name 王芳") == "姓名王芳"  # a sub-label ending in lower case goes whole
    # Capitals that end a sub-label read in capitals are the sub-label's, not a value's.
    assert label_text("号牌号码 PlateNO苏A40186") == "号牌号码苏A40186"
    assert label_text("发动机号码 EngineNO 123456A") == "发动机号码123456A"
    assert label_text("品牌型号 ModeL 大众汽车牌SVW71612BM") == "品牌型号大众汽车牌SVW71612BM"


def test_line_order_does_not_matter():
    lines = driving_split()
    random.Random(4).shuffle(lines)
    assert values(parse_page("driving", "front", lines)) == expected_driver()


@pytest.mark.parametrize("degrees, quarter_turns", [(180, 2), (90, 1), (270, 3), (5, 0), (-5, 0)])
def test_geometry_of_a_turned_or_tilted_photo(degrees, quarter_turns):
    read = parse_page("driving", "front", turned(driving_split(), degrees))
    assert values(read) == expected_driver()
    assert read.quarter_turns == quarter_turns


def test_upside_down_merged_lines_keep_their_values():
    read = parse_page("driving", "front", turned(driving_merged(), 180))
    assert values(read) == expected_driver()
    assert read.quarter_turns == 2


def test_old_layout_counts_the_validity_period_from_the_start_date():
    lines = [item for item in driving_split() if "有效期限" not in item.text and "至" not in item.text]
    lines += [
        line("有效起始日期", 50, 600),
        line("2020-05-10", 260, 601),
        line("有效期限", 600, 600),
        line("6年", 740, 601),
    ]
    assert values(parse_page("driving", "front", lines)) == expected_driver(valid_to="2026-05-10")


def test_long_term_validity_has_no_end():
    lines = [item for item in driving_merged() if not item.text.startswith("有效期限")]
    lines.append(line("有效期限 Valid Period 2020-05-10至长期", 50, 600))
    assert values(parse_page("driving", "front", lines)) == expected_driver(valid_to=None, long_term=True)


def test_wrapped_address_stops_before_the_next_rows_value():
    read = parse_page("driving", "front", driving_split())
    assert read.fields["address"].value == "北京市朝阳区建国路88号院3号楼"
    assert read.fields["birth_date"].value == "1949-12-31"


def test_value_box_is_where_the_value_is_printed():
    read = parse_page("driving", "front", driving_merged())
    document = build_document(read)
    box = document.meta["number"].box
    label_end = 50 + 2 * 32  # "证号" in a 32 px tall line
    assert box is not None and box.x >= label_end - 1
    assert box.x + box.width <= 50 + sum(_advance(char, 32) for char in "证号 11010519491231002X") + 1
    assert document.meta["number"].confidence == pytest.approx(0.99)


def test_a_repaired_class_code_is_trusted_less():
    lines = [item for item in driving_split() if item.text != "C1"]
    lines.append(line("Cl", 580, 461, score=0.98))
    read = parse_page("driving", "front", lines)
    assert read.fields["class"].value == "C1"
    assert read.fields["class"].confidence < 0.98


@pytest.mark.parametrize(
    ("read", "cleaned"), [("B5", None), ("A4", None), ("B61", ("B1", True)), ("C1E", ("C1E", False))]
)
def test_a_class_read_is_one_of_the_classes_the_checks_know(read, cleaned):
    """B5 is no class (the checks would flag it), and B61 holds one stray glyph: only B1 is a class."""
    assert clean_value("class", read) == cleaned


def test_driving_back_page():
    lines = [
        line("中华人民共和国机动车驾驶证副页", 170, 20, height=40),
        line("证号 11010519491231002X", 50, 120),
        line("姓名", 50, 200),
        line("王芳", 170, 201),
        line("档案编号 110100123456", 500, 200),
        line("记录", 50, 280),
        line("实习期至2001年05月09日", 140, 281),
    ]
    assert values(parse_page("driving", "back", lines)) == {
        "number": "11010519491231002X",
        "name": "王芳",
        "file_number": "110100123456",
        "record": "实习期至2001年05月09日",
    }


def test_vehicle_front_page_with_stacked_english_labels():
    lines = [
        line("中华人民共和国机动车行驶证", 200, 20, height=40),
        line("号牌号码", 40, 120),
        line("Plate No.", 40, 154, height=14),
        line("京A·12345", 220, 125),
        line("车辆类型", 520, 120),
        line("Vehicle Type", 520, 154, height=14),
        line("小型轿车", 700, 125),
        line("所有人", 40, 190),
        line("Owner", 40, 224, height=14),
        line("张三", 220, 195),
        line("住址", 40, 260),
        line("Address", 40, 294, height=14),
        line("北京市海淀区中关村大街1号", 220, 265),
        line("使用性质", 40, 330),
        line("Use Character", 40, 364, height=14),
        line("非营运", 220, 335),
        line("品牌型号", 520, 330),
        line("Model", 520, 364, height=14),
        line("大众汽车牌SVW71612BM", 700, 337, height=26),
        line("车辆识别代号", 40, 400),
        line("VIN", 40, 434, height=14),
        line("LSVAU218ON2183294", 220, 405, score=0.97),
        line("发动机号码", 40, 470),
        line("Engine No.", 40, 504, height=14),
        line("DLF123456", 220, 475),
        line("注册日期", 40, 540),
        line("Register Date", 40, 574, height=14),
        line("2018-03-15", 220, 545),
        line("发证日期", 520, 540),
        line("Issue Date", 520, 574, height=14),
        line("2018-03-20", 700, 545),
    ]
    read = parse_page("vehicle", "front", lines)
    assert values(read) == {
        "plate_number": "京A12345",
        "vehicle_type": "小型轿车",
        "owner": "张三",
        "address": "北京市海淀区中关村大街1号",
        "use_character": "非营运",
        "model": "大众汽车牌SVW71612BM",
        "vin": "LSVAU2180N2183294",
        "engine_number": "DLF123456",
        "register_date": "2018-03-15",
        "issue_date": "2018-03-20",
        "issuing_authority": None,
    }
    assert read.fields["vin"].confidence < 0.97  # an O that can only be a 0 was repaired


def test_vehicle_back_page_quantities_as_printed_and_the_stamp_below_its_label():
    lines = [
        line("号牌号码", 50, 60),
        line("京A·12345", 230, 60),
        line("档案编号", 520, 60),
        line("110100123456", 700, 60),
        line("核定载人数", 50, 130),
        line("5人", 230, 130),
        line("总质量", 520, 130),
        line("1690kg", 700, 130),
        line("整备质量", 50, 200),
        line("1290kg", 230, 200),
        line("核定载质量", 520, 200),
        line("一", 700, 200),
        line("外廓尺寸", 50, 270),
        line("4630x1775x1490mm", 230, 270),
        line("准牵引总质量", 50, 340),
        line("--", 230, 340),
        line("备注", 520, 340),
        line("检验记录", 50, 420),
        line("检验有效期至2026年05月京A(01)", 260, 452, height=40),
    ]
    assert values(parse_page("vehicle", "back", lines)) == {
        "plate_number": "京A12345",
        "file_number": "110100123456",
        "approved_passengers": "5人",
        "total_mass": "1690kg",
        "curb_weight": "1290kg",
        "approved_load": "--",
        "dimensions": "4630×1775×1490mm",
        "traction_mass": "--",
        "remarks": None,
        "inspection_record": "检验有效期至2026年05月京A(01)",
        "inspection_valid_until": None,
    }


def test_a_label_without_value_asks_for_a_second_look_right_of_it():
    lines = [line("号牌号码", 50, 60), line("京A·12345", 230, 60), line("核定载质量", 520, 200)]
    read = parse_page("vehicle", "back", lines)
    [missing] = read.missing
    assert missing.field == "approved_load"
    x0, y0, _x1, y1 = read.input_rect(missing.rect)
    assert x0 >= 520 + 5 * 32 - 1 and y0 < 200 + 16 < y1
    assert offer_value(read, "approved_load", "一", 0.8, (700, 200, 730, 232))
    assert read.fields["approved_load"] == FieldValue("--", 0.8, (700, 200, 730, 232))
    assert read.missing == []


def test_a_second_look_replaces_a_weak_value_and_drops_label_remnants():
    lines = [item for item in driving_split() if item.text != "中国"]
    lines.append(line("中国中国", 680, 181, score=0.7))
    read = parse_page("driving", "front", lines)
    assert [item.field for item in read.weak] == ["nationality"]
    assert offer_value(read, "nationality", "籍中国", 0.95, (660, 180, 750, 212))
    assert read.fields["nationality"].value == "中国"
    assert not offer_value(read, "nationality", "中", 0.5, (660, 180, 700, 212))  # less sure: kept


def test_text_without_the_pages_labels_is_an_empty_document():
    lines = [line("平安便利店", 100, 100), line("京A·12345", 300, 400), line("2020-01-01", 50, 500)]
    document = build_document(parse_page("driving", "front", lines))
    assert isinstance(document, DrivingLicence)
    assert document.is_empty()
    assert build_document(parse_page("vehicle", "back", [])).is_empty()


def test_issuing_authority_from_legible_text_and_its_known_endings():
    assert clean_authority("北京市公安局公安交通管理局") == ("北京市公安局公安交通管理局", 1.0)
    repaired = ("福建省福州市公安局交通警察支队", REPAIR_PENALTY)
    assert clean_authority("福建省福州市公安局交通警察支义") == repaired
    assert clean_authority("平安便利店") is None
    found = authority_from_lines(
        [line("准驾车型", 50, 50), line("上海市公安局交通警察总队", 60, 500, score=0.9)]
    )
    assert found is not None and found.value == "上海市公安局交通警察总队" and found.confidence == 0.9


# ----------------------------------------------------------------------------------------------- plates


@pytest.mark.parametrize(
    "text, number, changes",
    [
        ("京A·12345", "京A12345", 0),
        ("京A.12345", "京A12345", 0),
        ("京a 12345", "京A12345", 0),
        ("京A112345", "京A12345", 1),  # the middle dot read as a 1
        ("京8·12345", "京B12345", 1),  # position 2 is always a letter
        ("粤Z·1234港", "粤Z1234港", 0),
        ("苏E·D02129", "苏ED02129", 0),
        ("粵B·F17284", "粤BF17284", 0),  # a traditional form of the province
    ],
)
def test_plate_text_is_normalized_and_repaired_by_the_grammar(text, number, changes):
    matched = match_plate(text)
    assert matched is not None
    assert (matched[0], matched[2]) == (number, changes)


@pytest.mark.parametrize("text", ["停车场P", "2020-01-01", "", "京A1234"])
def test_text_that_is_no_plate_is_dropped(text):
    assert match_plate(text) is None


def _solid(rgb: tuple[int, int, int]) -> np.ndarray:
    return np.full((30, 100, 3), rgb[::-1], np.uint8)


def test_plate_colour_from_its_pixels_unless_its_format_fixes_it():
    everywhere = (0.0, 0.0, 100.0, 30.0)
    blue = color_shares(_solid((12, 68, 176)), everywhere)
    yellow = color_shares(_solid((247, 192, 22)), everywhere)
    assert blue["blue"] > 0.9 and yellow["yellow"] > 0.9
    ordinary = parse_plate("京A12345")
    assert ordinary is not None
    assert plate_color(ordinary, blue) == PlateColor.BLUE
    assert plate_color(ordinary, yellow) == PlateColor.YELLOW
    for number, colour in [("京AD12345", "green"), ("京A12345D", "yellow_green"), ("京A1234警", "white")]:
        parsed = parse_plate(number)
        assert parsed is not None and plate_color(parsed, blue) == PlateColor(colour)


def test_tight_crops_are_told_from_scenes():
    assert is_tight_crop(440, 140) and is_tight_crop(94, 24) and is_tight_crop(220, 110)
    assert not is_tight_crop(1024, 768) and not is_tight_crop(800, 1066)


# ----------------------------------------------------------------------------------------------- seal


def _paper_with_seal(centre: tuple[int, int], radius: int) -> np.ndarray:
    image = np.full((600, 900, 3), (232, 240, 247), np.uint8)  # warm paper, BGR
    red = (44, 38, 214)
    cv2.circle(image, centre, radius, red, 4)
    for step in range(12):  # glyph-like blobs along the upper rim
        angle = math.radians(-215 + step * 22)
        x = int(centre[0] + radius * 0.75 * math.cos(angle))
        y = int(centre[1] + radius * 0.75 * math.sin(angle))
        cv2.rectangle(image, (x - 8, y - 8), (x + 8, y + 8), red, -1)
    return image


def test_finds_a_round_red_seal_and_unrolls_its_rim_into_a_line():
    image = _paper_with_seal((300, 320), 100)
    [seal] = find_seals(image)
    assert abs(seal.cx - 300) <= 4 and abs(seal.cy - 320) <= 4 and abs(seal.radius - 100) <= 5
    strip = unroll(image, seal)
    assert strip is not None and strip.shape[1] > 3 * strip.shape[0]


def test_red_that_is_no_seal_is_ignored():
    image = np.full((600, 900, 3), (232, 240, 247), np.uint8)
    cv2.circle(image, (300, 300), 100, (44, 38, 214), -1)  # a solid disc, e.g. a sticker
    cv2.rectangle(image, (600, 100), (880, 140), (44, 38, 214), -1)  # a red bar
    assert find_seals(image) == []


# ----------------------------------------------------------------------------------------------- vendor


def test_local_is_registered_and_reads_every_page_and_plates():
    assert "local" in known_vendors()
    vendor = build_vendor("local", {"threads": 1, "max_side": 2000})
    assert isinstance(vendor, LocalVendor) and isinstance(vendor.settings, LocalSettings)
    assert vendor.settings.threads == 1
    for kind, side in [("driving", "front"), ("driving", "back"), ("vehicle", "front"), ("vehicle", "back")]:
        assert vendor.supports_request(kind, side)
    assert vendor.supports_request("plate", "front") and not vendor.supports_request("plate", "back")
    assert {"JPEG", "PNG", "BMP", "WEBP", "TIFF"} <= vendor.limits.formats


async def test_unsupported_requests_and_bad_settings_are_refused():
    vendor = build_vendor("local", {})
    with pytest.raises(VendorError) as caught:
        await vendor.recognize("plate", "back", _intake(Image.new("RGB", (200, 64), "white")))
    assert caught.value.category == ErrorCategory.NOT_FOUND and caught.value.code == "unsupported"
    with pytest.raises(ValidationError):
        build_vendor("local", {"threads": -1})
    with pytest.raises(ValidationError):
        build_vendor("local", {"max_side": 100})


def test_models_ship_inside_the_installed_package():
    paths = model_paths()
    assert set(paths) == {"det", "cls", "rec"}
    assert all(path.is_file() and path.stat().st_size > 100_000 for path in paths.values())


# ----------------------------------------------------------------------------------------------- engine


@pytest.fixture(scope="module")
def vendor() -> LocalVendor:
    """One vendor (and so one loaded engine) for every end-to-end case in this module."""
    engine_vendor = build_vendor("local", {})
    assert isinstance(engine_vendor, LocalVendor)
    engine_vendor.recognize_sync(
        "plate", "front", _intake(Image.new("RGB", (200, 64), "white"))
    )  # loads models
    return engine_vendor


def _intake(image: Image.Image, fmt: str = "PNG", **options: object) -> IntakeImage:
    buffer = io.BytesIO()
    image.convert("RGB").save(buffer, fmt, **options)
    return load(buffer.getvalue(), min_side=15)


def _compare(fields: dict[str, object], truth: dict[str, object]) -> dict[str, tuple[object, object]]:
    # inspection_valid_until is derived from the inspection record by the checks, not read off the card.
    return {
        k: (fields.get(k), v)
        for k, v in truth.items()
        if k != "inspection_valid_until" and fields.get(k) != v
    }


PEOPLE = random.Random(20250601)
PERSON = specimens.make_person(PEOPLE)
VEHICLE = specimens.make_vehicle(PEOPLE)
PAGES = {
    "driving-new": lambda: ("driving", "front", *specimens.render_driving(PERSON, "new", "front")),
    "driving-old": lambda: ("driving", "front", *specimens.render_driving(PERSON, "old", "front")),
    "driving-back": lambda: ("driving", "back", *specimens.render_driving(PERSON, "new", "back")),
    "vehicle-front": lambda: ("vehicle", "front", *specimens.render_vehicle(VEHICLE, "front")),
    "vehicle-back": lambda: ("vehicle", "back", *specimens.render_vehicle(VEHICLE, "back")),
}


@pytest.mark.parametrize("page", list(PAGES))
async def test_reads_every_field_of_a_clean_specimen(vendor, page):
    kind, side, image, truth = PAGES[page]()
    intake = _intake(image)
    recognition = await vendor.recognize(kind, side, intake)
    assert recognition.vendor == "local" and (recognition.kind, recognition.side) == (kind, side)
    assert _compare(recognition.fields(), truth) == {}
    document = recognition.document
    assert document is not None
    for name, meta in document.meta.items():
        assert meta.confidence is not None and 0 < meta.confidence <= 1, name
        assert meta.box is not None, name
        assert 0 <= meta.box.x < intake.width and 0 <= meta.box.y < intake.height, name
    assert recognition.raw["lines"] and {"text", "score", "box"} <= set(recognition.raw["lines"][0])


@pytest.mark.parametrize(
    ("page", "asked"),
    [
        ("driving-back", ("driving", "front")),
        ("driving-new", ("driving", "back")),
        ("vehicle-back", ("vehicle", "front")),
        ("vehicle-front", ("vehicle", "back")),
        ("vehicle-back", ("driving", "front")),
        ("vehicle-back", ("driving", "back")),
        ("driving-back", ("vehicle", "back")),
        ("driving-new", ("vehicle", "front")),
    ],
)
async def test_a_photo_of_another_page_says_which_it_is(vendor, page, asked):
    """Read as the page asked for, another page gave the few fields they share and a "retake" warning;
    retaking never helps, so the user is told which page the photo shows."""
    kind, side, image, _truth = PAGES[page]()
    with pytest.raises(VendorError) as caught:
        await vendor.recognize(*asked, _intake(image))
    assert (caught.value.category, caught.value.code) == (ErrorCategory.NOT_FOUND, shows_page(kind, side))


async def test_a_plate_photo_asked_for_as_a_licence_page_is_no_page(vendor):
    """It holds none of the page's labels; its plate used to be placed as the licence's by its format."""
    plate = specimens.render_plate(PLATES["blue"])[0]
    for kind in ("vehicle", "driving"):
        with pytest.raises(VendorError) as caught:
            await vendor.recognize(kind, "front", _intake(plate))
        assert (caught.value.category, caught.value.code) == (ErrorCategory.NOT_FOUND, NO_LABELS)


def _jpeg50(image: Image.Image) -> IntakeImage:
    return _intake(image, "JPEG", quality=50)


def _tilted(degrees: float):
    def tilt(image: Image.Image) -> IntakeImage:
        return _intake(
            image.rotate(degrees, expand=True, fillcolor=(128, 128, 128), resample=Image.Resampling.BICUBIC)
        )

    return tilt


def _blurred(image: Image.Image) -> IntakeImage:
    return _intake(image.filter(ImageFilter.GaussianBlur(1.0)))


def _turned(turn: Image.Transpose):
    return lambda image: _intake(image.transpose(turn))


@pytest.mark.parametrize(
    "page, photo",
    [
        ("driving-new", _jpeg50),
        ("vehicle-front", _jpeg50),
        ("driving-old", _tilted(5)),
        ("vehicle-back", _tilted(-5)),
        ("driving-back", _blurred),
        ("vehicle-front", _turned(Image.Transpose.ROTATE_180)),
        ("driving-new", _turned(Image.Transpose.ROTATE_90)),
    ],
    ids=["jpeg50-driving", "jpeg50-vehicle", "tilt+5", "tilt-5", "blur", "upside-down", "sideways"],
)
async def test_reads_mildly_degraded_photos(vendor, page, photo):
    kind, side, image, truth = PAGES[page]()
    intake = photo(image)
    recognition = await vendor.recognize(kind, side, intake)
    assert _compare(recognition.fields(), truth) == {}
    assert recognition.document is not None
    for name, meta in recognition.document.meta.items():  # boxes are in the photo as sent, turned or not
        box = meta.box
        assert box is not None and box.x >= 0 and box.y >= 0, name
        assert box.x + box.width <= intake.width + 1 and box.y + box.height <= intake.height + 1, name


PLATE_RNG = random.Random(7)
PLATES = {
    "blue": specimens.make_plate(PLATE_RNG, "blue"),
    "yellow": specimens.PlateSpec("冀A7LC61", PlateColor.YELLOW, kind="yellow"),
    "yellow-double": specimens.PlateSpec("冀A7LC61", PlateColor.YELLOW, True, kind="yellow"),
    "trailer-double": specimens.make_plate(PLATE_RNG, "trailer"),
    "green": specimens.make_plate(PLATE_RNG, "green"),
    "yellow-green": specimens.make_plate(PLATE_RNG, "yellow_green"),
    "police-white": specimens.make_plate(PLATE_RNG, "police"),
    "hk-black": specimens.make_plate(PLATE_RNG, "hk_macau"),
}


def _plate_truth(plates) -> list[tuple[object, ...]]:
    return [(plate.number, plate.color.value, plate.double_layer) for plate in plates]


@pytest.mark.parametrize("name", list(PLATES))
async def test_reads_every_plate_colour_from_a_tight_crop(vendor, name):
    crop, truth = specimens.render_plate(PLATES[name])
    recognition = await vendor.recognize("plate", "front", _intake(crop))
    assert _plate_truth(recognition.plates) == [(truth["number"], truth["color"], truth["double_layer"])]
    assert 0 < recognition.plates[0].confidence <= 1


@pytest.mark.parametrize("name", ["blue", "green", "yellow-double"])
async def test_reads_tiny_and_loose_plate_crops(vendor, name):
    spec = PLATES[name]
    crop, truth = specimens.render_plate(spec)
    tiny = crop.resize((64, 32) if spec.double_layer else (94, 24), Image.Resampling.BILINEAR)
    loose = specimens.plate_crop(spec, random.Random(3))
    for image in (tiny, loose):
        recognition = await vendor.recognize("plate", "front", _intake(image))
        assert _plate_truth(recognition.plates) == [(truth["number"], truth["color"], truth["double_layer"])]


async def test_reads_both_plates_of_a_street_scene_left_to_right(vendor):
    rng = random.Random(11)
    specs = [specimens.make_plate(rng, "blue"), specimens.make_plate(rng, "green")]
    scene, truths = specimens.render_plate_scene(specs, rng, size=(1024, 768))
    recognition = await vendor.recognize("plate", "front", _intake(scene, "JPEG", quality=90))
    assert _plate_truth(recognition.plates) == [(t["number"], t["color"], t["double_layer"]) for t in truths]
    for plate, truth in zip(recognition.plates, truths, strict=True):
        box, expected = plate.box, truth["box"]
        assert box is not None
        assert box.x < expected["x"] + expected["width"] and expected["x"] < box.x + box.width
        assert box.y < expected["y"] + expected["height"] and expected["y"] < box.y + box.height


async def test_a_blank_photo_is_not_found_through_the_chain(vendor):
    blank = _intake(Image.new("RGB", (1000, 682), (238, 238, 236)))
    assert (await vendor.recognize("plate", "front", blank)).is_empty()
    for kind in ("driving", "vehicle"):  # not one of the page's labels
        with pytest.raises(VendorError) as caught:
            await vendor.recognize(kind, "front", blank)
        assert (caught.value.category, caught.value.code) == (ErrorCategory.NOT_FOUND, NO_LABELS)
    result = await VendorChain([vendor]).recognize("driving", "front", blank)
    assert result.recognition is None and result.error is not None
    assert result.error.category == ErrorCategory.NOT_FOUND


def test_runtime_errors_inside_the_ocr_library_become_one_exception_type(vendor):
    with pytest.raises(EngineFailure):
        shared_engine().read(np.zeros((40, 40, 7), np.uint8))  # seven channels: rapidocr refuses


async def test_an_engine_failure_is_a_server_error_so_the_chain_may_fall_through(vendor, monkeypatch):
    def broken(self: OcrEngine, image: np.ndarray, det_limit: int = 960, **limits: object) -> list[OcrLine]:
        raise EngineFailure("onnxruntime: out of memory")

    monkeypatch.setattr(OcrEngine, "read", broken)
    with pytest.raises(VendorError) as caught:
        await vendor.recognize("driving", "front", _intake(Image.new("RGB", (640, 420), "white")))
    assert caught.value.category == ErrorCategory.SERVER and caught.value.vendor == "local"


def _page_of_prose() -> np.ndarray:
    """A photographed page of running text: eighteen long lines, and a few short words above them."""
    image = Image.new("RGB", (1400, 1000), "white")
    draw = ImageDraw.Draw(image)
    font = font_of(30)
    draw.text((60, 30), "第一章", fill="black", font=font)
    draw.text((400, 30), "目录", fill="black", font=font)
    prose = "机动车驾驶人应当遵守道路交通安全法律法规的规定按照操作规范安全驾驶文明驾驶"
    for row in range(18):
        draw.text((60, 90 + row * 48), prose[row % 7 :] + prose[: row % 7], fill="black", font=font)
    return np.ascontiguousarray(np.asarray(image)[:, :, ::-1])


def test_the_engine_recognizes_only_the_detected_lines_a_caller_can_use(vendor):
    engine, page = shared_engine(), _page_of_prose()
    every = engine.read(page)
    assert [line.text for line in engine.read(page, max_lines=1000)] == [line.text for line in every]
    assert max(line_length(np.array(line.points)) for line in every) > 20  # the prose was read
    short = engine.read(page, wanted=lambda corners: line_length(corners) <= 8)
    assert short and all(line_length(np.array(line.points)) <= 8 for line in short)
    assert len(engine.read(page, max_lines=3)) == 3
    budget = engine.read(page, max_length=60)
    assert budget and sum(line_length(np.array(line.points)) for line in budget) <= 60


def test_a_tight_crops_own_line_is_read_however_thin_detection_draws_it(vendor, monkeypatch):
    """A tilted plate in a 94×24 crop was detected as a 94×11 slanted box: its line is not prose."""
    asked: list[object] = []
    read = OcrEngine.read

    def recording(self: OcrEngine, image: np.ndarray, *args: object, **limits: object) -> list[OcrLine]:
        asked.append(limits.get("wanted"))
        return read(self, image, *args, **limits)  # type: ignore[arg-type]

    monkeypatch.setattr(OcrEngine, "read", recording)
    crop = Image.new("RGB", (94, 24), (20, 60, 160))  # nothing legible: every look is taken
    vendor.recognize_sync("plate", "front", _intake(crop))
    assert asked and all(wanted is None for wanted in asked)


async def test_a_page_of_prose_sent_as_a_plate_photo_reads_no_plate_and_no_prose(vendor, monkeypatch):
    recognized: list[int] = []
    read = OcrEngine.read

    def counting(self: OcrEngine, image: np.ndarray, *args: object, **limits: object) -> list[OcrLine]:
        lines = read(self, image, *args, **limits)  # type: ignore[arg-type]
        recognized.append(len(lines))
        return lines

    monkeypatch.setattr(OcrEngine, "read", counting)
    recognition = await vendor.recognize(
        "plate", "front", _intake(Image.fromarray(_page_of_prose()[:, :, ::-1]))
    )
    assert recognition.plates == []
    assert recognized and max(recognized) <= MAX_SCENE_LINES
    assert all(line_length(np.array(line["box"])) <= 8 for line in recognition.raw.get("lines", []))


async def test_concurrent_requests_queue_on_one_engine(vendor):
    crops = [specimens.render_plate(PLATES[name]) for name in ("blue", "green", "police-white")]
    results = await asyncio.gather(*(vendor.recognize("plate", "front", _intake(crop)) for crop, _ in crops))
    assert [r.plates[0].number for r in results] == [truth["number"] for _, truth in crops]


@pytest.mark.parametrize("width", [None, 640])  # 640 px: shaped like a two-row plate crop
@pytest.mark.parametrize("page", ["driving-new", "driving-back", "vehicle-front", "vehicle-back"])
async def test_a_licence_sent_as_a_plate_photo_reports_no_print_as_a_plate(vendor, page, width):
    """Its labels (姓名 Name, Model), dates and masses decode as *some* plate under the grammar, and a
    vehicle licence prints its plate number: all of it black print on white paper, which no issued plate
    but a police one is. (The vehicle licence itself is read with /vehicle.)"""
    _kind, _side, image, _truth = PAGES[page]()
    if width is not None:
        image = image.resize((width, round(image.height * width / image.width)), Image.Resampling.LANCZOS)
    recognition = await vendor.recognize("plate", "front", _intake(image))
    assert [plate.number for plate in recognition.plates] == []


async def test_a_black_and_white_photo_says_why_the_issuing_authority_is_missing(vendor):
    kind, side, image, truth = PAGES["driving-new"]()
    colour = await vendor.recognize(kind, side, _intake(image))
    grey = await vendor.recognize(kind, side, _intake(image.convert("L")))
    assert colour.document.issuing_authority == truth["issuing_authority"]
    assert "photo_colourless" not in [warning.code for warning in colour.warnings]
    assert grey.document.issuing_authority is None
    assert "photo_colourless" in [warning.code for warning in grey.warnings]


def test_dates_in_documents_are_dates():
    read = parse_page("driving", "front", driving_split())
    document = build_document(read)
    assert isinstance(document, DrivingLicence)
    assert document.birth_date == date(1949, 12, 31) and document.valid_to == date(2026, 5, 10)
