"""An OpenDRIVE road network evaluated: where every lane lies at any station, and which lane follows which.

Road coordinates are OpenDRIVE's: station ``s`` along a road's reference line and ``t`` to its left. A lane is
addressed by ``LaneKey`` (road, lane section, lane id); it is driven along +s when it lies right of the reference
line in right-hand traffic (or left of it in left-hand traffic), along -s otherwise.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import numpy as np
import shapely

from occsim.world.opendrive.model import LaneRecord, LaneSection, OpenDriveFile, Poly3, RoadRecord, load_opendrive
from occsim.world.opendrive.planview import evaluate_reference, sample_stations
from occsim.world.roadmap import _project

DRIVABLE_TYPES = frozenset(
    {"driving", "entry", "exit", "onramp", "offramp", "connectingramp", "bidirectional", "slipLane".lower(), "stop"}
)
TURN_THRESHOLD = 0.5  # [rad] a heading change through a junction beyond which a connection turns


@dataclass(frozen=True)
class LaneKey:
    """One lane of one lane section."""

    road: str
    section: int
    lane: int


@dataclass(frozen=True)
class RoadPoint:
    """A world point in road coordinates."""

    road: str
    s: float  # [m]
    t: float  # [m] left of the reference line
    lane: int | None  # the lane holding the point (None: outside every lane)
    distance: float  # [m] from the point to the road's lanes (0 inside)


def piecewise(records: tuple[Poly3, ...], s: np.ndarray) -> np.ndarray:
    """The polynomial record in force at each station (the first one before its start), evaluated there."""
    s = np.asarray(s, dtype=np.float64)
    if not records:
        return np.zeros_like(s)
    starts = np.array([r.s for r in records])
    which = np.clip(np.searchsorted(starts, s, side="right") - 1, 0, len(records) - 1)
    out = np.empty_like(s)
    for i in np.unique(which):
        mask = which == i
        out[mask] = records[i](s[mask])
    return out


class NetworkRoad:
    """One road: its reference line, sampled and exact, and its lanes' borders."""

    def __init__(self, record: RoadRecord):
        self.record = record
        self.id = record.id
        self.length = record.length
        self.section_starts = np.array([sec.s for sec in record.sections])
        extra = [sec.s for sec in record.sections] + [p.s for p in record.lane_offsets]
        extra += [w.s for sec in record.sections for lane in sec.lanes for w in (*lane.widths, *lane.borders)]
        widest = max(self._widest(sec) for sec in record.sections)
        self.s = sample_stations(list(record.geometries), record.length, widest, [e for e in extra if e < self.length])
        self.x, self.y, self.hdg = evaluate_reference(list(record.geometries), self.s)
        self.xy = np.ascontiguousarray(np.stack([self.x, self.y], axis=1))

    @staticmethod
    def _widest(section: LaneSection) -> float:
        """A bound [m] on how far the section's lanes reach from the reference line (widths at their starts)."""
        left = sum(abs(w.a) for lane in section.lanes if lane.id > 0 for w in lane.widths[:1])
        right = sum(abs(w.a) for lane in section.lanes if lane.id < 0 for w in lane.widths[:1])
        return max(left, right, 1.0) + 2.0

    @property
    def in_junction(self) -> bool:
        """Whether this is a junction's connecting road."""
        return self.record.junction != "-1"

    def direction(self, lane: int) -> int:
        """+1 where the lane is driven along +s, -1 along -s."""
        forward = lane < 0 if self.record.rule != "LHT" else lane > 0
        return 1 if forward else -1

    def reference(self, s) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Exact x, y [m] and heading [rad] of the reference line at ``s`` (past the ends: continued straight)."""
        s = np.asarray(s, dtype=np.float64)
        inside = np.clip(s, 0.0, self.length)
        x, y, h = evaluate_reference(list(self.record.geometries), inside)
        over = s - inside
        return x + over * np.cos(h), y + over * np.sin(h), h

    def curvature(self, s: float) -> float:
        """Signed curvature [1/m] of the reference line at station ``s``."""
        geometries = self.record.geometries
        starts = [g.s for g in geometries]
        i = int(np.clip(np.searchsorted(starts, s, side="right") - 1, 0, len(geometries) - 1))
        return float(geometries[i].curvature(np.array([s - geometries[i].s]))[0])

    def to_world(self, s, t) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """World x, y [m] of road point (s, t) and the reference heading [rad] there."""
        x, y, h = self.reference(s)
        t = np.asarray(t, dtype=np.float64)
        return x - t * np.sin(h), y + t * np.cos(h), h

    def section_index(self, s: float) -> int:
        """The lane section in force at station ``s``."""
        return int(np.clip(np.searchsorted(self.section_starts, s, side="right") - 1, 0, len(self.section_starts) - 1))

    def section_range(self, index: int) -> tuple[float, float]:
        """Stations [m] where section ``index`` starts and ends."""
        end = self.section_starts[index + 1] if index + 1 < len(self.section_starts) else self.length
        return float(self.section_starts[index]), float(end)

    def lane_record(self, section: int, lane: int) -> LaneRecord | None:
        """The record of ``lane`` in ``section`` (None: no such lane)."""
        return next((r for r in self.record.sections[section].lanes if r.id == lane), None)

    def offset(self, s) -> np.ndarray:
        """The lane offset [m]: where the centre lane lies left of the reference line."""
        return piecewise(self.record.lane_offsets, s)

    def borders(self, section: int, s) -> dict[int, tuple[np.ndarray, np.ndarray]]:
        """Each lane's (inner, outer) border t [m] at stations ``s`` of ``section``; lane 0: the centre lane."""
        s = np.asarray(s, dtype=np.float64)
        centre = self.offset(s)
        out: dict[int, tuple[np.ndarray, np.ndarray]] = {0: (centre, centre)}
        lanes = self.record.sections[section].lanes
        for side in (1, -1):
            inner = centre
            for record in sorted((r for r in lanes if r.id * side > 0), key=lambda r: abs(r.id)):
                if record.widths:
                    outer = inner + side * np.maximum(piecewise(record.widths, s), 0.0)
                else:
                    outer = centre + side * piecewise(record.borders, s)
                out[record.id] = (inner, outer)
                inner = outer
        return out

    def lane_t(self, lane: int, s) -> tuple[np.ndarray, np.ndarray]:
        """(inner, outer) border t [m] of ``lane`` at stations ``s`` (each in the section holding it)."""
        s = np.atleast_1d(np.asarray(s, dtype=np.float64))
        inner, outer = np.full_like(s, np.nan), np.full_like(s, np.nan)
        sections = np.clip(np.searchsorted(self.section_starts, s, side="right") - 1, 0, len(self.section_starts) - 1)
        for index in np.unique(sections):
            mask = sections == index
            found = self.borders(int(index), s[mask]).get(lane)
            if found is not None:
                inner[mask], outer[mask] = found
        return inner, outer

    def lane_centre_t(self, lane: int, s) -> np.ndarray:
        """T [m] of the centre of ``lane`` at stations ``s`` (NaN where the section has no such lane)."""
        inner, outer = self.lane_t(lane, s)
        return 0.5 * (inner + outer)

    def lane_at(self, s: float, t: float) -> int | None:
        """The lane whose borders hold t at station s (None: outside the road)."""
        borders = self.borders(self.section_index(s), np.array([s]))
        for lane, (inner, outer) in borders.items():
            lo, hi = sorted((float(inner[0]), float(outer[0])))
            if lane != 0 and lo <= t <= hi and hi - lo > 1e-6:
                return lane
        return None

    def extent(self, section: int, s, real: bool = False) -> tuple[np.ndarray, np.ndarray]:
        """The outermost right and left border t [m] of ``section`` at stations ``s``.

        ``real``: of the lanes whose type is not ``none`` (the road's surface, for off-road).
        """
        borders = self.borders(section, s)
        if real:
            kept = {r.id for r in self.record.sections[section].lanes if r.type.lower() != "none"}
            borders = {k: v for k, v in borders.items() if k == 0 or k in kept}
        right = np.minimum.reduce([b[1] for b in borders.values()])
        left = np.maximum.reduce([b[1] for b in borders.values()])
        return right, left

    @cached_property
    def outline(self) -> shapely.Polygon:
        """The road's whole width (every lane) as a polygon."""
        right, left = np.empty_like(self.s), np.empty_like(self.s)
        for index in range(len(self.section_starts)):
            lo, hi = self.section_range(index)
            mask = (self.s >= lo) & (self.s <= hi)
            right[mask], left[mask] = self.extent(index, self.s[mask])
        rx, ry, _ = self.to_world(self.s, right - 0.05)
        lx, ly, _ = self.to_world(self.s, left + 0.05)
        ring = np.concatenate([np.stack([lx, ly], 1), np.stack([rx, ry], 1)[::-1]])
        return shapely.make_valid(shapely.Polygon(ring)).buffer(0)

    def project(self, x: float, y: float) -> tuple[float, float]:
        """Station and t of a world point against the sampled reference line (ends continued straight)."""
        s, t = _project(np.array([[x, y]], dtype=np.float64), self.xy, self.s)
        return float(s[0]), float(t[0])


