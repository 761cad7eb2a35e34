"""Actions that move an entity sideways: lane changes and lane offsets."""

from __future__ import annotations

import math
from dataclasses import replace
from typing import TYPE_CHECKING

from typing_extensions import override

from occsim.world.storyboard.actions.base import LAT, Action
from occsim.world.storyboard.motion import lane_t, move_along, wrap
from occsim.world.storyboard.positions import relative_lane_id
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
        before = tr.value()
        if tr.instant:
            offset, forward = tr.target, travel
        elif tr.dimension == "distance":
            slope = tr.slope()
            forward = travel / math.sqrt(1.0 + slope * slope)
            tr.advance(forward)
            offset = tr.value()
        else:
            sideways = dt * abs(tr.slope())
            if sideways < travel + 1e-6:
                tr.advance(dt)
                offset = tr.value()
                forward = math.sqrt(max(travel**2 - sideways**2, 0.0))
            else:  # faster sideways than the entity moves: all of its travel goes sideways
                tr.advance(travel * tr.c / max(abs(tr.delta), 1e-9))
                offset, forward = tr.value(), 0.0
        pos = replace(actor.pos, offset=self.sign * offset)
        moved, end = move_along(rt.network, pos, math.copysign(forward, actor.speed), actor.route)
        if moved.along != pos.along:  # onto a road that runs the other way: t, and so the offsets, flip
            self.sign, self.facing = -self.sign, wrap(self.facing + math.pi)
        finished = tr.finished or abs(offset - tr.target) < 1e-6 or end
        along = 1 if math.cos(self.facing) >= 0 else -1
        # the nose turns toward the sideways motion (away from it when reversing); t is left of +s
        sideways = math.copysign(1.0, actor.speed) * along * self.sign * (offset - before)
        turn = 0.0 if finished or (sideways == 0 and forward == 0) else math.atan2(sideways, forward)
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
