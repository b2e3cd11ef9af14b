"""Tencent Cloud API 3.0 OCR (`tencent`): DriverLicenseOCR, VehicleLicenseOCR and LicensePlateOCR.

Why it looks the way it does:
- Every request is signed with TC3-HMAC-SHA256 over the exact body bytes sent, with the timestamp of
  that attempt (a retry re-signs, so a slow backoff never trips the 5-minute skew check). The body is
  serialized the way the official SDK does it (`json.dumps` defaults, ASCII only), so our signature can
  be checked byte for byte against the SDK's in the tests.
- Tencent reports errors in HTTP 200 bodies (`Response.Error`), so the body is read before any field;
  each documented code maps to our taxonomy, unknown codes by their family prefix (`AuthFailure.*`, …).
- Only transient failures are retried: timeouts, server faults and the per-second rate limit. Daily
  quota and arrears (`CountLimitError`, `ArrearsError`, `ResourceUnavailable.*`) do not clear in
  seconds, so retrying them would only delay the fall-through to the next vendor.
- Photo-quality warnings (-9102 … -9106) become our `photo_*` warnings; the reading is still returned.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any, ClassVar

import httpx
from pydantic import SecretStr, field_validator

from bot.dates import parse_validity
from bot.images import ImageLimits, IntakeImage, PreparedImage
from bot.models import (
    Box,
    DrivingLicence,
    DrivingLicenceBack,
    Kind,
    Plate,
    PlateColor,
    Recognition,
    Severity,
    Side,
    VehicleLicenceBack,
    VehicleLicenceFront,
    Warning,
)
from bot.vendors.base import UNSUPPORTED, ErrorCategory, Secret, VendorError, VendorSettings, register
from bot.vendors.http import RETRYABLE, CloudVendor, json_body, json_with_image, status_category
from bot.vendors.mapping import FieldTable, FlatFields, clamp_unit, read_page, rect_box

log = logging.getLogger(__name__)

DEFAULT_ENDPOINT = "https://ocr.tencentcloudapi.com"
SERVICE = "ocr"
API_VERSION = "2018-11-19"
ALGORITHM = "TC3-HMAC-SHA256"
#: Signed as-is in the canonical request, so it must be byte-identical to the header we send.
CONTENT_TYPE = "application/json"
SIGNED_HEADERS = "content-type;host"

#: (kind, side) -> (action, CardSide); plates have no side.
ACTIONS: dict[tuple[Kind, Side], tuple[str, str | None]] = {
    ("driving", "front"): ("DriverLicenseOCR", "FRONT"),
    ("driving", "back"): ("DriverLicenseOCR", "BACK"),
    ("vehicle", "front"): ("VehicleLicenseOCR", "FRONT"),
    ("vehicle", "back"): ("VehicleLicenseOCR", "BACK"),
    ("plate", "front"): ("LicensePlateOCR", None),
}

# ------------------------------------------------------------------------------------ error taxonomy

#: Documented codes (SDK errorcodes.py and the API 3.0 common errors) whose family prefix would mislead.
ERROR_CODES: dict[str, ErrorCategory] = {
    # auth: the account or its keys cannot use the service
    "FailedOperation.UnOpenError": ErrorCategory.AUTH,
    "UnauthorizedOperation": ErrorCategory.AUTH,
    "IpInBlacklist": ErrorCategory.AUTH,
    "IpNotInWhitelist": ErrorCategory.AUTH,
    "UnsupportedRegion": ErrorCategory.AUTH,
    "NoSuchProduct": ErrorCategory.AUTH,
    # quota or rate
    "FailedOperation.CountLimitError": ErrorCategory.QUOTA_OR_RATE,
    "FailedOperation.ArrearsError": ErrorCategory.QUOTA_OR_RATE,
    "FailedOperation.UserQuotaError": ErrorCategory.QUOTA_OR_RATE,
    # bad image
    "FailedOperation.ImageDecodeFailed": ErrorCategory.BAD_IMAGE,
    "FailedOperation.ImageSizeTooLarge": ErrorCategory.BAD_IMAGE,
    "FailedOperation.EmptyImageError": ErrorCategory.BAD_IMAGE,
    "FailedOperation.ImageBlur": ErrorCategory.BAD_IMAGE,
    "FailedOperation.DownLoadError": ErrorCategory.BAD_IMAGE,
    "InvalidParameter.EngineImageDecodeFailed": ErrorCategory.BAD_IMAGE,
    "InvalidParameterValue.FileUrlIllegalError": ErrorCategory.BAD_IMAGE,
    "LimitExceeded.TooLargeFileError": ErrorCategory.BAD_IMAGE,
    "RequestSizeLimitExceeded": ErrorCategory.BAD_IMAGE,
    # not found: the photo holds no (or not this) card
    "FailedOperation.NoDriverLicenseError": ErrorCategory.NOT_FOUND,
    "FailedOperation.NoVehicleLicenseError": ErrorCategory.NOT_FOUND,
    "FailedOperation.ImageNoText": ErrorCategory.NOT_FOUND,
    "FailedOperation.ImageNoSpecifiedCard": ErrorCategory.NOT_FOUND,
    "FailedOperation.LicenseCardSideError": ErrorCategory.NOT_FOUND,
    "FailedOperation.CardSideError": ErrorCategory.NOT_FOUND,
    "FailedOperation.MultiCardError": ErrorCategory.NOT_FOUND,
    "FailedOperation.LicenseMultiCardError": ErrorCategory.NOT_FOUND,
    "FailedOperation.DetectFailed": ErrorCategory.NOT_FOUND,
    # server
    "FailedOperation.OcrFailed": ErrorCategory.SERVER,
    "FailedOperation.EngineRecognizeTimeout": ErrorCategory.SERVER,
    "FailedOperation.UnKnowError": ErrorCategory.SERVER,
    "FailedOperation.DbError": ErrorCategory.SERVER,
    "ServiceUnavailable": ErrorCategory.SERVER,
}

#: Family prefixes for codes not listed above, most specific first.
ERROR_FAMILIES: tuple[tuple[str, ErrorCategory], ...] = (
    ("AuthFailure", ErrorCategory.AUTH),
    ("RequestLimitExceeded", ErrorCategory.QUOTA_OR_RATE),
    ("ResourceUnavailable", ErrorCategory.QUOTA_OR_RATE),
    ("ResourcesSoldOut", ErrorCategory.QUOTA_OR_RATE),
    ("ResourceInsufficient", ErrorCategory.QUOTA_OR_RATE),
    ("LimitExceeded", ErrorCategory.QUOTA_OR_RATE),
    ("InvalidParameterValue", ErrorCategory.BAD_IMAGE),  # the image is the only value a user controls
    ("InvalidParameter", ErrorCategory.BAD_IMAGE),
    ("InternalError", ErrorCategory.SERVER),
)

#: Codes that say our request is malformed: a bug or a wrong endpoint, which no retry fixes.
REQUEST_BUG_PREFIXES = (
    "InvalidAction",
    "MissingParameter",
    "UnknownParameter",
    "NoSuchVersion",
    "InvalidRequest",
    "UnsupportedProtocol",
    "UnsupportedOperation",
)


def error_category(code: str) -> ErrorCategory:
    """Our category for a Tencent error code; unknown codes count as the vendor's fault (server)."""
    if code in ERROR_CODES:
        return ERROR_CODES[code]
    for prefix, category in ERROR_FAMILIES:
        if code == prefix or code.startswith(prefix + "."):
            return category
    return ErrorCategory.SERVER


