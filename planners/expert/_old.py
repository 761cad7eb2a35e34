"""A privileged rule-based expert in the spirit of PDM-Closed.

Each step it proposes paths (its lane, the neighbouring lanes, the nearest oncoming lane, each with small
lateral nudges) and speed targets, rolls each out with an IDM against everything in the path's corridor
(actors predicted at constant velocity, raised static voxels from the occupancy window), rejects proposals that
would collide or leave the road, and drives the one with the best progress after penalties.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from shapely.geometry import LineString, Point

from occsim.classes import BICYCLE, FLAT_CLASSES, FREE, MOTORCYCLE, PEDESTRIAN
from occsim.planners.base import Planner, register_planner
from occsim.types import (
    EGO_CENTRE_OFFSET,
    EGO_FRONT,
    EGO_SIZE,
    OCC3D_GRID,
    WAYPOINT_DT,
    WAYPOINTS,
    ActorTable,
    PlannerInput,
    Pose2D,
    PrivilegedInput,
    RoadLayout,
    Trajectory,
)

HORIZON = 4.0  # [s] rollout length
ROLL_DT = 0.1  # [s]
SAMPLE_DT = 0.5  # [s] spacing of obstacle predictions
LATERAL_TAU = 1.0  # [s] vehicles moving along the road drift sideways by at most this much lateral velocity
MARGIN = 0.6  # [m] lateral clearance wanted on each side
CHECK_EXTRA_LATERAL = 0.1  # [m] more clearance a proposal needs to count as collision-free
CHECK_EXTRA_LONGITUDINAL = 0.5  # [m]
NUDGES = (0.0, 0.6, -0.6, 1.2, -1.2)  # [m] lateral offsets tried within a lane
SPEED_FRACTIONS = (1.0, 0.6)
LANE_CHANGE_COST = 4.0  # [m of progress]
ONCOMING_COST = 10.0
NUDGE_COST = 3.0  # per metre of nudge
KEEP_BONUS = 1.0  # for keeping the previous choice (no dithering)
VRU_CLASSES = (BICYCLE, MOTORCYCLE, PEDESTRIAN)
RAISED = (0.2, 1.8)  # [m] above the ground: the occupancy layers that block a car
RAISED_LAYERS = slice(*(int(round((z - OCC3D_GRID.lower[2]) / OCC3D_GRID.voxel_size)) for z in RAISED))
LANE_WIDTH_NOMINAL = 3.5  # [m]
BLEND_TIMES = (2.5, 1.4)  # [s] of travel for a whole lane width of sideways motion: gentle, and sharp
BLEND_MIN = 8.0  # [m]
HARD_BRAKE = 8.0  # [m/s^2]
LATERAL_ACCEL = 3.0  # [m/s^2] the most sideways acceleration the expert takes in a bend (a comfortable turn)
CURVE_BRAKE = 2.5  # [m/s^2] braking toward a bend's speed
DIVERGING = 0.35  # [rad] a lane heading this far from a turning route's is not a neighbour to change into
JUNCTION_SPEED = 8.0  # [m/s] the most the expert drives through a junction, where traffic may turn across it
JUNCTION_REACH = 6.0  # [m] either side of where the route crosses another road's lane that counts as the junction
TURN_ZONE = 25.0  # [m] from a junction point within which a vehicle's turning is a turn at the junction
TURNING = 0.08  # [rad/s] a vehicle turning faster than this is predicted on an arc, not along its lane
MAX_YAW_RATE = 1.0  # [rad/s] faster estimates are matching errors
MAX_PREDICTED_TURN = np.pi / 2  # [rad] a turn at a junction ends within a quarter circle
MATCH_RADIUS = 1.5  # [m] between an actor's predicted and seen positions to count as the same actor
CROSSING_SINE = 0.5  # a lane meeting the route at less than 30 degrees runs along it: not a junction


@dataclass
class _Path:
    lane: str
    nudge: float
    oncoming: bool
    points: np.ndarray  # (P, 2) ego frame, starting at the ego, 1 m spacing
    stations: np.ndarray  # (P,)
    headings: np.ndarray  # (P,)
    speed_cap: np.ndarray | None = None  # (P,) [m/s] the lane's bends allow at most this, braking ahead included


@register_planner("expert")
class ExpertPlanner(Planner):
    """Privileged expert: needs ``privileged=True`` (occupancy, actor table, ego pose) and the reset info's road."""

    privileged = True

    def __init__(self, cruise_speed: float | None = None, horizon: float = HORIZON):
        self.cruise_speed = cruise_speed
        self.horizon = horizon
        self.layout: RoadLayout | None = None
        self._choice: tuple[str, float] | None = None  # (lane id, nudge) driven last step
        self._current = ""  # id of the lane the ego is in
        self._turning_route = False  # the layout's route lane turns off the map's lanes
        self._seen: _Sighting | None = None  # the actors last step, to estimate how fast each one turns
        self._junctions = np.zeros((0, 2))  # world points where the route crosses another road's lane

    def reset(self, info: dict[str, Any]) -> None:
        """Take the road layout from the reset info."""
        if "road" not in info:
            raise ValueError("the expert planner needs the env's privileged information: make it with privileged=True")
        self.layout = info["road"]
        self._choice = None
        self._seen = None
        self._junctions = _junction_points(self.layout)
        roads = {lane.id: lane.road for lane in self.layout.lanes}
        route_road = roads.get(self.layout.route_lane, -1)
        # A route that turns is a road of its own, after the map's: only then does it override the nearest lane.
        self._turning_route = route_road > max((r for i, r in roads.items() if i != self.layout.route_lane), default=0)

    def plan(self, inputs: PlannerInput, privileged: PrivilegedInput | None = None) -> Trajectory:
        """Best collision-free proposal, or the hardest stop if none is."""
        if self.layout is None:
            raise RuntimeError("call reset(info) before plan()")
        if privileged is None:
            raise ValueError("the expert planner needs the privileged inputs (occupancy, actors)")
        x, y, yaw = (float(v) for v in inputs.ego_pose)
        speed = float(inputs.ego[0])
        cruise = self.cruise_speed or self.layout.speed_limit
        sighting = _Sighting.of(privileged.actors, x, y, yaw, float(inputs.timestamp))
        yaw_rates = sighting.yaw_rates(self._seen)
        self._seen = sighting
        # Turning is read as a turn only near a junction; elsewhere it is a lane change, which straightens out.
        if len(self._junctions):
            gap = np.hypot(*(sighting.xy[:, None] - self._junctions[None]).transpose(2, 0, 1)).min(axis=1)
            yaw_rates = np.where(gap < TURN_ZONE, yaw_rates, 0.0)
        else:
            yaw_rates = np.zeros_like(yaw_rates)
        obstacles = _obstacles(privileged.actors, privileged.occupancy, yaw_rates)
        best, best_score, fallback = None, -np.inf, None
        for path in self._paths(x, y, yaw, speed):
            if fallback is None or (path.lane, path.nudge) == self._choice:
                fallback = path
            boxes = _project(obstacles, path)
            for fraction in SPEED_FRACTIONS:
                s, v = _rollout(path, boxes, speed, fraction * cruise, self.horizon)
                crash = _first_collision(path, boxes, s)
                score = s[-1] - self._cost(path)
                if crash is None and score > best_score:
                    best, best_score = (path, s), score
        if best is None:  # nothing is safe: brake as hard as possible, keeping to the path already chosen
            path = fallback
            times = WAYPOINT_DT * np.arange(1, WAYPOINTS + 1)
            stop_time = speed / HARD_BRAKE
            s = np.where(times < stop_time, speed * times - 0.5 * HARD_BRAKE * times**2, speed * stop_time / 2)
            return Trajectory(_pose_at(path, s))
        path, s = best
        self._choice = (path.lane, path.nudge)
        times = np.arange(len(s)) * ROLL_DT
        at = np.interp(WAYPOINT_DT * np.arange(1, WAYPOINTS + 1), times, s)
        return Trajectory(_pose_at(path, at))

    def _cost(self, path: _Path) -> float:
        cost = NUDGE_COST * abs(path.nudge)
        if path.lane != self._current:
            cost += ONCOMING_COST if path.oncoming else LANE_CHANGE_COST
        if self._choice == (path.lane, path.nudge):
            cost -= KEEP_BONUS
        return cost

    def _paths(self, x: float, y: float, yaw: float, speed: float):
        """Candidate paths in the ego frame, the current lane first."""
        pose = Pose2D(x, y, yaw)
        found = []
        for lane in self.layout.lanes:
            local = pose.to_local(lane.points)
            k = int(np.argmin(np.hypot(local[:, 0], local[:, 1])))
            if np.hypot(*local[k]) > 3.0 * lane.width:
                continue
            heading = _heading_at(local, k)
            if abs(heading) < np.pi / 3:
                found.append((lane, local, k, False))
            elif abs(heading) > 2 * np.pi / 3:
                found.append((lane, local[::-1].copy(), len(local) - 1 - k, True))
        if not found:
            raise RuntimeError("the ego is not near any lane of the road layout")
        junctions = pose.to_local(self._junctions)
        # lateral position of each lane's centre at the ego, left positive
        lateral = {lane.id: float(local[k, 1]) for lane, local, k, _ in found}
        current = min(found, key=lambda f: abs(lateral[f[0].id]) + (100.0 if f[3] else 0.0))
        route_heading = 0.0
        on_route = [f for f in found if self._turning_route and f[0].id == self.layout.route_lane and not f[3]]
        if on_route and abs(lateral[self.layout.route_lane]) < on_route[0][0].width:
            current = on_route[0]  # where the route turns off a map lane, follow the route, not the lane it overlays
            route_heading = _heading_at(current[1], current[2])
        self._current = current[0].id
        nearest_oncoming = min((f for f in found if f[3]), key=lambda f: abs(lateral[f[0].id]), default=None)
        if sum(1 for f in found if not f[3]) > 1:
            nearest_oncoming = None  # borrowing the oncoming lane is for narrow streets: one lane in our direction
        for lane, local, k, oncoming in found:
            if oncoming and (nearest_oncoming is None or lane is not nearest_oncoming[0]):
                continue
            overlaid = abs(lateral[lane.id] - lateral[self._current]) < lane.width / 2
            if (
                on_route
                and lane.id != self._current
                and (overlaid or abs(_heading_at(local, k) - route_heading) > 0.35)
            ):
                continue  # lanes the route overlays or crosses go on where the route turns
            if abs(lateral[lane.id] - lateral[self._current]) > 1.6 * lane.width:
                continue  # only the current lane and its neighbours
            left, right = _free_sides(lateral, lane.id, lane.width)
            for nudge in NUDGES:
                if nudge + EGO_SIZE[1] / 2 > left or -nudge + EGO_SIZE[1] / 2 > right:
                    continue
                for blend_time in BLEND_TIMES if nudge == 0.0 else BLEND_TIMES[:1]:
                    yield _make_path(lane.id, local, k, nudge, oncoming, blend_time * speed, junctions)


