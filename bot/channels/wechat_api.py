"""The few WeChat / WeCom HTTP endpoints the bot calls, async and pooled, with one shared access token.

wechatpy's own client is synchronous (`requests`) and fetches its token from a hard-coded host, so the
bot calls the endpoints itself with httpx against a configurable base URL (tests point it at a loopback
fake): the token, `media/get`, `message/custom/send` (official account) and `message/send` (WeCom).

The access token lives in the SQLite kv through a wechatpy `SessionStorage`, because WeChat invalidates
the previous token (after five minutes) whenever anyone fetches a new one: every worker must share one
token and refresh it rarely. When a call answers 40001 / 40014 / 42001, the caller hands back the token
that failed; only the first caller to do so fetches a new one, the others adopt it.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

import httpx
from wechatpy.session import SessionStorage

from bot.channels.base import read_at_most
from bot.images import ImageRejected
from bot.storage import SessionLog
from bot.vendors.http import redact_in_logs

log = logging.getLogger(__name__)

#: The token was refused: invalid (40001), not a token (40014) or expired (42001). Refresh once, retry once.
TOKEN_ERRORS = frozenset({40001, 40014, 42001})
#: "System busy": WeChat did not carry the call out, so asking once more, a moment later, is safe (a
#: timed-out call is not retried: it may have been delivered).
SYSTEM_BUSY = -1
#: What an errcode means for the operator reading the log (WeChat's own messages are terse).
MEANINGS: dict[int, str] = {
    -1: "system busy",
    40001: "invalid access token",
    40007: "invalid media id (expired after 3 days, or never existed)",
    40014: "invalid access token",
    42001: "access token expired",
    45009: "daily API quota reached",
    45015: "reply window passed (48 h since the user's last message)",
    45047: "customer-service message count limit reached for this user message",
    48001: "API not authorized for this account",
    81013: "WeCom user not found or not visible to the app",
}
#: A token is re-fetched this long before WeChat says it expires (wechatpy uses 60 s; clocks drift).
TOKEN_MARGIN_SECONDS = 300
#: How long a worker trusts its in-memory copy before looking at the shared store again.
LOCAL_TOKEN_SECONDS = 60.0
#: User photos are far smaller; anything bigger is not an image a user sent.
MAX_MEDIA_BYTES = 20 * 1024 * 1024
#: Headers about how a body was sent, not what it is: dropped when a streamed body is kept as read.
_TRANSFER = frozenset({"content-encoding", "content-length", "transfer-encoding"})


class WeChatAPIError(Exception):
    """A WeChat / WeCom call failed. `code` is WeChat's errcode, or None for a transport failure."""

    def __init__(self, endpoint: str, code: int | None, message: str = "") -> None:
        self.endpoint = endpoint
        self.code = code
        self.message = message
        super().__init__(f"{endpoint}: {self.describe()}")

    def describe(self) -> str:
        if self.code is None:
            return f"transport error ({self.message})"
        return f"errcode {self.code} ({MEANINGS.get(self.code, self.message or 'unknown')})"


def _token_of(endpoint: str, body: dict[str, Any]) -> tuple[str, int]:
    """The token and its lifetime from a token answer; an answer without them is a failed call like
    any other (a bare KeyError left the user without a reply)."""
    token = body.get("access_token")
    try:
        lifetime = int(body.get("expires_in", 7200))
    except (TypeError, ValueError):
        lifetime = 0
    if not isinstance(token, str) or not token or lifetime <= 0:
        raise WeChatAPIError(endpoint, None, "answer without a usable access_token")
    return token, lifetime


class SQLiteSessionStorage(SessionStorage):
    """wechatpy's pluggable session storage on the bot's SQLite kv: one store for every worker.

    Values are JSON, as wechatpy's Redis storage keeps them, so a `wechatpy.WeChatClient(session=…)`
    built on the same store (say, in an admin script) reads the token this bot stored, and vice versa.
    """

    def __init__(self, session_log: SessionLog, prefix: str = "wechatpy:") -> None:
        self.session_log = session_log
        self.prefix = prefix

    def get(self, key: str, default: Any = None) -> Any:
        raw = self.session_log.kv_get(self.prefix + key)
        return default if raw is None else json.loads(raw)

    def set(self, key: str, value: Any, ttl: float | None = None) -> None:
        if value is None:
            return
        self.session_log.kv_set(self.prefix + key, json.dumps(value), ttl_seconds=ttl or None)

    def delete(self, key: str) -> None:
        self.session_log.kv_delete(self.prefix + key)


TokenFetch = Callable[[], Awaitable[tuple[str, int]]]


