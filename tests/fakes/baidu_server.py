"""A fake Baidu AI OCR server on 127.0.0.1: a real HTTP server in a thread, speaking Baidu's protocol.

What it enforces, as Baidu does:
- ``/oauth/2.0/token`` (GET or POST, parameters in the query string or a form body) checks grant_type,
  client_id and client_secret, and issues tokens with ``expires_in``; bad credentials get Baidu's
  ``{"error": "invalid_client", …}`` with HTTP 401.
- ``/rest/2.0/ocr/v1/{driving_license,vehicle_license,license_plate}`` take POST with a form-urlencoded
  body and ``access_token`` in the query string. Unknown tokens answer 110, expired ones 111, and the
  ``image`` field must be base64 of a JPEG/PNG/BMP within Baidu's limits (urlencoded ≤ 4 MB, sides 15 to
  4096 px), else 216200/216201/216202. Errors come back as ``{"error_code", "error_msg"}`` with HTTP 200.

Tests script the answers per endpoint (`script`), and can make a reply slow (`Slow`) or drop the
connection without answering (`DROP`). Every request is recorded for assertions.
"""

from __future__ import annotations

import base64
import binascii
import io
import secrets
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from PIL import Image

from tests.fakes.http_fake import DEFAULT_BACKLOG, Drop, FakeHandler, LoopbackFake, Slow
from tests.fakes.http_fake import DROP as DROP  # re-exported: tests script this fake with it

OCR_PREFIX = "/rest/2.0/ocr/v1/"
TOKEN_PATH = "/oauth/2.0/token"
ACTIONS = ("driving_license", "vehicle_license", "license_plate")

#: Baidu's own wording for the error codes these APIs document.
ERROR_MESSAGES: dict[int, str] = {
    4: "Open api request limit reached",
    6: "No permission to access data",
    14: "IAM Certification failed",
    17: "Open api daily request limit reached",
    18: "Open api qps request limit reached",
    19: "Open api total request limit reached",
    100: "Invalid parameter",
    110: "Access token invalid or no longer valid",
    111: "Access token expired",
    216100: "invalid param",
    216101: "not enough param",
    216102: "service not support",
    216103: "param too long",
    216110: "appid not exist",
    216200: "empty image",
    216201: "image format error",
    216202: "image size error",
    216630: "recognize error",
    282000: "internal error",
    282102: "target detect error",
    282103: "target recognize error",
}


def error_body(code: int, message: str | None = None) -> dict[str, Any]:
    return {
        "error_code": code,
        "error_msg": message or ERROR_MESSAGES.get(code, "unknown error"),
        "log_id": 1234567890123456789,
    }


Reply = dict[str, Any] | Slow | Drop


@dataclass
class Recorded:
    method: str
    path: str
    query: dict[str, str]
    raw_query: str
    form: dict[str, str]
    content_type: str
    #: For OCR calls with a decodable image: its format and size as Baidu would see them.
    image_format: str | None = None
    image_size: tuple[int, int] | None = None
    image_field_bytes: int = 0


# ----------------------------------------------------------------------------------- default answers

