"""The Huawei Cloud OCR v2 adapter against the official SDK signer and a loopback fake Huawei server."""

from __future__ import annotations

import asyncio
import io
import json
import logging
from collections.abc import AsyncIterator, Iterator
from datetime import date
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
from huaweicloudsdkcore.auth.credentials import BasicCredentials
from huaweicloudsdkcore.sdk_request import SdkRequest
from huaweicloudsdkcore.signer.signer import Signer
from PIL import Image, ImageDraw

from bot.cli import main
from bot.images import IntakeImage, load
from bot.models import (
    Box,
    DrivingLicence,
    DrivingLicenceBack,
    PlateColor,
    VehicleLicenceBack,
    VehicleLicenceFront,
)
from bot.vendors.base import ErrorCategory, VendorError, build_vendor, vendor_class
from bot.vendors.http import RetryPolicy
from bot.vendors.huawei import HuaweiSettings, HuaweiVendor
from tests.fakes import huawei_server as samples
from tests.fakes.huawei_server import FakeHuawei, Reply

AK = "HWAKFAKE0000000000001"
SK = "fake-huawei-secret-key"
PROJECT_ID = "0a1b2c3d4e5f60718293a4b5c6d7e8f9"
IAM = {"iam_user": "ocr-bot", "iam_password": "fake-iam-password", "iam_domain": "example-account"}


# ------------------------------------------------------------------------------------------ helpers


def render(size: tuple[int, int] = (900, 600), fmt: str = "JPEG") -> bytes:
    """A card-like photo; the fake only decodes it, so the pixels merely have to be an image."""
    image = Image.new("RGB", size, (236, 240, 232))
    ImageDraw.Draw(image).rectangle((2, 2, size[0] - 2, size[1] - 2), outline=(40, 40, 40), width=2)
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


class FakeClock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def fake() -> Iterator[FakeHuawei]:
    with FakeHuawei(ak=AK, sk=SK, project_id=PROJECT_ID, **IAM) as server:
        yield server


@pytest.fixture
def sleeps() -> Sleeps:
    return Sleeps()


@pytest.fixture
async def make_vendor(fake: FakeHuawei, sleeps: Sleeps) -> AsyncIterator[Any]:
    """Adapters pointed at the fake, AK/SK by default or `auth="token"`; retries sleep for no time."""
    made: list[HuaweiVendor] = []

    def make(auth: str = "aksk", attempts: int = 3, clock: Any = None, **settings: Any) -> HuaweiVendor:
        table: dict[str, Any] = {
            "endpoint": fake.url,
            "iam_endpoint": fake.url,
            "project_id": PROJECT_ID,
            "timeout": 5.0,
        }
        table |= {"ak": AK, "sk": SK} if auth == "aksk" else IAM
        vendor = HuaweiVendor(
            HuaweiSettings.model_validate(table | settings),
            retry=RetryPolicy(attempts=attempts, base_delay=0.5, max_delay=4.0, jitter=0.5),
            sleep=sleeps,
            **({"clock": clock} if clock else {}),
        )
        made.append(vendor)
        return vendor

    yield make
    for vendor in made:
        await vendor.aclose()


async def failure(vendor: HuaweiVendor, kind: str, side: str, image: IntakeImage) -> VendorError:
    with pytest.raises(VendorError) as caught:
        await vendor.recognize(kind, side, image)  # type: ignore[arg-type]
    return caught.value


# ------------------------------------------------------------------------------ signing vs the SDK


def sdk_authorization(sent: httpx.Request) -> str:
    """The Authorization the official SDK computes for the same request at the same X-Sdk-Date: its
    BasicCredentials adds X-Project-Id, then `Signer.sign` adds Host and signs every header."""
    request = SdkRequest(
        method="POST",
        schema=sent.url.scheme,
        host=sent.url.netloc.decode(),
        resource_path=sent.url.path,
        query_params=[],
        header_params={"Content-Type": "application/json", "X-Sdk-Date": sent.headers["X-Sdk-Date"]},
        body=sent.content,
    )
    credentials = BasicCredentials(AK, SK, PROJECT_ID)
    request.header_params["X-Project-Id"] = credentials.project_id
    Signer(credentials).sign(request)
    return request.header_params["Authorization"]