def _heading_at(local: np.ndarray, k: int) -> float:
    """Heading [rad] of an ego-frame polyline at point ``k``."""
    tangent = local[min(k + 1, len(local) - 1)] - local[max(k - 1, 0)]
    return float(np.arctan2(tangent[1], tangent[0]))


def _free_sides(lateral: dict[str, float], lane_id: str, width: float) -> tuple[float, float]:
    """Drivable room [m] left and right of a lane's centre: half a lane, plus a lane where a neighbour exists."""
    here = lateral[lane_id]
    others = [v - here for k, v in lateral.items() if k != lane_id]
    left = width / 2 + (width if any(abs(o - width) < 0.5 for o in others) else 0.0)
    right = width / 2 + (width if any(abs(o + width) < 0.5 for o in others) else 0.0)
    return left - 0.05, right - 0.05


def _junction_points(layout: RoadLayout) -> np.ndarray:
    """World points (J, 2) where the route crosses a lane of another road (not where it runs along one)."""
    route_lane = next((lane for lane in layout.lanes if lane.id == layout.route_lane), None)
    route = layout.route if layout.route is not None else (route_lane.points if route_lane else None)
    if route is None or len(route) < 2:
        return np.zeros((0, 2))
    path = LineString(route)
    own = route_lane.road if route_lane else -1
    points = []
    for lane in layout.lanes:
        if lane.road == own or lane.id == layout.route_lane or len(lane.points) < 2:
            continue
        other = LineString(lane.points)
        hit = path.intersection(other)
        for g in getattr(hit, "geoms", [hit]):
            # a lane the route runs along (an OpenDRIVE map's lane beside or under it) touches it at shallow angles
            if isinstance(g, Point) and abs(np.sin(_heading(path, g) - _heading(other, g))) > CROSSING_SINE:
                points.append(g.coords[0])
    return np.asarray(points, dtype=np.float64).reshape(-1, 2)


