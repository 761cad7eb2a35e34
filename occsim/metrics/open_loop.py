"""Open-loop planning metrics as VAD's ``compute_planner_metric_stp3`` defines them (the ST-P3 protocol).

- ``L2 @ n s``: the mean, over the first 2n waypoints, of the distance between predicted and ground-truth waypoints.
- ``collision @ n s``: VAD's ``plan_obj_box_col``: the ego box (VAD's 4.084 m x 1.85 m, axis-aligned with the
  current ego frame and centred 0.5 m ahead of each waypoint, as ST-P3 places it) is checked against the boxes of
  vehicles and pedestrians at that waypoint's time; steps where the ground-truth trajectory itself collides are not
  counted; the rate is the mean over the first 2n steps.

VAD rasterises the boxes on a 0.5 m grid; here the polygons are intersected exactly with shapely.
"""

from __future__ import annotations

import numpy as np
import shapely

from occsim.classes import BICYCLE, BUS, CAR, CONSTRUCTION_VEHICLE, MOTORCYCLE, PEDESTRIAN, TRAILER, TRUCK
from occsim.world.boxes import box_polygon

VAD_EGO_SIZE = (4.084, 1.85)  # (length, width) [m] of VAD's ego box
VAD_BOX_OFFSET = 0.5  # [m] the box centre ahead of the waypoint
# VAD's occupancy for the metric: nuScenes vehicle.* and human.* categories; barriers and cones are not in it.
VAD_COLLISION_CLASSES = frozenset({BICYCLE, BUS, CAR, CONSTRUCTION_VEHICLE, MOTORCYCLE, PEDESTRIAN, TRAILER, TRUCK})
HORIZONS = (1, 2, 3)  # [s]


def box_collisions(trajectory: np.ndarray, boxes: np.ndarray, valid: np.ndarray) -> np.ndarray:
    """Whether VAD's ego box at each waypoint overlaps an agent box at that waypoint's time.

    Args:
        trajectory: (T, 2) waypoints, ego frame [m].
        boxes: (T, A, 5) agent boxes at each waypoint's time: centre x, y [m], yaw [rad], length, width [m], ego frame.
        valid: (T, A) bool, which boxes exist (and count for VAD's metric).

    Returns:
        (T,) bool.
    """
    length, width = VAD_EGO_SIZE
    hits = np.zeros(len(trajectory), dtype=bool)
    for t, (x, y) in enumerate(np.asarray(trajectory, dtype=np.float64)):
        agents = boxes[t][valid[t]]
        if len(agents) == 0:
            continue
        ego = shapely.box(
            x + VAD_BOX_OFFSET - length / 2, y - width / 2, x + VAD_BOX_OFFSET + length / 2, y + width / 2
        )
        polygons = [box_polygon(*agent) for agent in agents]
        hits[t] = bool(shapely.intersects(ego, polygons).any())
    return hits


def planner_metrics(
    predicted: np.ndarray, expert: np.ndarray, boxes: np.ndarray, valid: np.ndarray
) -> dict[str, float]:
    """``L2_{n}s`` [m] and ``collision_{n}s`` (rate in [0, 1]) for n = 1, 2, 3, averaged over samples.

    Args:
        predicted: (N, 6, 2) planned waypoints, ego frame [m].
        expert: (N, 6, 2) ground-truth waypoints.
        boxes: (N, 6, A, 5) agent boxes at the waypoint times (see ``box_collisions``).
        valid: (N, 6, A) bool.
    """
    predicted, expert = np.asarray(predicted, dtype=np.float64), np.asarray(expert, dtype=np.float64)
    if predicted.shape != expert.shape or predicted.ndim != 3:
        raise ValueError(f"predicted and expert must both be (N, 6, 2), got {predicted.shape} and {expert.shape}")
    errors = np.linalg.norm(predicted - expert, axis=-1)  # (N, 6)
    collisions = np.zeros_like(errors)
    for i in range(len(predicted)):
        counted = ~box_collisions(expert[i], boxes[i], valid[i])
        collisions[i] = box_collisions(predicted[i], boxes[i], valid[i]) & counted
    out: dict[str, float] = {}
    for seconds in HORIZONS:
        steps = 2 * seconds
        out[f"L2_{seconds}s"] = float(errors[:, :steps].mean()) if len(errors) else float("nan")
        out[f"collision_{seconds}s"] = float(collisions[:, :steps].mean()) if len(errors) else float("nan")
    return out
