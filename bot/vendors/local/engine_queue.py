"""The embedded engine's one worker thread, and the queue of photos in front of it.

The engine reads one photo at a time (each read already uses every core), so in a morning rush photos
queue. Two things follow, both measured on two cores with 45 people sending at once:

- A photo's time limit must count its own reading only. When it also counted the wait, everyone past
  the fortieth photo was told after 30 s that the service had timed out, and resent.
- A photo that would wait longer than a user will is refused at once as busy: the chain then moves on
  to a cloud vendor if one is configured, and otherwise the user hears at once that it is busy instead
  of after a long wait. The expected wait is the photos ahead times a typical read, so a queue of plates
  (0.05 s) may be far longer than a queue of licences (0.7 s). The estimate can be wrong, so a photo
  whose turn comes after twice the wait allowed is refused then, unread, rather than read that late.
"""

from __future__ import annotations

import statistics
import threading
import time
from collections import deque
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Generic, TypeVar

from bot import metrics

T = TypeVar("T")

#: What one read is taken to cost before any has finished: a licence photo's median on two cores.
FIRST_GUESS_SECONDS = 0.7
#: A typical read is the median of this many recent ones that succeeded: a photo refused in a
#: millisecond, or one long page, must not move the estimate much. The process's first read also loads
#: the models (two seconds or so) and is left out.
RECENT_READS = 15


class TooLate(Exception):
    """A photo's turn came after the longest wait it was allowed; it was not read."""


class GivenUp(Exception):
    """The read was given up by whoever asked for it; it stopped at the engine's next model call."""


#: The read the worker thread is on: the engine checks it before each model call.
_reading = threading.local()


def stop_if_given_up() -> None:
    """Raise GivenUp when the read this thread is on was given up (see `QueuedRead.give_up`)."""
    given_up: threading.Event | None = getattr(_reading, "given_up", None)
    if given_up is not None and given_up.is_set():
        raise GivenUp


@dataclass(frozen=True)
class QueuedRead(Generic[T]):
    """A photo handed to the worker: its result to come, and the way to give it up."""

    future: Future[T]
    given_up: threading.Event

    def give_up(self) -> None:
        """Out of the queue unread if it still waits; stopped at the next model call if being read."""
        self.future.cancel()
        self.given_up.set()


class EngineQueue:
    """Photos handed to the worker and not yet done, and how long one read typically takes."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._executor: ThreadPoolExecutor | None = None
        self._unfinished = 0
        self._recent: deque[float] = deque(maxlen=RECENT_READS)
        self._loaded = False

    @property
    def photos(self) -> int:
        """Photos handed to the worker and not yet done, the one being read included."""
        with self._lock:
            return self._unfinished

    def expected_wait(self) -> float:
        """Seconds a photo queued now would wait before the engine starts on it."""
        with self._lock:
            typical = statistics.median(self._recent) if self._recent else FIRST_GUESS_SECONDS
            return self._unfinished * typical

    def submit(
        self, work: Callable[[], T], started: Callable[[], None], give_up_after: float
    ) -> QueuedRead[T]:
        """Queue `work`; `started` is called in the worker just before it runs. A photo still waiting
        `give_up_after` seconds from now is not read when its turn comes (its future raises TooLate)."""
        with self._lock:
            if self._executor is None:
                self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="local-ocr")
            self._unfinished += 1
        deadline = time.monotonic() + give_up_after
        given_up = threading.Event()

        def timed() -> T:
            if time.monotonic() > deadline:
                raise TooLate
            started()
            began = time.perf_counter()
            _reading.given_up = given_up
            try:
                result = work()
            finally:
                _reading.given_up = None
                with self._lock:  # the first read loads the models, however it ends
                    first, self._loaded = not self._loaded, True
            with self._lock:
                if not first:
                    self._recent.append(time.perf_counter() - began)
            return result

        future = self._executor.submit(timed)
        future.add_done_callback(self._left)  # once: when the read ends, or when cancelled unread
        return QueuedRead(future, given_up)

    def _left(self, _future: Future[object]) -> None:
        with self._lock:
            self._unfinished -= 1


#: The process's one queue: the engine is shared by every vendor instance and every chat.
ENGINE_QUEUE = EngineQueue()
metrics.ENGINE_QUEUE_PHOTOS.set_function(lambda: ENGINE_QUEUE.photos)
metrics.ENGINE_EXPECTED_WAIT.set_function(lambda: ENGINE_QUEUE.expected_wait())
