"""OpenSCENARIO conditions: each evaluated on the state at the start of a step, with its edge and delay.

A condition's raw value goes through its ``conditionEdge`` (rising, falling, risingOrFalling, none; an edge never
fires on the first evaluation) and then its ``delay`` (the value it had ``delay`` seconds ago, a one-step pulse
not lost). Rules compare numbers with a 1e-6 tolerance. Entity conditions hold for ``any`` or ``all`` of their
triggering entities.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import TYPE_CHECKING

import numpy as np
import shapely

from occsim.world.opendrive.network import LaneKey
from occsim.world.storyboard.entities import Entity, free_distance, free_gaps, overlapping
from occsim.world.storyboard.positions import resolve_position
from occsim.world.storyboard.tree import Node

if TYPE_CHECKING:
    from occsim.world.storyboard.runtime import Runtime

EPS = 1e-6
RULES = ("greaterThan", "greaterOrEqual", "lessThan", "lessOrEqual", "equalTo", "notEqualTo")


def compare(value: float | str | bool, rule: str, target: float | str | bool) -> bool:
    """``value rule target`` with OpenSCENARIO's rules; numbers with a 1e-6 tolerance, else as text."""
    try:
        a, b = float(value), float(target)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        a, b = str(value).lower(), str(target).lower()  # booleans and strings
        return {
            "greaterThan": a > b,
            "greaterOrEqual": a >= b,
            "lessThan": a < b,
            "lessOrEqual": a <= b,
            "equalTo": a == b,
            "notEqualTo": a != b,
        }[rule]
    return {
        "greaterThan": a > b + EPS,
        "greaterOrEqual": a >= b - EPS,
        "lessThan": a < b - EPS,
        "lessOrEqual": a <= b + EPS,
        "equalTo": b - EPS < a < b + EPS,
        "notEqualTo": not (b - EPS < a < b + EPS),
    }[rule]


class Condition:
    """One ``<Condition>``: its kind, edge and delay, and the history the delay reads."""

    def __init__(self, node: Node, rt: Runtime):
        rt.conditions.append(self)
        self.node = node
        self.name = node.attrs.get("name", "")
        self.delay = node.number("delay", 0.0)
        self.edge = node.choice("conditionEdge", ("none", "rising", "falling", "risingOrFalling"), "none")
        body = node.only()
        if body.tag == "ByEntityCondition":
            triggering = body.need("TriggeringEntities")
            self.rule = triggering.choice("triggeringEntitiesRule", ("any", "all"), "any")
            self.entities = [ref.text("entityRef") for ref in triggering.all("EntityRef")]
            for name in self.entities:
                rt.entity(name, triggering, active_only=False)
            self.kind = body.need("EntityCondition").only()
            self.check = ENTITY_CONDITIONS.get(self.kind.tag)
        elif body.tag == "ByValueCondition":
            self.entities = []
            self.kind = body.only()
            self.check = VALUE_CONDITIONS.get(self.kind.tag)
        else:
            raise body.error("is not ByEntityCondition or ByValueCondition")
        if self.check is None:
            known = sorted(ENTITY_CONDITIONS if self.entities else VALUE_CONDITIONS)
            raise self.kind.error(f"condition <{self.kind.tag}> is not supported; supported: {', '.join(known)}")
        self.evaluated = False
        self.last_raw = False
        self.history: list[tuple[float, bool]] = []
        self.read = 0

    def raw(self, rt: Runtime) -> bool:
        """The condition's value now, before edge and delay."""
        if not self.entities:
            return bool(self.check(rt, self.kind, None))
        results = []
        for name in self.entities:
            entity = rt.entity(name, self.kind, active_only=False)
            if not entity.active:
                continue
            results.append(bool(self.check(rt, self.kind, entity)))
            if self.rule == "any" and results[-1]:
                return True
            if self.rule == "all" and not results[-1]:
                return False
        return bool(results) and (all(results) if self.rule == "all" else any(results))

    def evaluate(self, rt: Runtime) -> bool:
        """The condition's value at the runtime's time, through its edge and delay."""
        raw = self.raw(rt)
        if self.edge == "none":
            value = raw
        elif not self.evaluated:
            value = False
        elif self.edge == "rising":
            value = raw and not self.last_raw
        elif self.edge == "falling":
            value = not raw and self.last_raw
        else:
            value = raw != self.last_raw
        self.last_raw, self.evaluated = raw, True
        if not self.history or self.history[-1][1] != value:
            self.history.append((rt.time, value))
        return self._at(rt.time - self.delay)

    def _at(self, when: float) -> bool:
        """The value at time ``when``; true if it was true at any change passed since the last read."""
        if self.read >= len(self.history):
            return self.history[-1][1]
        if when > self.history[self.read][0] - EPS:
            seen = False
            while self.read < len(self.history) and when > self.history[self.read][0] - EPS:
                seen |= self.history[self.read][1]
                self.read += 1
            return seen
        return self.history[self.read - 1][1] if self.read > 0 else False

    def reset(self) -> None:
        """Forget the delay history (a trigger re-armed); the edge memory stays."""
        self.history, self.read = [], 0

    def rearm(self) -> None:
        """After its trigger fired, an edge must be seen anew."""
        self.evaluated = False


