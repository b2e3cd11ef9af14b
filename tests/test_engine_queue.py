"""The embedded engine's queue in a rush: the time limit counts reading only, a long queue is refused at
once as busy (and the chain moves on), a photo given up while queued is never read. The engine's read
is replaced by a fixed pause, so the queue is what is tested, not OCR."""

from __future__ import annotations

import asyncio
import io
import threading
import time

import pytest
from PIL import Image

from bot.images import IntakeImage, load
from bot.models import Plate, PlateColor, Recognition
from bot.vendors.base import BUSY, ErrorCategory, VendorChain, VendorError, build_vendor
from bot.vendors.local import vendor as local
from bot.vendors.local.engine_queue import FIRST_GUESS_SECONDS, EngineQueue
from handlers.outcome import Outcome, Status
from handlers.replies import failure_text

READ_SECONDS = 0.3


@pytest.fixture
def photo() -> IntakeImage:
    buffer = io.BytesIO()
    Image.new("RGB", (320, 200), "white").save(buffer, "JPEG")
    return load(buffer.getvalue())


@pytest.fixture
def reads(monkeypatch) -> list[str]:
    """Each read takes READ_SECONDS and is recorded; the process's queue is a fresh one."""
    done: list[str] = []

    def read(self, kind, side, image) -> Recognition:
        time.sleep(READ_SECONDS)
        done.append(threading.current_thread().name)
        plate = Plate(number="京A12345", color=PlateColor.BLUE, confidence=0.9)
        return Recognition(kind=kind, side=side, vendor="local", plates=[plate])

    monkeypatch.setattr(local, "ENGINE_QUEUE", EngineQueue())
    monkeypatch.setattr(local.LocalVendor, "recognize_sync", read)
    return done


async def test_the_time_limit_counts_reading_not_waiting(reads, photo):
    """Four photos at once, each read in 0.3 s under a 0.5 s limit: the last waits 0.9 s, and was
    told the service had timed out while the limit counted its wait."""
    vendor = build_vendor("local", {"timeout": 0.5, "max_wait": 60})
    results = await asyncio.gather(*(vendor.recognize("plate", "front", photo) for _ in range(4)))
    assert [result.plates[0].number for result in results] == ["京A12345"] * 4
    assert len(reads) == 4


async def test_a_queue_longer_than_max_wait_is_refused_at_once_as_busy(reads, photo):
    vendor = build_vendor("local", {"max_wait": 1.5 * FIRST_GUESS_SECONDS})
    outcomes = await asyncio.gather(
        *(vendor.recognize("plate", "front", photo) for _ in range(4)), return_exceptions=True
    )
    refused = [outcome for outcome in outcomes if isinstance(outcome, VendorError)]
    assert len(reads) == 2 and len(refused) == 2  # expected waits 0, 1, 2, 3 first guesses
    assert {(error.category, error.code) for error in refused} == {(ErrorCategory.QUOTA_OR_RATE, BUSY)}
    # The reads measured: 0.3 s each, so the same queue is no longer too long.
    await vendor.recognize("plate", "front", photo)


async def test_a_busy_engine_hands_the_photo_to_the_next_vendor(reads, photo):
    engine = build_vendor("local", {"max_wait": 0.5 * FIRST_GUESS_SECONDS})
    first = asyncio.create_task(engine.recognize("plate", "front", photo))
    await asyncio.sleep(0.05)  # one photo on the engine: a new one would wait about a first guess
    result = await VendorChain([engine, build_vendor("scripted", {})]).recognize("plate", "front", photo)
    assert result.recognition is not None and result.recognition.vendor == "scripted"
    assert [(attempt.vendor, attempt.status) for attempt in result.attempts] == [
        ("local", "quota_or_rate"),
        ("scripted", "ok"),
    ]
    await first
    assert len(reads) == 1


def test_a_user_left_with_a_busy_engine_is_told_to_try_again_in_a_few_minutes():
    busy = {"error_category": "quota_or_rate", "error_code": BUSY}
    outcome = Outcome(status=Status.VENDOR_ERROR, kind="plate", **busy)
    assert "几分钟" in failure_text(outcome, "zh") and "a few minutes" in failure_text(outcome, "en")


async def test_a_photo_given_up_while_queued_is_never_read(reads, photo):
    vendor = build_vendor("local", {"max_wait": 60})
    first = asyncio.create_task(vendor.recognize("plate", "front", photo))
    queued = asyncio.create_task(vendor.recognize("plate", "front", photo))
    await asyncio.sleep(0.05)  # the first is being read, the second waits behind it
    queued.cancel()  # its user's request was cut off (a shutdown)
    await first
    with pytest.raises(asyncio.CancelledError):
        await queued
    await asyncio.sleep(READ_SECONDS)
    assert len(reads) == 1
    assert local.ENGINE_QUEUE.expected_wait() == 0
