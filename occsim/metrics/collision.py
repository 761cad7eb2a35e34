"""Collisions of the ego footprint with actor boxes and with raised static voxels; impact speed."""

from __future__ import annotations

from dataclasses import dataclass

import numba
import numpy as np
import shapely

from occsim.classes import CLASS_NAMES, FREE
from occsim.types import GROUND_LAYER, ActorState, EgoState
from occsim.world.background import StaticWorld
from occsim.world.boxes import box_corners
from occsim.world.ego import EGO_CENTRE_OFFSET, EGO_SIZE, footprint_corners

STATIC_SAMPLE = 0.2  # [m] spacing of footprint samples tested against static voxels
# Footprint samples in the ego frame, flat in the order the compiled check takes them.
_SAMPLES_X, _SAMPLES_Y = (
    grid.ravel()
    for grid in np.meshgrid(
        np.arange(-EGO_SIZE[0] / 2, EGO_SIZE[0] / 2 + 1e-9, STATIC_SAMPLE),
        np.arange(-EGO_SIZE[1] / 2, EGO_SIZE[1] / 2 + 1e-9, STATIC_SAMPLE),
        indexing="ij",
    )
)
_EGO_RADIUS = 0.5 * float(np.hypot(EGO_SIZE[0], EGO_SIZE[1]))


@dataclass(frozen=True)
class Collision:
    """What the ego hit and how hard."""

    with_id: str  # actor id, or "static:<class>"
    with_class: str
    impact_speed: float  # [m/s] magnitude of the relative velocity at contact
    static: bool  # the other party was a static obstacle or a stopped actor


def ego_velocity(ego: EgoState) -> np.ndarray:
    """World-frame velocity (2,) of the ego [m/s]."""
    return ego.speed * np.array([np.cos(ego.pose.yaw), np.sin(ego.pose.yaw)])


def check_collision(ego: EgoState, actors: list[ActorState], static: StaticWorld) -> Collision | None:
    """The first collision of the ego footprint at this instant, or None; actors are tested before static voxels."""
    corners = footprint_corners(ego.pose)
    centre = (((corners[0] + corners[1]) + corners[2]) + corners[3]) / 4  # corners.mean(axis=0), without its dispatch
    # Only actors whose circumscribed circles touch the ego's go to the exact polygon test.
    near = [
        a
        for a in actors
        if np.hypot(a.pose.x - centre[0], a.pose.y - centre[1]) <= _EGO_RADIUS + 0.5 * np.hypot(a.size[0], a.size[1])
    ]
    if near:
        boxes = shapely.polygons(
            np.stack([box_corners(a.pose.x, a.pose.y, a.pose.yaw, a.size[0], a.size[1]) for a in near])
        )
        hits = np.flatnonzero(shapely.intersects(boxes, shapely.Polygon(corners)))
        if len(hits):
            a = near[int(hits[0])]
            rel = ego_velocity(ego) - np.asarray(a.velocity)
            moving = float(np.hypot(*a.velocity)) > 0.1
            return Collision(a.id, CLASS_NAMES[a.cls], float(np.hypot(*rel)), static=not moving)
    label = static_obstacle_under(ego, static)
    if label is not None:
        return Collision(f"static:{CLASS_NAMES[label]}", CLASS_NAMES[label], float(ego.speed), static=True)
    return None


def static_obstacle_under(ego: EgoState, static: StaticWorld) -> int | None:
    """Class of a raised static voxel inside the ego footprint below the roof, or None."""
    c, s = np.cos(ego.pose.yaw), np.sin(ego.pose.yaw)
    grid = static.grid
    top_layer = GROUND_LAYER + 1 + int(np.ceil(EGO_SIZE[2] / grid.voxel_size))
    label = _raised_under(
        ego.pose.x + c * EGO_CENTRE_OFFSET,
        ego.pose.y + s * EGO_CENTRE_OFFSET,
        c,
        s,
        _SAMPLES_X,
        _SAMPLES_Y,
        np.asarray(grid.lower, dtype=np.float64),
        float(grid.voxel_size),
        static.columns,
        static.labels,
        top_layer,
    )
    return None if label < 0 else label


@numba.njit(cache=True)
def _raised_under(cx, cy, c, s, gx, gy, lower, voxel, columns, labels, top_layer):  # pragma: no cover - numba
    """Class of the lowest raised voxel under the first footprint sample over a raised column, or -1 if none.

    Samples are taken in order; a column whose layers in range are all free also gives -1. A loop rather than
    numpy: it runs at every substep, where numpy's temporaries cost ten times more.
    """
    nx, ny = columns.shape
    layers = np.uint64(((1 << top_layer) - 1) & ~((1 << (GROUND_LAYER + 1)) - 1))
    for q in range(gx.shape[0]):
        i = int(np.floor((cx + c * gx[q] - s * gy[q] - lower[0]) / voxel))
        j = int(np.floor((cy + s * gx[q] + c * gy[q] - lower[1]) / voxel))
        if i < 0 or j < 0 or i >= nx or j >= ny or not columns[i, j] & layers:
            continue
        for k in range(GROUND_LAYER + 1, top_layer):
            if labels[i, j, k] != FREE:
                return int(labels[i, j, k])
        return -1
    return -1
