"""Seeded fake people, vehicles and plates whose numbers pass the same checks real cards pass.

Every value a card shows comes from here, so truth and picture cannot disagree. The ID number encodes
the birth date and sex printed beside it, VINs carry a GB 16735 check digit, plates follow the grammar of
their colour. Check digits come from handlers.checks on purpose: the specimens then exercise the
project's own validators instead of a second copy that could share a mistake silently.
"""

from __future__ import annotations

import calendar
import itertools
import random
from dataclasses import dataclass, replace
from datetime import date, timedelta
from functools import lru_cache
from typing import Literal

from bot.given_names import given_name_counts
from bot.models import PlateColor
from handlers.checks import id_check_digit, vin_check_digit

#: The "today" specimens are generated against: fixed, so a seed gives the same cards next year too.
REFERENCE_DATE = date(2025, 6, 1)

PLATE_LETTERS = "ABCDEFGHJKLMNPQRSTUVWXYZ"  # I and O are never used on plates
VIN_CHARS = "0123456789ABCDEFGHJKLMNPRSTUVWXYZ"  # GB 16735 forbids I, O, Q
PROVINCE_CHARS = "京津沪渝冀豫云辽黑湘皖鲁新苏浙赣鄂桂甘晋蒙陕吉闽贵粤青藏川宁琼"


@dataclass(frozen=True)
class Region:
    """A real county-level division: its ID-number prefix, address, plate prefix and traffic police."""

    code: str
    province: str
    city: str
    district: str
    plate_prefix: str
    authority: str

    @property
    def address_prefix(self) -> str:
        return f"{self.province}{self.city}{self.district}"


REGIONS: tuple[Region, ...] = (
    Region("110105", "北京市", "", "朝阳区", "京A", "北京市公安局公安交通管理局"),
    Region("110108", "北京市", "", "海淀区", "京N", "北京市公安局公安交通管理局"),
    Region("110102", "北京市", "", "西城区", "京F", "北京市公安局公安交通管理局"),
    Region("310115", "上海市", "", "浦东新区", "沪A", "上海市公安局交通警察总队"),
    Region("310104", "上海市", "", "徐汇区", "沪B", "上海市公安局交通警察总队"),
    Region("120101", "天津市", "", "和平区", "津A", "天津市公安交通管理局"),
    Region("500103", "重庆市", "", "渝中区", "渝A", "重庆市公安局交通巡逻警察总队"),
    Region("440106", "广东省", "广州市", "天河区", "粤A", "广东省广州市公安局交通警察支队"),
    Region("440305", "广东省", "深圳市", "南山区", "粤B", "广东省深圳市公安局交通警察支队"),
    Region("330106", "浙江省", "杭州市", "西湖区", "浙A", "浙江省杭州市公安局交通警察支队"),
    Region("320102", "江苏省", "南京市", "玄武区", "苏A", "江苏省南京市公安局交通管理局"),
    Region("510104", "四川省", "成都市", "锦江区", "川A", "四川省成都市公安局交通管理局"),
    Region("420106", "湖北省", "武汉市", "武昌区", "鄂A", "湖北省武汉市公安局交通管理局"),
    Region("610113", "陕西省", "西安市", "雁塔区", "陕A", "陕西省西安市公安局交通警察支队"),
    Region("370102", "山东省", "济南市", "历下区", "鲁A", "山东省济南市公安局交通警察支队"),
    Region("340104", "安徽省", "合肥市", "蜀山区", "皖A", "安徽省合肥市公安局交通警察支队"),
    Region("530102", "云南省", "昆明市", "五华区", "云A", "云南省昆明市公安局交通警察支队"),
    Region("430104", "湖南省", "长沙市", "岳麓区", "湘A", "湖南省长沙市公安局交通警察支队"),
    Region("350102", "福建省", "福州市", "鼓楼区", "闽A", "福建省福州市公安局交通警察支队"),
    Region("210102", "辽宁省", "沈阳市", "和平区", "辽A", "辽宁省沈阳市公安局交通警察支队"),
)

