"""The renderer interface and its name -> class registry."""

from __future__ import annotations

from abc import ABC, abstractmethod

from occsim.registry import Registry
from occsim.types import CameraFrames, CameraRig, Weather
from occsim.world.world import World


class Renderer(ABC):
    """Turns the world into the rig's camera images."""

    name: str = ""

    def __init__(self, rig: CameraRig):
        self.rig = rig

    @abstractmethod
    def render(self, world: World, weather: Weather, seed: int) -> CameraFrames:
        """Render every camera of the rig; the same world, weather and ``seed`` give the same bytes."""


RENDERERS: Registry[type[Renderer]] = Registry("renderer")
register_renderer = RENDERERS.register


def make_renderer(name: str, rig: CameraRig, **kwargs) -> Renderer:
    """Instantiate a registered renderer; a ValueError with a did-you-mean for unknown names."""
    return RENDERERS[name](rig, **kwargs)
