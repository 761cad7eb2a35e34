"""Follows its route at the speed it starts with and never brakes: the 'no intervention' run of a Euro NCAP test."""

from __future__ import annotations

from typing import Any

from occsim.geometry import along_route
from occsim.planners.base import Planner, register_planner
from occsim.types import PlannerInput, PrivilegedInput, Trajectory


@register_planner("no_intervention")
class NoInterventionPlanner(Planner):
    """Along the route (through its turns) at the speed the ego has at reset, whatever is in the way.

    ``constant_velocity`` drives straight ahead; this one takes the test's path, so a turn-across-path test meets
    its target as the protocol intends. It reads only the route from the privileged input.
    """

    privileged = True

    def __init__(self) -> None:
        self._speed: float | None = None

    def reset(self, info: dict[str, Any]) -> None:
        """Forget the held speed."""
        self._speed = None

    def plan(self, inputs: PlannerInput, privileged: PrivilegedInput | None = None) -> Trajectory:
        """The route ahead at the held speed (straight on where there is no route)."""
        if self._speed is None:
            self._speed = float(inputs.ego[0])
        route = privileged.route if privileged is not None else None
        if route is None or len(route) < 2:
            return Trajectory.constant_velocity(self._speed)
        return along_route(route, self._speed, 0.0)
