"""Plate grammar (GA 36-2018 and the new-energy numbering rules) and OCR-confusion repair of plates."""

from __future__ import annotations

import random

import pytest

from bot.plate_grammar import PROVINCES, candidate_repairs, is_valid_plate, normalize_plate, parse_plate


def test_provinces_are_the_31_mainland_abbreviations() -> None:
    assert len(PROVINCES) == 31
    assert len(set(PROVINCES)) == 31
    assert set("京津沪渝冀豫云辽黑湘皖鲁新苏浙赣鄂桂甘晋蒙陕吉闽贵粤青藏川宁琼") == set(PROVINCES)
    assert "港" not in PROVINCES and "使" not in PROVINCES


@pytest.mark.parametrize(
    ("number", "kind"),
    [
        ("京A12345", "ordinary"),
        ("沪B8Z2K5", "ordinary"),
        ("粤Z12345", "ordinary"),
        ("琼E0000H", "ordinary"),
        ("京AD12345", "new_energy"),  # small, pure electric
        ("京AFA1234", "new_energy"),  # small, other new energy, letter in second place
        ("沪AA12345", "new_energy"),  # widened numbering: A is pure electric
        ("沪AK12345", "new_energy"),  # widened numbering: K is other new energy
        ("粤B12345D", "new_energy"),  # large
        ("粤B12345F", "new_energy"),
        ("京A1234警", "police"),
        ("苏A1234学", "coach"),
        ("鲁A1234挂", "trailer"),
        ("沪A1234领", "consulate"),
        ("粤Z1234港", "hk"),
        ("粤Z1A34澳", "macau"),
        ("使014578", "embassy"),
        ("014578使", "embassy"),
        ("WJ京1234X", "armed_police"),
        ("WJ京1234消", "armed_police"),
        ("WJ粤0001边", "armed_police"),
        ("WJ京12345", "armed_police"),
        ("WJ12345", "armed_police"),
    ],
)
def test_every_plate_kind_parses(number: str, kind: str) -> None:
    parsed = parse_plate(number)
    assert parsed is not None
    assert parsed.kind == kind
    assert parsed.number == number
    assert is_valid_plate(number)


@pytest.mark.parametrize(
    ("number", "energy", "size"),
    [
        ("京AD12345", "electric", "small"),
        ("京AC12345", "electric", "small"),
        ("京AE12345", "electric", "small"),
        ("京AA12345", "electric", "small"),
        ("京AB12345", "electric", "small"),
        ("京AF12345", "hybrid", "small"),
        ("京AH12345", "hybrid", "small"),
        ("粤B12345D", "electric", "large"),
        ("粤B12345F", "hybrid", "large"),
    ],
)
def test_new_energy_plates_tell_power_type_and_size(number: str, energy: str, size: str) -> None:
    parsed = parse_plate(number)
    assert parsed is not None
    assert (parsed.energy, parsed.size) == (energy, size)


def test_parsed_parts() -> None:
    parsed = parse_plate("京A1234警")
    assert parsed is not None
    assert (parsed.province, parsed.authority, parsed.serial, parsed.suffix) == ("京", "A", "1234", "警")
    armed = parse_plate("WJ12345")
    assert armed is not None and armed.province is None


@pytest.mark.parametrize(
    "number",
    [
        "",
        "京A1234",  # too short
        "京A1234567",  # too long
        "京I12345",  # I is never an authority letter
        "京O12345",  # neither is O
        "京112345",  # the authority is a letter
        "京A1234I",  # I never appears in a serial
        "京AO2345",  # nor O
        "港A12345",  # not a province
        "X京A12345",
        "AA12345",
        "京AL12345",  # new-energy power-type letter out of D/A/B/C/E/F/G/H/J/K
        "京AI12345",
        "京AD1234A",  # small new energy: last four are digits
        "京AD12A45",
        "京A12345G",  # large new energy ends in D or F only
        "京A1234DF",
        "京B1234港",  # cross-border plates are 粤Z only
        "粤A1234澳",
        "京A12345警",  # suffix plates have a 4-character serial
        "京A1234军",  # not a plate suffix
        "使01457",
        "使0145789",
        "WJ京123",
        "WJ京1234O",
        "京A12 34",  # a space inside is stripped, leaving 6 characters
    ],
)
def test_invalid_plates_do_not_parse(number: str) -> None:
    assert parse_plate(number) is None
    assert not is_valid_plate(number)


