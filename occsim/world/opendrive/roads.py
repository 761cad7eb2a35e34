"""An OpenDRIVE network as an OccSim ``RoadMap``: lanes as centreline roads, the drivable area exactly, routes.

OccSim's procedural roads have uniform lanes; OpenDRIVE lanes change width, split and merge. So each chain of
drivable lanes that follow one another without a choice (a *strand*) becomes a one-lane OccSim road along its
centre, the drivable area is the union of the drivable lanes' own outlines, and a route is a strand of its own
that takes the turn asked for at each junction.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import shapely

from occsim.geometry import arc_length
from occsim.world.opendrive.network import LaneKey, RoadNetwork
from occsim.world.roadmap import Road, RoadMap

MIN_LANE_WIDTH = 0.5  # [m] a lane narrower than this everywhere is a taper, not a lane to drive
ROUTE_LIMIT = 3000.0  # [m] a route ends here even if the road goes on (a ring road never ends)


@dataclass(frozen=True)
class Strand:
    """Lanes driven one after another with no choice between them."""

    keys: tuple[LaneKey, ...]
    points: np.ndarray  # (N, 2) centreline in the driving direction, world frame [m]
    width: float  # [m] median lane width along it


def lane_road(index: int, centre: np.ndarray, width: float) -> Road:
    """A one-lane OccSim road whose lane centre is ``centre`` (N, 2); it ends where the polyline does."""
    centre = dedup(centre)
    if len(centre) < 2:
        raise ValueError("a lane needs two distinct points")
    tangent = np.gradient(centre, axis=0)
    normal = np.stack([-tangent[:, 1], tangent[:, 0]], axis=1)
    normal /= np.maximum(np.hypot(normal[:, 0], normal[:, 1]), 1e-9)[:, None]
    return Road(index, centre + normal * (width / 2), 1, 0, width, start=0.0, end_run_out=0.0, extrapolate=False)


def dedup(points: np.ndarray, tolerance: float = 1e-3) -> np.ndarray:
    """``points`` without consecutive repeats (where lane pieces join)."""
    points = np.asarray(points, dtype=np.float64).reshape(-1, 2)
    if len(points) < 2:
        return points
    keep = np.concatenate([[True], np.hypot(*np.diff(points, axis=0).T) > tolerance])
    return points[keep]


def lane_width(network: RoadNetwork, key: LaneKey) -> np.ndarray:
    """The lane's width [m] at its road's samples within its section."""
    road = network.roads[key.road]
    lo, hi = road.section_range(key.section)
    s = np.concatenate([[lo], road.s[(road.s > lo) & (road.s < hi)], [hi]])
    inner, outer = road.borders(key.section, s)[key.lane]
    return np.abs(outer - inner)


def drivable_lanes(network: RoadNetwork) -> list[LaneKey]:
    """Every drivable lane of every section that is wide enough somewhere to drive."""
    keys = []
    for road in network.roads.values():
        for index, section in enumerate(road.record.sections):
            lo, hi = road.section_range(index)
            if hi - lo < 1e-3:
                continue
            for record in section.lanes:
                key = LaneKey(road.id, index, record.id)
                if network.is_drivable(key) and lane_width(network, key).max() >= MIN_LANE_WIDTH:
                    keys.append(key)
    return keys


def strands(network: RoadNetwork) -> list[Strand]:
    """The network's drivable lanes chained into strands.

    A strand ends where a lane has other than one way on, or the lane after it can also be reached another way.
    """
    lanes = drivable_lanes(network)
    known = set(lanes)
    exits = {k: [e for e in network.exits(k) if e in known] for k in lanes}
    entries: dict[LaneKey, int] = dict.fromkeys(lanes, 0)
    for targets in exits.values():
        for target in targets:
            entries[target] += 1

    def continues(key: LaneKey) -> LaneKey | None:
        after = exits[key]
        return after[0] if len(after) == 1 and entries[after[0]] == 1 else None

    followed = {c for k in lanes if (c := continues(k)) is not None}
    found, used = [], set()
    starts = [k for k in lanes if k not in followed] + lanes  # then whatever is left: closed rings
    for start in starts:
        if start in used:
            continue
        chain = [start]
        used.add(start)
        while (after := continues(chain[-1])) is not None and after not in used:
            chain.append(after)
            used.add(after)
        points = dedup(np.concatenate([network.centreline(k) for k in chain]))
        if len(points) >= 2:
            width = float(np.median(np.concatenate([lane_width(network, k) for k in chain])))
            found.append(Strand(tuple(chain), points, width))
    return found


def drivable_area(network: RoadNetwork) -> shapely.Geometry:
    """The union of every drivable lane's outline (gaps under a centimetre where pieces meet closed)."""
    pieces = []
    for key in drivable_lanes(network):
        road = network.roads[key.road]
        lo, hi = road.section_range(key.section)
        s = np.concatenate([[lo], road.s[(road.s > lo) & (road.s < hi)], [hi]])
        inner, outer = road.borders(key.section, s)[key.lane]
        ix, iy, _ = road.to_world(s, inner)
        ox, oy, _ = road.to_world(s, outer)
        ring = np.concatenate([np.stack([ix, iy], 1), np.stack([ox, oy], 1)[::-1]])
        pieces.append(shapely.make_valid(shapely.Polygon(ring)))
    area = shapely.union_all(pieces)
    return shapely.make_valid(area.buffer(0.01, join_style="mitre").buffer(-0.01, join_style="mitre"))


