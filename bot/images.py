"""Image intake: sniff, decode safely, EXIF-transpose, and fit an image to a vendor's limits.

Other modules rely on these public names: MAX_UPLOAD_BYTES, MIN_SHORT_SIDE, MIN_SHORT_SIDE_PLATE,
LOAD_DECODE_SIDE, VERIFY_DECODE_SIDE, RejectReason, ImageRejected, ImageLimits, IntakeImage,
PreparedImage, load(), fit(), to_pil(), passes_through().

Decoding strategy (why `load()` decodes at all, and at what size):
- Truncation can only be seen by decoding, so `load()` decodes once. Big JPEGs are decoded in libjpeg's
  DCT-scaled "draft" mode at the smallest 1/2, 1/4 or 1/8 scale whose long side still reaches
  `LOAD_DECODE_SIDE`: a 12 MP phone photo decodes at 2016 px in about half the time of a full decode,
  and truncation is still caught because libjpeg must read every entropy-coded byte at any scale.
- That decoded, EXIF-transposed image is cached in `IntakeImage._image`, sized for what the OCR paths
  use (the embedded engine's `to_pil(max_side=1600)`, vendors asking for ≤ 2048 px), so those never
  decode twice. A caller
  that will not read the pixels (a cloud vendor uploads the original bytes) asks for
  `VERIFY_DECODE_SIDE`: the 1/8 scale, which proves the file whole at about half the CPU.
- When a caller needs more pixels than the cache holds (a vendor taking 4096 px while the photo must be
  re-encoded, or `to_pil()` at full size), the original bytes are decoded again at the scale needed and
  the cache is upgraded. Most phone photos need no re-encode at all: `fit()` passes the original bytes
  through whenever the vendor accepts them as they are.
Other formats have no draft mode: they are decoded whole (bounded by `MAX_PIXELS`) and brought down to
the size asked for at once, before any other copy is made; a caller needing more decodes them again.

Everything here is safe to call from several threads at once (asyncio.to_thread): no module state is
mutated, Pillow's globals (MAX_IMAGE_PIXELS, LOAD_TRUNCATED_IMAGES) are never touched, the cached
images are only ever read (encoders get a private copy, since `Image.save` writes attributes onto the
image), and replacing a cached decode with a bigger one is a single attribute swap.
"""

from __future__ import annotations

import hashlib
import io
import math
import struct
import zlib
from dataclasses import dataclass, field
from typing import Literal

from PIL import Image

MAX_UPLOAD_BYTES = 20 * 1024 * 1024
MIN_SHORT_SIDE = 100
#: A plate crop is legitimately small (a 94×24 crop from a camera, a plate cut out of a photo): the
#: licence floor would refuse readable plates, so plates get the smallest side any vendor accepts.
MIN_SHORT_SIDE_PLATE = 15

#: Decompression-bomb cap, checked on the header before any pixel is decoded. 50 MP admits the 48-50 MP
#: full-resolution photos of current phone cameras (8064×6048, 8160×6120) while bounding one decode of a
#: non-JPEG to ~200 MB (Pillow keeps RGB and RGBA at 4 bytes a pixel), brought down to the size asked
#: for before any other copy is made; a licence photo never needs more. Pillow's own, looser bomb check
#: (DecompressionBombError/Warning) is caught too and reported the same way.
MAX_PIXELS = 50 * 1024 * 1024
#: A progressive JPEG has about ten scans (an MPO a few times that); libjpeg decodes every scan even at a
#: draft scale, so thousands of tiny ones make a small file cost minutes of CPU.
MAX_JPEG_SCANS = 100

#: Long side `load()` decodes JPEGs at (draft mode) and caches by default: what OCR and small-limit
#: vendors use.
LOAD_DECODE_SIDE = 2048

#: `decode_side` for a caller that only needs to know the file decodes (a cloud vendor uploads the
#: original bytes): libjpeg's 1/8 scale, which still reads every entropy-coded byte, so truncation is
#: caught, at about half the CPU of a full decode of a 1280 px photo.
VERIFY_DECODE_SIDE = 64

