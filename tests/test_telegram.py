"""Telegram end to end: the real python-telegram-bot against a fake Bot API server on 127.0.0.1.

Real SQLite, real config loading, scripted vendors (tests/fakes/vendors.py) except where the embedded
engine reads a rendered specimen. Each test drives the bot the way Telegram would (getUpdates long
polling, or the webhook route) and asserts on what the bot sent back to the fake server.
"""

from __future__ import annotations

import asyncio
import io
import json
import logging
import os
import signal
import socket
import subprocess
import sys
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from PIL import Image

from bot.channels import server
from bot.channels.base import Channel, Runtime
from bot.channels.server import build_app, build_channels
from bot.channels.telegram import MAX_UPDATE_BYTES, SECRET_HEADER, TelegramChannel, TelegramSettings
from bot.channels.telegram_http import AiohttpRequest
from bot.config import ConfigError
from bot.storage import SessionLog
from handlers.channel_texts import BOXES_GONE, NOT_A_PHOTO_COMMANDS
from handlers.replies import ERROR_CATEGORY_TEXTS, REJECT_REASON_TEXTS, REJECTED_TEXTS, interrupted_text
from tests.fakes.telegram_server import BOT_USERNAME, TOKEN, Call, FakeTelegram
from tests.fakes.vendors import ScriptedVendor

ROOT = Path(__file__).resolve().parent.parent
USER, OTHER = 501, 502
GROUP = -1001
ZH_NOT_ALLOWED, EN_NOT_ALLOWED = REJECTED_TEXTS["not_allowed"]


def chain(outcome: str = "ok", delay: float = 0.0) -> str:
    return (
        '[vendors]\ndriving = ["scripted"]\nvehicle = ["scripted"]\nplate = ["scripted"]\n'
        f'[vendors.scripted]\noutcome = "{outcome}"\ndelay = {delay}\n'
    )


def telegram_table(fake: FakeTelegram, extra: str = "") -> str:
    return (
        f'[telegram]\ntoken = "{TOKEN}"\nbase_url = "{fake.base_url}"\n'
        f'base_file_url = "{fake.base_file_url}"\n'
        f"poll_timeout = 1\nalbum_seconds = 0.3\n{extra}"
    )


@pytest.fixture
def fake() -> Any:
    with FakeTelegram() as server:
        yield server


class Bot:
    """A started channel plus what a test needs to read its effects."""

    def __init__(self, channel: TelegramChannel, runtime: Runtime, fake: FakeTelegram) -> None:
        self.channel, self.runtime, self.fake = channel, runtime, fake

    def rows(self) -> list[Any]:
        return self.runtime.session_log.history(limit=100)

    async def replies(self, count: int = 1, timeout: float = 10.0, **where: Any) -> list[Call]:
        return await self.fake.wait_for("sendMessage", count, timeout, **where)


@pytest.fixture
async def start_bot(make_config, fake) -> AsyncIterator[Callable[..., Any]]:
    started: list[Bot] = []

    async def start(telegram: str = "", vendors: str = chain(), **bot: object) -> Bot:
        config = make_config(vendors + telegram_table(fake, telegram), **bot)
        runtime = Runtime.from_config(config)
        channel = TelegramChannel.from_config(config.channel_table("telegram") or {}, runtime)
        assert channel is not None
        await channel.start()
        started.append(Bot(channel, runtime, fake))
        return started[-1]

    yield start
    for bot in started:
        await bot.channel.stop()
        await bot.runtime.drain(5)
        await bot.runtime.aclose()


def text_of(call: Call) -> str:
    return str(call.params.get("text", ""))


def buttons(call: Call) -> list[str]:
    markup = call.params.get("reply_markup") or {}
    return [button["callback_data"] for row in markup.get("inline_keyboard", []) for button in row]


# ------------------------------------------------------------------------------------------ start-up


async def test_start_sets_menus_in_both_languages_and_stats_for_admins(start_bot, fake):
    await start_bot("admins = [77]\n")
    calls = fake.called("setMyCommands")
    default_scope = [call for call in calls if call.params["scope"]["type"] == "default"]
    admin_scope = [call for call in calls if call.params["scope"]["type"] == "chat"]
    by_language = {call.params.get("language_code"): call for call in default_scope}
    en_names = [command["command"] for command in by_language["en"].params["commands"]]
    assert {
        "start",
        "help",
        "driving",
        "driving_back",
        "vehicle",
        "vehicle_back",
        "plate",
        "lang",
        "history",
        "cancel",
    } == set(en_names)
    assert "驾驶证" in json.dumps(by_language["zh"].params["commands"], ensure_ascii=False)
    assert "stats" not in en_names
    assert admin_scope and all(call.params["scope"]["chat_id"] == 77 for call in admin_scope)
    assert all("stats" in [c["command"] for c in call.params["commands"]] for call in admin_scope)


def test_no_token_means_no_channel(make_config):
    config = make_config(chain() + '[telegram]\nmode = "polling"\n')
    runtime = Runtime.from_config(config)
    assert build_channels(config, runtime) == []
    assert TelegramChannel.from_config({}, runtime) is None
    runtime.session_log.close()


