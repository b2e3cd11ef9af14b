"""Official-account channel over HTTP: callbacks built and encrypted with wechatpy, POSTed to the app that
`licence-bot serve` runs, replies read back from a fake WeChat API server on 127.0.0.1.

Most tests drive the ASGI app in-process (httpx.ASGITransport); one serves it with uvicorn on a real
socket. Recognition is the scripted vendor, so a "slow vendor" is a configured delay.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import json
import logging
import socket
import sqlite3
import threading
import time
import weakref
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime, tzinfo
from typing import Any

import httpx
import pytest
import uvicorn

from bot.channels.base import Runtime
from bot.channels.server import build_app, build_channels, server_config
from bot.channels.wechat import WeChatChannel, WeChatSettings
from bot.channels.wechat_api import (
    MAX_MEDIA_BYTES,
    OfficialAccountAPI,
    SQLiteSessionStorage,
    WeChatAPIError,
    _token_of,
)
from bot.channels.wechat_core import (
    Choices,
    Incoming,
    Outbox,
    PassiveTiming,
    split_utf8,
)
from bot.config import ConfigError
from bot.images import ImageRejected
from bot.storage import SessionLog
from handlers import limits as limits_module
from handlers.channel_texts import COLLECT_LATER, MORE_WAITING
from handlers.dispatch import ASK_KIND, LANGUAGE_SET, SEND_PHOTO
from handlers.limits import DEFAULT_RATE_LIMIT
from handlers.replies import ERROR_CATEGORY_TEXTS, REJECT_REASON_TEXTS, REJECTED_TEXTS, interrupted_text
from tests.fakes.vendors import ScriptedVendor
from tests.fakes.wechat_server import (
    CallbackBuilder,
    FakeWeChat,
    Signed,
    message_xml,
    reply_content,
    signature,
)

TOKEN = "test-callback-token"
AES_KEY = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG"
USER = "oUser-0001"


def chain(outcome: str = "ok", delay: float = 0.0) -> str:
    return (
        '[vendors]\ndriving = ["scripted"]\nvehicle = ["scripted"]\nplate = ["scripted"]\n'
        f'[vendors.scripted]\noutcome = "{outcome}"\ndelay = {delay}\n'
    )


def wechat_table(fake: FakeWeChat, *, mode: str = "raw", reply_mode: str = "customer_service") -> str:
    aes = AES_KEY if mode in ("compatible", "safe") else ""
    return (
        f'[wechat]\ntoken = "{TOKEN}"\napp_id = "{fake.app_id}"\napp_secret = "{fake.app_secret}"\n'
        f'encoding_aes_key = "{aes}"\nreply_mode = "{reply_mode}"\napi_base_url = "{fake.url}"\n'
    )


@dataclass
class Bot:
    runtime: Runtime
    channel: WeChatChannel
    client: httpx.AsyncClient
    sender: CallbackBuilder

    async def post(self, signed: Signed, timeout: float | None = None) -> httpx.Response:
        call = self.client.post("/wechat", params=signed.params, content=signed.body)
        return await (asyncio.wait_for(call, timeout) if timeout else call)

    async def send(self, xml: str, timeout: float | None = None) -> httpx.Response:
        return await self.post(self.sender.post(xml), timeout)

    def reply(self, answer: httpx.Response | str) -> str:
        """The text of a passive reply, decrypted as WeChat would."""
        body = answer if isinstance(answer, str) else answer.text
        return reply_content(self.sender.decrypt_reply(body))

    async def settle(self) -> None:
        """Wait for the background work (recognition, delivery) to finish."""
        for _ in range(500):
            if self.runtime.in_flight == 0:
                return
            await asyncio.sleep(0.01)
        raise AssertionError("background work did not finish")

    def sessions(self) -> list[Any]:
        return self.runtime.session_log.history(platform="wechat", limit=50)


@pytest.fixture
def fake() -> Iterator[FakeWeChat]:
    with FakeWeChat() as server:
        yield server


@pytest.fixture
def photo_id(fake: FakeWeChat, photo_bytes: bytes) -> str:
    return fake.add_media(photo_bytes)


@pytest.fixture
def make_bot(make_config, fake):
    @asynccontextmanager
    async def make(
        mode: str = "raw",
        reply_mode: str = "customer_service",
        vendor: str = "",
        timing: PassiveTiming | None = None,
        limits: str = "",
    ) -> AsyncIterator[Bot]:
        table = wechat_table(fake, mode=mode, reply_mode=reply_mode) + limits
        config = make_config(table + (vendor or chain()))
        runtime = Runtime.from_config(config)
        settings = WeChatSettings.model_validate(config.channel_table("wechat"))
        channel = WeChatChannel(settings, runtime, timing=timing)
        app = build_app(runtime, [channel])
        transport = httpx.ASGITransport(app=app)
        sender = CallbackBuilder(TOKEN, mode=mode, aes_key=AES_KEY, receive_id=fake.app_id)
        async with httpx.AsyncClient(transport=transport, base_url="http://bot.test") as client:
            try:
                yield Bot(runtime, channel, client, sender)
            finally:
                await runtime.drain(5)
                await channel.api.aclose()
                await runtime.aclose()

    return make


def image(media_id: str, user: str = USER, msg_id: int | None = None) -> str:
    return message_xml("image", user, media_id=media_id, msg_id=msg_id)


def text(content: str, user: str = USER, msg_id: int | None = None) -> str:
    return message_xml("text", user, content=content, msg_id=msg_id)


# ------------------------------------------------------------------------------------ verification


async def test_url_verification_echoes_echostr_and_refuses_a_forged_one(make_bot):
    async with make_bot() as bot:
        params = bot.sender.verification("hello-echo-42")
        answer = await bot.client.get("/wechat", params=params)
        assert (answer.status_code, answer.text) == (200, "hello-echo-42")
        forged = await bot.client.get("/wechat", params={**params, "signature": "0" * 40})
        assert forged.status_code == 403
        assert "hello-echo-42" not in forged.text


# ------------------------------------------------------------------------------- modes and flows


async def test_plaintext_photo_then_number_recognizes_and_replies_by_customer_service(
    make_bot, fake, photo_id
):
    async with make_bot("raw") as bot:
        first = await bot.send(image(photo_id))
        assert (first.status_code, first.text) == (200, "success")
        await bot.settle()
        [question] = fake.texts_to(USER)
        assert "1." in question and "5." in question  # the five kinds, numbered
        assert fake.media_requests == 1  # downloaded at once, not when the kind arrives

        await bot.send(text("1"))
        await bot.settle()
        result = fake.texts_to(USER)[1:]
        assert any("王芳" in chunk for chunk in result)
        [row] = bot.sessions()
        assert (row.status, row.kind, row.side, row.user_id) == ("ok", "driving", "front", USER)
        assert all(len(chunk.encode("utf-8")) <= 2048 for chunk in fake.texts_to(USER))


async def test_safe_mode_word_first_then_photo(make_bot, fake, photo_id):
    async with make_bot("safe") as bot:
        answer = await bot.send(text("车牌"))
        assert answer.text == "success"
        await bot.settle()
        assert len(fake.texts_to(USER)) == 1  # "send a photo of the plate"
        await bot.send(image(photo_id))
        await bot.settle()
        assert any("京A12345" in chunk for chunk in fake.texts_to(USER)[1:])
        [row] = bot.sessions()
        assert row.kind == "plate"


async def test_compatible_mode_photo_then_word(make_bot, fake, photo_id):
    async with make_bot("compatible") as bot:
        await bot.send(image(photo_id))
        await bot.send(text("行驶证副页"))
        await bot.settle()
        [row] = bot.sessions()
        assert (row.kind, row.side, row.status) == ("vehicle", "back", "ok")
        assert any("110001234567" in chunk for chunk in fake.texts_to(USER))


async def test_a_photo_of_another_page_is_answered_with_the_word_that_reads_it(make_bot, fake, photo_id):
    """WeChat users ask by word; the advice names the word, which then reads the photo sent again."""
    vendor = chain("not_found") + 'error_code = "shows_driving_back"\n'
    async with make_bot("raw", vendor=vendor) as bot:
        await bot.send(text("驾驶证"))
        await bot.send(image(photo_id))
        await bot.settle()
        advice = fake.texts_to(USER)[-1]
        assert "“驾驶证副页”" in advice and "/driving" not in advice
        assert [(row.status, row.error_code) for row in bot.sessions()] == [
            ("not_found", "shows_driving_back")
        ]


async def test_a_wechat_user_switches_language_by_word(make_bot, fake):
    """WeChat has no slash commands: the words the help lists switch the language."""
    async with make_bot("raw") as bot:

        async def said(words: str) -> str:
            answer = await bot.send(text(words))
            await bot.settle()
            return bot.reply(answer) if answer.text != "success" else fake.texts_to(USER)[-1]

        assert "English" in await said("帮助")
        assert await said("English") == LANGUAGE_SET["en"]
        help_in_english = await said("help")
        assert "Send a photo" in help_in_english and "中文" in help_in_english
        assert await said("中文") == LANGUAGE_SET["zh"]


async def test_a_users_word_and_photo_sent_back_to_back_are_handled_in_order(make_bot, fake, photo_id):
    """Each message is processed in the background; a user's next message must still wait its turn,
    or the photo could reach the dispatcher before the word that says what it is."""
    prompt = SEND_PHOTO["zh"].format(name="车牌")
    async with make_bot(limits="rate_limit = 0\n") as bot:  # 20 photos in a moment: over the default
        for round_number in range(20):
            before = len(fake.texts_to(USER))
            await bot.send(text("车牌"))
            await bot.send(image(photo_id))
            await bot.settle()
            replies = fake.texts_to(USER)[before:]
            assert replies[0] == prompt, f"round {round_number}: the photo overtook the word"
            assert "京A12345" in replies[-1]
        assert [row.kind for row in bot.sessions()] == ["plate"] * 20


async def test_a_table_that_sets_no_limits_still_limits_each_user(make_bot, fake, photo_id):
    """Open by default with no limit, one forwarded link could run up a cloud vendor's bill."""
    async with make_bot() as bot:
        for number in range(DEFAULT_RATE_LIMIT + 1):
            await bot.send(text("车牌", msg_id=8000 + 2 * number))
            await bot.send(image(photo_id, msg_id=8001 + 2 * number))
            await bot.settle()
        assert fake.texts_to(USER)[-1].endswith(REJECTED_TEXTS["rate_limited"][0])
        assert sorted(row.status for row in bot.sessions()) == ["ok"] * DEFAULT_RATE_LIMIT + ["rejected"]


