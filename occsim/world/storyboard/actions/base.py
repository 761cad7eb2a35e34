"""The action every OpenSCENARIO action is: started by its event, stepped until done, on one entity or none."""

from __future__ import annotations

from typing import TYPE_CHECKING

from occsim.world.storyboard.entities import Entity
from occsim.world.storyboard.tree import Node

if TYPE_CHECKING:
    from occsim.world.storyboard.runtime import Runtime

LONG, LAT = "longitudinal", "lateral"  # control domains: a new action ends a running one of a shared domain


class Action:
    """One running action (on one entity, for a private action)."""

    domains: frozenset[str] = frozenset()

    def __init__(self, node: Node, actor: Entity | None):
        self.node, self.actor, self.done, self.started = node, actor, False, False

    def start(self, rt: Runtime) -> None:
        """Begin (in the step whose triggers started it)."""

    def step(self, rt: Runtime, dt: float) -> None:
        """Advance by ``dt`` seconds; set ``done`` when finished."""
        self.done = True
