"""Gymnasium ids, registered with string entry points so importing occsim stays light."""

from __future__ import annotations

import gymnasium as gym

WEATHER_IDS: dict[str, str | None] = {
    "OccSim-v0": None,
    "OccSim-fog-v0": "fog",
    "OccSim-rain-v0": "rain",
    "OccSim-snow-v0": "snow",
    "OccSim-night-v0": "night",
    "OccSim-sandstorm-v0": "sandstorm",
}


def register_envs() -> None:
    """Register every OccSim id (idempotent). ``OccSim-v0`` keeps each scenario's own weather."""
    for env_id, weather in WEATHER_IDS.items():
        if env_id in gym.registry:
            continue
        gym.register(
            id=env_id,
            entry_point="occsim.envs.occsim_env:OccSimEnv",
            vector_entry_point="occsim.envs.vector:OccSimVectorEnv",
            kwargs={"weather": weather},
            disable_env_checker=False,
        )
