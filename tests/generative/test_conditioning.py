import numpy as np
import pytest

from occsim.classes import CAR, FREE
from occsim.generative.pipelines.conditioning import SKY_DEPTH, latent_condition, plane_depths, pool_min, pool_mode
from occsim.types import OCC3D_GRID, CameraFrames, CameraRig


def test_pooling_takes_each_blocks_mode_and_nearest_depth():
    semantic = np.full((1, 4, 4), 11, np.uint8)
    semantic[0, :2, :2] = [[CAR, CAR], [CAR, 11]]  # 3 of 4 are car
    depth = np.full((1, 4, 4), np.inf, np.float32)
    depth[0, 3, 3] = 12.5
    assert pool_mode(semantic, 2).tolist() == [[[CAR, 11], [11, 11]]]
    assert pool_min(depth, 2).tolist() == [[[SKY_DEPTH, SKY_DEPTH], [SKY_DEPTH, 12.5]]]


def test_latent_condition_has_the_rigs_cameras_at_latent_resolution():
    rig = CameraRig.nuscenes((32, 56))
    occupancy = np.full(OCC3D_GRID.shape, FREE, np.uint8)
    occupancy[120:130, 95:105, :8] = CAR  # a box 8-12 m ahead of the ego
    frames = CameraFrames(
        rgb=np.zeros((6, 32, 56, 3), np.uint8),
        depth=np.full((6, 32, 56), 5.0, np.float32),
        semantic=np.full((6, 32, 56), CAR, np.uint8),
    )
    condition = latent_condition(occupancy, frames, rig, 4, plane_depths(8, 40.0))
    assert condition.mpi.shape == (6, 8, 8, 14) and condition.nearest.shape == (6, 8, 14)
    front, back = rig.names.index("CAM_FRONT"), rig.names.index("CAM_BACK")
    assert (condition.mpi[front] == CAR).any() and not (condition.mpi[back] == CAR).any()
    with pytest.raises(ValueError, match="latent blocks"):
        latent_condition(occupancy, frames, rig, 3, plane_depths(8, 40.0))


def test_plane_depths_are_even_up_to_the_farthest():
    assert plane_depths(4, 40.0).tolist() == [10.0, 20.0, 30.0, 40.0]
