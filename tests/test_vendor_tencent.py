"""The Tencent Cloud API 3.0 adapter against the official SDK signer and a loopback fake Tencent server."""

from __future__ import annotations

import asyncio
import base64
import io
import itertools
import json
from collections.abc import AsyncIterator, Iterator
from datetime import date
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import httpx
import pytest
from PIL import Image, ImageDraw
from tencentcloud.common import abstract_client
from tencentcloud.common.credential import Credential
from tencentcloud.common.http.request import RequestInternal
from tencentcloud.common.profile.client_profile import ClientProfile
from tencentcloud.common.profile.http_profile import HttpProfile

from bot.cli import main
from bot.images import ImageLimits, IntakeImage, load
from bot.models import DrivingLicence, DrivingLicenceBack, PlateColor, VehicleLicenceBack, VehicleLicenceFront
from bot.vendors.base import ErrorCategory, VendorError, build_vendor, vendor_class
from bot.vendors.http import RetryPolicy
from bot.vendors.tencent import TencentSettings, TencentVendor
from tests.fakes import tencent_server as samples
from tests.fakes.tencent_server import FakeTencent, Reply

SECRET_ID = "AKIDfakeTencentId0001"
SECRET_KEY = "fake-tencent-secret-key"


# ------------------------------------------------------------------------------------------ helpers


def render(size: tuple[int, int] = (900, 600), fmt: str = "JPEG") -> bytes:
    """A card-like photo; the fake only decodes it, so the pixels merely have to be an image."""
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
def fake() -> Iterator[FakeTencent]:
    with FakeTencent(SECRET_ID, SECRET_KEY) as server:
        yield server


@pytest.fixture
def sleeps() -> Sleeps:
    return Sleeps()


@pytest.fixture
async def make_vendor(fake: FakeTencent, sleeps: Sleeps) -> AsyncIterator[Any]:
    made: list[TencentVendor] = []

    def make(attempts: int = 3, **settings: Any) -> TencentVendor:
        table = {"endpoint": fake.url, "secret_id": SECRET_ID, "secret_key": SECRET_KEY, "timeout": 5.0}
        vendor = TencentVendor(
            TencentSettings.model_validate(table | settings),
            retry=RetryPolicy(attempts=attempts, base_delay=0.5, max_delay=4.0, jitter=0.5),
            sleep=sleeps,
        )
        made.append(vendor)
        return vendor

    yield make
    for vendor in made:
        await vendor.aclose()


async def failure(vendor: TencentVendor, kind: str, side: str, image: IntakeImage) -> VendorError:
    with pytest.raises(VendorError) as caught:
        await vendor.recognize(kind, side, image)  # type: ignore[arg-type]
    return caught.value


# ------------------------------------------------------------------------------ signing vs the SDK


class _SdkOcrClient(abstract_client.AbstractClient):
    _apiVersion = "2018-11-19"
    _endpoint = "ocr.tencentcloudapi.com"
    _service = "ocr"


def sdk_signed_request(params: dict[str, Any], action: str, timestamp: int, monkeypatch) -> RequestInternal:
    """What the official SDK sends for `params` at `timestamp` (its clock replaced for the call)."""
    monkeypatch.setattr(abstract_client, "time", SimpleNamespace(time=lambda: timestamp))
    profile = ClientProfile(httpProfile=HttpProfile(endpoint="ocr.tencentcloudapi.com"))
    client = _SdkOcrClient(Credential(SECRET_ID, SECRET_KEY), "ap-shanghai", profile)
    request = RequestInternal("ocr.tencentcloudapi.com", "POST", "/")
    client._build_req_with_tc3_signature(action, params, request)
    return request


