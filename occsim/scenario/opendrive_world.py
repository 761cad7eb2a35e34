"""Worlds on OpenDRIVE maps (``map: {type: opendrive, file: ...}``): places, routes and actors on the file's lanes.

Roads and lanes are addressed as the file does: ``road`` is the OpenDRIVE road id, ``lane`` the OpenDRIVE lane id
(negative right of the reference line), ``s`` the station on that road and ``offset`` metres left of the lane
centre in the lane's driving direction. The ego's route follows its lane onward, taking ``ego.route``'s turn at
each junction with a choice, and ``goal_s`` counts metres along it from the ego's start. An actor follows its lane
(and its own ``route``) onward from where it starts; a waypoint's ``s`` counts metres along that path.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import numpy as np

from occsim.classes import ACTOR_SIZES
from occsim.scenario.build import make_behavior
from occsim.scenario.schema import ActorSpec, OpenDriveMap, Scenario
from occsim.types import COMMANDS, EgoState, Pose2D
from occsim.world.actors import Actor, Behavior, CutIn
from occsim.world.background import StaticWorld
from occsim.world.opendrive.network import LaneKey, RoadNetwork
from occsim.world.opendrive.roads import lane_road, route_keys, route_polyline
from occsim.world.opendrive.roads import road_map as network_road_map
from occsim.world.opendrive.scenery import static_world as network_static_world
from occsim.world.roadmap import Lane, RoadMap
from occsim.world.world import Route, World

FOCUS_MARGIN = 150.0  # [m] of map kept around the routes and actors when a large map is cut to what can be seen


@lru_cache(maxsize=8)
def _load(path: str, stamp: tuple[float, int]) -> tuple[RoadNetwork, RoadMap]:
    network = RoadNetwork.load(path)
    return network, network_road_map(network)


def load_map(spec: OpenDriveMap) -> tuple[RoadNetwork, RoadMap]:
    """The network and road map of an opendrive map spec, read once per file version (size and time)."""
    path = Path(spec.file)
    stat = path.stat()
    return _load(str(path.resolve()), (stat.st_mtime, stat.st_size))


@lru_cache(maxsize=8)
def _static(path: str, stamp: tuple[float, int], scenery: str, seed: int, focus: tuple | None) -> StaticWorld:
    network, road_map = _load(path, stamp)
    return network_static_world(network, road_map, np.random.default_rng(seed), scenery, focus)


def static_of(spec: OpenDriveMap, seed: int, focus: np.ndarray | None) -> StaticWorld:
    """The static world of the map around the points ``focus`` (N, 2), rounded out to 50 m so runs share it."""
    box = None
    if focus is not None and len(focus):
        lo = np.floor((focus.min(axis=0) - FOCUS_MARGIN) / 50.0) * 50.0
        hi = np.ceil((focus.max(axis=0) + FOCUS_MARGIN) / 50.0) * 50.0
        box = (float(lo[0]), float(lo[1]), float(hi[0]), float(hi[1]))
    path = Path(spec.file)
    stat = path.stat()
    return _static(str(path.resolve()), (stat.st_mtime, stat.st_size), spec.scenery, seed, box)


def lane_pose(network: RoadNetwork, key: LaneKey, s: float, offset: float = 0.0) -> tuple[float, float, float]:
    """World (x, y, heading) at station ``s`` of the lane, ``offset`` metres left of its centre, facing its way."""
    road = network.roads[key.road]
    direction = road.direction(key.lane)
    t = float(road.lane_centre_t(key.lane, s)[0]) + direction * offset
    x, y, h = road.to_world(s, t)
    heading = float(h) + (0.0 if direction > 0 else np.pi)
    return float(x), float(y), float(np.arctan2(np.sin(heading), np.cos(heading)))


def path_lane(
    network: RoadNetwork, road_map: RoadMap, key: LaneKey, s: float, turns: list[str], index: int
) -> tuple[Lane, float]:
    """A one-lane road from ``key``'s start along its lane and the route's turns, and where station ``s`` lies on it.

    Raises:
        ValueError: the turns do not fit the junctions met.
    """
    keys = route_keys(network, key, list(turns))
    start, _ = network.lane_span(key)
    points = route_polyline(network, keys, start)
    width = float(np.abs(np.subtract(*network.roads[key.road].lane_t(key.lane, s)))[0])
    lane = Lane(lane_road(index, points, max(width, 0.5)), 0)
    x, y, _ = lane_pose(network, key, s)
    station, _ = lane.road.project(np.array([[x, y]]))
    return lane, float(station[0])


def ego_route(network: RoadNetwork, road_map: RoadMap, scenario: Scenario) -> Route:
    """The ego's route: from its start along its lane, turning as ``ego.route`` says, to ``goal_s`` metres on.

    Raises:
        ValueError: the lane does not exist, the turns do not fit, or the goal lies beyond the route.
    """
    ego = scenario.ego
    key = network.lane_key(ego.road, ego.lane, ego.s)
    lane, start = path_lane(network, road_map, key, ego.s, ego.route, len(road_map.roads))
    if not 0.0 < ego.goal_s <= lane.road.length - start:
        raise ValueError(
            f"ego.goal_s {ego.goal_s:g} m is not on the route: it runs {lane.road.length - start:.0f} m from the start"
        )
    command = None if ego.command == "route" else COMMANDS[ego.command]
    return Route(lane, start, start + ego.goal_s, command, turns=tuple(ego.route))


def place_actors(
    network: RoadNetwork, road_map: RoadMap, scenario: Scenario, rng: np.random.Generator | None
) -> list[Actor]:
    """The scenario's actors on their lanes (``repeat`` rows included), jittered by ``rng`` (None: as written)."""
    from occsim.scenario.semantics import expanded_ids

    actors: list[Actor] = []
    jitter = scenario.jitter
    for spec in scenario.actors:
        draw = rng.uniform(-1.0, 1.0, size=3) if rng is not None else np.zeros(3)
        for k, actor_id in enumerate(expanded_ids(spec)):
            rep = spec.repeat
            s = spec.s + (k * rep.ds if rep else 0.0) + draw[0] * jitter.s
            offset = spec.offset + (k * rep.doffset if rep else 0.0) + draw[1] * jitter.offset
            key = network.lane_key(spec.road, spec.lane, s)
            lane, station = path_lane(network, road_map, key, s, spec.route, 1000 + len(actors))
            behavior = _behavior(spec, network, key, s)
            speed = max(0.0, spec.speed + (draw[2] * jitter.speed if spec.speed > 0 else 0.0))
            actor = Actor(
                id=actor_id,
                cls_name=spec.type,
                size=tuple(spec.size or ACTOR_SIZES[spec.type]),  # type: ignore[arg-type]
                lane=lane,
                s=station,
                offset=offset,
                speed=speed,
                behavior=behavior,
                instance=len(actors) + 1,
                yaw_offset=spec.yaw,
            )
            actors.append(actor)
    return actors


