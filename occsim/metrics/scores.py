"""Run scores as pure functions of a history (``Simulation.history``) and references on the same seed.

NCAP follows NeuroNCAP; the PDM sub-scores follow nuPlan / NAVSIM (PDMS = NC * DAC * (5 TTC + 5 EP + 2 C) / 12).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
import shapely

from occsim.types import EGO_CENTRE_OFFSET, EGO_SIZE, SUBSTEP, WAYPOINT_DT, HistoryStep, ReferenceRun
from occsim.world.boxes import box_corners

STATIC_CLASSES = frozenset({"traffic_cone", "barrier"})  # non-agent objects: a collision costs half (nuPlan)
STOPPED_SPEED = 0.05  # [m/s] an ego slower than this is stopped and not at fault
TTC_HORIZON = 1.0  # [s]
TTC_STEP = 0.1  # [s]
MIN_EXPERT_PROGRESS = 5.0  # [m] below this, ego progress is not compared (EP = 1)
COMFORT_WINDOW = 5  # substeps of moving-average smoothing before differentiating (0.5 s)
# nuPlan's comfort bounds
COMFORT_BOUNDS = {
    "lon_accel": (-4.05, 2.40),  # [m/s^2]
    "lat_accel": (-4.89, 4.89),  # [m/s^2]
    "yaw_rate": (-0.95, 0.95),  # [rad/s]
    "yaw_accel": (-1.93, 1.93),  # [rad/s^2]
    "lon_jerk": (-4.13, 4.13),  # [m/s^3]
    "jerk": (0.0, 8.37),  # [m/s^3] magnitude
}


@dataclass(frozen=True)
class RunScores:
    """Every score of one run."""

    ncap: float  # [0, 5]
    nc: float  # {0, 0.5, 1}
    dac: float  # {0, 1}
    ttc: float  # {0, 1}
    ep: float  # [0, 1]
    comfort: float  # {0, 1}
    pdms: float  # [0, 1]
    route_completion: float  # [0, 1]
    driving_score: float  # pdms * route_completion

    def to_dict(self) -> dict[str, float]:
        """Plain dict for JSON."""
        return asdict(self)


def ncap_score(impact_speed: float | None, reference_impact_speed: float) -> float:
    """5 with no collision, else 4 * max(0, 1 - v_impact / v_ref); 0 if the reference did not collide."""
    if impact_speed is None:
        return 5.0
    if reference_impact_speed <= 0.0:
        return 0.0  # a collision the reference policy did not have
    return 4.0 * max(0.0, 1.0 - impact_speed / reference_impact_speed)


def pdms(nc: float, dac: float, ttc: float, ep: float, comfort: float) -> float:
    """PDM score: multiplicative penalties times the weighted average of the rest."""
    return nc * dac * (5.0 * ttc + 5.0 * ep + 2.0 * comfort) / 12.0


def collision_step(history: list[HistoryStep]) -> HistoryStep | None:
    """The step that ended in a collision, if any."""
    return next((h for h in history if h.collided_with is not None), None)


def no_collision(step: HistoryStep) -> float:
    """NC of one step: 1 without collision or when not at fault, 0.5 against a static object, 0 at fault.

    Not at fault (nuPlan): the ego was stopped, or it was hit from behind.
    """
    if step.collided_with is None:
        return 1.0
    ego = step.ego
    if ego.speed < STOPPED_SPEED:
        return 1.0
    other = next((a for a in step.actors if a.id == step.collided_with), None)
    if other is not None:
        local_x = ego.pose.to_local(np.array([other.pose.x, other.pose.y]))[0]
        if local_x < EGO_CENTRE_OFFSET - EGO_SIZE[0] / 2:  # behind the ego's rear bumper: rear-ended
            return 1.0
    if step.collided_with.startswith("static:") or step.collided_class in STATIC_CLASSES:
        return 0.5
    return 0.0


def drivable_area_compliance(step: HistoryStep) -> float:
    """DAC of one step: 0 if the footprint left the drivable area."""
    return 0.0 if step.offroad else 1.0


def time_to_collision_ok(previous: HistoryStep, step: HistoryStep) -> float:
    """TTC of one step: 0 if following the plan would touch an actor within TTC_HORIZON, else 1.

    The ego follows ``step.plan`` from where it was at ``previous``; actors move at constant velocity from there.
    1 when stopped or not planning.
    """
    plan = step.plan
    if plan is None or previous.ego.speed < STOPPED_SPEED or not previous.actors:
        return 1.0
    origin = previous.ego.pose
    path = origin.to_parent(np.vstack([[0.0, 0.0], plan.points]))
    times = np.arange(TTC_STEP, TTC_HORIZON + 1e-9, TTC_STEP)
    knots = WAYPOINT_DT * np.arange(len(path))
    xs, ys = np.interp(times, knots, path[:, 0]), np.interp(times, knots, path[:, 1])
    seg = np.clip(np.searchsorted(knots, times), 1, len(path) - 1)
    direction = path[seg] - path[seg - 1]
    moving = np.hypot(direction[:, 0], direction[:, 1]) > 1e-6
    yaws = np.where(moving, np.arctan2(direction[:, 1], direction[:, 0]), origin.yaw)
    for t, x, y, yaw in zip(times, xs, ys, yaws):
        cx, cy = x + EGO_CENTRE_OFFSET * np.cos(yaw), y + EGO_CENTRE_OFFSET * np.sin(yaw)
        ego_box = shapely.Polygon(box_corners(cx, cy, yaw, EGO_SIZE[0], EGO_SIZE[1]))
        boxes = [
            box_corners(a.pose.x + a.velocity[0] * t, a.pose.y + a.velocity[1] * t, a.pose.yaw, a.size[0], a.size[1])
            for a in previous.actors
        ]
        if np.any(shapely.intersects(shapely.polygons(np.stack(boxes)), ego_box)):
            return 0.0
    return 1.0


def ego_progress(history: list[HistoryStep], reference: ReferenceRun, upto: int | None = None) -> float:
    """EP: the ego's route progress over the expert's on the same scenario and seed, capped at 1."""
    k = len(history) - 1 if upto is None else upto
    ego = history[k].progress - history[0].progress
    expert_curve = reference.expert_progress
    expert = expert_curve[min(k, len(expert_curve) - 1)] - expert_curve[0]
    if expert < MIN_EXPERT_PROGRESS:
        return 1.0
    return float(np.clip(ego / expert, 0.0, 1.0))


def comfort_signals(history: list[HistoryStep]) -> dict[str, np.ndarray]:
    """Smoothed 10 Hz signals that nuPlan bounds: accelerations, yaw rate and acceleration, jerks."""
    trace = [s for h in history for s in h.ego_trace]
    speed = np.array([s.speed for s in trace])
    yaw_rate = np.array([s.yaw_rate for s in trace])
    if len(trace) < 3:
        return {key: np.zeros(0) for key in COMFORT_BOUNDS}
    width = min(COMFORT_WINDOW, len(trace) - 2)  # a short run keeps the three samples a second derivative needs
    kernel = np.ones(width) / width
    speed_s = np.convolve(speed, kernel, mode="valid")
    yaw_rate_s = np.convolve(yaw_rate, kernel, mode="valid")
    lon_accel = np.gradient(speed_s, SUBSTEP)
    lat_accel = speed_s * yaw_rate_s
    lon_jerk = np.gradient(lon_accel, SUBSTEP)
    lat_jerk = np.gradient(lat_accel, SUBSTEP)
    return {
        "lon_accel": lon_accel,
        "lat_accel": lat_accel,
        "yaw_rate": yaw_rate_s,
        "yaw_accel": np.gradient(yaw_rate_s, SUBSTEP),
        "lon_jerk": lon_jerk,
        "jerk": np.hypot(lon_jerk, lat_jerk),
    }


def comfortable(history: list[HistoryStep]) -> float:
    """C: 1 if every comfort signal stays within nuPlan's bounds over the history, else 0."""
    for key, values in comfort_signals(history).items():
        lo, hi = COMFORT_BOUNDS[key]
        if len(values) and (values.min() < lo - 1e-9 or values.max() > hi + 1e-9):
            return 0.0
    return 1.0


