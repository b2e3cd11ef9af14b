"""Replies: language, order, labels, masking, failures that say what to fix, and chat size limits."""

from __future__ import annotations

import html
import re
from datetime import UTC, date, datetime
from html.parser import HTMLParser
from typing import get_args
from zoneinfo import ZoneInfo

import pytest

from bot.images import RejectReason
from bot.models import (
    DOCUMENT_MODELS,
    DrivingLicence,
    DrivingLicenceBack,
    Plate,
    PlateColor,
    Recognition,
    Severity,
    VehicleLicenceBack,
    VehicleLicenceFront,
    Warning,
)
from bot.storage import SessionRow, Stats, VendorKindStats
from bot.vendors.base import ErrorCategory, page_shown, shows_page
from handlers.dispatch import COMMANDS, parse_command
from handlers.outcome import Outcome, Status
from handlers.replies import (
    _DOCUMENT_NAMES,
    FIELD_LABELS,
    WARNING_TEMPLATES,
    ReplyOptions,
    failure_text,
    help_text,
    history_text,
    label,
    render_html,
    render_json_warnings,
    render_text,
    stats_text,
    warning_text,
)

ID_NUMBER = "11010119900307123X"
NAME = "张三丰"
ADDRESS = "北京市朝阳区建国路88号院3号楼"
CJK = re.compile(r"[\u4e00-\u9fff]")
PLACEHOLDER = re.compile(r"{[^{}]*}")
ZH, EN = ReplyOptions("zh"), ReplyOptions("en")


def _licence(**changes: object) -> DrivingLicence:
    fields: dict[str, object] = {
        "number": ID_NUMBER,
        "name": NAME,
        "sex": "男",
        "nationality": "中国",
        "address": ADDRESS,
        "birth_date": date(1990, 3, 7),
        "first_issue_date": date(2015, 6, 1),
        "class_": "C1",
        "valid_from": date(2015, 6, 1),
        "valid_to": date(2025, 6, 1),
        "issuing_authority": "北京市公安局公安交通管理局",
    }
    fields.update(changes)
    return DrivingLicence(**fields)


def _ok(document: object, *, warnings: list[Warning] | None = None, cached: bool = False) -> Outcome:
    recognition = Recognition(kind=document.kind, side=document.side, vendor="fake", document=document)
    return Outcome(
        status=Status.OK,
        kind=document.kind,
        side=document.side,
        recognition=recognition,
        warnings=warnings or [],
        cached=cached,
    )


def _plates(plates: list[Plate]) -> Outcome:
    recognition = Recognition(kind="plate", vendor="fake", plates=plates)
    return Outcome(status=Status.OK, kind="plate", recognition=recognition)


def _warning(code: str, severity: Severity = Severity.WARNING, **params: object) -> Warning:
    return Warning(code=code, severity=severity, message=f"english fallback for {code}", params=params)


def _text(outcome: Outcome, options: ReplyOptions = ZH) -> str:
    return "\n".join(render_text(outcome, options))


def _html_text(fragment: str) -> str:
    return html.unescape(re.sub(r"<[^>]+>", "", fragment))


# ------------------------------------------------------------------------------------------------ labels

ALL_PAGES = [(model, model.kind, model.side) for model in DOCUMENT_MODELS.values()]


@pytest.mark.parametrize(
    ("model", "kind", "side"), ALL_PAGES, ids=lambda value: getattr(value, "__name__", "")
)
def test_every_document_field_has_zh_and_en_labels(model: type, kind: str, side: str) -> None:
    for field in model.field_names():
        assert field in FIELD_LABELS[(kind, side)], f"{model.__name__}.{field} has no label"
        zh, en = label(kind, side, field, "zh"), label(kind, side, field, "en")
        assert CJK.search(zh), zh
        assert en.isascii() and en.strip() and en != field, en


