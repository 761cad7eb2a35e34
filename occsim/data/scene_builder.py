"""Builds the world of a scenario whose map is a logged nuScenes scene (registered as map type ``nuscenes``).

The log gives the map, the static world, the ego's start and the agents; the scenario adds its actors relative to
the ego's lane (lane 0 follows the ego's logged path, station 0 is its start) and ``remove`` drops logged agents
that would overlap them.
"""

from __future__ import annotations

import copy
from functools import lru_cache

import numpy as np
import shapely

from occsim.data.nuscenes import LoggedScene, load_scene
from occsim.data.scene_world import logged_world
from occsim.scenario import Scenario
from occsim.scenario.build import place_actors, register_world_builder
from occsim.scenario.semantics import expanded_ids
from occsim.types import COMMANDS
from occsim.world.boxes import box_polygon
from occsim.world.world import Route, World


@lru_cache(maxsize=8)
def cached_scene(dataroot: str, version: str, scene: str) -> LoggedScene:
    """``load_scene``, once per process."""
    return load_scene(dataroot, version, scene)


@lru_cache(maxsize=8)
def _template(dataroot: str, version: str, scene: str, start_sample: int, agents: str) -> World:
    return logged_world(cached_scene(dataroot, version, scene), start_sample, agents)


@register_world_builder("nuscenes")
def build_nuscenes_world(scenario: Scenario, seed: int | None = None) -> World:
    """The logged scene at ``start_sample`` with the scenario's actors inserted; ``seed`` jitters them."""
    spec = scenario.map
    template = _template(spec.dataroot, spec.version, spec.scene, spec.start_sample, spec.agents)
    logged = copy.deepcopy(template.actors)
    route = template.route
    if scenario.ego.command not in ("follow", "route"):  # a logged route's command comes from the log
        route = Route(route.lane, route.start_s, route.goal_s, COMMANDS[scenario.ego.command])
    rng = np.random.default_rng(seed) if seed is not None else None
    inserted = place_actors(scenario, template.road_map, rng, template.ego)
    if scenario.remove is not None:
        group = next(a for a in scenario.actors if a.id == scenario.remove.of)
        ids = set(expanded_ids(group))
        zone = shapely.union_all([box_polygon(a.x, a.y, a.yaw, *a.size[:2]) for a in inserted if a.id in ids])
        zone = zone.buffer(scenario.remove.within)
        logged = [a for a in logged if not zone.intersects(box_polygon(a.x, a.y, a.yaw, *a.size[:2]))]
    actors = logged + inserted
    for i, actor in enumerate(actors):
        actor.instance = i + 1
    return World(template.road_map, template.static, actors, copy.copy(template.ego), route, rig=template.rig)
