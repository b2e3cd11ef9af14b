"""The shared HTTP plumbing of the cloud adapters: backoff, retry policy, error mapping, concurrency cap."""

from __future__ import annotations

import asyncio
import base64
import socket
import threading
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from bot.images import PreparedImage
from bot.vendors.base import ErrorCategory, VendorError, VendorSettings
from bot.vendors.http import (
    RetryPolicy,
    VendorHTTP,
    backoff_delay,
    is_retryable,
    json_body,
    retry_after_seconds,
    status_category,
)

POLICY = RetryPolicy(attempts=4, base_delay=0.5, max_delay=3.0, jitter=0.5, max_retry_after=10.0)


class Sleeps:
    def __init__(self) -> None:
        self.delays: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.delays.append(seconds)


def make_http(
    handler: Callable[[httpx.Request], Any] | None = None,
    *,
    policy: RetryPolicy = POLICY,
    max_concurrency: int = 8,
    sleeps: Sleeps | None = None,
) -> VendorHTTP:
    transport = httpx.MockTransport(handler) if handler is not None else None
    return VendorHTTP(
        "acme",
        VendorSettings(timeout=2.5, max_concurrency=max_concurrency),
        retry=policy,
        sleep=sleeps or Sleeps(),
        random=lambda: 0.5,
        transport=transport,
    )


class Flaky:
    """An attempt that fails with the given errors, in order, then succeeds."""

    def __init__(self, *errors: VendorError) -> None:
        self.errors = list(errors)
        self.calls = 0

    async def __call__(self) -> str:
        self.calls += 1
        if self.errors:
            raise self.errors.pop(0)
        return "answer"


def failing(category: ErrorCategory, retry_after: float | None = None) -> VendorError:
    return VendorError("acme", category, code="X", message="scripted", retry_after=retry_after)


# ------------------------------------------------------------------------------------------ backoff


def test_backoff_doubles_up_to_the_ceiling():
    ceilings = [backoff_delay(POLICY, n, random=lambda: 0.0) for n in range(1, 7)]
    assert ceilings == [0.5, 1.0, 2.0, 3.0, 3.0, 3.0]


def test_jitter_only_ever_shortens_and_by_at_most_its_fraction():
    for n in range(1, 6):
        longest = backoff_delay(POLICY, n, random=lambda: 0.0)
        shortest = backoff_delay(POLICY, n, random=lambda: 0.999999)
        assert longest is not None and shortest is not None
        assert longest * (1 - POLICY.jitter) <= shortest < longest


def test_retry_after_is_honoured_and_a_long_one_gives_up():
    assert backoff_delay(POLICY, 1, retry_after=4.0, random=lambda: 0.0) == 4.0
    assert backoff_delay(POLICY, 3, retry_after=0.1, random=lambda: 0.0) == 2.0  # never shorter than backoff
    assert (
        backoff_delay(POLICY, 1, retry_after=60.0) is None
    )  # the chain's next vendor beats waiting a minute


@pytest.mark.parametrize(
    ("category", "retryable"),
    [
        (ErrorCategory.QUOTA_OR_RATE, True),
        (ErrorCategory.TIMEOUT, True),
        (ErrorCategory.SERVER, True),
        (ErrorCategory.AUTH, False),
        (ErrorCategory.BAD_IMAGE, False),
        (ErrorCategory.NOT_FOUND, False),
    ],
)
def test_only_transient_categories_are_retryable(category, retryable):
    assert is_retryable(failing(category)) is retryable


# ---------------------------------------------------------------------------------------- call loop


async def test_transient_failures_are_retried_until_success():
    sleeps = Sleeps()
    attempt = Flaky(failing(ErrorCategory.SERVER), failing(ErrorCategory.TIMEOUT))
    assert await make_http(sleeps=sleeps).call(attempt) == "answer"
    assert attempt.calls == 3
    assert sleeps.delays == [0.375, 0.75]  # 0.5 s then 1 s, each shortened by a quarter (jitter 0.5 × 0.5)


async def test_attempts_are_bounded():
    sleeps = Sleeps()
    attempt = Flaky(*(failing(ErrorCategory.QUOTA_OR_RATE) for _ in range(10)))
    with pytest.raises(VendorError) as caught:
        await make_http(sleeps=sleeps).call(attempt)
    assert caught.value.category is ErrorCategory.QUOTA_OR_RATE
    assert attempt.calls == POLICY.attempts and len(sleeps.delays) == POLICY.attempts - 1


