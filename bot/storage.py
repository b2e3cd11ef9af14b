"""SQLite session log: one row per recognition, the vendor calls behind it, inbound dedupe and a small kv.

The layer is dumb on purpose. The caller (the recognize handler) decides the `store_fields` policy and
passes `fields` already masked, or None; storage never sees personal data it should not keep, so a bug
here cannot leak what policy withheld. Image bytes are kept only when the operator opted in
(`store_images`), in a table of their own so scans of the log never drag blobs through memory.

Threads: one sqlite3 connection guarded by a lock, not one connection per thread. Every call is a few
milliseconds and SQLite serializes writers anyway, so a second connection would buy nothing for writes
and would add "database is locked" retries between our own threads; one connection also makes `close()`
exact (no connection left behind in a worker thread of `asyncio.to_thread`). Other *processes* (the CLI's
`history` while `serve` runs) are handled by WAL, which lets them read while we write, and by a busy
timeout for the rare writer-writer overlap.

Times are stored as ISO-8601 UTC text with a fixed width, so string order is time order and range
queries use the index; a vendor call's `day` is its session's date in Beijing time (BILLING_ZONE).
"""

from __future__ import annotations

import dataclasses
import json
import os
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager, suppress
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from pydantic import BaseModel, ConfigDict, Field, field_validator
from pydantic_core import to_jsonable_python
from sqlite_utils import Database

from bot.models import Kind, Side

#: Attempts the chain skipped never reached the vendor, so they cost nothing and are not vendor calls.
SKIPPED = "skipped"
OK = "ok"
#: Seconds a writer waits for another process's write transaction before giving up.
BUSY_TIMEOUT_SECONDS = 10.0
#: Rows fetched per round trip by `export`, so the lock is never held while the caller consumes rows.
EXPORT_PAGE_SIZE = 500
#: The day a vendor call is counted on: every cloud vendor here bills, and resets its free calls, by
#: China Standard Time, so a call at 07:00 in Beijing belongs to that day, not to the UTC day before.
#: Rows written before this was so keep their UTC day.
BILLING_ZONE = ZoneInfo("Asia/Shanghai")
#: How often expired kv entries and old inbound claims are deleted. An entry is also dropped when its
#: own key is read after it expired, but most never are: each callback's nonce is unique, and a day's
#: quota count is not read after that day. Without this the two tables grew by every callback.
PRUNE_SECONDS = 600.0
#: How long a claimed inbound message id is kept: WeChat and WeCom retry within seconds, and a claim
#: only has to outlive the retries and a restart between them.
INBOUND_KEPT_SECONDS = 2 * 24 * 3600.0

Migration = Callable[[Database], None]


class StorageError(Exception):
    """The session log cannot be used as asked."""


class SchemaTooNewError(StorageError):
    """The database was written by a newer licence-bot; migrating down would lose data, so we refuse."""


# --------------------------------------------------------------------------------------------- models


