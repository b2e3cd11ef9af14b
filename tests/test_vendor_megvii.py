"""Megvii adapter (FaceID v2 + Face++ cardpp) against a fake Megvii server on 127.0.0.1."""

from __future__ import annotations

import io
import json
import ssl
from datetime import date
from pathlib import Path

import httpx
import pytest
from PIL import Image, ImageDraw
from pydantic import ValidationError

from bot import images
from bot.cli import main
from bot.models import DrivingLicence, DrivingLicenceBack, VehicleLicenceFront
from bot.vendors.base import ErrorCategory, VendorChain, VendorError, build_vendor, vendor_class
from bot.vendors.http import RetryPolicy
from bot.vendors.megvii import MegviiSettings, MegviiVendor
from tests.fakes.megvii_server import (
    DROP,
    FACEID_VEHICLE,
    FakeMegvii,
    Slow,
    Status,
    error_body,
)

# The FaceID v2 documentation's failure example, verbatim.
DOCUMENTED_ERROR = {
    "error_message": "INVALID_IMAGE_SIZE: image",
    "request_id": "1461740007,71eeb124-08f0-47b3-8fc8-ac048cfa134d",
    "time_used": 4,
}

_TLS = ssl.create_default_context()


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
    with FakeMegvii() as server:
        yield server


@pytest.fixture
async def make_vendor():
    """Adapters pointed at a fake (both hosts); retries sleep for no time and are recorded instead."""
    built: list[MegviiVendor] = []

    def make(
        server: FakeMegvii,
        *,
        attempts: int = 3,
        timeout: float = 5.0,
        sleeps: list[float] | None = None,
        vehicle_api: str = "faceid",
        api_secret: str | None = None,
    ) -> MegviiVendor:
        settings = MegviiSettings(
            api_key=server.api_key,
            api_secret=api_secret or server.api_secret,
            endpoint=server.url,
            faceplusplus_endpoint=server.url + "/",
            timeout=timeout,
            vehicle_api=vehicle_api,
        )

        async def record_sleep(seconds: float) -> None:
            if sleeps is not None:
                sleeps.append(seconds)

        vendor = MegviiVendor(
            settings,
            retry=RetryPolicy(attempts=attempts),
            sleep=record_sleep,
            transport=httpx.AsyncHTTPTransport(verify=_TLS),
        )
        built.append(vendor)
        return vendor

    yield make
    for vendor in built:
        await vendor.aclose()


# ----------------------------------------------------------------------------------------- mapping


async def test_faceid_vehicle_licence_from_the_documented_example(fake, make_vendor, photo):
    recognition = await make_vendor(fake).recognize("vehicle", "front", photo)
    vehicle = recognition.document
    assert isinstance(vehicle, VehicleLicenceFront)
    assert (vehicle.plate_number, vehicle.vehicle_type, vehicle.owner) == (
        "京C12345",
        "小型轿车",
        "XXXXXX有限公司",
    )
    assert (vehicle.address, vehicle.use_character) == ("北京市海淀区XXXX", "非营运")
    assert (vehicle.model, vehicle.vin, vehicle.engine_number) == ("丰田牌TVXXXXX", "LBYXXXXX", "B09XXX")
    assert vehicle.register_date == date(2011, 6, 2) and vehicle.issue_date == date(2011, 6, 2)
    assert vehicle.issuing_authority == "广东省深圳市公安局交通警察支队"
    assert recognition.raw["request_id"] == FACEID_VEHICLE["request_id"]
    [request] = fake.requests
    assert request.path == "/faceid/v2/ocr_vehicle_license"
    assert request.content_type.startswith("multipart/form-data")
    assert request.form == {"api_key": fake.api_key, "api_secret": fake.api_secret}
    assert set(request.files) == {"image"}
    assert request.image_format == "JPEG" and request.image_size == (640, 420)


async def test_cardpp_vehicle_licence_when_configured(fake, make_vendor, photo):
    vehicle = (await make_vendor(fake, vehicle_api="cardpp").recognize("vehicle", "front", photo)).document
    assert isinstance(vehicle, VehicleLicenceFront)
    assert vehicle.plate_number == "京A12345"  # printed as 京A·12345
    assert (vehicle.owner, vehicle.vin, vehicle.engine_number) == ("张伟", "LSVAU033612345678", "123456")
    assert (vehicle.register_date, vehicle.issue_date) == (date(2019, 3, 15), date(2019, 3, 16))
    assert (
        vehicle.model == "大众汽车牌SVW71617BM" and vehicle.issuing_authority == "北京市公安局公安交通管理局"
    )
    [request] = fake.requests
    assert request.path == "/cardpp/v1/ocrvehiclelicense" and set(request.files) == {"image_file"}


