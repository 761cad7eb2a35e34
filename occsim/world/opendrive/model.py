"""The records of an OpenDRIVE file (roads, plan view, lane sections and lanes, links, junctions, objects), parsed.

Everything is read into frozen dataclasses; evaluation (where a lane lies, what follows it) is ``network``'s.
Unsupported content is an ``XmlError`` naming the file, line and element; elevation and superelevation are read
only to say, once, that OccSim lays the roads flat.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass
from pathlib import Path

from lxml import etree

from occsim.world.opendrive.planview import Geometry
from occsim.world.xmlsafe import XmlError, local_name, read_xml

GEOMETRY_KINDS = ("line", "arc", "spiral", "poly3", "paramPoly3")
MAX_MAGNITUDE = 1e7  # [m] any number of the file: georeferenced maps place roads some 10^6 m from their origin
MAX_LENGTH = 1e5  # [m] a road or a geometry; the world samples roads every few decimetres
GEOMETRY_GAP = 1e-3  # [m] the most a road's first geometry may start after s = 0 (rounding in exporters)
MIN_REFERENCE = 1e-2  # [m] the shortest reference line a road's geometries may make together


class OpenDriveWarning(UserWarning):
    """Something in an OpenDRIVE file that OccSim reads differently from the file (roads laid flat)."""


@dataclass(frozen=True)
class Poly3:
    """``a + b ds + c ds^2 + d ds^3`` from station ``s`` on (a width, an offset, a border)."""

    s: float
    a: float
    b: float
    c: float
    d: float

    def __call__(self, s):
        """The polynomial at station(s) ``s``."""
        ds = s - self.s
        return self.a + ds * (self.b + ds * (self.c + ds * self.d))


@dataclass(frozen=True)
class RoadMark:
    """A painted line on a lane's outer border from ``s`` on (absolute station)."""

    s: float
    type: str  # solid, broken, solid solid, solid broken, broken solid, broken broken, botts dots, curb, none, ...
    color: str  # standard (white), white, yellow, ...
    width: float  # [m]


@dataclass(frozen=True)
class LaneRecord:
    """One lane of a lane section."""

    id: int  # > 0 left of the reference line, < 0 right, 0 the centre lane
    type: str  # driving, sidewalk, shoulder, border, median, parking, biking, ...
    widths: tuple[Poly3, ...]  # stations absolute (section start + sOffset)
    borders: tuple[Poly3, ...]  # alternative to widths: the outer border's t from the centre lane
    marks: tuple[RoadMark, ...]
    predecessor: int | None
    successor: int | None


@dataclass(frozen=True)
class LaneSection:
    """The lanes from station ``s`` to the next section (or the road's end)."""

    s: float
    lanes: tuple[LaneRecord, ...]  # every lane but the centre one, ids descending (left outermost first)
    centre_marks: tuple[RoadMark, ...]


@dataclass(frozen=True)
class Link:
    """A road's predecessor or successor: a road (entered at its start or end) or a junction."""

    element_type: str  # road | junction
    element_id: str
    contact_point: str | None  # start | end (roads only)


@dataclass(frozen=True)
class RoadObject:
    """A static object beside or on a road, at road coordinates (s, t)."""

    type: str  # streetLamp, pole, tree, vegetation, building, barrier, ...
    s: float
    t: float
    height: float  # [m]
    length: float  # [m] along its heading (0 if unknown)
    width: float  # [m]
    radius: float  # [m] (0 if not round)
    hdg: float  # [rad] relative to the road


@dataclass(frozen=True)
class RoadRecord:
    """One ``<road>``."""

    id: str
    name: str
    length: float  # [m]
    junction: str  # "-1" for a road outside junctions
    rule: str  # RHT | LHT
    geometries: tuple[Geometry, ...]
    lane_offsets: tuple[Poly3, ...]
    sections: tuple[LaneSection, ...]
    predecessor: Link | None
    successor: Link | None
    objects: tuple[RoadObject, ...]
    line: int | None
    raised: bool  # it has elevation or superelevation that OccSim flattens
    speed_limit: float | None = None  # [m/s] the first <type><speed max>, if the road gives one


@dataclass(frozen=True)
class Connection:
    """A junction connection: from ``incoming`` road into ``connecting`` road, entered at ``contact_point``.

    In a direct junction (OpenDRIVE 1.7) ``connecting`` is the linked road itself.
    """

    incoming: str
    connecting: str
    contact_point: str  # start | end of the connecting road
    lane_links: tuple[tuple[int, int], ...]  # (lane of the incoming road, lane of the connecting road)


