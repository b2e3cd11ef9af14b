"""Who may start a recognition now: allowlists, a per-user rate limit and a per-user daily quota.

Platform-blind (it sees only `Inbound`), so every channel can enforce its own table's numbers with the
same rules. Vendor calls cost money and a runaway script or a forwarded bot link can burn a month's
budget in an hour, hence both a short window (rate) and a daily cap (quota). A refused request is still
a session: the dispatcher logs it as REJECTED with the reason returned here.

Only requests that pass count against the limits: a user who is refused is not pushed further out.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable
from datetime import date, datetime
from typing import Protocol
from zoneinfo import ZoneInfo

from handlers.messages import Inbound

#: The channels' defaults: plenty for one person reading cards (three albums of ten photos a minute,
#: 200 a day), far short of what a script or a crowd would send. 0 in a channel's table turns a limit off.
DEFAULT_RATE_LIMIT = 30
DEFAULT_DAILY_QUOTA = 200

RATE_LIMITED = "rate_limited"
QUOTA_EXCEEDED = "quota_exceeded"
NOT_ALLOWED = "not_allowed"

#: How many users' rate windows to keep before sweeping out the idle ones (bounds memory).
_SWEEP_AT_USERS = 4096
#: A day's count is kept a little past its day, whatever the store's clock says.
_QUOTA_KEPT_SECONDS = 2 * 86400

log = logging.getLogger(__name__)


class QuotaStore(Protocol):
    """Where daily counts survive a restart and are shared by every process (bot.storage.SessionLog)."""

    def kv_take(self, key: str, limit: int, ttl_seconds: float) -> bool:
        """Count one more under `key` unless it holds `limit` already, in one atomic step; True when
        counted. Reading and then writing the count let two workers each hand out the same quota."""


class Limits:
    """Implements `handlers.dispatch.Limiter` for one channel's settings.

    - `allowed_users` / `allowed_chats`: both empty = open to everyone; otherwise a request passes when
      its user OR its chat is listed (list a team's group once instead of every member). Admins always
      pass the allowlist, so they can never lock themselves out.
    - `rate_limit`: at most this many recognitions per user within `rate_window` seconds (0 = no limit).
    - `daily_quota`: at most this many per user per calendar day in `timezone` (0 = no limit). With a
      `store`, the counts survive a restart and are shared by worker processes, so neither a restart
      nor a second worker hands out a fresh quota. A store that fails (a locked or full database) is
      logged and the count falls back to this process's own, so users are not refused for it.

    `check` may be called from worker threads (the dispatcher keeps the store's SQLite off the loop).
    """

    def __init__(
        self,
        *,
        allowed_users: Iterable[str | int] = (),
        allowed_chats: Iterable[str | int] = (),
        rate_limit: int = 0,
        rate_window: float = 60.0,
        daily_quota: int = 0,
        timezone: str = "Asia/Shanghai",
        store: QuotaStore | None = None,
        clock: Callable[[], float] = time.monotonic,
        today: Callable[[], date] | None = None,
    ) -> None:
        self.allowed_users = frozenset(str(user) for user in allowed_users)
        self.allowed_chats = frozenset(str(chat) for chat in allowed_chats)
        self.rate_limit = rate_limit
        self.rate_window = rate_window
        self.daily_quota = daily_quota
        self._store = store
        self._clock = clock
        zone = ZoneInfo(timezone)
        self._today = today or (lambda: datetime.now(zone).date())
        self._recent: dict[tuple[str, str], deque[float]] = {}
        self._day: date | None = None
        self._used_today: dict[tuple[str, str], int] = {}
        self._lock = threading.Lock()

    def check(self, inbound: Inbound) -> str | None:
        """None to go ahead (and the request is counted), else the reason it is refused."""
        if not self.is_allowed(inbound):
            return NOT_ALLOWED
        user = (inbound.platform, inbound.user_id)
        with self._lock:
            now = self._clock()
            recent = self._recent_window(user, now)
            if self.rate_limit and len(recent) >= self.rate_limit:
                return RATE_LIMITED
            if self.daily_quota and not self._take_quota(user):
                return QUOTA_EXCEEDED
            recent.append(now)
        return None

    def is_allowed(self, inbound: Inbound) -> bool:
        if inbound.is_admin or not (self.allowed_users or self.allowed_chats):
            return True
        return inbound.user_id in self.allowed_users or inbound.chat_id in self.allowed_chats

    def _recent_window(self, user: tuple[str, str], now: float) -> deque[float]:
        if len(self._recent) > _SWEEP_AT_USERS:
            self._sweep(now)
        recent = self._recent.setdefault(user, deque())
        while recent and now - recent[0] >= self.rate_window:
            recent.popleft()
        return recent

    def _sweep(self, now: float) -> None:
        idle = [
            user for user, times in self._recent.items() if not times or now - times[-1] >= self.rate_window
        ]
        for user in idle:
            del self._recent[user]

    def _take_quota(self, user: tuple[str, str]) -> bool:
        today = self._today()
        if today != self._day:  # a new day: yesterday's counts are irrelevant
            self._day, self._used_today = today, {}
        if self._store is not None:
            try:
                return self._store.kv_take(_quota_key(user, today), self.daily_quota, _QUOTA_KEPT_SECONDS)
            except Exception as exc:  # sqlite3.Error and the like: the store's, not the user's, fault
                failure = type(exc).__name__
                log.warning("daily quota store failed (%s); counting in this process only", failure)
        used = self._used_today.get(user, 0)
        if used >= self.daily_quota:
            return False
        self._used_today[user] = used + 1
        return True


def _quota_key(user: tuple[str, str], day: date | None) -> str:
    platform, user_id = user
    return f"quota:{platform}:{user_id}:{day}"
