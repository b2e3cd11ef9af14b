"""Conversation flows, platform-blind: command then photo, photo then command, captions, groups, /lang."""

from __future__ import annotations

import asyncio
import gc
import threading
import weakref
from dataclasses import replace
from datetime import date, timedelta
from zoneinfo import ZoneInfo

import pytest

from bot.storage import SessionLog
from handlers.dispatch import MAX_WAITING_PHOTOS, Dispatcher, parse_command
from handlers.limits import Limits
from handlers.messages import Inbound
from handlers.recognize import Recognizer
from handlers.replies import ERROR_CATEGORY_TEXTS, REJECT_REASON_TEXTS
from tests.fakes.vendors import ScriptedVendor

CHAIN = '[vendors]\ndriving = ["scripted"]\nvehicle = ["scripted"]\nplate = ["scripted"]\n'


@pytest.fixture
def dispatcher(make_config):
    def build(clock=None, **bot) -> Dispatcher:
        config = make_config(CHAIN, **bot)
        recognizer = Recognizer(config, SessionLog(config.bot.database), today=lambda: date(2026, 11, 21))
        return Dispatcher(recognizer, clock=clock) if clock else Dispatcher(recognizer)

    return build


def message(
    text: str = "",
    photo: bytes | None = None,
    *,
    chat_type="private",
    addressed=False,
    user="u1",
    mid="1",
    language=None,
) -> Inbound:
    async def fetch() -> bytes:
        assert photo is not None
        return photo

    return Inbound(
        platform="test",
        chat_id="chat",
        user_id=user,
        message_id=mid,
        chat_type=chat_type,
        text=text,
        fetch_image=fetch if photo is not None else None,
        addressed=addressed,
        language=language,
    )


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("/driving", ("driving", None)),
        ("/driving_back@licence_bot", ("driving_back", None)),
        ("/lang en", ("lang", "en")),
        ("lang en", ("lang", "en")),  # WeChat has no slash commands
        ("English", ("lang", "en")),
        ("中文", ("lang", "zh")),
        ("Chinese driving licence", (None, None)),  # a description, not a language switch
        ("驾驶证副页", ("驾驶证副页", None)),
        ("驾驶证 副页", ("驾驶证副页", None)),  # not the main page
        ("行驶证　副页 谢谢", ("行驶证副页", None)),  # an ideographic space
        ("驾照副页", ("驾照副页", None)),
        ("行驶证主页", ("行驶证主页", None)),
        ("/driving 副页", ("driving_back", None)),  # the page asked for after the command
        ("/driving副页", ("driving_back", None)),
        ("/vehicle-back", ("vehicle_back", None)),
        ("vehicle back", ("vehicle_back", None)),
        ("@licence_bot 驾驶证", ("驾驶证", None)),  # a group message that names the bot first
        ("@licence_bot, /plate", ("plate", None)),
        # A username is ASCII: a word written straight after (or before) it is the message's.
        ("@licence_bot驾驶证", ("驾驶证", None)),
        ("@licence_bot ，驾驶证", ("驾驶证", None)),
        ("@licence_bot : /plate", ("plate", None)),
        ("驾驶证@licence_bot", ("驾驶证", None)),
        ("行驶证副页 @licence_bot", ("行驶证副页", None)),
        ("/driving@licence_bot副页", ("driving_back", None)),
        ("/lang@licence_bot en", ("lang", "en")),
        ("／driving", ("driving", None)),  # a full-width slash
        ("记录", ("记录", None)),
        ("取消", ("取消", None)),
        ("  车牌 ", ("车牌", None)),
        ("Vehicle licence", ("vehicle", None)),
        ("hello there", (None, None)),
        ("", (None, None)),
    ],
)
def test_parse_command(text, expected):
    assert parse_command(text) == expected


async def test_photo_with_caption_is_recognized_at_once(dispatcher, photo_bytes):
    reply = await dispatcher().handle(message("/plate", photo_bytes))
    assert "京A12345" in "".join(reply.text)
    assert reply.reply_to == "1"


