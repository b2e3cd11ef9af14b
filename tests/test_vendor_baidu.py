"""Baidu adapter against a fake Baidu server on 127.0.0.1: token flow, field mapping, errors, CLI."""

from __future__ import annotations

import asyncio
import io
import json
import logging
import random
import ssl
from dataclasses import replace
from datetime import date
from pathlib import Path
from urllib.parse import parse_qsl, urlsplit

import httpx
import pytest
from PIL import Image, ImageDraw
from pydantic import ValidationError

from bot import images
from bot.cli import main
from bot.models import (
    Box,
    DrivingLicence,
    DrivingLicenceBack,
    PlateColor,
    VehicleLicenceBack,
    VehicleLicenceFront,
)
from bot.vendors.baidu import BaiduSettings, BaiduVendor
from bot.vendors.base import ErrorCategory, VendorChain, VendorError, build_vendor
from bot.vendors.http import RetryPolicy
from tests.fakes.baidu_server import DROP, FakeBaidu, Slow, card_body, error_body

# Baidu's documented token exchange, verbatim: the example request URL and the example answer.
DOCUMENTED_TOKEN_URL = (
    "https://aip.baidubce.com/oauth/2.0/token?grant_type=client_credentials"
    "&client_id=Va5yQRHlA4Fq5eR3LT0vuXV4&client_secret=0rDSjzQ20XUj5itV6WRtznPQSzr5pVw2&"
)
DOCUMENTED_TOKEN_ANSWER = {
    "refresh_token": "25.b55fe1d287227ca97aab219bb249b8ab.315360000.1798284651.282335-8574074",
    "expires_in": 2592000,
    "scope": "public wise_adapt",
    "session_key": "9mzdDZXu3dENdFZQurfg0Vz8slgSgvvOAUebNFzyzcpQ5EnbxbF+hfG9DQkpUVQdh4p6HbQcAiz5RmuBAja1JJGgIdJI",  # noqa: E501
    "access_token": "24.6c5e1ff107f0e8bcef8c46d3424a0e78.2592000.1485516651.282335-8574074",
    "session_secret": "dfac94a3489fe9fca7c3221cbf7525ff",
}


#: One TLS context for every adapter in this module: building one (CA bundle loading) costs ~0.1 s, which
#: a fresh httpx client per test would pay sixty times. The fake speaks plain HTTP anyway.
_TLS = ssl.create_default_context()


class FakeClock:
    def __init__(self, now: float = 1_700_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def encoded(image: Image.Image, fmt: str = "JPEG") -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, fmt)
    return buffer.getvalue()


@pytest.fixture(scope="module")
def photo() -> images.IntakeImage:
    canvas = Image.new("RGB", (640, 420), (230, 235, 240))
    ImageDraw.Draw(canvas).rectangle((40, 40, 600, 380), outline=(20, 20, 20), width=4)
    return images.load(encoded(canvas))


@pytest.fixture
def fake():
    with FakeBaidu() as server:
        yield server


@pytest.fixture
async def make_vendor():
    """Build adapters pointed at a fake; retries sleep for no time and are recorded instead."""
    built: list[BaiduVendor] = []

    def make(
        server: FakeBaidu,
        *,
        attempts: int = 3,
        timeout: float = 5.0,
        clock=None,
        sleeps=None,
        cls: type[BaiduVendor] = BaiduVendor,
    ) -> BaiduVendor:
        settings = BaiduSettings(
            api_key=server.api_key, secret_key=server.secret_key, endpoint=server.url, timeout=timeout
        )

        async def record_sleep(seconds: float) -> None:
            if sleeps is not None:
                sleeps.append(seconds)

        vendor = cls(
            settings,
            retry=RetryPolicy(attempts=attempts),
            sleep=record_sleep,
            clock=clock or FakeClock(),
            transport=httpx.AsyncHTTPTransport(verify=_TLS),
        )
        built.append(vendor)
        return vendor

    yield make
    for vendor in built:
        await vendor.aclose()


# ------------------------------------------------------------------------------------------ token


