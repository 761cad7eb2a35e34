"""Actions that move an entity sideways: lane changes, lane offsets and lateral distances."""

from __future__ import annotations

import math
from dataclasses import replace
from typing import TYPE_CHECKING

import numpy as np
from typing_extensions import override

from occsim.world.storyboard.actions.base import LAT, Action
from occsim.world.storyboard.motion import lane_t, move_along, wrap
from occsim.world.storyboard.positions import Place, relative_lane_id
from occsim.world.storyboard.transitions import Transition

if TYPE_CHECKING:
    from occsim.world.storyboard.runtime import Runtime


class LaneChange(Action):
    """Move into another lane along a transition shape (time or distance), the offset exact in time.

    The heading turns with the sideways motion and straightens when done. It moves the entity itself, at the
    entity's speed (which a speed action may be changing meanwhile: only the lateral domain is taken).
    """

    domains = frozenset({LAT})

    @override
    def start(self, rt: Runtime) -> None:
        rt.need_road(self.actor, self.node)
        pos = self.actor.pos
        target = self.node.need("LaneChangeTarget").only()
        if target.tag == "AbsoluteTargetLane":
            lane = target.integer("value")
        else:
            ref = rt.entity(target.text("entityRef"), target)
            if ref.pos is None:
                raise target.error(f"entity '{ref.name}' is not on a road")
            lane = relative_lane_id(ref.pos.lane, target.integer("value") * ref.pos.along)
        t_now = lane_t(rt.network, pos.road, pos.lane, pos.s) + pos.offset
        try:
            start = t_now - lane_t(rt.network, pos.road, lane, pos.s)
        except ValueError:
            raise self.node.error(f"road '{pos.road}' has no lane {lane} at s={pos.s:.1f} to change into") from None
        self.sign = 1.0  # the offsets' sign on the road the entity is on (flips on a road entered head on)
        self.facing = 0.0 if pos.along > 0 else math.pi
        self.transition = Transition.of(
            self.node.need("LaneChangeActionDynamics"), start, self.node.number("targetLaneOffset", 0.0)
        )
        self.actor.pos = replace(pos, lane=lane, offset=start, h_rel=self.facing)

    @override
    def step(self, rt: Runtime, dt: float) -> None:
        tr, actor = self.transition, self.actor
        actor.moved = True
        if abs(actor.speed) < 1e-6 or dt <= 0:
            return
        travel = abs(actor.speed) * dt
        # the nose points along the step as planned from the slope at its start (as the reference player turns it)
        if tr.instant:
            offset, forward, turn = tr.target, travel, 0.0
        elif tr.dimension == "distance":
            slope = tr.slope()
            forward = travel / math.sqrt(1.0 + slope * slope)
            tr.advance(forward)
            offset, turn = tr.value(), math.atan(slope)
        else:
            slope = tr.slope()
            sideways = dt * abs(slope)
            if sideways < travel + 1e-6:
                tr.advance(dt)
                offset = tr.value()
                forward = math.sqrt(max(travel**2 - sideways**2, 0.0))
                turn = math.atan2(math.copysign(sideways, slope), forward)
            else:  # faster sideways than the entity moves: all of its travel goes sideways
                tr.advance(travel * tr.c / max(abs(tr.delta), 1e-9))
                offset, forward = tr.value(), 0.0
                turn = math.copysign(math.pi / 2 - 1e-9, slope)
        pos = replace(actor.pos, offset=self.sign * offset)
        moved, end = move_along(rt.network, pos, math.copysign(forward, actor.speed), actor.route)
        if moved.along != pos.along:  # onto a road that runs the other way: t, and so the offsets, flip
            self.sign, self.facing = -self.sign, wrap(self.facing + math.pi)
        finished = tr.finished or abs(offset - tr.target) < 1e-6 or end
        along = 1 if math.cos(self.facing) >= 0 else -1
        # the nose turns toward the sideways motion (away from it when reversing); t is left of +s
        turn = 0.0 if finished else math.copysign(1.0, actor.speed) * along * self.sign * turn
        actor.pos = replace(moved, h_rel=wrap(self.facing + turn))
        rt.place_on_road(actor)
        self.done = finished


