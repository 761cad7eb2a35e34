"""Actions that place an entity or choose its way: teleport, routes, visibility, trajectories."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

from typing_extensions import override

from occsim.world.storyboard.actions.base import LAT, LONG, Action
from occsim.world.storyboard.motion import locate
from occsim.world.storyboard.positions import Place, resolve_position
from occsim.world.storyboard.trajectories import Shape, follow_s

if TYPE_CHECKING:
    from occsim.world.storyboard.runtime import Runtime


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
