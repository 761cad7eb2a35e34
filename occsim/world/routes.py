"""Routes that turn: the ego's path through the junctions it meets, and the command a planner gets from it.

A route starts on a forward lane and, at each junction (another road's reference line crossing its lane), goes
straight or turns onto the crossing road: right into that direction's rightmost lane, left into the lane nearest the
centre line, as drivers are taught. The turn is a quadratic Bézier from a point ``TURN_LEGS`` before the two lanes'
crossing to a point as far after it, tangent to both lanes. The route becomes a one-lane ``Road`` whose station 0 is
the start road's station 0, so stations before the first turn are the start road's own.

The command follows VAD and nuScenes (``command_at`` of ``occsim.data.scene_world`` for logs): the route's point
3 s ahead at the current speed, in the ego frame, more than 2 m left is "left", more than 2 m right is "right".
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from shapely.geometry import LineString, Point

from occsim.geometry import arc_length, extend_straight
from occsim.types import COMMAND_LEFT, COMMAND_RIGHT, COMMAND_STRAIGHT, Pose2D
from occsim.world.roadmap import SAMPLE_SPACING, Lane, Road, RoadMap, road_following

TURNS = ("straight", "left", "right")
TURN_LEGS = {"right": 9.0, "left": 13.0}  # [m] each side of the lanes' crossing: a right turn is the tighter
JUNCTION_REACH = 30.0  # [m] a lane is continued past its end by this much to find where it meets the new lane
COMMAND_HORIZON, COMMAND_THRESHOLD = 3.0, 2.0  # [s], [m]: VAD's rule


@dataclass(frozen=True)
class Junction:
    """Where another road crosses the route's current lane."""

    distance: float  # [m] along the current lane's polyline from its start
    road: Road  # the crossing road


def travel_polyline(lane: Lane, spacing: float = SAMPLE_SPACING) -> np.ndarray:
    """The lane's centreline in its driving direction from station 0 (forward lanes) to the road's end."""
    return lane.centreline(0.0, None, spacing)


def junctions_ahead(line: np.ndarray, road_map: RoadMap, skip: Road, after: float) -> list[Junction]:
    """Crossings of ``line`` with every road but ``skip``, beyond ``after`` metres along it, nearest first."""
    path = LineString(line)
    found = []
    for road in road_map.roads:
        if road is skip:
            continue
        # continued past both ends, so a road that ends at the junction (a T's stem) still counts
        reference = _both_ways(road.reference, JUNCTION_REACH)
        hit = path.intersection(LineString(reference))
        for point in getattr(hit, "geoms", [hit]):
            if isinstance(point, Point) and not point.is_empty:
                distance = path.project(point)
                if distance > after:
                    found.append(Junction(distance, road))
    return sorted(found, key=lambda j: j.distance)


def turn_lane(road: Road, at: np.ndarray, heading: float, turn: str, junction: int) -> Lane:
    """The lane of ``road`` a turn at ``at`` enters: right → that direction's rightmost, left → nearest the centre.

    Raises:
        ValueError: the road has no lane in the direction the turn needs.
    """
    station, _ = road.project(at[None])
    _, road_heading, _ = road.frame_at(float(station[0]))
    side = np.sin(float(road_heading) - heading)  # > 0: the road's forward direction points left of the ego
    forward = (side > 0) == (turn == "left")
    count = road.lanes if forward else road.oncoming_lanes
    if count == 0:
        raise ValueError(f"route turn {junction} ({turn}): road {road.index} has no lane that way")
    if forward:
        return Lane(road, 0 if turn == "right" else road.lanes - 1)
    return Lane(road, -road.oncoming_lanes if turn == "right" else -1)


def _backwards(line: np.ndarray, length: float) -> np.ndarray:
    """``line`` (N, 2) continued straight on before its start by ``length`` metres."""
    return extend_straight(line[::-1], length, SAMPLE_SPACING)[::-1]


def _both_ways(line: np.ndarray, length: float) -> np.ndarray:
    """``line`` (N, 2) continued straight on by ``length`` metres before its start and past its end."""
    return extend_straight(_backwards(line, length), length, SAMPLE_SPACING)


def bezier(a: np.ndarray, control: np.ndarray, b: np.ndarray, spacing: float = SAMPLE_SPACING) -> np.ndarray:
    """Points of the quadratic Bézier a → b with ``control``, about ``spacing`` apart."""
    length = float(np.hypot(*(control - a)) + np.hypot(*(b - control)))
    t = np.linspace(0.0, 1.0, max(3, int(np.ceil(length / spacing)) + 1))[:, None]
    return (1 - t) ** 2 * a + 2 * (1 - t) * t * control + t**2 * b


