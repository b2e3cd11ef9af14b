"""What every chat channel is, and the runtime they share inside `licence-bot serve`.

A channel turns its platform's updates into `handlers.messages.Inbound`, hands them to the dispatcher and
sends the `Outbound` back. Webhook channels contribute routes to the one ASGI app; polling channels run
their own loop between `start()` and `stop()`. Recognitions run as tracked background tasks so a slow
vendor never blocks another user, and SIGTERM can wait for them (bounded) before the process exits.
"""

from __future__ import annotations

import asyncio
import logging
from abc import ABC, abstractmethod
from collections.abc import AsyncIterable, Awaitable, Coroutine
from typing import Any, ClassVar

from starlette.requests import Request
from starlette.routing import BaseRoute

from bot.config import Config
from bot.storage import SessionLog
from handlers.dispatch import Dispatcher
from handlers.recognize import Recognizer

log = logging.getLogger(__name__)

#: How long a drain waits for the recognitions it cut off to wind down: each logs itself and tells its
#: user to send the photo again, in at most INTERRUPTED_SEND_SECONDS.
CANCELLED_WAIT_SECONDS = 2.0
INTERRUPTED_SEND_SECONDS = 1.5


async def say_cut_off(platform: str, send: Awaitable[Any]) -> None:
    """`send` the message that asks a user whose message a stop cut off to send it again, within
    INTERRUPTED_SEND_SECONDS, while the closing channel can still send. The stop goes on either way,
    and the session row already says `interrupted`."""
    try:
        await asyncio.wait_for(send, INTERRUPTED_SEND_SECONDS)
    except Exception as exc:
        log.warning("%s: could not say a message was cut off (%s)", platform, type(exc).__name__)


class Runtime:
    """The shared parts of a running bot: config, session log, dispatcher and in-flight work."""

    def __init__(self, config: Config, dispatcher: Dispatcher, session_log: SessionLog) -> None:
        self.config = config
        self.dispatcher = dispatcher
        self.session_log = session_log
        self.accepting = True
        self._tasks: set[asyncio.Task[Any]] = set()
        #: When the stop's one grace ends (the loop's clock), once the server has begun to stop.
        self._stop_deadline: float | None = None

    @classmethod
    def from_config(cls, config: Config) -> Runtime:
        session_log = SessionLog(config.bot.database, store_images=config.bot.store_images)
        return cls(config, Dispatcher(Recognizer(config, session_log)), session_log)

    def spawn(self, work: Coroutine[Any, Any, Any], name: str) -> asyncio.Task[Any] | None:
        """Run `work` in the background, tracked for shutdown. None (and `work` closed) once stopping."""
        if not self.accepting:
            work.close()
            return None
        task = asyncio.create_task(work, name=name)
        self._tasks.add(task)
        task.add_done_callback(self._finished)
        return task

    def begin_stop(self) -> None:
        """Start the one `shutdown_grace_seconds` that every wait of the stop shares: a channel's wait
        for its own answers, then the drain. Each taking a whole grace outlasted what Docker (10 s) or
        Kubernetes (30 s) wait before they kill the process."""
        self._stop_deadline = asyncio.get_running_loop().time() + self.config.server.shutdown_grace_seconds

    def grace_left(self) -> float:
        """Seconds left of the stop's grace (all of it before `begin_stop`)."""
        if self._stop_deadline is None:
            return self.config.server.shutdown_grace_seconds
        return max(0.0, self._stop_deadline - asyncio.get_running_loop().time())

    @property
    def in_flight(self) -> int:
        return len(self._tasks)

    def _finished(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("background task %s failed", task.get_name(), exc_info=task.exception())

    async def drain(self, timeout: float) -> int:
        """Stop taking new work and wait up to `timeout` s for the rest; returns how many were cut off."""
        self.accepting = False
        pending = set(self._tasks)
        if pending:
            log.info("waiting up to %.0f s for %d recognitions in flight", timeout, len(pending))
            _, pending = await asyncio.wait(pending, timeout=timeout)
            for task in pending:
                task.cancel()
            if pending:
                # Let each cut-off recognition write its `interrupted` row before the log is closed, and
                # tell its user while the channel can still send; both are brief.
                await asyncio.wait(pending, timeout=CANCELLED_WAIT_SECONDS)
        if pending:
            log.warning("shutdown cut off %d recognitions still in flight", len(pending))
        else:
            log.info("all recognitions in flight finished")
        return len(pending)

    async def aclose(self) -> None:
        await self.dispatcher.recognizer.aclose()
        self.session_log.close()


class Channel(ABC):
    """One chat platform. Built only when its config table is present and has credentials."""

    name: ClassVar[str]

    def routes(self) -> list[BaseRoute]:
        """Webhook routes this channel adds to the shared ASGI app (none for polling)."""
        return []

    @abstractmethod
    async def start(self) -> None:
        """Connect (set commands, start polling or register webhooks)."""

    @abstractmethod
    async def stop(self) -> None:
        """Stop receiving; in-flight work is drained by the runtime afterwards."""

    async def aclose(self) -> None:  # noqa: B027 - optional hook
        """Release connections once in-flight work is drained (its replies still need them)."""


async def capped_body(request: Request, limit: int) -> bytes | None:
    """The request's body, or None once it is known to be over `limit` bytes. Starlette's
    `request.body()` reads any size whole, so an unauthenticated caller could make a webhook hold
    hundreds of megabytes before it was refused."""
    return await read_at_most(request.stream(), request.headers.get("content-length", ""), limit)


async def read_at_most(chunks: AsyncIterable[bytes], declared_length: str, limit: int) -> bytes | None:
    """A body streamed in `chunks`, or None once it is known to be over `limit` bytes: from its declared
    Content-Length before a byte is read, else as it streams in (never holding more than `limit`)."""
    if declared_length.isdigit() and int(declared_length) > limit:
        return None
    parts: list[bytes] = []
    size = 0
    async for chunk in chunks:
        size += len(chunk)
        if size > limit:
            return None
        parts.append(chunk)
    return b"".join(parts)
