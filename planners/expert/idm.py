"""Speed along one candidate path: an IDM rollout against the obstacles in its corridor, and a collision check."""

from __future__ import annotations

import numpy as np

from occsim.planners.expert.paths import Path
from occsim.planners.expert.settings import ExpertSettings
from occsim.types import EGO_CENTRE_OFFSET, EGO_FRONT, EGO_SIZE


def in_corridor(boxes: np.ndarray, margin: float) -> np.ndarray:
    """Which path-frame boxes (..., 4) reach into the ego's width plus ``margin`` [m] on each side."""
    half = EGO_SIZE[1] / 2 + margin
    return (boxes[..., 2] < half) & (boxes[..., 3] > -half)


def idm_rollout(
    path: Path, boxes: np.ndarray, v0: float, target: float, horizon: float, s: ExpertSettings
) -> tuple[np.ndarray, np.ndarray]:
    """IDM along the path; returns stations (T+1,) and speeds (T+1,) every ``roll_dt``."""
    steps = int(round(horizon / s.roll_dt))
    corridor = in_corridor(boxes, s.margin)
    s_lo = np.where(corridor, boxes[..., 0], np.inf)  # (K, N)
    station, v = 0.0, v0
    out_s, out_v = [station], [v]
    cruise = target
    for step in range(steps):
        if path.speed_cap is not None:
            target = min(cruise, float(np.interp(station, path.stations, path.speed_cap)))
        k = min(int(step * s.roll_dt / s.sample_dt), len(boxes) - 1)
        window = s_lo[k:]  # IDM keeps clear of wherever an obstacle will be within the horizon
        front = station + EGO_FRONT
        ahead = np.where(window > front - 0.5, window, np.inf).min() if window.size else np.inf
        accel = _idm_accel(v, target, ahead - front, s)
        v_new = max(0.0, v + accel * s.roll_dt)
        station += 0.5 * (v + v_new) * s.roll_dt
        v = v_new
        out_s.append(min(station, path.stations[-1]))
        out_v.append(v)
    return np.array(out_s), np.array(out_v)


def _idm_accel(v: float, target: float, gap: float, s: ExpertSettings) -> float:
    """The IDM's acceleration [m/s^2] at speed ``v`` towards ``target`` with ``gap`` [m] to the next obstacle."""
    if target <= 0.1:
        accel = s.stop_accel
    else:
        free = 1.0 - (v / target) ** s.idm_delta
        if np.isfinite(gap):
            desired = s.idm_gap + max(0.0, v * s.idm_headway + v * v / (2 * np.sqrt(s.idm_accel * s.idm_brake)))
            accel = s.idm_accel * (free - (desired / max(gap, 0.1)) ** 2)
        else:
            accel = s.idm_accel * free
    return float(np.clip(accel, *s.accel_limits))


def first_collision(path: Path, boxes: np.ndarray, stations: np.ndarray, s: ExpertSettings) -> float | None:
    """Time [s] of the first predicted overlap of the ego footprint with an obstacle, or None.

    Stricter than the IDM's corridor: the tracker cuts corners and the path model ignores heading.
    """
    corridor = in_corridor(boxes, s.margin + s.check_extra_lateral)
    # What starts behind the ego's middle is a follower's to avoid: braking for it only invites it into the back.
    corridor &= boxes[0, :, 1] > stations[0] + EGO_CENTRE_OFFSET
    for k in range(len(boxes)):
        t = k * s.sample_dt
        idx = min(int(round(t / s.roll_dt)), len(stations) - 1)
        rear = stations[idx] + EGO_CENTRE_OFFSET - EGO_SIZE[0] / 2
        front = stations[idx] + EGO_FRONT
        hit = corridor[k] & (boxes[k, :, 0] < front + s.check_extra_longitudinal) & (boxes[k, :, 1] > rear)
        if np.any(hit):
            return t
    return None
