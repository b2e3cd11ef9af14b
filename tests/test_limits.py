"""Allowlists, per-user rate limits and daily quotas: platform-blind, with a fake clock and real SQLite."""

from __future__ import annotations

import sqlite3
from datetime import date

from bot.storage import SessionLog
from handlers.limits import NOT_ALLOWED, QUOTA_EXCEEDED, RATE_LIMITED, Limits
from handlers.messages import Inbound


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0
        self.day = date(2026, 3, 1)

    def __call__(self) -> float:
        return self.now

    def today(self) -> date:
        return self.day


def asking(user: str = "u1", chat: str = "c1", *, admin: bool = False, platform: str = "telegram") -> Inbound:
    return Inbound(platform=platform, chat_id=chat, user_id=user, message_id="1", is_admin=admin)


def test_open_when_no_lists_and_no_limits():
    limits = Limits()
    assert all(limits.check(asking(user=str(n))) is None for n in range(50))


def test_allowlists_admit_a_listed_user_or_a_listed_chat():
    limits = Limits(allowed_users=[7], allowed_chats=[-100])
    assert limits.check(asking(user="7", chat="7")) is None
    assert limits.check(asking(user="8", chat="-100")) is None  # anyone in the team's group
    assert limits.check(asking(user="8", chat="8")) == NOT_ALLOWED
    assert limits.check(asking(user="9", chat="9", admin=True)) is None  # admins never lock themselves out


def test_rate_limit_is_per_user_and_slides():
    clock = Clock()
    limits = Limits(rate_limit=2, rate_window=60, clock=clock)
    assert [limits.check(asking("a")) for _ in range(3)] == [None, None, RATE_LIMITED]
    assert limits.check(asking("b")) is None  # another user is unaffected
    assert limits.check(asking("a", platform="wechat")) is None  # and so is the same id elsewhere
    clock.now += 59
    assert limits.check(asking("a")) == RATE_LIMITED
    clock.now += 1
    assert limits.check(asking("a")) is None


def test_refused_requests_do_not_count():
    clock = Clock()
    limits = Limits(rate_limit=1, daily_quota=2, clock=clock, today=clock.today)
    assert limits.check(asking()) is None
    for _ in range(5):
        assert limits.check(asking()) == RATE_LIMITED
    clock.now += 60
    assert limits.check(asking()) is None  # the five refusals did not use up the quota
    clock.now += 60
    assert limits.check(asking()) == QUOTA_EXCEEDED


def test_daily_quota_resets_on_a_new_day_and_survives_a_restart(tmp_path):
    clock = Clock()
    store = SessionLog(tmp_path / "log.db")
    first = Limits(daily_quota=2, clock=clock, today=clock.today, store=store)
    assert [first.check(asking()) for _ in range(3)] == [None, None, QUOTA_EXCEEDED]
    restarted = Limits(daily_quota=2, clock=clock, today=clock.today, store=store)
    assert restarted.check(asking()) == QUOTA_EXCEEDED  # a restart hands out no fresh quota
    clock.day = date(2026, 3, 2)
    assert restarted.check(asking()) is None
    store.close()


def test_workers_sharing_a_store_share_one_quota(tmp_path):
    """Two processes' limiters on one database: a count read, then written, let each hand out the same
    quota, so a user got as many recognitions as there were workers times the quota."""
    clock = Clock()
    stores = [SessionLog(tmp_path / "log.db"), SessionLog(tmp_path / "log.db")]  # two connections
    workers = [Limits(daily_quota=3, clock=clock, today=clock.today, store=store) for store in stores]
    answers = [workers[number % 2].check(asking()) for number in range(6)]
    assert answers == [None, None, None, QUOTA_EXCEEDED, QUOTA_EXCEEDED, QUOTA_EXCEEDED]
    for store in stores:
        store.close()


class _BrokenStore:
    def kv_take(self, key: str, limit: int, ttl_seconds: float) -> bool:
        raise sqlite3.OperationalError("database is locked")


def test_a_failing_quota_store_counts_in_memory_and_says_so(caplog):
    clock = Clock()
    limits = Limits(daily_quota=2, clock=clock, today=clock.today, store=_BrokenStore())
    assert [limits.check(asking()) for _ in range(3)] == [None, None, QUOTA_EXCEEDED]
    assert "daily quota store failed (OperationalError)" in caplog.text


def test_idle_users_are_swept_so_memory_stays_bounded():
    clock = Clock()
    limits = Limits(rate_limit=5, rate_window=10, clock=clock)
    for user in range(5000):
        limits.check(asking(str(user)))
    clock.now += 11
    limits.check(asking("late"))
    assert len(limits._recent) < 100