class SessionRow(BaseModel):
    """One recognition as logged. `fields` arrive already masked (or None) per the `store_fields` policy."""

    model_config = ConfigDict(coerce_numbers_to_str=True)  # Telegram chat and message ids are integers

    id: int | None = None
    created_at: datetime = Field(default_factory=lambda: datetime.now(UTC))
    platform: str = "cli"
    chat_id: str | None = None
    chat_type: str | None = None
    user_id: str | None = None
    message_id: str | None = None
    #: None for a photo that never got its kind (see `_v4_photos_never_read`).
    kind: Kind | None
    side: Side = "front"
    #: The vendor that answered, or None when none did.
    vendor: str | None = None
    #: Every vendor tried, in order: {vendor, status, ms, code, message}.
    attempts: list[dict[str, Any]] = Field(default_factory=list)
    status: str
    error_category: str | None = None
    error_code: str | None = None
    download_ms: float | None = None
    vendor_ms: float | None = None
    total_ms: float | None = None
    image_sha256: str | None = None
    image_bytes: int | None = None
    width: int | None = None
    height: int | None = None
    fields: dict[str, Any] | None = None
    plates: list[dict[str, Any]] | None = None
    warnings: list[dict[str, Any]] = Field(default_factory=list)
    cached: bool = False
    language: str | None = None
    #: None until a channel reports it: "delivered", or "undelivered" with the platform's error code.
    delivery_status: str | None = None
    delivery_code: str | None = None
    #: Kept only when the log was opened with store_images=True; never returned by `history`.
    image: bytes | None = Field(default=None, repr=False)

    @field_validator("created_at")
    @classmethod
    def _as_utc(cls, value: datetime) -> datetime:
        """Naive times are taken as UTC so that every stored time sorts on one clock."""
        return _to_utc(value)

    @field_validator("attempts", "plates", "warnings", mode="before")
    @classmethod
    def _plain_items(cls, value: Any) -> Any:
        """Accept the chain's `Attempt` dataclasses and `Warning`/`Plate` models as they come."""
        if value is None:
            return None
        return [_plain(item) for item in value]


class VendorKindStats(BaseModel):
    """Calls to one vendor for one kind; percentiles over every call's latency, failures included,
    because a timeout is exactly the wait a user felt."""

    vendor: str
    kind: str
    count: int
    ok: int
    p50_ms: float | None
    p95_ms: float | None
    #: Of those, the wait in the vendor's own queue (the embedded engine's): None where nothing waited.
    waited_p50_ms: float | None = None
    waited_p95_ms: float | None = None


class VendorDayStats(BaseModel):
    """What one vendor was asked on one day in Beijing time: the figure a vendor's bill is checked against."""

    vendor: str
    day: date
    calls: int
    failures: int


class Stats(BaseModel):
    total: int
    by_status: dict[str, int]
    #: Share of recognitions (sessions with a kind) with status "ok"; None when there were none (0%
    #: would be a false alarm).
    success_rate: float | None
    by_vendor_kind: list[VendorKindStats]
    by_vendor_day: list[VendorDayStats]


# ----------------------------------------------------------------------------------------- migrations


def _v1_create_everything(db: Database) -> None:
    db["sessions"].create(
        {
            "id": int,
            "created_at": str,
            "platform": str,
            "chat_id": str,
            "chat_type": str,
            "user_id": str,
            "message_id": str,
            "kind": str,
            "side": str,
            "vendor": str,
            "attempts": str,
            "status": str,
            "error_category": str,
            "error_code": str,
            "download_ms": float,
            "vendor_ms": float,
            "total_ms": float,
            "image_sha256": str,
            "image_bytes": int,
            "width": int,
            "height": int,
            "fields": str,
            "plates": str,
            "warnings": str,
            "cached": int,
            "language": str,
        },
        pk="id",
        not_null={"created_at", "platform", "kind", "side", "status", "attempts", "warnings", "cached"},
    )
    db["sessions"].create_index(["created_at"])
    db["sessions"].create_index(["user_id", "created_at"])
    db["sessions"].create_index(["platform", "chat_id", "created_at"])
    db["session_images"].create(
        {"session_id": int, "image": bytes},
        pk="session_id",
        foreign_keys=[("session_id", "sessions", "id")],
        not_null={"image"},
    )
    db["vendor_calls"].create(
        {"id": int, "session_id": int, "vendor": str, "status": str, "code": str, "ms": float, "day": str},
        pk="id",
        foreign_keys=[("session_id", "sessions", "id")],
        not_null={"session_id", "vendor", "status", "day"},
    )
    db["vendor_calls"].create_index(["session_id"])
    db["vendor_calls"].create_index(["day", "vendor"])
    db["inbound_seen"].create(
        {"platform": str, "message_key": str, "first_seen": str},
        pk=("platform", "message_key"),
        not_null={"platform", "message_key", "first_seen"},
    )
    db["kv"].create({"key": str, "value": str, "expires_at": float}, pk="key", not_null={"value"})


