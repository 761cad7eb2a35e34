"""OpenSCENARIO positions resolved to a world pose and, where the place is on a road, a lane position.

Headings follow the standard: a LanePosition faces the lane's driving direction (right-hand traffic: lanes left
of the reference line face -s), a RoadPosition and a WorldPosition without ``h`` face the road's +s direction, an
``Orientation`` adds to that (``relative``) or replaces it (``absolute``). Relative road and lane positions move
``ds`` in reference-line station through road links (the straightest way at junctions); ``dsLane`` moves in the
lane's driving direction.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

from occsim.world.storyboard.motion import LanePos, lane_t, locate, move_along, road_point, to_world, wrap
from occsim.world.storyboard.tree import Node

MAX_METRES = 1e7  # [m] a position or distance in a file, as OpenDRIVE's numbers: a float still resolves millimetres


def metres(node: Node, name: str, default: float | None = None) -> float:
    """Attribute ``name`` as a position or distance within ``MAX_METRES`` (a file:line error beyond)."""
    value = node.number(name, default)
    if abs(value) > MAX_METRES:
        raise node.error(f"attribute {name}={node.attrs.get(name)!r} is beyond ±{MAX_METRES:.0e} m")
    return value


if TYPE_CHECKING:
    from occsim.world.storyboard.runtime import Runtime


@dataclass(frozen=True)
class Place:
    """A resolved position."""

    x: float
    y: float
    h: float  # [rad] world heading
    pos: LanePos | None  # the lane position, if the place is on a lane


def lane_facing(rt: Runtime, road: str, lane: int) -> float:
    """0 if ``lane`` is driven along +s, pi if along -s."""
    return 0.0 if rt.network.roads[road].direction(lane) > 0 else math.pi


def _orient(node: Node, base_h: float, relative_to: float) -> tuple[float, bool]:
    """The heading given by an optional Orientation child: (heading, absolute?)."""
    orientation = node.child("Orientation")
    if orientation is None or "h" not in orientation.attrs:
        return base_h, False
    h = orientation.number("h")
    if orientation.attrs.get("type", "relative") == "absolute":
        return h, True
    return relative_to + h, False


def _lane_place(rt: Runtime, pos: LanePos, node: Node | None) -> Place:
    """Place of a lane position whose ``h_rel`` may be replaced by an absolute Orientation of ``node``."""
    x, y, h = to_world(rt.network, pos)
    if node is not None:
        heading, absolute = _orient(node, h, h)
        if absolute:
            road_h = h - pos.h_rel
            return Place(x, y, wrap(heading), replace(pos, h_rel=wrap(heading - road_h)))
    return Place(x, y, h, pos)


def resolve_position(rt: Runtime, position: Node) -> Place:
    """Resolve a ``<Position>`` element (or one of its kinds) now, on the runtime's current state."""
    kind = position if position.tag in _RESOLVERS else position.only()  # <Position> or a Position-typed element
    resolver = _RESOLVERS.get(kind.tag)
    if resolver is None:
        raise kind.error(f"position kind <{kind.tag}> is not supported; supported: {', '.join(sorted(_RESOLVERS))}")
    return resolver(rt, kind)


def _need_network(rt: Runtime, node: Node) -> None:
    if rt.network is None:
        raise node.error("needs a road network (the scenario names no OpenDRIVE file)")


def _world(rt: Runtime, node: Node) -> Place:
    x, y = metres(node, "x"), metres(node, "y")
    pos = locate(rt.network, x, y, None) if rt.network is not None else None
    if "h" in node.attrs:
        h = node.number("h")
        if pos is not None:
            road_h = to_world(rt.network, pos)[2] - pos.h_rel
            pos = replace(pos, h_rel=wrap(h - road_h))
        return Place(x, y, wrap(h), pos)
    h = to_world(rt.network, pos)[2] if pos is not None else 0.0
    return Place(x, y, h, pos)


def _lane(rt: Runtime, node: Node) -> Place:
    _need_network(rt, node)
    road_id, lane = node.text("roadId"), node.integer("laneId")
    road = rt.network.road(road_id)
    s = min(max(metres(node, "s"), 0.0), road.length)
    lane_t(rt.network, road.id, lane, s)  # the lane exists there
    facing = lane_facing(rt, road.id, lane)
    orientation = node.child("Orientation")
    h_rel = facing
    if orientation is not None and orientation.attrs.get("type", "relative") != "absolute":
        h_rel = wrap(facing + orientation.number("h", 0.0))
    pos = LanePos(road.id, lane, s, metres(node, "offset", 0.0), h_rel)
    return _lane_place(rt, pos, node)


def _road(rt: Runtime, node: Node) -> Place:
    _need_network(rt, node)
    road = rt.network.road(node.text("roadId"))
    s, t = min(max(metres(node, "s"), 0.0), road.length), metres(node, "t")
    orientation = node.child("Orientation")
    h_rel = (
        orientation.number("h", 0.0) if orientation is not None and orientation.attrs.get("type") != "absolute" else 0.0
    )
    pos = road_point(rt.network, road.id, s, t, None)
    if pos is None:
        x, y, h = (float(v) for v in road.to_world(s, t))
        return Place(x, y, wrap(h + h_rel), None)
    return _lane_place(rt, replace(pos, h_rel=h_rel), node)


def _relative_object(rt: Runtime, node: Node) -> Place:
    ref = rt.entity(node.text("entityRef"), node)
    dx, dy = metres(node, "dx"), metres(node, "dy")
    c, s = math.cos(ref.h), math.sin(ref.h)
    x, y = ref.x + c * dx - s * dy, ref.y + s * dx + c * dy
    h, _ = _orient(node, ref.h, ref.h)
    return _located(rt, x, y, h)


