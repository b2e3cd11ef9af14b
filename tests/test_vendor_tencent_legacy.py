"""The Tencent legacy image OCR adapter against the documented signature and a loopback fake server."""

from __future__ import annotations

import base64
import hashlib
import hmac
import io
import json
from collections.abc import AsyncIterator, Iterator
from datetime import date
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl

import httpx
import pytest
from PIL import Image, ImageDraw

from bot.cli import main
from bot.images import IntakeImage, load
from bot.models import DrivingLicence, VehicleLicenceBack, VehicleLicenceFront
from bot.vendors.base import ErrorCategory, VendorError, build_vendor, vendor_class
from bot.vendors.http import RetryPolicy
from bot.vendors.tencent_legacy import (
    TencentLegacySettings,
    TencentLegacyVendor,
    multi_use_signature,
    sign,
    signature_plain,
)
from tests.fakes import tencent_legacy_server as samples
from tests.fakes.tencent_legacy_server import FakeTencentLegacy, Reply

APP_ID = "1250000000"
BUCKET = "licences"
SECRET_ID = "AKIDfakeLegacyId0001"
SECRET_KEY = "fake-legacy-secret-key"


# ------------------------------------------------------------------------------------------ utilities


def render(size: tuple[int, int] = (900, 600), fmt: str = "JPEG") -> bytes:
    image = Image.new("RGB", size, (236, 240, 232))
    ImageDraw.Draw(image).rectangle((20, 20, size[0] - 20, size[1] - 20), outline=(40, 40, 40), width=4)
    buffer = io.BytesIO()
    image.save(buffer, fmt)
    return buffer.getvalue()


@pytest.fixture(scope="module")
def photo() -> IntakeImage:
    return load(render())


class Sleeps:
    """Stands in for asyncio.sleep: records the backoff delays without waiting."""

    def __init__(self) -> None:
        self.delays: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.delays.append(seconds)


@pytest.fixture
def fake() -> Iterator[FakeTencentLegacy]:
    with FakeTencentLegacy(APP_ID, BUCKET, SECRET_ID, SECRET_KEY) as server:
        yield server


@pytest.fixture
def sleeps() -> Sleeps:
    return Sleeps()


@pytest.fixture
async def make_vendor(fake: FakeTencentLegacy, sleeps: Sleeps) -> AsyncIterator[Any]:
    made: list[TencentLegacyVendor] = []

    def make(attempts: int = 3, clock: Any = None, **settings: Any) -> TencentLegacyVendor:
        table = {
            "endpoint": fake.url, "app_id": APP_ID, "bucket": BUCKET, "secret_id": SECRET_ID,
            "secret_key": SECRET_KEY, "timeout": 5.0,
        }  # fmt: skip
        extra: dict[str, Any] = {"clock": clock} if clock else {}
        vendor = TencentLegacyVendor(
            TencentLegacySettings.model_validate(table | settings),
            retry=RetryPolicy(attempts=attempts, base_delay=0.5, max_delay=4.0, jitter=0.5),
            sleep=sleeps,
            **extra,
        )
        made.append(vendor)
        return vendor

    yield make
    for vendor in made:
        await vendor.aclose()


async def failure(vendor: TencentLegacyVendor, kind: str, side: str, image: IntakeImage) -> VendorError:
    with pytest.raises(VendorError) as caught:
        await vendor.recognize(kind, side, image)  # type: ignore[arg-type]
    return caught.value


def post(fake: FakeTencentLegacy, authorization: str) -> dict[str, Any]:
    """A hand-made request to the fake, bypassing the adapter."""
    body = {"appid": APP_ID, "bucket": BUCKET, "type": 1, "image": base64.b64encode(render()).decode()}
    headers = {"Content-Type": "application/json", "Authorization": authorization}
    return httpx.post(fake.url + samples.PATH, json=body, headers=headers, timeout=5).json()


# ----------------------------------------------------------------------- signature, as documented