async def test_driving_licence_main_page_with_confidences(fake, make_vendor, photo):
    licence = (await make_vendor(fake).recognize("driving", "front", photo)).document
    assert isinstance(licence, DrivingLicence)
    assert (licence.number, licence.name, licence.sex) == ("11010519491231002X", "王芳", "女")
    assert (licence.nationality, licence.class_) == ("中国", "C1")
    assert licence.address == "北京市朝阳区建国路88号"
    assert (licence.birth_date, licence.first_issue_date) == (date(1949, 12, 31), date(2000, 5, 10))
    assert (licence.valid_from, licence.valid_to, licence.long_term) == (
        date(2020, 5, 10),
        date(2030, 5, 10),
        False,
    )
    assert licence.issuing_authority == "北京市公安局公安交通管理局"
    assert licence.meta["address"].confidence == pytest.approx(0.97125)
    assert licence.meta["valid_to"].confidence == pytest.approx(0.96)
    [request] = fake.requests
    assert request.path == "/cardpp/v2/ocrdriverlicense" and set(request.files) == {"image_file"}
    assert request.form["mode"] == "complete" and request.form["return_score"] == "1"


@pytest.mark.parametrize(
    ("valid_for", "expected_to", "long_term"),
    [("6年", date(2026, 5, 10), False), ("长期", None, True)],
)
async def test_driving_licence_old_style_validity(
    fake, make_vendor, photo, valid_for, expected_to, long_term
):
    main_page = {
        "license_number": {"content": "11010519491231002X"},
        "name": {"content": "王芳"},
        "class": {"content": "C1"},
        "valid_from": {"content": "2020-05-10"},
        "valid_for": {"content": valid_for},
    }
    fake.script("cardpp_driver", {"request_id": "r", "main": [main_page], "second": [], "time_used": 1})
    licence = (await make_vendor(fake).recognize("driving", "front", photo)).document
    assert isinstance(licence, DrivingLicence)
    assert (licence.valid_from, licence.valid_to, licence.long_term) == (
        date(2020, 5, 10),
        expected_to,
        long_term,
    )
    assert licence.meta == {}  # no return_score confidences in this answer


async def test_driving_licence_back_comes_from_second(fake, make_vendor, photo):
    licence = (await make_vendor(fake).recognize("driving", "back", photo)).document
    assert isinstance(licence, DrivingLicenceBack)
    assert (licence.name, licence.number, licence.file_number) == (
        "王芳",
        "11010519491231002X",
        "110100123456",
    )
    assert licence.meta["file_number"].confidence == pytest.approx(0.975)
    assert fake.requests[0].form["mode"] == "complete"


# ------------------------------------------------------------------------------------ what it reads


@pytest.mark.parametrize(("kind", "side"), [("vehicle", "back"), ("plate", "front")])
async def test_unsupported_pages_are_skipped_by_the_chain(fake, make_vendor, photo, kind, side):
    vendor = make_vendor(fake)
    assert not vendor.supports_request(kind, side)
    result = await VendorChain([vendor]).recognize(kind, side, photo)
    assert [attempt.status for attempt in result.attempts] == ["skipped"]
    with pytest.raises(VendorError) as caught:
        await vendor.recognize(kind, side, photo)
    assert caught.value.category == ErrorCategory.NOT_FOUND
    assert fake.requests == []


@pytest.mark.parametrize(
    ("kind", "side", "endpoint", "answer", "vehicle_api"),
    [
        ("vehicle", "front", "faceid_vehicle", {"request_id": "r", "time_used": 30}, "faceid"),
        ("vehicle", "front", "faceid_vehicle", {"request_id": "r", "plate_no": None, "vin": None}, "faceid"),
        ("vehicle", "front", "cardpp_vehicle", {"request_id": "r", "cards": [], "time_used": 30}, "cardpp"),
        ("driving", "front", "cardpp_driver", {"request_id": "r", "main": [], "second": []}, "faceid"),
        (
            "driving",
            "back",
            "cardpp_driver",
            {"request_id": "r", "main": [{"name": {"content": "王芳"}}]},
            "faceid",
        ),
    ],
)
async def test_success_without_a_card_is_not_found(
    fake, make_vendor, photo, kind, side, endpoint, answer, vehicle_api
):
    fake.script(endpoint, answer)
    with pytest.raises(VendorError) as caught:
        await make_vendor(fake, vehicle_api=vehicle_api).recognize(kind, side, photo)
    assert caught.value.category == ErrorCategory.NOT_FOUND
    assert len(fake.requests) == 1


