"""The one interface every OCR vendor sits behind, its error taxonomy, the registry and the chain.

A vendor adapter only translates: our image in, its answer out as a `Recognition`, its failures as a
`VendorError` of one of six categories. Everything above (checks, replies, log) never sees a vendor's
dialect, and the chain can fall through to the next vendor without knowing which one failed how.
"""

from __future__ import annotations

import asyncio
import logging
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable
from contextvars import ContextVar
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Annotated, Any, ClassVar, TypeVar

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, SecretStr

from bot.images import (
    VERIFY_DECODE_SIDE,
    ImageLimits,
    ImageRejected,
    IntakeImage,
    PreparedImage,
    fit,
    passes_through,
)
from bot.models import SIDES, Kind, Recognition, Side

log = logging.getLogger(__name__)

T = TypeVar("T")


#: Whom the photo being recognized is read for (a platform and a user id), set by whoever asks for the
#: read: a vendor that queues photos takes turns between people by it (the embedded engine's queue,
#: bot/vendors/local/engine_queue.py). None where nobody in particular asked (the CLI, a benchmark).
READ_FOR: ContextVar[str | None] = ContextVar("read_for", default=None)


@dataclass
class QueueWait:
    """How long one attempt's photo waited in the vendor's own queue before the vendor began on it.

    The embedded engine reads one photo at a time, so in a rush most of a photo's time there is waiting;
    logged apart, it tells an operator that the engine was busy rather than slow.
    """

    seconds: float = 0.0


#: The attempt under way's queue wait: the chain sets a fresh one for each vendor it tries, and a vendor
#: that queues photos records into it (the vendor's call is awaited in the chain's own task).
QUEUE_WAIT: ContextVar[QueueWait | None] = ContextVar("queue_wait", default=None)


class ErrorCategory(StrEnum):
    AUTH = "auth"
    QUOTA_OR_RATE = "quota_or_rate"
    BAD_IMAGE = "bad_image"
    NOT_FOUND = "not_found"
    TIMEOUT = "timeout"
    SERVER = "server"


#: The error code of a request for a page the vendor (or, from the chain, every vendor) does not read.
UNSUPPORTED = "unsupported"
#: The error code of a vendor that refused a request at once because too much work is queued before it
#: (the embedded engine in a rush): category QUOTA_OR_RATE, so the chain moves on to the next vendor.
BUSY = "busy"


def shows_page(kind: Kind, side: Side) -> str:
    """The error code of a photo that shows another licence page than the one asked for (the 副页 sent
    for the main page, a vehicle licence after /driving): category NOT_FOUND, and the code names the
    page shown (`shows_vehicle_back`), so the user is told which it is and how to ask for it, not to
    retake it."""
    return f"shows_{kind}_{side}"


_LICENCES: tuple[Kind, ...] = ("driving", "vehicle")
_SHOWN_PAGES = {shows_page(kind, side): (kind, side) for kind in _LICENCES for side in SIDES}


def page_shown(code: str | None) -> tuple[Kind, Side] | None:
    """The page a `shows_page` code names; None for any other code."""
    return _SHOWN_PAGES.get(code or "")


#: Failures that say nothing about the photo, so another vendor may well succeed.
FALL_THROUGH = frozenset({ErrorCategory.TIMEOUT, ErrorCategory.SERVER, ErrorCategory.QUOTA_OR_RATE})


async def off_loop_if_heavy(image: IntakeImage, limits: ImageLimits, work: Callable[[], T]) -> T:
    """Run `work` (fit + encode for upload) in a worker thread only when the photo must be re-encoded.

    Re-encoding a 12 MP photo takes tens of milliseconds and would stall every other chat, so it goes
    to a thread. A photo that already fits passes through and its base64 costs a fraction of a
    millisecond: done inline, it is cheaper than the thread handoff, and a burst of a hundred such
    calls no longer queues behind the pool's six threads fighting the event loop for the GIL.
    """
    if passes_through(image, limits):
        return work()
    return await asyncio.to_thread(work)


class VendorError(Exception):
    """A vendor failure in our taxonomy, keeping the vendor's own code and message for the log."""

    def __init__(
        self,
        vendor: str,
        category: ErrorCategory,
        code: str | None = None,
        message: str = "",
        retry_after: float | None = None,
        *,
        unsent: bool = False,
    ) -> None:
        super().__init__(f"{vendor}: {category} {code or ''} {message}".strip())
        self.vendor = vendor
        self.category = category
        self.code = code
        self.message = message
        self.retry_after = retry_after
        #: Raised before anything was sent (the photo cannot be fitted to this vendor's own limits, which
        #: says nothing about the next vendor's; the engine's queue is too long): the chain moves on,
        #: and the attempt is no call for `stats` to count or a vendor to bill.
        self.unsent = unsent