async def test_command_first_then_photo(dispatcher, photo_bytes):
    bot = dispatcher()
    prompt = await bot.handle(message("行驶证副页"))
    assert "行驶证副页" in prompt.text[0]
    reply = await bot.handle(message(photo=photo_bytes, mid="2"))
    assert "110001234567" in "".join(reply.text)  # the back page's file number


async def test_photo_first_then_choice(dispatcher, photo_bytes):
    bot = dispatcher()
    ask = await bot.handle(message(photo=photo_bytes))
    commands = [command for command, _ in ask.choices]
    assert commands == ["driving", "driving_back", "vehicle", "vehicle_back", "plate"]
    reply = await bot.handle(message("/driving", mid="2"))
    assert reply.reply_to == "1"  # answers the photo, not the command
    assert "11010519491231002X" in "".join(reply.text)


async def test_pending_photo_expires(dispatcher, photo_bytes):
    now = [0.0]
    bot = dispatcher(clock=lambda: now[0])
    await bot.handle(message(photo=photo_bytes))
    now[0] = 301
    reply = await bot.handle(message("/driving", mid="2"))
    assert reply.choices == [] and "11010519491231002X" not in "".join(reply.text)  # asks for a photo instead
    [row] = bot.recognizer.session_log.history()  # the photo was never read, but it is on record
    assert (row.message_id, row.kind, row.status, row.error_category) == ("1", None, "unanswered", "expired")


async def test_a_photo_left_waiting_is_let_go_once_expired(dispatcher, photo_bytes):
    """A user who sends a photo and never picks its kind must not keep it in memory for good (on
    WeChat a waiting photo holds its downloaded bytes)."""
    now = [0.0]
    bot = dispatcher(clock=lambda: now[0])
    waiting = message(photo=photo_bytes, user="gone")
    await bot.handle(waiting)
    kept = weakref.ref(waiting)
    del waiting
    now[0] = 301
    await bot.handle(message("/help", user="someone else"))
    gc.collect()
    assert kept() is None
    [row] = bot.recognizer.session_log.history()
    assert (row.user_id, row.kind, row.status, row.error_category) == ("gone", None, "unanswered", "expired")


class _WaitingStore:
    """A quota store that waits, as SQLite does while another process holds the write lock, until the
    test lets it go: from the event loop, which must keep running meanwhile."""

    def __init__(self) -> None:
        self.entered, self.go = threading.Event(), threading.Event()

    def kv_take(self, key: str, limit: int, ttl_seconds: float) -> bool:
        self.entered.set()
        return self.go.wait(timeout=5)  # False (quota refused) if the loop never got to let it go


async def test_the_quota_store_is_waited_on_off_the_event_loop(dispatcher, photo_bytes):
    store = _WaitingStore()
    bot = dispatcher()
    bot.limiter = Limits(daily_quota=5, store=store)
    answer = asyncio.create_task(bot.handle(message("/plate", photo_bytes)))
    while not store.entered.is_set():
        await asyncio.sleep(0.01)
    store.go.set()  # only reached while the store still waits if the loop was left free
    assert "京A12345" in "".join((await answer).text)


async def test_pending_state_is_per_user(dispatcher, photo_bytes):
    bot = dispatcher()
    await bot.handle(message(photo=photo_bytes, user="alice"))
    reply = await bot.handle(message("/driving", user="bob", mid="2"))
    assert "11010519491231002X" not in "".join(reply.text)


async def test_group_stays_silent_unless_addressed_and_masks(dispatcher, photo_bytes):
    bot = dispatcher()
    assert await bot.handle(message("/driving", photo_bytes, chat_type="group")) is None
    reply = await bot.handle(message("/driving", photo_bytes, chat_type="group", addressed=True))
    text = "".join(reply.text)
    assert "11010519491231002X" not in text and "110105" in text and "王芳" not in text