# ------------------------------------------------------------------------------------------ images


async def test_large_photo_is_fitted_to_4096_px(fake, make_vendor):
    wide = images.load(encoded(Image.new("RGB", (5000, 300), (200, 200, 200)), "PNG"))
    await make_vendor(fake).recognize("vehicle", "front", wide)
    [request] = fake.requests
    assert request.image_size == (4096, 246)
    assert request.length <= 2 * 1024 * 1024


async def test_request_over_the_size_limit_gets_plain_text_413(make_vendor, photo):
    with FakeMegvii(max_request=1_000) as server, pytest.raises(VendorError) as caught:
        await make_vendor(server).recognize("vehicle", "front", photo)
    assert (caught.value.category, caught.value.code) == (ErrorCategory.BAD_IMAGE, "HTTP 413")
    assert caught.value.message == "Request Entity Too Large"
    assert len(server.requests) == 1  # a bad image is not retried


async def test_fake_refuses_an_image_over_4096_px_as_megvii_does(fake, make_vendor, photo):
    class UnlimitedMegvii(MegviiVendor):
        limits = images.ImageLimits(max_bytes=2_000_000, max_side=8192, min_side=100)

    tall = images.load(encoded(Image.new("L", (120, 4200), 255), "PNG"))
    vendor = UnlimitedMegvii(
        MegviiSettings(api_key=fake.api_key, api_secret=fake.api_secret, faceplusplus_endpoint=fake.url),
        transport=httpx.AsyncHTTPTransport(verify=_TLS),
    )
    try:
        with pytest.raises(VendorError) as caught:
            await vendor.recognize("driving", "front", tall)
    finally:
        await vendor.aclose()
    assert (caught.value.category, caught.value.code) == (ErrorCategory.BAD_IMAGE, "INVALID_IMAGE_SIZE")
    assert caught.value.message == "INVALID_IMAGE_SIZE: image_file"


# ------------------------------------------------------------------------------------------ errors


@pytest.mark.parametrize(
    ("kind", "vehicle_api", "code"),
    [
        ("vehicle", "faceid", "AUTHORIZATION_ERROR"),  # FaceID: 403 AUTHORIZATION_ERROR
        ("vehicle", "cardpp", "AUTHENTICATION_ERROR"),  # cardpp v1: 401
        ("driving", "faceid", "AUTHENTICATION_ERROR"),  # cardpp v2: 403
    ],
)
async def test_wrong_secret_is_auth(fake, make_vendor, photo, kind, vehicle_api, code):
    vendor = make_vendor(fake, api_secret="not-the-secret", vehicle_api=vehicle_api)
    with pytest.raises(VendorError) as caught:
        await vendor.recognize(kind, "front", photo)
    assert (caught.value.category, caught.value.code) == (ErrorCategory.AUTH, code)
    assert len(fake.requests) == 1  # keys that are wrong now stay wrong: no retry
    assert "not-the-secret" not in str(caught.value)


