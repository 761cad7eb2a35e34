"""Actors on the road map and the behaviours that move them (a name -> class registry)."""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field

import numpy as np

from occsim.classes import CLASS_ID
from occsim.registry import Registry
from occsim.types import ActorState, EgoState, Pose2D
from occsim.world.roadmap import Lane, RoadMap


@dataclass(frozen=True)
class Trigger:
    """Fires once a condition holds and stays fired: ``time_after`` [s] or ``ego_distance_below`` [m]."""

    time_after: float | None = None
    ego_distance_below: float | None = None

    def holds(self, t: float, actor: Actor, ego: EgoState) -> bool:
        """Whether the condition holds now."""
        if self.time_after is not None and t < self.time_after:
            return False
        if self.ego_distance_below is not None:
            d = np.hypot(actor.x - ego.pose.x, actor.y - ego.pose.y)
            if d >= self.ego_distance_below:
                return False
        return True


@dataclass
class StepContext:
    """What a behaviour may look at while it moves its actor."""

    t: float  # [s] simulation time at the start of the step
    ego: EgoState
    ego_size: tuple[float, float]  # (length, width) [m]
    ego_centre_offset: float  # [m] footprint centre ahead of the rear axle
    actors: list[Actor]
    road_map: RoadMap


@dataclass
class Actor:
    """An actor: a class-sized upright box that follows a lane in Frenet coordinates unless its behaviour moves it."""

    id: str
    cls_name: str
    size: tuple[float, float, float]  # (length, width, height) [m]
    lane: Lane
    s: float  # [m] road station of the box centre
    offset: float  # [m] left of the lane centre, in the lane's driving direction
    speed: float  # [m/s]
    behavior: Behavior
    instance: int = 0
    x: float = 0.0
    y: float = 0.0
    yaw: float = 0.0
    vx: float = 0.0
    vy: float = 0.0
    yaw_offset: float = 0.0  # [rad] heading relative to the lane (pedestrians crossing, cars changing lane)

    def __post_init__(self) -> None:
        self.update_pose()

    @property
    def cls(self) -> int:
        """Occ3D class id."""
        return CLASS_ID[self.cls_name]

    def update_pose(self, dt: float | None = None) -> None:
        """Recompute the world pose from (lane, s, offset); with ``dt``, also the world velocity."""
        x, y, heading = self.lane.pose_at(self.s, self.offset)
        if dt:
            self.vx, self.vy = (x - self.x) / dt, (y - self.y) / dt
        self.x, self.y = x, y
        self.yaw = float(np.arctan2(np.sin(heading + self.yaw_offset), np.cos(heading + self.yaw_offset)))

    def advance(self, distance: float) -> None:
        """Move ``distance`` metres along the lane in its driving direction."""
        self.s += distance * self.lane.station_rate(self.s, self.offset)

    def state(self) -> ActorState:
        """Immutable snapshot."""
        return ActorState(
            id=self.id,
            cls=self.cls,
            pose=Pose2D(self.x, self.y, self.yaw),
            speed=float(self.speed),
            size=self.size,
            velocity=(float(self.vx), float(self.vy)),
            instance=self.instance,
        )


class Behavior(ABC):
    """Moves one actor each step."""

    @abstractmethod
    def step(self, actor: Actor, ctx: StepContext, dt: float) -> None:
        """Advance ``actor`` by ``dt`` seconds."""


BEHAVIORS: Registry[type[Behavior]] = Registry("behaviour")
register_behavior = BEHAVIORS.register


@register_behavior("static")
@dataclass
class Static(Behavior):
    """Never moves."""

    def step(self, actor: Actor, ctx: StepContext, dt: float) -> None:
        """Stay put."""
        actor.speed = 0.0
        actor.vx = actor.vy = 0.0


@register_behavior("constant")
@dataclass
class Constant(Behavior):
    """Follows its lane at a fixed speed, blind to everything."""

    def step(self, actor: Actor, ctx: StepContext, dt: float) -> None:
        """Advance at the actor's speed."""
        actor.advance(actor.speed * dt)
        actor.update_pose(dt)


