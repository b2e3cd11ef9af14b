"""A loopback Tencent Cloud API 3.0 OCR server that checks requests the way Tencent does.

It re-derives the TC3-HMAC-SHA256 signature from the request it actually received (the headers named in
SignedHeaders, the raw body bytes) with its own copy of the secret, and answers malformed or badly
signed requests with the documented error codes in HTTP 200 bodies. Its signing code is written
independently of the adapter's on purpose; the adapter is additionally checked against the official
SDK signer, so a mistake shared by both would still be caught.

Tests script it per request with `answer(...)`: a success body, a documented error code, a slow answer
(for timeouts), a dropped connection, or a raw HTTP answer. It counts requests in flight so tests can
see the adapter's concurrency limit.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import io
import json
import re
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from PIL import Image

from tests.fakes.http_fake import DEFAULT_BACKLOG, FakeHandler, LoopbackFake, ScriptedReply

VERSION = "2018-11-19"
SERVICE = "ocr"
MAX_SKEW_SECONDS = 300
CARD_SIDES = {
    "DriverLicenseOCR": {"FRONT", "BACK", "DOUBLE"},
    "VehicleLicenseOCR": {"FRONT", "BACK", "DOUBLE"},
    "LicensePlateOCR": set(),
}
KNOWN_PARAMETERS = {
    "DriverLicenseOCR": {"ImageBase64", "ImageUrl", "CardSide"},
    "VehicleLicenseOCR": {"ImageBase64", "ImageUrl", "CardSide", "TractorCardSide"},
    "LicensePlateOCR": {"ImageBase64", "ImageUrl"},
}
#: The documented limits on `ImageBase64` (its length) and the formats each action decodes: an adapter
#: that sent more, or a BMP or GIF plate photo, is refused here as Tencent would refuse it.
MAX_BASE64_CHARS = {
    "DriverLicenseOCR": 10 * 1024 * 1024,
    "VehicleLicenseOCR": 7 * 1024 * 1024,
    "LicensePlateOCR": 7 * 1024 * 1024,  # 10 MB per the SDK, 7 MB per the international docs: the lower
}
IMAGE_FORMATS = {
    "DriverLicenseOCR": ("JPEG", "PNG", "BMP"),
    "VehicleLicenseOCR": ("JPEG", "PNG", "BMP"),
    "LicensePlateOCR": ("JPEG", "PNG"),
}
_AUTHORIZATION = re.compile(
    r"TC3-HMAC-SHA256 Credential=(?P<id>[^/]+)/(?P<date>\d{4}-\d{2}-\d{2})/(?P<service>[^/]+)/tc3_request, "
    r"SignedHeaders=(?P<signed>[a-z0-9;-]+), Signature=(?P<signature>[0-9a-f]{64})"
)


# -------------------------------------------------------------------------------------- sample bodies


def driver_front() -> dict[str, Any]:
    """DriverLicenseOCR, CardSide=FRONT; 11010519491231002X is the GB 11643 worked example."""
    return {
        "Name": "王芳",
        "Sex": "女",
        "Nationality": "中国",
        "Address": "北京市朝阳区建国路88号",
        "DateOfBirth": "1949-12-31",
        "DateOfFirstIssue": "2000-05-10",
        "Class": "C1",
        "StartDate": "2020-05-10",
        "EndDate": "2030-05-10",
        "CardCode": "11010519491231002X",
        "ArchivesCode": "",
        "Record": "",
        "IssuingAuthority": "北京市公安局公安交通管理局",
        "RecognizeWarnCode": [],
        "RecognizeWarnMsg": [],
        "DriverLicenseType": "Normal",
        "State": "",
        "CumulativeScore": "",
        "CurrentTime": "",
        "GenerateTime": "",
        "BackPageName": "",
        "BackPageCardCode": "",
    }


def driver_back() -> dict[str, Any]:
    return driver_front() | {
        "Sex": "", "Nationality": "", "Address": "", "DateOfBirth": "", "DateOfFirstIssue": "", "Class": "",
        "StartDate": "", "EndDate": "", "IssuingAuthority": "", "CardCode": "",
        "Name": "", "BackPageName": "王芳", "BackPageCardCode": "11010519491231002X",
        "ArchivesCode": "110100123456", "Record": "请于2026年05月10日前提交身体条件证明",
    }  # fmt: skip


def vehicle_front_info() -> dict[str, Any]:
    return {
        "PlateNo": "京A·12345",
        "VehicleType": "小型轿车",
        "Owner": "王芳",
        "Address": "北京市朝阳区建国路88号",
        "UseCharacter": "非营运",
        "Model": "大众汽车牌SVW71810KJ",
        "Vin": "1M8GDM9AXKP042788",
        "EngineNo": "123456",
        "RegisterDate": "2018-03-05",
        "IssueDate": "2018-03-06",
        "Seal": "北京市公安局公安交通管理局",
        "StateElectronic": "",
        "InspectionValidityTimeElectronic": "",
        "GenerationTimeElectronic": "",
    }


def vehicle_back_info() -> dict[str, Any]:
    return {
        "PlateNo": "京A12345",
        "FileNo": "110001234567",
        "AllowNum": "5人",
        "TotalMass": "1845kg",
        "CurbWeight": "1420kg",
        "LoadQuality": "",
        "ExternalSize": "4866×1826×1462mm",
        "TotalQuasiMass": "",
        "Marks": "",
        "Record": "检验有效期至2024年03月京A(01)",
        "SubPageCode": "",
        "FuelType": "汽油",
        "AddressElectronic": "",
        "IssueAuthorityElectronic": "",
        "CarBodyColor": "",
    }


def vehicle(side: str) -> dict[str, Any]:
    return {
        "FrontInfo": vehicle_front_info() if side == "FRONT" else None,
        "BackInfo": vehicle_back_info() if side == "BACK" else None,
        "RecognizeWarnCode": [],
        "RecognizeWarnMsg": [],
        "VehicleLicenseType": "Normal",
        "TractorBackInfo": None,
    }


def plate_info(number: str, color: str, confidence: int, rect: tuple[int, int, int, int]) -> dict[str, Any]:
    x, y, width, height = rect
    return {
        "Number": number,
        "Confidence": confidence,
        "Rect": {"X": x, "Y": y, "Width": width, "Height": height},
        "Color": color,
        "LicensePlateCategory": "标准实体车牌",
    }


def plates(*infos: dict[str, Any]) -> dict[str, Any]:
    """LicensePlateOCR: the best plate at the top level, every plate in LicensePlateInfos."""
    best = dict(infos[0]) if infos else plate_info("", "", 0, (0, 0, 0, 0))
    return best | {"LicensePlateInfos": [dict(info) for info in infos]}


def default_success(action: str, card_side: str | None) -> dict[str, Any]:
    if action == "DriverLicenseOCR":
        return driver_back() if card_side == "BACK" else driver_front()
    if action == "VehicleLicenseOCR":
        return vehicle(card_side or "FRONT")
    return plates(plate_info("京A12345", "蓝", 99, (120, 80, 200, 60)))


# -------------------------------------------------------------------------------------------- replies


@dataclass(frozen=True)
class Reply(ScriptedReply):
    """One scripted answer. Build with the class methods (`slow`, `drop`, `http` come from the base)."""

    body: dict[str, Any] | None = None
    code: str = ""
    message: str = ""

    @classmethod
    def success(cls, fields: dict[str, Any], delay: float = 0.0) -> Reply:
        return cls("body", body=fields, delay=delay)

    @classmethod
    def error(cls, code: str, message: str = "scripted error") -> Reply:
        return cls("error", code=code, message=message)


@dataclass
class Received:
    """A request as the fake saw it; `error` is the code it answered with, None for success."""

    action: str | None
    headers: dict[str, str]
    body: bytes
    params: dict[str, Any] = field(default_factory=dict)
    image_size: tuple[int, int] | None = None
    error: str | None = None


class RequestRejected(Exception):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(code)
        self.code = code
        self.message = message


# --------------------------------------------------------------------------------------------- server


class FakeTencent(LoopbackFake[Reply]):
    """Run with `with FakeTencent() as fake:`; point the adapter's endpoint at `fake.url`."""

    def __init__(
        self,
        secret_id: str = "AKIDfakeTencentId0001",
        secret_key: str = "fake-tencent-secret-key",
        *,
        clock: Callable[[], float] = time.time,
        hold: float = 0.0,
        backlog: int = DEFAULT_BACKLOG,
    ) -> None:
        super().__init__(_Handler, backlog=backlog, name="fake-tencent")
        self.secret_id = secret_id
        self.secret_key = secret_key
        self.clock = clock
        #: Seconds every accepted request is held before answering (to make concurrency visible).
        self.hold = hold
        self.received: list[Received] = []

    def answer(self, *replies: Reply) -> None:
        """Queue answers for the next requests that pass the protocol checks, in order."""
        self.script("ocr", *replies)

    # -- request handling (runs in the server's threads) --

    def handle(
        self, method: str, path: str, headers: dict[str, str], body: bytes
    ) -> tuple[Reply | None, dict]:
        """Check the request; returns the scripted reply (None = default success) and the Received."""
        received = self.record(self.received, Received(headers.get("x-tc-action"), headers, body))
        try:
            received.params = self._check(method, path, headers, body)
        except RequestRejected as rejected:
            received.error = rejected.code
            return Reply.error(rejected.code, rejected.message), {}
        image = received.params.get("ImageBase64", "")
        received.image_size = _image_size(image, IMAGE_FORMATS[received.action or ""])
        reply = self.next_reply("ocr")
        if reply is not None and reply.mode == "error":
            received.error = reply.code
        return reply, received.params

    def _check(self, method: str, path: str, headers: dict[str, str], body: bytes) -> dict[str, Any]:
        if method != "POST" or path != "/":
            raise RequestRejected("InvalidRequest", f"unsupported {method} {path}")
        action = headers.get("x-tc-action")
        if not action:
            raise RequestRejected("MissingParameter", "The request is missing a required parameter `Action`.")
        if action not in CARD_SIDES:
            raise RequestRejected("InvalidAction", f"The requested action `{action}` does not exist.")
        version = headers.get("x-tc-version")
        if not version:
            raise RequestRejected(
                "MissingParameter", "The request is missing a required parameter `Version`."
            )
        if version != VERSION:
            raise RequestRejected("NoSuchVersion", f"The requested version `{version}` does not exist.")
        timestamp = self._timestamp(headers.get("x-tc-timestamp"))
        self._verify_signature(headers, body, timestamp)
        return self._parameters(action, body)

    def _timestamp(self, value: str | None) -> int:
        if value is None:
            raise RequestRejected(
                "MissingParameter", "The request is missing a required parameter `Timestamp`."
            )
        try:
            timestamp = int(value)
        except ValueError:
            raise RequestRejected("InvalidParameter", "Timestamp is not an integer.") from None
        if abs(self.clock() - timestamp) > MAX_SKEW_SECONDS:
            raise RequestRejected("AuthFailure.SignatureExpire", "Signature expired. Timestamp skew > 5 min.")
        return timestamp

    def _verify_signature(self, headers: dict[str, str], body: bytes, timestamp: int) -> None:
        authorization = headers.get("authorization", "")
        match = _AUTHORIZATION.fullmatch(authorization)
        if match is None:
            raise RequestRejected("AuthFailure.InvalidAuthorization", "Authorization is malformed.")
        if match["id"] != self.secret_id:
            raise RequestRejected("AuthFailure.SecretIdNotFound", "The SecretId is not found.")
        date = datetime.fromtimestamp(timestamp, tz=UTC).strftime("%Y-%m-%d")
        if match["date"] != date or match["service"] != SERVICE:
            raise RequestRejected("AuthFailure.SignatureFailure", "Credential scope does not match.")
        signed = match["signed"].split(";")
        if "content-type" not in signed or "host" not in signed or signed != sorted(signed):
            raise RequestRejected(
                "AuthFailure.SignatureFailure", "SignedHeaders must hold content-type;host."
            )
        canonical_headers = "".join(f"{name}:{headers.get(name, '').strip().lower()}\n" for name in signed)
        canonical = "\n".join(
            ["POST", "/", "", canonical_headers, match["signed"], hashlib.sha256(body).hexdigest()]
        )
        scope = f"{date}/{SERVICE}/tc3_request"
        to_sign = f"TC3-HMAC-SHA256\n{timestamp}\n{scope}\n{hashlib.sha256(canonical.encode()).hexdigest()}"
        key = ("TC3" + self.secret_key).encode()
        for part in (date, SERVICE, "tc3_request"):
            key = hmac.new(key, part.encode(), hashlib.sha256).digest()
        expected = hmac.new(key, to_sign.encode(), hashlib.sha256).hexdigest()
        if not hmac.compare_digest(expected, match["signature"]):
            raise RequestRejected(
                "AuthFailure.SignatureFailure",
                "The provided credentials could not be validated. Please check your signature is correct.",
            )

    def _parameters(self, action: str, body: bytes) -> dict[str, Any]:
        try:
            params = json.loads(body)
        except (ValueError, UnicodeDecodeError):
            raise RequestRejected("InvalidParameter", "The request body is not valid JSON.") from None
        if not isinstance(params, dict):
            raise RequestRejected("InvalidParameter", "The request body is not a JSON object.")
        unknown = set(params) - KNOWN_PARAMETERS[action]
        if unknown:
            raise RequestRejected("UnknownParameter", f"Unknown parameter `{sorted(unknown)[0]}`.")
        side = params.get("CardSide")
        if side is not None and side not in CARD_SIDES[action]:
            raise RequestRejected("InvalidParameterValue", f"CardSide `{side}` is invalid.")
        image = params.get("ImageBase64")
        if image is None and params.get("ImageUrl") is None:
            raise RequestRejected("MissingParameter", "ImageBase64 or ImageUrl is required.")
        if isinstance(image, str) and len(image) > MAX_BASE64_CHARS[action]:
            raise RequestRejected("LimitExceeded.TooLargeFileError", "文件内容太大。")
        if image is not None and _image_size(image, IMAGE_FORMATS[action]) is None:
            raise RequestRejected("FailedOperation.ImageDecodeFailed", "图片解码失败。")
        return params


