"""OpenSCENARIO actions: what they do to entities and to the scenario's state, step by step.

Each private action acts on one entity; an action that shapes its motion over time runs until done, and starting
an action of the same kind (longitudinal, lateral) on the same entity ends the one running. Actions that move the
entity themselves (teleport, lane change, trajectory) take it off the default lane-following motion that step.
Controller, appearance and traffic-signal actions are accepted and change nothing (OccSim's own behaviour drives
every entity), and say so in the runtime's notes.
"""

from __future__ import annotations

import math
from dataclasses import replace
from typing import TYPE_CHECKING

from typing_extensions import override

from occsim.world.storyboard.entities import Entity, free_gaps
from occsim.world.storyboard.motion import lane_t, locate, move_along, wrap
from occsim.world.storyboard.positions import Place, relative_lane_id, resolve_position
from occsim.world.storyboard.trajectories import Shape, follow_s
from occsim.world.storyboard.transitions import Transition
from occsim.world.storyboard.tree import Node

if TYPE_CHECKING:
    from occsim.world.storyboard.runtime import Runtime

LONG, LAT = "longitudinal", "lateral"
DISTANCE_DONE = 0.1  # [m] a non-continuous LongitudinalDistanceAction ends within this of its distance
STEP_STOP = 8.0  # [m/s^2] braking a synchronised entity uses to stop when it must wait


class Action:
    """One running action (on one entity, for a private action)."""

    domains: frozenset[str] = frozenset()

    def __init__(self, node: Node, actor: Entity | None):
        self.node, self.actor, self.done, self.started = node, actor, False, False

    def start(self, rt: Runtime) -> None:
        """Begin (in the step whose triggers started it)."""

    def step(self, rt: Runtime, dt: float) -> None:
        """Advance by ``dt`` seconds; set ``done`` when finished."""
        self.done = True


# ---- placing and routing ---------------------------------------------------------------------------------------


class Teleport(Action):
    """Put the entity at a position now."""

    domains = frozenset({LONG, LAT})

    @override
    def start(self, rt: Runtime) -> None:
        rt.place(self.actor, resolve_position(rt, self.node.need("Position")))
        self.actor.teleported = self.actor.moved = True

    @override
    def step(self, rt: Runtime, dt: float) -> None:
        self.actor.moved = True
        self.done = True


class AssignRoute(Action):
    """Give the entity a route: the roads it takes at junctions."""

    @override
    def start(self, rt: Runtime) -> None:
        self.actor.route = rt.route_of(self.node).roads


class AcquirePosition(Action):
    """Route the entity to a position (it drives on past it)."""

    domains = frozenset({LONG})

    @override
    def start(self, rt: Runtime) -> None:
        target = resolve_position(rt, self.node.need("Position"))
        if self.actor.pos is not None and target.pos is not None:
            self.actor.route = rt.road_path(self.actor.pos.road, target.pos.road)


class Visibility(Action):
    """Show or hide the entity (hidden: not drawn and not hit)."""

    @override
    def start(self, rt: Runtime) -> None:
        self.actor.visible = self.node.flag("graphics", True)


# ---- longitudinal ---------------------------------------------------------------------------------------------


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
        master_speed = max(self.master.speed, 0.0)
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


# ---- lateral --------------------------------------------------------------------------------------------------


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
        self.lane = lane
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
        along = 1 if math.cos(self.facing) >= 0 else -1
        pos = replace(actor.pos, lane=self.lane, offset=offset)
        moved, end = move_along(rt.network, pos, math.copysign(forward, actor.speed), actor.route)
        finished = tr.finished or abs(offset - tr.target) < 1e-6 or end
        turn = 0.0 if finished else math.atan2(offset - before, math.copysign(forward, actor.speed) * along)
        actor.pos = replace(moved, h_rel=wrap(self.facing + along * turn))
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


# ---- trajectories ---------------------------------------------------------------------------------------------


class FollowTrajectory(Action):
    """Drive along a trajectory: at the entity's own speed (no time reference), or on the trajectory's clock."""

    @override
    def start(self, rt: Runtime) -> None:
        node = self.node
        reference = node.child("TrajectoryRef") or node.child("Trajectory") or node.child("CatalogReference")
        if reference is None:
            raise node.error("needs <TrajectoryRef> (or <Trajectory>)")
        mode_node = node.child("TrajectoryFollowingMode")
        self.mode = mode_node.choice("followingMode", ("position", "follow"), "follow") if mode_node else "follow"
        timing = node.child("TimeReference")
        timing = timing.child("Timing") if timing is not None else None
        self.shape: Shape = rt.trajectory_of(reference, self.actor, self.mode)
        self.timing = timing if timing is not None and self.shape.times is not None else None
        self.domains = frozenset({LAT, LONG}) if self.timing is not None else frozenset({LAT})
        self.s = node.number("initialDistanceOffset", 0.0)
        self.start_speed = abs(self.actor.speed)
        self.clock = 0.0
        if self.timing is not None:
            self.scale, self.offset = self.timing.number("scale", 1.0), self.timing.number("offset", 0.0)
            self.absolute = (
                self.timing.choice("domainAbsoluteRelative", ("absolute", "relative"), "absolute") == "absolute"
            )
            self.clock = self.shape.times[0] if not self.absolute else rt.time * self.scale
        self._put(rt, self.s)

    def _put(self, rt: Runtime, s: float) -> None:
        x, y, h = self.shape.at_s(s)
        if self.timing is None and self.actor.speed < 0:
            h += math.pi
        rt.place(self.actor, Place(x, y, h, locate(rt.network, x, y, h) if rt.network is not None else None))

    @override
    def step(self, rt: Runtime, dt: float) -> None:
        actor = self.actor
        actor.moved = True
        before = self.s
        if self.timing is None:
            self.s += actor.speed * dt
            end = self.s >= self.shape.length - 1e-6 or self.s <= -1e-6 and actor.speed < 0
        else:
            self.clock = self.clock + self.scale * dt if not self.absolute else (rt.time + dt) * self.scale
            time = self.clock + self.offset
            if self.mode == "follow" and self.shape.times is not None and len(self.shape.times) < 200:
                self.s = follow_s(self.shape, time, self.start_speed)
            else:
                self.s = self.shape.s_at_time(time)
            if dt > 0:
                actor.speed = abs(self.s - before) / dt
            end = time > self.shape.duration[1] - 1e-6
        if self.shape.closed and self.timing is None:
            end = False
        self._put(rt, self.s)
        if end and dt > 0:
            self.done = True
            if rt.network is not None:  # on along the road from here, off it if need be, keeping its angle to it
                self.actor.pos = locate(rt.network, actor.x, actor.y, actor.h, nearest=True)


