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
- People take turns. A field worker's album of ten photos would otherwise hold everyone who wrote a
  moment later behind all ten (seven seconds for a photo that takes one). Each photo is given a turn
  when it comes: a person's first photo waiting gets the turn being read now, their next one the turn
  after their last, so the engine reads one photo of each person waiting before the second of anyone.
  A newcomer goes ahead of an album's later photos, not of photos already waiting for the turn under
  way. In a rush it is an album's later photos that wait, then: while newcomers keep coming their
  turn may not come at all, so a photo still waiting at its time limit is refused then as busy, turn
  or no turn (the vendor enforces it; the worker checks it again when the turn comes).
"""

from __future__ import annotations

import heapq
import itertools
import statistics
import threading
import time
from collections import deque
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

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

    def withdraw(self) -> bool:
        """Out of the queue unread if it still waits (True); False, and left alone, once it is read."""
        return self.future.cancel()


@dataclass(order=True)
class _Waiting:
    """A photo handed to the worker, ordered as it will be read: by turn, then as it came."""

    turn: int
    arrival: int
    reader: str | None = field(compare=False)
    future: Future[Any] = field(compare=False)
    run: Callable[[], Any] = field(compare=False)


class EngineQueue:
    """Photos handed to the worker and not yet done, whose turn each is, and how long a read takes."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._executor: ThreadPoolExecutor | None = None
        self._unfinished = 0
        self._recent: deque[float] = deque(maxlen=RECENT_READS)
        self._loaded = False
        self._waiting: list[_Waiting] = []  # a heap; photos given up stay in it until their turn
        self._arrivals = itertools.count()
        #: The turn of the photo read last; for each person with photos waiting or being read, how many
        #: and the last one's turn (a person with none left starts again at the turn being read).
        self._turn = 0
        self._unfinished_by: dict[str, int] = {}
        self._last_turns: dict[str, int] = {}

    @property
    def photos(self) -> int:
        """Photos handed to the worker and not yet done, the one being read included."""
        with self._lock:
            return self._unfinished

    def expected_wait(self, reader: str | None = None) -> float:
        """Seconds a photo `reader` sent now would wait before the engine starts on it: the photos
        whose turns come before its turn would, the one being read included."""
        with self._lock:
            typical = statistics.median(self._recent) if self._recent else FIRST_GUESS_SECONDS
            turn = self._next_turn(reader)
            waiting = [photo for photo in self._waiting if not photo.future.done()]
            being_read = self._unfinished - len(waiting)
            return (being_read + sum(photo.turn <= turn for photo in waiting)) * typical

    def _next_turn(self, reader: str | None) -> int:
        """The turn of `reader`'s next photo: the turn being read, or the one after their last photo
        still waiting or being read. A photo nobody in particular sent (`reader` None) takes the turn
        being read."""
        last = self._last_turns.get(reader) if reader is not None else None
        return self._turn if last is None else max(self._turn, last + 1)

    def submit(
        self,
        work: Callable[[], T],
        started: Callable[[], None],
        give_up_after: float,
        reader: str | None = None,
    ) -> QueuedRead[T]:
        """Queue `work` for `reader` (whose photos take turns with other people's); `started` is called
        in the worker just before it runs. A photo still waiting `give_up_after` seconds from now is
        not read when its turn comes (its future raises TooLate)."""
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

        future: Future[T] = Future()
        with self._lock:
            if self._executor is None:
                self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="local-ocr")
            self._unfinished += 1
            turn = self._next_turn(reader)
            if reader is not None:
                self._last_turns[reader] = turn
                self._unfinished_by[reader] = self._unfinished_by.get(reader, 0) + 1
            heapq.heappush(self._waiting, _Waiting(turn, next(self._arrivals), reader, future, timed))
            executor = self._executor
        # Once: when the read ends, or when the photo is given up unread.
        future.add_done_callback(lambda _done: self._left(reader))
        executor.submit(self._read_next)  # one call per photo: each reads whichever photo's turn is next
        return QueuedRead(future, given_up)

    def _read_next(self) -> None:
        """In the worker: read the photo whose turn is next (or drop it, if it was given up)."""
        with self._lock:
            photo = heapq.heappop(self._waiting)
            self._turn = photo.turn
        if not photo.future.set_running_or_notify_cancel():
            return
        try:
            result = photo.run()
        except BaseException as exc:  # the future carries it to whoever waits, as an executor's would
            photo.future.set_exception(exc)
        else:
            photo.future.set_result(result)

    def _left(self, reader: str | None) -> None:
        with self._lock:
            self._unfinished -= 1
            if reader is not None:
                self._unfinished_by[reader] -= 1
                if not self._unfinished_by[reader]:  # nothing of theirs left: no turn to follow
                    del self._unfinished_by[reader], self._last_turns[reader]


#: The process's one queue: the engine is shared by every vendor instance and every chat.
ENGINE_QUEUE = EngineQueue()
metrics.ENGINE_QUEUE_PHOTOS.set_function(lambda: ENGINE_QUEUE.photos)
metrics.ENGINE_EXPECTED_WAIT.set_function(lambda: ENGINE_QUEUE.expected_wait())