SURNAMES = (
    "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁"
    "任沈姚卢姜崔钟谭陆汪范金石廖贾夏韦方白邹孟熊秦邱江尹薛段雷侯龙史陶黎贺顾毛郝龚邵万钱严武戴孔汤"
)
COMPOUND_SURNAMES = ("欧阳", "司马", "诸葛", "上官")
NamePool = Literal["common", "real"]
NAME_POOLS: tuple[NamePool, ...] = ("common", "real")
GIVEN_MALE = "伟强磊军洋勇杰涛明超刚平辉鹏华飞鑫波斌宇浩凯健俊帆帅旭宁龙林欣晨子轩博文志国建"
GIVEN_FEMALE = "芳娜敏静丽艳娟霞秀燕玲桂丹萍红玉兰婷雪琳晶颖洁梅琴云莉倩璐悦彤瑶欣怡佳慧雅"
STREETS = (
    "建国路", "人民路", "中山路", "解放路", "长安街", "新华路", "朝阳路", "和平路", "文化路", "东风路",
    "青年路", "学院路", "光明街", "胜利路", "幸福大街", "滨江大道", "科技园南路", "金融街",
)  # fmt: skip
COMMUNITIES = ("阳光花园", "翠苑小区", "锦绣家园", "东方明珠苑", "幸福里", "金色港湾", "书香门第")
COMPANY_WORDS = ("星辰", "华信", "远航", "恒通", "瑞达", "嘉禾", "宏图", "联创")
COMPANY_TRADES = ("科技有限公司", "物流有限公司", "汽车租赁有限公司", "建设工程有限公司", "贸易有限公司")

#: (class, weight): C1 dominates real licences.
LICENCE_CLASSES: tuple[tuple[str, int], ...] = (
    ("C1", 60), ("C2", 10), ("B2", 6), ("A1", 3), ("A2", 4), ("B1", 3), ("C1D", 4), ("C1E", 3), ("D", 2),
    ("E", 2), ("C3", 1), ("A1A2", 2),
)  # fmt: skip


@dataclass(frozen=True)
class PlateSpec:
    """A plate as the specimens know it: the printed number (no dot), its colour and layout."""

    number: str
    color: PlateColor
    double_layer: bool = False
    #: Which rule produced it: blue, yellow, coach, trailer, green, yellow_green, police, hk_macau.
    kind: str = "blue"

    def truth(self) -> dict[str, object]:
        return {"number": self.number, "color": self.color.value, "double_layer": self.double_layer}


@dataclass(frozen=True)
class Person:
    """A driver: the person on the 驾驶证 and the licence they hold (both pages draw from this)."""

    name: str
    sex: str
    nationality: str
    id_number: str
    birth_date: date
    address: str
    region: Region
    licence_class: str
    first_issue_date: date
    valid_from: date
    valid_years: int | None  # None: 长期
    file_number: str
    record: str | None

    @property
    def long_term(self) -> bool:
        return self.valid_years is None

    @property
    def valid_to(self) -> date | None:
        return None if self.valid_years is None else add_years(self.valid_from, self.valid_years)

    @property
    def issuing_authority(self) -> str:
        return self.region.authority


@dataclass(frozen=True)
class Vehicle:
    """A vehicle and its 行驶证 (main page and 副页)."""

    plate: PlateSpec
    vehicle_type: str
    owner: str
    address: str
    use_character: str
    model: str
    vin: str
    engine_number: str
    register_date: date
    issue_date: date
    issuing_authority: str
    file_number: str
    approved_passengers: str
    total_mass: str
    curb_weight: str
    approved_load: str
    dimensions: str
    traction_mass: str
    remarks: str | None
    inspection_record: str
    inspection_valid_until: date


# ----------------------------------------------------------------------------------------------- helpers


def add_years(day: date, years: int) -> date:
    """Same calendar day `years` later; 29 February falls back to the 28th as the card offices do."""
    try:
        return day.replace(year=day.year + years)
    except ValueError:
        return day.replace(year=day.year + years, day=28)