async def test_subscribe_gets_an_encrypted_welcome_listing_the_words(make_bot, fake):
    async with make_bot("safe") as bot:
        signed = bot.sender.post(message_xml("event", USER, event="subscribe"))
        answer = await bot.post(signed)
        assert "<Encrypt>" in answer.text and "驾驶证副页" not in answer.text
        welcome = bot.reply(answer)
        for word in ("驾驶证", "驾驶证副页", "行驶证", "行驶证副页", "车牌", "帮助", "记录"):
            assert word in welcome
        help_answer = bot.reply(await bot.send(text("帮助")))
        assert "驾驶证副页" in help_answer
        assert fake.sent == []  # passive answers spend no customer-service quota


@pytest.mark.parametrize("event", ["subscribe_msg_popup_event", "TEMPLATESENDJOBFINISH", "unsubscribe"])
async def test_events_other_than_subscribe_get_no_reply(make_bot, fake, event):
    """Including the ones wechatpy has no class for, which once got 'I can only read photos'."""
    async with make_bot() as bot:
        answer = await bot.send(message_xml("event", USER, event=event))
        await bot.settle()
        assert answer.text == "success" and fake.sent == []


class _Midday(datetime):
    """A day in Beijing that cannot end while a test runs (a quota counted across midnight resets)."""

    @classmethod
    def now(cls, tz: tzinfo | None = None) -> datetime:
        return datetime(2026, 6, 1, 12, 0, tzinfo=tz)


