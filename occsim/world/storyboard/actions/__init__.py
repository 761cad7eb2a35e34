"""OpenSCENARIO actions: what they do to entities and to the scenario's state, step by step.

Each private action acts on one entity; an action that shapes its motion over time runs until done, and starting
an action of the same kind (longitudinal, lateral) on the same entity ends the one running. Actions that move the
entity themselves (teleport, lane change, trajectory) take it off the default lane-following motion that step.
Controller, appearance and traffic-signal actions are accepted and change nothing (OccSim's own behaviour drives
every entity), and say so in the runtime's notes.
"""

from __future__ import annotations

from occsim.world.storyboard.actions.base import LAT, LONG, Action
from occsim.world.storyboard.actions.lateral import LaneChange, LaneOffset, LateralDistance
from occsim.world.storyboard.actions.longitudinal import LongitudinalDistance, Speed, SpeedProfile, Synchronize
from occsim.world.storyboard.actions.placing import AcquirePosition, AssignRoute, FollowTrajectory, Teleport, Visibility
from occsim.world.storyboard.actions.scenario import EntityChange, Environment, Ignored, ParameterSet
from occsim.world.storyboard.entities import Entity
from occsim.world.storyboard.tree import Node

__all__ = ["LAT", "LONG", "Action", "FollowTrajectory", "check", "leaf", "make"]


PRIVATE = {
    "TeleportAction": Teleport,
    "SpeedAction": Speed,
    "SpeedProfileAction": SpeedProfile,
    "LongitudinalDistanceAction": LongitudinalDistance,
    "LaneChangeAction": LaneChange,
    "LaneOffsetAction": LaneOffset,
    "LateralDistanceAction": LateralDistance,
    "SynchronizeAction": Synchronize,
    "FollowTrajectoryAction": FollowTrajectory,
    "AssignRouteAction": AssignRoute,
    "AcquirePositionAction": AcquirePosition,
    "VisibilityAction": Visibility,
    "ActivateControllerAction": Ignored,
    "AssignControllerAction": Ignored,
    "OverrideControllerValueAction": Ignored,
    "LightStateAction": Ignored,
    "AnimationAction": Ignored,
}
GLOBAL = {
    "ParameterAction": ParameterSet,
    "VariableAction": ParameterSet,
    "EntityAction": EntityChange,
    "EnvironmentAction": Environment,
    "InfrastructureAction": Ignored,
}
CATEGORIES = ("LongitudinalAction", "LateralAction", "RoutingAction", "ControllerAction", "AppearanceAction")
UNSUPPORTED = {
    "TrailerAction": "trailers",
    "RandomRouteAction": "random routes",
    "TrafficAction": "traffic swarms and sources",
    "UserDefinedAction": "user-defined actions",
    "CustomCommandAction": "user-defined actions",
}


def leaf(node: Node) -> Node:
    """The concrete action element inside a PrivateAction / GlobalAction (through its category)."""
    inner = node.only()
    if inner.tag in CATEGORIES:
        inner = inner.only()
    return inner


def make(node: Node, actor: Entity | None) -> Action:
    """The action of a ``PrivateAction`` (for ``actor``) or ``GlobalAction`` element."""
    inner = leaf(node)
    if inner.tag in UNSUPPORTED:
        raise inner.error(f"is not supported ({UNSUPPORTED[inner.tag]})")
    table = PRIVATE if node.tag == "PrivateAction" else GLOBAL
    kind = table.get(inner.tag)
    if kind is None:
        raise inner.error(f"is not a supported {'private' if node.tag == 'PrivateAction' else 'global'} action")
    return kind(inner, actor)


def check(node: Node) -> None:
    """Refuse an unsupported action before the run (the same errors ``make`` gives)."""
    make(node, None)
