"""Occupancy-guided plan refinement at inference, as UniAD's planner does with its own occupancy prediction.

The vision network predicts BEV objects and driveable maps beside its waypoints. The guard sweeps the ego's front
bumper along the planned path and, where the predicted map says the bumper would meet an object, shortens the plan
to stop a gap before it. Stopping does not avoid a car that comes at you, so ``GuardState`` also remembers where the
first object on the path was at the last plan: where it has closed in faster than a standing object could, the plan
is shifted sideways onto predicted road clear of it, as a driver swerves. And where the network itself moves
sideways round an object, the guard holds it to that line for a while, so that it does not steer back into a car
its map has lost sight of. Only the network's own predictions and the car's own localisation are read (the planner
stays camera-only).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from occsim.geometry import arc_length, extend_straight, points_at, segment_lengths
from occsim.planners.base import from_known_keys
from occsim.types import EGO_FRONT, EGO_SIZE, WAYPOINT_DT, Pose2D

STEP = 0.5  # [m] spacing of the swept bumper positions along the path


@dataclass(frozen=True)
class OccupancyGuard:
    """How the guard reads the objects map; saved in the weights' ``config.json`` under ``guard``.

    These defaults are the starting point a new network's guard is varied from. A network's own guard is chosen on
    a val split with ``occsim choose-guard`` (never the test split), and its card shows every candidate's figures.
    """

    # Objects probability that counts as occupied: nets trained with the objects BCE weight 20 run high.
    threshold: float = 0.8
    half_width: float = EGO_SIZE[1] / 2 + 0.2  # half the swept corridor [m]: the ego's half width and a margin
    gap: float = 2.5  # [m] kept between the bumper and the first occupied point
    # Only the plan's first second is checked: further on, a plan that will swerve round an obstacle has not
    # swerved yet, and the guard would stop the car behind what the network drives round.
    horizon: float = 1.0  # [s]
    # Swerving round head-on traffic. Oncoming objects are looked for this far along the plan (extended straight
    # on where the plan is shorter): a car closing at 20 m/s is then seen 1.5 s before it arrives.
    lookahead: float = 30.0  # [m]
    # The first object on the path counts as oncoming where it came this much faster towards the car, in the
    # world frame, than a standing object does (0 m/s); the 2 m cells blur a standing object by about 1 m per plan.
    oncoming_speed: float = 4.0  # [m/s]
    swerve_offsets: tuple[float, ...] = (3.5, 2.5)  # [m] sideways shifts tried in order; () never swerves
    swerve_ramp: float = 1.5  # [s] to reach the full shift
    road_threshold: float = 0.5  # predicted driveable probability every shifted waypoint must keep
    # No swerve where predicted road reaches this far to either side ahead: a junction, where a car coming towards
    # the ego is turning across it and stopping lets it clear. A straight three-lane road is about 11 m wide.
    junction_width: float = 9.0  # [m]
    # Holding the network's own sideways move. A network without memory swerves round a car drifting into its lane
    # in the one frame where its objects map shows the car on the path, and steers back the next, when the car has
    # slipped out of the map's reach. Where its plan ends at least ``hold_lateral`` metres to one side while an
    # object stands on the straight path ahead, that line is kept for ``hold_time`` seconds, as long as it stays on
    # predicted road and clear. 0 s: never held.
    hold_time: float = 0.0  # [s]
    hold_lateral: float = 2.0  # [m]
    hold_evidence: float = 0.5  # objects probability on the straight path that the move is taken to be round

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> OccupancyGuard:
        """From a saved config; unknown keys are an error."""
        tuples = {"swerve_offsets": tuple(data["swerve_offsets"])} if "swerve_offsets" in data else {}
        return from_known_keys(cls, {**data, **tuples}, "occupancy-guard")


DEFAULT_GUARD = OccupancyGuard()


def sample_map(prob: np.ndarray, centres: np.ndarray, points: np.ndarray) -> np.ndarray:
    """Bilinear samples of a (cells, cells) map (rows x forward, columns y left) at (..., 2) ego-frame points.

    Points off the map read 0.
    """
    size = centres[1] - centres[0]
    fx = (points[..., 0] - centres[0]) / size
    fy = (points[..., 1] - centres[0]) / size
    n = len(centres)
    inside = (fx >= 0) & (fx <= n - 1) & (fy >= 0) & (fy <= n - 1)
    fx, fy = np.clip(fx, 0, n - 1), np.clip(fy, 0, n - 1)
    x0, y0 = np.minimum(fx.astype(int), n - 2), np.minimum(fy.astype(int), n - 2)
    tx, ty = fx - x0, fy - y0
    value = (
        prob[x0, y0] * (1 - tx) * (1 - ty)
        + prob[x0 + 1, y0] * tx * (1 - ty)
        + prob[x0, y0 + 1] * (1 - tx) * ty
        + prob[x0 + 1, y0 + 1] * tx * ty
    )
    return np.where(inside, value, 0.0)


def first_hit(
    waypoints: np.ndarray, objects: np.ndarray, centres: np.ndarray, guard: OccupancyGuard, length: float
) -> tuple[float, np.ndarray | None, float]:
    """Where the ego's front bumper, swept ``length`` metres along ``[0, 0] + waypoints``, first meets an object.

    Returns the arc length [m] of that bumper position, the position (ego frame), and on which side of the path
    the object lies (+1 left, -1 right, 0 across); ``(inf, None, 0)`` where the swept corridor is clear.
    """
    path = np.vstack([np.zeros(2), waypoints])
    lengths = segment_lengths(path)
    arc = np.concatenate([[0.0], np.cumsum(lengths)])
    stations = np.arange(0.0, min(arc[-1], length) + 1e-9, STEP)
    positions = points_at(path, stations, arc)
    # Heading of the segment each station lies on (straight ahead before the car moves at all).
    moving = lengths > 1e-6
    if not moving.any():
        headings = np.zeros(len(stations))
    else:
        steps = np.diff(path, axis=0)
        # A segment that does not move takes the heading of the last one that did (the first, before any).
        source = np.maximum.accumulate(np.where(moving, np.arange(len(moving)), -1))
        source[source < 0] = int(np.argmax(moving))
        angles = np.arctan2(steps[source, 1], steps[source, 0])
        segment = np.clip(np.searchsorted(arc, stations, side="right") - 1, 0, len(angles) - 1)
        headings = angles[segment]
    forward = np.stack([np.cos(headings), np.sin(headings)], axis=1)
    left = np.stack([-forward[:, 1], forward[:, 0]], axis=1)
    bumper = positions + EGO_FRONT * forward
    offsets = np.linspace(-guard.half_width, guard.half_width, 5)
    probes = bumper[:, None] + offsets[None, :, None] * left[:, None]  # (stations, 5, 2)
    occupied = sample_map(objects, centres, probes) > guard.threshold
    hit = occupied.any(axis=1)
    if not hit.any():
        return float("inf"), None, 0.0
    k = int(np.argmax(hit))
    side = float(np.sign(np.mean(offsets[occupied[k]])))
    return float(stations[k]), bumper[k], side


def clear_distance(waypoints: np.ndarray, objects: np.ndarray, centres: np.ndarray, guard: OccupancyGuard) -> float:
    """How far [m] the ego may go along ``[0, 0] + waypoints`` and stay ``gap`` from the first occupied point.

    The ego's front bumper is swept along the path's first ``horizon`` seconds; ``objects`` is the predicted
    probability map. Inf: a clear path.
    """
    checked = max(1, min(len(waypoints), round(guard.horizon / WAYPOINT_DT)))
    station, _, _ = first_hit(waypoints[:checked], objects, centres, guard, np.inf)
    return max(0.0, station - guard.gap) if np.isfinite(station) else float("inf")


def extend_path(waypoints: np.ndarray, length: float) -> np.ndarray:
    """The waypoints with points added straight on from the last heading until the path is ``length`` m long."""
    path = np.vstack([np.zeros(2), waypoints])
    travelled = float(segment_lengths(path).sum())
    if travelled >= length:
        return waypoints
    return extend_straight(path, float(np.ceil(length - travelled)), spacing=1.0)[1:]


def shift_sideways(waypoints: np.ndarray, offset: float, ramp: float) -> np.ndarray:
    """The (6, 2) waypoints moved ``offset`` metres to the left (negative: right), eased in over ``ramp`` seconds.

    The shift is across the path's own heading at each waypoint, so a curving plan stays a curve.
    """
    path = np.vstack([np.zeros(2), waypoints])
    tangent = np.gradient(path, axis=0)[1:]
    norm = np.linalg.norm(tangent, axis=1, keepdims=True)
    tangent = np.where(norm > 1e-6, tangent / np.maximum(norm, 1e-9), [1.0, 0.0])
    left = np.stack([-tangent[:, 1], tangent[:, 0]], axis=1)
    t = np.arange(1, len(waypoints) + 1) * WAYPOINT_DT
    ease = np.clip(t / ramp, 0.0, 1.0)
    ease = ease * ease * (3 - 2 * ease)  # smoothstep: no jerk at either end
    return waypoints + (offset * ease)[:, None] * left


def truncate_path(waypoints: np.ndarray, distance: float) -> np.ndarray:
    """The waypoints moved back along ``[0, 0] + waypoints`` so none lies beyond arc length ``distance``."""
    path = np.vstack([np.zeros(2), waypoints])
    arc = arc_length(path)
    if distance >= arc[-1]:
        return waypoints
    return points_at(path, np.minimum(arc[1:], distance), arc)


def guard_waypoints(
    waypoints: np.ndarray, objects: np.ndarray, centres: np.ndarray, guard: OccupancyGuard
) -> np.ndarray:
    """(6, 2) waypoints that stop ``gap`` short of the first object the predicted map puts on the path."""
    return truncate_path(waypoints, clear_distance(waypoints, objects, centres, guard))


class GuardState:
    """The guard over one episode: remembers the first object on the path to tell oncoming from standing ones."""

    def __init__(self, guard: OccupancyGuard, centres: np.ndarray):
        self.guard = guard
        self.centres = centres
        self.reset()

    def reset(self) -> None:
        """Forget the last plan (a new episode)."""
        self._last: tuple[float, np.ndarray] | None = None  # timestamp, world position of the first object
        self._side = 0.0  # the side last swerved to (+1 left, -1 right), kept while the same car comes on
        self._held: tuple[float, np.ndarray, np.ndarray] | None = None  # since, world point and heading of a held line

    def apply(
        self,
        waypoints: np.ndarray,
        objects: np.ndarray,
        driveable: np.ndarray | None,
        pose: np.ndarray,
        timestamp: float,
        may_swerve: bool = True,
    ) -> np.ndarray:
        """(6, 2) waypoints: swerved round an oncoming object where there is road to, then stopped short as ever.

        Args:
            waypoints: the network's (6, 2) plan, ego frame [m].
            objects: the network's predicted objects probability map (cells, cells).
            driveable: its predicted driveable map; None: never swerve.
            pose: the ego's world x, y [m] and yaw [rad] (localisation), to compare plans in one frame.
            timestamp: [s] of this plan.
            may_swerve: False keeps to stopping; the planner passes False while turning, where a car coming
                towards the ego is crossing traffic to yield to, not a car in its lane.
        """
        guard = self.guard
        ego = Pose2D(*(float(v) for v in pose))
        may_swerve = may_swerve and driveable is not None
        junction = may_swerve and self._junction(driveable)
        if may_swerve:
            waypoints = self._hold(waypoints, objects, driveable, ego, timestamp, junction)
        may_swerve = may_swerve and not junction
        _, point, side = first_hit(
            extend_path(waypoints, guard.lookahead), objects, self.centres, guard, guard.lookahead
        )
        oncoming = False
        if point is None:
            self._last, self._side = None, 0.0
        else:
            world = ego.to_parent(point)
            if self._last is not None and 0.0 < timestamp - self._last[0] <= 2 * WAYPOINT_DT:
                dt = timestamp - self._last[0]
                heading = np.array([np.cos(ego.yaw), np.sin(ego.yaw)])
                towards = float((self._last[1] - world) @ heading) / dt  # closing speed along our heading
                oncoming = guard.oncoming_speed < towards < 40.0  # beyond 40 m/s: another object, not the same one
            self._last = (timestamp, world)
        if oncoming and may_swerve and guard.swerve_offsets:
            waypoints = self._swerve(waypoints, objects, driveable, side)
        return guard_waypoints(waypoints, objects, self.centres, guard)

    def _hold(
        self,
        waypoints: np.ndarray,
        objects: np.ndarray,
        driveable: np.ndarray,
        ego: Pose2D,
        timestamp: float,
        junction: bool,
    ) -> np.ndarray:
        """The plan kept on the line of a sideways move round an object the network made within ``hold_time``.

        A move is taken up away from junctions only (as the swerve), but once held it is kept into road that
        looks wide: from the next lane over, the far edge of a three-lane road can pass for a junction.
        """
        guard = self.guard
        if guard.hold_time <= 0:
            return waypoints
        if abs(waypoints[-1, 1]) >= guard.hold_lateral and not junction and self._seen_ahead(objects):
            heading = np.array([np.cos(ego.yaw), np.sin(ego.yaw)])
            self._held = (timestamp, ego.to_parent(waypoints[-1]), heading)
            return waypoints
        if self._held is None or timestamp - self._held[0] > guard.hold_time:
            self._held = None
            return waypoints
        _, anchor, heading = self._held
        # Every waypoint moved across the held line's direction onto it: the network's progress along the road is
        # kept, its drift back towards the lane it left is not.
        world = ego.to_parent(waypoints) - anchor
        across = heading[0] * world[:, 1] - heading[1] * world[:, 0]  # left of the line [m]
        left = np.array([-heading[1], heading[0]])
        shifted = ego.to_local(anchor + world - across[:, None] * left)
        if self._clear_on_road(shifted, objects, driveable):
            return shifted
        self._held = None
        return waypoints

    def _seen_ahead(self, objects: np.ndarray) -> bool:
        """Whether the objects map shows something above ``hold_evidence`` on the straight path ahead."""
        guard = self.guard
        straight = extend_path(np.array([[1.0, 0.0]]), guard.lookahead)
        seen = replace(guard, threshold=guard.hold_evidence)
        return bool(np.isfinite(first_hit(straight, objects, self.centres, seen, guard.lookahead)[0]))

    def _clear_on_road(self, waypoints: np.ndarray, objects: np.ndarray, driveable: np.ndarray) -> bool:
        """Whether shifted waypoints (extended to ``lookahead``) meet no object and stay on predicted road.

        Waypoints beyond the map's edge go unjudged for road: at 13 m/s a 3 s plan ends past the 40 m map, where a
        sample reads 0 and would refuse every shift.
        """
        guard = self.guard
        extended = extend_path(waypoints, guard.lookahead)
        if np.isfinite(first_hit(extended, objects, self.centres, guard, guard.lookahead)[0]):
            return False
        inside = (np.abs(waypoints) <= self.centres[-1]).all(axis=1)
        return bool((sample_map(driveable, self.centres, waypoints[inside]) > guard.road_threshold).all())

    def _junction(self, driveable: np.ndarray) -> bool:
        """Whether the predicted road ahead (within ``lookahead``) reaches ``junction_width`` to either side."""
        ahead = (self.centres > 0) & (self.centres < self.guard.lookahead)
        wide = np.abs(self.centres) > self.guard.junction_width
        return bool((driveable[np.ix_(ahead, wide)] > self.guard.road_threshold).any())

    def _swerve(self, waypoints: np.ndarray, objects: np.ndarray, driveable: np.ndarray, side: float) -> np.ndarray:
        """The first sideways shift whose path is clear of objects and on predicted road; the plan as it is if none."""
        guard = self.guard
        first = self._side or (-side if side else -1.0)  # away from the object; with no side to go by, right
        for offset in guard.swerve_offsets:
            for direction in (first, -first):
                shifted = shift_sideways(waypoints, direction * offset, guard.swerve_ramp)
                if self._clear_on_road(shifted, objects, driveable):
                    self._side = direction
                    return shifted
        return waypoints
