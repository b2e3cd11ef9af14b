"""Huawei Cloud OCR v2 (`huawei`): driver-license, vehicle-license (both pages) and license-plate.

Why it looks the way it does:
- Two ways to authenticate, picked by which credentials the config holds. AK/SK signs every request
  ("SDK-HMAC-SHA256", the official SDK's signer.py) over the exact body bytes sent and a fresh
  X-Sdk-Date, so a retry after a long backoff is never stale. Without AK/SK, an IAM user's password buys
  a token (the `X-Subject-Token` header, valid 24 h) that is cached for its lifetime, fetched once for a
  burst of first calls, and replaced when it runs out or Huawei answers APIG.0307 (token expired).
- Huawei answers errors as ``{"error_code", "error_msg"}`` with an HTTP 4xx/5xx status; each documented
  code maps to our taxonomy, an unknown one by its HTTP status.
- The issuing authority is only returned on request (`return_issuing_authority`), so we always ask.
- Throttling (APIG.0308) clears within seconds (Huawei says retry after 2-5 s); it is the only quota
  error, so it is retried. A request Huawei cannot route (APIG.0101: wrong project id) is not.
- Secrets (SK, password, token) never reach a log line or an error message.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import logging
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, ClassVar
from urllib.parse import quote, unquote

import httpx
from pydantic import SecretStr, field_validator

from bot.images import ImageLimits, IntakeImage, PreparedImage
from bot.models import (
    Box,
    DrivingLicence,
    DrivingLicenceBack,
    Kind,
    Plate,
    PlateColor,
    Recognition,
    Side,
    VehicleLicenceBack,
    VehicleLicenceFront,
)
from bot.vendors.base import UNSUPPORTED, ErrorCategory, Secret, VendorError, VendorSettings, register
from bot.vendors.http import (
    RETRYABLE,
    AccessTokenCache,
    CloudVendor,
    json_body,
    json_with_image,
    redact_in_logs,
    status_category,
)
from bot.vendors.mapping import FieldTable, FlatFields, clamp_unit, read_page, read_validity, scaled_box

log = logging.getLogger(__name__)

DEFAULT_REGION = "cn-north-4"
ENDPOINT_TEMPLATE = "https://ocr.{region}.myhuaweicloud.com"
IAM_ENDPOINT_TEMPLATE = "https://iam.{region}.myhuaweicloud.com"
TOKEN_PATH = "/v3/auth/tokens"
ALGORITHM = "SDK-HMAC-SHA256"
SDK_DATE_FORMAT = "%Y%m%dT%H%M%SZ"
#: Signed as-is, so it must be byte-identical to the header we send.
CONTENT_TYPE = "application/json"
#: Huawei documents 24 h; used when the token answer does not say (issued_at/expires_at).
DEFAULT_TOKEN_LIFETIME = 24 * 3600.0
#: Huawei asks for 2-5 s before retrying a throttled call.
THROTTLE_RETRY_AFTER = 2.0

#: Base64 at most 10 MB: 7 MB raw is 9.3 MB encoded. Long side 4096 px suits both card and plate APIs.
LICENCE_LIMITS = ImageLimits(
    max_bytes=7_000_000, max_side=4096, min_side=100, formats=frozenset({"JPEG", "PNG", "BMP"})
)
PLATE_LIMITS = ImageLimits(
    max_bytes=7_000_000, max_side=4096, min_side=15, formats=frozenset({"JPEG", "PNG", "BMP"})
)


@dataclass(frozen=True)
class _Request:
    """Which Huawei API reads a (kind, side), and the options it needs besides the image."""

    action: str
    options: Mapping[str, Any]


REQUESTS: dict[tuple[Kind, Side], _Request] = {
    ("driving", "front"): _Request("driver-license", {"side": "front", "return_issuing_authority": True}),
    ("driving", "back"): _Request("driver-license", {"side": "back", "return_issuing_authority": True}),
    ("vehicle", "front"): _Request("vehicle-license", {"side": "front", "return_issuing_authority": True}),
    ("vehicle", "back"): _Request("vehicle-license", {"side": "back"}),
    ("plate", "front"): _Request("license-plate", {}),
}

# ------------------------------------------------------------------------------------ error taxonomy

ERROR_CODES: dict[str, ErrorCategory] = {
    # auth: keys, token or subscription
    "APIGW.0301": ErrorCategory.AUTH,
    "APIG.0301": ErrorCategory.AUTH,
    "APIG.0307": ErrorCategory.AUTH,
    "ModelArts.0203": ErrorCategory.AUTH,
    "ModelArts.0212": ErrorCategory.AUTH,
    "ModelArts.4101": ErrorCategory.AUTH,
    "ModelArts.4102": ErrorCategory.AUTH,
    "ModelArts.4103": ErrorCategory.AUTH,
    "ModelArts.4204": ErrorCategory.AUTH,  # service not enabled in this region
    # quota or rate
    "APIG.0308": ErrorCategory.QUOTA_OR_RATE,
    "APIGW.0308": ErrorCategory.QUOTA_OR_RATE,
    # bad image: the image is the only parameter a user controls
    "AIS.0101": ErrorCategory.BAD_IMAGE,
    "AIS.0102": ErrorCategory.BAD_IMAGE,
    "AIS.0103": ErrorCategory.BAD_IMAGE,
    "ModelArts.4104": ErrorCategory.BAD_IMAGE,
    "ModelArts.4603": ErrorCategory.BAD_IMAGE,
    "ModelArts.4704": ErrorCategory.BAD_IMAGE,
    # not found: we always send a JPEG/PNG/BMP, so "unsupported image" means no such card in it
    "AIS.0104": ErrorCategory.NOT_FOUND,
    # server
    "AIS.0105": ErrorCategory.SERVER,
    "APIG.0201": ErrorCategory.SERVER,  # backend timeout
    "APIG.0101": ErrorCategory.SERVER,  # API not found: a wrong project id or endpoint
}

#: Token refused because it ran out: fetch a new one and send the call again, once.
TOKEN_EXPIRED = "APIG.0307"
#: Our request cannot be routed: a config mistake that no retry fixes, though another vendor may answer.
NOT_RETRIED = frozenset({"APIG.0101"})


def error_category(code: str, status: int) -> ErrorCategory:
    """Our category for a Huawei error code; an undocumented one by its HTTP status (else server)."""
    if code in ERROR_CODES:
        return ERROR_CODES[code]
    return status_category(status) or ErrorCategory.SERVER


def should_retry(error: VendorError) -> bool:
    return error.category in RETRYABLE and (error.code or "") not in NOT_RETRIED


# ---------------------------------------------------------------------------------------- settings


class HuaweiSettings(VendorSettings):
    """`[vendors.huawei]`. AK/SK wins when both are set; otherwise the IAM user's password buys tokens.
    Empty credentials are allowed in the table itself (an unused table, or keys given by the
    environment); a chain that names huawei without them is refused by the config."""

    region: str = DEFAULT_REGION
    project_id: str = ""
    ak: str = ""
    sk: Secret = SecretStr("")
    iam_user: str = ""
    iam_password: Secret = SecretStr("")
    iam_domain: str = ""
    iam_endpoint: str | None = None

    @field_validator("region", "project_id", "ak", "iam_user", "iam_domain")
    @classmethod
    def _strip(cls, value: str) -> str:
        # Whitespace pasted around a key is the classic "verify aksk signature fail".
        return value.strip()

    def missing_credentials(self) -> str | None:
        """Everything missing at once: naming the project alone sent people back for the keys next."""
        missing = [] if self.project_id else ["project_id"]
        if not (self.uses_aksk or self.uses_token):
            missing.append("ak/sk or iam_user/iam_password/iam_domain")
        return "; no ".join(missing) or None

    @property
    def uses_aksk(self) -> bool:
        return bool(self.ak and self.sk.get_secret_value())

    @property
    def uses_token(self) -> bool:
        return bool(self.iam_user and self.iam_password.get_secret_value() and self.iam_domain)

    def ocr_base(self) -> str:
        return (self.endpoint or ENDPOINT_TEMPLATE.format(region=self.region)).rstrip("/")

    def iam_base(self) -> str:
        return (self.iam_endpoint or IAM_ENDPOINT_TEMPLATE.format(region=self.region)).rstrip("/")


# ----------------------------------------------------------------------------------------- signing


def sdk_date(timestamp: float) -> str:
    return datetime.fromtimestamp(int(timestamp), tz=UTC).strftime(SDK_DATE_FORMAT)


def canonical_uri(path: str) -> str:
    """Each segment percent-encoded (only '~' kept), and a trailing '/' that the real path lacks."""
    encoded = "/".join(quote(segment, safe="~") for segment in unquote(path).split("/"))
    return encoded if encoded.endswith("/") else encoded + "/"


def aksk_signature(
    sk: str, *, method: str, path: str, headers: Mapping[str, str], body: bytes, date: str
) -> str:
    """Hex SDK-HMAC-SHA256 over every header in `headers` (names lowercased and sorted, no query)."""
    canonical = {name.lower(): value.strip() for name, value in headers.items() if "_" not in name}
    signed = sorted(canonical)
    canonical_request = "\n".join(
        [
            method.upper(),
            canonical_uri(path),
            "",
            "".join(f"{name}:{canonical[name]}\n" for name in signed),
            ";".join(signed),
            hashlib.sha256(body).hexdigest(),
        ]
    )
    digest = hashlib.sha256(canonical_request.encode("utf-8")).hexdigest()
    string_to_sign = f"{ALGORITHM}\n{date}\n{digest}"
    return hmac.new(sk.encode("utf-8"), string_to_sign.encode("utf-8"), hashlib.sha256).hexdigest()


def signed_headers(
    settings: HuaweiSettings, *, url: httpx.URL, body: bytes, timestamp: float
) -> dict[str, str]:
    """The headers of one AK/SK request, Authorization included; every one of them is signed."""
    date = sdk_date(timestamp)
    headers = {
        "Content-Type": CONTENT_TYPE,
        "Host": url.netloc.decode("ascii"),
        "X-Sdk-Date": date,
        "X-Project-Id": settings.project_id,
    }
    sk = settings.sk.get_secret_value()
    signature = aksk_signature(sk, method="POST", path=url.path, headers=headers, body=body, date=date)
    names = ";".join(sorted(name.lower() for name in headers))
    headers["Authorization"] = (
        f"{ALGORITHM} Access={settings.ak}, SignedHeaders={names}, Signature={signature}"
    )
    return headers


def token_request_body(settings: HuaweiSettings) -> dict[str, Any]:
    """IAM password authentication scoped to the region's project, as Huawei's guide shows it."""
    user = {
        "name": settings.iam_user,
        "password": settings.iam_password.get_secret_value(),
        "domain": {"name": settings.iam_domain},
    }
    return {
        "auth": {
            "identity": {"methods": ["password"], "password": {"user": user}},
            "scope": {"project": {"name": settings.region}},
        }
    }


def token_lifetime(body: Mapping[str, Any]) -> float:
    """Seconds the token lives, from IAM's own issued_at/expires_at (so our clock's skew is irrelevant)."""
    token = body.get("token")
    if isinstance(token, Mapping):
        try:
            issued = datetime.fromisoformat(str(token["issued_at"]).replace("Z", "+00:00"))
            expires = datetime.fromisoformat(str(token["expires_at"]).replace("Z", "+00:00"))
        except (KeyError, ValueError):
            return DEFAULT_TOKEN_LIFETIME
        lifetime = (expires - issued).total_seconds()
        if lifetime > 0:
            return lifetime
    return DEFAULT_TOKEN_LIFETIME


# ------------------------------------------------------------------------------------------ fields


def _page(result: Mapping[str, Any], side: Side) -> Mapping[str, Any]:
    """The fields of one page: top level, or the `front`/`back` object of a double_side answer."""
    nested = result.get(side)
    return nested if isinstance(nested, Mapping) and nested else result


def _fields(source: Mapping[str, Any]) -> FlatFields:
    """A double_side answer nests the pages under `front`/`back`: an object is never a field's value."""
    return FlatFields(source, scalars_only=True)