def test_webhook_mode_needs_url_and_secret(make_config):
    with pytest.raises(ConfigError, match="secret_token"):
        make_config('[telegram]\ntoken = "1:X"\nmode = "webhook"\nwebhook_url = "https://x.example/tg"\n')
    settings = TelegramSettings.model_validate({"admins": "1, 2", "allowed_chats": "-5"})
    assert settings.admins == [1, 2] and settings.allowed_chats == [-5]


# ----------------------------------------------------------------------------------------- the flows


async def test_command_then_photo_is_recognized_with_chat_action(start_bot, fake, photo_bytes):
    bot = await start_bot()
    fake.push_message(chat_id=USER, user_id=USER, text="/driving")
    prompt = (await bot.replies())[0]
    assert "驾驶证" in text_of(prompt)
    photo = fake.push_message(chat_id=USER, user_id=USER, photo=photo_bytes)
    reply = (await bot.replies(2))[1]
    assert "王芳" in text_of(reply)  # a private chat: nothing masked
    assert reply.params["reply_parameters"]["message_id"] == photo["message_id"]
    assert fake.called("sendChatAction", action="typing")
    assert fake.called("getFile") and fake.called("download")
    row = bot.rows()[0]
    assert (row.platform, row.kind, row.status, row.user_id) == ("telegram", "driving", "ok", str(USER))


async def test_photo_then_keyboard_then_boxes(start_bot, fake, photo_bytes):
    bot = await start_bot(vendors=chain() + "valid_to = 2031-01-01\n")
    photo = fake.push_message(chat_id=USER, user_id=USER, photo=photo_bytes, language_code="en-GB")
    ask = (await bot.replies())[0]
    assert "Which document" in text_of(ask)
    assert f"kind:plate:{USER}" in buttons(ask)
    assert not fake.called("getFile")  # nothing downloaded before the kind is known
    fake.press(ask.result, f"kind:plate:{USER}", user_id=USER, language_code="en-GB")
    reply = (await bot.replies(2))[1]
    assert "京A12345" in text_of(reply)
    assert reply.params["reply_parameters"]["message_id"] == photo["message_id"]
    await fake.wait_for("answerCallbackQuery")
    edited = await fake.wait_for("editMessageText")
    assert "Plate" in text_of(edited[0])
    assert bot.rows()[0].kind == "plate"


async def test_someone_else_cannot_answer_my_keyboard(start_bot, fake, photo_bytes):
    bot = await start_bot()
    fake.push_message(
        chat_id=GROUP, user_id=USER, chat_type="supergroup", caption=f"@{BOT_USERNAME}", photo=photo_bytes
    )
    ask = (await bot.replies())[0]
    fake.press(ask.result, f"kind:plate:{USER}", user_id=OTHER)
    refusal = await fake.wait_for("answerCallbackQuery")
    assert refusal[0].params.get("show_alert") in (True, "True", "true")
    assert not fake.called("getFile") and bot.rows() == []


async def test_caption_document_and_bad_image(start_bot, fake, photo_bytes):
    bot = await start_bot()
    fake.push_message(chat_id=USER, user_id=USER, photo=photo_bytes, caption="/plate")
    fake.push_message(chat_id=USER, user_id=USER, document=photo_bytes, caption="/driving")
    fake.push_message(
        chat_id=USER, user_id=USER, document=b"%PDF-1.4 not a photo", caption="/driving", language_code="en"
    )
    replies = await bot.replies(3)
    texts = " | ".join(text_of(call) for call in replies)
    assert "京A12345" in texts and "王芳" in texts
    assert REJECT_REASON_TEXTS["not_image"][1] in texts
    assert sorted(row.status for row in bot.rows()) == ["bad_image", "ok", "ok"]


async def test_file_over_20_mb_is_refused_without_downloading(start_bot, fake, photo_bytes):
    bot = await start_bot()
    huge = fake.add_file(photo_bytes, file_size=25 * 1024 * 1024)
    fake.push_message(chat_id=USER, user_id=USER, document=huge, caption="/driving", language_code="en")
    reply = (await bot.replies())[0]
    assert REJECT_REASON_TEXTS["too_large"][1] in text_of(reply)
    assert not fake.called("getFile") and not fake.called("download")
    row = bot.rows()[0]
    assert (row.status, row.error_category) == ("bad_image", "too_large")


async def test_a_document_telegram_says_is_no_image_is_refused_without_downloading(start_bot, fake):
    bot = await start_bot()
    pdf = b"%PDF-1.4 " + b"0" * 4096
    fake.push_message(
        chat_id=USER,
        user_id=USER,
        document=pdf,
        mime_type="application/pdf",
        caption="/driving",
        language_code="en",
    )
    reply = (await bot.replies())[0]
    assert REJECT_REASON_TEXTS["not_image"][1] in text_of(reply)
    assert not fake.called("getFile")
    row = bot.rows()[0]
    assert (row.status, row.error_category) == ("bad_image", "not_image")