async def test_token_request_and_answer_match_baidus_documented_example(make_vendor, photo):
    documented = urlsplit(DOCUMENTED_TOKEN_URL)
    expected_query = dict(parse_qsl(documented.query))
    with FakeBaidu(api_key=expected_query["client_id"], secret_key=expected_query["client_secret"]) as server:
        server.script("token", DOCUMENTED_TOKEN_ANSWER)
        await make_vendor(server).recognize("plate", "front", photo)

    [token_request] = server.token_requests
    assert token_request.method == "POST"  # the documentation recommends POST, parameters in the URL
    assert token_request.path == documented.path
    assert token_request.query == expected_query
    [ocr_request] = server.ocr_requests
    assert ocr_request.path == "/rest/2.0/ocr/v1/license_plate"
    assert ocr_request.query == {"access_token": DOCUMENTED_TOKEN_ANSWER["access_token"]}


async def test_token_is_cached_across_calls(fake, make_vendor, photo):
    vendor = make_vendor(fake)
    for kind in ("driving", "vehicle", "plate"):
        await vendor.recognize(kind, "front", photo)
    assert fake.issued == 1
    assert len({request.query["access_token"] for request in fake.ocr_requests}) == 1


async def test_token_is_replaced_30_seconds_before_it_expires(make_vendor, photo):
    clock = FakeClock()
    with FakeBaidu(expires_in=100) as server:
        vendor = make_vendor(server, clock=clock)
        await vendor.recognize("plate", "front", photo)
        clock.now += 69.5
        await vendor.recognize("plate", "front", photo)
        assert server.issued == 1
        clock.now += 0.5  # 70 s after the fetch: 100 - 30
        await vendor.recognize("plate", "front", photo)
        assert server.issued == 2


@pytest.mark.parametrize("invalidate", ["expire_tokens", "revoke_tokens"], ids=["111-expired", "110-invalid"])
async def test_refused_token_is_refreshed_and_the_call_retried_once(fake, make_vendor, photo, invalidate):
    vendor = make_vendor(fake)
    await vendor.recognize("plate", "front", photo)
    getattr(fake, invalidate)()

    recognition = await vendor.recognize("plate", "front", photo)

    assert recognition.plates[0].number == "京A12345"
    assert fake.issued == 2
    refused, retried = fake.ocr_requests[1:]
    assert refused.query["access_token"] != retried.query["access_token"]
    assert refused.query["access_token"] == fake.tokens[0]
    assert retried.query["access_token"] == fake.tokens[1]


async def test_token_refused_twice_is_an_auth_error_after_exactly_one_retry(fake, make_vendor, photo):
    fake.script("license_plate", error_body(110), error_body(110), error_body(110))
    vendor = make_vendor(fake)
    with pytest.raises(VendorError) as caught:
        await vendor.recognize("plate", "front", photo)
    assert caught.value.category == ErrorCategory.AUTH
    assert caught.value.code == "110"
    assert caught.value.message == "Access token invalid or no longer valid"
    assert fake.issued == 2
    assert len(fake.ocr_requests) == 2


async def test_concurrent_first_calls_fetch_one_token(fake, make_vendor, photo):
    vendor = make_vendor(fake)
    fake.script("token", Slow(0.2))  # keep the first fetch in flight while the others arrive
    results = await asyncio.gather(*(vendor.recognize("plate", "front", photo) for _ in range(6)))
    assert all(result.plates for result in results)
    assert fake.issued == 1


async def test_concurrent_refusals_fetch_one_new_token(fake, make_vendor, photo):
    vendor = make_vendor(fake)
    await vendor.recognize("plate", "front", photo)
    fake.expire_tokens()
    await asyncio.gather(*(vendor.recognize("plate", "front", photo) for _ in range(4)))
    assert fake.issued == 2


async def test_wrong_keys_are_an_auth_error_naming_baidus_reason(fake, make_vendor, photo):
    vendor = make_vendor(fake)
    fake.secret_key = "another-secret"  # reset in the console after our config was written
    with pytest.raises(VendorError) as caught:
        await vendor.recognize("driving", "front", photo)
    assert caught.value.category == ErrorCategory.AUTH
    assert caught.value.code == "invalid_client"
    assert caught.value.message == "Client authentication failed"
    assert fake.ocr_requests == []


