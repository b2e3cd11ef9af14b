"""Field values as cards print them: each field's OCR text cleaned into the value the models hold.

One cleaner per normalized field. Each returns the value and whether it had to repair the text to get
there (a letter O in a VIN, ``Cl`` for the class C1, ``1969-0403``): repaired values keep lower
confidence. Repairs are only those the field's own rules leave no doubt about (a VIN never holds I, O or
Q; an ID number's first 17 characters are digits); anything else stays as read, because the checks
downstream flag what does not validate and a silent guess would hide it.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable

from bot.dates import find_dates, parse_date
from bot.models import LICENCE_CLASS_CODES
from bot.plate_grammar import PROVINCES, normalize_plate
from bot.vendors.local.places import nearest_office
from bot.vendors.local.plates import match_plate
from bot.vendors.local.terms import nationalities, nearest_nationality, nearest_term

#: A value that had to be repaired to become valid is trusted this much less than a clean read.
REPAIR_PENALTY = 0.85

_CJK = re.compile(r"[\u3400-\u9fff]")


def _cjk_only(text: str, keep: str = "") -> str:
    return "".join(char for char in text if _CJK.match(char) or char in keep)


def _strip_leading_latin(text: str) -> str:
    """Remnants of an English sub-label OCR mangled (``DateofIrst``) sit between label and value."""
    return re.sub(r"^[A-Za-z.'’:：]+", "", text)


def _clean_text(text: str) -> str:
    return _strip_leading_latin(text).strip(":：;；,，.。")


#: Letters OCR reads where a digit is printed, for fields that can only hold digits.
_DIGIT_LOOKALIKES = str.maketrans(
    {"O": "0", "o": "0", "D": "0", "I": "1", "l": "1", "|": "1", "Z": "2", "S": "5"}
)


def _clean_id_number(text: str) -> tuple[str, bool] | None:
    """ID numbers are 17 digits and a digit-or-X check character (old ones: 15 digits)."""
    compact = re.sub(r"[^0-9A-Za-z|]", "", text)
    match = re.search(r"\d{17}[\dXx]|\d{15}", compact)
    if match:
        return match.group().upper(), False
    if len(compact) == 18:
        fixed = compact[:17].translate(_DIGIT_LOOKALIKES) + compact[17].upper()
        if re.fullmatch(r"\d{17}[\dX]", fixed):
            return fixed, True
    compact = compact.upper()
    return (compact, False) if len(compact) >= 6 and any(char.isdigit() for char in compact) else None


def _clean_name(text: str) -> tuple[str, bool] | None:
    """A name, without the dash OCR makes of the gap after its label (``姓名一郝林国``)."""
    name = _cjk_only(text.lstrip("一—-－~_:："), keep="·•").replace("•", "·")
    return (name, False) if name else None


def _clean_sex(text: str) -> tuple[str, bool] | None:
    match = re.search(r"[男女]", text)
    return (match.group(), False) if match else None


def _clean_nationality(text: str) -> tuple[str, bool] | None:
    """A country's Chinese name; one a glyph off a country (``中国国``) is that country, and so is a read
    that ends in one after glyphs of a neighbouring label (``号中中国``): the name is the cell's last
    print."""
    cleaned = _clean_cjk(text)
    if cleaned is None:
        return None
    country = nearest_nationality(cleaned[0])
    if country is not None:
        return country[0], cleaned[1] or country[1]
    ending = max((name for name in nationalities() if cleaned[0].endswith(name)), key=len, default=None)
    return cleaned if ending is None else (ending, True)


def _clean_cjk(text: str) -> tuple[str, bool] | None:
    """A Chinese word (中国, 小型轿车); OCR sometimes reads a short word twice (``中国中国``)."""
    value = _cjk_only(text)
    half = len(value) // 2
    if half and len(value) % 2 == 0 and value[:half] == value[half:]:
        return value[:half], True
    return (value, False) if value else None


def _clean_term(field_name: str) -> Callable[[str], tuple[str, bool] | None]:
    """A cell that holds a term of a national list: a read one glyph off exactly one term is that term;
    anything else in Chinese is kept as read (a list can lag behind new vehicle types). Terms are
    printed in Chinese only, so a line with letters or digits in it (a model, a date) is another
    field's; one stray mark is allowed."""

    def clean(text: str) -> tuple[str, bool] | None:
        if len(re.findall(r"[A-Za-z0-9]", text)) > 1:
            return None
        cleaned = _clean_cjk(text)
        if cleaned is None:
            return None
        term = nearest_term(field_name, cleaned[0])
        return (term[0], term[1] or cleaned[1]) if term else cleaned

    return clean


