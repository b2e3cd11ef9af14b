"""The embedded engine on licence photos that are hard to read: thumbnails, perspective, quarter turns,
glare under a sleeve, blurred ``--`` cells, and both pages of a 行驶证 in one photo.

The first half checks each method on synthetic input (no OCR, fast); the second reads rendered specimens
end to end, one seeded photo per hard degradation, and wants every field exact.
"""

from __future__ import annotations

import io
import math
import random
import unicodedata
from datetime import date
from typing import cast

import cv2
import numpy as np
import pytest
from PIL import Image, ImageDraw

from bot.images import IntakeImage, load
from bot.models import DrivingLicence, Recognition, Severity, VehicleLicenceFront, Warning
from bot.vendors.base import build_vendor
from bot.vendors.local import cells
from bot.vendors.local.cells import _ink_rect, _is_dash, reread_cells
from bot.vendors.local.document import build_document
from bot.vendors.local.layout import TABLE_TRUST, parse_page
from bot.vendors.local.lexicon import LexiconRead, best_word
from bot.vendors.local.ocr import CropReading, OcrEngine, OcrLine, shared_engine
from bot.vendors.local.page_shown import labels_seen, page_shown_instead, shows_own_title
from bot.vendors.local.person_names import NameRead
from bot.vendors.local.places import looks_like_address, office_names
from bot.vendors.local.plates import read_printed_plate
from bot.vendors.local.seal import (
    CONFIDENT_SEAL,
    MAX_OFFICE_SHORTFALL,
    UNROLLINGS,
    Seal,
    _agreed_office,
    _circle_views,
    _enlarged,
    _read_seals,
    find_seals,
    paper_balanced,
    read_authority,
    read_rim,
    star_centred,
    unroll,
)
from bot.vendors.local.two_pages import page_region
from bot.vendors.local.values import clean_authority, clean_value
from bot.vendors.local.vendor import LocalVendor, _no_such_page, _reading_quality, _upscaled
from tests import specimens
from tests.fakes.readings import scripted_reading
from tests.specimens.compose import render_vehicle_pair, side_by_side
from tests.specimens.fonts import font
from tests.specimens.paint import _star, seal

# ----------------------------------------------------------------------------------------------- helpers


def line(text: str, x: float, y: float, *, height: float = 30.0, score: float = 0.98) -> OcrLine:
    wide = sum(unicodedata.east_asian_width(char) in ("W", "F") for char in text)
    width = (wide + 0.55 * (len(text) - wide)) * height
    return OcrLine.from_rect(text, score, x, y, x + width, y + height)


def vehicle_front_lines(dx: float = 0.0) -> list[OcrLine]:
    return [
        line("号牌号码", dx + 20, 100),
        line("苏A40186", dx + 170, 100),
        line("车辆类型", dx + 500, 100),
        line("小型轿车", dx + 650, 100),
        line("所有人", dx + 20, 170),
        line("张三", dx + 170, 170),
        line("品牌型号", dx + 500, 240),
        line("大众汽车牌SVW71612BM", dx + 650, 240),
        line("发证日期", dx + 500, 400),
        line("2020-05-10", dx + 650, 400),
    ]


def vehicle_back_lines(dx: float = 0.0) -> list[OcrLine]:
    return [
        line("号牌号码", dx + 20, 60),
        line("京A6G13E", dx + 170, 60),
        line("档案编号", dx + 500, 60),
        line("110126707760", dx + 650, 60),
        line("核定载人数", dx + 20, 130),
        line("7人", dx + 190, 130),
        line("总质量", dx + 500, 130),
        line("1738kg", dx + 650, 130),
    ]


def driving_front_lines(name_row_end: OcrLine) -> list[OcrLine]:
    """A 正页's number, name and address rows, with `name_row_end` closing the name's row."""
    return [
        line("证号", 20, 40),
        line("110101199001011234", 170, 40),
        line("姓名", 20, 100),
        line("张伟", 170, 100),
        name_row_end,
        line("住址", 20, 160),
        line("北京市东城区东华门大街1号", 170, 160),
    ]


def _intake(image: Image.Image) -> IntakeImage:
    buffer = io.BytesIO()
    image.convert("RGB").save(buffer, "JPEG", quality=92)
    return load(buffer.getvalue())


# ----------------------------------------------------------------------------------------------- methods


def test_a_label_with_one_misread_character_still_anchors_its_value():
    lines = [*vehicle_front_lines()[:8], line("发证自期", 500, 400), line("2020-05-10", 650, 400)]
    read = parse_page("vehicle", "front", lines)
    assert read.fields["issue_date"].value == "2020-05-10"
    # A value is not mistaken for a label: the plate's own line stays the plate.
    assert read.fields["plate_number"].value == "苏A40186"


def test_a_two_character_label_misread_at_the_start_of_its_line_still_anchors_its_value():
    lines = [line("证号", 20, 40), line("500103199501202908", 150, 40), line("国箱Nationality中国", 450, 100)]
    assert parse_page("driving", "front", lines).fields["nationality"].value == "中国"
    # Inside a line the same two characters are text, not a label.
    inside = [*lines[:2], line("住址重庆市国箱路1号", 20, 160)]
    read = parse_page("driving", "front", inside)
    assert "nationality" not in read.fields and read.fields["address"].value == "重庆市国箱路1号"


def test_a_nationality_whose_label_is_lost_is_placed_by_its_format():
    """A country's name is the one value of a driving licence's 正页 that is a country's name, so it is
    the nationality wherever 国籍 went; a line read with little confidence is not placed so."""
    fields = parse_page("driving", "front", driving_front_lines(line("中国", 740, 100))).fields
    assert fields["nationality"].value == "中国"
    unsure = driving_front_lines(line("中国", 740, 100, score=0.6))
    assert "nationality" not in parse_page("driving", "front", unsure).fields


def test_a_nationality_read_in_one_line_with_the_sex_is_taken_from_that_line():
    """性别男国箱中国: the sex read on one line with 国籍 (misread inside the line, where no label is looked
    for) and its value; the line's rest after the sex is the nationality, when it ends in a country."""

    def page(sex_line: str) -> dict[str, str]:
        read = parse_page("driving", "front", driving_front_lines(line(sex_line, 420, 100)))
        return {name: field.value for name, field in read.fields.items()}

    read = page("性制男国箱中国")
    assert (read["sex"], read["nationality"]) == ("男", "中国")
    read = page("性别女国")  # no country after the sex: nothing is guessed
    assert read["sex"] == "女" and "nationality" not in read


def test_an_id_number_whose_label_is_lost_is_placed_by_its_format():
    lines = [line("110108198607058099", 150, 100), line("姓名", 20, 160), line("黄飞飞", 150, 160)]
    read = parse_page("driving", "back", lines)
    assert read.fields["number"].value == "110108198607058099"
    assert read.fields["number"].confidence < lines[0].score
    # Two candidates leave the doubt to the user rather than picking one.
    two = [*lines, line("110108198607058101", 150, 220)]
    assert "number" not in parse_page("driving", "back", two).fields


def test_a_vin_and_a_plate_whose_labels_are_lost_are_placed_by_their_format():
    """A thumbnail keeps its long values legible after its small labels are gone."""
    lines = [
        line("京A·D12345", 150, 40),
        line("小型轿车", 450, 40),
        line("LRWGTVXE4KG335323", 150, 300),
        line("3D3B6YN94", 150, 360),
    ]
    read = parse_page("vehicle", "front", lines)
    assert read.fields["vin"].value == "LRWGTVXE4KG335323"
    assert read.fields["plate_number"].value == "京AD12345"
    assert read.fields["vin"].confidence < lines[2].score
    # Neither an engine number nor a 17-digit number without letters passes for a VIN.
    digits = [line("12345678901234567", 150, 300), line("3D3B6YN94", 150, 360)]
    assert "vin" not in parse_page("vehicle", "front", digits).fields
    # An O in a VIN can only be a misread 0 (VINs have no I, O or Q); 16 characters are no VIN.
    misread = parse_page("vehicle", "front", [line("LHGTMNOG6LB841671", 150, 300)])
    assert misread.fields["vin"].value == "LHGTMN0G6LB841671"
    assert "vin" not in parse_page("vehicle", "front", [line("LHGTMN0G6LB84167", 150, 300)]).fields


def test_a_plate_whose_label_and_province_glyph_were_lost_is_read_again_under_the_plate_grammar():
    """A blurred 渝 reads as 油, which is no province, so the plate fails the grammar and no label says
    where it is; the one line that reads as a plate after its first glyph is its cell, read again."""
    photo = Image.new("RGB", (900, 200), (240, 238, 230))
    ImageDraw.Draw(photo).text((150, 40), "渝AF88661", font=font(30), fill=(30, 30, 30))
    lines = [line("油AF88661", 150, 40), line("LRWGTVXE4KG335323", 150, 120)]
    read = parse_page("vehicle", "front", lines)
    assert "plate_number" not in read.fields
    (cell,) = [item.rect for item in read.missing if item.field == "plate_number"]
    assert cell[0] < 150 < 40 + 8 * 30 < cell[2] and cell[1] < 40 < 70 < cell[3]
    reread_cells(shared_engine(), np.asarray(photo)[:, :, ::-1].copy(), 1.0, read)
    assert read.fields["plate_number"].value == "渝AF88661"
    # A letter first is no misread province glyph (it may be an engine number), nor are two such lines.
    for others in ([line("RAF88661", 150, 40)], [line("油AF88661", 150, 40), line("沖B12345", 150, 80)]):
        read = parse_page("vehicle", "front", [*others, lines[1]])
        assert "plate_number" not in {item.field for item in read.missing}


def test_vehicle_type_and_use_character_whose_labels_are_lost_are_placed_by_their_vocabulary():
    lines = [
        line("小型禁车", 650, 100),
        line("田瑞得", 170, 170),
        line("非传运", 170, 310),
        line("LRWGTVXE4KG335323", 170, 380),
    ]
    read = parse_page("vehicle", "front", lines)
    assert read.fields["vehicle_type"].value == "小型轿车"
    assert read.fields["use_character"].value == "非营运"
    assert read.fields["use_character"].confidence < lines[2].score
    assert "owner" not in read.fields  # a name has no format of its own: not guessed


def test_a_long_label_that_lost_one_character_where_its_line_starts_still_anchors_its_value():
    """Glare took the 品 of 品牌型号; inside a line, such a shortened label is only text."""
    lines = [line("牌型号", 550, 330), line("FV7152FBDWG", 700, 330)]
    assert parse_page("vehicle", "front", lines).fields["model"].value == "FV7152FBDWG"
    inside = [line("住址", 20, 160), line("北京市8牌型号1栋", 150, 160)]
    assert parse_page("vehicle", "front", inside).fields["address"].value == "北京市8牌型号1栋"


