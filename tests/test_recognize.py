"""One recognition end to end with real intake, checks, masking and SQLite; only the vendor is scripted."""

from __future__ import annotations

import asyncio
import hashlib
import json
import threading
import time
from datetime import date

import pytest

from bot import images
from bot.channels.base import Runtime
from bot.storage import SessionLog
from handlers.outcome import Status
from handlers.recognize import CONCURRENT_DECODES, Context, Recognizer, Request, ResultCache
from handlers.replies import failure_text
from tests.fakes.vendors import ScriptedVendor

TODAY = date(2026, 11, 21)
CHAIN = '[vendors]\ndriving = ["scripted", "scripted_backup"]\nvehicle = ["scripted"]\nplate = ["scripted"]\n'


def recognizer_for(config, **kwargs) -> Recognizer:
    return Recognizer(config, SessionLog(config.bot.database), today=lambda: TODAY, **kwargs)


def vendors(primary: str = "ok", backup: str = "ok", valid_to: str = "2030-01-01") -> str:
    return (
        f'[vendors.scripted]\noutcome = "{primary}"\nvalid_to = {valid_to}\n'
        f'[vendors.scripted_backup]\noutcome = "{backup}"\n'
    )


async def test_ok_recognition_is_checked_replied_and_logged_masked(make_config, photo_bytes):
    config = make_config(CHAIN + vendors(valid_to="2026-12-01"))
    recognizer = recognizer_for(config)
    context = Context(platform="telegram", chat_id="c1", chat_type="group", user_id="u1", message_id="m1")
    outcome = await recognizer.recognize(Request(kind="driving", data=photo_bytes, context=context))

    assert outcome.status == Status.OK
    assert outcome.recognition.document.number == "11010519491231002X"
    assert "licence_expiring" in [w.code for w in outcome.warnings]  # 10 days left, inside 90

    [row] = recognizer.session_log.history(limit=5)
    assert (row.platform, row.chat_id, row.user_id, row.message_id) == ("telegram", "c1", "u1", "m1")
    assert row.status == Status.OK and row.vendor == "scripted"
    assert row.width == 640 and row.height == 420 and len(row.image_sha256) == 64
    assert row.fields["number"] != "11010519491231002X"  # masked by default policy
    assert row.fields["number"].startswith("110105") and row.fields["number"].endswith("002X")
    assert row.vendor_ms is not None and row.total_ms >= row.vendor_ms > 0
    assert "licence_expiring" in [w["code"] for w in row.warnings]


@pytest.mark.parametrize(("days", "warned"), [(5, False), (30, True)])
async def test_the_expiry_warning_window_is_the_configured_one(make_config, photo_bytes, days, warned):
    config = make_config(CHAIN + vendors(valid_to="2026-12-01"), expiry_warning_days=days)  # 10 days left
    outcome = await recognizer_for(config).recognize(Request(kind="driving", data=photo_bytes))
    assert ("licence_expiring" in [w.code for w in outcome.warnings]) is warned


@pytest.mark.parametrize(("months", "warned"), [(6, False), (12, True)])
async def test_the_probation_period_is_the_configured_one(make_config, photo_bytes, months, warned):
    chain = CHAIN + "[vendors.scripted]\nfirst_issue_date = 2026-01-15\n[vendors.scripted_backup]\n"
    config = make_config(chain, probation_months=months)  # 6 months ended in July; 12 run to January
    outcome = await recognizer_for(config).recognize(Request(kind="driving", data=photo_bytes))
    assert ("probation" in [w.code for w in outcome.warnings]) is warned


@pytest.mark.parametrize(("policy", "expect_number"), [("full", "11010519491231002X"), ("none", None)])
async def test_store_fields_policy(make_config, photo_bytes, policy, expect_number):
    config = make_config(CHAIN + vendors(), store_fields=policy)
    recognizer = recognizer_for(config)
    await recognizer.recognize(Request(kind="driving", data=photo_bytes))
    [row] = recognizer.session_log.history()
    assert (row.fields or {}).get("number") == expect_number


async def test_with_store_fields_none_a_warning_keeps_no_value(make_config, photo_bytes):
    """A warning's message and some params quote the card (here the expiry date): "none" keeps neither."""
    logged = {}
    for policy in ("masked", "none"):
        config = make_config(CHAIN + vendors(valid_to="2026-12-01"), store_fields=policy)
        recognizer = recognizer_for(config)
        outcome = await recognizer.recognize(Request(kind="driving", data=photo_bytes))
        row = recognizer.session_log.history(limit=1)[0]  # the latest
        assert [w["code"] for w in row.warnings] == [w.code for w in outcome.warnings]
        logged[policy] = json.dumps(row.warnings)
    assert "2026-12-01" in logged["masked"]
    assert "2026-12-01" not in logged["none"] and "message" not in logged["none"]
    assert json.loads(logged["none"]) == [{"code": "licence_expiring", "severity": "warning", "params": {}}]


