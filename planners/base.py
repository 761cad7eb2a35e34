"""The planner interface and its name -> class registry."""

from __future__ import annotations

import difflib
from abc import ABC, abstractmethod
from typing import Any

from occsim.types import Trajectory


class Planner(ABC):
    """Maps an OccSim observation to a trajectory of six ego-frame waypoints at 0.5 s."""

    name: str = ""
    privileged: bool = False  # needs the env's privileged observations and the road layout

    def reset(self, info: dict[str, Any]) -> None:  # noqa: B027 - optional hook
        """Called with the env's reset info before the first ``plan``."""

    @abstractmethod
    def plan(self, observation: dict[str, Any]) -> Trajectory:
        """The trajectory to follow for the next env step."""


PLANNERS: dict[str, type[Planner]] = {}


def register_planner(name: str):
    """Class decorator that adds a planner under ``name``."""

    def wrap(cls: type[Planner]) -> type[Planner]:
        cls.name = name
        PLANNERS[name] = cls
        return cls

    return wrap


def make_planner(name: str, **kwargs: Any) -> Planner:
    """Instantiate a registered planner; ValueError with a did-you-mean for unknown names."""
    if name not in PLANNERS:
        close = difflib.get_close_matches(name, list(PLANNERS), n=1)
        hint = f"; did you mean '{close[0]}'?" if close else ""
        raise ValueError(f"unknown planner '{name}'{hint}; available: {', '.join(sorted(PLANNERS))}")
    return PLANNERS[name](**kwargs)
