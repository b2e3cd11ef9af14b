"""The embedded engine's queue in a rush: the time limit counts reading only, a long queue is refused at
once as busy (and the chain moves on), a photo whose turn comes too late or whose request was given up
is never read. The engine's read is replaced by a pause of a set length, so the queue is what is tested,
not OCR."""

from __future__ import annotations

import asyncio
import io
import threading
import time
from dataclasses import dataclass, field

import numpy as np
import pytest
from PIL import Image

from bot import metrics
from bot.config import load_config
from bot.images import IntakeImage, load
from bot.models import Plate, PlateColor, Recognition
from bot.storage import SessionLog
from bot.vendors.base import BUSY, READ_FOR, ErrorCategory, VendorChain, VendorError, build_vendor
from bot.vendors.local import engine_queue
from bot.vendors.local import vendor as local
from bot.vendors.local.engine_queue import FIRST_GUESS_SECONDS, EngineQueue, QueuedRead
from bot.vendors.local.ocr import OcrLine, shared_engine
from handlers.outcome import Outcome, Status
from handlers.recognize import Context, Recognizer, Request
from handlers.replies import failure_text


@dataclass
class Reads:
    """How long each read takes (in order; then `usual`), and which photos (by width) were begun and read."""

    usual: float = 0.3
    lengths: list[float] = field(default_factory=list)
    begun: list[int] = field(default_factory=list)
    done: list[int] = field(default_factory=list)


@pytest.fixture
def reads(monkeypatch) -> Reads:
    script = Reads()

    def read(self, kind, side, image) -> Recognition:
        if image.width == 1:  # a photo the engine refuses at once
            raise VendorError("local", ErrorCategory.BAD_IMAGE, "too_small")
        script.begun.append(image.width)
        time.sleep(script.lengths.pop(0) if script.lengths else script.usual)
        script.done.append(image.width)
        plate = Plate(number="京A12345", color=PlateColor.BLUE, confidence=0.9)
        return Recognition(kind=kind, side=side, vendor="local", plates=[plate])

    fresh = EngineQueue()  # the process's is shared
    monkeypatch.setattr(local, "ENGINE_QUEUE", fresh)
    monkeypatch.setattr(engine_queue, "ENGINE_QUEUE", fresh)  # what /metrics reads
    monkeypatch.setattr(local.LocalVendor, "recognize_sync", read)
    return script


async def under_way(reads: Reads, width: int = 320) -> None:
    """Until the engine has begun reading a photo this wide: waiting a set time instead raced the worker
    thread on a loaded machine."""
    while width not in reads.begun:
        await asyncio.sleep(0.01)


def photo_bytes(width: int = 320) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (width, 200), "white").save(buffer, "JPEG")
    return buffer.getvalue()


def photo(width: int = 320) -> IntakeImage:
    return load(photo_bytes(width), min_side=1)


async def all_at_once(vendor, count: int, width: int = 320) -> list[Recognition | BaseException]:
    calls = (vendor.recognize("plate", "front", photo(width)) for _ in range(count))
    return await asyncio.gather(*calls, return_exceptions=True)


def busy(outcomes: list[Recognition | BaseException]) -> int:
    refused = [outcome for outcome in outcomes if isinstance(outcome, VendorError)]
    assert all((error.category, error.code) == (ErrorCategory.QUOTA_OR_RATE, BUSY) for error in refused)
    return len(refused)


async def test_the_time_limit_counts_reading_not_waiting(reads):
    """Eight photos at once, each read in 0.2 s under a 1 s limit: the last waits 1.4 s, and was told
    the service had timed out while the limit counted its wait."""
    reads.usual = 0.2
    outcomes = await all_at_once(build_vendor("local", {"timeout": 1.0, "max_wait": 60}), 8)
    assert all(isinstance(outcome, Recognition) for outcome in outcomes) and len(reads.done) == 8


async def test_a_queue_longer_than_max_wait_is_refused_at_once_as_busy(reads):
    vendor = build_vendor("local", {"max_wait": 1.5 * FIRST_GUESS_SECONDS})
    assert busy(await all_at_once(vendor, 4)) == 2  # expected waits of 0, 1, 2 and 3 first guesses
    # Reads measured at 0.3 s: three photos now expect waits of 0, 0.3 and 0.6 s, all within 1.05 s.
    assert busy(await all_at_once(vendor, 3)) == 0 and len(reads.done) == 5


async def test_photos_refused_in_a_moment_do_not_make_the_queue_look_short(reads):
    """A typical read is taken from reads that succeeded: instant refusals pulled a running average
    towards zero, and a queue of minutes was then let in."""
    vendor = build_vendor("local", {"max_wait": 1.5 * FIRST_GUESS_SECONDS})
    await all_at_once(vendor, 8, width=1)  # eight bad photos, refused in a moment
    assert busy(await all_at_once(vendor, 4)) == 2