async def test_fall_through_is_logged_with_every_attempt(make_config, photo_bytes):
    recognizer = recognizer_for(make_config(CHAIN + vendors(primary="server")))
    outcome = await recognizer.recognize(Request(kind="driving", data=photo_bytes))
    assert outcome.status == Status.OK and outcome.recognition.vendor == "scripted_backup"
    [row] = recognizer.session_log.history()
    assert [a["vendor"] for a in row.attempts] == ["scripted", "scripted_backup"]
    assert [a["status"] for a in row.attempts] == ["server", "ok"]


@pytest.mark.parametrize(
    ("primary", "status", "category"),
    [
        ("not_found", Status.NOT_FOUND, "not_found"),
        ("empty", Status.NOT_FOUND, "not_found"),
        ("auth", Status.VENDOR_ERROR, "auth"),
        ("bad_image", Status.BAD_IMAGE, "bad_image"),
    ],
)
async def test_vendor_failures_become_outcomes_and_rows(make_config, photo_bytes, primary, status, category):
    recognizer = recognizer_for(make_config(CHAIN + vendors(primary=primary)))
    outcome = await recognizer.recognize(Request(kind="driving", data=photo_bytes))
    assert outcome.status == status and outcome.error_category == category
    [row] = recognizer.session_log.history()
    assert row.status == status and row.error_category == category


async def test_every_vendor_timing_out_is_a_vendor_error(make_config, photo_bytes):
    recognizer = recognizer_for(make_config(CHAIN + vendors(primary="timeout", backup="timeout")))
    outcome = await recognizer.recognize(Request(kind="driving", data=photo_bytes))
    assert outcome.status == Status.VENDOR_ERROR and outcome.error_category == "timeout"


@pytest.mark.parametrize(
    ("data", "reason"),
    [(b"", "empty"), (b"GIF89a" + b"\0" * 64, "gif"), (b"hello, not a photo", "not_image")],
)
async def test_bad_input_gets_a_row_and_never_reaches_a_vendor(make_config, data, reason):
    recognizer = recognizer_for(make_config(CHAIN + vendors()))
    calls_before = _scripted_calls()
    outcome = await recognizer.recognize(Request(kind="driving", data=data))
    assert outcome.status == Status.BAD_IMAGE and outcome.reject_reason == reason
    assert _scripted_calls() == calls_before
    [row] = recognizer.session_log.history()
    assert row.status == Status.BAD_IMAGE and row.error_category == reason


async def test_lazy_fetch_is_timed(make_config, photo_bytes):
    recognizer = recognizer_for(make_config(CHAIN + vendors()))

    async def fetch() -> bytes:
        return photo_bytes

    await recognizer.recognize(Request(kind="plate", fetch=fetch))
    [row] = recognizer.session_log.history()
    assert row.download_ms is not None and row.plates[0]["number"] == "京A12345"


async def test_same_photo_again_is_answered_from_the_cache(make_config, photo_bytes):
    recognizer = recognizer_for(make_config(CHAIN + vendors()))
    calls_before = _scripted_calls()
    first = await recognizer.recognize(Request(kind="driving", data=photo_bytes))
    second = await recognizer.recognize(Request(kind="driving", data=photo_bytes))
    assert _scripted_calls() == calls_before + 1
    assert not first.cached and second.cached
    assert second.recognition.document == first.recognition.document
    rows = recognizer.session_log.history()
    assert [r.cached for r in rows] == [True, False]  # newest first


async def test_the_same_photo_asked_for_another_page_or_kind_is_not_answered_from_the_cache(
    make_config, photo_bytes
):
    recognizer = recognizer_for(make_config(CHAIN + vendors()))
    await recognizer.recognize(Request(kind="driving", data=photo_bytes))
    back = await recognizer.recognize(Request(kind="driving", side="back", data=photo_bytes))
    plate = await recognizer.recognize(Request(kind="plate", data=photo_bytes))
    assert not back.cached and back.status == Status.VENDOR_ERROR  # the scripted vendor reads no 副页
    assert not plate.cached and plate.recognition.plates[0].number == "京A12345"


