"""What the bot says: the reply to one photo, in Chinese (default) or English, for any chat platform.

Field staff read these replies on a phone, often in a group chat, so the order is fixed by what they must
act on first: a title naming what was read, then the warnings (most serious first), then the card's
fields in the order they are printed on the card, under the card's own labels. Failures say what to fix
("put the whole card in the frame"), never a vendor's error text. Group chats get personal data masked.

A reply is built once as lines of styled spans and then rendered twice: plain text cut into WeChat's
2048-byte messages and Telegram HTML cut into 4096-character messages, both split on line boundaries so
that a field never straddles two messages unless one line alone is too long.
"""

from __future__ import annotations

import html
import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any, Literal
from zoneinfo import ZoneInfo

from bot.images import MAX_UPLOAD_BYTES, MIN_SHORT_SIDE, MIN_SHORT_SIDE_PLATE
from bot.models import Document, Kind, Plate, PlateColor, Severity, Side, Warning
from bot.storage import QUEUED_MS, SessionRow, Stats
from bot.vendors.base import BUSY, UNSUPPORTED, page_shown
from handlers.masking import mask_document, mask_id, mask_number, value_key
from handlers.outcome import Outcome, Status

Language = Literal["zh", "en"]

#: WeChat official accounts and WeCom drop text messages longer than this many UTF-8 bytes.
WECHAT_TEXT_LIMIT_BYTES = 2048
#: Telegram's limit per message, in characters (counted here as UTF-16 units, as Telegram does).
TELEGRAM_TEXT_LIMIT = 4096


@dataclass(frozen=True)
class ReplyOptions:
    """How to phrase a reply: the chat's language, and whether personal data must be masked (groups)."""

    language: Language = "zh"
    mask: bool = False
    #: The chat asks for a page by word (WeChat, WeCom: 驾驶证副页) rather than by /command (Telegram,
    #: where a bare word in a group is not addressed to the bot), so advice names the word.
    words: bool = False


# ---------------------------------------------------------------------------------------------- labels

#: (zh, en) label of every card field, per page, in the card's own words. Keys are attribute names.
FIELD_LABELS: dict[tuple[Kind, Side], dict[str, tuple[str, str]]] = {
    ("driving", "front"): {
        "number": ("证号", "Licence number"),
        "name": ("姓名", "Name"),
        "sex": ("性别", "Sex"),
        "nationality": ("国籍", "Nationality"),
        "address": ("住址", "Address"),
        "birth_date": ("出生日期", "Date of birth"),
        "first_issue_date": ("初次领证日期", "Date of first issue"),
        "class_": ("准驾车型", "Vehicle class"),
        "valid_from": ("有效起始日期", "Valid from"),
        "valid_to": ("有效期至", "Valid until"),
        "long_term": ("长期有效", "No expiry"),
        "issuing_authority": ("发证机关", "Issuing authority"),
    },
    ("driving", "back"): {
        "number": ("证号", "Licence number"),
        "name": ("姓名", "Name"),
        "file_number": ("档案编号", "File number"),
        "record": ("记录", "Record"),
    },
    ("vehicle", "front"): {
        "plate_number": ("号牌号码", "Plate number"),
        "vehicle_type": ("车辆类型", "Vehicle type"),
        "owner": ("所有人", "Owner"),
        "address": ("住址", "Address"),
        "use_character": ("使用性质", "Use"),
        "model": ("品牌型号", "Make and model"),
        "vin": ("车辆识别代号", "VIN"),
        "engine_number": ("发动机号码", "Engine number"),
        "register_date": ("注册日期", "Registration date"),
        "issue_date": ("发证日期", "Issue date"),
        "issuing_authority": ("发证机关", "Issuing authority"),
    },
    ("vehicle", "back"): {
        "plate_number": ("号牌号码", "Plate number"),
        "file_number": ("档案编号", "File number"),
        "approved_passengers": ("核定载人数", "Approved passengers"),
        "total_mass": ("总质量", "Gross mass"),
        "curb_weight": ("整备质量", "Curb weight"),
        "approved_load": ("核定载质量", "Approved load"),
        "dimensions": ("外廓尺寸", "Overall dimensions"),
        "traction_mass": ("准牵引总质量", "Approved towing mass"),
        "remarks": ("备注", "Remarks"),
        "inspection_record": ("检验记录", "Inspection record"),
        "inspection_valid_until": ("检验有效期至", "Inspection valid until"),
    },
    # Plates have no pages; both sides share one table so a lookup never depends on `side`.
    ("plate", "front"): {
        "number": ("号牌号码", "Plate number"),
        "color": ("号牌颜色", "Plate colour"),
        "confidence": ("置信度", "Confidence"),
        "box": ("位置", "Position"),
        "double_layer": ("双层号牌", "Double-layer plate"),
    },
}
FIELD_LABELS[("plate", "back")] = FIELD_LABELS[("plate", "front")]

#: Field-name aliases used in values and warning params (`class`) mapped to attribute names (`class_`).
_FIELD_ALIASES = {"class": "class_"}
#: Where to look up a field named in a warning when the warning's page is not known.
_LABEL_SEARCH_ORDER: tuple[tuple[Kind, Side], ...] = (
    ("driving", "front"),
    ("driving", "back"),
    ("vehicle", "front"),
    ("vehicle", "back"),
    ("plate", "front"),
)
#: Identifiers people copy or compare character by character: shown in monospace on Telegram.
_CODE_FIELDS = frozenset({"number", "vin", "engine_number", "plate_number", "file_number"})
#: Bookkeeping or shown through another field (long_term turns valid_to into "长期").
_HIDDEN_FIELDS = frozenset({"meta", "long_term"})

