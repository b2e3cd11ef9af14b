"""Baidu AI OCR (`baidu`): 驾驶证 and 行驶证 (both pages) and licence plates.

Baidu authenticates with an OAuth client-credentials access token rather than a request signature: the
API Key and Secret Key buy a token (valid ~30 days) at ``/oauth/2.0/token``, and every OCR call carries
it as the ``access_token`` query parameter. Baidu's own SDK caches the token until
``time + expires_in - 30`` and fetches a new one once when a call answers 110 (token invalid); we do the
same, for 111 (expired) too, and serialise the fetch so that a burst of first calls buys one token.

Baidu reports errors as ``{"error_code", "error_msg"}`` in an HTTP 200 answer, and "no card in this
photo" as a success whose fields are empty; both are mapped here to the shared taxonomy.
The token is a credential: it is never logged, and never appears in an error message.
"""

from __future__ import annotations

import base64
import functools
import logging
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any, ClassVar
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

import httpx
from pydantic import SecretStr

from bot.images import ImageLimits, IntakeImage, PreparedImage
from bot.models import (
    Box,
    DrivingLicence,
    DrivingLicenceBack,
    FieldMeta,
    Kind,
    Plate,
    PlateColor,
    Recognition,
    Side,
    VehicleLicenceBack,
    VehicleLicenceFront,
)
from bot.plate_grammar import normalize_plate
from bot.vendors.base import (
    UNSUPPORTED,
    ErrorCategory,
    Secret,
    VendorError,
    VendorSettings,
    off_loop_if_heavy,
    register,
)
from bot.vendors.http import (
    AccessTokenCache,
    CloudVendor,
    json_body,
    redact_in_logs,
    status_category,
)
from bot.vendors.mapping import FieldReader, FieldTable, clamp_unit, read_page, read_validity

log = logging.getLogger(__name__)

DEFAULT_ENDPOINT = "https://aip.baidubce.com"
TOKEN_PATH = "/oauth/2.0/token"
OCR_PATH = "/rest/2.0/ocr/v1/"

#: Baidu's limit on the `image` field: base64, then urlencoded, at most 4 MB.
MAX_ENCODED_IMAGE = 4 * 1024 * 1024

#: urlencoded base64 per raw byte: 4/3 for base64, and '+' and '/' (2 of 64 symbols) become 3 characters.
_ENCODED_PER_RAW_BYTE = 4 / 3 * (1 + 2 * 2 / 64)

#: Error codes that mean "get a new token and try again" (110 invalid, 111 expired).
TOKEN_REJECTED = frozenset({110, 111})

#: Errors in our own request's parameters.
_REQUEST_PARAMETER_ERRORS = (216100, 216101, 216102, 216103)

#: Every error code Baidu documents for these APIs, in our taxonomy. Codes not listed are SERVER.
ERROR_CATEGORIES: dict[int, ErrorCategory] = {
    # Quotas: 4 cluster-wide limit, 17 daily, 18 QPS, 19 total.
    4: ErrorCategory.QUOTA_OR_RATE,
    17: ErrorCategory.QUOTA_OR_RATE,
    18: ErrorCategory.QUOTA_OR_RATE,
    19: ErrorCategory.QUOTA_OR_RATE,
    # Keys and permissions: 6 API not enabled for the app, 14 IAM failure, 100 bad token parameter,
    # 110/111 token invalid/expired (after the one refresh), 216110 unknown app id.
    6: ErrorCategory.AUTH,
    14: ErrorCategory.AUTH,
    100: ErrorCategory.AUTH,
    110: ErrorCategory.AUTH,
    111: ErrorCategory.AUTH,
    216110: ErrorCategory.AUTH,
    # The photo: empty, undecodable, too big or too small.
    216200: ErrorCategory.BAD_IMAGE,
    216201: ErrorCategory.BAD_IMAGE,
    216202: ErrorCategory.BAD_IMAGE,
    # No card or plate found (reported by users, not in Baidu's error table).
    282102: ErrorCategory.NOT_FOUND,
    282103: ErrorCategory.NOT_FOUND,
    # Baidu's side: recognition failure, internal error; 2161xx are request-parameter errors, which
    # only a change on our side can fix, so another vendor should get the photo.
    216630: ErrorCategory.SERVER,
    282000: ErrorCategory.SERVER,
    **dict.fromkeys(_REQUEST_PARAMETER_ERRORS, ErrorCategory.SERVER),
}