def test_every_plate_field_has_zh_and_en_labels() -> None:
    for field in Plate.model_fields:
        assert field in FIELD_LABELS[("plate", "front")]
        assert CJK.search(label("plate", "front", field, "zh"))
        assert label("plate", "front", field, "en").isascii()


def test_labels_are_the_cards_own_words() -> None:
    expected = {
        (
            "driving",
            "front",
        ): "证号 姓名 性别 国籍 住址 出生日期 初次领证日期 准驾车型 有效起始日期 有效期至 发证机关",
        ("driving", "back"): "档案编号 记录",
        (
            "vehicle",
            "front",
        ): "号牌号码 车辆类型 所有人 住址 使用性质 品牌型号 车辆识别代号 发动机号码 注册日期 发证日期",
        (
            "vehicle",
            "back",
        ): "核定载人数 总质量 整备质量 核定载质量 外廓尺寸 准牵引总质量 备注 检验记录 检验有效期至",
    }
    for (kind, side), words in expected.items():
        labels = {label(kind, side, field, "zh") for field in DOCUMENT_MODELS[(kind, side)].field_names()}
        assert set(words.split()) <= labels, (kind, side)


def test_label_accepts_the_alias_of_class() -> None:
    assert label("driving", "front", "class", "zh") == label("driving", "front", "class_", "zh") == "准驾车型"


# ------------------------------------------------------------------------------------------ order, lang


def test_chinese_by_default_and_english_on_request() -> None:
    outcome = _ok(_licence())
    default = _text(outcome, ReplyOptions())
    assert "证号" in default and "驾驶证" in default
    english = _text(outcome, EN)
    assert "Licence number" in english
    assert "证号" not in english


def test_warnings_come_first_most_serious_first_then_fields_in_card_order() -> None:
    warnings = [
        _warning("probation", Severity.INFO, until=date(2016, 6, 1)),
        _warning("licence_expiring", Severity.WARNING, valid_to=date(2025, 6, 1), days_left=30),
        _warning("licence_expired", Severity.ERROR, valid_to=date(2025, 6, 1)),
    ]
    for options in (ZH, EN):
        lines = _text(_ok(_licence(), warnings=warnings), options).splitlines()
        markers = [line[0] for line in lines if line[:1] in ("⛔", "⚠", "ℹ")][:3]
        assert markers == ["⛔", "⚠", "ℹ"]
        last_warning = max(i for i, line in enumerate(lines) if line[:1] in ("⛔", "⚠"))
        field_rows = [
            next(
                i
                for i, line in enumerate(lines)
                if line.startswith(label("driving", "front", field, options.language))
            )
            for field in DrivingLicence.field_names()
            if field not in ("meta", "long_term")
        ]
        assert last_warning < field_rows[0]
        assert field_rows == sorted(field_rows)


def test_title_names_kind_and_side() -> None:
    front, back = _text(_ok(_licence())), _text(_ok(DrivingLicenceBack(number=ID_NUMBER, file_number="1101")))
    assert front.splitlines()[0] != back.splitlines()[0]
    assert "主页" in front.splitlines()[0] and "副页" in back.splitlines()[0]
    vehicle = _text(_ok(VehicleLicenceFront(plate_number="京A12345", vin="LSVAU2180N2183294")), EN)
    assert "Vehicle licence" in vehicle.splitlines()[0]


def test_empty_fields_are_skipped() -> None:
    text = _text(_ok(_licence(nationality=None, issuing_authority=None)))
    assert "国籍" not in text and "发证机关" not in text
    assert "None" not in text


def test_long_term_licence_shows_no_expiry() -> None:
    outcome = _ok(_licence(valid_to=None, long_term=True))
    assert "有效期至：长期" in _text(outcome)
    assert "No expiry" in _text(outcome, EN)


def test_cached_result_gets_a_note() -> None:
    fresh, cached = _text(_ok(_licence())), _text(_ok(_licence(), cached=True))
    assert cached.startswith(fresh.rstrip())
    assert len(cached.splitlines()) > len(fresh.splitlines())