async def test_missing_keys_fail_before_any_request(fake, make_vendor, photo):
    """An unfilled table (the template's empty keys) must not ask Baidu for a token it cannot get."""
    vendor = make_vendor(fake)
    vendor.settings = BaiduSettings(api_key=" ", secret_key=fake.secret_key, endpoint=fake.url)
    with pytest.raises(VendorError) as caught:
        await vendor.recognize("plate", "front", photo)
    assert (caught.value.category, caught.value.code) == (ErrorCategory.AUTH, "MissingCredentials")
    assert fake.token_requests == [] and fake.ocr_requests == []


async def test_neither_the_token_nor_the_keys_reach_the_log(fake, make_vendor, photo, caplog):
    caplog.set_level(logging.DEBUG)
    vendor = make_vendor(fake)
    await vendor.recognize("plate", "front", photo)
    fake.expire_tokens()
    await vendor.recognize("plate", "front", photo)

    tokens = {request.query["access_token"] for request in fake.ocr_requests}
    assert len(tokens) == 2
    logged = "\n".join(record.getMessage() for record in caplog.records)
    assert "/rest/2.0/ocr/v1/license_plate" in logged  # httpx did log the calls, redacted
    for token in tokens:
        assert token not in logged
    assert fake.secret_key not in logged and fake.api_key not in logged


# ---------------------------------------------------------------------------------------- mapping


async def test_driving_licence_front_fields(fake, make_vendor, photo):
    recognition = await make_vendor(fake).recognize("driving", "front", photo)
    licence = recognition.document
    assert isinstance(licence, DrivingLicence)
    assert (licence.number, licence.name, licence.sex, licence.nationality) == (
        "11010519491231002X",
        "王芳",
        "女",
        "中国",
    )
    assert licence.address == "北京市朝阳区建国路88号"
    assert licence.class_ == "C1"
    assert licence.birth_date == date(1949, 12, 31)
    assert licence.first_issue_date == date(2000, 5, 10)
    assert (licence.valid_from, licence.valid_to, licence.long_term) == (
        date(2020, 5, 10),
        date(2030, 5, 10),
        False,
    )
    assert licence.issuing_authority == "北京市公安局公安交通管理局"
    # The photo went out unchanged (scale 1), so the field's box is Baidu's location as given.
    assert licence.meta["number"].box == Box(x=210, y=60, width=300, height=30)
    assert recognition.vendor == "baidu" and recognition.raw["words_result_num"] == 11
    [request] = fake.ocr_requests
    assert request.path == "/rest/2.0/ocr/v1/driving_license"
    assert request.content_type.startswith("application/x-www-form-urlencoded")
    assert request.form["detect_direction"] == "true"
    assert request.form["driving_license_side"] == "front"
    assert request.image_format == "JPEG" and request.image_size == (640, 420)


@pytest.mark.parametrize(
    ("validity", "expected_to", "long_term"),
    [("6年", date(2026, 5, 10), False), ("长期", None, True), ("20260510", date(2026, 5, 10), False)],
)
async def test_driving_licence_old_style_validity(fake, make_vendor, photo, validity, expected_to, long_term):
    words = {
        "证号": {"words": "11010519491231002X"},
        "姓名": {"words": "王芳"},
        "准驾车型": {"words": "C1"},
        "有效起始日期": {"words": "20200510"},
        "有效期限": {"words": validity},
    }
    fake.script("driving_license", card_body(words))
    licence = (await make_vendor(fake).recognize("driving", "front", photo)).document
    assert isinstance(licence, DrivingLicence)
    assert (licence.valid_from, licence.valid_to, licence.long_term) == (
        date(2020, 5, 10),
        expected_to,
        long_term,
    )


async def test_driving_licence_back_fields(fake, make_vendor, photo):
    licence = (await make_vendor(fake).recognize("driving", "back", photo)).document
    assert isinstance(licence, DrivingLicenceBack)
    assert licence.name == "王芳" and licence.number == "11010519491231002X"
    assert licence.file_number == "110100123456"
    assert licence.record == "请于2031年05月10日前申请换证"
    assert fake.ocr_requests[0].form["driving_license_side"] == "back"


