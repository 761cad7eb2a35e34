"""The world room: road map, static background, actors and behaviours, ego dynamics, the world state and window."""

from occsim.types import OCC3D_GRID, VoxelGrid
from occsim.world.actors import BEHAVIORS, Actor, Behavior, Trigger, register_behavior
from occsim.world.background import StaticWorld, build_static_world
from occsim.world.ego import EGO_SIZE, WHEELBASE, Control, TrajectoryTracker, bicycle_step
from occsim.world.roadmap import MAP_BUILDERS, Lane, Road, RoadMap, build_curve, build_intersection, build_straight
from occsim.world.world import Route, World

__all__ = [
    "BEHAVIORS",
    "EGO_SIZE",
    "MAP_BUILDERS",
    "OCC3D_GRID",
    "WHEELBASE",
    "Actor",
    "Behavior",
    "Control",
    "Lane",
    "Road",
    "RoadMap",
    "Route",
    "StaticWorld",
    "TrajectoryTracker",
    "Trigger",
    "VoxelGrid",
    "World",
    "bicycle_step",
    "build_curve",
    "build_intersection",
    "build_static_world",
    "build_straight",
    "register_behavior",
]