def _relative_world(rt: Runtime, node: Node) -> Place:
    ref = rt.entity(node.text("entityRef"), node)
    x, y = ref.x + metres(node, "dx"), ref.y + metres(node, "dy")
    h, _ = _orient(node, ref.h, ref.h)
    return _located(rt, x, y, h)


def _located(rt: Runtime, x: float, y: float, h: float) -> Place:
    pos = locate(rt.network, x, y, h) if rt.network is not None else None
    return Place(x, y, wrap(h), pos)


def _ref_pos(rt: Runtime, node: Node) -> LanePos:
    ref = rt.entity(node.text("entityRef"), node)
    if ref.pos is None:
        raise node.error(f"entity '{ref.name}' is not on a road, so a road-relative position cannot be taken")
    return ref.pos


def _relative_road(rt: Runtime, node: Node) -> Place:
    _need_network(rt, node)
    ref = _ref_pos(rt, node)
    ds, dt = metres(node, "ds", 0.0), metres(node, "dt", 0.0)
    moved, _ = move_along(rt.network, replace(ref, h_rel=0.0), ds, along_lane=False)
    t = lane_t(rt.network, moved.road, moved.lane, moved.s) + moved.offset + dt
    orientation = node.child("Orientation")
    h_rel = (
        orientation.number("h", 0.0) if orientation is not None and orientation.attrs.get("type") != "absolute" else 0.0
    )
    pos = road_point(rt.network, moved.road, moved.s, t, None)
    if pos is None:
        x, y, h = (float(v) for v in rt.network.roads[moved.road].to_world(moved.s, t))
        return Place(x, y, wrap(h + h_rel), None)
    return _lane_place(rt, replace(pos, h_rel=h_rel), node)


def relative_lane_id(lane: int, d_lane: int) -> int:
    """``lane`` moved ``d_lane`` lanes, skipping the centre lane 0."""
    target = lane + d_lane
    if target == 0 or (target > 0) != (lane > 0):
        target += 1 if d_lane > 0 else -1
    return target


def _relative_lane(rt: Runtime, node: Node) -> Place:
    _need_network(rt, node)
    ref = _ref_pos(rt, node)
    entity = rt.entity(node.text("entityRef"), node)
    d_lane, offset = node.integer("dLane"), metres(node, "offset", 0.0)
    along_lane = "dsLane" in node.attrs
    if along_lane:
        driving = rt.network.roads[ref.road].direction(ref.lane)
        facing_forward = math.cos(entity.h - to_world(rt.network, replace(ref, h_rel=0.0))[2]) >= 0
        if (driving > 0) != facing_forward:
            d_lane, offset = -d_lane, -offset
        moved, _ = move_along(
            rt.network, replace(ref, h_rel=0.0 if driving > 0 else math.pi), metres(node, "dsLane"), along_lane=False
        )
    else:
        moved, _ = move_along(rt.network, replace(ref, h_rel=0.0), metres(node, "ds", 0.0), along_lane=False)
    lane = relative_lane_id(moved.lane, d_lane)
    try:
        lane_t(rt.network, moved.road, lane, moved.s)  # the lane exists there
    except ValueError as e:
        raise node.error(f"{e} ({d_lane:+d} lanes from lane {moved.lane})") from None
    orientation = node.child("Orientation")
    dh = orientation.number("h", 0.0) if orientation is not None else 0.0
    h_rel = dh + (lane_facing(rt, moved.road, lane) if along_lane else 0.0)
    if orientation is not None and orientation.attrs.get("type") == "absolute":
        h_rel = 0.0
    pos = LanePos(moved.road, lane, moved.s, offset, wrap(h_rel))
    return _lane_place(rt, pos, node)


def _route(rt: Runtime, node: Node) -> Place:
    _need_network(rt, node)
    route = rt.route_of(node.need("RouteRef"))
    where = node.need("InRoutePosition").only()
    if where.tag == "FromCurrentEntity":
        entity = rt.entity(where.text("entityRef"), where)
        return Place(entity.x, entity.y, entity.h, entity.pos)
    path_s = metres(where, "pathS")
    road, s, along = route.at(path_s)
    if where.tag == "FromLaneCoordinates":
        lane = where.integer("laneId")
        pos = LanePos(road, lane, s, metres(where, "laneOffset", 0.0), lane_facing(rt, road, lane))
        return _lane_place(rt, pos, node)
    pos = road_point(rt.network, road, s, metres(where, "t"), None)
    if pos is None:
        raise where.error(f"t={where.number('t')} is off road '{road}' at s={s:.1f}")
    return _lane_place(rt, replace(pos, h_rel=0.0 if along > 0 else math.pi), node)


def _trajectory(rt: Runtime, node: Node) -> Place:
    shape = rt.trajectory_of(node.need("TrajectoryRef"), None)
    s = metres(node, "s")
    x, y, _ = shape.at_s(s)
    along = shape.tangent_at(s)  # t and the heading go by the path itself, whatever headings its vertices give
    t = metres(node, "t", 0.0)
    x, y = x - t * math.sin(along), y + t * math.cos(along)
    heading, _ = _orient(node, along, along)
    return _located(rt, x, y, wrap(heading))


_RESOLVERS = {
    "WorldPosition": _world,
    "LanePosition": _lane,
    "RoadPosition": _road,
    "RelativeObjectPosition": _relative_object,
    "RelativeWorldPosition": _relative_world,
    "RelativeRoadPosition": _relative_road,
    "RelativeLanePosition": _relative_lane,
    "RoutePosition": _route,
    "TrajectoryPosition": _trajectory,
}