#: A JPEG draft may come out this much smaller than the size asked for: decoding 4032 px at 1/2 scale
#: (2016 px) for a 2048 px target beats a full decode plus a resize, and no OCR result hinges on 2 %.
DRAFT_TOLERANCE = 0.9

#: JPEG/WebP qualities tried, best first, before the image is shrunk to meet a vendor's byte limit.
LOSSY_QUALITIES = (90, 80, 70)

#: Cap on shrink rounds in `fit()`; each one aims straight at the byte limit, so 2-3 are the norm.
MAX_SHRINK_ROUNDS = 8

RejectReason = Literal[
    "empty",
    "too_large",
    "not_image",
    "unsupported_format",
    "gif",
    "animated",
    "truncated",
    "bomb",
    "too_small",
    # Not refused by `load`: a strip so long and thin that, brought down to a reader's working size (the
    # embedded engine's, or a vendor's `max_side` in `fit`), it is too few pixels high to read.
    "too_thin",
]

#: Errors Pillow raises for data it cannot parse; caught around open and decode, never more broadly.
_DECODE_ERRORS = (OSError, SyntaxError, ValueError, EOFError, IndexError, TypeError, struct.error, zlib.error)
_BOMB_ERRORS = (Image.DecompressionBombError, Image.DecompressionBombWarning)

#: EXIF orientation -> the transpose that makes the image upright (1 = already upright).
_ORIENTATION_TAG = 0x0112
_TRANSPOSE_FOR_ORIENTATION: dict[int, Image.Transpose] = {
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_270,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_90,
}
_SWAPS_SIDES = frozenset({5, 6, 7, 8})

#: ISO-BMFF brands of HEIF/HEIC/AVIF: real photos (iPhone default) that Pillow cannot decode here.
_HEIF_BRANDS = frozenset(
    {b"heic", b"heix", b"hevc", b"hevx", b"heim", b"heis", b"mif1", b"msf1", b"avif", b"avis"}
)
#: BITMAPINFOHEADER sizes Pillow reads; checked so a text file starting "BM" is not taken for a bitmap.
_BMP_DIB_SIZES = frozenset({12, 40, 52, 56, 64, 108, 124})

#: Output formats in order of preference when the original cannot be passed through.
_OUTPUT_PREFERENCE = ("JPEG", "PNG", "WEBP", "BMP", "TIFF")
_LOSSY = frozenset({"JPEG", "WEBP"})


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
    """A validated upload: original bytes plus metadata. Build it with `load()`.

    `_image` caches the decoded, EXIF-transposed pixels (RGB or L), possibly at a reduced JPEG draft
    scale; `fit()`/`to_pil()` reuse it when it is big enough and keep a bigger decode in `_larger` when not.
    """

    data: bytes = field(repr=False)  # megabytes of a user's photo belong in no log line
    format: str
    width: int  # after EXIF orientation
    height: int
    sha256: str
    _image: Image.Image | None = field(default=None, repr=False)
    #: A bigger decode than `_image`, made when a caller needed more pixels (see `_pixels_at_least`).
    _larger: Image.Image | None = field(default=None, repr=False, compare=False)
    #: EXIF orientation of the original bytes (1 = upright); anything else rules out pass-through.
    orientation: int = 1
    #: The long side of the decode `forget_pixels` dropped: the next decode is made at least this big.
    _redecode_side: int | None = field(default=None, repr=False, compare=False)

    @property
    def long_side(self) -> int:
        return max(self.width, self.height)

    def forget_pixels(self) -> None:
        """Drop the cached decodes (the next use decodes `data` again, to the size intake chose, so it
        reads the same pixels): a photo that will wait in a queue should not hold megabytes of pixels
        meanwhile."""
        if self._image is not None:
            self._redecode_side = max(self._image.size)
        self._image = self._larger = None


@dataclass(frozen=True)
class PreparedImage:
    """Bytes ready to send to one vendor; `scale` maps its pixels back to the IntakeImage's."""

    data: bytes
    format: str
    width: int
    height: int
    scale: float


# --------------------------------------------------------------------------------------------- load