async def test_album_answers_every_photo(start_bot, fake, photo_bytes):
    bot = await start_bot()
    with fake.together():
        sent = [
            fake.push_message(
                chat_id=USER,
                user_id=USER,
                photo=photo_bytes,
                media_group_id="A1",
                caption="/plate" if index == 0 else None,
            )
            for index in range(3)
        ]
    replies = await bot.replies(3)
    assert {call.params["reply_parameters"]["message_id"] for call in replies} == {
        m["message_id"] for m in sent
    }
    assert all("京A12345" in text_of(call) for call in replies)


async def _album_asking_its_kind(bot, fake, photo_bytes: bytes, group: str, count: int):
    """Send `count` uncaptioned photos as one album; the bot's one question (which document?)."""
    with fake.together():
        for _ in range(count):
            fake.push_message(chat_id=USER, user_id=USER, photo=photo_bytes, media_group_id=group)
    return (await bot.replies())[0]


async def test_album_without_caption_asks_once_then_answers_all(start_bot, fake, photo_bytes):
    bot = await start_bot()
    ask = await _album_asking_its_kind(bot, fake, photo_bytes, "B2", 2)
    fake.press(ask.result, f"kind:driving:{USER}", user_id=USER)
    replies = await bot.replies(3)
    assert sum("王芳" in text_of(call) for call in replies) == 2
    assert len(bot.rows()) == 2


async def test_album_without_caption_then_a_typed_command_answers_all(start_bot, fake, photo_bytes):
    """The help text offers typing the kind as well as pressing its button: both release the album."""
    bot = await start_bot()
    await _album_asking_its_kind(bot, fake, photo_bytes, "B3", 3)
    fake.push_message(chat_id=USER, user_id=USER, text="/driving")
    replies = await bot.replies(4)
    assert sum("王芳" in text_of(call) for call in replies) == 3
    assert len(bot.rows()) == 3


async def test_album_photos_whose_kind_never_came_are_each_on_record(start_bot, fake, photo_bytes):
    """The album's other photos wait in the channel, not in the dispatcher: they are logged too, as
    expired once a later message finds their time run out, and as stopped at a stop."""
    bot = await start_bot("pending_seconds = 1\n")
    with fake.together():
        for _ in range(2):
            fake.push_message(chat_id=USER, user_id=USER, photo=photo_bytes, media_group_id="C1")
    await bot.replies()  # which document?
    await asyncio.sleep(1.2)
    fake.push_message(chat_id=USER, user_id=USER, text="/help")  # any message finds their time run out
    await bot.replies(2)
    with fake.together():
        for _ in range(3):
            fake.push_message(chat_id=USER, user_id=USER, photo=photo_bytes, media_group_id="C2")
    assert buttons((await bot.replies(3))[2])  # which document, for the second album
    await bot.channel.stop()
    reasons = sorted(row.error_category for row in bot.rows() if row.status == "unanswered")
    assert reasons == ["expired", "expired", "stopped", "stopped", "stopped"]
    assert len(bot.rows()) == 5


async def test_a_cancel_lets_the_whole_album_go(start_bot, fake, photo_bytes):
    """/cancel after an album that asked for its kind: the photo the dispatcher held and the others the
    channel held are all let go and on record as cancelled, none left waiting to expire."""
    bot = await start_bot()
    await _album_asking_its_kind(bot, fake, photo_bytes, "D1", 3)
    fake.push_message(chat_id=USER, user_id=USER, text="/cancel")
    await bot.replies(2)
    for _ in range(50):
        if len(bot.rows()) == 3:
            break
        await asyncio.sleep(0.02)
    assert [row.error_category for row in bot.rows()] == ["cancelled"] * 3
    await bot.channel.stop()  # nothing was left waiting to be logged as stopped
    assert [row.error_category for row in bot.rows()] == ["cancelled"] * 3


async def test_the_button_under_a_photos_prompt_reads_that_photo(start_bot, fake, photo_bytes):
    """Two photos, two prompts: the second prompt's button reads the second photo, not the first."""
    bot = await start_bot()
    first = fake.push_message(chat_id=USER, user_id=USER, photo=photo_bytes)
    await bot.replies()
    second = fake.push_message(chat_id=USER, user_id=USER, photo=photo_bytes)
    prompts = await bot.replies(2)
    fake.press(prompts[1].result, f"kind:vehicle_back:{USER}", user_id=USER)
    answer = next(call for call in await bot.replies(3) if "110001234567" in text_of(call))
    assert answer.params["reply_parameters"]["message_id"] == second["message_id"]
    fake.press(prompts[0].result, f"kind:driving:{USER}", user_id=USER)
    answer = next(call for call in await bot.replies(4) if "王芳" in text_of(call))
    assert answer.params["reply_parameters"]["message_id"] == first["message_id"]


async def test_pending_choice_expires(start_bot, fake, photo_bytes):
    bot = await start_bot("pending_seconds = 0.2\n")
    fake.push_message(chat_id=USER, user_id=USER, text="/plate")
    await bot.replies()
    await asyncio.sleep(0.4)
    fake.push_message(chat_id=USER, user_id=USER, photo=photo_bytes)
    ask = (await bot.replies(2))[1]
    assert buttons(ask), "an expired /plate must not be applied to a later photo"
    assert bot.rows() == []


