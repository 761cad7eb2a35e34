"""Where an OpenSCENARIO entity is on the road network, and how it moves along its lane.

A road-attached entity keeps its lane id and its offset from the lane's centre (in the road's t direction) as it
moves, so it follows the lane centre as lanes widen, narrow and bend; its heading keeps its angle to the road's s
direction. A move of d metres advances the reference-line station by d / (1 - curvature * t) (the lane is longer
or shorter than the reference line in a bend), crosses lane sections and road links, and at a junction takes the
route's road, else the straightest way on.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, replace

import numpy as np

from occsim.world.opendrive.network import LaneKey, RoadNetwork

MIN_SCALE = 1e-3  # floor of (1 - curvature * t): a point at the centre of curvature does not move along s
SLOPE_STEP = 0.01  # [m] finite difference for the slope of a lane centre


@dataclass(frozen=True)
class LanePos:
    """A road-attached place: lane ``lane`` of ``road`` at station ``s``, ``offset`` m (along +t) from its centre."""

    road: str
    lane: int
    s: float
    offset: float = 0.0
    h_rel: float = 0.0  # [rad] heading relative to the road's s direction (pi: facing -s)

    @property
    def along(self) -> int:
        """+1 when the entity faces +s, -1 when it faces -s."""
        return 1 if math.cos(self.h_rel) >= 0.0 else -1


def wrap(angle: float) -> float:
    """``angle`` in (-pi, pi]."""
    return math.atan2(math.sin(angle), math.cos(angle))


def lane_t(network: RoadNetwork, road: str, lane: int, s: float) -> float:
    """T [m] of a lane's centre at station ``s`` (the nearest section's lane if the section lacks it)."""
    value = float(network.roads[road].lane_centre_t(lane, s)[0])
    if not math.isfinite(value):
        raise ValueError(f"road '{road}' has no lane {lane} at s={s:.2f}")
    return value


def lane_slope(network: RoadNetwork, road: str, lane: int, s: float) -> float:
    """D t / d s of the lane centre at ``s``."""
    r = network.roads[road]
    a, b = max(s - SLOPE_STEP, 0.0), min(s + SLOPE_STEP, r.length)
    if b - a < 1e-9:
        return 0.0
    ta, tb = r.lane_centre_t(lane, np.array([a, b]))
    return float((tb - ta) / (b - a)) if math.isfinite(ta) and math.isfinite(tb) else 0.0


def to_world(network: RoadNetwork, pos: LanePos) -> tuple[float, float, float]:
    """World (x, y, heading) of a lane position; the heading follows the lane centre's direction."""
    t = lane_t(network, pos.road, pos.lane, pos.s) + pos.offset
    x, y, h = network.roads[pos.road].to_world(pos.s, t)
    heading = float(h) + pos.h_rel + math.atan(lane_slope(network, pos.road, pos.lane, pos.s))
    return float(x), float(y), wrap(heading)


def road_point(network: RoadNetwork, road: str, s: float, t: float, heading: float | None) -> LanePos | None:
    """The lane position of road point (s, t) (None: t is outside every lane), ``heading`` made relative."""
    r = network.roads[road]
    lane = r.lane_at(s, t)
    if lane is None:
        return None
    h_ref = float(r.reference(s)[2])
    h_rel = 0.0 if heading is None else wrap(heading - h_ref - math.atan(lane_slope(network, road, lane, s)))
    return LanePos(road, lane, s, t - lane_t(network, road, lane, s), h_rel)


def locate(
    network: RoadNetwork,
    x: float,
    y: float,
    heading: float | None = None,
    prefer: str | None = None,
    nearest: bool = False,
) -> LanePos | None:
    """The lane position of a world point; None off every road.

    With ``nearest``, a point off the lanes belongs to the nearest road's outermost lane on that side, with the
    offset that reaches it.
    """
    point = network.locate(x, y, heading, prefer)
    if point is None:
        return None
    if point.lane is None:
        if not nearest:
            return None
        road = network.roads[point.road]
        right, left = road.extent(road.section_index(point.s), [point.s])
        inside = min(max(point.t, float(right[0]) + 1e-6), float(left[0]) - 1e-6)
        pos = road_point(network, point.road, point.s, inside, heading)
        return None if pos is None else replace(pos, offset=pos.offset + point.t - inside)
    return road_point(network, point.road, point.s, point.t, heading)


def key_of(network: RoadNetwork, pos: LanePos) -> LaneKey:
    """The LaneKey of a lane position."""
    return LaneKey(pos.road, network.roads[pos.road].section_index(pos.s), pos.lane)


def move_along(
    network: RoadNetwork,
    pos: LanePos,
    distance: float,
    route: Sequence[str] = (),
    choice: float = 0.0,
    along_lane: bool = True,
) -> tuple[LanePos, bool]:
    """``pos`` moved ``distance`` metres along its lane in the direction it faces (negative: backwards).

    ``route`` (road ids) picks the way at junctions; otherwise the connection whose heading change is closest to
    ``choice`` radians (0: the straightest). ``along_lane=False`` counts ``distance`` in reference-line station
    (relative road and lane positions do). Returns the new position and whether it stopped at the end of a road
    with nothing after it.
    """
    road = network.roads[pos.road]
    key = key_of(network, pos)
    remaining = distance
    for _ in range(64):  # roads crossed in one move; a move is one frame of driving
        t = lane_t(network, pos.road, pos.lane, pos.s) + pos.offset
        scale = max(1.0 - road.curvature(pos.s) * t, MIN_SCALE) if along_lane else 1.0
        travel = pos.along * (1 if remaining >= 0 else -1)
        target = pos.s + travel * abs(remaining) / scale
        lo, hi = road.section_range(key.section)
        if lo - 1e-9 <= target <= hi + 1e-9:
            return replace(pos, s=min(max(target, 0.0), road.length)), False
        edge = hi if target > hi else lo
        used = abs(edge - pos.s) * scale
        remaining = math.copysign(max(abs(remaining) - used, 0.0), remaining)
        direction = 1 if target > hi else -1
        candidates = network.neighbours(key, direction)
        if not candidates:
            return replace(pos, s=edge), True
        following = _choose(network, key, direction, candidates, route, choice)
        contact = network.entry_contact(key, direction, following)
        next_road = network.roads[following.road]
        flipped = (contact == "end") == (direction > 0)  # travel changes sign relative to s on the new road
        start = 0.0 if contact == "start" else next_road.length
        pos = LanePos(
            following.road,
            following.lane,
            start,
            -pos.offset if flipped else pos.offset,
            wrap(pos.h_rel + math.pi) if flipped else pos.h_rel,
        )
        if following.road == key.road:
            pos = replace(pos, s=edge)
        road, key = next_road, following
    return pos, False


def _choose(
    network: RoadNetwork, key: LaneKey, direction: int, candidates: list[LaneKey], route: Sequence[str], choice: float
) -> LaneKey:
    """The way on: the route's next road (directly or through a connecting road), else the heading rule."""
    if len(candidates) == 1:
        return candidates[0]
    if route:
        ahead = list(route[route.index(key.road) + 1 :]) if key.road in route else list(route)
        for candidate in candidates:
            reach = {candidate.road} | {k.road for k in network.through(candidate)}
            reach |= {k.road for c in network.through(candidate)[-1:] for k in network.exits(c)}
            if any(road in reach for road in ahead[:2]):
                return candidate
    changes = [network.heading_change(network.through(c)) for c in candidates]
    return min(zip(changes, candidates), key=lambda pair: abs(pair[0] - choice))[1]