def test_a_model_whose_label_is_lost_is_placed_by_its_brand_and_code():
    """Glare took half of 品牌型号: the label no longer matched, and the cell placed by its neighbours was
    read again from a blurrier crop (大众汽车牌F715FB0WG) while the whole line beside it, read sharp, was
    left unused. A brand, 牌, then letters and digits is printed by no other field of the page."""
    lines = [
        line("使用性质", 40, 330),
        line("出租客运", 220, 330),
        line("型号", 550, 330),
        line("大众汽车牌FV7152FBDWG", 700, 330),
        line("车辆识别代号", 40, 400),
        line("LFVNR5JL6FR324410", 220, 400),
    ]
    read = parse_page("vehicle", "front", lines)
    assert read.fields["model"].value == "大众汽车牌FV7152FBDWG"
    assert read.fields["model"].confidence < lines[3].score  # placed by its shape, not by its label
    # The owner's name has no such shape; a plate's label (号牌号码) has 牌 but no code after it.
    others = [line("号牌号码", 40, 40), line("苏A40186", 220, 40), line("大众汽车", 220, 110)]
    assert "model" not in parse_page("vehicle", "front", others).fields
    # Two glyphs, 牌 and a letter come about by chance in a garbled line: one read unsure is not placed.
    unsure = [*lines[:3], line("红餐牌01045T025", 700, 330, score=0.76), *lines[4:]]
    assert "model" not in parse_page("vehicle", "front", unsure).fields


def test_dimensions_and_an_inspection_stamp_whose_labels_are_lost_are_placed_by_their_format():
    """Three numbers joined by × are the outer dimensions; a stamp whose small 检验 was misread still
    says 有效期至 and a year."""
    lines = [
        line("外尺寸", 43, 273),  # 外廓尺寸 with half its label lost
        line("4656×1817×1413mm", 221, 271),
        line("检能有效期至2024年04月渝A(05)", 279, 445),
    ]
    read = parse_page("vehicle", "back", lines)
    assert read.fields["dimensions"].value == "4656×1817×1413mm"
    assert read.fields["inspection_record"].value == "检验有效期至2024年04月渝A(05)"  # fixed wording
    # A bare quantity has no format of its own among the page's masses: not guessed.
    masses = parse_page("vehicle", "back", [line("1734kg", 682, 126)])
    assert not {"total_mass", "curb_weight", "approved_load", "traction_mass"} & set(masses.fields)


def test_a_licence_class_whose_label_is_garbled_is_placed_by_its_format():
    lines = [
        line("初次领证日期", 106, 151),
        line("2002-11-11", 221, 151),
        line("一面车", 106, 175),
        line("B1", 220, 175),
    ]
    read = parse_page("driving", "front", lines)
    assert read.fields["class"].value == "B1"
    # A lone letter could be any stray glyph: not taken without its label.
    alone = [*lines[:3], line("E", 220, 175)]
    assert "class" not in parse_page("driving", "front", alone).fields


def test_what_ocr_left_of_the_address_sub_label_is_not_the_address():
    """``住址Address`` blurred to ``住址A00ms``: the ``00`` is no address, so the value right of the label
    (and the line under it) is."""
    lines = [
        line("住址A00ms", 53, 236),
        line("上海市浦东新区解放路65号金色港湾10号", 208, 232),
        line("楼3单元2103室", 207, 271),
        line("出生日期", 278, 336),
        line("1994-05-01", 579, 334),
    ]
    read = parse_page("driving", "front", lines)
    assert read.fields["address"].value == "上海市浦东新区解放路65号金色港湾10号楼3单元2103室"


def test_an_address_whose_label_is_lost_is_not_read_as_the_rest_of_the_owner():
    """The row under the owner is the address; a lost 住址 label must not glue it onto the name."""
    lines = [
        line("所有人", 20, 100),
        line("林子飞", 150, 100),
        line("四川省成都市锦江区东风路161号", 150, 140),
        line("5号楼3单元903室", 150, 180),
        line("使用性质", 20, 240),
        line("非营运", 150, 240),
    ]
    read = parse_page("vehicle", "front", lines)
    assert read.fields["owner"].value == "林子飞"
    assert read.fields["address"].value == "四川省成都市锦江区东风路161号5号楼3单元903室"
    assert read.fields["address"].confidence < lines[2].score  # placed by its format
    # A company's name wrapping onto a second line is still one owner.
    company = [line("所有人", 20, 100), line("浙江吉利控股集团", 150, 100), line("有限公司", 150, 140)]
    assert parse_page("vehicle", "front", company).fields["owner"].value == "浙江吉利控股集团有限公司"


def test_an_address_split_along_its_row_is_read_whole_and_a_gap_is_trusted_less():
    """Glare washed out a few glyphs mid-row, so detection gave the row as two boxes: both belong to the
    address, in row order, and the value that may have lost glyphs in the gap is trusted less."""
    head = [line("住址", 53, 236), line("湖南省长沙市", 208, 236)]
    tail = [line("园3号楼1单元2304室", 210, 274), line("出生日期", 278, 336), line("1972-08-16", 579, 336)]
    close = parse_page("driving", "front", [*head, line("岳麓区和平路101号锦绣家", 393, 236), *tail])
    assert close.fields["address"].value == "湖南省长沙市岳麓区和平路101号锦绣家园3号楼1单元2304室"
    apart = parse_page("driving", "front", [*head, line("岳麓区和平路101号锦绣家", 480, 236), *tail])
    assert apart.fields["address"].value == close.fields["address"].value
    assert apart.fields["address"].confidence < close.fields["address"].confidence
    # A name is no row-filling value: what follows it on its row is the next field's (label lost).
    name_row = [line("姓名", 53, 180), line("贺国磊", 190, 180), line("男", 520, 180)]
    assert parse_page("driving", "front", name_row).fields["name"].value == "贺国磊"


def test_an_address_head_glare_cut_short_is_put_right_once_the_row_is_joined():
    """Glare swallowed 京市玄 between two boxes of one row: neither box alone shows which head it was,
    the joined text is three glyphs from exactly one known head, and the repaired value is trusted less."""
    lines = [line("住址", 53, 236), line("江苏省南", 208, 236), line("武区东风路41号", 393, 236)]
    page = parse_page("driving", "front", lines)
    assert page.fields["address"].value == "江苏省南武区东风路41号"
    document = build_document(page)
    assert document.address == "江苏省南京市玄武区东风路41号"
    assert document.meta["address"].confidence < page.fields["address"].confidence


def test_a_page_that_kept_one_label_is_stood_up_the_way_its_values_follow_it():
    """A back page turned over that kept only 姓名: both frames place the ID and file numbers by their
    format and no second label gives an order, so the frame where the text on the label's row follows it
    is the upright one (the other searched for the name beyond the page's edge)."""
    upright = [
        line("110101199001011234", 170, 40),
        line("姓名", 20, 100),
        line("110100123456", 500, 100),
        line("实习期至2021年06月08日", 170, 200),
    ]

    def turned_over(item: OcrLine) -> OcrLine:
        x0, y0, x1, y1 = 1000 - item.x1, 600 - item.y1, 1000 - item.x0, 600 - item.y0
        return OcrLine.from_rect(item.text, item.score, x0, y0, x1, y1)

    assert parse_page("driving", "back", upright).quarter_turns == 0
    read = parse_page("driving", "back", [turned_over(item) for item in upright])
    assert read.quarter_turns == 2
    (area,) = [item.rect for item in read.missing if item.field == "name"]
    label_end_in_frame = -(1000 - (20 + 2 * 30))  # the label's right edge, turned over with the page
    assert area[0] > label_end_in_frame and area[2] - area[0] > 5 * 30


def test_in_a_tilted_photo_the_value_squarely_on_its_label_row_comes_first_and_its_wrap_follows():
    """Tilt leaves the wrapped second line of an address grazing the label's row and starting a pixel
    nearer the label than the first line: the first line is the one squarely on the row, and the second
    still continues it though it touches its own label's row."""
    lines = [
        OcrLine.from_rect("住址", 0.99, 155, 0, 216, 47),
        OcrLine.from_rect("广东省深圳市南山区科技园南路267号阳光花园15号楼3单元2", 0.99, 330, -8, 1058, 44),
        OcrLine.from_rect("001室", 0.99, 329, 29, 423, 73),
    ]
    address = parse_page("vehicle", "front", lines).fields["address"].value
    assert address == "广东省深圳市南山区科技园南路267号阳光花园15号楼3单元2001室"


def test_labels_too_garbled_to_match_are_found_by_where_they_stand():
    """所有人 read as 厕有入 and 品牌型号 as A型号 match no label, but each is a short line that shares
    some of a lost label's characters, stands between the labels printed before and after it, and
    starts where other rows' labels start: it is that label, and its value follows."""
    lines = [
        line("号牌号码", 20, 100),
        line("鄂A18U2U", 170, 100),
        line("车辆类型", 500, 100),
        line("小型轿车", 650, 100),
        line("厕有入", 20, 170),
        line("武汉瑞达汽车租赁有限公司", 170, 170),
        line("住址", 20, 240),
        line("湖北省武汉市武昌区文化路222号", 170, 240),
        line("使用性质", 20, 310),
        line("预约出租客运", 170, 310),
        line("A型号", 500, 310),
        line("别克牌SGM7158DAA1", 650, 310),
        line("车辆识别代号", 20, 380),
        line("LSG819AS3PC936681", 200, 380),
    ]
    fields = parse_page("vehicle", "front", lines).fields
    assert fields["owner"].value == "武汉瑞达汽车租赁有限公司"
    assert fields["model"].value == "别克牌SGM7158DAA1"
    # Out of the label columns, the same text is no label.
    shifted = [*lines[:4], line("厕有入", 90, 170), *lines[5:]]
    assert "owner" not in parse_page("vehicle", "front", shifted).fields
    # Nor is a line followed on its row by another label, or one sharing a single character with a
    # two-character label (a nationality 中国 where 国籍 was lost).
    beside_label = [*lines[:4], line("厕有入", 20, 170), line("住址", 170, 170), *lines[6:]]
    # Five labels read and 品牌型号 placed; 厕有入, with the label 住址 beside it, is not 所有人.
    assert parse_page("vehicle", "front", beside_label).labels_found == 6
    driving = [
        line("证号", 20, 100),
        line("610113199304163004", 170, 100),
        line("姓名", 20, 150),
        line("蒋芳雪", 170, 150),
        line("中国", 20, 200),
        line("陕西省西安市雁塔区科技园南路127号", 170, 200),
        line("住址", 20, 250),
    ]
    # 中国 is no misread 国籍 label, so the address beside it is not the nationality; 中国 itself is.
    assert parse_page("driving", "front", driving).fields["nationality"].value == "中国"


