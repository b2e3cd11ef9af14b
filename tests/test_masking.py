"""Masking keeps what staff need to compare with the card and hides the rest, for every personal field."""

from __future__ import annotations

from datetime import date

import pytest

from bot.models import (
    DOCUMENT_MODELS,
    DrivingLicence,
    DrivingLicenceBack,
    VehicleLicenceBack,
    VehicleLicenceFront,
)
from handlers.masking import mask_address, mask_document, mask_id, mask_name, mask_number

ID_NUMBER = "11010119900307123X"


def test_mask_id_keeps_region_code_and_last_four_and_length() -> None:
    masked = mask_id(ID_NUMBER)
    assert len(masked) == len(ID_NUMBER)
    assert masked.startswith("110101")
    assert masked.endswith("123X")
    assert set(masked[6:-4]) == {"*"}
    assert "19900307" not in masked


def test_mask_id_handles_old_fifteen_digit_numbers() -> None:
    """Its birth date (900307) is hidden whole: a fourth kept digit would be the day's last."""
    masked = mask_id("110101900307123")
    assert masked == "110101" + "*" * 6 + "123"


@pytest.mark.parametrize(
    ("number", "masked"),
    [
        ("H0123456700", "*******6700"),  # a Home Return Permit: no region code, so only its tail
        ("E 1234 5678", "*****5678"),  # a passport read with spaces: a star never stands for a space
        ("E12345678901234", "***********1234"),  # 15 characters, not all digits: no old resident ID
        ("E12345678901234567", "**************4567"),  # 18 characters, not a resident ID either
        ("1101 0119 9003 0712 3X", "110101********123X"),
    ],
)
def test_mask_id_keeps_only_a_tail_of_any_number_that_is_no_resident_id(number: str, masked: str) -> None:
    assert mask_id(number) == masked


@pytest.mark.parametrize("value", ["1", "12", "12345", "1234567890"])
def test_short_values_hide_at_least_half(value: str) -> None:
    for masker in (mask_id, mask_number):
        masked = masker(value)
        assert len(masked) == len(value)
        assert masked.count("*") >= len(value) / 2


def test_mask_name_keeps_family_name_and_one_star_per_character() -> None:
    assert mask_name("张三") == "张*"
    assert mask_name("欧阳娜娜") == "欧***"
    assert mask_name("") == ""


def test_mask_name_keeps_separators_of_multi_part_names() -> None:
    masked = mask_name("买买提·艾力")
    assert masked == "买**·**"


@pytest.mark.parametrize(
    ("address", "kept"),
    [
        ("北京市朝阳区建国路88号院3号楼", "北京市朝阳区"),
        ("上海市浦东新区世纪大道100号", "上海市浦东新区"),
        ("广东省深圳市南山区科技园南区8栋", "广东省深圳市南山区"),
        ("河北省石家庄市正定县城关镇123号", "河北省石家庄市正定县"),
        ("内蒙古自治区呼和浩特市土默特左旗察素齐镇", "内蒙古自治区呼和浩特市土默特左旗"),
        ("新疆维吾尔自治区乌鲁木齐市天山区解放北路1号", "新疆维吾尔自治区乌鲁木齐市天山区"),
        ("山东省济南市市中区经十路1号", "山东省济南市市中区"),
        ("江苏省苏州市昆山市玉山镇人民路1号", "江苏省苏州市昆山市"),
    ],
)
def test_mask_address_keeps_up_to_the_district(address: str, kept: str) -> None:
    masked = mask_address(address)
    assert masked == kept + "***"


def test_mask_address_does_not_take_a_housing_estate_for_a_district() -> None:
    masked = mask_address("浙江省义乌市稠城街道幸福小区5栋")
    assert "小区" not in masked
    assert "稠城" not in masked