#: 驾驶证 main page; the validity fields are read by `driving_front`.
DRIVING_FRONT: FieldTable = {
    "number": "number",
    "name": "name",
    "sex": "sex",
    "nationality": "nationality",
    "address": "address",
    "birth_date": "birth",
    "first_issue_date": "issue_date",  # Huawei's issue_date is the FIRST issue
    "class_": "class",
    "issuing_authority": "issuing_authority",
}

DRIVING_BACK: FieldTable = {
    "number": "number",
    "name": "name",
    "file_number": "file_number",
    "record": "record",
}

VEHICLE_FRONT: FieldTable = {
    "plate_number": "number",
    "vehicle_type": "vehicle_type",
    "owner": "name",
    "address": "address",
    "use_character": "use_character",
    "model": "model",
    "vin": "vin",
    "engine_number": "engine_no",
    "register_date": "register_date",
    "issue_date": "issue_date",
    "issuing_authority": "issuing_authority",
}

VEHICLE_BACK: FieldTable = {
    "plate_number": "number",
    "file_number": "file_no",
    "approved_passengers": "approved_passengers",
    "total_mass": "gross_mass",
    "curb_weight": "unladen_mass",
    "approved_load": "approved_load",
    "dimensions": "dimension",
    "traction_mass": "traction_mass",
    "remarks": "remarks",
    "inspection_record": "inspection_record",
}


