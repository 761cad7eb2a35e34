"""Trajectory shapes of OpenSCENARIO (Polyline, Clothoid, ClothoidSpline, Nurbs) frozen into dense samples.

A shape is resolved when its FollowTrajectoryAction starts (relative vertex positions are taken then), sampled
along its arc length, and read by distance (``at_s``) or by trajectory time (``s_at_time``). A Polyline's timing
between vertices is linear in time in ``position`` following mode and of constant acceleration from the entity's
speed in ``follow`` mode, and its heading turns over each whole segment in ``follow`` mode and only near corners in
``position`` mode, as the reference player does.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from occsim.world.opendrive.planview import _clothoid
from occsim.world.storyboard.tree import Node

if TYPE_CHECKING:
    from occsim.world.storyboard.runtime import Runtime

SPACING = 0.1  # [m] between the samples of curved shapes
NURBS_SAMPLES = 400  # parameter samples of a NURBS curve before it is resampled by arc length


@dataclass
class Shape:
    """A path with optional timing: samples by arc length."""

    s: np.ndarray  # (N,) arc length [m]
    x: np.ndarray  # (N,)
    y: np.ndarray  # (N,)
    h: np.ndarray  # (N,) heading [rad], unwrapped
    times: np.ndarray | None  # (N,) trajectory time [s] at each sample, increasing (None: untimed)
    closed: bool = False

    @property
    def length(self) -> float:
        """Arc length [m]."""
        return float(self.s[-1])

    def at_s(self, s: float) -> tuple[float, float, float]:
        """Pose (x, y, heading) at arc length ``s``; past either end the path goes on straight."""
        if self.closed and self.length > 0:
            s = s % self.length
        inside = min(max(s, 0.0), self.length)
        x, y = float(np.interp(inside, self.s, self.x)), float(np.interp(inside, self.s, self.y))
        h = float(np.interp(inside, self.s, self.h))
        over = s - inside
        return x + over * math.cos(h), y + over * math.sin(h), math.atan2(math.sin(h), math.cos(h))

    def tangent_at(self, s: float) -> float:
        """Direction [rad] of the path itself at arc length ``s`` (the heading may blend across corners)."""
        if self.closed and self.length > 0:
            s = s % self.length
        i = int(np.clip(np.searchsorted(self.s, s, side="right") - 1, 0, len(self.s) - 2))
        while i > 0 and self.s[i + 1] - self.s[i] < 1e-9:  # a repeated point has no direction: look back
            i -= 1
        return math.atan2(self.y[i + 1] - self.y[i], self.x[i + 1] - self.x[i])

    def s_at_time(self, time: float) -> float:
        """Arc length at trajectory time ``time`` (held at the ends)."""
        if self.times is None:
            raise ValueError("an untimed trajectory has no time")
        return float(np.interp(time, self.times, self.s))

    @property
    def duration(self) -> tuple[float, float]:
        """First and last trajectory time [s]."""
        if self.times is None:
            return 0.0, 0.0
        return float(self.times[0]), float(self.times[-1])


def build_shape(rt: Runtime, trajectory: Node, entity, mode: str) -> Shape:
    """The shape of a ``<Trajectory>`` (its ``<Shape>``'s one kind), resolved now for ``entity``."""
    shape = trajectory.need("Shape").only()
    builder = _BUILDERS.get(shape.tag)
    if builder is None:
        raise shape.error(f"trajectory shape <{shape.tag}> is not supported; supported: {', '.join(_BUILDERS)}")
    built = builder(rt, shape, entity, mode)
    built.closed = trajectory.flag("closed", False)
    return built


def _polyline(rt: Runtime, node: Node, entity, mode: str) -> Shape:
    from occsim.world.storyboard.positions import resolve_position

    vertices = node.all("Vertex")
    if len(vertices) < 2:
        raise node.error("needs at least two <Vertex>")
    places = [resolve_position(rt, v.need("Position")) for v in vertices]
    xy = np.array([[p.x, p.y] for p in places])
    chord = np.hypot(*np.diff(xy, axis=0).T)
    s = np.concatenate([[0.0], np.cumsum(chord)])
    segment_h = np.arctan2(np.diff(xy[:, 1]), np.diff(xy[:, 0]))
    headings = np.append(segment_h, segment_h[-1])
    explicit = [i for i, v in enumerate(vertices) if _has_heading(v.need("Position"))]
    for i in explicit:
        headings[i] = places[i].h
    times = None
    if all("time" in v.attrs for v in vertices):
        times = np.array([v.number("time") for v in vertices])
        if np.any(np.diff(times) < 0):
            raise node.error("vertex times must not decrease")
    if mode == "position":
        return _cornered(s, xy, headings, times)
    return Shape(s, xy[:, 0].copy(), xy[:, 1].copy(), np.unwrap(headings), times)


def _cornered(s: np.ndarray, xy: np.ndarray, headings: np.ndarray, times: np.ndarray | None) -> Shape:
    """A polyline whose heading keeps each segment's and turns only near corners (``position`` mode).

    Within ``min(2 m, half the segment)`` of a vertex the heading blends linearly to the mean of the two
    segments' at the vertex, and on the last segment to the last vertex's heading, as the reference player does.
    """
    keys: list[tuple[float, float]] = []  # (arc length, heading) knots; the heading is linear between them
    last = len(s) - 2
    for i in range(last + 1):
        length, cur, nxt = s[i + 1] - s[i], headings[i], headings[i + 1]
        radius = min(2.0, length / 2)
        start = cur + 0.5 * _turn(headings[i - 1], cur) if i > 0 else cur
        end = cur + (0.5 if i < last else 1.0) * _turn(cur, nxt)
        keys += [(s[i], start), (s[i] + radius, cur), (s[i + 1] - radius, cur), (s[i + 1], end)]
    keys = [k for j, k in enumerate(keys) if j == 0 or k[0] > keys[j - 1][0]]  # one knot per arc length
    knot_s = np.array([k[0] for k in keys])
    knot_h = np.unwrap(np.array([k[1] for k in keys]))
    x, y = np.interp(knot_s, s, xy[:, 0]), np.interp(knot_s, s, xy[:, 1])
    knot_t = None if times is None else np.interp(knot_s, s, times)
    return Shape(knot_s, x, y, knot_h, knot_t)


def _turn(a: float, b: float) -> float:
    """The signed angle from heading ``a`` to heading ``b``, in [-pi, pi)."""
    return (b - a + math.pi) % (2 * math.pi) - math.pi


def follow_s(shape: Shape, time: float, start_speed: float) -> float:
    """Arc length at trajectory ``time`` in ``follow`` mode.

    Constant acceleration on each segment from ``start_speed``, reaching each vertex at its time (stopping early and
    waiting where it would reverse).
    """
    times, s = shape.times, shape.s
    v = start_speed
    for i in range(len(times) - 1):
        dt, ds = times[i + 1] - times[i], s[i + 1] - s[i]
        if dt <= 1e-9:
            continue
        acc = 2 * (ds - v * dt) / dt**2
        end_v = v + acc * dt
        stop_at = dt
        if end_v < 0 and v > 0:  # it would turn back: brake to a stop at the vertex and wait there
            acc = -(v**2) / (2 * ds) if ds > 0 else 0.0
            stop_at = -v / acc if acc < 0 else dt
            end_v = 0.0
        if time <= times[i + 1]:
            tau = min(max(time - times[i], 0.0), stop_at)
            return float(s[i] + v * tau + 0.5 * acc * tau**2)
        v = end_v
    return float(s[-1])


def _has_heading(position: Node) -> bool:
    kind = position.only()
    return "h" in kind.attrs or (kind.child("Orientation") is not None and "h" in kind.need("Orientation").attrs)


def _clothoid_shape(rt: Runtime, node: Node, entity, mode: str) -> Shape:
    from occsim.world.storyboard.positions import resolve_position

    start = node.child("Position")
    if start is not None:
        place = resolve_position(rt, start)
        x0, y0, h0 = place.x, place.y, place.h
    else:
        x0, y0, h0 = entity.x, entity.y, entity.h
    k0 = node.number("curvature")
    rate = node.number("curvaturePrime", node.number("curvatureDot", 0.0))
    length = node.number("length")
    shape = _sample_clothoid(x0, y0, h0, k0, rate, length)
    if "startTime" in node.attrs and "stopTime" in node.attrs:
        shape.times = np.linspace(node.number("startTime"), node.number("stopTime"), len(shape.s))
    return shape


def _sample_clothoid(x0: float, y0: float, h0: float, k0: float, rate: float, length: float) -> Shape:
    s = np.linspace(0.0, length, max(2, int(math.ceil(length / SPACING)) + 1))
    u, v, h = _clothoid(k0, rate, s)
    c, sn = math.cos(h0), math.sin(h0)
    return Shape(s, x0 + c * u - sn * v, y0 + sn * u + c * v, h0 + h, None)


def _clothoid_spline(rt: Runtime, node: Node, entity, mode: str) -> Shape:
    from occsim.world.storyboard.positions import resolve_position

    segments = node.all("ClothoidSplineSegment")
    if not segments:
        raise node.error("needs at least one <ClothoidSplineSegment>")
    parts, times, previous_end, offset = [], [], 0.0, 0.0
    x = y = h = 0.0
    for i, segment in enumerate(segments):
        start = segment.child("PositionStart")
        if start is not None:
            place = resolve_position(rt, start.only())
            x, y, h = place.x, place.y, place.h
        elif i == 0 and entity is None:
            raise segment.error("the first segment needs a <PositionStart> here (no entity to start from)")
        elif i == 0:
            x, y, h = entity.x, entity.y, entity.h
        k0 = segment.number("curvatureStart", previous_end)
        k1 = segment.number("curvatureEnd", k0)
        length = segment.number("length")
        h += segment.number("hOffset", 0.0)
        part = _sample_clothoid(x, y, h, k0, (k1 - k0) / max(length, 1e-9), length)
        begin = segment.number("timeStart", math.nan)
        parts.append((part, offset, begin))
        x, y, h = float(part.x[-1]), float(part.y[-1]), float(part.h[-1])
        previous_end, offset = k1, offset + length
        times.append(begin)
    s = np.concatenate([p.s + o for p, o, _ in parts])
    shape = Shape(s, *(np.concatenate([getattr(p, k) for p, _, _ in parts]) for k in "xyh"), None)
    if all(math.isfinite(t) for t in times) and "timeEnd" in node.attrs:
        bounds = [*times, node.number("timeEnd")]
        shape.times = np.concatenate(
            [np.interp(p.s, [0, p.length], [bounds[i], bounds[i + 1]]) for i, (p, _, _) in enumerate(parts)]
        )
    keep = np.concatenate([[True], np.diff(shape.s) > 1e-9])
    shape.s, shape.x, shape.y, shape.h = shape.s[keep], shape.x[keep], shape.y[keep], shape.h[keep]
    if shape.times is not None:
        shape.times = shape.times[keep]
    return shape


def _nurbs(rt: Runtime, node: Node, entity, mode: str) -> Shape:
    from occsim.world.storyboard.positions import resolve_position

    order = node.integer("order")
    controls = node.all("ControlPoint")
    if order < 2 or len(controls) < order:
        raise node.error(f"order {order} needs at least {order} control points, got {len(controls)}")
    points = np.array([[p.x, p.y] for p in (resolve_position(rt, c.need("Position")) for c in controls)])
    weights = np.array([c.number("weight", 1.0) for c in controls])
    knots = np.array([k.number("value") for k in node.all("Knot")])
    if len(knots) != len(controls) + order:
        inner = [(i + 1) / (len(controls) + 1 - order) for i in range(len(controls) - order)]
        knots = np.array([0.0] * order + inner + [1.0] * order)
    u = np.linspace(knots[order - 1], knots[len(controls)] - 1e-9, NURBS_SAMPLES)
    basis = np.stack([_basis(i, order, knots, u) for i in range(len(controls))], axis=1) * weights
    xy = (basis @ points) / np.maximum(basis.sum(axis=1), 1e-12)[:, None]
    s = np.concatenate([[0.0], np.cumsum(np.hypot(*np.diff(xy, axis=0).T))])
    h = np.unwrap(np.arctan2(np.gradient(xy[:, 1]), np.gradient(xy[:, 0])))
    times = None
    if all("time" in c.attrs for c in controls):
        peaks = u[np.argmax(basis / np.maximum(weights, 1e-12), axis=0)]
        times = np.interp(u, np.sort(peaks), np.array([c.number("time") for c in controls])[np.argsort(peaks)])
    return Shape(s, xy[:, 0], xy[:, 1], h, times)


def _basis(i: int, order: int, knots: np.ndarray, u: np.ndarray) -> np.ndarray:
    """Cox-de Boor basis function N_{i,order}(u)."""
    if order == 1:
        return ((knots[i] <= u) & (u < knots[i + 1])).astype(np.float64)
    out = np.zeros_like(u)
    left = knots[i + order - 1] - knots[i]
    right = knots[i + order] - knots[i + 1]
    if left > 0:
        out += (u - knots[i]) / left * _basis(i, order - 1, knots, u)
    if right > 0:
        out += (knots[i + order] - u) / right * _basis(i + 1, order - 1, knots, u)
    return out


_BUILDERS = {"Polyline": _polyline, "Clothoid": _clothoid_shape, "ClothoidSpline": _clothoid_spline, "Nurbs": _nurbs}
