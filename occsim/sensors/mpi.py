"""3D semantic multi-plane images (SyntheOcc, paper 001, section 3.2, eq. 1-3)."""

from __future__ import annotations

import numba
import numpy as np
import torch

from occsim.classes import FREE
from occsim.sensors.parallel import KERNEL_LOCK
from occsim.types import OCC3D_GRID, VoxelGrid

DEFAULT_DEPTHS = tuple(0.2 * (k + 1) for k in range(256))  # [m] 0.2, 0.4, ..., 51.2
LAYOUTS = ("occsim", "official")
# The released SyntheOcc's class ids are SurroundOcc's labels (EnVision-Research/SyntheOcc, utils/gen_mtp.py; objects
# are ids 1-10 in utils/dataset_nusmtv.py l. 252): 0 is empty space, 1-16 are Occ3D's 1-16. Occ3D's "others" (0) has
# no id there and reads as empty, as does FREE (17).
OFFICIAL_IDS = np.array([0, *range(1, 17), 0], dtype=np.uint8)


def build_mpi(
    occupancy: np.ndarray | torch.Tensor,
    intrinsics: np.ndarray | torch.Tensor,
    cam2ego: np.ndarray | torch.Tensor,
    hw: tuple[int, int],
    depths: np.ndarray | torch.Tensor | list[float] | None = None,
    grid: VoxelGrid = OCC3D_GRID,
    backend: str = "auto",
    layout: str = "occsim",
) -> torch.Tensor:
    """The semantic MPI of an occupancy window for a camera rig.

    For each camera, plane depth d and pixel centre (u, v): the label of the voxel holding
    ``cam2ego @ K^-1 @ (u d, v d, d)``, or FREE (17) outside the window.

    ``layout="official"`` gives the released SyntheOcc's condition instead (utils/gen_mtp.py of
    EnVision-Research/SyntheOcc): pixels at whole coordinates (u, v) rather than centres, its class ids
    (``OFFICIAL_IDS``: 0 empty), and a last channel holding the class of each pixel's nearest occupied plane (0 if
    none): (N, D + 1, H, W), 257 channels with the default planes.

    Args:
        occupancy: (200, 200, 16) uint8 Occ3D labels in the ego frame.
        intrinsics: (N, 3, 3) camera matrices for images of size ``hw``.
        cam2ego: (N, 4, 4) camera-to-ego transforms (OpenCV camera axes).
        hw: image (height, width) [px] of the MPI.
        depths: D plane depths [m] along the camera z axis; default 0.2, 0.4, ..., 51.2 (D = 256).
        grid: the voxel grid of ``occupancy``.
        backend: ``numba`` (one-pass CPU kernel), ``torch`` (vectorised, any device) or ``auto`` (numba on CPU).
        layout: ``occsim`` (OccSim's models) or ``official`` (the released SyntheOcc checkpoint).

    Returns:
        (N, D, H, W) uint8 tensor on the device of ``occupancy``; (N, D + 1, H, W) for the official layout.
    """
    if layout not in LAYOUTS:
        raise ValueError(f"layout must be one of {', '.join(LAYOUTS)}, got {layout!r}")
    mpi = _build(occupancy, intrinsics, cam2ego, hw, depths, grid, backend, 0.0 if layout == "official" else 0.5)
    return mpi if layout == "occsim" else official_condition(mpi)


def official_condition(mpi: torch.Tensor) -> torch.Tensor:
    """(N, D + 1, H, W) uint8: an Occ3D-labelled MPI in the release's ids, plus its nearest occupied plane's id."""
    ids = torch.as_tensor(OFFICIAL_IDS, device=mpi.device)[mpi.long()]
    occupied = ids != 0
    first = occupied.to(torch.uint8).argmax(dim=1, keepdim=True)  # the first occupied plane (0 when none is)
    nearest = ids.gather(1, first)  # 0 where no plane is occupied, since plane 0 is then empty too
    return torch.cat([ids, nearest], dim=1)