def driving_front(result: Mapping[str, Any]) -> DrivingLicence:
    fields = _fields(result)
    validity = read_validity(fields, start="valid_from", end="valid_to")
    return read_page(DrivingLicence, DRIVING_FRONT, fields, **validity)


def driving_back(result: Mapping[str, Any]) -> DrivingLicenceBack:
    return read_page(DrivingLicenceBack, DRIVING_BACK, _fields(result))


def vehicle_front(result: Mapping[str, Any]) -> VehicleLicenceFront:
    return read_page(VehicleLicenceFront, VEHICLE_FRONT, _fields(result))


def vehicle_back(result: Mapping[str, Any]) -> VehicleLicenceBack:
    return read_page(VehicleLicenceBack, VEHICLE_BACK, _fields(result))


PLATE_COLORS: dict[str, PlateColor] = {
    "blue": PlateColor.BLUE,
    "green": PlateColor.GREEN,
    "black": PlateColor.BLACK,
    "white": PlateColor.WHITE,
    "yellow": PlateColor.YELLOW,
    "yellow_green": PlateColor.YELLOW_GREEN,
}


def _confidence(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return clamp_unit(float(value))


def _box(location: Any, scale: float) -> Box | None:
    """`plate_location` (four [x, y] corners in the sent image) as a box in the sender's pixels."""
    if not isinstance(location, list) or not location:
        return None
    try:
        xs = [float(point[0]) for point in location]
        ys = [float(point[1]) for point in location]
    except (TypeError, ValueError, IndexError, KeyError):
        return None
    return scaled_box(min(xs), min(ys), max(xs), max(ys), scale)


def plates(result: Any, scale: float) -> list[Plate]:
    """Every plate read; entries without a number are dropped, so an empty list means none found."""
    entries = result if isinstance(result, list) else []
    found: list[Plate] = []
    for entry in entries:
        if not isinstance(entry, Mapping):
            continue
        fields = _fields(entry)
        number = fields.plate("number", "plate_number")
        if not number:
            continue
        found.append(
            Plate(
                number=number,
                color=PLATE_COLORS.get((fields.text("color", "plate_color") or "").lower(), PlateColor.OTHER),
                confidence=_confidence(entry.get("confidence")),
                box=_box(entry.get("plate_location"), scale),
            )
        )
    return found


# ------------------------------------------------------------------------------------------ vendor


@register
class HuaweiVendor(CloudVendor[HuaweiSettings]):
    name: ClassVar[str] = "huawei"
    supports: ClassVar[frozenset[tuple[Kind, Side]]] = frozenset(REQUESTS)
    #: The card APIs' limits; plates accept smaller images (PLATE_LIMITS), chosen per call.
    limits: ClassVar[ImageLimits] = LICENCE_LIMITS
    settings_model: ClassVar[type[VendorSettings]] = HuaweiSettings

    @functools.cached_property
    def _tokens(self) -> AccessTokenCache:
        """Made on first use, so that `CloudVendor`'s constructor serves this adapter unchanged."""
        return AccessTokenCache(self._fetch_token, self._clock)

    @property
    def huawei(self) -> HuaweiSettings:
        return self.settings

    async def recognize(self, kind: Kind, side: Side, image: IntakeImage) -> Recognition:
        request = REQUESTS.get((kind, side))
        if request is None:
            raise VendorError(self.name, ErrorCategory.NOT_FOUND, UNSUPPORTED, f"cannot read {kind}/{side}")
        self.check_credentials()
        prepared = await self.prepare_off_loop(image, PLATE_LIMITS if kind == "plate" else LICENCE_LIMITS)
        body = json_with_image({"image": None, **request.options}, "image", prepared)
        url = httpx.URL(f"{self.huawei.ocr_base()}/v2/{quote(self.huawei.project_id)}/ocr/{request.action}")
        result = await self._http.call(lambda: self._ocr(url, body), retry_if=should_retry)
        return self._recognition(kind, side, result, prepared)

    # ------------------------------------------------------------------------------------- calls

    async def _ocr(self, url: httpx.URL, body: bytes) -> Any:
        """One attempt; with a token, one more with a new token if Huawei says it expired."""
        if self.huawei.uses_aksk:
            headers = signed_headers(self.huawei, url=url, body=body, timestamp=self._clock())
            return self._result(await self._http.request("POST", url, content=body, headers=headers))
        token = await self._tokens.get()
        answer = await self._post_with_token(url, body, token)
        if _error_code(answer) == TOKEN_EXPIRED:
            log.info("huawei: token expired (%s), fetching a new one", TOKEN_EXPIRED)
            token = await self._tokens.refresh(token)
            answer = await self._post_with_token(url, body, token)
        return self._result(answer)

    async def _post_with_token(self, url: httpx.URL, body: bytes, token: str) -> httpx.Response:
        headers = {"Content-Type": CONTENT_TYPE, "X-Auth-Token": token}
        return await self._http.request("POST", url, content=body, headers=headers)

    async def _fetch_token(self) -> tuple[str, float]:
        url = f"{self.huawei.iam_base()}{TOKEN_PATH}"
        answer = await self._http.request("POST", url, json=token_request_body(self.huawei))
        token = answer.headers.get("X-Subject-Token")
        if answer.status_code < 400 and token:
            return token, token_lifetime(_json_or_empty(answer))
        raise self._token_error(answer)

    def _token_error(self, answer: httpx.Response) -> VendorError:
        """IAM's refusal (`{"error": {"code", "message"}}`) or a gateway's (`error_code`/`error_msg`)."""
        body = _json_or_empty(answer)
        error = body.get("error") if isinstance(body.get("error"), Mapping) else {}
        code = str(body.get("error_code") or error.get("code") or f"HTTP {answer.status_code}")
        message = str(body.get("error_msg") or error.get("message") or "no X-Subject-Token in the answer")
        category = status_category(answer.status_code)
        if category is None or answer.status_code < 400:
            category = ErrorCategory.AUTH
        return VendorError(self.name, category, code, message)

    def _result(self, answer: httpx.Response) -> Any:
        body = json_body(self.name, answer)
        if "error_code" in body or answer.status_code >= 400:
            code = str(body.get("error_code") or f"HTTP {answer.status_code}")
            message = str(body.get("error_msg") or answer.reason_phrase)
            category = error_category(code, answer.status_code)
            retry_after = THROTTLE_RETRY_AFTER if category is ErrorCategory.QUOTA_OR_RATE else None
            raise VendorError(self.name, category, code, message, retry_after)
        return body.get("result")

    # ----------------------------------------------------------------------------------- mapping

    def _recognition(self, kind: Kind, side: Side, result: Any, prepared: PreparedImage) -> Recognition:
        recognition = Recognition(kind=kind, side=side, vendor=self.name, raw={"result": result})
        if kind == "plate":
            recognition.plates = plates(result, prepared.scale)
        elif isinstance(result, Mapping):
            page = _page(result, side)
            if kind == "driving":
                recognition.document = driving_front(page) if side == "front" else driving_back(page)
            else:
                recognition.document = vehicle_front(page) if side == "front" else vehicle_back(page)
        if recognition.is_empty():
            raise VendorError(self.name, ErrorCategory.NOT_FOUND, "EmptyResult", "success without key fields")
        return recognition


def _json_or_empty(answer: httpx.Response) -> dict[str, Any]:
    try:
        body = answer.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


def _error_code(answer: httpx.Response) -> str | None:
    if answer.status_code < 400:
        return None
    code = _json_or_empty(answer).get("error_code")
    return str(code) if code is not None else None


#: httpcore's DEBUG trace prints every response header, and IAM hands out the token as one
#: (`X-Subject-Token`): a debug log must not become a way to steal 24 hours of API access.
redact_in_logs(r"(b'x-subject-token',\s*b')[^']*", re.IGNORECASE)
