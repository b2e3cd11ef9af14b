"""WeCom app channel over HTTP: always-encrypted callbacks built with wechatpy's WeCom crypto, replies
through `message/send` on a fake WeCom API server on 127.0.0.1."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

import httpx
import pytest

from bot.channels.base import Runtime
from bot.channels.server import build_app, build_channels
from bot.channels.wechat_core import MAX_CALLBACK_BYTES
from bot.channels.wecom import WeComChannel
from handlers.replies import ERROR_CATEGORY_TEXTS, REJECTED_TEXTS
from tests.fakes.wechat_server import CallbackBuilder, FakeWeChat, Signed, message_xml, reply_content

TOKEN = "wecom-callback-token"
AES_KEY = "ZYXWVUTSRQPONMLKJIHGFEDCBA9876543210zyxwvut"
USER = "zhangsan"
CHAIN = '[vendors]\ndriving = ["scripted"]\nvehicle = ["scripted"]\nplate = ["scripted"]\n'


def wecom_table(fake: FakeWeChat, agent_id: int | None = None) -> str:
    return (
        f'[wecom]\ncorp_id = "{fake.corp_id}"\nagent_id = {agent_id or fake.agent_id}\n'
        f'secret = "{fake.corp_secret}"\ntoken = "{TOKEN}"\nencoding_aes_key = "{AES_KEY}"\n'
        f'api_base_url = "{fake.url}"\n'
    )


@dataclass
class Bot:
    runtime: Runtime
    channel: WeComChannel
    client: httpx.AsyncClient
    sender: CallbackBuilder

    async def post(self, signed: Signed) -> httpx.Response:
        return await self.client.post("/wecom", params=signed.params, content=signed.body)

    async def send(self, xml: str) -> httpx.Response:
        return await self.post(self.sender.post(xml))

    async def settle(self) -> None:
        for _ in range(500):
            if self.runtime.in_flight == 0:
                return
            await asyncio.sleep(0.01)
        raise AssertionError("background work did not finish")


@pytest.fixture
def fake() -> Iterator[FakeWeChat]:
    with FakeWeChat() as server:
        yield server


@pytest.fixture
def make_bot(make_config, fake):
    @asynccontextmanager
    async def make(agent_id: int | None = None, limits: str = "") -> AsyncIterator[Bot]:
        config = make_config(wecom_table(fake, agent_id) + limits + CHAIN)
        runtime = Runtime.from_config(config)
        [channel] = build_channels(config, runtime)
        assert isinstance(channel, WeComChannel)
        sender = CallbackBuilder(TOKEN, mode="wecom", aes_key=AES_KEY, receive_id=fake.corp_id)
        transport = httpx.ASGITransport(app=build_app(runtime, [channel]))
        async with httpx.AsyncClient(transport=transport, base_url="http://bot.test") as client:
            try:
                yield Bot(runtime, channel, client, sender)
            finally:
                await runtime.drain(5)
                await channel.api.aclose()
                await runtime.aclose()

    return make


def image(media_id: str, msg_id: int | None = None, agent_id: int = 1000002) -> str:
    return message_xml(
        "image", USER, to="ww0123456789abcdef", media_id=media_id, msg_id=msg_id, agent_id=agent_id
    )


def text(content: str, agent_id: int = 1000002) -> str:
    return message_xml("text", USER, to="ww0123456789abcdef", content=content, agent_id=agent_id)


async def test_verification_decrypts_echostr_and_refuses_a_bad_signature(make_bot):
    async with make_bot() as bot:
        params = bot.sender.verification("wecom-echo-7")
        assert params["echostr"] != "wecom-echo-7"  # it travels encrypted
        answer = await bot.client.get("/wecom", params=params)
        assert (answer.status_code, answer.text) == (200, "wecom-echo-7")
        forged = await bot.client.get("/wecom", params={**params, "msg_signature": "0" * 40})
        assert forged.status_code == 403


async def test_a_message_with_a_forged_msg_signature_or_an_old_stamp_is_refused(make_bot, fake, photo_bytes):
    media_id = fake.add_media(photo_bytes)
    async with make_bot() as bot:
        tampered = bot.sender.post(image(media_id))
        tampered.params["msg_signature"] = "0" * 40
        assert (await bot.post(tampered)).status_code == 403
        bot.sender.clock = lambda: time.time() - 3600
        assert (await bot.client.get("/wecom", params=bot.sender.verification("old"))).status_code == 403
        assert (await bot.send(text("驾驶证"))).status_code == 403
        bot.sender.clock = lambda: time.time() + 3600
        assert (await bot.send(text("驾驶证"))).status_code == 403
        await bot.settle()
        assert fake.sent == [] and bot.runtime.session_log.history(platform="wecom") == []


async def test_a_forged_msg_signature_is_refused_before_wechatpy_checks_it(make_bot, fake, monkeypatch):
    """wechatpy compares msg_signature with `!=`; only a signature that already matched in constant
    time may reach it, on the URL check and on a message."""
    from wechatpy.enterprise.crypto import WeChatCrypto

    reached: list[str] = []
    check, decrypt = WeChatCrypto.check_signature, WeChatCrypto.decrypt_message

    def check_spy(self, signature, timestamp, nonce, echostr):
        reached.append(signature)
        return check(self, signature, timestamp, nonce, echostr)

    def decrypt_spy(self, msg, signature, timestamp, nonce):
        reached.append(signature)
        return decrypt(self, msg, signature, timestamp, nonce)

    monkeypatch.setattr(WeChatCrypto, "check_signature", check_spy)
    monkeypatch.setattr(WeChatCrypto, "decrypt_message", decrypt_spy)
    async with make_bot() as bot:
        params = bot.sender.verification("wecom-echo-8")
        forged = await bot.client.get("/wecom", params={**params, "msg_signature": "0" * 40})
        tampered = bot.sender.post(text("驾驶证"))
        tampered.params["msg_signature"] = "0" * 40
        assert forged.status_code == 403 and (await bot.post(tampered)).status_code == 403
        assert reached == []
        assert (await bot.client.get("/wecom", params=params)).text == "wecom-echo-8"
        assert reached == [params["msg_signature"]]
        await bot.settle()


async def test_an_oversized_callback_is_refused_without_being_read_whole(make_bot, fake):
    """Before any signature is checked: by its Content-Length, or as it streams in without one."""
    chunk, sent = b"x" * 65536, []

    async def endless() -> AsyncIterator[bytes]:
        for _ in range(1000):  # 64 MB, were it all read
            sent.append(len(chunk))
            yield chunk

    async with make_bot() as bot:
        declared = await bot.client.post("/wecom", content=chunk * 5)
        streamed = await bot.client.post("/wecom", content=endless())
        assert (declared.status_code, streamed.status_code) == (413, 413)
        assert sum(sent) <= MAX_CALLBACK_BYTES + len(chunk)
        assert fake.sent == []


async def test_word_then_photo_replies_through_message_send_with_the_agent_id(make_bot, fake, photo_bytes):
    media_id = fake.add_media(photo_bytes)
    async with make_bot() as bot:
        assert (await bot.send(text("驾驶证"))).text == "success"
        xml = image(media_id, msg_id=99)
        answers = [await bot.send(xml) for _ in range(3)]  # WeCom retries, too
        await bot.settle()
        assert [a.text for a in answers] == ["success"] * 3
        assert {item.endpoint for item in fake.sent} == {"message_send"}
        assert {item.agentid for item in fake.sent} == {fake.agent_id}
        assert any("王芳" in content for content in fake.texts_to(USER))
        [row] = bot.runtime.session_log.history(platform="wecom")
        assert (row.user_id, row.message_id, row.status) == (USER, "99", "ok")
        assert fake.token_requests == 1  # gettoken once, reused
        path = bot.runtime.session_log.path  # the database and its write-ahead log
        stored = b"".join(
            file.read_bytes() for file in (path, path.with_name(path.name + "-wal")) if file.exists()
        )
        assert fake.corp_secret[:10].encode() not in stored  # no part of the secret is kept


async def test_a_member_outside_the_allowlist_is_told_to_ask_for_access(make_bot, fake, photo_bytes):
    media_id = fake.add_media(photo_bytes)
    async with make_bot(limits='allowed_users = ["lisi"]\n') as bot:
        await bot.send(text("驾驶证"))
        await bot.send(image(media_id))
        await bot.settle()
        assert REJECTED_TEXTS["not_allowed"][0] in fake.texts_to(USER)[-1]
        [row] = bot.runtime.session_log.history(platform="wecom")
        assert str(row.status) == "rejected"


async def test_photo_first_then_number(make_bot, fake, photo_bytes):
    media_id = fake.add_media(photo_bytes)
    async with make_bot() as bot:
        await bot.send(image(media_id))
        await bot.settle()
        assert "5." in fake.texts_to(USER)[-1]
        await bot.send(text("5"))  # 车牌 is the fifth choice
        await bot.settle()
        assert any("京A12345" in content for content in fake.texts_to(USER))


async def test_subscribe_and_help_answer_in_the_callback_encrypted(make_bot, fake):
    async with make_bot() as bot:
        answer = await bot.send(
            message_xml("event", USER, to=fake.corp_id, event="subscribe", agent_id=fake.agent_id)
        )
        welcome = reply_content(bot.sender.decrypt_reply(answer.text))
        assert "行驶证副页" in welcome and "<Encrypt>" in answer.text
        assert fake.sent == []


async def test_envelope_for_another_corp_or_agent_is_not_processed(make_bot, fake, photo_bytes, caplog):
    caplog.set_level(logging.INFO)
    async with make_bot() as bot:
        other_corp = CallbackBuilder(TOKEN, mode="wecom", aes_key=AES_KEY, receive_id="ww-someone-else")
        assert (await bot.post(other_corp.post(text("驾驶证")))).status_code == 403
        assert (await bot.send(text("驾驶证", agent_id=42))).text == "success"
        await bot.settle()
        assert fake.sent == []


async def test_expired_media_and_unknown_user_are_reported(make_bot, fake, caplog):
    async with make_bot() as bot:
        await bot.send(text("驾驶证"))
        await bot.send(image("expired-media"))
        await bot.settle()
        assert ERROR_CATEGORY_TEXTS["download"][0] in fake.texts_to(USER)[-1]
        assert [row.error_category for row in bot.runtime.session_log.history()] == ["download"]
        fake.script("message_send", 81013)
        await bot.send(text("车牌"))
        await bot.settle()
        assert any("81013" in r.getMessage() and "not delivered" in r.getMessage() for r in caplog.records)
