import numpy as np

from occsim.generative.pipelines.occscene import ego_motion
from occsim.metrics.temporal import reprojection_errors
from occsim.scenarios import load_scenario
from occsim.sim import Simulation
from occsim.types import Trajectory


def test_the_true_ego_motion_reprojects_raster_frames_far_better_than_none():
    sim = Simulation(camera_hw=(64, 112))
    sim.reset(load_scenario("parked_cars_narrowing"), seed=0)
    before, pose_before = sim.frames, sim.world.ego.pose
    sim.step(Trajectory.constant_velocity(8.0))
    after, pose_after = sim.frames, sim.world.ego.pose
    motion = ego_motion((pose_after.x, pose_after.y, pose_after.yaw), (pose_before.x, pose_before.y, pose_before.yaw))
    compare = np.isfinite(after.depth) & (after.depth < 60)
    args = (before.rgb, after.rgb, after.depth, compare, sim.rig.intrinsics, sim.rig.cam2ego)
    moved = np.nanmean(reprojection_errors(*args, motion.numpy().astype(np.float64)))
    still = np.nanmean(reprojection_errors(*args, np.eye(4)))
    assert moved < 0.6 * still
    same = reprojection_errors(
        after.rgb, after.rgb, after.depth, compare, sim.rig.intrinsics, sim.rig.cam2ego, np.eye(4)
    )
    assert np.nanmax(same) < 1.0  # a frame against itself: only bilinear rounding
    assert np.isnan(same[~compare]).all()