@dataclass(frozen=True)
class JunctionRecord:
    """One ``<junction>``."""

    id: str
    connections: tuple[Connection, ...]


@dataclass(frozen=True)
class OpenDriveFile:
    """A parsed OpenDRIVE file."""

    path: str
    roads: dict[str, RoadRecord]
    junctions: dict[str, JunctionRecord]


def load_opendrive(path: str | Path) -> OpenDriveFile:
    """Parse the OpenDRIVE file at ``path``.

    Raises:
        XmlError: unreadable, not OpenDRIVE, or an element OccSim cannot read (file:line and the element named).
    """
    path = Path(path)
    root = read_xml(path)
    if local_name(root) != "OpenDRIVE":
        raise XmlError(path, root.sourceline, f"the root element is <{local_name(root)}>, not <OpenDRIVE>")
    reader = _Reader(str(path))
    roads: dict[str, RoadRecord] = {}
    junctions: dict[str, JunctionRecord] = {}
    for element in root:
        tag = local_name(element)
        if tag == "road":
            road = reader.road(element)
            if road.id in roads:
                raise XmlError(path, element.sourceline, f"road id '{road.id}' is given twice")
            roads[road.id] = road
        elif tag == "junction":
            junction = reader.junction(element)
            junctions[junction.id] = junction
    if not roads:
        raise XmlError(path, root.sourceline, "the file has no <road>")
    if reader.widthless:
        lines = ", ".join(reader.widthless[:8]) + (" ..." if len(reader.widthless) > 8 else "")
        warnings.warn(
            f"{path}: {len(reader.widthless)} lane(s) have neither <width> nor <border> (lines {lines}); "
            "read as zero wide",
            OpenDriveWarning,
            stacklevel=2,
        )
    raised = sorted((r for r in roads.values() if r.raised), key=lambda r: r.id)
    if raised:
        names = ", ".join(r.id for r in raised[:8]) + (" ..." if len(raised) > 8 else "")
        warnings.warn(
            f"{path}: {len(raised)} road(s) have elevation or superelevation ({names}); OccSim lays every road flat",
            OpenDriveWarning,
            stacklevel=2,
        )
    return OpenDriveFile(str(path), roads, junctions)