async def test_a_photo_whose_turn_comes_too_late_is_refused_unread(reads):
    """The estimate may be wrong (here, fast reads and then a slow one): a photo still waiting after
    twice max_wait is refused when its turn comes, not read that late."""
    vendor = build_vendor("local", {"max_wait": 0.2})
    reads.lengths = [0.01] * 10 + [1.0]
    for _ in range(10):
        await all_at_once(vendor, 1)
    slow = asyncio.create_task(vendor.recognize("plate", "front", photo(500)))
    await under_way(reads, 500)  # a typical read is 0.01 s
    with pytest.raises(VendorError) as late:
        await vendor.recognize("plate", "front", photo(700))
    assert (late.value.category, late.value.code) == (ErrorCategory.QUOTA_OR_RATE, BUSY)
    await slow
    assert 700 not in reads.done


async def test_a_busy_engine_hands_the_photo_to_the_next_vendor(reads):
    engine = build_vendor("local", {"max_wait": 0.5 * FIRST_GUESS_SECONDS})
    first = asyncio.create_task(engine.recognize("plate", "front", photo()))
    await under_way(reads)  # one photo on the engine: a new one would wait about a first guess
    result = await VendorChain([engine, build_vendor("scripted", {})]).recognize("plate", "front", photo())
    assert result.recognition is not None and result.recognition.vendor == "scripted"
    assert [(attempt.vendor, attempt.status, attempt.sent) for attempt in result.attempts] == [
        ("local", "quota_or_rate", False),  # refused unread: no engine call for `stats` to count
        ("scripted", "ok", True),
    ]
    await first
    assert len(reads.done) == 1


async def test_metrics_show_the_queue_before_users_are_told_it_is_busy(reads):
    vendor = build_vendor("local", {"max_wait": 60})
    calls = [asyncio.create_task(vendor.recognize("plate", "front", photo())) for _ in range(3)]
    await under_way(reads)  # one being read, two waiting
    exposition = metrics.render()[0].decode()
    assert "licence_bot_engine_queue_photos 3.0" in exposition
    assert f"licence_bot_engine_expected_wait_seconds {3 * FIRST_GUESS_SECONDS}" in exposition
    await asyncio.gather(*calls)
    assert "licence_bot_engine_queue_photos 0.0" in metrics.render()[0].decode()


def test_a_user_left_with_a_busy_engine_is_told_to_try_again_in_a_few_minutes():
    refused = {"error_category": "quota_or_rate", "error_code": BUSY}
    outcome = Outcome(status=Status.VENDOR_ERROR, kind="plate", **refused)
    assert "几分钟" in failure_text(outcome, "zh") and "a few minutes" in failure_text(outcome, "en")


async def test_a_photo_given_up_while_queued_is_never_read(reads):
    vendor = build_vendor("local", {"max_wait": 60})
    first = asyncio.create_task(vendor.recognize("plate", "front", photo(320)))
    queued = asyncio.create_task(vendor.recognize("plate", "front", photo(640)))
    await under_way(reads)  # the first is being read, the second waits behind it
    queued.cancel()  # its user's request was cut off (a shutdown)
    await first
    with pytest.raises(asyncio.CancelledError):
        await queued
    await asyncio.sleep(reads.usual)
    assert reads.done == [320]
    assert local.ENGINE_QUEUE.expected_wait() == 0


@pytest.fixture
def model_calls(monkeypatch) -> list[int]:
    """A read made of 50 model calls of 0.02 s, each first checking, as the engine does, whether the
    read was given up; the list holds how many calls each read made, in order."""
    made: list[int] = []

    def read(self, kind, side, image) -> Recognition:
        made.append(0)
        for _ in range(50):
            engine_queue.stop_if_given_up()
            made[-1] += 1
            time.sleep(0.02)
        return Recognition(kind=kind, side=side, vendor="local")

    fresh = EngineQueue()
    monkeypatch.setattr(local, "ENGINE_QUEUE", fresh)
    monkeypatch.setattr(local.LocalVendor, "recognize_sync", read)
    return made


async def settled() -> None:
    """Until the queue is empty: the worker has finished or dropped every photo handed to it."""
    while local.ENGINE_QUEUE.photos:
        await asyncio.sleep(0.01)


async def test_a_read_past_its_time_limit_stops_and_frees_the_engine(model_calls):
    """The limit used to end the wait only: the read went on to its end, and the photos behind it
    waited for a result nobody would see."""
    vendor = build_vendor("local", {"timeout": 0.1, "max_wait": 60})
    with pytest.raises(TimeoutError):
        await vendor.recognize("plate", "front", photo())
    await settled()
    assert 0 < model_calls[0] < 50


