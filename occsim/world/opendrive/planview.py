"""OpenDRIVE plan-view geometry: a road's reference line from its line, arc, spiral, poly3 and paramPoly3 pieces.

Each piece starts at (x, y) heading ``hdg`` and is evaluated at a distance ``ds`` along it, in the inertial frame
(x east, y north), which is OccSim's world frame. Spirals (clothoids, curvature linear in length) use the Fresnel
integrals; poly3 and paramPoly3 are reparametrised by arc length from a dense table, as their ``s`` is arc length.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from scipy.special import fresnel

MAX_SPACING = 1.0  # [m] the most between reference-line samples, so lane-width polynomials are followed too
CHORD_ERROR = 0.02  # [m] the most a chord between samples may stray from the curve (at the outermost lane border)
ARC_TABLE = 64  # table points per metre of a parametric curve (arc length by the trapezoid rule on them)
STRAIGHT = (
    1e-12  # [1/m] curvature below which an arc is a line, and [1/m^2] curvature rate below which a spiral is an arc
)


@dataclass(frozen=True)
class Geometry:
    """One plan-view record: ``kind`` line | arc | spiral | poly3 | paramPoly3 with its parameters."""

    s: float  # [m] start station on the road
    x: float  # [m]
    y: float  # [m]
    hdg: float  # [rad]
    length: float  # [m]
    kind: str
    params: tuple[float, ...] = ()  # arc: (curvature,); spiral: (curvStart, curvEnd); poly3: (a, b, c, d);
    # paramPoly3: (aU, bU, cU, dU, aV, bV, cV, dV, normalized 1.0 | arcLength 0.0)
    _table: tuple[np.ndarray, np.ndarray] | None = field(default=None, compare=False, repr=False)

    def __post_init__(self) -> None:
        if self.kind in ("poly3", "paramPoly3"):
            object.__setattr__(self, "_table", _arc_table(self))

    def evaluate(self, ds: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """x, y [m] and heading [rad] at distances ``ds`` (clipped to the piece) along it."""
        ds = np.clip(np.asarray(ds, dtype=np.float64), 0.0, self.length)
        if self.kind == "line" or (self.kind == "arc" and abs(self.params[0]) < STRAIGHT):
            u, v, h = ds, np.zeros_like(ds), np.zeros_like(ds)
        elif self.kind == "arc":
            k = self.params[0]
            u, v, h = np.sin(k * ds) / k, (1.0 - np.cos(k * ds)) / k, k * ds
        elif self.kind == "spiral":
            u, v, h = _clothoid(self.params[0], (self.params[1] - self.params[0]) / self.length, ds)
        else:
            u, v, h = self._parametric(ds)
        c, s = np.cos(self.hdg), np.sin(self.hdg)
        return self.x + c * u - s * v, self.y + s * u + c * v, self.hdg + h

    def curvature(self, ds: np.ndarray) -> np.ndarray:
        """Signed curvature [1/m, left positive] at distances ``ds`` along the piece."""
        ds = np.clip(np.asarray(ds, dtype=np.float64), 0.0, self.length)
        if self.kind == "line":
            return np.zeros_like(ds)
        if self.kind == "arc":
            return np.full_like(ds, self.params[0])
        if self.kind == "spiral":
            return self.params[0] + (self.params[1] - self.params[0]) / max(self.length, 1e-12) * ds
        s_tab, p_tab = self._table
        p = np.interp(ds, s_tab, p_tab)
        if self.kind == "poly3":
            _, b, c, d = self.params
            du, dv, ddu, ddv = np.ones_like(p), b + p * (2 * c + 3 * d * p), np.zeros_like(p), 2 * c + 6 * d * p
        else:
            _, bu, cu, du_, _, bv, cv, dv_ = self.params[:8]
            du, dv = bu + p * (2 * cu + 3 * du_ * p), bv + p * (2 * cv + 3 * dv_ * p)
            ddu, ddv = 2 * cu + 6 * du_ * p, 2 * cv + 6 * dv_ * p
        return (du * ddv - dv * ddu) / np.maximum(np.hypot(du, dv), 1e-12) ** 3

    def curvature_bound(self) -> float:
        """The largest |curvature| [1/m] on the piece (from the table for the parametric kinds)."""
        if self.kind == "line":
            return 0.0
        if self.kind == "arc":
            return abs(self.params[0])
        if self.kind == "spiral":
            return max(abs(self.params[0]), abs(self.params[1]))
        s_tab, h_tab = self._table[0], self._parametric(self._table[0])[2]
        dh, ds = np.diff(np.unwrap(h_tab)), np.maximum(np.diff(s_tab), 1e-9)
        return float(np.abs(dh / ds).max()) if len(dh) else 0.0

    def _parametric(self, ds: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Local (u, v, heading) of poly3 / paramPoly3 at arc lengths ``ds``, through the arc-length table."""
        s_tab, p_tab = self._table
        p = np.interp(ds, s_tab, p_tab)
        if self.kind == "poly3":
            a, b, c, d = self.params
            return p, a + p * (b + p * (c + p * d)), np.arctan2(b + p * (2 * c + 3 * d * p), 1.0)
        au, bu, cu, du, av, bv, cv, dv = self.params[:8]
        u = au + p * (bu + p * (cu + p * du))
        v = av + p * (bv + p * (cv + p * dv))
        return u, v, np.arctan2(bv + p * (2 * cv + 3 * dv * p), bu + p * (2 * cu + 3 * du * p))