def documented_signature(
    secret_key: str, app_id: str, bucket: str, secret_id: str, e: int, t: int, r: int
) -> str:
    """The multi-use signature rebuilt step by step from Tencent's description, not from our code."""
    original = "a=" + app_id + "&b=" + bucket + "&k=" + secret_id + "&e=" + str(e) + "&t=" + str(t)
    original += "&r=" + str(r) + "&f="
    sign_tmp = hmac.new(secret_key.encode(), original.encode(), hashlib.sha1).digest()  # 20 raw bytes
    assert len(sign_tmp) == 20
    return base64.standard_b64encode(sign_tmp + original.encode()).decode()


@pytest.mark.parametrize(
    ("app_id", "bucket", "secret_id", "secret_key", "now", "rand", "ttl"),
    [
        ("1250000000", "test", "AKIDUfLUEUigQiXqm7CVSspKJnuaiIKtxqAv", "bLcPnl88WU30VY57ipRhSePfPdOfSruK",
         1_436_077_115, 11_162, 2_592_000),
        ("10000037", "", "AKIDfakeLegacyId0001", "s3cr3t/+=", 1_700_000_000, 9_999_999_999, 600),
    ],
)  # fmt: skip
def test_signature_follows_the_documented_algorithm(app_id, bucket, secret_id, secret_key, now, rand, ttl):
    expected = documented_signature(secret_key, app_id, bucket, secret_id, now + ttl, now, rand)
    settings = TencentLegacySettings(
        app_id=app_id, bucket=bucket, secret_id=secret_id, secret_key=secret_key, signature_ttl=ttl
    )
    assert sign(settings, now=now, rand=rand) == expected
    plain = signature_plain(
        app_id=app_id, bucket=bucket, secret_id=secret_id, expires=now + ttl, now=now, rand=rand
    )
    assert multi_use_signature(secret_key, plain) == expected
    decoded = base64.b64decode(expected)
    assert decoded[20:].decode() == f"a={app_id}&b={bucket}&k={secret_id}&e={now + ttl}&t={now}&r={rand}&f="


def test_fake_accepts_the_documented_signature_and_rejects_the_two_classic_mistakes(fake):
    now = int(fake.clock())
    plain = f"a={APP_ID}&b={BUCKET}&k={SECRET_ID}&e={now + 600}&t={now}&r=42&f=".encode()
    raw = hmac.new(SECRET_KEY.encode(), plain, hashlib.sha1)
    good = base64.b64encode(raw.digest() + plain).decode()
    hex_digest = base64.b64encode(raw.hexdigest().encode() + plain).decode()
    no_plain = base64.b64encode(raw.digest()).decode()
    assert post(fake, good)["code"] == 0
    assert post(fake, hex_digest)["code"] == 14
    assert post(fake, no_plain)["code"] == 14
    assert post(fake, "")["code"] == 4
    assert post(fake, "not base64 !")["code"] == 5
    expired = f"a={APP_ID}&b={BUCKET}&k={SECRET_ID}&e={now - 10}&t={now - 700}&r=1&f=".encode()
    signed = hmac.new(SECRET_KEY.encode(), expired, hashlib.sha1).digest()
    assert post(fake, base64.b64encode(signed + expired).decode())["code"] == 9
    single_use = f"a={APP_ID}&b={BUCKET}&k={SECRET_ID}&e=0&t={now}&r=1&f=".encode()
    signed = hmac.new(SECRET_KEY.encode(), single_use, hashlib.sha1).digest()
    assert post(fake, base64.b64encode(signed + single_use).decode())["code"] == 5  # multi-use needs e > t


# --------------------------------------------------------------------------------------- requests


@pytest.mark.parametrize(
    ("kind", "side", "type_"), [("vehicle", "front", 0), ("driving", "front", 1), ("vehicle", "back", 2)]
)
async def test_request_carries_type_appid_bucket_and_a_base64_image(
    fake, make_vendor, photo, kind, side, type_
):
    await make_vendor(signature_ttl=900).recognize(kind, side, photo)
    [request] = fake.received
    assert request.error is None and request.headers["content-type"] == "application/json"
    assert request.params["type"] == type_
    assert (request.params["appid"], request.params["bucket"]) == (APP_ID, BUCKET)
    assert "url" not in request.params and request.image_size == (photo.width, photo.height)
    assert int(request.signed["e"]) - int(request.signed["t"]) == 900


