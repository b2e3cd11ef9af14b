"""Tencent's legacy image API (`tencent_legacy`): ``/ocr/drivinglicence`` on recognition.image.myqcloud.com.

Kept for accounts that still hold keys for it (Tencent no longer opens it to new customers; the API 3.0
adapter `tencent` is the default). Why it looks the way it does:
- The request carries a multi-use signature ("多次有效签名"): ``plain = a=…&b=…&k=…&e=…&t=…&r=…&f=``
  and ``sign = base64(HMAC-SHA1(SecretKey, plain) as raw bytes + plain)``, as the official image SDK
  builds it. Public code often appends the hex digest or forgets to append `plain`; both fail with 14.
  Each attempt is signed afresh, so `signature_ttl` only has to cover one request, not the process life.
- One endpoint reads three pages, picked by `type`: 0 行驶证, 1 驾驶证, 2 行驶证副页. The 驾驶证 副页
  is not offered, so the chain skips this vendor for it.
- Fields come as a list of ``{item, itemstring, itemconf, itemcoord}`` keyed by Chinese item names.
  `itemconf` is documented as 0-100 yet sampled as 0.99…, so values above 1 are read as percentages.
- Errors are numeric `code`s in the JSON body; each documented one maps to our taxonomy. Only the rate
  limit (15), the internal error (213) and transport failures are retried.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import logging
import random as _random
import time
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, ClassVar

import httpx
from pydantic import Field, SecretStr, field_validator

from bot.images import ImageLimits, IntakeImage, PreparedImage
from bot.models import (
    Box,
    DrivingLicence,
    FieldMeta,
    Kind,
    Recognition,
    Side,
    VehicleLicenceBack,
    VehicleLicenceFront,
)
from bot.vendors.base import UNSUPPORTED, ErrorCategory, Secret, VendorError, VendorSettings, register
from bot.vendors.http import CloudVendor, RetryPolicy, json_body, json_with_image, status_category
from bot.vendors.mapping import FieldReader, FieldTable, clamp_unit, read_page, read_validity, rect_box

log = logging.getLogger(__name__)

DEFAULT_ENDPOINT = "https://recognition.image.myqcloud.com"
OCR_PATH = "/ocr/drivinglicence"
#: The whole request body may not exceed 6 MB.
MAX_BODY_BYTES = 6 * 1024 * 1024
#: A multi-use signature may live up to three months.
MAX_SIGNATURE_TTL = 90 * 24 * 3600
#: `r` is a random number of at most 10 digits.
MAX_RANDOM = 10**10

#: (kind, side) -> `type`. The 驾驶证 副页 and plates are not read by this API.
TYPES: dict[tuple[Kind, Side], int] = {
    ("vehicle", "front"): 0,
    ("driving", "front"): 1,
    ("vehicle", "back"): 2,
}

# ------------------------------------------------------------------------------------ error taxonomy

ERROR_CODES: dict[int, ErrorCategory] = {
    # The signature, the keys or the account's rights (107/108: the auth service itself failed).
    4: ErrorCategory.AUTH,
    5: ErrorCategory.AUTH,
    6: ErrorCategory.AUTH,
    9: ErrorCategory.AUTH,
    10: ErrorCategory.AUTH,
    11: ErrorCategory.AUTH,
    12: ErrorCategory.AUTH,
    13: ErrorCategory.AUTH,
    14: ErrorCategory.AUTH,
    16: ErrorCategory.AUTH,  # bucket does not exist: a configuration fault like a wrong appid
    24: ErrorCategory.AUTH,
    107: ErrorCategory.AUTH,
    108: ErrorCategory.AUTH,
    # 3 is "bad request", in practice "account abnormal" (arrears); 15 rate limit; 25 resources used up.
    3: ErrorCategory.QUOTA_OR_RATE,
    15: ErrorCategory.QUOTA_OR_RATE,
    25: ErrorCategory.QUOTA_OR_RATE,
    # The photo.
    23: ErrorCategory.BAD_IMAGE,
    -1102: ErrorCategory.BAD_IMAGE,
    -1300: ErrorCategory.BAD_IMAGE,
    -1308: ErrorCategory.BAD_IMAGE,
    -9005: ErrorCategory.BAD_IMAGE,
    -9006: ErrorCategory.BAD_IMAGE,
    # No card of the requested type (-9001 is a wrong `type`, i.e. the wrong page for this request).
    -9001: ErrorCategory.NOT_FOUND,
    -9002: ErrorCategory.NOT_FOUND,
    # Tencent's fault, or a request only a code change on our side fixes: another vendor should try.
    213: ErrorCategory.SERVER,
    21: ErrorCategory.SERVER,
    -1301: ErrorCategory.SERVER,
    -1304: ErrorCategory.SERVER,
}

#: Errors in a retryable category that the same request cannot clear within seconds.
NOT_RETRIED = frozenset({"3", "25", "21", "-1301", "-1304"})


def error_category(code: int) -> ErrorCategory:
    return ERROR_CODES.get(code, ErrorCategory.SERVER)


def should_retry(error: VendorError) -> bool:
    return error.code not in NOT_RETRIED


# ---------------------------------------------------------------------------------------- settings


class TencentLegacySettings(VendorSettings):
    """`[vendors.tencent_legacy]`. Empty credentials are allowed in the table itself (an unused table, or
    keys given by the environment); a chain that names this vendor without them is refused by the config."""

    endpoint: str = DEFAULT_ENDPOINT
    app_id: str = ""
    bucket: str = ""
    secret_id: str = ""
    secret_key: Secret = SecretStr("")
    #: Seconds each request's signature stays valid; it must outlast one request and clock drift.
    signature_ttl: int = Field(default=600, ge=1, le=MAX_SIGNATURE_TTL)

    @field_validator("app_id", "bucket", "secret_id", mode="before")
    @classmethod
    def _strip(cls, value: Any) -> Any:
        # Whitespace pasted around a key makes every signature fail with 14; a numeric TOML appid is fine.
        return str(value).strip() if isinstance(value, str | int) else value

    def missing_credentials(self) -> str | None:
        complete = self.app_id and self.secret_id and self.secret_key.get_secret_value()
        return None if complete else "app_id/secret_id/secret_key"


# ----------------------------------------------------------------------------------------- signing


def signature_plain(*, app_id: str, bucket: str, secret_id: str, expires: int, now: int, rand: int) -> str:
    """The signed text of a multi-use signature; `f` stays empty because it binds no single file."""
    return f"a={app_id}&b={bucket}&k={secret_id}&e={expires}&t={now}&r={rand}&f="


def multi_use_signature(secret_key: str, plain: str) -> str:
    """``base64(HMAC-SHA1 raw digest + plain)``, standard alphabet, as the official image SDK signs."""
    digest = hmac.new(secret_key.encode("utf-8"), plain.encode("utf-8"), hashlib.sha1).digest()
    return base64.b64encode(digest + plain.encode("utf-8")).decode("ascii")


def sign(settings: TencentLegacySettings, *, now: int, rand: int) -> str:
    plain = signature_plain(
        app_id=settings.app_id,
        bucket=settings.bucket,
        secret_id=settings.secret_id,
        expires=now + settings.signature_ttl,
        now=now,
        rand=rand,
    )
    return multi_use_signature(settings.secret_key.get_secret_value(), plain)


def encode_body(settings: TencentLegacySettings, type_: int, prepared: PreparedImage) -> bytes:
    params: dict[str, Any] = {"appid": settings.app_id, "type": type_, "image": None}
    if settings.bucket:
        params["bucket"] = settings.bucket
    return json_with_image(params, "image", prepared)


# ------------------------------------------------------------------------------------------ fields


def confidence(value: Any) -> float | None:
    """`itemconf` as 0..1: documented as 0-100, sampled as 0-1, so only values above 1 are percentages."""
    try:
        score = float(value)
    except (TypeError, ValueError):
        return None
    if score > 1.0:
        score /= 100.0
    return clamp_unit(score)


def box(coord: Any, scale: float) -> Box | None:
    """An `itemcoord` in the sent image's pixels, mapped back to the pixels of the photo the user sent."""
    return rect_box(coord, ("x", "y", "width", "height"), scale)


