"""OpenSCENARIO entities: their bodies (class, box, performance) and their state as the storyboard moves them.

The pose (x, y, h) is the OpenSCENARIO reference point (a vehicle's rear axle centre); the bounding box centre is
``centre`` metres ahead and to the left of it. Speed, acceleration and velocity are kept as the standard's
conditions read them: ``speed`` is the signed speed along the heading, ``velocity`` the change of position over the
last step.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import shapely

from occsim.world.storyboard.motion import LanePos
from occsim.world.storyboard.tree import Node

MAX_BODY = 1000.0  # [m] an entity's dimensions and offsets; a road train is some 50 m long

VEHICLE_CLASSES = {  # OpenSCENARIO vehicleCategory -> OccSim actor class
    "car": "car",
    "van": "car",
    "truck": "truck",
    "trailer": "trailer",
    "semitrailer": "trailer",
    "bus": "bus",
    "motorbike": "motorcycle",
    "bicycle": "bicycle",
    "train": "bus",
    "tram": "bus",
}
FLAT_MISC = ("crosswalk", "parkingSpace", "patch", "roadMark", "trafficIsland", "none")  # nothing to hit
EGO_NAMES = ("ego", "hero", "vut")  # case-insensitive names that mark the ego entity
DEFAULT_PERFORMANCE = {"vehicle": (100.0, 10.0, 10.0), "pedestrian": (1e10, 1e10, 1e10), "misc": (0.0, 0.0, 0.0)}


@dataclass(frozen=True)
class Body:
    """What an entity is: its OccSim class, box and limits."""

    kind: str  # vehicle | pedestrian | misc
    category: str  # the file's category (car, bus, pedestrian, obstacle, ...)
    cls_name: str | None  # OccSim actor class (None: a flat object, not placed as an actor)
    size: tuple[float, float, float]  # (length, width, height) [m]
    centre: tuple[float, float]  # bounding-box centre ahead of and left of the reference point [m]
    max_speed: float  # [m/s]
    max_acceleration: float  # [m/s^2]
    max_deceleration: float  # [m/s^2]


@dataclass
class Entity:
    """One scenario object and its state."""

    name: str
    body: Body
    x: float = 0.0  # [m] reference point, world frame
    y: float = 0.0
    h: float = 0.0  # [rad] heading
    speed: float = 0.0  # [m/s] signed, along the heading
    pos: LanePos | None = None  # where it is on the road network (None: off it, or moving freely)
    active: bool = False  # placed by an Init action (or AddEntityAction) and not deleted
    visible: bool = True  # graphics on (VisibilityAction)
    is_ego: bool = False
    external: bool = False  # moved by someone else (the planner-driven ego): the storyboard only reads it
    odometer: float = 0.0  # [m] distance travelled since the start (teleports excluded)
    velocity: tuple[float, float] = (0.0, 0.0)  # [m/s] over the last step
    acceleration: tuple[float, float] = (0.0, 0.0)  # [m/s^2] over the last step
    standstill_since: float | None = None  # [s] when it last stopped
    end_of_road_since: float | None = None  # [s] when it last reached a road's dead end
    offroad_since: float | None = None  # [s] when it last left the road
    route: list[str] = field(default_factory=list)  # road ids a route leads through
    moved: bool = False  # an action moved it this step (no default motion)
    teleported: bool = False  # an action placed it this step (no odometer, velocity from speed)
    previous: tuple[float, float] = (0.0, 0.0)  # [m] position at the start of the step

    @property
    def centre_xy(self) -> tuple[float, float]:
        """World position [m] of the bounding-box centre."""
        cx, cy = self.body.centre
        c, s = math.cos(self.h), math.sin(self.h)
        return self.x + c * cx - s * cy, self.y + s * cx + c * cy

    def corners(self) -> np.ndarray:
        """Bounding-box corners (4, 2), world frame [m]."""
        length, width, _ = self.body.size
        x, y = self.centre_xy
        c, s = math.cos(self.h), math.sin(self.h)
        local = np.array([[1, 1], [1, -1], [-1, -1], [-1, 1]]) * [length / 2, width / 2]
        return np.stack([x + c * local[:, 0] - s * local[:, 1], y + s * local[:, 0] + c * local[:, 1]], axis=1)

    def polygon(self) -> shapely.Polygon:
        """The bounding box's footprint."""
        return shapely.Polygon(self.corners())

    def to_local(self, x: float, y: float) -> tuple[float, float]:
        """A world point in this entity's frame (x forward, y left) from its reference point."""
        dx, dy = x - self.x, y - self.y
        c, s = math.cos(self.h), math.sin(self.h)
        return c * dx + s * dy, -s * dx + c * dy