@register_behavior("idm")
@dataclass
class IDM(Behavior):
    """Intelligent Driver Model against whatever is ahead in its lane, the ego included."""

    target_speed: float | None = None  # [m/s] desired speed; defaults to the initial speed
    time_headway: float = 1.5  # [s]
    min_gap: float = 2.0  # [m]
    max_accel: float = 1.5  # [m/s^2]
    comfort_decel: float = 2.0  # [m/s^2]
    exponent: float = 4.0
    when: Trigger | None = None  # stand still until this fires (stop-and-go traffic)

    def step(self, actor: Actor, ctx: StepContext, dt: float) -> None:
        """One IDM update followed by lane following."""
        if self.target_speed is None:
            self.target_speed = max(actor.speed, 1.0)
        if self.when is not None:
            if not self.when.holds(ctx.t, actor, ctx.ego):
                actor.speed, actor.vx, actor.vy = 0.0, 0.0, 0.0
                return
            self.when = None  # fired: latch
        gap, lead_speed = leader_gap(actor, ctx)
        v = actor.speed
        free = 1.0 - (v / self.target_speed) ** self.exponent
        if gap is None:
            accel = self.max_accel * free
        else:
            desired = self.min_gap + max(
                0.0, v * self.time_headway + v * (v - lead_speed) / (2 * np.sqrt(self.max_accel * self.comfort_decel))
            )
            accel = self.max_accel * (free - (desired / max(gap, 0.1)) ** 2)
        accel = max(accel, -8.0)
        new_v = max(0.0, v + accel * dt)
        actor.advance(0.5 * (v + new_v) * dt)
        actor.speed = new_v
        actor.update_pose(dt)


def leader_gap(actor: Actor, ctx: StepContext, horizon: float = 100.0) -> tuple[float | None, float]:
    """Bumper-to-bumper gap [m] and speed [m/s] of the nearest thing ahead in the actor's lane, or (None, 0)."""
    road = actor.lane.road
    direction = actor.lane.direction
    half_lane = actor.lane.width / 2
    candidates: list[tuple[np.ndarray, float, float, float]] = []  # centre, length, width, speed
    c, s = np.cos(ctx.ego.pose.yaw), np.sin(ctx.ego.pose.yaw)
    ego_centre = np.array([ctx.ego.pose.x + c * ctx.ego_centre_offset, ctx.ego.pose.y + s * ctx.ego_centre_offset])
    candidates.append((ego_centre, ctx.ego_size[0], ctx.ego_size[1], ctx.ego.speed))
    for other in ctx.actors:
        if other is not actor:
            candidates.append((np.array([other.x, other.y]), other.size[0], other.size[1], other.speed))
    centres = np.stack([cnd[0] for cnd in candidates])
    stations, laterals = road.project(centres)
    own_lat = actor.lane.lateral + direction * actor.offset
    best, best_speed = None, 0.0
    for (_, length, width, speed), st, lat in zip(candidates, stations, laterals):
        ahead = (st - actor.s) * direction
        if abs(lat - own_lat) > half_lane + width / 2 - 0.3 or ahead <= 0 or ahead > horizon:
            continue
        gap = ahead - (actor.size[0] + length) / 2
        if best is None or gap < best:
            best, best_speed = gap, speed
    return best, best_speed