@pytest.mark.parametrize(
    ("reply", "category", "code"),
    [
        (Status(400, DOCUMENTED_ERROR), ErrorCategory.BAD_IMAGE, "INVALID_IMAGE_SIZE"),
        (Status(400, error_body("IMAGE_ERROR_UNSUPPORTED_FORMAT: image")), ErrorCategory.BAD_IMAGE, None),
        (Status(400, error_body("INVALID_IMAGE_URL")), ErrorCategory.BAD_IMAGE, None),
        (Status(400, error_body("IMAGE_FILE_TOO_LARGE: image_file")), ErrorCategory.BAD_IMAGE, None),
        (Status(412, error_body("IMAGE_DOWNLOAD_TIMEOUT")), ErrorCategory.BAD_IMAGE, None),
        (Status(413, "Request Entity Too Large"), ErrorCategory.BAD_IMAGE, "HTTP 413"),
        (Status(401, error_body("AUTHENTICATION_ERROR")), ErrorCategory.AUTH, None),
        (Status(403, error_body("AUTHENTICATION_ERROR")), ErrorCategory.AUTH, None),
        (
            Status(403, error_body("AUTHORIZATION_ERROR:Denied by Client")),
            ErrorCategory.AUTH,
            "AUTHORIZATION_ERROR",
        ),
        (Status(400, error_body("MISSING_ARGUMENTS: image")), ErrorCategory.SERVER, "MISSING_ARGUMENTS"),
        (Status(400, error_body("BAD_ARGUMENTS: mode")), ErrorCategory.SERVER, "BAD_ARGUMENTS"),
        (Status(404, error_body("API_NOT_FOUND")), ErrorCategory.SERVER, None),
        (Status(500, error_body("INTERNAL_ERROR")), ErrorCategory.SERVER, None),
        (Status(502, "<html>Bad Gateway</html>"), ErrorCategory.SERVER, "HTTP 502"),
        (Status(403, error_body("CONCURRENCY_LIMIT_EXCEEDED")), ErrorCategory.QUOTA_OR_RATE, None),
        (
            Status(403, error_body("AUTHORIZATION_ERROR:Insufficient Account Balance")),
            ErrorCategory.QUOTA_OR_RATE,
            "AUTHORIZATION_ERROR",
        ),
    ],
)
async def test_error_answers_map_to_the_taxonomy_keeping_code_and_message(
    fake, make_vendor, photo, reply, category, code
):
    fake.script("faceid_vehicle", reply)
    with pytest.raises(VendorError) as caught:
        await make_vendor(fake, attempts=1).recognize("vehicle", "front", photo)
    assert caught.value.category == category and caught.value.vendor == "megvii"
    if isinstance(reply.body, dict):
        message = reply.body["error_message"]
        assert caught.value.message == message
        assert caught.value.code == (code or message.split(":")[0])
    else:
        assert caught.value.code == code


async def test_concurrency_limit_is_retried_with_backoff(fake, make_vendor, photo):
    sleeps: list[float] = []
    fake.script("cardpp_driver", Status(403, error_body("CONCURRENCY_LIMIT_EXCEEDED")))
    licence = (await make_vendor(fake, sleeps=sleeps).recognize("driving", "front", photo)).document
    assert isinstance(licence, DrivingLicence) and licence.name == "王芳"
    assert len(fake.requests) == 2 and len(sleeps) == 1


async def test_empty_balance_is_not_retried(fake, make_vendor, photo):
    sleeps: list[float] = []
    fake.script("cardpp_driver", Status(403, error_body("AUTHORIZATION_ERROR:Insufficient Account Balance")))
    with pytest.raises(VendorError) as caught:
        await make_vendor(fake, sleeps=sleeps).recognize("driving", "front", photo)
    assert caught.value.category == ErrorCategory.QUOTA_OR_RATE
    assert len(fake.requests) == 1 and sleeps == []


@pytest.mark.parametrize(
    ("status", "message"),
    [(400, "BAD_ARGUMENTS:image_file"), (400, "MISSING_ARGUMENTS:api_key"), (404, "API_NOT_FOUND")],
)
async def test_a_malformed_request_is_not_sent_again(fake, make_vendor, photo, status, message):
    """Only a change on our side mends these: the next vendor should get the photo without 1.5 s of
    backoff first."""
    sleeps: list[float] = []
    fake.script("cardpp_driver", Status(status, error_body(message)))
    with pytest.raises(VendorError) as caught:
        await make_vendor(fake, sleeps=sleeps).recognize("driving", "front", photo)
    assert caught.value.category == ErrorCategory.SERVER
    assert len(fake.requests) == 1 and sleeps == []


async def test_internal_error_is_retried_then_given_up(fake, make_vendor, photo):
    sleeps: list[float] = []
    fake.script("faceid_vehicle", *[Status(500, error_body("INTERNAL_ERROR"))] * 3)
    with pytest.raises(VendorError) as caught:
        await make_vendor(fake, sleeps=sleeps).recognize("vehicle", "front", photo)
    assert caught.value.category == ErrorCategory.SERVER
    assert len(fake.requests) == 3 and len(sleeps) == 2


async def test_slow_answer_is_a_timeout(fake, make_vendor, photo):
    fake.script("faceid_vehicle", Slow(5.0))
    with pytest.raises(VendorError) as caught:
        await make_vendor(fake, attempts=1, timeout=0.2).recognize("vehicle", "front", photo)
    assert caught.value.category == ErrorCategory.TIMEOUT