def free_distance(a: Entity, b: Entity) -> float:
    """Shortest distance [m] between two bounding boxes (0 if they touch or overlap)."""
    return float(a.polygon().distance(b.polygon()))


def free_gaps(pivot: Entity, corners: np.ndarray) -> tuple[float, float]:
    """Longitudinal and lateral gaps [m] from the pivot's box to a set of corners, along the pivot's own axes.

    Each is 0 where the two projections overlap, positive ahead (left), negative behind (right).
    """
    own = pivot.corners()
    c, s = math.cos(pivot.h), math.sin(pivot.h)
    gaps = []
    for axis in (np.array([c, s]), np.array([-s, c])):
        a, b = own @ axis, corners @ axis
        if b.min() > a.max():
            gaps.append(float(b.min() - a.max()))
        elif b.max() < a.min():
            gaps.append(float(b.max() - a.min()))
        else:
            gaps.append(0.0)
    return gaps[0], gaps[1]


def overlapping(a: Entity, b: Entity) -> bool:
    """Whether two bounding boxes overlap or touch (a collision)."""
    return bool(a.polygon().intersects(b.polygon()))


def body_of(node: Node) -> Body:
    """An entity's body from its resolved ``Vehicle``, ``Pedestrian`` or ``MiscObject`` element."""
    if node.tag not in ("Vehicle", "Pedestrian", "MiscObject"):
        raise node.error("is not a supported entity (Vehicle, Pedestrian or MiscObject)")
    box = node.need("BoundingBox")
    centre, dims = box.need("Center"), box.need("Dimensions")
    size = (_extent(dims, "length"), _extent(dims, "width"), _extent(dims, "height"))
    cx, cy = _extent(centre, "x"), _extent(centre, "y")
    name = node.attrs.get("name", "").lower()
    if node.tag == "Vehicle":
        kind, category = "vehicle", node.text("vehicleCategory", node.attrs.get("category", "car"))
        cls_name = VEHICLE_CLASSES.get(category, "car")
        rear = node.child("Axles").child("RearAxle") if node.child("Axles") is not None else None
        if rear is not None:
            cx -= _extent(rear, "positionX", 0.0)  # the reference point is the rear axle's centre
    elif node.tag == "Pedestrian":
        kind, category = "pedestrian", node.text("pedestrianCategory", node.attrs.get("category", "pedestrian"))
        cls_name = "pedestrian"
    else:
        kind, category = "misc", node.text("miscObjectCategory", node.attrs.get("category", "obstacle"))
        cls_name = None if category in FLAT_MISC else ("traffic_cone" if "cone" in name else "barrier")
    top, up, down = DEFAULT_PERFORMANCE[kind]
    performance = node.child("Performance")
    if performance is not None:
        top = performance.number("maxSpeed", top)
        up = performance.number("maxAcceleration", up)
        down = performance.number("maxDeceleration", down)
    return Body(kind, category, cls_name, size, (cx, cy), top, up, down)


def _extent(node: Node, name: str, default: float | None = None) -> float:
    """A body's size or offset attribute [m], within ±``MAX_BODY`` (a file:line error beyond)."""
    value = node.number(name, default)
    if abs(value) > MAX_BODY:
        raise node.error(f"attribute {name}={node.attrs.get(name)!r} is beyond ±{MAX_BODY:g} m for an entity's body")
    return value


def choose_ego(names: list[str], bodies: dict[str, Body], requested: str | None, where: Node) -> str:
    """The ego's entity: ``requested``, else one named Ego/hero/VUT, else the first vehicle."""
    if requested is not None:
        if requested not in names:
            raise where.error(f"--ego {requested!r} is not an entity; entities: {', '.join(names)}")
        return requested
    for name in names:
        if name.lower() in EGO_NAMES:
            return name
    vehicles = [n for n in names if bodies[n].kind == "vehicle"]
    if not vehicles:
        raise where.error("has no vehicle to be the ego; name one with --ego")
    return vehicles[0]
