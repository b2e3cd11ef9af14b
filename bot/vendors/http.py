"""Shared HTTP plumbing for the cloud OCR adapters (Tencent, Baidu, …): one place for pooling, limits,
retries and transport-error mapping, so each adapter only speaks its vendor's dialect.

Public API (small on purpose; adapters build on exactly these names):

- ``VendorHTTP(vendor, settings, *, retry=RetryPolicy(), sleep=asyncio.sleep, random=random.random,
  transport=None)`` - one per adapter instance. Holds lazily created, pooled ``httpx.AsyncClient``s
  (timeout = ``settings.timeout``) and an ``asyncio.Semaphore(settings.max_concurrency)``. The client
  sends through httpx-aiohttp's transport (httpx's API, aiohttp's pool) because httpcore's own pool
  rescans every connection on every event: with a hundred calls in flight that scan alone cost more
  CPU than everything else we do per call, and a burst of 100 calls took 0.6 s instead of 0.4 s.
  A proxy from the environment (HTTPS_PROXY, NO_PROXY) applies per host, looked up once (bot.proxies).
  - ``await http.request(method, url, **httpx_kwargs) -> httpx.Response``: ONE attempt inside the
    semaphore; httpx timeouts become ``VendorError(TIMEOUT)``, other transport failures (refused, reset,
    dropped connection) ``VendorError(SERVER)``. The status code is not interpreted.
  - ``await http.call(attempt, retry_if=is_retryable) -> T``: runs ``attempt()`` (an async callable that
    sends a request and returns the parsed result or raises ``VendorError``) with bounded exponential
    backoff and jitter, retrying only errors ``retry_if`` accepts (never more than ``RETRYABLE``: pass a
    stricter predicate to skip, say, a daily quota) and honouring ``VendorError.retry_after``.
  - ``await http.aclose()``: close the pool; call from ``Vendor.aclose``.
- ``RetryPolicy(attempts=3, base_delay=0.5, max_delay=8.0, jitter=0.5, max_retry_after=30.0)``.
- ``RETRYABLE``: quota_or_rate, timeout, server. ``is_retryable(error) -> bool``.
- ``backoff_delay(policy, retry_number, retry_after=None, random=random.random) -> float | None``
  (None = give up: the vendor asked us to wait longer than ``max_retry_after``).
- ``json_with_image(params, image_key, prepared) -> bytes``: a JSON body carrying the image as base64,
  identical to ``json.dumps`` of the whole dict but without scanning the base64 for escapes.
- ``transport_error(vendor, exc) -> VendorError``: the mapping ``request`` applies, for adapters that
  talk to httpx directly.
- ``status_category(status) -> ErrorCategory | None``: HTTP status to category (401/403 auth, 429 quota,
  408/504 timeout, other 5xx server) for vendors whose errors arrive as HTTP statuses; None for 2xx-4xx
  statuses the vendor's body must explain.
- ``retry_after_seconds(response) -> float | None``: a numeric ``Retry-After`` header.
- ``json_body(vendor, response) -> dict``: the JSON object in a response, or ``VendorError(SERVER)``
  when the vendor answered something else (an HTML error page from a proxy, a cut-off body).
- ``AccessTokenCache(fetch, clock=time.time)``: one bearer token per adapter instance for vendors that
  sell tokens (Baidu, Huawei IAM); ``await get()``, ``await refresh(rejected_token)``.
- ``redact_in_logs(pattern, flags=0)``: mask a credential shape in what httpx and httpcore log.
- ``CloudVendor(settings=None, *, clock=time.time, retry=None, sleep=asyncio.sleep, transport=None)``:
  base class of the cloud adapters; coerces `settings` into ``settings_model``, keeps ``self._clock`` and
  ``self._http`` (a ``VendorHTTP``) and closes it in ``aclose``.

Typical adapter code::

    self._http = VendorHTTP(self.name, self.settings)

    async def recognize(self, kind, side, image):
        body = json_with_image({}, "image", await self.prepare_off_loop(image))
        return await self._http.call(lambda: self._send(body))

    async def _send(self, body):
        response = await self._http.request("POST", url, content=body)
        return self._parse(json_body(self.name, response))   # raise VendorError for vendor errors
"""

from __future__ import annotations

import asyncio
import base64
import functools
import json
import logging
import random as _random
import re
import ssl
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any, Generic, TypeVar, cast

import aiohttp
import httpx
from httpx_aiohttp import AiohttpTransport

from bot.images import PreparedImage
from bot.proxies import proxy_for_url
from bot.vendors.base import ErrorCategory, Vendor, VendorError, VendorSettings

