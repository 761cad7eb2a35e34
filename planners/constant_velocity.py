"""Drives straight on at its current speed: the baseline that ignores everything it sees."""

from __future__ import annotations

from typing import Any

from occsim.planners.base import Planner, register_planner
from occsim.types import PlannerInput, PrivilegedInput, Trajectory


@register_planner("constant_velocity")
class ConstantVelocityPlanner(Planner):
    """Straight ahead at the speed the ego has at reset (or its current speed if ``hold_initial`` is False)."""

    def __init__(self, hold_initial: bool = True):
        self.hold_initial = hold_initial
        self._speed: float | None = None

    def reset(self, info: dict[str, Any]) -> None:
        """Forget the held speed."""
        self._speed = None

    def plan(self, inputs: PlannerInput, privileged: PrivilegedInput | None = None) -> Trajectory:
        """Straight line at the held speed."""
        speed = float(inputs.ego[0])
        if self._speed is None or not self.hold_initial:
            self._speed = speed
        return Trajectory.constant_velocity(self._speed)