# ---- global actions -------------------------------------------------------------------------------------------


class ParameterSet(Action):
    """Set or modify a parameter (by name) or a variable."""

    @override
    def start(self, rt: Runtime) -> None:
        node = self.node
        table, key = (
            (rt.variables, node.text("variableRef"))
            if node.tag == "VariableAction"
            else (
                rt.parameters,
                node.text("parameterRef"),
            )
        )
        if key not in table:
            raise node.error(f"no {'variable' if table is rt.variables else 'parameter'} '{key}' is declared")
        change = node.only()
        if change.tag == "SetAction":
            table[key] = change.text("value")
            return
        rule = change.need("Rule").only()
        try:
            current = float(table[key])
        except ValueError:
            raise rule.error(f"'{key}' = {table[key]!r} is not a number") from None
        value = current + rule.number("value") if rule.tag == "AddValue" else current * rule.number("value")
        table[key] = repr(value)


class EntityChange(Action):
    """Add an entity at a position, or delete one."""

    @override
    def start(self, rt: Runtime) -> None:
        entity = rt.entity(self.node.text("entityRef"), self.node, active_only=False)
        change = self.node.only()
        if change.tag == "DeleteEntityAction":
            entity.active = False
        elif change.tag == "AddEntityAction":
            entity.active = True
            rt.place(entity, resolve_position(rt, change.need("Position")))
        else:
            raise change.error("is not an entity action")


class Environment(Action):
    """A weather change during the run: OccSim keeps the episode's weather; noted."""

    @override
    def start(self, rt: Runtime) -> None:
        if rt.started:
            rt.note("EnvironmentAction during the run (the episode keeps its starting weather)")


class Ignored(Action):
    """An action that does not change motion in OccSim (controllers, lights, traffic signals): noted."""

    @override
    def start(self, rt: Runtime) -> None:
        rt.note(f"{self.node.tag} (accepted; OccSim's own behaviour runs)")


PRIVATE = {
    "TeleportAction": Teleport,
    "SpeedAction": Speed,
    "SpeedProfileAction": SpeedProfile,
    "LongitudinalDistanceAction": LongitudinalDistance,
    "LaneChangeAction": LaneChange,
    "LaneOffsetAction": LaneOffset,
    "SynchronizeAction": Synchronize,
    "FollowTrajectoryAction": FollowTrajectory,
    "AssignRouteAction": AssignRoute,
    "AcquirePositionAction": AcquirePosition,
    "VisibilityAction": Visibility,
    "ActivateControllerAction": Ignored,
    "AssignControllerAction": Ignored,
    "OverrideControllerValueAction": Ignored,
    "LightStateAction": Ignored,
    "AnimationAction": Ignored,
}
GLOBAL = {
    "ParameterAction": ParameterSet,
    "VariableAction": ParameterSet,
    "EntityAction": EntityChange,
    "EnvironmentAction": Environment,
    "InfrastructureAction": Ignored,
}
CATEGORIES = ("LongitudinalAction", "LateralAction", "RoutingAction", "ControllerAction", "AppearanceAction")
UNSUPPORTED = {
    "LateralDistanceAction": "keeping a lateral distance",
    "TrailerAction": "trailers",
    "RandomRouteAction": "random routes",
    "TrafficAction": "traffic swarms and sources",
    "UserDefinedAction": "user-defined actions",
    "CustomCommandAction": "user-defined actions",
}


def leaf(node: Node) -> Node:
    """The concrete action element inside a PrivateAction / GlobalAction (through its category)."""
    inner = node.only()
    if inner.tag in CATEGORIES:
        inner = inner.only()
    return inner


def make(node: Node, actor: Entity | None) -> Action:
    """The action of a ``PrivateAction`` (for ``actor``) or ``GlobalAction`` element."""
    inner = leaf(node)
    if inner.tag in UNSUPPORTED:
        raise inner.error(f"is not supported ({UNSUPPORTED[inner.tag]})")
    table = PRIVATE if node.tag == "PrivateAction" else GLOBAL
    kind = table.get(inner.tag)
    if kind is None:
        raise inner.error(f"is not a supported {'private' if node.tag == 'PrivateAction' else 'global'} action")
    return kind(inner, actor)


def check(node: Node) -> None:
    """Refuse an unsupported action before the run (the same errors ``make`` gives)."""
    make(node, None)
