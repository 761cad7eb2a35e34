import numpy as np
import pytest
import torch

from occsim.classes import CAR, FREE
from occsim.sensors.mpi import DEFAULT_DEPTHS, build_mpi
from occsim.types import OCC3D_GRID, CameraRig


def reference_mpi(occ, intrinsics, cam2ego, hw, depths):
    """Slow per-pixel SyntheOcc eq. 1-3, straight from the definition."""
    n, (h, w) = len(intrinsics), hw
    out = np.full((n, len(depths), h, w), FREE, dtype=np.uint8)
    for cam in range(n):
        k_inv = np.linalg.inv(intrinsics[cam])
        for layer, d in enumerate(depths):
            for v in range(h):
                for u in range(w):
                    p_cam = k_inv @ np.array([(u + 0.5) * d, (v + 0.5) * d, d])
                    p = cam2ego[cam, :3, :3] @ p_cam + cam2ego[cam, :3, 3]
                    idx = np.floor((p - np.array(OCC3D_GRID.lower)) / OCC3D_GRID.voxel_size).astype(int)
                    if np.all(idx >= 0) and np.all(idx < OCC3D_GRID.shape):
                        out[cam, layer, v, u] = occ[tuple(idx)]
    return out


@pytest.fixture(scope="module")
def case():
    rng = np.random.default_rng(7)
    occ = rng.integers(0, 18, OCC3D_GRID.shape, dtype=np.uint8)
    rig = CameraRig.nuscenes((5, 9))
    depths = np.concatenate([rng.uniform(0.1, 60.0, 14), [0.2, 25.6, 51.2, 70.0]])
    return occ, rig, depths, reference_mpi(occ, rig.intrinsics, rig.cam2ego, rig.hw, depths)


@pytest.mark.parametrize("backend", ["numba", "torch"])
def test_mpi_matches_the_per_pixel_reference_exactly(case, backend):
    occ, rig, depths, expected = case
    mpi = build_mpi(occ, rig.intrinsics, rig.cam2ego, rig.hw, depths, backend=backend)
    assert mpi.dtype == torch.uint8 and tuple(mpi.shape) == expected.shape
    assert np.array_equal(mpi.numpy(), expected)


def test_tensor_input_and_default_planes():
    rig = CameraRig.nuscenes((4, 6))
    mpi = build_mpi(torch.zeros(OCC3D_GRID.shape, dtype=torch.uint8), rig.intrinsics, rig.cam2ego, rig.hw)
    assert mpi.shape == (6, 256, 4, 6)
    assert DEFAULT_DEPTHS[0] == pytest.approx(0.2) and DEFAULT_DEPTHS[-1] == pytest.approx(51.2)
    # planes past the window's reach are free
    assert torch.all(mpi[:, -1] == FREE)


def test_a_car_in_front_shows_in_the_front_camera_at_its_depth():
    occ = np.full(OCC3D_GRID.shape, FREE, dtype=np.uint8)
    xs = (np.arange(200) + 0.5) * 0.4 - 40
    zs = (np.arange(16) + 0.5) * 0.4 - 1
    ix = np.flatnonzero((xs > 12.0) & (xs < 16.0))
    iy = np.flatnonzero(np.abs(xs) < 1.0)
    iz = np.flatnonzero((zs > 0.0) & (zs < 1.6))
    occ[np.ix_(ix, iy, iz)] = CAR
    rig = CameraRig.nuscenes((90, 160))
    depths = np.arange(0.2, 30.0, 0.2)
    mpi = build_mpi(occ, rig.intrinsics, rig.cam2ego, rig.hw, depths).numpy()
    front = mpi[1]  # CAM_FRONT
    layers = np.flatnonzero((front == CAR).any(axis=(1, 2)))
    first = depths[layers.min()]
    assert 12.0 - 1.70 - 0.3 < first < 12.0 - 1.70 + 0.3  # camera is 1.70 m ahead of the rear axle
    assert not (mpi[4] == CAR).any()  # CAM_BACK does not see it


def test_bad_arguments():
    rig = CameraRig.nuscenes((4, 6))
    with pytest.raises(ValueError, match="shape"):
        build_mpi(np.zeros((10, 10, 10), np.uint8), rig.intrinsics, rig.cam2ego, rig.hw)
    with pytest.raises(ValueError, match="backend"):
        build_mpi(np.zeros(OCC3D_GRID.shape, np.uint8), rig.intrinsics, rig.cam2ego, rig.hw, backend="cuda")


@pytest.mark.gpu
def test_cuda_matches_cpu(case):
    if not torch.cuda.is_available():
        pytest.skip("no CUDA device")
    occ, rig, depths, expected = case
    mpi = build_mpi(torch.as_tensor(occ).cuda(), rig.intrinsics, rig.cam2ego, rig.hw, depths)
    assert mpi.is_cuda and np.array_equal(mpi.cpu().numpy(), expected)


def test_official_layout_follows_the_release_gen_mtp():
    """utils/gen_mtp.py of the release: whole-pixel rays at 1/16 intrinsics, depths 0.2..51.2, SurroundOcc ids
    (0 empty, Occ3D's 1-16 kept), then the nearest occupied plane's id as channel 257."""
    rng = np.random.default_rng(3)
    occ = np.full(OCC3D_GRID.shape, FREE, dtype=np.uint8)
    occ[100:130, 80:120, 0:3] = rng.integers(0, 17, (30, 40, 3))  # a block ahead holding every class, 0 included
    rig = CameraRig.nuscenes((7, 12))
    condition = build_mpi(occ, rig.intrinsics, rig.cam2ego, rig.hw, layout="official").numpy()
    assert condition.shape == (6, 257, 7, 12) and condition.dtype == np.uint8
    depths = np.arange(1, 257) * 0.2
    for cam in range(6):
        k = rig.intrinsics[cam]
        v, u = np.meshgrid(np.arange(7.0), np.arange(12.0), indexing="ij")  # whole pixels, as gen_mtp's meshgrid
        x = (u[None] - k[0, 2]) * depths[:, None, None] / k[0, 0]
        y = (v[None] - k[1, 2]) * depths[:, None, None] / k[1, 1]
        points = np.stack([x, y, np.broadcast_to(depths[:, None, None], x.shape)], axis=-1)
        ego = points @ rig.cam2ego[cam, :3, :3].T + rig.cam2ego[cam, :3, 3]
        idx = np.floor((ego - np.array(OCC3D_GRID.lower)) / OCC3D_GRID.voxel_size).astype(int)
        inside = np.all((idx >= 0) & (idx < OCC3D_GRID.shape), axis=-1)
        labels = np.zeros(inside.shape, dtype=np.uint8)
        found = occ[tuple(idx[inside].T)]
        labels[inside] = np.where((found == FREE) | (found == 0), 0, found)
        assert np.array_equal(condition[cam, :256], labels), cam
        nearest = np.zeros((7, 12), dtype=np.uint8)
        for plane in labels[::-1]:  # far to near, the nearer overwriting, as gen_mtp's fuse_img
            nearest[plane != 0] = plane[plane != 0]
        assert np.array_equal(condition[cam, 256], nearest), cam
    assert condition[:, 256].max() > 0 and condition[:, :256].max() <= 16
