"""Oriented boxes on the ground plane."""

from __future__ import annotations

import numba
import numpy as np
import shapely

_UNIT_CORNERS = np.array([[1.0, 1.0], [1.0, -1.0], [-1.0, -1.0], [-1.0, 1.0]])


def box_corners(x: float, y: float, yaw: float, length: float, width: float) -> np.ndarray:
    """Corners (4, 2) of a box centred at (x, y) heading ``yaw``: front-left, front-right, rear-right, rear-left."""
    return _corners(float(x), float(y), float(np.cos(yaw)), float(np.sin(yaw)), length / 2, width / 2)


@numba.njit(cache=True)
def _corners(x, y, c, s, half_length, half_width):  # pragma: no cover - numba
    """``box_corners`` as a loop: it runs for the ego and every near actor at every substep."""
    out = np.empty((4, 2))
    for k in range(4):
        lx, ly = _UNIT_CORNERS[k, 0] * half_length, _UNIT_CORNERS[k, 1] * half_width
        out[k, 0] = x + c * lx - s * ly
        out[k, 1] = y + s * lx + c * ly
    return out


def box_polygon(x: float, y: float, yaw: float, length: float, width: float) -> shapely.Polygon:
    """The box as a shapely polygon."""
    return shapely.Polygon(box_corners(x, y, yaw, length, width))