async def test_vehicle_licence_front_fields(fake, make_vendor, photo):
    vehicle = (await make_vendor(fake).recognize("vehicle", "front", photo)).document
    assert isinstance(vehicle, VehicleLicenceFront)
    assert vehicle.plate_number == "京A12345"  # printed as 京A·12345
    assert (vehicle.vehicle_type, vehicle.owner, vehicle.use_character) == ("小型轿车", "张伟", "非营运")
    assert vehicle.address == "北京市海淀区中关村大街1号"
    assert vehicle.model == "大众汽车牌SVW71617BM"
    assert vehicle.vin == "LSVAU033612345678" and vehicle.engine_number == "123456"
    assert (vehicle.register_date, vehicle.issue_date) == (date(2019, 3, 15), date(2019, 3, 16))
    assert vehicle.issuing_authority == "北京市公安局公安交通管理局"
    [request] = fake.ocr_requests
    assert request.path == "/rest/2.0/ocr/v1/vehicle_license"
    assert request.form["vehicle_license_side"] == "front" and request.form["detect_direction"] == "true"


async def test_vehicle_licence_back_fields(fake, make_vendor, photo):
    vehicle = (await make_vendor(fake).recognize("vehicle", "back", photo)).document
    assert isinstance(vehicle, VehicleLicenceBack)
    assert (vehicle.plate_number, vehicle.file_number) == ("京A12345", "110001234567")
    assert (vehicle.approved_passengers, vehicle.total_mass, vehicle.curb_weight) == (
        "5人",
        "1800kg",
        "1400kg",
    )
    assert vehicle.approved_load is None and vehicle.traction_mass is None  # printed blank
    assert vehicle.dimensions == "4700×1800×1450mm" and vehicle.remarks == "无"
    assert vehicle.inspection_record == "检验有效期至2031年09月京A(01)"
    assert vehicle.inspection_valid_until == date(2031, 9, 30)
    assert fake.ocr_requests[0].form["vehicle_license_side"] == "back"


async def test_plates_map_number_colour_confidence_and_box_in_the_senders_pixels(fake, make_vendor):
    # 8192 px wide: Baidu takes at most 4096, so the adapter halves it and must double Baidu's boxes.
    wide = images.load(encoded(Image.new("RGB", (8192, 256), (20, 60, 160)), "PNG"))
    first = {
        "number": "京A12345",
        "color": "blue",
        "probability": [1.0, 0.9, 0.8, 0.9, 1.0, 0.8, 0.9],
        "vertexes_location": [
            {"x": 100, "y": 50},
            {"x": 300, "y": 52},
            {"x": 300, "y": 110},
            {"x": 100, "y": 108},
        ],
    }
    second = {
        "number": "粤B·D12345",
        "color": "green",
        "probability": [0.5, 0.7],
        "vertexes_location": [
            {"x": 1000, "y": 10},
            {"x": 1200, "y": 10},
            {"x": 1200, "y": 70},
            {"x": 1000, "y": 70},
        ],
    }
    fake.script("license_plate", {"log_id": 1, "words_result": [first, second]})

    plates = (await make_vendor(fake).recognize("plate", "front", wide)).plates

    [request] = fake.ocr_requests
    assert request.form["multi_detect"] == "true"
    assert request.image_size == (4096, 128)
    assert [p.number for p in plates] == ["京A12345", "粤BD12345"]
    assert [p.color for p in plates] == [PlateColor.BLUE, PlateColor.GREEN]
    assert plates[0].confidence == pytest.approx(0.9) and plates[1].confidence == pytest.approx(0.6)
    assert plates[0].box == Box(x=200, y=100, width=400, height=120)
    assert plates[1].box == Box(x=2000, y=20, width=400, height=120)


@pytest.mark.parametrize(
    ("text", "colour"),
    [
        ("yellow", PlateColor.YELLOW),
        ("white", PlateColor.WHITE),
        ("black", PlateColor.BLACK),
        ("yellow_green", PlateColor.YELLOW_GREEN),
        ("黄绿", PlateColor.YELLOW_GREEN),
        ("purple", PlateColor.OTHER),
    ],
)
async def test_plate_colours(fake, make_vendor, photo, text, colour):
    fake.script("license_plate", {"log_id": 1, "words_result": [{"number": "京A12345", "color": text}]})
    [plate] = (await make_vendor(fake).recognize("plate", "front", photo)).plates
    assert plate.color == colour and plate.confidence is None and plate.box is None


