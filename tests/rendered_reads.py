"""A rendered 行驶证 page read end to end by the embedded engine, for tests that check a reading step is
wired into the page read: the page is drawn from a seeded vehicle and sent as a chat photo (a JPEG)."""

from __future__ import annotations

import io
import random

from bot.images import load
from bot.models import Recognition, Side
from bot.vendors.local.vendor import LocalVendor
from tests import specimens


def read_rendered_vehicle(seed: str, side: Side) -> tuple[Recognition, dict[str, object]]:
    """The engine's reading of the `side` page of the vehicle `seed` draws, and that page's truth."""
    vehicle = specimens.make_vehicle(random.Random(seed))
    image, truth = specimens.render_vehicle(vehicle, side)
    buffer = io.BytesIO()
    image.convert("RGB").save(buffer, "JPEG", quality=92)
    return LocalVendor({}).recognize_sync("vehicle", side, load(buffer.getvalue())), truth
