"""Oriented boxes on the ground plane."""

from __future__ import annotations

import numpy as np
import shapely

_UNIT_CORNERS = np.array([[1.0, 1.0], [1.0, -1.0], [-1.0, -1.0], [-1.0, 1.0]])


def box_corners(x: float, y: float, yaw: float, length: float, width: float) -> np.ndarray:
    """Corners (4, 2) of a box centred at (x, y) heading ``yaw``: front-left, front-right, rear-right, rear-left."""
    c, s = np.cos(yaw), np.sin(yaw)
    local = _UNIT_CORNERS * (length / 2, width / 2)
    return np.stack([x + c * local[:, 0] - s * local[:, 1], y + s * local[:, 0] + c * local[:, 1]], axis=1)


def box_polygon(x: float, y: float, yaw: float, length: float, width: float) -> shapely.Polygon:
    """The box as a shapely polygon."""
    return shapely.Polygon(box_corners(x, y, yaw, length, width))