# ------------------------------------------------------------------------------------------ images


async def test_formats_baidu_refuses_are_re_encoded(fake, make_vendor):
    webp = images.load(encoded(Image.new("RGB", (400, 300), (90, 90, 90)), "WEBP"))
    await make_vendor(fake).recognize("plate", "front", webp)
    [request] = fake.ocr_requests
    assert request.image_format in ("JPEG", "PNG", "BMP") and request.image_size == (400, 300)


async def test_urlencoded_base64_stays_within_the_limit(make_vendor):
    # Noise does not compress: its PNG is ~120 kB, and urlencoded base64 makes that ~1.42 times longer.
    noise = Image.frombytes("L", (200, 200), random.Random(7).randbytes(200 * 200)).convert("RGB")
    photo = images.load(encoded(noise, "PNG"))
    encoded_limit = int(len(photo.data) * 1.2)

    class SmallLimitBaidu(BaiduVendor):
        """Baidu's 4 MB rule scaled down to this image. The raw-byte budget lets the PNG through as it
        is, so only the check of its urlencoded length can keep the upload within the limit."""

        max_encoded_image = encoded_limit
        limits = replace(BaiduVendor.limits, max_bytes=len(photo.data))

    with FakeBaidu(max_image_field=encoded_limit) as server:
        await make_vendor(server, cls=SmallLimitBaidu).recognize("plate", "front", photo)
    [request] = server.ocr_requests
    assert 0 < request.image_field_bytes <= encoded_limit
    assert request.image_format == "JPEG"  # shrunk again, not the original PNG


async def test_a_photo_that_cannot_fit_baidus_encoded_limit_goes_on_to_the_next_vendor(make_vendor):
    """Not sent, so not Baidu's verdict on the photo: the chain must try the next vendor, as it does for
    a photo the first fitting refuses. A refusal of the shrunk copy used to stop the chain."""
    noise = Image.frombytes("L", (200, 200), random.Random(7).randbytes(200 * 200)).convert("RGB")
    photo = images.load(encoded(noise, "PNG"))

    class TinyLimitBaidu(BaiduVendor):
        max_encoded_image = 200  # no JPEG of this photo is this small

    with FakeBaidu() as server:
        chain = VendorChain([make_vendor(server, cls=TinyLimitBaidu), build_vendor("scripted", {})])
        result = await chain.recognize("plate", "front", photo)
    assert result.recognition is not None and result.recognition.vendor == "scripted"
    assert server.ocr_requests == []


async def test_oversized_image_is_refused_by_the_fake_as_by_baidu(make_vendor, photo):
    with FakeBaidu(max_image_field=1_000) as server, pytest.raises(VendorError) as caught:
        await make_vendor(server).recognize("plate", "front", photo)
    assert (caught.value.category, caught.value.code) == (ErrorCategory.BAD_IMAGE, "216202")


# ------------------------------------------------------------------------------------------ errors


@pytest.mark.parametrize(
    ("code", "category"),
    [
        (4, ErrorCategory.QUOTA_OR_RATE),
        (17, ErrorCategory.QUOTA_OR_RATE),
        (18, ErrorCategory.QUOTA_OR_RATE),
        (19, ErrorCategory.QUOTA_OR_RATE),
        (6, ErrorCategory.AUTH),
        (14, ErrorCategory.AUTH),
        (100, ErrorCategory.AUTH),
        (216110, ErrorCategory.AUTH),
        (216200, ErrorCategory.BAD_IMAGE),
        (216201, ErrorCategory.BAD_IMAGE),
        (216202, ErrorCategory.BAD_IMAGE),
        (282102, ErrorCategory.NOT_FOUND),
        (282103, ErrorCategory.NOT_FOUND),
        (216630, ErrorCategory.SERVER),
        (282000, ErrorCategory.SERVER),
        (216100, ErrorCategory.SERVER),
        (216101, ErrorCategory.SERVER),
        (216102, ErrorCategory.SERVER),
        (216103, ErrorCategory.SERVER),
        (999999, ErrorCategory.SERVER),
    ],
)
async def test_error_codes_map_to_the_taxonomy_keeping_code_and_message(
    fake, make_vendor, photo, code, category
):
    body = error_body(code)
    fake.script("driving_license", body)
    with pytest.raises(VendorError) as caught:
        await make_vendor(fake, attempts=1).recognize("driving", "front", photo)
    assert caught.value.category == category
    assert caught.value.code == str(code)
    assert caught.value.message == body["error_msg"]
    assert caught.value.vendor == "baidu"