@pytest.mark.parametrize(
    ("timestamp", "kind", "side"),
    [
        (1_700_000_000, "driving", "front"),
        (1_704_067_199, "vehicle", "back"),  # 2023-12-31 23:59:59 UTC, already 2024 in Beijing
        (1_704_038_400, "plate", "front"),  # 2023-12-31 16:00 UTC = midnight in Beijing
    ],
)
async def test_authorization_matches_the_official_sdk(timestamp, kind, side, photo, monkeypatch):
    captured: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        captured.append(request)
        return httpx.Response(200, json={"Response": samples.default_success("LicensePlateOCR", None)})

    settings = TencentSettings(secret_id=SECRET_ID, secret_key=SECRET_KEY, region="ap-shanghai")
    vendor = TencentVendor(settings, clock=lambda: timestamp + 0.7, transport=httpx.MockTransport(handler))
    try:
        await vendor.recognize(kind, side, photo)
    except VendorError:
        pass  # a plate body for a card request is "not found"; only the request matters here
    finally:
        await vendor.aclose()
    [sent] = captured
    params = json.loads(sent.content)
    sdk = sdk_signed_request(params, sent.headers["X-TC-Action"], timestamp, monkeypatch)

    assert sent.content == sdk.data.encode("utf-8")  # same bytes, so the signatures are comparable
    assert sent.headers["Authorization"] == sdk.header["Authorization"]
    for name in ("Host", "Content-Type", "X-TC-Action", "X-TC-Version", "X-TC-Timestamp", "X-TC-Region"):
        assert sent.headers[name] == sdk.header[name], name
    assert str(sent.url) == "https://ocr.tencentcloudapi.com/"


async def test_request_carries_base64_text_and_the_card_side(fake, make_vendor, photo):
    vendor = make_vendor()
    await vendor.recognize("driving", "back", photo)
    await vendor.recognize("vehicle", "front", photo)
    await vendor.recognize("plate", "front", photo)
    actions = [(r.action, r.params.get("CardSide")) for r in fake.received]
    assert actions == [
        ("DriverLicenseOCR", "BACK"),
        ("VehicleLicenseOCR", "FRONT"),
        ("LicensePlateOCR", None),
    ]
    sent = base64.b64decode(fake.received[0].params["ImageBase64"])
    assert sent == photo.data  # a JPEG within the limits is sent untouched
    assert "X-TC-Region".lower() not in fake.received[0].headers  # only sent when configured
    assert all(r.error is None for r in fake.received)


async def test_region_is_sent_when_configured(fake, make_vendor, photo):
    await make_vendor(region="ap-beijing").recognize("plate", "front", photo)
    assert fake.received[0].headers["x-tc-region"] == "ap-beijing"


# ---------------------------------------------------------------------- the fake rejects bad requests


async def test_wrong_secret_key_is_a_signature_failure_not_retried(fake, make_vendor, photo, sleeps):
    error = await failure(make_vendor(secret_key="not-the-key"), "driving", "front", photo)
    assert error.category is ErrorCategory.AUTH
    assert error.code == "AuthFailure.SignatureFailure"
    assert "signature" in error.message and "RequestId" in error.message
    assert len(fake.received) == 1 and sleeps.delays == []


async def test_unknown_secret_id(fake, make_vendor, photo):
    error = await failure(make_vendor(secret_id="AKIDsomeoneelse"), "plate", "front", photo)
    assert (error.category, error.code) == (ErrorCategory.AUTH, "AuthFailure.SecretIdNotFound")


async def test_clock_skew_over_five_minutes_is_signature_expire(fake, make_vendor, photo):
    vendor = make_vendor()
    vendor._clock = lambda: fake.clock() - 400
    error = await failure(vendor, "plate", "front", photo)
    assert (error.category, error.code) == (ErrorCategory.AUTH, "AuthFailure.SignatureExpire")


async def test_clock_skew_within_five_minutes_is_accepted(fake, make_vendor, photo):
    vendor = make_vendor()
    vendor._clock = lambda: fake.clock() - 200
    recognition = await vendor.recognize("plate", "front", photo)
    assert recognition.plates