class Items(FieldReader):
    """The answer's items by Chinese name; reading one records its confidence and box under our name."""

    def __init__(self, items: Any, scale: float) -> None:
        super().__init__()
        self._by_name: dict[str, Mapping[str, Any]] = {}
        for item in items if isinstance(items, list) else []:
            if not isinstance(item, Mapping):
                continue
            name = str(item.get("item") or "").strip()
            text = str(item.get("itemstring") or "").strip()
            if name and text and name not in self._by_name:
                self._by_name[name] = item
        self._scale = scale

    def text(self, field: str, *names: str) -> str | None:
        """The first item present among `names` (aliases for pages whose names are undocumented)."""
        for name in names:
            item = self._by_name.get(name)
            if item is None:
                continue
            self.meta[field] = FieldMeta(
                confidence=confidence(item.get("itemconf")), box=box(item.get("itemcoord"), self._scale)
            )
            return str(item["itemstring"]).strip()
        return None


#: type=1, 驾驶证 main page; the validity fields are read by `driving_front`.
DRIVING_FRONT: FieldTable = {
    "number": "证号",
    "name": "姓名",
    "sex": "性别",
    "nationality": "国籍",
    "address": "住址",
    "birth_date": "出生日期",
    "first_issue_date": "领证日期",
    "class_": "准驾车型",
    "issuing_authority": "红章",
}

#: type=0, 行驶证 main page: this API reads no issuing authority there.
VEHICLE_FRONT: FieldTable = {
    "plate_number": "车牌号码",
    "vehicle_type": "车辆类型",
    "owner": "所有人",
    "address": "住址",
    "use_character": "使用性质",
    "model": "品牌型号",
    "vin": "识别代码",
    "engine_number": "发动机号",
    "register_date": "注册日期",
    "issue_date": "发证日期",
}