def test_a_label_ending_a_longer_one_found_inside_it_is_the_longer_label():
    """准牵引总质量 with 牵引 misread (准幸们总质量) still holds 总质量, the 副页's total-mass label: two
    misread glyphs before it make it the traction-mass label, so its value is not the total mass."""
    lines = [
        line("总质量", 507, 126),
        line("1734kg", 682, 126),
        line("准幸们总质量", 44, 347),
        line("38410kg", 220, 347),
    ]
    fields = parse_page("vehicle", "back", lines).fields
    assert fields["traction_mass"].value == "38410kg"
    assert fields["total_mass"].value == "1734kg"
    # Three glyphs off is no longer that label: what stands before 总质量 is then left alone.
    far = parse_page("vehicle", "back", [*lines[:2], line("住幸们总质量", 44, 347), lines[3]]).fields
    assert "traction_mass" not in far


def test_values_whose_labels_were_lost_outright_are_placed_between_the_labels_found():
    """The 副页 prints 核定载人数 | 总质量, then 整备质量 | 核定载质量: with 总质量 and 整备质量 not
    detected at all, the two masses between the labels found around them are theirs, in print order.
    A line that does not fit its field's format, or a count that does not match, places nothing."""
    lines = [
        line("号牌号码", 44, 56),
        line("渝A29802", 219, 56),
        line("核定载人数5人", 41, 126),
        line("1734kg", 682, 126),
        line("1305kg", 218, 200),
        line("核定载质量", 507, 200),
        line("--", 684, 200),
    ]
    fields = parse_page("vehicle", "back", lines).fields
    assert (fields["total_mass"].value, fields["curb_weight"].value) == ("1734kg", "1305kg")
    assert fields["total_mass"].confidence < lines[3].score  # placed, not labelled
    wrong_format = [*lines[:3], line("备用", 682, 126), *lines[4:]]
    assert "total_mass" not in parse_page("vehicle", "back", wrong_format).fields
    one_more = [*lines, line("1500kg", 400, 200)]
    assert "total_mass" not in parse_page("vehicle", "back", one_more).fields


def test_values_placed_by_format_place_the_values_between_them():
    """A thumbnail that lost every label: the VIN and the dates, placed by their formats, bracket the
    engine number; a line the recognizer was unsure of is not placed by position alone."""
    lines = [
        line("京NA558Q", 120, 69, height=14),
        line("北京市海淀区胜利路255号", 121, 110, height=14),
        line("LEFB3VZ90B9792682", 121, 152, height=14),
        line("JX4DVJTS4W1", 123, 174, height=14),
        line("2011-06-10", 122, 195, height=14),
        line("2011-06-10", 269, 194, height=14),
    ]
    fields = parse_page("vehicle", "front", lines).fields
    assert fields["engine_number"].value == "JX4DVJTS4W1"
    unsure = [*lines[:3], line("JX4DVJTS4W1", 123, 174, height=14, score=0.6), *lines[4:]]
    assert "engine_number" not in parse_page("vehicle", "front", unsure).fields
    # The seal's star, read as a mark, lies between them too: it is no line of the card.
    starred = [*lines, line("★", 300, 170, height=20)]
    assert parse_page("vehicle", "front", starred).fields["engine_number"].value == "JX4DVJTS4W1"
    # Nor is what is left of a garbled label (发动机号码 as 日酒家, barely read): it used to make two
    # lines for one field, and the engine number was lost with it.
    garbled = [*lines, line("W日酒家", 20, 174, height=14, score=0.52)]
    assert parse_page("vehicle", "front", garbled).fields["engine_number"].value == "JX4DVJTS4W1"
    # But a value split in two, half of it under glare, is not placed by its sharp half alone.
    split = [*lines[:3], line("JX4DV", 123, 174, height=14), line("JTS4W1", 168, 174, height=14, score=0.6)]
    assert "engine_number" not in parse_page("vehicle", "front", [*split, *lines[4:]]).fields
    # What glare left of 所有人, read sharp, is no owner's name, and does not stop the name being placed.
    typed = [*lines[:1], line("小型轿车", 300, 69, height=14), *lines[1:]]
    remnant = [*typed, line("有人", 20, 90, height=14)]
    assert "owner" not in parse_page("vehicle", "front", remnant).fields
    named = [*remnant, line("王小明", 121, 90, height=14)]
    assert parse_page("vehicle", "front", named).fields["owner"].value == "王小明"


def test_an_issuing_office_is_no_address():
    assert looks_like_address("四川省成都市锦江区东风路161号")
    assert not looks_like_address("四川省成都市公安局交通管理局")
    assert not looks_like_address("林子飞")


def test_the_one_date_left_unclaimed_is_the_one_date_field_left_empty():
    lines = [
        line("所有人", 20, 100),
        line("林子飞", 150, 100),
        line("发动机号码", 20, 300),
        line("L15DUCDN7", 200, 300),
        line("2021:05-31", 150, 400),  # its label (注册日期) unreadable; OCR read a dash as a colon
        line("发证日期", 500, 400),
        line("2025-02-26", 650, 400),
    ]
    read = parse_page("vehicle", "front", lines)
    assert read.fields["issue_date"].value == "2025-02-26"
    assert read.fields["register_date"].value == "2021-05-31"
    # More bare dates left over than date fields empty: no guess from the count, but the one standing
    # between 发动机号码 and 发证日期 is the register date by its place; the one below them is nothing.
    extra = parse_page("vehicle", "front", [*lines, line("2019-12-18", 150, 460)])
    assert extra.fields["register_date"].value == "2021-05-31"
    assert "2019-12-18" not in {value.value for value in extra.fields.values()}
    one_of_two = parse_page("vehicle", "front", [*lines[:4], line("2025-02-26", 650, 400)])
    assert "register_date" not in one_of_two.fields and "issue_date" not in one_of_two.fields


def test_unlabelled_dates_fill_empty_date_fields_in_the_order_the_card_prints_them():
    """A thumbnail can lose every label: two bare dates on the last row of a vehicle licence are the
    register date (left) and the issue date (right), even on a tilted page where the right one sits
    higher."""
    lines = [line("LHGTMN0G6LB841671", 150, 300), line("2021-05-31", 150, 404), line("2025-02-26", 650, 398)]
    read = parse_page("vehicle", "front", lines)
    assert read.fields["register_date"].value == "2021-05-31"
    assert read.fields["issue_date"].value == "2025-02-26"
    assert read.fields["issue_date"].confidence < lines[2].score  # placed by its format


def test_a_thumbnail_that_lost_its_date_labels_still_gives_its_dates_and_validity():
    """A new driving licence prints its validity as a range; with every date label lost, the range is
    the validity (nothing else is printed so) and the two bare dates are birth and first issue, in
    print order: the range gives the validity's start, so no bare date is left to be it."""
    lines = [
        line("330106198605284189", 103, 59, height=14),
        line("1986-05-28", 230, 126, height=14),
        line("2014-10-13", 230, 146, height=14),
        line("将效", 48, 211, height=14),
        line("2020-10-13至2030-10-13", 122, 211, height=14),
    ]
    document = build_document(parse_page("driving", "front", lines))
    assert (document.birth_date, document.first_issue_date) == (date(1986, 5, 28), date(2014, 10, 13))
    assert (document.valid_from, document.valid_to) == (date(2020, 10, 13), date(2030, 10, 13))
    # An old card's validity is a number of years, printed beside its own start date: not a range.
    old = [*lines[:4], line("有效期限", 48, 230, height=14), line("6年", 122, 230, height=14)]
    assert "valid_period" in parse_page("driving", "front", old).fields
    assert "birth_date" not in parse_page("driving", "front", old).fields  # two bare dates, three fields


def test_the_gap_after_a_name_label_is_not_part_of_the_name():
    read = parse_page("driving", "back", [line("姓名一郝林国", 20, 100), line("证号", 20, 40)])
    assert read.fields["name"].value == "郝林国"


@pytest.mark.parametrize(
    "seal_text, authority",
    [
        ("上海市公安局交通價職总队", "上海市公安局交通警察总队"),  # two misread in a long office name
        ("江苏省南京市公安局文通管中局", "江苏省南京市公安局交通管理局"),
        # Shanghai's traffic police are a 总队: the one office a misread 总 can belong to.
        ("上海市公安局交通警察文队", "上海市公安局交通警察总队"),
        ("天津市公安交通管理局", "天津市公安交通管理局"),
        ("山东省济南市公安局交通警察支队", "山东省济南市公安局交通警察支队"),
        ("山东省济南市公支局交通警察文队", "山东省济南市公安局交通警察支队"),  # the lexicon names every city
        # 南京 or 南通: a guess either way, so the place stays as read (and is trusted less).
        ("江苏省南疏市公安局交通管理局", "江苏省南疏市公安局交通管理局"),
        # A longer name than any prefecture office (a county's 大队) is not cut down to one.
        ("浙江省杭州市公安局交通警察支队西湖大队", "浙江省杭州市公安局交通警察支队西湖大队"),
    ],
)
def test_seal_reads_are_corrected_only_to_the_one_office_name_they_are_nearest(seal_text, authority):
    cleaned = clean_authority(seal_text)
    assert (cleaned[0] if cleaned else None) == authority
    assert cleaned is not None
    known = authority in office_names()
    if authority == seal_text and known:
        assert cleaned[1] == 1.0  # read exactly as a known office: fully trusted
    else:
        assert cleaned[1] < 1.0  # repaired, or named by nothing the lexicon confirms


def test_an_inspection_stamp_takes_the_plates_province_for_a_glyph_that_is_none():
    lines = [
        line("号牌号码", 20, 60),
        line("渝A2M4R2", 170, 60),
        line("检验记录", 20, 300),
        line("检验有效期至2026年06月输A(05)", 170, 340),
    ]
    read = parse_page("vehicle", "back", lines)
    document = build_document(read)
    assert document.values()["inspection_record"] == "检验有效期至2026年06月渝A(05)"
    assert document.meta["inspection_record"].confidence < read.fields["inspection_record"].confidence
    # A real province in the stamp is left as printed, even when it differs from the plate.
    lines[-1] = line("检验有效期至2026年06月京A(05)", 170, 340)
    kept = build_document(parse_page("vehicle", "back", lines)).values()["inspection_record"]
    assert kept.endswith("京A(05)")


def test_one_page_photo_has_no_page_region():
    assert page_region("vehicle", "front", vehicle_front_lines()) is None
    assert page_region("vehicle", "back", vehicle_back_lines()) is None


