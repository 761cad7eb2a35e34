"""Planners that misbehave on purpose; imported by suite workers with --import."""

import os
import signal
import time

import numpy as np

from occsim.planners import Planner, register_planner
from occsim.types import Trajectory


@register_planner("raises")
class Raises(Planner):
    def plan(self, inputs, privileged=None):
        raise RuntimeError("boom")


@register_planner("nan")
class ReturnsNaN(Planner):
    def plan(self, inputs, privileged=None):
        return np.full((6, 2), np.nan)


@register_planner("wrong_shape")
class WrongShape(Planner):
    def plan(self, inputs, privileged=None):
        return np.zeros((3, 2))


@register_planner("slow")
class Slow(Planner):
    def plan(self, inputs, privileged=None):
        time.sleep(5.0)
        return Trajectory.constant_velocity(5.0)


@register_planner("exits")
class Exits(Planner):
    def plan(self, inputs, privileged=None):
        raise SystemExit(3)


@register_planner("interrupts")
class Interrupts(Planner):
    def plan(self, inputs, privileged=None):
        raise KeyboardInterrupt


@register_planner("hard_exit")
class HardExit(Planner):
    def plan(self, inputs, privileged=None):
        os._exit(7)


@register_planner("segfault")
class Segfault(Planner):
    def plan(self, inputs, privileged=None):
        os.kill(os.getpid(), signal.SIGSEGV)


@register_planner("swallows_timeout")
class SwallowsTimeout(Planner):
    """Catches everything it can while sleeping far past any limit."""

    def plan(self, inputs, privileged=None):
        for _ in range(600):
            try:
                time.sleep(0.1)
            except Exception:
                pass
        return Trajectory.constant_velocity(5.0)


@register_planner("hangs_in_reset")
class HangsInReset(Planner):
    def reset(self, info):
        time.sleep(600)

    def plan(self, inputs, privileged=None):
        return Trajectory.constant_velocity(5.0)


@register_planner("absurd")
class Absurd(Planner):
    def plan(self, inputs, privileged=None):
        return np.full((6, 2), 1e308)