async def test_whitespace_around_keys_is_stripped(fake, make_vendor, photo):
    vendor = make_vendor(secret_id=f" {SECRET_ID}\n", secret_key=f"{SECRET_KEY} ")
    assert (await vendor.recognize("plate", "front", photo)).plates


async def test_missing_credentials_fail_before_any_request(fake, make_vendor, photo):
    error = await failure(make_vendor(secret_key=""), "driving", "front", photo)
    assert (error.category, error.code) == (ErrorCategory.AUTH, "MissingCredentials")
    assert fake.received == []


# ------------------------------------------------------------------------------------ field mapping


async def test_driving_front_fields(fake, make_vendor, photo):
    body = samples.driver_front() | {"EndDate": "2030-05-10"}
    fake.answer(Reply.success(body))
    recognition = await make_vendor().recognize("driving", "front", photo)
    licence = recognition.document
    assert isinstance(licence, DrivingLicence)
    assert (recognition.kind, recognition.side, recognition.vendor) == ("driving", "front", "tencent")
    assert licence.number == body["CardCode"] and licence.name == body["Name"]
    assert (licence.sex, licence.nationality, licence.address) == (
        body["Sex"],
        body["Nationality"],
        body["Address"],
    )
    assert licence.birth_date == date(1949, 12, 31)
    assert licence.first_issue_date == date(2000, 5, 10)
    assert licence.class_ == "C1"
    assert (licence.valid_from, licence.valid_to, licence.long_term) == (
        date(2020, 5, 10),
        date(2030, 5, 10),
        False,
    )
    assert licence.issuing_authority == body["IssuingAuthority"]
    assert recognition.warnings == []
    assert recognition.raw["CardCode"] == body["CardCode"]


@pytest.mark.parametrize(
    ("start", "end", "valid_to", "long_term"),
    [
        ("2020-05-10", "6年", date(2026, 5, 10), False),  # old cards print a period
        ("2020-05-10", "长期", None, True),
        ("20200510", "20300510", date(2030, 5, 10), False),
        ("2020-05-10", "", None, False),
    ],
)
async def test_driving_validity_forms(fake, make_vendor, photo, start, end, valid_to, long_term):
    fake.answer(Reply.success(samples.driver_front() | {"StartDate": start, "EndDate": end}))
    licence = (await make_vendor().recognize("driving", "front", photo)).document
    assert isinstance(licence, DrivingLicence)
    assert (licence.valid_from, licence.valid_to, licence.long_term) == (
        date(2020, 5, 10),
        valid_to,
        long_term,
    )


async def test_driving_back_fields(fake, make_vendor, photo):
    body = samples.driver_back()
    fake.answer(Reply.success(body))
    page = (await make_vendor().recognize("driving", "back", photo)).document
    assert isinstance(page, DrivingLicenceBack)
    assert (page.number, page.name) == (body["BackPageCardCode"], body["BackPageName"])
    assert (page.file_number, page.record) == (body["ArchivesCode"], body["Record"])


async def test_vehicle_front_fields(fake, make_vendor, photo):
    info = samples.vehicle_front_info()
    fake.answer(Reply.success(samples.vehicle("FRONT") | {"FrontInfo": info}))
    page = (await make_vendor().recognize("vehicle", "front", photo)).document
    assert isinstance(page, VehicleLicenceFront)
    assert page.plate_number == "京A12345"  # the printed middle dot is not part of the number
    expected = {
        "vehicle_type": "VehicleType", "owner": "Owner", "address": "Address",
        "use_character": "UseCharacter", "model": "Model", "vin": "Vin", "engine_number": "EngineNo",
        "issuing_authority": "Seal",
    }  # fmt: skip
    for ours, theirs in expected.items():
        assert getattr(page, ours) == info[theirs], ours
    assert (page.register_date, page.issue_date) == (date(2018, 3, 5), date(2018, 3, 6))