def _heading(line: LineString, point: Point) -> float:
    """Heading [rad] of ``line`` where it passes ``point``."""
    at = line.project(point)
    a, b = line.interpolate(max(at - 0.5, 0.0)), line.interpolate(min(at + 0.5, line.length))
    return float(np.arctan2(b.y - a.y, b.x - a.x))


def _make_path(
    lane_id: str,
    local: np.ndarray,
    k: int,
    nudge: float,
    oncoming: bool,
    blend_length: float,
    junctions: np.ndarray | None = None,
) -> _Path:
    pts = local[max(k - 2, 0) : k + 120]
    seg = np.diff(pts, axis=0)
    heading = np.arctan2(seg[:, 1], seg[:, 0])
    heading = np.append(heading, heading[-1])
    normal = np.stack([-np.sin(heading), np.cos(heading)], 1)
    stations = np.concatenate([[0.0], np.cumsum(np.hypot(seg[:, 0], seg[:, 1]))])
    # where the ego (origin) projects onto the lane, and how far left of the lane centre the ego is
    s0, d0 = (float(v) for v in _to_path(np.zeros((1, 2)), _Path(lane_id, 0.0, oncoming, pts, stations, heading))[0])
    # Blend length in proportion to the sideways distance left, so that replanning every step does not keep
    # postponing a lane change that has already begun.
    length = max(BLEND_MIN, blend_length * min(1.0, abs(nudge - d0) / LANE_WIDTH_NOMINAL))
    blend = np.clip((stations - s0) / length, 0.0, 1.0)
    blend = 3 * blend**2 - 2 * blend**3
    offset = d0 + (nudge - d0) * blend
    shifted = pts + normal * offset[:, None]
    keep = stations >= s0
    limit = np.full(len(stations), np.inf)
    if junctions is not None and len(junctions):
        along = _to_path(junctions, _Path(lane_id, 0.0, oncoming, pts, stations, heading))
        for s_j, d_j in along:
            if abs(d_j) < LANE_WIDTH_NOMINAL and 0.0 < s_j < stations[-1]:  # a junction on this lane
                limit[np.abs(stations - s_j) < JUNCTION_REACH] = JUNCTION_SPEED
    # from the lane's own bends and junctions, so lane changes and nudges do not count
    cap = _bend_speeds(heading, stations, limit)
    shifted = np.vstack([[0.0, 0.0], shifted[keep]])
    cap = np.concatenate([cap[keep][:1], cap[keep]])
    seg = np.diff(shifted, axis=0)
    stations = np.concatenate([[0.0], np.cumsum(np.hypot(seg[:, 0], seg[:, 1]))])
    heading = np.arctan2(seg[:, 1], seg[:, 0])
    heading = np.append(heading, heading[-1])
    return _Path(lane_id, nudge, oncoming, shifted, stations, heading, cap)


