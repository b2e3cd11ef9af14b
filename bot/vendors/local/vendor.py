"""`local`: the embedded offline engine behind the same Vendor interface as the cloud services.

It needs no account and no network: rapidocr's models ship inside its wheel (see ocr.py). OCR is
CPU-bound, so it runs on one dedicated worker thread per process: requests queue there instead of
fighting over the cores or filling the event loop's shared thread pool with blocked threads.

A page without any of its key fields comes back as a document whose `is_empty()` is True (not as a
VendorError); the chain turns that into not_found, exactly as it does for cloud vendors that answer
"OK" with empty fields.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any, ClassVar

import cv2
import numpy as np
from pydantic import Field

from bot.images import LOAD_DECODE_SIDE, ImageLimits, ImageRejected, IntakeImage, to_pil
from bot.models import Box, Kind, Plate, Recognition, Side
from bot.vendors.base import (
    BUSY,
    QUEUE_WAIT,
    READ_FOR,
    UNSUPPORTED,
    ErrorCategory,
    Vendor,
    VendorError,
    VendorSettings,
    register,
    shows_page,
)
from bot.vendors.local.brands import reconsider_brand
from bot.vendors.local.cells import reread_cells, scaled_rect
from bot.vendors.local.document import build_document
from bot.vendors.local.engine_queue import ENGINE_QUEUE, TooLate
from bot.vendors.local.frame import mostly_upright
from bot.vendors.local.layout import FieldValue, PageRead, authority_from_lines, parse_page
from bot.vendors.local.ocr import EngineFailure, EngineUnavailable, OcrEngine, OcrLine, shared_engine
from bot.vendors.local.page_shown import labels_seen, page_shown_instead, shows_own_title
from bot.vendors.local.person_names import reconsider_names
from bot.vendors.local.photo_quality import colourless_seal_warning, photo_warnings
from bot.vendors.local.plates import PlateRead, read_plates
from bot.vendors.local.seal import read_authority
from bot.vendors.local.station_code import reconsider_station_code
from bot.vendors.local.two_pages import page_region

NAME = "local"
#: The error code of a photo that holds none of the asked-for page's labels and at most this many of
#: its values: no such page.
NO_LABELS = "no_labels"
MOST_VALUES_OF_NO_PAGE = 1
#: Photo warnings that explain lost labels (bot/vendors/local/photo_quality.py).
_UNREADABLE_PHOTO = frozenset({"photo_small", "photo_blur"})
#: Fewer lines than this say too little about a photo's orientation to spend a second OCR pass on it.
MIN_LINES_FOR_TURN = 4
#: An upside-down page with fewer than this share of its labels found is read again turned over.
UPSIDE_DOWN_LABELS = 0.8
#: A card prints at most about 35 lines holding about 170 glyphs (measured on rendered pages of every
#: kind, lines counted by length over height); past three times that, a photo is a page of something
#: else, and recognizing all of it took 15 s per pass.
MAX_PAGE_LINES = 100
MAX_PAGE_LENGTH = 600.0
#: Photos whose long side is below this share of the detection size are enlarged before reading...
UPSCALE_BELOW = 0.75
#: ...by at most this factor (a thumbnail has little more to give).
MAX_UPSCALE = 3.0


class LocalSettings(VendorSettings):
    """`[vendors.local]`: the engine runs in-process, so these tune CPU use rather than a connection."""

    #: onnxruntime intra-op threads; 0 lets onnxruntime use every core.
    threads: int = Field(default=0, ge=0, le=64)
    #: Working resolution: photos are decoded (JPEG draft) and shrunk so the long side is at most this.
    max_side: int = Field(default=1600, ge=320, le=4096)
    #: Long side text detection runs at for card pages and for plate photos.
    card_det_side: int = Field(default=960, ge=320, le=4096)
    plate_det_side: int = Field(default=960, ge=320, le=4096)
    #: Seconds the engine may spend on one photo, once it starts on it (the wait before does not count;
    #: a photo of dense print takes about 4 s).
    timeout: float = Field(default=30.0, gt=0)
    #: Seconds a photo may be expected to wait for the engine (the photos whose turns come first times a
    #: typical read) before it is refused as busy: the chain's next vendor gets it, else the user is told
    #: at once. One still waiting after twice this is refused then, unread.
    max_wait: float = Field(default=40.0, gt=0)
    #: Taken, like every vendor's, and not used: the engine reads one photo at a time whatever it says,
    #: since each read already uses every core (`threads`) and more at once would only thrash.
    max_concurrency: int = Field(default=1, ge=1)


#: The shortest side the engine works with, once the photo is scaled to its working size: below it
#: there is nothing to read, and OpenCV's resizing would be asked for an empty image.
MIN_WORKING_SIDE = 8


@register
class LocalVendor(Vendor):
    name: ClassVar[str] = NAME
    supports: ClassVar[frozenset[tuple[Kind, Side]]] = frozenset(
        {
            ("driving", "front"),
            ("driving", "back"),
            ("vehicle", "front"),
            ("vehicle", "back"),
            ("plate", "front"),
        }
    )
    limits: ClassVar[ImageLimits] = ImageLimits(
        max_bytes=20 * 1024 * 1024,
        max_side=4096,
        min_side=15,
        formats=frozenset({"JPEG", "PNG", "BMP", "WEBP", "TIFF"}),
    )
    settings_model: ClassVar[type[VendorSettings]] = LocalSettings

    @property
    def local_settings(self) -> LocalSettings:
        assert isinstance(self.settings, LocalSettings)
        return self.settings

    @property
    def intake_side(self) -> int | None:
        """The engine reads the pixels (at `max_side`), so intake decodes them once, at the usual size."""
        return max(LOAD_DECODE_SIDE, self.local_settings.max_side)

    async def recognize(self, kind: Kind, side: Side, image: IntakeImage) -> Recognition:
        if not self.supports_request(kind, side):
            raise VendorError(
                NAME, ErrorCategory.NOT_FOUND, UNSUPPORTED, f"local does not read {kind}/{side}"
            )
        reader = READ_FOR.get()
        wait = ENGINE_QUEUE.expected_wait(reader)
        if wait > self.local_settings.max_wait:
            queued = f"about {wait:.0f} s of photos queued"
            raise VendorError(NAME, ErrorCategory.QUOTA_OR_RATE, BUSY, queued, unsent=True)
        if wait > 0:
            # Decoded again, to the same size, when its turn comes (up to 0.1 s for 12 MP against a
            # read's 0.7 s): sixty photos in a rush each held about 5 MB of pixels while they waited.
            image.forget_pixels()
        loop = asyncio.get_running_loop()
        started = loop.create_future()
        longest = 2 * self.local_settings.max_wait
        queued = ENGINE_QUEUE.submit(
            lambda: self.recognize_sync(kind, side, image),
            started=lambda: loop.call_soon_threadsafe(_resolve, started),
            give_up_after=longest,
            reader=reader,
        )
        work = asyncio.wrap_future(queued.future)
        queued_at = time.perf_counter()
        try:
            await asyncio.wait({started, work}, timeout=longest, return_when=asyncio.FIRST_COMPLETED)
            if not started.done() and not work.done() and queued.withdraw():
                # Other people's turns kept coming first: refused now, not whenever its turn comes.
                raise _too_late(longest)
        except asyncio.CancelledError:
            queued.give_up()  # still queued: taken out unread (the wrapper would pass this on a turn late)
            work.cancel()
            raise
        finally:
            meter = QUEUE_WAIT.get()
            if meter is not None:  # logged apart from the read (a refusal too late waited all along)
                meter.seconds = time.perf_counter() - queued_at
        try:
            # The limit counts the engine's own time on this photo, not its wait in the queue.
            return await asyncio.wait_for(work, timeout=self.settings.timeout)
        except (TimeoutError, asyncio.CancelledError):
            queued.give_up()  # nobody waits for this read any more: free the engine for the next photo
            raise
        except TooLate:
            raise _too_late(longest) from None

    def recognize_sync(self, kind: Kind, side: Side, image: IntakeImage) -> Recognition:
        """The whole recognition, blocking: what the worker thread runs (benchmarks call it directly)."""
        try:
            engine = shared_engine(self.local_settings.threads)
        except EngineUnavailable as exc:
            raise VendorError(NAME, ErrorCategory.SERVER, "engine_unavailable", str(exc)) from exc
        try:
            pixels = to_pil(image, max_side=self.local_settings.max_side)
        except ImageRejected as exc:
            raise VendorError(NAME, ErrorCategory.BAD_IMAGE, exc.reason, exc.detail) from exc
        if min(pixels.size) < MIN_WORKING_SIDE:
            # A strip thousands of times longer than it is high, brought down to the working size.
            raise VendorError(NAME, ErrorCategory.BAD_IMAGE, "too_thin", f"{pixels.size} once scaled")
        bgr = np.ascontiguousarray(np.asarray(pixels.convert("RGB"))[:, :, ::-1])
        scale = image.width / pixels.width if pixels.width else 1.0
        try:
            if kind == "plate":
                return self._plates(engine, bgr, scale)
            recognition = self._page(engine, kind, side, bgr, scale)
        except EngineFailure as exc:
            raise VendorError(NAME, ErrorCategory.SERVER, "engine_failure", str(exc)) from exc
        lines = _raw_lines(recognition, scale)
        recognition.warnings += photo_warnings(cv2.cvtColor(bgr, cv2.COLOR_BGR2GRAY), lines, scale)
        if _no_such_page(recognition, lines):
            raise VendorError(NAME, ErrorCategory.NOT_FOUND, NO_LABELS, f"no label of the {kind} {side}")
        return recognition

    # ------------------------------------------------------------------------------------------- pages

    def _page(self, engine: OcrEngine, kind: Kind, side: Side, bgr: np.ndarray, scale: float) -> Recognition:
        bgr, scale = _upscaled(bgr, scale, self.local_settings.card_det_side)
        upright = self._read_upright(engine, kind, side, bgr)
        region = page_region(kind, side, upright)
        shown = page_shown_instead(kind, side, upright) if region is None else None
        if shown is not None:
            raise VendorError(NAME, ErrorCategory.NOT_FOUND, shows_page(*shown), f"the photo shows {shown}")
        if region is None:
            return self._page_lines(engine, kind, side, bgr, scale, upright)
        # Both pages in one photo: read the asked-for page alone, at the resolution it deserves.
        (x0, y0, x1, y1), keep = region.crop(bgr.shape[1], bgr.shape[0])
        crop = bgr[y0:y1, x0:x1].copy()
        crop[~keep] = _paper(crop, keep)
        crop, crop_scale = _upscaled(crop, scale, self.local_settings.card_det_side)
        recognition = self._page_lines(
            engine, kind, side, crop, crop_scale, self._read_upright(engine, kind, side, crop)
        )
        return _shifted(recognition, x0 * scale, y0 * scale)

    def _page_lines(
        self, engine: OcrEngine, kind: Kind, side: Side, bgr: np.ndarray, scale: float, upright: list[OcrLine]
    ) -> Recognition:
        lines = [line.mapped(scale) for line in upright]
        read = parse_page(kind, side, lines)
        reread_cells(engine, bgr, scale, read)
        reconsider_names(engine, bgr, scale, read)
        reconsider_brand(engine, bgr, scale, read)
        reconsider_station_code(engine, bgr, scale, read)
        authority = _authority(engine, bgr, scale, read, lines)
        document = build_document(read, authority)
        missed_seal = read.spec.has_seal and authority is None
        warnings = colourless_seal_warning(bgr) if missed_seal else []
        raw: dict[str, Any] = {
            "engine": "rapidocr",
            "models": engine.model_files,
            "orientation": read.quarter_turns * 90,
            "skew": round(read.skew_degrees, 2),
            "lines": [line.to_raw() for line in lines],
        }
        if authority is not None:
            raw["seal"] = {"text": authority.value, "score": authority.confidence}
        return Recognition(kind=kind, side=side, vendor=NAME, document=document, raw=raw, warnings=warnings)

    def _read_upright(self, engine: OcrEngine, kind: Kind, side: Side, bgr: np.ndarray) -> list[OcrLine]:
        """OCR lines in `bgr`'s pixel space, read with the card standing upright or upside down.

        rapidocr reads a line turned 180° (its angle classifier flips it) but short values in a card
        turned 90° come out garbled, so such a photo is turned and read again. The first pass already
        says which way it is turned, and a wrong guess only leaves it upside down, which is fine.
        """
        det_side = self.local_settings.card_det_side
        lines = _read_card(engine, bgr, det_side)
        if len(lines) < MIN_LINES_FOR_TURN:
            return lines
        first = parse_page(kind, side, lines)
        if mostly_upright(lines):
            # Upside down, the angle classifier misses some small or blurred lines; when labels are
            # missing, a second read of the photo turned over is worth its time.
            if first.quarter_turns != 2 or first.labels_found >= UPSIDE_DOWN_LABELS * len(first.spec.labels):
                return lines
            turns = 2
        else:
            turns = first.quarter_turns if first.quarter_turns in (1, 3) else 1
        turned = np.ascontiguousarray(np.rot90(bgr, k=turns))
        height, width = bgr.shape[:2]
        again = [_turned_back(line, turns, width, height) for line in _read_card(engine, turned, det_side)]
        # Labels say which reading saw the page better; fields alone would favour the worse reading once
        # values are placed by format and position where its labels were lost.
        if turns == 2 and _reading_quality(parse_page(kind, side, again)) <= _reading_quality(first):
            return lines
        return again

    # ------------------------------------------------------------------------------------------- plates

    def _plates(self, engine: OcrEngine, bgr: np.ndarray, scale: float) -> Recognition:
        scan = read_plates(engine, bgr, det_limit=self.local_settings.plate_det_side)
        plates = [_plate_model(plate, scale) for plate in scan.plates]
        raw = {
            "engine": "rapidocr",
            "models": engine.model_files,
            "lines": [line.mapped(scale).to_raw() for line in scan.lines],
            "plates": [
                {"text": plate.raw, "number": plate.number, "score": plate.confidence}
                for plate in scan.plates
            ],
        }
        return Recognition(kind="plate", side="front", vendor=NAME, plates=plates, raw=raw)


def _read_card(engine: OcrEngine, bgr: np.ndarray, det_side: int) -> list[OcrLine]:
    return engine.read(bgr, det_limit=det_side, max_lines=MAX_PAGE_LINES, max_length=MAX_PAGE_LENGTH)


def _no_such_page(recognition: Recognition, lines: list[OcrLine]) -> bool:
    """A sharp photo of fair size with neither a label nor the title of the page, and at most one value
    placed by its format (a plate photo after /vehicle gave its plate as the page's): not that page. A
    small or blurred photo of the page may lose every label, and then keeps its values and the advice
    on what to fix; a page whose labels glare took still gives several values."""
    page = (recognition.kind, recognition.side)
    if labels_seen(lines)[page] or shows_own_title(*page, lines):
        return False
    if any(warning.code in _UNREADABLE_PHOTO for warning in recognition.warnings):
        return False
    values = recognition.fields().values()
    return sum(value not in (None, False, "") for value in values) <= MOST_VALUES_OF_NO_PAGE


def _raw_lines(recognition: Recognition, scale: float) -> list[OcrLine]:
    """The lines a page was read from (kept in its raw answer, in the photo's pixels), in the pixels
    `scale` times smaller that the engine was given."""
    entries = recognition.raw["lines"] if recognition.raw else []
    return [OcrLine.from_raw(entry).mapped(1 / scale) for entry in entries]


def _reading_quality(read: PageRead) -> tuple[int, int]:
    """How well a reading saw its page, for choosing between two: labels read, then fields filled."""
    return (read.labels_found, len(read.fields))


def _too_late(longest: float) -> VendorError:
    """A photo that waited its longest for the engine: refused unread, as busy."""
    return VendorError(NAME, ErrorCategory.QUOTA_OR_RATE, BUSY, f"waited over {longest:.0f} s", unsent=True)


def _upscaled(bgr: np.ndarray, scale: float, det_side: int) -> tuple[np.ndarray, float]:
    """A thumbnail (a forwarded ~400 px photo) enlarged towards the detection size, and the new scale.

    Detection needs a few pixels of stroke to find short values and the seal's rim text is unreadable at
    thumbnail size; cubic upscaling gives both models smooth strokes instead of blocky ones.
    """
    long_side = max(bgr.shape[:2])
    if long_side >= UPSCALE_BELOW * det_side:
        return bgr, scale
    factor = min(MAX_UPSCALE, det_side / long_side)
    size = (round(bgr.shape[1] * factor), round(bgr.shape[0] * factor))
    return cv2.resize(bgr, size, interpolation=cv2.INTER_CUBIC), scale / factor


def _paper(bgr: np.ndarray, keep: np.ndarray) -> np.ndarray:
    """The colour that hides the other page: the brightest common colour of what is kept."""
    kept = bgr[keep]
    if kept.size == 0:
        return np.array([255, 255, 255], np.uint8)
    return np.percentile(kept, 90, axis=0).astype(np.uint8)


def _shifted(recognition: Recognition, dx: float, dy: float) -> Recognition:
    """A recognition of a crop, with its boxes and raw lines moved into the whole photo's pixels."""
    document = recognition.document
    if document is not None:
        meta = {
            name: item.model_copy(update={"box": _moved_box(item.box, dx, dy)})
            for name, item in document.meta.items()
        }
        recognition = recognition.model_copy(update={"document": document.model_copy(update={"meta": meta})})
    raw = dict(recognition.raw)
    raw["lines"] = [
        {**line, "box": [[round(x + dx, 1), round(y + dy, 1)] for x, y in line["box"]]}
        for line in raw["lines"]
    ]
    raw["page_offset"] = [round(dx, 1), round(dy, 1)]
    return recognition.model_copy(update={"raw": raw})


def _moved_box(box: Box | None, dx: float, dy: float) -> Box | None:
    if box is None:
        return None
    return box.model_copy(update={"x": round(box.x + dx), "y": round(box.y + dy)})


def _turned_back(line: OcrLine, turns: int, width: int, height: int) -> OcrLine:
    """A line read in `np.rot90(image, turns)` put back into the unturned image's pixel space."""
    if turns == 1:
        points = tuple((width - y, x) for x, y in line.points)
    elif turns == 3:
        points = tuple((y, height - x) for x, y in line.points)
    else:
        points = tuple((width - x, height - y) for x, y in line.points)
    return OcrLine(line.text, line.score, points)  # type: ignore[arg-type]


def _authority(
    engine: OcrEngine, bgr: np.ndarray, scale: float, read: PageRead, lines: list[OcrLine]
) -> FieldValue | None:
    """From the seal when the page has one; a legible straight line naming the authority also counts."""
    if not read.spec.has_seal or not read.fields:
        return None
    address = read.fields.get("address")
    sealed = read_authority(engine, bgr, address.value if address is not None else "")
    if sealed is not None:
        return FieldValue(
            sealed.value, sealed.confidence, scaled_rect(sealed.rect, scale) if sealed.rect else None
        )
    return authority_from_lines(lines)


def _plate_model(plate: PlateRead, scale: float) -> Plate:
    x0, y0, x1, y1 = scaled_rect(plate.rect, scale)
    box = Box(x=round(x0), y=round(y0), width=max(1, round(x1 - x0)), height=max(1, round(y1 - y0)))
    return Plate(
        number=plate.number,
        color=plate.color,
        confidence=plate.confidence,
        box=box,
        double_layer=plate.double_layer,
    )


def _resolve(started: asyncio.Future[None]) -> None:
    if not started.done():
        started.set_result(None)
