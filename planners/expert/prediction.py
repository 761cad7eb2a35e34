"""What the expert predicts of the others over its horizon.

Actors are matched step to step for their turn rates and moved along their lane, on an arc at a junction, or
straight on; raised static voxels stay where they are.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from occsim.classes import BICYCLE, FLAT_CLASSES, FREE, MOTORCYCLE, PEDESTRIAN
from occsim.planners.expert.paths import Path, to_path
from occsim.planners.expert.settings import ExpertSettings
from occsim.types import EGO_SIZE, OCC3D_GRID, ActorTable, Pose2D

VRU_CLASSES = (BICYCLE, MOTORCYCLE, PEDESTRIAN)
UNIT_BOX = np.array([[0.5, 0.5], [0.5, -0.5], [-0.5, -0.5], [-0.5, 0.5]])  # corners of a unit box, centred


@dataclass
class Obstacles:
    """Actors' predicted corners (K, N, 4, 2) at ``sample_dt`` steps and static cell centres (M, 2), ego frame."""

    actors: np.ndarray
    static: np.ndarray


@dataclass
class Sighting:
    """The actors of one step in the world frame, to match against the next step's."""

    t: float  # [s]
    cls: np.ndarray  # (N,)
    xy: np.ndarray  # (N, 2) world [m]
    yaw: np.ndarray  # (N,) world [rad]
    velocity: np.ndarray  # (N, 2) world [m/s]

    @classmethod
    def of(cls, actors: ActorTable, x: float, y: float, yaw: float, t: float) -> Sighting:
        """The actor table of one step, from the ego frame into the world frame."""
        xy = Pose2D(x, y, yaw).to_parent(np.stack([actors.x, actors.y], 1))
        velocity = Pose2D(0.0, 0.0, yaw).to_parent(np.stack([actors.vx, actors.vy], 1))  # rotated only
        return cls(t, actors.cls, xy, actors.yaw + yaw, velocity)

    def yaw_rates(self, before: Sighting | None, s: ExpertSettings) -> np.ndarray:
        """(N,) [rad/s] each actor's turn rate since ``before`` (0 where it cannot be matched)."""
        rates = np.zeros(len(self.xy))
        if before is None or not len(before.xy) or not len(self.xy) or self.t <= before.t:
            return rates
        dt = self.t - before.t
        expected = before.xy + before.velocity * dt  # where each earlier actor should be now
        distance = np.hypot(*(self.xy[:, None] - expected[None]).transpose(2, 0, 1))
        distance[self.cls[:, None] != before.cls[None]] = np.inf
        nearest = np.argmin(distance, axis=1)
        matched = distance[np.arange(len(self.xy)), nearest] < s.match_radius
        turned = np.angle(np.exp(1j * (self.yaw - before.yaw[nearest]))) / dt
        rates[matched] = turned[matched]
        return np.where(np.abs(rates) < s.max_yaw_rate, rates, 0.0)


