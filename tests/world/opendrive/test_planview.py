"""Plan-view geometry against closed forms, and the sampled reference line within 2 cm of the exact curve."""

import math

import numpy as np
import pytest
from scipy.integrate import quad

from occsim.world.opendrive.model import LaneRecord, LaneSection, Poly3, RoadRecord
from occsim.world.opendrive.network import NetworkRoad
from occsim.world.opendrive.planview import CHORD_ERROR, Geometry


def test_line_and_arc_match_their_closed_forms():
    line = Geometry(0.0, 1.0, 2.0, 0.3, 50.0, "line")
    x, y, h = line.evaluate(np.array([0.0, 20.0, 50.0]))
    assert np.allclose(x, 1.0 + np.array([0, 20, 50]) * math.cos(0.3))
    assert np.allclose(y, 2.0 + np.array([0, 20, 50]) * math.sin(0.3))
    assert np.allclose(h, 0.3)
    radius = 40.0
    arc = Geometry(0.0, 0.0, 0.0, 0.0, math.pi * radius / 2, "arc", (1.0 / radius,))
    x, y, h = arc.evaluate(np.array([arc.length]))
    assert x[0] == pytest.approx(radius) and y[0] == pytest.approx(radius) and h[0] == pytest.approx(math.pi / 2)


@pytest.mark.parametrize(
    "k0,k1,length", [(0.0, 0.02, 80.0), (0.01, -0.015, 60.0), (-0.05, 0.05, 40.0), (0.02, 0.02, 30.0)]
)
def test_spiral_matches_numerical_integration_of_its_heading(k0, k1, length):
    spiral = Geometry(0.0, 3.0, -4.0, 0.7, length, "spiral", (k0, k1))
    rate = (k1 - k0) / length

    def heading(u):
        return 0.7 + k0 * u + 0.5 * rate * u * u

    for ds in (length / 3, length):
        ex = 3.0 + quad(lambda u: math.cos(heading(u)), 0, ds, epsabs=1e-12)[0]
        ey = -4.0 + quad(lambda u: math.sin(heading(u)), 0, ds, epsabs=1e-12)[0]
        x, y, h = spiral.evaluate(np.array([ds]))
        assert x[0] == pytest.approx(ex, abs=1e-9) and y[0] == pytest.approx(ey, abs=1e-9)
        assert h[0] == pytest.approx(heading(ds))
        assert spiral.curvature(np.array([ds]))[0] == pytest.approx(k0 + rate * ds)


def test_poly3_follows_its_cubic_at_the_arc_length_given():
    a, b, c, d = 0.5, 0.1, 0.01, -0.0002
    poly = Geometry(0.0, 0.0, 0.0, 0.0, 30.0, "poly3", (a, b, c, d))
    for u in (5.0, 12.0, 20.0):
        arc = quad(lambda t: math.hypot(1.0, b + 2 * c * t + 3 * d * t * t), 0, u)[0]
        x, y, h = poly.evaluate(np.array([arc]))
        assert x[0] == pytest.approx(u, abs=1e-3)
        assert y[0] == pytest.approx(a + b * u + c * u * u + d * u**3, abs=1e-3)
        assert h[0] == pytest.approx(math.atan(b + 2 * c * u + 3 * d * u * u), abs=1e-4)


@pytest.mark.parametrize("normalized", [True, False])
def test_param_poly3_in_both_parameter_ranges(normalized):
    length = 25.0
    scale = 1.0 if normalized else length
    # u = 20 p', v = 5 p'^2 with p' = p / scale in [0, 1]
    coefficients = (0.0, 20.0 / scale, 0.0, 0.0, 0.0, 0.0, 5.0 / scale**2, 0.0)
    true_length = quad(lambda p: math.hypot(20.0, 10.0 * p), 0, 1)[0]
    curve = Geometry(0.0, 0.0, 0.0, 0.0, true_length, "paramPoly3", (*coefficients, 1.0 if normalized else 0.0))
    if not normalized:  # arcLength: the record's length is the parameter range itself
        curve = Geometry(0.0, 0.0, 0.0, 0.0, length, "paramPoly3", (*coefficients, 0.0))
    x, y, _ = curve.evaluate(np.array([curve.length]))
    end_p = 1.0 if normalized else None
    if end_p is not None:
        assert x[0] == pytest.approx(20.0, abs=1e-3) and y[0] == pytest.approx(5.0, abs=1e-3)
    # halfway along the arc lies the point whose arc length is half the total
    half = curve.length / 2
    xs, ys, _ = curve.evaluate(np.linspace(0, half, 2000))
    assert np.hypot(np.diff(xs), np.diff(ys)).sum() == pytest.approx(half, rel=1e-4)


def _road(geometries, width=3.5, lanes=2):
    section = LaneSection(
        0.0,
        tuple(LaneRecord(i, "driving", (Poly3(0.0, width, 0, 0, 0),), (), (), None, None) for i in (lanes, -lanes)),
        (),
    )
    length = sum(g.length for g in geometries)
    return NetworkRoad(
        RoadRecord("r", "", length, "-1", "RHT", tuple(geometries), (), (section,), None, None, (), None, False)
    )


def test_sampled_reference_and_lane_borders_stay_within_two_centimetres():
    geometries = [
        Geometry(0.0, 0.0, 0.0, 0.0, 30.0, "line"),
        Geometry(30.0, 30.0, 0.0, 0.0, 40.0, "spiral", (0.0, 1 / 12.0)),
    ]
    x, y, h = geometries[1].evaluate(np.array([40.0]))
    geometries.append(Geometry(70.0, float(x[0]), float(y[0]), float(h[0]), 15.0, "arc", (1 / 12.0,)))
    road = _road(geometries, width=3.5, lanes=2)
    for t in (0.0, 3.5, -3.5):  # the reference and the lanes' outer borders, inside and outside the bend
        px, py, _ = road.to_world(road.s, np.full_like(road.s, t))
        mid = 0.5 * (road.s[1:] + road.s[:-1])
        ex, ey, _ = road.to_world(mid, np.full_like(mid, t))
        chord_x, chord_y = 0.5 * (px[1:] + px[:-1]), 0.5 * (py[1:] + py[:-1])
        assert np.hypot(ex - chord_x, ey - chord_y).max() < CHORD_ERROR
