"""Gymnasium environments over the OccSim closed loop."""

from __future__ import annotations

from occsim.envs.registration import WEATHER_IDS, register_envs

__all__ = ["WEATHER_IDS", "MosaicObservation", "OccSimEnv", "register_envs"]


def __getattr__(name: str):
    # The env pulls in the renderer and simulation; load them on first use, not when occsim is imported.
    if name == "OccSimEnv":
        from occsim.envs.occsim_env import OccSimEnv

        return OccSimEnv
    if name == "MosaicObservation":
        from occsim.envs.wrappers import MosaicObservation

        return MosaicObservation
    raise AttributeError(name)