def should_retry(error: VendorError) -> bool:
    """Transient failures only: a per-second rate limit clears in a second, a daily quota does not."""
    if error.category not in RETRYABLE:
        return False
    code = error.code or ""
    if error.category is ErrorCategory.QUOTA_OR_RATE:
        return code.startswith("RequestLimitExceeded")
    return not code.startswith(REQUEST_BUG_PREFIXES)


# ---------------------------------------------------------------------------------------- warnings

#: RecognizeWarnCode -> (our warning code, English message). Replies localize by code.
WARNING_CODES: dict[int, tuple[str, str]] = {
    -9102: ("photo_copy", "the photo looks like a photocopy"),
    -9103: ("photo_screen", "the photo looks like a re-shot of a screen"),
    -9104: ("photo_glare", "glare on the card"),
    -9105: ("photo_blur", "the photo is blurred"),
    -9106: ("photo_incomplete", "the card's border is incomplete"),
}

PLATE_COLORS: dict[str, PlateColor] = {
    "白": PlateColor.WHITE,
    "黑": PlateColor.BLACK,
    "蓝": PlateColor.BLUE,
    "绿": PlateColor.GREEN,
    "渐变绿": PlateColor.GREEN,
    "黄": PlateColor.YELLOW,
    "黄绿": PlateColor.YELLOW_GREEN,
}

