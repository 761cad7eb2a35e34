"""Turning a validated scenario into a World, with per-run jitter drawn from the reset seed."""

from __future__ import annotations

import copy
from collections.abc import Callable
from functools import lru_cache

import numpy as np
import shapely

from occsim.classes import ACTOR_SIZES
from occsim.registry import Registry
from occsim.scenario.schema import ActorSpec, Scenario, StraightMap
from occsim.scenario.semantics import build_road_map, expanded_ids
from occsim.types import COMMANDS, EgoState, Pose2D, Weather
from occsim.world.actors import BEHAVIORS, Actor, Behavior, Trigger
from occsim.world.background import StaticWorld, build_static_world
from occsim.world.boxes import box_polygon
from occsim.world.ego import EGO_CENTRE_OFFSET, EGO_SIZE
from occsim.world.roadmap import Lane, RoadMap
from occsim.world.routes import plan_route, route_road, turning_lane
from occsim.world.world import Route, World

JITTER_TRIES = 20  # redraws before a run falls back to the unjittered layout


def weather_of(scenario: Scenario) -> Weather:
    """The scenario's default weather."""
    w = scenario.weather
    return Weather(w.type, w.visibility, w.intensity, w.prompt)


@lru_cache(maxsize=16)
def static_world(map_spec: StraightMap, seed: int) -> tuple[RoadMap, StaticWorld]:
    """Road map and background for a (frozen, hashable) map spec; cached, as building one takes ~0.5 s."""
    road_map = build_road_map(map_spec)
    return road_map, build_static_world(road_map, np.random.default_rng(seed))


WorldBuilder = Callable[[Scenario, "int | None"], World]
WORLD_BUILDERS: Registry[WorldBuilder] = Registry("map type with a world builder")
register_world_builder = WORLD_BUILDERS.register
# Declared here, imported on first use: the reader lives in the data room, which builds on this one.
WORLD_BUILDERS.register_lazy("nuscenes", "occsim.data.scene_builder")


def build_world(scenario: Scenario, seed: int | None = None) -> World:
    """The world at t = 0; ``seed`` draws the jitter (None: no jitter).

    Map types other than the procedural ones are built by a registered builder (``occsim.data`` registers
    ``nuscenes``).
    """
    if scenario.map.type in WORLD_BUILDERS:
        return WORLD_BUILDERS[scenario.map.type](scenario, seed)
    if scenario.openscenario is not None:
        from occsim.scenario.openscenario.world import build_openscenario_world

        return build_openscenario_world(scenario, seed)
    if scenario.map.type == "opendrive":
        from occsim.scenario.opendrive_world import build_opendrive_world  # it uses this module's helpers

        return build_opendrive_world(scenario, seed)
    if scenario.map.type == "nuscenes":
        raise ValueError("map type 'nuscenes' is built by occsim.data: import occsim (or occsim.data.scene_builder)")
    road_map, static = static_world(scenario.map, scenario.seed)
    rng = np.random.default_rng(seed)
    jitter = scenario.jitter if seed is not None else None

    ego_spec = scenario.ego
    lane = road_map.lane(ego_spec.lane, ego_spec.road)
    x, y, yaw = lane.pose_at(ego_spec.s, ego_spec.offset)
    ego = EgoState(Pose2D(x, y, yaw), float(ego_spec.speed))
    route = ego_route(road_map, lane, ego_spec.s, ego_spec.goal_s, ego_spec.route, ego_spec.command)

    actors = place_actors(scenario, road_map, rng if jitter else None, ego)
    return World(road_map, static, actors, ego, route)