def _clean_address(text: str) -> tuple[str, bool] | None:
    """An address (or the end of one that wrapped, ``室``) holds Chinese; what OCR left of the
    ``Address`` sub-label between the label and its value (``A00ms``) does not."""
    value = _clean_text(text)
    return (value, False) if _cjk_only(value) else None


def _clean_free_text(text: str) -> tuple[str, bool] | None:
    value = _clean_text(text)
    return (value, False) if value else None


#: The record a new driver's back page carries: 实习期至 and the probation's last day.
PROBATION = "实习期至"


def _clean_record(text: str) -> tuple[str, bool] | None:
    """记录 text; the printed probation phrase with one glyph misread (实河期至) is put right, as it is the
    one phrase such a line begins with when a date follows."""
    value = _clean_text(text)
    if not value:
        return None
    head = value[: len(PROBATION)]
    whole_phrase = len(head) == len(PROBATION)
    if whole_phrase and _differences(head, PROBATION) == 1 and re.match(r"\s*\d{4}", value[len(PROBATION) :]):
        return PROBATION + value[len(PROBATION) :], True
    return value, False


def _clean_remarks(text: str) -> tuple[str, bool] | None:
    """备注 holds words (纯电动, 更换发动机); a value with no Chinese in it is a rivet, a ruling or the
    card's edge read as text, and an empty 备注 is the usual case."""
    value = _clean_text(text)
    return (value, False) if _CJK.search(value) else None


_LONE_CLOSE = re.compile(r"^([^()（）]*?)(\d+)[)）]")
_SPECKED_NUMBER = re.compile(r"[(（]\d+[.,·:：\s]+\d+[)）]$")


#: The words every inspection stamp prints before its month.
STAMP_WORDING = "检验有效期至"
#: Whatever OCR left of the wording (up to its length, no digits) before 至 and a year, unless exact.
_STAMP_WORDING = re.compile(rf"^(?!{STAMP_WORDING})[^\d至]{{0,6}}至(?=\s*\d{{4}}\s*年)")
#: The whole wording before a year, with up to this many glyphs misread (至 among them: 检顺有效期票).
#: The pattern above finds the wording by its 至, however little glare left before it; this one needs
#: the wording's full length, and so can do without a right 至.
STAMP_WORDING_MISREADS = 2


def _is_misread_wording(value: str) -> bool:
    """Whether `value` starts with the stamp's wording, as long as it and a few glyphs off, before a
    year: the only words a stamp prints there."""
    head = value[: len(STAMP_WORDING)]
    if len(head) < len(STAMP_WORDING) or not re.match(r"\s*\d{4}\s*年", value[len(STAMP_WORDING) :]):
        return False
    return 0 < _differences(head, STAMP_WORDING) <= STAMP_WORDING_MISREADS


def _clean_inspection_record(text: str) -> tuple[str, bool] | None:
    """The inspection stamp's fixed wording, ``检验有效期至`` and a month, ends in its station's code in
    brackets (``津A(04)``). Its small 检验 is often misread and glare can wash out the whole wording
    before 至, which is printed back; OCR also drops the thin opening bracket beside the digits, which is
    put back when a closing one stands alone, and reads a speck between the digits as a dot."""
    value = _clean_text(text)
    if not value:
        return None
    value, reworded = _STAMP_WORDING.subn(STAMP_WORDING, value, count=1)
    if not reworded and _is_misread_wording(value):
        value, reworded = STAMP_WORDING + value[len(STAMP_WORDING) :], 1
    # The station's number is digits alone; a speck of noise between them reads as a dot or a comma.
    value, specks = _SPECKED_NUMBER.subn(lambda found: re.sub(r"[^\d()（）]", "", found.group()), value)
    put_right = bool(reworded or specks)
    if re.search(r"[)）]", value) and not re.search(r"[(（]", value):
        repaired = _LONE_CLOSE.sub(r"\1(\2)", value, count=1)
        return repaired, put_right or repaired != value
    return value, put_right


