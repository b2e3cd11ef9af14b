"""Check digits, licence classes, repairs and the warnings run_checks adds.

Check-digit vectors are public examples computed by hand in the docstrings, so the tests do not trust
the code they test; the property tests then use the code only to build many inputs.
"""

from __future__ import annotations

import json
import random
from collections.abc import Callable
from datetime import date, timedelta

import pytest

from bot.models import (
    LICENCE_CLASSES,
    DrivingLicence,
    DrivingLicenceBack,
    FieldMeta,
    Plate,
    Recognition,
    Severity,
    VehicleLicenceBack,
    VehicleLicenceFront,
    Warning,
)
from handlers.checks import (
    DOUBTFUL_CONFIDENCE,
    DOUBTFUL_PLATE_CONFIDENCE,
    id_birth_date,
    id_check_digit,
    id_number_valid,
    id_sex,
    repair_check_digit,
    run_checks,
    valid_licence_class,
    vin_check_digit,
    vin_valid,
)

GB_EXAMPLE_ID = "11010519491231002X"
TODAY = date(2025, 6, 1)
VALID_VIN = "LFV2A21K1C4000001"

# --- ID numbers -----------------------------------------------------------------------------------------


def test_id_check_digit_gb_11643_example() -> None:
    """GB 11643-1999's example 11010519491231002X, by hand.

    digits  1  1  0  1  0  5  1  9  4  9  1  2  3  1  0  0  2
    weights 7  9 10  5  8  4  2  1  6  3  7  9 10  5  8  4  2
    products 7+9+0+5+0+20+2+9+24+27+7+18+30+5+0+0+4 = 167; 167 mod 11 = 2; "10X98765432"[2] = X.
    """
    assert id_check_digit("11010519491231002") == "X"


def test_id_check_digit_second_gb_example() -> None:
    """GB 11643-1999's other example 440524188001010014 (born 1880-01-01), by hand.

    digits  4  4  0  5  2  4  1  8  8  0  0  1  0  1  0  0  1
    products 28+36+0+25+16+16+2+8+48+0+0+9+0+5+0+0+2 = 195; 195 mod 11 = 8; "10X98765432"[8] = 4.
    """
    assert id_check_digit("44052418800101001") == "4"


@pytest.mark.parametrize(
    "bad",
    ["1101051949123100", "110105194912310021", "1101051949123100A", "１１０１０５１９４９１２３１００２"],
)
def test_id_check_digit_needs_17_ascii_digits(bad: str) -> None:
    with pytest.raises(ValueError):
        id_check_digit(bad)


@pytest.mark.parametrize(
    "number", [GB_EXAMPLE_ID, GB_EXAMPLE_ID.lower(), "440524188001010014", "110105491231002"]
)
def test_valid_id_numbers(number: str) -> None:
    assert id_number_valid(number)


@pytest.mark.parametrize(
    "number",
    [
        "110105194912310021",  # wrong check digit
        "11010519491231002Y",
        "11010519491231002",  # 17 characters
        "1101051949123100200",
        "11O10519491231002X",  # a letter where a digit belongs
        "110105491331002",  # 15-digit legacy number with month 13
        "",
    ],
)
def test_invalid_id_numbers(number: str) -> None:
    assert not id_number_valid(number)


def test_id_number_with_impossible_birth_date_is_invalid_even_with_matching_check_digit() -> None:
    first17 = "110105" + "19490230" + "002"  # February 30th
    assert not id_number_valid(first17 + id_check_digit(first17))


def test_id_birth_date_and_sex() -> None:
    """The 17th digit of 11010519491231002X is 2 (even: female); 440524188001010014's is 1 (male)."""
    assert id_birth_date(GB_EXAMPLE_ID) == date(1949, 12, 31)
    assert id_sex(GB_EXAMPLE_ID) == "female"
    assert id_birth_date("440524188001010014") == date(1880, 1, 1)
    assert id_sex("440524188001010014") == "male"
    assert id_birth_date("110105491231002") == date(1949, 12, 31)  # 15 digits: 2-digit year in the 1900s
    assert id_sex("110105491231002") == "female"
    assert id_sex("not a number") is None


