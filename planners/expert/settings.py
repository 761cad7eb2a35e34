"""The expert's constants, named in one place: rollout and prediction horizons, clearances, the IDM, path costs."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from occsim.types import OCC3D_GRID


@dataclass(frozen=True)
class ExpertSettings:
    """Every tuned number of the rule-based expert, with its unit."""

    horizon: float = 4.0  # [s] rollout length
    roll_dt: float = 0.1  # [s] IDM rollout step
    sample_dt: float = 0.5  # [s] spacing of obstacle predictions
    lateral_tau: float = 1.0  # [s] vehicles moving along the road drift sideways by at most this much lateral velocity
    margin: float = 0.6  # [m] lateral clearance wanted on each side
    check_extra_lateral: float = 0.1  # [m] more clearance a proposal needs to count as collision-free
    check_extra_longitudinal: float = 0.5  # [m]
    nudges: tuple[float, ...] = (0.0, 0.6, -0.6, 1.2, -1.2)  # [m] lateral offsets tried within a lane
    speed_fractions: tuple[float, ...] = (1.0, 0.6)  # of the cruise speed, tried for each path
    lane_change_cost: float = 4.0  # [m of progress]
    oncoming_cost: float = 10.0  # [m of progress] for borrowing the oncoming lane
    nudge_cost: float = 3.0  # [m of progress] per metre of nudge
    keep_bonus: float = 1.0  # [m of progress] for keeping the previous choice (no dithering)
    raised: tuple[float, float] = (0.2, 1.8)  # [m] above the ground: the occupancy layers that block a car
    lane_width_nominal: float = 3.5  # [m]
    blend_times: tuple[float, ...] = (2.5, 1.4)  # [s] of travel for a whole lane width sideways: gentle, sharp
    blend_min: float = 8.0  # [m] shortest blend into a lane change or nudge
    hard_brake: float = 8.0  # [m/s^2] when no proposal is safe
    lateral_accel: float = 3.0  # [m/s^2] the most sideways acceleration taken in a bend (a comfortable turn)
    curve_brake: float = 2.5  # [m/s^2] braking toward a bend's speed
    diverging: float = 0.35  # [rad] a lane heading this far from a turning route's is not one to change into
    junction_speed: float = 8.0  # [m/s] the most driven through a junction, where traffic may turn across it
    junction_reach: float = 6.0  # [m] either side of where the route crosses another road's lane: the junction
    turn_zone: float = 25.0  # [m] from a junction point within which a vehicle's turning is a turn there
    turning: float = 0.08  # [rad/s] a vehicle turning faster than this is predicted on an arc, not along its lane
    max_yaw_rate: float = 1.0  # [rad/s] faster estimates are matching errors
    max_predicted_turn: float = np.pi / 2  # [rad] a turn at a junction ends within a quarter circle
    match_radius: float = 1.5  # [m] between an actor's predicted and seen positions to count as the same actor
    crossing_sine: float = 0.5  # a lane meeting the route at less than 30 degrees runs along it: not a junction
    lane_reach: float = 3.0  # [lane widths] from the ego within which a lane is considered at all
    neighbour_reach: float = 1.6  # [lane widths] from the current lane within which a lane is a neighbour
    # The IDM (Treiber et al.): acceleration, comfortable braking, jam gap, time headway, exponent; and its limits.
    idm_accel: float = 2.0  # [m/s^2]
    idm_brake: float = 3.0  # [m/s^2]
    idm_gap: float = 3.0  # [m]
    idm_headway: float = 1.2  # [s]
    idm_delta: int = 4
    accel_limits: tuple[float, float] = (-8.0, 3.0)  # [m/s^2]
    stop_accel: float = -4.0  # [m/s^2] when the target speed is (nearly) zero
    static_ahead: float = -2.0  # [m] raised voxels behind this (ego frame x) are ignored
    static_side: float = 12.0  # [m] raised voxels farther sideways than this are ignored

    @property
    def raised_layers(self) -> slice:
        """The Occ3D z layers between the ``raised`` heights."""
        return slice(*(int(round((z - OCC3D_GRID.lower[2]) / OCC3D_GRID.voxel_size)) for z in self.raised))


DEFAULT_SETTINGS = ExpertSettings()