async def test_vendor_failure_and_not_found_have_replies_in_the_users_language(start_bot, fake, photo_bytes):
    bot = await start_bot(vendors=chain("timeout"))
    fake.push_message(chat_id=USER, user_id=USER, photo=photo_bytes, caption="/plate", language_code="en-US")
    fake.push_message(chat_id=OTHER, user_id=OTHER, photo=photo_bytes, caption="/plate", language_code="de")
    replies = await bot.replies(2)
    english = next(call for call in replies if call.params["chat_id"] == str(USER))
    default = next(call for call in replies if call.params["chat_id"] == str(OTHER))
    assert ERROR_CATEGORY_TEXTS["timeout"][1] in text_of(english)
    assert ERROR_CATEGORY_TEXTS["timeout"][0] in text_of(default)  # config default language: zh
    assert [row.status for row in bot.rows()] == ["vendor_error", "vendor_error"]


# ------------------------------------------------------------------------------------------- groups


async def test_group_privacy_rules(start_bot, fake, photo_bytes):
    bot = await start_bot()
    fake.push_message(chat_id=GROUP, user_id=USER, chat_type="supergroup", text="/driving@other_bot")
    fake.push_message(chat_id=GROUP, user_id=USER, chat_type="supergroup", text="nice weather")
    fake.push_message(chat_id=GROUP, user_id=USER, chat_type="supergroup", text=f"/driving@{BOT_USERNAME}")
    prompt = (await bot.replies())[0]
    assert prompt.params["reply_markup"].get("force_reply") is True
    assert prompt.params["reply_markup"].get("selective") is True
    fake.push_message(
        chat_id=GROUP, user_id=USER, chat_type="supergroup", photo=photo_bytes, reply_to=prompt.result
    )
    reply = (await bot.replies(2))[1]
    assert "王芳" not in text_of(reply) and "王" in text_of(reply)  # masked in groups
    assert len(fake.called("sendMessage")) == 2  # the unaddressed messages got nothing


async def test_in_a_group_other_bots_commands_and_names_are_not_for_us(start_bot, fake, photo_bytes):
    """Privacy mode still delivers bare commands meant for other bots; @name_backup is another bot."""
    bot = await start_bot()
    group = {"chat_id": GROUP, "user_id": USER, "chat_type": "supergroup"}
    fake.push_message(**group, text="/weather")
    fake.push_message(**group, text="/etc/hosts is broken again")
    fake.push_message(**group, photo=photo_bytes, caption=f"@{BOT_USERNAME}_backup read this")
    fake.push_message(**group, text="/help")  # ours, bare: answered
    answers = await bot.replies(1)
    await asyncio.sleep(0.5)  # time enough for any wrong answer to the first three to arrive
    assert len(fake.called("sendMessage")) == 1 and "/driving" in text_of(answers[0])
    fake.push_message(**group, photo=photo_bytes, caption=f"@{BOT_USERNAME.upper()}, this one")
    assert "请选择" in text_of((await bot.replies(2))[1])  # named whole, in any case: which document?


async def test_in_a_group_a_word_written_against_the_bots_name_is_read(start_bot, fake, photo_bytes):
    """A username is ASCII, so 驾驶证 straight after @name, or 副页 straight after /driving@name, is the
    message's own word: the first is read as a driving licence, the second asks for the 副页."""
    bot = await start_bot()
    group = {"chat_id": GROUP, "user_id": USER, "chat_type": "supergroup"}
    fake.push_message(**group, photo=photo_bytes, caption=f"@{BOT_USERNAME}驾驶证")
    answer = text_of((await bot.replies())[0])
    assert "王" in answer and "王芳" not in answer  # read, and masked for the group
    fake.push_message(**group, text=f"/driving@{BOT_USERNAME}副页")
    assert "驾驶证副页" in text_of((await bot.replies(2))[1])


async def test_in_a_group_a_reply_to_another_member_is_not_for_us(start_bot, fake, photo_bytes):
    """Replying to the bot addresses it; replying to anyone else is talk between members."""
    bot = await start_bot()
    group = {"chat_id": GROUP, "user_id": USER, "chat_type": "supergroup"}
    said = fake.push_message(chat_id=GROUP, user_id=OTHER, chat_type="supergroup", text="我的车牌")
    fake.push_message(**group, photo=photo_bytes, reply_to=said)
    fake.push_message(**group, text="驾驶证", reply_to=said)
    fake.push_message(**group, text="/help")  # ours, bare: answered, after the two replies were handled
    answers = await bot.replies(1)
    await bot.runtime.drain(5)
    assert len(fake.called("sendMessage")) == 1 and "/driving" in text_of(answers[0])
    assert bot.rows() == []


async def test_command_as_reply_to_a_photo_reads_that_photo(start_bot, fake, photo_bytes):
    bot = await start_bot()
    photo = fake.push_message(chat_id=GROUP, user_id=OTHER, chat_type="supergroup", photo=photo_bytes)
    fake.push_message(chat_id=GROUP, user_id=USER, chat_type="supergroup", text="/plate", reply_to=photo)
    reply = (await bot.replies())[0]
    assert "京A12345" in text_of(reply)
    assert bot.rows()[0].user_id == str(USER)