def _v2_delivery_status(db: Database) -> None:
    """Chat platforms can refuse a finished reply (WeChat 45015: the 48 h window passed); the session
    row must show that the user never got it, not just that recognition went well."""
    db["sessions"].add_column("delivery_status", str)
    db["sessions"].add_column("delivery_code", str)


def _v3_queue_wait(db: Database) -> None:
    """The embedded engine's calls include their wait in its queue; logged apart (None before this
    version), so a rush shows as waiting rather than as a slow engine."""
    db["vendor_calls"].add_column("waited_ms", float)


def _v4_photos_never_read(db: Database) -> None:
    """A photo can end without a kind: the channel could not fetch it and said so at once, or it
    waited for its kind until it expired or the user cancelled. It is still a session, so `kind` may
    be empty. SQLite cannot drop NOT NULL in place; sqlite-utils rebuilds the table (in a savepoint of
    the migration's own transaction, indexes and the tables' foreign keys kept)."""
    db["sessions"].transform(not_null={"kind": False})


#: Ordered; entry i brings a database from version i to i + 1. Append, never edit a released entry.
MIGRATIONS: list[Migration] = [
    _v1_create_everything,
    _v2_delivery_status,
    _v3_queue_wait,
    _v4_photos_never_read,
]


def user_version(db: Database) -> int:
    return int(db.conn.execute("PRAGMA user_version").fetchone()[0])


def migrate(db: Database, migrations: Sequence[Migration] | None = None) -> int:
    """Bring `db` to the newest version `migrations` knows and return that version.

    Runs under BEGIN IMMEDIATE and re-reads the version inside it, so two processes starting at once
    cannot both apply the same step; each step and the version bump commit together or not at all.
    """
    steps = list(MIGRATIONS if migrations is None else migrations)
    target = len(steps)
    if _check_version(db, target) == target:
        return target
    with write_transaction(db):
        for version in range(_check_version(db, target), target):
            steps[version](db)
        db.execute(f"PRAGMA user_version = {target}")
    return target


@contextmanager
def write_transaction(db: Database) -> Iterator[Database]:
    """BEGIN IMMEDIATE: take the write lock up front, waiting out other processes via the busy timeout.

    A deferred BEGIN that reads first (a claim looks for its key, then inserts it) and then writes can
    fail with SQLITE_BUSY at once, without waiting, if another process wrote in between.
    """
    db.execute("BEGIN IMMEDIATE")
    try:
        yield db
    except BaseException:
        db.rollback()
        raise
    db.execute("COMMIT")


def _check_version(db: Database, target: int) -> int:
    found = user_version(db)
    if found > target:
        raise SchemaTooNewError(
            f"{_db_name(db)}: schema version {found} is newer than this licence-bot understands "
            f"(up to {target}); upgrade licence-bot or point it at another database"
        )
    return found


def _db_name(db: Database) -> str:
    row = db.conn.execute("PRAGMA database_list").fetchone()
    return row[2] if row and row[2] else "database"


# ---------------------------------------------------------------------------------------- the log


def private_file(path: Path) -> None:
    """Create `path` readable by its owner alone, unless it exists: the log holds masked personal data
    (whole with ``store_fields = "full"``) and the WeChat access token, and SQLite gives its -wal and
    -shm files the database's own mode. A file the operator made is left as they made it, and one that
    cannot be made here is left for SQLite (or the export) to report in its own words."""
    with suppress(OSError):
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))


