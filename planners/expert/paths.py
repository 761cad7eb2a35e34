"""The expert's candidate paths: the lanes near the ego, the one it is in, and nudged or blended paths along them."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np
from shapely.geometry import LineString, Point

from occsim.geometry import arc_length, points_at
from occsim.planners.expert.settings import ExpertSettings
from occsim.types import EGO_SIZE, LaneGeometry, Pose2D, RoadLayout


@dataclass
class Path:
    """One candidate path in the ego frame."""

    lane: str
    nudge: float  # [m] left of the lane centre
    oncoming: bool
    points: np.ndarray  # (P, 2) ego frame, starting at the ego, 1 m spacing
    stations: np.ndarray  # (P,)
    headings: np.ndarray  # (P,)
    speed_cap: np.ndarray | None = None  # (P,) [m/s] the lane's bends allow at most this, braking ahead included


class LaneView(NamedTuple):
    """A lane near the ego, seen from it: its points in the ego frame, driven in the ego's direction."""

    lane: LaneGeometry
    local: np.ndarray  # (N, 2) ego frame [m], reversed for an oncoming lane
    nearest: int  # index of the point nearest the ego
    oncoming: bool


class CurrentLane(NamedTuple):
    """The lane the ego is in, and whether a turning route's own lane is near (lanes that leave it then drop out)."""

    view: LaneView
    route_lane_near: bool  # a turning route's own lane is among the lanes near the ego
    route_heading: float  # [rad] ego frame, of the route's lane where the ego is on it; else 0


def lanes_near(layout: RoadLayout, pose: Pose2D, s: ExpertSettings) -> list[LaneView]:
    """The layout's lanes within reach of the ego, each driven along or against its direction.

    Raises:
        RuntimeError: no lane is near the ego.
    """
    found = []
    for lane in layout.lanes:
        local = pose.to_local(lane.points)
        k = int(np.argmin(np.hypot(local[:, 0], local[:, 1])))
        if np.hypot(*local[k]) > s.lane_reach * lane.width:
            continue
        heading = heading_at(local, k)
        if abs(heading) < np.pi / 3:
            found.append(LaneView(lane, local, k, False))
        elif abs(heading) > 2 * np.pi / 3:
            found.append(LaneView(lane, local[::-1].copy(), len(local) - 1 - k, True))
    if not found:
        raise RuntimeError("the ego is not near any lane of the road layout")
    return found


def lateral_offsets(views: list[LaneView]) -> dict[str, float]:
    """Lateral position [m] of each lane's centre at the ego, left positive."""
    return {v.lane.id: float(v.local[v.nearest, 1]) for v in views}


def current_lane(views: list[LaneView], lateral: dict[str, float], route_lane: str, turning_route: bool) -> CurrentLane:
    """The lane the ego is in: the nearest one in its direction, or a turning route's own lane where it is on it."""
    current = min(views, key=lambda v: abs(lateral[v.lane.id]) + (100.0 if v.oncoming else 0.0))
    on_route = [v for v in views if turning_route and v.lane.id == route_lane and not v.oncoming]
    if on_route and abs(lateral[route_lane]) < on_route[0].lane.width:
        # Where the route turns off a map lane, follow the route, not the lane it overlays.
        return CurrentLane(on_route[0], True, heading_at(on_route[0].local, on_route[0].nearest))
    return CurrentLane(current, bool(on_route), 0.0)


def candidate_paths(
    views: list[LaneView],
    lateral: dict[str, float],
    current: CurrentLane,
    speed: float,
    junctions: np.ndarray,
    s: ExpertSettings,
) -> Iterator[Path]:
    """Candidate paths in the ego frame, the current lane's first: each lane's nudges and blend lengths."""
    current_id = current.view.lane.id
    nearest_oncoming = min((v for v in views if v.oncoming), key=lambda v: abs(lateral[v.lane.id]), default=None)
    if sum(1 for v in views if not v.oncoming) > 1:
        nearest_oncoming = None  # borrowing the oncoming lane is for narrow streets: one lane in our direction
    for view in views:
        lane = view.lane
        if view.oncoming and (nearest_oncoming is None or lane is not nearest_oncoming.lane):
            continue
        overlaid = abs(lateral[lane.id] - lateral[current_id]) < lane.width / 2
        diverging = abs(heading_at(view.local, view.nearest) - current.route_heading) > s.diverging
        if current.route_lane_near and lane.id != current_id and (overlaid or diverging):
            continue  # lanes the route overlays or crosses go on where the route turns
        if abs(lateral[lane.id] - lateral[current_id]) > s.neighbour_reach * lane.width:
            continue  # only the current lane and its neighbours
        left, right = free_sides(lateral, lane.id, lane.width)
        for nudge in s.nudges:
            if nudge + EGO_SIZE[1] / 2 > left or -nudge + EGO_SIZE[1] / 2 > right:
                continue
            for blend_time in s.blend_times if nudge == 0.0 else s.blend_times[:1]:
                yield make_path(view, nudge, blend_time * speed, junctions, s)


