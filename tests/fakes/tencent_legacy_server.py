"""A loopback Tencent legacy image OCR server (`/ocr/drivinglicence`) that checks requests as Tencent does.

It verifies the multi-use signature from the Authorization header with its own copy of the keys,
written independently of the adapter: base64-decode, split the 20-byte HMAC-SHA1 digest from the plain
text, look the SecretId up, recompute the digest over the plain text, then check appid/bucket against
the body and the expiry (a multi-use signature needs ``e > t`` and ``e`` in the future). Failures answer
the documented numeric codes, so the two classic mistakes of public code (appending the hex digest,
or not appending the plain text) come back as 14, as they do from Tencent.

Tests script it per request with `answer(...)`: items, a documented error code, a slow answer, a
dropped connection or a raw HTTP answer. Requests are recorded in `received`.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import io
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl

from PIL import Image

from tests.fakes.http_fake import DEFAULT_BACKLOG, FakeHandler, LoopbackFake, ScriptedReply

PATH = "/ocr/drivinglicence"
MAX_BODY = 6 * 1024 * 1024
DIGEST_SIZE = 20  # HMAC-SHA1

#: Tencent's wording for the documented codes.
MESSAGES: dict[int, str] = {
    3: "account abnormal,errorno is:2",
    4: "签名为空",
    5: "签名串错误",
    6: "签名中的 APPID/Bucket 与操作目标不匹配",
    9: "签名过期",
    10: "APPID 不存在",
    11: "SecretId 不存在",
    12: "APPID 和 SecretId 不匹配",
    13: "重放攻击",
    14: "签名校验失败",
    15: "操作太频繁,触发频控",
    16: "Bucket 不存在",
    21: "无效参数",
    23: "请求包体过大",
    24: "没有权限",
    25: "您购买的资源已用完",
    107: "鉴权服务内部错误",
    108: "鉴权服务不可用",
    213: "内部错误",
    -1102: "图片解码失败",
    -1300: "图片为空",
    -1301: "参数为空",
    -1304: "参数过长",
    -1308: "图片下载失败",
    -9001: "请求 type 错误,不是0或1",
    -9002: "识别失败",
    -9005: "图片无效",
    -9006: "预处理失败",
}


# -------------------------------------------------------------------------------------- sample items


def item(name: str, text: str, conf: float, coord: tuple[int, int, int, int]) -> dict[str, Any]:
    x, y, width, height = coord
    return {
        "item": name,
        "itemcoord": {"x": x, "y": y, "width": width, "height": height},
        "itemconf": conf,
        "itemstring": text,
    }


def driving_items() -> list[dict[str, Any]]:
    """The 驾驶证 (type 1) answer of Tencent's documentation, verbatim."""
    return [
        item("证号", "342221199005033256", 0.9999638199806212, (226, 66, 194, 30)),
        item("姓名", "张三", 0.999157190322876, (84, 98, 93, 26)),
        item("性别", "男", 0.9999893307685852, (291, 100, 23, 27)),
        item("国籍", "中国", 0.9999999403953552, (388, 100, 44, 28)),
        item("住址", "深圳市南山区万利达大厦", 0.5020201206207275, (87, 126, 286, 30)),
        item("出生日期", "1990-05-03", 0.999338924884796, (224, 195, 106, 25)),
        item("领证日期", "2014-12-25", 0.9999741315841676, (249, 226, 112, 26)),
        item("准驾车型", "C1", 0.9999993443489076, (262, 261, 58, 27)),
        item("起始日期", "2014-12-25", 0.9859412312507628, (122, 291, 111, 26)),
        item("有效日期", "2020-12-25", 0.9921129941940308, (266, 294, 113, 27)),
        item("红章", "深圳市公安局交通管理局", 0.9392985105514526, (52, 186, 110, 100)),
    ]