class RoadNetwork:
    """Every road and junction of an OpenDRIVE file, with lane-level topology."""

    def __init__(self, source: OpenDriveFile):
        self.path = source.path
        self.roads = {rid: NetworkRoad(record) for rid, record in source.roads.items()}
        self.junctions = source.junctions
        self._tree = shapely.STRtree([road.outline for road in self.roads.values()])
        self._tree_ids = list(self.roads)

    @classmethod
    def load(cls, path: str | Path) -> RoadNetwork:
        """Parse and evaluate the OpenDRIVE file at ``path``."""
        return cls(load_opendrive(path))

    def road(self, road_id: str | int) -> NetworkRoad:
        """The road ``road_id``; ValueError naming some ids that exist."""
        key = str(road_id)
        if key not in self.roads:
            ids = sorted(self.roads, key=lambda r: (len(r), r))
            shown = ", ".join(ids[:12]) + (" ..." if len(ids) > 12 else "")
            raise ValueError(f"road '{key}' is not in {Path(self.path).name}; roads: {shown}")
        return self.roads[key]

    def lane_key(self, road_id: str | int, lane: int, s: float) -> LaneKey:
        """The LaneKey of ``lane`` at station ``s``; ValueError if that section has no such lane."""
        road = self.road(road_id)
        section = road.section_index(s)
        if lane == 0 or road.lane_record(section, lane) is None:
            ids = sorted(r.id for r in road.record.sections[section].lanes)
            raise ValueError(f"road '{road.id}' has no lane {lane} at s={s:g}; lanes there: {ids}")
        return LaneKey(road.id, section, lane)

    def lane_type(self, key: LaneKey) -> str:
        """The lane's type (driving, sidewalk, ...)."""
        record = self.roads[key.road].lane_record(key.section, key.lane)
        return record.type if record else "none"

    def is_drivable(self, key: LaneKey) -> bool:
        """Whether cars drive on the lane."""
        return self.lane_type(key).lower() in DRIVABLE_TYPES

    def locate(self, x: float, y: float, heading: float | None = None, prefer: str | None = None) -> RoadPoint | None:
        """The road point of a world point: the road whose lanes hold it (None: no road within 50 m).

        Where roads overlap (a junction), the one whose lane runs closest to ``heading`` wins, then ``prefer``.
        """
        point = shapely.Point(x, y)
        candidates = [self._tree_ids[i] for i in self._tree.query(point.buffer(50.0))]
        best, best_score = None, np.inf
        for road_id in candidates:
            road = self.roads[road_id]
            s, t = road.project(x, y)
            s_in = min(max(s, 0.0), road.length)
            right, left = road.extent(road.section_index(s_in), np.array([s_in]))
            outside = max(float(right[0]) - t, t - float(left[0]), 0.0) + abs(s - s_in)
            lane = road.lane_at(s_in, t) if outside == 0.0 else None
            score = outside * 10.0
            if heading is not None and lane is not None:
                h = float(road.reference(s_in)[2]) + (0.0 if road.direction(lane) > 0 else np.pi)
                score += abs(np.angle(np.exp(1j * (heading - h))))
            if road_id == prefer:
                score -= 0.01
            if score < best_score:
                best, best_score = RoadPoint(road_id, s_in, t, lane, outside), score
        return best if best is not None and best.distance < 50.0 else None

    # ---- topology ------------------------------------------------------------------------------------------

    def exits(self, key: LaneKey) -> list[LaneKey]:
        """The lanes a vehicle reaches leaving ``key`` at its far end in its driving direction."""
        return self.neighbours(key, self.roads[key.road].direction(key.lane))

    def neighbours(self, key: LaneKey, along: int) -> list[LaneKey]:
        """The lanes that continue ``key`` past its end in direction ``along`` (+1: +s, -1: -s).

        Within a road, the next lane section's lane the link names (or the same id); past the road's end, the
        linked road's lane (entered so that travel goes on away from the contact point) or, into a junction,
        every connecting lane the junction's lane links give.
        """
        road = self.roads[key.road]
        record = road.lane_record(key.section, key.lane)
        if record is None:
            return []
        link_id = record.successor if along > 0 else record.predecessor
        next_section = key.section + along
        if 0 <= next_section < len(road.section_starts):
            lane = link_id if link_id is not None else key.lane
            return [LaneKey(road.id, next_section, lane)] if road.lane_record(next_section, lane) else []
        link = road.record.successor if along > 0 else road.record.predecessor
        end = "end" if along > 0 else "start"
        if link is None:
            return []
        if link.element_type == "road":
            if link_id is None:
                return self._same_id(link.element_id, link.contact_point, key.lane, end)
            return self._enter(link.element_id, link.contact_point, link_id)
        junction = self.junctions.get(link.element_id)
        if junction is None:
            return []
        found = []
        for connection in junction.connections:
            if connection.incoming != road.id or connection.connecting not in self.roads:
                continue
            if not self._links_back(connection.connecting, connection.contact_point, road.id):
                continue
            for lane in [to for frm, to in connection.lane_links if frm == key.lane]:
                found += self._enter(connection.connecting, connection.contact_point, lane, check_direction=False)
        return found

    def _links_back(self, road_id: str, contact: str, other: str) -> bool:
        """Whether ``road_id`` at its ``contact`` end links to road ``other`` (or names no link there)."""
        record = self.roads[road_id].record
        link = record.predecessor if contact == "start" else record.successor
        return link is None or link.element_id == other or link.element_type == "junction"

    def _same_id(self, road_id: str, contact: str | None, lane: int, end: str) -> list[LaneKey]:
        """Entering a linked road without a written lane link: the same lane id, negated if the roads meet head on."""
        if road_id not in self.roads:
            return []
        flip = (contact == "start") == (end == "start")
        return self._enter(road_id, contact, -lane if flip else lane)

    def _enter(self, road_id: str, contact: str | None, lane: int, check_direction: bool = False) -> list[LaneKey]:
        """Lane ``lane`` of ``road_id`` entered at its ``contact`` end (``check_direction``: if driven away from it)."""
        road = self.roads.get(road_id)
        if road is None or lane == 0:
            return []
        section = 0 if contact != "end" else len(road.section_starts) - 1
        if road.lane_record(section, lane) is None:
            return []
        away = road.direction(lane) > 0 if contact != "end" else road.direction(lane) < 0
        return [LaneKey(road_id, section, lane)] if away or not check_direction else []

    def entry_contact(self, came_from: LaneKey, along: int, key: LaneKey) -> str:
        """Where ``key`` (a neighbour of ``came_from`` in direction ``along``) is entered: start or end."""
        if key.road == came_from.road:
            return "start" if along > 0 else "end"
        road = self.roads[came_from.road]
        link = road.record.successor if along > 0 else road.record.predecessor
        if link is not None and link.element_type == "road":
            return link.contact_point or "start"
        junction = self.junctions.get(link.element_id) if link is not None else None
        for connection in junction.connections if junction else ():
            if connection.incoming == road.id and connection.connecting == key.road:
                return connection.contact_point
        return "start"

    def lane_span(self, key: LaneKey) -> tuple[float, float]:
        """Stations where the lane starts and ends, in its driving direction (start > end for -s lanes)."""
        lo, hi = self.roads[key.road].section_range(key.section)
        return (lo, hi) if self.roads[key.road].direction(key.lane) > 0 else (hi, lo)

    def centreline(self, key: LaneKey, s_from: float | None = None, s_to: float | None = None) -> np.ndarray:
        """World polyline (N, 2) of the lane's centre in its driving direction between two of its stations."""
        road = self.roads[key.road]
        start, end = self.lane_span(key)
        a = start if s_from is None else s_from
        b = end if s_to is None else s_to
        lo, hi = sorted((a, b))
        inside = road.s[(road.s > lo) & (road.s < hi)]
        s = np.concatenate([[lo], inside, [hi]])
        t = self.roads[key.road].borders(key.section, s)[key.lane]
        x, y, _ = road.to_world(s, 0.5 * (t[0] + t[1]))
        points = np.stack([x, y], axis=1)
        return points if a <= b else points[::-1]

    def heading_change(self, keys: list[LaneKey]) -> float:
        """Heading change [rad, left positive] from the start of the first lane to the end of the last."""
        first, last = self.centreline(keys[0]), self.centreline(keys[-1])
        a, b = first[min(1, len(first) - 1)] - first[0], last[-1] - last[max(len(last) - 2, 0)]
        return float(np.angle(np.exp(1j * (np.arctan2(b[1], b[0]) - np.arctan2(a[1], a[0])))))

    def through(self, key: LaneKey) -> list[LaneKey]:
        """``key`` and the lanes after it while each has exactly one exit (a junction's connecting lanes)."""
        chain = [key]
        while len(chain) < 64:
            following = self.exits(chain[-1])
            if len(following) != 1 or following[0] in chain:
                break
            if not self.roads[following[0].road].in_junction:
                break
            chain.append(following[0])
        return chain

    def choose_exit(self, key: LaneKey, turn: str) -> LaneKey | None:
        """Of the lanes leaving ``key``, the one a ``turn`` (straight, left, right) takes; None if there is none.

        A connection's turn is its heading change through the junction: beyond TURN_THRESHOLD left or right, else
        straight; of several that fit, the straightest for ``straight`` and the sharpest otherwise.
        """
        options = self.exits(key)
        if not options:
            return None
        changes = [self.heading_change(self.through(o)) for o in options]
        if len(options) == 1 and turn == "straight":
            return options[0]
        if turn == "left":
            fits = [(-c, o) for c, o in zip(changes, options) if c > TURN_THRESHOLD]
        elif turn == "right":
            fits = [(c, o) for c, o in zip(changes, options) if c < -TURN_THRESHOLD]
        else:
            fits = [(abs(c), o) for c, o in zip(changes, options) if abs(c) <= TURN_THRESHOLD]
        return min(fits, key=lambda f: f[0])[1] if fits else None