@pytest.mark.parametrize(
    ("number", "masked"),
    [("110105194913310022", "110105********0022"), ("110105491331002", "110105******002")],
)
def test_a_bad_id_number_is_shown_in_its_warning_masked_as_the_session_log_masks_it(number, masked) -> None:
    licence = DrivingLicence(number=number, name="王芳", nationality="中国")
    checked = run_checks(Recognition(kind="driving", vendor="x", document=licence), today=date(2026, 1, 1))
    [warning] = [w for w in checked.warnings if w.code == "id_checksum_mismatch"]
    assert warning.params["value_masked"] == masked  # a 15-digit number's birth day stays hidden
    assert number not in warning.message


# --- VINs -----------------------------------------------------------------------------------------------


def test_vin_check_digit_public_example_is_x() -> None:
    """1M8GDM9AXKP042788, the example in the VIN standards' commentary, by hand.

    values  1 M=4 8 G=7 D=4 M=4 9 A=1 (X) K=2 P=7 0 4 2 7 8 8
    weights 8  7  6  5   4   3  2 10  0   9   8  7 6 5 4 3 2
    products 8+28+48+35+16+12+18+10+0+18+56+0+24+10+28+24+16 = 351; 351 mod 11 = 10, written X.
    """
    assert vin_check_digit("1M8GDM9AXKP042788") == "X"
    assert vin_valid("1M8GDM9AXKP042788")


def test_vin_check_digit_chinese_style_vin() -> None:
    """LFV2A21K?C4000001, by hand: L=3 F=6 V=5 2 A=1 2 1 K=2 (?) C=3 4 0 0 0 0 0 1.

    products 24+42+30+10+4+6+2+20+0+27+32+0+0+0+0+0+2 = 199; 199 mod 11 = 1.
    """
    assert vin_check_digit("LFV2A21K0C4000001") == "1"
    assert vin_valid(VALID_VIN)


def test_vin_all_ones_is_valid() -> None:
    """Sum of the weights is 89 and 89 mod 11 = 1, so 17 ones carry their own check digit."""
    assert vin_valid("11111111111111111")


@pytest.mark.parametrize(
    "vin",
    [
        "1M8GDM9A5KP042788",  # wrong check digit
        "LFV2A21K1C400000",  # 16 characters
        "LFV2A21K1C40000011",
        "LFV2A21K1C4O00001",  # O is not a VIN character
        "IFV2A21K1C4000001",
        "QFV2A21K1C4000001",
        "",
    ],
)
def test_invalid_vins(vin: str) -> None:
    assert not vin_valid(vin)


def test_vin_check_digit_rejects_bad_input() -> None:
    with pytest.raises(ValueError):
        vin_check_digit("LFV2A21K1C4O00001")
    with pytest.raises(ValueError):
        vin_check_digit("LFV2A21K1C400000")


# --- repairs --------------------------------------------------------------------------------------------


def test_repair_requires_exactly_one_passing_candidate() -> None:
    """Two readings pass -> no repair: we cannot know which character was misread."""
    assert repair_check_digit("BB", lambda value: value == "8B") == "8B"
    assert repair_check_digit("BB", lambda value: value in {"8B", "B8"}) is None
    assert repair_check_digit("BB", lambda value: False) is None


def test_repair_leaves_a_valid_value_alone() -> None:
    assert repair_check_digit(GB_EXAMPLE_ID, id_number_valid) == GB_EXAMPLE_ID


def test_repair_does_not_fix_two_misreads() -> None:
    assert repair_check_digit("11O1O519491231002X", id_number_valid) is None


def _random_id(rng: random.Random) -> str:
    birth = date(1940, 1, 1) + timedelta(days=rng.randrange(30000))
    first17 = f"{rng.randrange(110000, 660000)}{birth:%Y%m%d}{rng.randrange(1000):03d}"
    return first17 + id_check_digit(first17)


DIGIT_MISREADS = {"0": ("O", "D"), "1": ("I",), "8": ("B",), "5": ("S",), "2": ("Z",)}


def test_random_ids_every_confusable_swap_is_repaired_back() -> None:
    """Property: in an ID number a letter can only be one digit, so each single misread is undone."""
    rng = random.Random(11643)
    for _ in range(60):
        number = _random_id(rng)
        assert id_number_valid(number)
        for position, digit in enumerate(number):
            for letter in DIGIT_MISREADS.get(digit, ()):
                misread = number[:position] + letter + number[position + 1 :]
                assert repair_check_digit(misread, id_number_valid) == number


