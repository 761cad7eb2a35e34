import numpy as np
import pytest

from occsim.types import EgoState, Pose2D, Trajectory
from occsim.world.ego import (
    ACCEL_LIMITS,
    MAX_STEER,
    WHEELBASE,
    Control,
    TrajectoryTracker,
    bicycle_step,
    control_from_normalised,
)


def test_bicycle_straight_and_limits():
    s = EgoState(Pose2D(0, 0, 0), 10.0)
    s = bicycle_step(s, Control(100.0, 0.0), 0.1)
    assert s.speed == pytest.approx(10.0 + ACCEL_LIMITS[1] * 0.1)
    assert s.pose.x == pytest.approx(0.5 * (10.0 + s.speed) * 0.1)
    s = bicycle_step(EgoState(Pose2D(0, 0, 0), 0.2), Control(-8.0, 0.0), 0.1)
    assert s.speed == 0.0  # no reversing


def test_bicycle_turns_with_the_kinematic_yaw_rate():
    s = EgoState(Pose2D(0, 0, 0), 5.0)
    s = bicycle_step(s, Control(0.0, 0.3), 0.1)
    assert s.yaw_rate == pytest.approx(5.0 * np.tan(0.3) / WHEELBASE)
    assert s.steering == 0.3
    assert bicycle_step(s, Control(0.0, 5.0), 0.1).steering == MAX_STEER


def test_tracker_follows_a_lane_change_and_a_stop():
    tracker = TrajectoryTracker()
    ego = EgoState(Pose2D(0, 0, 0), 10.0)
    t = np.arange(1, 7) * 0.5
    plan = Trajectory(np.stack([10 * t, 3.5 * np.clip(t / 2.0, 0, 1)], 1))
    for _ in range(3):
        tracker.set_trajectory(Trajectory(ego.pose.to_local(ego.pose.to_parent(plan.points))), ego)
        for k in range(5):
            ego = bicycle_step(ego, tracker.control(ego, k * 0.1), 0.1)
    assert ego.pose.y > 1.0 and abs(ego.speed - 10.0) < 1.0
    tracker.set_trajectory(Trajectory(np.zeros((6, 2))), ego)
    for k in range(30):
        ego = bicycle_step(ego, tracker.control(ego, min(k * 0.1, 0.4)), 0.1)
    assert ego.speed == 0.0


def test_normalised_control_mapping():
    assert control_from_normalised(np.array([1.0, -1.0])) == Control(ACCEL_LIMITS[1], -MAX_STEER)
    assert control_from_normalised(np.array([-1.0, 0.5])) == Control(ACCEL_LIMITS[0], 0.5 * MAX_STEER)