PLATE_COLOR_WORDS: dict[PlateColor, tuple[str, str]] = {
    PlateColor.BLUE: ("蓝牌", "blue"),
    PlateColor.YELLOW: ("黄牌", "yellow"),
    PlateColor.GREEN: ("绿牌（新能源）", "green (new energy)"),
    PlateColor.YELLOW_GREEN: ("黄绿牌（新能源）", "yellow-green (new energy)"),
    PlateColor.WHITE: ("白牌", "white"),
    PlateColor.BLACK: ("黑牌", "black"),
    PlateColor.OTHER: ("其他颜色", "other colour"),
}

_TITLES: dict[tuple[Kind, Side], tuple[str, str]] = {
    ("driving", "front"): ("🪪 驾驶证（主页）", "🪪 Driving licence (main page)"),
    ("driving", "back"): ("🪪 驾驶证（副页）", "🪪 Driving licence (second page)"),
    ("vehicle", "front"): ("🚗 行驶证（主页）", "🚗 Vehicle licence (main page)"),
    ("vehicle", "back"): ("🚗 行驶证（副页）", "🚗 Vehicle licence (second page)"),
    ("plate", "front"): ("🔢 车牌", "🔢 Licence plate"),
    ("plate", "back"): ("🔢 车牌", "🔢 Licence plate"),
}

_SEVERITY_MARKERS = {Severity.ERROR: "⛔", Severity.WARNING: "⚠️", Severity.INFO: "ℹ️"}
_SEVERITY_RANK = {Severity.ERROR: 0, Severity.WARNING: 1, Severity.INFO: 2}
_FAILURE_MARKER = "❌"

_LONG_TERM = ("长期", "No expiry")
_YES = ("是", "yes")
_CACHED_NOTE = (
    "ℹ️ 这张照片刚刚识别过，以上是当时的结果。",
    "ℹ️ This photo was read a moment ago; this is that result.",
)
_MASKED_NOTE = ("🔒 群聊中已隐藏部分个人信息。", "🔒 Personal details are partly hidden in group chats.")


def _pick(pair: tuple[str, str], language: str) -> str:
    """zh unless English was asked for: a chat with an unknown language still gets a readable reply."""
    return pair[1] if language == "en" else pair[0]


def label(kind: Kind, side: Side, field: str, language: str) -> str:
    """The card's label for `field` (attribute name or alias); the raw name if none is known."""
    field = _FIELD_ALIASES.get(field, field)
    pair = FIELD_LABELS.get((kind, side), {}).get(field)
    return _pick(pair, language) if pair else field


def _label_anywhere(field: str, language: str, page: tuple[Kind, Side] | None) -> str:
    """Label for a field named in a warning: its own page first, then any page that has the field."""
    field = _FIELD_ALIASES.get(field, field)
    pages = ((page,) if page else ()) + _LABEL_SEARCH_ORDER
    for candidate in pages:
        pair = FIELD_LABELS.get(candidate, {}).get(field)
        if pair:
            return _pick(pair, language)
    return field


# -------------------------------------------------------------------------------------------- warnings