__all__ = [
    "RETRYABLE",
    "AccessTokenCache",
    "CloudVendor",
    "RetryPolicy",
    "VendorHTTP",
    "backoff_delay",
    "is_retryable",
    "json_body",
    "redact_in_logs",
    "retry_after_seconds",
    "status_category",
    "transport_error",
]

log = logging.getLogger(__name__)
T = TypeVar("T")
S = TypeVar("S", bound=VendorSettings)

#: Failures worth another try: the vendor was busy, slow or broken, not our photo or our keys.
RETRYABLE = frozenset({ErrorCategory.QUOTA_OR_RATE, ErrorCategory.TIMEOUT, ErrorCategory.SERVER})


@dataclass(frozen=True)
class RetryPolicy:
    """How hard to try. Bounded on purpose: a chat user is waiting, and the chain has other vendors.

    `attempts` counts the first try. The n-th retry waits ``min(max_delay, base_delay * 2**(n-1))``
    shrunk by up to `jitter` (a fraction) at random, so clients throttled together don't retry together.
    """

    attempts: int = 3
    base_delay: float = 0.5
    max_delay: float = 8.0
    jitter: float = 0.5
    #: A vendor asking us to wait longer than this (Retry-After) is not retried: fall through instead.
    max_retry_after: float = 30.0


def is_retryable(error: VendorError) -> bool:
    return error.category in RETRYABLE


def backoff_delay(
    policy: RetryPolicy,
    retry_number: int,
    retry_after: float | None = None,
    random: Callable[[], float] = _random.random,
) -> float | None:
    """Seconds to wait before retry number `retry_number` (1-based); None means don't retry at all."""
    if retry_after is not None and retry_after > policy.max_retry_after:
        return None
    ceiling = min(policy.max_delay, policy.base_delay * 2 ** (retry_number - 1))
    delay = ceiling * (1.0 - policy.jitter * random())
    if retry_after is not None:
        delay = max(delay, retry_after)
    return max(0.0, delay)


#: Stands in for the image while the rest of a JSON body is serialized; json.dumps escapes its NULs,
#: so the quoted form cannot occur in any real parameter.
_IMAGE_SLOT = "\x00image\x00"
_IMAGE_SLOT_JSON = json.dumps(_IMAGE_SLOT).encode()


def json_with_image(params: Mapping[str, Any], image_key: str, prepared: PreparedImage) -> bytes:
    """`json.dumps({**params, image_key: base64}).encode()`, byte for byte (key order included).

    json.dumps scans every character of a string for something to escape; base64 has nothing to
    escape (A-Z a-z 0-9 + / =), and scanning a few hundred KB of it was a third of the time we add
    per call. So the small parameters are serialized with a placeholder and the base64 bytes are
    spliced in. Signatures are computed over these exact bytes, like any other body.
    """
    head = json.dumps({**params, image_key: _IMAGE_SLOT}).encode()
    return head.replace(_IMAGE_SLOT_JSON, b'"' + base64.b64encode(prepared.data) + b'"', 1)


def transport_error(vendor: str, exc: httpx.HTTPError | aiohttp.ClientError) -> VendorError:
    """Transport failures in our taxonomy. The message names the failure, never a URL's query (Baidu
    puts its client_secret and access token there, and aiohttp quotes the URL in some errors)."""
    if isinstance(exc, httpx.HTTPError) and _timed_out(exc):
        return VendorError(vendor, ErrorCategory.TIMEOUT, code=type(exc).__name__, message="timed out")
    detail = _QUERY.sub("?…", str(exc)) or "connection failed"
    return VendorError(vendor, ErrorCategory.SERVER, code=type(exc).__name__, message=detail)


_QUERY = re.compile(r"\?[^\s'\")]*")


def _session(limit: int) -> aiohttp.ClientSession:
    """The pool behind an adapter, made on its first request (inside the running loop). The proxy
    comes from bot.proxies, looked up once per host rather than by aiohttp on every request."""
    connector = aiohttp.TCPConnector(limit=limit, ssl=_ssl_context())
    return aiohttp.ClientSession(connector=connector)


def _timed_out(exc: httpx.HTTPError) -> bool:
    """httpx-aiohttp reports every lost connection as `httpx.ConnectTimeout`, a peer that hung up
    included; the aiohttp error underneath tells a real timeout from a dropped connection."""
    cause = exc.__cause__
    if isinstance(cause, aiohttp.ClientError):
        return isinstance(cause, TimeoutError)  # aiohttp's timeout errors are also TimeoutErrors
    return isinstance(exc, httpx.TimeoutException)