@pytest.mark.parametrize(
    ("timestamp", "sdk_date", "kind", "side", "endpoint"),
    [
        (1_700_000_000.4, "20231114T221320Z", "driving", "front", None),  # the default regional endpoint
        (
            1_704_067_199.9,
            "20231231T235959Z",
            "vehicle",
            "back",
            "https://ocr.ap-southeast-1.myhuaweicloud.com/",
        ),
        (1_704_038_400.0, "20231231T160000Z", "plate", "front", "http://127.0.0.1:8443"),  # port is in Host
    ],
)
async def test_aksk_authorization_matches_the_official_sdk(timestamp, sdk_date, kind, side, endpoint, photo):
    captured: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        captured.append(request)
        return httpx.Response(200, json={"result": samples.default_result("license-plate", {})})

    settings = HuaweiSettings(ak=AK, sk=SK, project_id=PROJECT_ID, endpoint=endpoint)
    vendor = HuaweiVendor(settings, clock=lambda: timestamp, transport=httpx.MockTransport(handler))
    try:
        await vendor.recognize(kind, side, photo)
    except VendorError:
        pass  # a plate body for a card request is "not found"; only the request matters here
    finally:
        await vendor.aclose()
    [sent] = captured

    assert sent.headers["X-Sdk-Date"] == sdk_date  # UTC, second precision
    assert sent.headers["Authorization"] == sdk_authorization(sent)
    assert sent.headers["X-Project-Id"] == PROJECT_ID
    assert sent.url.path.startswith(f"/v2/{PROJECT_ID}/ocr/")
    if endpoint is None:
        assert sent.url.host == "ocr.cn-north-4.myhuaweicloud.com"


async def test_every_request_passes_the_fakes_signature_check(fake, make_vendor, photo):
    vendor = make_vendor()
    for kind, side in [("driving", "front"), ("driving", "back"), ("vehicle", "front"), ("vehicle", "back")]:
        await vendor.recognize(kind, side, photo)
    await vendor.recognize("plate", "front", photo)
    assert [r.error for r in fake.received] == [None] * 5
    sent = [(r.action, r.params.get("side"), r.params.get("return_issuing_authority")) for r in fake.received]
    assert sent == [
        ("driver-license", "front", True),
        ("driver-license", "back", True),
        ("vehicle-license", "front", True),
        ("vehicle-license", "back", None),
        ("license-plate", None, None),
    ]
    assert fake.received[0].image_size == (900, 600)  # base64 of the photo, not a URL
    assert fake.tokens == []  # AK/SK needs no token


async def test_wrong_sk_is_a_signature_failure_not_retried(fake, make_vendor, photo, sleeps):
    error = await failure(make_vendor(sk="not-the-key"), "driving", "front", photo)
    assert (error.category, error.code) == (ErrorCategory.AUTH, "APIGW.0301")
    assert "verify aksk signature fail" in error.message
    assert len(fake.received) == 1 and sleeps.delays == []


async def test_sdk_date_too_far_from_the_servers_clock_is_refused(fake, make_vendor, photo):
    error = await failure(make_vendor(clock=lambda: fake.clock() - 3600), "plate", "front", photo)
    assert (error.category, error.code) == (ErrorCategory.AUTH, "APIGW.0301")


# ------------------------------------------------------------------------------------------ tokens


async def test_token_is_fetched_with_the_iam_password_identity_and_sent_as_x_auth_token(
    fake, make_vendor, photo
):
    recognition = await make_vendor("token").recognize("driving", "front", photo)
    assert isinstance(recognition.document, DrivingLicence)
    [request] = fake.token_requests
    assert request["auth"]["identity"]["methods"] == ["password"]
    assert request["auth"]["identity"]["password"]["user"] == {
        "name": IAM["iam_user"],
        "password": IAM["iam_password"],
        "domain": {"name": IAM["iam_domain"]},
    }
    assert request["auth"]["scope"] == {"project": {"name": "cn-north-4"}}
    [ocr] = fake.received
    assert ocr.headers["x-auth-token"] == fake.tokens[0] and "authorization" not in ocr.headers