def _random_vin(rng: random.Random) -> str:
    chars = "ABCDEFGHJKLMNPRSTUVWXYZ0123456789"
    body = "".join(rng.choice(chars) for _ in range(17))
    return body[:8] + vin_check_digit(body) + body[9:]


def test_random_vins_forbidden_letters_are_repaired_back() -> None:
    """Property: O and I never occur in a VIN, so a 0 read as O or a 1 read as I is undone uniquely."""
    rng = random.Random(16735)
    repaired = 0
    while repaired < 150:
        vin = _random_vin(rng)
        positions = [index for index, char in enumerate(vin) if char in "01"]
        if not positions:
            continue
        position = rng.choice(positions)
        misread = vin[:position] + {"0": "O", "1": "I"}[vin[position]] + vin[position + 1 :]
        assert repair_check_digit(misread, vin_valid) == vin
        repaired += 1


def test_random_vins_a_swap_is_undone_or_left_alone_never_changed_wrongly() -> None:
    """Property: when the true VIN is among the candidates, a unique answer can only be the true VIN."""
    rng = random.Random(3779)
    swaps = {"0": "D", "D": "0", "8": "B", "B": "8", "5": "S", "S": "5", "2": "Z", "Z": "2"}
    for _ in range(150):
        vin = _random_vin(rng)
        positions = [index for index, char in enumerate(vin) if char in swaps and index != 8]
        if not positions:
            continue
        position = rng.choice(positions)
        misread = vin[:position] + swaps[vin[position]] + vin[position + 1 :]
        if vin_valid(misread):
            continue  # the swap happened to keep the check digit: nothing to detect
        assert repair_check_digit(misread, vin_valid) in (vin, None)


# --- licence classes ------------------------------------------------------------------------------------


def test_licence_classes_are_the_17_codes() -> None:
    expected = {
        "A1",
        "A2",
        "A3",
        "B1",
        "B2",
        "C1",
        "C2",
        "C3",
        "C4",
        "C5",
        "C6",
        "D",
        "E",
        "F",
        "M",
        "N",
        "P",
    }
    assert len(LICENCE_CLASSES) == 17
    assert set(LICENCE_CLASSES) == expected


@pytest.mark.parametrize(
    "text", [*LICENCE_CLASSES, "C1E", "A2D", "B1B2", "A1A2", "C1 E", "c1", "Ｃ１", "A2、D"]
)
def test_valid_licence_classes(text: str) -> None:
    assert valid_licence_class(text)


@pytest.mark.parametrize("text", ["", "A", "A4", "B3", "C7", "C", "G", "Z9", "C1X", "小型汽车"])
def test_invalid_licence_classes(text: str) -> None:
    assert not valid_licence_class(text)


# --- run_checks: fixtures -------------------------------------------------------------------------------


def driving(**overrides: object) -> Recognition:
    if "class_" in overrides:
        overrides["class"] = overrides.pop("class_")
    fields = {
        "number": GB_EXAMPLE_ID,
        "name": "王小红",
        "sex": "女",
        "nationality": "中国",
        "address": "北京市东城区景山前街4号",
        "birth_date": date(1949, 12, 31),
        "first_issue_date": date(2000, 5, 1),
        "class": "C1",
        "valid_from": date(2014, 12, 25),
        "valid_to": date(2030, 12, 25),
    } | overrides
    return Recognition(kind="driving", vendor="fake", document=DrivingLicence.model_validate(fields))


def driving_back(record: str | None = None, number: str = GB_EXAMPLE_ID) -> Recognition:
    document = DrivingLicenceBack(number=number, name="王小红", file_number="110100123456", record=record)
    return Recognition(kind="driving", side="back", vendor="fake", document=document)


def vehicle_front(**overrides: object) -> Recognition:
    fields = {
        "plate_number": "京A12345",
        "vehicle_type": "小型轿车",
        "owner": "王小红",
        "address": "北京市东城区景山前街4号",
        "use_character": "非营运",
        "model": "大众汽车牌SVW71612BM",
        "vin": VALID_VIN,
        "engine_number": "A123456",
        "register_date": date(2012, 3, 1),
        "issue_date": date(2012, 3, 1),
    } | overrides
    return Recognition(kind="vehicle", vendor="fake", document=VehicleLicenceFront.model_validate(fields))