def vehicle_front_items() -> list[dict[str, Any]]:
    """行驶证 (type 0), with the documented item names; confidences on the documented 0-100 scale."""
    return [
        item("车牌号码", "粤B·12345", 99.1, (120, 60, 160, 30)),
        item("车辆类型", "小型普通客车", 98.0, (360, 60, 160, 30)),
        item("所有人", "张三", 97.5, (120, 100, 100, 30)),
        item("住址", "深圳市南山区万利达大厦", 60.0, (120, 140, 300, 30)),
        item("使用性质", "非营运", 99.0, (120, 180, 90, 30)),
        item("品牌型号", "大众汽车牌SVW71810KJ", 95.0, (300, 180, 220, 30)),
        item("识别代码", "1M8GDM9AXKP042788", 99.9, (120, 220, 260, 30)),
        item("发动机号", "123456", 99.0, (120, 260, 120, 30)),
        item("注册日期", "2018-03-05", 98.7, (120, 300, 130, 30)),
        item("发证日期", "2018-03-06", 98.2, (330, 300, 130, 30)),
    ]


def vehicle_back_items() -> list[dict[str, Any]]:
    """行驶证副页 (type 2): Tencent documents no names, so these are the ones printed on the page."""
    return [
        item("号牌号码", "粤B12345", 0.99, (60, 40, 150, 30)),
        item("档案编号", "440300123456", 0.98, (300, 40, 180, 30)),
        item("核定载人数", "5人", 0.97, (60, 80, 60, 30)),
        item("总质量", "1845kg", 0.96, (200, 80, 90, 30)),
        item("整备质量", "1420kg", 0.95, (360, 80, 90, 30)),
        item("核定载质量", "500kg", 0.9, (60, 120, 90, 30)),
        item("外廓尺寸", "4866×1826×1462mm", 0.93, (200, 120, 260, 30)),
        item("准牵引总质量", "3000kg", 0.9, (60, 160, 90, 30)),
        item("备注", "无", 0.8, (60, 200, 60, 30)),
        item("检验记录", "检验有效期至2024年03月粤B(01)", 0.88, (60, 240, 360, 30)),
    ]


def default_items(type_: int) -> list[dict[str, Any]]:
    return {0: vehicle_front_items, 1: driving_items, 2: vehicle_back_items}[type_]()


# -------------------------------------------------------------------------------------------- replies


@dataclass(frozen=True)
class Reply(ScriptedReply):
    """One scripted answer. Build with the class methods (`slow`, `drop`, `http` come from the base)."""

    items: list[dict[str, Any]] | None = None
    code: int = 0
    message: str = ""

    @classmethod
    def success(cls, items: list[dict[str, Any]]) -> Reply:
        return cls("items", items=items)

    @classmethod
    def error(cls, code: int, message: str | None = None, status: int = 200) -> Reply:
        return cls("error", code=code, message=message or MESSAGES.get(code, "error"), status=status)


@dataclass
class Received:
    """A request as the fake saw it; `error` is the code it answered with, None for success."""

    headers: dict[str, str]
    body: bytes
    params: dict[str, Any] = field(default_factory=dict)
    signed: dict[str, str] = field(default_factory=dict)
    image_size: tuple[int, int] | None = None
    error: int | None = None


class Rejected(Exception):
    def __init__(self, code: int, message: str | None = None) -> None:
        super().__init__(code)
        self.code = code
        self.message = message or MESSAGES[code]


# --------------------------------------------------------------------------------------------- server