def month_end(year: int, month: int) -> date:
    return date(year, month, calendar.monthrange(year, month)[1])


def random_date(rng: random.Random, start: date, end: date) -> date:
    if end <= start:
        return start
    return start + timedelta(days=rng.randrange((end - start).days + 1))


def digits(rng: random.Random, count: int) -> str:
    return "".join(rng.choice("0123456789") for _ in range(count))


def make_id_number(region_code: str, birth: date, sex: str, rng: random.Random) -> str:
    """18-digit 居民身份证号: region, birth date, sequence whose parity is the sex, ISO 7064 check."""
    sequence = rng.randrange(0, 100) * 10 + rng.choice((1, 3, 5, 7, 9) if sex == "男" else (0, 2, 4, 6, 8))
    first17 = f"{region_code}{birth:%Y%m%d}{sequence:03d}"
    return first17 + id_check_digit(first17)


def make_name(rng: random.Random, sex: str, names: NamePool = "common") -> str:
    """A surname and a one- or two-character given name. `names` "common" draws given-name characters
    evenly from the few dozen most popular; "real" draws them as often as real people are given them
    (ngender's counts over some 32 million given-name characters), rare characters included."""
    if names not in NAME_POOLS:
        raise ValueError(f"unknown name pool {names!r}; pools: {NAME_POOLS}")
    surname = rng.choice(COMPOUND_SURNAMES) if rng.random() < 0.02 else rng.choice(SURNAMES)
    length = 1 if rng.random() < 0.3 else 2
    if names == "real":
        chars, weights = _given_name_counts(sex)
        return surname + "".join(rng.choices(chars, cum_weights=weights, k=length))
    pool = GIVEN_MALE if sex == "男" else GIVEN_FEMALE
    return surname + "".join(rng.choice(pool) for _ in range(length))


@lru_cache(maxsize=2)
def _given_name_counts(sex: str) -> tuple[tuple[str, ...], tuple[int, ...]]:
    """Given-name characters and their cumulative counts among men's or women's names."""
    counts = given_name_counts()
    column = 0 if sex == "男" else 1
    return tuple(counts), tuple(itertools.accumulate(pair[column] for pair in counts.values()))


def make_address(rng: random.Random, region: Region) -> str:
    street = f"{region.address_prefix}{rng.choice(STREETS)}{rng.randint(1, 320)}号"
    if rng.random() < 0.5:
        building, unit = rng.randint(1, 30), rng.randint(1, 6)
        room = rng.randint(1, 28) * 100 + rng.randint(1, 4)
        street += f"{rng.choice(COMMUNITIES)}{building}号楼{unit}单元{room}室"
    return street


def make_file_number(rng: random.Random, region: Region) -> str:
    """档案编号: 12 digits; offices start them with their own area code."""
    return region.code[:4] + digits(rng, 8)


def weighted(rng: random.Random, options: tuple[tuple[str, int], ...]) -> str:
    return rng.choices([value for value, _ in options], weights=[weight for _, weight in options])[0]


# ----------------------------------------------------------------------------------------------- people


def _validity(rng: random.Random, first_issue: date, today: date) -> tuple[date, int | None]:
    """Walk the renewal ladder (6 years, 10 years, then 10 or 长期) up to the period holding `today`.

    A few drivers stop renewing, so some cards are expired, which is what the expiry warnings are for.
    """
    start, ladder = first_issue, 0
    while True:
        years: int | None = 6 if ladder == 0 else 10
        if ladder >= 2 and rng.random() < 0.5:
            years = None
        if years is None:
            return start, None
        end = add_years(start, years)
        if end > today or rng.random() < 0.08:
            return start, years
        start, ladder = end, ladder + 1


def _record(rng: random.Random, first_issue: date, valid_from: date, valid_years: int | None) -> str | None:
    """记录 on the 副页: the probation end for a first licence, a renewal reminder, or nothing."""
    if valid_from == first_issue and rng.random() < 0.8:
        return f"实习期至{add_years(first_issue, 1) - timedelta(days=1):%Y年%m月%d日}"
    if valid_years is not None and rng.random() < 0.25:
        return f"请于{add_years(valid_from, valid_years):%Y年%m月%d日}前申请换证"
    return None