@pytest.mark.parametrize(
    ("address", "masked"),
    [
        ("广东省东莞市金色家园西区5栋", "广东省东莞市***"),  # a city without districts: 西区 is a block
        ("广东省东莞市万科城市花园A区12栋301", "广东省东莞市***"),
        ("广东省中山市小榄菜市场旁", "广东省中山市***"),
        ("甘肃省嘉峪关市新华南路1号", "甘肃省嘉峪关市***"),
        ("东莞市金色家园西区5栋", "东莞市***"),  # no province written: the shape alone
        ("221B Baker Street, London", "***"),  # foreign: nothing of its own is kept
        ("某某地方某某路某某号某某单元", "***"),
    ],
)
def test_mask_address_keeps_no_more_than_the_county_level_head(address: str, masked: str) -> None:
    assert mask_address(address) == masked


def test_mask_address_never_reveals_a_short_address_in_full() -> None:
    masked = mask_address("某某路1号")
    assert not masked.startswith("某某路1号")


def test_mask_number_keeps_last_four() -> None:
    assert mask_number("410100123456") == "********3456"


def _driving_licence() -> DrivingLicence:
    return DrivingLicence(
        number=ID_NUMBER,
        name="张三丰",
        sex="男",
        nationality="中国",
        address="北京市朝阳区建国路88号",
        birth_date=date(1990, 3, 7),
        first_issue_date=date(2015, 6, 1),
        class_="C1",
        valid_from=date(2015, 6, 1),
        valid_to=date(2025, 6, 1),
        issuing_authority="北京市公安局公安交通管理局",
    )


def test_mask_document_masks_each_personal_field_of_a_driving_licence() -> None:
    licence = _driving_licence()
    masked = mask_document(licence)
    assert masked["number"].startswith("110101") and masked["number"].endswith("123X")
    assert ID_NUMBER not in masked.values()
    assert masked["name"] == "张**"
    assert masked["address"] == "北京市朝阳区***"
    assert masked["birth_date"] == "1990"


def test_mask_document_leaves_other_fields_and_the_document_alone() -> None:
    licence = _driving_licence()
    masked = mask_document(licence)
    plain = licence.values()
    for key, value in plain.items():
        if key not in licence.personal_fields:
            assert masked[key] == value, key
    assert licence.number == ID_NUMBER  # the model itself is not changed
    assert masked["class"] == "C1"


def test_mask_document_back_page_and_vehicle_licence() -> None:
    back = mask_document(DrivingLicenceBack(number=ID_NUMBER, name="李四", file_number="110100123456"))
    assert back["file_number"] == "********3456"
    assert back["number"] != ID_NUMBER and back["name"] == "李*"

    front = VehicleLicenceFront(
        plate_number="京A12345", owner="王五", address="北京市海淀区中关村大街1号", vin="LSVAU2180N2183294"
    )
    masked = mask_document(front)
    assert masked["owner"] == "王*"
    assert masked["address"] == "北京市海淀区***"
    assert masked["vin"] == "LSVAU2180N2183294"
    assert masked["plate_number"] == "京A12345"


def test_mask_document_skips_empty_fields() -> None:
    masked = mask_document(DrivingLicence(name="张三"))
    assert masked["number"] is None
    assert masked["address"] is None


@pytest.mark.parametrize("model", list(DOCUMENT_MODELS.values()), ids=lambda model: model.__name__)
def test_every_personal_field_of_every_page_is_masked(model: type) -> None:
    """A personal field added to a model later must not pass through unmasked."""
    samples = {"birth_date": date(1990, 3, 7)}
    values = {field: samples.get(field, "北京市朝阳区建国路88号张三丰") for field in model.personal_fields}
    masked = mask_document(model(**values))
    for field in model.personal_fields:
        original = values[field].isoformat() if isinstance(values[field], date) else values[field]
        assert masked[field] != original, field


def test_vehicle_back_has_nothing_to_mask() -> None:
    back = VehicleLicenceBack(plate_number="京A12345", file_number="110100123456")
    assert mask_document(back) == back.values()