def load(
    data: bytes,
    *,
    max_bytes: int = MAX_UPLOAD_BYTES,
    min_side: int = MIN_SHORT_SIDE,
    decode_side: int | None = LOAD_DECODE_SIDE,
) -> IntakeImage:
    """Validate an upload and decode it once; raise `ImageRejected` with the reason a user should hear.

    Cheap checks run first (size, magic bytes, header dimensions) so that hostile or oversized input
    is refused before any pixel is decoded. `decode_side` is the long side the caller will read pixels
    at (JPEG draft, None = full size); whoever needs more later gets a bigger decode on demand.
    """
    if not data:
        raise ImageRejected("empty")
    if len(data) > max_bytes:
        raise ImageRejected("too_large", f"{len(data)} bytes, limit {max_bytes}")
    data = bytes(data)
    fmt = sniff(data)
    opened = _open(data, fmt)
    _check_header(opened, fmt, min_side, data)
    stored_size = opened.size  # read before decoding: a JPEG draft shrinks `opened.size`
    decoded, orientation = _decode_opened(opened, decode_side)
    width, height = _upright_size(stored_size, orientation)
    return IntakeImage(
        data=data,
        format=fmt,
        width=width,
        height=height,
        sha256=hashlib.sha256(data).hexdigest(),
        _image=decoded,
        orientation=orientation,
    )


def sniff(data: bytes) -> str:
    """The Pillow format name the magic bytes announce; refuses everything we do not accept.

    Sniffing ourselves (instead of letting Pillow try all its plugins) keeps exotic decoders (EPS,
    PSD, ICO, …) away from untrusted bytes and lets GIF and HEIC get their own messages.
    """
    head = data[:32]
    if head.startswith(b"\xff\xd8\xff"):
        return "JPEG"
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "PNG"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "WEBP"
    if head[:4] in (b"II*\x00", b"MM\x00*", b"II+\x00", b"MM\x00+"):
        return "TIFF"
    if head.startswith(b"BM") and _looks_like_bmp(head):
        return "BMP"
    if head[:6] in (b"GIF87a", b"GIF89a"):
        raise ImageRejected("gif", "GIF is not accepted; send a photo")
    if head[4:8] == b"ftyp" and head[8:12] in _HEIF_BRANDS:
        raise ImageRejected("unsupported_format", f"HEIF/AVIF ({head[8:12].decode('ascii')})")
    if head.startswith(b"\xff\x0a") or head.startswith(b"\x00\x00\x00\x0cJXL \x0d\x0a\x87\x0a"):
        raise ImageRejected("unsupported_format", "JPEG XL")
    raise ImageRejected("not_image", "unrecognised file signature")


def _looks_like_bmp(head: bytes) -> bool:
    if len(head) < 18:
        return False
    (dib_size,) = struct.unpack_from("<I", head, 14)
    return dib_size in _BMP_DIB_SIZES


def _open(data: bytes, fmt: str) -> Image.Image:
    """Parse the header only. The magic already matched, so a header that will not parse is a damaged
    (most often cut-off) file rather than a foreign one."""
    try:
        return Image.open(io.BytesIO(data), formats=[fmt])
    except _BOMB_ERRORS as exc:
        raise ImageRejected("bomb", str(exc)) from exc
    except _DECODE_ERRORS as exc:
        raise ImageRejected("truncated", f"unreadable {fmt} header: {exc}") from exc


def _check_header(opened: Image.Image, fmt: str, min_side: int, data: bytes) -> None:
    width, height = opened.size
    if width * height > MAX_PIXELS:
        raise ImageRejected("bomb", f"{width}×{height} exceeds {MAX_PIXELS} pixels")
    # SOS markers, counted in progressive files only (a sequential JPEG has one scan per component, and
    # counting costs milliseconds on a phone photo): 0xFF in scan data is stuffed, so each is a scan.
    progressive = fmt == "JPEG" and bool(opened.info.get("progressive"))
    scans = data.count(b"\xff\xda") if progressive else 0
    if scans > MAX_JPEG_SCANS:
        raise ImageRejected("bomb", f"JPEG with {scans} scans")
    if fmt != "JPEG" and _is_animated(opened):
        # JPEG is exempt: phones write MPO (a JPEG plus depth/gain-map frames); frame 0 is the photo.
        raise ImageRejected("animated", f"{fmt} with several frames")
    if min(width, height) < min_side:  # the short side is the same before and after EXIF rotation
        raise ImageRejected("too_small", f"{width}×{height}, short side under {min_side} px")