def _bend_speeds(heading: np.ndarray, stations: np.ndarray, limit: np.ndarray | None = None) -> np.ndarray:
    """The fastest speed at each point that keeps bends within LATERAL_ACCEL and under ``limit``, braking ahead.

    Braking towards a later bend or limit is at CURVE_BRAKE.
    """
    if len(heading) < 3:
        return np.full(len(heading), np.inf) if limit is None else limit
    curvature = np.abs(np.gradient(np.unwrap(heading), stations))
    if len(curvature) >= 5:
        curvature = np.convolve(curvature, np.ones(5) / 5, mode="same")  # 1 m samples: smooth the kinks
    allowed = np.sqrt(LATERAL_ACCEL / np.maximum(curvature, 1e-6))
    if limit is not None:
        allowed = np.minimum(allowed, limit)
    for i in range(len(allowed) - 2, -1, -1):  # reach each later bend slowly enough
        step = stations[i + 1] - stations[i]
        allowed[i] = min(allowed[i], np.sqrt(allowed[i + 1] ** 2 + 2 * CURVE_BRAKE * step))
    return allowed


def _pose_at(path: _Path, s: np.ndarray) -> np.ndarray:
    """Ego-frame (x, y) of the rear axle at path stations ``s``."""
    return np.stack([np.interp(s, path.stations, path.points[:, 0]), np.interp(s, path.stations, path.points[:, 1])], 1)