# ---- entity conditions ----------------------------------------------------------------------------------------


def _rule(node: Node, value: float) -> bool:
    return compare(value, node.choice("rule", RULES), node.number("value"))


def _end_of_road(rt: Runtime, node: Node, e: Entity) -> bool:
    return e.end_of_road_since is not None and rt.time - e.end_of_road_since > node.number("duration") - EPS


def _collision(rt: Runtime, node: Node, e: Entity) -> bool:
    target = node.only()
    if target.tag == "ByType":
        kind = target.text("type")
        others = [o for o in rt.active() if o is not e and (kind == "any" or o.body.kind == _kind_of(kind))]
    else:
        others = [rt.entity(target.text("entityRef"), target)]
    return any(o.active and o is not e and overlapping(e, o) for o in others)


def _kind_of(object_type: str) -> str:
    return {"vehicle": "vehicle", "pedestrian": "pedestrian", "miscellaneous": "misc"}.get(object_type, object_type)


def _offroad(rt: Runtime, node: Node, e: Entity) -> bool:
    return e.offroad_since is not None and rt.time - e.offroad_since > node.number("duration")


def _gap(rt: Runtime, node: Node, e: Entity, other: Entity | None, point: tuple[float, float] | None) -> float:
    """Signed distance from ``e`` to another entity or a point, as the condition's attributes ask."""
    freespace = node.flag("freespace", False)
    kind = node.attrs.get("relativeDistanceType", "euclidianDistance")
    system = node.attrs.get("coordinateSystem", "entity")
    tx, ty = (other.x, other.y) if other is not None else point
    if system in ("road", "lane") and kind in ("longitudinal", "lateral") and rt.network is not None:
        return rt.road_delta(e, tx, ty, kind, freespace, other)
    if kind in ("longitudinal", "lateral"):
        if freespace:
            corners = other.corners() if other is not None else [[tx, ty]] * 4
            long_gap, lat_gap = free_gaps(e, np.asarray(corners, dtype=float))
            return long_gap if kind == "longitudinal" else lat_gap
        dx, dy = e.to_local(tx, ty)
        return dx if kind == "longitudinal" else dy
    dx, _ = e.to_local(tx, ty)
    if freespace and other is not None:
        return math.copysign(free_distance(e, other), dx)
    if freespace:
        return math.copysign(float(e.polygon().distance(shapely.Point(tx, ty))), dx)
    return math.copysign(math.hypot(tx - e.x, ty - e.y), dx)


def _relative_distance(rt: Runtime, node: Node, e: Entity) -> bool:
    other = rt.entity(node.text("entityRef"), node)
    return _rule(node, abs(_gap(rt, node, e, other, None)))


def _distance(rt: Runtime, node: Node, e: Entity) -> bool:
    place = resolve_position(rt, node.need("Position"))
    return _rule(node, abs(_gap(rt, node, e, None, (place.x, place.y))))


def _time_headway(rt: Runtime, node: Node, e: Entity) -> bool:
    other = rt.entity(node.text("entityRef"), node)
    gap = _gap(rt, node, e, other, None)
    if gap < 0 or e.speed < 1e-6:
        return False
    return _rule(node, abs(gap / e.speed))