#: A class read this long or longer that is no code may have one stray glyph taken out (``B81``).
MIN_CLASS_WITH_STRAY = 3


def _clean_class(text: str) -> tuple[str, bool] | None:
    """准驾车型 codes: A1 A2 A3 B1 B2 C1..C6 D E F M N P, alone or combined (``C1E``, ``A1A2``). A read
    that is no code but becomes exactly one code without one of its glyphs (``B81``: B1, never B8 or
    81) had a stray glyph; a two-glyph read is too short to tell a stray from a misread."""
    raw = re.sub(r"[^0-9A-Za-z|]", "", text)
    fixed = re.sub(r"(?<=[ABCabc])[lI|i]", "1", raw).upper()
    if LICENCE_CLASS_CODES.fullmatch(fixed):
        return fixed, fixed != raw.upper()
    if len(fixed) < MIN_CLASS_WITH_STRAY:
        return None
    without_one = {fixed[:index] + fixed[index + 1 :] for index in range(len(fixed))}
    codes = [code for code in without_one if LICENCE_CLASS_CODES.fullmatch(code)]
    return (codes[0], True) if len(codes) == 1 else None


def _clean_date(text: str) -> tuple[str, bool] | None:
    day = parse_date(text)
    if day is None:
        found = find_dates(text)
        day = found[0] if found else None
    if day is not None:
        return day.isoformat(), False
    # A dropped separator (``1969-0403``) still leaves the eight digits of the date.
    digits = re.sub(r"\D", "", text)
    day = parse_date(digits) if len(digits) == 8 else None
    return (day.isoformat(), True) if day else None


#: A date of a range that lost one of its two separators: ``2029-0414`` or ``202904-14``.
_HALF_SEPARATED = (
    re.compile(r"(?<!\d)(?P<y>\d{4})(?P<sep>[-./])(?P<m>\d{2})(?P<d>\d{2})(?!\d)"),
    re.compile(r"(?<!\d)(?P<y>\d{4})(?P<m>\d{2})(?P<sep>[-./])(?P<d>\d{2})(?!\d)"),
)


def _clean_validity(text: str) -> tuple[str, bool] | None:
    """有效期限: a range, a number of years or 长期. A date of the range that OCR left with one separator
    (``2023-04-14至2029-0414``) gets the other back when that makes a real date."""
    value = _clean_text(text)
    repaired = _restore_separators(value)
    if find_dates(repaired) or re.search(r"长期|\d+年|[一二三四五六七八九十两]年", repaired):
        return repaired, repaired != value
    return None


def _restore_separators(value: str) -> str:
    def both(match: re.Match[str]) -> str:
        separator = match["sep"]
        candidate = f"{match['y']}{separator}{match['m']}{separator}{match['d']}"
        return candidate if parse_date(candidate) else match.group()

    for pattern in _HALF_SEPARATED:
        value = pattern.sub(both, value)
    return value


def _clean_vin(text: str) -> tuple[str, bool] | None:
    """VINs never use I, O or Q (GB 16735), so those letters can only be misread 1 and 0."""
    compact = re.sub(r"[^0-9A-Za-z]", "", text).upper()
    if len(compact) > 17 and compact.startswith("VIN"):
        compact = compact[3:]
    if len(compact) < 10:
        return None
    fixed = compact.translate(str.maketrans("IOQ", "100"))
    return fixed, fixed != compact


def _no_letter_o(code: str) -> tuple[str, bool]:
    """Engine and model codes avoid the letter O (it reads as 0), so an O in one is a misread 0."""
    fixed = code.replace("O", "0")
    return fixed, fixed != code


def _clean_code(text: str) -> tuple[str, bool] | None:
    value = re.sub(r"[^0-9A-Za-z\-]", "", text).upper()
    return _no_letter_o(value) if len(value) >= 3 else None


#: Digits OCR reads for the letters they resemble.
_LETTER_LOOKALIKES = {"8": "B", "5": "S", "2": "Z", "6": "G"}
#: A model code that starts with one such digit, then letters, then its digits.
_DIGIT_LED_CODE = re.compile(r"^([8526])([A-Z]{1,2})(?=\d)")


