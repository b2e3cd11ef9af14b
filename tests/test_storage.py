"""Session log on real SQLite files: rows, queries, stats, dedupe, kv, migrations and threads."""

from __future__ import annotations

import csv
import io
import json
import sqlite3
import threading
from datetime import UTC, date, datetime, timedelta, timezone
from pathlib import Path

import numpy as np
import pytest
from sqlite_utils import Database

from bot import storage
from bot.models import Severity, Warning
from bot.storage import SchemaTooNewError, SessionLog, SessionRow, migrate, percentile
from bot.vendors.base import Attempt

T0 = datetime(2024, 5, 1, 8, 0, tzinfo=UTC)


class FakeClock:
    def __init__(self, now: float = 1_700_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "nested" / "dir" / "log.db"


@pytest.fixture
def log(db_path: Path):
    opened = SessionLog(db_path)
    yield opened
    opened.close()


def make_row(**overrides) -> SessionRow:
    values = {
        "created_at": T0,
        "platform": "telegram",
        "chat_id": "c1",
        "chat_type": "private",
        "user_id": "u1",
        "message_id": "m1",
        "kind": "driving",
        "side": "front",
        "vendor": "tencent",
        "attempts": [{"vendor": "tencent", "status": "ok", "ms": 120.0, "code": None, "message": ""}],
        "status": "ok",
        "download_ms": 15.5,
        "vendor_ms": 120.0,
        "total_ms": 150.25,
        "image_sha256": "ab" * 32,
        "image_bytes": 12345,
        "width": 800,
        "height": 600,
        "fields": {"name": "张*", "number": "1101**********1234", "class": "C1"},
        "warnings": [{"code": "expires_soon", "severity": "warning", "message": "m", "params": {"days": 30}}],
        "language": "zh",
    }
    values.update(overrides)
    return SessionRow(**values)


def raw_rows(path: Path, sql: str, params: tuple = ()) -> list[tuple]:
    with sqlite3.connect(path) as conn:
        return conn.execute(sql, params).fetchall()


# ------------------------------------------------------------------------------------ record/history


def test_open_creates_directory_enables_wal_and_sets_schema_version(db_path: Path, log: SessionLog):
    assert db_path.is_file()
    assert log.schema_version == len(storage.MIGRATIONS)
    assert raw_rows(db_path, "PRAGMA journal_mode")[0][0] == "wal"


def test_session_log_does_not_fsync_every_row(log: SessionLog):
    """synchronous is per connection: NORMAL (1) on the log's own, where FULL (2) is SQLite's default."""
    with log._lock:
        assert log._db.execute("PRAGMA synchronous").fetchone()[0] == 1


def test_record_then_history_round_trips_every_column(log: SessionLog):
    row = make_row(plates=[{"number": "京A12345", "color": "blue"}], cached=True, error_code="E1")
    session_id = log.record(row)

    [back] = log.history()
    assert back.id == session_id
    assert back.model_dump(exclude={"id"}) == row.model_dump(exclude={"id"})


def test_created_at_is_stored_in_utc(log: SessionLog):
    beijing = timezone(timedelta(hours=8))
    log.record(make_row(created_at=datetime(2024, 5, 1, 9, 30, tzinfo=beijing)))
    log.record(make_row(created_at=datetime(2024, 5, 1, 3, 0)))  # naive: taken as UTC

    newest, oldest = log.history()
    assert newest.created_at == datetime(2024, 5, 1, 3, 0, tzinfo=UTC)
    assert oldest.created_at == datetime(2024, 5, 1, 1, 30, tzinfo=UTC)
    assert oldest.created_at.utcoffset() == timedelta(0)


def test_record_accepts_chain_attempts_and_warning_models(log: SessionLog):
    warning = Warning(code="glare", severity=Severity.INFO, message="glare on card", params={"area": 0.2})
    attempts = [Attempt("baidu", "timeout", ms=3000.0, code="T"), Attempt("tencent", "ok", ms=90.0)]
    log.record(make_row(attempts=attempts, warnings=[warning], chat_id=42, message_id=7))

    [back] = log.history()
    assert back.attempts[0] == {
        "vendor": "baidu",
        "status": "timeout",
        "ms": 3000.0,
        "code": "T",
        "message": "",
        "sent": True,
        "waited_ms": 0.0,
    }
    assert back.attempts[1]["vendor"] == "tencent"
    assert back.warnings == [
        {"code": "glare", "severity": "info", "message": "glare on card", "params": {"area": 0.2}}
    ]
    assert (back.chat_id, back.message_id) == ("42", "7")


def test_history_is_newest_first_and_filters_combine(log: SessionLog):
    specs = [
        ("telegram", "c1", "u1"),
        ("telegram", "c2", "u1"),
        ("wechat", "c1", "u2"),
        ("telegram", "c1", "u2"),
        ("wecom", "c9", "u1"),
    ]
    ids = [
        log.record(make_row(created_at=T0 + timedelta(minutes=i), platform=p, chat_id=c, user_id=u))
        for i, (p, c, u) in enumerate(specs)
    ]

    assert [r.id for r in log.history()] == ids[::-1]
    assert [r.id for r in log.history(limit=2)] == [ids[4], ids[3]]
    assert [r.id for r in log.history(user_id="u1")] == [ids[4], ids[1], ids[0]]
    assert [r.id for r in log.history(platform="telegram", chat_id="c1")] == [ids[3], ids[0]]
    assert [r.id for r in log.history(platform="telegram", chat_id="c1", user_id="u2")] == [ids[3]]
    assert log.history(platform="nowhere") == []


def test_history_orders_by_time_not_insertion(log: SessionLog):
    late = log.record(make_row(created_at=T0 + timedelta(hours=1)))
    early = log.record(make_row(created_at=T0))
    assert [r.id for r in log.history()] == [late, early]


def test_history_rejects_a_limit_below_one(log: SessionLog):
    with pytest.raises(ValueError, match="limit"):
        log.history(limit=0)


def test_vendor_calls_rows_skip_skipped_and_unsent_attempts_and_cached_sessions(
    db_path: Path, log: SessionLog
):
    attempts = [
        {"vendor": "megvii", "status": "skipped", "ms": 0.0, "message": "does not read plate"},
        # refused before any request left (the engine's queue too long): no call to count or bill
        {"vendor": "local", "status": "quota_or_rate", "ms": 0.1, "code": "busy", "sent": False},
        {"vendor": "baidu", "status": "quota_or_rate", "ms": 40.0, "code": "18"},
        {"vendor": "tencent", "status": "ok", "ms": 95.0},
    ]
    first = log.record(make_row(created_at=datetime(2024, 5, 1, 15, 59, tzinfo=UTC), attempts=attempts))
    log.record(make_row(attempts=attempts, cached=True))
    # 16:00 UTC is midnight in Beijing, where the vendors' days (and bills) turn
    after = log.record(make_row(created_at=datetime(2024, 5, 1, 16, 0, tzinfo=UTC), attempts=attempts[3:]))

    calls = raw_rows(
        db_path, "SELECT session_id, vendor, status, code, ms, day FROM vendor_calls ORDER BY id"
    )
    assert calls == [
        (first, "baidu", "quota_or_rate", "18", 40.0, "2024-05-01"),
        (first, "tencent", "ok", None, 95.0, "2024-05-01"),
        (after, "tencent", "ok", None, 95.0, "2024-05-02"),
    ]
    # the session row keeps every attempt, skipped and unsent included
    assert [a["vendor"] for a in log.history()[1].attempts] == ["megvii", "local", "baidu", "tencent"]


def test_record_is_atomic_when_a_vendor_call_insert_fails(db_path: Path, log: SessionLog):
    with sqlite3.connect(db_path) as conn:
        conn.execute(
            "CREATE TRIGGER refuse BEFORE INSERT ON vendor_calls BEGIN SELECT RAISE(ABORT, 'refused'); END"
        )
    with pytest.raises(sqlite3.IntegrityError, match="refused"):
        log.record(make_row())
    assert log.history() == []
    # and the connection is usable afterwards
    log.kv_set("k", "v")
    assert log.kv_get("k") == "v"


def test_images_are_dropped_unless_configured(tmp_path: Path):
    image = b"\xff\xd8\xff fake jpeg bytes"
    with SessionLog(tmp_path / "off.db") as off:
        dropped = off.record(make_row(image=image))
        assert off.load_image(dropped) is None
        assert raw_rows(tmp_path / "off.db", "SELECT COUNT(*) FROM session_images") == [(0,)]
    with SessionLog(tmp_path / "on.db", store_images=True) as on:
        kept = on.record(make_row(image=image))
        without = on.record(make_row(image=None))
        assert on.load_image(kept) == image
        assert on.load_image(without) is None
        assert on.history()[0].image is None  # history never drags blobs along


# ------------------------------------------------------------------------------------------- export


def test_export_range_is_half_open_and_oldest_first(log: SessionLog):
    ids = [log.record(make_row(created_at=T0 + timedelta(days=d))) for d in range(5)]

    assert [r["id"] for r in log.export()] == ids
    window = log.export(since=T0 + timedelta(days=1), until=T0 + timedelta(days=3))
    assert [r["id"] for r in window] == ids[1:3]
    assert [r["id"] for r in log.export(since=T0 + timedelta(days=4))] == ids[4:]
    assert [r["id"] for r in log.export(until=T0 + timedelta(days=1))] == ids[:1]


def test_export_range_compares_instants_across_time_zones(log: SessionLog):
    session_id = log.record(make_row(created_at=datetime(2024, 5, 1, 16, 30, tzinfo=UTC)))
    beijing = timezone(timedelta(hours=8))
    # 2024-05-02 00:00 in Beijing is 2024-05-01 16:00 UTC: the session falls after it
    assert [r["id"] for r in log.export(since=datetime(2024, 5, 2, tzinfo=beijing))] == [session_id]
    assert list(log.export(until=datetime(2024, 5, 2, tzinfo=beijing))) == []


def test_export_values_are_flat_and_survive_csv(log: SessionLog):
    attempts = [{"vendor": "baidu", "status": "timeout", "ms": 10.0}, {"vendor": "tencent", "status": "ok"}]
    log.record(make_row(attempts=attempts, plates=[{"number": "粤B12345"}], cached=True))
    log.record(make_row(status="bad_image", vendor=None, attempts=[], fields=None, warnings=[]))

    rows = list(log.export())
    for row in rows:
        assert all(value is None or isinstance(value, str | int | float | bool) for value in row.values())
    first = rows[0]
    assert first["vendors_tried"] == "baidu,tencent"
    assert json.loads(first["fields"])["name"] == "张*"
    assert json.loads(first["plates"]) == [{"number": "粤B12345"}]
    assert first["cached"] is True
    assert rows[1]["vendors_tried"] == ""

    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=list(first))
    writer.writeheader()
    writer.writerows(rows)
    parsed = list(csv.DictReader(io.StringIO(buffer.getvalue())))
    assert [p["status"] for p in parsed] == ["ok", "bad_image"]
    assert json.loads(parsed[0]["attempts"]) == attempts
    assert "image" not in first  # blobs never reach an export


