"""The embedded engine's one worker thread, and the queue of photos in front of it.

The engine reads one photo at a time (each read already uses every core), so in a morning rush photos
queue. Two things follow, both measured on two cores with 45 people sending at once:

- A photo's time limit must count its own reading only. When it also counted the wait, everyone past
  the fortieth photo was told after 30 s that the service had timed out, and resent.
- A photo that would wait longer than a user will is refused at once as busy: the chain then moves on
  to a cloud vendor if one is configured, and otherwise the user hears at once that it is busy instead
  of after a long wait. The expected wait is the photos ahead times the running average of one read,
  so a queue of plates (0.05 s) may be far longer than a queue of licences (0.7 s).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import TypeVar

T = TypeVar("T")

#: What one read is taken to cost before any has finished: a licence photo's median on two cores.
FIRST_GUESS_SECONDS = 0.7
#: Weight of the newest read in the running average: it follows a change of load within a few reads.
AVERAGE_WEIGHT = 0.2


class EngineQueue:
    """Photos handed to the worker and not yet done, and how long one read takes on average."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._executor: ThreadPoolExecutor | None = None
        self._unfinished = 0
        self._average = FIRST_GUESS_SECONDS

    def expected_wait(self) -> float:
        """Seconds a photo queued now would wait before the engine starts on it."""
        with self._lock:
            return self._unfinished * self._average

    def submit(self, work: Callable[[], T], started: Callable[[], None]) -> Future[T]:
        """Queue `work`; `started` is called in the worker just before it runs. Cancelling the returned
        future before then takes the photo out of the queue unread."""
        with self._lock:
            if self._executor is None:
                self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="local-ocr")
            self._unfinished += 1

        def timed() -> T:
            started()
            began = time.perf_counter()
            try:
                return work()
            finally:
                self._finished_read(time.perf_counter() - began)

        future = self._executor.submit(timed)
        future.add_done_callback(self._left)  # once: when the read ends, or when cancelled unread
        return future

    def _finished_read(self, seconds: float) -> None:
        with self._lock:
            self._average += AVERAGE_WEIGHT * (seconds - self._average)

    def _left(self, _future: Future[object]) -> None:
        with self._lock:
            self._unfinished -= 1


#: The process's one queue: the engine is shared by every vendor instance and every chat.
ENGINE_QUEUE = EngineQueue()
