"""Telegram photos: lazy downloads that respect the 20 MB getFile limit, and the bounded in-memory
store of recent photos that the "show boxes" button draws on.

A photo is downloaded only when a recognition needs it (after the kind is known and the limiter said
yes). Its bytes are kept in memory, never on disk, for a short while and in bounded number, so the
sender can ask to see the boxes; a restart forgets them, which is the point.
"""

from __future__ import annotations

import logging
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from telegram import Bot
from telegram.constants import FileSizeLimit

from bot.images import ImageRejected
from bot.models import Recognition

log = logging.getLogger(__name__)

#: Telegram refuses getFile for files bigger than this; we say so without trying.
DOWNLOAD_LIMIT = int(FileSizeLimit.FILESIZE_DOWNLOAD)
#: Total bytes of photos kept for "show boxes", whatever their number.
DEFAULT_MAX_BYTES = 64 * 1024 * 1024


@dataclass
class KeptPhoto:
    """A downloaded photo, its sender (only they may ask for the boxes) and, once read, what was read."""

    data: bytes
    owner: str
    at: float
    recognition: Recognition | None = None
    language: str = "zh"


class PhotoMemory:
    """LRU with a time limit and two bounds (photos, bytes): recent photos, in memory only."""

    def __init__(
        self,
        max_photos: int,
        ttl: float,
        max_bytes: int = DEFAULT_MAX_BYTES,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.max_photos = max_photos
        self.ttl = ttl
        self.max_bytes = max_bytes
        self._clock = clock
        self._photos: OrderedDict[str, KeptPhoto] = OrderedDict()
        self._bytes = 0

    @property
    def enabled(self) -> bool:
        return self.max_photos > 0

    def __len__(self) -> int:
        return len(self._photos)

    @property
    def total_bytes(self) -> int:
        return self._bytes

    def put(self, key: str, data: bytes, owner: str) -> None:
        if not self.enabled or len(data) > self.max_bytes:
            return
        self.discard(key)
        self._photos[key] = KeptPhoto(data=data, owner=owner, at=self._clock())
        self._bytes += len(data)
        self._evict()

    def get(self, key: str) -> KeptPhoto | None:
        kept = self._photos.get(key)
        if kept is None:
            return None
        if self._clock() - kept.at > self.ttl:
            self.discard(key)
            return None
        self._photos.move_to_end(key)
        return kept

    def discard(self, key: str) -> None:
        kept = self._photos.pop(key, None)
        if kept is not None:
            self._bytes -= len(kept.data)

    def _evict(self) -> None:
        now = self._clock()
        for key in [key for key, kept in self._photos.items() if now - kept.at > self.ttl]:
            self.discard(key)
        while self._photos and (len(self._photos) > self.max_photos or self._bytes > self.max_bytes):
            self.discard(next(iter(self._photos)))


def photo_key(chat_id: str, message_id: str) -> str:
    return f"{chat_id}:{message_id}"


def declared_not_image(declared_type: str | None) -> bool:
    """Whether Telegram declares a file to be no image (a PDF, a GIF sent as MP4)."""
    return bool(declared_type) and not str(declared_type).lower().startswith("image/")


def make_fetch(
    bot: Bot,
    file_id: str,
    declared_size: int | None,
    on_downloaded: Callable[[bytes], None],
    declared_type: str | None = None,
) -> Callable[[], Awaitable[bytes]]:
    """The lazy download for one photo or image document.

    Over Telegram's limit it raises `ImageRejected("too_large")` without calling getFile: the recognizer
    turns that into the usual "file too large" reply and a session row. A document Telegram declares to
    be no image (a PDF, a GIF sent as MP4) is `ImageRejected("not_image")` the same way, without
    downloading its megabytes. A failed download raises, and the recognizer answers "send it again"
    with its row.
    """

    async def fetch() -> bytes:
        if declared_size is not None and declared_size > DOWNLOAD_LIMIT:
            raise ImageRejected("too_large", f"Telegram declares {declared_size} bytes")
        if declared_not_image(declared_type):
            raise ImageRejected("not_image", f"Telegram declares {declared_type}")
        file = await bot.get_file(file_id)
        if file.file_path is None:  # Telegram gives no path for files it will not serve
            raise ImageRejected("too_large", "Telegram gave no file path")
        data = bytes(await file.download_as_bytearray())
        on_downloaded(data)
        return data

    return fetch