async def test_history_in_a_group_shows_only_the_askers_own_sessions(start_bot, fake, photo_bytes):
    bot = await start_bot()
    fake.push_message(
        chat_id=GROUP,
        user_id=OTHER,
        chat_type="supergroup",
        photo=photo_bytes,
        caption=f"/driving@{BOT_USERNAME}",
    )
    await bot.replies()
    fake.push_message(chat_id=GROUP, user_id=USER, chat_type="supergroup", text=f"/history@{BOT_USERNAME}")
    history = (await bot.replies(2))[1]
    assert "驾驶证" not in text_of(history)  # OTHER's licence is not USER's history


async def test_admin_gets_stats_others_do_not(start_bot, fake):
    bot = await start_bot("admins = [501]\n")
    fake.push_message(chat_id=USER, user_id=USER, text="/stats")
    fake.push_message(chat_id=OTHER, user_id=OTHER, text="/stats")
    replies = await bot.replies(2)
    mine = next(call for call in replies if call.params["chat_id"] == str(USER))
    theirs = next(call for call in replies if call.params["chat_id"] == str(OTHER))
    assert "📊" in text_of(mine) and "📊" not in text_of(theirs)


# ----------------------------------------------------------------------------------- limits, access


async def test_rate_limit_and_allowlist(start_bot, fake, photo_bytes):
    bot = await start_bot(f"rate_limit = 1\nallowed_users = [{USER}]\n")
    fake.push_message(chat_id=USER, user_id=USER, photo=photo_bytes, caption="/plate", language_code="en")
    await bot.replies()
    fake.push_message(chat_id=USER, user_id=USER, photo=photo_bytes, caption="/plate", language_code="en")
    fake.push_message(chat_id=OTHER, user_id=OTHER, photo=photo_bytes, caption="/plate", language_code="en")
    replies = await bot.replies(3)
    texts = [text_of(call) for call in replies]
    assert REJECTED_TEXTS["rate_limited"][1] in texts[1] or REJECTED_TEXTS["rate_limited"][1] in texts[2]
    assert any(EN_NOT_ALLOWED in text for text in texts)
    statuses = sorted((row.status, row.error_category) for row in bot.rows())
    assert statuses == [("ok", None), ("rejected", "not_allowed"), ("rejected", "rate_limited")]
    assert len(fake.called("download")) == 1  # refused photos are never downloaded


async def test_flood_control_is_honoured_and_blocked_users_do_not_crash(start_bot, fake, photo_bytes):
    bot = await start_bot()
    fake.flood("sendMessage", retry_after=1)
    fake.block(OTHER)
    fake.push_message(chat_id=OTHER, user_id=OTHER, photo=photo_bytes, caption="/plate")
    fake.push_message(chat_id=USER, user_id=USER, photo=photo_bytes, caption="/plate")
    sends = await fake.wait_for("sendMessage", 3)  # one 429 then its retry, one 403 that is dropped
    assert sorted(call.status for call in sends) == [200, 403, 429]
    delivered = next(call for call in sends if call.status == 200)
    assert delivered.params["chat_id"] == str(USER) and "京A12345" in text_of(delivered)
    assert len(bot.rows()) == 2  # both recognitions logged, even the one nobody could receive


async def test_one_slow_vendor_call_does_not_block_another_user(start_bot, fake):
    bot = await start_bot(vendors=chain(delay=0.5))
    ScriptedVendor.most_running = 0
    for user in range(700, 710):
        # Each user's own photo: one photo sent by several would share a single read.
        photo = io.BytesIO()
        Image.new("RGB", (640, 420), (200, 210, user % 256)).save(photo, "JPEG")
        fake.push_message(chat_id=user, user_id=user, photo=photo.getvalue(), caption="/plate")
    await bot.replies(10, timeout=20)
    assert ScriptedVendor.most_running > 1  # one user's call was still under way when another's began
    assert len(bot.rows()) == 10


# ------------------------------------------------------------------------------------------ webhook


class _Healthy(Channel):
    """Another platform's channel, which starts fine."""

    name = "healthy"
    started = stopped = False

    async def start(self) -> None:
        self.started = True

    async def stop(self) -> None:
        self.stopped = True


class _SlowToStop(_Healthy):
    """A channel that spends the whole grace letting its own answers go out (as Telegram's may)."""

    async def stop(self) -> None:
        await asyncio.sleep(self.grace)
        self.stopped = True


async def test_the_stop_waits_one_grace_in_all(make_config, monkeypatch):
    """The channels' own waits and the runtime's drain share `shutdown_grace_seconds`: twice that
    outlasted Docker's and Kubernetes' stop timeouts, and the process was killed mid-drain."""
    runtime = Runtime.from_config(make_config(chain() + "[server]\nshutdown_grace_seconds = 0.5\n"))
    slow = _SlowToStop()
    slow.grace = 0.5
    drained_within: list[float] = []

    async def drain(timeout: float) -> int:
        drained_within.append(timeout)
        return 0

    monkeypatch.setattr(runtime, "drain", drain)
    app = build_app(runtime, [slow])
    async with app.router.lifespan_context(app):
        pass
    assert slow.stopped and drained_within[0] < 0.25  # what was left of the grace, not a second one
    await runtime.aclose()


