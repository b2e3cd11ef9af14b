"""PTB's HTTP transport on aiohttp: the Bot API calls of a burst of users for a fraction of the CPU.

python-telegram-bot ships an httpx transport and documents `BaseRequest` as the place to plug in
another. Under a burst (hundreds of users at once, four to five Bot API calls each: getFile, the
download, the chat action, the reply) httpx spent ~10 ms of CPU per update: httpcore's pool re-checks
every connection on each event, and each check asks the socket for its peer through anyio. aiohttp
parses HTTP in C and keeps a plain deque of idle connections, so the same burst costs a few
milliseconds per update (see benchmarks/telegram.py). The cloud vendor adapters keep httpx's API on
the same kind of aiohttp pool (httpx-aiohttp, bot/vendors/http.py); here PTB's own request interface
is the seam, and a BaseRequest on aiohttp directly also sends the replies as JSON (see `_body`).
"""

from __future__ import annotations

import json
import re
from typing import Any

import aiohttp
from telegram.error import NetworkError, TimedOut
from telegram.request import BaseRequest, RequestData

from bot.proxies import proxy_for_url

#: PTB's own defaults for HTTPXRequest, so switching transports changes no timing the bot relies on.
DEFAULT_CONNECT_TIMEOUT = 5.0
DEFAULT_READ_TIMEOUT = 5.0
DEFAULT_POOL_TIMEOUT = 1.0


class AiohttpRequest(BaseRequest):
    """A pooled aiohttp session with at most `max_in_flight` connections to the Bot API.

    Telegram accepts ~30 messages a second per bot, so a few dozen requests in flight lose nothing;
    the rest wait for a free connection (bounded by the pool timeout, like PTB's httpx transport).
    """

    def __init__(
        self,
        max_in_flight: int = 32,
        *,
        connect_timeout: float | None = DEFAULT_CONNECT_TIMEOUT,
        read_timeout: float | None = DEFAULT_READ_TIMEOUT,
        pool_timeout: float | None = DEFAULT_POOL_TIMEOUT,
    ) -> None:
        self.max_in_flight = max_in_flight
        self._connect_timeout = connect_timeout
        self._read_timeout = read_timeout
        self._pool_timeout = pool_timeout
        self._session: aiohttp.ClientSession | None = None

    @property
    def read_timeout(self) -> float | None:
        return self._read_timeout

    @property
    def holds_a_session(self) -> bool:
        """Whether an open aiohttp session (and its connections) is still held."""
        return self._session is not None and not self._session.closed

    async def initialize(self) -> None:
        if self._session is None or self._session.closed:
            connector = aiohttp.TCPConnector(limit=self.max_in_flight, limit_per_host=self.max_in_flight)
            headers = {"User-Agent": self.USER_AGENT}
            self._session = aiohttp.ClientSession(connector=connector, headers=headers)

    async def shutdown(self) -> None:
        if self._session is not None and not self._session.closed:
            await self._session.close()

    async def do_request(
        self,
        url: str,
        method: str,
        request_data: RequestData | None = None,
        read_timeout: Any = BaseRequest.DEFAULT_NONE,
        write_timeout: Any = BaseRequest.DEFAULT_NONE,
        connect_timeout: Any = BaseRequest.DEFAULT_NONE,
        pool_timeout: Any = BaseRequest.DEFAULT_NONE,
    ) -> tuple[int, bytes]:
        if self._session is None or self._session.closed:
            raise RuntimeError("AiohttpRequest is not initialized")
        read = self._read_timeout if read_timeout is BaseRequest.DEFAULT_NONE else read_timeout
        connect = self._connect_timeout if connect_timeout is BaseRequest.DEFAULT_NONE else connect_timeout
        pool = self._pool_timeout if pool_timeout is BaseRequest.DEFAULT_NONE else pool_timeout
        # aiohttp has no write timeout; a large upload is bounded by the read timeout after it, and
        # the connect timeout here covers waiting for a pooled connection plus opening one.
        timeout = aiohttp.ClientTimeout(
            total=None,
            connect=None if pool is None or connect is None else pool + connect,
            sock_connect=connect,
            sock_read=read,
        )
        try:
            # HTTPS_PROXY / NO_PROXY apply, as they did with PTB's httpx transport: where Telegram is
            # blocked, a proxy is how the bot reaches it at all.
            async with self._session.request(
                method, url, data=_body(request_data), timeout=timeout, proxy=proxy_for_url(url)
            ) as response:
                return response.status, await response.read()
        except (TimeoutError, aiohttp.ServerTimeoutError) as exc:
            raise TimedOut from exc
        except aiohttp.ClientError as exc:
            # aiohttp's text may quote the URL, whose path holds the bot token: it must not reach a log
            # line or traceback, so neither the text as given nor the exception itself is kept.
            raise NetworkError(f"aiohttp.{type(exc).__name__}: {_without_token(str(exc))}") from None


def _without_token(text: str) -> str:
    """`text` with the token in any Bot API URL (``…/bot<token>/getMe``, ``…/file/bot<token>/…``)
    replaced by ``<token>``."""
    return _TOKEN_IN_URL.sub("bot<token>", text)


_TOKEN_IN_URL = re.compile(r"bot\d+:[A-Za-z0-9_-]+")


def _body(request_data: RequestData | None) -> aiohttp.FormData | aiohttp.BytesPayload | None:
    """A JSON body, which the Bot API accepts for every call without files; multipart with files.

    JSON rather than PTB's urlencoded form because urllib quotes a Chinese reply byte by byte in
    Python, while json.dumps is C: a few tenths of a millisecond per reply under a burst.
    """
    if request_data is None:
        return None
    if not request_data.contains_files:
        payload = json.dumps(request_data.parameters, ensure_ascii=False).encode()
        return aiohttp.BytesPayload(payload, content_type="application/json")
    form = aiohttp.FormData(quote_fields=False)
    for name, value in request_data.json_parameters.items():
        form.add_field(name, value)
    for name, (filename, content, mimetype) in request_data.multipart_data.items():
        form.add_field(name, content, filename=filename, content_type=mimetype)
    return form