def vehicle_back(record: str | None = "检验有效期至2026年03月京A(01)", **overrides: object) -> Recognition:
    fields = {
        "plate_number": "京A12345",
        "file_number": "110100123456",
        "total_mass": "1880kg",
        "curb_weight": "1430kg",
        "dimensions": "4760×1820×1460mm",
        "inspection_record": record,
    } | overrides
    return Recognition(
        kind="vehicle", side="back", vendor="fake", document=VehicleLicenceBack.model_validate(fields)
    )


def plates(*numbers: str) -> Recognition:
    return Recognition(kind="plate", vendor="fake", plates=[Plate(number=number) for number in numbers])


def codes(recognition: Recognition) -> list[str]:
    return [warning.code for warning in recognition.warnings]


def only(recognition: Recognition, code: str) -> Warning:
    matching = [warning for warning in recognition.warnings if warning.code == code]
    assert len(matching) == 1, codes(recognition)
    return matching[0]


# --- run_checks: clean models produce nothing -----------------------------------------------------------


@pytest.mark.parametrize(
    "recognition",
    [
        driving(),
        driving(long_term=True, valid_to=None),
        driving_back(),
        driving_back("实习期至2024年05月09日"),  # probation already over
        vehicle_front(),
        vehicle_back(),
        plates("京A12345", "粤B12345D", "WJ京1234X"),
        Recognition(kind="plate", vendor="fake"),
        Recognition(kind="driving", vendor="fake"),
    ],
)
def test_clean_models_get_no_warnings(recognition: Recognition) -> None:
    checked = run_checks(recognition, today=TODAY)
    assert checked.warnings == []
    assert checked.repairs == []


def test_run_checks_returns_a_copy_and_keeps_vendor_warnings_first() -> None:
    vendor_warning = Warning(code="copy", severity=Severity.WARNING, message="The image is a photocopy.")
    original = driving(valid_to=TODAY - timedelta(days=1), number="11O10519491231002X")
    original.warnings.append(vendor_warning)
    snapshot = original.model_dump()
    checked = run_checks(original, today=TODAY)
    assert checked is not original
    assert original.model_dump() == snapshot
    assert checked.warnings[0] == vendor_warning
    assert {"licence_expired", "repaired"} <= set(codes(checked))


def test_every_param_is_json_safe() -> None:
    recognitions = [
        driving(valid_to=TODAY + timedelta(days=3), first_issue_date=TODAY - timedelta(days=3), class_="Z9"),
        vehicle_back("检验有效期至2025年06月"),
        vehicle_front(vin="1M8GDM9A5KP042788", plate_number="京I12345"),
    ]
    for recognition in recognitions:
        for warning in run_checks(recognition, today=TODAY).warnings:
            assert json.loads(json.dumps(warning.params)) == warning.params
            assert warning.message.endswith(".")


# --- licence expiry -------------------------------------------------------------------------------------


def test_licence_expired_the_day_after_valid_to() -> None:
    warning = only(run_checks(driving(valid_to=date(2025, 5, 31)), today=TODAY), "licence_expired")
    assert warning.severity is Severity.ERROR
    assert warning.params == {"valid_to": "2025-05-31"}
    assert "2025-05-31" in warning.message


def test_licence_valid_to_today_is_expiring_not_expired() -> None:
    checked = run_checks(driving(valid_to=TODAY), today=TODAY)
    assert "licence_expired" not in codes(checked)
    assert only(checked, "licence_expiring").params == {"valid_to": "2025-06-01", "days_left": 0}


def test_licence_expiring_exactly_90_days_out_warns_and_91_does_not() -> None:
    warning = only(run_checks(driving(valid_to=date(2025, 8, 30)), today=TODAY), "licence_expiring")
    assert warning.severity is Severity.WARNING
    assert warning.params == {"valid_to": "2025-08-30", "days_left": 90}
    assert "2025-08-30" in warning.message and "90 days" in warning.message
    assert run_checks(driving(valid_to=date(2025, 8, 31)), today=TODAY).warnings == []