async def test_bucket_is_optional(fake, make_vendor, photo):
    fake.bucket = ""
    await make_vendor(bucket="").recognize("driving", "front", photo)
    assert "bucket" not in fake.received[0].params and fake.received[0].signed["b"] == ""


@pytest.mark.parametrize(("kind", "side"), [("driving", "back"), ("plate", "front")])
async def test_pages_this_api_cannot_read_are_refused_without_a_request(fake, make_vendor, photo, kind, side):
    vendor = make_vendor()
    assert not vendor.supports_request(kind, side)
    error = await failure(vendor, kind, side, photo)
    assert (error.category, error.code) == (ErrorCategory.NOT_FOUND, "unsupported")
    assert fake.received == []


async def test_missing_credentials_are_an_auth_error_without_a_request(fake, make_vendor, photo):
    error = await failure(make_vendor(secret_key=""), "driving", "front", photo)
    assert error.category is ErrorCategory.AUTH and fake.received == []


# ---------------------------------------------------------------------------------------- mapping


async def test_driving_licence_from_the_documented_example(fake, make_vendor, photo):
    recognition = await make_vendor().recognize("driving", "front", photo)
    page = recognition.document
    assert isinstance(page, DrivingLicence)
    assert (page.number, page.name) == ("342221199005033256", "张三")
    assert (page.sex, page.nationality) == ("男", "中国")
    assert page.address == "深圳市南山区万利达大厦" and page.class_ == "C1"
    assert page.issuing_authority == "深圳市公安局交通管理局"
    assert (page.birth_date, page.first_issue_date) == (date(1990, 5, 3), date(2014, 12, 25))
    assert (page.valid_from, page.valid_to, page.long_term) == (date(2014, 12, 25), date(2020, 12, 25), False)
    assert page.meta["address"].confidence == pytest.approx(0.5020201206207275)  # 0-1 scale kept as is
    box = page.meta["number"].box
    assert box is not None and (box.x, box.y, box.width, box.height) == (226, 66, 194, 30)  # no downscale


async def test_driving_validity_in_years_counts_from_the_start_date(fake, make_vendor, photo):
    items = [i for i in samples.driving_items() if i["item"] != "有效日期"]
    items.append(samples.item("有效日期", "6年", 0.9, (0, 0, 1, 1)))
    fake.answer(Reply.success(items))
    page = (await make_vendor().recognize("driving", "front", photo)).document
    assert isinstance(page, DrivingLicence) and page.valid_to == date(2020, 12, 25)


async def test_vehicle_front_with_percent_confidences(fake, make_vendor, photo):
    page = (await make_vendor().recognize("vehicle", "front", photo)).document
    assert isinstance(page, VehicleLicenceFront)
    by_name = {i["item"]: i["itemstring"] for i in samples.vehicle_front_items()}
    expected = {
        "vehicle_type": "车辆类型", "owner": "所有人", "address": "住址", "use_character": "使用性质",
        "model": "品牌型号", "vin": "识别代码", "engine_number": "发动机号",
    }  # fmt: skip
    for ours, theirs in expected.items():
        assert getattr(page, ours) == by_name[theirs], ours
    assert page.plate_number == "粤B12345"  # the printed middle dot is not part of the number
    assert (page.register_date, page.issue_date) == (date(2018, 3, 5), date(2018, 3, 6))
    assert page.meta["vin"].confidence == pytest.approx(0.999)  # 99.9 on the 0-100 scale
    assert page.meta["address"].confidence == pytest.approx(0.6)


async def test_vehicle_back_page(fake, make_vendor, photo):
    page = (await make_vendor().recognize("vehicle", "back", photo)).document
    assert isinstance(page, VehicleLicenceBack)
    by_name = {i["item"]: i["itemstring"] for i in samples.vehicle_back_items()}
    expected = {
        "plate_number": "号牌号码", "file_number": "档案编号", "approved_passengers": "核定载人数",
        "total_mass": "总质量", "curb_weight": "整备质量", "approved_load": "核定载质量",
        "dimensions": "外廓尺寸", "traction_mass": "准牵引总质量", "remarks": "备注",
        "inspection_record": "检验记录",
    }  # fmt: skip
    for ours, theirs in expected.items():
        assert getattr(page, ours) == by_name[theirs], ours
    assert page.inspection_valid_until == date(2024, 3, 31)