# ------------------------------------------------------------------------------------------------ plates


def test_several_plates_are_a_numbered_list_with_colours_in_words() -> None:
    plates = [
        Plate(number="京A12345", color=PlateColor.BLUE),
        Plate(number="沪AD12345", color=PlateColor.GREEN),
        Plate(number="粤B1234学", color=PlateColor.YELLOW, double_layer=True),
    ]
    lines = _text(_plates(plates)).splitlines()
    for index, plate in enumerate(plates, start=1):
        row = next(line for line in lines if line.startswith(f"{index}. "))
        assert plate.number in row
    assert "蓝牌" in lines[[line.startswith("1. ") for line in lines].index(True)]
    english = _text(_plates(plates), EN)
    assert "blue" in english and "yellow" in english


def test_one_plate_is_shown_with_labels() -> None:
    text = _text(_plates([Plate(number="京A12345", color=PlateColor.BLUE)]))
    assert "号牌号码：京A12345" in text
    assert "蓝牌" in text
    assert "1. " not in text


# ---------------------------------------------------------------------------------------------- masking


def _all_renderings(outcome: Outcome, options: ReplyOptions) -> list[str]:
    return ["\n".join(render_text(outcome, options)), _html_text("\n".join(render_html(outcome, options)))]


@pytest.mark.parametrize("language", ["zh", "en"])
def test_group_chats_get_personal_data_masked_in_both_renderings(language: str) -> None:
    outcome = _ok(_licence())
    for rendered in _all_renderings(outcome, ReplyOptions(language, mask=True)):
        assert ID_NUMBER not in rendered
        assert "110101********123X" in rendered
        assert NAME not in rendered and "张**" in rendered
        assert "建国路" not in rendered and "北京市朝阳区***" in rendered
        assert "1990-03-07" not in rendered
    for rendered in _all_renderings(outcome, ReplyOptions(language, mask=False)):
        assert ID_NUMBER in rendered and NAME in rendered and ADDRESS in rendered
        assert "1990-03-07" in rendered


def test_vehicle_owner_masked_but_vin_kept() -> None:
    front = VehicleLicenceFront(
        plate_number="京A12345", owner="王小五", address=ADDRESS, vin="LSVAU2180N2183294"
    )
    text = _text(_ok(front), ReplyOptions(mask=True))
    assert "王小五" not in text and "王**" in text
    assert "LSVAU2180N2183294" in text


# ---------------------------------------------------------------------------------------------- html


def test_html_escapes_field_values_and_text_does_not() -> None:
    outcome = _ok(_licence(issuing_authority="<script>alert('x')</script> & co"))
    rendered = "\n".join(render_html(outcome, ZH))
    assert "<script>" not in rendered
    assert "&lt;script&gt;" in rendered and "&amp; co" in rendered
    assert "<script>alert('x')</script> & co" in _text(outcome)


class _TagChecker(HTMLParser):
    """Fails on a closing tag that does not match the innermost open one; `stack` must end empty."""

    ALLOWED = frozenset({"b", "i", "code"})

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.stack: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        assert tag in self.ALLOWED, tag
        self.stack.append(tag)

    def handle_endtag(self, tag: str) -> None:
        assert self.stack and self.stack.pop() == tag, tag


def _assert_balanced(chunk: str) -> None:
    checker = _TagChecker()
    checker.feed(chunk)
    checker.close()
    assert checker.stack == []


# ------------------------------------------------------------------------------------------ size limits

LONG_REMARKS = ("<备注&说明> 车辆改装记录：加装行李架⚠️。" * 120).strip()


def _long_reply() -> Outcome:
    back = VehicleLicenceBack(
        plate_number="京A12345",
        file_number="110100123456",
        approved_passengers="5人",
        remarks=LONG_REMARKS,
        inspection_record="检验有效期至2026年09月京A(01)",
    )
    warnings = [_warning("inspection_due", until=date(2026, 9, 30), days_left=20)]
    return _ok(back, warnings=warnings)