async def test_the_fake_requires_the_json_content_type_huawei_requires(fake, make_vendor, photo):
    """Content-Type: application/json is a required request header: an adapter that dropped it must
    fail here as it would against Huawei (the OCR call after a token, so no signature is involved)."""
    await make_vendor("token").recognize("driving", "front", photo)
    [sent] = fake.received
    path, json_type = urlsplit(sent.path).path, "application/json"
    async with httpx.AsyncClient(base_url=fake.url) as client:
        headers = {"x-auth-token": fake.tokens[0]}
        plain = await client.post(path, content=sent.body, headers=headers | {"content-type": "text/plain"})
        typed = await client.post(path, content=sent.body, headers=headers | {"content-type": json_type})
    assert (plain.status_code, plain.json()["error_code"]) == (400, "AIS.0101")
    assert typed.status_code == 200


async def test_token_is_cached_for_its_lifetime_then_replaced(fake, make_vendor, photo):
    clock = FakeClock(fake.clock())
    vendor = make_vendor("token", clock=clock)
    for kind in ("driving", "vehicle", "plate"):
        await vendor.recognize(kind, "front", photo)
    assert fake.issued == 1
    clock.now += 23 * 3600
    await vendor.recognize("plate", "front", photo)
    assert fake.issued == 1
    clock.now += 3600  # 24 h after the fetch: the token is dead
    await vendor.recognize("plate", "front", photo)
    assert fake.issued == 2
    assert [r.headers["x-auth-token"] for r in fake.received[-2:]] == fake.tokens


async def test_expired_token_apig_0307_is_refreshed_and_the_call_sent_again(fake, make_vendor, photo, sleeps):
    vendor = make_vendor("token")
    await vendor.recognize("plate", "front", photo)
    fake.expire_tokens()

    recognition = await vendor.recognize("plate", "front", photo)

    assert recognition.plates[0].number == "京A12345"
    assert fake.issued == 2 and sleeps.delays == []
    refused, accepted = fake.received[1:]
    assert (refused.error, refused.headers["x-auth-token"]) == ("APIG.0307", fake.tokens[0])
    assert (accepted.error, accepted.headers["x-auth-token"]) == (None, fake.tokens[1])


async def test_token_refused_twice_is_an_auth_error_after_one_refresh(fake, make_vendor, photo):
    fake.answer(*[Reply.error(401, "APIG.0307", "The token must be updated.")] * 2)
    error = await failure(make_vendor("token"), "plate", "front", photo)
    assert (error.category, error.code, error.message) == (
        ErrorCategory.AUTH,
        "APIG.0307",
        "The token must be updated.",
    )
    assert fake.issued == 2 and len(fake.received) == 2


async def test_concurrent_first_calls_fetch_one_token(fake, make_vendor, photo):
    fake.answer_token(Reply.slow(0.2))  # keep the first fetch in flight while the others arrive
    vendor = make_vendor("token")
    results = await asyncio.gather(*(vendor.recognize("plate", "front", photo) for _ in range(5)))
    assert all(result.plates for result in results)
    assert fake.issued == 1 and len(fake.token_requests) == 1


async def test_concurrent_expired_token_answers_fetch_one_new_token(fake, make_vendor, photo):
    vendor = make_vendor("token")
    await vendor.recognize("plate", "front", photo)
    fake.expire_tokens()
    await asyncio.gather(*(vendor.recognize("plate", "front", photo) for _ in range(4)))
    assert fake.issued == 2


async def test_wrong_iam_password_is_an_auth_error_with_iams_reason(fake, make_vendor, photo):
    error = await failure(make_vendor("token", iam_password="stale"), "driving", "front", photo)
    assert (error.category, error.code) == (ErrorCategory.AUTH, "401")
    assert error.message == "The username or password is wrong."
    assert fake.received == []