#: (zh, en) text per warning code. Field names in params are shown as labels, dates as YYYY-MM-DD.
WARNING_TEMPLATES: dict[str, tuple[str, str]] = {
    "licence_expired": (
        "驾驶证已过期（有效期至 {valid_to}），持证人需要换证。",
        "The licence expired on {valid_to}; the holder must renew it.",
    ),
    "licence_expiring": (
        "驾驶证即将到期：有效期至 {valid_to}，还剩 {days_left} 天。",
        "The licence expires on {valid_to} ({days_left_en} left).",
    ),
    "inspection_overdue": (
        "车辆检验已逾期（检验有效期至 {until}），请尽快年检。",
        "The vehicle inspection is overdue (valid until {until}); it must be inspected now.",
    ),
    "inspection_due": (
        "车辆检验即将到期：检验有效期至 {until}，还剩 {days_left} 天。",
        "The vehicle inspection is due by {until} ({days_left_en} left).",
    ),
    "probation": (
        "驾驶人在实习期内，至 {until}。",
        "The driver is on probation (实习期) until {until}.",
    ),
    "id_checksum_mismatch": (
        "{field} {value_masked} 校验位不符，可能识别有误，请与证件核对。",
        "{field} {value_masked} fails its check digit and may be misread; please compare it with the card.",
    ),
    "id_birth_mismatch": (
        "证号中的出生日期与“出生日期”栏不一致，请与证件核对。",
        "The birth date inside the licence number differs from the date of birth field; please check.",
    ),
    "id_sex_mismatch": (
        "证号中的性别与“性别”栏不一致，请与证件核对。",
        "The sex encoded in the licence number differs from the sex field; please check.",
    ),
    "vin_checksum_mismatch": (
        "{field}校验位不符，可能识别有误，请与证件核对。",
        "The {field} fails its check digit and may be misread; please compare it with the card.",
    ),
    "plate_grammar_mismatch": (
        "{field}“{value}”不符合号牌格式，可能识别有误，请核对。",
        "{field} “{value}” is not a valid Chinese plate number; it may be misread, please check.",
    ),
    "class_unknown": (
        "准驾车型“{value}”不是已知的车型代号，请核对。",
        "Vehicle class “{value}” is not a known class code; please check.",
    ),
    "filled_from_number": (
        "{field}未能从照片识别，已按证号推出，请与证件核对。",
        "The {field} could not be read from the photo and was taken from the licence number; please check.",
    ),
    "unread_fields": (
        "未能识别：{fields}。请让证件充满画面、对焦清晰、避开反光后重拍。",
        "Could not read: {fields}. Fill the frame with the card, keep it sharp and away from glare, and "
        "retake the photo.",
    ),
    "doubtful_field": (
        "{field}识别把握不大，可能有误，请与证件核对。",
        "The {field} was hard to read and may be misread; please compare it with the card.",
    ),
    "doubtful_plate": (
        "{field}“{value}”识别把握不大，可能有误，请与车牌核对。",
        "{field} “{value}” was hard to read and may be misread; please check it against the plate.",
    ),
    "date_inconsistent": (
        "{first}与{second}的先后顺序不合理，可能识别有误，请核对。",
        "{first} and {second} are in an impossible order and may be misread; please check.",
    ),
    "date_in_future": (
        "{field}晚于今天，可能识别有误，请核对。",
        "{field} is later than today and may be misread; please check.",
    ),
    "repaired": (
        "{field}中一个易混字符已按校验位自动更正，请与证件核对。",
        "One look-alike character in the {field} was corrected using its check digit; please compare "
        "with the card.",
    ),
    "photo_copy": (
        "照片疑似复印件，请拍摄证件原件。",
        "This looks like a photocopy; please photograph the original card.",
    ),
    "photo_screen": (
        "照片疑似翻拍屏幕，请直接拍摄证件原件。",
        "This looks like a photo of a screen; please photograph the card itself.",
    ),
    "photo_glare": (
        "证件上有反光，部分内容可能读错，请避开灯光重拍。",
        "There is glare on the card, so some fields may be misread; retake the photo away from direct light.",
    ),
    "photo_blur": (
        "照片模糊，部分内容可能读错，请拿稳手机、对焦后重拍。",
        "The photo is blurry, so some fields may be misread; hold the phone steady and refocus.",
    ),
    "photo_small": (
        "照片中证件上的字太小，部分内容可能读错，请靠近证件重拍，或发送原图。",
        "The card's print is too small in this photo, so some fields may be misread; move closer and "
        "retake it, or send the original photo rather than a compressed copy.",
    ),
    "photo_incomplete": (
        "证件没有拍全，请把整张证件拍进画面。",
        "Part of the card is cut off; get the whole card in the frame.",
    ),
    "photo_colourless": (
        "照片是黑白的，认不出红色印章，因此没有读取发证机关；如需此项，请发送彩色照片。",
        "The photo is black and white, so the red seal naming the issuing authority could not be read; "
        "send a colour photo if you need it.",
    ),
}


def sorted_warnings(warnings: Iterable[Warning]) -> list[Warning]:
    """Most serious first (error, warning, info); stable, so the checks' own order survives within a rank."""
    return sorted(warnings, key=lambda warning: _SEVERITY_RANK.get(warning.severity, len(_SEVERITY_RANK)))


def warning_text(
    warning: Warning, language: str, *, kind: Kind | None = None, side: Side | None = None
) -> str:
    """The warning in the user's language. `kind`/`side` pick the right label when a param names a field;
    an unknown code, or params that do not fill the template, fall back to the warning's own message."""
    template = WARNING_TEMPLATES.get(warning.code)
    if template is None:
        return warning.message
    page = (kind, side or "front") if kind else None
    params = _localized_params(warning.params, language, page)
    try:
        text = _pick(template, language).format_map(params)
    except (KeyError, IndexError, ValueError):
        return warning.message
    return text


def _localized_params(
    params: dict[str, Any], language: str, page: tuple[Kind, Side] | None
) -> dict[str, str]:
    localized: dict[str, str] = {}
    for key, value in params.items():
        if key in ("field", "first", "second") and isinstance(value, str):
            localized[key] = _label_anywhere(value, language, page)
        elif key == "fields" and isinstance(value, list):
            separator = ", " if language == "en" else "、"
            localized[key] = separator.join(_label_anywhere(str(name), language, page) for name in value)
        else:
            localized[key] = _format_value(value)
    if "days_left" in params:
        days = params["days_left"]
        localized["days_left_en"] = f"{days} day" if days in (1, -1, "1") else f"{days} days"
    return localized


def _format_value(value: Any) -> str:
    if isinstance(value, date):
        return value.isoformat()
    return str(value)


def render_json_warnings(outcome: Outcome, language: str) -> list[dict[str, str]]:
    """Localized warnings for machine consumers (`recognize --json`), in the same order as the replies."""
    page = (outcome.kind, outcome.side)
    return [
        {
            "code": warning.code,
            "severity": str(warning.severity),
            "message": warning_text(warning, language, kind=page[0], side=page[1]),
        }
        for warning in sorted_warnings(outcome.warnings)
    ]