async def test_the_daily_quota_and_the_allowlist_hold_on_wechat_too(make_bot, fake, photo_id, monkeypatch):
    """Every follower could otherwise run up a cloud vendor's bill."""
    monkeypatch.setattr(limits_module, "datetime", _Midday)
    limits = f'daily_quota = 1\nallowed_users = ["{USER}"]\n'
    async with make_bot(limits=limits) as bot:
        for message_id in (1, 2):
            await bot.send(text("驾驶证"))
            await bot.send(image(photo_id, msg_id=message_id))
            await bot.settle()
        await bot.send(text("驾驶证", user="oStranger-02"))
        await bot.send(image(photo_id, user="oStranger-02", msg_id=3))
        await bot.settle()
        statuses = sorted((row.user_id, str(row.status)) for row in bot.sessions())
        assert statuses == [("oStranger-02", "rejected"), (USER, "ok"), (USER, "rejected")]
        assert REJECTED_TEXTS["quota_exceeded"][0].split("，")[0] in fake.texts_to(USER)[-1]


async def test_history_word_lists_own_sessions(make_bot, fake, photo_id):
    async with make_bot() as bot:
        await bot.send(text("驾驶证"))
        await bot.send(image(photo_id))
        await bot.settle()
        await bot.send(text("记录"))
        await bot.settle()
        assert len(fake.texts_to(USER)) >= 3
        assert "驾驶证" in fake.texts_to(USER)[-1]


# ---------------------------------------------------------------------------- forged and replayed


async def test_forged_and_replayed_requests_get_403_and_are_logged_without_body(make_bot, fake, caplog):
    secret_text = "驾驶证-secret-body-marker"
    async with make_bot("safe") as bot:
        caplog.set_level(logging.DEBUG)
        good = bot.sender.post(text(secret_text))
        forged_signature = Signed({**good.params, "signature": "f" * 40}, good.body)
        tampered = bot.sender.post(text(secret_text))
        tampered.params["msg_signature"] = "0" * 40
        stale = bot.sender.post(text(secret_text), timestamp=str(int(time.time()) - 3600))
        for signed in (forged_signature, tampered, stale):
            assert (await bot.post(signed)).status_code == 403

        assert (await bot.post(good)).status_code == 200
        other_body = bot.sender.post(
            text("another"), timestamp=good.params["timestamp"], nonce=good.params["nonce"]
        )
        assert (await bot.post(other_body)).status_code == 403  # same nonce, different message
        await bot.settle()
    assert "secret-body-marker" not in caplog.text
    assert "rejected callback" in caplog.text


async def test_a_forged_msg_signature_is_refused_before_wechatpy_decrypts(make_bot, fake, monkeypatch):
    """wechatpy compares msg_signature with `!=`; only a signature that already matched in constant
    time may reach it."""
    from wechatpy.crypto import WeChatCrypto

    decrypted: list[str] = []
    decrypt = WeChatCrypto.decrypt_message

    def spy(self, msg, signature, timestamp, nonce):
        decrypted.append(signature)
        return decrypt(self, msg, signature, timestamp, nonce)

    monkeypatch.setattr(WeChatCrypto, "decrypt_message", spy)
    async with make_bot("safe") as bot:
        good = bot.sender.post(text("驾驶证"))
        tampered = Signed({**good.params, "msg_signature": "0" * 40}, good.body)
        assert (await bot.post(tampered)).status_code == 403
        assert decrypted == []
        assert (await bot.post(good)).status_code == 200
        assert decrypted == [good.params["msg_signature"]]
        await bot.settle()


async def test_plaintext_mode_refuses_a_post_with_a_forged_signature(make_bot, fake, photo_id):
    """In plaintext mode the query's signature is the only proof a POST comes from WeChat."""
    async with make_bot("raw") as bot:
        await bot.send(text("驾驶证"))
        await bot.settle()
        sent_before = len(fake.sent)
        good = bot.sender.post(image(photo_id))
        forged = Signed({**good.params, "signature": "f" * 40}, good.body)
        assert (await bot.post(forged)).status_code == 403
        await bot.settle()
        assert bot.sessions() == [] and len(fake.sent) == sent_before