def _image_size(text: Any, formats: tuple[str, ...]) -> tuple[int, int] | None:
    if not isinstance(text, str) or not text:
        return None
    try:
        data = base64.b64decode(text, validate=True)
        with Image.open(io.BytesIO(data), formats=list(formats)) as image:
            return image.size
    except (binascii.Error, ValueError, OSError):
        return None


class _Handler(FakeHandler["FakeTencent"]):
    def do_POST(self) -> None:
        self._serve("POST")

    def do_GET(self) -> None:
        self._serve("GET")

    def _serve(self, method: str) -> None:
        body = self.read_body()
        headers = self.lowered_headers()
        with self.fake.counting():
            reply, params = self.fake.handle(method, self.path, headers, body)
            self.fake.wait(self.fake.hold + (reply.delay if reply else 0.0))
            self._answer(reply, headers.get("x-tc-action") or "", params)

    def _answer(self, reply: Reply | None, action: str, params: dict[str, Any]) -> None:
        if reply is not None and self.send_transport_reply(reply):
            return
        request_id = str(uuid.uuid4())
        if reply is not None and reply.mode == "error":
            response: dict[str, Any] = {"Error": {"Code": reply.code, "Message": reply.message}}
        elif reply is not None and reply.mode == "body" and reply.body is not None:
            response = dict(reply.body)
        else:
            response = default_success(action, params.get("CardSide"))
        response["RequestId"] = request_id
        self.send_json(200, {"Response": response})