def status_category(status: int) -> ErrorCategory | None:
    if status in (401, 403):
        return ErrorCategory.AUTH
    if status == 429:
        return ErrorCategory.QUOTA_OR_RATE
    if status in (408, 504):
        return ErrorCategory.TIMEOUT
    if status >= 500:
        return ErrorCategory.SERVER
    return None


def retry_after_seconds(response: httpx.Response) -> float | None:
    value = response.headers.get("retry-after")
    if value is None:
        return None
    try:
        seconds = float(value)
    except ValueError:  # an HTTP date: rare from APIs, and a fixed backoff serves as well
        return None
    return seconds if seconds >= 0 else None


def json_body(vendor: str, response: httpx.Response) -> dict[str, Any]:
    try:
        body = response.json()
    except ValueError:
        category = status_category(response.status_code) or ErrorCategory.SERVER
        raise VendorError(
            vendor, category, code=f"HTTP {response.status_code}", message="answer is not JSON"
        ) from None
    if not isinstance(body, dict):
        code = f"HTTP {response.status_code}"
        raise VendorError(vendor, ErrorCategory.SERVER, code=code, message="answer is not a JSON object")
    return body


@functools.cache
def _ssl_context() -> ssl.SSLContext:
    """One verified TLS context for every client: building one loads the CA bundle (tens of ms), which
    each adapter instance would otherwise pay again."""
    return httpx.create_ssl_context()


