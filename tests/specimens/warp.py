"""Plane geometry for the specimens: homographies, Pillow's perspective coefficients, boxes after warps.

Every geometric degradation is a 3x3 homography from input pixels to output pixels, so plate boxes can
follow the image through any chain of rotations, perspective and resizing.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

Point = tuple[float, float]
Quad = tuple[Point, Point, Point, Point]


def homography(source: Sequence[Point], target: Sequence[Point]) -> np.ndarray:
    """The 3x3 matrix that maps the four `source` points onto the four `target` points."""
    rows, rhs = [], []
    for (x, y), (u, v) in zip(source, target, strict=True):
        rows.append([x, y, 1, 0, 0, 0, -u * x, -u * y])
        rows.append([0, 0, 0, x, y, 1, -v * x, -v * y])
        rhs += [u, v]
    solution = np.linalg.solve(np.array(rows, dtype=np.float64), np.array(rhs, dtype=np.float64))
    return np.append(solution, 1.0).reshape(3, 3)


def perspective_coefficients(output_quad: Sequence[Point], input_quad: Sequence[Point]) -> tuple[float, ...]:
    """Pillow's PERSPECTIVE data: it maps each output pixel back to where it comes from in the input."""
    matrix = homography(output_quad, input_quad)
    return tuple(float(value) for value in matrix.flatten()[:8])


def inverse_coefficients(matrix: np.ndarray) -> tuple[float, ...]:
    """Pillow's PERSPECTIVE data for a forward (input -> output) homography."""
    inverse = np.linalg.inv(matrix)
    inverse = inverse / inverse[2, 2]
    return tuple(float(value) for value in inverse.flatten()[:8])


def apply(matrix: np.ndarray, points: Sequence[Point]) -> list[Point]:
    result = []
    for x, y in points:
        u, v, w = matrix @ np.array([x, y, 1.0])
        result.append((float(u / w), float(v / w)))
    return result


def box_of(points: Sequence[Point], bounds: tuple[int, int]) -> dict[str, int]:
    """Axis-aligned box (bot.models.Box fields) around `points`, clipped to an image of size `bounds`."""
    xs = [min(max(x, 0.0), bounds[0]) for x, _ in points]
    ys = [min(max(y, 0.0), bounds[1]) for _, y in points]
    x0, y0 = int(np.floor(min(xs))), int(np.floor(min(ys)))
    x1, y1 = int(np.ceil(max(xs))), int(np.ceil(max(ys)))
    return {"x": x0, "y": y0, "width": x1 - x0, "height": y1 - y0}


def box_corners(box: dict[str, int]) -> list[Point]:
    x, y, w, h = box["x"], box["y"], box["width"], box["height"]
    return [(x, y), (x + w, y), (x + w, y + h), (x, y + h)]


def scaling(sx: float, sy: float) -> np.ndarray:
    return np.diag([sx, sy, 1.0])


def translation(dx: float, dy: float) -> np.ndarray:
    return np.array([[1.0, 0.0, dx], [0.0, 1.0, dy], [0.0, 0.0, 1.0]])


def rotation(degrees: float) -> np.ndarray:
    """Counter-clockwise on screen (y points down), the way Image.rotate turns content."""
    theta = np.radians(degrees)
    c, s = np.cos(theta), np.sin(theta)
    return np.array([[c, s, 0.0], [-s, c, 0.0], [0.0, 0.0, 1.0]])
