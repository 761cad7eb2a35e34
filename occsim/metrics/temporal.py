"""Temporal consistency of consecutive frames: photometric error after reprojection with the known ego motion.

Each pixel of the current frame is lifted with its depth, moved into the previous frame's ego frame and projected
into the same camera there; the previous image is sampled at that point (bilinear) and compared. Pixels without
depth (sky), on moving things, or that leave the view are left out. A renderer that keeps the world's appearance from
step to step scores low; one that redraws every frame anew scores high. No learned metric (LPIPS, FVD) is needed.
Where the depth is coarse, reprojection itself misses; scoring only the pixels where reference views (rendered from
the world) agree after reprojection keeps those misses out of a renderer's score.
"""

from __future__ import annotations

import cv2
import numpy as np


def reprojection_errors(
    previous: np.ndarray,
    current: np.ndarray,
    depth: np.ndarray,
    compare: np.ndarray,
    intrinsics: np.ndarray,
    cam2ego: np.ndarray,
    motion: np.ndarray,
) -> np.ndarray:
    """(V, H, W) absolute RGB difference [0, 255] between ``current`` and ``previous`` warped onto it; NaN elsewhere.

    Args:
        previous: (V, H, W, 3) uint8 views of the earlier frame.
        current: (V, H, W, 3) uint8 views of the later frame.
        depth: (V, H, W) camera z-depth of the later frame's pixels [m].
        compare: (V, H, W) bool, the pixels to score (static surfaces with a depth).
        intrinsics: (V, 3, 3) for (H, W) images.
        cam2ego: (V, 4, 4) camera-to-ego transforms (the same rig in both frames).
        motion: (4, 4) the later ego frame's points in the earlier ego frame's coordinates.

    Pixels outside ``compare`` or that land outside the earlier view are NaN.
    """
    v, h, w = depth.shape
    ys, xs = np.mgrid[0:h, 0:w].astype(np.float64) + 0.5
    pixels = np.stack([xs, ys, np.ones_like(xs)], axis=-1)  # (H, W, 3)
    errors = np.full((v, h, w), np.nan)
    for i in range(v):
        cam = (pixels @ np.linalg.inv(intrinsics[i]).T) * np.where(compare[i], depth[i], 0.0)[..., None]
        ego = cam @ cam2ego[i][:3, :3].T + cam2ego[i][:3, 3]
        earlier = ego @ motion[:3, :3].T + motion[:3, 3]
        ego2cam = np.linalg.inv(cam2ego[i])
        back = earlier @ ego2cam[:3, :3].T + ego2cam[:3, 3]
        z = back[..., 2]
        proj = back @ intrinsics[i].T
        u = proj[..., 0] / np.maximum(z, 1e-6) - 0.5
        y = proj[..., 1] / np.maximum(z, 1e-6) - 0.5
        inside = compare[i] & (z > 0.5) & (u >= 0) & (u <= w - 1) & (y >= 0) & (y <= h - 1)
        warped = cv2.remap(previous[i], u.astype(np.float32), y.astype(np.float32), cv2.INTER_LINEAR)
        diff = np.abs(warped.astype(np.float64) - current[i].astype(np.float64)).mean(axis=-1)
        errors[i][inside] = diff[inside]
    return errors