class SessionLog:
    """The session log plus the two small stores that need to survive a restart (dedupe, kv).

    Plain synchronous methods; async callers wrap them with `asyncio.to_thread`. `clock` (epoch
    seconds) drives kv expiry and inbound first-seen times, so tests need not sleep.
    """

    def __init__(
        self,
        path: Path | str,
        *,
        store_images: bool = False,
        clock: Callable[[], float] = time.time,
        create: bool = True,
    ) -> None:
        """`create=False` is for the commands that only read the log: a mistyped `database` path
        should say so, not leave an empty log there and report that nothing was recorded."""
        self.path = Path(path)
        if not create and not self.path.exists():
            raise StorageError("no such file: no session recorded yet, or [bot] database names another file")
        self.store_images = store_images
        self._clock = clock
        self._pruned = clock() - PRUNE_SECONDS  # the first write prunes: a process may not live ten minutes
        self._lock = threading.RLock()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        private_file(self.path)
        connection = sqlite3.connect(self.path, timeout=BUSY_TIMEOUT_SECONDS, check_same_thread=False)
        try:
            self._db = Database(connection)
            self._db.enable_wal()
            # WAL with synchronous=NORMAL: a crash of the bot never loses or corrupts a committed row,
            # only a power cut can drop the last few; FULL would fsync on every session row (about
            # 0.4 ms of disk wait and system CPU per photo) for no gain a session log needs.
            self._db.execute("PRAGMA synchronous = NORMAL")
            self._db.execute("PRAGMA foreign_keys = ON")
            migrate(self._db, MIGRATIONS)
        except BaseException:
            connection.close()
            raise

    # -- lifecycle

    @property
    def schema_version(self) -> int:
        with self._lock:
            return user_version(self._db)

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def __enter__(self) -> SessionLog:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # -- sessions

    def record(self, row: SessionRow) -> int:
        """Insert the session, its billable vendor calls and (if opted in) its image, atomically."""
        session = _session_columns(row)
        calls = [] if row.cached else _vendor_calls(row)
        with self._lock, write_transaction(self._db):
            session_id = _insert(self._db, "sessions", session)
            for call in calls:
                _insert(self._db, "vendor_calls", {**call, "session_id": session_id})
            if self.store_images and row.image is not None:
                _insert(self._db, "session_images", {"session_id": session_id, "image": row.image})
        return session_id

    def set_delivery(self, session_id: int, status: str, code: str | None = None) -> None:
        """Record whether the reply reached the user (a channel learns this after the row was written)."""
        with self._lock, write_transaction(self._db):
            self._db["sessions"].update(session_id, {"delivery_status": status, "delivery_code": code})

    def history(
        self,
        *,
        user_id: str | None = None,
        platform: str | None = None,
        chat_id: str | None = None,
        limit: int = 20,
    ) -> list[SessionRow]:
        """Latest sessions first; filters combine with AND. Images are not loaded (see `load_image`)."""
        if limit < 1:
            raise ValueError("limit must be at least 1")
        where, params = [], []
        for column, value in (("user_id", user_id), ("platform", platform), ("chat_id", chat_id)):
            if value is not None:
                where.append(f"{column} = ?")
                params.append(str(value))
        sql = "SELECT * FROM sessions"
        if where:
            sql += " WHERE " + " AND ".join(where)
        sql += " ORDER BY created_at DESC, id DESC LIMIT ?"
        with self._lock:
            rows = list(self._db.query(sql, [*params, limit]))
        return [_session_row(row) for row in rows]

    def load_image(self, session_id: int) -> bytes | None:
        with self._lock:
            found = self._db.execute(
                "SELECT image FROM session_images WHERE session_id = ?", [session_id]
            ).fetchone()
        return None if found is None else bytes(found[0])

    def export(self, *, since: datetime | None = None, until: datetime | None = None) -> Iterator[dict]:
        """Sessions oldest first in [since, until), as flat dicts: every value a str, number, bool or None,
        so `csv.DictWriter` and `json.dumps` take them as they are (JSON columns stay JSON text).

        Reads in pages and releases the lock between them, so a slow consumer never blocks recording.
        """
        where, params = _time_range(since, until)
        last_id = 0
        while True:
            sql = (
                "SELECT * FROM sessions WHERE id > ?"
                + "".join(f" AND {clause}" for clause in where)
                + " ORDER BY id LIMIT ?"
            )
            with self._lock:
                page = list(self._db.query(sql, [last_id, *params, EXPORT_PAGE_SIZE]))
            for row in page:
                yield _flat_export(row)
            if len(page) < EXPORT_PAGE_SIZE:
                return
            last_id = page[-1]["id"]

    def export_columns(self) -> list[str]:
        """The columns every `export` row has, in table order: a header even when there is no row."""
        with self._lock:
            columns = [column.name for column in self._db["sessions"].columns]
        return [*columns, VENDORS_TRIED]

    def stats(self, *, since: datetime | None = None) -> Stats:
        """Counts and latency percentiles. Percentiles are computed in Python from the raw ms values:
        SQLite has no percentile function, and emulating one in SQL (window functions per group) is
        harder to read than sorting a few thousand floats."""
        where, params = _time_range(since, None, column="s.created_at")
        session_filter = (" WHERE " + " AND ".join(where)) if where else ""
        with self._lock:
            counts = list(
                self._db.query(
                    f"SELECT status, kind IS NULL AS unread, COUNT(*) AS n FROM sessions s{session_filter} "
                    "GROUP BY status, unread ORDER BY n DESC, status",
                    params,
                )
            )
            calls = list(
                self._db.query(
                    "SELECT c.vendor, s.kind, c.status, c.ms, c.waited_ms, c.day FROM vendor_calls c "
                    f"JOIN sessions s ON s.id = c.session_id{session_filter}",
                    params,
                )
            )
        by_status: dict[str, int] = {}
        for count in counts:
            by_status[count["status"]] = by_status.get(count["status"], 0) + count["n"]
        # Of the recognitions: a photo that never got its kind asked for none, and would read as a
        # failed one.
        asked = sum(count["n"] for count in counts if not count["unread"])
        return Stats(
            total=sum(by_status.values()),
            by_status=by_status,
            success_rate=(by_status.get(OK, 0) / asked) if asked else None,
            by_vendor_kind=_per_vendor_kind(calls),
            by_vendor_day=_per_vendor_day(calls),
        )

    # -- inbound dedupe

    def claim_inbound(self, platform: str, key: str) -> bool:
        """True only for the first claim of (platform, key), across threads, processes and restarts.

        A single INSERT OR IGNORE is atomic in SQLite, so there is no read-then-write race to lose.
        """
        first_seen = _iso(datetime.fromtimestamp(self._clock(), UTC))
        with self._lock:
            self._prune_if_due()
            cursor = self._db.execute(
                "INSERT OR IGNORE INTO inbound_seen (platform, message_key, first_seen) VALUES (?, ?, ?)",
                [platform, key, first_seen],
            )
        return cursor.rowcount == 1

    # -- key/value with expiry

    def kv_get(self, key: str) -> str | None:
        """The value, or None when absent or expired (an expired entry is deleted on the way)."""
        now = self._clock()
        with self._lock:
            found = self._db.execute("SELECT value, expires_at FROM kv WHERE key = ?", [key]).fetchone()
            if found is None:
                return None
            value, expires_at = found
            if expires_at is not None and expires_at <= now:
                self._db.execute("DELETE FROM kv WHERE key = ? AND expires_at <= ?", [key, now])
                return None
            return str(value)

    def kv_set(self, key: str, value: str, ttl_seconds: float | None = None) -> None:
        """Store `value`; it expires `ttl_seconds` from now, or never when None."""
        if ttl_seconds is not None and ttl_seconds <= 0:
            raise ValueError("ttl_seconds must be positive (or None for no expiry)")
        expires_at = None if ttl_seconds is None else self._clock() + ttl_seconds
        with self._lock:
            self._prune_if_due()
            self._db.execute(
                "INSERT INTO kv (key, value, expires_at) VALUES (?, ?, ?) "
                "ON CONFLICT(key) DO UPDATE SET value = excluded.value, expires_at = excluded.expires_at",
                [key, value, expires_at],
            )

    def kv_take(self, key: str, limit: int, ttl_seconds: float) -> bool:
        """Count one more under `key` unless it holds `limit` already; True when counted. One statement,
        so two processes cannot both read the count below the limit and both take the last one. A count
        past its expiry starts again at 1, with a fresh expiry."""
        if limit < 1:
            raise ValueError("limit must be at least 1")
        now = self._clock()
        with self._lock:
            self._prune_if_due()
            cursor = self._db.execute(
                "INSERT INTO kv (key, value, expires_at) VALUES (?, '1', ?) "
                "ON CONFLICT(key) DO UPDATE SET "
                "value = CASE WHEN kv.expires_at <= ? THEN 1 ELSE CAST(kv.value AS INTEGER) + 1 END, "
                "expires_at = CASE WHEN kv.expires_at <= ? THEN excluded.expires_at ELSE kv.expires_at END "
                "WHERE kv.expires_at <= ? OR CAST(kv.value AS INTEGER) < ?",
                [key, now + ttl_seconds, now, now, now, limit],
            )
        return cursor.rowcount == 1

    def kv_delete(self, key: str) -> None:
        with self._lock:
            self._db.execute("DELETE FROM kv WHERE key = ?", [key])

    def _prune_if_due(self) -> None:
        """Delete expired kv entries and claims older than INBOUND_KEPT_SECONDS, every PRUNE_SECONDS."""
        now = self._clock()
        if now - self._pruned < PRUNE_SECONDS:
            return
        self._pruned = now
        oldest_claim = _iso(datetime.fromtimestamp(now - INBOUND_KEPT_SECONDS, UTC))
        self._db.execute("DELETE FROM kv WHERE expires_at <= ?", [now])
        self._db.execute("DELETE FROM inbound_seen WHERE first_seen < ?", [oldest_claim])