async def test_cache_can_be_turned_off(make_config, photo_bytes):
    recognizer = recognizer_for(make_config(CHAIN + vendors(), cache_seconds=0))
    calls_before = _scripted_calls()
    for _ in range(2):
        await recognizer.recognize(Request(kind="driving", data=photo_bytes))
    assert _scripted_calls() == calls_before + 2


def test_cache_entries_expire():
    now = [0.0]
    cache = ResultCache(ttl=600, clock=lambda: now[0])
    from bot.models import Recognition
    from tests.fakes.vendors import sample_licence

    recognition = Recognition(kind="driving", vendor="x", document=sample_licence(date(2030, 1, 1)))
    cache.put("abc", "driving", "front", recognition)
    now[0] = 599
    assert cache.get("abc", "driving", "front") is recognition
    assert cache.get("abc", "driving", "back") is None
    now[0] = 601
    assert cache.get("abc", "driving", "front") is None


def _scripted_calls() -> int:
    from tests.fakes.vendors import ScriptedPrimary

    return ScriptedPrimary.calls


async def test_a_fetch_the_platform_refuses_or_that_fails_still_gets_a_row(make_config):
    from bot.images import ImageRejected

    recognizer = recognizer_for(make_config(CHAIN + vendors()))

    async def too_big() -> bytes:
        raise ImageRejected("too_large", "declared 25 MB")

    async def broken() -> bytes:
        raise ConnectionError("file server went away")

    refused = await recognizer.recognize(Request(kind="driving", fetch=too_big))
    failed = await recognizer.recognize(Request(kind="driving", fetch=broken))
    assert (refused.status, refused.reject_reason) == (Status.BAD_IMAGE, "too_large")
    assert (failed.status, failed.error_category) == (Status.VENDOR_ERROR, "download")
    rows = recognizer.session_log.history()
    assert [r.status for r in rows] == [Status.VENDOR_ERROR, Status.BAD_IMAGE]
    assert all(r.download_ms is not None for r in rows)


async def test_small_plate_crops_pass_intake_but_small_licence_photos_do_not(make_config):
    import io

    from PIL import Image

    buffer = io.BytesIO()
    Image.new("RGB", (94, 24), (20, 60, 200)).save(buffer, "JPEG")  # the size of a camera's plate crop
    recognizer = recognizer_for(make_config(CHAIN + vendors()))
    plate = await recognizer.recognize(Request(kind="plate", data=buffer.getvalue()))
    licence = await recognizer.recognize(Request(kind="driving", data=buffer.getvalue()))
    assert plate.status == Status.OK
    assert (licence.status, licence.reject_reason) == (Status.BAD_IMAGE, "too_small")


@pytest.mark.parametrize(
    ("code", "reason"), [("too_thin", "too_thin"), ("too_small", None), ("too_large", None)]
)
async def test_only_a_vendors_strip_refusal_gets_intakes_reply(make_config, photo_bytes, code, reason):
    """A strip a vendor would bring down to a few pixels is one whoever says so. A vendor's own size
    limits are not intake's (100 px where a plate needs 15, 4 MB where intake takes 20), so their texts
    would be untrue: those get the vendor-refusal reply."""
    chain = CHAIN + f'[vendors.scripted]\noutcome = "bad_image"\nerror_code = "{code}"\n'
    outcome = await recognizer_for(make_config(chain)).recognize(Request(kind="plate", data=photo_bytes))
    assert (outcome.status, outcome.reject_reason) == (Status.BAD_IMAGE, reason)
    expected = "The picture is a long thin strip" if reason else "The recognition service could not process"
    assert failure_text(outcome, "en").startswith(expected)


async def test_a_strip_the_engine_brings_down_to_a_few_pixels_is_refused_as_a_long_thin_strip(make_config):
    import io

    from PIL import Image

    buffer = io.BytesIO()
    Image.new("RGB", (4000, 16), (20, 60, 200)).save(buffer, "PNG")  # passes intake's 15 px; 6 px once scaled
    config = make_config('[vendors]\ndriving = ["local"]\nvehicle = ["local"]\nplate = ["local"]\n')
    outcome = await recognizer_for(config).recognize(Request(kind="plate", data=buffer.getvalue()))
    assert (outcome.status, outcome.reject_reason) == (Status.BAD_IMAGE, "too_thin")
    assert failure_text(outcome, "en").startswith("The picture is a long thin strip")