# -------------------------------------------------------------------------------------------- failures

#: Intake refusals (bot.images reject reasons): each says what the sender should do differently.
REJECT_REASON_TEXTS: dict[str, tuple[str, str]] = {
    "empty": (
        "收到的文件是空的，请重新发送照片。",
        "The file arrived empty; please send the photo again.",
    ),
    "too_large": (
        f"文件太大（上限 {MAX_UPLOAD_BYTES // (1024 * 1024)} MB），请以“照片”方式发送，或压缩后再发。",
        f"The file is too large (limit {MAX_UPLOAD_BYTES // (1024 * 1024)} MB); send it as a photo "
        "instead of a file, or shrink it first.",
    ),
    "not_image": (
        "这不是图片。请发送证件的照片（JPG 或 PNG）。",
        "That is not an image. Please send a photo of the card (JPG or PNG).",
    ),
    "unsupported_format": (
        "不支持这种图片格式，请发送 JPG 或 PNG 照片。",
        "This image format is not supported; please send a JPG or PNG photo.",
    ),
    "gif": (
        "不支持 GIF 图片，请发送证件的普通照片（JPG 或 PNG）。",
        "GIF images are not supported; please send an ordinary photo of the card (JPG or PNG).",
    ),
    "animated": (
        "不支持动图，请发送证件的静态照片。",
        "Animated images are not supported; please send a still photo of the card.",
    ),
    # A file cut off in transit and one damaged on the phone decode alike: resending mends the first,
    # only a new photo the second.
    "truncated": (
        "图片已损坏或不完整（可能没有上传完），请重新发送；仍不行的话请重新拍一张。",
        "The image is damaged or incomplete (the upload may have been cut off); please send it again, or "
        "take a new photo if that does not help.",
    ),
    "bomb": (
        "图片尺寸异常巨大，无法处理。请直接用手机拍摄证件后发送。",
        "The image dimensions are far too large to process; please send an ordinary phone photo of the card.",
    ),
    "too_small": (
        f"照片太小，看不清。请靠近证件重新拍摄（短边至少 {MIN_SHORT_SIDE} 像素）。",
        f"The photo is too small to read; move closer to the card and retake it (at least {MIN_SHORT_SIDE} "
        "pixels on the short side).",
    ),
    "too_thin": (
        "照片过于细长，不像证件或车牌的照片；请把整张证件或整块车牌拍进画面后重新发送。",
        "The picture is a long thin strip, not a photo of a card or plate; photograph the whole card or "
        "plate and send it again.",
    ),
}

#: Our own refusals (status REJECTED): access lists, per-user rate limits, daily quotas.
REJECTED_TEXTS: dict[str, tuple[str, str]] = {
    "rate_limited": (
        "发送太频繁了，请稍等一分钟再试。",
        "You are sending photos too quickly; please wait a minute and try again.",
    ),
    "quota_exceeded": (
        "今天的识别次数已用完，请明天再试，或联系管理员。",
        "Today's recognition allowance is used up; try again tomorrow or ask the administrator.",
    ),
    "not_allowed": (
        "你还没有使用这个机器人的权限，请联系管理员开通。",
        "You are not allowed to use this bot yet; ask the administrator for access.",
    ),
}

#: Vendor failures by category. auth/quota/server/timeout are the operator's problem, never the user's.
ERROR_CATEGORY_TEXTS: dict[str, tuple[str, str]] = {
    "download": (
        "没能下载你发送的照片，请重新发送一次。",
        "Your photo could not be downloaded; please send it again.",
    ),
    "auth": (
        "识别服务暂时不可用，请稍后再试。如果一直这样，请告诉管理员检查识别服务的账号配置。",
        "The recognition service is unavailable right now, please try again later. If this keeps "
        "happening, ask the administrator to check the service account.",
    ),
    "quota_or_rate": (
        "识别服务暂时不可用（服务繁忙或额度已用完），请稍后再试。",
        "The recognition service is unavailable right now (busy or out of quota), please try again later.",
    ),
    "server": (
        "识别服务暂时不可用（服务端出现故障），请稍后再试。",
        "The recognition service is unavailable right now (it reported an internal fault), please try "
        "again later.",
    ),
    "timeout": (
        "识别服务响应超时，请稍后重新发送这张照片。",
        "The recognition service took too long to answer; please send the photo again in a moment.",
    ),
    "bad_image": (
        "识别服务无法处理这张照片，请换一张清晰、完整的证件照片（JPG 或 PNG）再试。",
        "The recognition service could not process this photo; please send a sharp, complete photo of the "
        "card (JPG or PNG).",
    ),
}
#: Categories worth a short reference for the operator (the user cannot fix them by retaking a photo).
_REFERENCED_CATEGORIES = frozenset({"auth", "quota_or_rate", "server", "timeout"})
_REFERENCE_MAX_CHARS = 48
_UNSAFE_REFERENCE_CHARS = re.compile(r"[^A-Za-z0-9._-]")

