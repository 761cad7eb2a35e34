"""Planners: a base class, a registry and one module per planner."""

from occsim.planners.base import PLANNERS, Planner, make_planner, register_planner
from occsim.planners.constant_velocity import ConstantVelocityPlanner
from occsim.planners.expert import ExpertPlanner
from occsim.planners.no_intervention import NoInterventionPlanner
from occsim.planners.remote import RemotePlanner
from occsim.planners.rl import RlPlanner
from occsim.planners.vad import VADPlanner
from occsim.planners.vision import VisionMemoryPlanner, VisionNetPlanner, VisionPlanner

__all__ = [
    "PLANNERS",
    "ConstantVelocityPlanner",
    "ExpertPlanner",
    "NoInterventionPlanner",
    "Planner",
    "RemotePlanner",
    "RlPlanner",
    "VADPlanner",
    "VisionMemoryPlanner",
    "VisionNetPlanner",
    "VisionPlanner",
    "make_planner",
    "register_planner",
]