@pytest.mark.parametrize("category", [ErrorCategory.AUTH, ErrorCategory.BAD_IMAGE, ErrorCategory.NOT_FOUND])
async def test_permanent_failures_are_not_retried(category):
    sleeps = Sleeps()
    attempt = Flaky(failing(category))
    with pytest.raises(VendorError):
        await make_http(sleeps=sleeps).call(attempt, retry_if=lambda error: True)  # can't widen the set
    assert attempt.calls == 1 and sleeps.delays == []


async def test_a_stricter_predicate_skips_retries():
    attempt = Flaky(failing(ErrorCategory.QUOTA_OR_RATE))
    with pytest.raises(VendorError):
        await make_http().call(
            attempt, retry_if=lambda error: error.category is not ErrorCategory.QUOTA_OR_RATE
        )
    assert attempt.calls == 1


async def test_retry_after_from_the_vendor_sets_the_wait():
    sleeps = Sleeps()
    attempt = Flaky(failing(ErrorCategory.QUOTA_OR_RATE, retry_after=7.0))
    assert await make_http(sleeps=sleeps).call(attempt) == "answer"
    assert sleeps.delays == [7.0]


async def test_retry_after_beyond_the_cap_fails_at_once():
    sleeps = Sleeps()
    attempt = Flaky(failing(ErrorCategory.QUOTA_OR_RATE, retry_after=3600.0))
    with pytest.raises(VendorError) as caught:
        await make_http(sleeps=sleeps).call(attempt)
    assert caught.value.retry_after == 3600.0 and attempt.calls == 1 and sleeps.delays == []


# ---------------------------------------------------------------------------- transport failures


@pytest.mark.parametrize(
    ("exception", "category"),
    [
        (httpx.ConnectTimeout("slow connect"), ErrorCategory.TIMEOUT),
        (httpx.ReadTimeout("slow read"), ErrorCategory.TIMEOUT),
        (httpx.PoolTimeout("pool"), ErrorCategory.TIMEOUT),
        (httpx.ConnectError("[Errno 111] Connection refused"), ErrorCategory.SERVER),
        (httpx.RemoteProtocolError("Server disconnected without sending a response."), ErrorCategory.SERVER),
        (httpx.ReadError("connection reset"), ErrorCategory.SERVER),
    ],
)
async def test_transport_errors_map_to_the_taxonomy(exception, category):
    def handler(request: httpx.Request) -> httpx.Response:
        raise exception

    http = make_http(handler)
    try:
        with pytest.raises(VendorError) as caught:
            await http.request("POST", "https://ocr.example.test/path?access_token=s3cret-token")
    finally:
        await http.aclose()
    error = caught.value
    assert (error.vendor, error.category, error.code) == ("acme", category, type(exception).__name__)
    assert "s3cret-token" not in str(error)