async def test_stale_future_and_nonceless_requests_are_refused(make_bot, fake):
    """A captured request replayed an hour later, one stamped an hour ahead (to outlive the nonce
    memory), and one without a nonce (nothing to remember it by) are all refused, signed or not."""
    async with make_bot("raw") as bot:
        bot.sender.clock = lambda: time.time() - 3600
        assert (await bot.client.get("/wechat", params=bot.sender.verification("old"))).status_code == 403
        assert (await bot.send(text("驾驶证"))).status_code == 403
        bot.sender.clock = lambda: time.time() + 3600
        assert (await bot.send(text("驾驶证"))).status_code == 403
        bot.sender.clock = time.time
        timestamp = str(int(time.time()))
        params = {"signature": signature(TOKEN, timestamp, ""), "timestamp": timestamp, "nonce": ""}
        assert (
            await bot.post(Signed({**params, "openid": USER}, text("驾驶证").encode()))
        ).status_code == 403
        await bot.settle()
        assert fake.sent == []


async def test_an_envelope_encrypted_for_another_app_is_refused(make_bot, fake):
    async with make_bot("safe") as bot:
        other_app = CallbackBuilder(TOKEN, mode="safe", aes_key=AES_KEY, receive_id="wx-another-app")
        assert (await bot.post(other_app.post(text("驾驶证")))).status_code == 403
        await bot.settle()
        assert fake.sent == [] and bot.sessions() == []


async def test_plaintext_mode_refuses_an_encrypted_post(make_bot):
    async with make_bot("raw") as bot:
        bot.sender.mode, bot.sender.aes_key = "safe", AES_KEY
        assert (await bot.send(text("hi"))).status_code == 403


@pytest.mark.parametrize("mode", ["safe", "compatible"])
async def test_with_a_key_set_a_plaintext_post_is_refused(make_bot, fake, photo_id, mode):
    """Its signature covers no byte of the body: one seen on a URL check could post as anyone."""
    async with make_bot(mode) as bot:
        bot.sender.mode = "raw"
        assert (await bot.send(image(photo_id))).status_code == 403
        await bot.settle()
        assert bot.sessions() == [] and fake.sent == []


async def test_a_replay_reaching_another_process_is_dropped(make_bot, fake, photo_id, caplog):
    async with make_bot() as bot:
        good = bot.sender.post(text("车牌"))
        await bot.post(good)
        await bot.settle()
    sent_before = len(fake.sent)
    async with make_bot() as other:  # same database: the nonce store is shared
        replay = other.sender.post(
            text("驾驶证"), timestamp=good.params["timestamp"], nonce=good.params["nonce"]
        )
        await other.post(replay)
        await other.settle()
    assert len(fake.sent) == sent_before
    assert "nonce reused" in caplog.text


# ------------------------------------------------------------------------------- retries, restart


async def test_retries_of_one_msgid_are_processed_and_answered_once(make_bot, fake, photo_id):
    async with make_bot(vendor=chain(delay=0.2)) as bot:
        await bot.send(text("驾驶证"))
        await bot.settle()
        before = len(fake.texts_to(USER))
        xml = image(photo_id, msg_id=1234567890123456)
        identical = bot.sender.post(xml)
        answers = [await bot.post(identical), await bot.send(xml), await bot.post(identical)]
        assert [a.text for a in answers] == ["success"] * 3
        await bot.settle()
        assert len(bot.sessions()) == 1
        assert fake.media_requests == 1
        replies = fake.texts_to(USER)[before:]
        assert replies and len(replies) == len(set(replies))


async def test_a_restarted_process_ignores_the_retry(make_bot, fake, photo_id):
    xml = image(photo_id, msg_id=777)
    async with make_bot() as bot:
        await bot.send(text("驾驶证"))
        await bot.send(xml)
        await bot.settle()
    sent_before = len(fake.sent)
    async with make_bot() as restarted:  # a second Runtime on the same SQLite file
        answer = await restarted.send(xml)
        await restarted.settle()
        assert answer.text == "success"
        assert len(fake.sent) == sent_before
        assert len(restarted.sessions()) == 1


async def test_a_photo_a_stop_cuts_off_is_logged_and_its_user_asked_to_send_it_again(
    make_bot, fake, photo_id
):
    """The reply text existed, but the cut-off task ended without it: the user saw nothing."""
    async with make_bot(vendor=chain(delay=60)) as bot:
        await bot.send(text("驾驶证"))
        await bot.settle()
        ScriptedVendor.running = 0
        await bot.send(image(photo_id))
        for _ in range(500):  # until the minute-long read is under way
            if ScriptedVendor.running:
                break
            await asyncio.sleep(0.01)
        assert await bot.runtime.drain(0.05) == 1  # the grace is over: cut off
        assert [str(row.status) for row in bot.sessions()] == ["interrupted"]
        assert fake.texts_to(USER)[-1] == interrupted_text("zh")


async def test_a_photo_waiting_behind_the_users_earlier_one_is_asked_for_again_too(make_bot, fake, photo_id):
    """It waits for the same user's earlier message outside the recognizer, and was dropped unanswered."""
    async with make_bot(vendor=chain(delay=60)) as bot:
        await bot.send(text("驾驶证"))
        await bot.settle()
        ScriptedVendor.running = 0
        await bot.send(image(photo_id, msg_id=8101))
        await bot.send(image(photo_id, msg_id=8102))  # waits behind the first
        for _ in range(500):
            if ScriptedVendor.running:
                break
            await asyncio.sleep(0.01)
        assert await bot.runtime.drain(0.05) == 2
        assert fake.texts_to(USER)[-2:] == [interrupted_text("zh")] * 2


