"""The ego car: a kinematic bicycle model and a trajectory tracker (pure pursuit steering, PI speed)."""

from __future__ import annotations

from dataclasses import dataclass

import numba
import numpy as np

from occsim.types import EGO_CENTRE_OFFSET, EGO_SIZE, SUBSTEP, WAYPOINT_DT, EgoState, Pose2D, Trajectory
from occsim.world.boxes import box_corners

WHEELBASE = 2.6  # [m]
ACCEL_LIMITS = (-8.0, 4.0)  # [m/s^2]
MAX_STEER = 0.6  # [rad]


@dataclass(frozen=True)
class Control:
    """One control command held for a substep."""

    acceleration: float  # [m/s^2]
    steering: float  # [rad]

    def clipped(self) -> Control:
        """The command within the actuator limits."""
        # min/max, not np.clip: this runs every substep, where np.clip's dispatch cost more than the dynamics.
        return Control(
            float(min(max(self.acceleration, ACCEL_LIMITS[0]), ACCEL_LIMITS[1])),
            float(min(max(self.steering, -MAX_STEER), MAX_STEER)),
        )


def bicycle_step(state: EgoState, control: Control, dt: float) -> EgoState:
    """Advance the rear-axle kinematic bicycle by ``dt`` (no reversing)."""
    c = control.clipped()
    v0 = state.speed
    v1 = max(0.0, v0 + c.acceleration * dt)
    accel = (v1 - v0) / dt
    v_mean = 0.5 * (v0 + v1)
    yaw_rate = v_mean * np.tan(c.steering) / WHEELBASE
    yaw_mid = state.pose.yaw + 0.5 * yaw_rate * dt
    pose = Pose2D(
        state.pose.x + v_mean * np.cos(yaw_mid) * dt,
        state.pose.y + v_mean * np.sin(yaw_mid) * dt,
        float(np.arctan2(np.sin(state.pose.yaw + yaw_rate * dt), np.cos(state.pose.yaw + yaw_rate * dt))),
    )
    return EgoState(pose, v1, accel, float(yaw_rate), c.steering)


class TrajectoryTracker:
    """Follows a planner trajectory: pure pursuit for steering, PI on speed with a feed-forward term."""

    def __init__(self, kp: float = 2.0, ki: float = 0.3, lookahead_time: float = 0.8, min_lookahead: float = 3.0):
        self.kp, self.ki = kp, ki
        self.lookahead_time, self.min_lookahead = lookahead_time, min_lookahead
        self.integral = 0.0
        self._path: np.ndarray | None = None

    def reset(self) -> None:
        """Forget the integral term and the trajectory."""
        self.integral = 0.0
        self._path = None

    def set_trajectory(self, trajectory: Trajectory, ego: EgoState) -> None:
        """Follow ``trajectory`` (ego frame at the time of planning) from now on."""
        pts = np.vstack([[0.0, 0.0], trajectory.points])
        seg = np.hypot(*np.diff(pts, axis=0).T)
        # Segment k's mean speed is reached at its midpoint time; interpolate the target between midpoints.
        self._mids = WAYPOINT_DT * (np.arange(len(seg)) + 0.5)
        self._speeds = seg / WAYPOINT_DT
        self._accels = np.diff(seg) / WAYPOINT_DT**2
        self._moving = bool(np.hypot(*(pts[-1] - pts[0])) > 0.5)
        self._path = ego.pose.to_parent(pts)  # world frame, so the tracker can follow it as the ego moves

    def control(self, ego: EgoState, elapsed: float) -> Control:
        """Command for the current state, ``elapsed`` seconds after the trajectory was set."""
        assert self._path is not None, "set_trajectory first"
        target = float(np.interp(elapsed + SUBSTEP, self._mids, self._speeds))
        err = target - ego.speed
        self.integral = float(min(max(self.integral + err * SUBSTEP, -2.0), 2.0))
        feed_forward = float(np.interp(elapsed, self._mids[:-1] + WAYPOINT_DT / 2, self._accels))
        accel = self.kp * err + self.ki * self.integral + feed_forward
        if target < 0.05 and ego.speed < 0.5:
            accel = ACCEL_LIMITS[0]  # hold still rather than creep on the integral term
        steer = self._pure_pursuit(ego) if self._moving else 0.0
        return Control(accel, steer).clipped()

    def _pure_pursuit(self, ego: EgoState) -> float:
        lookahead = max(self.min_lookahead, self.lookahead_time * ego.speed)
        pose = ego.pose
        gx, gy = _pursuit_goal(self._path, pose.x, pose.y, np.cos(pose.yaw), np.sin(pose.yaw), lookahead)
        ld2 = max(gx**2 + gy**2, 1e-6)
        return float(np.arctan(2.0 * WHEELBASE * gy / ld2))


@numba.njit(cache=True)
def _pursuit_goal(path, x, y, c, s, lookahead):  # pragma: no cover - numba
    """Pure pursuit's goal in the ego frame: where ``path`` (world frame) first crosses the lookahead circle ahead.

    Past the path's end its last point, or straight ahead if that is behind. A loop: it runs every substep.
    """
    n = path.shape[0]
    local = np.empty((n, 2))
    dist = np.empty(n)
    for k in range(n):
        dx, dy = path[k, 0] - x, path[k, 1] - y
        local[k, 0], local[k, 1] = c * dx + s * dy, -s * dx + c * dy
        dist[k] = np.hypot(local[k, 0], local[k, 1])
    for k in range(n):
        if dist[k] >= lookahead and local[k, 0] > 0:
            # Interpolate on the segment that crosses the lookahead circle.
            p = max(k - 1, 0)
            da, db = dist[p], dist[k]
            u = 0.0 if db == da else min(max((lookahead - da) / (db - da), 0.0), 1.0)
            return local[p, 0] + u * (local[k, 0] - local[p, 0]), local[p, 1] + u * (local[k, 1] - local[p, 1])
    if local[n - 1, 0] <= 0:
        return lookahead, 0.0
    return local[n - 1, 0], local[n - 1, 1]


def control_from_normalised(action: np.ndarray) -> Control:
    """Map a normalised action (acceleration, steering) in [-1, 1]^2 to physical units."""
    a, s = np.clip(np.asarray(action, dtype=np.float64), -1.0, 1.0)
    accel = a * (ACCEL_LIMITS[1] if a >= 0 else -ACCEL_LIMITS[0])
    return Control(float(accel), float(s * MAX_STEER))


def footprint_corners(pose: Pose2D) -> np.ndarray:
    """World corners (4, 2) of the ego footprint (front-left, front-right, rear-right, rear-left)."""
    c, s = np.cos(pose.yaw), np.sin(pose.yaw)
    x, y = pose.x + EGO_CENTRE_OFFSET * c, pose.y + EGO_CENTRE_OFFSET * s
    return box_corners(x, y, pose.yaw, EGO_SIZE[0], EGO_SIZE[1])
