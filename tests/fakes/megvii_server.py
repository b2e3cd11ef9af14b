"""A fake Megvii server on 127.0.0.1 serving FaceID v2 and Face++ cardpp paths, speaking their protocol.

What it enforces, as Megvii documents:
- POST ``multipart/form-data`` only, parsed for real (fields and files); a request over 2 MB is
  refused before parsing with 413 and the plain-text body ``Request Entity Too Large``.
- ``api_key`` and ``api_secret`` must be present (400 ``MISSING_ARGUMENTS: api_key``) and match
  (cardpp v1: 401, cardpp v2: 403 ``AUTHENTICATION_ERROR``; FaceID: 403 ``AUTHORIZATION_ERROR``).
- The image file field (``image`` on FaceID, ``image_file`` on cardpp) must be there, decode as
  JPEG/PNG (else 400 ``IMAGE_ERROR_UNSUPPORTED_FORMAT: <param>``) and be at most 4096 px a side
  (else 400 ``INVALID_IMAGE_SIZE: <param>``).
- cardpp v2 answers ``second`` only in ``mode=complete`` and confidences only with ``return_score=1``.

Tests script answers per endpoint ("faceid_vehicle", "cardpp_driver", "cardpp_vehicle") with `script`:
a JSON body (HTTP 200), `Status(code, body)` for an error status (a str body goes out as plain text),
`Slow(seconds)` or `DROP`. Every request is recorded.
"""

from __future__ import annotations

import io
from dataclasses import dataclass, field
from email.parser import BytesParser
from email.policy import HTTP
from typing import Any

from PIL import Image

from tests.fakes.http_fake import DEFAULT_BACKLOG, Drop, FakeHandler, LoopbackFake, Slow
from tests.fakes.http_fake import DROP as DROP  # re-exported: tests script this fake with it

MAX_REQUEST_BYTES = 2 * 1024 * 1024
MAX_SIDE = 4096

#: path -> (endpoint name, image field, status for bad keys, error text for bad keys)
ENDPOINTS: dict[str, tuple[str, str, int, str]] = {
    "/faceid/v2/ocr_vehicle_license": ("faceid_vehicle", "image", 403, "AUTHORIZATION_ERROR"),
    "/cardpp/v2/ocrdriverlicense": ("cardpp_driver", "image_file", 403, "AUTHENTICATION_ERROR"),
    "/cardpp/v1/ocrvehiclelicense": ("cardpp_vehicle", "image_file", 401, "AUTHENTICATION_ERROR"),
}

REQUEST_ID = "1461740007,71eeb124-08f0-47b3-8fc8-ac048cfa1372"


def error_body(message: str) -> dict[str, Any]:
    return {
        "error_message": message,
        "request_id": "1461740007,71eeb124-08f0-47b3-8fc8-ac048cfa134d",
        "time_used": 4,
    }


# ----------------------------------------------------------------------------------- default answers

#: The FaceID v2 documentation's success example, verbatim.
FACEID_VEHICLE: dict[str, Any] = {
    "request_id": "1461740007,71eeb124-08f0-47b3-8fc8-ac048cfa1372",
    "type": 1,
    "plate_no": "京C12345",
    "vehicle_type": "小型轿车",
    "owner": "XXXXXX有限公司",
    "address": "北京市海淀区XXXX",
    "use_character": "非营运",
    "model": "丰田牌TVXXXXX",
    "vin": "LBYXXXXX",
    "engine_no": "B09XXX",
    "register_date": {"day": 2, "month": 6, "year": 2011},
    "issue_date": {"day": 2, "month": 6, "year": 2011},
    "side": "front",
    "issued_by": "广东省深圳市公安局交通警察支队",
    "time_used": 1020,
}

CARDPP_VEHICLE_CARD: dict[str, Any] = {
    "type": 3,
    "plate_no": "京A·12345",
    "vehicle_type": "小型轿车",
    "owner": "张伟",
    "address": "北京市海淀区中关村大街1号",
    "use_character": "非营运",
    "model": "大众汽车牌SVW71617BM",
    "vin": "LSVAU033612345678",
    "engine_no": "123456",
    "register_date": "2019-03-15",
    "issue_date": "2019-03-16",
    "side": "front",
    "issued_by": "北京市公安局公安交通管理局",
}

#: main[0] as cardpp v2 answers it, fields as (content, confidence); dates YYYYMMDD as in its sample.
DRIVER_MAIN: dict[str, tuple[Any, float]] = {
    "version": (2, 99.9),
    "address": ("北京市朝阳区建国路88号", 97.125),
    "birthday": ("19491231", 99.5),
    "gender": ("女", 99.9),
    "license_number": ("11010519491231002X", 98.75),
    "name": ("王芳", 99.25),
    "class": ("C1", 99.0),
    "nationality": ("中国", 99.9),
    "issued_by": ("北京市公安局公安交通管理局", 95.5),
    "issue_date": ("20000510", 99.0),
    "valid_date": ("20200510至20300510", 96.0),
}
DRIVER_SECOND: dict[str, tuple[Any, float]] = {
    "name": ("王芳", 99.0),
    "license_number": ("11010519491231002X", 98.0),
    "file_number": ("110100123456", 97.5),
}


def scored(fields: dict[str, tuple[Any, float]], with_scores: bool) -> dict[str, Any]:
    """A cardpp v2 page; confidences (per field and for the page) only when return_score=1."""
    page: dict[str, Any] = {
        key: {"content": content, **({"confidence": score} if with_scores else {})}
        for key, (content, score) in fields.items()
    }
    if with_scores:
        page["confidence"] = 99.0
    return page


