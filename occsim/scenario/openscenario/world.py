"""The OccSim world of an OpenSCENARIO scenario: the storyboard at t = 0, its entities as actors, the ego's route.

The ego starts where and as fast as ``Init`` puts it. Its route (what route completion and the planner's command
follow) comes from the first AssignRouteAction, AcquirePositionAction or FollowTrajectoryAction the file scripts
for it; failing those, from its lane ahead (turning as ``ego.route`` says at junctions) to the end of the road.
Its goal is the end of that route, or nearer where the stop trigger ends the scenario after a travelled distance
or at a position of the ego's.
"""

from __future__ import annotations

import math

import numpy as np

from occsim.geometry import arc_length
from occsim.scenario.opendrive_world import load_map, static_of
from occsim.scenario.openscenario.document import Document, format_value, resolve
from occsim.scenario.openscenario.load import document_of
from occsim.scenario.problems import Problem, ScenarioError
from occsim.scenario.schema import Scenario
from occsim.types import EgoState, Pose2D
from occsim.world.opendrive.network import RoadNetwork
from occsim.world.opendrive.roads import lane_road, route_keys, route_polyline
from occsim.world.roadmap import Lane, RoadMap
from occsim.world.storyboard.director import Director
from occsim.world.storyboard.motion import key_of
from occsim.world.storyboard.positions import resolve_position
from occsim.world.storyboard.runtime import Runtime
from occsim.world.storyboard.trajectories import Shape
from occsim.world.storyboard.tree import Node
from occsim.world.world import Route, World

MIN_ROUTE = 20.0  # [m] a route shorter than this is lengthened along the ego's heading (it starts at a dead end)


def document_for(scenario: Scenario) -> Document:
    """The scenario's OpenSCENARIO document: its YAML form if the scenario carries one, else the .xosc file."""
    spec = scenario.openscenario
    if spec.document is None:
        return document_of(spec.file)
    root = Node.from_data("OpenSCENARIO", spec.document, spec.file)
    catalogs = {
        name: {entry: Node.from_data(_tag(data), _body(data), spec.file) for entry, data in entries.items()}
        for name, entries in spec.catalogs.items()
    }
    return Document(spec.file, root, catalogs)


def _tag(data: dict) -> str:
    """The element name of a catalog entry in YAML form: ``{Vehicle: {...}}``."""
    return next(iter(data))


def _body(data: dict) -> dict:
    return data[next(iter(data))]


def build_runtime(scenario: Scenario, network: RoadNetwork) -> Runtime:
    """The storyboard runtime of an OpenSCENARIO scenario, before its first step."""
    spec = scenario.openscenario
    resolved = resolve(document_for(scenario), spec.parameters)
    parameters = {k: format_value(v) for k, v in resolved.parameters.items()}
    return Runtime(resolved.root, network, parameters, spec.ego, spec.mode)


def build_openscenario_world(scenario: Scenario, seed: int | None = None) -> World:
    """The world at t = 0 (the Init actions done); ``seed`` is unused: the file's own values are the run."""
    network, road_map = load_map(scenario.map)
    runtime = build_runtime(scenario, network)
    director = Director(runtime)
    runtime.begin()
    ego = runtime.entities[runtime.ego]
    if ego.speed < -0.01 and scenario.openscenario.mode == "planner":
        message = (
            f"the ego '{ego.name}' starts reversing ({ego.speed:.2f} m/s); a planner's ego drives forward only (run "
            "the file's own ego with ego mode 'scripted', `--scripted`)"
        )
        raise ScenarioError([Problem(scenario.openscenario.file, None, "", message)])
    points = _route_points(runtime, scenario, network)
    route = _route(runtime, road_map, points, ego)
    runtime.ego_path = _shape(points)
    actors = director.scene()
    focus = np.vstack([points, *(np.array([[e.x, e.y]]) for e in runtime.entities.values() if e.active)])
    static = static_of(scenario.map, scenario.seed, focus)
    state = EgoState(Pose2D(ego.x, ego.y, ego.h), float(ego.speed))
    return World(road_map, static, actors, state, route, director=director, speed_limit=_speed_limit(network, ego))


def _speed_limit(network: RoadNetwork, ego) -> float:
    """What the expert may drive: the test's own speed (the ego's at the start), else its road's limit, else 50 km/h."""
    if ego.speed > 1.0:
        return float(ego.speed)
    limit = network.roads[ego.pos.road].record.speed_limit if ego.pos is not None else None
    return limit or World.speed_limit


