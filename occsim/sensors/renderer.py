"""The renderer interface and its name -> class registry."""

from __future__ import annotations

import inspect
from abc import ABC, abstractmethod
from typing import Any

from occsim.registry import Registry, did_you_mean
from occsim.types import CameraFrames, CameraRig, Weather
from occsim.world.world import World


class Renderer(ABC):
    """Turns the world into the rig's camera images."""

    name: str = ""

    def __init__(self, rig: CameraRig):
        self.rig = rig

    def reset(self, world: World) -> None:  # noqa: B027 - optional hook
        """A new episode starts in ``world``: drop anything carried from the last one (a video's previous frame)."""

    @abstractmethod
    def render(self, world: World, weather: Weather, seed: int) -> CameraFrames:
        """Render every camera of the rig; the same world, weather and ``seed`` give the same bytes."""

    @classmethod
    def check_options(cls, **options: Any) -> None:
        """Refuse options the constructor does not take, before anything is built or run.

        Subclasses also check the values (ranges, weight files) here, so a suite reports a bad option once, up
        front, instead of once per run.

        Raises:
            ValueError: naming the option and what is allowed.
        """
        accepted = [p for p in inspect.signature(cls.__init__).parameters if p not in ("self", "rig")]
        for key in options:
            if key not in accepted:
                raise ValueError(
                    f"renderer '{cls.name}' has no option '{key}'{did_you_mean(key, accepted)}; "
                    f"its options: {', '.join(accepted) or 'none'}"
                )


RENDERERS: Registry[type[Renderer]] = Registry("renderer")
register_renderer = RENDERERS.register
# The built-ins are declared here, so the registry is whole whichever module was imported first; each is imported on
# first use (the learned ones live in the generative room and import diffusers).
for _name, _module in {
    "raster": "occsim.sensors.raster",
    "blank": "occsim.sensors.blank",
    "syntheocc": "occsim.generative.renderers.syntheocc",
    "occscene": "occsim.generative.renderers.occscene",
}.items():
    RENDERERS.register_lazy(_name, _module)


def make_renderer(name: str, rig: CameraRig, **kwargs) -> Renderer:
    """Instantiate a registered renderer; a ValueError with a did-you-mean for unknown names."""
    return RENDERERS[name](rig, **kwargs)