#: Limits that reset at midnight Beijing time: retrying within seconds cannot succeed.
_DAILY_LIMITS = frozenset({17})
#: Errors that asking again cannot mend: the account's total quota (19, which never resets) and our own
#: request's parameters (2161xx).
_NEVER_RETRIED = frozenset(str(code) for code in (19, *_REQUEST_PARAMETER_ERRORS))
_BEIJING = ZoneInfo("Asia/Shanghai")


class BaiduSettings(VendorSettings):
    """`[vendors.baidu]`: the application's API Key and Secret Key from the Baidu AI console."""

    api_key: Secret = SecretStr("")
    secret_key: Secret = SecretStr("")
    endpoint: str | None = DEFAULT_ENDPOINT

    def missing_credentials(self) -> str | None:
        complete = self.api_key.get_secret_value() and self.secret_key.get_secret_value()
        return None if complete else "api_key/secret_key"


def quote_base64(encoded: bytes) -> bytes:
    """Form-encode base64. Only '+', '/' and '=' need escaping, and three C-level byte replaces are
    ~100x faster than `quote_plus` on a few hundred KB, which dominated the time we add per call."""
    return encoded.replace(b"+", b"%2B").replace(b"/", b"%2F").replace(b"=", b"%3D")


def form_body(quoted_image: bytes, options: Mapping[str, str]) -> bytes:
    """application/x-www-form-urlencoded body: the image (already through `quote_base64`), then the rest."""
    rest = urlencode(options).encode("ascii")
    return b"image=" + quoted_image + (b"&" + rest if rest else b"")


@dataclass(frozen=True)
class _Request:
    """Which Baidu API reads a (kind, side), and the options it needs."""

    action: str
    options: Mapping[str, str]


_REQUESTS: dict[tuple[Kind, Side], _Request] = {
    ("driving", "front"): _Request(
        "driving_license",
        {"detect_direction": "true", "unified_valid_period": "true", "driving_license_side": "front"},
    ),
    ("driving", "back"): _Request(
        "driving_license", {"detect_direction": "true", "driving_license_side": "back"}
    ),
    ("vehicle", "front"): _Request(
        "vehicle_license", {"detect_direction": "true", "vehicle_license_side": "front"}
    ),
    ("vehicle", "back"): _Request(
        "vehicle_license", {"detect_direction": "true", "vehicle_license_side": "back"}
    ),
    ("plate", "front"): _Request("license_plate", {"multi_detect": "true"}),
}