def _stripped(value: SecretStr) -> SecretStr:
    return SecretStr(value.get_secret_value().strip())


#: A vendor's key or secret. Whitespace pasted around one is the classic cause of every signature
#: failing, so it is stripped. Empty is allowed in the table itself (an unused table, or keys given by
#: the environment); `missing_credentials` says what a chain that names the vendor still lacks.
Secret = Annotated[SecretStr, AfterValidator(_stripped)]


class VendorSettings(BaseModel):
    """Settings every vendor table takes; adapters subclass it to add credentials."""

    model_config = ConfigDict(extra="forbid")

    endpoint: str | None = None
    #: Seconds per call; 0 or less would fail every call as a timeout.
    timeout: float = Field(default=10.0, gt=0)
    max_concurrency: int = Field(default=8, ge=1)

    def missing_credentials(self) -> str | None:
        """What the vendor still needs before it can be called ("secret_id/secret_key"), or None.

        Asked by `bot.config.check_vendor_credentials` for the commands that call vendors (serve,
        recognize, check-config), which refuse a chain whose vendor would fail every call: an auth
        failure does not fall through to the next vendor, so users would get nothing but "service
        unavailable"."""
        return None


class Vendor(ABC):
    """One OCR service. Subclasses declare what they read and what images they accept."""

    name: ClassVar[str]
    supports: ClassVar[frozenset[tuple[Kind, Side]]]
    limits: ClassVar[ImageLimits]
    settings_model: ClassVar[type[VendorSettings]] = VendorSettings

    def __init__(self, settings: VendorSettings | None = None) -> None:
        self.settings = settings or self.settings_model()

    def check_credentials(self) -> None:
        """An auth `VendorError`, before anything is sent, when the settings lack what a call needs
        (`VendorSettings.missing_credentials`)."""
        missing = self.settings.missing_credentials()
        if missing is not None:
            raise VendorError(self.name, ErrorCategory.AUTH, "MissingCredentials", f"no {missing}")

    def supports_request(self, kind: Kind, side: Side) -> bool:
        return (kind, side) in self.supports

    @property
    def intake_side(self) -> int | None:
        """The long side intake should decode a photo for this vendor at (`images.load`'s decode_side).

        A cloud vendor uploads the original bytes (or re-encodes them on demand, decoding what it
        needs then), so intake only has to prove the file decodes; an engine that reads the pixels
        itself overrides this with the size it works at, so the photo is decoded once.
        """
        return VERIFY_DECODE_SIDE

    def prepare(self, image: IntakeImage, limits: ImageLimits | None = None) -> PreparedImage:
        """Downscale and re-encode only as far as this vendor's limits (or the call's `limits`) demand.

        A photo that cannot be made to fit (too small for this vendor, say) is this vendor's bad_image,
        not a crash: another vendor with other limits may still take it.
        """
        try:
            return fit(image, limits or self.limits)
        except ImageRejected as rejected:
            category = ErrorCategory.BAD_IMAGE
            raise VendorError(
                self.name, category, code=rejected.reason, message=str(rejected), unsent=True
            ) from None

    async def prepare_off_loop(self, image: IntakeImage, limits: ImageLimits | None = None) -> PreparedImage:
        """`prepare`, in a worker thread only when the photo must be re-encoded (`off_loop_if_heavy`)."""
        limits = limits or self.limits
        return await off_loop_if_heavy(image, limits, lambda: self.prepare(image, limits))

    @abstractmethod
    async def recognize(self, kind: Kind, side: Side, image: IntakeImage) -> Recognition:
        """Read one image. Raise `VendorError`; an answer without the key fields is NOT_FOUND."""

    async def aclose(self) -> None:  # noqa: B027 - optional hook, most vendors hold nothing
        """Release pooled connections or models."""


V = TypeVar("V", bound=type[Vendor])
_REGISTRY: dict[str, type[Vendor]] = {}


def register(cls: V) -> V:
    """Class decorator: make a vendor available by its `name` in config chains."""
    _REGISTRY[cls.name] = cls
    return cls


def vendor_class(name: str) -> type[Vendor]:
    _load_builtin_vendors()
    try:
        return _REGISTRY[name]
    except KeyError:
        raise KeyError(f"unknown vendor {name!r}; known: {', '.join(sorted(_REGISTRY))}") from None


def known_vendors() -> list[str]:
    _load_builtin_vendors()
    return sorted(_REGISTRY)


