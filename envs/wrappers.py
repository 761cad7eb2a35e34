"""Wrappers that adapt OccSim observations to other libraries."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
from gymnasium import spaces

from occsim.envs.visualize import mosaic


class MosaicObservation(gym.ObservationWrapper, gym.utils.RecordConstructorArgs):
    """Replace the observation with one (2H, 3W, 3) uint8 image of the six views, for image-based RL libraries."""

    def __init__(self, env: gym.Env):
        gym.utils.RecordConstructorArgs.__init__(self)
        gym.ObservationWrapper.__init__(self, env)
        n, h, w, _ = env.observation_space["images"].shape
        if n != 6:
            raise ValueError(f"MosaicObservation lays out six cameras, got {n}")
        self.observation_space = spaces.Box(0, 255, (2 * h, 3 * w, 3), np.uint8)

    def observation(self, observation: dict) -> np.ndarray:
        """The mosaic of ``observation['images']``."""
        return mosaic(observation["images"])
