"""Checks that decide what to warn about on a recognized card or plate.

Vendors only read characters; whether the licence has expired, whether the VIN or ID number was misread,
whether a plate number can exist at all is decided here, so every vendor gets the same verdicts. Date
parsing and plate grammar live in bot/ (bot.dates, bot.plate_grammar) because vendor adapters need them
too; this module adds the check digits and the rules that turn findings into warnings.

Check digits:
* ID numbers (GB 11643-1999): digit i (1-based from the left) weighted by 2^(18-i) mod 11, that is
  7 9 10 5 8 4 2 1 6 3 7 9 10 5 8 4 2;
  the check character is ``"10X98765432"[sum mod 11]``. 15-digit numbers from before 1999 have none.
* VINs (GB 16735, same scheme as ISO 3779 / FMVSS 115): letters transliterated to numbers, weights
  8 7 6 5 4 3 2 10 0 9 8 7 6 5 4 3 2, ``sum mod 11`` at position 9 with 10 written as X. GB 16735 makes
  the check digit mandatory for Chinese VINs and 49 CFR 565 for North American ones; elsewhere (a
  European or Japanese import) position 9 may be any character, so those VINs are neither checked nor
  "repaired": one look-alike swap makes about one in ten of them pass by chance.

A Warning's `params` hold what a localized reply needs; ID numbers appear only masked, never in full.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Mapping
from datetime import date

from bot.dates import add_years, find_dates, make_date, parse_inspection_until, period_end
from bot.models import (
    LICENCE_CLASS_CODES,
    Document,
    DrivingLicence,
    DrivingLicenceBack,
    Plate,
    Recognition,
    Repair,
    Severity,
    VehicleLicenceBack,
    VehicleLicenceFront,
    Warning,
)
from bot.plate_grammar import OCR_CONFUSIONS, normalize_plate, parse_plate
from handlers.masking import mask_id, value_key

ID_WEIGHTS: tuple[int, ...] = tuple(2 ** (18 - position) % 11 for position in range(1, 18))
ID_CHECK_CHARACTERS = "10X98765432"
VIN_WEIGHTS: tuple[int, ...] = (8, 7, 6, 5, 4, 3, 2, 10, 0, 9, 8, 7, 6, 5, 4, 3, 2)
VIN_CHECK_POSITION = 9  # 1-based, as GB 16735 counts
VIN_VALUES: dict[str, int] = {str(digit): digit for digit in range(10)} | {
    **dict(zip("ABCDEFGH", range(1, 9), strict=True)),
    **dict(zip("JKLMN", range(1, 6), strict=True)),
    "P": 7,
    "R": 9,
    **dict(zip("STUVWXYZ", range(2, 10), strict=True)),
}
#: A card field read with less confidence than this (vendors' confidences are normalized to 0..1) is
#: named in a warning, so the user compares it with the card. Measured on the embedded engine over the
#: rendered development sets (2222 fields read): under 0.6, 14 of 32 values were wrong; at or above it,
#: 15 of 2190. The confident misreads left are whole glyphs read as others, which no score catches.
DOUBTFUL_CONFIDENCE = 0.6
#: The same for a plate in a plate photo. Measured on the embedded engine's leading read of each of the
#: 1109 labelled real photos: under 0.3, 79 of the 84 wrong reads, and 130 of the 1022 right ones (most
#: of them 94×24 crops, whose province glyph is the weakest read).
DOUBTFUL_PLATE_CONFIDENCE = 0.3
#: Youngest age at which anyone can first be licensed (light motorcycles, mopeds).
MIN_LICENCE_AGE = 16
CHINESE_NATIONALITIES = frozenset({"中国", "中华人民共和国", "中國", "CHN", "CHINA", "PRC", "CN"})

_ID_18 = re.compile(r"[0-9]{17}[0-9X]")
_ID_15 = re.compile(r"[0-9]{15}")
_VIN = re.compile(r"[A-HJ-NPR-Z0-9]{17}")
#: The first VIN character (the world region of its maker's code) where the check digit is mandatory:
#: China (L) and North America (1-5).
CHECKED_VIN_REGIONS = frozenset("L12345")
_CLASS_SEPARATORS = re.compile(r"[\s,，、/;；·]+")
_PROBATION = re.compile(r"实习期[^0-9]{0,6}")
_FIELD_LABELS = {
    "number": "licence number",
    "vin": "VIN",
    "plate_number": "plate number",
    "birth_date": "birth date",
    "first_issue_date": "first issue date",
    "valid_from": "start of validity",
    "valid_to": "end of validity",
    "register_date": "registration date",
    "issue_date": "issue date",
    "today": "today",
}


# --- check digits ---------------------------------------------------------------------------------------


def id_check_digit(first17: str) -> str:
    """The GB 11643 check character for the first 17 digits of an ID number."""
    if not re.fullmatch(r"[0-9]{17}", first17):
        raise ValueError("an ID number's check digit needs exactly 17 ASCII digits")
    total = sum(int(digit) * weight for digit, weight in zip(first17, ID_WEIGHTS, strict=True))
    return ID_CHECK_CHARACTERS[total % 11]


def id_number_valid(number: str) -> bool:
    """18 characters with a matching check digit, or a legacy 15-digit number; the birth date must exist."""
    number = number.upper()
    if _ID_18.fullmatch(number):
        return id_birth_date(number) is not None and id_check_digit(number[:17]) == number[17]
    if _ID_15.fullmatch(number):
        return id_birth_date(number) is not None
    return False


def id_birth_date(number: str) -> date | None:
    """Birth date encoded in an ID number (15-digit numbers carry a 2-digit year in the 1900s)."""
    if _ID_18.fullmatch(number.upper()):
        return make_date(int(number[6:10]), int(number[10:12]), int(number[12:14]))
    if _ID_15.fullmatch(number):
        return make_date(1900 + int(number[6:8]), int(number[8:10]), int(number[10:12]))
    return None


def id_sex(number: str) -> str | None:
    """Sex from the sequence code (odd = male): the 17th digit of 18, or the last of 15."""
    number = number.upper()
    if _ID_18.fullmatch(number):
        return "male" if int(number[16]) % 2 else "female"
    if _ID_15.fullmatch(number):
        return "male" if int(number[14]) % 2 else "female"
    return None


def vin_check_digit(vin: str) -> str:
    """The check character a 17-character VIN should carry at position 9 (its own value is ignored)."""
    vin = vin.upper()
    if len(vin) != 17:
        raise ValueError("a VIN has 17 characters")
    total = 0
    for position, (char, weight) in enumerate(zip(vin, VIN_WEIGHTS, strict=True), start=1):
        if position == VIN_CHECK_POSITION:
            continue
        if char not in VIN_VALUES:
            raise ValueError(f"a VIN cannot contain {char!r} (position {position})")
        total += VIN_VALUES[char] * weight
    remainder = total % 11
    return "X" if remainder == 10 else str(remainder)


def vin_valid(vin: str) -> bool:
    """17 characters without I, O or Q, and the check digit at position 9 matches."""
    vin = vin.upper()
    if not _VIN.fullmatch(vin):
        return False
    return vin_check_digit(vin) == vin[VIN_CHECK_POSITION - 1]


def repair_check_digit(
    value: str,
    validator: Callable[[str], bool],
    confusions: Mapping[str, tuple[str, ...]] = OCR_CONFUSIONS,
) -> str | None:
    """Undo one OCR confusion (O/0, I/1, B/8, S/5, Z/2, D/0) so that `validator` passes.

    Every single swap at every position is tried, in both directions; the validator rejects the swaps
    that make no sense for its charset (a letter in an ID number, an O in a VIN). The repair is returned
    only when exactly one distinct candidate passes: with two, we cannot know which character was misread,
    and guessing would silently change a personal number. A value that already passes is returned as is.
    """
    if validator(value):
        return value
    upper = value.upper()
    candidates = {
        upper[:index] + replacement + upper[index + 1 :]
        for index, char in enumerate(upper)
        for replacement in confusions.get(char, ())
    }
    passing = [candidate for candidate in candidates if validator(candidate)]
    return passing[0] if len(passing) == 1 else None


def valid_licence_class(text: str) -> bool:
    """True for a class code or a concatenation of them (``C1``, ``C1E``, ``A2D``, ``B1B2``)."""
    folded = _CLASS_SEPARATORS.sub("", unicodedata.normalize("NFKC", text).upper())
    return bool(LICENCE_CLASS_CODES.fullmatch(folded))


# --- run_checks -----------------------------------------------------------------------------------------


def run_checks(
    recognition: Recognition,
    *,
    today: date,
    expiry_warning_days: int = 90,
    probation_months: int = 12,
) -> Recognition:
    """A copy of `recognition` with repairs applied, derived fields filled and our warnings appended.

    The input is left untouched so a caller (or the cache) still holds exactly what the vendor said.
    Checks only replace the document's field values and extend the repairs and warnings, so those are
    what gets copied; a deep copy would also clone the vendor's raw answer, on every reply.
    """
    document_copy = recognition.document.model_copy() if recognition.document is not None else None
    result = recognition.model_copy(update={"document": document_copy, "repairs": list(recognition.repairs)})
    document = result.document
    findings: list[Warning] = []
    if isinstance(document, DrivingLicence):
        findings += _check_id_field(document, result.repairs, document.nationality)
        findings += _check_driving_licence(document, today, expiry_warning_days, probation_months)
    elif isinstance(document, DrivingLicenceBack):
        findings += _check_id_field(document, result.repairs, None)
        findings += _check_probation_record(document.record, today)
    elif isinstance(document, VehicleLicenceFront):
        findings += _check_vin(document, result.repairs)
        findings += _check_plate_number(document.plate_number)
        findings += _check_vehicle_front_dates(document, today)
    elif isinstance(document, VehicleLicenceBack):
        findings += _check_inspection(document, today, expiry_warning_days)
        findings += _check_plate_number(document.plate_number)
    if document is not None:
        findings += _check_unread(document)
        findings += _check_confidence(document, findings)
    findings += _check_plates(result.plates)
    result.warnings = [*result.warnings, *findings]
    return result


def _check_unread(document: Document) -> list[Warning]:
    """One warning naming the printed fields that came back empty. Left out of the reply silently, a
    field the photo did not show reads as a field the card does not have; named, it tells the sender
    what to retake. Runs after the licence number has filled what it can."""
    unread = [value_key(document, name) for name in document.unread_fields()]
    if not unread:
        return []
    names = ", ".join(_label(name) for name in unread)
    return [
        _warning(
            "unread_fields",
            Severity.WARNING,
            f"Could not read: {names}. Fill the frame with the card, keep it sharp and away from glare, "
            "and retake the photo.",
            fields=unread,
        )
    ]


def _check_confidence(document: Document, findings: list[Warning]) -> list[Warning]:
    """A warning for each field shown that its vendor read with little confidence, unless another
    warning already names that field (a failed check digit says more)."""
    named = {warning.params.get("field") for warning in findings}
    values = document.values()
    # Vendors key `meta` by attribute (class_) or by the name values() uses (class); both mean one field.
    doubtful = {
        value_key(document, field)
        for field, meta in document.meta.items()
        if meta.confidence is not None and meta.confidence < DOUBTFUL_CONFIDENCE
    }
    return [
        _warning(
            "doubtful_field",
            Severity.WARNING,
            f"The {_label(field)} was hard to read and may be misread; please compare it with the card.",
            field=field,
        )
        for field, value in values.items()
        if field in doubtful and value not in (None, "") and field not in named
    ]


def _warning(code: str, severity: Severity, message: str, **params: object) -> Warning:
    return Warning(code=code, severity=severity, message=message, params=params)


def _label(field: str) -> str:
    return _FIELD_LABELS.get(field, field.replace("_", " "))


def _in_days(days: int) -> str:
    if days == 0:
        return "today"
    return "tomorrow" if days == 1 else f"in {days} days"


def _repaired_warning(field: str, before: str, after: str) -> Warning:
    position = next(
        index for index, (old, new) in enumerate(zip(before.upper(), after, strict=True)) if old != new
    )
    return _warning(
        "repaired",
        Severity.INFO,
        f"One character of the {_label(field)} (position {position + 1}) looked misread and was corrected, "
        "because exactly one correction makes its check digit pass.",
        field=field,
        position=position + 1,
    )


def _try_repair(
    document: DrivingLicence | DrivingLicenceBack | VehicleLicenceFront,
    field: str,
    validator: Callable[[str], bool],
    repairs: list[Repair],
) -> Warning | None:
    """Apply a unique check-digit repair to `field`; return the info warning saying so, or None."""
    before = getattr(document, field)
    after = repair_check_digit(before, validator)
    if after is None or after == before or validator(before):
        return None
    setattr(document, field, after)
    repairs.append(Repair(field=field, before=before, after=after))
    return _repaired_warning(field, before, after)


def _looks_like_id_number(number: str) -> bool:
    """Numbers of foreign or Hong Kong/Macau/Taiwan holders (passport, permit) are not GB 11643 numbers."""
    return 15 <= len(number) <= 19 and sum(char.isdigit() for char in number) >= 14


def _check_id_field(
    document: DrivingLicence | DrivingLicenceBack, repairs: list[Repair], nationality: str | None
) -> list[Warning]:
    number = (document.number or "").strip()
    if not number or not _looks_like_id_number(number):
        return []
    if nationality and nationality.strip().upper() not in CHINESE_NATIONALITIES:
        return []
    if id_number_valid(number):
        return [*_filled_from_number(document), *_check_id_against_fields(document)]
    repaired = _try_repair(document, "number", id_number_valid, repairs)
    if repaired is not None:
        return [repaired, *_filled_from_number(document), *_check_id_against_fields(document)]
    masked = mask_id(number)  # what a warning may show of a personal number: the stored row's masking
    return [
        _warning(
            "id_checksum_mismatch",
            Severity.WARNING,
            f"The licence number {masked} is not a valid ID number (GB 11643 check digit or birth date).",
            field="number",
            value_masked=masked,
        )
    ]


def _normalized_sex(value: str | None) -> str | None:
    text = (value or "").strip().upper()
    if text.startswith("男") or text in ("M", "MALE"):
        return "male"
    if text.startswith("女") or text in ("F", "FEMALE"):
        return "female"
    return None


def _filled_from_number(document: DrivingLicence | DrivingLicenceBack) -> list[Warning]:
    """A birth date or sex the photo did not give (glare, a label lost with its value) taken from the
    licence number, which encodes both (GB 11643) and whose check digit has just passed; an info
    warning says which field was not read but worked out, without its value."""
    if not isinstance(document, DrivingLicence) or document.number is None:
        return []
    filled = []
    birth = id_birth_date(document.number)
    if document.birth_date is None and birth is not None:
        document.birth_date = birth
        filled.append("birth_date")
    sex = id_sex(document.number)
    if not (document.sex or "").strip() and sex is not None:
        document.sex = "男" if sex == "male" else "女"
        filled.append("sex")
    return [
        _warning(
            "filled_from_number",
            Severity.INFO,
            f"The {_label(field)} could not be read from the photo; it was taken from the licence number.",
            field=field,
        )
        for field in filled
    ]


def _check_id_against_fields(document: DrivingLicence | DrivingLicenceBack) -> list[Warning]:
    if not isinstance(document, DrivingLicence) or document.number is None:
        return []
    findings = []
    encoded_birth = id_birth_date(document.number)
    if document.birth_date is not None and encoded_birth is not None and encoded_birth != document.birth_date:
        findings.append(
            _warning(
                "id_birth_mismatch",
                Severity.WARNING,
                "The birth date encoded in the licence number differs from the printed birth date.",
            )
        )
    printed_sex = _normalized_sex(document.sex)
    encoded_sex = id_sex(document.number)
    if printed_sex is not None and encoded_sex is not None and printed_sex != encoded_sex:
        findings.append(
            _warning(
                "id_sex_mismatch",
                Severity.WARNING,
                "The sex encoded in the licence number differs from the printed sex.",
            )
        )
    return findings


def _check_driving_licence(
    licence: DrivingLicence, today: date, expiry_warning_days: int, probation_months: int
) -> list[Warning]:
    findings = []
    if licence.class_ and not valid_licence_class(licence.class_):
        findings.append(
            _warning(
                "class_unknown",
                Severity.WARNING,
                f"The licence class {licence.class_!r} is not a known class code.",
                value=licence.class_,
            )
        )
    findings += _check_licence_expiry(licence, today, expiry_warning_days)
    findings += _check_probation_from_first_issue(licence.first_issue_date, today, probation_months)
    findings += _check_driving_dates(licence, today)
    return findings


def _check_licence_expiry(licence: DrivingLicence, today: date, warning_days: int) -> list[Warning]:
    if licence.long_term or licence.valid_to is None:
        return []
    valid_to = licence.valid_to
    days_left = (valid_to - today).days
    if days_left < 0:
        return [
            _warning(
                "licence_expired",
                Severity.ERROR,
                f"The driving licence expired on {valid_to.isoformat()}.",
                valid_to=valid_to.isoformat(),
            )
        ]
    if days_left <= warning_days:
        return [
            _warning(
                "licence_expiring",
                Severity.WARNING,
                f"The driving licence expires on {valid_to.isoformat()}, {_in_days(days_left)}.",
                valid_to=valid_to.isoformat(),
                days_left=days_left,
            )
        ]
    return []


def _probation_warning(until: date) -> Warning:
    return _warning(
        "probation",
        Severity.WARNING,
        f"The driver is in the probation period (实习期) until {until.isoformat()}.",
        until=until.isoformat(),
    )


def _check_probation_from_first_issue(
    first_issue: date | None, today: date, probation_months: int
) -> list[Warning]:
    """Probation is the 12 months after the first issue (公安部令第162号, art. 77), counted in calendar
    months: a count of days would end it a day early whenever the year holds a 29 February."""
    if first_issue is None or probation_months <= 0 or first_issue > today:
        return []
    until = period_end(first_issue, probation_months)
    return [_probation_warning(until)] if until >= today else []


def _check_probation_record(record: str | None, today: date) -> list[Warning]:
    """The 副页 record states the probation end itself: ``实习期至2025年05月09日``."""
    if not record:
        return []
    ends = [day for match in _PROBATION.finditer(record) for day in find_dates(record[match.end() :])[:1]]
    if not ends:
        return []
    until = max(ends)
    return [_probation_warning(until)] if until >= today else []


def _date_inconsistent(first: str, second: str, message: str) -> Warning:
    return _warning("date_inconsistent", Severity.WARNING, message, first=first, second=second)


def _order_warning(
    first: str, first_date: date | None, second: str, second_date: date | None, *, strict: bool
) -> list[Warning]:
    """A warning when `first` is not before (`strict`) or not on-or-before `second`."""
    if first_date is None or second_date is None:
        return []
    in_order = first_date < second_date if strict else first_date <= second_date
    if in_order:
        return []
    relation = "before" if strict else "on or before"
    return [
        _date_inconsistent(
            first,
            second,
            f"The {_label(first)} ({first_date.isoformat()}) should be {relation} the {_label(second)} "
            f"({second_date.isoformat()}).",
        )
    ]


def _future_warnings(fields: dict[str, date | None], today: date) -> list[Warning]:
    """A warning per date later than today: no card prints one, so a glyph was misread. The birth date
    is personal, and the message is kept in the session log whatever `store_fields` says, so it is
    named without its value."""
    return [
        _warning(
            "date_in_future",
            Severity.WARNING,
            f"The {_label(name)}{_shown_date(name, value)} is later than today ({today.isoformat()}).",
            field=name,
        )
        for name, value in fields.items()
        if value is not None and value > today
    ]


def _shown_date(field: str, value: date) -> str:
    """`` (2024-03-01)`` for a message, or nothing for the birth date (see `_future_warnings`)."""
    return "" if field == "birth_date" else f" ({value.isoformat()})"


def _check_driving_dates(licence: DrivingLicence, today: date) -> list[Warning]:
    findings = _check_age_at_first_issue(licence.birth_date, licence.first_issue_date)
    findings += _order_warning(
        "first_issue_date", licence.first_issue_date, "valid_from", licence.valid_from, strict=False
    )
    findings += _order_warning("valid_from", licence.valid_from, "valid_to", licence.valid_to, strict=True)
    findings += _future_warnings(
        {
            "birth_date": licence.birth_date,
            "first_issue_date": licence.first_issue_date,
            "valid_from": licence.valid_from,
        },
        today,
    )
    return findings


def _check_age_at_first_issue(birth: date | None, first_issue: date | None) -> list[Warning]:
    """One warning for the pair: born after the first issue, or licensed younger than anyone can be."""
    if birth is None or first_issue is None or add_years(birth, MIN_LICENCE_AGE) <= first_issue:
        return []
    return [
        _date_inconsistent(
            "birth_date",
            "first_issue_date",
            f"The first issue date ({first_issue.isoformat()}) is less than {MIN_LICENCE_AGE} years after "
            "the birth date.",
        )
    ]


def _check_vin(vehicle: VehicleLicenceFront, repairs: list[Repair]) -> list[Warning]:
    vin = (vehicle.vin or "").strip()
    if not vin or vin_valid(vin):
        return []
    if _VIN.fullmatch(vin.upper()) and vin[0].upper() not in CHECKED_VIN_REGIONS:
        return []  # a well-formed import whose maker need not print a check digit
    repaired = _try_repair(vehicle, "vin", vin_valid, repairs)
    if repaired is not None:
        return [repaired]
    if _VIN.fullmatch(vin.upper()):
        detail = (
            f"its check digit (9th character) is {vin[8].upper()!r} but should be {vin_check_digit(vin)!r}"
        )
    else:
        detail = "it is not 17 characters of digits and letters other than I, O and Q"
    return [
        _warning(
            "vin_checksum_mismatch",
            Severity.WARNING,
            f"The VIN {vin} may be misread: {detail}.",
            field="vin",
        )
    ]


def _check_vehicle_front_dates(vehicle: VehicleLicenceFront, today: date) -> list[Warning]:
    findings = _order_warning(
        "register_date", vehicle.register_date, "issue_date", vehicle.issue_date, strict=False
    )
    findings += _future_warnings(
        {"register_date": vehicle.register_date, "issue_date": vehicle.issue_date}, today
    )
    return findings


def _check_inspection(vehicle: VehicleLicenceBack, today: date, warning_days: int) -> list[Warning]:
    derived = parse_inspection_until(vehicle.inspection_record)
    if derived is not None:
        vehicle.inspection_valid_until = derived
    until = vehicle.inspection_valid_until
    if until is None:
        return []
    days_left = (until - today).days
    if days_left < 0:
        return [
            _warning(
                "inspection_overdue",
                Severity.ERROR,
                f"The vehicle inspection was valid until {until.isoformat()} and is overdue.",
                until=until.isoformat(),
            )
        ]
    if days_left <= warning_days:
        return [
            _warning(
                "inspection_due",
                Severity.WARNING,
                f"The vehicle inspection is due by {until.isoformat()}, {_in_days(days_left)}.",
                until=until.isoformat(),
                days_left=days_left,
            )
        ]
    return []


def _plate_warning(number: str, **extra: object) -> Warning:
    return _warning(
        "plate_grammar_mismatch",
        Severity.WARNING,
        f"The plate number {number} is not a valid Chinese plate number; it may be misread.",
        field="plate_number",
        value=number,
        **extra,
    )


def _check_plate_number(number: str | None) -> list[Warning]:
    if not number or not number.strip():
        return []
    return [] if parse_plate(number) is not None else [_plate_warning(normalize_plate(number))]


def _check_plates(plates: list[Plate]) -> list[Warning]:
    """A plate that cannot exist, or failing that one read with little confidence, is named."""
    warnings = []
    for index, plate in enumerate(plates):
        if not plate.number.strip():
            continue
        if parse_plate(plate.number) is None:
            warnings.append(_plate_warning(normalize_plate(plate.number), index=index))
        elif plate.confidence is not None and plate.confidence < DOUBTFUL_PLATE_CONFIDENCE:
            warnings.append(
                _warning(
                    "doubtful_plate",
                    Severity.WARNING,
                    f"The plate number {plate.number} was hard to read and may be misread; please check it.",
                    field="plate_number",
                    value=plate.number,
                    index=index,
                )
            )
    return warnings
