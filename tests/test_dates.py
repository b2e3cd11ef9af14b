"""Date parsing for every vendor format; expected dates are read off the input by eye, not computed."""

from __future__ import annotations

from datetime import date

import pytest

from bot.dates import (
    Validity,
    add_years,
    end_of_month,
    find_dates,
    parse_date,
    parse_inspection_until,
    parse_validity,
    period_end,
)

CHRISTMAS_2014 = date(2014, 12, 25)


@pytest.mark.parametrize(
    "text",
    [
        "2014-12-25",  # Tencent, Face++ v1
        "20141225",  # Baidu, Face++ v2
        "2014.12.25",
        "2014/12/25",
        "2014年12月25日",  # as printed on the card
        "2014年12月25",
        "２０１４－１２－２５",  # full-width OCR output
        "２０１４年１２月２５日",
        " 2014 - 12 - 25 ",
        "2014 12 25",
        "2014-12-25 00:00:00",
        "2014-12-25T08:30:00+08:00",
    ],
)
def test_parse_date_reads_every_vendor_format(text: str) -> None:
    assert parse_date(text) == CHRISTMAS_2014


@pytest.mark.parametrize(
    "text", ["2014-1-5", "2014.1.5", "2014/1/5", "2014年1月5日", "2014-01-5", "2014-1-05"]
)
def test_parse_date_accepts_unpadded_months_and_days(text: str) -> None:
    assert parse_date(text) == date(2014, 1, 5)


@pytest.mark.parametrize(
    "parts",
    [
        {"year": "2014", "month": "12", "day": "25"},
        {"year": 2014, "month": 12, "day": 25},
        {"year": "2014", "month": "12", "day": "25", "extra": "ignored"},
    ],
)
def test_parse_date_reads_faceid_parts(parts: dict) -> None:
    assert parse_date(parts) == CHRISTMAS_2014


@pytest.mark.parametrize(
    "parts",
    [
        {"year": "2014", "month": "12"},
        {"year": "2014", "month": "2", "day": "30"},
        {"year": "x", "month": 1, "day": 1},
    ],
)
def test_parse_date_rejects_incomplete_or_impossible_parts(parts: dict) -> None:
    assert parse_date(parts) is None


@pytest.mark.parametrize(
    "text",
    [
        None,
        "",
        "   ",
        "abc",
        "2014-02-30",
        "20140230",
        "2014-13-01",
        "2014-00-10",
        "2015-02-29",  # not a leap year
        "2014-12",  # a month is not a date
        "201412",
        "0014-12-25",  # OCR noise in the year
        "2014-12-25至2020-12-25",  # a range is not one date
        "长期",
        "6年",
    ],
)
def test_parse_date_returns_none_for_anything_but_one_real_date(text: str | None) -> None:
    assert parse_date(text) is None


def test_parse_date_accepts_leap_day_in_leap_year() -> None:
    assert parse_date("2016-02-29") == date(2016, 2, 29)
    assert parse_date("20000229") == date(2000, 2, 29)


def test_parse_date_passes_a_date_through() -> None:
    assert parse_date(CHRISTMAS_2014) == CHRISTMAS_2014


@pytest.mark.parametrize(
    "text",
    [
        "2014-12-25至2020-12-25",  # Alibaba validPeriod
        "20141225至20201225",  # Face++ valid_date
        "2014.12.25-2020.12.25",
        "2014-12-25-2020-12-25",
        "20141225-20201225",
        "2014年12月25日至2020年12月25日",
        "2014/12/25 ~ 2020/12/25",
        "２０１４－１２－２５至２０２０－１２－２５",
    ],
)
def test_parse_validity_reads_ranges(text: str) -> None:
    assert parse_validity(text) == Validity(CHRISTMAS_2014, date(2020, 12, 25), long_term=False, years=None)


def test_parse_validity_range_overrides_the_separate_start_field() -> None:
    validity = parse_validity("2014-12-25至2020-12-25", valid_from=date(2000, 1, 1))
    assert validity.valid_from == CHRISTMAS_2014


def test_parse_validity_range_with_impossible_end_keeps_start_and_drops_end() -> None:
    validity = parse_validity("2014-12-25至2020-02-30")
    assert validity.valid_from == CHRISTMAS_2014
    assert validity.valid_to is None


@pytest.mark.parametrize(
    ("text", "years", "valid_to"),
    [
        ("6年", 6, date(2020, 12, 25)),
        ("10年", 10, date(2024, 12, 25)),
        ("六年", 6, date(2020, 12, 25)),
        ("有效期限 6 年", 6, date(2020, 12, 25)),
    ],
)
def test_parse_validity_counts_years_from_valid_from(text: str, years: int, valid_to: date) -> None:
    assert parse_validity(text, CHRISTMAS_2014) == Validity(
        CHRISTMAS_2014, valid_to, long_term=False, years=years
    )


