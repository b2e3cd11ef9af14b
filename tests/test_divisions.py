"""The division gazetteer that puts right the head of a misread address."""

from __future__ import annotations

import pytest

from bot.vendors.local.divisions import address_heads, repair_address_head


def test_heads_name_province_prefecture_and_county_as_addresses_write_them():
    heads = set(address_heads())
    assert len(heads) > 2500  # the country has about 2,800 county-level divisions
    assert {"浙江省杭州市西湖区", "江西省南昌市西湖区", "北京市海淀区", "重庆市渝中区"} <= heads
    # A prefecture with no counties, and a county its province governs directly, stand on their own.
    assert {"广东省东莞市", "湖北省仙桃市"} <= heads
    # A municipality is not named twice, and a province is no head by itself.
    assert not any(head.startswith(("北京市北京市", "上海市上海市")) for head in heads)
    assert "浙江省" not in heads and "浙江省杭州市" not in heads


@pytest.mark.parametrize(
    ("read", "meant"),
    [
        # One glyph of the county misread.
        ("浙江省杭州市西南区金融街182号", "浙江省杭州市西湖区金融街182号"),
        # Glare swallowed a run of three glyphs across prefecture and county.
        ("江苏省南武区东风路41号", "江苏省南京市玄武区东风路41号"),
        # A municipality's district.
        ("北京市海定区建国路289号", "北京市海淀区建国路289号"),
    ],
)
def test_a_head_close_to_exactly_one_known_head_is_put_right(read: str, meant: str):
    assert repair_address_head(read) == meant


@pytest.mark.parametrize(
    ("read", "meant"),
    [
        # Glare took four glyphs of nine, 省长沙市; what is left fits one head only.
        ("湖南岳麓区和平路101号", "湖南省长沙市岳麓区和平路101号"),
        ("湖南长沙岳麓区和平路101号", "湖南省长沙市岳麓区和平路101号"),
        ("北京朝阳区建国路1号", "北京市朝阳区建国路1号"),
        # A prefecture without counties is the last division of its head.
        ("广东东莞市南城街道1号", "广东省东莞市南城街道1号"),
    ],
)
def test_a_head_missing_glyphs_is_completed_when_its_last_division_is_read_whole(read: str, meant: str):
    assert repair_address_head(read) == meant


@pytest.mark.parametrize(
    "read",
    [
        "湖南省长沙市岳麓区滨江大道177号",  # already a known head: nothing to repair
        "广东省东莞市南城街道1号",  # a prefecture without counties is a whole head too
        "四川省成都市铺江区东风路161号",  # 锦江区 and 温江区 are one glyph away each: left as read
        "湖北岳麓区和平路101号",  # glyphs lost and one misread: 岳麓区 is in 湖南, too far to be sure
        "江苏鼓楼区中山路1号",  # 南京 and 徐州 each have a 鼓楼区
        "3单元2001室",  # the wrapped end of an address has no head
        "",
    ],
)
def test_a_head_that_is_known_ambiguous_or_too_far_is_left_as_read(read: str):
    assert repair_address_head(read) is None
