"""A bird's-eye occupancy observation for RL libraries, as highway-env's occupancy grid, from the privileged window.

The Occ3D window and the route ahead are rasterised by ``occsim.geometry.bev_layers``: a top-down image centred on the
ego, heading up and left to the left, one uint8 layer (0 or 255) per group of classes (``BEV_LAYERS``). A CNN
policy (stable-baselines3's ``CnnPolicy``) reads it as it is; Gymnasium's ``FrameStackObservation`` (or SB3's
``VecFrameStack``) adds motion.
"""

from __future__ import annotations

import gymnasium as gym
import numpy as np
from gymnasium import spaces
from gymnasium.vector import VectorEnv, VectorObservationWrapper
from gymnasium.vector.utils import batch_space

from occsim.geometry import BEV_CELLS, BEV_EXTENT, BEV_LAYERS, bev_block, bev_layers

__all__ = ["BEV_LAYERS", "BevObservation", "BevVectorObservation", "bev_layers", "bev_space"]


def bev_space(cells: int = BEV_CELLS) -> spaces.Box:
    """The observation space of one bird's-eye image."""
    return spaces.Box(0, 255, (cells, cells, len(BEV_LAYERS)), np.uint8)


def _check(space: spaces.Space, cells: int, extent: float) -> None:
    if not isinstance(space, spaces.Dict) or "occupancy" not in space.spaces or "route" not in space.spaces:
        raise ValueError("the bird's-eye observation reads the privileged window: make the env with privileged=True")
    bev_block(cells, extent)


class BevObservation(gym.ObservationWrapper, gym.utils.RecordConstructorArgs):
    """Replace a privileged env's observation with its bird's-eye image (see ``bev_layers``)."""

    def __init__(self, env: gym.Env, cells: int = BEV_CELLS, extent: float = BEV_EXTENT):
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

    def __init__(self, env: VectorEnv, cells: int = BEV_CELLS, extent: float = BEV_EXTENT):
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