async def test_boxes_are_mapped_back_to_the_senders_pixels(fake, make_vendor):
    big = load(render((6000, 3000)))  # over the 4096 px limit: the vendor sees a downscaled copy
    fake.answer(Reply.success([samples.item("证号", "342221199005033256", 99, (1000, 500, 400, 100))]))
    page = (await make_vendor().recognize("driving", "front", big)).document
    seen_width, _ = fake.received[0].image_size
    assert seen_width == 4096
    ratio = big.width / seen_width
    assert page is not None
    box = page.meta["number"].box
    assert box is not None
    for got, want in zip((box.x, box.y, box.width, box.height), (1000, 500, 400, 100), strict=True):
        assert abs(got - want * ratio) <= 1
    assert page.meta["number"].confidence == pytest.approx(0.99)


@pytest.mark.parametrize(
    ("kind", "side", "items"),
    [
        ("driving", "front", []),
        ("vehicle", "front", [samples.item("车辆类型", "", 0.9, (0, 0, 1, 1))]),
        ("vehicle", "back", [samples.item("备注", "无", 0.9, (0, 0, 1, 1))]),
    ],
)
async def test_success_without_key_fields_is_not_found(fake, make_vendor, photo, sleeps, kind, side, items):
    fake.answer(Reply.success(items))
    error = await failure(make_vendor(), kind, side, photo)
    assert error.category is ErrorCategory.NOT_FOUND
    assert len(fake.received) == 1 and sleeps.delays == []


# ----------------------------------------------------------------------------------------- errors

DOCUMENTED_CODES = {
    ErrorCategory.AUTH: [4, 5, 6, 9, 10, 11, 12, 13, 14, 16, 24, 107, 108],
    ErrorCategory.QUOTA_OR_RATE: [3, 15, 25],
    ErrorCategory.BAD_IMAGE: [23, -1102, -1300, -1308, -9005, -9006],
    ErrorCategory.NOT_FOUND: [-9001, -9002],
    ErrorCategory.SERVER: [213, 21, -1301, -1304],
}
CODE_CASES = [(code, category) for category, codes in DOCUMENTED_CODES.items() for code in codes]
TRANSIENT = {15, 213}


@pytest.mark.parametrize(("code", "category"), CODE_CASES)
async def test_each_documented_error_code(fake, make_vendor, photo, sleeps, code, category):
    fake.answer(*[Reply.error(code, f"message for {code}")] * 3)
    error = await failure(make_vendor(), "driving", "front", photo)
    assert (error.category, error.code, error.vendor) == (category, str(code), "tencent_legacy")
    assert error.message == f"message for {code}"
    tries = 3 if code in TRANSIENT else 1
    assert len(fake.received) == tries and len(sleeps.delays) == tries - 1


async def test_error_code_wins_over_the_http_status(fake, make_vendor, photo):
    fake.answer(Reply.error(14, status=403))
    error = await failure(make_vendor(), "driving", "front", photo)
    assert (error.category, error.code) == (ErrorCategory.AUTH, "14")


@pytest.mark.parametrize(
    ("change", "code"),
    [
        ({"secret_key": "wrong-key"}, 14),
        ({"secret_id": "AKIDunknown"}, 11),
        ({"app_id": "1259999999"}, 10),
        ({"bucket": "other"}, 16),
    ],
)
async def test_fake_verifies_what_the_adapter_signs(fake, make_vendor, photo, change, code):
    error = await failure(make_vendor(**change), "vehicle", "front", photo)
    assert (error.category, error.code) == (ErrorCategory.AUTH, str(code))
    assert fake.received[0].error == code


async def test_a_clock_far_behind_gives_an_expired_signature(fake, make_vendor, photo):
    behind = fake.clock() - 3600
    error = await failure(make_vendor(clock=lambda: behind, signature_ttl=600), "driving", "front", photo)
    assert (error.category, error.code) == (ErrorCategory.AUTH, "9")


