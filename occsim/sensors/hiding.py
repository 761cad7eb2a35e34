"""A renderer that leaves chosen actors out of the pictures while they stay in the world.

It stands for an occlusion the scene does not model: the actor is there (in the occupancy, the scores and the
other actors' view) but the cameras do not show it. Collection uses it to teach the vision network's BEV memory to
keep what it saw, and the memory's behaviour test uses it to check that it does.
"""

from __future__ import annotations

from dataclasses import replace

from occsim.sensors.renderer import Renderer
from occsim.types import CameraFrames, Weather
from occsim.world.world import World


class HidingRenderer(Renderer):
    """Renders with ``inner``, leaving out the actors whose ids are in ``hidden``."""

    name = "hiding"

    def __init__(self, inner: Renderer):
        super().__init__(inner.rig)
        self.inner = inner
        self.hidden: set[str] = set()

    def reset(self, world: World) -> None:
        """A new episode: nothing hidden."""
        self.hidden = set()
        self.inner.reset(world)

    def render(self, world: World, weather: Weather, seed: int) -> CameraFrames:
        """The inner renderer's frames of the world without the hidden actors."""
        if not self.hidden:
            return self.inner.render(world, weather, seed)
        shown = [a for a in world.actors if a.id not in self.hidden]
        return self.inner.render(replace(world, actors=shown), weather, seed)