@dataclass
class _Obstacles:
    """Actors' predicted corners (K, N, 4, 2) at SAMPLE_DT steps and static cell centres (M, 2), ego frame."""

    actors: np.ndarray
    static: np.ndarray


@dataclass
class _Sighting:
    """The actors of one step in the world frame, to match against the next step's."""

    t: float  # [s]
    cls: np.ndarray  # (N,)
    xy: np.ndarray  # (N, 2) world [m]
    yaw: np.ndarray  # (N,) world [rad]
    velocity: np.ndarray  # (N, 2) world [m/s]

    @classmethod
    def of(cls, actors: ActorTable, x: float, y: float, yaw: float, t: float) -> _Sighting:
        xy = Pose2D(x, y, yaw).to_parent(np.stack([actors.x, actors.y], 1))
        velocity = Pose2D(0.0, 0.0, yaw).to_parent(np.stack([actors.vx, actors.vy], 1))  # rotated only
        return cls(t, actors.cls, xy, actors.yaw + yaw, velocity)

    def yaw_rates(self, before: _Sighting | None) -> np.ndarray:
        """(N,) [rad/s] each actor's turn rate since ``before`` (0 where it cannot be matched)."""
        rates = np.zeros(len(self.xy))
        if before is None or not len(before.xy) or not len(self.xy) or self.t <= before.t:
            return rates
        dt = self.t - before.t
        expected = before.xy + before.velocity * dt  # where each earlier actor should be now
        distance = np.hypot(*(self.xy[:, None] - expected[None]).transpose(2, 0, 1))
        distance[self.cls[:, None] != before.cls[None]] = np.inf
        nearest = np.argmin(distance, axis=1)
        matched = distance[np.arange(len(self.xy)), nearest] < MATCH_RADIUS
        turned = np.angle(np.exp(1j * (self.yaw - before.yaw[nearest]))) / dt
        rates[matched] = turned[matched]
        return np.where(np.abs(rates) < MAX_YAW_RATE, rates, 0.0)