async def test_intake_decodes_only_as_far_as_the_chain_needs(make_config, photo_bytes):
    """The scripted vendor uploads bytes like a cloud vendor: intake proves the photo decodes, at 1/8."""
    recognizer = recognizer_for(make_config(CHAIN + vendors()))
    vendor = recognizer.chains["driving"].vendors[0]
    seen = []
    original = vendor.recognize

    async def spying(kind, side, image):
        seen.append(image)
        return await original(kind, side, image)

    vendor.recognize = spying
    await recognizer.recognize(Request(kind="driving", data=photo_bytes))

    [image] = seen
    assert (image.width, image.height) == (640, 420)
    assert image._image is not None and image._image.size == (80, 53)  # libjpeg's 1/8 draft


async def test_a_page_no_configured_vendor_reads_is_not_blamed_on_the_photo(make_config, photo_bytes):
    """Megvii reads no vehicle licence back page: retaking the photo cannot help, the operator can."""
    config = make_config(
        '[vendors]\nvehicle = ["megvii"]\n[vendors.megvii]\napi_key = "k"\napi_secret = "s"\n'
    )
    recognizer = recognizer_for(config)
    outcome = await recognizer.recognize(Request(kind="vehicle", side="back", data=photo_bytes))
    assert outcome.status == Status.VENDOR_ERROR and outcome.error_code == "unsupported"
    zh, en = failure_text(outcome, "zh"), failure_text(outcome, "en")
    assert "行驶证副页" in zh and "管理员" in zh and "平放" not in zh
    assert "vehicle licence (second page)" in en and "administrator" in en
    [row] = recognizer.session_log.history()
    assert row.status == Status.VENDOR_ERROR and row.error_code == "unsupported"


async def test_no_more_than_two_photos_are_decoded_at_once(make_config, photo_bytes, monkeypatch):
    """A large PNG needs hundreds of megabytes while it decodes: a burst must queue, not add up."""
    recognizer = recognizer_for(make_config(CHAIN + vendors(), cache_seconds=0))
    load, running, most = images.load, [0], [0]
    lock = threading.Lock()
    paired = threading.Event()

    def counted_load(*args, **kwargs):
        with lock:
            running[0] += 1
            most[0] = max(most[0], running[0])
            if running[0] >= 2:
                paired.set()
        try:
            # Each decode lasts until a second one runs beside it (or 5 s): the burst piles up if
            # nothing holds it back, however slowly the machine starts the threads.
            paired.wait(timeout=5)
            time.sleep(0.05)
            return load(*args, **kwargs)
        finally:
            with lock:
                running[0] -= 1

    monkeypatch.setattr(images, "load", counted_load)
    outcomes = await asyncio.gather(
        *(recognizer.recognize(Request(kind="driving", data=photo_bytes)) for _ in range(6))
    )
    assert all(outcome.status == Status.OK for outcome in outcomes)
    assert most[0] == CONCURRENT_DECODES == 2


async def test_a_recognition_cut_off_by_shutdown_is_logged_as_interrupted(make_config, photo_bytes):
    chain = CHAIN + "[vendors.scripted]\ndelay = 30\n[vendors.scripted_backup]\n"
    recognizer = recognizer_for(make_config(chain))
    context = Context(platform="wechat", chat_id="c1", chat_type="private", user_id="u7", message_id="m9")
    ScriptedVendor.running = 0
    request = Request(kind="driving", data=photo_bytes, context=context)
    task = asyncio.create_task(recognizer.recognize(request))
    while ScriptedVendor.running == 0:  # until the vendor call is under way
        await asyncio.sleep(0.01)
    task.cancel()  # what the runtime's drain does once the shutdown grace has run out
    with pytest.raises(asyncio.CancelledError):
        await task

    [row] = recognizer.session_log.history()
    assert row.status == Status.INTERRUPTED
    assert (row.user_id, row.message_id, row.kind) == ("u7", "m9", "driving")
    # The photo it dropped is known, so a resend can be matched to it.
    assert (row.image_sha256, row.image_bytes) == (hashlib.sha256(photo_bytes).hexdigest(), len(photo_bytes))


async def test_the_runtime_drain_lets_a_cut_off_recognition_log_itself_before_the_log_closes(
    make_config, photo_bytes
):
    """The drain cancelled and went on: the server closed the session log before the cancelled task ran
    its handler, so the `interrupted` row was lost after all."""
    config = make_config(CHAIN + "[vendors.scripted]\ndelay = 30\n[vendors.scripted_backup]\n")
    runtime = Runtime.from_config(config)
    ScriptedVendor.running = 0
    request = Request(kind="driving", data=photo_bytes, context=Context(platform="wechat", user_id="u8"))
    runtime.spawn(runtime.dispatcher.recognizer.recognize(request), "recognition")
    while ScriptedVendor.running == 0:
        await asyncio.sleep(0.01)
    assert await runtime.drain(0.05) == 1
    await runtime.aclose()  # what the server does next
    with SessionLog(config.bot.database) as reopened:
        assert [(row.user_id, row.status) for row in reopened.history()] == [("u8", Status.INTERRUPTED)]


