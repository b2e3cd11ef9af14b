"""One recognition, end to end: bytes -> intake -> vendor chain -> checks -> Outcome -> session row.

Chat channels and the CLI both come through `Recognizer.recognize`, so `licence-bot recognize photo.jpg`
shows exactly what a chat would see, and every path — including every failure — writes one session row.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from bot import images, metrics
from bot.config import Config
from bot.models import KINDS, Kind, Recognition, Side, Warning
from bot.storage import SessionLog, SessionRow
from bot.vendors.base import READ_FOR, UNSUPPORTED, ChainResult, ErrorCategory, VendorChain, build_vendor
from handlers.checks import run_checks
from handlers.masking import mask_document
from handlers.outcome import Outcome, Status
from handlers.replies import sorted_warnings

log = logging.getLogger(__name__)

#: Downloads the photo. May raise `bot.images.ImageRejected` when the platform already tells us the
#: file is unusable (too large to download), or any exception when the download fails.
Fetch = Callable[[], Awaitable[bytes]]
#: Photos decoded at once. A decode is CPU-bound (two cores) and a large PNG needs hundreds of
#: megabytes while it lasts, so more at once only adds memory; the rest wait their turn.
CONCURRENT_DECODES = 2
#: A warning's params that name what it is about (a field, a plate's place in the photo, a character's
#: position), not a value read from the card: all a warning keeps with `store_fields = "none"`.
_VALUE_FREE_PARAMS = ("field", "first", "second", "index", "position")


@dataclass
class Context:
    """Who asked, from where: what a session row records besides the result."""

    platform: str = "cli"
    chat_id: str | None = None
    chat_type: str = "private"
    user_id: str | None = None
    message_id: str | None = None
    language: str = "zh"


@dataclass
class Request:
    """One photo to read. `fetch` downloads lazily, so the download time is measured and logged."""

    kind: Kind
    side: Side = "front"
    data: bytes | None = None
    fetch: Fetch | None = None
    context: Context = field(default_factory=Context)


class ResultCache:
    """Same image + kind + side within `ttl` seconds: reuse the earlier answer instead of paying twice.

    In memory on purpose: the cached recognition holds unmasked personal data, which must not reach disk
    just to save a vendor call; a restart simply forgets it.
    """

    def __init__(
        self, ttl: float, clock: Callable[[], float] = time.monotonic, max_entries: int = 512
    ) -> None:
        self.ttl = ttl
        self._clock = clock
        self._max = max_entries
        self._entries: dict[tuple[str, str, str], tuple[float, Recognition]] = {}

    def get(self, sha256: str, kind: str, side: str) -> Recognition | None:
        if self.ttl <= 0:
            return None
        key = (sha256, kind, side)
        entry = self._entries.get(key)
        if entry is None:
            return None
        stored_at, recognition = entry
        if self._clock() - stored_at > self.ttl:
            del self._entries[key]
            return None
        return recognition

    def put(self, sha256: str, kind: str, side: str, recognition: Recognition) -> None:
        if self.ttl <= 0:
            return
        now = self._clock()
        self._entries = {k: v for k, v in self._entries.items() if now - v[0] <= self.ttl}
        if len(self._entries) >= self._max:
            self._entries.pop(next(iter(self._entries)))
        self._entries[(sha256, kind, side)] = (now, recognition)


class Recognizer:
    """Owns the vendor chains, the cache and the session log for one running bot (or CLI call)."""

    def __init__(
        self,
        config: Config,
        session_log: SessionLog,
        chains: dict[str, VendorChain] | None = None,
        *,
        today: Callable[[], date] | None = None,
        cache: ResultCache | None = None,
    ) -> None:
        self.config = config
        self.session_log = session_log
        self.chains = chains if chains is not None else build_chains(config)
        self._decoding = asyncio.Semaphore(CONCURRENT_DECODES)
        zone = ZoneInfo(config.bot.timezone)
        self._today = today or (lambda: datetime.now(zone).date())
        self.cache = cache if cache is not None else ResultCache(config.bot.cache_seconds)
        #: Reads under way, by photo and page: the same photo sent again while its first read is still
        #: queued (a resend because the answer is slow, a photo forwarded by several people in a rush)
        #: waits for that read rather than queueing a second one. None when the read failed.
        self._reading: dict[tuple[str, str, str], asyncio.Future[Recognition | None]] = {}

    async def recognize(self, request: Request) -> Outcome:
        """Never raises for anything a user or vendor can cause: every failure becomes an Outcome."""
        started = time.perf_counter()
        row = _new_row(request, Status.OK)
        try:
            outcome, image = await self._run(request, row)
        except asyncio.CancelledError:
            # Shutdown ran out of grace and cut this recognition off. Its row is written here, on the
            # loop and before the cancellation goes on, so whose photo was dropped is on record.
            row.total_ms = (time.perf_counter() - started) * 1000
            cut = Outcome(status=Status.INTERRUPTED, kind=request.kind, side=request.side)
            self._record(row, cut, None)
            log.warning("recognition cut off by shutdown: session %s", cut.session_id)
            raise
        row.total_ms = (time.perf_counter() - started) * 1000
        await asyncio.to_thread(self._record, row, outcome, image)
        return outcome

    async def reject(self, request: Request, reason: str) -> Outcome:
        """Refuse a request before any work (rate limit, quota, access) and still log it as a session."""
        outcome = Outcome(status=Status.REJECTED, kind=request.kind, side=request.side, reject_reason=reason)
        row = _new_row(request, Status.REJECTED)
        await asyncio.to_thread(self._record, row, outcome, None)
        return outcome

    async def log_unread(self, context: Context, status: Status, reason: str, received_at: datetime) -> None:
        """Log a photo that ended before it had a kind (the channel could not fetch it, or nobody said
        which document it is): no recognition, but still a session, so nothing a user sent goes
        unrecorded. Its `kind` stays empty, and it is dated when it came. Not counted in the
        recognition metrics: no recognition was asked for."""
        row = _row_for(context, created_at=received_at, kind=None, status=status, error_category=reason)
        try:
            await asyncio.to_thread(self.session_log.record, row)
        except Exception:
            log.exception("could not write the session row (no kind, status=%s)", status)

    async def _run(self, request: Request, row: SessionRow) -> tuple[Outcome, images.IntakeImage | None]:
        kind, side = request.kind, request.side
        data = request.data
        if data is None and request.fetch is not None:
            fetch_started = time.perf_counter()
            try:
                data = await request.fetch()
            except images.ImageRejected as rejected:  # e.g. a platform's size limit, known before download
                reason = rejected.reason
                return Outcome(status=Status.BAD_IMAGE, kind=kind, side=side, reject_reason=reason), None
            except Exception as exc:  # the platform's file server failed: the user must send it again
                log.warning("could not download the photo: %s", type(exc).__name__)
                failed = Outcome(status=Status.VENDOR_ERROR, kind=kind, side=side, error_category="download")
                return failed, None
            finally:
                row.download_ms = (time.perf_counter() - fetch_started) * 1000
        try:
            min_side = images.MIN_SHORT_SIDE_PLATE if kind == "plate" else images.MIN_SHORT_SIDE
            decode_side = self.chains[kind].intake_side(kind, side)
            async with self._decoding:
                image = await asyncio.to_thread(
                    images.load, data or b"", min_side=min_side, decode_side=decode_side
                )
        except images.ImageRejected as rejected:
            row.image_bytes = len(data or b"")
            return Outcome(status=Status.BAD_IMAGE, kind=kind, side=side, reject_reason=rejected.reason), None

        # On the row now, not only when it is recorded: a recognition a stop cuts off is recorded
        # without its image, and the photo it dropped should still be known by its hash and size.
        row.image_sha256, row.image_bytes = image.sha256, len(image.data)
        row.width, row.height = image.width, image.height
        cached = self.cache.get(image.sha256, kind, side)
        key = (image.sha256, kind, side)
        if cached is None and self.cache.ttl > 0 and key in self._reading:
            # shield: this request being cut off must not cancel the read the first one waits for
            cached = await asyncio.shield(self._reading[key])
        if cached is not None:
            return self._checked(cached, cached=True), image

        reading: asyncio.Future[Recognition | None] = asyncio.get_running_loop().create_future()
        if self.cache.ttl > 0:
            self._reading.setdefault(key, reading)
        # Whose photo this is: the embedded engine's queue takes turns between people by it.
        token = READ_FOR.set(_reader(request.context))
        try:
            result = await self.chains[kind].recognize(kind, side, image)
            reading.set_result(result.recognition)
        finally:
            READ_FOR.reset(token)
            if self._reading.get(key) is reading:
                del self._reading[key]
            if not reading.done():  # cut off: whoever waits on it reads the photo itself
                reading.set_result(None)
        row.attempts = [vars(attempt) for attempt in result.attempts]
        row.vendor_ms = result.vendor_ms
        if result.recognition is None:
            return _failure(kind, side, result), image
        self.cache.put(image.sha256, kind, side, result.recognition)
        return self._checked(result.recognition), image

    def _checked(self, recognition: Recognition, cached: bool = False) -> Outcome:
        checked = run_checks(
            recognition,
            today=self._today(),
            expiry_warning_days=self.config.bot.expiry_warning_days,
            probation_months=self.config.bot.probation_months,
        )
        warnings = sorted_warnings(checked.warnings)
        return Outcome(
            status=Status.OK,
            kind=checked.kind,
            side=checked.side,
            recognition=checked,
            warnings=warnings,
            cached=cached,
        )

    def _record(self, row: SessionRow, outcome: Outcome, image: images.IntakeImage | None) -> None:
        row.status = outcome.status
        row.error_category = outcome.error_category or outcome.reject_reason
        row.error_code = outcome.error_code
        row.cached = outcome.cached
        row.warnings = self._stored_warnings(outcome.warnings)
        if image is not None and self.config.bot.store_images:  # its hash and size are on the row already
            row.image = image.data
        recognition = outcome.recognition
        if recognition is not None:
            row.vendor = recognition.vendor
            row.fields, row.plates = self._stored_fields(recognition)
        metrics.record_recognition(row.kind, row.vendor, str(row.status), row.total_ms, row.vendor_ms)
        try:
            outcome.session_id = self.session_log.record(row)
        except Exception:  # the user still gets the reply; the operator sees why the row is missing
            log.exception("could not write the session row (kind=%s status=%s)", row.kind, row.status)

    def _stored_warnings(self, warnings: list[Warning]) -> list[dict[str, Any]]:
        """With `store_fields = "none"` a warning keeps what it was about, not its message or the values
        some quote (a masked ID number, a plate, a VIN, a date): the log then holds nothing of the card."""
        if self.config.bot.store_fields != "none":
            return [warning.model_dump(mode="json") for warning in warnings]
        return [
            {
                "code": warning.code,
                "severity": str(warning.severity),
                "params": {key: warning.params[key] for key in _VALUE_FREE_PARAMS if key in warning.params},
            }
            for warning in warnings
        ]

    def _stored_fields(self, recognition: Recognition) -> tuple[dict[str, Any] | None, list[Any] | None]:
        policy = self.config.bot.store_fields
        if policy == "none":
            return None, None
        plates = [plate.model_dump(mode="json") for plate in recognition.plates] or None
        if recognition.document is None:
            return None, plates
        if policy == "full":
            return recognition.document.values(), plates
        return mask_document(recognition.document), plates

    async def aclose(self) -> None:
        """Close each vendor once, however many chains share it."""
        vendors = {id(v): v for chain in self.chains.values() for v in chain.vendors}
        for vendor in vendors.values():
            await vendor.aclose()


def _reader(context: Context) -> str | None:
    """Who a photo is read for, the same person whichever chat they send it in; None if unknown."""
    return f"{context.platform}:{context.user_id}" if context.user_id else None


def _new_row(request: Request, status: Status) -> SessionRow:
    return _row_for(request.context, kind=request.kind, side=request.side, status=status)


def _row_for(context: Context, **fields: Any) -> SessionRow:
    """A session row saying who asked and from where (`context`), with `fields` for the rest."""
    return SessionRow(
        platform=context.platform,
        chat_id=context.chat_id,
        chat_type=context.chat_type,
        user_id=context.user_id,
        message_id=context.message_id,
        language=context.language,
        **fields,
    )


#: Refusals a vendor (or `fit` on its behalf) makes that mean the same as intake's, whichever vendor it was.
_REASONS_FROM_VENDORS = frozenset({"too_thin"})


def _failure(kind: Kind, side: Side, result: ChainResult) -> Outcome:
    error = result.error
    assert error is not None, "a chain without a recognition always carries its error"
    status = {
        ErrorCategory.NOT_FOUND: Status.NOT_FOUND,
        ErrorCategory.BAD_IMAGE: Status.BAD_IMAGE,
    }.get(error.category, Status.VENDOR_ERROR)
    if error.code == UNSUPPORTED:
        status = Status.VENDOR_ERROR  # no vendor configured reads this page: not the photo's fault
    # A strip a vendor would have to bring down to a few pixels high is refused as one, and the user hears
    # that, as when intake refuses a photo. Only this reason: a vendor's own size limits (100 px where
    # intake's plate minimum is 15, 4 MB where intake takes 20) would make intake's texts untrue.
    intake_reason = error.category == ErrorCategory.BAD_IMAGE and error.code in _REASONS_FROM_VENDORS
    return Outcome(
        status=status,
        kind=kind,
        side=side,
        error_category=str(error.category),
        error_code=error.code,
        error_message=error.message,
        reject_reason=error.code if intake_reason else None,
    )


def build_chains(config: Config) -> dict[str, VendorChain]:
    """One vendor instance per name, shared by every chain that lists it (one model, one pool)."""
    instances = {}
    chains = {}
    for kind in KINDS:
        names = config.vendors.chain(kind)
        for name in names:
            if name not in instances:
                instances[name] = build_vendor(name, config.vendors.table(name))
        chains[kind] = VendorChain(instances[name] for name in names)
    return chains