def test_expiry_window_is_configurable() -> None:
    assert run_checks(driving(valid_to=date(2025, 7, 2)), today=TODAY, expiry_warning_days=30).warnings == []
    checked = run_checks(driving(valid_to=date(2025, 7, 1)), today=TODAY, expiry_warning_days=30)
    assert codes(checked) == ["licence_expiring"]


def test_long_term_licence_never_expires() -> None:
    assert run_checks(driving(long_term=True, valid_to=None), today=date(2099, 1, 1)).warnings == []


# --- vehicle inspection ---------------------------------------------------------------------------------


def test_inspection_stamp_is_valid_through_the_end_of_its_month() -> None:
    """Stamped 2025年06月: on June 30th it is due today, on July 1st it is overdue."""
    on_last_day = run_checks(vehicle_back("检验有效期至2025年06月京A(01)"), today=date(2025, 6, 30))
    assert on_last_day.document.inspection_valid_until == date(2025, 6, 30)
    assert only(on_last_day, "inspection_due").params == {"until": "2025-06-30", "days_left": 0}
    next_day = run_checks(vehicle_back("检验有效期至2025年06月京A(01)"), today=date(2025, 7, 1))
    warning = only(next_day, "inspection_overdue")
    assert warning.severity is Severity.ERROR
    assert warning.params == {"until": "2025-06-30"}
    assert "inspection_due" not in codes(next_day)


def test_inspection_due_within_90_days_but_not_91() -> None:
    record = "检验有效期至2025年09月京A(01)"  # valid through 2025-09-30
    due = run_checks(vehicle_back(record), today=date(2025, 7, 2))  # 90 days before
    assert only(due, "inspection_due").params == {"until": "2025-09-30", "days_left": 90}
    assert run_checks(vehicle_back(record), today=date(2025, 7, 1)).warnings == []  # 91 days before


def test_inspection_uses_the_latest_stamp() -> None:
    record = "检验有效期至2024年03月京A(01) 检验有效期至2026年03月京A(01)"
    checked = run_checks(vehicle_back(record), today=TODAY)
    assert checked.warnings == []
    assert checked.document.inspection_valid_until == date(2026, 3, 31)


def test_inspection_keeps_a_vendor_date_when_the_record_is_unreadable() -> None:
    checked = run_checks(vehicle_back("云A(01)", inspection_valid_until=date(2025, 5, 31)), today=TODAY)
    assert only(checked, "inspection_overdue").params == {"until": "2025-05-31"}


# --- probation ------------------------------------------------------------------------------------------


def test_probation_runs_12_months_from_first_issue() -> None:
    """First issued 2024-06-02: the 12 months run through 2025-06-01, today. The next day it is over."""
    checked = run_checks(driving(first_issue_date=date(2024, 6, 2), valid_from=date(2024, 6, 2)), today=TODAY)
    warning = only(checked, "probation")
    assert warning.severity is Severity.WARNING
    assert warning.params == {"until": "2025-06-01"}
    over = driving(first_issue_date=date(2024, 6, 1), valid_from=date(2024, 6, 1))
    assert "probation" not in codes(run_checks(over, today=TODAY))


def test_probation_across_a_29_february_still_lasts_12_months() -> None:
    """365 days from 2024-01-10 would end on 2025-01-08; 12 months end on 2025-01-09."""
    recognition = driving(first_issue_date=date(2024, 1, 10), valid_from=date(2024, 1, 10))
    warning = only(run_checks(recognition, today=date(2025, 1, 9)), "probation")
    assert warning.params == {"until": "2025-01-09"}


def test_probation_months_are_configurable() -> None:
    recognition = driving(first_issue_date=date(2025, 1, 1), valid_from=date(2025, 1, 1))
    assert "probation" not in codes(run_checks(recognition, today=TODAY, probation_months=0))
    assert "probation" not in codes(run_checks(recognition, today=TODAY, probation_months=1))
    assert only(run_checks(recognition, today=TODAY, probation_months=12), "probation").params == {
        "until": "2025-12-31"
    }


def test_probation_from_the_back_page_record() -> None:
    record = "实习期至2025年06月01日"
    assert only(run_checks(driving_back(record), today=TODAY), "probation").params == {"until": "2025-06-01"}
    assert run_checks(driving_back(record), today=date(2025, 6, 2)).warnings == []


