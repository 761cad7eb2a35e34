"""Actions on an entity's speed: speed changes and profiles, keeping a distance, synchronising with another."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

from typing_extensions import override

from occsim.world.storyboard.actions.base import LONG, Action
from occsim.world.storyboard.entities import free_gaps
from occsim.world.storyboard.motion import move_along
from occsim.world.storyboard.positions import resolve_position
from occsim.world.storyboard.transitions import Transition

if TYPE_CHECKING:
    from occsim.world.storyboard.runtime import Runtime

DISTANCE_DONE = 0.1  # [m] a non-continuous LongitudinalDistanceAction ends within this of its distance
STEP_STOP = 8.0  # [m/s^2] braking a synchronised entity uses to stop when it must wait


class Speed(Action):
    """Change speed along a transition shape, to an absolute or a relative target."""

    domains = frozenset({LONG})

    @override
    def start(self, rt: Runtime) -> None:
        body = self.actor.body
        target_node = self.node.need("SpeedActionTarget").only()
        self.relative = target_node if target_node.tag == "RelativeTargetSpeed" else None
        self.continuous = self.relative is not None and self.relative.flag("continuous", False)
        target = self._target(rt) if self.relative is not None else target_node.number("value")
        dynamics = self.node.need("SpeedActionDynamics")
        v0 = self.actor.speed
        self.transition = Transition.of(dynamics, v0, target)
        if self.transition.dimension == "distance" and not self.transition.instant:
            distance, v1 = self.transition.c, self.transition.target
            if abs(v1 - v0) < 1e-6:
                self.transition.c = 0.0
            elif v0 * v1 < 0:
                share = v0**2 / (v0**2 + v1**2) * distance
                self.transition.c = 2 * share / abs(v0) + 2 * (distance - share) / abs(v1)
            else:
                self.transition.c = 2 * distance / abs(v0 + v1)
        self.transition.delta = _limit(self.transition.target, body.max_speed) - v0
        self.transition.limit_rate(body.max_acceleration if self.transition.delta > 0 else body.max_deceleration)
        self.actor.speed = self.transition.value(0.0)

    def _target(self, rt: Runtime) -> float:
        node = self.relative
        ref = rt.entity(node.text("entityRef"), node)
        kind = node.choice("speedTargetValueType", ("delta", "factor"), "delta")
        return ref.speed + node.number("value") if kind == "delta" else ref.speed * node.number("value")

    @override
    def step(self, rt: Runtime, dt: float) -> None:
        body, tr = self.actor.body, self.transition
        if self.relative is not None:
            tr.delta = _limit(self._target(rt), body.max_speed) - tr.start
        speed = self.actor.speed
        if tr.c > 0 and tr.x >= tr.c - 1e-6:  # shape done but a moving relative target not met: chase it
            acc = (tr.target - speed) / dt if dt > 0 else 0.0
            new = _limit(speed + min(max(acc, -body.max_deceleration), body.max_acceleration) * dt, body.max_speed)
        else:
            tr.advance(dt)
            new = tr.value()
            if dt > 0 and not tr.instant:
                wanted = (new - speed) / dt
                if wanted > body.max_acceleration + 1e-6 or wanted < -(body.max_deceleration + 1e-6):
                    acc = min(max(wanted, -body.max_deceleration), body.max_acceleration)
                    new = _limit(speed + acc * dt, body.max_speed)
                    tr.x -= (dt - (new - speed) / wanted) / tr.scale
        reached = tr.finished and abs(new - tr.target) < 1e-6
        self.actor.speed = tr.target if reached else new
        self.done = reached and not self.continuous


def _limit(value: float, most: float) -> float:
    return math.copysign(min(abs(value), most), value)


class SpeedProfile(Action):
    """Follow a piecewise-linear speed profile (entries: speed, and time since the previous entry)."""

    domains = frozenset({LONG})

    @override
    def start(self, rt: Runtime) -> None:
        body = self.actor.body
        constraints = self.node.child("DynamicConstraints")
        up = constraints.number("maxAcceleration", body.max_acceleration) if constraints else 1e10
        down = constraints.number("maxDeceleration", body.max_deceleration) if constraints else 1e10
        base = 0.0
        if "entityRef" in self.node.attrs:
            base = rt.entity(self.node.text("entityRef"), self.node).speed
        t, v = rt.time, self.actor.speed
        entries = self.node.all("SpeedProfileEntry")
        self.points = [(t, v)]
        for i, entry in enumerate(entries):
            target = base + entry.number("speed")
            dt = entry.number("time", -1.0)
            if dt == 0.0 and i == 0 and self.node.attrs.get("followingMode", "position") == "position":
                self.points = [(t, target)]
                continue
            rate = up if target > v else down
            fastest = abs(target - v) / rate if rate > 0 else 0.0
            dt = max(dt, fastest) if dt >= 0 else fastest
            t += dt
            self.points.append((t, target))
            v = target

    @override
    def step(self, rt: Runtime, dt: float) -> None:
        now = rt.time + dt
        times = [p[0] for p in self.points]
        speeds = [p[1] for p in self.points]
        if now >= times[-1]:
            self.actor.speed, self.done = speeds[-1], True
            return
        self.actor.speed = float(_interp(now, times, speeds))


def _interp(x: float, xs: list[float], ys: list[float]) -> float:
    for i in range(len(xs) - 1):
        if x <= xs[i + 1]:
            span = xs[i + 1] - xs[i]
            return ys[i + 1] if span <= 0 else ys[i] + (ys[i + 1] - ys[i]) * (x - xs[i]) / span
    return ys[-1]


class LongitudinalDistance(Action):
    """Keep (or reach) a distance or time gap to another entity along the pivot's heading."""

    domains = frozenset({LONG})

    @override
    def start(self, rt: Runtime) -> None:
        node = self.node
        self.ref = rt.entity(node.text("entityRef"), node)
        self.freespace = node.flag("freespace", False)
        self.continuous = node.flag("continuous", False)
        constraints = node.child("DynamicConstraints")
        self.up = constraints.number("maxAcceleration", 1e10) if constraints else 1e10
        self.down = constraints.number("maxDeceleration", 1e10) if constraints else 1e10
        self.top = (
            constraints.number("maxSpeed", self.actor.body.max_speed) if constraints else self.actor.body.max_speed
        )
        self.displacement = node.attrs.get("displacement", "trailingReferencedEntity")
        if self.displacement == "any":
            self.displacement = "trailingReferencedEntity" if self._gap() >= 0 else "leadingReferencedEntity"

    def _gap(self) -> float:
        if self.freespace:
            return free_gaps(self.actor, self.ref.corners())[0]
        return self.actor.to_local(self.ref.x, self.ref.y)[0]

    @override
    def step(self, rt: Runtime, dt: float) -> None:
        node = self.node
        wanted = node.number("distance") if "distance" in node.attrs else node.number("timeGap") * abs(self.ref.speed)
        wanted = abs(wanted) if self.displacement != "leadingReferencedEntity" else -abs(wanted)
        error = self._gap() - wanted
        if not self.continuous and abs(error) < DISTANCE_DONE:
            self.done = True
        if self.up >= 1e10 and self.down >= 1e10:  # no constraints: hold the gap exactly
            if self.actor.pos is not None and rt.network is not None:
                self.actor.pos, _ = move_along(rt.network, self.actor.pos, error)
                rt.place_on_road(self.actor)
            self.actor.speed = self.ref.speed
            return
        stiffness = 0.4 * (self.up if error > 0 else self.down)
        acc = error * stiffness - (self.actor.speed - self.ref.speed) * 2 * math.sqrt(stiffness)
        acc = min(max(acc, -self.down), self.up)
        self.actor.speed = min(max(self.actor.speed + acc * dt, -self.top), self.top)