DRIVING_FRONT: dict[str, Any] = {
    "证号": {"words": "11010519491231002X", "location": {"left": 210, "top": 60, "width": 300, "height": 30}},
    "姓名": {"words": "王芳"},
    "性别": {"words": "女"},
    "国籍": {"words": "中国"},
    "住址": {"words": "北京市朝阳区建国路88号"},
    "出生日期": {"words": "19491231"},
    "初次领证日期": {"words": "20000510"},
    "准驾车型": {"words": "C1"},
    "有效起始日期": {"words": "20200510"},
    "失效日期": {"words": "20300510"},
    "发证单位": {"words": "北京市公安局公安交通管理局"},
}
DRIVING_BACK: dict[str, Any] = {
    "姓名": {"words": "王芳"},
    "证号": {"words": "11010519491231002X"},
    "档案编号": {"words": "110100123456"},
    "记录": {"words": "请于2031年05月10日前申请换证"},
}
VEHICLE_FRONT: dict[str, Any] = {
    "号牌号码": {"words": "京A·12345"},
    "车辆类型": {"words": "小型轿车"},
    "所有人": {"words": "张伟"},
    "住址": {"words": "北京市海淀区中关村大街1号"},
    "使用性质": {"words": "非营运"},
    "品牌型号": {"words": "大众汽车牌SVW71617BM"},
    "车辆识别代号": {"words": "LSVAU033612345678"},
    "发动机号码": {"words": "123456"},
    "注册日期": {"words": "20190315"},
    "发证日期": {"words": "20190316"},
    "发证单位": {"words": "北京市公安局公安交通管理局"},
}
VEHICLE_BACK: dict[str, Any] = {
    "号牌号码": {"words": "京A12345"},
    "档案编号": {"words": "110001234567"},
    "核定载人数": {"words": "5人"},
    "总质量": {"words": "1800kg"},
    "整备质量": {"words": "1400kg"},
    "核定载质量": {"words": ""},
    "外廓尺寸": {"words": "4700×1800×1450mm"},
    "准牵引总质量": {"words": ""},
    "备注": {"words": "无"},
    "检验记录": {"words": "检验有效期至2031年09月京A(01)"},
    "证芯编号": {"words": "110000123456789"},
}
PLATE: dict[str, Any] = {
    "number": "京A12345",
    "color": "blue",
    "probability": [1.0, 0.99, 0.98, 0.97, 0.96, 0.95, 0.94],
    "vertexes_location": [
        {"x": 100, "y": 50},
        {"x": 300, "y": 52},
        {"x": 300, "y": 110},
        {"x": 100, "y": 108},
    ],
}


def card_body(words: dict[str, Any], direction: int = 0) -> dict[str, Any]:
    return {
        "log_id": 1234567890123456789,
        "direction": direction,
        "words_result_num": len(words),
        "words_result": words,
    }


def default_answer(action: str, form: dict[str, str]) -> dict[str, Any]:
    if action == "license_plate":
        plates = [PLATE]
        words: Any = plates if form.get("multi_detect") == "true" else plates[0]
        return {"log_id": 1234567890123456789, "words_result": words}
    back = form.get("driving_license_side") == "back" or form.get("vehicle_license_side") == "back"
    if action == "driving_license":
        return card_body(DRIVING_BACK if back else DRIVING_FRONT)
    return card_body(VEHICLE_BACK if back else VEHICLE_FRONT)


# ------------------------------------------------------------------------------------------- server


