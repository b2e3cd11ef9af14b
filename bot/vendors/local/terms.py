"""The closed vocabularies the licences print: a vehicle's type and use character, a driver's nationality.

Each cell holds a term from a fixed list (GA 802 《道路交通管理 机动车类型》 for the vehicle type,
the use-character codes of the motor-vehicle registration rules, the country names of ISO 3166), so a
read one glyph off a term is that term (``小型管通客车`` is 小型普通客车, ``中国国`` is 中国), and a line
that is a vehicle term names its field even when its label was lost. The lists are the standards'
terms, not the ones any test renders.
"""

from __future__ import annotations

import gettext
from collections.abc import Callable, Sequence
from functools import lru_cache

import pycountry

from bot.vendors.local.places import nearest_unique

_SIZES = ("重型", "中型", "轻型", "微型")
_TRUCK_BODIES = (
    "普通货车",
    "厢式货车",
    "封闭货车",
    "罐式货车",
    "平板货车",
    "集装厢车",
    "自卸货车",
    "特殊结构货车",
    "仓栅式货车",
    "车辆运输车",
)
_TRAILER_BODIES = (
    "普通半挂车",
    "厢式半挂车",
    "罐式半挂车",
    "平板半挂车",
    "集装箱半挂车",
    "自卸半挂车",
    "特殊结构半挂车",
    "仓栅式半挂车",
    "旅居半挂车",
    "专项作业半挂车",
    "低平板半挂车",
    "车辆运输半挂车",
    "普通全挂车",
    "厢式全挂车",
)

#: GA 802 vehicle types (车辆类型) as the licence prints them.
VEHICLE_TYPES: tuple[str, ...] = (
    *(f"{size}{body}" for size in ("大型", "中型", "小型", "微型") for body in ("普通客车", "越野客车")),
    "大型双层客车",
    "大型卧铺客车",
    "大型铰接客车",
    "大型专用客车",
    "中型卧铺客车",
    "中型专用客车",
    "小型专用客车",
    "大型专用校车",
    "中型专用校车",
    "小型专用校车",
    "小型轿车",
    "微型轿车",
    "小型越野轿车",
    *(f"{size}{body}" for size in _SIZES for body in _TRUCK_BODIES),
    "重型半挂牵引车",
    "重型全挂牵引车",
    "中型半挂牵引车",
    "轻型半挂牵引车",
    *(f"{size}专项作业车" for size in _SIZES),
    *(f"{size}{body}" for size in ("重型", "中型", "轻型") for body in _TRAILER_BODIES),
    "普通二轮摩托车",
    "普通三轮摩托车",
    "轻便二轮摩托车",
    "轻便三轮摩托车",
    "三轮汽车",
    "低速货车",
    "轮式装载机械",
    "轮式挖掘机械",
    "轮式平地机械",
)

#: 使用性质: what the vehicle is registered to be used for.
USE_CHARACTERS: tuple[str, ...] = (
    "非营运",
    "营运",
    "公路客运",
    "公交客运",
    "出租客运",
    "旅游客运",
    "预约出租客运",
    "租赁",
    "货运",
    "危化品运输",
    "教练",
    "幼儿校车",
    "小学生校车",
    "初中生校车",
    "中小学生校车",
    "其他校车",
    "警用",
    "消防",
    "救护",
    "工程救险",
    "营转非",
    "出租转非",
    "预约出租转非",
    "其他",
)

VOCABULARIES: dict[str, tuple[str, ...]] = {"vehicle_type": VEHICLE_TYPES, "use_character": USE_CHARACTERS}


def closed_vocabulary(field_name: str) -> tuple[str, ...] | None:
    """Every value `field_name` can print, when the field prints from a closed list (None otherwise)."""
    if field_name == "nationality":
        return nationalities()
    return VOCABULARIES.get(field_name)


def nearest_term(field_name: str, text: str) -> tuple[str, bool] | None:
    """The term of `field_name`'s vocabulary that `text` is, and whether a glyph was put right; None
    when no term is near enough or two are equally near (赁运 is one glyph from both 营运 and 货运).

    Near enough: one glyph off for terms of up to seven characters, two for longer ones, and no more
    than one character longer or shorter.
    """
    vocabulary = VOCABULARIES.get(field_name)
    if vocabulary is None:
        return None
    return _nearest_word(text, vocabulary, lambda term: 1 if len(term) <= 7 else 2)


@lru_cache(maxsize=1)
def nationalities() -> tuple[str, ...]:
    """Every country's Chinese name, formal and common (大韩民国 and 韩国), as pycountry's translation of
    ISO 3166 gives it: a licence prints the holder's nationality that way (中国 for a citizen)."""
    chinese = gettext.translation("iso3166-1", pycountry.LOCALES_DIR, languages=["zh_CN"])
    names = {
        chinese.gettext(name)
        for country in pycountry.countries
        for name in (country.name, getattr(country, "common_name", country.name))
    }
    return tuple(sorted(name for name in names if name))


def nearest_nationality(text: str) -> tuple[str, bool] | None:
    """The country `text` names, and whether a glyph was put right: one glyph off at most, no more than
    one character longer or shorter, and no other country as near (国 alone could be any of a dozen)."""
    return _nearest_word(text, nationalities(), lambda _name: 1)


def _nearest_word(
    text: str, words: Sequence[str], max_distance: Callable[[str], float]
) -> tuple[str, bool] | None:
    """`text` itself when it is one of `words`, else the one word within `max_distance(word)` edits and
    a character of length of it (marked as put right), else None."""
    if not text:
        return None
    if text in words:
        return text, False
    word = nearest_unique(text, words, max_distance, 1)
    return None if word is None else (word, True)
