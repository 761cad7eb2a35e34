"""A renderer that draws nothing: for privileged planners and reference rollouts, where images are not looked at."""

from __future__ import annotations

import numpy as np

from occsim.classes import FREE
from occsim.sensors.renderer import Renderer, register_renderer
from occsim.types import CameraFrames, Weather
from occsim.world.world import World


@register_renderer("blank")
class BlankRenderer(Renderer):
    """Black images, infinite depth, FREE semantics; costs nothing."""

    def render(self, world: World, weather: Weather, seed: int) -> CameraFrames:
        """The same empty frame every time."""
        n, (h, w) = len(self.rig.names), self.rig.hw
        return CameraFrames(
            np.zeros((n, h, w, 3), np.uint8), np.full((n, h, w), np.inf, np.float32), np.full((n, h, w), FREE, np.uint8)
        )