async def test_telegrams_own_wait_for_its_answers_is_part_of_the_one_grace(
    start_bot, fake, photo_bytes, monkeypatch
):
    """Telegram waited a whole `shutdown_grace_seconds` of its own, whatever the stop had used already."""
    bot = await start_bot(vendors=chain(delay=60) + "[server]\nshutdown_grace_seconds = 30\n")
    fake.push_message(chat_id=USER, user_id=USER, photo=photo_bytes, caption="/plate")
    await fake.wait_for("download", timeout=10)  # the minute-long recognition is under way
    monkeypatch.setattr(bot.runtime, "grace_left", lambda: 0.0)  # the stop's grace is used up already
    await asyncio.wait_for(bot.channel.stop(), timeout=10)  # so it is cut off now, not 30 s from now
    assert [row.status for row in bot.rows()] == ["interrupted"]
    # told so, in reply to the photo, before the bot's HTTP client closed
    assert text_of(fake.called("sendMessage")[-1]) == interrupted_text("zh")


async def test_a_channel_that_cannot_start_leaves_the_others_serving_and_is_tried_again(
    make_config, fake, monkeypatch
):
    """Telegram unreachable at start-up (blocked, or a blip) once took WeChat and WeCom down with it."""
    monkeypatch.setattr(server, "START_RETRY_SECONDS", (0.5, 1.0))
    # The retry waits until the early post below has been answered, however slow the machine.
    early_answered = asyncio.Event()
    retry = server._start_until_it_works

    async def retry_after_the_early_post(channel: Channel) -> None:
        await early_answered.wait()
        await retry(channel)

    monkeypatch.setattr(server, "_start_until_it_works", retry_after_the_early_post)
    extra = 'mode = "webhook"\nwebhook_url = "https://bot.example/tg/hook"\nsecret_token = "s3cret_T"\n'
    config = make_config(chain() + telegram_table(fake, extra))
    runtime = Runtime.from_config(config)
    channel = TelegramChannel.from_config(config.channel_table("telegram") or {}, runtime)
    assert channel is not None
    healthy = _Healthy()
    fake.flood("getMe")  # the first start fails
    app = build_app(runtime, [channel, healthy])
    secret = {"X-Telegram-Bot-Api-Secret-Token": "s3cret_T"}
    async with app.router.lifespan_context(app):
        assert healthy.started
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as client:
            early = await client.post("/tg/hook", json={"update_id": 1}, headers=secret)
        assert early.status_code == 503  # Telegram keeps the update and posts it again
        early_answered.set()
        for _ in range(100):
            if fake.called("setWebhook"):
                break
            await asyncio.sleep(0.05)
        assert len(fake.called("getMe")) == 2 and fake.called("setWebhook")
    assert healthy.stopped
    await runtime.drain(5)
    await runtime.aclose()


async def test_a_channel_that_never_started_closes_its_sessions_on_stop(make_config, fake):
    """PTB shuts down only an application that once initialized, so the sessions a failed start
    opened were left to the garbage collector, which logged "Unclosed client session" on every stop."""
    runtime = Runtime.from_config(make_config(chain() + telegram_table(fake)))
    channel = TelegramChannel.from_config(runtime.config.channel_table("telegram") or {}, runtime)
    assert channel is not None
    fake.flood("getMe")
    assert await server._started(channel) is False
    request = channel.application.bot.request
    assert isinstance(request, AiohttpRequest) and request.holds_a_session  # the failed start opened it
    await channel.stop()
    assert not request.holds_a_session
    await runtime.aclose()


async def test_a_refused_token_is_logged_without_the_token(make_config, fake, caplog):
    """python-telegram-bot quotes the token in InvalidToken's text; a mirror URL without /bot gets the
    same 404, so a valid token would be written to the error log on every retry."""
    table = telegram_table(fake).replace(f'base_url = "{fake.base_url}"', f'base_url = "{fake.base_url}x"')
    runtime = Runtime.from_config(make_config(chain() + table))
    channel = TelegramChannel.from_config(runtime.config.channel_table("telegram") or {}, runtime)
    assert channel is not None
    caplog.set_level(logging.INFO)
    assert await server._started(channel) is False
    assert "could not start" in caplog.text and "base_url" in caplog.text
    assert TOKEN not in caplog.text and TOKEN.split(":")[1] not in caplog.text
    await runtime.aclose()


@pytest.mark.parametrize(
    ("url", "path"),
    [
        ("https://bot.example", "/"),
        ("https://bot.example/", "/"),
        ("https://bot.example/tg/hook?x=1", "/tg/hook"),
    ],
)
def test_the_webhook_is_served_where_telegram_will_post(url: str, path: str) -> None:
    settings = TelegramSettings(token=TOKEN, mode="webhook", webhook_url=url, secret_token="s")
    assert settings.webhook_path == path