class FakeBaidu(LoopbackFake[Reply]):
    """Start with `with FakeBaidu() as fake:`; point the adapter's endpoint at `fake.url`.
    `script(endpoint, ...)` queues answers for "token" or an OCR action, used after the token and
    image checks pass."""

    def __init__(
        self,
        api_key: str = "test-api-key",
        secret_key: str = "test-secret-key",
        expires_in: int = 2592000,
        max_image_field: int = 4 * 1024 * 1024,
        *,
        backlog: int = DEFAULT_BACKLOG,
    ) -> None:
        super().__init__(_Handler, backlog=backlog, name="fake-baidu")
        self.api_key = api_key
        self.secret_key = secret_key
        self.expires_in = expires_in
        self.max_image_field = max_image_field
        self.token_requests: list[Recorded] = []
        self.ocr_requests: list[Recorded] = []
        #: Access tokens handed out, in order.
        self.tokens: list[str] = []
        self._valid: set[str] = set()
        self._expired: set[str] = set()

    def expire_tokens(self) -> None:
        """Every token issued so far now answers 111, as after its 30 days."""
        with self._lock:
            self._expired |= self._valid
            self._valid.clear()

    def revoke_tokens(self) -> None:
        """Every token issued so far is now unknown (110), as after the keys were reset."""
        with self._lock:
            self._valid.clear()
            self._expired.clear()

    @property
    def issued(self) -> int:
        return len(self.token_requests)

    # -------------------------------------------------------------------------------- protocol

    def handle_token(self, record: Recorded) -> tuple[int, dict[str, Any]] | Drop | Slow:
        params = {**record.form, **record.query}
        self.record(self.token_requests, record)
        if params.get("grant_type") != "client_credentials":
            return 400, {
                "error": "unsupported_grant_type",
                "error_description": "The authorization grant type is not supported",
            }
        if params.get("client_id") != self.api_key:
            return 401, {"error": "invalid_client", "error_description": "unknown client id"}
        if params.get("client_secret") != self.secret_key:
            return 401, {"error": "invalid_client", "error_description": "Client authentication failed"}
        scripted = self.next_reply("token")
        if isinstance(scripted, Drop):
            return scripted
        slow = scripted if isinstance(scripted, Slow) else None
        if slow is not None:
            scripted = slow.reply
        body = scripted if scripted is not None else self._new_token()
        token = body.get("access_token")
        if isinstance(token, str):
            with self._lock:
                self._valid.add(token)
                self.tokens.append(token)
        return Slow(slow.seconds, body) if slow is not None else (200, body)

    def _new_token(self) -> dict[str, Any]:
        token = f"24.{secrets.token_hex(16)}.{self.expires_in}.{int(time.time())}.282335-8574074"
        return {
            "refresh_token": f"25.{secrets.token_hex(16)}",
            "expires_in": self.expires_in,
            "scope": "public brain_all_scope vis-ocr_ocr",
            "session_key": secrets.token_hex(8),
            "access_token": token,
            "session_secret": secrets.token_hex(16),
        }

    def handle_ocr(self, action: str, record: Recorded) -> tuple[int, dict[str, Any]] | Drop | Slow:
        failure = self._check_image(record)
        self.record(self.ocr_requests, record)
        token = record.query.get("access_token")
        if not token:
            return 200, error_body(100)
        with self._lock:
            known, expired = token in self._valid, token in self._expired
        if expired:
            return 200, error_body(111)
        if not known:
            return 200, error_body(110)
        if failure is not None:
            return 200, error_body(failure)
        scripted = self.next_reply(action)
        if scripted is None:
            return 200, default_answer(action, record.form)
        if isinstance(scripted, Drop):
            return scripted
        if isinstance(scripted, Slow):
            return Slow(scripted.seconds, scripted.reply or default_answer(action, record.form))
        return 200, scripted

    def _check_image(self, record: Recorded) -> int | None:
        """Baidu's image rules; fills in what Baidu would have seen. Returns an error code or None."""
        text = record.form.get("image")
        if not text:
            return 216200
        if record.image_field_bytes > self.max_image_field:
            return 216202
        try:
            data = base64.b64decode(text, validate=True)
        except (binascii.Error, ValueError):
            return 216201
        try:
            with Image.open(io.BytesIO(data), formats=["JPEG", "PNG", "BMP"]) as opened:
                opened.load()
                record.image_format, record.image_size = opened.format, opened.size
        except Exception:  # Pillow raises many types for foreign or broken data
            return 216201
        width, height = record.image_size
        if min(width, height) < 15 or max(width, height) > 4096:
            return 216202
        return None


class _Handler(FakeHandler["FakeBaidu"]):
    def do_POST(self) -> None:
        split = urlsplit(self.path)
        raw_body = self.read_body()
        content_type = self.headers.get("Content-Type", "")
        form: dict[str, str] = {}
        image_field = 0
        if raw_body and content_type.startswith("application/x-www-form-urlencoded"):
            text = raw_body.decode("ascii", errors="replace")
            form = dict(parse_qsl(text, keep_blank_values=True, strict_parsing=True))
            image_field = next(
                (len(pair) - len("image=") for pair in text.split("&") if pair.startswith("image=")), 0
            )
        record = Recorded(
            method=self.command,
            path=split.path,
            query=dict(parse_qsl(split.query, keep_blank_values=True)),
            raw_query=split.query,
            form=form,
            content_type=content_type,
            image_field_bytes=image_field,
        )
        if split.path == TOKEN_PATH:
            outcome = self.fake.handle_token(record)
        elif split.path.startswith(OCR_PREFIX) and split.path[len(OCR_PREFIX) :] in ACTIONS:
            if self.command != "POST" or not content_type.startswith("application/x-www-form-urlencoded"):
                outcome = (200, error_body(100))
            else:
                outcome = self.fake.handle_ocr(split.path[len(OCR_PREFIX) :], record)
        else:
            outcome = (404, {"error_code": 3, "error_msg": "Unsupported openapi method"})
        self._answer(outcome)

    do_GET = do_POST  # the vendor answers both methods on the same routes

    def _answer(self, outcome: tuple[int, dict[str, Any]] | Drop | Slow) -> None:
        if not self.hold_or_drop(outcome):
            return
        if isinstance(outcome, Slow):
            outcome = (200, outcome.reply or {})
        status, body = outcome
        self.send_json(status, body, "application/json;charset=utf-8")