def test_the_page_a_photo_shows_instead_is_told_apart_from_a_poorly_read_one():
    assert page_shown_instead("vehicle", "front", vehicle_back_lines()) == ("vehicle", "back")
    assert page_shown_instead("vehicle", "back", vehicle_front_lines()) == ("vehicle", "front")
    assert page_shown_instead("vehicle", "front", vehicle_front_lines()) is None
    assert page_shown_instead("vehicle", "back", vehicle_back_lines()) is None
    # Both pages side by side, or one label of the asked-for page read beside another page: not it.
    assert page_shown_instead("vehicle", "front", vehicle_front_lines() + vehicle_back_lines(1100.0)) is None
    assert page_shown_instead("vehicle", "front", [line("品牌型号", 20, 20), *vehicle_back_lines()]) is None
    back = [line("证号", 20, 100), line("姓名", 20, 160), line("档案编号", 400, 160), line("记录", 20, 220)]
    assert page_shown_instead("driving", "front", back) == ("driving", "back")
    assert page_shown_instead("driving", "front", back[:3]) is None  # 档案编号 alone is too little to say
    assert page_shown_instead("plate", "front", back) is None
    # Another licence: a 行驶证副页 prints 档案编号 and 检验记录 (记录 inside it) too, but more of its own.
    vehicle_back = [*vehicle_back_lines(), line("检验记录", 20, 300)]
    assert page_shown_instead("driving", "front", vehicle_back) == ("vehicle", "back")
    assert page_shown_instead("driving", "back", vehicle_back) == ("vehicle", "back")
    assert page_shown_instead("vehicle", "back", back) == ("driving", "back")
    assert page_shown_instead("driving", "front", vehicle_front_lines()) == ("vehicle", "front")


def test_the_asked_for_pages_title_keeps_it_from_being_taken_for_another_page():
    """A vehicle licence beside a driving licence, its labels garbled: the title says it is there."""
    driving_labels = [line("证号", 20, 100), line("性别", 400, 100), line("国籍", 600, 100)]
    assert page_shown_instead("vehicle", "front", driving_labels) == ("driving", "front")
    with_title = [line("中华人民共和国机动车行驶证", 900, 20), *driving_labels]
    assert page_shown_instead("vehicle", "front", with_title) is None
    # The 副页's own title names the 副页: a driving licence's 副页 is still told from its main page.
    back = [line("中华人民共和国机动车驾驶证副页", 20, 20), line("档案编号", 400, 160), line("记录", 20, 220)]
    assert page_shown_instead("driving", "front", back) == ("driving", "back")
    assert shows_own_title("driving", "back", back) and not shows_own_title("driving", "front", back)


def test_a_sharp_photo_with_no_label_title_or_second_value_is_no_such_page():
    plate_only = [line("京A8P2K6", 20, 20)]

    def reading(kind, document, warnings=()) -> Recognition:
        return Recognition(kind=kind, vendor="local", document=document, warnings=list(warnings))

    from_plate = reading("vehicle", VehicleLicenceFront(plate_number="京A8P2K6"))
    assert _no_such_page(from_plate, plate_only)
    small = Warning(code="photo_small", severity=Severity.WARNING, message="small")
    assert not _no_such_page(reading("vehicle", from_plate.document, [small]), plate_only)  # keep the advice
    two = reading("vehicle", VehicleLicenceFront(plate_number="京A8P2K6", vin="LSVAU2180N2183294"))
    assert not _no_such_page(two, plate_only)
    # A driving licence's "not long-term" is no value read: the number alone is one.
    number_only = reading("driving", DrivingLicence(number="430104197002085339"))
    assert _no_such_page(number_only, [line("430104197002085339", 20, 20)])
    titled = [line("中华人民共和国机动车驾驶证", 20, 20), line("430104197002085339", 20, 60)]
    assert not _no_such_page(number_only, titled)


def test_labels_seen_counts_each_pages_labels_longest_first():
    seen = labels_seen([line("检验记录", 20, 20), line("档案编号", 20, 60), line("住址", 20, 100)])
    assert seen[("vehicle", "back")] == 2 and seen[("driving", "back")] == 1  # 记录 is part of 检验记录
    assert seen[("driving", "front")] == seen[("vehicle", "front")] == 1  # both print 住址
    assert labels_seen([line("京A8P2K6", 20, 20)]) == dict.fromkeys(seen, 0)


@pytest.mark.parametrize("front_left", [True, False])
def test_both_pages_side_by_side_are_split_between_them(front_left):
    front_dx, back_dx = (0.0, 1100.0) if front_left else (1100.0, 0.0)
    lines = vehicle_front_lines(front_dx) + vehicle_back_lines(back_dx)
    region = page_region("vehicle", "front", lines)
    assert region is not None

    def inside(item: OcrLine) -> bool:
        return item.cx * region.normal[0] + item.cy * region.normal[1] < region.threshold

    assert all(inside(item) for item in vehicle_front_lines(front_dx))
    assert not any(inside(item) for item in vehicle_back_lines(back_dx))
    (x0, _y0, x1, _y1), keep = region.crop(2100, 600)
    assert keep.shape == (600, x1 - x0) and keep.all()
    assert (x0 == 0) == front_left


def test_a_lighter_blurred_dash_counts_as_the_printed_dash():
    cell = np.full((60, 300, 3), 240, np.uint8)
    cv2.line(cell, (40, 30), (80, 30), (40, 40, 40), 2)
    cv2.line(cell, (0, 0), (0, 59), (120, 120, 120), 2)  # the table rule on the cell's edge
    blurred = cv2.GaussianBlur(cell, (0, 0), 2.5)
    assert blurred.min() > 100  # too light for a fixed ink level
    found = _ink_rect(blurred, (0, 0, 300, 60))
    assert found is not None
    (x0, _y0, x1, _y1), (ink_width, ink_height) = found
    assert x0 > 10 and x1 < 120  # the rule is not part of the print
    assert _is_dash(ink_width, ink_height, label_height=28)
    assert _ink_rect(np.full((60, 300, 3), 235, np.uint8), (0, 0, 300, 60)) is None


def test_a_glare_washed_dash_is_found_in_a_mass_cell_which_is_never_blank():
    """Glare and a sleeve leave a short blurred dash barely darker than the paper, and about twice as
    long as tall; a mass cell prints a quantity or ``--``, never nothing, so there it still counts."""
    cell = np.full((56, 298, 3), 251, np.uint8)
    cv2.rectangle(cell, (26, 29), (38, 31), (150, 150, 150), -1)  # a 13 x 3 dash in pale grey
    washed = cv2.GaussianBlur(cell, (0, 0), 1.5)
    assert 50 <= 251 - int(washed.max(axis=2).min()) < 80  # fainter than any other cell's print
    assert _ink_rect(washed, (0, 0, 298, 56)) is None
    found = _ink_rect(washed, (0, 0, 298, 56), never_blank=True)
    assert found is not None
    _rect, (ink_width, ink_height) = found
    assert _is_dash(ink_width, ink_height, label_height=33)
    # A glyph is no dash, however faint: as tall as a third of its label or more.
    assert not _is_dash(12, 14, label_height=33)


def test_specks_left_of_a_broken_rule_do_not_make_a_dash_a_glyph():
    """Noise can break the cell's rule into single dark pixels that no longer cross the cell; kept as
    ink, they stretched the box of a lone dash to a glyph's height."""
    cell = np.full((68, 261, 3), 240, np.uint8)
    cv2.rectangle(cell, (42, 33), (57, 37), (40, 40, 40), -1)  # the printed dash, 16 x 5
    cell[26, 29] = cell[48, 29] = (60, 60, 60)  # what noise left of the rule
    found = _ink_rect(cell, (0, 0, 261, 68))
    assert found is not None
    _rect, (ink_width, ink_height) = found
    assert (ink_width, ink_height) == (16, 5)
    assert _is_dash(ink_width, ink_height, label_height=38)


def test_a_term_glare_washed_out_is_read_as_the_term_of_its_closed_list():
    """Glare leaves 营转非 too faint to tell from noise at one ink level for the cell (and its rules in
    pieces); a 使用性质 cell prints from a closed list, so its faint print is read against that list."""

    def glared_row(value: str | None) -> np.ndarray:
        photo = Image.new("RGB", (760, 120), (236, 236, 232))
        draw = ImageDraw.Draw(photo)
        draw.text((20, 40), "使用性质", font=font(30), fill=(60, 60, 60))
        draw.text((520, 40), "品牌型号", font=font(30), fill=(60, 60, 60))
        for rule in ((0, 8, 759, 8), (0, 112, 759, 112), (170, 0, 170, 119)):
            draw.line(rule, fill=(190, 190, 190), width=1)
        if value:
            draw.text((200, 40), value, font=font(30), fill=(40, 40, 40))
        bgr = np.asarray(photo)[:, :, ::-1].astype(np.float32)
        rows, columns = np.mgrid[0:120, 0:760]
        glare = np.exp(-(((columns - 300) / 220.0) ** 2 + ((rows - 60) / 90.0) ** 2))[..., None]
        bgr = cv2.GaussianBlur(bgr + (255 - bgr) * 0.8 * glare, (0, 0), 1.2)
        return np.clip(bgr, 0, 255).astype(np.uint8)

    def reread(value: str | None) -> str | None:
        read = parse_page("vehicle", "front", [line("使用性质", 20, 40), line("品牌型号", 520, 40)])
        (cell,) = [item.rect for item in read.missing if item.field == "use_character"]
        photo = glared_row(value)
        assert _ink_rect(photo, cell) is None  # too faint for any other cell
        reread_cells(shared_engine(), photo, 1.0, read)
        found = read.fields.get("use_character")
        return None if found is None else found.value

    assert reread("营转非") == "营转非"
    assert reread(None) is None  # glare and broken rules alone read as nothing
    assert reread("张伟") is None  # faint print that is no term is not made one


def test_a_label_glare_took_whole_is_looked_for_where_its_row_and_column_put_it():
    """No glyph of 核定载质量 is left to match, nor its faint ``--`` for detection: the label printed left
    of it (整备质量) gives its row, the one above it (总质量) its column, and its cell is read again."""
    lines = [*vehicle_back_lines(), line("整备质量", 20, 200), line("1305kg", 190, 200)]
    read = parse_page("vehicle", "back", lines)
    placed = [item for item in read.missing if item.field == "approved_load"]
    assert len(placed) == 1
    x0, y0, x1, y1 = placed[0].rect
    assert 500 + 5 * 30 <= x0 < 700  # just after the label's five glyphs, as wide as 总质量's
    assert y0 < 200 < 230 < y1 and x1 > 800  # its row, up to the page's right edge
    # Without the label above it, no label gives its column: only the table its values place does (the
    # file number's column), and a cell placed so is trusted less.
    no_column = [item for item in lines if item.text not in ("总质量", "1738kg")]
    (by_table,) = [
        item for item in parse_page("vehicle", "back", no_column).missing if item.field == "approved_load"
    ]
    assert by_table.trust == TABLE_TRUST and 630 <= by_table.rect[0] <= 650
    # The row's other label may stand right of it, the column's below it: 号牌号码 is on 档案编号's row
    # and in 核定载人数's column, and its plate (province lost, no plate by format) is read again there.
    no_plate_label = [line("BHH7H4", 170, 60), *lines[2:]]
    read = parse_page("vehicle", "back", no_plate_label)
    (area,) = [item.rect for item in read.missing if item.field == "plate_number"]
    assert 20 + 4 * 30 <= area[0] < 170 and area[2] <= 500  # after its label, up to 档案编号
    assert area[1] < 60 < 90 < area[3]
    # 准牵引总质量 is on 备注's row and in 外廓尺寸's column.
    lower_rows = [line("外廓尺寸", 20, 260), line("4700×1800×1450mm", 190, 260), line("备注", 500, 320)]
    read = parse_page("vehicle", "back", [*vehicle_back_lines(), *lower_rows])
    (area,) = [item.rect for item in read.missing if item.field == "traction_mass"]
    assert 20 + 6 * 30 <= area[0] < 500 and area[2] <= 500 and area[1] < 320 < 350 < area[3]
    # 备注 is on 准牵引总质量's row and in 核定载质量's column (which 总质量 above it stands in).
    lower_rows = [*lower_rows[:2], line("准牵引总质量", 20, 320), line("核定载质量", 500, 200)]
    read = parse_page("vehicle", "back", [*vehicle_back_lines(), *lower_rows])
    (area,) = [item.rect for item in read.missing if item.field == "remarks"]
    assert area[0] >= 500 + 2 * 30 and area[1] < 320 < 350 < area[3]
    # A driving licence's back page: 姓名 is on 档案编号's row and in 证号's column.
    back = [line("证号", 20, 40), line("110101199001011234", 170, 40), line("档案编号", 500, 100)]
    back.append(line("110100123456", 640, 100))  # which places the name too: one cell, not two
    (area,) = [item.rect for item in parse_page("driving", "back", back).missing if item.field == "name"]
    assert 20 + 2 * 30 <= area[0] < 170 and area[2] <= 500 and area[1] < 100 < 130 < area[3]