@pytest.mark.parametrize(
    "text",
    ["京a12345", "京A·12345", "京A•12345", " 京 A 12345 ", "京A-12345", "京Ａ１２３４５", "京Ａ－12345"],
)
def test_normalize_plate_folds_case_separators_and_full_width(text: str) -> None:
    assert normalize_plate(text) == "京A12345"
    assert parse_plate(text) is not None


def test_candidate_repairs_keeps_a_valid_plate_as_is() -> None:
    assert candidate_repairs("京A·12345") == ["京A12345"]


@pytest.mark.parametrize(
    ("misread", "expected"),
    [
        ("京A1234O", ["京A12340"]),  # O cannot be in a serial
        ("京AI2345", ["京A12345"]),
        ("京A012345", ["京AD12345"]),  # 8 characters: the new-energy letter was read as a zero
        ("京A1234SD", ["京A12345D"]),  # large new energy: five digits before D
        ("京AI23O5", ["京A12305"]),  # two confusions, two swaps
    ],
)
def test_candidate_repairs_undo_ocr_confusions(misread: str, expected: list[str]) -> None:
    assert candidate_repairs(misread) == expected


def test_candidate_repairs_give_up_beyond_max_swaps() -> None:
    assert candidate_repairs("京AI23O5", max_swaps=1) == []
    assert candidate_repairs("hello") == []


def test_candidate_repairs_need_two_swaps_when_one_is_not_enough() -> None:
    """``京0I2345``: the authority 0 can only be D (O is no authority letter) and I can only be 1."""
    assert candidate_repairs("京0I2345", max_swaps=1) == []
    assert candidate_repairs("京0I2345") == ["京D12345"]


def test_candidate_repairs_return_every_minimal_reading_when_ambiguous() -> None:
    """``京AD5285D`` has 8 characters and fits no format. Reading the first D as 0 gives a large
    new-energy plate (five digits then D); reading the last D as 0 gives a small one (D, then a
    character, then four digits). Both are one swap away, so both come back and the caller must not pick."""
    assert candidate_repairs("京AD5285D") == ["京A05285D", "京AD52850"]


def test_random_ordinary_plates_with_a_forbidden_letter_repair_back() -> None:
    """Property: a digit 0 or 1 misread as O or I (never allowed in a serial) is restored uniquely."""
    rng = random.Random(20240611)
    serial_chars = "ABCDEFGHJKLMNPQRSTUVWXYZ0123456789"
    checked = 0
    while checked < 200:
        serial = "".join(rng.choice(serial_chars) for _ in range(4)) + rng.choice("01")
        serial = "".join(rng.sample(serial, len(serial)))
        plate = rng.choice(PROVINCES) + rng.choice("ABCDEFGHJKLMNPQRSTUVWXYZ") + serial
        assert parse_plate(plate) is not None
        position = rng.choice([i for i, char in enumerate(plate) if i >= 2 and char in "01"])
        misread = plate[:position] + {"0": "O", "1": "I"}[plate[position]] + plate[position + 1 :]
        assert candidate_repairs(misread) == [plate]
        checked += 1


def test_traditional_province_forms_fold_to_the_printed_simplified_ones():
    assert normalize_plate("粵B·12345") == "粤B12345"
    assert parse_plate("雲A12345") is not None
    assert normalize_plate("遼A1234學") == "辽A1234学"