# --- ID number ------------------------------------------------------------------------------------------


def test_id_checksum_mismatch_is_reported_masked() -> None:
    checked = run_checks(driving(number="110105194912310021"), today=TODAY)
    warning = only(checked, "id_checksum_mismatch")
    assert warning.severity is Severity.WARNING
    assert warning.params == {"field": "number", "value_masked": "110105********0021"}
    assert "110105194912310021" not in warning.message
    assert checked.repairs == []


def test_id_checksum_mismatch_on_the_back_page_too() -> None:
    checked = run_checks(driving_back(number="110105194912310021"), today=TODAY)
    assert codes(checked) == ["id_checksum_mismatch"]


@pytest.mark.parametrize(
    ("number", "nationality"),
    [("E12345678", "中国"), ("110105194912310021", "美国"), ("H0123456700", None)],
)
def test_numbers_that_are_not_gb_11643_ids_are_not_checked(number: str, nationality: str | None) -> None:
    checked = run_checks(driving(number=number, nationality=nationality), today=TODAY)
    assert "id_checksum_mismatch" not in codes(checked)


def test_id_birth_mismatch() -> None:
    warning = only(run_checks(driving(birth_date=date(1949, 12, 30)), today=TODAY), "id_birth_mismatch")
    assert warning.severity is Severity.WARNING
    assert warning.params == {}


@pytest.mark.parametrize("sex", ["男", "M", "male"])
def test_id_sex_mismatch(sex: str) -> None:
    warning = only(run_checks(driving(sex=sex), today=TODAY), "id_sex_mismatch")
    assert warning.params == {}


def test_a_birth_date_and_sex_not_read_are_taken_from_a_valid_licence_number() -> None:
    checked = run_checks(driving(birth_date=None, sex=None), today=TODAY)
    assert checked.document.birth_date == date(1949, 12, 31) and checked.document.sex == "女"
    filled = [warning for warning in checked.warnings if warning.code == "filled_from_number"]
    assert [warning.params for warning in filled] == [{"field": "birth_date"}, {"field": "sex"}]
    assert all(warning.severity is Severity.INFO for warning in filled)
    assert all("1949" not in warning.message for warning in filled)  # the value is not repeated
    # Fields the photo gave are kept (a mismatch is warned about instead), and a number whose check
    # digit fails, or a foreign holder's, gives nothing.
    assert "filled_from_number" not in codes(run_checks(driving(), today=TODAY))
    failing = run_checks(driving(number="110105194912310021", birth_date=None), today=TODAY)
    assert failing.document.birth_date is None and "filled_from_number" not in codes(failing)
    foreign = run_checks(driving(nationality="美国", sex=None), today=TODAY)
    assert foreign.document.sex is None
    # A number put right by its check digit is trusted as much as one read right.
    repaired = run_checks(driving(number="11O10519491231002X", sex=None), today=TODAY)
    assert repaired.document.sex == "女" and codes(repaired) == ["repaired", "filled_from_number"]


def test_id_repaired_when_one_swap_passes() -> None:
    misread = "11O10519491231002X"
    checked = run_checks(driving(number=misread), today=TODAY)
    assert checked.document.number == GB_EXAMPLE_ID
    assert [(repair.field, repair.before, repair.after) for repair in checked.repairs] == [
        ("number", misread, GB_EXAMPLE_ID)
    ]
    warning = only(checked, "repaired")
    assert warning.severity is Severity.INFO
    assert warning.params == {"field": "number", "position": 3}
    assert GB_EXAMPLE_ID not in warning.message and misread not in warning.message
    assert "id_checksum_mismatch" not in codes(checked)


def test_repaired_id_is_then_compared_with_the_printed_fields() -> None:
    checked = run_checks(driving(number="11O10519491231002X", sex="男"), today=TODAY)
    assert codes(checked) == ["repaired", "id_sex_mismatch"]


# --- VIN, plates, class ---------------------------------------------------------------------------------


def test_vin_checksum_mismatch() -> None:
    vin = "1M8GDM9A5KP042788"  # check digit should be X
    assert repair_check_digit(vin, vin_valid) is None  # precondition: no unique repair
    checked = run_checks(vehicle_front(vin=vin), today=TODAY)
    warning = only(checked, "vin_checksum_mismatch")
    assert warning.severity is Severity.WARNING
    assert warning.params == {"field": "vin"}
    assert "'X'" in warning.message