async def test_a_read_cut_off_by_a_stop_ends_at_its_next_model_call(model_calls):
    """A stop cancels the requests in flight once its grace period is over; the read under way must end
    too, or the interpreter waits for it at exit (it joins the worker thread), long after the grace."""
    vendor = build_vendor("local", {"max_wait": 60})
    reading = asyncio.create_task(vendor.recognize("plate", "front", photo()))
    while not model_calls:
        await asyncio.sleep(0.01)
    reading.cancel()
    with pytest.raises(asyncio.CancelledError):
        await reading
    await settled()
    assert model_calls[0] < 50


async def test_a_first_read_given_up_still_counts_as_the_one_that_loaded_the_models(model_calls):
    """The first read is left out of the typical read (it loads the models). When it was given up, the
    next one was left out in its place, and the queue kept a first guess for a read it had measured."""
    vendor = build_vendor("local", {"timeout": 0.1, "max_wait": 60})
    with pytest.raises(TimeoutError):
        await vendor.recognize("plate", "front", photo())
    await settled()
    patient = build_vendor("local", {"max_wait": 60})
    await patient.recognize("plate", "front", photo())  # 50 calls of 0.02 s: a second at least
    third = asyncio.create_task(patient.recognize("plate", "front", photo()))
    while len(model_calls) < 3:
        await asyncio.sleep(0.01)
    assert local.ENGINE_QUEUE.expected_wait() >= 1.0  # one photo times the read it measured
    await third


def test_the_real_engine_checks_before_each_model_call_whether_its_read_was_given_up():
    queue = EngineQueue()
    engine = shared_engine()
    page = np.full((120, 400, 3), 255, np.uint8)
    handed: list[QueuedRead[list[OcrLine]]] = []
    ready = threading.Event()

    def given_up_once_under_way() -> list[OcrLine]:
        ready.wait()
        handed[0].give_up()
        return engine.read(page)

    handed.append(queue.submit(given_up_once_under_way, started=lambda: None, give_up_after=60))
    ready.set()
    with pytest.raises(engine_queue.GivenUp):
        handed[0].future.result(timeout=60)
    kept = queue.submit(lambda: engine.read(page), started=lambda: None, give_up_after=60)
    assert kept.future.result(timeout=60) == []  # a blank page read to its end: no lines


# ------------------------------------------------------------------------------------- taking turns


async def sent_by(reader: str, vendor, width: int) -> Recognition:
    """A photo `reader` sent (the recognizer says whose photo it is through READ_FOR)."""
    READ_FOR.set(reader)  # in this task's own context only
    return await vendor.recognize("plate", "front", photo(width))


async def test_people_take_turns_so_an_album_does_not_hold_back_the_next_person(reads):
    """Read first come, first served, a photo sent just after a field worker's album of four waited
    for all four."""
    vendor = build_vendor("local", {"max_wait": 60})
    reads.lengths = [1.5]  # time enough for the next person to write while the first photo is read
    album = [asyncio.create_task(sent_by("telegram:worker", vendor, 400 + index)) for index in range(4)]
    await under_way(reads, 400)
    walk_in = asyncio.create_task(sent_by("wechat:customer", vendor, 500))
    await asyncio.gather(*album, walk_in)
    assert reads.begun == [400, 500, 401, 402, 403]


async def test_a_newcomer_goes_ahead_of_later_turns_but_not_of_the_turn_under_way(reads):
    """Each person's first photo waiting takes the turn being read; their next, the turn after."""
    vendor = build_vendor("local", {"max_wait": 60})
    reads.lengths = [1.0, 0.3, 1.5]  # 400, 500, then 401, read while the others write
    album = [asyncio.create_task(sent_by("a", vendor, 400 + index)) for index in range(3)]
    await under_way(reads, 400)
    early = [asyncio.create_task(sent_by(name, vendor, width)) for name, width in (("b", 500), ("b", 501))]
    await under_way(reads, 401)  # turn 1 under way: b's second photo waits in it
    late = asyncio.create_task(sent_by("c", vendor, 600))
    await asyncio.gather(*album, *early, late)
    assert reads.begun == [400, 500, 401, 501, 600, 402]