async def test_transient_errors_are_retried_and_resigned(fake, make_vendor, photo, sleeps):
    fake.answer(Reply.error(15), Reply.error(213))
    recognition = await make_vendor(attempts=4).recognize("driving", "front", photo)
    assert recognition.document is not None and len(fake.received) == 3
    first, second = sleeps.delays
    assert 0.25 <= first <= 0.5 and 0.5 <= second <= 1.0
    assert len({r.headers["authorization"] for r in fake.received}) == 3  # a fresh signature per attempt


async def test_slow_answer_times_out_and_is_retried(fake, make_vendor, photo, sleeps):
    fake.answer(Reply.slow(3.0))
    recognition = await make_vendor(timeout=1.0).recognize("driving", "front", photo)
    assert recognition.document is not None and len(fake.received) == 2 and len(sleeps.delays) == 1


async def test_slow_answer_is_a_timeout_when_attempts_run_out(fake, make_vendor, photo):
    fake.answer(Reply.slow(2.0))
    error = await failure(make_vendor(attempts=1, timeout=0.2), "driving", "front", photo)
    assert error.category is ErrorCategory.TIMEOUT


async def test_dropped_connection_is_a_server_error(fake, make_vendor, photo):
    fake.answer(Reply.drop())
    error = await failure(make_vendor(attempts=1), "driving", "front", photo)
    assert error.category is ErrorCategory.SERVER


async def test_proxy_error_page_is_a_server_error(fake, make_vendor, photo):
    fake.answer(Reply.http(502, "<html>Bad Gateway</html>"))
    error = await failure(make_vendor(attempts=1), "driving", "front", photo)
    assert (error.category, error.code) == (ErrorCategory.SERVER, "HTTP 502")


# ------------------------------------------------------------------------------- config and registry


def test_settings_keep_the_secret_out_of_reprs_and_bound_the_ttl():
    settings = TencentLegacySettings.model_validate(
        {"app_id": 1250000000, "secret_id": " AKIDx ", "secret_key": "very-secret-value"}
    )
    assert "very-secret-value" not in repr(settings) and "very-secret-value" not in str(settings)
    assert (settings.app_id, settings.secret_id) == ("1250000000", "AKIDx")
    assert settings.endpoint == "https://recognition.image.myqcloud.com"
    with pytest.raises(ValueError):
        TencentLegacySettings(signature_ttl=91 * 24 * 3600)  # longer than the three months allowed
    with pytest.raises(ValueError):
        TencentLegacySettings(signature_ttl=0)


def test_registered_and_built_from_a_config_table():
    assert vendor_class("tencent_legacy") is TencentLegacyVendor
    vendor = build_vendor(
        "tencent_legacy", {"app_id": "1", "secret_id": "x", "secret_key": "k", "max_concurrency": 3}
    )
    assert isinstance(vendor, TencentLegacyVendor) and vendor.settings.max_concurrency == 3
    with pytest.raises(ValueError):
        build_vendor("tencent_legacy", {"app_id": "1", "typo": 1})


def test_recognize_cli_end_to_end(fake, tmp_path: Path, capsys):
    photo_path = tmp_path / "vehicle.png"
    photo_path.write_bytes(render((1000, 640), "PNG"))
    config = tmp_path / "config.toml"
    config.write_text(
        f'[bot]\ndatabase = "{tmp_path / "log.db"}"\n'
        f'[vendors.tencent_legacy]\nendpoint = "{fake.url}"\napp_id = "{APP_ID}"\nbucket = "{BUCKET}"\n'
        f'secret_id = "{SECRET_ID}"\nsecret_key = "{SECRET_KEY}"\ntimeout = 5\nsignature_ttl = 300\n',
        encoding="utf-8",
    )
    argv = ["recognize", str(photo_path), "--kind", "vehicle", "--vendor", "tencent_legacy", "--json"]
    assert main([*argv, "--config", str(config)]) == 0
    result = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert result["vendor"] == "tencent_legacy" and result["status"] == "ok"
    assert result["fields"]["plate_number"] == "粤B12345"
    assert result["fields"]["register_date"] == "2018-03-05"
    [request] = fake.received
    assert request.error is None and request.params["type"] == 0
    assert dict(parse_qsl(base64.b64decode(request.headers["authorization"])[20:].decode()))["a"] == APP_ID