# ---------------------------------------------------------------------------------------- settings


class TencentSettings(VendorSettings):
    """`[vendors.tencent]`. Empty credentials are allowed in the table itself (an unused table, or keys
    given by the environment); a chain that names tencent without them is refused by the config."""

    endpoint: str = DEFAULT_ENDPOINT
    secret_id: str = ""
    secret_key: Secret = SecretStr("")
    #: X-TC-Region; OCR is not a regional service, so it is only sent when set.
    region: str | None = None

    @field_validator("secret_id", "region")
    @classmethod
    def _strip(cls, value: str | None) -> str | None:
        # Whitespace pasted around a key is a classic cause of AuthFailure.SignatureFailure.
        return value.strip() if value is not None else None

    def missing_credentials(self) -> str | None:
        return None if self.secret_id and self.secret_key.get_secret_value() else "secret_id/secret_key"


# ----------------------------------------------------------------------------------------- signing


def _hmac_sha256(key: bytes, message: str) -> bytes:
    return hmac.new(key, message.encode("utf-8"), hashlib.sha256).digest()


def utc_date(timestamp: int) -> str:
    """The credential-scope date is the UTC date of the timestamp, not the local (Beijing) one."""
    return datetime.fromtimestamp(timestamp, tz=UTC).strftime("%Y-%m-%d")


def tc3_signature(
    secret_key: str, *, host: str, body: bytes, timestamp: int, content_type: str = CONTENT_TYPE
) -> str:
    """Hex TC3-HMAC-SHA256 signature of a POST to "/" with `body` (steps 2-5 of the vendor's guide)."""
    canonical_request = "\n".join(
        [
            "POST",
            "/",
            "",
            f"content-type:{content_type}\nhost:{host}\n",
            SIGNED_HEADERS,
            hashlib.sha256(body).hexdigest(),
        ]
    )
    date = utc_date(timestamp)
    scope = f"{date}/{SERVICE}/tc3_request"
    string_to_sign = "\n".join(
        [ALGORITHM, str(timestamp), scope, hashlib.sha256(canonical_request.encode("utf-8")).hexdigest()]
    )
    key = _hmac_sha256(("TC3" + secret_key).encode("utf-8"), date)
    key = _hmac_sha256(key, SERVICE)
    key = _hmac_sha256(key, "tc3_request")
    return hmac.new(key, string_to_sign.encode("utf-8"), hashlib.sha256).hexdigest()


def tc3_authorization(secret_id: str, secret_key: str, *, host: str, body: bytes, timestamp: int) -> str:
    signature = tc3_signature(secret_key, host=host, body=body, timestamp=timestamp)
    return (
        f"{ALGORITHM} Credential={secret_id}/{utc_date(timestamp)}/{SERVICE}/tc3_request, "
        f"SignedHeaders={SIGNED_HEADERS}, Signature={signature}"
    )


def signed_headers(
    settings: TencentSettings, *, action: str, host: str, body: bytes, timestamp: int
) -> dict[str, str]:
    headers = {
        "Host": host,
        "Content-Type": CONTENT_TYPE,
        "X-TC-Action": action,
        "X-TC-Version": API_VERSION,
        "X-TC-Timestamp": str(timestamp),
        "Authorization": tc3_authorization(
            settings.secret_id,
            settings.secret_key.get_secret_value(),
            host=host,
            body=body,
            timestamp=timestamp,
        ),
    }
    if settings.region:
        headers["X-TC-Region"] = settings.region
    return headers


# ------------------------------------------------------------------------------------------ fields