def test_a_sex_lost_with_its_label_is_read_between_the_name_and_the_nationality():
    """Detection can miss 性别 and its value together; no label shares their column, but 姓名 and 国籍
    either side of them on the row say where they stand, and the cell read there gives the sex."""
    photo = Image.new("RGB", (900, 200), (240, 238, 230))
    draw = ImageDraw.Draw(photo)
    printed = [("证号", 20, 40), ("110101199001011234", 170, 40), ("姓名", 20, 110), ("张伟", 110, 110)]
    printed += [("性别", 330, 110), ("女", 420, 110), ("国籍", 560, 110), ("中国", 650, 110)]
    for text, x, y in printed:
        draw.text((x, y), text, font=font(30), fill=(30, 30, 30))
    detected = [line("证号", 20, 40), line("110101199001011234", 170, 40), line("姓名张伟", 20, 110)]
    read = parse_page("driving", "front", [*detected, line("国籍中国", 560, 110)])
    (cell,) = [item.rect for item in read.missing if item.field == "sex"]
    assert 140 <= cell[0] < 330 and 420 < cell[2] <= 560 and cell[1] < 110 < 140 < cell[3]
    reread_cells(shared_engine(), np.asarray(photo)[:, :, ::-1].copy(), 1.0, read)
    assert read.fields["sex"].value == "女"
    # Without the label after it, the cell's end is unknown and nothing is guessed.
    assert "sex" not in {item.field for item in parse_page("driving", "front", detected).missing}


def test_a_name_lost_with_every_label_of_the_back_page_is_read_where_the_values_place_it(monkeypatch):
    """A blurred 副页 can keep only its title and its bold values: its labels are small grey print, and
    detection dropped the name too. The ID number's column and the file number's row say where the name
    stands; its cell is read there, and the title, printed above everything, says which way is up."""
    photo = Image.new("RGB", (900, 260), (240, 238, 230))
    draw = ImageDraw.Draw(photo)
    printed = [("中华人民共和国机动车驾驶证副页", 150, 10), ("110101199001011234", 170, 70)]
    printed += [("张伟", 170, 140), ("110100123456", 560, 140)]
    for text, x, y in printed:
        draw.text((x, y), text, font=font(30), fill=(30, 30, 30))
    for text, x, y in (("证号", 20, 75), ("姓名", 20, 145), ("档案编号", 420, 145)):
        draw.text((x, y), text, font=font(20), fill=(150, 150, 150))
    detected = [line(text, x, y) for text, x, y in printed if text != "张伟"]
    read = parse_page("driving", "back", detected)
    (cell,) = [item.rect for item in read.missing if item.field == "name"]
    assert 150 <= cell[0] <= 170 and cell[2] < 420 and cell[1] < 140 < 170 < cell[3]  # not 档案编号
    bgr = np.asarray(photo)[:, :, ::-1].copy()
    reread_cells(shared_engine(), bgr, 1.0, read)
    assert read.fields["name"].value == "张伟"
    # A cell too faint to read as any text is read as a name (Chinese characters, the given-name
    # prior), but never as one of the page's labels, which a cell placed too far can reach.
    engine = shared_engine()
    monkeypatch.setattr(engine, "read_crop", lambda crop, orient=False: ("张伟", 0.3))
    for named, kept in (("张伟", "张伟"), ("档案编号", None)):
        seen: list[str] = []

        def name_reader(reading: CropReading, named: str = named, seen: list[str] = seen) -> NameRead:
            seen.append(reading.text)
            return NameRead(named, 0.42)

        monkeypatch.setattr(cells, "read_name", name_reader)
        read = parse_page("driving", "back", detected)
        reread_cells(engine, bgr, 1.0, read)
        assert seen == ["张伟"]
        name = read.fields.get("name")
        assert (name.value, name.confidence) == (kept, 0.42) if kept else name is None

    def turned_over(item: OcrLine) -> OcrLine:
        x0, y0, x1, y1 = 900 - item.x1, 260 - item.y1, 900 - item.x0, 260 - item.y0
        return OcrLine.from_rect(item.text, item.score, x0, y0, x1, y1)

    # No label to stand the page up by: the frames tie on every other count, and the title decides.
    read = parse_page("driving", "back", [turned_over(item) for item in detected])
    assert read.quarter_turns == 2 and "name" in {item.field for item in read.missing}
    # Text beside the card (a receipt above it) is no part of the page the title stands above.
    receipt = [line("收款收据", 150, -300), line("金额 120.00元", 150, -250), line("谢谢惠顾", 150, -200)]
    assert parse_page("driving", "back", [*receipt, *detected]).quarter_turns == 0
    # Without the file number, the name's row is unknown and nothing is guessed.
    assert "name" not in {item.field for item in parse_page("driving", "back", detected[:2]).missing}


def test_a_front_page_name_lost_with_its_label_is_read_where_the_number_and_sex_place_it():
    """On the 正页 the name prints in the ID number's value column, on the row of the sex value: blur
    that took 姓名 and the bold name together (and 证号, whose number tells itself) leaves both of those
    to say where the name's cell is."""
    detected = [
        line("110101199001011234", 170, 40),
        line("性别", 420, 100),
        line("男", 540, 100),
        line("国籍", 620, 100),
        line("中国", 740, 100),
    ]
    read = parse_page("driving", "front", detected)
    (cell,) = [item.rect for item in read.missing if item.field == "name"]
    assert 150 <= cell[0] <= 170 and cell[2] < 420 and cell[1] < 100 < 130 < cell[3]  # not 性别
    # Without the sex value, the name's row is unknown and nothing is guessed.
    no_sex = [item for item in detected if item.text != "男"]
    assert "name" not in {item.field for item in parse_page("driving", "front", no_sex).missing}


def test_values_lost_with_every_label_are_read_where_the_cards_table_places_them():
    """A 行驶证 prints its values in a table of even rows. A blurred thumbnail can lose every label and
    leave only the values whose format tells them (plate, VIN, dates): their rows and columns place the
    table, and each value still missing is looked for where its row and column cross."""
    pitch = 70
    lines = [
        line("京NA558Q", 200, 100),  # row 0, first column
        line("LEFB3VZ90B9792682", 200, 100 + 4 * pitch),  # row 4
        line("2011-06-10", 200, 100 + 6 * pitch),  # row 6
        line("2011-06-10", 700, 100 + 6 * pitch),  # row 6, second column
    ]
    read = parse_page("vehicle", "front", lines)
    cells = {item.field: item for item in read.missing}
    assert {"owner", "address", "use_character", "model", "engine_number"} <= set(cells)
    for field_name, row in (("owner", 1), ("address", 2), ("use_character", 3), ("engine_number", 5)):
        x0, y0, _x1, y1 = cells[field_name].rect
        middle = 115 + row * pitch  # the row's print, 30 px high from 100 + row * pitch
        assert (
            180 <= x0 <= 200
            and middle - pitch / 2 < y0 < middle - 15
            and middle + 15 < y1 < middle + pitch / 2
        )
    # A value sharing its row with the second column ends before that column's label; the model starts
    # in the second column.
    assert cells["use_character"].rect[2] < 500 < cells["owner"].rect[2]
    assert 680 <= cells["model"].rect[0] <= 700
    # Nothing but its place says which field such a value is: it is trusted less.
    assert {cells[name].trust for name in ("owner", "model")} == {TABLE_TRUST}
    assert all(item.trust == 1.0 for item in parse_page("vehicle", "front", vehicle_front_lines()).missing)
    # Values that fit no even spacing of rows (a VIN halfway between two rows) place no table.
    crooked = [lines[0], line("LEFB3VZ90B9792682", 200, 100 + 3.5 * pitch), *lines[2:]]
    assert not {item.field for item in parse_page("vehicle", "front", crooked).missing} & set(cells)
    # One row's values alone place nothing: the spacing is unknown.
    assert not parse_page("vehicle", "front", [lines[2], lines[3]]).missing


def test_masses_lost_with_their_labels_are_read_in_the_cells_the_table_places():
    """A 副页's masses are all ``NNNNkg``: with their labels lost, only their places tell them apart."""
    photo = Image.new("RGB", (1000, 420), (240, 238, 230))
    draw = ImageDraw.Draw(photo)
    printed = {
        "plate_number": ("京A6G13E", 200, 40),
        "file_number": ("110126707760", 690, 40),
        "approved_passengers": ("5人", 200, 112),
        "total_mass": ("1973kg", 690, 112),
        "curb_weight": ("1565kg", 200, 184),
        "approved_load": ("408kg", 690, 184),
        "dimensions": ("4610×1848×1708mm", 200, 256),
    }
    for text, x, y in printed.values():
        draw.text((x, y), text, font=font(30), fill=(30, 30, 30))
    detected = [line(*printed[name]) for name in ("plate_number", "file_number", "dimensions")]
    read = parse_page("vehicle", "back", detected)
    reread_cells(shared_engine(), np.asarray(photo)[:, :, ::-1].copy(), 1.0, read)
    for name in ("approved_passengers", "total_mass", "curb_weight", "approved_load"):
        assert read.fields[name].value == printed[name][0]
        assert read.fields[name].confidence <= TABLE_TRUST
    assert read.fields["plate_number"].confidence > TABLE_TRUST