def make_person(rng: random.Random, today: date = REFERENCE_DATE, names: NamePool = "common") -> Person:
    region = rng.choice(REGIONS)
    sex = rng.choice(("男", "女"))
    birth = random_date(rng, date(1960, 1, 1), date(today.year - 19, 12, 31))
    earliest_issue = max(add_years(birth, 18), date(1990, 1, 1))
    first_issue = random_date(rng, earliest_issue, min(add_years(birth, 50), today - timedelta(days=20)))
    valid_from, valid_years = _validity(rng, first_issue, today)
    return Person(
        name=make_name(rng, sex, names),
        sex=sex,
        nationality="中国",
        id_number=make_id_number(region.code, birth, sex, rng),
        birth_date=birth,
        address=make_address(rng, region),
        region=region,
        licence_class=weighted(rng, LICENCE_CLASSES),
        first_issue_date=first_issue,
        valid_from=valid_from,
        valid_years=valid_years,
        file_number=make_file_number(rng, region),
        record=_record(rng, first_issue, valid_from, valid_years),
    )


# ----------------------------------------------------------------------------------------------- plates


def _serial(rng: random.Random, length: int, max_letters: int = 2) -> str:
    """Plate serial: digits with up to `max_letters` letters, the way offices issue them."""
    chars = [rng.choice("0123456789") for _ in range(length)]
    for position in rng.sample(range(length), rng.randint(0, max_letters)):
        chars[position] = rng.choice(PLATE_LETTERS)
    return "".join(chars)


def _prefix(rng: random.Random, region: Region | None) -> str:
    if region is not None:
        return region.plate_prefix
    return rng.choice(PROVINCE_CHARS) + rng.choice(PLATE_LETTERS[:12])


PLATE_KINDS: tuple[tuple[str, int], ...] = (
    ("blue", 40), ("yellow", 12), ("green", 18), ("yellow_green", 4), ("police", 5), ("coach", 4),
    ("trailer", 4), ("hk_macau", 3),
)  # fmt: skip


def make_plate(rng: random.Random, kind: str | None = None, region: Region | None = None) -> PlateSpec:
    """A plate of `kind` (random by real-world frequency when None) that obeys that kind's grammar."""
    kind = kind or weighted(rng, PLATE_KINDS)
    prefix = _prefix(rng, region)
    if kind == "blue":
        return PlateSpec(prefix + _serial(rng, 5), PlateColor.BLUE, kind=kind)
    if kind == "yellow":
        return PlateSpec(prefix + _serial(rng, 5), PlateColor.YELLOW, rng.random() < 0.5, kind=kind)
    if kind == "coach":
        return PlateSpec(prefix + _serial(rng, 4, 1) + "学", PlateColor.YELLOW, kind=kind)
    if kind == "trailer":
        return PlateSpec(prefix + digits(rng, 4) + "挂", PlateColor.YELLOW, True, kind=kind)
    if kind == "green":
        head = rng.choice("DF") + rng.choice(PLATE_LETTERS + "0123456789")
        return PlateSpec(prefix + head + digits(rng, 4), PlateColor.GREEN, kind=kind)
    if kind == "yellow_green":
        return PlateSpec(prefix + digits(rng, 5) + rng.choice("DF"), PlateColor.YELLOW_GREEN, kind=kind)
    if kind == "police":
        return PlateSpec(prefix + digits(rng, 4) + "警", PlateColor.WHITE, kind=kind)
    if kind == "hk_macau":
        return PlateSpec("粤Z" + _serial(rng, 4, 1) + rng.choice("港澳"), PlateColor.BLACK, kind=kind)
    raise ValueError(f"unknown plate kind {kind!r}")


# ----------------------------------------------------------------------------------------------- vehicles


