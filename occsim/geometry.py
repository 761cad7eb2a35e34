"""Geometry that the world and the planners share, numpy only, so that the planners room may import it.

Polylines (arc length, points at stations, straight extension, a trajectory along a route) and the bird's-eye
rasterisation of the Occ3D window.
"""

from __future__ import annotations

import numpy as np

from occsim.classes import (
    BARRIER,
    BICYCLE,
    BUS,
    CAR,
    CONSTRUCTION_VEHICLE,
    DRIVEABLE_SURFACE,
    MANMADE,
    MOTORCYCLE,
    OTHERS,
    PEDESTRIAN,
    TRAFFIC_CONE,
    TRAILER,
    TRUCK,
    VEGETATION,
)
from occsim.types import OCC3D_GRID, WAYPOINT_DT, WAYPOINTS, Trajectory


def segment_lengths(line: np.ndarray) -> np.ndarray:
    """(N - 1,) lengths [m] of the segments of the polyline ``line`` (N, 2)."""
    steps = np.diff(line, axis=0)
    return np.hypot(steps[:, 0], steps[:, 1])


def arc_length(line: np.ndarray) -> np.ndarray:
    """(N,) metres along the polyline ``line`` (N, 2) to each of its points (what projecting them onto it gives)."""
    return np.concatenate([[0.0], np.cumsum(segment_lengths(line))])


def points_at(line: np.ndarray, stations: np.ndarray, arc: np.ndarray | None = None) -> np.ndarray:
    """(M, 2) points of ``line`` (N, 2) at arc lengths ``stations`` (M,) [m], held at its ends beyond them.

    ``arc`` is ``arc_length(line)`` where the caller has it already.
    """
    arc = arc_length(line) if arc is None else arc
    return np.stack([np.interp(stations, arc, line[:, 0]), np.interp(stations, arc, line[:, 1])], axis=1)


def extend_straight(line: np.ndarray, length: float, spacing: float) -> np.ndarray:
    """``line`` (N, 2) continued straight on past its end by ``length`` metres, in points ``spacing`` apart.

    The direction is the last segment that moves (+x where none does), so a plan that stops still looks ahead.
    """
    lengths = segment_lengths(line)
    moving = np.flatnonzero(lengths > 1e-6)
    if len(moving):
        direction = (line[moving[-1] + 1] - line[moving[-1]]) / lengths[moving[-1]]
    else:
        direction = np.array([1.0, 0.0])
    steps = np.arange(spacing, length + 1e-9, spacing)[:, None]
    return np.vstack([line, line[-1] + steps * direction])


def along_route(route: np.ndarray, speed: float, offset: float) -> Trajectory:
    """At ``speed`` [m/s] along a route polyline (N, 2), shifted ``offset`` [m] to its left (negative: right).

    The polyline is in the ego frame from the ego's station on; past its end the waypoints hold at its end.
    """
    route = np.asarray(route, dtype=np.float64)
    steps = np.diff(route, axis=0)
    lengths = segment_lengths(route)
    arc = np.concatenate([[0.0], np.cumsum(lengths)])
    along = np.minimum(max(speed, 0.0) * WAYPOINT_DT * np.arange(1, WAYPOINTS + 1), arc[-1])
    points = points_at(route, along, arc)
    # The left normal of the segment each waypoint lies on (the last segment's beyond the end).
    moving = np.flatnonzero(lengths > 1e-9)
    if not len(moving):
        return Trajectory(points + np.array([0.0, offset]))
    segment = np.clip(np.searchsorted(arc, along, side="right") - 1, 0, len(steps) - 1)
    segment = moving[np.clip(np.searchsorted(moving, segment), 0, len(moving) - 1)]
    tangent = steps[segment] / lengths[segment, None]
    return Trajectory(points + offset * np.stack([-tangent[:, 1], tangent[:, 0]], axis=1))


