"""The checks a schema cannot make: ids, routes that fit their road, actors on the road and apart, logged scenes."""

from __future__ import annotations

import difflib
import json
from pathlib import Path

import numpy as np
import shapely

from occsim.classes import ACTOR_SIZES
from occsim.geometry import arc_length
from occsim.scenario import schema
from occsim.scenario.problems import Path_, Problem, field_name, line_of
from occsim.scenario.schema import Scenario
from occsim.world.boxes import box_polygon
from occsim.world.ego import EGO_CENTRE_OFFSET, EGO_SIZE
from occsim.world.roadmap import MAP_BUILDERS, RoadMap
from occsim.world.routes import plan_route, turning_lane

ROUTE_BEHAVIORS = ("constant", "idm")  # behaviours that follow a lane, so can follow a turning route


def check_semantics(scenario: Scenario, source: str, lines: dict[Path_, int]) -> list[Problem]:
    """Checks the schema cannot express: lanes exist, no overlaps at t = 0, ego on the road, unique ids."""
    problems: list[Problem] = []

    def add(path: Path_, message: str) -> None:
        problems.append(Problem(source, line_of(lines, path), field_name(path), message))

    if scenario.map.type == "nuscenes":
        return _check_logged(scenario, add, problems)
    if scenario.openscenario is not None:
        from occsim.scenario.openscenario.checks import check_openscenario

        return check_openscenario(scenario, add, problems)
    if scenario.map.type == "opendrive":
        from occsim.scenario.opendrive_checks import check_opendrive

        return check_opendrive(scenario, add, problems)
    named = [("ego",)] * isinstance(scenario.ego.road, str)
    named += [("actors", i) for i, a in enumerate(scenario.actors) if isinstance(a.road, str)]
    for path in named:
        add((*path, "road"), "a road name is for opendrive maps; this map's roads are numbered 0, 1, ...")
    if named:
        return problems
    try:
        road_map = build_road_map(scenario.map)
    except ValueError as e:  # a road that folds over itself
        add(("map", "radius") if scenario.map.type == "curve" else ("map",), str(e))
        return problems
    ego = scenario.ego

    def lane_ok(path: Path_, road: int, lane: int) -> bool:
        try:
            road_map.lane(lane, road)
        except ValueError as e:
            add(path, str(e))
            return False
        return True

    boxes: list[tuple[Path_, str, shapely.Polygon]] = []
    if lane_ok(("ego", "lane"), ego.road, ego.lane):
        x, y, yaw = road_map.lane(ego.lane, ego.road).pose_at(ego.s, ego.offset)
        ego_box = box_polygon(
            x + EGO_CENTRE_OFFSET * np.cos(yaw), y + EGO_CENTRE_OFFSET * np.sin(yaw), yaw, *EGO_SIZE[:2]
        )
        if not road_map.drivable.contains(ego_box):
            add(("ego", "s"), f"the ego at s={ego.s}, lane {ego.lane} is off the road")
        boxes.append((("ego",), "the ego", ego_box))
        goal_lane = road_map.lane(ego.lane, ego.road)
        road_len, where = goal_lane.road.length, "the road"
        if any(turn != "straight" for turn in ego.route) and goal_lane.direction < 0:
            add(("ego", "route"), "an ego route that turns starts on a forward lane (lane >= 0)")
        elif any(turn != "straight" for turn in ego.route):
            try:
                points, _ = plan_route(road_map, goal_lane, ego.s, ego.route)
                road_len, where = float(arc_length(points)[-1]), "the route"
            except ValueError as e:
                add(("ego", "route"), str(e))
        if not 0.0 <= ego.goal_s <= road_len:
            add(("ego", "goal_s"), f"goal_s {ego.goal_s} is off {where}; allowed 0..{road_len:.0f}")
        elif (ego.goal_s - ego.s) * goal_lane.direction <= 0:
            add(("ego", "goal_s"), f"goal_s {ego.goal_s} is behind the start s={ego.s} in the lane's direction")

    seen: dict[str, int] = {}
    for i, actor in enumerate(scenario.actors):
        path: Path_ = ("actors", i)
        for actor_id in expanded_ids(actor):
            if actor_id in seen:
                add((*path, "id"), f"duplicate id '{actor_id}' (also actors[{seen[actor_id]}])")
            seen.setdefault(actor_id, i)
        if not lane_ok((*path, "lane"), actor.road, actor.lane):
            continue
        behavior = actor.behavior
        if (
            behavior is not None
            and behavior.type == "cut_in"
            and not road_map.roads[actor.road].has_lane(behavior.to_lane)
        ):
            road = road_map.roads[actor.road]
            add(
                (*path, "behavior", "to_lane"),
                f"lane {behavior.to_lane} does not exist; allowed {-road.oncoming_lanes}..{road.lanes - 1}",
            )
        if any(turn != "straight" for turn in actor.route):
            if behavior is not None and behavior.type not in ROUTE_BEHAVIORS:
                add((*path, "route"), f"a route is followed by {' or '.join(ROUTE_BEHAVIORS)}, not {behavior.type}")
            try:
                turning_lane(road_map, road_map.lane(actor.lane, actor.road), actor.s, actor.route)
            except ValueError as e:
                add((*path, "route"), str(e))
        lane = road_map.lane(actor.lane, actor.road)
        length, width, _ = actor.size or ACTOR_SIZES[actor.type]
        for k, actor_id in enumerate(expanded_ids(actor)):
            rep = actor.repeat
            s = actor.s + (k * rep.ds if rep else 0.0)
            offset = actor.offset + (k * rep.doffset if rep else 0.0)
            x, y, yaw = lane.pose_at(s, offset)
            boxes.append((path, f"actors[{i}] '{actor_id}'", box_polygon(x, y, yaw + actor.yaw, length, width)))

    check_overlaps(boxes, add)
    return problems