def heading_at(local: np.ndarray, k: int) -> float:
    """Heading [rad] of an ego-frame polyline at point ``k``."""
    tangent = local[min(k + 1, len(local) - 1)] - local[max(k - 1, 0)]
    return float(np.arctan2(tangent[1], tangent[0]))


def free_sides(lateral: dict[str, float], lane_id: str, width: float) -> tuple[float, float]:
    """Drivable room [m] left and right of a lane's centre: half a lane, plus a lane where a neighbour exists."""
    here = lateral[lane_id]
    others = [v - here for k, v in lateral.items() if k != lane_id]
    left = width / 2 + (width if any(abs(o - width) < 0.5 for o in others) else 0.0)
    right = width / 2 + (width if any(abs(o + width) < 0.5 for o in others) else 0.0)
    return left - 0.05, right - 0.05


def junction_points(layout: RoadLayout, s: ExpertSettings) -> np.ndarray:
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
            if isinstance(g, Point) and abs(np.sin(_heading(path, g) - _heading(other, g))) > s.crossing_sine:
                points.append(g.coords[0])
    return np.asarray(points, dtype=np.float64).reshape(-1, 2)


def _heading(line: LineString, point: Point) -> float:
    """Heading [rad] of ``line`` where it passes ``point``."""
    at = line.project(point)
    a, b = line.interpolate(max(at - 0.5, 0.0)), line.interpolate(min(at + 0.5, line.length))
    return float(np.arctan2(b.y - a.y, b.x - a.x))


def make_path(view: LaneView, nudge: float, blend_length: float, junctions: np.ndarray, s: ExpertSettings) -> Path:
    """The lane's centreline from just behind the ego, blended from the ego's offset to ``nudge`` [m] left of it."""
    lane_id, oncoming, k = view.lane.id, view.oncoming, view.nearest
    pts = view.local[max(k - 2, 0) : k + 120]
    heading = _headings(pts)
    normal = np.stack([-np.sin(heading), np.cos(heading)], 1)
    stations = arc_length(pts)
    # where the ego (origin) projects onto the lane, and how far left of the lane centre the ego is
    s0, d0 = (float(v) for v in to_path(np.zeros((1, 2)), Path(lane_id, 0.0, oncoming, pts, stations, heading))[0])
    # Blend length in proportion to the sideways distance left, so that replanning every step does not keep
    # postponing a lane change that has already begun.
    length = max(s.blend_min, blend_length * min(1.0, abs(nudge - d0) / s.lane_width_nominal))
    blend = np.clip((stations - s0) / length, 0.0, 1.0)
    blend = 3 * blend**2 - 2 * blend**3
    offset = d0 + (nudge - d0) * blend
    shifted = pts + normal * offset[:, None]
    keep = stations >= s0
    limit = np.full(len(stations), np.inf)
    if len(junctions):
        along = to_path(junctions, Path(lane_id, 0.0, oncoming, pts, stations, heading))
        for s_j, d_j in along:
            if abs(d_j) < s.lane_width_nominal and 0.0 < s_j < stations[-1]:  # a junction on this lane
                limit[np.abs(stations - s_j) < s.junction_reach] = s.junction_speed
    # from the lane's own bends and junctions, so lane changes and nudges do not count
    cap = bend_speeds(heading, stations, s, limit)
    shifted = np.vstack([[0.0, 0.0], shifted[keep]])
    cap = np.concatenate([cap[keep][:1], cap[keep]])
    return Path(lane_id, nudge, oncoming, shifted, arc_length(shifted), _headings(shifted), cap)


def _headings(pts: np.ndarray) -> np.ndarray:
    """(P,) heading [rad] of each segment of ``pts`` (P, 2), the last point taking the last segment's."""
    seg = np.diff(pts, axis=0)
    heading = np.arctan2(seg[:, 1], seg[:, 0])
    return np.append(heading, heading[-1])


def bend_speeds(heading: np.ndarray, stations: np.ndarray, s: ExpertSettings, limit: np.ndarray) -> np.ndarray:
    """The fastest speed at each point that keeps bends within ``lateral_accel`` and under ``limit``, braking ahead.

    Braking towards a later bend or limit is at ``curve_brake``.
    """
    if len(heading) < 3:
        return limit
    curvature = np.abs(np.gradient(np.unwrap(heading), stations))
    if len(curvature) >= 5:
        curvature = np.convolve(curvature, np.ones(5) / 5, mode="same")  # 1 m samples: smooth the kinks
    allowed = np.minimum(np.sqrt(s.lateral_accel / np.maximum(curvature, 1e-6)), limit)
    for i in range(len(allowed) - 2, -1, -1):  # reach each later bend slowly enough
        step = stations[i + 1] - stations[i]
        allowed[i] = min(allowed[i], np.sqrt(allowed[i + 1] ** 2 + 2 * s.curve_brake * step))
    return allowed


def pose_at(path: Path, stations: np.ndarray) -> np.ndarray:
    """Ego-frame (x, y) of the rear axle at path ``stations``."""
    return points_at(path.points, stations, path.stations)


def to_path(pts: np.ndarray, path: Path) -> np.ndarray:
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