@register
class BaiduVendor(CloudVendor[BaiduSettings]):
    name: ClassVar[str] = "baidu"
    supports: ClassVar[frozenset[tuple[Kind, Side]]] = frozenset(_REQUESTS)
    max_encoded_image: ClassVar[int] = MAX_ENCODED_IMAGE
    #: `max_bytes` counts bytes before encoding, chosen so that the urlencoded base64 of a typical image
    #: stays under `max_encoded_image`; `_upload` checks the real length and shrinks further when needed.
    limits: ClassVar[ImageLimits] = ImageLimits(
        max_bytes=int(MAX_ENCODED_IMAGE / _ENCODED_PER_RAW_BYTE * 0.98),
        max_side=4096,
        min_side=15,
        formats=frozenset({"JPEG", "PNG", "BMP"}),
    )
    settings_model = BaiduSettings

    @functools.cached_property
    def _tokens(self) -> AccessTokenCache:
        """Made on first use, so that `CloudVendor`'s constructor serves this adapter unchanged."""
        return AccessTokenCache(self._fetch_token, self._clock)

    @property
    def _base(self) -> str:
        return (self.settings.endpoint or DEFAULT_ENDPOINT).rstrip("/")

    async def recognize(self, kind: Kind, side: Side, image: IntakeImage) -> Recognition:
        request = _REQUESTS.get((kind, side))
        if request is None:
            raise VendorError(self.name, ErrorCategory.NOT_FOUND, UNSUPPORTED, f"cannot read {kind}/{side}")
        self.check_credentials()
        quoted, prepared = await off_loop_if_heavy(image, self.limits, lambda: self._upload(image))
        form = form_body(quoted, request.options)
        body = await self._http.call(lambda: self._ocr(request.action, form), retry_if=_worth_retrying)
        recognition = self._to_recognition(kind, side, body, prepared, image)
        if recognition.is_empty():
            raise VendorError(self.name, ErrorCategory.NOT_FOUND, "empty", "no card or plate found")
        return recognition

    # ------------------------------------------------------------------------------------- image

    def _upload(self, image: IntakeImage) -> tuple[bytes, PreparedImage]:
        """Urlencoded base64 of the image fitted to Baidu's limits, shrunk again in the rare case it
        still exceeds `max_encoded_image` (base64 that happens to hold many '+' and '/'). A photo that
        cannot be made to fit was never sent, so the chain moves on to the next vendor."""
        prepared = self.prepare(image)
        for _ in range(3):
            quoted = quote_base64(base64.b64encode(prepared.data))
            size = len(quoted)
            if size <= self.max_encoded_image:
                return quoted, prepared
            budget = int(len(prepared.data) * self.max_encoded_image / size * 0.95)
            prepared = self.prepare(image, replace(self.limits, max_bytes=budget))
        message = "cannot fit Baidu's 4 MB limit"
        raise VendorError(self.name, ErrorCategory.BAD_IMAGE, "too_large", message, unsent=True)

    # ------------------------------------------------------------------------------------- calls

    async def _ocr(self, action: str, form: bytes) -> dict[str, Any]:
        """One attempt: a call with the cached token, and one more with a new token if it was refused."""
        token = await self._tokens.get()
        body = await self._post(action, form, token)
        code = _error_code(body)
        if code in TOKEN_REJECTED:
            log.info("baidu: access token refused (error %s), fetching a new one", code)
            token = await self._tokens.refresh(token)
            body = await self._post(action, form, token)
        self._raise_for_error(body)
        return body

    async def _post(self, action: str, form: bytes, token: str) -> dict[str, Any]:
        response = await self._http.request(
            "POST",
            f"{self._base}{OCR_PATH}{action}",
            params={"access_token": token},
            content=form,
            headers={"Content-Type": "application/x-www-form-urlencoded"},
        )
        if response.status_code != httpx.codes.OK:
            _raise_for_status(self.name, response)
        return json_body(self.name, response)

    async def _fetch_token(self) -> tuple[str, float]:
        params = {
            "grant_type": "client_credentials",
            "client_id": self.settings.api_key.get_secret_value().strip(),
            "client_secret": self.settings.secret_key.get_secret_value().strip(),
        }
        response = await self._http.request("POST", f"{self._base}{TOKEN_PATH}", params=params)
        if response.status_code >= 500:
            _raise_for_status(self.name, response)
        body = json_body(self.name, response)
        token = body.get("access_token")
        if "error" in body or not isinstance(token, str) or not token:
            code = str(body.get("error") or f"HTTP {response.status_code}")
            message = str(body.get("error_description") or "no access token in the answer")
            raise VendorError(self.name, ErrorCategory.AUTH, code, message)
        try:
            expires_in = float(body.get("expires_in", 0))
        except (TypeError, ValueError):
            expires_in = 0.0
        return token, expires_in

    def _raise_for_error(self, body: Mapping[str, Any]) -> None:
        if "error_code" not in body:
            return
        raw_code = body.get("error_code")
        code = _error_code(body)
        category = (
            ERROR_CATEGORIES.get(code, ErrorCategory.SERVER) if code is not None else ErrorCategory.SERVER
        )
        retry_after = self._seconds_to_beijing_midnight() if code in _DAILY_LIMITS else None
        raise VendorError(self.name, category, str(raw_code), str(body.get("error_msg", "")), retry_after)

    def _seconds_to_beijing_midnight(self) -> float:
        now = datetime.fromtimestamp(self._clock(), _BEIJING)
        midnight = datetime.combine(now.date() + timedelta(days=1), datetime.min.time(), _BEIJING)
        return (midnight - now).total_seconds()

    # ----------------------------------------------------------------------------------- mapping

    def _to_recognition(
        self, kind: Kind, side: Side, body: dict[str, Any], prepared: PreparedImage, image: IntakeImage
    ) -> Recognition:
        recognition = Recognition(kind=kind, side=side, vendor=self.name, raw=body)
        words = body.get("words_result")
        place = _Placement(prepared.scale, image.width, image.height)
        if kind == "plate":
            recognition.plates = plates_from(words, place)
            return recognition
        if not isinstance(words, dict) or not words:
            return recognition
        if kind == "driving":
            recognition.document = (
                driving_front(words, place) if side == "front" else driving_back(words, place)
            )
        else:
            recognition.document = (
                vehicle_front(words, place) if side == "front" else vehicle_back(words, place)
            )
        return recognition