def test_vin_repaired() -> None:
    checked = run_checks(vehicle_front(vin="LFV2A21K1C40O0001"), today=TODAY)  # 0 read as O
    assert checked.document.vin == VALID_VIN
    assert only(checked, "repaired").params == {"field": "vin", "position": 13}
    assert "vin_checksum_mismatch" not in codes(checked)


def test_an_imported_vin_without_a_check_digit_is_left_as_read() -> None:
    """A European maker need not print a check digit: this Fiat VIN fails the check, and exactly one
    look-alike swap (0 → D at position 12) would make it pass; that swap would change a right VIN."""
    vin = "ZFA31200000123456"
    assert not vin_valid(vin) and repair_check_digit(vin, vin_valid) is not None  # the trap is real
    checked = run_checks(vehicle_front(vin=vin), today=TODAY)
    assert checked.document.vin == vin
    assert not {"repaired", "vin_checksum_mismatch"} & set(codes(checked))


def test_a_malformed_imported_vin_is_still_named() -> None:
    checked = run_checks(vehicle_front(vin="ZFA3120000012345"), today=TODAY)  # 16 characters
    assert "vin_checksum_mismatch" in codes(checked)


def test_plate_grammar_mismatch_on_plate_results() -> None:
    checked = run_checks(plates("京A12345", "京I12345"), today=TODAY)
    warning = only(checked, "plate_grammar_mismatch")
    assert warning.severity is Severity.WARNING
    assert warning.params == {"field": "plate_number", "value": "京I12345", "index": 1}


@pytest.mark.parametrize("factory", [vehicle_front, vehicle_back])
def test_plate_grammar_mismatch_on_vehicle_licences(factory: Callable[..., Recognition]) -> None:
    warning = only(run_checks(factory(plate_number="京A1234O"), today=TODAY), "plate_grammar_mismatch")
    assert warning.params == {"field": "plate_number", "value": "京A1234O"}


def test_a_field_read_with_little_confidence_is_named_for_the_user_to_check() -> None:
    recognition = vehicle_front(vin="1M8GDM9A5KP042788", address=None)  # the VIN fails its check digit
    low, sure = DOUBTFUL_CONFIDENCE - 0.1, DOUBTFUL_CONFIDENCE + 0.1
    recognition.document.meta = {
        "owner": FieldMeta(confidence=low),
        "plate_number": FieldMeta(confidence=sure),
        "vin": FieldMeta(confidence=low),  # its failed check digit already says so
        "address": FieldMeta(confidence=low),  # nothing was read there: nothing to check
        "model": FieldMeta(),  # no confidence given
    }
    checked = run_checks(recognition, today=TODAY)
    warning = only(checked, "doubtful_field")
    assert warning.severity is Severity.WARNING and warning.params == {"field": "owner"}
    assert "王小红" not in warning.message  # the value stays out of the warning (and the log)
    assert "vin_checksum_mismatch" in codes(checked)


@pytest.mark.parametrize("key", ["class_", "class"])
def test_a_doubtful_licence_class_is_named_whichever_way_its_vendor_keys_it(key: str) -> None:
    """Cloud adapters key meta by attribute (class_), the embedded engine by the name values() uses."""
    recognition = driving()
    recognition.document.meta = {key: FieldMeta(confidence=DOUBTFUL_CONFIDENCE - 0.1)}
    assert only(run_checks(recognition, today=TODAY), "doubtful_field").params == {"field": "class"}


@pytest.mark.parametrize(
    ("recognition", "unread"),
    [
        (driving(name=None, class_=None, valid_to=None), ["name", "class", "valid_to"]),
        (driving(address="", valid_to=None, long_term=True), ["address"]),  # 长期 has no end date to read
        (driving_back(number=None), ["number"]),
        (vehicle_front(model=None, plate_number=None, issuing_authority=None), ["plate_number", "model"]),
        (vehicle_back(record=None, dimensions=None), ["dimensions"]),  # a new vehicle has no stamp yet
    ],
)
def test_printed_fields_that_came_back_empty_are_named_for_a_retake(
    recognition: Recognition, unread: list[str]
) -> None:
    warning = only(run_checks(recognition, today=TODAY), "unread_fields")
    assert warning.severity is Severity.WARNING and warning.params == {"fields": unread}
    assert "retake" in warning.message


