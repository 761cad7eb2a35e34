"""The planner interface and its name -> class registry."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable
from typing import Any

from occsim.registry import Registry
from occsim.types import PlannerInput, PrivilegedInput, Trajectory


class Planner(ABC):
    """Maps what the cameras show (and, for privileged planners, the world) to six ego-frame waypoints at 0.5 s."""

    name: str = ""
    privileged: bool = False  # needs the env's privileged observations and the road layout

    @classmethod
    def check_argument(cls, argument: str) -> list[str]:
        """Problems with ``name:argument`` that can be told before any run starts (a missing weights file)."""
        return []

    def reset(self, info: dict[str, Any]) -> None:  # noqa: B027 - optional hook
        """Called with the env's reset info before the first ``plan``."""

    @abstractmethod
    def plan(self, inputs: PlannerInput, privileged: PrivilegedInput | None = None) -> Trajectory:
        """The trajectory to follow for the next env step; ``privileged`` is given to privileged planners only."""

    def close(self) -> None:  # noqa: B027 - optional hook
        """Called once the episode is over (release a server session, a device, a file)."""


def from_known_keys(cls: type, data: dict[str, Any], what: str) -> Any:
    """``cls(**data)`` for a dataclass read from a saved config; a key the class does not have is a ValueError."""
    unknown = set(data) - set(cls.__dataclass_fields__)
    if unknown:
        raise ValueError(f"unknown {what} keys: {sorted(unknown)}")
    return cls(**data)


PLANNERS: Registry[type[Planner]] = Registry("planner")
register_planner = PLANNERS.register


def weights_problems(name: str, argument: str, load: Callable[[str], Any]) -> list[str]:
    """What stops ``load(argument)`` reading planner ``name``'s weights folder, as one problem; [] if it loads."""
    if not argument:
        return []
    try:
        load(argument)
    except Exception as error:  # noqa: BLE001 - json, safetensors and torch each raise their own types for bad files
        detail = f"{type(error).__name__}: {error}"
        detail = detail if len(detail) <= 300 else detail[:297] + "..."
        return [f"planner '{name}': {argument}: cannot load its weights ({detail})"]
    return []


def make_planner(name: str, **kwargs: Any) -> Planner:
    """Instantiate a registered planner; ``name:argument`` passes the argument first (``remote:http://host:port``).

    Raises:
        ValueError: unknown planner name (with a did-you-mean).
    """
    base, _, argument = name.partition(":")
    cls = PLANNERS[base]
    return cls(argument, **kwargs) if argument else cls(**kwargs)