def _error_code(body: Mapping[str, Any]) -> int | None:
    try:
        return int(body["error_code"])
    except (KeyError, TypeError, ValueError):
        return None


def _raise_for_status(vendor: str, response: httpx.Response) -> None:
    """A non-200 answer came from a gateway in front of Baidu (Baidu itself answers errors with 200)."""
    try:
        body = response.json()
    except ValueError:
        body = None
    if isinstance(body, dict) and "error_code" in body:
        return  # Baidu's own error body on an unusual status: let the error-code mapping read it
    category = status_category(response.status_code) or ErrorCategory.SERVER
    raise VendorError(vendor, category, f"HTTP {response.status_code}", response.reason_phrase)


# ------------------------------------------------------------------------------------- field mapping


@dataclass(frozen=True)
class _Placement:
    """Maps Baidu's pixel coordinates (in the prepared image) back to the image the user sent."""

    scale: float
    width: int
    height: int

    def box(self, xs: list[float], ys: list[float]) -> Box | None:
        if not xs or not ys or self.scale <= 0:
            return None
        left = max(0, math.floor(min(xs) / self.scale))
        top = max(0, math.floor(min(ys) / self.scale))
        right = min(self.width, math.ceil(max(xs) / self.scale))
        bottom = min(self.height, math.ceil(max(ys) / self.scale))
        if right <= left or bottom <= top:
            return None
        return Box(x=left, y=top, width=right - left, height=bottom - top)

    def location_box(self, location: Any) -> Box | None:
        """A card field's ``location: {left, top, width, height}``."""
        if not isinstance(location, Mapping):
            return None
        try:
            left, top = float(location["left"]), float(location["top"])
            width, height = float(location["width"]), float(location["height"])
        except (KeyError, TypeError, ValueError):
            return None
        return self.box([left, left + width], [top, top + height])

    def vertex_box(self, vertexes: Any) -> Box | None:
        """A plate's ``vertexes_location: [{x, y}] × 4``."""
        if not isinstance(vertexes, list):
            return None
        try:
            points = [(float(point["x"]), float(point["y"])) for point in vertexes]
        except (KeyError, TypeError, ValueError):
            return None
        return self.box([x for x, _ in points], [y for _, y in points])


class _Fields(FieldReader):
    """Reads ``{中文key: {"words": …, "location": …}}`` and collects each field's box as it goes."""

    def __init__(self, words: Mapping[str, Any], place: _Placement) -> None:
        super().__init__()
        self._words = words
        self._place = place

    def text(self, field: str, *keys: str) -> str | None:
        """The first non-empty value among `keys` (Baidu renamed some keys over time), stripped."""
        for key in keys:
            entry = self._words.get(key)
            value = entry.get("words") if isinstance(entry, Mapping) else entry
            if isinstance(value, str) and value.strip():
                box = self._place.location_box(entry.get("location")) if isinstance(entry, Mapping) else None
                if box is not None:
                    self.meta[field] = FieldMeta(box=box)
                return value.strip()
        return None


#: 驾驶证 main page; the validity fields are read by `driving_front`.
DRIVING_FRONT: FieldTable = {
    "number": "证号",
    "name": "姓名",
    "sex": "性别",
    "nationality": "国籍",
    "address": "住址",
    "birth_date": "出生日期",
    "first_issue_date": "初次领证日期",
    "class_": "准驾车型",
    "issuing_authority": "发证单位",
}

#: 驾驶证 副页 (driving_license_side=back).
DRIVING_BACK: FieldTable = {
    "number": "证号",
    "name": "姓名",
    "file_number": "档案编号",
    "record": "记录",
}

#: 行驶证 main page (vehicle_license_side=front).
VEHICLE_FRONT: FieldTable = {
    "plate_number": "号牌号码",
    "vehicle_type": "车辆类型",
    "owner": "所有人",
    "address": "住址",
    "use_character": "使用性质",
    "model": "品牌型号",
    "vin": "车辆识别代号",
    "engine_number": "发动机号码",
    "register_date": "注册日期",
    "issue_date": "发证日期",
    "issuing_authority": "发证单位",
}