def _many_plates() -> Outcome:
    colours = list(PlateColor)
    return _plates([Plate(number=f"京A{i:05d}", color=colours[i % len(colours)]) for i in range(150)])


def _without_newlines(text: str) -> str:
    return text.replace("\n", "")


@pytest.mark.parametrize("make", [_long_reply, _many_plates], ids=["long-remarks", "many-plates"])
@pytest.mark.parametrize("language", ["zh", "en"])
def test_text_chunks_fit_wechat_and_lose_nothing(make: object, language: str) -> None:
    outcome = make()
    options = ReplyOptions(language)
    chunks = render_text(outcome, options)
    whole = render_text(outcome, options, limit_bytes=10**7)
    assert len(whole) == 1 and len(chunks) > 1
    assert all(len(chunk.encode("utf-8")) <= 2048 for chunk in chunks)
    assert _without_newlines("".join(chunks)) == _without_newlines(whole[0])
    assert not any(chunk.startswith("\ufe0f") for chunk in chunks)  # ⚠️ kept whole


def test_lines_are_not_split_when_they_fit() -> None:
    chunks = render_text(_many_plates(), ZH)
    plate_rows = [
        line for line in render_text(_many_plates(), ZH, limit_bytes=10**7)[0].splitlines() if ". " in line
    ]
    for row in plate_rows:
        assert any(row in chunk.splitlines() for chunk in chunks), row


@pytest.mark.parametrize("limit", [4096, 300])
def test_html_chunks_fit_telegram_and_keep_tags_balanced(limit: int) -> None:
    outcome = _long_reply()
    chunks = render_html(outcome, ZH, limit=limit)
    assert len(chunks) > 1
    for chunk in chunks:
        assert len(chunk.encode("utf-16-le")) // 2 <= limit
        _assert_balanced(chunk)
    assert _without_newlines(_html_text("".join(chunks))) == _without_newlines(_text(outcome))


# --------------------------------------------------------------------------------------------- warnings

WARNING_CASES = {
    "licence_expired": {"valid_to": date(2024, 5, 1)},
    "licence_expiring": {"valid_to": date(2025, 7, 1), "days_left": 17},
    "inspection_overdue": {"until": date(2024, 9, 30)},
    "inspection_due": {"until": date(2025, 9, 30), "days_left": 23},
    "probation": {"until": date(2025, 6, 1)},
    "id_checksum_mismatch": {"field": "number", "value_masked": "110101********1238"},
    "id_birth_mismatch": {},
    "id_sex_mismatch": {},
    "vin_checksum_mismatch": {"field": "vin"},
    "plate_grammar_mismatch": {"field": "plate_number", "value": "京A1234O"},
    "class_unknown": {"value": "Q9"},
    "date_inconsistent": {"first": "valid_from", "second": "birth_date"},
    "date_in_future": {"field": "valid_from"},
    "repaired": {"field": "vin"},
    "doubtful_field": {"field": "name"},
    "filled_from_number": {"field": "birth_date"},
    "unread_fields": {"fields": ["name", "class"]},
    "doubtful_plate": {"field": "plate_number", "value": "皖A5G895"},
    "photo_copy": {},
    "photo_screen": {},
    "photo_glare": {},
    "photo_blur": {},
    "photo_small": {},
    "photo_incomplete": {},
    "photo_colourless": {},
}


def test_every_warning_template_has_a_rendering_case() -> None:
    assert set(WARNING_TEMPLATES) == set(WARNING_CASES)