def _clean_model(text: str) -> tuple[str, bool] | None:
    """品牌型号: a Chinese brand then the model code (``大众汽车牌SVW71612BM``). A model code (GB 9417)
    starts with its maker's code in two or three letters, so a digit leading that run of letters is a
    misread letter (``8YD7005BEVA`` is BYD7005BEVA)."""
    value = text.strip(":：;；,，.。")
    brand = re.match(r"^[^A-Za-z0-9]*", value)
    head = brand.group() if brand else ""
    code, repaired = _no_letter_o(value[len(head) :].upper())
    lettered = _DIGIT_LED_CODE.sub(lambda found: _LETTER_LOOKALIKES[found[1]] + found[2], code, count=1)
    return (head + lettered, repaired or lettered != code) if value else None


#: A whole file number (12 digits, the length both licences print), perhaps behind what OCR left of its
#: label or English sub-label (``File No.``, ``E编`` of 档案编号 File No.): no digit is lost before it.
FILE_NUMBER = re.compile(r"\D*(\d{12})")


def _clean_digits(text: str) -> tuple[str, bool] | None:
    """档案编号: digits only, so letters OCR put there are misread digits; but whatever stands before a
    whole 12-digit file number is what OCR left of the label or its English sub-label, not part of it."""
    whole = FILE_NUMBER.fullmatch(text.strip())
    if whole:
        return whole.group(1), False
    value = re.sub(r"[^0-9A-Za-z|]", "", text)
    fixed = value.translate(_DIGIT_LOOKALIKES)
    if len(fixed) < 6:
        return None
    return (fixed, fixed != value) if fixed.isdigit() else (value.upper(), False)


#: What a plate number can start with: a province, or 使 on an embassy's plate.
_FIRST_GLYPHS = frozenset((*PROVINCES, "使"))


def _clean_plate(text: str) -> tuple[str, bool] | None:
    """A plate number as the grammar reads it (separators dropped, one unambiguous repair at most); one
    the grammar rejects is kept as read, unless its first glyph is no province (nor an embassy's 使):
    that is a misread province, and the field is left for the cell's re-read under the plate grammar."""
    matched = match_plate(text)
    if matched is not None:
        return matched[0], matched[2] > 0
    number = normalize_plate(text)
    return (number, False) if len(number) >= 6 and number[0] in _FIRST_GLYPHS else None


_DASHES = re.compile(r"^[-—–一_~=－]+$")


def _clean_quantity(text: str) -> tuple[str, bool] | None:
    """Masses and counts stay as printed (``1500kg``, ``5人``); an unused field prints ``--``."""
    value = _clean_text(text)
    if not value:
        return None
    if _DASHES.match(value):
        return "--", False
    value = re.sub(r"(?i)kg$", "kg", value)
    return (value, False) if re.search(r"\d", value) else None


def _clean_mass(text: str) -> tuple[str, bool] | None:
    """A mass is printed in kilograms (``1880kg``): bare digits lost their unit to glare or a clipped
    box, and get it back (as a repair)."""
    cleaned = _clean_quantity(text)
    if cleaned is not None and re.fullmatch(r"\d+", cleaned[0]):
        return cleaned[0] + "kg", True
    return cleaned


def _clean_dimensions(text: str) -> tuple[str, bool] | None:
    """Outer dimensions are printed in millimetres (``4598×1765×1462mm``); a lost unit comes back as for
    a mass, and so does one OCR read short or wrong after the third number (``m``, ``rn``): no other
    unit is ever printed there."""
    value = _clean_text(text)
    fixed = re.sub(r"(?<=\d)\s*[xX*×✕]\s*(?=\d)", "×", value)
    fixed = re.sub(r"(?i)mm$", "mm", fixed)
    if not re.search(r"\d", fixed):
        return _clean_quantity(text)
    numbers = re.fullmatch(r"(\d+×\d+×\d+)([A-Za-z]{0,2})", fixed)
    if numbers and numbers.group(2) != "mm":
        return numbers.group(1) + "mm", True
    return fixed, False


Cleaner = Callable[[str], tuple[str, bool] | None]

