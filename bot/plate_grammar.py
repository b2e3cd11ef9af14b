"""The grammar of Chinese motor-vehicle plate numbers, and OCR-confusion-aware repair of misread plates.

This lives in bot/ because the vendor adapters and the embedded OCR engine need it to normalize and
re-rank readings, and bot/ may not import handlers/. Pure functions, no I/O.

Rules (GA 36-2018 《中华人民共和国机动车号牌》 and the Ministry of Public Security's new-energy plate
announcements):

* Ordinary plates (7 characters): province abbreviation + issuing-authority letter (发牌机关代号, A-Z
  without I and O) + a 5-character serial of digits and letters, where I and O are never used because
  they read as 1 and 0.
* New-energy plates (8 characters, green): the serial has 6 characters.
  - Small vehicles: the first serial character gives the power type, then a letter or digit, then four
    digits (``京AD12345``). GA 36-2018 started with D (pure electric) and F (other new energy); the
    numbering resource was later widened to D/A/B/C/E for pure electric and F/G/H/J/K for the others.
  - Large vehicles: five digits, then D or F (``粤B12345D``).
* Suffix plates: province + letter + 4 characters + one Chinese character: 警 police, 学 driving-school
  coach, 挂 trailer, 领 consulate. 港 / 澳 plates are the Guangdong–Hong Kong / Macau cross-border plates
  and are only issued as 粤Z (``粤Z1234港``).
* Embassy plates: 使 + 6 digits (3-digit embassy code + 3-digit serial), also printed as digits + 使.
* Armed police plates: WJ + (province) + 4 digits + a digit, a letter or the force's character
  (2012 plates: 边 border, 消 fire, 警 guard, 森 forest, 金 gold, 通 transport, 电 hydropower;
  ``WJ京1234消``); older plates carry no province.
"""

from __future__ import annotations

import itertools
import re
import unicodedata
from dataclasses import dataclass
from typing import Literal

PROVINCES: tuple[str, ...] = tuple("京津沪渝冀豫云辽黑湘皖鲁新苏浙赣鄂桂甘晋蒙陕吉闽贵粤青藏川宁琼")

PlateKind = Literal[
    "ordinary",
    "new_energy",
    "police",
    "coach",
    "trailer",
    "consulate",
    "hk",
    "macau",
    "embassy",
    "armed_police",
]

#: Characters OCR engines mix up, each with what it may really be. Shared with the check-digit repair
#: in the checks; which direction makes sense is left to the grammar or validator that filters results.
OCR_CONFUSIONS: dict[str, tuple[str, ...]] = {
    "O": ("0",),
    "0": ("O", "D"),
    "D": ("0",),
    "I": ("1",),
    "1": ("I",),
    "B": ("8",),
    "8": ("B",),
    "S": ("5",),
    "5": ("S",),
    "Z": ("2",),
    "2": ("Z",),
}

SUFFIX_KINDS: dict[str, PlateKind] = {
    "警": "police",
    "学": "coach",
    "挂": "trailer",
    "领": "consulate",
    "港": "hk",
    "澳": "macau",
}
#: Cross-border plates for Hong Kong and Macau vehicles are issued by Guangdong only, as 粤Z.
CROSS_BORDER_PREFIX = "粤Z"

_PROVINCE = "[" + "".join(PROVINCES) + "]"
_LETTER = "[A-HJ-NP-Z]"  # no I, no O
_SERIAL = "[A-HJ-NP-Z0-9]"
_PURE_ELECTRIC = "DABCE"
_ORDINARY = re.compile(rf"(?P<province>{_PROVINCE})(?P<authority>{_LETTER})(?P<serial>{_SERIAL}{{5}})")
_NEW_ENERGY_SMALL = re.compile(
    rf"(?P<province>{_PROVINCE})(?P<authority>{_LETTER})(?P<serial>[A-HJK]{_SERIAL}[0-9]{{4}})"
)
_NEW_ENERGY_LARGE = re.compile(
    rf"(?P<province>{_PROVINCE})(?P<authority>{_LETTER})(?P<serial>[0-9]{{5}}[DF])"
)
_SUFFIXED = re.compile(
    rf"(?P<province>{_PROVINCE})(?P<authority>{_LETTER})(?P<serial>{_SERIAL}{{4}})(?P<suffix>[警学挂领港澳])"
)
_EMBASSY = re.compile(r"使(?P<serial>[0-9]{6})|(?P<serial_first>[0-9]{6})使")
_ARMED_POLICE_FORCES = "[边消警森金通电]"
_ARMED_POLICE = re.compile(
    rf"WJ(?P<province>{_PROVINCE})?(?P<serial>[0-9]{{4}}(?:{_SERIAL}|{_ARMED_POLICE_FORCES}))"
)
_SEPARATORS = re.compile(r"[\s·•・.\-—_]+")


