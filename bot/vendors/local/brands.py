"""A model's brand read again against the brands vehicles are registered under.

品牌型号 prints a brand, 牌, then the model code (``特斯拉牌TSL7000BEVAR3``). The brand is a few Chinese
glyphs printed small, and blur turns one of them into a look-alike (特期拉, 理肥, M克 for 别克) that no
maker is called; the recognizer usually still gives the right glyph some of its probability. So a brand
that is no known brand is read again from the value's place, keeping every step's distribution, and each
known brand, followed by 牌 and the code as read, is scored by its likelihood on the line (the CTC forward
sum, as for a seal's office) with a prior for being a brand at all. The code is left as read: it is the
maker's own letters and digits, with no list to check it against.

The list holds the brands of the makers that register most of the country's cars, buses and trucks, as
the 公告 of vehicle models and the licences print them (the 中文品牌 before 牌). A brand missing from it
is only ever kept as read: a known brand replaces it only when the glyphs support that brand nearly as
well (see `BRAND_PRIOR`).
"""

from __future__ import annotations

import numpy as np

from bot.vendors.local.layout import FieldValue, PageRead
from bot.vendors.local.lexicon import log_likelihoods
from bot.vendors.local.ocr import CropReading, OcrEngine
from bot.vendors.local.value_crop import value_crop

FIELD = "model"
#: 中文品牌 as registered, before 牌: passenger cars, then new-energy makers, then buses and trucks.
BRANDS: tuple[str, ...] = (
    # Passenger cars, joint ventures and imports.
    "大众汽车", "大众", "一汽-大众", "上汽大众", "奥迪", "斯柯达", "保时捷", "宾利", "兰博基尼",
    "丰田", "一汽丰田", "广汽丰田", "雷克萨斯", "本田", "广汽本田", "东风本田", "讴歌",
    "日产", "东风日产", "启辰", "英菲尼迪", "别克", "雪佛兰", "凯迪拉克", "福特", "长安福特",
    "江铃福特", "林肯", "现代", "北京现代", "起亚", "马自达", "长安马自达", "一汽马自达", "三菱",
    "铃木", "斯巴鲁", "宝马", "华晨宝马", "迷你", "梅赛德斯-奔驰", "奔驰", "北京奔驰", "迈巴赫",
    "沃尔沃", "路虎", "捷豹", "标致", "雪铁龙", "东风标致", "东风雪铁龙", "菲亚特", "吉普",
    "法拉利", "玛莎拉蒂", "劳斯莱斯", "阿斯顿·马丁", "雷诺",
    # Chinese makers.
    "红旗", "一汽", "奔腾", "吉利", "吉利汽车", "几何", "领克", "极氪", "长城", "哈弗",
    "坦克", "欧拉", "奇瑞", "星途", "捷途", "开瑞", "比亚迪", "腾势", "方程豹", "仰望", "长安",
    "长安汽车", "深蓝", "阿维塔", "欧尚", "凯程", "五菱", "宝骏", "荣威", "名爵", "大通",
    "上汽大通", "智己", "飞凡", "传祺", "广汽传祺", "埃安", "昊铂", "东风", "东风风神", "东风风行",
    "东风风光", "岚图", "猛士", "北京", "北汽", "极狐", "北汽制造", "江淮", "思皓", "海马",
    "众泰", "力帆", "东南", "华晨", "中华", "金杯", "观致", "宝沃", "汉腾", "斯威", "凯翼",
    "野马", "昌河", "陆风", "江铃", "江铃汽车", "庆铃", "五十铃",
    # New-energy makers.
    "特斯拉", "理想", "蔚来", "乐道", "小鹏", "零跑", "哪吒", "问界", "赛力斯", "小米", "极越",
    "威马", "云度", "合创", "高合", "睿蓝", "枫叶", "远程", "零跑汽车",
    # Buses, trucks and vans.
    "解放", "一汽解放", "东风商用车", "东风柳汽", "乘龙", "重汽", "中国重汽", "豪沃", "汕德卡",
    "陕汽", "德龙", "红岩", "依维柯", "福田", "欧曼", "欧马可", "奥铃", "时代", "图雅诺",
    "宇通", "金龙", "苏州金龙", "海格", "金旅", "中通", "安凯", "亚星", "申龙", "比亚迪客车",
    "北奔", "华菱", "徐工", "三一", "大运", "凯马", "跃进", "骏铃", "帅铃", "飞碟", "唐骏",
    "东风多利卡", "江淮格尔发", "福田奥铃", "福田欧曼", "三环", "十通", "集瑞联合", "远程新能源商用车",
)  # fmt: skip
#: How much likelier, before the line is read, a known brand is than a brand no list holds (log units:
#: e^4, some fifty times): most vehicles are registered under a known maker's brand. A known brand
#: replaces a brand as read only when the glyphs support it within that much; a brand read right that
#: the list lacks differs from every known one by whole glyphs, which cost far more (a glyph the line
#: does not show costs 10 or more).
BRAND_PRIOR = 4.0
_KNOWN = frozenset(BRANDS)


def likeliest_brand(reading: CropReading, brand: str, code: str) -> tuple[str, float] | None:
    """The likeliest of `brand` as read and every known brand, each followed by 牌 and `code`, on the line,
    with its share of the candidates' joint score; None when no candidate can be written on the line."""
    candidates = [brand, *(known for known in BRANDS if known != brand)]
    scores = log_likelihoods(reading, [candidate + "牌" + code for candidate in candidates])
    scores += np.array([BRAND_PRIOR if candidate in _KNOWN else 0.0 for candidate in candidates])
    best = int(np.argmax(scores))
    if not np.isfinite(scores[best]):
        return None
    shares = np.exp(scores - scores[best])
    return candidates[best], float(1.0 / shares.sum())


def reconsider_brand(engine: OcrEngine, bgr: np.ndarray, scale: float, read: PageRead) -> None:
    """The model's brand, when it is no known brand, read again from its place among the known ones."""
    current = read.fields.get(FIELD)
    if current is None or current.rect is None:
        return
    brand, marked, code = current.value.partition("牌")
    if not marked or not brand or not code or brand in _KNOWN:
        return
    crop = value_crop(bgr, scale, read.frame_degrees, current.rect)
    if crop is None:
        return
    found = likeliest_brand(engine.read_crop_chars(crop), brand, code)
    if found is None or found[0] == brand:
        return
    confidence = round(min(current.confidence, found[1]), 4)
    read.fields[FIELD] = FieldValue(found[0] + "牌" + code, confidence, current.rect)
