"""`licence-bot serve`: every configured channel in one asyncio process behind one ASGI app.

Starlette + uvicorn: the webhooks of every platform, `/healthz` and Prometheus `/metrics` share one
port. uvicorn owns the signals: on SIGTERM it stops accepting connections, then our lifespan stops the
channels and drains in-flight recognitions (bounded by `[server] shutdown_grace_seconds`), and the
process exits 0.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Iterator

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from bot import metrics
from bot.channels.base import Channel, Runtime
from bot.config import HEALTH_PATH, METRICS_PATH, Config, import_target

log = logging.getLogger(__name__)

#: A channel that failed to start is tried again after this many seconds, doubling up to the second.
START_RETRY_SECONDS = (5.0, 300.0)

#: Channel name -> `module:Class` with a `from_config(table, runtime) -> Channel | None` classmethod.
CHANNEL_CLASSES = {
    "telegram": "bot.channels.telegram:TelegramChannel",
    "wechat": "bot.channels.wechat:WeChatChannel",
    "wecom": "bot.channels.wecom:WeComChannel",
}


def build_channels(config: Config, runtime: Runtime) -> list[Channel]:
    """The channels whose table is present and has credentials; the others are simply not started."""
    channels = []
    for name, target in CHANNEL_CLASSES.items():
        table = config.channel_table(name)
        if table is None:
            continue
        channel = import_target(target).from_config(table, runtime)
        if channel is not None:
            channels.append(channel)
    return channels


def build_app(runtime: Runtime, channels: list[Channel]) -> Starlette:
    async def healthz(request: Request) -> Response:
        # uvicorn closes the port before the lifespan's drain, so "stopping" only reaches a check that
        # was already in flight when the stop began; one sent later cannot connect at all.
        status = 200 if runtime.accepting else 503
        body = {"status": "ok" if runtime.accepting else "stopping", "in_flight": runtime.in_flight}
        return JSONResponse(body, status_code=status)

    async def metrics_endpoint(request: Request) -> Response:
        body, content_type = metrics.render()
        return Response(body, media_type=content_type)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        # A channel that cannot start (Telegram unreachable where it is blocked, a revoked token) must
        # not take the others down with it: they serve, and it is tried again in the background.
        retries = [
            asyncio.create_task(_start_until_it_works(channel), name=f"start-{channel.name}")
            for channel in channels
            if not await _started(channel)
        ]
        try:
            yield
        finally:
            runtime.begin_stop()  # one grace for the channels' own waits and the drain together
            for task in retries:
                task.cancel()
            await asyncio.gather(*retries, return_exceptions=True)
            for channel in channels:
                with contextlib.suppress(Exception):
                    await channel.stop()
            await runtime.drain(runtime.grace_left())
            for channel in channels:
                with contextlib.suppress(Exception):
                    await channel.aclose()
            await runtime.aclose()
            log.info("stopped")

    routes = [Route(HEALTH_PATH, healthz), Route(METRICS_PATH, metrics_endpoint)]
    for channel in channels:
        routes.extend(channel.routes())
    return Starlette(routes=routes, lifespan=lifespan)


async def _started(channel: Channel) -> bool:
    try:
        await channel.start()
    except Exception as exc:
        # The exception's text, not its traceback: adapters keep secrets out of their messages.
        log.error("channel %s could not start (%s: %s); trying again", channel.name, type(exc).__name__, exc)
        return False
    log.info("channel %s started", channel.name)
    return True


async def _start_until_it_works(channel: Channel) -> None:
    """Start a channel that failed to, after START_RETRY_SECONDS[0], doubling up to [1], until it does."""
    delay, longest = START_RETRY_SECONDS
    while True:
        await asyncio.sleep(delay)
        if await _started(channel):
            return
        delay = min(2 * delay, longest)


class _GracefulServer(uvicorn.Server):
    """uvicorn re-raises the SIGTERM it caught once it has shut down, so the process would die by the
    signal (exit -15) after our graceful drain. We have handled it: forget it, and exit 0."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        with super().capture_signals():
            yield
            self._captured_signals.clear()  # read by the parent's exit, right after this line


async def serve(config: Config) -> int:
    """Run until SIGTERM/SIGINT. Exit code 2 when no channel is configured: nothing to serve."""
    runtime = Runtime.from_config(config)
    channels = build_channels(config, runtime)
    if not channels:
        await runtime.aclose()
        return 2
    server = _GracefulServer(server_config(build_app(runtime, channels), config))
    await server.serve()
    return 0


def server_config(app: Starlette, config: Config) -> uvicorn.Config:
    """uvicorn's settings. No access log: WeChat puts the user's openid (and the signature) in every
    callback's query string, and uvicorn logs the query whole; channels log what an operator needs."""
    return uvicorn.Config(
        app,
        host=config.server.host,
        port=config.server.port,
        lifespan="on",
        log_config=None,
        access_log=False,
        limit_concurrency=config.server.max_connections,
    )