# The bird's-eye occupancy image (``occsim.envs.BevObservation``, the ``rl`` planner): a top view of the privileged
# window centred on the ego, heading up and left to the left, one uint8 layer (0 or 255) per group of classes.
BEV_LAYERS = ("road", "route", "vehicles", "vulnerable", "obstacles", "static")
_BEV_RAISED = {  # layers read from 0.2 m above the ground up, as the vision planner's BEV targets
    "vehicles": (CAR, BUS, TRUCK, TRAILER, CONSTRUCTION_VEHICLE),
    "vulnerable": (PEDESTRIAN, BICYCLE, MOTORCYCLE),
    "obstacles": (TRAFFIC_CONE, BARRIER),
    "static": (OTHERS, MANMADE, VEGETATION),
}
_BEV_GROUND_LAYERS = 3  # the window's layers below 0.2 m
# Class -> bit of its layer, for the ground layers and for the raised ones: one lookup and an OR over z per cell.
_BEV_GROUND_BITS = np.zeros(256, np.uint8)
_BEV_GROUND_BITS[DRIVEABLE_SURFACE] = 1 << BEV_LAYERS.index("road")
_BEV_RAISED_BITS = np.zeros(256, np.uint8)
for _layer, _classes in _BEV_RAISED.items():
    _BEV_RAISED_BITS[list(_classes)] = 1 << BEV_LAYERS.index(_layer)
BEV_CELLS, BEV_EXTENT = 64, 38.4  # 64 x 64 cells of 1.2 m (3 x 3 voxels) over ±38.4 m


def bev_block(cells: int, extent: float) -> int:
    """Voxels per bird's-eye cell side.

    Raises:
        ValueError: ``2 * extent`` does not split into ``cells`` whole blocks of voxels within the 80 m window.
    """
    span = 2 * extent / OCC3D_GRID.voxel_size
    block = int(round(span / cells)) if cells > 0 else 0
    if not 0 < extent <= OCC3D_GRID.lower[0] * -1 or block < 1 or abs(block * cells - span) > 1e-6:
        raise ValueError(
            f"bird's-eye window: 2 * extent ({2 * extent} m) must be a whole number of {OCC3D_GRID.voxel_size} m "
            f"voxels per cell for {cells} cells, with extent in (0, 40] m (e.g. 64 cells over ±38.4 m)"
        )
    return block


def bev_layers(
    occupancy: np.ndarray, route: np.ndarray, cells: int = BEV_CELLS, extent: float = BEV_EXTENT
) -> np.ndarray:
    """(cells, cells, len(BEV_LAYERS)) uint8 top view: row 0 is ``extent`` ahead, column 0 ``extent`` to the left.

    Args:
        occupancy: (200, 200, 16) Occ3D window, ego frame ([i, j]: x forward, y left, ascending).
        route: (N, 2) the route ahead, ego frame [m] (drawn as a polyline one cell wide).
        cells: image side [px].
        extent: half the side [m].

    A cell is set where any voxel under it holds the layer's classes.
    """
    block = bev_block(cells, extent)
    half, span = OCC3D_GRID.shape[0] // 2, cells * block // 2
    window = occupancy[half - span : half + span, half - span : half + span]
    bits = np.zeros(window.shape[:2], np.uint8)
    for z in range(window.shape[2]):  # layer by layer: numpy reduces a short last axis slowly
        bits |= (_BEV_GROUND_BITS if z < _BEV_GROUND_LAYERS else _BEV_RAISED_BITS)[window[:, :, z]]
    pooled = np.bitwise_or.reduce(bits.reshape(cells, block, cells, block), axis=(1, 3))
    # Heading up: rows from far ahead to behind (x descending), columns from left to right (y descending).
    pooled = pooled[::-1, ::-1]
    image = ((pooled[..., None] >> np.arange(len(BEV_LAYERS), dtype=np.uint8)) & 1) * np.uint8(255)
    image[..., BEV_LAYERS.index("route")] = _route_cells(np.asarray(route, dtype=np.float64), cells, extent)
    return image


def _route_cells(route: np.ndarray, cells: int, extent: float) -> np.ndarray:
    """The cells a polyline passes through, sampled at a quarter cell."""
    layer = np.zeros((cells, cells), dtype=np.uint8)
    size = 2 * extent / cells
    if len(route) == 0:
        return layer
    steps = np.diff(route, axis=0)
    counts = np.maximum(1, np.ceil(segment_lengths(route) / (size / 4)).astype(int))
    segment = np.repeat(np.arange(len(steps)), counts)
    fraction = (np.arange(counts.sum()) - np.repeat(np.cumsum(counts) - counts, counts) + 1) / counts[segment]
    points = np.concatenate([route[:1], route[segment] + steps[segment] * fraction[:, None]])
    rows = np.floor((extent - points[:, 0]) / size).astype(int)
    cols = np.floor((extent - points[:, 1]) / size).astype(int)
    inside = (rows >= 0) & (rows < cells) & (cols >= 0) & (cols < cells)
    layer[rows[inside], cols[inside]] = 255
    return layer