def _time_to_collision(rt: Runtime, node: Node, e: Entity) -> bool:
    target = node.need("TimeToCollisionConditionTarget").only()
    if target.tag == "EntityRef":
        other = rt.entity(target.text("entityRef"), target)
        gap = _gap(rt, node, e, other, None)
        ovx, ovy = other.velocity
        other_speed = math.hypot(ovx, ovy)
        if other_speed < 1e-6:
            closing = e.speed
        else:
            along = (e.velocity[0] * ovx + e.velocity[1] * ovy) / other_speed
            closing = math.copysign(1.0, e.speed) * math.copysign(1.0, along) * (along - abs(other.speed))
    else:
        place = resolve_position(rt, target)
        gap = _gap(rt, node, e, None, (place.x, place.y))
        closing = e.speed
    if abs(gap) < 1e-6 or abs(closing) < 1e-6 or gap / closing < 0:
        return False
    return _rule(node, gap / closing)


def _acceleration(rt: Runtime, node: Node, e: Entity) -> bool:
    ax, ay = e.acceleration
    direction = node.attrs.get("direction")
    local = e.to_local(e.x + ax, e.y + ay)
    if direction == "longitudinal":
        return _rule(node, local[0])
    if direction == "lateral":
        return _rule(node, local[1])
    return _rule(node, math.copysign(math.hypot(ax, ay), local[0]))


def _standstill(rt: Runtime, node: Node, e: Entity) -> bool:
    return e.standstill_since is not None and rt.time - e.standstill_since > node.number("duration")


def _speed(rt: Runtime, node: Node, e: Entity) -> bool:
    direction = node.attrs.get("direction")
    if direction in ("longitudinal", "lateral"):
        local = e.to_local(e.x + e.velocity[0], e.y + e.velocity[1])
        return _rule(node, local[0] if direction == "longitudinal" else local[1])
    return _rule(node, e.speed)


def _relative_speed(rt: Runtime, node: Node, e: Entity) -> bool:
    other = rt.entity(node.text("entityRef"), node)
    direction = node.attrs.get("direction")
    if direction in ("longitudinal", "lateral"):
        mine = other.to_local(other.x + e.velocity[0], other.y + e.velocity[1])
        theirs = other.to_local(other.x + other.velocity[0], other.y + other.velocity[1])
        k = 0 if direction == "longitudinal" else 1
        return _rule(node, mine[k] - theirs[k])
    return _rule(node, e.speed - other.speed)


def _traveled(rt: Runtime, node: Node, e: Entity) -> bool:
    return e.odometer >= node.number("value")


def _reach(rt: Runtime, node: Node, e: Entity) -> bool:
    place = resolve_position(rt, node.need("Position"))
    return math.hypot(place.x - e.x, place.y - e.y) < node.number("tolerance")


def _angle_between(a: float, b: float) -> float:
    return abs(math.atan2(math.sin(a - b), math.cos(a - b)))


def _heading_in(rt: Runtime, node: Node, e: Entity) -> float | None:
    """The entity's heading in the condition's coordinate system (None: it has none there).

    World: as is; road: from the road's +s; lane: from the lane's driving direction; trajectory: from the tangent
    of the trajectory it follows (none when it follows none); entity: 0.
    """
    system = node.attrs.get("coordinateSystem", "world")
    if system == "entity":
        return 0.0
    if system == "road" and e.pos is not None:
        return e.pos.h_rel
    if system == "lane" and e.pos is not None and rt.network is not None:
        forward = rt.network.road(e.pos.road).direction(e.pos.lane) > 0
        return e.pos.h_rel if forward else e.pos.h_rel - math.pi
    if system == "trajectory":
        shape = rt.trajectory_following(e)
        return None if shape is None else e.h - shape.tangent_at(rt.distance_along(shape, e))
    return e.h


def _angle(rt: Runtime, node: Node, e: Entity) -> bool:
    kind = node.choice("angleType", ("heading", "pitch", "roll"))
    angle = _heading_in(rt, node, e)
    if angle is None:
        return False
    if kind != "heading":
        angle = 0.0  # OccSim lays every road flat
    return _angle_between(angle, node.number("angle")) < node.number("angleTolerance") + EPS


