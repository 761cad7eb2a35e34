"""Gymnasium environments over the OccSim closed loop."""

from __future__ import annotations

import importlib

from occsim.envs.registration import WEATHER_IDS, register_envs

# name -> module; loaded on first use, since the env pulls in the renderer and simulation.
_LAZY = {
    "OccSimEnv": "occsim.envs.occsim_env",
    "OccSimVectorEnv": "occsim.envs.vector",
    "MosaicObservation": "occsim.envs.wrappers",
    "BevObservation": "occsim.envs.bev",
    "BevVectorObservation": "occsim.envs.bev",
    "BEV_LAYERS": "occsim.envs.bev",
    "RewardWeights": "occsim.envs.reward",
}

__all__ = ["WEATHER_IDS", "register_envs", *_LAZY]


def __getattr__(name: str):
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(name)
