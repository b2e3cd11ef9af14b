"""A value's box cut out of the photo again, turned upright, for a second read of its line.

The parser gives a value's box in the photo's own coordinates (`scale` times the pixels the engine
read) and the angle that turns the page upright; steps that read one value again with what they know of
it (a person's name, an inspection station's code) cut that line out here.
"""

from __future__ import annotations

import math

import cv2
import numpy as np

from bot.vendors.local.frame import Frame, Rect

#: Space around the value's box when its line is cut out again, as a share of the box's height.
PAD = 0.15


def value_crop(bgr: np.ndarray, scale: float, degrees: float, rect: Rect) -> np.ndarray | None:
    """The value's box (input space, `scale` times the pixels) cut from the page turned upright."""
    x0, y0, x1, y1 = (coordinate / scale for coordinate in rect)
    frame = Frame(degrees)
    fx0, fy0, fx1, fy1 = frame.forward([(x0, y0), (x1, y0), (x1, y1), (x0, y1)])
    pad = PAD * min(fx1 - fx0, fy1 - fy0)
    fx0, fy0, fx1, fy1 = fx0 - pad, fy0 - pad, fx1 + pad, fy1 + pad
    width, height = round(fx1 - fx0), round(fy1 - fy0)
    if width < 4 or height < 4:
        return None
    radians = math.radians(degrees)
    cos, sin = math.cos(radians), math.sin(radians)
    # Frame point (u, v) comes from input point rotate((u, v), -degrees); the map below sends each output
    # pixel (c, r) to the input pixel it shows (WARP_INVERSE_MAP).
    u0, v0 = fx0, fy0
    matrix = np.array(
        [[cos, sin, u0 * cos + v0 * sin], [-sin, cos, -u0 * sin + v0 * cos]],
        dtype=np.float64,
    )
    return cv2.warpAffine(
        bgr,
        matrix,
        (width, height),
        flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
        borderValue=(255, 255, 255),
    )