def predict_obstacles(actors: ActorTable, occupancy: np.ndarray, yaw_rates: np.ndarray, s: ExpertSettings) -> Obstacles:
    """Every actor's box over the horizon, and the raised static cells, in the ego frame."""
    samples = np.arange(0.0, s.horizon + 1e-9, s.sample_dt)
    x, y, yaw, vx, vy = actors.x, actors.y, actors.yaw, actors.vx, actors.vy
    # Vehicles travelling along the road (parallel or head-on to the ego) follow lanes: their sideways motion
    # saturates instead of carrying them across every lane. Vehicles turning (at a junction) go on turning at
    # their rate, up to a quarter circle. Everything else moves at constant velocity.
    vehicle = ~np.isin(actors.cls, VRU_CLASSES)
    turning = vehicle & (np.abs(yaw_rates) > s.turning)
    along_road = vehicle & ~turning & (np.abs(np.cos(yaw)) > 0.7)
    lateral_time = np.where(
        along_road[None, :], s.lateral_tau * (1 - np.exp(-samples[:, None] / s.lateral_tau)), samples[:, None]
    )
    shift = np.stack([samples[:, None] * vx[None], lateral_time * vy[None]], -1)  # (K, N, 2)
    heading = np.broadcast_to(yaw[None], shift.shape[:2]).copy()  # (K, N)
    if turning.any():
        w, v = yaw_rates[turning], np.hypot(vx[turning], vy[turning])
        turn = np.clip(w[None] * samples[:, None], -s.max_predicted_turn, s.max_predicted_turn)
        arc_time = np.abs(turn / w[None])  # time spent on the arc; straight on after it
        start = np.arctan2(vy[turning], vx[turning])
        arc = (
            np.stack([np.sin(start + turn) - np.sin(start), np.cos(start) - np.cos(start + turn)], -1)
            * (v / w)[None, :, None]
        )
        straight = (samples[:, None] - arc_time)[..., None] * v[None, :, None]
        end = start + turn
        shift[:, turning] = arc + straight * np.stack([np.cos(end), np.sin(end)], -1)
        heading[:, turning] = yaw[turning][None] + turn
    c, sin = np.cos(heading)[..., None], np.sin(heading)[..., None]  # (K, N, 1)
    lx = UNIT_BOX[None, None, :, 0] * actors.length[None, :, None]
    ly = UNIT_BOX[None, None, :, 1] * actors.width[None, :, None]
    corners = np.stack([c * lx - sin * ly, sin * lx + c * ly], -1)  # (K, N, 4, 2)
    moved = np.stack([x, y], -1)[None, :, None, :] + shift[:, :, None, :] + corners
    return Obstacles(moved, static_cells(occupancy, actors, s))


def static_cells(occupancy: np.ndarray, actors: ActorTable, s: ExpertSettings) -> np.ndarray:
    """Ego-frame centres (M, 2) of raised, non-actor voxel columns ahead of the ego."""
    occ = occupancy[:, :, s.raised_layers]
    raised = (occ != FREE) & ~np.isin(occ, list(FLAT_CLASSES))
    i, j = np.nonzero(raised.any(axis=2))
    grid = OCC3D_GRID
    pts = np.stack([grid.lower[0] + (i + 0.5) * grid.voxel_size, grid.lower[1] + (j + 0.5) * grid.voxel_size], 1)
    pts = pts[(pts[:, 0] > s.static_ahead) & (np.abs(pts[:, 1]) < s.static_side)]
    # actors are also in the occupancy: keep only what no actor box explains
    for x, y, yaw, length, width in zip(actors.x, actors.y, actors.yaw, actors.length, actors.width):
        u, v = Pose2D(x, y, yaw).to_local(pts).T
        pts = pts[(np.abs(u) > length / 2 + 0.5) | (np.abs(v) > width / 2 + 0.5)]
    return pts


def project(obstacles: Obstacles, path: Path, s: ExpertSettings) -> np.ndarray:
    """Obstacle boxes in path coordinates (K, N + M, 4) = (s_lo, s_hi, d_lo, d_hi): actors, then static cells."""
    k, n = obstacles.actors.shape[:2]
    actors = to_path(obstacles.actors.reshape(-1, 2), path).reshape(k, n, 4, 2)
    boxes = np.stack(
        [actors[..., 0].min(-1), actors[..., 0].max(-1), actors[..., 1].min(-1), actors[..., 1].max(-1)], -1
    )
    static = obstacles.static
    if len(static):
        # Only cells near the path can enter its corridor; the rest would cost most of the projection.
        reach = EGO_SIZE[1] / 2 + s.margin + s.check_extra_lateral + OCC3D_GRID.voxel_size
        lo, hi = path.points.min(0) - reach, path.points.max(0) + reach
        static = static[np.all((static >= lo) & (static <= hi), axis=1)]
    if len(static):
        sd = to_path(static, path)  # static cells do not move: project once, repeat for every sample
        half = OCC3D_GRID.voxel_size / 2
        cells = np.stack([sd[:, 0] - half, sd[:, 0] + half, sd[:, 1] - half, sd[:, 1] + half], -1)
        boxes = np.concatenate([boxes, np.broadcast_to(cells[None], (k, *cells.shape))], axis=1)
    return boxes
