"""What the diffusion renderers are conditioned on, computed the same way for training pairs and for rendering.

Per camera, at latent resolution: the semantic MPI of the occupancy window (paper 001, eq. 1-3), the label of the
nearest surface (the mode of each latent pixel's block of the raster semantic image) and its depth (the block's
minimum, for the depth-aware reweighing of eq. 6).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from occsim.classes import CLASS_NAMES
from occsim.sensors.mpi import build_mpi
from occsim.types import CameraFrames, CameraRig

SKY_DEPTH = 1000.0  # [m] stands in for the raster's inf (sky), so depths stay finite in float16


@dataclass(frozen=True)
class LatentCondition:
    """The six cameras' condition at latent resolution (h, w)."""

    mpi: np.ndarray  # (6, D, h, w) uint8 Occ3D labels per depth plane, FREE where a plane is empty
    nearest: np.ndarray  # (6, h, w) uint8 label of the nearest surface, FREE for sky
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
