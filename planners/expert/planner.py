"""A privileged rule-based expert in the spirit of PDM-Closed.

Each step it finds the lane the ego is in, proposes paths (its lane, the neighbouring lanes, the nearest oncoming
lane, each with small lateral nudges) and speed targets, rolls each out with an IDM against everything in the
path's corridor (actors predicted at constant velocity, raised static voxels from the occupancy window), rejects
proposals that would collide or leave the road, and drives the one with the best progress after penalties.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from occsim.planners.base import Planner, register_planner
from occsim.planners.expert.idm import first_collision, idm_rollout
from occsim.planners.expert.paths import (
    Path,
    candidate_paths,
    current_lane,
    junction_points,
    lanes_near,
    lateral_offsets,
    pose_at,
)
from occsim.planners.expert.prediction import Sighting, predict_obstacles, project
from occsim.planners.expert.settings import DEFAULT_SETTINGS, ExpertSettings
from occsim.types import WAYPOINT_DT, WAYPOINTS, PlannerInput, Pose2D, PrivilegedInput, RoadLayout, Trajectory


@register_planner("expert")
class ExpertPlanner(Planner):
    """Privileged expert: needs ``privileged=True`` (occupancy, actor table, ego pose) and the reset info's road."""

    privileged = True

    def __init__(
        self, cruise_speed: float | None = None, horizon: float | None = None, settings: ExpertSettings | None = None
    ):
        self.settings = settings or DEFAULT_SETTINGS
        self.cruise_speed = cruise_speed
        self.horizon = self.settings.horizon if horizon is None else horizon
        self.layout: RoadLayout | None = None
        self._choice: tuple[str, float] | None = None  # (lane id, nudge) driven last step
        self._current = ""  # id of the lane the ego is in
        self._turning_route = False  # the layout's route lane turns off the map's lanes
        self._seen: Sighting | None = None  # the actors last step, to estimate how fast each one turns
        self._junctions = np.zeros((0, 2))  # world points where the route crosses another road's lane

    def reset(self, info: dict[str, Any]) -> None:
        """Take the road layout from the reset info."""
        if "road" not in info:
            raise ValueError("the expert planner needs the env's privileged information: make it with privileged=True")
        self.layout = info["road"]
        self._choice = None
        self._seen = None
        self._junctions = junction_points(self.layout, self.settings)
        roads = {lane.id: lane.road for lane in self.layout.lanes}
        route_road = roads.get(self.layout.route_lane, -1)
        # A route that turns is a road of its own, after the map's: only then does it override the nearest lane.
        self._turning_route = route_road > max((r for i, r in roads.items() if i != self.layout.route_lane), default=0)

    def plan(self, inputs: PlannerInput, privileged: PrivilegedInput | None = None) -> Trajectory:
        """Best collision-free proposal, or the hardest stop if none is."""
        if self.layout is None:
            raise RuntimeError("call reset(info) before plan()")
        if privileged is None:
            raise ValueError("the expert planner needs the privileged inputs (occupancy, actors)")
        s = self.settings
        x, y, yaw = (float(v) for v in inputs.ego_pose)
        speed = float(inputs.ego[0])
        cruise = self.cruise_speed or self.layout.speed_limit
        obstacles = predict_obstacles(privileged.actors, privileged.occupancy, self._yaw_rates(inputs, privileged), s)
        best, best_score, fallback = None, -np.inf, None
        for path in self._paths(Pose2D(x, y, yaw), speed):
            if fallback is None or (path.lane, path.nudge) == self._choice:
                fallback = path
            boxes = project(obstacles, path, s)
            for fraction in s.speed_fractions:
                stations, _ = idm_rollout(path, boxes, speed, fraction * cruise, self.horizon, s)
                score = stations[-1] - self._cost(path)
                if first_collision(path, boxes, stations, s) is None and score > best_score:
                    best, best_score = (path, stations), score
        if best is None:  # nothing is safe: brake as hard as possible, keeping to the path already chosen
            times = WAYPOINT_DT * np.arange(1, WAYPOINTS + 1)
            stop_time = speed / s.hard_brake
            braking = speed * times - 0.5 * s.hard_brake * times**2
            return Trajectory(pose_at(fallback, np.where(times < stop_time, braking, speed * stop_time / 2)))
        path, stations = best
        self._choice = (path.lane, path.nudge)
        times = np.arange(len(stations)) * s.roll_dt
        return Trajectory(pose_at(path, np.interp(WAYPOINT_DT * np.arange(1, WAYPOINTS + 1), times, stations)))

    def _yaw_rates(self, inputs: PlannerInput, privileged: PrivilegedInput) -> np.ndarray:
        """Each actor's turn rate [rad/s], read as a turn only near a junction (elsewhere a lane change)."""
        x, y, yaw = (float(v) for v in inputs.ego_pose)
        sighting = Sighting.of(privileged.actors, x, y, yaw, float(inputs.timestamp))
        yaw_rates = sighting.yaw_rates(self._seen, self.settings)
        self._seen = sighting
        if not len(self._junctions):
            return np.zeros_like(yaw_rates)
        gap = np.hypot(*(sighting.xy[:, None] - self._junctions[None]).transpose(2, 0, 1)).min(axis=1)
        return np.where(gap < self.settings.turn_zone, yaw_rates, 0.0)

    def _cost(self, path: Path) -> float:
        s = self.settings
        cost = s.nudge_cost * abs(path.nudge)
        if path.lane != self._current:
            cost += s.oncoming_cost if path.oncoming else s.lane_change_cost
        if self._choice == (path.lane, path.nudge):
            cost -= s.keep_bonus
        return cost

    def _paths(self, pose: Pose2D, speed: float) -> list[Path]:
        """Candidate paths in the ego frame, the current lane first; the current lane is chosen before them."""
        views = lanes_near(self.layout, pose, self.settings)
        lateral = lateral_offsets(views)
        current = current_lane(views, lateral, self.layout.route_lane, self._turning_route)
        self._current = current.view.lane.id
        junctions = pose.to_local(self._junctions)
        return list(candidate_paths(views, lateral, current, speed, junctions, self.settings))
