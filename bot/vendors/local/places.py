"""The offices that issue Chinese driving and vehicle licences, named the way their seals name them.

A licence is issued by the traffic police of a prefecture (``江苏省南京市公安局交通管理局``) or of one of
the four municipalities (``上海市公安局交通警察总队``). The seal's curved rim is the hardest text on the
card, so a rim read that is close to exactly one of these names is read as that name (`nearest_office`).
Addresses start with the same provinces (`looks_like_address`).

The list is the country's provinces and their prefecture-level divisions (cities, autonomous
prefectures, leagues and regions) as the Ministry of Civil Affairs publishes them; it is general
knowledge about licences, not a list of the cards any test renders.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from functools import lru_cache

from rapidfuzz.distance import Levenshtein
from rapidfuzz.process import extract

#: Province (or autonomous region) -> its prefecture-level divisions; a bare name is a city (``…市``).
# A table: rows of names read better than the formatter's one name a line.
# fmt: off
PREFECTURES: dict[str, tuple[str, ...]] = {
    "河北省": ("石家庄", "唐山", "秦皇岛", "邯郸", "邢台", "保定", "张家口", "承德", "沧州", "廊坊", "衡水"),
    "山西省": ("太原", "大同", "阳泉", "长治", "晋城", "朔州", "晋中", "运城", "忻州", "临汾", "吕梁"),
    "内蒙古自治区": (
        "呼和浩特", "包头", "乌海", "赤峰", "通辽", "鄂尔多斯", "呼伦贝尔", "巴彦淖尔", "乌兰察布",
        "兴安盟", "锡林郭勒盟", "阿拉善盟",
    ),
    "辽宁省": (
        "沈阳", "大连", "鞍山", "抚顺", "本溪", "丹东", "锦州", "营口", "阜新", "辽阳", "盘锦", "铁岭",
        "朝阳", "葫芦岛",
    ),
    "吉林省": ("长春", "吉林", "四平", "辽源", "通化", "白山", "松原", "白城", "延边朝鲜族自治州"),
    "黑龙江省": (
        "哈尔滨", "齐齐哈尔", "鸡西", "鹤岗", "双鸭山", "大庆", "伊春", "佳木斯", "七台河", "牡丹江",
        "黑河", "绥化", "大兴安岭地区",
    ),
    "江苏省": (
        "南京", "无锡", "徐州", "常州", "苏州", "南通", "连云港", "淮安", "盐城", "扬州", "镇江", "泰州",
        "宿迁",
    ),
    "浙江省": ("杭州", "宁波", "温州", "嘉兴", "湖州", "绍兴", "金华", "衢州", "舟山", "台州", "丽水"),
    "安徽省": (
        "合肥", "芜湖", "蚌埠", "淮南", "马鞍山", "淮北", "铜陵", "安庆", "黄山", "滁州", "阜阳", "宿州",
        "六安", "亳州", "池州", "宣城",
    ),
    "福建省": ("福州", "厦门", "莆田", "三明", "泉州", "漳州", "南平", "龙岩", "宁德"),
    "江西省": ("南昌", "景德镇", "萍乡", "九江", "新余", "鹰潭", "赣州", "吉安", "宜春", "抚州", "上饶"),
    "山东省": (
        "济南", "青岛", "淄博", "枣庄", "东营", "烟台", "潍坊", "济宁", "泰安", "威海", "日照", "临沂",
        "德州", "聊城", "滨州", "菏泽",
    ),
    "河南省": (
        "郑州", "开封", "洛阳", "平顶山", "安阳", "鹤壁", "新乡", "焦作", "濮阳", "许昌", "漯河", "三门峡",
        "南阳", "商丘", "信阳", "周口", "驻马店", "济源",
    ),
    "湖北省": (
        "武汉", "黄石", "十堰", "宜昌", "襄阳", "鄂州", "荆门", "孝感", "荆州", "黄冈", "咸宁", "随州",
        "恩施土家族苗族自治州",
    ),
    "湖南省": (
        "长沙", "株洲", "湘潭", "衡阳", "邵阳", "岳阳", "常德", "张家界", "益阳", "郴州", "永州", "怀化",
        "娄底", "湘西土家族苗族自治州",
    ),
    "广东省": (
        "广州", "韶关", "深圳", "珠海", "汕头", "佛山", "江门", "湛江", "茂名", "肇庆", "惠州", "梅州",
        "汕尾", "河源", "阳江", "清远", "东莞", "中山", "潮州", "揭阳", "云浮",
    ),
    "广西壮族自治区": (
        "南宁", "柳州", "桂林", "梧州", "北海", "防城港", "钦州", "贵港", "玉林", "百色", "贺州", "河池",
        "来宾", "崇左",
    ),
    "海南省": ("海口", "三亚", "三沙", "儋州"),
    "四川省": (
        "成都", "自贡", "攀枝花", "泸州", "德阳", "绵阳", "广元", "遂宁", "内江", "乐山", "南充", "眉山",
        "宜宾", "广安", "达州", "雅安", "巴中", "资阳", "阿坝藏族羌族自治州", "甘孜藏族自治州",
        "凉山彝族自治州",
    ),
    "贵州省": (
        "贵阳", "六盘水", "遵义", "安顺", "毕节", "铜仁", "黔西南布依族苗族自治州",
        "黔东南苗族侗族自治州", "黔南布依族苗族自治州",
    ),
    "云南省": (
        "昆明", "曲靖", "玉溪", "保山", "昭通", "丽江", "普洱", "临沧", "楚雄彝族自治州",
        "红河哈尼族彝族自治州", "文山壮族苗族自治州", "西双版纳傣族自治州", "大理白族自治州",
        "德宏傣族景颇族自治州", "怒江傈僳族自治州", "迪庆藏族自治州",
    ),
    "西藏自治区": ("拉萨", "日喀则", "昌都", "林芝", "山南", "那曲", "阿里地区"),
    "陕西省": ("西安", "铜川", "宝鸡", "咸阳", "渭南", "延安", "汉中", "榆林", "安康", "商洛"),
    "甘肃省": (
        "兰州", "嘉峪关", "金昌", "白银", "天水", "武威", "张掖", "平凉", "酒泉", "庆阳", "定西", "陇南",
        "临夏回族自治州", "甘南藏族自治州",
    ),
    "青海省": (
        "西宁", "海东", "海北藏族自治州", "黄南藏族自治州", "海南藏族自治州", "果洛藏族自治州",
        "玉树藏族自治州", "海西蒙古族藏族自治州",
    ),
    "宁夏回族自治区": ("银川", "石嘴山", "吴忠", "固原", "中卫"),
    "新疆维吾尔自治区": (
        "乌鲁木齐", "克拉玛依", "吐鲁番", "哈密", "昌吉回族自治州", "博尔塔拉蒙古自治州",
        "巴音郭楞蒙古自治州", "阿克苏地区", "克孜勒苏柯尔克孜自治州", "喀什地区", "和田地区",
        "伊犁哈萨克自治州", "塔城地区", "阿勒泰地区",
    ),
}
# fmt: on

#: The traffic police of the four municipalities.
MUNICIPAL_OFFICES = (
    "北京市公安局公安交通管理局",
    "天津市公安交通管理局",
    "上海市公安局交通警察总队",
    "重庆市公安局交通巡逻警察总队",
)

#: The provincial-level names an address starts with.
PROVINCIAL_NAMES = (*PREFECTURES, "北京市", "天津市", "上海市", "重庆市")
#: What the rest of an address holds somewhere: a road, street, lane, village, number, room...
_ADDRESS_PARTS = re.compile(r"[路街巷弄道村组号室楼]")


def looks_like_address(text: str) -> bool:
    """A Chinese postal address: a province (or municipality) first, a road, number or room after it.
    An office name (…公安局…) starts with a province too, so it is excluded."""
    return (
        text.startswith(PROVINCIAL_NAMES)
        and _ADDRESS_PARTS.search(text) is not None
        and "公安" not in text
        and "交通" not in text
    )


#: How a prefecture's traffic police sign: as its detachment or as its bureau.
PREFECTURE_OFFICE_TAILS = ("公安局交通警察支队", "公安局交通管理局")

#: A rim read is taken as an office name when it differs from it in at most this share of characters
#: (the seal's glyphs are small and curved: four or five of fourteen are often misread)...
MAX_DIFFERENCE_SHARE = 0.4
#: ...and no other office name is as close, and the lengths differ by at most this much: the lexicon
#: corrects misread glyphs, it does not complete a name (a county's ``…大队`` is longer than any here).
MAX_LENGTH_DIFFERENCE = 2


def _division(name: str) -> str:
    return name if name.endswith(("自治州", "盟", "地区")) else f"{name}市"


@lru_cache(maxsize=1)
def office_names() -> tuple[str, ...]:
    """Every office name the lexicon knows (about seven hundred)."""
    names = list(MUNICIPAL_OFFICES)
    for province, divisions in PREFECTURES.items():
        for division in divisions:
            names.extend(f"{province}{_division(division)}{tail}" for tail in PREFECTURE_OFFICE_TAILS)
    return tuple(names)


def nearest_office(read: str) -> str | None:
    """The one office name `read` is close to (see `MAX_DIFFERENCE_SHARE`), or None.

    None also when two names are equally close: 支队 and 管理局 offices of one city, say, when the
    tail itself was unreadable, are better left as read than guessed.
    """
    if not read:
        return None
    return nearest_unique(
        read, office_names(), lambda name: MAX_DIFFERENCE_SHARE * len(name), MAX_LENGTH_DIFFERENCE
    )


def nearest_unique(
    text: str, choices: Sequence[str], max_distance: Callable[[str], float], max_length_difference: int
) -> str | None:
    """The one choice nearest to `text` in edit distance, when it is within `max_distance(choice)`
    edits and `max_length_difference` characters of length, and no other choice is as near."""
    found = extract(text, choices, scorer=Levenshtein.distance, limit=2)
    if not found:
        return None
    choice, distance, _ = found[0]
    if distance > max_distance(choice) or abs(len(choice) - len(text)) > max_length_difference:
        return None
    if len(found) > 1 and found[1][1] == distance:
        return None
    return str(choice)