@register_behavior("cut_in")
@dataclass
class CutIn(Behavior):
    """Drives at constant speed, then moves into ``to_lane`` over ``duration`` seconds once triggered."""

    to_lane: int
    when: Trigger = field(default_factory=Trigger)
    duration: float = 2.0  # [s]
    speed_after: float | None = None  # [m/s] slow to this once half-way across, if set
    decel: float = 3.0  # [m/s^2] used to reach speed_after
    lateral: float | None = None  # [m] target offset from the lane centre, instead of ``to_lane``'s (OpenDRIVE maps)
    started_at: float | None = None
    start_offset: float = 0.0

    def step(self, actor: Actor, ctx: StepContext, dt: float) -> None:
        """Lane following plus a smooth (cosine) lateral move after the trigger."""
        if self.started_at is None and self.when.holds(ctx.t, actor, ctx.ego):
            self.started_at = ctx.t
            self.start_offset = actor.offset
        v0 = actor.speed
        if self.speed_after is not None and self.started_at is not None:
            if ctx.t - self.started_at >= self.duration / 2:
                actor.speed = max(self.speed_after, actor.speed - self.decel * dt)
        actor.advance(0.5 * (v0 + actor.speed) * dt)
        if self.started_at is not None:
            if self.lateral is not None:
                target = self.lateral
            else:
                target = (actor.lane.road.lane_lateral(self.to_lane) - actor.lane.lateral) * actor.lane.direction
            u = min(1.0, (ctx.t + dt - self.started_at) / self.duration)
            previous = actor.offset
            actor.offset = self.start_offset + (target - self.start_offset) * 0.5 * (1 - np.cos(np.pi * u))
            lateral_speed = (actor.offset - previous) / dt
            actor.yaw_offset = float(np.arctan2(lateral_speed, max(actor.speed, 0.1)))
        actor.update_pose(dt)


KERB_CLEARANCE = 2.0  # [m] a crossing pedestrian stops at least this far past the far kerb
MAX_WALK_ON = 10.0  # [m] past the kerb at most, even if the drivable area goes on (a wide junction corner)


@register_behavior("crossing")
@dataclass
class Crossing(Behavior):
    """Walks straight across the road at ``speed`` once triggered, then stops on the far side."""

    speed: float = 1.4  # [m/s]
    when: Trigger = field(default_factory=Trigger)
    direction: float = 0.0  # +1 walks to the lane's left, -1 to its right; chosen at the first step

    def step(self, actor: Actor, ctx: StepContext, dt: float) -> None:
        """Walk across while triggered, until past the far kerb."""
        road = actor.lane.road
        lat = actor.lane.lateral + actor.lane.direction * actor.offset
        if self.direction == 0.0:
            centre = (road.oncoming_lanes - road.lanes) * road.lane_width / 2
            self.direction = -np.sign(lat - centre) * actor.lane.direction or 1.0
        far_edge = (
            road.oncoming_lanes * road.lane_width
            if self.direction * actor.lane.direction > 0
            else (-road.lanes * road.lane_width)
        )
        beyond = (lat - far_edge) * self.direction * actor.lane.direction  # [m] past the far kerb
        # off the carriageway and off the drivable area (a junction's rounded corner), or far enough past it
        done = beyond > KERB_CLEARANCE and (
            beyond > MAX_WALK_ON or not ctx.road_map.is_drivable(np.array([[actor.x, actor.y]]))[0]
        )
        if self.when.holds(ctx.t, actor, ctx.ego) and not done:
            actor.offset += self.direction * self.speed * dt
            actor.speed = self.speed
            actor.yaw_offset = float(self.direction * np.pi / 2)
        else:
            actor.speed = 0.0
        actor.update_pose(dt)


@register_behavior("waypoints")
@dataclass
class Waypoints(Behavior):
    """Timed positions ``[(t, s, offset), ...]`` in its lane's coordinates, linearly interpolated."""

    points: list[tuple[float, float, float]] = field(default_factory=list)

    def step(self, actor: Actor, ctx: StepContext, dt: float) -> None:
        """Jump to the interpolated position at t + dt."""
        pts = np.asarray(self.points, dtype=np.float64)
        t = ctx.t + dt
        actor.s = float(np.interp(t, pts[:, 0], pts[:, 1]))
        actor.offset = float(np.interp(t, pts[:, 0], pts[:, 2]))
        previous = np.array([actor.x, actor.y])
        actor.update_pose(dt)
        moved = np.array([actor.x, actor.y]) - previous
        actor.speed = float(np.hypot(*moved) / dt)
        if actor.speed > 0.05:
            _, _, heading = actor.lane.pose_at(actor.s, actor.offset)
            actor.yaw_offset = float(np.arctan2(moved[1], moved[0]) - heading)
            actor.update_pose()