#: type=2, 行驶证 副页. Tencent documents no item names for this page; these are the names printed on the
#: card (as other vendors return them), with the front page's 车牌号码 as an alias for the plate.
VEHICLE_BACK: FieldTable = {
    "plate_number": ("号牌号码", "车牌号码"),
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


def driving_front(items: Items) -> DrivingLicence:
    validity = read_validity(items, start="起始日期", end="有效日期")
    return read_page(DrivingLicence, DRIVING_FRONT, items, **validity)


def vehicle_front(items: Items) -> VehicleLicenceFront:
    return read_page(VehicleLicenceFront, VEHICLE_FRONT, items)


def vehicle_back(items: Items) -> VehicleLicenceBack:
    return read_page(VehicleLicenceBack, VEHICLE_BACK, items)


PAGES: dict[int, Callable[[Items], DrivingLicence | VehicleLicenceFront | VehicleLicenceBack]] = {
    0: vehicle_front,
    1: driving_front,
    2: vehicle_back,
}

# ------------------------------------------------------------------------------------------ vendor


@register
class TencentLegacyVendor(CloudVendor[TencentLegacySettings]):
    name: ClassVar[str] = "tencent_legacy"
    supports: ClassVar[frozenset[tuple[Kind, Side]]] = frozenset(TYPES)
    #: 4.4 MB raw is 5.9 MB in base64, leaving room for the JSON around it within the 6 MB body. No GIF.
    limits: ClassVar[ImageLimits] = ImageLimits(
        max_bytes=4_400_000, max_side=4096, min_side=15, formats=frozenset({"JPEG", "PNG", "BMP"})
    )
    settings_model: ClassVar[type[VendorSettings]] = TencentLegacySettings

    def __init__(
        self,
        settings: VendorSettings | None = None,
        *,
        clock: Callable[[], float] = time.time,
        rand: Callable[[], int] = lambda: _random.randrange(MAX_RANDOM),
        retry: RetryPolicy | None = None,
        sleep: Callable[[float], Awaitable[Any]] = asyncio.sleep,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        super().__init__(settings, clock=clock, retry=retry, sleep=sleep, transport=transport)
        self._rand = rand

    @property
    def legacy(self) -> TencentLegacySettings:
        return self.settings

    async def recognize(self, kind: Kind, side: Side, image: IntakeImage) -> Recognition:
        type_ = TYPES.get((kind, side))
        if type_ is None:
            raise VendorError(self.name, ErrorCategory.NOT_FOUND, UNSUPPORTED, f"cannot read {kind}/{side}")
        settings = self.legacy
        self.check_credentials()
        prepared = await self.prepare_off_loop(image)
        body = encode_body(settings, type_, prepared)
        if len(body) > MAX_BODY_BYTES:  # only a pathological encoder could get here; don't send it
            raise VendorError(self.name, ErrorCategory.BAD_IMAGE, "too_large", "request over 6 MB")
        answer = await self._http.call(lambda: self._send(body), retry_if=should_retry)
        return self._recognition(kind, side, type_, answer, prepared)

    async def _send(self, body: bytes) -> dict[str, Any]:
        """One signed attempt; returns the answer's `data` or raises the mapped `VendorError`."""
        authorization = sign(self.legacy, now=int(self._clock()), rand=self._rand())
        headers = {"Content-Type": "application/json", "Authorization": authorization}
        url = self.legacy.endpoint.rstrip("/") + OCR_PATH
        answer = await self._http.request("POST", url, content=body, headers=headers)
        return self._data(answer)

    def _data(self, answer: httpx.Response) -> dict[str, Any]:
        body = json_body(self.name, answer)
        try:
            code = int(body["code"])
        except (KeyError, TypeError, ValueError):
            category = status_category(answer.status_code) or ErrorCategory.SERVER
            raise VendorError(
                self.name, category, f"HTTP {answer.status_code}", "answer has no code"
            ) from None
        if code != 0:
            raise VendorError(self.name, error_category(code), str(code), str(body.get("message") or ""))
        if answer.status_code >= 400:
            category = status_category(answer.status_code) or ErrorCategory.SERVER
            raise VendorError(self.name, category, f"HTTP {answer.status_code}", "error status with code 0")
        data = body.get("data")
        return data if isinstance(data, dict) else {}

    def _recognition(
        self, kind: Kind, side: Side, type_: int, data: dict[str, Any], prepared: PreparedImage
    ) -> Recognition:
        items = Items(data.get("items"), prepared.scale)
        recognition = Recognition(kind=kind, side=side, vendor=self.name, raw=data)
        recognition.document = PAGES[type_](items)
        if recognition.is_empty():
            raise VendorError(self.name, ErrorCategory.NOT_FOUND, "EmptyResult", "success without key fields")
        return recognition