def _behavior(spec: ActorSpec, network: RoadNetwork, key: LaneKey, s: float) -> Behavior:
    """The actor's behaviour; a cut-in's target lane becomes a sideways distance from its own lane's centre."""
    behavior = make_behavior(spec)
    if isinstance(behavior, CutIn):
        road = network.roads[key.road]
        there = float(road.lane_centre_t(behavior.to_lane, s)[0])
        if not np.isfinite(there):
            raise ValueError(f"cut_in to_lane {behavior.to_lane} does not exist on road {key.road} at s={s:g}")
        behavior.lateral = (there - float(road.lane_centre_t(key.lane, s)[0])) * road.direction(key.lane)
    return behavior


def build_opendrive_world(scenario: Scenario, seed: int | None = None) -> World:
    """The world of a scenario on an OpenDRIVE map at t = 0; ``seed`` draws the jitter (None: none)."""
    network, road_map = load_map(scenario.map)
    ego = scenario.ego
    x, y, yaw = lane_pose(network, network.lane_key(ego.road, ego.lane, ego.s), ego.s, ego.offset)
    route = ego_route(network, road_map, scenario)
    rng = np.random.default_rng(seed) if seed is not None and scenario.actors else None
    actors = place_actors(network, road_map, scenario, rng)
    focus = np.vstack([route.centreline(5.0), *(np.array([[a.x, a.y]]) for a in actors)])
    static = static_of(scenario.map, scenario.seed, focus)
    limit = network.road(ego.road).record.speed_limit or World.speed_limit  # the road's own, if it gives one
    return World(road_map, static, actors, EgoState(Pose2D(x, y, yaw), float(ego.speed)), route, speed_limit=limit)