async def test_webhook_requires_the_secret_token(make_config, fake, photo_bytes):
    extra = 'mode = "webhook"\nwebhook_url = "https://bot.example/tg/hook"\nsecret_token = "s3cret_T"\n'
    config = make_config(chain() + telegram_table(fake, extra))
    runtime = Runtime.from_config(config)
    channels = build_channels(config, runtime)
    app = build_app(runtime, channels)
    channel = channels[0]
    assert isinstance(channel, TelegramChannel)
    await channel.start()
    try:
        hook = fake.called("setWebhook")[0]
        assert hook.params["secret_token"] == "s3cret_T" and hook.params["url"].endswith("/tg/hook")
        photo = fake.add_file(photo_bytes)
        update = {"update_id": 9, "message": _photo_message(photo.file_id, caption="/plate")}
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as client:
            missing = await client.post("/tg/hook", json=update)
            wrong = await client.post(
                "/tg/hook", json=update, headers={"X-Telegram-Bot-Api-Secret-Token": "x"}
            )
            right = await client.post(
                "/tg/hook", json=update, headers={"X-Telegram-Bot-Api-Secret-Token": "s3cret_T"}
            )
            huge = await client.post(
                "/tg/hook", content=b" " * (MAX_UPDATE_BYTES + 1), headers={SECRET_HEADER: "s3cret_T"}
            )
        assert (missing.status_code, wrong.status_code, right.status_code) == (403, 403, 200)
        assert huge.status_code == 413
        reply = await fake.wait_for("sendMessage")
        assert "京A12345" in text_of(reply[0])
        assert len(runtime.session_log.history()) == 1
    finally:
        await channel.stop()
        await runtime.drain(5)
        await runtime.aclose()


def _photo_message(file_id: str, caption: str) -> dict[str, Any]:
    return {
        "message_id": 5,
        "date": 0,
        "chat": {"id": USER, "type": "private"},
        "from": {"id": USER, "is_bot": False, "first_name": "T"},
        "photo": [{"file_id": file_id, "file_unique_id": "u", "width": 640, "height": 420, "file_size": 100}],
        "caption": caption,
        "caption_entities": [{"type": "bot_command", "offset": 0, "length": len(caption)}],
    }


