"""Image intake: sniff, decode safely, EXIF-transpose, and fit an image to a vendor's limits.

CONTRACT (implementation pending): other modules rely on exactly these names.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from PIL import Image

MAX_UPLOAD_BYTES = 20 * 1024 * 1024
MIN_SHORT_SIDE = 100

RejectReason = Literal[
    "empty", "too_large", "not_image", "unsupported_format", "gif", "animated", "truncated", "bomb", "too_small",
]


class ImageRejected(Exception):
    """The bytes cannot become a photo we recognize; `reason` picks the user-facing message."""

    def __init__(self, reason: RejectReason, detail: str = "") -> None:
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason = reason
        self.detail = detail


@dataclass(frozen=True)
class ImageLimits:
    """What a vendor accepts. `formats` are Pillow format names (JPEG, PNG, BMP, WEBP, TIFF)."""

    max_bytes: int = 4 * 1024 * 1024
    max_side: int = 4096
    min_side: int = 15
    formats: frozenset[str] = frozenset({"JPEG", "PNG"})


@dataclass
class IntakeImage:
    """A validated upload: original bytes plus metadata; `image` is decoded on first use."""

    data: bytes
    format: str
    width: int  # after EXIF orientation
    height: int
    sha256: str
    _image: Image.Image | None = field(default=None, repr=False)


@dataclass(frozen=True)
class PreparedImage:
    """Bytes ready to send to one vendor; `scale` maps its pixels back to the IntakeImage's."""

    data: bytes
    format: str
    width: int
    height: int
    scale: float


def load(data: bytes, *, max_bytes: int = MAX_UPLOAD_BYTES, min_side: int = MIN_SHORT_SIDE) -> IntakeImage:
    raise NotImplementedError


def fit(image: IntakeImage, limits: ImageLimits) -> PreparedImage:
    raise NotImplementedError


def to_pil(image: IntakeImage, max_side: int | None = None) -> Image.Image:
    """Decoded RGB pixels, EXIF-transposed, downscaled (JPEG draft) so the long side is <= max_side."""
    raise NotImplementedError