@dataclass(frozen=True)
class _Model:
    """A make and model line: what its 行驶证 prints and the VIN prefix its factory uses.

    Sizes are (low, high) ranges in mm and kg; a vehicle draws its own figures from them.
    """

    model: str
    wmi: str
    vehicle_type: str
    passengers: int
    engine_prefix: str
    size: tuple[tuple[int, int], tuple[int, int], tuple[int, int]]  # length, width, height
    curb: tuple[int, int]
    load: tuple[int, int] | None = None
    traction: tuple[int, int] | None = None


# fmt: off
_CARS = (
    _Model("大众汽车牌SVW71612BM", "LSV", "小型轿车", 5, "DLF",
           ((4580, 4610), (1760, 1780), (1450, 1470)), (1300, 1500)),
    _Model("大众汽车牌FV7152FBDWG", "LFV", "小型轿车", 5, "DJS",
           ((4650, 4680), (1800, 1820), (1450, 1470)), (1350, 1450)),
    _Model("别克牌SGM7158DAA1", "LSG", "小型轿车", 5, "L3G",
           ((4660, 4680), (1800, 1820), (1460, 1480)), (1300, 1400)),
    _Model("本田牌HG7150AAC5", "LHG", "小型轿车", 5, "L15",
           ((4640, 4680), (1800, 1820), (1410, 1430)), (1300, 1400)),
    _Model("丰田牌TV7250GLXA", "LVG", "小型轿车", 5, "A25A",
           ((4880, 4900), (1830, 1850), (1440, 1460)), (1500, 1600)),
    _Model("日产牌DFL7162ACC", "LGB", "小型轿车", 5, "HR16",
           ((4630, 4650), (1810, 1830), (1440, 1460)), (1250, 1350)),
    _Model("哈弗牌CC6460RM0F", "LGW", "小型普通客车", 5, "GW4",
           ((4600, 4620), (1840, 1860), (1700, 1720)), (1500, 1600)),
    _Model("吉利牌MR6471DCHEV", "L6T", "小型普通客车", 5, "JLH",
           ((4470, 4490), (1820, 1840), (1680, 1700)), (1500, 1650)),
    _Model("五菱牌LZW6441BVFA", "LZW", "小型普通客车", 7, "LAR",
           ((4370, 4390), (1670, 1690), (1850, 1870)), (1200, 1300)),
)
_ELECTRIC = (
    _Model("比亚迪牌BYD7005BEVA", "LGX", "小型轿车", 5, "TZ200XSQ",
           ((4790, 4810), (1870, 1890), (1490, 1510)), (1900, 2100)),
    _Model("特斯拉牌TSL7000BEVAR3", "LRW", "小型轿车", 5, "3D3",
           ((4690, 4720), (1840, 1860), (1440, 1450)), (1700, 1800)),
    _Model("理想牌LXA6500SHEVX1", "LW4", "小型普通客车", 6, "L2E",
           ((5040, 5060), (1990, 2000), (1750, 1770)), (2300, 2400)),
)
_HEAVY = (
    _Model("解放牌CA4250P66K24T1A1E5", "LFW", "重型半挂牵引车", 2, "CA6DM",
           ((6900, 7000), (2490, 2500), (3550, 3650)), (8600, 9200), traction=(38000, 39500)),
    _Model("东风牌DFH1180EX8", "LGA", "重型厢式货车", 3, "DDI",
           ((9000, 9990), (2540, 2550), (3700, 3900)), (7800, 8600), load=(9000, 10000)),
    _Model("江铃牌JX1043TG25", "LEF", "轻型普通货车", 3, "JX4D",
           ((5990, 5995), (2010, 2050), (2250, 2350)), (2500, 2800), load=(1400, 1600)),
    _Model("宇通牌ZK6122HQB9", "LZY", "大型普通客车", 51, "YC6",
           ((11990, 12000), (2540, 2550), (3550, 3650)), (12500, 13000)),
)
# fmt: on

_USE_CAR = (("非营运", 80), ("出租客运", 6), ("预约出租客运", 6), ("租赁", 4), ("营转非", 4))
_USE_HEAVY = (("货运", 60), ("营运", 25), ("非营运", 15))
_YEAR_CODES = "ABCDEFGHJKLMNPRSTVWXY123456789"  # 2010 = A ... 2030 = Y (30-year cycle from 2010)