async def test_group_masking_can_be_turned_off(dispatcher, photo_bytes):
    bot = dispatcher(mask_in_groups=False)
    reply = await bot.handle(message("/driving", photo_bytes, chat_type="group", addressed=True))
    assert "11010519491231002X" in "".join(reply.text)


async def test_language_per_user_and_from_platform(dispatcher, photo_bytes):
    bot = dispatcher()
    zh = await bot.handle(message("/driving", photo_bytes))
    await bot.handle(message("/lang en"))
    en = await bot.handle(message("/driving", photo_bytes, mid="3"))
    assert zh.text != en.text
    assert bot.language_of(message(user="other", language="en")) == "en"
    assert bot.language_of(message(user="other")) == "zh"


async def test_bad_photo_gets_a_reply_that_names_the_problem(dispatcher):
    calls_before = ScriptedVendor.calls
    bot = dispatcher()
    reply = await bot.handle(message("/driving", b"GIF89a" + b"\0" * 32))
    assert len(reply.text) == 1 and reply.text[0].endswith(REJECT_REASON_TEXTS["gif"][0])
    assert ScriptedVendor.calls == calls_before  # refused before any vendor was asked
    [row] = bot.recognizer.session_log.history()
    assert row.status == "bad_image"


async def test_a_photo_captioned_with_another_command_waits_for_its_kind(dispatcher, photo_bytes):
    """/help or /history with a photo is answered as asked; the photo is not dropped."""
    bot = dispatcher()
    help_reply = await bot.handle(message("/help", photo_bytes))
    assert "/driving" in "".join(help_reply.text)
    reply = await bot.handle(message("/driving", mid="2"))
    assert reply.reply_to == "1" and "11010519491231002X" in "".join(reply.text)


async def test_history_and_cancel_as_words(dispatcher, photo_bytes):
    bot = dispatcher()
    await bot.handle(message("/plate", photo_bytes))
    history = "".join((await bot.handle(message("记录", mid="2"))).text)
    assert "京A12345" in history  # the session, not the help text
    await bot.handle(message(photo=photo_bytes, mid="3"))
    await bot.handle(message("取消", mid="4"))
    reply = await bot.handle(message("/driving", mid="5"))
    assert "11010519491231002X" not in "".join(reply.text)  # the photo was let go
    cancelled = bot.recognizer.session_log.history()[0]
    assert (cancelled.message_id, cancelled.status, cancelled.error_category) == (
        "3",
        "unanswered",
        "cancelled",
    )


async def test_in_a_group_the_photo_prompt_says_to_reply_to_it(dispatcher):
    bot = dispatcher()
    prompt = await bot.handle(message("/driving", chat_type="group", addressed=True))
    assert "回复本条消息" in prompt.text[0]


async def test_lang_takes_any_case(dispatcher):
    bot = dispatcher()
    await bot.handle(message("/lang EN"))
    assert bot.language_of(message()) == "en"


async def test_photos_sent_one_after_another_each_wait_for_their_kind(dispatcher, photo_bytes):
    """Field staff send the main page, then the 副页, then say which is which: the first photo used to
    be replaced by the second and never read."""
    bot = dispatcher()
    await bot.handle(message(photo=photo_bytes, mid="1"))
    await bot.handle(message(photo=photo_bytes, mid="2"))
    first = await bot.handle(message("驾驶证", mid="3"))
    second = await bot.handle(message("行驶证副页", mid="4"))
    assert first.reply_to == "1" and "11010519491231002X" in "".join(first.text)
    assert second.reply_to == "2" and "110001234567" in "".join(second.text)
    third = await bot.handle(message("车牌", mid="5"))
    assert not third.choices and "京A12345" not in "".join(third.text)  # nothing left: asks for a photo


async def test_history_times_follow_the_configured_time_zone(dispatcher, photo_bytes):
    bot = dispatcher(timezone="America/New_York")
    await bot.handle(message("/driving", photo_bytes))
    [row] = bot.recognizer.session_log.history()
    listed = await bot.handle(message("/history", mid="2"))
    expected = row.created_at.astimezone(ZoneInfo("America/New_York")).strftime("%m-%d %H:%M")
    assert "".join(listed.text).splitlines()[1].startswith(expected)