def _route_points(runtime: Runtime, scenario: Scenario, network: RoadNetwork) -> np.ndarray:
    """The ego's route (N, 2) from where it starts, in the world frame."""
    ego = runtime.entities[runtime.ego]
    source = runtime.ego_route_source()
    points = None
    if source is not None and source.tag == "FollowTrajectoryAction":
        reference = source.child("TrajectoryRef") or source.child("Trajectory") or source.child("CatalogReference")
        shape = runtime.trajectory_of(reference, ego)
        points = np.stack([shape.x, shape.y], axis=1)
    elif source is not None and ego.pos is not None:
        if source.tag == "AssignRouteAction":
            roads = runtime.route_of(source).roads
        else:
            target = resolve_position(runtime, source.need("Position"))
            roads = runtime.road_path(ego.pos.road, target.pos.road) if target.pos is not None else []
        runtime.entities[runtime.ego].route = roads
        points = _lane_points(network, ego, roads, scenario.ego.route)
    elif ego.pos is not None:
        points = _lane_points(network, ego, [], scenario.ego.route)
    if points is None or len(points) < 2 or arc_length(points)[-1] < MIN_ROUTE:
        start = np.array([ego.x, ego.y])
        ahead = start + np.outer(np.linspace(0.0, 200.0, 201), [math.cos(ego.h), math.sin(ego.h)])
        points = ahead if points is None or len(points) < 2 else np.vstack([points, ahead[1:] + points[-1] - start])
    return points


def _lane_points(network: RoadNetwork, ego, roads: list[str], turns: list[str]) -> np.ndarray | None:
    """The ego's lane ahead from its station: through ``roads`` if given, else taking ``turns`` at junctions."""
    key = key_of(network, ego.pos)
    if network.roads[key.road].direction(key.lane) * ego.pos.along < 0:  # it drives against its lane
        return None
    keys = _follow(network, key, roads) if roads else route_keys(network, key, list(turns))
    return route_polyline(network, keys, ego.pos.s)


def _follow(network: RoadNetwork, key, roads: list[str]) -> list:
    """Lanes from ``key`` taking, at each choice, the way into the next of ``roads`` (straight where none is)."""
    keys = [key]
    while len(keys) < 200:
        options = network.exits(keys[-1])
        if not options:
            break
        into = [o for o in options if o.road in roads or any(k.road in roads for k in network.exits(o))]
        chosen = into[0] if into else network.choose_exit(keys[-1], "straight")
        if chosen is None or chosen in keys:
            break
        keys.append(chosen)
    return keys


def _route(runtime: Runtime, road_map: RoadMap, points: np.ndarray, ego) -> Route:
    """The Route along ``points`` (a lane of its own, after the map's roads) with its goal."""
    lane = Lane(lane_road(len(road_map.roads), points, 3.5), 0)
    start, _ = lane.road.project(np.array([[ego.x, ego.y]]))
    goal = lane.road.length
    travelled = _stop_distance(runtime, lane, float(start[0]))
    if travelled is not None:
        goal = min(goal, travelled)
    return Route(lane, float(start[0]), max(goal, float(start[0]) + 1.0), None)


def _stop_distance(runtime: Runtime, lane: Lane, start: float) -> float | None:
    """Where the stop trigger ends the scenario on the ego's route: a TraveledDistance or ReachPosition of the ego.

    Only a condition that ends the run alone counts: one that shares its condition group (an AND) with others,
    as Euro NCAP's "travelled at least this far and ..." does, is no goal.
    """
    stop = runtime.root.need("Storyboard").child("StopTrigger")
    found = []
    for group in stop.all("ConditionGroup") if stop is not None else []:
        conditions = group.all("Condition")
        if len(conditions) != 1:
            continue
        condition = conditions[0].child("ByEntityCondition")
        if condition is None:
            continue
        names = [r.text("entityRef") for r in condition.need("TriggeringEntities").all("EntityRef")]
        kind = condition.need("EntityCondition").only()
        if runtime.ego not in names:
            continue
        if kind.tag == "TraveledDistanceCondition":
            found.append(start + kind.number("value"))
        elif kind.tag == "ReachPositionCondition":
            place = resolve_position(runtime, kind.need("Position"))
            station, _ = lane.road.project(np.array([[place.x, place.y]]))
            found.append(float(station[0]))
    return min(found) if found else None


def _shape(points: np.ndarray) -> Shape:
    s = arc_length(points)
    h = np.unwrap(np.arctan2(np.gradient(points[:, 1]), np.gradient(points[:, 0])))
    return Shape(s, points[:, 0].copy(), points[:, 1].copy(), h, None)