# ------------------------------------------------------------------------------------ passive mode

#: Short enough for a test, wide enough for a loaded machine: a ready answer goes back at once, so the
#: window costs nothing where one is expected, and each scripted read below ends well inside the window
#: it is meant for (half a second from either edge). With a 0.25 s window, a prompt the dispatcher took
#: longer to produce missed its try on a loaded CI machine.
FAST = PassiveTiming(window=1.0, wechat_timeout=1.5)
#: A read that ends inside the second try's window (1.5 to 2.5 s), and one that ends after the third's.
SECOND_TRY, AFTER_THE_LAST = 2.0, 5.0


async def passive_tries(bot: Bot, xml: str, tries: int = 3) -> str | None:
    """WeChat's behaviour: each try waits `wechat_timeout`, then the next one is sent."""
    for _ in range(tries):
        try:
            answer = await bot.send(xml, timeout=FAST.wechat_timeout)
        except TimeoutError:
            continue
        return answer.text
    return None


async def test_passive_mode_answers_a_later_try_when_the_result_is_ready(make_bot, fake, photo_id):
    async with make_bot(reply_mode="passive", vendor=chain(delay=SECOND_TRY), timing=FAST) as bot:
        prompt = bot.reply(await bot.send(text("驾驶证")))
        assert prompt
        answer = await passive_tries(bot, image(photo_id))
        assert answer is not None and "王芳" in bot.reply(answer)
        await bot.settle()
        assert fake.sent == [] and len(bot.sessions()) == 1


async def test_passive_mode_answers_when_sqlite_cannot_record_the_claim(make_bot, fake, monkeypatch):
    """A locked or full database used to turn the callback into an HTTP 500, which WeChat shows the user
    as "this account cannot serve you right now"; customer-service mode already answered."""
    async with make_bot(reply_mode="passive", timing=FAST) as bot:

        def locked(platform: str, key: str) -> bool:
            raise sqlite3.OperationalError("database is locked")

        monkeypatch.setattr(bot.runtime.session_log, "claim_inbound", locked)
        answer = await bot.send(text("驾驶证"))
        assert answer.status_code == 200 and bot.reply(answer) == SEND_PHOTO["zh"].format(name="驾驶证")


async def test_passive_mode_without_sqlite_still_knows_a_retry(make_bot, fake, photo_id, monkeypatch):
    """With the claim unrecorded, each of WeChat's tries of one photo used to start it again: the
    photo waited twice for its kind, and was read twice."""
    async with make_bot(reply_mode="passive", vendor=chain(delay=SECOND_TRY), timing=FAST) as bot:

        def locked(platform: str, key: str) -> bool:
            raise sqlite3.OperationalError("database is locked")

        monkeypatch.setattr(bot.runtime.session_log, "claim_inbound", locked)
        await bot.send(text("驾驶证"))
        answer = await passive_tries(bot, image(photo_id))
        assert answer is not None and "王芳" in bot.reply(answer)
        await bot.settle()
        later = bot.reply(await bot.send(text("好的", msg_id=7001)))
        assert ASK_KIND["zh"] not in later  # no second copy of the photo waits for a kind
        assert len(bot.sessions()) == 1


async def test_passive_mode_last_try_says_send_any_text_then_delivers(make_bot, fake, photo_id):
    async with make_bot(reply_mode="passive", vendor=chain(delay=AFTER_THE_LAST), timing=FAST) as bot:
        await bot.send(text("驾驶证"))
        answer = await passive_tries(bot, image(photo_id))
        assert answer is not None and bot.reply(answer) == COLLECT_LATER["zh"]
        await bot.settle()
        collected = bot.reply(await bot.send(text("好的")))
        assert "王芳" in collected
        assert len(bot.sessions()) == 1 and fake.sent == []


async def test_passive_mode_a_try_past_its_window_leaves_the_result_for_the_next(make_bot, fake):
    """A try whose SQLite calls were slow outlives WeChat's wait: a result it took would be written to
    a connection nobody reads, so it leaves it for the next try (or the user's next text)."""
    async with make_bot(reply_mode="passive", timing=FAST) as bot:
        await bot.channel.outbox.put(USER, ["王芳 的驾驶证结果"])
        loop = asyncio.get_running_loop()
        late = Incoming(key="1", user=USER, kind="image")
        assert await bot.channel._hold(late, 1, arrived=loop.time() - FAST.wechat_timeout) is None
        assert bot.channel.outbox.has(USER)
        on_time = await bot.channel._hold(late, 2, arrived=loop.time())
        assert on_time is not None and "王芳" in on_time


async def test_passive_mode_sends_nothing_for_a_photo_a_stop_cuts_off(make_bot, fake, photo_id):
    """Passive mode answers only inside a request WeChat still waits on; the customer-service API, which
    a passive account may not have, is never called."""
    async with make_bot(reply_mode="passive", vendor=chain(delay=60), timing=FAST) as bot:
        await bot.send(text("驾驶证"))
        await bot.settle()
        ScriptedVendor.running = 0
        pending = asyncio.create_task(bot.send(image(photo_id), timeout=FAST.wechat_timeout))
        for _ in range(500):
            if ScriptedVendor.running:
                break
            await asyncio.sleep(0.01)
        assert await bot.runtime.drain(0.05) == 1
        with contextlib.suppress(TimeoutError):
            await pending
        assert fake.sent == [] and [str(row.status) for row in bot.sessions()] == ["interrupted"]