class LaneOffset(Action):
    """Drift to an offset from the lane centre within ``maxLateralAcc``, driving on along the lane meanwhile."""

    domains = frozenset({LAT})

    @override
    def start(self, rt: Runtime) -> None:
        rt.need_road(self.actor, self.node)
        pos = self.actor.pos
        target = self.node.need("LaneOffsetTarget").only()
        if target.tag == "AbsoluteTargetLaneOffset":
            goal = target.number("value")
        else:
            ref = rt.entity(target.text("entityRef"), target)
            if ref.pos is None:
                raise target.error(f"entity '{ref.name}' is not on a road")
            t_ref = lane_t(rt.network, ref.pos.road, ref.pos.lane, ref.pos.s) + ref.pos.offset
            goal = t_ref + target.number("value") * ref.pos.along - lane_t(rt.network, pos.road, pos.lane, pos.s)
        dynamics = self.node.need("LaneOffsetActionDynamics")
        shape = dynamics.choice("dynamicsShape", ("step", "linear", "cubic", "sinusoidal"))
        accel = max(dynamics.number("maxLateralAcc", 0.5), 1e-6)
        span = abs(goal - pos.offset)
        duration = {
            "step": 0.0,
            "linear": math.sqrt(6 * span / accel),
            "cubic": math.sqrt(6 * span / accel),
            "sinusoidal": math.pi * math.sqrt(span / (2 * accel)),
        }[shape]
        self.transition = Transition(shape, "time", duration, pos.offset, goal)
        self.facing = 0.0 if pos.along > 0 else math.pi

    @override
    def step(self, rt: Runtime, dt: float) -> None:
        tr, actor = self.transition, self.actor
        offset = tr.value()
        if tr.finished or abs(offset - tr.target) < 1e-6:
            actor.pos = replace(actor.pos, offset=tr.target, h_rel=self.facing)
            self.done = True
        else:
            along = 1 if math.cos(self.facing) >= 0 else -1
            turn = math.atan(tr.slope() / max(abs(actor.speed), 1e-6))
            actor.pos = replace(actor.pos, offset=offset, h_rel=wrap(self.facing + along * turn))
        tr.advance(dt)
        rt.place_on_road(actor)