def default_answer(endpoint: str, form: dict[str, str]) -> dict[str, Any]:
    if endpoint == "faceid_vehicle":
        return dict(FACEID_VEHICLE)
    if endpoint == "cardpp_vehicle":
        return {"request_id": REQUEST_ID, "cards": [CARDPP_VEHICLE_CARD], "image_id": "abc", "time_used": 500}
    with_scores = form.get("return_score") == "1"
    complete = form.get("mode", "fast") == "complete"
    return {
        "request_id": REQUEST_ID,
        "main": [scored(DRIVER_MAIN, with_scores)],
        "second": [scored(DRIVER_SECOND, with_scores)] if complete else [],
        "time_used": 700,
    }


# ------------------------------------------------------------------------------------------ scripting


@dataclass(frozen=True)
class Status:
    """An error answer: a JSON body, or a str sent as plain text (as Megvii's 413)."""

    code: int
    body: dict[str, Any] | str


Reply = dict[str, Any] | Status | Slow | Drop


@dataclass
class Recorded:
    path: str
    content_type: str
    length: int
    form: dict[str, str] = field(default_factory=dict)
    #: file field name -> (filename, content type, bytes)
    files: dict[str, tuple[str, str, bytes]] = field(default_factory=dict)
    image_format: str | None = None
    image_size: tuple[int, int] | None = None


class FakeMegvii(LoopbackFake[Reply]):
    """Start with `with FakeMegvii() as fake:`; point both endpoints of the adapter at `fake.url`.
    `script(endpoint, ...)` queues answers used once each after the key and image checks pass."""

    def __init__(
        self,
        api_key: str = "test-api-key",
        api_secret: str = "test-api-secret",
        max_request: int = MAX_REQUEST_BYTES,
        *,
        backlog: int = DEFAULT_BACKLOG,
    ) -> None:
        super().__init__(_Handler, backlog=backlog, name="fake-megvii")
        self.api_key = api_key
        self.api_secret = api_secret
        self.max_request = max_request
        self.requests: list[Recorded] = []

    def handle(self, path: str, record: Recorded) -> Status | Slow | Drop:
        self.record(self.requests, record)
        endpoint, image_field, auth_status, auth_error = ENDPOINTS[path]
        for key in ("api_key", "api_secret"):
            if not record.form.get(key):
                return Status(400, error_body(f"MISSING_ARGUMENTS: {key}"))
        if record.form["api_key"] != self.api_key or record.form["api_secret"] != self.api_secret:
            return Status(auth_status, error_body(auth_error))
        failure = self._check_image(record, image_field)
        if failure is not None:
            return Status(400, error_body(failure))
        scripted = self.next_reply(endpoint)
        if scripted is None:
            return Status(200, default_answer(endpoint, record.form))
        if isinstance(scripted, Slow):
            return Slow(scripted.seconds, scripted.reply or default_answer(endpoint, record.form))
        if isinstance(scripted, Status | Drop):
            return scripted
        return Status(200, scripted)

    def _check_image(self, record: Recorded, image_field: str) -> str | None:
        upload = record.files.get(image_field)
        if upload is None:
            return f"MISSING_ARGUMENTS: {image_field}"
        try:
            with Image.open(io.BytesIO(upload[2]), formats=["JPEG", "PNG"]) as opened:
                opened.load()
                record.image_format, record.image_size = opened.format, opened.size
        except Exception:  # Pillow raises many types for foreign or broken data
            return f"IMAGE_ERROR_UNSUPPORTED_FORMAT: {image_field}"
        if max(record.image_size) > MAX_SIDE:
            return f"INVALID_IMAGE_SIZE: {image_field}"
        return None


def parse_multipart(
    content_type: str, body: bytes
) -> tuple[dict[str, str], dict[str, tuple[str, str, bytes]]]:
    """multipart/form-data as a mail parser sees it: form fields and (filename, type, bytes) files."""
    message = BytesParser(policy=HTTP).parsebytes(
        f"Content-Type: {content_type}\r\nMIME-Version: 1.0\r\n\r\n".encode("latin-1") + body
    )
    form: dict[str, str] = {}
    files: dict[str, tuple[str, str, bytes]] = {}
    if not message.is_multipart():
        return form, files
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition")
        if not isinstance(name, str):
            continue
        payload = part.get_payload(decode=True) or b""
        filename = part.get_filename()
        if filename is not None:
            files[name] = (filename, part.get_content_type(), payload)
        else:
            form[name] = payload.decode("utf-8")
    return form, files


class _Handler(FakeHandler["FakeMegvii"]):
    def do_GET(self) -> None:
        self._answer(Status(404, error_body("API_NOT_FOUND")))

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        content_type = self.headers.get("Content-Type", "")
        record = Recorded(path=self.path, content_type=content_type, length=length)
        if self.path not in ENDPOINTS:
            self.rfile.read(length)
            self._answer(Status(404, error_body("API_NOT_FOUND")))
            return
        if length > self.fake.max_request:
            self.fake.record(self.fake.requests, record)
            self.rfile.read(length)  # drained, so the client reads the answer instead of a reset
            self._answer(Status(413, "Request Entity Too Large"))
            return
        body = self.rfile.read(length)
        if content_type.startswith("multipart/form-data"):
            record.form, record.files = parse_multipart(content_type, body)
        self._answer(self.fake.handle(self.path, record))

    def _answer(self, outcome: Status | Slow | Drop) -> None:
        if not self.hold_or_drop(outcome):
            return
        if isinstance(outcome, Slow):
            outcome = Status(200, outcome.reply or {})
        if isinstance(outcome.body, str):
            self.write(outcome.code, outcome.body.encode("utf-8"), "text/plain; charset=utf-8")
        else:
            self.send_json(outcome.code, outcome.body, "application/json; charset=utf-8")