# --------------------------------------------------------------------------- graceful shutdown (serve)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def test_sigterm_finishes_the_recognition_in_flight_and_exits_0(tmp_path, fake, photo_bytes):
    database = tmp_path / "serve.db"
    config = tmp_path / "config.toml"
    config.write_text(
        f'[bot]\ndatabase = "{database}"\n[server]\nport = {_free_port()}\nshutdown_grace_seconds = 10\n'
        + chain(delay=1.5)
        + telegram_table(fake),
        encoding="utf-8",
    )
    launcher = "import sys, tests.fakes.vendors; from bot.cli import main; sys.exit(main(sys.argv[1:]))"
    process = subprocess.Popen(
        [sys.executable, "-c", launcher, "serve", "--config", str(config)],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        await fake.wait_for("setMyCommands", timeout=30)
        fake.push_message(chat_id=USER, user_id=USER, photo=photo_bytes, caption="/plate")
        await fake.wait_for("download", timeout=30)  # the slow recognition has started
        process.send_signal(signal.SIGTERM)
        code = await asyncio.to_thread(process.wait, 30)
        output = process.stdout.read() if process.stdout else ""
    finally:
        if process.poll() is None:
            process.kill()
    assert "京A12345" in text_of(fake.called("sendMessage")[0]), output
    assert "all recognitions in flight finished" in output
    with SessionLog(database) as log:
        assert [row.status for row in log.history()] == ["ok"]
    assert code == 0, output


# ------------------------------------------------------------------------- embedded engine and boxes


async def test_embedded_engine_reads_a_plate_and_shows_its_box(start_bot, fake):
    import random

    from tests.specimens import make_plate, render_plate_scene

    spec = make_plate(random.Random(3), kind="blue")
    scene, truths = render_plate_scene([spec], random.Random(3), size=(1280, 853))
    buffer = io.BytesIO()
    scene.convert("RGB").save(buffer, "JPEG", quality=92)
    bot = await start_bot(vendors="")  # the default chain: the embedded engine
    photo = fake.push_message(chat_id=USER, user_id=USER, photo=buffer.getvalue(), caption="/plate")
    reply = (await bot.replies(timeout=60))[0]
    assert spec.number in text_of(reply)
    assert buttons(reply) == [f"boxes:{photo['message_id']}"]

    fake.press(reply.result, f"boxes:{photo['message_id']}", user_id=OTHER)  # not the sender: refused
    refused = await fake.wait_for("answerCallbackQuery")
    assert refused[0].params.get("show_alert") in (True, "True", "true") and not fake.called("sendPhoto")
    fake.press(reply.result, f"boxes:{photo['message_id']}", user_id=USER)
    sent = (await fake.wait_for("sendPhoto"))[0]
    assert sent.params["caption"] == "1. 车牌"
    drawn = Image.open(io.BytesIO(sent.files["photo"]))
    assert drawn.size == scene.size
    kept = bot.channel.photos.get(f"{USER}:{photo['message_id']}")  # in memory only, bounded
    assert kept is not None and kept.recognition is not None
    box = kept.recognition.plates[0].box
    assert box is not None and abs(box.x - truths[0]["box"]["x"]) < truths[0]["box"]["width"] / 2
    edge = drawn.convert("RGB").getpixel((box.x + box.width // 2, box.y + 1))  # the outline's top edge: red
    assert edge[0] > 150 and edge[1] < 110


async def test_a_button_alert_is_in_the_pressers_language_not_the_photo_senders(start_bot, fake):
    """Only the presser sees an alert; an English user pressing "show boxes" under a photo no longer
    kept used to be told in Chinese."""
    bot = await start_bot()
    fake.push_message(chat_id=USER, user_id=USER, text="/help")
    reply = (await bot.replies())[0]
    fake.press(reply.result, "boxes:424242", user_id=OTHER, language_code="en-US")
    alert = (await fake.wait_for("answerCallbackQuery"))[0]
    assert alert.params["text"] == BOXES_GONE["en"]
    fake.press(reply.result, "boxes:424242", user_id=USER)  # zh-hans
    alerts = await fake.wait_for("answerCallbackQuery", count=2)
    assert alerts[1].params["text"] == BOXES_GONE["zh"]


STICKER = {
    "file_id": "st1",
    "file_unique_id": "ust1",
    "type": "regular",
    "width": 512,
    "height": 512,
    "is_animated": False,
    "is_video": False,
}
VIDEO = {"file_id": "vd1", "file_unique_id": "uvd1", "width": 640, "height": 360, "duration": 3}


async def test_what_cannot_be_read_is_refused_at_once_in_the_users_language(start_bot, fake, photo_bytes):
    """A sticker got the whole help text, a video captioned /driving set up the next photo as a driving
    licence, and a PDF was asked which document it was before being refused."""
    bot = await start_bot()
    english = {"chat_id": USER, "user_id": USER, "language_code": "en-US"}
    sticker = fake.push_message(**english, extra={"sticker": STICKER})
    video = fake.push_message(**english, caption="/driving", extra={"video": VIDEO})
    pdf = fake.push_message(**english, document=b"%PDF-1.7 not a photo", mime_type="application/pdf")
    # Each message is handled on its own, so the replies may come in any order; each quotes its message.
    replies = {call.params["reply_parameters"]["message_id"]: text_of(call) for call in await bot.replies(3)}
    assert replies == {
        sticker["message_id"]: NOT_A_PHOTO_COMMANDS["en"],
        video["message_id"]: NOT_A_PHOTO_COMMANDS["en"],
        pdf["message_id"]: REJECT_REASON_TEXTS["not_image"][1],
    }
    assert not fake.called("getFile")
    # The file is a session all the same, with no kind; a sticker or a video is talk, not a document.
    rows = [(row.message_id, row.kind, row.status, row.error_category) for row in bot.rows()]
    assert rows == [(str(pdf["message_id"]), None, "bad_image", "not_image")]
    fake.push_message(**english, photo=photo_bytes)  # no kind was set up by the video's caption
    assert buttons((await bot.replies(4))[3])


async def test_a_photo_waiting_for_its_kind_at_a_stop_is_on_record(start_bot, fake, photo_bytes):
    bot = await start_bot()
    photo = fake.push_message(chat_id=USER, user_id=USER, photo=photo_bytes)
    assert buttons((await bot.replies())[0])  # asked which document it is
    await bot.channel.stop()
    [row] = bot.rows()
    assert (row.message_id, row.kind, row.status, row.error_category) == (
        str(photo["message_id"]),
        None,
        "unanswered",
        "stopped",
    )


async def test_a_file_that_is_no_image_after_a_named_document_is_refused_with_a_session_row(start_bot, fake):
    bot = await start_bot()
    fake.push_message(chat_id=USER, user_id=USER, text="/driving")
    await bot.replies()
    fake.push_message(chat_id=USER, user_id=USER, document=b"%PDF-1.7", mime_type="application/pdf")
    assert REJECT_REASON_TEXTS["not_image"][0] in text_of((await bot.replies(2))[1])
    assert [(row.kind, row.status, row.error_category) for row in bot.rows()] == [
        ("driving", "bad_image", "not_image")
    ]


def test_benchmark_smoke(tmp_path):
    """benchmarks/telegram.py end to end with 5 users: every reply arrives and the JSON has its figures."""
    from benchmarks.telegram import main

    out = tmp_path / "telegram.json"
    result = main(["--users", "5", "--rounds", "2", "--delay", "0.05", "--out", str(out)])
    assert result["replies_received_by_fake"] == 10 and result["sessions_ok"] == 10
    assert len(result["wall_s_each_round"]) == 2
    written = json.loads(out.read_text(encoding="utf-8"))
    assert written["users"] == 5 and written["cpu_ms_per_update"] > 0 and written["wall_s"] > 0