CLEANERS: dict[str, Cleaner] = {
    "number": _clean_id_number,
    "name": _clean_name,
    "sex": _clean_sex,
    "nationality": _clean_nationality,
    "address": _clean_address,
    "birth_date": _clean_date,
    "first_issue_date": _clean_date,
    "class": _clean_class,
    "valid_from": _clean_date,
    "valid_period": _clean_validity,
    "file_number": _clean_digits,
    "record": _clean_record,
    "plate_number": _clean_plate,
    "vehicle_type": _clean_term("vehicle_type"),
    "owner": _clean_free_text,
    "use_character": _clean_term("use_character"),
    "model": _clean_model,
    "vin": _clean_vin,
    "engine_number": _clean_code,
    "register_date": _clean_date,
    "issue_date": _clean_date,
    "approved_passengers": _clean_quantity,
    "total_mass": _clean_mass,
    "curb_weight": _clean_mass,
    "approved_load": _clean_mass,
    "dimensions": _clean_dimensions,
    "traction_mass": _clean_mass,
    "remarks": _clean_remarks,
    "inspection_record": _clean_inspection_record,
}

#: An issuing authority reads like ``…公安局交通警察支队`` / ``…公安交通管理局`` / ``…车辆管理所``.
AUTHORITY = re.compile(r"公安|交通|交警|车辆管理|车管")
AUTHORITY_END = re.compile(r"(局|队|所|处|厅)$")
#: How the names of the offices that issue licences end. A seal's rim is the hardest text on a card,
#: so a tail within one character of one of these is read as that tail.
AUTHORITY_TAILS = (
    "公安局交通警察支队",
    "公安局交通警察总队",
    "公安局交通警察大队",
    "公安局交通巡逻警察总队",
    "公安局交通管理局",
    "公安局公安交通管理局",
    "公安交通管理局",
    "公安局车辆管理所",
    "车辆管理所",
)
#: Office names this long may have two misread characters corrected; shorter ones only one.
LONG_TAIL = 7


#: How far a seal read that no office name confirms is trusted: one ending like a known kind of office
#: (a misread place name, or an office the lexicon lacks)...
UNCONFIRMED_OFFICE = 0.7
#: ...and one that merely ends like an office (``…局``).
UNCONFIRMED_ENDING = 0.5


def clean_authority(text: str) -> tuple[str, float] | None:
    """The seal's text when it names a traffic-police authority (other red ink is not an authority),
    with how far to trust it (a factor on the read's score).

    A read that is a known office name, or one misread glyph or more away from exactly one
    (`places.nearest_office`), is that office; otherwise it is kept as read, trusted less, since
    prefecture and municipal offices issue licences and the lexicon names them all: only its ending
    is corrected, to a known kind of office.
    """
    value = _cjk_only(unicodedata.normalize("NFKC", text))
    if len(value) < 5:
        return None
    office = nearest_office(value)
    if office is not None:
        return office, 1.0 if office == value else REPAIR_PENALTY
    if not AUTHORITY.search(value):
        return None
    if AUTHORITY_END.search(value) and any(value.endswith(tail) for tail in AUTHORITY_TAILS):
        return value, UNCONFIRMED_OFFICE
    repaired = _nearest_tail(value)
    if repaired is not None:
        return repaired, UNCONFIRMED_OFFICE * REPAIR_PENALTY
    return (value, UNCONFIRMED_ENDING) if AUTHORITY_END.search(value) else None


def _nearest_tail(value: str) -> str | None:
    """`value` with its ending replaced by the one known office name it is closest to: within one
    character, or two for the long names (seven characters and more), and only when no other name is
    as close, since 支队/总队 differ by a single character themselves."""
    scored = sorted(
        (_differences(value[-len(tail) :], tail), -len(tail), tail)
        for tail in AUTHORITY_TAILS
        if len(value) > len(tail)
    )
    if not scored:
        return None
    differences, negative_length, tail = scored[0]
    allowed = 2 if -negative_length >= LONG_TAIL else 1
    tied = any(other[0] == differences for other in scored[1:])
    if differences == 0 or differences > allowed or tied:
        return None
    return value[: -len(tail)] + tail


def _differences(first: str, second: str) -> int:
    return sum(1 for a, b in zip(first, second, strict=True) if a != b)


def clean_value(field_name: str, text: str) -> tuple[str, bool] | None:
    """`text` as the value of `field_name` and whether it was repaired; None when it cannot be one."""
    return CLEANERS[field_name](text)
