"""The aiohttp transport under PTB: what it sends, and how network failures reach PTB's error types.

The end-to-end flows in test_telegram.py already run every Bot API call through it; these tests pin
the edges: the exact form encoding, uploads, and the mapping of timeouts and refused connections to
PTB's `TimedOut` / `NetworkError`, which Sender relies on to retry.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import socket
import traceback
from collections.abc import AsyncIterator, Callable

import pytest
from PIL import Image
from telegram import Bot, InputFile
from telegram.error import NetworkError, TimedOut
from telegram.request import RequestData
from telegram.request._requestparameter import RequestParameter

from bot.channels.telegram_http import AiohttpRequest
from tests.fakes.proxy import proxy_environment, recording_proxy
from tests.fakes.telegram_server import TOKEN, FakeTelegram


@contextlib.asynccontextmanager
async def silent_server() -> AsyncIterator[int]:
    """Accepts connections and never answers: every request through it must time out."""
    held: list[asyncio.StreamWriter] = []

    async def hold(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        held.append(writer)

    server = await asyncio.start_server(hold, "127.0.0.1", 0)
    try:
        yield server.sockets[0].getsockname()[1]
    finally:
        for writer in held:
            writer.close()
        server.close()
        await server.wait_closed()


def png() -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (8, 8), "white").save(buffer, "PNG")
    return buffer.getvalue()


PNG = png()


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def test_bot_calls_arrive_with_the_parameters_ptb_encoded() -> None:
    with FakeTelegram() as fake:
        request = AiohttpRequest(4)
        bot = Bot(TOKEN, base_url=fake.base_url, base_file_url=fake.base_file_url, request=request)
        async with bot:
            await bot.send_message(42, "驾驶证 & plate=京A·12345 100%", disable_notification=True)
            await bot.send_photo(42, InputFile(PNG, filename="boxes.png"), caption="报告")
        sent = fake.called("sendMessage")[0].params
        assert sent["text"] == "驾驶证 & plate=京A·12345 100%"
        assert str(sent["chat_id"]) == "42" and sent["disable_notification"] in (True, "true", "True")
        upload = fake.called("sendPhoto")[0]
        assert upload.files["photo"] == PNG and upload.params["caption"] == "报告"


async def test_a_silent_server_is_a_timeout() -> None:
    async with silent_server() as port:
        request = AiohttpRequest(2, read_timeout=0.2)
        await request.initialize()
        try:
            with pytest.raises(TimedOut):
                await request.do_request(f"http://127.0.0.1:{port}/bot1:x/getMe", "POST")
        finally:
            await request.shutdown()


async def test_a_refused_connection_is_a_network_error() -> None:
    request = AiohttpRequest(2)
    await request.initialize()
    try:
        with pytest.raises(NetworkError) as raised:
            await request.do_request(
                f"http://127.0.0.1:{closed_port()}/bot1:x/getMe",
                "POST",
                RequestData([RequestParameter("chat_id", 1, [])]),
            )
        assert not isinstance(raised.value, TimedOut)
    finally:
        await request.shutdown()


@pytest.mark.parametrize("base", [lambda: f"http://127.0.0.1:{closed_port()}/", lambda: "api.telegram.org/"])
async def test_a_network_error_never_quotes_the_bot_token(base: Callable[[], str]) -> None:
    """A refused connection, or a base_url without its scheme: aiohttp's text quotes the URL."""
    token = "123456:SECRET-token_value"
    request = AiohttpRequest(2)
    await request.initialize()
    try:
        with pytest.raises(NetworkError) as raised:
            await request.do_request(f"{base()}bot{token}/getMe", "POST", None)
        assert "SECRET" not in "".join(traceback.format_exception(raised.value))
    finally:
        await request.shutdown()


async def test_it_must_be_initialized_and_can_be_restarted() -> None:
    request = AiohttpRequest(1)
    with pytest.raises(RuntimeError):
        await request.do_request("http://127.0.0.1:1/", "GET")
    with FakeTelegram() as fake:
        for _ in range(2):  # PTB initializes and shuts down its requests around every `async with bot`
            await request.initialize()
            status, body = await request.do_request(f"{fake.base_url}{TOKEN}/getMe", "POST")
            await request.shutdown()
            assert status == 200 and b'"ok": true' in body


async def test_the_proxy_from_the_environment_is_used(monkeypatch: pytest.MonkeyPatch) -> None:
    """Where Telegram is blocked, HTTPS_PROXY/HTTP_PROXY is how the bot reaches it."""
    async with recording_proxy(b'{"ok": true, "result": true}') as (port, seen):
        request = AiohttpRequest(1)
        await request.initialize()
        try:
            with proxy_environment(monkeypatch, port):
                status, body = await request.do_request("http://api.telegram.invalid/bot1:x/getMe", "POST")
        finally:
            await request.shutdown()
    assert status == 200 and body == b'{"ok": true, "result": true}'
    assert seen == ["POST http://api.telegram.invalid/bot1:x/getMe HTTP/1.1"]
