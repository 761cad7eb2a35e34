"""A bird's-eye occupancy observation for RL libraries, as highway-env's occupancy grid, from the privileged window.

The Occ3D window (and the route ahead) is rasterised to a top-down image centred on the ego, heading up and left
to the left, one uint8 layer (0 or 255) per group of classes: ``BEV_LAYERS``. A CNN policy (stable-baselines3's
``CnnPolicy``) reads it as it is; Gymnasium's ``FrameStackObservation`` (or SB3's ``VecFrameStack``) adds motion.
"""

from __future__ import annotations

import cv2
import gymnasium as gym
import numpy as np
from gymnasium import spaces
from gymnasium.vector import VectorEnv, VectorObservationWrapper
from gymnasium.vector.utils import batch_space

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
from occsim.types import OCC3D_GRID

BEV_LAYERS = ("road", "route", "vehicles", "vulnerable", "obstacles", "static")
_RAISED_GROUPS = (  # layers read from the voxels 0.2 m above the ground and up, as the vision planner's BEV
    (CAR, BUS, TRUCK, TRAILER, CONSTRUCTION_VEHICLE),
    (PEDESTRIAN, BICYCLE, MOTORCYCLE),
    (TRAFFIC_CONE, BARRIER),
    (OTHERS, MANMADE, VEGETATION),
)
GROUND_LAYERS = 3  # the window's lowest layers: the ground (z < 0.2 m)
DEFAULT_CELLS, DEFAULT_EXTENT = 64, 38.4  # 64 x 64 cells of 1.2 m (3 x 3 voxels) over ±38.4 m


def bev_layers(
    occupancy: np.ndarray, route: np.ndarray, cells: int = DEFAULT_CELLS, extent: float = DEFAULT_EXTENT
) -> np.ndarray:
    """(cells, cells, len(BEV_LAYERS)) uint8 top view: row 0 is ``extent`` ahead, column 0 ``extent`` to the left.

    Args:
        occupancy: (200, 200, 16) Occ3D window, ego frame ([i, j]: x forward, y left, ascending).
        route: (N, 2) route points ahead, ego frame [m].
        cells: image side [px].
        extent: half the side [m], at most the window's 40 m.

    A cell is set where any voxel under it holds the layer's classes.
    """
    voxel = OCC3D_GRID.voxel_size
    half = OCC3D_GRID.shape[0] // 2
    span = int(round(extent / voxel))
    window = occupancy[half - span : half + span, half - span : half + span]
    raised = window[:, :, GROUND_LAYERS:]
    masks = [(window[:, :, :GROUND_LAYERS] == DRIVEABLE_SURFACE).any(axis=2), np.zeros(window.shape[:2], bool)]
    masks += [np.isin(raised, group).any(axis=2) for group in _RAISED_GROUPS]
    # Heading up: rows from far ahead to behind (x descending), columns from left to right (y descending).
    stacked = np.stack(masks, axis=-1)[::-1, ::-1].astype(np.uint8) * 255
    image = cv2.resize(stacked, (cells, cells), interpolation=cv2.INTER_AREA)
    image = np.where(image > 0, 255, 0).astype(np.uint8)
    image[..., BEV_LAYERS.index("route")] = _route_layer(route, cells, extent)
    return image


def _route_layer(route: np.ndarray, cells: int, extent: float) -> np.ndarray:
    """The route ahead drawn as a one-cell polyline."""
    layer = np.zeros((cells, cells), dtype=np.uint8)
    scale = cells / (2 * extent)
    columns = (extent - route[:, 1]) * scale
    rows = (extent - route[:, 0]) * scale
    points = np.round(np.stack([columns, rows], axis=1) * 16).astype(np.int32)  # 4 fractional bits
    cv2.polylines(layer, [points.reshape(-1, 1, 2)], False, 255, 1, cv2.LINE_8, shift=4)
    return layer


def bev_space(cells: int = DEFAULT_CELLS) -> spaces.Box:
    """The observation space of one bird's-eye image."""
    return spaces.Box(0, 255, (cells, cells, len(BEV_LAYERS)), np.uint8)


def _check(space: spaces.Space, cells: int, extent: float) -> None:
    if not isinstance(space, spaces.Dict) or "occupancy" not in space.spaces or "route" not in space.spaces:
        raise ValueError("the bird's-eye observation reads the privileged window: make the env with privileged=True")
    if not 0 < extent <= OCC3D_GRID.shape[0] * OCC3D_GRID.voxel_size / 2:
        raise ValueError(f"extent must be in (0, 40] m, got {extent}")
    if cells < 8:
        raise ValueError(f"cells must be at least 8, got {cells}")


class BevObservation(gym.ObservationWrapper, gym.utils.RecordConstructorArgs):
    """Replace a privileged env's observation with its bird's-eye image (see ``bev_layers``)."""

    def __init__(self, env: gym.Env, cells: int = DEFAULT_CELLS, extent: float = DEFAULT_EXTENT):
        _check(env.observation_space, cells, extent)
        gym.utils.RecordConstructorArgs.__init__(self, cells=cells, extent=extent)
        gym.ObservationWrapper.__init__(self, env)
        self.cells, self.extent = cells, extent
        self.observation_space = bev_space(cells)

    def observation(self, observation: dict) -> np.ndarray:
        """The bird's-eye image of ``observation``."""
        return bev_layers(observation["occupancy"], observation["route"], self.cells, self.extent)


class BevVectorObservation(VectorObservationWrapper):
    """``BevObservation`` for a vector env (the batched one included, which takes no per-world wrappers)."""

    def __init__(self, env: VectorEnv, cells: int = DEFAULT_CELLS, extent: float = DEFAULT_EXTENT):
        _check(env.single_observation_space, cells, extent)
        super().__init__(env)
        self.cells, self.extent = cells, extent
        self.single_observation_space = bev_space(cells)
        self.observation_space = batch_space(self.single_observation_space, env.num_envs)

    def observations(self, observations: dict) -> np.ndarray:
        """The bird's-eye image of every world."""
        return np.stack(
            [
                bev_layers(occupancy, route, self.cells, self.extent)
                for occupancy, route in zip(observations["occupancy"], observations["route"])
            ]
        )