def check_overlaps(boxes: list[tuple[Path_, str, shapely.Polygon]], add) -> None:
    """``add`` a problem for every two boxes of different entries that overlap (path, name, footprint)."""
    # Only the pairs whose boxes touch (a spatial index), so thousands of actors validate in a moment.
    polygons = np.array([box for _, _, box in boxes], dtype=object)
    first, second = shapely.STRtree(polygons).query(polygons, predicate="intersects") if len(boxes) else ([], [])
    for a, b in sorted((int(a), int(b)) for a, b in zip(first, second) if a < b):
        (pa, na, ba), (pb, nb, bb) = boxes[a], boxes[b]
        if pa != pb and ba.intersection(bb).area > 1e-6:
            add(pb, f"{nb} overlaps {na} at t = 0")


def _check_logged(scenario: Scenario, add, problems: list[Problem]) -> list[Problem]:
    """What can be checked of a nuScenes scenario without loading the log: the files, lanes, ids, ``remove``."""
    spec = scenario.map
    root = Path(spec.dataroot).expanduser()
    tables = root / spec.version
    if not root.is_dir():
        add(("map", "dataroot"), f"nuScenes dataroot not found: {root}")
    elif not tables.is_dir():
        add(("map", "version"), f"no folder {tables} for version '{spec.version}'")
    elif not (tables / "scene.json").is_file():
        add(("map", "version"), f"{tables} has no scene.json: not a nuScenes table folder")
    else:
        names = [record["name"] for record in json.loads((tables / "scene.json").read_text())]
        if spec.scene not in names:
            close = difflib.get_close_matches(spec.scene, names, n=1)
            hint = f"; did you mean '{close[0]}'?" if close else ""
            add(("map", "scene"), f"scene '{spec.scene}' is not in {tables / 'scene.json'}{hint}")
    seen: dict[str, int] = {}
    for i, actor in enumerate(scenario.actors):
        if actor.road != 0 or actor.lane not in (0, -1):
            add(("actors", i, "lane"), "on a nuscenes map, actors go on road 0, lane 0 (the ego's) or -1 (oncoming)")
        if actor.id in seen:
            add(("actors", i, "id"), f"duplicate id '{actor.id}' (also actors[{seen[actor.id]}])")
        seen.setdefault(actor.id, i)
    if scenario.remove is not None and scenario.remove.of not in seen:
        add(("remove", "of"), f"'{scenario.remove.of}' is not an actor id; ids: {sorted(seen)}")
    return problems


def expanded_ids(actor) -> list[str]:
    """Ids of an actor entry after ``repeat``: ``id`` alone, or ``id_0 .. id_{n-1}``."""
    if actor.repeat is None or actor.repeat.count == 1:
        return [actor.id]
    return [f"{actor.id}_{k}" for k in range(actor.repeat.count)]


def build_road_map(map_spec: schema.StraightMap) -> RoadMap:
    """The road map a scenario's ``map`` entry describes."""
    spec = map_spec.model_dump()
    kind = spec.pop("type")
    return MAP_BUILDERS[kind](**spec)