class FakeTencentLegacy(LoopbackFake[Reply]):
    """Run with `with FakeTencentLegacy() as fake:`; point the adapter's endpoint at `fake.url`."""

    def __init__(
        self,
        app_id: str = "1250000000",
        bucket: str = "licences",
        secret_id: str = "AKIDfakeLegacyId0001",
        secret_key: str = "fake-legacy-secret-key",
        *,
        clock: Callable[[], float] = time.time,
        backlog: int = DEFAULT_BACKLOG,
    ) -> None:
        super().__init__(_Handler, backlog=backlog, name="fake-tencent-legacy")
        self.app_id = app_id
        self.bucket = bucket
        self.secret_id = secret_id
        self.secret_key = secret_key
        self.clock = clock
        self.received: list[Received] = []

    def answer(self, *replies: Reply) -> None:
        """Queue answers for the next requests that pass the protocol checks, in order."""
        self.script("ocr", *replies)

    # -- request handling (runs in the server's threads) --

    def handle(self, path: str, headers: dict[str, str], body: bytes) -> tuple[Reply, int]:
        """Check the request; returns the reply and the `type` asked for."""
        received = self.record(self.received, Received(headers, body))
        try:
            if path != PATH:
                return Reply.http(404, "not found"), 0
            if len(body) > MAX_BODY:
                raise Rejected(23)
            received.params = self._params(headers, body)
            received.signed = self._verify_signature(headers.get("authorization", ""), received.params)
            received.image_size = self._image(received.params)
        except Rejected as rejected:
            received.error = rejected.code
            return Reply.error(rejected.code, rejected.message), 0
        reply = self.next_reply("ocr") or Reply("default")
        if reply.mode == "error":
            received.error = reply.code
        return reply, int(received.params["type"])

    def _params(self, headers: dict[str, str], body: bytes) -> dict[str, Any]:
        if headers.get("content-type", "").split(";")[0].strip().lower() != "application/json":
            raise Rejected(21, "content-type must be application/json for base64 images")
        try:
            params = json.loads(body)
        except (ValueError, UnicodeDecodeError):
            raise Rejected(21) from None
        if not isinstance(params, dict) or not params.get("appid"):
            raise Rejected(-1301, "appid 为空")
        if params.get("type") not in (0, 1, 2):
            raise Rejected(-9001)
        return params

    def _verify_signature(self, authorization: str, params: dict[str, Any]) -> dict[str, str]:
        if not authorization.strip():
            raise Rejected(4)
        try:
            decoded = base64.b64decode(authorization.strip(), validate=True)
        except (binascii.Error, ValueError):
            raise Rejected(5) from None
        digest, plain = decoded[:DIGEST_SIZE], decoded[DIGEST_SIZE:]
        if not plain:
            raise Rejected(14)  # nothing to check the digest against
        fields = dict(parse_qsl(plain.decode("utf-8", "replace"), keep_blank_values=True))
        if "k" not in fields:
            raise Rejected(5)
        if fields["k"] != self.secret_id:
            raise Rejected(11)
        expected = hmac.new(self.secret_key.encode(), plain, hashlib.sha1).digest()
        if not hmac.compare_digest(expected, digest):
            raise Rejected(14)
        if fields.get("a") != self.app_id:
            raise Rejected(10)
        if str(params["appid"]) != self.app_id or fields.get("b", "") != str(params.get("bucket", "")):
            raise Rejected(6)
        if params.get("bucket") and params["bucket"] != self.bucket:
            raise Rejected(16)
        try:
            expires, signed_at = int(fields["e"]), int(fields["t"])
        except (KeyError, ValueError):
            raise Rejected(5) from None
        if expires <= signed_at:
            raise Rejected(5, "多次有效签名需要 e > t")
        if expires < self.clock():
            raise Rejected(9)
        return fields

    def _image(self, params: dict[str, Any]) -> tuple[int, int]:
        image = params.get("image")
        if params.get("url"):
            raise Rejected(-1308)  # the fake fetches nothing; the adapter must never send a URL
        if not image:
            raise Rejected(-1300)
        try:
            data = base64.b64decode(image, validate=True)
            with Image.open(io.BytesIO(data), formats=["JPEG", "PNG", "BMP"]) as opened:
                return opened.size
        except (binascii.Error, ValueError, OSError, TypeError):
            raise Rejected(-1102) from None


class _Handler(FakeHandler["FakeTencentLegacy"]):
    def do_POST(self) -> None:
        body = self.read_body()
        reply, type_ = self.fake.handle(self.path, self.lowered_headers(), body)
        self.fake.wait(reply.delay)
        if self.send_transport_reply(reply):
            return
        if reply.mode == "error":
            answer: dict[str, Any] = {"code": reply.code, "message": reply.message, "data": {}}
        else:
            items = reply.items if reply.mode == "items" else default_items(type_)
            answer = {
                "code": 0,
                "message": "OK",
                "data": {"session_id": "10000018324840", "items": items},
            }
        self.send_json(reply.status, answer)