@pytest.mark.parametrize(("code", "params"), list(WARNING_CASES.items()))
def test_every_warning_code_renders_with_its_params_in_both_languages(code: str, params: dict) -> None:
    warning = _warning(code, **params)
    kind = "vehicle" if {"vin", "plate_number"} & {str(value) for value in params.values()} else "driving"
    texts = {language: warning_text(warning, language, kind=kind, side="front") for language in ("zh", "en")}
    for language, text in texts.items():
        assert text != warning.message
        assert not PLACEHOLDER.search(text), text
        for key, value in params.items():
            if isinstance(value, date):
                assert value.isoformat() in text
            elif key in ("field", "first", "second"):  # field names are shown as the card's labels
                assert label(kind, "front", value, language) in text
            elif key == "fields":
                assert all(label(kind, "front", name, language) in text for name in value)
            else:
                assert str(value) in text
    zh, en = texts["zh"], texts["en"]
    assert CJK.search(zh)
    assert zh != en


def test_field_params_become_labels() -> None:
    text = warning_text(_warning("vin_checksum_mismatch", field="vin"), "zh", kind="vehicle")
    assert "车辆识别代号" in text
    text = warning_text(_warning("date_inconsistent", first="first_issue_date", second="birth_date"), "en")
    assert "first issue" in text and "birth" in text


def test_unknown_code_and_missing_params_fall_back_to_the_message() -> None:
    unknown = _warning("something_new")
    assert warning_text(unknown, "zh") == unknown.message
    incomplete = _warning("licence_expiring")  # no valid_to / days_left
    assert warning_text(incomplete, "en") == incomplete.message


def test_json_warnings_are_localized_and_ordered_by_severity() -> None:
    outcome = _ok(
        _licence(),
        warnings=[
            _warning("photo_glare", Severity.INFO),
            _warning("licence_expired", Severity.ERROR, valid_to=date(2024, 5, 1)),
        ],
    )
    rows = render_json_warnings(outcome, "en")
    assert [row["code"] for row in rows] == ["licence_expired", "photo_glare"]
    assert [row["severity"] for row in rows] == ["error", "info"]
    assert "2024-05-01" in rows[0]["message"]
    assert CJK.search(render_json_warnings(outcome, "zh")[0]["message"])


# --------------------------------------------------------------------------------------------- failures


def _failure_outcomes() -> list[Outcome]:
    outcomes = [
        Outcome(status=Status.BAD_IMAGE, kind="driving", reject_reason=r) for r in get_args(RejectReason)
    ]
    outcomes += [
        Outcome(status=Status.VENDOR_ERROR, kind="driving", error_category=category.value)
        for category in ErrorCategory
        if category != ErrorCategory.NOT_FOUND
    ]
    outcomes += [
        Outcome(status=Status.REJECTED, kind="driving", reject_reason=reason)
        for reason in ("rate_limited", "quota_exceeded", "not_allowed")
    ]
    # A photo that got no kind is logged as unanswered but never replied to: no text to tell apart.
    unreplied = (Status.OK, Status.UNANSWERED)
    outcomes += [Outcome(status=status, kind="driving") for status in Status if status not in unreplied]
    return outcomes


def test_every_failure_has_distinct_text_in_both_languages() -> None:
    outcomes = _failure_outcomes()
    for language in ("zh", "en"):
        texts = [failure_text(outcome, language) for outcome in outcomes]
        assert all(texts)
        assert len(set(texts)) == len(texts), language
        assert not any(PLACEHOLDER.search(text) for text in texts)
    for outcome in outcomes:
        zh, en = failure_text(outcome, "zh"), failure_text(outcome, "en")
        assert zh != en and CJK.search(zh)


def test_not_found_names_the_document_and_says_what_to_fix() -> None:
    pages = [
        ("driving", "front"),
        ("driving", "back"),
        ("vehicle", "front"),
        ("vehicle", "back"),
        ("plate", "front"),
    ]
    texts = {failure_text(Outcome(status=Status.NOT_FOUND, kind=k, side=s), "zh") for k, s in pages}
    assert len(texts) == len(pages)
    driving = failure_text(Outcome(status=Status.NOT_FOUND, kind="driving"), "zh")
    assert "驾驶证主页" in driving and "整张证件" in driving
    english = failure_text(Outcome(status=Status.NOT_FOUND, kind="driving"), "en")
    assert "driving licence" in english and "whole card" in english
    vendor_not_found = Outcome(status=Status.VENDOR_ERROR, kind="driving", error_category="not_found")
    assert failure_text(vendor_not_found, "zh") == driving