async def test_qps_limit_is_retried_with_backoff(fake, make_vendor, photo):
    sleeps: list[float] = []
    fake.script("license_plate", error_body(18))
    recognition = await make_vendor(fake, sleeps=sleeps).recognize("plate", "front", photo)
    assert recognition.plates and len(fake.ocr_requests) == 2 and len(sleeps) == 1


async def test_daily_limit_is_not_retried_today(fake, make_vendor, photo):
    sleeps: list[float] = []
    fake.script("license_plate", error_body(17))
    with pytest.raises(VendorError) as caught:
        await make_vendor(fake, sleeps=sleeps).recognize("plate", "front", photo)
    assert caught.value.category == ErrorCategory.QUOTA_OR_RATE
    assert caught.value.retry_after is not None and 0 < caught.value.retry_after <= 86_400
    assert len(fake.ocr_requests) == 1 and sleeps == []


@pytest.mark.parametrize("code", [19, 216101])
async def test_a_spent_total_quota_or_a_bad_parameter_is_not_asked_again(fake, make_vendor, photo, code):
    """19 is the account's total quota, which never resets (unlike 17's daily one); 2161xx are our
    request's parameters: asking again cannot help, the next vendor might."""
    sleeps: list[float] = []
    fake.script("license_plate", error_body(code))
    with pytest.raises(VendorError) as caught:
        await make_vendor(fake, sleeps=sleeps).recognize("plate", "front", photo)
    assert caught.value.code == str(code) and caught.value.retry_after is None
    assert len(fake.ocr_requests) == 1 and sleeps == []


async def test_slow_answer_is_a_timeout(fake, make_vendor, photo):
    fake.script("license_plate", Slow(5.0))
    with pytest.raises(VendorError) as caught:
        await make_vendor(fake, attempts=1, timeout=0.2).recognize("plate", "front", photo)
    assert caught.value.category == ErrorCategory.TIMEOUT


async def test_dropped_connection_is_a_server_error(fake, make_vendor, photo):
    fake.script("license_plate", DROP)
    with pytest.raises(VendorError) as caught:
        await make_vendor(fake, attempts=1).recognize("plate", "front", photo)
    assert caught.value.category == ErrorCategory.SERVER


async def test_dropped_connection_is_retried(fake, make_vendor, photo):
    fake.script("license_plate", DROP)
    recognition = await make_vendor(fake).recognize("plate", "front", photo)
    assert recognition.plates and len(fake.ocr_requests) == 2


@pytest.mark.parametrize(
    ("kind", "side", "action", "answer"),
    [
        ("driving", "front", "driving_license", card_body({})),
        (
            "driving",
            "back",
            "driving_license",
            card_body(
                {
                    "姓名": {"words": ""},
                    "证号": {"words": ""},
                    "档案编号": {"words": ""},
                    "记录": {"words": ""},
                }
            ),
        ),
        ("vehicle", "front", "vehicle_license", {"log_id": 1, "words_result_num": 0}),
        ("vehicle", "back", "vehicle_license", card_body({"号牌号码": {"words": " "}})),
        ("plate", "front", "license_plate", {"log_id": 1, "words_result": []}),
    ],
)
async def test_success_with_empty_fields_is_not_found(fake, make_vendor, photo, kind, side, action, answer):
    fake.script(action, answer)
    with pytest.raises(VendorError) as caught:
        await make_vendor(fake).recognize(kind, side, photo)
    assert caught.value.category == ErrorCategory.NOT_FOUND
    assert len(fake.ocr_requests) == 1  # not found is an answer, not a failure to retry


# ---------------------------------------------------------------------------------------- settings