# ------------------------------------------------------------------------------------------ helpers

_JSON_COLUMNS = ("attempts", "fields", "plates", "warnings")


def _to_utc(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _iso(value: datetime) -> str:
    """Fixed-width UTC text (always with microseconds), so that text order equals time order."""
    return _to_utc(value).isoformat(timespec="microseconds")


def _plain(item: Any) -> Any:
    if isinstance(item, BaseModel):
        return item.model_dump(mode="json")
    if dataclasses.is_dataclass(item) and not isinstance(item, type):
        return dataclasses.asdict(item)
    return item


def _to_json(value: Any) -> str | None:
    if value is None:
        return None
    return json.dumps(to_jsonable_python(value), ensure_ascii=False, separators=(",", ":"))


def _insert(db: Database, table: str, values: dict[str, Any]) -> int:
    """One plain INSERT; returns the rowid.

    `Table.insert` from sqlite-utils reads sqlite_master three times and wraps the row in a savepoint
    on every call (10 statements per recorded photo instead of 4, ~0.3 ms of CPU); the rows here are
    already flat, with columns this module's migrations created, so none of that is needed.
    """
    columns = ", ".join(f'"{name}"' for name in values)
    marks = ", ".join("?" * len(values))
    cursor = db.conn.execute(f'INSERT INTO "{table}" ({columns}) VALUES ({marks})', list(values.values()))
    return int(cursor.lastrowid or 0)


def _session_columns(row: SessionRow) -> dict[str, Any]:
    columns = row.model_dump(exclude={"id", "image"})
    columns["created_at"] = _iso(row.created_at)
    columns["cached"] = int(row.cached)
    for name in _JSON_COLUMNS:
        columns[name] = _to_json(columns[name])
    return columns


def _vendor_calls(row: SessionRow) -> list[dict[str, Any]]:
    day = _to_utc(row.created_at).astimezone(BILLING_ZONE).date().isoformat()
    return [
        {
            "vendor": str(attempt.get("vendor")),
            "status": str(attempt.get("status")),
            "code": None if attempt.get("code") is None else str(attempt["code"]),
            "ms": attempt.get("ms"),
            "waited_ms": attempt.get("waited_ms"),
            "day": day,
        }
        for attempt in row.attempts
        if attempt.get("status") != SKIPPED and attempt.get("sent", True)
    ]


def _session_row(row: dict[str, Any]) -> SessionRow:
    data = dict(row)
    for name in _JSON_COLUMNS:
        data[name] = None if data[name] is None else json.loads(data[name])
    data["created_at"] = datetime.fromisoformat(data["created_at"])
    data["cached"] = bool(data["cached"])
    return SessionRow.model_validate(data)


#: The column `export` adds to the table's own: the vendors each session tried, in order.
VENDORS_TRIED = "vendors_tried"


def _flat_export(row: dict[str, Any]) -> dict[str, Any]:
    flat = dict(row)
    flat["cached"] = bool(flat["cached"])
    attempts = json.loads(flat["attempts"])
    flat[VENDORS_TRIED] = ",".join(str(attempt.get("vendor")) for attempt in attempts)
    return flat


def _time_range(
    since: datetime | None, until: datetime | None, column: str = "created_at"
) -> tuple[list[str], list[str]]:
    where, params = [], []
    if since is not None:
        where.append(f"{column} >= ?")
        params.append(_iso(since))
    if until is not None:
        where.append(f"{column} < ?")
        params.append(_iso(until))
    return where, params


def percentile(values: Sequence[float], fraction: float) -> float | None:
    """Linear interpolation between closest ranks (numpy's default, Excel's PERCENTILE.INC).

    Chosen because it is defined for a single value and is what people compare our numbers with.
    """
    if not values:
        return None
    ordered = sorted(values)
    position = (len(ordered) - 1) * fraction
    lower = int(position)
    upper = min(lower + 1, len(ordered) - 1)
    return ordered[lower] + (ordered[upper] - ordered[lower]) * (position - lower)


#: A call that waited less than this in its vendor's queue did not wait (handing a photo to the engine's
#: idle worker takes a fraction of it).
QUEUED_MS = 1.0


def _per_vendor_kind(calls: list[dict[str, Any]]) -> list[VendorKindStats]:
    groups: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for call in calls:
        groups.setdefault((call["vendor"], call["kind"]), []).append(call)
    result = []
    for (vendor, kind), group in sorted(groups.items()):
        latencies = [call["ms"] for call in group if call["ms"] is not None]
        waits = [call["waited_ms"] for call in group if call["waited_ms"] is not None]
        # A vendor with no queue of its own logs 0 for every call; the engine, idle, a fraction of a ms.
        waited = any(wait >= QUEUED_MS for wait in waits)
        result.append(
            VendorKindStats(
                vendor=vendor,
                kind=kind,
                count=len(group),
                ok=sum(call["status"] == OK for call in group),
                p50_ms=percentile(latencies, 0.50),
                p95_ms=percentile(latencies, 0.95),
                waited_p50_ms=percentile(waits, 0.50) if waited else None,
                waited_p95_ms=percentile(waits, 0.95) if waited else None,
            )
        )
    return result


def _per_vendor_day(calls: list[dict[str, Any]]) -> list[VendorDayStats]:
    counts: dict[tuple[str, str], list[int]] = {}
    for call in calls:
        tally = counts.setdefault((call["day"], call["vendor"]), [0, 0])
        tally[0] += 1
        tally[1] += call["status"] != OK
    return [
        VendorDayStats(vendor=vendor, day=date.fromisoformat(day), calls=calls_, failures=failures)
        for (day, vendor), (calls_, failures) in sorted(counts.items())
    ]