def photo_warnings(response: Mapping[str, Any]) -> list[Warning]:
    codes = response.get("RecognizeWarnCode") or []
    messages = response.get("RecognizeWarnMsg") or []
    warnings: list[Warning] = []
    seen: set[str] = set()
    for index, raw_code in enumerate(codes if isinstance(codes, list) else []):
        try:
            known = WARNING_CODES.get(int(raw_code))
        except (TypeError, ValueError):
            known = None
        if known is None:
            log.debug("tencent: unknown RecognizeWarnCode %r", raw_code)
            continue
        code, message = known
        if code in seen:
            continue
        seen.add(code)
        vendor_message = messages[index] if isinstance(messages, list) and index < len(messages) else None
        params: dict[str, Any] = {"vendor_code": int(raw_code)}
        if vendor_message:
            params["vendor_message"] = str(vendor_message)
        warnings.append(Warning(code=code, severity=Severity.WARNING, message=message, params=params))
    return warnings


#: 驾驶证 main page; the validity fields are read by `driving_front`.
DRIVING_FRONT: FieldTable = {
    "number": "CardCode",
    "name": "Name",
    "sex": "Sex",
    "nationality": "Nationality",
    "address": "Address",
    "birth_date": "DateOfBirth",
    "first_issue_date": "DateOfFirstIssue",
    "class_": "Class",
    "issuing_authority": "IssuingAuthority",
}

#: 驾驶证 副页: some answers name the number and name BackPageCardCode/BackPageName instead.
DRIVING_BACK: FieldTable = {
    "number": ("CardCode", "BackPageCardCode"),
    "name": ("Name", "BackPageName"),
    "file_number": "ArchivesCode",
    "record": "Record",
}

#: 行驶证 main page (`FrontInfo`).
VEHICLE_FRONT: FieldTable = {
    "plate_number": "PlateNo",
    "vehicle_type": "VehicleType",
    "owner": "Owner",
    "address": "Address",
    "use_character": "UseCharacter",
    "model": "Model",
    "vin": "Vin",
    "engine_number": "EngineNo",
    "register_date": "RegisterDate",
    "issue_date": "IssueDate",
    "issuing_authority": "Seal",
}

#: 行驶证 副页 (`BackInfo`).
VEHICLE_BACK: FieldTable = {
    "plate_number": "PlateNo",
    "file_number": "FileNo",
    "approved_passengers": "AllowNum",
    "total_mass": "TotalMass",
    "curb_weight": "CurbWeight",
    "approved_load": "LoadQuality",
    "dimensions": "ExternalSize",
    "traction_mass": "TotalQuasiMass",
    "remarks": "Marks",
    "inspection_record": "Record",
}


def driving_front(response: Mapping[str, Any]) -> DrivingLicence:
    """Validity is read as this adapter always has, not through `read_validity`: when EndDate holds a
    range whose start is unreadable, StartDate does not stand in for it (in the other adapters it does)."""
    fields = FlatFields(response)
    validity = parse_validity(fields.text("valid_to", "EndDate"), fields.date("valid_from", "StartDate"))
    return read_page(
        DrivingLicence,
        DRIVING_FRONT,
        fields,
        valid_from=validity.valid_from,
        valid_to=validity.valid_to,
        long_term=validity.long_term,
    )


def driving_back(response: Mapping[str, Any]) -> DrivingLicenceBack:
    return read_page(DrivingLicenceBack, DRIVING_BACK, FlatFields(response))


def vehicle_front(info: Mapping[str, Any]) -> VehicleLicenceFront:
    return read_page(VehicleLicenceFront, VEHICLE_FRONT, FlatFields(info))


def vehicle_back(info: Mapping[str, Any]) -> VehicleLicenceBack:
    return read_page(VehicleLicenceBack, VEHICLE_BACK, FlatFields(info))


def _confidence(value: Any) -> float | None:
    """Tencent's 0-100 integer as 0..1."""
    try:
        score = float(value)
    except (TypeError, ValueError):
        return None
    return clamp_unit(score / 100.0)


def _box(rect: Any, scale: float) -> Box | None:
    """A Rect in the sent image's pixels, mapped back to the pixels of the photo the user sent."""
    return rect_box(rect, ("X", "Y", "Width", "Height"), scale)