def test_a_label_misread_as_another_rows_label_gives_way_to_the_table():
    """核定载质量 misread (私定航质量) still ends in 质量, and matched as 总质量 it gave its row's ``--`` to
    the total mass, a row below where the total mass prints. The other fields found place the table
    evenly without it, so that match is dropped, and the table places both masses' cells."""
    lines = [
        line("号牌号码", 20, 60),
        line("京N3677Q", 170, 60),
        line("档案编号", 500, 60),
        line("110136277787", 650, 60),
        line("核定载人数", 20, 130),
        line("5人", 190, 130),
        line("私定航质量", 500, 200),  # 核定载质量, misread, on the third row
        line("--", 690, 200),
        line("外廓尺寸", 20, 270),
        line("4610×1848×1708mm", 190, 270),
    ]
    read = parse_page("vehicle", "back", lines)
    assert "total_mass" not in read.fields
    cells = {item.field: item.rect for item in read.missing}
    assert cells["total_mass"][1] < 145 < cells["total_mass"][3] < 200  # the second row's middle
    assert cells["approved_load"][1] < 215 < cells["approved_load"][3]  # the third row's
    # Where the rows found fit the table, every label keeps its value.
    right = [*lines[:6], line("总质量", 500, 130), line("1973kg", 650, 130), *lines[8:]]
    assert parse_page("vehicle", "back", right).fields["total_mass"].value == "1973kg"


def test_print_of_the_rows_above_and_below_a_cell_is_no_part_of_its_value():
    """A cell's area runs a little past its row, so on a tilted or tightly printed card it takes in the
    foot of the ID number above a name and the head of the address below it; only the name is read."""
    photo = Image.new("RGB", (320, 110), (240, 238, 230))
    draw = ImageDraw.Draw(photo)
    draw.text((20, -22), "110101199001011234", font=font(30), fill=(30, 30, 30))  # its foot shows
    draw.text((20, 38), "张伟", font=font(30), fill=(30, 30, 30))
    draw.text((20, 96), "北京市东城区", font=font(30), fill=(30, 30, 30))  # its head shows
    found = _ink_rect(np.asarray(photo)[:, :, ::-1].copy(), (0, 0, 320, 110))
    assert found is not None
    (_x0, _y0, x1, _y1), (ink_width, ink_height) = found
    assert 20 <= ink_height <= 34 and ink_width < 70 and x1 < 120
    # A value that may wrap (an address) keeps every row: its next line is no neighbour's.
    found = _ink_rect(np.asarray(photo)[:, :, ::-1].copy(), (0, 0, 320, 110), one_row=False)
    assert found is not None and found[1][1] > 100
    # Two rows wholly inside the cell are both its own.
    two_rows = Image.new("RGB", (320, 110), (240, 238, 230))
    ImageDraw.Draw(two_rows).text((20, 10), "张伟\n张伟", font=font(40), fill=(30, 30, 30))
    found = _ink_rect(np.asarray(two_rows)[:, :, ::-1].copy(), (0, 0, 320, 110))
    assert found is not None and found[1][1] > 60


def test_a_dash_whose_label_glare_took_is_read_in_the_cell_its_neighbours_place():
    rng = random.Random("lost-label")
    vehicle = specimens.make_vehicle(rng)
    while vehicle.approved_load != "--":
        vehicle = specimens.make_vehicle(rng)
    image, truth = specimens.render_vehicle(vehicle, "back")
    lines = shared_engine().read(np.ascontiguousarray(np.asarray(image)[:, :, ::-1]))
    label = next(item for item in lines if item.text == "核定载质量")
    ImageDraw.Draw(image).rectangle(
        (label.x0 - 4, label.y0 - 4, label.x1 + 4, label.y1 + 4), fill=image.getpixel((5, 5))
    )
    result = LocalVendor({}).recognize_sync("vehicle", "back", _intake(image))
    assert result.document is not None
    assert result.document.values()["approved_load"] == truth["approved_load"] == "--"


def test_the_rule_after_a_value_closes_its_cell():
    """Where detection missed the next cell's label, the area searched right of a label runs on past
    the table's fine grey rule into that cell; the value's print stops at the rule."""
    cell = np.full((64, 532, 3), 242, np.uint8)
    cv2.rectangle(cell, (12, 30), (28, 33), (45, 45, 45), -1)  # the printed dash
    cv2.line(cell, (296, 0), (296, 63), (195, 195, 195), 1)  # the rule, 47 levels under the paper
    cv2.putText(cell, "NOTE", (330, 45), cv2.FONT_HERSHEY_SIMPLEX, 0.9, (110, 110, 110), 2)  # next label
    found = _ink_rect(cell, (0, 0, 532, 64), never_blank=True)
    assert found is not None
    (_x0, _y0, x1, _y1), (ink_width, ink_height) = found
    assert x1 < 296 and _is_dash(ink_width, ink_height, label_height=38)
    # A broad shadow is no rule: the print on both sides of it is one value.
    shaded = np.full((64, 532, 3), 242, np.uint8)
    shaded[:, 150:190] = 200
    cv2.putText(shaded, "AB", (20, 45), cv2.FONT_HERSHEY_SIMPLEX, 0.9, (40, 40, 40), 2)
    cv2.putText(shaded, "CD", (230, 45), cv2.FONT_HERSHEY_SIMPLEX, 0.9, (40, 40, 40), 2)
    shadow_found = _ink_rect(shaded, (0, 0, 532, 64))
    assert shadow_found is not None and shadow_found[0][2] > 230


def test_a_pale_seal_is_still_found():
    card = np.full((400, 600, 3), 235, np.uint8)
    cv2.circle(card, (420, 220), 80, (200, 200, 232), 4)  # R exceeds G and B by only 24
    cv2.putText(card, "SEAL TEXT", (360, 225), cv2.FONT_HERSHEY_SIMPLEX, 0.6, (200, 200, 232), 2)
    seals = find_seals(card)
    assert seals and abs(seals[0].cx - 420) < 6 and abs(seals[0].radius - 80) < 8