def vin_year_code(year: int) -> str:
    """10th VIN character for a model year (the 30-year cycle restarted at A in 2010)."""
    return _YEAR_CODES[(year - 2010) % 30]


def make_vin(rng: random.Random, wmi: str, model_year: int) -> str:
    """17-character VIN with the GB 16735 check digit in position 9."""
    vds = "".join(rng.choice(VIN_CHARS) for _ in range(5))
    tail = vin_year_code(model_year) + rng.choice(VIN_CHARS) + digits(rng, 6)
    draft = wmi + vds + "0" + tail
    return wmi + vds + vin_check_digit(draft) + tail


def _company(rng: random.Random, region: Region) -> str:
    city = region.city or region.province
    return f"{city.removesuffix('市')}{rng.choice(COMPANY_WORDS)}{rng.choice(COMPANY_TRADES)}"


def _kg(value: int) -> str:
    return f"{value}kg"


def make_vehicle(rng: random.Random, today: date = REFERENCE_DATE, names: NamePool = "common") -> Vehicle:
    region = rng.choice(REGIONS)
    roll = rng.random()
    if roll < 0.62:
        spec, plate_kind, uses = rng.choice(_CARS), "blue", _USE_CAR
    elif roll < 0.85:
        spec, plate_kind, uses = rng.choice(_ELECTRIC), "green", _USE_CAR
    else:
        spec, plate_kind, uses = rng.choice(_HEAVY), "yellow", _USE_HEAVY
    if spec.vehicle_type == "大型普通客车":
        uses = (("公路客运", 50), ("公交客运", 50))
    use = weighted(rng, uses)
    plate = make_plate(rng, plate_kind, region)
    if plate_kind == "yellow":
        plate = PlateSpec(plate.number, plate.color, False, kind="yellow")  # front plates are single-row

    register = random_date(rng, date(2008, 1, 1), today - timedelta(days=10))
    issue = register if rng.random() < 0.7 else random_date(rng, register, today - timedelta(days=5))
    company_owned = use != "非营运" or rng.random() < 0.1
    owner = _company(rng, region) if company_owned else make_name(rng, rng.choice(("男", "女")), names)

    curb = rng.randint(*spec.curb) // 5 * 5
    passengers = spec.passengers
    load = rng.randint(*spec.load) // 5 * 5 if spec.load else None
    total = curb + passengers * 65 + (load or 0) + (0 if spec.traction else rng.randint(50, 120))
    traction = rng.randint(*spec.traction) // 10 * 10 if spec.traction else None
    length, width, height = (rng.randint(*span) for span in spec.size)

    inspection_year = rng.randint(today.year - 1, today.year + 2)
    inspection_end = month_end(inspection_year, register.month)
    station = f"{region.plate_prefix}({rng.randint(1, 12):02d})"
    remarks = None
    if plate_kind == "green" and rng.random() < 0.3:
        remarks = "纯电动" if "BEV" in spec.model else "插电式混合动力"
    return Vehicle(
        plate=plate,
        vehicle_type=spec.vehicle_type,
        owner=owner,
        address=make_address(rng, region),
        use_character=use,
        model=spec.model,
        vin=make_vin(rng, spec.wmi, register.year - (1 if rng.random() < 0.3 else 0)),
        engine_number=spec.engine_prefix + "".join(rng.choice(VIN_CHARS) for _ in range(rng.randint(6, 8))),
        register_date=register,
        issue_date=issue,
        issuing_authority=region.authority,
        file_number=make_file_number(rng, region),
        approved_passengers=f"{passengers}人",
        total_mass=_kg(total),
        curb_weight=_kg(curb),
        approved_load=_kg(load) if load else "--",
        dimensions=f"{length}×{width}×{height}mm",
        traction_mass=_kg(traction) if traction else "--",
        remarks=remarks,
        inspection_record=f"检验有效期至{inspection_end:%Y年%m月}{station}",
        inspection_valid_until=inspection_end,
    )