async def test_dropped_connection_is_retried(fake, make_vendor, photo):
    fake.script("faceid_vehicle", DROP)
    recognition = await make_vendor(fake).recognize("vehicle", "front", photo)
    assert recognition.document is not None and len(fake.requests) == 2


# ---------------------------------------------------------------------------------------- settings


async def test_missing_keys_fail_before_any_request(fake, make_vendor, photo):
    vendor = make_vendor(fake, api_secret=" ")
    with pytest.raises(VendorError) as caught:
        await vendor.recognize("driving", "front", photo)
    assert (caught.value.category, caught.value.code) == (ErrorCategory.AUTH, "MissingCredentials")
    assert fake.requests == []


def test_settings_keep_keys_secret_and_default_to_megviis_hosts():
    settings = MegviiSettings.model_validate({"api_key": "ak-123", "api_secret": "sk-456"})
    assert settings.endpoint == "https://api.megvii.com"
    assert settings.faceplusplus_endpoint == "https://api-cn.faceplusplus.com"
    assert settings.vehicle_api == "faceid"
    assert "sk-456" not in repr(settings) and "ak-123" not in repr(settings)
    with pytest.raises(ValidationError):
        MegviiSettings.model_validate({"api_key": "a", "api_secret": "b", "vehicle_api": "baidu"})
    assert settings.missing_credentials() is None
    # Absent or blank keys load (they may live in the service's environment), and are named as missing.
    assert MegviiSettings.model_validate({"api_key": "a"}).missing_credentials() == "api_key/api_secret"
    assert MegviiSettings.model_validate({"api_key": "", "api_secret": "s"}).missing_credentials()


def test_registered_and_built_from_a_config_table():
    assert vendor_class("megvii") is MegviiVendor
    vendor = build_vendor("megvii", {"api_key": "a", "api_secret": "b", "max_concurrency": 2})
    assert isinstance(vendor, MegviiVendor) and vendor.settings.max_concurrency == 2


# -------------------------------------------------------------------------------------- end to end


def write_config(path: Path, server: FakeMegvii, database: Path) -> None:
    path.write_text(
        f'[bot]\ndatabase = "{database}"\nlanguage = "en"\n'
        "[vendors.megvii]\n"
        f'api_key = "{server.api_key}"\napi_secret = "{server.api_secret}"\n'
        f'endpoint = "{server.url}"\nfaceplusplus_endpoint = "{server.url}"\ntimeout = 5\n',
        encoding="utf-8",
    )


def render_card(path: Path) -> None:
    card = Image.new("RGB", (900, 600), (246, 244, 236))
    draw = ImageDraw.Draw(card)
    draw.rectangle((20, 20, 880, 580), outline=(60, 60, 60), width=3)
    draw.text((60, 80), "Plate 京C12345", fill=(10, 10, 10))
    card.save(path, "JPEG")


def test_cli_recognize_with_megvii_end_to_end(fake, tmp_path, capsys):
    card = tmp_path / "vehicle.jpg"
    render_card(card)
    config = tmp_path / "config.toml"
    write_config(config, fake, tmp_path / "log.db")
    argv = [
        "recognize",
        str(card),
        "--kind",
        "vehicle",
        "--vendor",
        "megvii",
        "--json",
        "--config",
        str(config),
    ]

    assert main(argv) == 0

    result = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert result["vendor"] == "megvii" and result["status"] == "ok"
    assert result["fields"]["plate_number"] == "京C12345"
    assert result["fields"]["register_date"] == "2011-06-02"
    [request] = fake.requests
    assert request.path == "/faceid/v2/ocr_vehicle_license" and request.image_size == (900, 600)


def test_cli_reports_a_megvii_auth_failure(fake, tmp_path, capsys):
    card = tmp_path / "licence.jpg"
    render_card(card)
    config = tmp_path / "config.toml"
    write_config(config, fake, tmp_path / "log.db")
    fake.api_secret = "the-console-shows-another-secret"
    argv = [
        "recognize",
        str(card),
        "--kind",
        "driving",
        "--vendor",
        "megvii",
        "--json",
        "--config",
        str(config),
    ]

    assert main(argv) == 1

    result = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert result["status"] == "vendor_error"
    assert result["error"]["category"] == "auth" and result["error"]["code"] == "AUTHENTICATION_ERROR"