#: Status-level fallbacks, when the outcome does not say why.
STATUS_TEXTS: dict[Status, tuple[str, str]] = {
    Status.BAD_IMAGE: (
        "这张照片无法识别，请换一张清晰、完整的证件照片再试。",
        "This photo cannot be read; please send a sharp photo that shows the whole card.",
    ),
    Status.VENDOR_ERROR: (
        "识别服务暂时不可用，请稍后再试。",
        "The recognition service is unavailable right now, please try again later.",
    ),
    Status.REJECTED: (
        "这次请求没有被受理，请稍后再试或联系管理员。",
        "This request was not accepted; please try again later or ask the administrator.",
    ),
    Status.INTERRUPTED: (
        "机器人重启时这张照片还没有识别完，请重新发送。",
        "The bot restarted before this photo was read; please send it again.",
    ),
}

_DOCUMENT_NAMES: dict[tuple[Kind, Side], tuple[str, str]] = {
    ("driving", "front"): ("驾驶证主页", "driving licence (main page)"),
    ("driving", "back"): ("驾驶证副页", "driving licence (second page)"),
    ("vehicle", "front"): ("行驶证主页", "vehicle licence (main page)"),
    ("vehicle", "back"): ("行驶证副页", "vehicle licence (second page)"),
    ("plate", "front"): ("车牌", "licence plate"),
    ("plate", "back"): ("车牌", "licence plate"),  # a plate has one side; `--side back` still names it
}
_TOO_SMALL_PLATE = (
    f"照片太小，看不清车牌。请靠近一些重新拍摄（短边至少 {MIN_SHORT_SIDE_PLATE} 像素）。",
    f"The photo is too small to read the plate; move closer and retake it (at least {MIN_SHORT_SIDE_PLATE} "
    "pixels on the short side).",
)
_NOT_FOUND_DOCUMENT = (
    "没有找到{document}。请把整张证件平放、完整地拍进画面，光线充足、不要反光，然后重拍。"
    "如果拍的不是{document}，请先发送正确的命令（/help 查看）。",
    "No {document} found — make sure the whole card is in the photo, flat, well lit and without glare. "
    "If this is a different document, send the matching command first (see /help).",
)
_NOT_FOUND_PLATE = (
    "没有找到车牌。请靠近一些，让整块车牌清晰地出现在画面中，然后重拍。",
    "No licence plate found — move closer so the whole plate is sharp and in the frame, then retake.",
)


_BUSY = (
    "现在排队识别的照片太多，请过几分钟再发送这张照片。",
    "Too many photos are waiting to be read right now; please send this one again in a few minutes.",
)


_OTHER_PAGE = (
    "这张照片是{other}，不是{document}，重拍也无济于事。要识别{other}，请先发送{ask}，再发这张照片。",
    "This photo shows the {other}, not the {document}, so retaking it will not help. To read the {other}, "
    "send {ask} first, then the photo again.",
)


_UNSUPPORTED_PAGE = (
    "这里配置的识别服务不能识别{document}，重拍也无济于事，请联系管理员。",
    "The recognition service set up here cannot read a {document}, so retaking the photo will not help; "
    "please ask the administrator.",
)


def unusable_text(reason: str, language: str) -> str:
    """What to say about a photo the channel could not fetch, before any kind was given."""
    texts = (
        REJECT_REASON_TEXTS.get(reason)
        or ERROR_CATEGORY_TEXTS.get(reason)
        or ERROR_CATEGORY_TEXTS["download"]
    )
    return _pick(texts, language)


def interrupted_text(language: str) -> str:
    """What a user whose message a stop cut off is told, by the channel that is closing."""
    return _pick(STATUS_TEXTS[Status.INTERRUPTED], language)


def failure_text(outcome: Outcome, language: str, *, words: bool = False) -> str:
    """Why nothing (or not everything) could be read, and what to do about it; "" for a good result."""
    status = outcome.status
    if status == Status.OK:
        has_result = outcome.recognition is not None and not outcome.recognition.is_empty()
        return "" if has_result else _not_found_text(outcome.kind, outcome.side, language)
    if outcome.error_code == UNSUPPORTED:
        document = _pick(_DOCUMENT_NAMES[(outcome.kind, outcome.side)], language)
        return _pick(_UNSUPPORTED_PAGE, language).format(document=document)
    shown = page_shown(outcome.error_code)
    if shown is not None:
        return _other_page_text(shown, (outcome.kind, outcome.side), language, words)
    if outcome.error_code == BUSY:  # the embedded engine's queue, with no other vendor to take the photo
        return _pick(_BUSY, language)
    if status == Status.NOT_FOUND or outcome.error_category == "not_found":
        return _not_found_text(outcome.kind, outcome.side, language)
    if status == Status.REJECTED:
        return _pick(REJECTED_TEXTS.get(outcome.reject_reason or "", STATUS_TEXTS[status]), language)
    if outcome.reject_reason == "too_small" and outcome.kind == "plate":  # plates need far fewer pixels
        return _pick(_TOO_SMALL_PLATE, language)
    if outcome.reject_reason in REJECT_REASON_TEXTS:
        return _pick(REJECT_REASON_TEXTS[outcome.reject_reason], language)
    category = outcome.error_category or ""
    if category in ERROR_CATEGORY_TEXTS:
        text = _pick(ERROR_CATEGORY_TEXTS[category], language)
        if category in _REFERENCED_CATEGORIES:
            text += _reference(category, outcome.error_code, language)
        return text
    return _pick(STATUS_TEXTS.get(status, STATUS_TEXTS[Status.BAD_IMAGE]), language)