async def test_iam_outage_is_a_server_error_and_retried(fake, make_vendor, photo, sleeps):
    fake.answer_token(Reply.http(503, "<html>Service Unavailable</html>"))
    recognition = await make_vendor("token").recognize("plate", "front", photo)
    assert recognition.plates and fake.issued == 1 and len(sleeps.delays) == 1


async def test_secrets_never_reach_the_log(fake, make_vendor, photo, caplog):
    caplog.set_level(logging.DEBUG)
    vendor = make_vendor("token")
    await vendor.recognize("plate", "front", photo)
    fake.expire_tokens()
    await vendor.recognize("plate", "front", photo)
    await failure(make_vendor(sk="not-the-key"), "plate", "front", photo)
    logged = "\n".join(record.getMessage() for record in caplog.records)
    assert "APIG.0307" in logged  # the refresh was logged, without the token
    for secret in (*fake.tokens, IAM["iam_password"], SK, "not-the-key"):
        assert secret not in logged


# ---------------------------------------------------------------------------------------- mapping


async def test_driving_licence_front_from_the_documented_example(fake, make_vendor, photo):
    recognition = await make_vendor().recognize("driving", "front", photo)
    licence = recognition.document
    assert isinstance(licence, DrivingLicence)
    assert (licence.number, licence.name, licence.sex, licence.nationality) == (
        "362XXXXXXXXXXXXXXXX",
        "张三",
        "男",
        "中国",
    )
    assert licence.address == "XX省XX市XX区XX街道XX号" and licence.class_ == "C1"
    assert (licence.birth_date, licence.first_issue_date) == (date(2000, 3, 6), date(2000, 3, 6))
    assert (licence.valid_from, licence.valid_to, licence.long_term) == (
        date(2004, 8, 26),
        date(2034, 8, 26),
        False,
    )
    # The fake, like Huawei, only returns the authority when asked for it.
    assert licence.issuing_authority == "xxx交通管理局"
    assert recognition.vendor == "huawei" and recognition.raw["result"]["birth"] == "2000-03-06"


async def test_driving_licence_back_from_the_documented_example(fake, make_vendor, photo):
    licence = (await make_vendor().recognize("driving", "back", photo)).document
    assert isinstance(licence, DrivingLicenceBack)
    assert (licence.number, licence.name) == ("362XXXXXXXXXXXXXXXX", "张三")
    assert (licence.file_number, licence.record) == ("88000888XXXX", "实习期至2005年08月26日。")


async def test_driving_licence_validity_as_a_period(fake, make_vendor, photo):
    fake.answer(Reply.success(samples.driver_front() | {"valid_from": "20200510", "valid_to": "6年"}))
    licence = (await make_vendor().recognize("driving", "front", photo)).document
    assert isinstance(licence, DrivingLicence)
    assert (licence.valid_from, licence.valid_to) == (date(2020, 5, 10), date(2026, 5, 10))


async def test_double_side_answer_reads_the_requested_page(fake, make_vendor, photo):
    fake.answer(Reply.success({"front": samples.driver_front(), "back": samples.driver_back()}))
    licence = (await make_vendor().recognize("driving", "back", photo)).document
    assert isinstance(licence, DrivingLicenceBack) and licence.file_number == "88000888XXXX"


async def test_vehicle_licence_front_fields(fake, make_vendor, photo):
    vehicle = (await make_vendor().recognize("vehicle", "front", photo)).document
    assert isinstance(vehicle, VehicleLicenceFront)
    assert vehicle.plate_number == "京A12345"  # printed as 京A·12345
    assert (vehicle.vehicle_type, vehicle.owner, vehicle.use_character) == ("小型轿车", "王芳", "非营运")
    assert vehicle.address == "北京市朝阳区建国路88号" and vehicle.model == "大众汽车牌SVW71810KJ"
    assert (vehicle.vin, vehicle.engine_number) == ("1M8GDM9AXKP042788", "123456")
    assert (vehicle.register_date, vehicle.issue_date) == (date(2018, 3, 5), date(2018, 3, 6))
    assert vehicle.issuing_authority == "北京市公安局公安交通管理局"