def _load_builtin_vendors() -> None:
    """Import the adapters so their @register runs; imported lazily to keep start-up light."""
    import bot.vendors.baidu
    import bot.vendors.huawei
    import bot.vendors.local
    import bot.vendors.megvii
    import bot.vendors.tencent
    import bot.vendors.tencent_legacy  # noqa: F401


@dataclass
class Attempt:
    """One vendor tried for one image, as logged in the session row."""

    vendor: str
    status: str  # ok | skipped | one of ErrorCategory
    ms: float = 0.0
    code: str | None = None
    message: str = ""
    #: False when the vendor refused the photo before any request left (too large for its limits, the
    #: engine's queue too long): logged with the session, but no call to count or bill.
    sent: bool = True
    #: Of `ms`, how long the photo waited in the vendor's own queue before it was read (see QueueWait).
    waited_ms: float = 0.0


@dataclass
class ChainResult:
    recognition: Recognition | None
    attempts: list[Attempt] = field(default_factory=list)
    error: VendorError | None = None

    @property
    def vendor_ms(self) -> float:
        return sum(a.ms for a in self.attempts)


class VendorChain:
    """Vendors tried in order for one kind; falls through only on failures that aren't the photo's fault."""

    def __init__(self, vendors: Iterable[Vendor], clock: Callable[[], float] = time.perf_counter) -> None:
        self.vendors = list(vendors)
        self._clock = clock

    def intake_side(self, kind: Kind, side: Side) -> int | None:
        """How far to decode at intake: as far as the first vendor that will read this request needs."""
        for vendor in self.vendors:
            if vendor.supports_request(kind, side):
                return vendor.intake_side
        return VERIFY_DECODE_SIDE

    async def recognize(self, kind: Kind, side: Side, image: IntakeImage) -> ChainResult:
        attempts: list[Attempt] = []
        last_error: VendorError | None = None
        for vendor in self.vendors:
            if not vendor.supports_request(kind, side):
                attempts.append(Attempt(vendor.name, "skipped", message=f"does not read {kind}/{side}"))
                continue
            started = self._clock()
            wait = QueueWait()
            token = QUEUE_WAIT.set(wait)
            try:
                recognition = await _call(vendor, kind, side, image)
            except VendorError as error:
                attempts.append(_failed(vendor.name, error, self._clock() - started, wait))
                last_error = error
                if error.category in FALL_THROUGH or error.unsent:
                    continue
                return ChainResult(None, attempts, error)
            finally:
                QUEUE_WAIT.reset(token)
            elapsed = self._clock() - started
            if recognition.is_empty():
                error = VendorError(vendor.name, ErrorCategory.NOT_FOUND, message="no card or plate found")
                attempts.append(_failed(vendor.name, error, elapsed, wait))
                return ChainResult(None, attempts, error)
            attempts.append(Attempt(vendor.name, "ok", ms=elapsed * 1000, waited_ms=wait.seconds * 1000))
            return ChainResult(recognition, attempts)
        if last_error is None:
            last_error = VendorError(
                "chain", ErrorCategory.NOT_FOUND, code=UNSUPPORTED, message=f"no vendor reads {kind}/{side}"
            )
        return ChainResult(None, attempts, last_error)


async def _call(vendor: Vendor, kind: Kind, side: Side, image: IntakeImage) -> Recognition:
    """Every way a vendor call can fail, as a VendorError: a bare timeout, or a bug in an adapter,
    must not take the bot down when the next vendor in the chain may well answer."""
    try:
        return await vendor.recognize(kind, side, image)
    except VendorError:
        raise
    except TimeoutError as exc:
        raise VendorError(vendor.name, ErrorCategory.TIMEOUT, message=str(exc) or "timed out") from exc
    except Exception as exc:
        log.exception("vendor %s failed unexpectedly", vendor.name)
        error = VendorError(vendor.name, ErrorCategory.SERVER, code="internal", message=type(exc).__name__)
        raise error from exc


def _failed(vendor: str, error: VendorError, seconds: float, wait: QueueWait) -> Attempt:
    return Attempt(
        vendor,
        str(error.category),
        ms=seconds * 1000,
        code=error.code,
        message=error.message,
        sent=not error.unsent,
        waited_ms=wait.seconds * 1000,
    )


def build_vendor(name: str, table: dict[str, Any] | None) -> Vendor:
    """Instantiate a registered vendor from its `[vendors.NAME]` table (validated by its settings model)."""
    cls = vendor_class(name)
    return cls(cls.settings_model.model_validate(table or {}))