def _clothoid(k0: float, rate: float, ds: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Local (u, v, heading) along a curve whose curvature is ``k0 + rate * ds``, starting along +u.

    The heading is ``k0 ds + rate ds^2 / 2``; completing the square turns the position integral into a difference
    of Fresnel integrals C and S (scipy's, with the pi/2 convention).
    """
    heading = k0 * ds + 0.5 * rate * ds**2
    if abs(rate) < STRAIGHT:
        if abs(k0) < STRAIGHT:
            return ds, np.zeros_like(ds), heading
        return np.sin(k0 * ds) / k0, (1.0 - np.cos(k0 * ds)) / k0, heading
    scale = np.sqrt(np.pi / abs(rate))
    shift = k0 / rate  # heading = rate/2 (ds + shift)^2 + phase
    phase = -0.5 * rate * shift**2
    s1, c1 = fresnel((ds + shift) / scale)
    s0, c0 = fresnel(shift / scale)
    dc, dsn = c1 - c0, (s1 - s0) * np.sign(rate)
    u = scale * (np.cos(phase) * dc - np.sin(phase) * dsn)
    v = scale * (np.sin(phase) * dc + np.cos(phase) * dsn)
    return u, v, heading


def _arc_table(g: Geometry) -> tuple[np.ndarray, np.ndarray]:
    """Arc length along the curve at dense parameter values, to map ``ds`` to the polynomial's parameter.

    poly3 is parametrised by its local u; paramPoly3 by p in [0, 1] (normalized) or [0, length] (arcLength). The
    table runs until the arc length reaches the record's ``length`` (poly3, whose u range is not given) or over
    the whole parameter range.
    """
    if g.kind == "poly3":
        a, b, c, d = g.params
        p = np.linspace(0.0, g.length * 1.5 + 1.0, max(64, int(ARC_TABLE * (g.length * 1.5 + 1.0))))
        du, dv = np.ones_like(p), b + p * (2 * c + 3 * d * p)
    else:
        au, bu, cu, du_, av, bv, cv, dv_, normalized = g.params
        end = 1.0 if normalized else g.length
        p = np.linspace(0.0, end, max(64, int(ARC_TABLE * g.length) + 1))
        du, dv = bu + p * (2 * cu + 3 * du_ * p), bv + p * (2 * cv + 3 * dv_ * p)
    speed = np.hypot(du, dv)
    s = np.concatenate([[0.0], np.cumsum(0.5 * (speed[1:] + speed[:-1]) * np.diff(p))])
    return s, p


def sample_stations(geometries: list[Geometry], length: float, widest: float, extra: list[float]) -> np.ndarray:
    """Stations [m] from 0 to ``length`` close enough that chords stay within CHORD_ERROR of the curve.

    The chord error of a spacing h on curvature k is k h^2 / 8; the outermost lane border (``widest`` metres from
    the reference line on the inside of a bend) has curvature k / (1 - k w). Every piece's start and each station
    in ``extra`` (lane sections, width records) is a sample, so the polyline has a vertex wherever a polynomial
    restarts.
    """
    points = [0.0, length, *extra]
    for g in geometries:
        k = g.curvature_bound()
        k_edge = k / max(1.0 - k * widest, 0.1) if k > 0 else 0.0
        spacing = min(MAX_SPACING, np.sqrt(8.0 * CHORD_ERROR / k_edge) if k_edge > 0 else MAX_SPACING)
        count = max(1, int(np.ceil(g.length / spacing)))
        points.extend(np.linspace(g.s, g.s + g.length, count + 1).tolist())
    s = np.unique(np.clip(np.asarray(points, dtype=np.float64), 0.0, length))
    return s[np.concatenate([[True], np.diff(s) > 1e-6])]


def evaluate_reference(geometries: list[Geometry], s: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """x, y [m] and heading [rad] of the reference line at stations ``s`` (each in the piece that holds it)."""
    s = np.asarray(s, dtype=np.float64)
    starts = np.array([g.s for g in geometries])
    which = np.clip(np.searchsorted(starts, s, side="right") - 1, 0, len(geometries) - 1)
    x, y, h = np.empty_like(s), np.empty_like(s), np.empty_like(s)
    for i in np.unique(which):
        mask = which == i
        g = geometries[i]
        x[mask], y[mask], h[mask] = g.evaluate(s[mask] - g.s)
    return x, y, h