@pytest.mark.parametrize("text", ["2014-12-25 6年", "2014-12-25起6年", "2014年12月25日 有效期限6年"])
def test_parse_validity_reads_a_start_date_run_together_with_its_term(text: str) -> None:
    """Not the start date taken for the end, which called a valid licence expired."""
    assert parse_validity(text) == Validity(CHRISTMAS_2014, date(2020, 12, 25), long_term=False, years=6)


def test_parse_validity_years_from_feb_29_end_on_feb_28() -> None:
    validity = parse_validity("6年", date(2016, 2, 29))
    assert validity.valid_to == date(2022, 2, 28)


def test_parse_validity_years_without_start_keep_the_length_only() -> None:
    assert parse_validity("6年") == Validity(None, None, long_term=False, years=6)


@pytest.mark.parametrize("text", ["长期", "長期", "长期有效"])
def test_parse_validity_long_term_has_no_end(text: str) -> None:
    assert parse_validity(text, CHRISTMAS_2014) == Validity(CHRISTMAS_2014, None, long_term=True, years=None)


def test_parse_validity_start_to_long_term() -> None:
    assert parse_validity("2014-12-25至长期") == Validity(CHRISTMAS_2014, None, long_term=True, years=None)


def test_parse_validity_single_date_is_the_end() -> None:
    """Baidu's 失效日期 and Tencent's EndDate carry only the end; the start comes from its own field."""
    validity = parse_validity("20201225", valid_from=CHRISTMAS_2014)
    assert validity == Validity(CHRISTMAS_2014, date(2020, 12, 25), long_term=False, years=None)


@pytest.mark.parametrize("text", [None, "", "  ", "unreadable"])
def test_parse_validity_empty_or_unreadable_keeps_only_the_start(text: str | None) -> None:
    assert parse_validity(text, CHRISTMAS_2014) == Validity(CHRISTMAS_2014, None, long_term=False, years=None)


@pytest.mark.parametrize(
    ("record", "until"),
    [
        ("检验有效期至2014年09月云A(01)", date(2014, 9, 30)),  # the vendor doc's own example
        ("检验有效期至2014年9月云A(01)", date(2014, 9, 30)),
        ("检验有效期至2014-09", date(2014, 9, 30)),
        ("检验有效期至2014.08", date(2014, 8, 31)),
        ("检验有效期至２０１４年１２月", date(2014, 12, 31)),
        ("检验有效期至2016年02月", date(2016, 2, 29)),  # leap February
        ("检验有效期至2015年02月", date(2015, 2, 28)),
        ("检验有效期至2014年04月30日", date(2014, 4, 30)),
    ],
)
def test_parse_inspection_until_is_the_end_of_the_stamped_month(record: str, until: date) -> None:
    assert parse_inspection_until(record) == until


def test_parse_inspection_until_takes_the_latest_of_several_stamps() -> None:
    record = "检验有效期至2016年09月云A(01) 检验有效期至2018年09月云A(01) 检验有效期至2017年09月云A(01)"
    assert parse_inspection_until(record) == date(2018, 9, 30)


@pytest.mark.parametrize("record", [None, "", "云A(01)", "检验有效期至2014年13月", "检验合格"])
def test_parse_inspection_until_without_a_real_month_is_none(record: str | None) -> None:
    assert parse_inspection_until(record) is None


def test_find_dates_returns_real_dates_in_order() -> None:
    text = "实习期至2025年05月09日; 记录 20240101, 无效 2024-02-30"
    assert find_dates(text) == [date(2025, 5, 9), date(2024, 1, 1)]


def test_add_years_and_end_of_month_edges() -> None:
    assert add_years(date(2020, 2, 29), 1) == date(2021, 2, 28)
    assert add_years(date(2020, 2, 29), 4) == date(2024, 2, 29)
    assert end_of_month(2014, 11) == date(2014, 11, 30)
    assert end_of_month(2014, 13) is None


@pytest.mark.parametrize(
    ("start", "months", "end"),
    [
        (date(2024, 1, 10), 12, date(2025, 1, 9)),  # a 29 February inside: still the day before
        (date(2024, 2, 29), 12, date(2025, 2, 28)),  # no 29 February the next year: that month's end
        (date(2025, 1, 31), 1, date(2025, 2, 28)),
        (date(2025, 11, 15), 3, date(2026, 2, 14)),  # across the year's end
        (date(2025, 3, 1), 12, date(2026, 2, 28)),
    ],
)
def test_period_end_counts_calendar_months(start: date, months: int, end: date) -> None:
    assert period_end(start, months) == end