def _obstacles(actors: ActorTable, occupancy: np.ndarray, yaw_rates: np.ndarray | None = None) -> _Obstacles:
    samples = np.arange(0.0, HORIZON + 1e-9, SAMPLE_DT)
    unit = np.array([[0.5, 0.5], [0.5, -0.5], [-0.5, -0.5], [-0.5, 0.5]])
    x, y, yaw, vx, vy = actors.x, actors.y, actors.yaw, actors.vx, actors.vy
    rates = np.zeros(len(x)) if yaw_rates is None else yaw_rates
    # Vehicles travelling along the road (parallel or head-on to the ego) follow lanes: their sideways motion
    # saturates instead of carrying them across every lane. Vehicles turning (at a junction) go on turning at
    # their rate, up to a quarter circle. Everything else moves at constant velocity.
    vehicle = ~np.isin(actors.cls, VRU_CLASSES)
    turning = vehicle & (np.abs(rates) > TURNING)
    along_road = vehicle & ~turning & (np.abs(np.cos(yaw)) > 0.7)
    lateral_time = np.where(
        along_road[None, :], LATERAL_TAU * (1 - np.exp(-samples[:, None] / LATERAL_TAU)), samples[:, None]
    )
    shift = np.stack([samples[:, None] * vx[None], lateral_time * vy[None]], -1)  # (K, N, 2)
    heading = np.broadcast_to(yaw[None], shift.shape[:2]).copy()  # (K, N)
    if turning.any():
        w, v = rates[turning], np.hypot(vx[turning], vy[turning])
        turn = np.clip(w[None] * samples[:, None], -MAX_PREDICTED_TURN, MAX_PREDICTED_TURN)
        arc_time = np.abs(turn / w[None])  # time spent on the arc; straight on after it
        start = np.arctan2(vy[turning], vx[turning])
        arc = (
            np.stack([np.sin(start + turn) - np.sin(start), np.cos(start) - np.cos(start + turn)], -1)
            * (v / w)[None, :, None]
        )
        straight = (samples[:, None] - arc_time)[..., None] * v[None, :, None]
        end = start + turn
        shift[:, turning] = arc + straight * np.stack([np.cos(end), np.sin(end)], -1)
        heading[:, turning] = yaw[turning][None] + turn
    c, s = np.cos(heading)[..., None], np.sin(heading)[..., None]  # (K, N, 1)
    lx, ly = unit[None, None, :, 0] * actors.length[None, :, None], unit[None, None, :, 1] * actors.width[None, :, None]
    corners = np.stack([c * lx - s * ly, s * lx + c * ly], -1)  # (K, N, 4, 2)
    moved = np.stack([x, y], -1)[None, :, None, :] + shift[:, :, None, :] + corners
    return _Obstacles(moved, _static_cells(occupancy, actors))


def _static_cells(occupancy: np.ndarray, actors: ActorTable) -> np.ndarray:
    """Ego-frame centres (M, 2) of raised, non-actor voxel columns ahead of the ego."""
    occ = occupancy[:, :, RAISED_LAYERS]
    raised = (occ != FREE) & ~np.isin(occ, list(FLAT_CLASSES))
    i, j = np.nonzero(raised.any(axis=2))
    grid = OCC3D_GRID
    pts = np.stack([grid.lower[0] + (i + 0.5) * grid.voxel_size, grid.lower[1] + (j + 0.5) * grid.voxel_size], 1)
    pts = pts[(pts[:, 0] > -2.0) & (np.abs(pts[:, 1]) < 12.0)]
    # actors are also in the occupancy: keep only what no actor box explains
    for x, y, yaw, length, width in zip(actors.x, actors.y, actors.yaw, actors.length, actors.width):
        u, v = Pose2D(x, y, yaw).to_local(pts).T
        pts = pts[(np.abs(u) > length / 2 + 0.5) | (np.abs(v) > width / 2 + 0.5)]
    return pts


def _project(obstacles: _Obstacles, path: _Path) -> np.ndarray:
    """Obstacle boxes in path coordinates (K, N + M, 4) = (s_lo, s_hi, d_lo, d_hi): actors, then static cells."""
    k, n = obstacles.actors.shape[:2]
    actors = _to_path(obstacles.actors.reshape(-1, 2), path).reshape(k, n, 4, 2)
    boxes = np.stack(
        [actors[..., 0].min(-1), actors[..., 0].max(-1), actors[..., 1].min(-1), actors[..., 1].max(-1)], -1
    )
    static = obstacles.static
    if len(static):
        # Only cells near the path can enter its corridor; the rest would cost most of the projection.
        reach = EGO_SIZE[1] / 2 + MARGIN + CHECK_EXTRA_LATERAL + OCC3D_GRID.voxel_size
        lo, hi = path.points.min(0) - reach, path.points.max(0) + reach
        static = static[np.all((static >= lo) & (static <= hi), axis=1)]
    if len(static):
        sd = _to_path(static, path)  # static cells do not move: project once, repeat for every sample
        half = OCC3D_GRID.voxel_size / 2
        cells = np.stack([sd[:, 0] - half, sd[:, 0] + half, sd[:, 1] - half, sd[:, 1] + half], -1)
        boxes = np.concatenate([boxes, np.broadcast_to(cells[None], (k, *cells.shape))], axis=1)
    return boxes


