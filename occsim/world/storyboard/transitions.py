"""OpenSCENARIO transition dynamics: a value from its start to its target over a time, a distance or a peak rate.

The shapes are step, linear, cubic and sinusoidal.
"""

from __future__ import annotations

import math

from occsim.world.storyboard.tree import Node

SHAPES = ("step", "linear", "cubic", "sinusoidal")
DIMENSIONS = ("time", "distance", "rate")


class Transition:
    """A value's path from ``start`` to ``target``, as a function of the transition's parameter x in [0, c].

    ``c`` is the duration (time), the length (distance) or, for a peak ``rate``, the duration at which the shape's
    steepest slope equals that rate. ``scale`` > 1 stretches the transition so its peak rate stays within a limit.
    """

    def __init__(self, shape: str, dimension: str, value: float, start: float, target: float):
        self.shape, self.dimension = shape, dimension
        self.start, self.delta = start, target - start
        self.c = max(value, 0.0)
        if dimension == "rate":
            rate = abs(value)
            peak_per_c = {"linear": 1.0, "cubic": 1.5, "sinusoidal": math.pi / 2}.get(shape, 0.0)
            self.c = peak_per_c * abs(self.delta) / rate if rate > 0 and shape != "step" else 0.0
        self.x = 0.0
        self.scale = 1.0

    @classmethod
    def of(cls, node: Node, start: float, target: float, value_name: str = "value") -> Transition:
        """From a ``*Dynamics`` element (dynamicsShape, dynamicsDimension, value)."""
        shape = node.choice("dynamicsShape", SHAPES)
        dimension = node.choice("dynamicsDimension", DIMENSIONS, "time")
        value = 0.0 if shape == "step" else node.number(value_name, 0.0)
        return cls(shape, dimension, value, start, target)

    @property
    def target(self) -> float:
        """The value the transition ends at."""
        return self.start + self.delta

    @property
    def instant(self) -> bool:
        """Whether the value jumps to the target at once."""
        return self.shape == "step" or self.c < 1e-6

    @property
    def finished(self) -> bool:
        """Whether x has reached the end of the transition."""
        return self.instant or self.x >= self.c - 1e-6

    def value(self, x: float | None = None) -> float:
        """The value at parameter ``x`` (default: the current one)."""
        x = self.x if x is None else x
        if self.instant:
            return self.target
        u = min(max(x / self.c, 0.0), 1.0)
        if self.shape == "linear":
            return self.start + self.delta * u
        if self.shape == "cubic":
            return self.start + self.delta * u * u * (3.0 - 2.0 * u)
        return self.start + self.delta * (1.0 - math.cos(math.pi * u)) / 2.0

    def slope(self, x: float | None = None) -> float:
        """D value / d x at ``x``."""
        x = self.x if x is None else x
        if self.instant:
            return math.copysign(1e10, self.delta)
        u = min(max(x / self.c, 0.0), 1.0)
        if self.shape == "linear":
            return self.delta / self.c
        if self.shape == "cubic":
            return 6.0 * self.delta * u * (1.0 - u) / self.c
        return math.pi * self.delta * math.sin(math.pi * u) / (2.0 * self.c)

    def peak(self) -> float:
        """The steepest slope of the shape."""
        if self.instant:
            return math.copysign(1e10, self.delta)
        return self.delta / self.c * {"linear": 1.0, "cubic": 1.5, "sinusoidal": math.pi / 2}[self.shape]

    def limit_rate(self, most: float) -> None:
        """Stretch the transition so its peak slope (per unit of x) is at most ``most``."""
        if self.instant or most <= 0:
            return
        if abs(self.peak()) > most:
            self.scale = abs(self.peak()) / most

    def advance(self, amount: float) -> None:
        """Move x on by ``amount`` (divided by the stretch), up to the end."""
        self.x = min(self.x + amount / self.scale, self.c)