def plates(response: Mapping[str, Any], scale: float) -> list[Plate]:
    """Every plate read. `LicensePlateInfos` lists all of them; the top-level fields repeat the best one
    and are the only answer from older API versions, so they serve when the list is missing."""
    infos = response.get("LicensePlateInfos")
    candidates = [info for info in infos if isinstance(info, Mapping)] if isinstance(infos, list) else []
    if not candidates:
        candidates = [response]
    found: list[Plate] = []
    for info in candidates:
        fields = FlatFields(info)
        number = fields.plate("number", "Number")
        if not number:
            continue
        found.append(
            Plate(
                number=number,
                color=PLATE_COLORS.get(fields.text("color", "Color") or "", PlateColor.OTHER),
                confidence=_confidence(info.get("Confidence")),
                box=_box(info.get("Rect"), scale),
            )
        )
    return found


# ------------------------------------------------------------------------------------------ vendor


@register
class TencentVendor(CloudVendor[TencentSettings]):
    name: ClassVar[str] = "tencent"
    supports: ClassVar[frozenset[tuple[Kind, Side]]] = frozenset(ACTIONS)
    #: Base64 must stay under 7 MB (the tightest of the three actions): 5 MB raw is 6.7 MB encoded.
    limits: ClassVar[ImageLimits] = ImageLimits(
        max_bytes=5_000_000, max_side=4096, min_side=15, formats=frozenset({"JPEG", "PNG"})
    )
    settings_model: ClassVar[type[VendorSettings]] = TencentSettings

    @property
    def tencent(self) -> TencentSettings:
        return self.settings

    async def recognize(self, kind: Kind, side: Side, image: IntakeImage) -> Recognition:
        action_side = ACTIONS.get((kind, side))
        if action_side is None:
            raise VendorError(self.name, ErrorCategory.NOT_FOUND, UNSUPPORTED, f"cannot read {kind}/{side}")
        self.check_credentials()
        action, card_side = action_side
        prepared = await self.prepare_off_loop(image)
        params: dict[str, Any] = {"ImageBase64": None}  # first, where the SDK puts it
        if card_side is not None:
            params["CardSide"] = card_side
        body = json_with_image(params, "ImageBase64", prepared)
        response = await self._http.call(lambda: self._send(action, body), retry_if=should_retry)
        return self._recognition(kind, side, response, prepared)

    async def _send(self, action: str, body: bytes) -> dict[str, Any]:
        """One signed attempt; returns `Response` or raises the mapped `VendorError`."""
        url = httpx.URL(self.tencent.endpoint)
        host = url.netloc.decode("ascii")
        timestamp = int(self._clock())
        headers = signed_headers(self.tencent, action=action, host=host, body=body, timestamp=timestamp)
        answer = await self._http.request("POST", url.copy_with(path="/"), content=body, headers=headers)
        return self._response(answer)

    def _response(self, answer: httpx.Response) -> dict[str, Any]:
        body = json_body(self.name, answer)
        response = body.get("Response")
        if not isinstance(response, dict):
            category = status_category(answer.status_code) or ErrorCategory.SERVER
            raise VendorError(self.name, category, f"HTTP {answer.status_code}", "answer has no Response")
        error = response.get("Error")
        if isinstance(error, Mapping):
            code = str(error.get("Code") or "UnknownError")
            message = str(error.get("Message") or "")
            request_id = response.get("RequestId")
            if request_id:
                message = f"{message} (RequestId {request_id})"
            raise VendorError(self.name, error_category(code), code, message)
        if answer.status_code >= 400:
            category = status_category(answer.status_code) or ErrorCategory.SERVER
            raise VendorError(self.name, category, f"HTTP {answer.status_code}", "error status without Error")
        return response

    def _recognition(
        self, kind: Kind, side: Side, response: dict[str, Any], prepared: PreparedImage
    ) -> Recognition:
        recognition = Recognition(kind=kind, side=side, vendor=self.name, raw=response)
        if kind == "plate":
            recognition.plates = plates(response, prepared.scale)
        elif kind == "driving":
            recognition.document = driving_front(response) if side == "front" else driving_back(response)
        else:
            info = response.get("FrontInfo" if side == "front" else "BackInfo")
            if isinstance(info, Mapping):
                recognition.document = vehicle_front(info) if side == "front" else vehicle_back(info)
        if recognition.is_empty():
            raise VendorError(self.name, ErrorCategory.NOT_FOUND, "EmptyResult", "success without key fields")
        recognition.warnings = photo_warnings(response)
        return recognition
