"""Road maps: lanes as centreline polylines, the drivable area as a shapely polygon, procedural builders."""

from __future__ import annotations

from dataclasses import dataclass, field

import numba
import numpy as np
import shapely
from shapely.geometry import LinearRing, Polygon
from shapely.ops import unary_union

from occsim.geometry import arc_length, points_at, segment_lengths

SAMPLE_SPACING = 0.5  # [m] between reference-line samples
RUN_OUT = 20.0  # [m] of road before station 0 and after the nominal length, so nothing starts at a cliff edge
CORNER_RADIUS = 10.0  # [m] curb radius of junction corners
CROSSWALK_WIDTH = 3.0  # [m] of a zebra crossing along its road
CROSSWALK_SETBACK = 1.0  # [m] between a crossing and the junction's box (the crossing roads' carriageways)


@dataclass(frozen=True)
class Road:
    """A road: a reference line (the divider between directions) with lanes on both sides."""

    index: int
    reference: np.ndarray  # (N, 2) world frame [m]
    lanes: int  # lanes in the forward direction (right of the reference line)
    oncoming_lanes: int  # lanes in the opposite direction (left of it)
    lane_width: float  # [m]
    start: float = 0.0  # [m] station of the first reference point (negative: road before station 0)
    end_run_out: float = RUN_OUT  # [m] of reference past the nominal end (0: the road ends there, a T's stem)
    extrapolate: bool = True  # planners see its lanes continued straight past both ends (False: they end with it)
    stations: np.ndarray = field(init=False)  # (N,) arc length along the reference [m], from ``start``
    headings: np.ndarray = field(init=False)  # (N,) [rad]
    normals: np.ndarray = field(init=False)  # (N, 2) unit left normals
    tangents: np.ndarray = field(init=False)  # (2, N) cos and sin of the headings, rows contiguous for interp
    _frame_table: np.ndarray = field(init=False, repr=False, compare=False)  # (4, N) x, y, cos, sin rows

    def __post_init__(self) -> None:
        ref = np.asarray(self.reference, dtype=np.float64)
        stations = self.start + arc_length(ref)
        tangent = np.gradient(ref, axis=0)
        headings = np.arctan2(tangent[:, 1], tangent[:, 0])
        object.__setattr__(self, "reference", ref)
        object.__setattr__(self, "stations", stations)
        object.__setattr__(self, "headings", headings)
        # frame_at runs for every actor at every substep: computing these there cost a third of its time.
        tangents = np.stack([np.cos(headings), np.sin(headings)])
        object.__setattr__(self, "tangents", tangents)
        object.__setattr__(self, "normals", np.stack([-tangents[1], tangents[0]], axis=1))
        object.__setattr__(self, "_frame_table", np.ascontiguousarray(np.vstack([ref.T, tangents])))

    @property
    def length(self) -> float:
        """Nominal length [m]: stations 0..length are the scenario's road, with run-out on both ends."""
        return float(self.stations[-1]) - self.end_run_out

    def lane_lateral(self, lane: int) -> float:
        """Lateral position [m, left of the reference] of a lane's centre; lane 0 = rightmost forward lane."""
        if 0 <= lane < self.lanes:
            return -(self.lanes - 0.5 - lane) * self.lane_width
        if -self.oncoming_lanes <= lane < 0:
            return (-lane - 0.5) * self.lane_width
        raise ValueError(f"lane {lane} does not exist; allowed {-self.oncoming_lanes}..{self.lanes - 1}")

    def has_lane(self, lane: int) -> bool:
        """Whether the lane index exists on this road."""
        return -self.oncoming_lanes <= lane < self.lanes

    def frame_at(self, s: np.ndarray | float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Reference point (.., 2), heading (..) and left normal (.., 2) at station(s) ``s``."""
        s = np.asarray(s, dtype=np.float64)
        if s.ndim == 0:  # one station (every actor at every substep): one compiled call instead of four interps
            x, y, cx, cy = _interp_rows(float(s), self.stations, self._frame_table)
            heading = np.arctan2(cy, cx)
            over = float(s) - min(max(float(s), self.stations[0]), self.stations[-1])
            x, y = x + over * np.cos(heading), y + over * np.sin(heading)
            return np.array([x, y]), heading, np.array([-np.sin(heading), np.cos(heading)])
        x = np.interp(s, self.stations, self.reference[:, 0])
        y = np.interp(s, self.stations, self.reference[:, 1])
        # Interpolate the unit tangent, not the angle, so headings never wrap mid-interpolation.
        cx = np.interp(s, self.stations, self.tangents[0])
        cy = np.interp(s, self.stations, self.tangents[1])
        heading = np.arctan2(cy, cx)
        # Past either end the road continues straight, so extrapolated stations stay meaningful.
        over = s - np.clip(s, self.stations[0], self.stations[-1])
        x = x + over * np.cos(heading)
        y = y + over * np.sin(heading)
        return np.stack([x, y], axis=-1), heading, np.stack([-np.sin(heading), np.cos(heading)], axis=-1)

    def to_world(self, s: np.ndarray | float, lateral: np.ndarray | float) -> np.ndarray:
        """World position (.., 2) of station ``s`` and lateral offset ``lateral`` (left of the reference)."""
        point, _, normal = self.frame_at(s)
        return point + normal * np.asarray(lateral, dtype=np.float64)[..., None]

    def project(self, points: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Station and lateral offset (left positive) of world points (N, 2) on this road."""
        p = np.atleast_2d(np.asarray(points, dtype=np.float64))
        return _project(p, self.reference, self.stations)

    def boundary(self, side: int, extra: float = 0.0) -> np.ndarray:
        """Road edge polyline (N, 2): side +1 the left (oncoming) edge, -1 the right edge, pushed out by ``extra``."""
        width = (self.oncoming_lanes if side > 0 else self.lanes) * self.lane_width + extra
        return self.reference + self.normals * (side * width)

    def polygon(self, extra: float = 0.0) -> Polygon:
        """The carriageway (widened by ``extra`` on both sides) as a polygon."""
        left, right = self.boundary(+1, extra), self.boundary(-1, extra)
        return shapely.make_valid(Polygon(np.concatenate([left, right[::-1]])))


@dataclass(frozen=True)
class Lane:
    """One lane: a centreline in the driving direction, addressed by the road's stations."""

    road: Road
    index: int

    @property
    def id(self) -> str:
        """Stable lane id, e.g. ``r0:l1`` or ``r0:l-1``."""
        return f"r{self.road.index}:l{self.index}"

    @property
    def direction(self) -> int:
        """+1 when the lane runs with increasing station, -1 for oncoming lanes."""
        return 1 if self.index >= 0 else -1

    @property
    def width(self) -> float:
        """Lane width [m]."""
        return self.road.lane_width

    @property
    def lateral(self) -> float:
        """Centre offset from the reference line [m, left positive]."""
        return self.road.lane_lateral(self.index)

    def pose_at(self, s: float, offset: float = 0.0) -> tuple[float, float, float]:
        """World (x, y, heading) at station ``s`` and ``offset`` metres left of the lane centre (driving direction)."""
        point, heading, normal = self.road.frame_at(s)
        lat = self.lateral + self.direction * offset
        x, y = point + normal * lat
        if self.direction < 0:
            heading = heading + np.pi
        return float(x), float(y), float(np.arctan2(np.sin(heading), np.cos(heading)))

    def station_rate(self, s: float, offset: float = 0.0) -> float:
        """d(station)/d(distance travelled) in the driving direction; differs from ±1 on curves."""
        h = 0.25
        a = np.asarray(self.pose_at(s - h, offset)[:2])
        b = np.asarray(self.pose_at(s + h, offset)[:2])
        return self.direction * 2 * h / max(float(np.hypot(*(b - a))), 1e-6)

    def centreline(self, s_from: float | None = None, s_to: float | None = None, spacing: float = 1.0) -> np.ndarray:
        """World polyline (N, 2) of the lane centre in the driving direction."""
        lo = self.road.stations[0] if s_from is None else s_from
        hi = self.road.stations[-1] if s_to is None else s_to
        s = np.arange(lo, hi + 1e-9, spacing)
        pts = self.road.to_world(s, np.full_like(s, self.lateral))
        return pts if self.direction > 0 else pts[::-1]


@dataclass(frozen=True)
class Crosswalk:
    """A zebra crossing across every lane of ``road`` between two stations."""

    road: Road
    s_from: float  # [m]
    s_to: float  # [m]

    def outline(self) -> np.ndarray:
        """Corners (4, 2) in the world frame."""
        r = self.road
        right, left = -r.lanes * r.lane_width, r.oncoming_lanes * r.lane_width
        s = np.array([self.s_from, self.s_to, self.s_to, self.s_from])
        return r.to_world(s, np.array([right, right, left, left]))


@dataclass
class RoadMap:
    """All roads of a scenario, their lanes and the drivable area."""

    kind: str
    roads: list[Road]
    extra_drivable: Polygon | None = None  # drivable area beyond the roads' carriageways (a real map's)
    crosswalks: list[Crosswalk] = field(default_factory=list)  # zebra crossings on the junctions' arms
    area: Polygon | None = None  # the drivable area exactly, where the roads' carriageways only approximate it
    drivable: Polygon = field(init=False)

    def __post_init__(self) -> None:
        parts = [r.polygon() for r in self.roads] + ([self.extra_drivable] if self.extra_drivable is not None else [])
        self.drivable = self.area if self.area is not None else unary_union(parts)
        shapely.prepare(self.drivable)

    def lane(self, index: int, road: int = 0) -> Lane:
        """The lane ``index`` of road ``road``; ValueError naming the allowed lanes if it does not exist."""
        if not 0 <= road < len(self.roads):
            raise ValueError(f"road {road} does not exist; this {self.kind} map has roads 0..{len(self.roads) - 1}")
        r = self.roads[road]
        if not r.has_lane(index):
            raise ValueError(f"lane {index} does not exist on road {road}; allowed {-r.oncoming_lanes}..{r.lanes - 1}")
        return Lane(r, index)

    def lanes(self) -> list[Lane]:
        """Every lane of every road."""
        return [Lane(r, i) for r in self.roads for i in range(-r.oncoming_lanes, r.lanes)]

    def is_drivable(self, points: np.ndarray) -> np.ndarray:
        """Whether world points (N, 2) lie on the drivable area."""
        p = np.atleast_2d(points)
        return shapely.contains_xy(self.drivable, p[:, 0], p[:, 1])

    @property
    def bounds(self) -> tuple[float, float, float, float]:
        """(xmin, ymin, xmax, ymax) of the drivable area [m]."""
        return tuple(self.drivable.bounds)  # type: ignore[return-value]


def _road(index: int, reference: np.ndarray, lanes: int, oncoming_lanes: int, lane_width: float) -> Road:
    """A procedural road; ValueError if its carriageway folds over itself.

    That is a curve tighter than the road is wide, or one that turns more than a full circle: stations and the
    drivable area would mean nothing there.
    """
    road = Road(index, reference, lanes, oncoming_lanes, lane_width, start=-RUN_OUT)
    edge = LinearRing(np.concatenate([road.boundary(+1), road.boundary(-1)[::-1]]))
    if not edge.is_simple:
        turned = float(np.degrees(np.abs(np.unwrap(road.headings)[-1] - road.headings[0])))
        raise ValueError(
            f"road {index} overlaps itself: its edges ({oncoming_lanes * lane_width:g} m left and "
            f"{lanes * lane_width:g} m right of the centre line) cross, turning {turned:.0f} degrees over "
            f"{road.stations[-1] - road.stations[0]:.0f} m; use a larger radius or a shorter road"
        )
    return road


def _line(start: tuple[float, float], heading: float, length: float) -> np.ndarray:
    """Samples from RUN_OUT before ``start`` to RUN_OUT past ``length``."""
    s = np.linspace(-RUN_OUT, length + RUN_OUT, max(2, int(np.ceil((length + 2 * RUN_OUT) / SAMPLE_SPACING)) + 1))
    return np.stack([start[0] + s * np.cos(heading), start[1] + s * np.sin(heading)], axis=1)


def build_straight(lanes: int = 2, oncoming_lanes: int = 1, lane_width: float = 3.5, length: float = 250.0) -> RoadMap:
    """A straight road along world +x from the origin."""
    return RoadMap("straight", [_road(0, _line((0.0, 0.0), 0.0, length), lanes, oncoming_lanes, lane_width)])


def build_curve(
    radius: float = 80.0, lanes: int = 2, oncoming_lanes: int = 1, lane_width: float = 3.5, length: float = 250.0
) -> RoadMap:
    """A road that starts along +x at the origin and bends with a constant ``radius`` (positive turns left)."""
    s = np.linspace(0.0, length + RUN_OUT, max(2, int(np.ceil((length + RUN_OUT) / SAMPLE_SPACING)) + 1))
    theta = s / radius
    arc = np.stack([radius * np.sin(theta), radius * (1.0 - np.cos(theta))], axis=1)
    before = np.arange(-RUN_OUT, 0.0, SAMPLE_SPACING)
    lead_in = np.stack([before, np.zeros_like(before)], axis=1)  # straight run-in before the bend at station 0
    return RoadMap("curve", [_road(0, np.concatenate([lead_in, arc]), lanes, oncoming_lanes, lane_width)])


def build_intersection(
    lanes: int = 1, oncoming_lanes: int = 1, lane_width: float = 3.5, length: float = 200.0, crosswalks: bool = True
) -> RoadMap:
    """A 4-way crossing: road 0 along +x, road 1 along +y through the point (length / 2, 0)."""
    main = _road(0, _line((0.0, 0.0), 0.0, length), lanes, oncoming_lanes, lane_width)
    cross = _road(1, _line((length / 2, -length / 2), np.pi / 2, length), lanes, oncoming_lanes, lane_width)
    roads = [main, cross]
    return RoadMap("intersection", roads, rounded_corners(roads), junction_crosswalks(roads) if crosswalks else [])


def build_t_junction(
    lanes: int = 1, oncoming_lanes: int = 1, lane_width: float = 3.5, length: float = 200.0, crosswalks: bool = True
) -> RoadMap:
    """A T: road 0 along +x; road 1 (the stem) comes down from +y and ends on road 0's centre line at x = length / 2.

    The stem's forward lanes drive towards the junction, so an ego on it (lane >= 0) can turn left or right onto road 0.
    """
    main = _road(0, _line((0.0, 0.0), 0.0, length), lanes, oncoming_lanes, lane_width)
    stem_length = length / 2
    s = np.arange(0.0, stem_length + RUN_OUT + 1e-9, SAMPLE_SPACING)[::-1]
    stem_line = np.stack([np.full_like(s, length / 2), s], axis=1)  # from far up +y down to y = 0
    # no run-out past the junction: the stem ends where it meets road 0
    stem = Road(1, stem_line, lanes, oncoming_lanes, lane_width, start=-RUN_OUT, end_run_out=0.0)
    roads = [main, stem]
    return RoadMap("t_junction", roads, rounded_corners(roads), junction_crosswalks(roads) if crosswalks else [])


def junction_crosswalks(roads: list[Road]) -> list[Crosswalk]:
    """A crossing on each arm of each junction: CROSSWALK_SETBACK outside the box the crossing roads share.

    An arm the road does not have (past a T's stem end) gets none.
    """
    found = []
    for road in roads:
        for other in roads:
            if other is road:
                continue
            box = road.polygon().intersection(other.polygon())
            if box.is_empty:
                continue
            stations, _ = road.project(np.asarray(box.exterior.coords))
            lo, hi = float(stations.min()), float(stations.max())
            for a, b in (
                (lo - CROSSWALK_SETBACK - CROSSWALK_WIDTH, lo - CROSSWALK_SETBACK),
                (hi + CROSSWALK_SETBACK, hi + CROSSWALK_SETBACK + CROSSWALK_WIDTH),
            ):
                if 0.0 <= a and b <= road.length:
                    found.append(Crosswalk(road, a, b))
    return found


def rounded_corners(roads: list[Road], radius: float = CORNER_RADIUS) -> Polygon | None:
    """Where roads cross, the area between their edges and a curb arc of ``radius``, so turns fit (None: none)."""
    if len(roads) < 2:
        return None
    union = unary_union([r.polygon() for r in roads])
    # Closing (grow, then shrink) fills each concave corner of the union with an arc of about ``radius``.
    closed = union.buffer(radius, join_style="round").buffer(-radius, join_style="round")
    fillets = closed.difference(union)
    return None if fillets.is_empty else shapely.make_valid(fillets)


MAP_BUILDERS = {
    "straight": build_straight,
    "curve": build_curve,
    "intersection": build_intersection,
    "t_junction": build_t_junction,
}


def road_following(
    index: int, path: np.ndarray, lane_width: float = 3.5, oncoming_lanes: int = 1, min_length: float = 1.0
) -> Road:
    """A one-lane road whose lane 0 centreline is ``path`` (N, 2), run out straight by RUN_OUT at both ends.

    Station 0 is the path's first point. A path shorter than ``min_length`` (a parked car's) is extended along
    ``path``'s direction, or +x when it has none.
    """
    pts = np.asarray(path, dtype=np.float64).reshape(-1, 2)
    keep = np.concatenate([[True], segment_lengths(pts) > 1e-3])
    pts = pts[keep]
    if len(pts) < 2:
        pts = np.vstack([pts[:1], pts[:1] + (min_length, 0.0)])
    total = float(segment_lengths(pts).sum())
    if total < min_length:
        direction = (pts[-1] - pts[0]) / max(total, 1e-9)
        pts = np.vstack([pts[:1], pts[:1] + direction * min_length])
    stations = arc_length(pts)
    samples = np.arange(0.0, stations[-1] + 1e-9, SAMPLE_SPACING)
    centre = points_at(pts, samples, stations)
    start_dir = _unit(centre[1] - centre[0])
    end_dir = _unit(centre[-1] - centre[-2])
    before = centre[0] - start_dir * np.arange(RUN_OUT, 0.0, -SAMPLE_SPACING)[:, None]
    after = centre[-1] + end_dir * np.arange(SAMPLE_SPACING, RUN_OUT + 1e-9, SAMPLE_SPACING)[:, None]
    lane_centre = np.concatenate([before, centre, after])
    tangent = np.gradient(lane_centre, axis=0)
    normal = (
        np.stack([-tangent[:, 1], tangent[:, 0]], axis=1)
        / np.maximum(np.hypot(tangent[:, 0], tangent[:, 1]), 1e-9)[:, None]
    )
    # lane 0's centre lies half a lane right of the reference line
    return Road(index, lane_centre + normal * (lane_width / 2), 1, oncoming_lanes, lane_width, start=-RUN_OUT)


def _unit(v: np.ndarray) -> np.ndarray:
    n = float(np.hypot(*v))
    return v / n if n > 1e-9 else np.array([1.0, 0.0])


@numba.njit(cache=True)
def _project(points: np.ndarray, reference: np.ndarray, stations: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Station and lateral offset of each point at its nearest point on the polyline ``reference``.

    The first and last segments extend past the ends, so points beyond the road still project. A loop rather than
    numpy: it runs for every actor and the ego at every step, where numpy's temporaries cost twenty times more.
    """
    count, segments = points.shape[0], reference.shape[0] - 1
    station, lateral = np.empty(count), np.empty(count)
    for n in range(count):
        px, py = points[n, 0], points[n, 1]
        best, best_k, best_t, best_cx, best_cy = np.inf, 0, 0.0, 0.0, 0.0
        for k in range(segments):
            ax, ay = reference[k, 0], reference[k, 1]
            abx, aby = reference[k + 1, 0] - ax, reference[k + 1, 1] - ay
            t = ((px - ax) * abx + (py - ay) * aby) / max(abx * abx + aby * aby, 1e-12)
            if k > 0:
                t = max(t, 0.0)
            if k < segments - 1:
                t = min(t, 1.0)
            cx, cy = ax + t * abx, ay + t * aby
            dist2 = (px - cx) * (px - cx) + (py - cy) * (py - cy)
            if dist2 < best:
                best, best_k, best_t, best_cx, best_cy = dist2, k, t, cx, cy
        abx = reference[best_k + 1, 0] - reference[best_k, 0]
        aby = reference[best_k + 1, 1] - reference[best_k, 1]
        seg_len = np.sqrt(max(abx * abx + aby * aby, 1e-12))
        station[n] = stations[best_k] + best_t * seg_len
        lateral[n] = (abx * (py - best_cy) - aby * (px - best_cx)) / seg_len
    return station, lateral


@numba.njit(cache=True)
def _interp_rows(x: float, xp: np.ndarray, table: np.ndarray) -> np.ndarray:
    """``np.interp(x, xp, row)`` for every row of ``table`` (rows, N) with one search, to the same bits as numpy."""
    out = np.empty(table.shape[0])
    n = xp.shape[0]
    if x < xp[0] or x >= xp[n - 1]:  # numpy holds the end values outside the samples
        end = 0 if x < xp[0] else n - 1
        for r in range(table.shape[0]):
            out[r] = table[r, end]
        return out
    lo, hi = 0, n - 1
    while hi - lo > 1:
        mid = (lo + hi) >> 1
        if xp[mid] <= x:
            lo = mid
        else:
            hi = mid
    for r in range(table.shape[0]):
        if x == xp[lo]:
            out[r] = table[r, lo]
            continue
        slope = (table[r, lo + 1] - table[r, lo]) / (xp[lo + 1] - xp[lo])
        out[r] = slope * (x - xp[lo]) + table[r, lo]
    return out