def _relative_angle(rt: Runtime, node: Node, e: Entity) -> bool:
    other = rt.entity(node.text("entityRef"), node)
    kind = node.choice("angleType", ("heading", "pitch", "roll"))
    angle = e.h - other.h if kind == "heading" else 0.0
    return _angle_between(angle, node.number("angle")) < node.number("angleTolerance") + EPS


def _relative_clearance(rt: Runtime, node: Node, e: Entity) -> bool:
    """The ``RelativeLaneRange`` lanes beside ``e`` exist and are free of other entities in the set span.

    The span runs from ``distanceBackward`` behind ``e`` to ``distanceForward`` ahead.

    Lanes are counted by id from ``e``'s (as the reference player does); without ``oppositeLanes`` only lanes on
    ``e``'s side of the centre count; ``freeSpace`` measures between bounding boxes.
    """
    if e.pos is None or rt.network is None:
        return False
    ranges = [(r.integer("from"), r.integer("to")) for r in node.all("RelativeLaneRange")] or [(-99, 99)]
    opposite = node.flag("oppositeLanes", False)
    names = {r.text("entityRef") for r in node.all("EntityRef")}
    ahead, behind = node.number("distanceForward", 0.0), node.number("distanceBackward", 0.0)
    for other in rt.active():
        if other is e or (names and other.name not in names) or other.pos is None or other.pos.road != e.pos.road:
            continue
        lanes = other.pos.lane - e.pos.lane
        if not any(lo <= lanes <= hi for lo, hi in ranges) or (not opposite and other.pos.lane * e.pos.lane < 0):
            continue
        gap = (other.pos.s - e.pos.s) * e.pos.along
        if node.flag("freeSpace", False):
            reach = (e.body.size[0] + other.body.size[0]) / 2
            gap = math.copysign(max(abs(gap) - reach, 0.0), gap)
        if -behind <= gap <= ahead:
            return False
    road = rt.network.roads[e.pos.road]
    section = road.section_index(e.pos.s)
    driving = [
        r.id for r in road.record.sections[section].lanes if rt.network.is_drivable(LaneKey(road.id, section, r.id))
    ]
    return any(
        lo <= lane - e.pos.lane <= hi and (opposite or lane * e.pos.lane > 0) for lane in driving for lo, hi in ranges
    )


ENTITY_CONDITIONS: dict[str, Callable[[Runtime, Node, Entity], bool]] = {
    "AngleCondition": _angle,
    "RelativeAngleCondition": _relative_angle,
    "RelativeClearanceCondition": _relative_clearance,
    "EndOfRoadCondition": _end_of_road,
    "CollisionCondition": _collision,
    "OffroadCondition": _offroad,
    "TimeHeadwayCondition": _time_headway,
    "TimeToCollisionCondition": _time_to_collision,
    "AccelerationCondition": _acceleration,
    "StandStillCondition": _standstill,
    "SpeedCondition": _speed,
    "RelativeSpeedCondition": _relative_speed,
    "TraveledDistanceCondition": _traveled,
    "ReachPositionCondition": _reach,
    "DistanceCondition": _distance,
    "RelativeDistanceCondition": _relative_distance,
}


# ---- value conditions -----------------------------------------------------------------------------------------


def _simulation_time(rt: Runtime, node: Node, _) -> bool:
    return _rule(node, rt.time)


def _parameter(rt: Runtime, node: Node, _) -> bool:
    name = node.text("parameterRef")
    if name not in rt.parameters:
        raise node.error(f"no parameter '{name}' is declared")
    return compare(rt.parameters[name], node.choice("rule", RULES), node.text("value"))


def _variable(rt: Runtime, node: Node, _) -> bool:
    name = node.text("variableRef")
    if name not in rt.variables:
        raise node.error(f"no variable '{name}' is declared")
    return compare(rt.variables[name], node.choice("rule", RULES), node.text("value"))


def _element_state(rt: Runtime, node: Node, _) -> bool:
    return rt.element_state_holds(node)


VALUE_CONDITIONS: dict[str, Callable[[Runtime, Node, None], bool]] = {
    "SimulationTimeCondition": _simulation_time,
    "ParameterCondition": _parameter,
    "VariableCondition": _variable,
    "StoryboardElementStateCondition": _element_state,
}
