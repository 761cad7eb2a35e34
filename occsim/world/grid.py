"""Axis-aligned voxel grids: the Occ3D window spec and world-index transforms."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class VoxelGrid:
    """A regular grid of cubic voxels; ``lower`` is the corner of voxel (0, 0, 0)."""

    shape: tuple[int, int, int]  # (nx, ny, nz) voxels
    voxel_size: float  # [m]
    lower: tuple[float, float, float]  # (x, y, z) [m] in the grid's frame

    @property
    def upper(self) -> tuple[float, float, float]:
        """Far corner of the grid [m]."""
        return tuple(lo + n * self.voxel_size for lo, n in zip(self.lower, self.shape))  # type: ignore[return-value]

    def index_of(self, points: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Integer voxel indices (N, 3) of points (N, 3) [m] and a mask of those inside the grid."""
        idx = np.floor((np.asarray(points, dtype=np.float64) - self.lower) / self.voxel_size).astype(np.int64)
        inside = np.all((idx >= 0) & (idx < np.asarray(self.shape)), axis=-1)
        return idx, inside

    def centres(self, axis: int) -> np.ndarray:
        """Voxel centre coordinates [m] along one axis."""
        return self.lower[axis] + (np.arange(self.shape[axis]) + 0.5) * self.voxel_size


# Occ3D-nuScenes: 200 x 200 x 16 voxels of 0.4 m over x, y in [-40, 40], z in [-1, 5.4], ego frame.
OCC3D_GRID = VoxelGrid(shape=(200, 200, 16), voxel_size=0.4, lower=(-40.0, -40.0, -1.0))
GROUND_LAYER = 2  # the z layer [-0.2, 0.2) m that holds the ground surface
