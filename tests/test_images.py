"""Image intake: every input is generated here with Pillow (or crafted byte by byte), none is stored."""

from __future__ import annotations

import hashlib
import io
import struct
import zlib
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
from PIL import Image

from bot.images import (
    MAX_UPLOAD_BYTES,
    VERIFY_DECODE_SIDE,
    ImageLimits,
    ImageRejected,
    IntakeImage,
    fit,
    load,
    to_pil,
)

RED, GREEN, BLUE, WHITE = (220, 30, 30), (30, 200, 40), (30, 40, 220), (250, 250, 250)


def quadrants(width: int = 400, height: int = 300) -> Image.Image:
    """Four solid quadrants (top-left red, top-right green, bottom-left blue, bottom-right white), so
    any rotation or flip is visible from four sample points, even through lossy codecs."""
    image = Image.new("RGB", (width, height), WHITE)
    half_w, half_h = width // 2, height // 2
    image.paste(RED, (0, 0, half_w, half_h))
    image.paste(GREEN, (half_w, 0, width, half_h))
    image.paste(BLUE, (0, half_h, half_w, height))
    return image


def corners(image: Image.Image) -> dict[str, tuple[int, ...]]:
    """Colour at the centre of each quadrant, keyed tl/tr/bl/br."""
    w, h = image.size
    return {
        "tl": image.getpixel((w // 4, h // 4)),
        "tr": image.getpixel((3 * w // 4, h // 4)),
        "bl": image.getpixel((w // 4, 3 * h // 4)),
        "br": image.getpixel((3 * w // 4, 3 * h // 4)),
    }


def assert_colour(actual: tuple[int, ...], expected: tuple[int, int, int], tolerance: int = 30) -> None:
    assert all(abs(a - e) <= tolerance for a, e in zip(actual[:3], expected, strict=True)), (actual, expected)


def encode(image: Image.Image, fmt: str, **options: object) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, fmt, **options)
    return buffer.getvalue()


def noise(width: int, height: int, seed: int = 7) -> Image.Image:
    """Incompressible pixels: what makes byte limits bite."""
    rng = np.random.default_rng(seed)
    return Image.fromarray(rng.integers(0, 256, (height, width, 3), dtype=np.uint8))


def png_chunk(kind: bytes, payload: bytes) -> bytes:
    return struct.pack(">I", len(payload)) + kind + payload + struct.pack(">I", zlib.crc32(kind + payload))


def png_header_only(width: int, height: int) -> bytes:
    """A PNG whose IHDR claims width×height but whose pixel data is a few bytes: decoding it would fail
    as truncated, so a 'bomb' verdict proves the header was judged before any decode."""
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    idat = zlib.compress(b"\x00" * 64)
    chunks = png_chunk(b"IHDR", ihdr) + png_chunk(b"IDAT", idat) + png_chunk(b"IEND", b"")
    return b"\x89PNG\r\n\x1a\n" + chunks


def with_orientation(image: Image.Image, orientation: int) -> bytes:
    exif = Image.Exif()
    exif[0x0112] = orientation
    return encode(image, "JPEG", quality=95, exif=exif)


@pytest.fixture(scope="module")
def big_photo() -> bytes:
    """A 12 MP JPEG, big enough for load() to decode it in draft mode (smooth, so it encodes fast)."""
    across = np.linspace(0, 255, 4000, dtype=np.float32)
    down = np.linspace(0, 255, 3000, dtype=np.float32)[:, None]
    pixels = np.empty((3000, 4000, 3), dtype=np.uint8)
    pixels[..., 0], pixels[..., 1], pixels[..., 2] = across, down, (across + down) / 2
    pixels[1400:1600, 1900:2100] = (255, 0, 0)  # a red block at the centre, to check content survives
    return encode(Image.fromarray(pixels), "JPEG", quality=90)


# ------------------------------------------------------------------------------------------ accepted


@pytest.mark.parametrize(
    ("fmt", "options"),
    [("JPEG", {"quality": 95}), ("PNG", {}), ("BMP", {}), ("WEBP", {"quality": 95}), ("TIFF", {})],
)
def test_accepted_formats_load_with_metadata_and_pixels(fmt: str, options: dict[str, object]) -> None:
    data = encode(quadrants(), fmt, **options)

    image = load(data)

    assert (image.format, image.width, image.height) == (fmt, 400, 300)
    assert image.sha256 == hashlib.sha256(data).hexdigest()
    assert image.data == data
    pixels = to_pil(image)
    assert (pixels.mode, pixels.size) == ("RGB", (400, 300))
    seen = corners(pixels)
    for corner, colour in (("tl", RED), ("tr", GREEN), ("bl", BLUE), ("br", WHITE)):
        assert_colour(seen[corner], colour)


def test_mpo_from_a_phone_is_a_jpeg_not_an_animation() -> None:
    """Phones append depth maps / gain maps as extra MPO frames; the first frame is the photo."""
    data = encode(quadrants(), "MPO", save_all=True, append_images=[Image.new("RGB", (400, 300))])

    image = load(data)

    assert image.format == "JPEG"
    assert_colour(corners(to_pil(image))["tl"], RED)


def test_transparent_png_is_flattened_onto_white() -> None:
    rgba = Image.new("RGBA", (200, 200), (0, 0, 0, 0))
    rgba.paste((20, 20, 20, 255), (50, 50, 150, 150))

    pixels = to_pil(load(encode(rgba, "PNG")))

    assert_colour(pixels.getpixel((10, 10)), (255, 255, 255), tolerance=0)
    assert_colour(pixels.getpixel((100, 100)), (20, 20, 20), tolerance=0)


def test_sixteen_bit_greyscale_is_scaled_not_clipped_to_white() -> None:
    grey16 = Image.fromarray(np.full((150, 200), 0x8000, dtype=np.uint16))
    assert grey16.mode.startswith("I;16")

    pixels = to_pil(load(encode(grey16, "PNG")))

    assert_colour(pixels.getpixel((5, 5)), (128, 128, 128), tolerance=2)


# ------------------------------------------------------------------------------------------ refused


def refusal(data: bytes, **kwargs: int) -> str:
    with pytest.raises(ImageRejected) as caught:
        load(data, **kwargs)
    return caught.value.reason


def test_empty_upload() -> None:
    assert refusal(b"") == "empty"


def test_over_twenty_megabytes_is_refused_before_sniffing() -> None:
    oversized = b"\xff\xd8\xff\xe0" + b"\x00" * MAX_UPLOAD_BYTES
    assert refusal(oversized) == "too_large"
    assert refusal(encode(quadrants(), "PNG"), max_bytes=100) == "too_large"


@pytest.mark.parametrize("frames", [1, 2])
def test_gif_is_refused_static_or_animated(frames: int) -> None:
    first, *rest = [quadrants().rotate(90 * i) for i in range(frames)]
    assert refusal(encode(first, "GIF", save_all=True, append_images=rest)) == "gif"


@pytest.mark.parametrize("fmt", ["WEBP", "PNG", "TIFF"])
def test_animated_and_multi_frame_images_are_refused(fmt: str) -> None:
    frames = [quadrants(), quadrants().transpose(Image.Transpose.FLIP_LEFT_RIGHT)]
    data = encode(frames[0], fmt, save_all=True, append_images=frames[1:])
    assert refusal(data) == "animated"


@pytest.mark.parametrize(
    "data",
    [
        np.random.default_rng(3).integers(0, 256, 5000, dtype=np.uint8).tobytes(),
        "驾驶证 scan attached\nplease check\n".encode() * 50,
        b"BMW X5 2019, plate and licence details follow" * 10,  # starts like a bitmap, is not one
        b"%PDF-1.7\n" + b"0" * 500,
    ],
    ids=["random-bytes", "text", "text-starting-BM", "pdf"],
)
def test_non_images_are_refused(data: bytes) -> None:
    assert refusal(data) == "not_image"


def test_heic_is_recognised_as_an_unsupported_photo_format() -> None:
    heic_head = struct.pack(">I", 24) + b"ftypheic" + b"\x00\x00\x00\x00mif1heic" + b"\x00" * 200
    assert refusal(heic_head) == "unsupported_format"


@pytest.mark.parametrize(
    ("fmt", "options"),
    [("JPEG", {}), ("JPEG", {"progressive": True}), ("PNG", {})],
    ids=["jpeg", "progressive-jpeg", "png"],
)
@pytest.mark.parametrize("kept", [0.05, 0.6, 0.97])
def test_truncated_files_are_refused(fmt: str, options: dict[str, object], kept: float) -> None:
    data = encode(noise(400, 300), fmt, **options)
    assert refusal(data[: int(len(data) * kept)]) == "truncated"


def test_truncated_big_jpeg_is_caught_even_when_decoded_in_draft_mode(big_photo: bytes) -> None:
    assert refusal(big_photo[: len(big_photo) - 2000]) == "truncated"


@pytest.mark.parametrize("kept", [0.3, 0.97])
def test_a_verify_only_decode_still_catches_truncation(kept: float) -> None:
    data = encode(noise(1280, 853), "JPEG", quality=85)
    assert refusal(data[: int(len(data) * kept)], decode_side=VERIFY_DECODE_SIDE) == "truncated"


def test_a_verify_only_decode_keeps_an_eighth_and_decodes_more_on_demand() -> None:
    image = load(encode(quadrants(1280, 960), "JPEG", quality=95), decode_side=VERIFY_DECODE_SIDE)

    assert image._image is not None and image._image.size == (160, 120)  # libjpeg's 1/8 scale
    assert (image.width, image.height) == (1280, 960)
    full = to_pil(image)
    assert full.size == (1280, 960)
    assert_colour(full.getpixel((10, 10)), RED)


@pytest.mark.parametrize(("width", "height"), [(60000, 60000), (9000, 9000)])
def test_decompression_bombs_are_refused_from_the_header(width: int, height: int) -> None:
    # 60000² also trips Pillow's own bomb check; 9000² (81 MP) passes Pillow's but not ours.
    assert refusal(png_header_only(width, height)) == "bomb"


def test_a_progressive_jpeg_of_a_thousand_scans_is_refused_before_decoding() -> None:
    """libjpeg decodes every scan, even at a draft scale: 5 ms each on an 8000×6500 frame made a 600 KB
    file cost half a minute of CPU. A real progressive JPEG has about ten."""
    buffer = io.BytesIO()
    quadrants(800, 600).save(buffer, "JPEG", progressive=True)
    normal = buffer.getvalue()
    assert load(normal).width == 800  # ten-odd scans: fine
    last_scan = normal[normal.rindex(b"\xff\xda") : -2]  # up to the end-of-image marker
    bomb = normal[:-2] + last_scan * 1000 + b"\xff\xd9"
    assert refusal(bomb) == "bomb"


def test_a_large_png_is_kept_at_the_size_asked_for_not_whole() -> None:
    """A PNG has no draft decode: what load() keeps while the request waits must still be small."""
    image = load(encode(quadrants(4000, 3000), "PNG"), decode_side=1000)
    assert (image.width, image.height) == (4000, 3000)
    assert image._image is not None and 1000 <= max(image._image.size) < 2000
    assert to_pil(image).size == (4000, 3000)  # the whole photo is still there for whoever needs it


def test_a_png_under_twice_the_size_asked_for_is_brought_down_to_it_too() -> None:
    image = load(encode(quadrants(4000, 3000), "PNG"), decode_side=2500)
    assert image._image is not None and image._image.size == (2500, 1875)


def test_a_turned_transparent_png_is_shrunk_before_it_is_turned_and_flattened(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Turning and flattening each copy the whole image: done after the shrink, a 50 MP PNG with an
    alpha channel costs half what it did. The result is the same picture: upright, on white."""
    turned_at: list[tuple[int, int]] = []
    transpose = Image.Image.transpose

    def recording(self: Image.Image, method: Image.Transpose) -> Image.Image:
        turned_at.append(self.size)
        return transpose(self, method)

    monkeypatch.setattr(Image.Image, "transpose", recording)
    stored = quadrants(4000, 3000).convert("RGBA")
    stored.paste((0, 0, 0, 0), (1900, 1400, 2100, 1600))  # a transparent hole in the middle
    exif = Image.Exif()
    exif[0x0112] = 6
    image = load(encode(stored, "PNG", exif=exif), decode_side=1000)
    assert (image.width, image.height) == (3000, 4000)
    assert image._image is not None and image._image.size == (750, 1000) and image._image.mode == "RGB"
    seen = corners(image._image)
    for corner, colour in ORIENTATION_CASES[6].items():
        assert_colour(seen[corner], colour)
    assert_colour(image._image.getpixel((375, 500)), WHITE)
    assert turned_at == [(1000, 750)]


def test_a_palette_png_with_transparency_is_shrunk_in_colour_not_by_averaging_indices() -> None:
    stored = quadrants(4000, 3000).convert("P", palette=Image.Palette.ADAPTIVE, colors=4)
    stored.info["transparency"] = stored.getpixel((3999, 2999))  # the white quadrant
    image = load(encode(stored, "PNG", transparency=stored.info["transparency"]), decode_side=1000)
    assert image._image is not None and max(image._image.size) == 1000
    seen = corners(image._image)
    assert_colour(seen["tl"], RED)
    assert_colour(seen["tr"], GREEN)
    assert_colour(seen["bl"], BLUE)
    assert_colour(seen["br"], WHITE)


@pytest.mark.parametrize("size", [(80, 300), (300, 80)])
def test_photos_under_a_hundred_pixels_on_the_short_side_are_refused(size: tuple[int, int]) -> None:
    assert refusal(encode(Image.new("RGB", size, RED), "JPEG")) == "too_small"


def test_min_side_is_configurable() -> None:
    small = encode(Image.new("RGB", (60, 60), RED), "PNG")
    assert refusal(small) == "too_small"
    assert load(small, min_side=50).width == 60


# -------------------------------------------------------------------------------- EXIF orientation

# Where each stored quadrant ends up once displayed, per the EXIF/TIFF definition of the tag.
ORIENTATION_CASES = {
    # 3: rotated 180°.
    3: {"tl": WHITE, "tr": BLUE, "bl": GREEN, "br": RED},
    # 6: stored row 0 is the displayed right edge, stored column 0 the displayed top edge.
    6: {"tl": BLUE, "tr": RED, "bl": WHITE, "br": GREEN},
    # 8: stored row 0 is the displayed left edge, stored column 0 the displayed bottom edge.
    8: {"tl": GREEN, "tr": WHITE, "bl": RED, "br": BLUE},
}


@pytest.mark.parametrize("orientation", sorted(ORIENTATION_CASES))
def test_exif_orientation_is_applied_to_size_and_pixels(orientation: int) -> None:
    image = load(with_orientation(quadrants(400, 300), orientation))

    expected_size = (300, 400) if orientation in (6, 8) else (400, 300)
    assert (image.width, image.height) == expected_size
    pixels = to_pil(image)
    assert pixels.size == expected_size
    seen = corners(pixels)
    for corner, colour in ORIENTATION_CASES[orientation].items():
        assert_colour(seen[corner], colour)


def test_exif_orientation_counts_for_size_checks_after_rotation() -> None:
    image = load(with_orientation(quadrants(400, 120), 6))
    assert (image.width, image.height) == (120, 400)


# ---------------------------------------------------------------------------------------------- fit


def test_fit_passes_qualifying_originals_through_byte_for_byte() -> None:
    data = encode(quadrants(), "PNG")

    prepared = fit(load(data), ImageLimits(max_bytes=len(data), max_side=400, formats=frozenset({"PNG"})))

    assert prepared.data == data
    assert (prepared.format, prepared.width, prepared.height, prepared.scale) == ("PNG", 400, 300, 1.0)


def test_fit_reencodes_a_format_the_vendor_does_not_take_as_jpeg() -> None:
    image = load(encode(quadrants(), "BMP"))

    prepared = fit(image, ImageLimits(formats=frozenset({"JPEG", "PNG"})))

    assert prepared.format == "JPEG"
    decoded = Image.open(io.BytesIO(prepared.data))
    assert (decoded.format, decoded.size) == ("JPEG", (400, 300))
    assert_colour(corners(decoded.convert("RGB"))["tr"], GREEN)


def test_fit_uses_png_only_when_jpeg_is_not_allowed() -> None:
    prepared = fit(load(encode(quadrants(), "BMP")), ImageLimits(formats=frozenset({"PNG", "TIFF"})))
    assert prepared.format == "PNG"
    assert Image.open(io.BytesIO(prepared.data)).format == "PNG"


def test_fit_downscales_to_max_side_and_reports_the_scale() -> None:
    image = load(encode(quadrants(1600, 1200), "PNG"))

    prepared = fit(image, ImageLimits(max_side=500))

    decoded = Image.open(io.BytesIO(prepared.data))
    assert decoded.size == (prepared.width, prepared.height)
    assert max(decoded.size) <= 500
    assert max(decoded.size) >= 450  # downscaled to the limit, not far below it
    assert prepared.scale == pytest.approx(decoded.width / 1600)
    # A box found in the prepared image maps back onto the same place in the original.
    assert round(decoded.width / prepared.scale) == image.width
    assert round(decoded.height / prepared.scale) == image.height
    assert_colour(corners(decoded.convert("RGB"))["bl"], BLUE)


def test_fit_steps_quality_down_before_shrinking() -> None:
    photo = noise(600, 450)
    at_90, at_70 = len(encode(photo, "JPEG", quality=90)), len(encode(photo, "JPEG", quality=70))
    image = load(encode(photo, "PNG"))

    prepared = fit(image, ImageLimits(max_bytes=(at_90 + at_70) // 2))

    assert len(prepared.data) <= (at_90 + at_70) // 2
    assert (prepared.width, prepared.height, prepared.scale) == (600, 450, 1.0)


def test_fit_shrinks_when_quality_alone_cannot_meet_the_byte_limit() -> None:
    image = load(encode(noise(1200, 900), "PNG"))

    prepared = fit(image, ImageLimits(max_bytes=60_000))

    assert len(prepared.data) <= 60_000
    assert prepared.width < 1200
    assert Image.open(io.BytesIO(prepared.data)).size == (prepared.width, prepared.height)
    assert prepared.scale == pytest.approx(prepared.width / 1200)


def test_fit_gives_up_with_too_large_when_no_size_fits() -> None:
    with pytest.raises(ImageRejected) as caught:
        fit(load(encode(noise(400, 300), "PNG")), ImageLimits(max_bytes=200, min_side=100))
    assert caught.value.reason == "too_large"


def test_fit_refuses_when_the_vendor_minimum_cannot_be_met() -> None:
    strip = load(encode(Image.new("RGB", (4000, 100), RED), "PNG"))
    with pytest.raises(ImageRejected) as caught:
        fit(strip, ImageLimits(max_side=1000, min_side=50))
    assert caught.value.reason == "too_thin"


def test_fit_never_passes_through_a_photo_still_waiting_for_exif_rotation() -> None:
    data = with_orientation(quadrants(400, 300), 6)

    prepared = fit(load(data), ImageLimits(max_bytes=len(data) * 10))

    assert prepared.data != data
    decoded = Image.open(io.BytesIO(prepared.data))
    assert decoded.size == (300, 400)
    assert decoded.getexif().get(0x0112, 1) == 1
    assert_colour(corners(decoded.convert("RGB"))["tr"], RED)


def test_fit_decodes_full_resolution_when_the_vendor_takes_more_than_the_cached_draft(
    big_photo: bytes,
) -> None:
    image = load(big_photo)
    assert image._image is not None and image._image.width < 4000  # load() kept only a draft
    limits = ImageLimits(max_bytes=len(big_photo) - 1, max_side=4096)  # one byte too many: re-encode

    prepared = fit(image, limits)

    assert (prepared.width, prepared.height, prepared.scale) == (4000, 3000, 1.0)
    decoded = Image.open(io.BytesIO(prepared.data)).convert("RGB")
    assert_colour(decoded.getpixel((2000, 1500)), (255, 0, 0), tolerance=40)


def test_to_pil_honours_max_side_and_full_size(big_photo: bytes) -> None:
    image = load(big_photo)

    small, full = to_pil(image, max_side=1000), to_pil(image)

    assert max(small.size) <= 1000
    assert small.size[0] * 3 == pytest.approx(small.size[1] * 4, abs=4)
    assert full.size == (4000, 3000)
    assert_colour(small.getpixel((small.width // 2, small.height // 2)), (255, 0, 0), tolerance=40)
    assert to_pil(image, max_side=1000) is not to_pil(image, max_side=1000)  # callers may draw on it


@pytest.mark.parametrize("size", [(4000, 3000), (3000, 2000), (2880, 2160), (1200, 900)])
def test_an_image_that_forgot_its_pixels_decodes_the_same_ones_again(size: tuple[int, int]) -> None:
    """A photo waiting in the engine's queue drops its decode; its turn must read the same pixels (a
    3000×2000 photo came back 1500×1000 when decoded again for 1600 instead of intake's 2048)."""
    image = load(encode(quadrants(*size), "JPEG", quality=95), decode_side=2048)  # the engine's intake
    before = to_pil(image, max_side=1600)  # the engine's working size
    image.forget_pixels()
    after = to_pil(image, max_side=1600)
    assert after.size == before.size and after.tobytes() == before.tobytes()


def test_intake_image_built_by_hand_is_decoded_on_first_use() -> None:
    data = encode(quadrants(), "JPEG", quality=95)
    image = IntakeImage(data, "JPEG", 400, 300, hashlib.sha256(data).hexdigest())

    assert_colour(corners(to_pil(image, max_side=200))["br"], WHITE)


def test_concurrent_fit_and_to_pil_on_one_image_agree_with_sequential_results() -> None:
    data = encode(noise(900, 600), "PNG")
    limits = [ImageLimits(max_side=side, max_bytes=400_000) for side in (300, 500, 700)]
    expected = [fit(load(data), lim).data for lim in limits]
    shared = load(data)

    with ThreadPoolExecutor(max_workers=4) as pool:
        fitted = list(pool.map(lambda lim: fit(shared, lim).data, limits * 4))
        pictures = list(pool.map(lambda side: to_pil(shared, max_side=side).size, (300, 500) * 4))

    assert fitted == expected * 4
    assert pictures == [(300, 200), (500, 333)] * 4


def test_rejection_carries_reason_and_detail() -> None:
    error = ImageRejected("bomb", "9000×9000")
    assert (error.reason, error.detail, str(error)) == ("bomb", "9000×9000", "bomb: 9000×9000")