class LateralDistance(Action):
    """Keep a lateral distance to another entity, to its left or right (``continuous``: for good).

    Road coordinates measure across the road (t) and move the actor's lane offset: without ``DynamicConstraints``
    at once; with a ``maxSpeed`` only, sideways at that speed; with a ``maxAcceleration``, pulled over by a critically
    damped spring (tension 0.4 maxAcceleration) within that acceleration and speed; the sideways speed comes out of
    the entity's travel. Entity coordinates measure from the line through the referenced entity along its heading
    and steer the actor onto it in the plane (at once, or within the turn radius ``maxAcceleration`` allows). All
    as the reference player does; ``displacement="any"`` keeps the side the actor starts on.
    """

    domains = frozenset({LAT})
    THRESHOLD = 0.01  # [m] a non-continuous action ends this close to the target

    @override
    def start(self, rt: Runtime) -> None:
        self.target = rt.entity(self.node.text("entityRef"), self.node)
        self.system = self.node.choice("coordinateSystem", ("entity", "road", "lane", "trajectory"), "entity")
        if self.system in ("lane", "trajectory"):
            raise self.node.error(f"coordinateSystem '{self.system}' is not supported (entity or road)")
        if self.system == "road":
            rt.need_road(self.actor, self.node)
        side = self.node.choice("displacement", ("any", "leftToReferencedEntity", "rightToReferencedEntity"), "any")
        if side == "any":  # no preference: stay on the side the actor is on now
            a, t = self.actor, self.target
            left = -(a.x - t.x) * math.sin(t.h) + (a.y - t.y) * math.cos(t.h) >= 0.0
            side = "leftToReferencedEntity" if left else "rightToReferencedEntity"
        distance = abs(self.node.number("distance", 0.0))
        if self.node.flag("freespace", False):
            distance += (self.actor.body.size[1] + self.target.body.size[1]) / 2
        self.distance = -distance if side == "rightToReferencedEntity" else distance
        self.continuous = self.node.flag("continuous", False)
        limits = next(iter(self.node.all("DynamicConstraints")), None)
        self.max_speed = limits.number("maxSpeed", math.inf) if limits is not None else math.inf
        self.max_accel = limits.number("maxAcceleration", math.inf) if limits is not None else math.inf
        self.lateral_speed = 0.0
        self.first = True

    @override
    def step(self, rt: Runtime, dt: float) -> None:
        if self.first:  # the reference player's first step only takes the starting pose
            self.first = False
            return
        if self.system == "road":
            self._step_road(rt, dt)
        else:
            self._step_entity(rt, dt)

    # ---- road coordinates ----------------------------------------------------------------------------------------

    def _road_error(self, rt: Runtime) -> float:
        """How far [m] the actor still has to move toward +t (left of +s) on its road."""
        target, pos = self.target, self.actor.pos
        road = rt.network.roads[pos.road]
        if target.pos is not None and target.pos.road == pos.road:
            t_target = lane_t(rt.network, pos.road, target.pos.lane, target.pos.s) + target.pos.offset
        else:
            t_target = road.project(target.x, target.y)[1]
        road_h = float(road.reference(pos.s)[2])
        facing = 1.0 if math.cos(target.h - road_h) >= 0.0 else -1.0
        wanted = t_target + self.distance * facing  # left of the referenced entity as it faces
        return wanted - (lane_t(rt.network, pos.road, pos.lane, pos.s) + pos.offset)

    def _step_road(self, rt: Runtime, dt: float) -> None:
        actor = self.actor
        error = self._road_error(rt)
        facing = 0.0 if actor.pos.along > 0 else math.pi
        travel = abs(actor.speed) * dt
        # the reference player ends a non-continuous action once a step begins on target (or lands there at speed)
        arrived = abs(error) < self.THRESHOLD
        if math.isinf(self.max_speed) and math.isinf(self.max_accel):
            move, forward = error, None  # at once; the default lane motion carries it on
        else:
            cap = max(min(self.max_speed, abs(actor.speed)) - 1e-6, 0.0)
            if math.isinf(self.max_accel):
                move = math.copysign(cap, error) * dt
                if abs(move) >= abs(error):  # lands on the target this step
                    move, arrived = error, True
            else:
                tension = 0.4 * self.max_accel
                vx, vy = self.target.velocity  # the spring damps the speed relative to the target's own sideways speed
                relative = self.lateral_speed - (-math.sin(self.target.h) * vx + math.cos(self.target.h) * vy)
                accel = tension * error - 2 * math.sqrt(tension) * relative
                accel = max(-self.max_accel, min(self.max_accel, accel))
                move = max(-cap, min(cap, self.lateral_speed + accel * dt)) * dt
            self.lateral_speed = move / dt if dt > 0 else 0.0
            forward = math.sqrt(max(travel**2 - move**2, 0.0))
        pos = replace(actor.pos, offset=actor.pos.offset + move)
        if forward is not None:  # the sideways move came out of the entity's own travel: it moves itself
            pos, _ = move_along(rt.network, pos, math.copysign(forward, actor.speed), actor.route)
            actor.moved = True
        along = 1 if math.cos(facing) >= 0 else -1
        turn = math.atan2(along * move, forward if forward is not None else max(travel, 1e-9)) if move else 0.0
        actor.pos = replace(pos, h_rel=wrap(facing + turn))
        rt.place_on_road(actor)
        if not self.continuous and arrived:
            actor.pos = replace(actor.pos, h_rel=facing)
            rt.place_on_road(actor)
            self.done = True

    # ---- entity coordinates --------------------------------------------------------------------------------------

    def _step_entity(self, rt: Runtime, dt: float) -> None:
        actor, target = self.actor, self.target
        axis = np.array([math.cos(target.h), math.sin(target.h)])
        origin = np.array([target.x, target.y]) + self.distance * np.array([-axis[1], axis[0]])
        here = np.array([actor.x, actor.y])
        aim = origin + axis * float(np.dot(here - origin, axis))  # the nearest point of the line to keep to
        delta = aim - here
        gap = float(np.hypot(*delta))
        travel = abs(actor.speed) * dt
        if math.isinf(self.max_accel):
            x, y = aim + axis * max(travel - gap, 0.0)
            h = target.h
        elif gap < 1e-9:
            x, y = here + axis * travel
            h = target.h
        else:
            radius = max(0.5, 1.5 * actor.speed**2 / min(abs(self.max_accel), 1000.0))
            turn_max = min(abs(actor.speed / radius * dt) * 1.5, math.pi - 1e-9)
            if gap < travel / 2 and travel / 2 > radius:  # close: straight onto the line, one step away
                x, y, h = _onto_line(here, origin, axis, travel, target.h)
            else:
                if gap > radius:  # far: head for the line, turning no faster than the radius allows
                    turn = wrap(math.atan2(delta[1], delta[0]) - actor.h)
                else:  # near: blend heading for the line with heading along it, the nearer the more along
                    arc = travel / radius
                    angle = max(math.acos(1 - gap / radius), arc / 2)
                    w = (2 * angle - arc / 2) / math.pi
                    w = 3 * w**2 - 2 * w**3
                    turn = w * wrap(math.atan2(delta[1], delta[0]) - actor.h) + (1 - w) * wrap(target.h - actor.h)
                h = wrap(actor.h + max(-turn_max, min(turn_max, turn)))
                x, y = here + travel * np.array([math.cos(h), math.sin(h)])
        rt.place(actor, Place(float(x), float(y), float(h), None))
        actor.moved = True
        if not self.continuous and gap < self.THRESHOLD and abs(wrap(h - target.h)) < 1e-3:
            self.done = True


def _onto_line(here: np.ndarray, origin: np.ndarray, axis: np.ndarray, reach: float, heading: float):
    """The point of the line (origin, axis) ``reach`` from ``here`` whose direction is nearest ``heading``."""
    rel = here - origin
    along = float(np.dot(rel, axis))
    across = float(np.cross(axis, rel))
    run = math.sqrt(max(reach**2 - across**2, 0.0))
    best = None
    for point in (origin + axis * (along + run), origin + axis * (along - run)):
        h = math.atan2(point[1] - here[1], point[0] - here[0])
        if best is None or abs(wrap(h - heading)) < abs(wrap(best[2] - heading)):
            best = (float(point[0]), float(point[1]), h)
    return best