#: 行驶证 副页 (vehicle_license_side=back). 证芯编号 has no normalized field and stays in `raw`.
VEHICLE_BACK: FieldTable = {
    "plate_number": "号牌号码",
    "file_number": "档案编号",
    "approved_passengers": "核定载人数",
    "total_mass": "总质量",
    "curb_weight": "整备质量",
    "approved_load": "核定载质量",
    "dimensions": "外廓尺寸",
    "traction_mass": "准牵引总质量",
    "remarks": "备注",
    "inspection_record": "检验记录",
}


def driving_front(words: Mapping[str, Any], place: _Placement) -> DrivingLicence:
    """驾驶证 main page. Validity comes as 失效日期 (with unified_valid_period), or in the old style as
    有效期限 holding a period ("6年") or an end date, counted from 有效起始日期."""
    fields = _Fields(words, place)
    validity = read_validity(fields, start="有效起始日期", end=("失效日期", "至", "有效期限"))
    return read_page(DrivingLicence, DRIVING_FRONT, fields, **validity)


def driving_back(words: Mapping[str, Any], place: _Placement) -> DrivingLicenceBack:
    return read_page(DrivingLicenceBack, DRIVING_BACK, _Fields(words, place))


def vehicle_front(words: Mapping[str, Any], place: _Placement) -> VehicleLicenceFront:
    return read_page(VehicleLicenceFront, VEHICLE_FRONT, _Fields(words, place))


def vehicle_back(words: Mapping[str, Any], place: _Placement) -> VehicleLicenceBack:
    return read_page(VehicleLicenceBack, VEHICLE_BACK, _Fields(words, place))


_PLATE_COLORS: dict[str, PlateColor] = {
    "blue": PlateColor.BLUE,
    "yellow": PlateColor.YELLOW,
    "green": PlateColor.GREEN,
    "white": PlateColor.WHITE,
    "black": PlateColor.BLACK,
    "yellowgreen": PlateColor.YELLOW_GREEN,
    "蓝": PlateColor.BLUE,
    "黄": PlateColor.YELLOW,
    "绿": PlateColor.GREEN,
    "白": PlateColor.WHITE,
    "黑": PlateColor.BLACK,
    "黄绿": PlateColor.YELLOW_GREEN,
}


def plate_color(text: Any) -> PlateColor:
    """Baidu says "blue", "green", …; spellings of yellow-green and Chinese names are accepted too."""
    if not isinstance(text, str):
        return PlateColor.OTHER
    key = re.sub(r"[\s_\-色牌]", "", text.lower())
    return _PLATE_COLORS.get(key, PlateColor.OTHER)


def plate_confidence(probability: Any) -> float | None:
    """Mean of the per-character probabilities (a dict with `average` is accepted too), within 0..1."""
    if isinstance(probability, Mapping):
        probability = probability.get("average")
    if isinstance(probability, int | float) and not isinstance(probability, bool):
        values = [float(probability)]
    elif isinstance(probability, list):
        values = [float(p) for p in probability if isinstance(p, int | float) and not isinstance(p, bool)]
    else:
        return None
    if not values:
        return None
    return clamp_unit(sum(values) / len(values))


def plates_from(words: Any, place: _Placement) -> list[Plate]:
    """multi_detect=true answers a list; without it Baidu answers one object. Entries without a
    number are dropped: an empty list means no plate was found."""
    entries = words if isinstance(words, list) else [words] if isinstance(words, Mapping) else []
    plates = []
    for entry in entries:
        if not isinstance(entry, Mapping):
            continue
        number = entry.get("number")
        if not isinstance(number, str) or not number.strip():
            continue
        plates.append(
            Plate(
                number=normalize_plate(number),
                color=plate_color(entry.get("color")),
                confidence=plate_confidence(entry.get("probability")),
                box=place.vertex_box(entry.get("vertexes_location")),
            )
        )
    return plates


#: httpx logs each request's URL, and Baidu wants its credentials in the query string: the API Key and
#: Secret Key on the token request, the access token on every call. The API Key is kept out too: the
#: config holds it as a secret, and it names the account to whoever reads the log.
redact_in_logs(r"((?:access_token|client_id|client_secret)=)[^&\s\"']+")


def _worth_retrying(error: VendorError) -> bool:
    return error.code not in _NEVER_RETRIED
