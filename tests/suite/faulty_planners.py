"""Planners that misbehave on purpose; imported by suite workers with --import."""

import time

import numpy as np
from occsim.planners import Planner, register_planner

from occsim.types import Trajectory


@register_planner("raises")
class Raises(Planner):
    def plan(self, observation):
        raise RuntimeError("boom")


@register_planner("nan")
class ReturnsNaN(Planner):
    def plan(self, observation):
        return np.full((6, 2), np.nan)


@register_planner("wrong_shape")
class WrongShape(Planner):
    def plan(self, observation):
        return np.zeros((3, 2))


@register_planner("slow")
class Slow(Planner):
    def plan(self, observation):
        time.sleep(5.0)
        return Trajectory.constant_velocity(5.0)
