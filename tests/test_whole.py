"""A value cut short (glare, a clipped box) keeps a confidence that says so, though its glyphs are sharp."""

from __future__ import annotations

import pytest

from bot.vendors.local.document import build_document
from bot.vendors.local.layout import offer_value, parse_page
from bot.vendors.local.ocr import OcrLine
from bot.vendors.local.whole import CUT_SHORT_TRUST, looks_whole


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("address", "湖南省长沙市岳麓区滨江大道177号"),
        ("address", "北京市海淀区建国路289号"),
        ("name", "吴艳"),
        ("nationality", "中国"),
        ("model", "大众汽车牌FV7152FBDWG"),
        ("model", "丰田牌TV7250GLXA"),
        ("inspection_record", "检验有效期至2024年03月津A(04)"),
        ("record", "实习期至2021年02月21日"),
        ("dimensions", "4598×1765×1462mm"),
        ("record", "记满12分"),  # a record other than probation has no one shape
        ("owner", "达汽车租赁有限公司"),  # an owner has no part every owner prints
        ("address", "湖北省仙桃市郑场镇游潭村"),  # a county the province governs, then a village
        ("plate_number", "辽AFH1171"),
        ("plate_number", "WJ京1234X"),
        ("use_character", "货运"),
        ("vehicle_type", "小型轿车"),
    ],
)
def test_whole_values_are_whole(field: str, value: str):
    assert looks_whole(field, value)


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("address", "道177号"),  # glare took the province, city and street
        ("address", "上海市徐汇区和平路209号翠苑小区26号楼3单元80"),  # and here the room's last digit and 室
        ("name", "飞"),
        ("nationality", "国"),
        ("model", "车牌FV7152FBDWG"),  # the brand lost but for its last glyph
        ("model", "LXA6500SHEVX1"),
        ("inspection_record", "检验有效期至2026年04月"),  # the station's code lost
        ("record", "实习期至2"),
        ("dimensions", "4657×181"),  # glare took the height and the rest of the width
        ("address", "四川省成都市锦江区"),  # glare took the street: no household lives at a district
        ("address", "北京市海淀区"),
        ("address", "四川省成都市"),
        ("plate_number", "辽江AFH1171"),  # no plate has a second Chinese glyph there
        ("use_character", "非"),  # 非营运 cut short
    ],
)
def test_values_missing_a_part_their_field_always_prints_are_not(field: str, value: str):
    assert not looks_whole(field, value)


def _line(text: str, x: float, y: float) -> OcrLine:
    return OcrLine.from_rect(text, 0.99, x, y, x + 30 * len(text), y + 30)


def test_a_value_cut_short_is_trusted_less_than_the_same_read_whole():
    def record_confidence(record: str) -> float | None:
        lines = [_line("证号", 20, 40), _line("310104198106182712", 170, 40), _line("记录", 20, 300)]
        document = build_document(parse_page("driving", "back", [*lines, _line(record, 170, 340)]))
        assert document.values()["record"] == record  # the value itself is kept as read
        return document.meta["record"].confidence

    whole, cut = record_confidence("实习期至2021年02月21日"), record_confidence("实习期至2")
    assert whole is not None and cut == pytest.approx(whole * CUT_SHORT_TRUST, abs=1e-3)


def test_a_confident_value_cut_short_gets_a_second_look_and_only_a_whole_read_replaces_it():
    """A nationality read as a lone 国 scores as high as 中国 would: it is looked at again, like a value
    read with little confidence, and the re-read replaces it only when whole."""
    lines = [_line("证号", 20, 40), _line("110101199001011234", 170, 40), _line("国籍", 500, 100)]
    read = parse_page("driving", "front", [*lines, _line("国", 600, 100)])
    assert read.fields["nationality"].confidence >= 0.8  # no low score to flag it
    assert "nationality" in {item.field for item in read.weak}
    assert not offer_value(read, "nationality", "国", 0.995, (600, 100, 630, 130))  # still cut short
    assert offer_value(read, "nationality", "中国", 0.995, (600, 100, 660, 130))
    assert read.fields["nationality"].value == "中国"


def test_a_weak_whole_value_is_not_replaced_by_a_surer_piece_of_it():
    """Glare took 瑶 of 宋瑶: the page read the pair unsure, and the re-read found only the sharp 宋, read
    with every glyph certain. A name is never one character, so the piece is no better than the pair."""
    lines = [_line("证号", 20, 40), _line("310104198412157443", 170, 40), _line("姓名", 20, 100)]
    read = parse_page("driving", "front", [*lines, OcrLine.from_rect("宋理", 0.77, 110, 100, 170, 130)])
    assert "name" in {item.field for item in read.weak}
    assert not offer_value(read, "name", "宋", 0.998, (110, 100, 140, 130))
    assert read.fields["name"].value == "宋理"
    assert offer_value(read, "name", "宋瑶", 0.95, (110, 100, 170, 130))  # a whole read still replaces it
    assert read.fields["name"].value == "宋瑶"