def _to_path(pts: np.ndarray, path: _Path) -> np.ndarray:
    """(along, lateral) path coordinates of ego-frame points (P, 2); lateral is left positive."""
    if not len(pts):
        return np.zeros((0, 2))
    a, b = path.points[:-1], path.points[1:]
    ab = b - a
    length2 = np.maximum(np.einsum("ij,ij->i", ab, ab), 1e-9)
    rel = pts[:, None, :] - a[None]
    t = np.clip(np.einsum("pij,ij->pi", rel, ab) / length2, 0.0, 1.0)
    closest = a[None] + t[..., None] * ab[None]
    dist = np.sum((pts[:, None] - closest) ** 2, -1)
    seg = np.argmin(dist, 1)
    rows = np.arange(len(pts))
    along = path.stations[seg] + t[rows, seg] * np.sqrt(length2[seg])
    d = pts - closest[rows, seg]
    side = np.where(ab[seg, 0] * d[:, 1] - ab[seg, 1] * d[:, 0] >= 0, 1.0, -1.0)
    return np.stack([along, side * np.sqrt(dist[rows, seg])], 1)


def _in_corridor(boxes: np.ndarray, margin: float = MARGIN) -> np.ndarray:
    half = EGO_SIZE[1] / 2 + margin
    return (boxes[..., 2] < half) & (boxes[..., 3] > -half)


def _rollout(path: _Path, boxes: np.ndarray, v0: float, target: float, horizon: float) -> tuple[np.ndarray, np.ndarray]:
    """IDM along the path; returns stations (T+1,) and speeds (T+1,) every ROLL_DT."""
    steps = int(round(horizon / ROLL_DT))
    corridor = _in_corridor(boxes)
    s_lo = np.where(corridor, boxes[..., 0], np.inf)  # (K, N)
    s, v = 0.0, v0
    out_s, out_v = [s], [v]
    cruise = target
    for step in range(steps):
        if path.speed_cap is not None:
            target = min(cruise, float(np.interp(s, path.stations, path.speed_cap)))
        k = min(int(step * ROLL_DT / SAMPLE_DT), len(boxes) - 1)
        window = s_lo[k:]  # IDM keeps clear of wherever an obstacle will be within the horizon
        front = s + EGO_FRONT
        ahead = np.where(window > front - 0.5, window, np.inf).min() if window.size else np.inf
        gap = ahead - front
        if target <= 0.1:
            accel = -4.0
        else:
            free = 1.0 - (v / target) ** 4
            if np.isfinite(gap):
                desired = 3.0 + max(0.0, v * 1.2 + v * v / (2 * np.sqrt(2.0 * 3.0)))
                accel = 2.0 * (free - (desired / max(gap, 0.1)) ** 2)
            else:
                accel = 2.0 * free
        accel = float(np.clip(accel, -8.0, 3.0))
        v_new = max(0.0, v + accel * ROLL_DT)
        s += 0.5 * (v + v_new) * ROLL_DT
        v = v_new
        out_s.append(min(s, path.stations[-1]))
        out_v.append(v)
    return np.array(out_s), np.array(out_v)


def _first_collision(path: _Path, boxes: np.ndarray, s: np.ndarray) -> float | None:
    """Time [s] of the first predicted overlap of the ego footprint with an obstacle, or None.

    Stricter than the IDM's corridor: the tracker cuts corners and the path model ignores heading.
    """
    corridor = _in_corridor(boxes, MARGIN + CHECK_EXTRA_LATERAL)
    # What starts behind the ego's middle is a follower's to avoid: braking for it only invites it into the back.
    corridor &= boxes[0, :, 1] > s[0] + EGO_CENTRE_OFFSET
    for k in range(len(boxes)):
        t = k * SAMPLE_DT
        idx = min(int(round(t / ROLL_DT)), len(s) - 1)
        rear = s[idx] + EGO_CENTRE_OFFSET - EGO_SIZE[0] / 2
        front = s[idx] + EGO_FRONT
        hit = corridor[k] & (boxes[k, :, 0] < front + CHECK_EXTRA_LONGITUDINAL) & (boxes[k, :, 1] > rear)
        if np.any(hit):
            return t
    return None