def _other_page_text(shown: tuple[Kind, Side], asked: tuple[Kind, Side], language: str, words: bool) -> str:
    """Which page the photo shows, and how to ask for it in this chat: its word or its /command."""
    kind, side = shown
    shown_name = _pick(_DOCUMENT_NAMES[shown], language)
    command = f"{kind}_back" if side == "back" else kind  # also the English word (help lists them)
    if words:  # the zh page name is the word that asks for it (驾驶证副页)
        ask = f"“{shown_name}”" if language == "zh" else f'"{command}"'
    else:
        ask = f" /{command}" if language == "zh" else f"/{command}"
    return _pick(_OTHER_PAGE, language).format(
        other=shown_name, document=_pick(_DOCUMENT_NAMES[asked], language), ask=ask
    )


def _not_found_text(kind: Kind, side: Side, language: str) -> str:
    if kind == "plate":
        return _pick(_NOT_FOUND_PLATE, language)
    document = _pick(_DOCUMENT_NAMES[(kind, side)], language)
    return _pick(_NOT_FOUND_DOCUMENT, language).format(document=document)


def _reference(category: str, code: str | None, language: str) -> str:
    """A short tag the user can pass on to the operator; only safe characters of the vendor's code, never
    its message (which may echo request details)."""
    reference = category
    if code:
        reference += "/" + _UNSAFE_REFERENCE_CHARS.sub("", code)
    reference = reference[:_REFERENCE_MAX_CHARS]
    return f"（参考：{reference}）" if language != "en" else f" (ref: {reference})"


# ------------------------------------------------------------------------------------- reply structure

Style = Literal["b", "i", "code"] | None


@dataclass(frozen=True)
class Span:
    """A run of text with one style; a line is a tuple of spans, rendered as plain text or HTML."""

    text: str
    style: Style = None


Line = tuple[Span, ...]


def _line(*parts: str | Span) -> Line:
    return tuple(part if isinstance(part, Span) else Span(part) for part in parts if part)


def reply_lines(outcome: Outcome, options: ReplyOptions) -> list[Line]:
    """The whole reply, before rendering: title, warnings, fields, notes."""
    language = options.language
    failure = failure_text(outcome, language, words=options.words)
    lines: list[Line] = []
    if failure:
        lines.append(_line(f"{_FAILURE_MARKER} {failure}"))
    else:
        lines.append(_line(Span(_pick(_TITLES[(outcome.kind, outcome.side)], language), "b")))
    lines.extend(_warning_lines(outcome, language))
    recognition = outcome.recognition
    notes: list[Line] = []
    if not failure and recognition is not None:
        document = recognition.document if outcome.kind != "plate" else None
        lines.append(())
        if document is not None:
            lines.extend(_document_lines(document, options))
            if options.mask and _has_personal_values(document):
                notes.append(_line(Span(_pick(_MASKED_NOTE, language), "i")))
        else:
            lines.extend(_plate_lines(recognition.plates, language))
        if outcome.cached:
            notes.append(_line(Span(_pick(_CACHED_NOTE, language), "i")))
    if notes:
        lines.append(())
        lines.extend(notes)
    return lines


def _warning_lines(outcome: Outcome, language: str) -> list[Line]:
    return [
        _line(
            f"{_SEVERITY_MARKERS.get(warning.severity, '•')} "
            + warning_text(warning, language, kind=outcome.kind, side=outcome.side)
        )
        for warning in sorted_warnings(outcome.warnings)
    ]


def _colon(language: str) -> str:
    return ": " if language == "en" else "："


def _document_lines(document: Document, options: ReplyOptions) -> list[Line]:
    """Non-empty fields in card order; valid_to reads 长期 for a licence without expiry."""
    language = options.language
    values = mask_document(document) if options.mask else document.values()
    lines: list[Line] = []
    for field in document.field_names():
        if field in _HIDDEN_FIELDS:
            continue
        value = values.get(value_key(document, field))
        if field == "valid_to" and getattr(document, "long_term", False) and value in (None, ""):
            value = _pick(_LONG_TERM, language)
        if value is None or value == "":
            continue
        shown = Span(str(value), "code" if field in _CODE_FIELDS else None)
        lines.append(
            _line(Span(label(document.kind, document.side, field, language), "b"), _colon(language), shown)
        )
    return lines


def _has_personal_values(document: Document) -> bool:
    return any(getattr(document, field, None) not in (None, "") for field in document.personal_fields)


def _plate_lines(plates: Sequence[Plate], language: str) -> list[Line]:
    """One plate as labelled fields; several as a numbered list, each plate on its own line."""
    if len(plates) == 1:
        plate = plates[0]
        colon = _colon(language)
        lines = [
            _line(Span(label("plate", "front", "number", language), "b"), colon, Span(plate.number, "code")),
            _line(Span(label("plate", "front", "color", language), "b"), colon, _color_word(plate, language)),
        ]
        if plate.double_layer:
            lines.append(
                _line(
                    Span(label("plate", "front", "double_layer", language), "b"), colon, _pick(_YES, language)
                )
            )
        return lines
    separator = " · "
    lines = []
    for index, plate in enumerate(plates, start=1):
        parts: list[str | Span] = [
            f"{index}. ",
            Span(plate.number, "code"),
            separator,
            _color_word(plate, language),
        ]
        if plate.double_layer:
            parts += [separator, _pick(("双层", "double-layer"), language)]
        lines.append(_line(*parts))
    return lines