async def test_passive_mode_a_retry_of_an_answer_given_at_once_gets_it_again(make_bot, fake):
    """WeChat retries when the first answer did not reach it in time; 'still reading' would be wrong,
    as nothing is being read."""
    async with make_bot(reply_mode="passive", timing=FAST) as bot:
        xml = text("帮助", msg_id=5151)
        answers = [bot.reply(await bot.send(xml, timeout=FAST.wechat_timeout)) for _ in range(3)]
        assert "驾驶证副页" in answers[0] and answers == [answers[0]] * 3


# ----------------------------------------------------------------------------------- vendor errors


@pytest.mark.parametrize("errcode", [45015, 45047, 45009])
async def test_undelivered_reply_is_logged_recorded_and_collected_later(
    make_bot, fake, photo_id, errcode, caplog
):
    async with make_bot() as bot:
        await bot.send(text("驾驶证"))
        await bot.settle()
        fake.script("custom_send", errcode)
        await bot.send(image(photo_id, msg_id=4242))
        await bot.settle()
        [row] = bot.sessions()
        line = next(r.getMessage() for r in caplog.records if "not delivered" in r.getMessage())
        assert str(errcode) in line and f"session {row.id}" in line
        record = json.loads(bot.runtime.session_log.kv_get("wechat:delivery:4242") or "{}")
        assert record["errcode"] == errcode and record["session_id"] == row.id
        collected = bot.reply(await bot.send(text("?")))
        assert "王芳" in collected


async def test_a_command_that_collects_a_waiting_reply_is_done_too(make_bot, fake, photo_id):
    """The waiting result comes back in the callback, and the command (车牌) is not swallowed: its own
    answer follows by the customer-service API, which the user's message has just reopened."""
    async with make_bot() as bot:
        await bot.send(text("驾驶证"))
        await bot.settle()
        fake.script("custom_send", 45015)
        await bot.send(image(photo_id))
        await bot.settle()
        collected = bot.reply(await bot.send(text("车牌")))
        await bot.settle()
        assert "王芳" in collected
        assert SEND_PHOTO["zh"].format(name="车牌") in fake.texts_to(USER)[-1]


async def test_system_busy_is_asked_again_once_and_the_reply_delivered(make_bot, fake, photo_id):
    async with make_bot() as bot:
        bot.channel.api.busy_pause = 0.01
        await bot.send(text("驾驶证"))
        await bot.settle()
        fake.script("custom_send", -1)  # the result's send: busy once, then taken
        await bot.send(image(photo_id))
        await bot.settle()
        assert any("王芳" in content for content in fake.texts_to(USER))
        assert not bot.channel.outbox.has(USER)


@pytest.mark.parametrize("refusal", [40001, 42001])
async def test_refused_token_is_refreshed_once_and_the_call_retried(make_bot, fake, photo_id, refusal):
    async with make_bot() as bot:
        await bot.send(text("车牌"))
        await bot.settle()
        assert fake.token_requests == 1
        if refusal == 40001:
            fake.revoke_tokens()
        else:
            fake.expire_tokens()
        users = [f"oUser-{n}" for n in range(5)]
        bot.channel.api.token._local = None  # as another worker whose in-memory copy lapsed
        await asyncio.gather(*(bot.send(text("车牌", user=user)) for user in users))
        await bot.settle()
        assert fake.token_requests == 2  # one refresh for five refused calls
        assert all(len(fake.texts_to(user)) == 1 for user in users)


async def test_a_claim_sqlite_cannot_record_still_gets_the_message_answered(make_bot, fake, photo_id):
    """The message is marked seen before the claim, so WeChat's retries get `success`: had the failed
    claim dropped it (database locked, disk full), nobody would ever have answered."""
    async with make_bot() as bot:

        def locked(platform: str, key: str) -> bool:
            raise sqlite3.OperationalError("database is locked")

        bot.runtime.session_log.claim_inbound = locked  # type: ignore[method-assign]
        await bot.send(text("驾驶证"))
        await bot.send(image(photo_id))
        await bot.settle()
        assert any("王" in chunk for chunk in fake.texts_to(USER))
        assert [row.status for row in bot.sessions()] == ["ok"]


def test_a_token_answer_without_a_token_is_a_failed_call() -> None:
    """Not a bare KeyError, which escaped every handler and left the user without a reply."""
    for body in ({"errcode": 0, "errmsg": "ok"}, {"access_token": "", "expires_in": 7200}):
        with pytest.raises(WeChatAPIError):
            _token_of("token", body)
    assert _token_of("token", {"access_token": "t", "expires_in": "7200"}) == ("t", 7200)