def _build(
    occupancy: np.ndarray | torch.Tensor,
    intrinsics: np.ndarray | torch.Tensor,
    cam2ego: np.ndarray | torch.Tensor,
    hw: tuple[int, int],
    depths: np.ndarray | torch.Tensor | list[float] | None,
    grid: VoxelGrid,
    backend: str,
    pixel_offset: float,
) -> torch.Tensor:
    """``build_mpi`` in Occ3D labels, pixels sampled at ``pixel_offset`` (0.5: centres) from whole coordinates."""
    occ = torch.as_tensor(occupancy)
    device = occ.device
    if tuple(occ.shape) != grid.shape:
        raise ValueError(f"occupancy must have shape {grid.shape}, got {tuple(occ.shape)}")
    # float64 keeps voxel membership exact at voxel boundaries, so the MPI agrees with a per-pixel reference.
    K = torch.as_tensor(intrinsics, dtype=torch.float64, device=device)
    T = torch.as_tensor(cam2ego, dtype=torch.float64, device=device)
    d = torch.as_tensor(DEFAULT_DEPTHS if depths is None else depths, dtype=torch.float64, device=device)
    h, w = int(hw[0]), int(hw[1])
    n = K.shape[0]

    v, u = torch.meshgrid(
        torch.arange(h, dtype=torch.float64, device=device) + pixel_offset,
        torch.arange(w, dtype=torch.float64, device=device) + pixel_offset,
        indexing="ij",
    )
    pix = torch.stack([u, v, torch.ones_like(u)], dim=-1)  # (H, W, 3)
    rays_cam = torch.einsum("nij,hwj->nhwi", torch.linalg.inv(K), pix)  # camera-frame point at depth 1
    rays_ego = torch.einsum("nij,nhwj->nhwi", T[:, :3, :3], rays_cam)  # (N, H, W, 3)
    origin = T[:, :3, 3]  # (N, 3)

    if backend not in ("auto", "numba", "torch"):
        raise ValueError(f"backend must be 'auto', 'numba' or 'torch', got {backend!r}")
    if backend == "numba" and device.type != "cpu":
        raise ValueError("the numba backend runs on the CPU; move occupancy to the CPU or use backend='torch'")
    if backend == "numba" or (backend == "auto" and device.type == "cpu"):
        out = np.empty((n, d.numel(), h, w), dtype=np.uint8)
        with KERNEL_LOCK:
            _mpi_kernel(
                np.ascontiguousarray(occ.numpy().astype(np.uint8, copy=False)),
                np.ascontiguousarray(rays_ego.numpy()),
                np.ascontiguousarray(origin.numpy()),
                np.ascontiguousarray(d.numpy()),
                np.asarray(grid.lower, dtype=np.float64),
                float(grid.voxel_size),
                out,
            )
        return torch.from_numpy(out)
    return _mpi_torch(occ, rays_ego, origin, d, grid)


def _mpi_torch(
    occ: torch.Tensor, rays_ego: torch.Tensor, origin: torch.Tensor, d: torch.Tensor, grid: VoxelGrid
) -> torch.Tensor:
    """Vectorised lookup for accelerators."""
    device = occ.device
    n, h, w, _ = rays_ego.shape
    # Pad the window with a FREE border and clamp indices into it: points outside the window read FREE
    # without a separate validity mask. Voxel coordinates are (origin - lower) / v + d * (ray / v), one fused op.
    padded = torch.full(tuple(x + 2 for x in grid.shape), FREE, dtype=torch.uint8, device=device)
    padded[1:-1, 1:-1, 1:-1] = occ.to(torch.uint8)
    strides = (padded.shape[1] * padded.shape[2], padded.shape[2], 1)
    lower = torch.tensor(grid.lower, dtype=torch.float64, device=device)
    start = ((origin - lower) / grid.voxel_size + 1.0)[:, None, None, :].expand(n, h, w, 3)  # +1: the border
    step = rays_ego / grid.voxel_size
    # Work in (N, H, W, D) so the depth axis is contiguous (3x faster broadcasting), permute at the end.
    flat = torch.zeros(n, h, w, d.numel(), dtype=torch.int64, device=device)
    for axis in range(3):
        coord = torch.addcmul(start[..., axis, None], step[..., axis, None], d)
        # After clamping to >= 0, truncation toward zero is floor.
        flat.add_(coord.clamp_(0, grid.shape[axis] + 1).to(torch.int64), alpha=strides[axis])
    return padded.reshape(-1)[flat].permute(0, 3, 1, 2).contiguous()


@numba.njit(parallel=True, cache=True)
def _mpi_kernel(occ, rays, origin, depths, lower, voxel, out):  # pragma: no cover - numba
    n, n_depths, h, w = out.shape
    nx, ny, nz = occ.shape
    for job in numba.prange(n * n_depths):
        cam, k = job // n_depths, job % n_depths
        dk = depths[k]
        for r in range(h):
            for c in range(w):
                ix = int(np.floor((origin[cam, 0] + dk * rays[cam, r, c, 0] - lower[0]) / voxel))
                iy = int(np.floor((origin[cam, 1] + dk * rays[cam, r, c, 1] - lower[1]) / voxel))
                iz = int(np.floor((origin[cam, 2] + dk * rays[cam, r, c, 2] - lower[2]) / voxel))
                if 0 <= ix < nx and 0 <= iy < ny and 0 <= iz < nz:
                    out[cam, k, r, c] = occ[ix, iy, iz]
                else:
                    out[cam, k, r, c] = FREE