PAGES_ASKED_AND_SHOWN = [
    (asked, shown)
    for asked in [("driving", "front"), ("driving", "back"), ("vehicle", "front"), ("vehicle", "back")]
    for shown in [("driving", "front"), ("driving", "back"), ("vehicle", "front"), ("vehicle", "back")]
    if asked != shown
]


@pytest.mark.parametrize(("asked", "shown"), PAGES_ASKED_AND_SHOWN)
def test_a_photo_of_another_page_is_named_with_the_word_or_command_that_reads_it(asked, shown) -> None:
    """The advice must work where it is given: a /command on Telegram (a bare word in a group is not
    addressed to the bot), the word in chats that use words (WeChat, WeCom), in either language."""
    outcome = Outcome(
        status=Status.NOT_FOUND,
        kind=asked[0],
        side=asked[1],
        error_category="not_found",
        error_code=shows_page(*shown),
    )
    for language in ("zh", "en"):
        by_command = failure_text(outcome, language)
        by_word = failure_text(outcome, language, words=True)
        command = re.search(r"(/\w+)", by_command)[1]
        word = re.search(r"[“\"](.+?)[”\"]", by_word)[1]
        assert COMMANDS[parse_command(command)[0]] == shown, by_command
        assert COMMANDS[parse_command(word)[0]] == shown, by_word
        assert "/" not in by_word
    zh = failure_text(outcome, "zh")
    assert zh.startswith(f"这张照片是{_DOCUMENT_NAMES[shown][0]}，不是{_DOCUMENT_NAMES[asked][0]}")
    assert "重拍也无济于事" in zh and "retaking it will not help" in failure_text(outcome, "en")


def test_only_a_page_code_names_a_page() -> None:
    assert page_shown(shows_page("vehicle", "back")) == ("vehicle", "back")
    assert (
        page_shown("shows_plate_front") is None and page_shown("empty") is None and page_shown(None) is None
    )


def test_ok_status_without_a_card_reads_as_not_found() -> None:
    empty = Outcome(
        status=Status.OK,
        kind="vehicle",
        recognition=Recognition(kind="vehicle", vendor="fake", document=None),
    )
    assert "行驶证" in failure_text(empty, "zh")
    assert failure_text(_ok(_licence()), "zh") == ""


def test_operator_failures_show_a_short_reference_but_never_the_vendor_message() -> None:
    outcome = Outcome(
        status=Status.VENDOR_ERROR,
        kind="plate",
        error_category="auth",
        error_code="AuthFailure.SecretIdNotFound <x>",
        error_message="SecretId AKIDsecretvalue123 not found",
    )
    for language in ("zh", "en"):
        text = failure_text(outcome, language)
        assert "AuthFailure.SecretIdNotFound" in text
        assert "AKIDsecretvalue123" not in text and "<x>" not in text


def test_failure_reply_renders_in_both_formats() -> None:
    outcome = Outcome(status=Status.BAD_IMAGE, kind="driving", reject_reason="gif", warnings=[])
    assert failure_text(outcome, "en") in _text(outcome, EN)
    assert failure_text(outcome, "zh") in _html_text("\n".join(render_html(outcome, ZH)))


def test_photo_quality_warnings_accompany_a_not_found_reply() -> None:
    outcome = Outcome(
        status=Status.NOT_FOUND, kind="driving", warnings=[_warning("photo_incomplete", Severity.WARNING)]
    )
    text = _text(outcome)
    assert failure_text(outcome, "zh") in text
    assert warning_text(outcome.warnings[0], "zh") in text


# -------------------------------------------------------------------------------------------------- help


