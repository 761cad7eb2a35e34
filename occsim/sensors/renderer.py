"""The renderer interface and its name -> class registry."""

from __future__ import annotations

import difflib
from abc import ABC, abstractmethod

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


RENDERERS: dict[str, type[Renderer]] = {}


def register_renderer(name: str):
    """Class decorator that adds a renderer under ``name``."""

    def wrap(cls: type[Renderer]) -> type[Renderer]:
        cls.name = name
        RENDERERS[name] = cls
        return cls

    return wrap


def make_renderer(name: str, rig: CameraRig, **kwargs) -> Renderer:
    """Instantiate a registered renderer; a ValueError with a did-you-mean for unknown names."""
    if name not in RENDERERS:
        close = difflib.get_close_matches(name, list(RENDERERS), n=1)
        hint = f"; did you mean '{close[0]}'?" if close else ""
        raise ValueError(f"unknown renderer '{name}'{hint}; available: {', '.join(sorted(RENDERERS))}")
    return RENDERERS[name](rig, **kwargs)