def plan_route(road_map: RoadMap, lane: Lane, start_s: float, turns: list[str]) -> tuple[np.ndarray, list[str]]:
    """The route's centreline (N, 2) from ``lane``'s station 0, and the turn taken at each junction met.

    Junctions beyond ``turns`` are passed straight.

    Raises:
        ValueError: an unknown turn, more turns than junctions ahead, or a turn onto a road with no lane that way.
    """
    unknown = [t for t in turns if t not in TURNS]
    if unknown:
        raise ValueError(f"route turns must be {', '.join(TURNS)}, got {unknown[0]!r}")
    line = travel_polyline(lane)
    pieces: list[np.ndarray] = []
    taken: list[str] = []
    current, after = lane, float(LineString(line).project(Point(lane.pose_at(start_s)[:2])))
    while True:
        ahead = junctions_ahead(line, road_map, current.road, after)
        turn_at = next((j for j in ahead if len(taken) < len(turns) and turns[len(taken)] != "straight"), None)
        for junction in ahead:
            if junction is turn_at:
                break
            taken.append("straight")  # junctions before the turning one are passed straight
        if turn_at is None:
            break
        turn = turns[len(taken)]
        taken.append(turn)
        path = LineString(line)
        after_point, before_point = path.interpolate(turn_at.distance + 1.0), path.interpolate(turn_at.distance - 1.0)
        heading = float(np.arctan2(after_point.y - before_point.y, after_point.x - before_point.x))
        at = np.array(path.interpolate(turn_at.distance).coords[0])
        target = turn_lane(turn_at.road, at, heading, turn, len(taken) - 1)
        # Lanes that end or begin at the junction (a T's stem) are continued across it to find where they meet.
        target_line = extend_straight(target.centreline(spacing=SAMPLE_SPACING)[::-1], JUNCTION_REACH, SAMPLE_SPACING)[
            ::-1
        ]
        line = extend_straight(line, JUNCTION_REACH, SAMPLE_SPACING)
        path, exit_line = LineString(line), LineString(target_line)
        crossing = path.intersection(exit_line)
        leg = TURN_LEGS[turn]
        exit_distance = exit_line.project(crossing) + leg if not crossing.is_empty else math.inf
        if exit_distance > exit_line.length - leg:  # the lane it would enter is not there (or ends at once)
            raise ValueError(f"route turn {len(taken) - 1} ({turn}): no road leaves junction {len(taken)} that way")
        corner = crossing if isinstance(crossing, Point) else min(crossing.geoms, key=path.project)
        entry_distance = path.project(corner) - leg
        entry = np.array(path.interpolate(entry_distance).coords[0])
        exit_ = np.array(exit_line.interpolate(exit_distance).coords[0])
        kept = line[arc_length(line) < entry_distance]
        pieces += [kept, bezier(entry, np.array(corner.coords[0]), exit_)]
        rest = target_line[arc_length(target_line) > exit_distance]
        line, current, after = rest, target, 0.0
        if len(line) < 2:
            break
    missing = len([t for t in turns[len(taken) :] if t != "straight"])
    if missing:
        raise ValueError(f"the route has {len(turns)} turns but the ego meets {len(taken)} junction(s) on its way")
    pieces.append(line)
    return np.concatenate([p for p in pieces if len(p)]), taken


def route_road(road_map: RoadMap, points: np.ndarray, lane_width: float) -> Road:
    """A one-lane road along the route (index after the map's roads); not part of the drivable area."""
    return road_following(len(road_map.roads), points, lane_width=lane_width, oncoming_lanes=0)


def turning_lane(road_map: RoadMap, lane: Lane, s: float, turns: list[str]) -> tuple[Lane, float]:
    """The lane along a route that turns, and station ``s`` of ``lane`` in its stations (what other traffic follows).

    Any lane may turn, oncoming ones included (their route starts at the road's far end).
    """
    points, _ = plan_route(road_map, lane, s, turns)
    route = Lane(route_road(road_map, points, lane.width), 0)
    station, _ = route.road.project(np.array([lane.pose_at(s)[:2]]))
    return route, float(station[0])


def route_command(lane: Lane, pose: Pose2D, speed: float) -> int:
    """VAD's command for a route along ``lane``: where it is ``COMMAND_HORIZON`` seconds ahead, in the ego frame."""
    station, _ = lane.road.project(np.array([[pose.x, pose.y]]))
    x, y, _ = lane.pose_at(float(station[0]) + lane.direction * speed * COMMAND_HORIZON)
    dx, dy = x - pose.x, y - pose.y
    lateral = -np.sin(pose.yaw) * dx + np.cos(pose.yaw) * dy
    if lateral > COMMAND_THRESHOLD:
        return COMMAND_LEFT
    if lateral < -COMMAND_THRESHOLD:
        return COMMAND_RIGHT
    return COMMAND_STRAIGHT