async def test_the_same_photo_sent_again_while_it_is_read_waits_for_that_read(make_config, photo_bytes):
    """A resend because the answer is slow, or one photo forwarded by several people in a rush, queued a
    second read of it; it now shares the read under way, logged as answered from the cache."""
    recognizer = recognizer_for(
        make_config(CHAIN + "[vendors.scripted]\ndelay = 0.3\n[vendors.scripted_backup]\n")
    )
    calls_before = _scripted_calls()
    outcomes = await asyncio.gather(
        *(recognizer.recognize(Request(kind="driving", data=photo_bytes)) for _ in range(3))
    )
    assert _scripted_calls() == calls_before + 1
    assert all(outcome.status == Status.OK for outcome in outcomes)
    assert sorted(outcome.cached for outcome in outcomes) == [False, True, True]


async def test_a_read_that_fails_leaves_the_requests_waiting_on_it_to_read_for_themselves(
    make_config, photo_bytes
):
    chain = '[vendors]\ndriving = ["scripted"]\n[vendors.scripted]\noutcome = "server"\ndelay = 0.3\n'
    recognizer = recognizer_for(make_config(chain))
    calls_before = _scripted_calls()
    outcomes = await asyncio.gather(
        *(recognizer.recognize(Request(kind="driving", data=photo_bytes)) for _ in range(2))
    )
    assert _scripted_calls() == calls_before + 2  # a failure is not shared: the vendor may answer now
    assert [outcome.status for outcome in outcomes] == [Status.VENDOR_ERROR] * 2


async def test_a_request_waiting_on_a_read_that_a_stop_cuts_off_reads_the_photo_itself(
    make_config, photo_bytes
):
    recognizer = recognizer_for(
        make_config(CHAIN + "[vendors.scripted]\ndelay = 0.3\n[vendors.scripted_backup]\n")
    )
    ScriptedVendor.running = 0
    first = asyncio.create_task(recognizer.recognize(Request(kind="driving", data=photo_bytes)))
    while ScriptedVendor.running == 0:  # until its read is under way
        await asyncio.sleep(0.01)
    second = asyncio.create_task(recognizer.recognize(Request(kind="driving", data=photo_bytes)))
    await asyncio.sleep(0.05)  # the second is waiting on the first's read
    first.cancel()
    with pytest.raises(asyncio.CancelledError):
        await first
    outcome = await second
    assert outcome.status == Status.OK and not outcome.cached


async def test_a_waiting_request_cut_off_leaves_the_read_and_the_other_waiters_alone(
    make_config, photo_bytes
):
    recognizer = recognizer_for(
        make_config(CHAIN + "[vendors.scripted]\ndelay = 1.0\n[vendors.scripted_backup]\n")
    )
    ScriptedVendor.running = 0
    calls_before = _scripted_calls()
    first = asyncio.create_task(recognizer.recognize(Request(kind="driving", data=photo_bytes)))
    while ScriptedVendor.running == 0:
        await asyncio.sleep(0.01)
    waiting = [
        asyncio.create_task(recognizer.recognize(Request(kind="driving", data=photo_bytes))) for _ in range(2)
    ]
    await asyncio.sleep(0.3)  # both wait on the first's read (decoding the photo takes milliseconds)
    waiting[0].cancel()
    with pytest.raises(asyncio.CancelledError):
        await waiting[0]
    read, shared = await first, await waiting[1]
    assert read.status == shared.status == Status.OK and shared.cached
    assert _scripted_calls() == calls_before + 1


async def test_another_page_of_the_same_photo_at_the_same_time_is_read_on_its_own(make_config, photo_bytes):
    recognizer = recognizer_for(
        make_config(CHAIN + "[vendors.scripted]\ndelay = 0.3\n[vendors.scripted_backup]\n")
    )
    front, back = await asyncio.gather(
        recognizer.recognize(Request(kind="driving", data=photo_bytes)),
        recognizer.recognize(Request(kind="driving", side="back", data=photo_bytes)),
    )
    assert front.status == Status.OK
    assert back.status == Status.VENDOR_ERROR and not back.cached  # the scripted vendor reads no 副页