@pytest.mark.parametrize(
    ("office", "radius", "blur"),
    [("山东省济南市公安局交通警察支队", 80, 2.0), ("湖南省长沙市公安局交通警察支队", 60, 1.5)],
)
def test_a_blurred_seal_is_read_as_the_office_its_rim_fits_best(office, radius, blur):
    """Blur leaves the rim's glyphs half legible: greedy decoding garbles the name past what string
    distance can correct, while scoring every office name over the recognizer's whole output finds it."""
    stamp = seal(office, radius, random.Random(3))
    card = Image.new("RGB", (radius * 4, radius * 3), (236, 232, 222))
    card.paste(stamp, (radius, radius // 2), stamp)
    photo = cv2.GaussianBlur(np.asarray(card)[:, :, ::-1].copy(), (0, 0), blur)
    engine = shared_engine()
    image, found = _enlarged(photo, find_seals(photo)[0])
    greedy = engine.read_crop_chars(unroll(image, found)).text
    assert greedy != office and (clean_authority(greedy) or ("",))[0] != office
    authority = read_authority(engine, photo)
    assert authority is not None and authority.value == office


@pytest.mark.parametrize(
    ("office", "radius"), [("广东省广州市公安局交通警察支队", 30), ("安徽省合肥市公安局交通警察支队", 36)]
)
def test_a_small_seal_unrolled_linearly_is_read_unrolled_conformally(monkeypatch, office, radius):
    """On a small seal the linear unrolling squeezes each glyph's top against its bottom until the rim
    reads as nothing or as garble; the log-polar unrolling keeps the glyphs' shapes and names the office."""
    stamp = seal(office, radius, random.Random(3))
    card = Image.new("RGB", (radius * 4, radius * 3 + 10), (236, 232, 222))
    card.paste(stamp, (radius, radius // 2), stamp)
    photo = np.asarray(card)[:, :, ::-1].copy()
    engine = shared_engine()
    linear_only = tuple(unrolling for unrolling in UNROLLINGS if not unrolling[0])
    with monkeypatch.context() as patched:
        patched.setattr("bot.vendors.local.seal.UNROLLINGS", linear_only)
        linear = read_authority(engine, photo)
    assert linear is None or linear.value != office
    authority = read_authority(engine, photo)
    assert authority is not None and authority.value == office


def test_a_seal_found_off_centre_is_recentred_on_its_star():
    """A pale or blurred seal breaks up, and its largest red blob is the star with part of the rim: the
    star gives back the centre and the densest outermost ring the radius, and the rim reads again."""
    office = "湖南省长沙市公安局交通警察支队"
    stamp = seal(office, 90, random.Random(5))
    card = Image.new("RGB", (420, 360), (236, 232, 222))
    card.paste(stamp, (110, 80), stamp)
    photo = np.asarray(card)[:, :, ::-1].copy()
    true_centre = (110 + stamp.width / 2, 80 + stamp.height / 2)
    fragment = Seal(true_centre[0] + 25, true_centre[1] + 20, 55)
    centred = star_centred(photo, fragment)
    assert centred is not None
    assert math.dist((centred.cx, centred.cy), true_centre) < 6
    assert abs(centred.radius - 90) < 9
    authority = read_authority(shared_engine(), photo)
    assert authority is not None and authority.value == office
    ring_only = np.full((300, 300, 3), 236, np.uint8)
    cv2.circle(ring_only, (150, 150), 90, (40, 40, 220), 4)
    assert star_centred(ring_only, Seal(150, 150, 90)) is None


def test_a_faded_seal_in_dim_cast_light_is_found_once_the_paper_is_made_white():
    """Light multiplies every colour: a faded seal photographed in a dim, warm-tinted corner is only a
    few levels redder than green, too dull to stand out, until each channel is divided by the paper's."""
    office = "安徽省合肥市公安局交通警察支队"
    stamp = seal(office, 90, random.Random(5))
    card = Image.new("RGB", (480, 360), (236, 232, 222))
    card.paste(stamp, (120, 80), stamp.getchannel("A").point(lambda alpha: int(alpha * 0.4)))
    photo = np.asarray(card)[:, :, ::-1].astype(np.float32)
    light = np.linspace(0.5, 0.65, photo.shape[1])[None, :, None] * np.array([1.0, 1.0, 0.9])
    dim = np.clip(photo * light, 0, 255).astype(np.uint8)
    assert find_seals(photo.astype(np.uint8)) and not find_seals(dim)
    # Made white, the dim photo is the card again, to within what 8-bit dimming loses.
    as_printed = paper_balanced(photo.astype(np.uint8)).astype(np.float32)
    assert np.abs(paper_balanced(dim) - as_printed).mean() < 0.1 * np.abs(dim - as_printed).mean()
    authority = read_authority(shared_engine(), dim)
    assert authority is not None and authority.value == office


def test_a_faded_seal_whose_star_alone_stays_red_is_found_whole_once_the_paper_is_made_white():
    """Under a dim cast the solid star may be the only clearly red mark, and pass for a small seal whose
    rim names nothing; with the paper made white the faded ring is red enough to be found whole."""
    office = "安徽省合肥市公安局交通警察支队"
    stamp = seal(office, 90, random.Random(5))
    card = Image.new("RGB", (480, 360), (236, 232, 222))
    card.paste(stamp, (120, 80), stamp.getchannel("A").point(lambda alpha: int(alpha * 0.4)))
    ImageDraw.Draw(card).polygon(_star(218, 182.5, 27), fill=(200, 40, 40))  # inked again, solid
    photo = np.asarray(card)[:, :, ::-1].astype(np.float32)
    light = np.linspace(0.55, 0.7, photo.shape[1])[None, :, None] * np.array([1.0, 1.0, 0.9])
    dim = np.clip(photo * light, 0, 255).astype(np.uint8)
    (star,) = find_seals(dim)
    assert star.radius < 0.4 * 90  # the star, not the seal
    authority = read_authority(shared_engine(), dim)
    assert authority is not None and authority.value == office


def test_a_seal_darkened_across_is_read_again_against_the_paper_around_each_stroke():
    """Light falling off across a blurred seal leaves its dim half's strokes faint against the paper of
    the whole crop, and the first reading is unsure; judged against the paper nearby, the strokes stand
    out alike and the second reading is sure of the office."""
    office = "湖南省长沙市公安局交通警察支队"
    stamp = seal(office, 80, random.Random(7))
    card = Image.new("RGB", (360, 260), (236, 232, 222))
    card.paste(stamp, (100, 50), stamp)
    photo = np.asarray(card)[:, :, ::-1].astype(np.float32)
    falling_off = np.linspace(1.0, 0.45, photo.shape[1])[None, :, None]
    dim = cv2.GaussianBlur(np.clip(photo * falling_off, 0, 255).astype(np.uint8), (0, 0), 1.2)
    engine = shared_engine()
    seals = find_seals(dim)
    first = _read_seals(engine, lambda index: _circle_views(dim, seals[index]), len(seals), balanced=False)
    assert first is not None and first.confidence < CONFIDENT_SEAL
    authority = read_authority(engine, dim)
    assert authority is not None and authority.value == office and authority.confidence >= CONFIDENT_SEAL


def test_readings_of_one_seal_that_agree_on_an_office_corroborate_each_other():
    """A blurred rim read at two bands may find the same office likeliest by a clear margin each time,
    though each is too far from the recognizer's own reading to stand alone; together they do. One
    reading, readings that disagree, or readings far from what was seen are no such evidence."""
    xian, jinan = "陕西省西安市公安局交通警察支队", "山东省济南市公安局交通警察支队"

    def read(word: str, margin: float, shortfall: float) -> LexiconRead:
        return LexiconRead(word, -shortfall * len(word), margin, shortfall)

    assert read(xian, 3.4, 2.05).shortfall > MAX_OFFICE_SHORTFALL  # neither stands alone
    agreed = _agreed_office([read(xian, 3.4, 2.05), read(xian, 6.4, 2.34), read(jinan, 0.4, 4.4)])
    assert agreed is not None and agreed.word == xian and agreed.shortfall == 2.05
    assert _agreed_office([read(xian, 3.4, 2.05)]) is None
    assert _agreed_office([read(xian, 3.4, 2.05), read(jinan, 6.4, 2.34)]) is None
    assert _agreed_office([read(xian, 3.4, 2.05), read(xian, 1.5, 2.34)]) is None  # no clear margin
    assert _agreed_office([read(xian, 5.0, 3.5), read(xian, 6.0, 3.8)]) is None  # too far from the glyphs
    # Readings of the office of the place the page's address lies in agree from a little further away.
    further = [read(xian, 5.0, 3.2), read(xian, 6.0, 3.4)]
    assert _agreed_office(further) is None
    local = _agreed_office(further, address="陕西省西安市雁塔区科技园南路127号")
    assert local is not None and local.word == xian and local.shortfall == 3.2
    assert _agreed_office(further, address="山东省济南市历下区泉城路1号") is None
    assert _agreed_office([read(xian, 5.0, 3.6), read(xian, 6.0, 3.8)], address="陕西省西安市雁塔区") is None


class _ScriptedRim:
    """An engine whose every crop reads as the same scripted recognizer output."""

    def __init__(self, reading: CropReading) -> None:
        self.reading = reading

    def read_crop_chars(self, _crop: np.ndarray) -> CropReading:
        return self.reading


def test_a_rim_torn_between_two_cities_is_read_as_the_page_s_own():
    """Blur leaves 沈 of 辽宁省沈阳市… as likely as 辽: the rim alone cannot choose between 沈阳's office
    and 辽阳's, but the page's address can. It cannot make a rim that plainly names one office name
    another, and the confidence is what the glyphs alone support."""
    shenyang, liaoyang = "辽宁省沈阳市公安局交通警察支队", "辽宁省辽阳市公安局交通警察支队"
    alphabet = ("", *sorted({char for name in office_names() for char in name}))
    strip = np.zeros((32, 320, 3), np.uint8)

    def rim(city: dict[str, float]) -> CropReading:
        steps: list[dict[str, float]] = []
        for index, char in enumerate(shenyang):
            steps += [city if index == 3 else {char: 0.9}, {}]
        return scripted_reading(steps, alphabet)

    def named(reading: CropReading, address: str = "") -> str | None:
        found = read_rim(cast(OcrEngine, _ScriptedRim(reading)), strip, address).named
        return found[0] if found else None

    torn = rim({"沈": 0.3, "辽": 0.3, "城": 0.35})
    unsettled = read_rim(cast(OcrEngine, _ScriptedRim(torn)), strip)
    assert unsettled.office is not None and unsettled.office.margin < 1
    assert named(torn) not in (shenyang, liaoyang)
    assert named(torn, "辽宁省沈阳市和平区文化路69号") == shenyang
    assert named(torn, "辽宁省辽阳市白塔区中华大街1号") == liaoyang
    home = read_rim(cast(OcrEngine, _ScriptedRim(torn)), strip, "辽宁省沈阳市和平区文化路69号").named
    alone = best_word(torn, [shenyang])
    assert home is not None and alone is not None and home[1] == pytest.approx(alone.confidence, abs=1e-4)
    plain = rim({"沈": 0.9})
    for address in ("", "辽宁省辽阳市白塔区中华大街1号", "广东省广州市天河区体育西路1号"):
        assert named(plain, address) == shenyang


def test_red_ink_that_names_no_office_is_not_made_one():
    stamp = seal("北京市朝阳区人民政府", 80, random.Random(3))
    card = Image.new("RGB", (320, 240), (236, 232, 222))
    card.paste(stamp, (80, 40), stamp)
    assert read_authority(shared_engine(), np.asarray(card)[:, :, ::-1].copy()) is None


def test_thumbnails_are_enlarged_and_the_scale_follows():
    thumbnail = np.zeros((270, 400, 3), np.uint8)
    bigger, scale = _upscaled(thumbnail, 1.0, 960)
    assert bigger.shape[1] == 960 and scale == pytest.approx(400 / 960)
    photo = np.zeros((700, 1000, 3), np.uint8)
    same, same_scale = _upscaled(photo, 1.6, 960)
    assert same is photo and same_scale == 1.6


# ----------------------------------------------------------------------------------------------- end to end


@pytest.fixture(scope="module")
def vendor() -> LocalVendor:
    engine_vendor = build_vendor("local", {})
    assert isinstance(engine_vendor, LocalVendor)
    return engine_vendor


def _wrong(fields: dict[str, object], truth: dict[str, object]) -> dict[str, tuple[object, object]]:
    # inspection_valid_until is derived from the inspection record by the checks, not read off the card.
    return {
        name: (fields.get(name), want)
        for name, want in truth.items()
        if name != "inspection_valid_until" and fields.get(name) != want
    }


def _page(kind: str, side: str, seed: int) -> tuple[Image.Image, dict[str, object]]:
    rng = random.Random(f"hard-licences:{seed}")
    if kind == "driving":
        return specimens.render_driving(specimens.make_person(rng), "old" if seed % 2 else "new", side)
    return specimens.render_vehicle(specimens.make_vehicle(rng), side)


#: What a degradation leaves unreadable by anyone: a 400-px thumbnail draws the seal's rim glyphs about
#: five pixels tall, so its authority is not asserted there (the rest of the page is).
UNREADABLE = {"small": {"issuing_authority"}}

HARD_CASES = [
    ("vehicle", "front", ["small"], 1),
    ("vehicle", "front", ["perspective"], 2),
    ("driving", "front", ["rot90"], 3),
    ("driving", "front", ["rotate", "rot270"], 4),
    ("vehicle", "back", ["glare", "sleeve"], 5),
    ("driving", "back", ["small", "rot180"], 6),
]


@pytest.mark.parametrize(
    "kind, side, kinds, seed", HARD_CASES, ids=["-".join([k, s, *d]) for k, s, d, _ in HARD_CASES]
)
async def test_reads_every_field_of_a_hard_photo(vendor, kind, side, kinds, seed):
    image, truth = _page(kind, side, seed)
    photo = specimens.degrade(image, kinds, random.Random(seed))
    recognition = await vendor.recognize(kind, side, _intake(photo))
    unreadable = set().union(*(UNREADABLE.get(name, set()) for name in kinds))
    wrong = _wrong(recognition.fields(), truth)
    assert {name: miss for name, miss in wrong.items() if name not in unreadable} == {}
    # A thumbnail is named as one (what to do differently); no other photo here is small or blurred.
    hints = {warning.code for warning in recognition.warnings} & {"photo_small", "photo_blur"}
    assert hints == ({"photo_small"} if "small" in kinds else set())


async def test_a_blurred_photo_is_named_as_blurred(vendor):
    image, _truth = _page("driving", "front", 7)
    photo = specimens.degrade(image, ["blur"], random.Random(7))
    recognition = await vendor.recognize("driving", "front", _intake(photo))
    assert [warning.code for warning in recognition.warnings] == ["photo_blur"]


async def test_reads_each_page_of_a_vehicle_licence_photographed_open(vendor):
    vehicle = specimens.make_vehicle(random.Random("hard-licences:pair"))
    front, front_truth = specimens.render_vehicle(vehicle, "front")
    back, back_truth = specimens.render_vehicle(vehicle, "back")
    photo = _intake(side_by_side(back, front, random.Random(7)))
    for side, truth in (("front", front_truth), ("back", back_truth)):
        recognition = await vendor.recognize("vehicle", side, photo)
        assert _wrong(recognition.fields(), truth) == {}, side
        document = recognition.document
        assert document is not None
        boxes = [meta.box for meta in document.meta.values() if meta.box is not None]
        # The main page lies right of the 副页: every box of a page lies on that page's half.
        on_right = {box.x >= back.width for box in boxes}
        assert on_right == {side == "front"}


async def test_a_tilted_open_licence_keeps_the_other_pages_values_out(vendor):
    rng = random.Random(11)
    image, truth = render_vehicle_pair(specimens.make_vehicle(rng), "back", rng)
    photo = specimens.degrade(image, ["rotate", "rot90"], rng)
    recognition = await vendor.recognize("vehicle", "back", _intake(photo))
    assert _wrong(recognition.fields(), truth) == {}


def test_a_document_built_from_a_page_region_read_is_a_normal_document():
    lines = vehicle_front_lines(1100.0) + vehicle_back_lines()
    region = page_region("vehicle", "front", lines)
    assert region is not None
    normal = region.normal
    kept = [item for item in lines if item.cx * normal[0] + item.cy * normal[1] < region.threshold]
    document = build_document(parse_page("vehicle", "front", kept))
    assert document.values()["plate_number"] == "苏A40186"
    assert document.values()["vehicle_type"] == "小型轿车"


@pytest.mark.parametrize(
    ("field", "text", "value"),
    [
        ("inspection_record", "检验有效期至2024年03月津A04)", "检验有效期至2024年03月津A(04)"),  # "(" lost
        ("inspection_record", "检验有效期至2024年03月津A(04)", "检验有效期至2024年03月津A(04)"),
        ("inspection_record", "检验有效期至2026年07月津A(1.2)", "检验有效期至2026年07月津A(12)"),  # a speck
        ("inspection_record", "检验有效期至2026年11月", "检验有效期至2026年11月"),
        ("valid_period", "2023-04-14至2029-0414", "2023-04-14至2029-04-14"),  # a dash lost
        ("valid_period", "2023.04.14至202904.14", "2023.04.14至2029.04.14"),
        ("valid_period", "2023-04-14至2029-1345", "2023-04-14至2029-1345"),  # no real date either way
        ("valid_period", "6年", "6年"),
        ("vehicle_type", "小型管通客车", "小型普通客车"),  # one glyph off a GA 802 term
        ("vehicle_type", "重型半挂牵引车", "重型半挂牵引车"),
        ("vehicle_type", "新型飞行汽车", "新型飞行汽车"),  # no term near: kept, lists lag behind
        ("use_character", "非传运", "非营运"),
        ("use_character", "营运营运", "营运"),
        ("use_character", "赁运", "赁运"),  # one glyph from both 营运 and 货运: left as read
        ("class", "B81", "B1"),  # a stray glyph: only B1 is a code without one of the three
        ("class", "B2X", "B2"),
        ("class", "C1D", "C1D"),
        ("nationality", "中国国", "中国"),  # one glyph off a country's name
        ("nationality", "日木", "日本"),
        ("nationality", "韩国", "韩国"),  # a common name as well as the formal 大韩民国
        ("nationality", "国", "国"),  # one glyph from a dozen countries: left as read
        ("nationality", "号中中国", "中国"),  # a country's name after glyphs of the label beside it
        ("model", "比亚迪牌8YD7005BEVA", "比亚迪牌BYD7005BEVA"),  # the maker's code is letters
        ("model", "大众汽车牌SVW71612BM", "大众汽车牌SVW71612BM"),
        ("model", "LXA6500SHEVX1", "LXA6500SHEVX1"),
    ],
)
def test_a_cleaner_puts_right_only_what_its_field_leaves_no_doubt_about(field, text, value):
    cleaned = clean_value(field, text)
    assert cleaned is not None and cleaned[0] == value
    assert cleaned[1] == (text != value)  # a repair is marked, so it is trusted less


def test_a_class_is_not_guessed_when_two_codes_are_one_glyph_away_or_the_read_is_short():
    assert clean_value("class", "C12") is None  # C1 or C2
    assert clean_value("class", "M1") is None  # M with a stray 1, or a misread class


def test_of_two_readings_of_a_page_the_one_that_saw_more_labels_is_kept():
    """Values placed by format and position fill fields in a poor reading too (upside down, labels lost),
    so the reading of a page turned over is judged by the labels it saw first."""
    values = [
        line("渝A64076", 170, 100),
        line("重庆宏图贸易有限公司", 170, 170),
        line("LFVMALJ80D5199038", 170, 380),
        line("2013-05-24", 170, 520),
        line("2013-05-24", 650, 520),
    ]
    poor = parse_page("vehicle", "front", values)
    labels = [line("号牌号码", 20, 100), line("所有人", 20, 170), line("车辆识别代号", 20, 380)]
    better = parse_page("vehicle", "front", [*labels, *values[:3]])
    assert len(poor.fields) > len(better.fields)
    assert _reading_quality(better) > _reading_quality(poor)


def test_a_term_is_printed_in_chinese_so_a_model_beside_it_is_no_term():
    """When the model's label is lost, the use-character cell's nearest text to the right can be the
    model: letters and digits say it is not a term (one stray mark aside)."""
    assert clean_value("use_character", "大众汽车牌FV7152FBDWG") is None
    assert clean_value("vehicle_type", "2013-05-24") is None
    assert clean_value("use_character", "非营运.") == ("非营运", False)
    assert clean_value("use_character", "非营运1") is not None


def test_a_validity_range_with_a_dropped_separator_gives_the_end_date():
    lines = [
        line("证号", 20, 40),
        line("310104200401227290", 150, 40),
        line("有效期限2023-04-14至2029-0414", 20, 400),
    ]
    fields = build_document(parse_page("driving", "front", lines)).model_dump()
    assert str(fields["valid_from"]) == "2023-04-14" and str(fields["valid_to"]) == "2029-04-14"


def test_an_inspection_stamp_gets_back_its_printed_wording():
    """Every stamp reads 检验有效期至 and a month; what OCR made of the wording before 至 (a misread 检验,
    or nothing left under glare) is printed back, as a repair."""
    exact = "检验有效期至2026年03月津A(10)"
    assert clean_value("inspection_record", exact) == (exact, False)
    assert clean_value("inspection_record", "至2026年03月津A(10)") == (exact, True)
    assert clean_value("inspection_record", "检能有效期至2026年03月津A(10)") == (exact, True)
    assert clean_value("inspection_record", "2026年03月") == ("2026年03月", False)  # no 至: not touched
    # 至 misread too: the whole wording, two glyphs off, before a year; three off is left as read.
    assert clean_value("inspection_record", "检顺有效期票2026年03月津A(10)") == (exact, True)
    three_off = "检顺有放期票2026年03月津A(10)"
    assert clean_value("inspection_record", three_off) == (three_off, False)


def test_masses_and_dimensions_keep_or_get_back_their_units():
    """Masses print in kg and outer dimensions in mm; a unit lost to glare comes back, as a repair."""
    assert clean_value("total_mass", "1880kg") == ("1880kg", False)
    assert clean_value("curb_weight", "1360") == ("1360kg", True)
    assert clean_value("approved_load", "--") == ("--", False)
    assert clean_value("approved_passengers", "5") == ("5", False)  # a count has no unit to restore
    assert clean_value("dimensions", "4598×1765×1462mm") == ("4598×1765×1462mm", False)
    assert clean_value("dimensions", "4598x1765x1462") == ("4598×1765×1462mm", True)
    # Half the unit read, or read as its look-alike: mm is the only unit printed there.
    assert clean_value("dimensions", "6987×2499×3601m") == ("6987×2499×3601mm", True)
    # (A look-alike such as rn reaches the cleaner only from a re-read crop: a line's parser drops a
    # lower-case word glued to a number that is no unit.)
    assert clean_value("dimensions", "6987×2499×3601rn") == ("6987×2499×3601mm", True)
    assert clean_value("dimensions", "4473×1837×") == ("4473×1837×", False)  # cut short: left as read


def test_remarks_are_words_not_marks():
    assert clean_value("remarks", "纯电动") == ("纯电动", False)
    assert clean_value("remarks", "1") is None  # a rivet or a ruling read as text
    assert clean_value("remarks", "--") is None


def test_a_plate_cell_whose_province_was_misread_is_read_again_under_the_plate_grammar():
    """A first glyph that is no province is a misread province: no value from that line, and the cell's
    re-read decodes under the plate grammar, whose first slot holds only provinces."""
    assert clean_value("plate_number", "输A29802") is None
    assert clean_value("plate_number", "渝A29802") == ("渝A29802", False)
    assert clean_value("plate_number", "使123456") == ("使123456", False)  # an embassy's plate
    photo = Image.new("RGB", (760, 120), (240, 240, 236))
    draw = ImageDraw.Draw(photo)
    draw.text((20, 40), "号牌号码", font=font(30), fill=(60, 60, 60))
    draw.text((200, 40), "渝A29802", font=font(30), fill=(30, 30, 30))
    draw.text((430, 40), "档案编号", font=font(30), fill=(60, 60, 60))
    lines = [line("号牌号码", 20, 40), line("输A29802", 200, 40), line("档案编号", 430, 40)]
    read = parse_page("vehicle", "back", lines)
    assert "plate_number" not in read.fields
    reread_cells(shared_engine(), np.asarray(photo)[:, :, ::-1].copy(), 1.0, read)
    assert read.fields["plate_number"].value == "渝A29802"
    # Print that is no plate (a name) is not made one.
    name = Image.new("RGB", (200, 56), (240, 240, 236))
    ImageDraw.Draw(name).text((12, 10), "张伟", font=font(30), fill=(30, 30, 30))
    assert read_printed_plate(shared_engine(), np.asarray(name)[:, :, ::-1].copy()) is None


def test_a_back_page_that_lost_every_label_keeps_its_file_number_and_record():
    """A turned, blurred back page can lose every label; its 12-digit file number (behind what OCR left
    of the English sub-label) and its probation record (one glyph misread) are still placed by format."""
    lines = [
        line("310104198106182712", 40, 100),
        line("EN310144194679", 300, 160),
        line("实河期至2021年02月21日", 20, 220),
    ]
    read = parse_page("driving", "back", lines)
    assert read.fields["number"].value == "310104198106182712"
    assert read.fields["file_number"].value == "310144194679"
    assert read.fields["record"].value == "实习期至2021年02月21日"
    assert read.fields["record"].confidence < lines[2].score  # placed by format and repaired
    # A renewal reminder is a record too: the only other text on the page dated with 年 and 月.
    renewal = [*lines[:2], line("请于2031年01月12日前申请换证", 20, 220)]
    assert parse_page("driving", "back", renewal).fields["record"].value == "请于2031年01月12日前申请换证"


def test_record_repair_touches_only_the_probation_phrase():
    assert clean_value("record", "实习期至2021年02月21日") == ("实习期至2021年02月21日", False)
    assert clean_value("record", "增驾实习期") == ("增驾实习期", False)  # another record, kept as read
    assert clean_value("file_number", "I10169986102") == ("110169986102", True)  # a misread 1 stays a digit
    # What OCR kept of the label (编 of 档案编号) and its sub-label before a whole number is no digit.
    assert clean_value("file_number", "E编440363996866") == ("440363996866", False)
    assert clean_value("file_number", "编号:440363996866") == ("440363996866", False)