# ----------------------------------------------------------------------------------------------- truth


def driving_truth(person: Person, side: str) -> dict[str, object]:
    """Normalized fields (bot.models names, ISO dates) of the page the card shows."""
    if side == "back":
        return {
            "number": person.id_number,
            "name": person.name,
            "file_number": person.file_number,
            "record": person.record,
        }
    valid_to = person.valid_to
    return {
        "number": person.id_number,
        "name": person.name,
        "sex": person.sex,
        "nationality": person.nationality,
        "address": person.address,
        "birth_date": person.birth_date.isoformat(),
        "first_issue_date": person.first_issue_date.isoformat(),
        "class": person.licence_class,
        "valid_from": person.valid_from.isoformat(),
        "valid_to": valid_to.isoformat() if valid_to else None,
        "long_term": person.long_term,
        "issuing_authority": person.issuing_authority,
    }


def vehicle_truth(vehicle: Vehicle, side: str) -> dict[str, object]:
    if side == "back":
        return {
            "plate_number": vehicle.plate.number,
            "file_number": vehicle.file_number,
            "approved_passengers": vehicle.approved_passengers,
            "total_mass": vehicle.total_mass,
            "curb_weight": vehicle.curb_weight,
            "approved_load": vehicle.approved_load,
            "dimensions": vehicle.dimensions,
            "traction_mass": vehicle.traction_mass,
            "remarks": vehicle.remarks,
            "inspection_record": vehicle.inspection_record,
            "inspection_valid_until": vehicle.inspection_valid_until.isoformat(),
        }
    return {
        "plate_number": vehicle.plate.number,
        "vehicle_type": vehicle.vehicle_type,
        "owner": vehicle.owner,
        "address": vehicle.address,
        "use_character": vehicle.use_character,
        "model": vehicle.model,
        "vin": vehicle.vin,
        "engine_number": vehicle.engine_number,
        "register_date": vehicle.register_date.isoformat(),
        "issue_date": vehicle.issue_date.isoformat(),
        "issuing_authority": vehicle.issuing_authority,
    }


# ----------------------------------------------------------------------------------------------- samples


def sample_person() -> Person:
    """The README demo's driver: a C1 licence valid well into the future, probation long over."""
    person = make_person(random.Random("sample-driver"))
    region = REGIONS[0]
    birth = date(1988, 7, 21)
    return replace(
        person,
        sex="男",
        name="张伟",
        id_number=make_id_number(region.code, birth, "男", random.Random("sample-id")),
        birth_date=birth,
        address="北京市朝阳区建国路88号",
        region=region,
        licence_class="C1",
        first_issue_date=date(2016, 3, 15),
        valid_from=date(2022, 3, 15),
        valid_years=10,
        file_number=make_file_number(random.Random("sample-file"), region),
        record="实习期至2017年03月14日",
    )


def sample_vehicle() -> Vehicle:
    """The README demo's car: a private saloon in Beijing, inspection due in 2027."""
    vehicle = make_vehicle(random.Random("sample-vehicle"))
    region = REGIONS[0]
    return replace(
        vehicle,
        plate=PlateSpec("京A8P2K6", PlateColor.BLUE, kind="blue"),
        vehicle_type="小型轿车",
        owner="张伟",
        address="北京市朝阳区建国路88号",
        use_character="非营运",
        model="大众汽车牌SVW71612BM",
        vin=make_vin(random.Random("sample-vin"), "LSV", 2021),
        engine_number="DLF286431",
        register_date=date(2021, 9, 18),
        issue_date=date(2021, 9, 18),
        issuing_authority=region.authority,
        file_number=make_file_number(random.Random("sample-vehicle-file"), region),
        approved_passengers="5人",
        total_mass="1880kg",
        curb_weight="1425kg",
        approved_load="--",
        dimensions="4597×1765×1460mm",
        traction_mass="--",
        remarks=None,
        inspection_record="检验有效期至2027年09月京A(01)",
        inspection_valid_until=month_end(2027, 9),
    )