def test_a_field_filled_from_the_licence_number_is_not_called_unread() -> None:
    checked = run_checks(driving(birth_date=None, sex=None, name=None), today=TODAY)
    assert only(checked, "unread_fields").params == {"fields": ["name"]}


def test_a_plate_read_with_little_confidence_is_named_unless_it_cannot_exist() -> None:
    recognition = plates("京A12345", "皖A5G895", "京I12345")
    for plate in recognition.plates:
        plate.confidence = DOUBTFUL_PLATE_CONFIDENCE - 0.1
    recognition.plates[0].confidence = DOUBTFUL_PLATE_CONFIDENCE + 0.1
    checked = run_checks(recognition, today=TODAY)
    doubtful = only(checked, "doubtful_plate")
    assert doubtful.params == {"field": "plate_number", "value": "皖A5G895", "index": 1}
    assert only(checked, "plate_grammar_mismatch").params["index"] == 2  # says more than doubt would


def test_class_unknown() -> None:
    warning = only(run_checks(driving(class_="C7"), today=TODAY), "class_unknown")
    assert warning.severity is Severity.WARNING
    assert warning.params == {"value": "C7"}


# --- date consistency -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("overrides", "pair"),
    [
        ({"birth_date": date(2001, 1, 1), "number": None}, ("birth_date", "first_issue_date")),
        ({"birth_date": date(1984, 5, 2), "number": None}, ("birth_date", "first_issue_date")),  # 15 at issue
        ({"valid_from": date(2000, 4, 30)}, ("first_issue_date", "valid_from")),
        ({"valid_to": date(2014, 12, 25)}, ("valid_from", "valid_to")),
    ],
)
def test_driving_licence_dates_inconsistent(overrides: dict, pair: tuple[str, str]) -> None:
    checked = run_checks(driving(**overrides), today=TODAY)
    pairs = [
        (w.params["first"], w.params["second"]) for w in checked.warnings if w.code == "date_inconsistent"
    ]
    assert pair in pairs
    assert all(w.severity is Severity.WARNING for w in checked.warnings if w.code == "date_inconsistent")


def test_first_issue_at_exactly_16_is_consistent() -> None:
    checked = run_checks(driving(birth_date=date(1984, 5, 1), number=None), today=TODAY)
    assert codes(checked) == ["unread_fields"]  # the number, left out so it cannot disagree, and nothing else


def test_future_valid_to_is_fine() -> None:
    assert run_checks(driving(valid_to=date(2040, 1, 1)), today=TODAY).warnings == []


def test_vehicle_registered_after_issue_is_inconsistent() -> None:
    checked = run_checks(vehicle_front(register_date=date(2012, 3, 2)), today=TODAY)
    warning = only(checked, "date_inconsistent")
    assert warning.params == {"first": "register_date", "second": "issue_date"}
    assert "2012-03-02" in warning.message and "2012-03-01" in warning.message


@pytest.mark.parametrize(
    ("recognition", "field"),
    [
        (driving(birth_date=date(2026, 1, 1), number=None), "birth_date"),
        (driving(valid_from=date(2025, 6, 2)), "valid_from"),
        (vehicle_front(issue_date=date(2025, 6, 2)), "issue_date"),
    ],
)
def test_a_date_later_than_today_is_named(recognition: Recognition, field: str) -> None:
    warning = only(run_checks(recognition, today=TODAY), "date_in_future")
    assert warning.params == {"field": field}
    assert warning.severity is Severity.WARNING


def test_stored_warnings_never_spell_out_the_birth_date() -> None:
    """Warnings go to the session log whole, whatever `store_fields` masks; the birth date is personal."""
    for birth in (date(2001, 1, 1), date(2026, 1, 1)):  # licensed at 13; born after today
        checked = run_checks(driving(birth_date=birth, number=None), today=TODAY)
        assert {"date_inconsistent", "date_in_future"} & set(codes(checked))
        assert birth.isoformat() not in repr([w.model_dump() for w in checked.warnings])