async def test_expired_media_and_broken_image_get_clear_replies(make_bot, fake):
    async with make_bot() as bot:
        await bot.send(text("驾驶证"))
        await bot.send(image("media-that-expired"))
        await bot.settle()
        assert ERROR_CATEGORY_TEXTS["download"][0] in fake.texts_to(USER)[-1]
        [row] = bot.sessions()  # logged as Telegram logs a failed download
        assert (row.status, row.error_category, row.kind) == ("vendor_error", "download", "driving")
        broken = fake.add_media(b"\xff\xd8\xff this is not a jpeg")
        await bot.send(text("驾驶证"))
        await bot.send(image(broken))
        await bot.settle()
        assert bot.sessions()[0].status == "bad_image"
        assert fake.texts_to(USER)[-1] and ERROR_CATEGORY_TEXTS["download"][0] not in fake.texts_to(USER)[-1]


async def test_access_token_shared_through_sqlite_and_never_logged(make_bot, fake, caplog):
    caplog.set_level(logging.DEBUG)
    async with make_bot() as bot:
        await bot.send(text("车牌"))
        await bot.settle()
        storage = SQLiteSessionStorage(bot.runtime.session_log)
        token = storage.get(f"{fake.app_id}_access_token")
    assert isinstance(token, str) and token
    async with make_bot() as other:  # another worker on the same database
        await other.send(text("车牌", user="oUser-2"))
        await other.settle()
    assert fake.token_requests == 1
    assert token not in caplog.text and fake.app_secret not in caplog.text


# -------------------------------------------------------------------------------------- real socket


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


async def test_connections_past_the_configured_limit_get_503(make_config, fake):
    """A caller trickling a request in holds a connection as long as it likes (uvicorn has no body
    timeout): the limit bounds how many such a server keeps."""
    port = free_port()
    config = make_config(
        wechat_table(fake) + chain() + f'[server]\nhost = "127.0.0.1"\nport = {port}\nmax_connections = 1\n'
    )
    runtime = Runtime.from_config(config)
    server = uvicorn.Server(server_config(build_app(runtime, build_channels(config, runtime)), config))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    trickle = socket.socket()
    try:
        for _ in range(200):
            if server.started:
                break
            await asyncio.sleep(0.02)
        trickle.connect(("127.0.0.1", port))
        trickle.sendall(b"POST /wechat HTTP/1.1\r\nHost: bot\r\nContent-Length: 100000\r\n\r\nx")
        await asyncio.sleep(0.2)
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as client:
            assert (await client.get("/healthz")).status_code == 503
    finally:
        trickle.close()
        server.should_exit = True
        await asyncio.to_thread(thread.join, 10)
        await runtime.aclose()


async def test_served_by_uvicorn_on_a_real_socket(make_config, fake, photo_id, caplog):
    """As `serve` runs it; the callbacks' query strings (the user's openid) stay out of the log."""
    caplog.set_level(logging.INFO)
    port = free_port()
    config = make_config(
        wechat_table(fake, mode="safe") + chain() + f'[server]\nhost = "127.0.0.1"\nport = {port}\n'
    )
    runtime = Runtime.from_config(config)
    [channel] = build_channels(config, runtime)
    server = uvicorn.Server(server_config(build_app(runtime, [channel]), config))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        sender = CallbackBuilder(TOKEN, mode="safe", aes_key=AES_KEY, receive_id=fake.app_id)
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as client:
            for _ in range(200):
                if server.started:
                    break
                await asyncio.sleep(0.02)
            echo = await client.get("/wechat", params=sender.verification("over-a-socket"))
            assert echo.text == "over-a-socket"
            for xml in (text("驾驶证"), image(photo_id)):
                signed = sender.post(xml)
                answer = await client.post("/wechat", params=signed.params, content=signed.body)
                assert answer.text == "success"
            for _ in range(300):
                if len(fake.texts_to(USER)) >= 2:
                    break
                await asyncio.sleep(0.02)
        assert any("王芳" in chunk for chunk in fake.texts_to(USER))
    finally:
        server.should_exit = True
        await asyncio.to_thread(thread.join, 10)
    served = [record.getMessage() for record in caplog.records if record.name != "httpx"]  # not our client's
    assert any("uvicorn" in record.name for record in caplog.records)
    assert not [line for line in served if "/wechat" in line or USER in line]


def test_benchmark_smoke(tmp_path):
    """The benchmark runs end to end and writes its figures (timings are not asserted)."""
    from benchmarks.wechat import main as benchmark

    out = tmp_path / "wechat.json"
    assert (
        benchmark(["--users", "3", "--vendor-delay", "0.2", "--retries", "0.1", "0.2", "--out", str(out)])
        == 0
    )
    figures = json.loads(out.read_text(encoding="utf-8"))
    assert figures["callbacks"] == 9 and figures["delivered"] == 3 and figures["duplicates"] == 0
    assert set(figures["latency_ms"]) == {"p50", "p95", "p99", "max"}


# ------------------------------------------------------------------------------------ small pieces


def test_from_config_needs_credentials_and_a_valid_aes_key(make_config, fake):
    config = make_config(chain())
    runtime = Runtime.from_config(config)
    try:
        assert WeChatChannel.from_config({"token": TOKEN}, runtime) is None
    finally:
        runtime.session_log.close()
    with pytest.raises(ConfigError, match="encoding_aes_key"):
        make_config('[wechat]\ntoken = "t"\nencoding_aes_key = "too-short"\n')
    with pytest.raises(ConfigError, match="reply_mode"):
        make_config('[wechat]\ntoken = "t"\nreply_mode = "shout"\n')
    assert WeChatSettings().path == "/wechat" and WeChatSettings().api_base_url.startswith(
        "https://api.weixin"
    )


