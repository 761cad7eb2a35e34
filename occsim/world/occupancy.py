"""Cutting the ego-centred Occ3D window out of the world map and rasterising actors into it."""

from __future__ import annotations

import numba
import numpy as np

from occsim.classes import FREE
from occsim.types import OCC3D_GRID, ActorState, Pose2D, VoxelGrid
from occsim.world.background import StaticWorld


def actor_array(actors: list[ActorState], frame: Pose2D) -> np.ndarray:
    """Actors as rows (x, y, yaw, length, width, height, class) in the frame of ``frame`` (float64)."""
    out = np.zeros((len(actors), 7))
    for i, a in enumerate(actors):
        x, y = frame.to_local(np.array([a.pose.x, a.pose.y]))
        out[i] = (x, y, a.pose.yaw - frame.yaw, *a.size, a.cls)
    return out


def occupancy_window(
    static: StaticWorld, actors: list[ActorState], ego: Pose2D, grid: VoxelGrid = OCC3D_GRID
) -> np.ndarray:
    """The (200, 200, 16) uint8 Occ3D labels around ``ego``, in the ego frame: static world plus actor boxes."""
    out = np.empty(grid.shape, dtype=np.uint8)
    _cut_window(
        static.labels,
        np.asarray(static.grid.lower),
        static.grid.voxel_size,
        np.array([ego.x, ego.y, ego.yaw]),
        np.asarray(grid.lower),
        grid.voxel_size,
        int(round((grid.lower[2] - static.grid.lower[2]) / grid.voxel_size)),
        out,
    )
    _stamp_boxes(out, np.asarray(grid.lower), grid.voxel_size, actor_array(actors, ego))
    return out


@numba.njit(cache=True)
def _cut_window(world, world_lower, world_voxel, ego, lower, voxel, z_shift, out):  # pragma: no cover - numba
    nx, ny, nz = out.shape
    c, s = np.cos(ego[2]), np.sin(ego[2])
    for i in range(nx):
        px = lower[0] + (i + 0.5) * voxel
        for j in range(ny):
            py = lower[1] + (j + 0.5) * voxel
            wx = ego[0] + c * px - s * py
            wy = ego[1] + s * px + c * py
            gi = int(np.floor((wx - world_lower[0]) / world_voxel))
            gj = int(np.floor((wy - world_lower[1]) / world_voxel))
            if 0 <= gi < world.shape[0] and 0 <= gj < world.shape[1]:
                for k in range(nz):
                    kk = k + z_shift
                    out[i, j, k] = world[gi, gj, kk] if 0 <= kk < world.shape[2] else FREE
            else:
                for k in range(nz):
                    out[i, j, k] = FREE


@numba.njit(cache=True)
def _stamp_boxes(out, lower, voxel, boxes):  # pragma: no cover - numba
    nx, ny, nz = out.shape
    for b in range(boxes.shape[0]):
        x, y, yaw, length, width, height, cls = boxes[b]
        c, s = np.cos(yaw), np.sin(yaw)
        r = 0.5 * np.hypot(length, width)
        i0 = max(0, int(np.floor((x - r - lower[0]) / voxel)))
        i1 = min(nx - 1, int(np.floor((x + r - lower[0]) / voxel)))
        j0 = max(0, int(np.floor((y - r - lower[1]) / voxel)))
        j1 = min(ny - 1, int(np.floor((y + r - lower[1]) / voxel)))
        for i in range(i0, i1 + 1):
            px = lower[0] + (i + 0.5) * voxel - x
            for j in range(j0, j1 + 1):
                py = lower[1] + (j + 0.5) * voxel - y
                u = c * px + s * py
                v = -s * px + c * py
                if abs(u) <= 0.5 * length and abs(v) <= 0.5 * width:
                    for k in range(nz):
                        zc = lower[2] + (k + 0.5) * voxel
                        if 0.0 <= zc < height:
                            out[i, j, k] = np.uint8(cls)