class VendorHTTP:
    """Connection pool, concurrency cap and retry loop of one adapter instance.

    The client is created on first use, inside the running event loop, because httpx pools and
    asyncio semaphores belong to the loop that first uses them; an adapter built at start-up (outside
    any loop) must not pin them to the wrong one.
    """

    def __init__(
        self,
        vendor: str,
        settings: VendorSettings,
        *,
        retry: RetryPolicy | None = None,
        sleep: Callable[[float], Awaitable[Any]] = asyncio.sleep,
        random: Callable[[], float] = _random.random,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.vendor = vendor
        self.settings = settings
        self.retry = retry or RetryPolicy()
        self._sleep = sleep
        self._random = random
        self._transport = transport
        self._clients: dict[str | None, httpx.AsyncClient] = {}
        self._semaphore: asyncio.Semaphore | None = None

    def client_for(self, url: str) -> httpx.AsyncClient:
        """The pooled client for `url`: one per proxy the environment names for its host (nearly
        always just the one), since httpx-aiohttp's transport takes its proxy when it is built."""
        proxy = proxy_for_url(url)
        client = self._clients.get(proxy)
        if client is None:
            limit = max(1, self.settings.max_concurrency)
            transport = self._transport or AiohttpTransport(
                client=functools.partial(_session, limit), proxy=httpx.Proxy(proxy) if proxy else None
            )
            client = httpx.AsyncClient(timeout=httpx.Timeout(self.settings.timeout), transport=transport)
            self._clients[proxy] = client
        return client

    @property
    def semaphore(self) -> asyncio.Semaphore:
        if self._semaphore is None:
            self._semaphore = asyncio.Semaphore(max(1, self.settings.max_concurrency))
        return self._semaphore

    async def request(self, method: str, url: str, **kwargs: Any) -> httpx.Response:
        async with self.semaphore:
            try:
                return await self.client_for(str(url)).request(method, url, **kwargs)
            except httpx.HTTPError as exc:
                raise transport_error(self.vendor, exc) from exc
            except aiohttp.ClientError as exc:
                # httpx-aiohttp converts most aiohttp errors, but not a malformed response (a bad status
                # line, an over-long header): not converted, its traceback with the URL reached the log.
                raise transport_error(self.vendor, exc) from None

    async def call(
        self,
        attempt: Callable[[], Awaitable[T]],
        retry_if: Callable[[VendorError], bool] = is_retryable,
    ) -> T:
        retry_number = 0
        while True:
            try:
                return await attempt()
            except VendorError as error:
                retry_number += 1
                wanted = is_retryable(error) and retry_if(error)
                if not wanted or retry_number >= self.retry.attempts:
                    raise
                delay = backoff_delay(self.retry, retry_number, error.retry_after, self._random)
                if delay is None:
                    raise
                log.info(
                    "%s: %s %s, retry %d in %.2fs",
                    self.vendor,
                    error.category,
                    error.code or "",
                    retry_number,
                    delay,
                )
                await self._sleep(delay)

    async def aclose(self) -> None:
        clients, self._clients = list(self._clients.values()), {}
        for client in clients:
            await client.aclose()


# ------------------------------------------------------------------------------------- cloud adapters


class CloudVendor(Vendor, Generic[S]):
    """What every cloud adapter's constructor did alike, written once: its settings in its own model, a
    clock, and one `VendorHTTP` pool that `aclose` releases.

    Settings are coerced rather than required to be of the adapter's type because a caller may hand over
    the generic ``VendorSettings``; its fields are validated again by ``settings_model`` so that
    vendor-specific defaults and checks still apply. The
    keyword-only `clock`, `retry`, `sleep` and `transport` exist for tests: a fixed time for signatures,
    no real waiting between retries, and an in-process fake server instead of the internet.
    """

    settings: S

    def __init__(
        self,
        settings: VendorSettings | None = None,
        *,
        clock: Callable[[], float] = time.time,
        retry: RetryPolicy | None = None,
        sleep: Callable[[float], Awaitable[Any]] = asyncio.sleep,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        super().__init__(self._own_settings(settings))
        self._clock = clock
        self._http = VendorHTTP(self.name, self.settings, retry=retry, sleep=sleep, transport=transport)

    @classmethod
    def _own_settings(cls, settings: VendorSettings | None) -> S:
        model = cls.settings_model
        if isinstance(settings, model):
            return cast(S, settings)
        return cast(S, model.model_validate(settings.model_dump() if settings else {}))

    async def aclose(self) -> None:
        await self._http.aclose()


# ------------------------------------------------------------------------------------- access tokens

#: Seconds before a token's lifetime runs out at which it is replaced (Baidu's SDK uses 30), so a call
#: never leaves with a token that expires on the way.
TOKEN_EXPIRY_MARGIN = 30.0


@dataclass(frozen=True)
class _CachedToken:
    value: str
    good_until: float


class AccessTokenCache:
    """One access token shared by every call of an adapter instance.

    `fetch` returns ``(token, expires_in)``. The lock makes concurrent callers wait for one fetch instead
    of each buying a token; `refresh` names the token that was rejected, so that of many calls rejected
    at once only the first fetches and the rest pick up its result.
    """

    def __init__(
        self, fetch: Callable[[], Awaitable[tuple[str, float]]], clock: Callable[[], float] = time.time
    ) -> None:
        self._fetch = fetch
        self._clock = clock
        self._lock = asyncio.Lock()
        self._current: _CachedToken | None = None

    def _fresh(self) -> _CachedToken | None:
        current = self._current
        if current is not None and self._clock() < current.good_until:
            return current
        return None

    async def get(self) -> str:
        fresh = self._fresh()
        if fresh is not None:
            return fresh.value
        async with self._lock:
            fresh = self._fresh()
            if fresh is not None:
                return fresh.value
            return await self._replace()

    async def refresh(self, rejected: str) -> str:
        async with self._lock:
            fresh = self._fresh()
            if fresh is not None and fresh.value != rejected:
                return fresh.value
            return await self._replace()

    async def _replace(self) -> str:
        self._current = None
        asked_at = self._clock()  # read before the request: the token's life starts no later than this
        value, expires_in = await self._fetch()
        self._current = _CachedToken(value, asked_at + expires_in - TOKEN_EXPIRY_MARGIN)
        return value


# ------------------------------------------------------------------------------------- log redaction

#: httpx logs every request URL at INFO, and httpcore's DEBUG trace every response header; vendors put
#: credentials in both (Baidu's access token in the query string, Huawei's IAM token in a header).
_HTTP_LOGGERS = ("httpx", "httpcore.http11", "httpcore.http2")


class _RedactCredentials(logging.Filter):
    """One filter on the HTTP client loggers for every adapter: each registered pattern's first group
    (the name of the secret) is kept and whatever the pattern matched after it becomes ``***``."""

    def __init__(self) -> None:
        super().__init__()
        self.patterns: list[re.Pattern[str]] = []

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.msg, str):
            record.msg = self._redact(record.msg)
        if isinstance(record.args, tuple) and record.args:
            record.args = tuple(self._redact(arg) for arg in record.args)
        return True

    def _redact(self, value: Any) -> Any:
        if not isinstance(value, str | httpx.URL):
            return value
        text = str(value)
        masked = text
        for pattern in self.patterns:
            masked = pattern.sub(r"\1***", masked)
        return masked if masked != text else value


_REDACTION = _RedactCredentials()
for _name in _HTTP_LOGGERS:
    logging.getLogger(_name).addFilter(_REDACTION)


def redact_in_logs(pattern: str, flags: int = 0) -> None:
    """Mask a credential in what the HTTP client libraries log. `pattern`'s first group is the part that
    stays (``access_token=``); the rest of its match is replaced. Registering a pattern twice is harmless."""
    compiled = re.compile(pattern, flags)
    if compiled not in _REDACTION.patterns:
        _REDACTION.patterns.append(compiled)