async def test_vehicle_back_fields(fake, make_vendor, photo):
    info = samples.vehicle_back_info() | {"LoadQuality": "500kg", "TotalQuasiMass": "3000kg", "Marks": "备注"}
    fake.answer(Reply.success(samples.vehicle("BACK") | {"BackInfo": info}))
    page = (await make_vendor().recognize("vehicle", "back", photo)).document
    assert isinstance(page, VehicleLicenceBack)
    expected = {
        "plate_number": "PlateNo", "file_number": "FileNo", "approved_passengers": "AllowNum",
        "total_mass": "TotalMass", "curb_weight": "CurbWeight", "approved_load": "LoadQuality",
        "dimensions": "ExternalSize", "traction_mass": "TotalQuasiMass", "remarks": "Marks",
        "inspection_record": "Record",
    }  # fmt: skip
    for ours, theirs in expected.items():
        assert getattr(page, ours) == info[theirs], ours
    assert page.inspection_valid_until == date(2024, 3, 31)  # 检验有效期至2024年03月: through month end


async def test_plates_all_of_them_with_boxes_in_the_senders_pixels(fake, make_vendor):
    big = load(render((6000, 1500)))  # over the 4096 px limit: the vendor sees a downscaled copy
    fake.answer(
        Reply.success(
            samples.plates(
                samples.plate_info("粤B·D12345", "绿", 97, (400, 300, 600, 180)),
                samples.plate_info("京A12345", "蓝", 88, (2000, 500, 400, 120)),
            )
        )
    )
    recognition = await make_vendor().recognize("plate", "front", big)
    seen_width, _ = fake.received[0].image_size
    assert seen_width == 4096 and seen_width < big.width
    ratio = big.width / seen_width
    first, second = recognition.plates
    assert (first.number, first.color, first.confidence) == (
        "粤BD12345",
        PlateColor.GREEN,
        pytest.approx(0.97),
    )
    assert (second.number, second.color, second.confidence) == (
        "京A12345",
        PlateColor.BLUE,
        pytest.approx(0.88),
    )
    assert first.box is not None and second.box is not None
    edges = (first.box.x, first.box.y, first.box.width, first.box.height)
    for got, want in zip(edges, (400, 300, 600, 180), strict=True):
        assert abs(got - want * ratio) <= 1
    assert abs(second.box.x - 2000 * ratio) <= 1


async def test_plate_from_top_level_fields_when_there_is_no_list(fake, make_vendor, photo):
    body = samples.plate_info("沪C12345", "黄", 100, (10, 20, 30, 40))
    fake.answer(Reply.success(body))
    [plate] = (await make_vendor().recognize("plate", "front", photo)).plates
    assert (plate.number, plate.color, plate.confidence) == ("沪C12345", PlateColor.YELLOW, 1.0)
    assert plate.box is not None and (plate.box.x, plate.box.y, plate.box.width, plate.box.height) == (
        10,
        20,
        30,
        40,
    )


@pytest.mark.parametrize(
    ("color", "expected"),
    [
        ("白", PlateColor.WHITE),
        ("黑", PlateColor.BLACK),
        ("蓝", PlateColor.BLUE),
        ("绿", PlateColor.GREEN),
        ("黄", PlateColor.YELLOW),
        ("黄绿", PlateColor.YELLOW_GREEN),
        ("临牌", PlateColor.OTHER),
        ("喷漆", PlateColor.OTHER),
        ("其它", PlateColor.OTHER),
    ],
)
async def test_plate_colours(fake, make_vendor, photo, color, expected):
    fake.answer(Reply.success(samples.plates(samples.plate_info("京A12345", color, 90, (1, 1, 9, 9)))))
    [plate] = (await make_vendor().recognize("plate", "front", photo)).plates
    assert plate.color is expected