async def test_vehicle_licence_back_fields(fake, make_vendor, photo):
    vehicle = (await make_vendor().recognize("vehicle", "back", photo)).document
    assert isinstance(vehicle, VehicleLicenceBack)
    assert (vehicle.plate_number, vehicle.file_number) == ("京A12345", "110001234567")
    assert (vehicle.approved_passengers, vehicle.total_mass, vehicle.curb_weight) == (
        "5人",
        "1845kg",
        "1420kg",
    )
    assert vehicle.approved_load is None and vehicle.traction_mass is None and vehicle.remarks is None
    assert vehicle.dimensions == "4866×1826×1462mm"
    assert vehicle.inspection_record == "检验有效期至2024年03月京A(01)"
    assert vehicle.inspection_valid_until == date(2024, 3, 31)


async def test_plates_map_number_colour_confidence_and_box_in_the_senders_pixels(fake, make_vendor):
    # 8192 px wide: the adapter halves it to 4096, so Huawei's corners must be doubled back.
    wide = load(render((8192, 256), "PNG"))
    fake.answer(
        Reply.success(
            [
                samples.plate("京A12345", "blue", [[100, 50], [300, 52], [300, 110], [100, 108]], 0.98),
                samples.plate(
                    "粤B·D12345", "yellow_green", [[1000, 10], [1200, 10], [1200, 70], [1000, 70]], 0.6
                ),
            ]
        )
    )
    plates = (await make_vendor().recognize("plate", "front", wide)).plates
    assert fake.received[0].image_size == (4096, 128)
    assert [p.number for p in plates] == ["京A12345", "粤BD12345"]
    assert [p.color for p in plates] == [PlateColor.BLUE, PlateColor.YELLOW_GREEN]
    assert [p.confidence for p in plates] == [0.98, 0.6]
    assert plates[0].box == Box(x=200, y=100, width=400, height=120)
    assert plates[1].box == Box(x=2000, y=20, width=400, height=120)


@pytest.mark.parametrize(
    ("text", "colour"),
    [
        ("green", PlateColor.GREEN),
        ("black", PlateColor.BLACK),
        ("white", PlateColor.WHITE),
        ("yellow", PlateColor.YELLOW),
        ("purple", PlateColor.OTHER),
    ],
)
async def test_plate_colours(fake, make_vendor, photo, text, colour):
    fake.answer(Reply.success([{"plate_number": "京A12345", "plate_color": text}]))
    [plate] = (await make_vendor().recognize("plate", "front", photo)).plates
    assert plate.color == colour and plate.confidence is None and plate.box is None


@pytest.mark.parametrize(
    ("kind", "side", "result"),
    [
        ("driving", "front", {}),
        ("driving", "back", {"number": "", "name": " ", "file_number": ""}),
        ("vehicle", "front", {"type": "normal"}),
        ("vehicle", "back", {"number": "", "file_no": ""}),
        ("plate", "front", []),
    ],
)
async def test_success_with_empty_fields_is_not_found(fake, make_vendor, photo, kind, side, result):
    fake.answer(Reply.success(result))
    error = await failure(make_vendor(), kind, side, photo)
    assert error.category is ErrorCategory.NOT_FOUND
    assert len(fake.received) == 1  # an answer, not a failure to retry


# ------------------------------------------------------------------------------------------ errors


