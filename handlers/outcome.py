"""The result of handling one photo, whatever happened: what replies render and storage logs."""

from __future__ import annotations

from enum import StrEnum

from pydantic import BaseModel, Field

from bot.models import Kind, Recognition, Side, Warning


class Status(StrEnum):
    OK = "ok"
    NOT_FOUND = "not_found"  # the vendor answered but saw no card / plate of that kind
    BAD_IMAGE = "bad_image"  # our intake refused the bytes, or the vendor refused the image
    VENDOR_ERROR = "vendor_error"  # auth, quota, timeout, server: not the user's fault
    REJECTED = "rejected"  # access, rate limit or quota of ours
    INTERRUPTED = "interrupted"  # the service stopped (shutdown) before the recognition finished
    #: A photo that waited for its kind and got none: it expired, the user cancelled, newer photos
    #: pushed it out of the queue, or the service stopped (error_category says which, as
    #: handlers.dispatch.LetGo). Never read, so never a reply.
    UNANSWERED = "unanswered"


class Outcome(BaseModel):
    """Everything a reply and a session row need. `warnings` = vendor's + checks', ordered by severity."""

    status: Status
    kind: Kind
    side: Side = "front"
    recognition: Recognition | None = None
    warnings: list[Warning] = Field(default_factory=list)
    #: For BAD_IMAGE: bot.images.ImageRejected.reason (gif, truncated, too_small, …), from intake or from
    #: a vendor that refused the photo for one of those reasons; for REJECTED: rate_limited, quota_exceeded…
    reject_reason: str | None = None
    #: For vendor failures: bot.vendors.base.ErrorCategory value, plus the vendor's own code.
    error_category: str | None = None
    error_code: str | None = None
    error_message: str | None = None
    cached: bool = False
    #: The session row's id once logged, so a channel can record whether the reply was delivered.
    session_id: int | None = None
