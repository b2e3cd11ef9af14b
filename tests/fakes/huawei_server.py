"""A loopback Huawei Cloud server (OCR v2 and IAM tokens) that checks requests the way Huawei does.

- ``POST /v3/auth/tokens`` (IAM) checks the password identity and the project scope, and answers 201 with
  the token in the ``X-Subject-Token`` header; wrong credentials get IAM's 401 ``{"error": …}`` body.
- ``POST /v2/{project_id}/ocr/{driver-license,vehicle-license,license-plate}`` accepts either a token
  it issued (``X-Auth-Token``; an expired one answers APIG.0307) or an AK/SK signature, which it
  re-derives from the request it actually received (the headers named in SignedHeaders, the raw body)
  with its own copy of the SK. Its signing code is written independently of the adapter's; the adapter
  is also checked against the official SDK signer, so a mistake shared by both would still be caught.
- Parameters are validated as documented (unknown ones, a non-boolean ``return_issuing_authority``, a
  bad ``side`` are AIS.0101; bad base64 AIS.0102; an image outside the size limits AIS.0103), and every
  error is ``{"error_code", "error_msg"}`` with an HTTP 4xx/5xx status.

Tests script answers with `answer(...)` (OCR) and `answer_token(...)` (IAM): a success body, a
documented error, a slow answer, a dropped connection or a raw HTTP answer.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import io
import json
import re
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import quote, unquote, urlsplit

from PIL import Image

from tests.fakes.http_fake import DEFAULT_BACKLOG, FakeHandler, LoopbackFake, ScriptedReply

TOKEN_PATH = "/v3/auth/tokens"
MAX_SKEW_SECONDS = 15 * 60
TOKEN_LIFETIME = timedelta(hours=24)
KNOWN_PARAMETERS = {
    "driver-license": {"image", "url", "side", "return_issuing_authority", "return_text_location"},
    "vehicle-license": {
        "image", "url", "side", "return_issuing_authority", "return_text_location",
        "recognize_electronic_license", "alarm",
    },
    "license-plate": {"image", "url"},
}  # fmt: skip
SIDES = {"driver-license": {"front", "back", "double_side"}, "vehicle-license": {"front", "back"}}
#: (min side, max side) in pixels, per the API reference.
IMAGE_SIDES = {"driver-license": (100, 8192), "vehicle-license": (100, 8192), "license-plate": (15, 4096)}
_AUTHORIZATION = re.compile(
    r"SDK-HMAC-SHA256 Access=(?P<ak>[^,\s]+), SignedHeaders=(?P<signed>[a-z0-9;_-]+), "
    r"Signature=(?P<signature>[0-9a-f]{64})"
)
_OCR_PATH = re.compile(r"/v2/(?P<project>[^/]+)/ocr/(?P<action>[a-z-]+)")


# -------------------------------------------------------------------------------------- sample bodies


def driver_front() -> dict[str, Any]:
    """The documented success example for the main page (驾驶证识别, 响应示例), verbatim."""
    return {
        "number": "362XXXXXXXXXXXXXXXX",
        "name": "张三",
        "sex": "男",
        "nationality": "中国",
        "address": "XX省XX市XX区XX街道XX号",
        "birth": "2000-03-06",
        "issue_date": "2000-03-06",
        "class": "C1",
        "valid_from": "2004-08-26",
        "valid_to": "2034-08-26",
        "issuing_authority": "xxx交通管理局",
    }


def driver_back() -> dict[str, Any]:
    """The documented success example for the 副页, verbatim."""
    return {
        "number": "362XXXXXXXXXXXXXXXX",
        "name": "张三",
        "file_number": "88000888XXXX",
        "record": "实习期至2005年08月26日。",
    }


def vehicle_front() -> dict[str, Any]:
    """VehicleLicenseResult field names (SDK model), main page."""
    return {
        "type": "normal",
        "number": "京A·12345",
        "vehicle_type": "小型轿车",
        "name": "王芳",
        "address": "北京市朝阳区建国路88号",
        "use_character": "非营运",
        "model": "大众汽车牌SVW71810KJ",
        "vin": "1M8GDM9AXKP042788",
        "engine_no": "123456",
        "register_date": "2018-03-05",
        "issue_date": "2018-03-06",
        "issuing_authority": "北京市公安局公安交通管理局",
    }


def vehicle_back() -> dict[str, Any]:
    return {
        "type": "normal",
        "number": "京A12345",
        "file_no": "110001234567",
        "approved_passengers": "5人",
        "gross_mass": "1845kg",
        "unladen_mass": "1420kg",
        "approved_load": "",
        "dimension": "4866×1826×1462mm",
        "traction_mass": "",
        "remarks": "",
        "inspection_record": "检验有效期至2024年03月京A(01)",
    }


def plate(number: str, color: str, corners: list[list[int]], confidence: float) -> dict[str, Any]:
    return {"plate_number": number, "plate_color": color, "plate_location": corners, "confidence": confidence}


def default_result(action: str, params: dict[str, Any]) -> Any:
    """What Huawei would answer; the issuing authority only when it was asked for, as Huawei does."""
    if action == "license-plate":
        return [plate("京A12345", "blue", [[120, 80], [320, 80], [320, 140], [120, 140]], 0.99)]
    side = params.get("side") or "front"
    if action == "driver-license":
        result = driver_back() if side == "back" else driver_front()
    else:
        result = vehicle_back() if side == "back" else vehicle_front()
    if params.get("return_issuing_authority") is not True:
        result.pop("issuing_authority", None)
    return result


# -------------------------------------------------------------------------------------------- replies


@dataclass(frozen=True)
class Reply(ScriptedReply):
    """One scripted answer. Build with the class methods (`slow`, `drop`, `http` come from the base)."""

    body: Any = None
    code: str = ""
    message: str = ""

    @classmethod
    def success(cls, result: Any) -> Reply:
        return cls("body", body=result)

    @classmethod
    def error(cls, status: int, code: str, message: str = "scripted error") -> Reply:
        return cls("error", status=status, code=code, message=message)


@dataclass
class Received:
    """An OCR request as the fake saw it; `error` is the code it answered with, None for success."""

    path: str
    action: str | None
    headers: dict[str, str]
    body: bytes
    params: dict[str, Any] = field(default_factory=dict)
    image_size: tuple[int, int] | None = None
    error: str | None = None


class Rejected(Exception):
    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(code)
        self.status = status
        self.code = code
        self.message = message


# --------------------------------------------------------------------------------------------- server


class FakeHuawei(LoopbackFake[Reply]):
    """Run with `with FakeHuawei() as fake:`; point both `endpoint` and `iam_endpoint` at `fake.url`."""

    def __init__(
        self,
        *,
        ak: str = "HWAKFAKE0000000000001",
        sk: str = "fake-huawei-secret-key",
        project_id: str = "0a1b2c3d4e5f60718293a4b5c6d7e8f9",
        region: str = "cn-north-4",
        iam_user: str = "ocr-bot",
        iam_password: str = "fake-iam-password",
        iam_domain: str = "example-account",
        clock: Callable[[], float] = time.time,
        hold: float = 0.0,
        backlog: int = DEFAULT_BACKLOG,
    ) -> None:
        super().__init__(_Handler, backlog=backlog, name="fake-huawei")
        self.ak, self.sk, self.project_id, self.region = ak, sk, project_id, region
        self.iam_user, self.iam_password, self.iam_domain = iam_user, iam_password, iam_domain
        self.clock = clock
        self.hold = hold
        self.received: list[Received] = []
        self.token_requests: list[dict[str, Any]] = []
        self.tokens: list[str] = []
        self.expired: set[str] = set()

    @property
    def issued(self) -> int:
        return len(self.tokens)

    def answer(self, *replies: Reply) -> None:
        """Queue answers for the next OCR requests that pass the protocol checks, in order."""
        self.script("ocr", *replies)

    def answer_token(self, *replies: Reply) -> None:
        """Queue answers for the next token requests (a `slow` default still issues a token)."""
        self.script("token", *replies)

    def expire_tokens(self) -> None:
        with self._lock:
            self.expired.update(self.tokens)

    # -- IAM --

    def issue_token(self, body: bytes) -> tuple[Reply | None, str | None, dict[str, Any]]:
        """Returns (scripted reply, new token or None when refused, answer body)."""
        try:
            request = json.loads(body)
        except (ValueError, UnicodeDecodeError):
            request = None
        self.record(self.token_requests, request if isinstance(request, dict) else {})
        reply = self.next_reply("token")
        if reply is not None and reply.mode not in ("default",):
            return reply, None, {}
        if not self._credentials_ok(request):
            error = {"code": 401, "message": "The username or password is wrong.", "title": "Unauthorized"}
            return reply, None, {"error": error}
        token = "MIIfake" + secrets.token_urlsafe(24)
        issued = datetime.fromtimestamp(self.clock(), tz=UTC)
        with self._lock:
            self.tokens.append(token)
        answer = {
            "token": {
                "methods": ["password"],
                "issued_at": issued.strftime("%Y-%m-%dT%H:%M:%S.%f") + "Z",
                "expires_at": (issued + TOKEN_LIFETIME).strftime("%Y-%m-%dT%H:%M:%S.%f") + "Z",
                "project": {"name": self.region, "id": self.project_id},
                "user": {"name": self.iam_user, "domain": {"name": self.iam_domain}},
            }
        }
        return reply, token, answer

    def _credentials_ok(self, request: Any) -> bool:
        try:
            identity = request["auth"]["identity"]
            user = identity["password"]["user"]
            project = request["auth"]["scope"]["project"]
        except (KeyError, TypeError):
            return False
        return (
            identity.get("methods") == ["password"]
            and user.get("name") == self.iam_user
            and user.get("password") == self.iam_password
            and (user.get("domain") or {}).get("name") == self.iam_domain
            and (project.get("name") == self.region or project.get("id") == self.project_id)
        )

    # -- OCR --

    def handle_ocr(self, path: str, headers: dict[str, str], body: bytes) -> tuple[Reply | None, Received]:
        match = _OCR_PATH.fullmatch(urlsplit(path).path)
        received = self.record(
            self.received, Received(path, match["action"] if match else None, headers, body)
        )
        try:
            self._authenticate(path, headers, body)
            if headers.get("content-type", "").split(";")[0].strip() != "application/json":
                # Required, application/json, by the API reference's request-header table.
                raise Rejected(400, "AIS.0101", "The request header Content-Type must be application/json.")
            if (
                match is None
                or match["project"] != self.project_id
                or match["action"] not in KNOWN_PARAMETERS
            ):
                raise Rejected(404, "APIG.0101", "The API does not exist or has not been published.")
            received.params, received.image_size = self._parameters(match["action"], body)
        except Rejected as rejected:
            received.error = rejected.code
            return Reply.error(rejected.status, rejected.code, rejected.message), received
        reply = self.next_reply("ocr")
        if reply is not None and reply.mode == "error":
            received.error = reply.code
        return reply, received

    def _authenticate(self, path: str, headers: dict[str, str], body: bytes) -> None:
        token = headers.get("x-auth-token")
        if token is not None:
            if token in self.expired:
                raise Rejected(401, "APIG.0307", "The token must be updated.")
            if token not in self.tokens:
                raise Rejected(
                    401, "APIG.0301", "Incorrect IAM authentication information: decrypt token fail"
                )
            return
        if "authorization" not in headers:
            raise Rejected(401, "APIG.0301", "Incorrect IAM authentication information: no auth token")
        self._verify_signature(path, headers, body)

    def _verify_signature(self, path: str, headers: dict[str, str], body: bytes) -> None:
        match = _AUTHORIZATION.fullmatch(headers["authorization"])
        if match is None:
            raise Rejected(401, "APIGW.0301", "Incorrect IAM authentication information: bad Authorization")
        if match["ak"] != self.ak:
            raise Rejected(401, "APIGW.0301", "Incorrect IAM authentication information: ak not exist")
        signed = match["signed"].split(";")
        if not {"host", "x-sdk-date"} <= set(signed) or signed != sorted(signed):
            raise Rejected(401, "APIGW.0301", "Incorrect IAM authentication information: SignedHeaders")
        try:
            stamp = datetime.strptime(headers.get("x-sdk-date", ""), "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)
        except ValueError:
            raise Rejected(
                401, "APIGW.0301", "Incorrect IAM authentication information: X-Sdk-Date"
            ) from None
        if abs(stamp.timestamp() - self.clock()) > MAX_SKEW_SECONDS:
            raise Rejected(401, "APIGW.0301", "Incorrect IAM authentication information: request expired")
        if headers.get("x-project-id", self.project_id) != self.project_id:
            raise Rejected(401, "APIGW.0301", "Incorrect IAM authentication information: project id")
        url = urlsplit(path)
        segments = [quote(unquote(part), safe="-_.~") for part in url.path.split("/")]
        uri = "/".join(segments).rstrip("/") + "/"
        query = "&".join(sorted(part for part in url.query.split("&") if part))
        canonical_headers = "".join(f"{name}:{headers.get(name, '').strip()}\n" for name in signed)
        canonical = "\n".join(
            ["POST", uri, query, canonical_headers, match["signed"], hashlib.sha256(body).hexdigest()]
        )
        to_sign = (
            "SDK-HMAC-SHA256\n"
            + headers["x-sdk-date"]
            + "\n"
            + hashlib.sha256(canonical.encode()).hexdigest()
        )
        expected = hmac.new(self.sk.encode(), to_sign.encode(), hashlib.sha256).hexdigest()
        if not hmac.compare_digest(expected, match["signature"]):
            raise Rejected(
                401, "APIGW.0301", "Incorrect IAM authentication information: verify aksk signature fail"
            )

    def _parameters(self, action: str, body: bytes) -> tuple[dict[str, Any], tuple[int, int] | None]:
        try:
            params = json.loads(body)
        except (ValueError, UnicodeDecodeError):
            raise Rejected(400, "AIS.0101", "The input parameter is invalid: body is not JSON.") from None
        if not isinstance(params, dict):
            raise Rejected(400, "AIS.0101", "The input parameter is invalid: body is not an object.")
        unknown = set(params) - KNOWN_PARAMETERS[action]
        if unknown:
            raise Rejected(400, "AIS.0101", f"The input parameter {sorted(unknown)[0]} is invalid.")
        if "side" in params and params["side"] not in SIDES.get(action, set()):
            raise Rejected(400, "AIS.0101", "The input parameter side is invalid.")
        flag = params.get("return_issuing_authority", False)
        if not isinstance(flag, bool):
            raise Rejected(400, "AIS.0101", "The input parameter return_issuing_authority is invalid.")
        image = params.get("image")
        if not isinstance(image, str) or not image:
            raise Rejected(400, "AIS.0101", "The input parameter image is required.")
        try:
            data = base64.b64decode(image, validate=True)
        except (binascii.Error, ValueError):
            raise Rejected(400, "AIS.0102", "The image is not base64 encoded.") from None
        size = _image_size(data)
        smallest, largest = IMAGE_SIDES[action]
        if size is None or min(size) < smallest or max(size) > largest or len(image) > 10 * 1024 * 1024:
            raise Rejected(400, "AIS.0103", "The image size does not meet the requirements.")
        return params, size


def _image_size(data: bytes) -> tuple[int, int] | None:
    try:
        with Image.open(io.BytesIO(data), formats=["JPEG", "PNG", "BMP", "TIFF"]) as image:
            return image.size
    except (ValueError, OSError):
        return None


class _Handler(FakeHandler["FakeHuawei"]):
    def do_POST(self) -> None:
        body = self.read_body()
        headers = self.lowered_headers()
        with self.fake.counting():
            if urlsplit(self.path).path == TOKEN_PATH:
                self._token(body)
            else:
                self._ocr(headers, body)

    def _token(self, body: bytes) -> None:
        reply, token, answer = self.fake.issue_token(body)
        self.fake.wait(reply.delay if reply else 0.0)
        if reply is not None and reply.mode not in ("default",):
            self._scripted(reply)
        elif token is None:
            self.send_json(401, answer)
        else:
            self.send_json(201, answer, headers={"X-Subject-Token": token})

    def _ocr(self, headers: dict[str, str], body: bytes) -> None:
        reply, received = self.fake.handle_ocr(self.path, headers, body)
        self.fake.wait(self.fake.hold + (reply.delay if reply else 0.0))
        if reply is None or reply.mode == "default":
            self.send_json(200, {"result": default_result(received.action or "", received.params)})
        elif reply.mode == "body":
            self.send_json(200, {"result": reply.body})
        else:
            self._scripted(reply)

    def _scripted(self, reply: Reply) -> None:
        if not self.send_transport_reply(reply):
            self.send_json(reply.status, {"error_code": reply.code, "error_msg": reply.message})