def _color_word(plate: Plate, language: str) -> str:
    return _pick(PLATE_COLOR_WORDS.get(plate.color, PLATE_COLOR_WORDS[PlateColor.OTHER]), language)


# ------------------------------------------------------------------------------------------- rendering


@dataclass(frozen=True)
class _Format:
    """How one chat measures and marks up text. Sizes are additive over concatenation, so a long line
    can be cut by summing per-character costs instead of re-rendering."""

    html: bool
    limit: int

    def size(self, text: str) -> int:
        if self.html:
            return len(text.encode("utf-16-le")) // 2
        return len(text.encode("utf-8"))

    def render_span(self, span: Span) -> str:
        if not self.html:
            return span.text
        escaped = html.escape(span.text, quote=False)
        return f"<{span.style}>{escaped}</{span.style}>" if span.style else escaped

    def render_line(self, line: Line) -> str:
        return "".join(self.render_span(span) for span in line)

    def span_overhead(self, style: Style) -> int:
        return self.size(self.render_span(Span("", style))) if self.html else 0

    def cluster_cost(self, cluster: str) -> int:
        return self.size(html.escape(cluster, quote=False) if self.html else cluster)


def render_text(
    outcome: Outcome, options: ReplyOptions, *, limit_bytes: int = WECHAT_TEXT_LIMIT_BYTES
) -> list[str]:
    """Plain-text messages, each at most `limit_bytes` UTF-8 bytes (WeChat / WeCom / CLI)."""
    return _render(reply_lines(outcome, options), _Format(html=False, limit=limit_bytes))


def render_html(outcome: Outcome, options: ReplyOptions, *, limit: int = TELEGRAM_TEXT_LIMIT) -> list[str]:
    """Telegram HTML messages (parse_mode=HTML), each at most `limit` characters, every tag closed in the
    message that opened it."""
    return _render(reply_lines(outcome, options), _Format(html=True, limit=limit))


def _render(lines: list[Line], fmt: _Format) -> list[str]:
    pieces: list[str] = []
    for line in lines:
        rendered = fmt.render_line(line)
        if fmt.size(rendered) <= fmt.limit:
            pieces.append(rendered)
        else:
            pieces.extend(fmt.render_line(part) for part in _split_line(line, fmt))
    return _pack(pieces, fmt)


def _pack(pieces: list[str], fmt: _Format) -> list[str]:
    """Greedy: as many whole lines per message as fit; blank lines at a message's edges are dropped."""
    chunks: list[list[str]] = [[]]
    used = 0
    for piece in pieces:
        cost = fmt.size(piece)
        newline = 1 if chunks[-1] else 0
        if chunks[-1] and used + newline + cost > fmt.limit:
            chunks.append([])
            used, newline = 0, 0
        if not chunks[-1] and not piece.strip():
            continue
        chunks[-1].append(piece)
        used += newline + cost
    texts = ["\n".join(chunk).rstrip("\n") for chunk in chunks]
    return [text for text in texts if text.strip()]


def _clusters(text: str) -> list[str]:
    """Characters with their combining marks, variation selectors and joiners attached, so a cut never
    separates ⚠ from its emoji selector or a base letter from its accent."""
    clusters: list[str] = []
    for char in text:
        joins_previous = (
            unicodedata.combining(char)
            or char in "\ufe0e\ufe0f\u200d"
            or (clusters and clusters[-1].endswith("\u200d"))
        )
        if clusters and joins_previous:
            clusters[-1] += char
        else:
            clusters.append(char)
    return clusters


def _split_line(line: Line, fmt: _Format) -> list[Line]:
    """Cut one over-long line into maximal pieces that each fit, keeping every span's style."""
    parts: list[list[Span]] = []
    current: list[Span] = []
    used = 0
    for span in line:
        for cluster in _clusters(span.text):
            same_span = bool(current) and current[-1].style == span.style
            cost = fmt.cluster_cost(cluster) + (0 if same_span else fmt.span_overhead(span.style))
            if current and used + cost > fmt.limit:
                parts.append(current)
                current, used, same_span = [], 0, False
                cost = fmt.cluster_cost(cluster) + fmt.span_overhead(span.style)
            if same_span:
                current[-1] = Span(current[-1].text + cluster, span.style)
            else:
                current.append(Span(cluster, span.style))
            used += cost
    if current:
        parts.append(current)
    return [tuple(part) for part in parts]


# ------------------------------------------------------------------------------------------------ help

_HELP = (
    "发送驾驶证、行驶证或车牌的照片，我会读出上面的信息，并提示过期、年检、实习期和校验问题。\n"
    "发送命令（或文字）指定证件类型，照片前后发都可以，也可以写在照片说明里：\n"
    "/driving 驾驶证　/driving_back 驾驶证副页\n"
    "/vehicle 行驶证　/vehicle_back 行驶证副页\n"
    "/plate 车牌\n"
    "只发照片时，我会请你选择证件类型。/lang en 切换为英文，/cancel 取消。\n"
    "拍摄要点：整张证件入镜、平放、光线充足、不要反光。\n"
    "/help 显示本说明",
    "Send a photo of a driving licence (驾驶证), a vehicle licence (行驶证) or a licence plate (车牌): "
    "I read it and flag expiry, inspection, probation and check-digit problems.\n"
    "Say what the photo shows with a command, before or after the photo, or as its caption:\n"
    "/driving driving licence · /driving_back its second page (副页)\n"
    "/vehicle vehicle licence · /vehicle_back its second page (副页)\n"
    "/plate licence plate\n"
    "A photo on its own: I ask which document it is. /lang zh for Chinese, /cancel to start over.\n"
    "Photo tips: the whole card in the frame, flat, well lit, no glare.\n"
    "/help show this overview",
)