async def test_a_malformed_answer_is_a_server_error_that_quotes_no_query_string():
    """aiohttp's own error for a bad status line escapes httpx-aiohttp, and quotes the URL whole."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(4)

    def answer_garbage() -> None:
        connection, _ = listener.accept()
        connection.recv(65536)
        connection.sendall(b"NOT HTTP AT ALL\r\n\r\n")
        connection.close()

    threading.Thread(target=answer_garbage, daemon=True).start()
    http = make_http()
    try:
        with pytest.raises(VendorError) as caught:
            url = f"http://127.0.0.1:{listener.getsockname()[1]}/oauth/2.0/token?client_secret=s3cret-key"
            await http.request("POST", url)
    finally:
        await http.aclose()
        listener.close()
    assert caught.value.category == ErrorCategory.SERVER
    assert "s3cret-key" not in str(caught.value) and caught.value.__cause__ is None


async def test_requests_use_the_configured_timeout():
    seen: list[dict[str, Any]] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request.extensions["timeout"])
        return httpx.Response(200, json={})

    http = make_http(handler)
    await http.request("GET", "https://ocr.example.test/")
    await http.aclose()
    assert seen == [{"connect": 2.5, "read": 2.5, "write": 2.5, "pool": 2.5}]


async def test_concurrency_is_capped():
    gate = asyncio.Event()
    in_flight = 0
    most = 0

    async def handler(request: httpx.Request) -> httpx.Response:
        nonlocal in_flight, most
        in_flight += 1
        most = max(most, in_flight)
        await gate.wait()
        in_flight -= 1
        return httpx.Response(200, json={"ok": True})

    http = make_http(handler, max_concurrency=3)
    tasks = [asyncio.create_task(http.request("POST", "https://ocr.example.test/")) for _ in range(7)]
    for _ in range(50):  # let every task run as far as it can
        await asyncio.sleep(0)
    assert in_flight == 3
    gate.set()
    responses = await asyncio.gather(*tasks)
    await http.aclose()
    assert most == 3 and all(response.status_code == 200 for response in responses)


async def test_client_can_be_reopened_after_close():
    http = make_http(lambda request: httpx.Response(204))
    assert (await http.request("GET", "https://ocr.example.test/")).status_code == 204
    await http.aclose()
    assert (await http.request("GET", "https://ocr.example.test/")).status_code == 204
    await http.aclose()


# ------------------------------------------------------------------------------------------- helpers


@pytest.mark.parametrize(
    ("status", "category"),
    [
        (200, None),
        (400, None),
        (401, ErrorCategory.AUTH),
        (403, ErrorCategory.AUTH),
        (408, ErrorCategory.TIMEOUT),
        (429, ErrorCategory.QUOTA_OR_RATE),
        (500, ErrorCategory.SERVER),
        (502, ErrorCategory.SERVER),
        (504, ErrorCategory.TIMEOUT),
    ],
)
def test_status_category(status, category):
    assert status_category(status) == category


@pytest.mark.parametrize(
    ("header", "seconds"),
    [(None, None), ("3", 3.0), ("1.5", 1.5), ("-1", None), ("Wed, 21 Oct 2015 07:28:00 GMT", None)],
)
def test_retry_after_header(header, seconds):
    headers = {"Retry-After": header} if header is not None else {}
    assert retry_after_seconds(httpx.Response(429, headers=headers)) == seconds


def test_json_body_accepts_objects_only():
    assert json_body("acme", httpx.Response(200, json={"a": 1})) == {"a": 1}
    for response, category in [
        (httpx.Response(200, text="<html>oops</html>"), ErrorCategory.SERVER),
        (httpx.Response(429, text="slow down"), ErrorCategory.QUOTA_OR_RATE),
        (httpx.Response(200, json=[1, 2]), ErrorCategory.SERVER),
    ]:
        with pytest.raises(VendorError) as caught:
            json_body("acme", response)
        assert caught.value.category is category and caught.value.code == f"HTTP {response.status_code}"


def test_json_with_image_is_json_dumps_byte_for_byte():
    """The splice exists for speed only: same bytes as serializing the whole dict, key order included."""
    import json
    import random

    from bot.vendors.http import json_with_image

    rng = random.Random(5)
    for size in (0, 1, 2, 3, 999, 4096):
        data = rng.randbytes(size)
        prepared = PreparedImage(data, "JPEG", 10, 10, 1.0)
        b64 = base64.b64encode(data).decode()
        for params, key in (
            ({}, "image"),
            ({"ImageBase64": None, "CardSide": "BACK"}, "ImageBase64"),
            ({"appid": "125", "type": 1, "image": None, "bucket": "b"}, "image"),
            ({"note": '驾驶证 "quoted" \\x00image\\x00'}, "image"),
        ):
            expected = json.dumps({**params, key: b64}).encode()
            assert json_with_image(params, key, prepared) == expected


async def test_cloud_calls_use_the_proxy_from_the_environment(monkeypatch):
    """Behind a corporate proxy the adapters must go through it, as httpx's own transport did."""
    from tests.fakes.proxy import proxy_environment, recording_proxy

    async with recording_proxy(b'{"ok": 1}') as (port, seen):
        http = VendorHTTP("acme", VendorSettings(timeout=5, max_concurrency=2))
        try:
            with proxy_environment(monkeypatch, port):
                response = await http.request("POST", "http://ocr.vendor.invalid/v1/read", content=b"{}")
        finally:
            await http.aclose()
    assert response.status_code == 200 and response.json() == {"ok": 1}
    assert seen == ["POST http://ocr.vendor.invalid/v1/read HTTP/1.1"]


def test_no_proxy_sends_a_host_directly(monkeypatch):
    from bot.proxies import proxy_for, proxy_for_url

    monkeypatch.setenv("HTTPS_PROXY", "http://proxy.corp:3128")
    monkeypatch.setenv("NO_PROXY", "ocr.internal,127.0.0.1")
    for name in ("https_proxy", "no_proxy"):
        monkeypatch.delenv(name, raising=False)
    proxy_for.cache_clear()
    try:
        assert proxy_for_url("https://ocr.tencentcloudapi.com/") == "http://proxy.corp:3128"
        assert proxy_for_url("https://ocr.internal/v1") is None
        assert proxy_for_url("http://127.0.0.1:8080/x") is None  # and plain http has no proxy set
    finally:
        proxy_for.cache_clear()