@pytest.mark.parametrize(
    ("status", "code", "category"),
    [
        (400, "AIS.0101", ErrorCategory.BAD_IMAGE),
        (400, "AIS.0102", ErrorCategory.BAD_IMAGE),
        (400, "AIS.0103", ErrorCategory.BAD_IMAGE),
        (400, "AIS.0104", ErrorCategory.NOT_FOUND),
        (400, "ModelArts.4104", ErrorCategory.BAD_IMAGE),
        (400, "ModelArts.4603", ErrorCategory.BAD_IMAGE),
        (400, "ModelArts.4704", ErrorCategory.BAD_IMAGE),
        (500, "AIS.0105", ErrorCategory.SERVER),
        (504, "APIG.0201", ErrorCategory.SERVER),
        (401, "APIG.0301", ErrorCategory.AUTH),
        (401, "APIGW.0301", ErrorCategory.AUTH),
        (401, "ModelArts.0203", ErrorCategory.AUTH),
        (401, "ModelArts.4101", ErrorCategory.AUTH),
        (403, "ModelArts.4102", ErrorCategory.AUTH),
        (403, "ModelArts.4103", ErrorCategory.AUTH),
        (403, "ModelArts.0212", ErrorCategory.AUTH),
        (400, "ModelArts.4204", ErrorCategory.AUTH),
        (429, "APIG.0308", ErrorCategory.QUOTA_OR_RATE),
        (403, "Undocumented.0001", ErrorCategory.AUTH),  # unknown codes go by HTTP status
        (400, "Undocumented.0002", ErrorCategory.SERVER),
    ],
)
async def test_error_codes_map_to_the_taxonomy_keeping_code_and_message(
    fake, make_vendor, photo, status, code, category
):
    fake.answer(Reply.error(status, code, f"message of {code}"))
    error = await failure(make_vendor(attempts=1), "driving", "front", photo)
    assert (error.vendor, error.category, error.code, error.message) == (
        "huawei",
        category,
        code,
        f"message of {code}",
    )


async def test_throttling_is_retried_after_at_least_two_seconds(fake, make_vendor, photo, sleeps):
    fake.answer(Reply.error(429, "APIG.0308", "policy user over ratelimit,limit:10,time:1 minute"))
    recognition = await make_vendor().recognize("plate", "front", photo)
    assert recognition.plates and len(fake.received) == 2
    assert len(sleeps.delays) == 1 and sleeps.delays[0] >= 2.0


async def test_wrong_project_id_is_apig_0101_and_not_retried(fake, make_vendor, photo, sleeps):
    error = await failure(make_vendor("token", project_id="another-project"), "plate", "front", photo)
    assert (error.category, error.code) == (ErrorCategory.SERVER, "APIG.0101")
    assert len(fake.received) == 1 and sleeps.delays == []


async def test_server_failure_is_retried(fake, make_vendor, photo, sleeps):
    fake.answer(Reply.error(500, "AIS.0105", "Algorithm computation failed."))
    assert (await make_vendor().recognize("plate", "front", photo)).plates
    assert len(fake.received) == 2 and len(sleeps.delays) == 1


async def test_slow_answer_is_a_timeout(fake, make_vendor, photo):
    fake.answer(Reply.slow(2.0))
    error = await failure(make_vendor(attempts=1, timeout=0.2), "plate", "front", photo)
    assert error.category is ErrorCategory.TIMEOUT


async def test_dropped_connection_is_a_server_error_then_recovers(fake, make_vendor, photo):
    fake.answer(Reply.drop())
    error = await failure(make_vendor(attempts=1), "plate", "front", photo)
    assert error.category is ErrorCategory.SERVER
    fake.answer(Reply.drop())
    assert (await make_vendor().recognize("plate", "front", photo)).plates


async def test_proxy_error_page_is_a_server_error(fake, make_vendor, photo):
    fake.answer(Reply.http(502, "<html>Bad Gateway</html>"))
    error = await failure(make_vendor(attempts=1), "plate", "front", photo)
    assert (error.category, error.code) == (ErrorCategory.SERVER, "HTTP 502")


async def test_size_limits_differ_for_cards_and_plates(fake, make_vendor):
    small = load(
        render((240, 60), "PNG"), min_side=15
    )  # a cropped plate: too small for the card APIs (min 100 px)
    vendor = make_vendor()
    error = await failure(vendor, "driving", "front", small)
    assert (error.category, error.code) == (ErrorCategory.BAD_IMAGE, "too_small")
    assert fake.received == []
    assert (await vendor.recognize("plate", "front", small)).plates
    assert fake.received[0].image_size == (240, 60)