async def test_warning_codes_become_photo_warnings(fake, make_vendor, photo):
    codes = [-9102, -9103, -9104, -9105, -9106, -9999]
    messages = ["复印件告警", "翻拍件告警", "反光告警", "模糊告警", "边框不完整告警", "未知"]
    fake.answer(
        Reply.success(samples.driver_front() | {"RecognizeWarnCode": codes, "RecognizeWarnMsg": messages})
    )
    recognition = await make_vendor().recognize("driving", "front", photo)
    found = [(w.code, w.severity, w.params["vendor_code"]) for w in recognition.warnings]
    assert found == [
        ("photo_copy", "warning", -9102),
        ("photo_screen", "warning", -9103),
        ("photo_glare", "warning", -9104),
        ("photo_blur", "warning", -9105),
        ("photo_incomplete", "warning", -9106),
    ]
    assert recognition.document is not None and recognition.document.number  # still read


async def test_vehicle_warnings_too(fake, make_vendor, photo):
    fake.answer(Reply.success(samples.vehicle("BACK") | {"RecognizeWarnCode": [-9104]}))
    recognition = await make_vendor().recognize("vehicle", "back", photo)
    assert [w.code for w in recognition.warnings] == ["photo_glare"]


@pytest.mark.parametrize(
    ("kind", "side", "body"),
    [
        ("driving", "front", {k: "" for k in samples.driver_front()} | {"RecognizeWarnCode": []}),
        ("driving", "back", {"Name": "", "CardCode": "", "ArchivesCode": "", "Record": ""}),
        ("vehicle", "front", samples.vehicle("BACK")),  # FrontInfo null: the page asked for is absent
        (
            "vehicle",
            "back",
            samples.vehicle("BACK") | {"BackInfo": {"PlateNo": "", "FileNo": "", "AllowNum": ""}},
        ),
        ("plate", "front", samples.plates()),
    ],
)
async def test_success_with_empty_fields_is_not_found(fake, make_vendor, photo, sleeps, kind, side, body):
    fake.answer(Reply.success(body))
    error = await failure(make_vendor(), kind, side, photo)
    assert error.category is ErrorCategory.NOT_FOUND
    assert len(fake.received) == 1 and sleeps.delays == []


# ---------------------------------------------------------------------------------------- errors

DOCUMENTED_CODES = {
    ErrorCategory.AUTH: [
        "AuthFailure.SignatureFailure", "AuthFailure.SignatureExpire", "AuthFailure.SecretIdNotFound",
        "AuthFailure.InvalidSecretId", "AuthFailure.TokenFailure", "AuthFailure.UnauthorizedOperation",
        "FailedOperation.UnOpenError", "UnauthorizedOperation",
    ],
    ErrorCategory.QUOTA_OR_RATE: [
        "RequestLimitExceeded", "RequestLimitExceeded.UinLimitExceeded", "FailedOperation.CountLimitError",
        "FailedOperation.ArrearsError", "FailedOperation.UserQuotaError", "ResourceUnavailable.InArrears",
        "ResourceUnavailable.ResourcePackageRunOut", "ResourcesSoldOut.ChargeStatusException",
    ],
    ErrorCategory.BAD_IMAGE: [
        "FailedOperation.ImageDecodeFailed", "FailedOperation.ImageSizeTooLarge",
        "FailedOperation.EmptyImageError", "FailedOperation.ImageBlur", "FailedOperation.DownLoadError",
        "InvalidParameter.EngineImageDecodeFailed", "LimitExceeded.TooLargeFileError",
    ],
    ErrorCategory.NOT_FOUND: [
        "FailedOperation.NoDriverLicenseError", "FailedOperation.NoVehicleLicenseError",
        "FailedOperation.ImageNoText", "FailedOperation.ImageNoSpecifiedCard",
        "FailedOperation.LicenseCardSideError", "FailedOperation.CardSideError",
        "FailedOperation.MultiCardError", "FailedOperation.LicenseMultiCardError",
    ],
    ErrorCategory.SERVER: [
        "InternalError", "FailedOperation.OcrFailed", "FailedOperation.EngineRecognizeTimeout",
        "FailedOperation.UnKnowError",
    ],
}  # fmt: skip
CODE_CASES = [(code, category) for category, codes in DOCUMENTED_CODES.items() for code in codes]
TRANSIENT = {
    "RequestLimitExceeded",
    "RequestLimitExceeded.UinLimitExceeded",
    *DOCUMENTED_CODES[ErrorCategory.SERVER],
}