def test_settings_keep_the_keys_secret_and_default_to_baidus_endpoint():
    settings = BaiduSettings.model_validate({"api_key": "ak-123", "secret_key": "sk-456"})
    assert settings.endpoint == "https://aip.baidubce.com"
    assert "sk-456" not in repr(settings) and "ak-123" not in repr(settings)
    assert settings.secret_key.get_secret_value() == "sk-456"
    assert settings.missing_credentials() is None
    # Absent or blank keys load (they may live in the service's environment), and are named as missing.
    assert BaiduSettings.model_validate({"api_key": "ak-123"}).missing_credentials() == "api_key/secret_key"
    assert BaiduSettings.model_validate({"api_key": " ", "secret_key": "s"}).missing_credentials()
    with pytest.raises(ValidationError):
        BaiduSettings.model_validate({"api_key": "a", "secret_key": "b", "region": "bj"})


# -------------------------------------------------------------------------------------- end to end


def render_vehicle_back(path: Path) -> None:
    card = Image.new("RGB", (900, 600), (246, 244, 236))
    draw = ImageDraw.Draw(card)
    draw.rectangle((20, 20, 880, 580), outline=(60, 60, 60), width=3)
    for row, text in enumerate(("Plate 京A12345", "File 110001234567", "Passengers 5")):
        draw.text((60, 80 + row * 60), text, fill=(10, 10, 10))
    card.save(path, "JPEG")


def write_config(path: Path, server: FakeBaidu, database: Path) -> None:
    path.write_text(
        f'[bot]\ndatabase = "{database}"\nlanguage = "en"\n'
        "[vendors.baidu]\n"
        f'api_key = "{server.api_key}"\nsecret_key = "{server.secret_key}"\nendpoint = "{server.url}"\n'
        "timeout = 5\n",
        encoding="utf-8",
    )


def test_cli_recognize_with_baidu_end_to_end(fake, tmp_path, capsys):
    card = tmp_path / "back.jpg"
    render_vehicle_back(card)
    config = tmp_path / "config.toml"
    write_config(config, fake, tmp_path / "log.db")

    code = main(
        [
            "recognize",
            str(card),
            "--kind",
            "vehicle",
            "--side",
            "back",
            "--vendor",
            "baidu",
            "--json",
            "--config",
            str(config),
        ]
    )

    assert code == 0
    result = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert result["vendor"] == "baidu" and result["status"] == "ok"
    assert result["fields"]["plate_number"] == "京A12345"
    assert result["fields"]["approved_passengers"] == "5人"
    assert result["fields"]["inspection_valid_until"] == "2031-09-30"
    [request] = fake.ocr_requests
    assert request.form["vehicle_license_side"] == "back"
    assert request.image_size == (900, 600)


def test_cli_reports_a_baidu_auth_failure(fake, tmp_path, capsys):
    card = tmp_path / "back.jpg"
    render_vehicle_back(card)
    config = tmp_path / "config.toml"
    write_config(config, fake, tmp_path / "log.db")
    fake.api_key = "the-console-shows-another-key"

    code = main(
        ["recognize", str(card), "--kind", "driving", "--vendor", "baidu", "--json", "--config", str(config)]
    )

    assert code == 1
    result = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert result["status"] == "vendor_error"
    assert result["error"]["category"] == "auth" and result["error"]["code"] == "invalid_client"


def test_fast_base64_form_encoding_matches_the_standard_library():
    """The hand-rolled encoder exists for speed only: it must agree with quote_plus byte for byte."""
    import base64
    import random
    from urllib.parse import quote_plus, urlencode

    from bot.vendors.baidu import form_body, quote_base64

    rng = random.Random(3)
    for size in (0, 1, 2, 3, 1000, 4097):
        encoded = base64.b64encode(rng.randbytes(size))
        assert quote_base64(encoded) == quote_plus(encoded).encode()
        options = {"detect_direction": "true", "multi_detect": "true"}
        expected = urlencode({"image": encoded.decode(), **options}).encode()
        assert form_body(quote_base64(encoded), options) == expected
        assert form_body(quote_base64(encoded), {}) == urlencode({"image": encoded.decode()}).encode()
