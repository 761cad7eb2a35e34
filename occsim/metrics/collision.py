"""Collisions of the ego footprint with actor boxes and with raised static voxels; impact speed."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import shapely

from occsim.classes import CLASS_NAMES, FREE
from occsim.types import GROUND_LAYER, ActorState, EgoState
from occsim.world.background import StaticWorld
from occsim.world.ego import EGO_CENTRE_OFFSET, EGO_SIZE, footprint_corners
from occsim.world.geometry import box_corners

STATIC_SAMPLE = 0.2  # [m] spacing of footprint samples tested against static voxels
_SAMPLES = np.meshgrid(
    np.arange(-EGO_SIZE[0] / 2, EGO_SIZE[0] / 2 + 1e-9, STATIC_SAMPLE),
    np.arange(-EGO_SIZE[1] / 2, EGO_SIZE[1] / 2 + 1e-9, STATIC_SAMPLE),
    indexing="ij",
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
    centre = corners.mean(axis=0)
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
    gx, gy = _SAMPLES
    height = EGO_SIZE[2]
    c, s = np.cos(ego.pose.yaw), np.sin(ego.pose.yaw)
    cx = ego.pose.x + c * EGO_CENTRE_OFFSET
    cy = ego.pose.y + s * EGO_CENTRE_OFFSET
    wx = cx + c * gx - s * gy
    wy = cy + s * gx + c * gy
    grid = static.grid
    i = np.floor((wx - grid.lower[0]) / grid.voxel_size).astype(np.int64).ravel()
    j = np.floor((wy - grid.lower[1]) / grid.voxel_size).astype(np.int64).ravel()
    inside = (i >= 0) & (j >= 0) & (i < grid.shape[0]) & (j < grid.shape[1])
    i, j = i[inside], j[inside]
    top_layer = GROUND_LAYER + 1 + int(np.ceil(height / grid.voxel_size))
    layers = np.uint64(((1 << top_layer) - 1) & ~((1 << (GROUND_LAYER + 1)) - 1))
    blocked = np.flatnonzero(static.columns[i, j] & layers)
    if not len(blocked):
        return None
    column = static.labels[i[blocked[0]], j[blocked[0]], GROUND_LAYER + 1 : top_layer]
    raised = column[column != FREE]
    return int(raised[0]) if len(raised) else None
