"""A loopback HTTP proxy for proving that a client honours HTTP_PROXY / HTTPS_PROXY from the environment.

It does not forward anything: it answers every request itself and keeps the request line, whose
absolute URI (``POST http://host/path HTTP/1.1``) is what a client sends only to a proxy.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Iterator

import pytest

from bot.proxies import proxy_for


@contextlib.contextmanager
def proxy_environment(monkeypatch: pytest.MonkeyPatch, port: int) -> Iterator[None]:
    """HTTP_PROXY pointing at `port` for the test, with bot.proxies' per-host cache cleared around it."""
    monkeypatch.setenv("HTTP_PROXY", f"http://127.0.0.1:{port}")
    for name in ("NO_PROXY", "no_proxy", "http_proxy"):
        monkeypatch.delenv(name, raising=False)
    proxy_for.cache_clear()
    try:
        yield
    finally:
        proxy_for.cache_clear()


@contextlib.asynccontextmanager
async def recording_proxy(answer: bytes) -> AsyncIterator[tuple[int, list[str]]]:
    """An HTTP proxy that answers every request itself with `answer`, keeping each request line."""
    seen: list[str] = []

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head = await reader.readuntil(b"\r\n\r\n")
        seen.append(head.split(b"\r\n", 1)[0].decode())
        headers = head.lower().split(b"\r\n")
        lengths = [line.split(b":", 1)[1] for line in headers if line.startswith(b"content-length:")]
        length = int(lengths[0]) if lengths else 0
        await reader.readexactly(length)
        writer.write(
            b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nConnection: close\r\n"
            + f"Content-Length: {len(answer)}\r\n\r\n".encode()
            + answer
        )
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(serve, "127.0.0.1", 0)
    try:
        yield server.sockets[0].getsockname()[1], seen
    finally:
        server.close()
        await server.wait_closed()