_WORD_HELP = (
    "发送驾驶证、行驶证或车牌的照片，我会读出上面的信息，并提示过期、年检、实习期和校验问题。\n"
    "照片前或照片后发送文字指定证件类型：\n"
    "驾驶证 · 驾驶证副页 · 行驶证 · 行驶证副页 · 车牌\n"
    "只发照片时，我会请你回复数字选择类型。\n"
    "记录：查看最近的识别记录 · 取消：放下等待中的照片 · 帮助：显示本说明 · English：改用英文回复\n"
    "拍摄要点：整张证件入镜、平放、光线充足、不要反光。",
    "Send a photo of a driving licence, a vehicle licence or a licence plate: I read it and flag "
    "expiry, inspection, probation and check-digit problems.\n"
    "Before or after the photo, say what it shows:\n"
    "driving · driving_back · vehicle · vehicle_back · plate\n"
    "A photo on its own: I ask you to reply with a number.\n"
    "history: your latest recognitions · cancel: drop a waiting photo · help: this overview · "
    "中文: replies in Chinese\n"
    "Photo tips: the whole card in the frame, flat, well lit, no glare.",
)


def help_text(language: str, *, words: bool = False) -> str:
    """The commands overview for /help, /start or an unexplained message. `words` for platforms
    without slash commands (WeChat, WeCom), where users type 驾驶证 rather than /driving."""
    return _pick(_WORD_HELP if words else _HELP, language)


# ------------------------------------------------------------------------------------------- history

_HISTORY_TITLE = ("🗂 最近的识别记录", "🗂 Your latest recognitions")
_HISTORY_EMPTY = ("还没有识别记录。", "No recognitions yet.")
_STATS_TITLE = ("📊 识别统计", "📊 Recognition statistics")
#: Of a vendor's median time, the median wait in its own queue (the embedded engine's, in a rush).
_QUEUED = ("其中排队", "of which queued")
_HISTORY_STATUS = {
    "ok": ("成功", "read"),
    "not_found": ("未找到证件", "nothing found"),
    "bad_image": ("照片无法识别", "unreadable photo"),
    "vendor_error": ("服务异常", "service error"),
    "rejected": ("未受理", "not accepted"),
    "unanswered": ("未选择证件类型", "no document named"),
}
#: A history line's page for a photo that never got its kind.
_NO_KIND_TITLE = ("照片", "photo")


def history_text(rows: Sequence[SessionRow], language: str, zone: ZoneInfo) -> str:
    """A user's own latest sessions: when (in the bot's configured time zone, as its dates are), which
    page, how it went, and the page's key value masked.

    Values come from the session log, which holds them masked (or not at all) per `store_fields`; they
    are masked again here so a `store_fields = "full"` log still never shows a full number in a chat.
    """
    if not rows:
        return _pick(_HISTORY_EMPTY, language)
    lines = [_pick(_HISTORY_TITLE, language)]
    for row in rows:
        title = _pick(_NO_KIND_TITLE if row.kind is None else _TITLES[(row.kind, row.side)], language)
        status = _pick(_HISTORY_STATUS.get(str(row.status), (str(row.status), str(row.status))), language)
        when = row.created_at.astimezone(zone).strftime("%m-%d %H:%M")
        key = _history_key(row)
        lines.append(f"{when} {title} · {status}" + (f" · {key}" if key else ""))
    return "\n".join(lines)


def stats_text(stats: Stats, language: str) -> str:
    rate = "-" if stats.success_rate is None else f"{stats.success_rate:.0%}"
    total = "总数" if language == "zh" else "total"
    lines = [_pick(_STATS_TITLE, language), f"{total}: {stats.total}  ✓ {rate}"]
    for item in stats.by_vendor_kind:
        p50 = "-" if item.p50_ms is None else f"{item.p50_ms:.0f} ms"
        line = f"{item.vendor} {item.kind}: {item.ok}/{item.count} · p50 {p50}"
        if item.waited_p50_ms is not None and item.waited_p50_ms >= QUEUED_MS:  # busy, not slow
            line += f" ({_pick(_QUEUED, language)} {item.waited_p50_ms:.0f} ms)"
        lines.append(line)
    return "\n".join(lines)


def _history_key(row: SessionRow) -> str:
    """What tells one session from another: the plate, or the licence number or 副页 file number masked
    (both personal; a plate is not)."""
    if row.plates:
        return str(row.plates[0].get("number", ""))
    fields = row.fields or {}
    maskers = {"number": mask_id, "plate_number": str, "file_number": mask_number}
    for name, mask in maskers.items():
        value = fields.get(name)
        if value:
            return mask(str(value))
    return ""