@pytest.mark.parametrize(("code", "category"), CODE_CASES)
async def test_each_documented_error_code(fake, make_vendor, photo, sleeps, code, category):
    fake.answer(*[Reply.error(code, f"message for {code}")] * 3)
    error = await failure(make_vendor(), "driving", "front", photo)
    assert (error.category, error.code, error.vendor) == (category, code, "tencent")
    assert error.message.startswith(f"message for {code}")  # the vendor's words are kept for the log
    tries = 3 if code in TRANSIENT else 1  # a daily quota or arrears doesn't clear in seconds
    assert len(fake.received) == tries and len(sleeps.delays) == tries - 1


async def test_transient_errors_are_retried_with_growing_backoff(fake, make_vendor, photo, sleeps):
    fake.answer(Reply.error("RequestLimitExceeded"), Reply.error("InternalError"))
    vendor = make_vendor(attempts=4)
    ticks = itertools.count()
    start = fake.clock()
    vendor._clock = lambda: start + 10 * next(ticks)
    recognition = await vendor.recognize("driving", "front", photo)
    assert recognition.document is not None and len(fake.received) == 3
    first, second = sleeps.delays
    assert 0.25 <= first <= 0.5 and 0.5 <= second <= 1.0  # base 0.5, doubled, up to half of it jittered off
    assert len({r.headers["x-tc-timestamp"] for r in fake.received}) == 3  # each attempt is signed afresh


async def test_requests_malformed_by_us_are_not_retried(fake, make_vendor, photo, sleeps):
    fake.answer(Reply.error("UnknownParameter", "Unknown parameter `Foo`."))
    error = await failure(make_vendor(), "plate", "front", photo)
    assert error.code == "UnknownParameter" and len(fake.received) == 1 and sleeps.delays == []


async def test_slow_answer_times_out_and_is_retried(fake, make_vendor, photo, sleeps):
    fake.answer(Reply.slow(3.0))
    recognition = await make_vendor(timeout=1.0).recognize("plate", "front", photo)
    assert recognition.plates and len(fake.received) == 2 and len(sleeps.delays) == 1


async def test_slow_answer_is_a_timeout_when_attempts_run_out(fake, make_vendor, photo):
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


async def test_image_that_cannot_fit_the_limits_is_a_bad_image(fake, make_vendor):
    sliver = load(render((30_000, 100), "PNG"))  # 4096 px long side would leave 14 px: under the minimum
    error = await failure(make_vendor(), "plate", "front", sliver)
    assert (error.category, error.code) == (ErrorCategory.BAD_IMAGE, "too_thin")
    assert fake.received == []


async def test_concurrency_limit_is_respected(make_vendor, photo):
    with FakeTencent(SECRET_ID, SECRET_KEY, hold=0.3) as slow_fake:
        vendor = make_vendor(endpoint=slow_fake.url, max_concurrency=2)
        results = await asyncio.gather(*(vendor.recognize("plate", "front", photo) for _ in range(5)))
        assert all(result.plates for result in results)
        assert len(slow_fake.received) == 5
        assert slow_fake.max_in_flight == 2


# ------------------------------------------------------------------------------- config and registry


def test_settings_keep_the_secret_out_of_reprs():
    settings = TencentSettings.model_validate({"secret_id": "AKIDx", "secret_key": "very-secret-value"})
    assert "very-secret-value" not in repr(settings) and "very-secret-value" not in str(settings)
    assert settings.endpoint == "https://ocr.tencentcloudapi.com"
    assert settings.secret_key.get_secret_value() == "very-secret-value"


