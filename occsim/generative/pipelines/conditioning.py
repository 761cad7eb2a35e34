"""What the diffusion renderers are conditioned on, computed the same way for training pairs and for rendering.

Per camera, at latent resolution: the semantic MPI of the occupancy window (paper 001, eq. 1-3), the label of the
nearest surface (the mode of each latent pixel's block of the raster semantic image) and its depth (the block's
minimum, for the depth-aware reweighing of eq. 6).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch.nn import functional as F

from occsim.classes import CLASS_NAMES, FREE
from occsim.sensors.mpi import build_mpi
from occsim.types import OCC3D_GRID, CameraFrames, CameraRig

SKY_DEPTH = 1000.0  # [m] stands in for the raster's inf (sky), so depths stay finite in float16


@dataclass(frozen=True)
class LatentCondition:
    """The six cameras' condition at latent resolution (h, w)."""

    mpi: np.ndarray  # (6, D, h, w) uint8 Occ3D labels per depth plane, FREE where empty (official layout: its ids, 0)
    nearest: np.ndarray  # (6, h, w) uint8 label of the nearest surface, FREE for sky (official layout: 0)
    depth: np.ndarray  # (6, h, w) float32 camera z-depth of the nearest surface [m], SKY_DEPTH for sky


def plane_depths(planes: int, max_depth: float) -> np.ndarray:
    """``planes`` depths [m] evenly spaced up to ``max_depth`` (SyntheOcc's d_min..d_max, eq. 1)."""
    return np.linspace(max_depth / planes, max_depth, planes)


def latent_condition(
    occupancy: np.ndarray, frames: CameraFrames, rig: CameraRig, factor: int, depths: np.ndarray
) -> LatentCondition:
    """The condition for ``frames`` (rendered with ``rig``) and the ego-frame ``occupancy`` window.

    Args:
        occupancy: (200, 200, 16) uint8 Occ3D window in the ego frame.
        frames: raster frames whose ``semantic`` and ``depth`` give the nearest surface; (6, H, W) with H and W
            multiples of ``factor``.
        rig: the cameras of ``frames``.
        factor: image pixels per latent pixel.
        depths: the MPI's plane depths [m].
    """
    h, w = frames.semantic.shape[1:]
    if h % factor or w % factor:
        raise ValueError(f"frames of {h}x{w} px do not split into {factor}x{factor} latent blocks")
    latent = rig.resized((h // factor, w // factor))
    mpi = build_mpi(occupancy, latent.intrinsics, latent.cam2ego, latent.hw, depths).numpy()
    return LatentCondition(mpi, pool_mode(frames.semantic, factor), pool_min(frames.depth, factor))


def occupancy_condition(
    occupancy: np.ndarray, rig: CameraRig, factor: int, depths: np.ndarray, layout: str = "occsim"
) -> LatentCondition:
    """The condition from the occupancy window alone, for views no raster pass drew (real camera images).

    The nearest surface is each latent pixel's first occupied MPI plane and its depth that plane's (SKY_DEPTH where
    none is). ``layout="official"`` stores the released SyntheOcc's MPI and nearest channel (``build_mpi``).

    Args:
        occupancy: (200, 200, 16) uint8 Occ3D window in the ego frame.
        rig: the cameras at the views' size (multiples of ``factor``).
        factor: image pixels per latent pixel.
        depths: the MPI's plane depths [m].
        layout: ``occsim`` or ``official``.
    """
    h, w = rig.hw
    latent = rig.resized((h // factor, w // factor))
    built = build_mpi(occupancy, latent.intrinsics, latent.cam2ego, latent.hw, depths, layout=layout).numpy()
    mpi, empty = (built[:, :-1], 0) if layout == "official" else (built, FREE)
    occupied = mpi != empty
    first = occupied.argmax(axis=1)
    seen = occupied.any(axis=1)
    nearest = np.where(seen, np.take_along_axis(mpi, first[:, None], 1)[:, 0], empty).astype(np.uint8)
    depth = np.where(seen, np.asarray(depths, dtype=np.float64)[first], SKY_DEPTH).astype(np.float32)
    return LatentCondition(np.ascontiguousarray(mpi), nearest, depth)


def _blocks(a: np.ndarray, f: int) -> np.ndarray:
    n, h, w = a.shape
    return a.reshape(n, h // f, f, w // f, f).transpose(0, 1, 3, 2, 4).reshape(n, h // f, w // f, f * f)


def pool_mode(semantic: np.ndarray, factor: int) -> np.ndarray:
    """The most frequent label in each ``factor`` x ``factor`` block: (N, H/f, W/f) uint8."""
    blocks = _blocks(semantic, factor)
    counts = np.stack([(blocks == c).sum(axis=-1) for c in range(len(CLASS_NAMES))], axis=-1)
    return counts.argmax(axis=-1).astype(np.uint8)


def pool_min(depth: np.ndarray, factor: int) -> np.ndarray:
    """The nearest depth in each ``factor`` x ``factor`` block [m]: (N, H/f, W/f) float32, sky at SKY_DEPTH."""
    return np.minimum(_blocks(depth, factor).min(axis=-1), SKY_DEPTH).astype(np.float32)


def frustum_points(
    intrinsics: torch.Tensor, cam2ego: torch.Tensor, hw: tuple[int, int], depths: torch.Tensor
) -> torch.Tensor:
    """(..., D, h, w, 3) ego-frame points of every MPI cell: ``cam2ego @ K^-1 @ (u d, v d, d)`` at pixel centres.

    The same points ``build_mpi`` looks up, for (..., 3, 3) intrinsics of ``hw`` images and (..., 4, 4) poses.
    """
    k, t = intrinsics.float(), cam2ego.float()
    v, u = torch.meshgrid(
        torch.arange(hw[0], device=k.device) + 0.5, torch.arange(hw[1], device=k.device) + 0.5, indexing="ij"
    )
    pix = torch.stack([u, v, torch.ones_like(u)], dim=-1)  # (h, w, 3)
    rays = torch.einsum("...ij,hwj->...hwi", torch.linalg.inv(k), pix)
    rays = torch.einsum("...ij,...hwj->...hwi", t[..., :3, :3], rays)
    d = depths.to(k.device, torch.float32)
    points = rays[..., None, :, :, :] * d.view(-1, 1, 1, 1)  # (..., D, h, w, 3)
    return points + t[..., None, None, None, :3, 3]


def sample_frustum(volume: torch.Tensor, points: torch.Tensor, mode: str = "bilinear") -> torch.Tensor:
    """(B, C, ...) values of a (B, C, X, Y, Z) ego-frame volume over the Occ3D window at (B, ..., 3) points.

    Points outside the window read zero. ``volume`` may be coarser than the Occ3D grid (any X, Y, Z).
    """
    b, c = volume.shape[:2]
    lower = torch.tensor(OCC3D_GRID.lower, dtype=points.dtype, device=points.device)
    extent = torch.tensor(OCC3D_GRID.shape, dtype=points.dtype, device=points.device) * OCC3D_GRID.voxel_size
    normalised = ((points - lower) / extent * 2 - 1).flip(-1)  # grid_sample reads (x=Z, y=Y, z=X)
    grid = normalised.reshape(b, 1, 1, -1, 3)
    sampled = F.grid_sample(volume, grid, mode=mode, padding_mode="zeros", align_corners=False)
    return sampled.view(b, c, *points.shape[1:-1])