async def test_a_newcomer_behind_an_album_expects_one_read_and_is_not_refused_as_busy(reads):
    """The wait a photo expects counts only the turns before its own: counting the whole queue told
    the next person the engine was busy because someone else had sent an album."""
    vendor = build_vendor("local", {"max_wait": 1.5 * FIRST_GUESS_SECONDS})
    reads.lengths = [0.8]  # 401 then begins at 1.1 s, well inside its 2.1 s
    album = [asyncio.create_task(sent_by("worker", vendor, 400 + index)) for index in range(4)]
    await under_way(reads, 400)
    assert local.ENGINE_QUEUE.expected_wait("worker") == 2 * FIRST_GUESS_SECONDS  # its two ahead
    assert local.ENGINE_QUEUE.expected_wait("customer") == FIRST_GUESS_SECONDS  # the one being read
    assert isinstance(await sent_by("customer", vendor, 500), Recognition)
    assert busy(await asyncio.gather(*album, return_exceptions=True)) == 2  # each expected two reads ahead
    assert reads.done == [400, 500, 401]


async def test_a_photo_whose_turn_does_not_come_is_refused_at_its_time_limit_all_the_same(reads):
    """Newcomers keep taking the turn being read, so an album's later photo may not get a turn while
    they come; it was refused only once its turn came. It is refused at its time limit, unread."""
    vendor = build_vendor("local", {"max_wait": FIRST_GUESS_SECONDS})  # refused after 1.4 s of waiting
    reads.lengths = [2.5]  # the engine is still on the first photo when the second's time is up
    first = asyncio.create_task(sent_by("worker", vendor, 400))
    await under_way(reads, 400)
    with pytest.raises(VendorError) as refused:
        await sent_by("worker", vendor, 401)
    assert (refused.value.code, reads.done) == (BUSY, [])  # refused while the first was still read
    await first
    await asyncio.sleep(reads.usual)
    assert reads.begun == [400]


async def test_someone_with_nothing_left_in_the_queue_takes_the_turn_being_read(reads):
    """A person's turns follow their photos still waiting or being read, not ones read or given up:
    a photo read earlier, or three given up, put their next one behind everyone who came after it."""
    vendor = build_vendor("local", {"max_wait": 60})
    await sent_by("x", vendor, 300)  # read earlier, with the engine idle since
    reads.lengths = [1.0]
    first = asyncio.create_task(sent_by("b", vendor, 400))
    await under_way(reads, 400)
    given_up = [asyncio.create_task(sent_by("y", vendor, 600 + index)) for index in range(3)]
    await asyncio.sleep(0.05)
    for task in given_up:
        task.cancel()  # y's requests were cut off while they waited
    later = []
    for reader, width in (("x", 301), ("y", 603), ("c", 500)):
        later.append(asyncio.create_task(sent_by(reader, vendor, width)))
        await asyncio.sleep(0.05)  # in this order
    await asyncio.gather(first, *later)
    assert reads.begun == [300, 400, 301, 603, 500]


async def test_the_recognizer_says_whose_photo_the_engine_reads(reads, monkeypatch, tmp_path):
    """Two people's photos through the recognizer reach the engine's queue under their own names."""
    seen: list[str | None] = []
    real_submit = EngineQueue.submit

    def submit(self, work, started, give_up_after, reader=None):
        seen.append(reader)
        return real_submit(self, work, started, give_up_after, reader)

    monkeypatch.setattr(EngineQueue, "submit", submit)
    config_file = tmp_path / "config.toml"
    config_file.write_text(
        f'[bot]\ndatabase = "{tmp_path / "log.db"}"\ncache_seconds = 0\n', encoding="utf-8"
    )
    recognizer = Recognizer(load_config(config_file, environ={}), SessionLog(tmp_path / "log.db"))
    for platform, user in (("telegram", "42"), ("wechat", "oUser"), ("cli", None)):
        request = Request(kind="plate", data=photo_bytes(), context=Context(platform=platform, user_id=user))
        assert (await recognizer.recognize(request)).status == Status.OK
    await recognizer.aclose()
    assert seen == ["telegram:42", "wechat:oUser", None]


async def test_a_photo_s_wait_in_the_queue_is_logged_apart_from_its_read(reads):
    """Each attempt's time includes the wait; `waited_ms` says how much of it was waiting, so a rush
    does not pass for a slow engine. A cloud vendor has no queue of its own: it waits 0."""
    engine = build_vendor("local", {"max_wait": 60})
    reads.lengths = [1.0]  # the first photo holds the engine a second
    first, second = await asyncio.gather(
        VendorChain([engine]).recognize("plate", "front", photo(320)),
        VendorChain([engine]).recognize("plate", "front", photo(640)),
    )
    [read_first], [read_second] = first.attempts, second.attempts
    assert read_second.waited_ms >= 500 > read_first.waited_ms  # it waited out the first one's second
    assert read_second.ms >= read_second.waited_ms and reads.done == [320, 640]
    cloud = await VendorChain([build_vendor("scripted", {})]).recognize("plate", "front", photo())
    assert cloud.attempts[0].waited_ms == 0