async def test_history_in_a_group_lists_only_what_was_sent_there(dispatcher, photo_bytes):
    """The group must not learn what the member read in private (plates, masked numbers)."""
    bot = dispatcher()
    await bot.handle(message("/plate", photo_bytes, mid="1"))  # in private
    asked = replace(message("/history", chat_type="group", addressed=True, mid="2"), chat_id="group")
    in_group = await bot.handle(asked)
    assert "京A12345" not in "".join(in_group.text)
    in_private = await bot.handle(message("/history", mid="3"))
    assert "京A12345" in "".join(in_private.text)


async def test_a_kind_that_names_its_photo_goes_to_that_photo(dispatcher, photo_bytes):
    """A button under the second photo's prompt answers the second photo, not the oldest."""
    bot = dispatcher()
    await bot.handle(message(photo=photo_bytes, mid="1"))
    await bot.handle(message(photo=photo_bytes, mid="2"))
    second = await bot.handle(replace(message("/vehicle_back", mid="3"), answers="2"))
    assert second.reply_to == "2" and "110001234567" in "".join(second.text)
    first = await bot.handle(message("/driving", mid="4"))
    assert first.reply_to == "1" and "11010519491231002X" in "".join(first.text)


async def test_a_photo_pushed_out_by_newer_ones_is_on_record(dispatcher, photo_bytes):
    bot = dispatcher()
    for number in range(MAX_WAITING_PHOTOS + 2):
        await bot.handle(message(photo=photo_bytes, mid=str(number)))
    rows = bot.recognizer.session_log.history()
    assert sorted((row.message_id, row.status, row.error_category) for row in rows) == [
        ("1", "unanswered", "superseded"),  # the oldest photo keeps its place; the next ones move up
        ("2", "unanswered", "superseded"),
    ]
    first = await bot.handle(message("/plate", mid="k"))
    assert first.reply_to == "0"


@pytest.mark.parametrize(
    ("unusable", "status", "said"),
    [
        ("not_image", "bad_image", REJECT_REASON_TEXTS["not_image"][0]),
        ("download", "vendor_error", ERROR_CATEGORY_TEXTS["download"][0]),
    ],
)
async def test_a_photo_the_channel_could_not_fetch_is_refused_at_once_and_logged(
    dispatcher, photo_bytes, unusable, status, said
):
    bot = dispatcher()
    reply = await bot.handle(replace(message(photo=photo_bytes), unusable=unusable))
    assert reply.text == [said] and not reply.choices
    [row] = bot.recognizer.session_log.history()
    assert (row.kind, row.status, row.error_category) == (None, status, unusable)


async def test_photos_waiting_at_a_stop_are_logged_as_let_go(dispatcher, photo_bytes):
    now = [0.0]
    bot = dispatcher(clock=lambda: now[0])
    old = message(photo=photo_bytes, mid="0", user="u0")
    old.received_at -= timedelta(minutes=10)
    await bot.handle(old)
    now[0] = 250
    await bot.handle(message(photo=photo_bytes, mid="1"))
    await bot.handle(message("/stats", photo_bytes, mid="2", user="u2"))  # queued once, not twice
    await bot.handle(message("/plate", mid="3", user="u3"))  # a kind waiting for a photo: nothing to log
    now[0] = 400  # the first photo's time ran out, and no message since swept it
    await bot.let_go_waiting()
    rows = bot.recognizer.session_log.history()
    assert sorted((row.message_id, row.kind, row.status, row.error_category) for row in rows) == [
        ("0", None, "unanswered", "expired"),
        ("1", None, "unanswered", "stopped"),
        ("2", None, "unanswered", "stopped"),
    ]
    assert next(row for row in rows if row.message_id == "0").created_at == old.received_at  # when it came
    reply = await bot.handle(message("/driving", mid="4"))  # after a restart: no photo waits
    assert "11010519491231002X" not in "".join(reply.text)
