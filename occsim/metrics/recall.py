"""Object recall: whether a perception model finds, in rendered views, the actors a planner must react to.

An actor counts when it is within 40 m of the ego and the raster geometry of the frame shows it: enough pixels of
its projected box carry its class at a depth inside the box (a learned renderer's frames keep the raster's depth
and semantics, so visibility is the world's, not the generated image's). It is found when the perceived coarse
occupancy holds its class in a cell under its footprint. Recall is reported by class and distance band.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from occsim.classes import CLASS_NAMES
from occsim.types import OCC3D_GRID, ActorState, CameraFrames, CameraRig, Pose2D, VoxelGrid
from occsim.world.boxes import box_corners
from occsim.world.occupancy import actor_array

BANDS: tuple[tuple[float, float], ...] = ((0.0, 15.0), (15.0, 30.0), (30.0, 40.0))  # [m] from the ego
BAND_NAMES = tuple(f"{lo:g}-{hi:g}" for lo, hi in BANDS)  # "0-15", ...: the keys of a tally
MIN_VISIBLE_SHARE = 1e-4  # of a view's pixels (11 px at 256 x 448): fewer and nobody could be asked to see it
MIN_VISIBLE_PIXELS = 2
DEPTH_MARGIN = 0.5  # [m] around the box's depth range: the pixel belongs to this box, not a look-alike behind
VEHICLES = ("bus", "car", "construction_vehicle", "trailer", "truck")  # summed into one "vehicles" row
FOOTPRINT_STEP = 0.4  # [m] sampling of the footprint: finer than the finest cell, so thin actors hit a cell


@dataclass(frozen=True)
class Sighting:
    """One actor visible in one frame, and whether the perception model found it."""

    cls: int  # Occ3D class id
    distance: float  # [m] ground distance from the ego to the box centre
    found: bool


def band_name(distance: float) -> str | None:
    """``"0-15"``, ``"15-30"`` or ``"30-40"``; None beyond the last band."""
    for (lo, hi), name in zip(BANDS, BAND_NAMES, strict=True):
        if lo <= distance < hi:
            return name
    return None


def visible_actors(
    actors: list[ActorState], ego: Pose2D, frames: CameraFrames, rig: CameraRig, max_range: float = BANDS[-1][1]
) -> list[tuple[ActorState, float]]:
    """The actors within ``max_range`` that some camera sees, with their ground distance to the ego [m].

    ``frames`` must hold the raster's depth and semantics at ``rig``'s size (every OccSim renderer's do).
    """
    h, w = frames.depth.shape[1:3]
    need = max(MIN_VISIBLE_PIXELS, int(round(MIN_VISIBLE_SHARE * h * w)))
    seen = []
    for actor, (x, y, yaw, length, width, height, _) in zip(actors, actor_array(actors, ego), strict=True):
        distance = float(np.hypot(x, y))
        if distance >= max_range:
            continue
        ground = box_corners(x, y, yaw, length, width)  # ego frame
        corners = np.concatenate([np.c_[ground, np.zeros(4)], np.c_[ground, np.full(4, height)]])
        if any(_pixels(corners, actor.cls, frames, rig, v) >= need for v in range(len(rig.names))):
            seen.append((actor, distance))
    return seen


def _pixels(corners: np.ndarray, cls: int, frames: CameraFrames, rig: CameraRig, view: int) -> int:
    """Pixels of ``view`` inside the box's screen rectangle that show its class at a depth within the box."""
    rotation, position = rig.cam2ego[view, :3, :3], rig.cam2ego[view, :3, 3]
    cam = (corners - position) @ rotation  # camera frame, z forward
    if np.all(cam[:, 2] <= 0.05):
        return 0
    h, w = frames.depth.shape[1:3]
    if np.any(cam[:, 2] <= 0.05):  # straddles the image plane: the whole view may show it
        r0, r1, c0, c1 = 0, h, 0, w
    else:
        uv = cam @ rig.intrinsics[view].T
        u, v = uv[:, 0] / uv[:, 2], uv[:, 1] / uv[:, 2]
        r0, r1 = max(int(np.floor(v.min())), 0), min(int(np.ceil(v.max())) + 1, h)
        c0, c1 = max(int(np.floor(u.min())), 0), min(int(np.ceil(u.max())) + 1, w)
        if r0 >= r1 or c0 >= c1:
            return 0
    depth = frames.depth[view, r0:r1, c0:c1]
    near, far = max(cam[:, 2].min(), 0.0) - DEPTH_MARGIN, cam[:, 2].max() + DEPTH_MARGIN
    mine = (frames.semantic[view, r0:r1, c0:c1] == cls) & (depth >= near) & (depth <= far)
    return int(mine.sum())


def found_in_occupancy(actor: ActorState, ego: Pose2D, perceived: np.ndarray, grid: VoxelGrid = OCC3D_GRID) -> bool:
    """Whether the actor's class is in a cell of ``perceived`` under its footprint, at any height.

    ``perceived``: coarse Occ3D labels over ``grid``'s extent, ego frame.
    """
    cell = (np.asarray(grid.upper) - np.asarray(grid.lower))[:2] / np.asarray(perceived.shape[:2])
    length, width = actor.size[:2]
    us = np.arange(-length / 2, length / 2 + 1e-9, min(FOOTPRINT_STEP, length / 2))
    vs = np.arange(-width / 2, width / 2 + 1e-9, min(FOOTPRINT_STEP, width / 2))
    uu, vv = np.meshgrid(us, vs, indexing="ij")
    footprint = actor.pose.to_parent(np.stack([uu.ravel(), vv.ravel()], axis=1))
    local = ego.to_local(footprint)
    index = np.floor((local - np.asarray(grid.lower)[:2]) / cell).astype(np.int64)
    inside = np.all((index >= 0) & (index < perceived.shape[:2]), axis=1)
    if not inside.any():
        return False
    i, j = np.unique(index[inside], axis=0).T
    return bool((perceived[i, j] == actor.cls).any())


def sightings(
    actors: list[ActorState], ego: Pose2D, frames: CameraFrames, rig: CameraRig, perceived: np.ndarray
) -> list[Sighting]:
    """Every visible actor of one frame and whether ``perceived`` (the meter's coarse labels) found it."""
    return [
        Sighting(actor.cls, round(distance, 2), found_in_occupancy(actor, ego, perceived))
        for actor, distance in visible_actors(actors, ego, frames, rig)
    ]


def tally(seen: list[Sighting]) -> dict[str, dict[str, list[int]]]:
    """{class name: {band: [found, visible]}} over sightings (JSON-ready, summable across runs)."""
    out: dict[str, dict[str, list[int]]] = {}
    for s in seen:
        band = band_name(s.distance)
        if band is None:
            continue
        counts = out.setdefault(CLASS_NAMES[s.cls], {}).setdefault(band, [0, 0])
        counts[0] += int(s.found)
        counts[1] += 1
    return out


def merge_tallies(tallies: list[dict[str, dict[str, list[int]]]]) -> dict[str, dict[str, list[int]]]:
    """The sum of several ``tally`` results (None entries skipped)."""
    out: dict[str, dict[str, list[int]]] = {}
    for t in tallies:
        for name, bands in (t or {}).items():
            for band, (found, visible) in bands.items():
                counts = out.setdefault(name, {}).setdefault(band, [0, 0])
                counts[0] += found
                counts[1] += visible
    return out


def recall(counts: list[int]) -> float:
    """The share found of ``[found, visible]`` (NaN with nothing visible)."""
    found, visible = counts
    return found / visible if visible else float("nan")
