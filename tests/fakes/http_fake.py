"""The HTTP plumbing every loopback vendor fake shares, so that each fake holds only its vendor's protocol.

A fake is a real HTTP server on 127.0.0.1 in a background thread: the adapters under test go through
their real HTTP client, sockets included, which is where timeouts, dropped connections and concurrency
limits actually show. What is the same for all of them lives here:

- `LoopbackFake`: the server's lifecycle as a context manager (`with FakeX() as fake:`, then
  `fake.url`), a listen backlog chosen at construction (socketserver's default of 5 makes the kernel
  refuse a burst of new connections, which would measure the fake instead of the adapter), per-endpoint
  queues of scripted answers, waits that end early when the fake stops (so a slow answer never holds
  the test run up), a count of requests in flight and a thread-safe request log.
- `FakeHandler`: the request handler base: HTTP/1.1 keep-alive, Nagle off, quiet logs, body reading,
  JSON / raw answers, and clients that hang up on a slow answer treated as the normal event it is.
- Two vocabularies for scripted answers, because the fakes' tests already speak them:
  `ScriptedReply` (a frozen record with a `mode`, for fakes whose `Reply` class also carries vendor
  fields) and `Slow` / `DROP` (values put in the queue next to plain JSON bodies).
"""

from __future__ import annotations

import dataclasses
import json
import threading
from collections import deque
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Generic, Self, TypeVar

#: socketserver's own default, kept unless a caller (the concurrency benchmark) asks for more.
DEFAULT_BACKLOG = 5

ReplyT = TypeVar("ReplyT")
FakeT = TypeVar("FakeT", bound="LoopbackFake[Any]")
T = TypeVar("T")


# ------------------------------------------------------------------------------------ scripted answers


@dataclass(frozen=True)
class ScriptedReply:
    """A scripted answer by `mode`: "default" (what the vendor would answer), "drop" (close without a
    byte), "http" (a raw non-JSON answer, as a gateway sends) or a mode the vendor's subclass adds.
    `delay` holds any of them back, to make timeouts and concurrency visible."""

    mode: str
    status: int = 200
    text: str = ""
    delay: float = 0.0

    @classmethod
    def slow(cls, delay: float, then: Self | None = None) -> Self:
        return dataclasses.replace(then or cls("default"), delay=delay)

    @classmethod
    def drop(cls) -> Self:
        return cls("drop")

    @classmethod
    def http(cls, status: int, text: str) -> Self:
        return cls("http", status=status, text=text)


@dataclass(frozen=True)
class Slow:
    """Answer `reply` (or the default answer) only after `seconds`, unless the server stops first."""

    seconds: float
    reply: Any = None


class Drop:
    """Close the connection without sending a single byte."""


DROP = Drop()


# ---------------------------------------------------------------------------------------------- server


class _LoopbackServer(ThreadingHTTPServer):
    daemon_threads = True
    #: A handler thread still waiting on a client that keeps its connection open must not hold up `stop`.
    block_on_close = False

    def __init__(self, fake: LoopbackFake[Any], handler: type[BaseHTTPRequestHandler], backlog: int) -> None:
        self.fake = fake
        self.request_queue_size = backlog  # read by server_activate(), inside the base constructor
        super().__init__(("127.0.0.1", 0), handler)


class LoopbackFake(Generic[ReplyT]):
    """Base of the vendor fakes: subclasses pass their `FakeHandler` subclass and keep the protocol."""

    def __init__(
        self, handler: type[FakeHandler[Any]], *, backlog: int = DEFAULT_BACKLOG, name: str = "fake"
    ) -> None:
        self.in_flight = 0
        self.max_in_flight = 0
        self._scripts: dict[str, deque[ReplyT]] = {}
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._server = _LoopbackServer(self, handler, backlog)
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.01}, name=name, daemon=True
        )

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def __enter__(self) -> Self:
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._stopping.set()  # wakes slow answers so their threads end
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    # -- scripting --

    def script(self, endpoint: str, *replies: ReplyT) -> None:
        """Queue answers for `endpoint`, used in order, one per request that reaches the scripted
        stage; once they are used up, the fake's default answers return."""
        with self._lock:
            self._scripts.setdefault(endpoint, deque()).extend(replies)

    def next_reply(self, endpoint: str) -> ReplyT | None:
        with self._lock:
            queue = self._scripts.get(endpoint)
            return queue.popleft() if queue else None

    # -- used from the handler threads --

    def wait(self, seconds: float) -> bool:
        """Hold an answer back; True when the fake is stopping (the wait then ends at once)."""
        return self._stopping.wait(max(seconds, 0.0))

    @contextmanager
    def counting(self) -> Iterator[None]:
        """Counts the request in `in_flight` while it runs; `max_in_flight` keeps the peak."""
        with self._lock:
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            yield
        finally:
            with self._lock:
                self.in_flight -= 1

    def record(self, log: list[T], entry: T) -> T:
        """Appends to one of the fake's request logs; handler threads run at the same time."""
        with self._lock:
            log.append(entry)
        return entry


# --------------------------------------------------------------------------------------------- handler


class FakeHandler(BaseHTTPRequestHandler, Generic[FakeT]):
    """Request handler base; subclasses add the `do_GET` / `do_POST` their vendor answers."""

    protocol_version = "HTTP/1.1"
    #: Headers and body go out in two writes; with Nagle on, the body waits for a delayed ACK (40 ms).
    disable_nagle_algorithm = True
    server: _LoopbackServer

    @property
    def fake(self) -> FakeT:
        return self.server.fake  # type: ignore[return-value]

    def read_body(self) -> bytes:
        return self.rfile.read(int(self.headers.get("Content-Length") or 0))

    def lowered_headers(self) -> dict[str, str]:
        return {name.lower(): value for name, value in self.headers.items()}

    def drop(self) -> None:
        self.close_connection = True

    def write(
        self, status: int, payload: bytes, content_type: str, headers: dict[str, str] | None = None
    ) -> None:
        try:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(payload)))
            for name, value in (headers or {}).items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(payload)
        except (BrokenPipeError, ConnectionResetError):  # the client gave up on a slow answer
            self.close_connection = True

    def send_json(
        self,
        status: int,
        body: Any,
        content_type: str = "application/json",
        headers: dict[str, str] | None = None,
    ) -> None:
        self.write(status, json.dumps(body, ensure_ascii=False).encode("utf-8"), content_type, headers)

    def hold_or_drop(self, outcome: object) -> bool:
        """Carries out a `DROP` or a `Slow` wait; False when the connection was closed instead of
        answered (scripted, or the fake stopped during the wait)."""
        if isinstance(outcome, Drop) or (isinstance(outcome, Slow) and self.fake.wait(outcome.seconds)):
            self.drop()
            return False
        return True

    def send_transport_reply(self, reply: ScriptedReply) -> bool:
        """Answers a "drop" or "http" reply, which look the same whatever the vendor; False otherwise."""
        if reply.mode == "drop":
            self.drop()
            return True
        if reply.mode == "http":
            self.write(reply.status, reply.text.encode(), "text/html")
            return True
        return False

    def log_message(self, format: str, *args: Any) -> None:  # quiet: tests read the fake's request log
        return

    def handle_one_request(self) -> None:
        try:
            super().handle_one_request()
        except (BrokenPipeError, ConnectionResetError):  # the client gave up on a slow answer
            self.close_connection = True