def road_map(network: RoadNetwork) -> RoadMap:
    """The OccSim road map of ``network``: one road per strand, the drivable area exactly."""
    roads = [lane_road(i, strand.points, strand.width) for i, strand in enumerate(strands(network))]
    area = drivable_area(network)
    shapely.prepare(area)
    return RoadMap("opendrive", roads, area=area)


def route_keys(network: RoadNetwork, start: LaneKey, turns: list[str] | tuple[str, ...]) -> list[LaneKey]:
    """The lanes a route takes from ``start``.

    At each choice of ways on, the next of ``turns`` (straight beyond them), until a dead end, a lane already
    taken, or ROUTE_LIMIT metres.

    Raises:
        ValueError: a turn is asked for where no way on turns so, or more turns than choices met.
    """
    keys, taken, length = [start], 0, 0.0
    while length < ROUTE_LIMIT:
        options = network.exits(keys[-1])
        if not options:
            break
        if len(options) > 1:
            turn = turns[taken] if taken < len(turns) else "straight"
            chosen = network.choose_exit(keys[-1], turn)
            if chosen is None:
                if turn == "straight" and taken >= len(turns):
                    break  # no straight way on at a junction beyond the route's turns: the route ends here
                raise ValueError(
                    f"route turn {taken} ({turn}): no way {turn} from road {keys[-1].road} lane {keys[-1].lane}"
                )
            taken += 1
        else:
            chosen = options[0]
        if chosen in keys:
            break
        keys.append(chosen)
        lo, hi = network.roads[chosen.road].section_range(chosen.section)
        length += hi - lo
    missing = [t for t in turns[taken:] if t != "straight"]
    if missing:
        raise ValueError(f"the route has {len(turns)} turns but meets {taken} junction(s) with a choice on its way")
    return keys


def route_polyline(network: RoadNetwork, keys: list[LaneKey], start_s: float) -> np.ndarray:
    """The centreline (N, 2) of the lanes ``keys`` from station ``start_s`` of the first, in driving direction."""
    first = network.centreline(keys[0], s_from=start_s)
    rest = [network.centreline(k) for k in keys[1:]]
    points = dedup(np.concatenate([first, *rest]))
    if arc_length(points)[-1] > ROUTE_LIMIT:
        points = points[arc_length(points) <= ROUTE_LIMIT]
    return points