@pytest.mark.parametrize(
    "missing",
    [{"project_id": ""}, {"ak": "", "sk": ""}, {"ak": "", "sk": "", "iam_domain": "x", "iam_user": "u"}],
)
async def test_missing_credentials_are_an_auth_error_before_any_request(fake, make_vendor, photo, missing):
    error = await failure(make_vendor(**missing), "plate", "front", photo)
    assert (error.category, error.code) == (ErrorCategory.AUTH, "MissingCredentials")
    assert fake.received == [] and fake.token_requests == []


async def test_concurrency_limit_is_respected(make_vendor, photo):
    with FakeHuawei(ak=AK, sk=SK, project_id=PROJECT_ID, hold=0.3) as slow_fake:
        vendor = make_vendor(endpoint=slow_fake.url, max_concurrency=2)
        results = await asyncio.gather(*(vendor.recognize("plate", "front", photo) for _ in range(5)))
        assert all(result.plates for result in results)
        assert len(slow_fake.received) == 5 and slow_fake.max_in_flight == 2


# ------------------------------------------------------------------------------- config and registry


def test_settings_default_endpoints_follow_the_region_and_hide_secrets():
    settings = HuaweiSettings.model_validate(
        {
            "region": "cn-east-3",
            "project_id": "p",
            "ak": "AK1",
            "sk": "very-secret-sk",
            "iam_password": "pw-1",
        }
    )
    assert settings.ocr_base() == "https://ocr.cn-east-3.myhuaweicloud.com"
    assert settings.iam_base() == "https://iam.cn-east-3.myhuaweicloud.com"
    for secret in ("very-secret-sk", "pw-1"):
        assert secret not in repr(settings) and secret not in str(settings)
    assert settings.uses_aksk and not settings.uses_token


def test_registered_and_built_from_a_config_table():
    assert vendor_class("huawei") is HuaweiVendor
    vendor = build_vendor("huawei", {"project_id": "p", "ak": "a", "sk": "s", "max_concurrency": 3})
    assert isinstance(vendor, HuaweiVendor) and vendor.settings.max_concurrency == 3
    with pytest.raises(ValueError):
        build_vendor("huawei", {"project_id": "p", "typo": 1})


# -------------------------------------------------------------------------------------- end to end


def write_config(path: Path, fake: FakeHuawei, database: Path, password: str) -> None:
    path.write_text(
        f'[bot]\ndatabase = "{database}"\n'
        f'[vendors.huawei]\nendpoint = "{fake.url}"\niam_endpoint = "{fake.url}"\n'
        f'project_id = "{PROJECT_ID}"\niam_user = "{IAM["iam_user"]}"\niam_password = "{password}"\n'
        f'iam_domain = "{IAM["iam_domain"]}"\ntimeout = 5\n',
        encoding="utf-8",
    )


def test_recognize_cli_end_to_end_with_a_token(fake, tmp_path: Path, capsys):
    photo_path = tmp_path / "licence.jpg"
    photo_path.write_bytes(render((1000, 640)))
    config = tmp_path / "config.toml"
    write_config(config, fake, tmp_path / "log.db", IAM["iam_password"])
    argv = [
        "recognize",
        str(photo_path),
        "--kind",
        "vehicle",
        "--side",
        "back",
        "--vendor",
        "huawei",
        "--json",
    ]
    assert main([*argv, "--config", str(config)]) == 0
    result = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert result["vendor"] == "huawei" and result["status"] == "ok"
    assert result["fields"]["plate_number"] == "京A12345"
    assert result["fields"]["inspection_valid_until"] == "2024-03-31"
    assert fake.issued == 1 and [r.params["side"] for r in fake.received] == ["back"]


def test_recognize_cli_reports_a_vendor_error(fake, tmp_path: Path, capsys):
    photo_path = tmp_path / "licence.jpg"
    photo_path.write_bytes(render((1000, 640)))
    config = tmp_path / "config.toml"
    write_config(config, fake, tmp_path / "log.db", "wrong-password")
    argv = ["recognize", str(photo_path), "--kind", "driving", "--vendor", "huawei", "--json"]
    assert main([*argv, "--config", str(config)]) != 0
    result = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert result["error"]["category"] == "auth" and result["error"]["code"] == "401"