class AccessToken:
    """One access token per credential, shared through `storage`, refreshed under a lock.

    `key` follows wechatpy's naming (`{appid}_access_token`) so wechatpy clients share it too.
    """

    def __init__(
        self,
        storage: SessionStorage,
        key: str,
        fetch: TokenFetch,
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.storage = storage
        self.key = key
        self._fetch = fetch
        self._clock = clock
        self._lock = asyncio.Lock()
        self._local: tuple[str, float] | None = None  # (token, trust until)
        self.fetches = 0

    async def get(self) -> str:
        local = self._fresh_local()
        if local is not None:
            return local
        async with self._lock:
            local = self._fresh_local()
            if local is not None:
                return local
            stored = await asyncio.to_thread(self.storage.get, self.key)
            if isinstance(stored, str) and stored:
                self._remember(stored, LOCAL_TOKEN_SECONDS)
                return stored
            return await self._refresh()

    async def replace(self, failed: str) -> str:
        """WeChat refused `failed`: return a newer token, fetching one only if nobody has yet."""
        async with self._lock:
            local = self._fresh_local()
            if local is not None and local != failed:
                return local
            stored = await asyncio.to_thread(self.storage.get, self.key)
            if isinstance(stored, str) and stored and stored != failed:
                self._remember(stored, LOCAL_TOKEN_SECONDS)
                return stored
            return await self._refresh()

    async def _refresh(self) -> str:
        token, expires_in = await self._fetch()
        self.fetches += 1
        ttl = max(expires_in - TOKEN_MARGIN_SECONDS, min(expires_in, 60), 1)
        await asyncio.to_thread(self.storage.set, self.key, token, ttl)
        self._remember(token, min(ttl, LOCAL_TOKEN_SECONDS))
        log.info("%s: fetched a new access token (valid %d s)", self.key.split("_")[0], expires_in)
        return token

    def _fresh_local(self) -> str | None:
        if self._local is not None and self._clock() < self._local[1]:
            return self._local[0]
        return None

    def _remember(self, token: str, seconds: float) -> None:
        self._local = (token, self._clock() + seconds)


class WeChatHTTP:
    """A pooled httpx client for one API base URL, created lazily inside the running loop."""

    def __init__(
        self,
        base_url: str,
        *,
        timeout: float = 10.0,
        max_connections: int = 50,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        self.max_connections = max_connections
        self._transport = transport
        self._client: httpx.AsyncClient | None = None

    @property
    def client(self) -> httpx.AsyncClient:
        if self._client is None:
            self._client = httpx.AsyncClient(
                base_url=self.base_url,
                timeout=httpx.Timeout(self.timeout),
                limits=httpx.Limits(
                    max_connections=self.max_connections, max_keepalive_connections=self.max_connections
                ),
                transport=self._transport,
            )
        return self._client

    async def request(
        self, endpoint: str, method: str, path: str, *, max_bytes: int | None = None, **kwargs: Any
    ) -> httpx.Response:
        """The whole answer; with `max_bytes`, one whose body would pass it is refused unread (by its
        Content-Length) or as soon as it does (as it streams), rather than read into memory whole, as
        `ImageRejected("too_large")`: only media is capped."""
        try:
            if max_bytes is None:
                return await self.client.request(method, path, **kwargs)
            return await self._capped(endpoint, method, path, max_bytes, **kwargs)
        except httpx.HTTPError as exc:
            raise WeChatAPIError(endpoint, None, type(exc).__name__) from exc

    async def _capped(
        self, endpoint: str, method: str, path: str, max_bytes: int, **kwargs: Any
    ) -> httpx.Response:
        async with self.client.stream(method, path, **kwargs) as streamed:
            declared = streamed.headers.get("content-length", "")
            body = await read_at_most(streamed.aiter_bytes(), declared, max_bytes)
        if body is None:  # the user's file, not a failed download: sending it again cannot help
            raise ImageRejected("too_large", f"{endpoint}: over {max_bytes} bytes")
        # The body as read (already decoded), so the headers that described its transfer go.
        kept = [
            (name, value) for name, value in streamed.headers.multi_items() if name.lower() not in _TRANSFER
        ]
        return httpx.Response(streamed.status_code, headers=kept, content=body, request=streamed.request)

    async def aclose(self) -> None:
        if self._client is not None:
            await self._client.aclose()
            self._client = None


def json_answer(endpoint: str, response: httpx.Response) -> dict[str, Any]:
    """WeChat's JSON answer, raising for a non-zero errcode (errors come with HTTP 200)."""
    try:
        body = response.json()
    except ValueError:
        raise WeChatAPIError(endpoint, None, f"HTTP {response.status_code}, not JSON") from None
    if not isinstance(body, dict):
        raise WeChatAPIError(endpoint, None, "JSON answer is not an object")
    code = body.get("errcode", 0)
    if code not in (0, None):
        raise WeChatAPIError(endpoint, int(code), str(body.get("errmsg", "")))
    return body


def _text_payload(payload: dict[str, Any]) -> bytes:
    """UTF-8 JSON without \\u escapes: WeChat shows escaped Chinese literally in some clients."""
    return json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


class _TokenedAPI:
    """Calls that carry `access_token` in the query: retried once with a fresh token when refused, and
    once after `busy_pause` seconds when WeChat is busy."""

    platform = "wechat"
    busy_pause = 1.0

    def __init__(self, http: WeChatHTTP, token: AccessToken) -> None:
        self.http = http
        self.token = token

    async def _call(self, endpoint: str, method: str, path: str, **kwargs: Any) -> httpx.Response:
        params = dict(kwargs.pop("params", {}))
        token = await self.token.get()
        for attempt in (1, 2):
            response = await self.http.request(
                endpoint, method, path, params={**params, "access_token": token}, **kwargs
            )
            code = _errcode(response)
            if code in TOKEN_ERRORS and attempt == 1:
                log.info(
                    "%s: %s refused the access token (errcode %s); refreshing", self.platform, endpoint, code
                )
                token = await self.token.replace(token)
                continue
            if code == SYSTEM_BUSY and attempt == 1:
                log.info("%s: %s answered 'system busy'; asking again", self.platform, endpoint)
                await asyncio.sleep(self.busy_pause)
                continue
            return response
        raise AssertionError("unreachable")  # pragma: no cover

    async def download_media(self, media_id: str) -> bytes:
        """The photo behind a MediaId: binary on success, JSON (e.g. 40007) on error."""
        response = await self._call(
            "media/get", "GET", "/cgi-bin/media/get", params={"media_id": media_id}, max_bytes=MAX_MEDIA_BYTES
        )
        content_type = response.headers.get("content-type", "")
        if response.content[:1] == b"{" and not content_type.startswith("image/"):
            json_answer("media/get", response)
            raise WeChatAPIError("media/get", None, "JSON answer without errcode")
        if response.status_code != 200:
            raise WeChatAPIError("media/get", None, f"HTTP {response.status_code}")
        return response.content

    async def send_text(self, user: str, content: str) -> None:
        raise NotImplementedError

    async def aclose(self) -> None:
        await self.http.aclose()


def _errcode(response: httpx.Response) -> int | None:
    if response.content[:1] != b"{":
        return None
    try:
        body = response.json()
    except ValueError:
        return None
    code = body.get("errcode") if isinstance(body, dict) else None
    return int(code) if isinstance(code, int) else None


class OfficialAccountAPI(_TokenedAPI):
    """公众号: token by app id + secret, replies by customer-service message."""

    platform = "wechat"

    def __init__(
        self,
        app_id: str,
        app_secret: str,
        storage: SessionStorage,
        base_url: str = "https://api.weixin.qq.com",
        *,
        timeout: float = 10.0,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.app_id = app_id
        self._secret = app_secret
        http = WeChatHTTP(base_url, timeout=timeout, transport=transport)
        super().__init__(http, AccessToken(storage, f"{app_id}_access_token", self._fetch_token))

    async def _fetch_token(self) -> tuple[str, int]:
        params = {"grant_type": "client_credential", "appid": self.app_id, "secret": self._secret}
        response = await self.http.request("token", "GET", "/cgi-bin/token", params=params)
        return _token_of("token", json_answer("token", response))

    async def send_text(self, user: str, content: str) -> None:
        payload = {"touser": user, "msgtype": "text", "text": {"content": content}}
        response = await self._call(
            "message/custom/send",
            "POST",
            "/cgi-bin/message/custom/send",
            content=_text_payload(payload),
            headers={"Content-Type": "application/json; charset=utf-8"},
        )
        json_answer("message/custom/send", response)


class WeComAPI(_TokenedAPI):
    """企业微信 app: token by corp id + app secret, replies by `message/send` with the agent id."""

    platform = "wecom"

    def __init__(
        self,
        corp_id: str,
        agent_id: int,
        secret: str,
        storage: SessionStorage,
        base_url: str = "https://qyapi.weixin.qq.com",
        *,
        timeout: float = 10.0,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.corp_id = corp_id
        self.agent_id = agent_id
        self._secret = secret
        http = WeChatHTTP(base_url, timeout=timeout, transport=transport)
        # One token per corp and app (each app has its own secret). wechatpy keys it by the secret's first
        # ten characters; that would put part of a secret in the session database, so a digest stands in.
        digest = hashlib.sha256(secret.encode()).hexdigest()[:16]
        key = f"{corp_id}_{digest}_access_token"
        super().__init__(http, AccessToken(storage, key, self._fetch_token))

    async def _fetch_token(self) -> tuple[str, int]:
        params = {"corpid": self.corp_id, "corpsecret": self._secret}
        response = await self.http.request("gettoken", "GET", "/cgi-bin/gettoken", params=params)
        return _token_of("gettoken", json_answer("gettoken", response))

    async def send_text(self, user: str, content: str) -> None:
        payload = {"touser": user, "msgtype": "text", "agentid": self.agent_id, "text": {"content": content}}
        response = await self._call(
            "message/send",
            "POST",
            "/cgi-bin/message/send",
            content=_text_payload(payload),
            headers={"Content-Type": "application/json; charset=utf-8"},
        )
        body = json_answer("message/send", response)
        if body.get("invaliduser"):  # WeCom answers errcode 0 yet drops users it cannot reach
            raise WeChatAPIError("message/send", 81013, "invalid user")


# httpx logs every request URL at INFO, and WeChat wants the access token, the app secret and the media
# id in the query string: none of them may reach a log.
redact_in_logs(r"((?:access_token|secret|corpsecret|media_id)=)[^&\s\"']+")