def ego_route(road_map: RoadMap, lane: Lane, start_s: float, goal_s: float, turns: list[str], command: str) -> Route:
    """The ego's route: its lane, or (with a turn) a one-lane road along the path through the junctions.

    Raises:
        ValueError: the turns do not fit the map (see ``plan_route``), or the goal lies beyond the route.
    """
    if any(turn != "straight" for turn in turns):
        if lane.direction < 0:
            raise ValueError("an ego route that turns starts on a forward lane (lane >= 0)")
        points, _ = plan_route(road_map, lane, start_s, turns)
        lane = Lane(route_road(road_map, points, lane.width), 0)
        if not start_s < goal_s <= lane.road.length:
            raise ValueError(
                f"ego.goal_s {goal_s:g} m is not on the route: it runs {lane.road.length:.0f} m from the road's "
                f"station 0 (start at {start_s:g} m)"
            )
    return Route(lane, start_s, goal_s, None if command == "route" else COMMANDS[command], turns=tuple(turns))


def place_actors(scenario: Scenario, road_map: RoadMap, rng: np.random.Generator | None, ego: EgoState) -> list[Actor]:
    """The scenario's actors on ``road_map``, jittered by ``rng`` (None: as written), never overlapping at t = 0."""
    base = [_make(spec, road_map, k, ds=0.0, doff=0.0, dv=0.0) for spec in scenario.actors for k in _copies(spec)]
    for i, a in enumerate(base):
        a.instance = i + 1
    if rng is None or not scenario.actors:
        return base
    j = scenario.jitter
    for _ in range(JITTER_TRIES):
        draws = [rng.uniform(-1.0, 1.0, size=3) for _ in scenario.actors]  # one draw per entry keeps rows in formation
        actors = []
        for spec, d in zip(scenario.actors, draws):
            for k in _copies(spec):
                actors.append(_make(spec, road_map, k, ds=d[0] * j.s, doff=d[1] * j.offset, dv=d[2] * j.speed))
        for i, a in enumerate(actors):
            a.instance = i + 1
        if not _overlapping(actors, ego):
            return actors
    return base


def _copies(spec: ActorSpec) -> range:
    return range(spec.repeat.count if spec.repeat else 1)


def _make(spec: ActorSpec, road_map: RoadMap, k: int, ds: float, doff: float, dv: float) -> Actor:
    rep = spec.repeat
    lane, s = road_map.lane(spec.lane, spec.road), spec.s + (k * rep.ds if rep else 0.0) + ds
    if any(turn != "straight" for turn in spec.route):
        lane, s = turning_lane(road_map, lane, s, spec.route)
    return Actor(
        id=expanded_ids(spec)[k],
        cls_name=spec.type,
        size=tuple(spec.size or ACTOR_SIZES[spec.type]),  # type: ignore[arg-type]
        lane=lane,
        s=s,
        offset=spec.offset + (k * rep.doffset if rep else 0.0) + doff,
        speed=max(0.0, spec.speed + (dv if spec.speed > 0 else 0.0)),
        behavior=make_behavior(spec),
        yaw_offset=spec.yaw,
    )


def make_behavior(spec: ActorSpec) -> Behavior:
    """A fresh behaviour object for an actor spec (behaviours hold per-run state)."""
    b = spec.behavior
    if b is None:
        return BEHAVIORS["constant" if spec.speed > 0 else "static"]()
    params = copy.deepcopy(b.model_dump(exclude={"type"}))
    if params.get("when") is not None:
        params["when"] = Trigger(**params["when"])
    if "points" in params:
        params["points"] = [tuple(p) for p in params["points"]]
    return BEHAVIORS[b.type](**params)


def _overlapping(actors: list[Actor], ego: EgoState) -> bool:
    boxes = [box_polygon(a.x, a.y, a.yaw, a.size[0], a.size[1]) for a in actors]
    c, s = np.cos(ego.pose.yaw), np.sin(ego.pose.yaw)
    boxes.append(
        box_polygon(ego.pose.x + EGO_CENTRE_OFFSET * c, ego.pose.y + EGO_CENTRE_OFFSET * s, ego.pose.yaw, *EGO_SIZE[:2])
    )
    tree = shapely.STRtree(boxes)
    pairs = tree.query(boxes, predicate="intersects")
    return bool(np.any(pairs[0] != pairs[1]))