def test_help_lists_the_commands_in_both_languages() -> None:
    zh, en = help_text("zh"), help_text("en")
    assert zh != en
    for text in (zh, en):
        assert all(command in text for command in ("/driving", "/vehicle", "/plate"))
    assert all(word in zh for word in ("驾驶证", "行驶证", "车牌"))


@pytest.mark.parametrize(
    ("fields", "shown", "hidden"),
    [
        ({"number": "110101199003070035", "name": "王小明"}, "110101********0035", "199003"),
        ({"number": None, "name": "王小明", "file_number": "110100123456"}, "********3456", "110100"),
        ({"plate_number": "京A12345", "owner": "王小明"}, "京A12345", "王小明"),
    ],
)
def test_history_shows_each_session_by_a_masked_key(fields: dict, shown: str, hidden: str) -> None:
    """A `store_fields = "full"` log holds numbers whole; /history in a chat never shows them so."""
    kind, side = ("vehicle", "front") if "plate_number" in fields else ("driving", "back")
    row = SessionRow(platform="t", kind=kind, side=side, status="ok", fields=fields)
    text = history_text([row], "en", ZoneInfo("Asia/Shanghai"))
    assert shown in text and hidden not in text


def test_history_times_are_in_the_configured_time_zone() -> None:
    when = datetime(2026, 11, 21, 23, 30, tzinfo=UTC)
    row = SessionRow(platform="t", kind="plate", side="front", status="ok", created_at=when)
    assert history_text([row], "en", ZoneInfo("Asia/Shanghai")).splitlines()[1].startswith("11-22 07:30")
    assert history_text([row], "en", ZoneInfo("Asia/Urumqi")).splitlines()[1].startswith("11-22 05:30")


def test_history_lists_a_photo_that_never_got_its_kind() -> None:
    rows = [
        SessionRow(platform="t", kind=None, status="unanswered", error_category="expired"),
        SessionRow(platform="t", kind=None, status="bad_image", error_category="not_image"),
    ]
    zone = ZoneInfo("Asia/Shanghai")
    assert [line.split(" ", 2)[2] for line in history_text(rows, "zh", zone).splitlines()[1:]] == [
        "照片 · 未选择证件类型",
        "照片 · 照片无法识别",
    ]
    assert history_text(rows, "en", zone).splitlines()[1].endswith("photo · no document named")


def test_a_plate_photo_too_small_names_the_plate_minimum() -> None:
    """Plates are read from 15 px; the card's 100 px minimum would send the sender away for nothing."""
    plate = Outcome(status=Status.BAD_IMAGE, kind="plate", reject_reason="too_small")
    card = Outcome(status=Status.BAD_IMAGE, kind="driving", reject_reason="too_small")
    assert "15" in failure_text(plate, "en") and "100" not in failure_text(plate, "en")
    assert "车牌" in failure_text(plate, "zh")
    assert "100" in failure_text(card, "en")


def test_stats_say_how_much_of_the_engine_s_time_was_waiting_in_its_queue():
    engine = VendorKindStats(
        vendor="local", kind="driving", count=9, ok=9, p50_ms=9000, p95_ms=30000, waited_p50_ms=8300
    )
    cloud = VendorKindStats(vendor="tencent", kind="plate", count=2, ok=2, p50_ms=90, p95_ms=120)
    stats = Stats(
        total=11, by_status={"ok": 11}, success_rate=1.0, by_vendor_kind=[engine, cloud], by_vendor_day=[]
    )
    zh, en = stats_text(stats, "zh").splitlines(), stats_text(stats, "en").splitlines()
    assert zh[2] == "local driving: 9/9 · p50 9000 ms (其中排队 8300 ms)"
    assert en[2] == "local driving: 9/9 · p50 9000 ms (of which queued 8300 ms)"
    assert en[3] == "tencent plate: 2/2 · p50 90 ms"
    idle = engine.model_copy(update={"waited_p50_ms": 0.4})  # the engine was idle most of the time
    assert "queued" not in stats_text(stats.model_copy(update={"by_vendor_kind": [idle]}), "en")
