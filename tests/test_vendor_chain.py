"""The vendor chain: order, fall-through only on failures that are not the photo's fault."""

import io
from typing import ClassVar

import pytest
from PIL import Image

from bot.images import ImageLimits, IntakeImage, load
from bot.models import Kind, Recognition, Side
from bot.vendors.base import ErrorCategory, VendorChain, build_vendor, known_vendors, vendor_class
from tests.fakes.vendors import ScriptedPrimary, ScriptedSettings

IMAGE = IntakeImage(data=b"jpeg", format="JPEG", width=800, height=500, sha256="0" * 64)


def chain(*outcomes: str) -> VendorChain:
    names = ["scripted", "scripted_backup"]
    return VendorChain(build_vendor(names[i], {"outcome": o}) for i, o in enumerate(outcomes))


@pytest.mark.parametrize("first", ["timeout", "server", "quota_or_rate"])
async def test_falls_through_to_the_next_vendor_on_transient_failures(first):
    result = await chain(first, "ok").recognize("driving", "front", IMAGE)
    assert result.recognition is not None
    assert result.recognition.vendor == "scripted_backup"
    assert [a.vendor for a in result.attempts] == ["scripted", "scripted_backup"]
    assert result.attempts[0].status == first
    assert result.attempts[1].status == "ok"


@pytest.mark.parametrize("first", ["auth", "bad_image", "not_found"])
async def test_stops_on_failures_another_vendor_would_repeat(first):
    result = await chain(first, "ok").recognize("driving", "front", IMAGE)
    assert result.recognition is None
    assert result.error is not None and result.error.category == ErrorCategory(first)
    assert result.error.code == "X-1"  # the vendor's own code survives
    assert len(result.attempts) == 1


class _Fussy(ScriptedPrimary):
    """Fits the photo to its own limits first, as every cloud adapter does: short side at least 100 px
    after the long side is brought within 4096 (Huawei's licence limits)."""

    limits: ClassVar[ImageLimits] = ImageLimits(max_side=4096, min_side=100)

    async def recognize(self, kind: Kind, side: Side, image: IntakeImage) -> Recognition:
        self.prepare(image)
        return await super().recognize(kind, side, image)


async def test_a_photo_one_vendor_cannot_fit_goes_on_to_the_next():
    buffer = io.BytesIO()
    Image.new("RGB", (8200, 100), "white").save(buffer, "JPEG")
    strip = load(buffer.getvalue())  # 4096×50 once fitted: too small for the first vendor alone
    vendors = VendorChain([_Fussy(ScriptedSettings()), build_vendor("scripted_backup", {})])
    result = await vendors.recognize("driving", "front", strip)
    assert result.recognition is not None and result.recognition.vendor == "scripted_backup"
    assert [(a.vendor, a.status, a.code) for a in result.attempts[:1]] == [
        ("scripted", "bad_image", "too_thin")
    ]

    alone = await VendorChain([_Fussy(ScriptedSettings())]).recognize("driving", "front", strip)
    assert alone.error is not None and alone.error.code == "too_thin"  # the user hears why


async def test_success_with_empty_fields_is_not_found():
    result = await chain("empty", "ok").recognize("driving", "front", IMAGE)
    assert result.recognition is None
    assert result.error.category == ErrorCategory.NOT_FOUND


async def test_vendor_that_cannot_read_the_page_is_skipped():
    result = await chain("ok").recognize("driving", "back", IMAGE)
    assert result.recognition is None
    assert result.attempts[0].status == "skipped"
    assert result.error.category == ErrorCategory.NOT_FOUND


async def test_all_vendors_failing_reports_the_last_error():
    result = await chain("timeout", "server").recognize("plate", "front", IMAGE)
    assert result.recognition is None
    assert result.error.category == ErrorCategory.SERVER
    assert [a.status for a in result.attempts] == ["timeout", "server"]


def test_registry_knows_the_embedded_engine_and_rejects_unknown_names():
    assert "local" in known_vendors()
    with pytest.raises(KeyError, match="unknown vendor"):
        vendor_class("nosuchvendor")


async def test_only_a_photo_that_must_be_re_encoded_leaves_the_event_loop():
    """Fitting a photo that already qualifies is cheap and runs inline; a re-encode goes to a thread."""
    import io
    import threading

    from PIL import Image

    from bot.images import ImageLimits, load
    from bot.vendors.base import off_loop_if_heavy

    buffer = io.BytesIO()
    Image.new("RGB", (800, 600), "white").save(buffer, "JPEG", quality=90)
    photo = load(buffer.getvalue())
    roomy = ImageLimits(max_bytes=4_000_000, max_side=4096, min_side=15, formats=frozenset({"JPEG"}))
    tight = ImageLimits(max_bytes=4_000_000, max_side=400, min_side=15, formats=frozenset({"JPEG"}))
    here = threading.get_ident()
    assert await off_loop_if_heavy(photo, roomy, threading.get_ident) == here
    assert await off_loop_if_heavy(photo, tight, threading.get_ident) != here


def test_intake_decodes_as_far_as_the_first_vendor_that_reads_the_request_needs():
    """A cloud vendor uploads the bytes (a verify-only decode will do); the embedded engine reads the
    pixels, so a chain that starts with it has the photo decoded once, at least at its max_side."""
    from bot.images import LOAD_DECODE_SIDE, VERIFY_DECODE_SIDE

    cloud_then_local = VendorChain([build_vendor("scripted", {}), build_vendor("local", {})])

    assert cloud_then_local.intake_side("driving", "front") == VERIFY_DECODE_SIDE
    assert cloud_then_local.intake_side("driving", "back") == LOAD_DECODE_SIDE  # scripted reads no backs
    assert VendorChain([build_vendor("local", {"max_side": 4096})]).intake_side("plate", "front") == 4096