def _is_animated(opened: Image.Image) -> bool:
    try:
        return bool(getattr(opened, "is_animated", False))
    except _DECODE_ERRORS as exc:  # TIFF walks its IFD chain here, so a cut file can fail
        raise ImageRejected("truncated", f"unreadable frame list: {exc}") from exc


def _upright_size(size: tuple[int, int], orientation: int) -> tuple[int, int]:
    width, height = size
    return (height, width) if orientation in _SWAPS_SIDES else (width, height)


# ------------------------------------------------------------------------------------------- decode


def _decode_opened(opened: Image.Image, min_long_side: int | None) -> tuple[Image.Image, int]:
    """Decode (JPEG: at the smallest draft scale reaching `min_long_side`, None = full size), then
    EXIF-transpose and normalise the mode. Returns the pixels and the EXIF orientation."""
    try:
        if opened.format in ("JPEG", "MPO") and min_long_side is not None:
            _request_draft(opened, min_long_side)
        opened.load()
        orientation = _orientation(opened)
    except _BOMB_ERRORS as exc:
        raise ImageRejected("bomb", str(exc)) from exc
    except _DECODE_ERRORS as exc:
        raise ImageRejected("truncated", str(exc)) from exc
    pixels: Image.Image = opened
    if opened.format not in ("JPEG", "MPO") and min_long_side is not None:
        # Other formats have no draft: decoded whole, they are brought down to what was asked for at
        # once, and before they are turned or changed in mode (each of which copies the whole image),
        # so a request holds megabytes, not the hundreds a 50 MP PNG with transparency took.
        pixels = _shrunk(pixels, min_long_side)
    transpose = _TRANSPOSE_FOR_ORIENTATION.get(orientation)
    if transpose is not None:
        pixels = pixels.transpose(transpose)
    return _normalise_mode(pixels), orientation


#: Modes Pillow can average pixels of; palette indices and single bits cannot be, and 16-bit greyscale
#: is scaled to 8 bits first.
_AVERAGEABLE_MODES = frozenset(
    {"L", "LA", "La", "RGB", "RGBA", "RGBa", "I", "F", "CMYK", "YCbCr", "LAB", "HSV"}
)


def _shrunk(pixels: Image.Image, long_side: int) -> Image.Image:
    """`pixels` brought down (never up) so the long side is `long_side`, in a mode that averages well."""
    if max(pixels.size) <= long_side:
        return pixels
    if pixels.mode not in _AVERAGEABLE_MODES:
        pixels = _normalise_mode(pixels)
    return _downscale(pixels, _fit_size(pixels.size, long_side))


