"""VAD's 18-value ``can_bus`` vector from OccSim ego state."""

from __future__ import annotations

import numpy as np


def can_bus(ego_pose: np.ndarray, ego: np.ndarray) -> np.ndarray:
    """``can_bus`` as VAD's nuScenes dataset fills it (float64, 18 values).

    [0:3] position (x, y, 0) [m]; [3:7] orientation quaternion (w, x, y, z) of a yaw rotation; [7:10] acceleration
    (ego frame, longitudinal only) [m/s^2]; [10:13] rotation rate (0, 0, yaw rate) [rad/s]; [13:16] velocity (ego
    frame) [m/s]; [16] yaw [rad] and [17] yaw [deg], both in [0, 360) degrees as VAD's ``patch_angle``.

    Args:
        ego_pose: (3,) world x, y [m] and yaw [rad].
        ego: (4,) speed [m/s], acceleration [m/s^2], yaw rate [rad/s], steering [rad] (OccSim's ``ego`` observation).
    """
    x, y, yaw = (float(v) for v in ego_pose[:3])
    speed, accel, yaw_rate = float(ego[0]), float(ego[1]), float(ego[2])
    out = np.zeros(18)
    out[0:3] = (x, y, 0.0)
    out[3:7] = (np.cos(yaw / 2), 0.0, 0.0, np.sin(yaw / 2))
    out[7:10] = (accel, 0.0, 0.0)
    out[10:13] = (0.0, 0.0, yaw_rate)
    out[13:16] = (speed, 0.0, 0.0)
    degrees = np.degrees(yaw) % 360.0
    out[16] = np.radians(degrees)
    out[17] = degrees
    return out