class Synchronize(Action):
    """Reach a target position when a master entity reaches its own, re-planned every step.

    Re-planning from the master's current speed meets an ego the planner slows down. A final speed may be held for
    a steady-state distance or time before the target.

    Each step the entity needs to cover its remaining distance D in the master's remaining time T = D_m / v_m. With a
    final speed v1 it plans speed going linearly from v0 to a middle speed vx over T/2 and then to v1 over T/2, so
    D = T (v0 + 2 vx + v1) / 4; without one, constant acceleration. It applies the first step of that plan.
    """

    domains = frozenset({LONG})

    @override
    def start(self, rt: Runtime) -> None:
        node = self.node
        self.master = rt.entity(node.text("masterEntityRef"), node)
        self.master_target = resolve_position(rt, node.need("TargetPositionMaster"))
        self.target = resolve_position(rt, node.need("TargetPosition"))
        self.tolerance = node.number("targetTolerance", 0.0)
        self.master_tolerance = node.number("targetToleranceMaster", 0.0)
        self.final, self.steady = None, 0.0
        final = node.child("FinalSpeed")
        if final is not None:
            kind = final.only()
            self.final_node = kind
            self.final = self._final_speed(rt)
            steady = kind.child("TargetDistanceSteadyState") or kind.child("TargetTimeSteadyState")
            if steady is not None and steady.tag == "TargetDistanceSteadyState":
                self.steady = steady.number("distance")
            elif steady is not None:
                self.steady = steady.number("time") * abs(self.final)
        self.last = (math.inf, math.inf)

    def _final_speed(self, rt: Runtime) -> float:
        kind = self.final_node
        if kind.tag == "AbsoluteSpeed":
            return kind.number("value")
        mode = kind.choice("speedTargetValueType", ("delta", "factor"), "delta")
        return self.master.speed + kind.number("value") if mode == "delta" else self.master.speed * kind.number("value")

    @override
    def step(self, rt: Runtime, dt: float) -> None:
        own = rt.distance_ahead(self.actor, self.target)
        master = rt.distance_ahead(self.master, self.master_target)
        if self.final is not None and self.final_node.tag != "AbsoluteSpeed":
            self.final = self._final_speed(rt)
        passed = own > self.last[0] + 1e-6 or master > self.last[1] + 1e-6
        self.last = (own, master)
        master_speed = abs(self.master.speed)  # toward its target along its way (distance_ahead: behind, reversing)
        if own <= self.tolerance + 1e-6 or master <= self.master_tolerance + 1e-6 or passed:
            return self._finish()
        if master_speed < 1e-3:  # the master waits: so does the entity
            self.actor.speed = max(self.actor.speed - STEP_STOP * dt, 0.0)
            return
        remaining_time = (master - self.master_tolerance) / master_speed
        distance = own - self.tolerance
        if remaining_time <= dt:
            return self._finish()
        v0 = self.actor.speed
        if self.final is None:
            acc = 2.0 * (distance - v0 * remaining_time) / remaining_time**2
        else:
            v1 = abs(self.final)
            if self.steady > 0 and v1 > 0:
                distance -= self.steady
                remaining_time -= self.steady / v1
                if distance <= 1e-6 or remaining_time <= 1e-6:  # in the steady state: hold the final speed
                    self.actor.speed = v1
                    return
            middle = 2.0 * distance / remaining_time - (v0 + v1) / 2.0
            if middle < 0:  # too early even at rest: stop and wait
                acc = -min(STEP_STOP, v0 / max(dt, 1e-9))
            else:
                acc = (middle - v0) / (remaining_time / 2.0)
        body = self.actor.body
        acc = min(max(acc, -body.max_deceleration), body.max_acceleration)
        self.actor.speed = min(max(v0 + acc * dt, 0.0), body.max_speed)

    def _finish(self) -> None:
        if self.final is not None:
            self.actor.speed = self.final
        self.done = True