def _request_draft(opened: Image.Image, min_long_side: int) -> None:
    """Ask libjpeg for the coarsest DCT scale (1/8, 1/4, 1/2) still giving `min_long_side` (with
    `DRAFT_TOLERANCE`). Pillow picks scale = min(W // w, H // h), hence the floor divisions here."""
    width, height = opened.size
    long_side = max(width, height)
    for denominator in (8, 4, 2):
        if long_side / denominator >= min_long_side * DRAFT_TOLERANCE:
            opened.draft(None, (max(1, width // denominator), max(1, height // denominator)))
            return


def _orientation(opened: Image.Image) -> int:
    """EXIF orientation, 1 when absent or unreadable: broken EXIF must not cost the user a good photo."""
    try:
        value = opened.getexif().get(_ORIENTATION_TAG, 1)
    except Exception:  # Pillow's EXIF parser raises a zoo of types on malformed blocks
        return 1
    return value if isinstance(value, int) and value in _TRANSPOSE_FOR_ORIENTATION else 1


def _normalise_mode(pixels: Image.Image) -> Image.Image:
    """RGB or L, the modes every encoder and OCR engine takes. Transparency is flattened onto white (a
    transparent background would otherwise turn black, hiding dark text); 16-bit and float greyscale are
    scaled to 8 bits instead of clipped (which would turn a 16-bit scan white)."""
    mode = pixels.mode
    if mode in ("RGB", "L"):
        return pixels
    if mode == "1":
        return pixels.convert("L")
    if mode.startswith("I;16") or mode in ("I", "F"):
        return _sixteen_bit_to_l(pixels)
    if mode in ("RGBA", "LA", "PA", "RGBa", "La") or (mode == "P" and "transparency" in pixels.info):
        rgba = pixels.convert("RGBA")
        canvas = Image.new("RGB", rgba.size, (255, 255, 255))
        canvas.paste(rgba, mask=rgba.getchannel("A"))
        return canvas
    return pixels.convert("RGB")


def _sixteen_bit_to_l(pixels: Image.Image) -> Image.Image:
    wide = pixels.convert("F") if pixels.mode == "F" else pixels.convert("I")
    if wide.mode == "I":
        _, high = wide.getextrema()
        divisor = 256.0 if high > 255 else 1.0  # I-mode data may already be 8-bit values
        wide = wide.point(lambda value: value / divisor)
    return wide.convert("L")


def _pixels_at_least(image: IntakeImage, long_side: int | None) -> tuple[Image.Image, bool]:
    """Decoded pixels whose long side is at least `long_side` (within the draft tolerance), or full
    size for None: the smallest cached decode that qualifies, else a new decode at the scale needed.
    The flag says the pixels were decoded by this call, so this caller alone may hand them to
    `Image.save` (which writes encoder state onto the image) without copying them first.

    Two slots, so that one vendor's full-size re-encode does not make every later `to_pil(2000)` shrink
    a 12 MP image: `_image` keeps load()'s small decode, `_larger` the biggest one made since. Slot
    writes are single attribute swaps, so concurrent callers at worst decode twice.
    """
    full = long_side is None or long_side >= image.long_side

    def qualifies(pixels: Image.Image) -> bool:
        biggest = max(pixels.size)
        return biggest >= image.long_side or (
            not full and long_side is not None and biggest >= long_side * DRAFT_TOLERANCE
        )

    cached = [pixels for pixels in (image._image, image._larger) if pixels is not None and qualifies(pixels)]
    if cached:
        return min(cached, key=lambda pixels: pixels.width * pixels.height), False
    if not full and image._redecode_side is not None:  # decode as intake did, before pixels were forgotten
        long_side = max(long_side or 0, image._redecode_side)
        full = long_side >= image.long_side
    decoded, _ = _decode_opened(_open(image.data, image.format), None if full else long_side)
    if image._image is None:
        image._image = decoded
    elif image._larger is None or decoded.width > image._larger.width:
        image._larger = decoded
    return decoded, True


# ---------------------------------------------------------------------------------------------- fit


def fit(image: IntakeImage, limits: ImageLimits) -> PreparedImage:
    """Bytes one vendor accepts: the original untouched when it already qualifies, else an upright,
    downscaled re-encode (JPEG when allowed) shrunk in quality, then size, until under `max_bytes`.

    Raises `ImageRejected("too_small")` when the photo is under the vendor's `min_side`, `"too_thin"` when
    that cannot be met once an extreme aspect ratio is squeezed under its `max_side`, and `"too_large"`
    when no size fits `max_bytes`.
    """
    if min(image.width, image.height) < limits.min_side:
        raise ImageRejected("too_small", f"short side under this service's {limits.min_side} px")
    if passes_through(image, limits):
        return PreparedImage(image.data, image.format, image.width, image.height, 1.0)
    out_format = _output_format(limits.formats)
    target = _fit_size((image.width, image.height), limits.max_side)
    if min(target) < limits.min_side:
        raise ImageRejected("too_thin", f"{target[0]}×{target[1]} after fitting to {limits.max_side} px")
    pixels, fresh = _pixels_at_least(image, max(target))
    if max(pixels.size) > limits.max_side:
        pixels = _downscale(pixels, target)
    elif not fresh:
        pixels = pixels.copy()  # Image.save writes encoder state onto the image: never save a shared one
    data, pixels = _encode_within(pixels, out_format, limits)
    return PreparedImage(data, out_format, pixels.width, pixels.height, pixels.width / image.width)


def passes_through(image: IntakeImage, limits: ImageLimits) -> bool:
    """Whether `fit` would send the original bytes untouched (no decode, no re-encode)."""
    return (
        image.format in limits.formats
        and len(image.data) <= limits.max_bytes
        and image.long_side <= limits.max_side
        and image.orientation == 1
    )


def _output_format(allowed: frozenset[str]) -> str:
    for candidate in _OUTPUT_PREFERENCE:
        if candidate in allowed:
            return candidate
    raise ValueError(f"no encodable format among {sorted(allowed)}")


def _fit_size(size: tuple[int, int], max_side: int) -> tuple[int, int]:
    """`size` scaled (never up) so its long side is at most `max_side`, keeping the aspect ratio."""
    width, height = size
    ratio = min(1.0, max_side / max(width, height))
    return max(1, min(max_side, round(width * ratio))), max(1, min(max_side, round(height * ratio)))


def _downscale(pixels: Image.Image, size: tuple[int, int]) -> Image.Image:
    """A new image of `size`: box-averaging reduce() by the whole factor (area-correct, no aliasing,
    and several times faster than a wide LANCZOS kernel), then BILINEAR for the remaining < 2× step,
    where its antialiased kernel is as sharp as LANCZOS at half the cost. Large photos spend most of
    their fit()/to_pil() time here, so this is what keeps intake fast."""
    factor = min(pixels.width // size[0], pixels.height // size[1])
    reduced = pixels.reduce(factor) if factor >= 2 else pixels
    if reduced.size == size:
        return reduced if reduced is not pixels else pixels.copy()
    return reduced.resize(size, Image.Resampling.BILINEAR)


def _encode_within(pixels: Image.Image, out_format: str, limits: ImageLimits) -> tuple[bytes, Image.Image]:
    """Encode under `limits.max_bytes`: step the quality down first (cheap for the eye), then the size,
    aiming each shrink at the byte limit since encoded size grows roughly with pixel count."""
    qualities: tuple[int | None, ...] = LOSSY_QUALITIES if out_format in _LOSSY else (None,)
    encoded = b""
    for quality in qualities:
        encoded = _encode(pixels, out_format, quality)
        if len(encoded) <= limits.max_bytes:
            return encoded, pixels
    last_quality = qualities[-1]
    for _ in range(MAX_SHRINK_ROUNDS):
        factor = min(0.9, math.sqrt(limits.max_bytes / len(encoded)) * 0.95)
        size = (max(1, round(pixels.width * factor)), max(1, round(pixels.height * factor)))
        if min(size) < limits.min_side:
            break
        pixels = _downscale(pixels, size)
        encoded = _encode(pixels, out_format, last_quality)
        if len(encoded) <= limits.max_bytes:
            return encoded, pixels
    raise ImageRejected("too_large", f"cannot fit under {limits.max_bytes} bytes as {out_format}")


def _encode(pixels: Image.Image, out_format: str, quality: int | None) -> bytes:
    options: dict[str, object] = {}
    if quality is not None:
        options["quality"] = quality
    if out_format == "PNG":
        options["compress_level"] = 6
    elif out_format == "TIFF":
        options["compression"] = "tiff_deflate"
    buffer = io.BytesIO()
    pixels.save(buffer, out_format, **options)
    return buffer.getvalue()


# ------------------------------------------------------------------------------------------- to_pil


def to_pil(image: IntakeImage, max_side: int | None = None) -> Image.Image:
    """Decoded RGB pixels, EXIF-transposed, downscaled (JPEG draft) so the long side is <= max_side.

    Always a new image the caller may draw on; the cached decode is never handed out.
    """
    wanted = None if max_side is None else min(max_side, image.long_side)
    pixels, _ = _pixels_at_least(image, wanted)
    if max_side is not None and max(pixels.size) > max_side:
        pixels = _downscale(pixels, _fit_size(pixels.size, max_side))
        return pixels if pixels.mode == "RGB" else pixels.convert("RGB")
    return pixels.convert("RGB") if pixels.mode != "RGB" else pixels.copy()