def test_registered_and_built_from_a_config_table():
    assert vendor_class("tencent") is TencentVendor
    vendor = build_vendor("tencent", {"secret_id": "AKIDx", "secret_key": "k", "max_concurrency": 3})
    assert isinstance(vendor, TencentVendor) and vendor.settings.max_concurrency == 3
    with pytest.raises(ValueError):
        build_vendor("tencent", {"secret_id": "AKIDx", "secret_key": "k", "typo": 1})


def test_recognize_cli_end_to_end(fake, tmp_path: Path, capsys):
    photo_path = tmp_path / "licence.jpg"
    photo_path.write_bytes(render((1000, 640)))
    config = tmp_path / "config.toml"
    config.write_text(
        f'[bot]\ndatabase = "{tmp_path / "log.db"}"\n'
        f'[vendors.tencent]\nendpoint = "{fake.url}"\nsecret_id = "{SECRET_ID}"\n'
        f'secret_key = "{SECRET_KEY}"\ntimeout = 5\nmax_concurrency = 2\n',
        encoding="utf-8",
    )
    fake.answer(Reply.success(samples.driver_front() | {"RecognizeWarnCode": [-9104]}))
    argv = ["recognize", str(photo_path), "--kind", "driving", "--vendor", "tencent", "--json"]
    assert main([*argv, "--config", str(config)]) == 0
    result = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert result["vendor"] == "tencent" and result["status"] == "ok"
    assert result["fields"]["number"] == "11010519491231002X"
    assert result["fields"]["valid_to"] == "2030-05-10"
    assert "photo_glare" in [w["code"] for w in result["warnings"]]
    assert [r.action for r in fake.received] == ["DriverLicenseOCR"] and fake.received[0].error is None


def test_recognize_cli_reports_a_vendor_error(fake, tmp_path: Path, capsys):
    photo_path = tmp_path / "plate.png"
    photo_path.write_bytes(render((800, 400), "PNG"))
    config = tmp_path / "config.toml"
    config.write_text(
        f'[bot]\ndatabase = "{tmp_path / "log.db"}"\n'
        f'[vendors.tencent]\nendpoint = "{fake.url}"\nsecret_id = "{SECRET_ID}"\nsecret_key = "wrong"\n',
        encoding="utf-8",
    )
    argv = ["recognize", str(photo_path), "--kind", "plate", "--vendor", "tencent", "--json"]
    assert main([*argv, "--config", str(config)]) != 0
    result = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert result["error"]["category"] == "auth" and result["error"]["code"] == "AuthFailure.SignatureFailure"


# ------------------------------------------------------------------------- the fake's own limits


def _bmp(width: int, height: int) -> IntakeImage:
    buffer = io.BytesIO()
    Image.new("RGB", (width, height), "white").save(buffer, "BMP")
    return load(buffer.getvalue())


async def test_the_fake_refuses_what_tencent_documents_it_refuses(fake, make_vendor, monkeypatch):
    """Were the adapter's limits loosened (BMP sent as is, 7 MB of base64 or more), these tests must
    fail as Tencent would: plates are PNG/JPG only, a vehicle licence's base64 at most 7 MB."""
    formats = frozenset({"JPEG", "PNG", "BMP"})
    loose = ImageLimits(max_bytes=20_000_000, max_side=4096, min_side=15, formats=formats)
    monkeypatch.setattr(TencentVendor, "limits", loose)
    vendor = make_vendor(attempts=1)
    await vendor.recognize("driving", "front", _bmp(640, 420))  # BMP: fine for a licence
    plate = await failure(vendor, "plate", "front", _bmp(640, 420))
    assert (plate.category, plate.code) == (ErrorCategory.BAD_IMAGE, "FailedOperation.ImageDecodeFailed")
    large = await failure(vendor, "vehicle", "front", _bmp(2000, 1400))  # 8.4 MB raw: 11 MB of base64
    assert (large.category, large.code) == (ErrorCategory.BAD_IMAGE, "LimitExceeded.TooLargeFileError")