class _Reader:
    """Element readers that name the file and line in every error."""

    def __init__(self, source: str):
        self.source = source
        self.widthless: list[str] = []  # lines of lanes given without a width

    def error(self, element: etree._Element, message: str) -> XmlError:
        return XmlError(self.source, element.sourceline, f"<{local_name(element)}>: {message}")

    def number(self, element: etree._Element, name: str, default: float | None = None) -> float:
        raw = element.get(name)
        if raw is None:
            if default is None:
                raise self.error(element, f"missing attribute '{name}'")
            return default
        try:
            value = float(raw)
        except ValueError:
            raise self.error(element, f"attribute {name}={raw!r} is not a number") from None
        if not math.isfinite(value):
            raise self.error(element, f"attribute {name}={raw!r} is not finite")
        if abs(value) > MAX_MAGNITUDE:
            raise self.error(element, f"attribute {name}={raw!r} is beyond ±{MAX_MAGNITUDE:.0e}")
        return value

    def length(self, element: etree._Element, what: str) -> float:
        """A ``length`` attribute: positive and at most ``MAX_LENGTH``."""
        length = self.number(element, "length")
        if not 0 < length <= MAX_LENGTH:
            raise self.error(element, f"{what} has length {length}; it must be positive, at most {MAX_LENGTH:.0e} m")
        return length

    def poly(self, element: etree._Element, base: float = 0.0, key: str = "s") -> Poly3:
        s = base + self.number(element, key, 0.0)
        return Poly3(s, *(self.number(element, c, 0.0) for c in "abcd"))

    def road(self, element: etree._Element) -> RoadRecord:
        road_id = element.get("id")
        if road_id is None:
            raise self.error(element, "missing attribute 'id'")
        length = self.length(element, f"road '{road_id}'")
        geometries, offsets, sections, objects = [], [], [], []
        predecessor = successor = None
        raised = False
        speed_limit = None
        for child in element:
            tag = local_name(child)
            if tag == "type" and speed_limit is None:
                speed_limit = next((self.speed(v) for v in child if local_name(v) == "speed"), None)
            if tag == "planView":
                geometries = [self.geometry(g) for g in child if local_name(g) == "geometry"]
            elif tag == "lanes":
                offsets = [self.poly(o) for o in child if local_name(o) == "laneOffset"]
                sections = [self.section(sec) for sec in child if local_name(sec) == "laneSection"]
            elif tag == "link":
                for link in child:
                    if local_name(link) == "predecessor":
                        predecessor = self.link(link)
                    elif local_name(link) == "successor":
                        successor = self.link(link)
            elif tag == "objects":
                objects = [self.object(o) for o in child if local_name(o) == "object"]
            elif tag in ("elevationProfile", "lateralProfile"):
                raised = raised or any(
                    self.number(p, c, 0.0) != 0.0 for p in child for c in "abcd" if local_name(p) != "shape"
                )
        if not geometries:
            raise self.error(element, f"road '{road_id}' has no <planView> geometry")
        if not sections:
            raise self.error(element, f"road '{road_id}' has no <laneSection>")
        geometries.sort(key=lambda g: g.s)
        if geometries[0].s > GEOMETRY_GAP:  # the road's first metres would have no reference line
            raise self.error(element, f"road '{road_id}': its first <geometry> starts at s={geometries[0].s:g}, not 0")
        planned = sum(g.length for g in geometries)
        if planned < MIN_REFERENCE:  # nothing to sample a reference line, or its heading, from
            raise self.error(element, f"road '{road_id}': its <planView> geometries are {planned:g} m long in all")
        sections.sort(key=lambda sec: sec.s)
        return RoadRecord(
            id=road_id,
            name=element.get("name", ""),
            length=length,
            junction=element.get("junction", "-1"),
            rule=element.get("rule", "RHT").upper(),
            geometries=tuple(geometries),
            lane_offsets=tuple(sorted(offsets, key=lambda p: p.s)),
            sections=tuple(sections),
            predecessor=predecessor,
            successor=successor,
            objects=tuple(o for o in objects if o is not None),
            line=element.sourceline,
            raised=raised,
            speed_limit=speed_limit,
        )

    def speed(self, element: etree._Element) -> float | None:
        """A ``<speed max unit>`` in m/s (None for "no limit" or "undefined")."""
        raw = element.get("max", "")
        try:
            value = float(raw)
        except ValueError:
            return None  # "no limit", "undefined"
        factor = {"m/s": 1.0, "km/h": 1 / 3.6, "mph": 0.44704}.get(element.get("unit", "m/s"))
        if factor is None:
            raise self.error(element, f"unit {element.get('unit')!r} is not m/s, km/h or mph")
        return value * factor if value > 0 else None

    def geometry(self, element: etree._Element) -> Geometry:
        kinds = [c for c in element if local_name(c) in GEOMETRY_KINDS]
        if len(kinds) != 1:
            found = ", ".join(local_name(c) for c in element) or "nothing"
            raise self.error(element, f"needs exactly one of {', '.join(GEOMETRY_KINDS)}; found {found}")
        shape = kinds[0]
        kind = local_name(shape)
        if kind == "line":
            params: tuple[float, ...] = ()
        elif kind == "arc":
            params = (self.number(shape, "curvature"),)
        elif kind == "spiral":
            params = (self.number(shape, "curvStart"), self.number(shape, "curvEnd"))
        elif kind == "poly3":
            params = tuple(self.number(shape, c) for c in "abcd")
        else:
            p_range = shape.get("pRange", "normalized")
            if p_range not in ("normalized", "arcLength"):
                raise self.error(shape, f"pRange={p_range!r}; allowed: normalized, arcLength")
            coefficients = tuple(self.number(shape, f"{c}{axis}") for axis in "UV" for c in "abcd")
            params = (*coefficients, 1.0 if p_range == "normalized" else 0.0)
        length = self.number(element, "length")
        if not 0 <= length <= MAX_LENGTH:
            raise self.error(element, f"length {length} is outside 0 .. {MAX_LENGTH:.0e} m")
        return Geometry(
            self.number(element, "s"),
            self.number(element, "x"),
            self.number(element, "y"),
            self.number(element, "hdg"),
            length,
            kind,
            params,
        )

    def section(self, element: etree._Element) -> LaneSection:
        s = self.number(element, "s")
        lanes, centre_marks = [], ()
        for side in element:
            side_tag = local_name(side)
            if side_tag not in ("left", "center", "right"):
                continue
            for lane in side:
                if local_name(lane) != "lane":
                    continue
                record = self.lane(lane, s)
                if side_tag == "center":
                    centre_marks = record.marks
                    continue
                if (side_tag == "left") != (record.id > 0) or record.id == 0:
                    raise self.error(lane, f"lane id {record.id} does not belong to the <{side_tag}> side")
                lanes.append(record)
        ids = sorted(r.id for r in lanes)
        if len(ids) != len(set(ids)):
            raise self.error(element, f"a lane id is given twice in the section at s={s:g}")
        return LaneSection(s, tuple(sorted(lanes, key=lambda r: -r.id)), centre_marks)

    def lane(self, element: etree._Element, section_s: float) -> LaneRecord:
        try:
            lane_id = int(element.get("id", ""))
        except ValueError:
            raise self.error(element, f"lane id {element.get('id')!r} is not an integer") from None
        widths = [self.poly(w, section_s, "sOffset") for w in element if local_name(w) == "width"]
        borders = [self.poly(b, section_s, "sOffset") for b in element if local_name(b) == "border"]
        if lane_id != 0 and not widths and not borders:  # players read such a lane as zero wide: so does OccSim
            self.widthless.append(f"{element.sourceline}")
            widths = [Poly3(section_s, 0.0, 0.0, 0.0, 0.0)]
        marks = tuple(
            RoadMark(
                section_s + self.number(m, "sOffset", 0.0),
                m.get("type", "none"),
                m.get("color", "standard"),
                self.number(m, "width", 0.12),
            )
            for m in element
            if local_name(m) == "roadMark"
        )
        predecessor = successor = None
        for link in element:
            if local_name(link) != "link":
                continue
            for end in link:
                try:
                    if local_name(end) == "predecessor":
                        predecessor = int(end.get("id", ""))
                    elif local_name(end) == "successor":
                        successor = int(end.get("id", ""))
                except ValueError:
                    raise self.error(end, f"lane link id {end.get('id')!r} is not an integer") from None
        return LaneRecord(
            lane_id,
            element.get("type", "none"),
            tuple(sorted(widths, key=lambda p: p.s)),
            tuple(sorted(borders, key=lambda p: p.s)),
            tuple(sorted(marks, key=lambda m: m.s)),
            predecessor,
            successor,
        )

    def link(self, element: etree._Element) -> Link:
        kind = element.get("elementType", "road")
        if kind not in ("road", "junction"):
            raise self.error(element, f"elementType={kind!r}; allowed: road, junction")
        target = element.get("elementId")
        if target is None:
            raise self.error(element, "missing attribute 'elementId'")
        contact = element.get("contactPoint")
        if contact not in (None, "start", "end"):
            raise self.error(element, f"contactPoint={contact!r}; allowed: start, end")
        return Link(kind, target, contact)

    def object(self, element: etree._Element) -> RoadObject | None:
        radius = self.number(element, "radius", 0.0)
        return RoadObject(
            type=element.get("type", "none"),
            s=self.number(element, "s", 0.0),
            t=self.number(element, "t", 0.0),
            height=self.number(element, "height", 0.0),
            length=self.number(element, "length", 2 * radius),
            width=self.number(element, "width", 2 * radius),
            radius=radius,
            hdg=self.number(element, "hdg", 0.0),
        )

    def junction(self, element: etree._Element) -> JunctionRecord:
        junction_id = element.get("id")
        if junction_id is None:
            raise self.error(element, "missing attribute 'id'")
        connections = []
        for c in element:
            if local_name(c) != "connection":
                continue
            # a direct junction (OpenDRIVE 1.7) links the incoming road straight to a linkedRoad
            incoming, connecting = c.get("incomingRoad"), c.get("connectingRoad", c.get("linkedRoad"))
            if incoming is None or connecting is None:
                continue
            contact = c.get("contactPoint", "start")
            if contact not in ("start", "end"):
                raise self.error(c, f"contactPoint={contact!r}; allowed: start, end")
            links = []
            for link in c:
                if local_name(link) == "laneLink":
                    try:
                        links.append((int(link.get("from", "")), int(link.get("to", ""))))
                    except ValueError:
                        raise self.error(link, "laneLink from and to must be integers") from None
            connections.append(Connection(incoming, connecting, contact, tuple(links)))
        return JunctionRecord(junction_id, tuple(connections))