def step_scores(history: list[HistoryStep], reference: ReferenceRun) -> list[dict[str, float]]:
    """Per-step NC, DAC, TTC, EP (so far), C (over the step) and PDMS, for steps 1..n."""
    out = []
    for k in range(1, len(history)):
        nc = no_collision(history[k])
        dac = drivable_area_compliance(history[k])
        ttc = time_to_collision_ok(history[k - 1], history[k])
        ep = ego_progress(history, reference, upto=k)
        c = comfortable(history[max(0, k - 1) : k + 1])
        out.append({"nc": nc, "dac": dac, "ttc": ttc, "ep": ep, "comfort": c, "pdms": pdms(nc, dac, ttc, ep, c)})
    return out


def run_scores(history: list[HistoryStep], reference: ReferenceRun) -> RunScores:
    """Every score of a run: NCAP, the PDM sub-scores (worst step for NC, DAC and TTC), PDMS, route completion."""
    steps = history[1:]
    nc = min((no_collision(h) for h in steps), default=1.0)
    dac = min((drivable_area_compliance(h) for h in steps), default=1.0)
    ttc = min((time_to_collision_ok(a, b) for a, b in zip(history, steps)), default=1.0)
    ep = ego_progress(history, reference)
    c = comfortable(history)
    crash = collision_step(history)
    ncap = ncap_score(crash.impact_speed if crash else None, reference.impact_speed)
    score = pdms(nc, dac, ttc, ep, c)
    last = history[-1]
    completion = float(np.clip((last.progress - history[0].progress) / max(last.route_length, 1e-6), 0.0, 1.0))
    return RunScores(ncap, nc, dac, ttc, ep, c, score, completion, score * completion)


__all__ = [
    "COMFORT_BOUNDS",
    "RunScores",
    "comfortable",
    "drivable_area_compliance",
    "ego_progress",
    "ncap_score",
    "no_collision",
    "pdms",
    "run_scores",
    "step_scores",
    "time_to_collision_ok",
]