def test_export_pages_through_more_rows_than_one_page(log: SessionLog, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setattr(storage, "EXPORT_PAGE_SIZE", 3)
    ids = [log.record(make_row(created_at=T0 + timedelta(seconds=i))) for i in range(7)]
    assert [r["id"] for r in log.export()] == ids
    assert [r["id"] for r in log.export(since=T0 + timedelta(seconds=2))] == ids[2:]


# -------------------------------------------------------------------------------------------- stats


def test_stats_on_a_crafted_log(log: SessionLog):
    day2 = T0 + timedelta(days=1)
    tencent_driving = [100.0, 200.0, 300.0, 400.0, 1000.0]
    for ms in tencent_driving:
        log.record(make_row(attempts=[{"vendor": "tencent", "status": "ok", "ms": ms}]))
    # baidu times out, tencent answers: two calls, one failure, on day 2
    log.record(
        make_row(
            created_at=day2,
            kind="plate",
            attempts=[
                {"vendor": "baidu", "status": "timeout", "ms": 3000.0},
                {"vendor": "tencent", "status": "ok", "ms": 50.0},
            ],
        )
    )
    log.record(
        make_row(
            created_at=day2,
            status="not_found",
            vendor=None,
            attempts=[{"vendor": "tencent", "status": "not_found", "ms": 80.0}],
        )
    )
    log.record(make_row(created_at=day2, status="bad_image", vendor=None, attempts=[]))
    log.record(make_row(created_at=day2, cached=True))  # cached: a session, but no vendor call

    # Photos that never got a kind: sessions, but no recognition was asked for.
    log.record(make_row(created_at=day2, kind=None, status="unanswered", vendor=None, attempts=[]))
    log.record(make_row(created_at=day2, kind=None, status="bad_image", vendor=None, attempts=[]))

    stats = log.stats()

    assert stats.total == 11
    assert stats.by_status == {"ok": 7, "not_found": 1, "bad_image": 2, "unanswered": 1}
    assert stats.success_rate == pytest.approx(7 / 9)
    by_vendor_kind = {(s.vendor, s.kind): s for s in stats.by_vendor_kind}
    assert set(by_vendor_kind) == {("tencent", "driving"), ("tencent", "plate"), ("baidu", "plate")}
    td = by_vendor_kind[("tencent", "driving")]
    td_ms = [*tencent_driving, 80.0]
    assert (td.count, td.ok) == (6, 5)
    assert td.p50_ms == pytest.approx(np.percentile(td_ms, 50))
    assert td.p95_ms == pytest.approx(np.percentile(td_ms, 95))
    bp = by_vendor_kind[("baidu", "plate")]
    assert (bp.count, bp.ok, bp.p50_ms, bp.p95_ms) == (1, 0, 3000.0, 3000.0)

    per_day = {(s.vendor, s.day): (s.calls, s.failures) for s in stats.by_vendor_day}
    assert per_day == {
        ("tencent", date(2024, 5, 1)): (5, 0),
        ("tencent", date(2024, 5, 2)): (2, 1),
        ("baidu", date(2024, 5, 2)): (1, 1),
    }

    later = log.stats(since=day2)
    assert later.total == 6
    assert later.by_status == {"ok": 2, "bad_image": 2, "not_found": 1, "unanswered": 1}
    assert later.success_rate == pytest.approx(2 / 4)
    assert {s.day for s in later.by_vendor_day} == {date(2024, 5, 2)}


def test_stats_of_an_empty_log(log: SessionLog):
    stats = log.stats()
    assert (stats.total, stats.by_status, stats.success_rate) == (0, {}, None)
    assert stats.by_vendor_kind == [] and stats.by_vendor_day == []


@pytest.mark.parametrize(
    "values", [[5.0], [3.0, 1.0], [7.0, 1.0, 4.0, 9.0, 2.0, 8.0, 6.0], list(range(1, 101))]
)
@pytest.mark.parametrize("fraction", [0.0, 0.5, 0.95, 1.0])
def test_percentile_matches_numpy_linear(values: list[float], fraction: float):
    assert percentile(values, fraction) == pytest.approx(np.percentile(values, fraction * 100))


def test_percentile_of_nothing_is_none():
    assert percentile([], 0.5) is None


# ---------------------------------------------------------------------------------- inbound dedupe


def test_claim_inbound_is_first_time_only_and_survives_reopen(db_path: Path):
    with SessionLog(db_path) as first:
        assert first.claim_inbound("wechat", "msg-1") is True
        assert first.claim_inbound("wechat", "msg-1") is False
        assert first.claim_inbound("wecom", "msg-1") is True  # keys are per platform
    with SessionLog(db_path) as reopened:
        assert reopened.claim_inbound("wechat", "msg-1") is False
        assert reopened.claim_inbound("wechat", "msg-2") is True


def test_claim_inbound_records_first_seen_from_the_clock(db_path: Path):
    clock = FakeClock(datetime(2024, 5, 1, 12, 0, tzinfo=UTC).timestamp())
    with SessionLog(db_path, clock=clock) as log:
        log.claim_inbound("wechat", "k")
        clock.now += 60
        log.claim_inbound("wechat", "k")
    assert raw_rows(db_path, "SELECT first_seen FROM inbound_seen") == [("2024-05-01T12:00:00.000000+00:00",)]


def test_claim_inbound_has_one_winner_across_threads_and_connections(db_path: Path):
    logs = [SessionLog(db_path), SessionLog(db_path)]  # two connections, as two processes would hold
    results: list[bool] = []
    barrier = threading.Barrier(8)

    def claim(index: int) -> None:
        barrier.wait()
        results.append(logs[index % 2].claim_inbound("wechat", "retry-storm"))

    threads = [threading.Thread(target=claim, args=(i,)) for i in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for opened in logs:
        opened.close()
    assert sorted(results) == [False] * 7 + [True]


def test_entries_nobody_reads_again_are_pruned(db_path: Path):
    """Each callback leaves a nonce in kv and a claim in inbound_seen, and neither key is read again:
    both must be deleted once expired, or the tables grow by every message for good."""
    clock = FakeClock(datetime(2024, 5, 1, tzinfo=UTC).timestamp())
    with SessionLog(db_path, clock=clock) as log:
        for number in range(50):
            log.claim_inbound("wechat", f"msg-{number}")
            log.kv_set(f"nonce:{number}", "digest", ttl_seconds=660)
        log.kv_set("forever", "f")
        clock.now += 3 * 24 * 3600
        log.claim_inbound("wechat", "today")
        log.kv_set("nonce:today", "digest", ttl_seconds=660)
    assert raw_rows(db_path, "SELECT message_key FROM inbound_seen") == [("today",)]
    assert raw_rows(db_path, "SELECT key FROM kv ORDER BY key") == [("forever",), ("nonce:today",)]


def test_a_process_that_restarts_often_still_prunes(db_path: Path):
    clock = FakeClock(datetime(2024, 5, 1, tzinfo=UTC).timestamp())
    with SessionLog(db_path, clock=clock) as log:
        log.kv_set("nonce:old", "digest", ttl_seconds=660)
    clock.now += 3600
    with SessionLog(db_path, clock=clock) as restarted:  # lives a minute, as under a crash loop
        restarted.kv_set("nonce:new", "digest", ttl_seconds=660)
    assert raw_rows(db_path, "SELECT key FROM kv") == [("nonce:new",)]


# ----------------------------------------------------------------------------------------------- kv


def test_kv_take_counts_up_to_its_limit_and_starts_again_once_expired(db_path: Path):
    clock = FakeClock()
    with SessionLog(db_path, clock=clock) as log:
        assert [log.kv_take("quota", 2, ttl_seconds=100) for _ in range(3)] == [True, True, False]
        assert log.kv_get("quota") == "2"  # the refused third did not count
        clock.now += 100
        assert log.kv_take("quota", 2, ttl_seconds=100) is True
        assert log.kv_get("quota") == "1"


def test_kv_set_get_overwrite_delete(log: SessionLog):
    assert log.kv_get("token") is None
    log.kv_set("token", "abc")
    assert log.kv_get("token") == "abc"
    log.kv_set("token", "def")
    assert log.kv_get("token") == "def"
    log.kv_delete("token")
    assert log.kv_get("token") is None
    log.kv_delete("token")  # deleting what is gone is fine


def test_kv_expiry_follows_the_injected_clock(db_path: Path):
    clock = FakeClock()
    with SessionLog(db_path, clock=clock) as log:
        log.kv_set("wechat:token", "t1", ttl_seconds=7000)
        log.kv_set("forever", "f")
        clock.now += 6999.5
        assert log.kv_get("wechat:token") == "t1"
        clock.now += 0.5
        assert log.kv_get("wechat:token") is None
        assert log.kv_get("forever") == "f"
        # setting again renews the expiry
        log.kv_set("wechat:token", "t2", ttl_seconds=10)
        clock.now += 5
        assert log.kv_get("wechat:token") == "t2"
    assert raw_rows(db_path, "SELECT key FROM kv ORDER BY key") == [("forever",), ("wechat:token",)]


def test_kv_survives_reopen_and_expired_entries_are_removed(db_path: Path):
    clock = FakeClock()
    with SessionLog(db_path, clock=clock) as log:
        log.kv_set("a", "1", ttl_seconds=100)
        log.kv_set("b", "2", ttl_seconds=1)
    clock.now += 50
    with SessionLog(db_path, clock=clock) as log:
        assert log.kv_get("a") == "1"
        assert log.kv_get("b") is None
    assert raw_rows(db_path, "SELECT key FROM kv") == [("a",)]


@pytest.mark.parametrize("ttl", [0, -5])
def test_kv_set_refuses_a_ttl_that_is_already_over(log: SessionLog, ttl: float):
    with pytest.raises(ValueError, match="ttl"):
        log.kv_set("k", "v", ttl_seconds=ttl)


# --------------------------------------------------------------------------------------- migrations


def test_reopening_is_idempotent_and_keeps_data(db_path: Path):
    with SessionLog(db_path) as first:
        session_id = first.record(make_row())
        version = first.schema_version
    with SessionLog(db_path) as second:
        assert second.schema_version == version
        assert [r.id for r in second.history()] == [session_id]


def test_a_current_database_is_migrated_forward_once(db_path: Path, monkeypatch: pytest.MonkeyPatch):
    current = len(storage.MIGRATIONS)
    with SessionLog(db_path) as old:
        old.record(make_row())
        assert old.schema_version == current
    applied: list[str] = []

    def next_add_notes(db: Database) -> None:
        applied.append("next")
        db["sessions"].add_column("note", str)
        db["notes"].create({"id": int, "text": str}, pk="id")

    monkeypatch.setattr(storage, "MIGRATIONS", [*storage.MIGRATIONS, next_add_notes])
    with SessionLog(db_path) as migrated:
        assert migrated.schema_version == current + 1
        assert len(migrated.history()) == 1  # old rows still read
    with SessionLog(db_path) as again:
        assert again.schema_version == current + 1
    assert applied == ["next"]
    columns = [row[1] for row in raw_rows(db_path, "PRAGMA table_info(sessions)")]
    assert "note" in columns
    assert raw_rows(db_path, "SELECT name FROM sqlite_master WHERE name = 'notes'") == [("notes",)]


def test_a_failing_migration_leaves_the_database_at_its_old_version(db_path: Path):
    SessionLog(db_path).close()

    def next_half_done(db: Database) -> None:
        db["half"].create({"id": int}, pk="id")
        raise RuntimeError("broken migration")

    db = Database(sqlite3.connect(db_path))
    with pytest.raises(RuntimeError, match="broken"):
        migrate(db, [*storage.MIGRATIONS, next_half_done])
    assert storage.user_version(db) == len(storage.MIGRATIONS)
    assert "half" not in db.table_names()
    db.close()


def test_a_fresh_database_runs_every_step_in_order(tmp_path: Path):
    order: list[int] = []
    steps = [lambda db, n=n: order.append(n) for n in (1, 2, 3)]
    db = Database(sqlite3.connect(tmp_path / "fresh.db"))
    assert migrate(db, steps) == 3
    assert migrate(db, steps) == 3
    assert order == [1, 2, 3]
    db.close()


def test_a_database_from_a_newer_version_is_refused(db_path: Path):
    SessionLog(db_path).close()
    with sqlite3.connect(db_path) as conn:
        conn.execute("PRAGMA user_version = 99")
    with pytest.raises(
        SchemaTooNewError, match=rf"schema version 99 is newer .*\(up to {len(storage.MIGRATIONS)}\)"
    ):
        SessionLog(db_path)
    assert raw_rows(db_path, "PRAGMA user_version") == [(99,)]


# ------------------------------------------------------------------------------------------ threads


def test_concurrent_record_from_several_threads(db_path: Path, log: SessionLog):
    threads_count, per_thread = 8, 25
    ids: list[int] = []
    errors: list[BaseException] = []
    barrier = threading.Barrier(threads_count)

    def worker(worker_id: int) -> None:
        barrier.wait()
        try:
            for n in range(per_thread):
                attempts = [
                    {"vendor": "baidu", "status": "timeout", "ms": 1.0},
                    {"vendor": "tencent", "status": "ok", "ms": 2.0},
                ]
                ids.append(
                    log.record(make_row(user_id=f"w{worker_id}", message_id=str(n), attempts=attempts))
                )
        except BaseException as exc:  # surfaced by the assert below, not lost in the thread
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(threads_count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    total = threads_count * per_thread
    assert errors == []
    assert len(set(ids)) == total
    assert raw_rows(db_path, "SELECT COUNT(*) FROM sessions") == [(total,)]
    assert raw_rows(db_path, "SELECT COUNT(*) FROM vendor_calls") == [(2 * total,)]
    assert len(log.history(user_id="w3", limit=100)) == per_thread
    assert log.stats().by_status == {"ok": total}


def test_a_version_1_log_gains_delivery_status_and_keeps_its_rows(db_path: Path):
    """A log written by the first release (schema 1, no delivery columns) opens, migrates and reads."""
    db_path.parent.mkdir(parents=True, exist_ok=True)
    db = Database(db_path)
    storage.migrate(db, storage.MIGRATIONS[:1])
    v1_columns = storage._session_columns(make_row())
    del v1_columns["delivery_status"], v1_columns["delivery_code"]
    session_id = int(db["sessions"].insert(v1_columns).last_pk)
    db.close()
    with SessionLog(db_path) as v2:
        assert v2.schema_version == len(storage.MIGRATIONS)
        [row] = v2.history()
        assert row.id == session_id and row.delivery_status is None
        v2.set_delivery(session_id, "undelivered", "45015")
        [row] = v2.history()
        assert (row.delivery_status, row.delivery_code) == ("undelivered", "45015")


def test_the_wait_in_a_vendor_s_own_queue_is_counted_apart(log: SessionLog):
    """A rush showed as a slow engine: every call's time included its wait in the engine's queue."""
    for waited in (0.0, 1000.0, 2000.0, 4000.0):
        attempt = {"vendor": "local", "status": "ok", "ms": waited + 700.0, "waited_ms": waited}
        log.record(make_row(vendor="local", attempts=[attempt]))
    log.record(make_row(attempts=[{"vendor": "tencent", "status": "ok", "ms": 90.0, "waited_ms": 0.0}]))
    log.record(make_row(attempts=[{"vendor": "tencent", "status": "ok", "ms": 80.0}]))  # logged before
    idle = {"vendor": "local", "status": "ok", "ms": 650.0, "waited_ms": 0.3}  # handed to an idle engine
    log.record(make_row(kind="plate", vendor="local", attempts=[idle]))
    by_vendor = {(item.vendor, item.kind): item for item in log.stats().by_vendor_kind}
    engine, cloud = by_vendor[("local", "driving")], by_vendor[("tencent", "driving")]
    assert by_vendor[("local", "plate")].waited_p95_ms is None  # nothing to speak of waited
    assert (engine.p50_ms, engine.waited_p50_ms) == (2200.0, 1500.0)
    assert engine.waited_p95_ms == pytest.approx(np.percentile([0, 1000, 2000, 4000], 95))
    assert (cloud.count, cloud.waited_p50_ms, cloud.waited_p95_ms) == (2, None, None)  # it has no queue


def test_a_version_2_log_gains_the_queue_wait_and_keeps_its_calls(db_path: Path):
    db_path.parent.mkdir(parents=True, exist_ok=True)
    db = Database(db_path)
    storage.migrate(db, storage.MIGRATIONS[:2])
    session_id = int(db["sessions"].insert(storage._session_columns(make_row())).last_pk)
    call = {"session_id": session_id, "vendor": "local", "status": "ok", "ms": 700.0, "day": "2024-05-01"}
    db["vendor_calls"].insert(call)
    db.close()
    with SessionLog(db_path) as current:
        assert current.schema_version == len(storage.MIGRATIONS)
        [item] = current.stats().by_vendor_kind
        assert (item.vendor, item.count, item.p50_ms, item.waited_p50_ms) == ("local", 1, 700.0, None)


def test_a_version_3_log_takes_photos_that_never_got_a_kind_and_keeps_what_it_had(db_path: Path):
    db_path.parent.mkdir(parents=True, exist_ok=True)
    db = Database(db_path)
    storage.migrate(db, storage.MIGRATIONS[:3])
    session_id = int(db["sessions"].insert(storage._session_columns(make_row(user_id="u1"))).last_pk)
    call = {"session_id": session_id, "vendor": "local", "status": "ok", "ms": 700.0, "day": "2024-05-01"}
    db["vendor_calls"].insert(call)
    indexes = {index.name for index in db["sessions"].indexes}
    with pytest.raises(sqlite3.IntegrityError):  # what the new version lifts
        db["sessions"].insert(storage._session_columns(make_row(kind=None)))
    db.close()
    with SessionLog(db_path) as v4:
        assert v4.schema_version == 4
        later = T0 + timedelta(minutes=5)
        v4.record(
            make_row(created_at=later, kind=None, attempts=[], status="unanswered", error_category="expired")
        )
        unread, read = v4.history(user_id="u1")
        assert (unread.kind, unread.status, unread.error_category) == (None, "unanswered", "expired")
        assert (read.id, read.kind) == (session_id, "driving")
        [item] = v4.stats().by_vendor_kind  # the old row's vendor call still points at it
        assert (item.vendor, item.kind, item.count) == ("local", "driving", 1)
    db = Database(db_path)
    assert {index.name for index in db["sessions"].indexes} == indexes
    assert db.execute("PRAGMA foreign_key_check").fetchall() == []
    assert [key.other_table for key in db["vendor_calls"].foreign_keys] == ["sessions"]
    db.close()


def test_a_new_log_and_its_write_ahead_files_are_readable_by_their_owner_alone(tmp_path):
    log = SessionLog(tmp_path / "new.db")
    log.record(SessionRow(platform="t", kind="plate", side="front", status="ok"))
    files = [tmp_path / name for name in ("new.db", "new.db-wal", "new.db-shm")]
    assert all(file.exists() and file.stat().st_mode & 0o777 == 0o600 for file in files)
    log.close()
    existing = tmp_path / "made.db"
    existing.touch(mode=0o640)
    existing.chmod(0o640)
    SessionLog(existing).close()
    assert existing.stat().st_mode & 0o777 == 0o640  # the operator's own choice is kept