@dataclass(frozen=True)
class PlateFormat:
    """What a grammatical plate number is made of."""

    kind: PlateKind
    #: The normalized plate number this describes.
    number: str
    province: str | None = None
    #: 发牌机关代号: the letter after the province (A = the provincial capital, usually).
    authority: str | None = None
    serial: str = ""
    #: The Chinese character that ends suffix plates (警 学 挂 领 港 澳 使).
    suffix: str | None = None
    #: New-energy plates only: "electric" (pure electric) or "hybrid" (plug-in, range-extended, fuel cell).
    energy: Literal["electric", "hybrid"] | None = None
    #: New-energy plates only: "small" (gradient green) or "large" (yellow-green) vehicle numbering.
    size: Literal["small", "large"] | None = None


#: Plates print simplified characters, but OCR models and some vendors return traditional forms.
_TRADITIONAL = str.maketrans("粵滬貴魯閩陝遼寧瓊蘇贛晉雲學掛領", "粤沪贵鲁闽陕辽宁琼苏赣晋云学挂领")


def normalize_plate(text: str) -> str:
    """Uppercase ASCII without separators, simplified characters: ``京A·12345``, ``京 a 12345``,
    ``京Ａ－12345`` are one plate, and ``粵B12345`` is ``粤B12345``."""
    folded = unicodedata.normalize("NFKC", text).upper().translate(_TRADITIONAL)
    return _SEPARATORS.sub("", folded)


def parse_plate(number: str) -> PlateFormat | None:
    """The plate's format, or None when `number` is not a valid Chinese plate number."""
    plate = normalize_plate(number)
    for parser in (_parse_ordinary, _parse_new_energy, _parse_suffixed, _parse_embassy, _parse_armed_police):
        parsed = parser(plate)
        if parsed is not None:
            return parsed
    return None


def is_valid_plate(number: str) -> bool:
    return parse_plate(number) is not None


def candidate_repairs(text: str, max_swaps: int = 2) -> list[str]:
    """Grammatical readings of `text` reachable by undoing OCR confusions, fewest swaps first.

    A plate that already parses is returned alone (normalized). Otherwise only the readings with the
    smallest number of swaps are returned, sorted, so a caller can accept a single answer and treat
    several as ambiguous; an empty list means no reading within `max_swaps` is grammatical.
    """
    plate = normalize_plate(text)
    if parse_plate(plate) is not None:
        return [plate]
    swappable = [index for index, char in enumerate(plate) if char in OCR_CONFUSIONS]
    for swaps in range(1, max_swaps + 1):
        found = {
            candidate
            for positions in itertools.combinations(swappable, swaps)
            for candidate in _substitutions(plate, positions)
            if parse_plate(candidate) is not None
        }
        if found:
            return sorted(found)
    return []


def _substitutions(plate: str, positions: tuple[int, ...]) -> list[str]:
    choices = [OCR_CONFUSIONS[plate[index]] for index in positions]
    results = []
    for replacement in itertools.product(*choices):
        chars = list(plate)
        for index, char in zip(positions, replacement, strict=True):
            chars[index] = char
        results.append("".join(chars))
    return results


def _parse_ordinary(plate: str) -> PlateFormat | None:
    match = _ORDINARY.fullmatch(plate)
    if match is None:
        return None
    return PlateFormat("ordinary", plate, match["province"], match["authority"], match["serial"])


def _parse_new_energy(plate: str) -> PlateFormat | None:
    small = _NEW_ENERGY_SMALL.fullmatch(plate)
    if small is not None:
        serial = small["serial"]
        energy = "electric" if serial[0] in _PURE_ELECTRIC else "hybrid"
        return PlateFormat(
            "new_energy", plate, small["province"], small["authority"], serial, energy=energy, size="small"
        )
    large = _NEW_ENERGY_LARGE.fullmatch(plate)
    if large is not None:
        serial = large["serial"]
        energy = "electric" if serial[-1] == "D" else "hybrid"
        return PlateFormat(
            "new_energy", plate, large["province"], large["authority"], serial, energy=energy, size="large"
        )
    return None


def _parse_suffixed(plate: str) -> PlateFormat | None:
    match = _SUFFIXED.fullmatch(plate)
    if match is None:
        return None
    kind = SUFFIX_KINDS[match["suffix"]]
    if kind in ("hk", "macau") and not plate.startswith(CROSS_BORDER_PREFIX):
        return None
    return PlateFormat(kind, plate, match["province"], match["authority"], match["serial"], match["suffix"])


def _parse_embassy(plate: str) -> PlateFormat | None:
    match = _EMBASSY.fullmatch(plate)
    if match is None:
        return None
    return PlateFormat("embassy", plate, serial=match["serial"] or match["serial_first"], suffix="使")


def _parse_armed_police(plate: str) -> PlateFormat | None:
    match = _ARMED_POLICE.fullmatch(plate)
    if match is None:
        return None
    return PlateFormat("armed_police", plate, province=match["province"], serial=match["serial"])
