"""Semantic occupancy agreement as Occ3D-nuScenes scores it.

IoU per class over the 17 occupied classes (their mean is the mIoU), and the IoU of occupied against free.
"""

from __future__ import annotations

import numpy as np

from occsim.classes import FREE


def occupancy_iou(predicted: np.ndarray, truth: np.ndarray) -> dict[str, float | dict[int, float]]:
    """MIoU and geometric IoU of ``predicted`` against ``truth`` (same-shape label grids).

    Returns:
        ``miou``: the mean over the occupied classes present in either grid (NaN if none); ``iou``: occupied vs
        FREE; ``per_class``: {class id: IoU} for those classes.
    """
    predicted, truth = np.asarray(predicted), np.asarray(truth)
    if predicted.shape != truth.shape:
        raise ValueError(f"shapes differ: {predicted.shape} vs {truth.shape}")
    per_class = {}
    for c in np.union1d(np.unique(predicted), np.unique(truth)):
        if c == FREE:
            continue
        p, t = predicted == c, truth == c
        per_class[int(c)] = float((p & t).sum() / (p | t).sum())
    occupied_p, occupied_t = predicted != FREE, truth != FREE
    union = (occupied_p | occupied_t).sum()
    return {
        "miou": float(np.mean(list(per_class.values()))) if per_class else float("nan"),
        "iou": float((occupied_p & occupied_t).sum() / union) if union else float("nan"),
        "per_class": per_class,
    }