def test_split_utf8_keeps_every_character_within_the_byte_limit():
    text_ = "\n".join(f"第{n}行：" + "驾驶证信息" * 9 for n in range(80)) + "\n" + "长" * 1500
    pieces = split_utf8(text_)
    assert all(len(piece.encode("utf-8")) <= 2048 for piece in pieces)
    assert "".join(pieces).replace("\n", "") == text_.replace("\n", "")


class _Text(str):
    """A reply chunk that can be watched for being let go."""


class _Commands(list):
    """An offer's commands that can be watched for being let go."""


async def test_what_waits_for_a_user_who_never_comes_back_is_let_go():
    """An outbox keeps whole replies (personal data) for 48 h and an offer its list for minutes; each
    checks its expiry when its user comes back, so one who never does must not keep them for good."""
    now = [0.0]
    outbox, choices = Outbox(clock=lambda: now[0]), Choices(ttl=600, clock=lambda: now[0])
    reply, offered = _Text("驾驶证信息"), _Commands(["driving", "plate"])
    await outbox.put("gone", [reply])
    choices.offer("gone", offered)
    kept = [weakref.ref(reply), weakref.ref(offered)]
    del reply, offered
    now[0] = 48 * 3600 + 1
    await outbox.put("someone else", ["…"])
    choices.offer("someone else", ["driving"])
    gc.collect()
    assert [ref() for ref in kept] == [None, None]


async def test_outbox_passive_reply_fits_and_says_when_more_waits():
    outbox = Outbox()
    chunks = ["甲" * 600, "乙" * 600, "丙" * 50]  # 1800 + 1800 + 150 bytes
    await outbox.put("u", chunks)
    hint = MORE_WAITING["zh"]
    first = outbox.take("u", hint)
    assert first is not None and first.endswith(hint) and len(first.encode("utf-8")) <= 2048
    second = outbox.take("u", hint)
    assert second is not None and second.replace("\n", "") == "乙" * 600 + "丙" * 50
    assert outbox.take("u", hint) is None


class _Counted:
    """A 64 MB media body in 1 MB chunks that counts how much of it the bot took."""

    def __init__(self) -> None:
        self.chunks = 0

    async def stream(self) -> AsyncIterator[bytes]:
        for _ in range(64):
            self.chunks += 1
            yield b"\xff" * (1024 * 1024)


async def test_a_photo_that_could_not_be_downloaded_is_said_so_at_once_not_after_asking_its_kind(
    make_bot, fake
):
    """It used to get the numbered list of documents first, and "could not download" only after the
    answer; and nothing at all when the user never answered."""
    async with make_bot("raw") as bot:
        await bot.send(image("expired-media-id"))  # the fake answers 40007, as WeChat does
        await bot.settle()
        [said] = fake.texts_to(USER)
        assert said == ERROR_CATEGORY_TEXTS["download"][0] and "1." not in said
        await bot.send(text("1"))  # no photo waits for a number
        await bot.settle()
        [row] = bot.sessions()  # the failed download alone, logged as it was refused
        assert (row.kind, row.status, row.error_category) == (None, "vendor_error", "download")


async def test_a_photo_waiting_for_its_kind_at_a_stop_is_on_record(make_bot, fake, photo_bytes):
    async with make_bot("raw") as bot:
        await bot.send(image(fake.add_media(photo_bytes), msg_id=4242))
        await bot.settle()
        await bot.channel.stop()
        await bot.runtime.drain(5)
        await bot.channel.aclose()  # after the drain: work in flight could still leave a photo waiting
        [row] = bot.sessions()
        assert (row.message_id, row.kind, row.status, row.error_category) == (
            "4242",
            None,
            "unanswered",
            "stopped",
        )


async def test_a_photo_past_the_media_cap_is_answered_as_too_large_not_as_a_failed_download(make_bot, fake):
    """Sending it again can never work, so "could not download, send it again" was the wrong advice."""
    media_id = fake.add_media(b"\xff\xd8" + b"\0" * (MAX_MEDIA_BYTES + 1))
    async with make_bot("raw") as bot:
        await bot.send(text("驾驶证"))
        await bot.send(image(media_id))
        await bot.settle()
        assert REJECT_REASON_TEXTS["too_large"][0] in fake.texts_to(USER)[-1]
        [row] = bot.sessions()
        assert (row.status, row.error_category) == ("bad_image", "too_large")


@pytest.mark.parametrize("declared", [False, True])
async def test_a_media_download_past_any_photo_is_refused_without_reading_it_whole(tmp_path, declared):
    """A body past 20 MB used to be read into memory whole before it was refused (an endless one would
    never have been): WeChat's API host, or a proxy in front of it, decides how much it sends."""
    body = _Counted()

    def answer(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/cgi-bin/token":
            return httpx.Response(200, json={"access_token": "t", "expires_in": 7200})
        headers = {"Content-Type": "image/jpeg"} | (
            {"Content-Length": str(400 * 1024 * 1024)} if declared else {}
        )
        return httpx.Response(200, headers=headers, content=body.stream())

    with SessionLog(tmp_path / "log.db") as log:
        api = OfficialAccountAPI("wx1", "s", SQLiteSessionStorage(log), transport=httpx.MockTransport(answer))
        with pytest.raises(ImageRejected) as rejected:
            await asyncio.wait_for(api.download_media("m1"), timeout=20)
        assert rejected.value.reason == "too_large"
        await api.aclose()
    assert body.chunks <= (0 if declared else 21)
