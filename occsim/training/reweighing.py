"""SyntheOcc's importance reweighing (paper 001, section 3.5, eq. 6-7).

Eq. 6, w(x, m, n) = (m - 1) / 2 * (1 + cos(x / n * pi + pi)) + 1, rises from 1 at x = 0 to m at x = n. It is used
twice on foreground pixels: over training steps (progressive foreground enhancement) and over depth (farther
foreground counts more, up to n = 50 m). Eq. 7 multiplies the noise-prediction squared error by their product.
"""

from __future__ import annotations

import math

import torch

from occsim.classes import BARRIER, TRUCK

FOREGROUND_CLASSES = tuple(range(BARRIER, TRUCK + 1))  # the ten object classes
MAX_WEIGHT = 2.0  # m in eq. 6
MAX_DEPTH = 50.0  # [m] n of the depth-aware reweighing


def cosine_weight(x: torch.Tensor | float, m: float, n: float) -> torch.Tensor:
    """Eq. 6, with x clamped to [0, n]."""
    x = torch.as_tensor(x, dtype=torch.float32).clamp(0.0, n)
    return (m - 1.0) / 2.0 * (1.0 + torch.cos(x / n * math.pi + math.pi)) + 1.0


def loss_weights(
    labels: torch.Tensor,
    depth: torch.Tensor,
    step: int,
    total_steps: int,
    m: float = MAX_WEIGHT,
    max_depth: float = MAX_DEPTH,
) -> torch.Tensor:
    """Per-pixel w of eq. 7: progressive x depth-aware weight on foreground pixels, 1 elsewhere.

    Args:
        labels: (..., H, W) Occ3D class of the nearest surface per pixel.
        depth: (..., H, W) its depth [m].
        step: current training step.
        total_steps: n of the progressive weight.
        m: the largest weight (eq. 6's m) of both factors.
        max_depth: n of the depth-aware weight [m].
    """
    foreground = torch.zeros_like(labels, dtype=torch.bool)
    for cls in FOREGROUND_CLASSES:
        foreground |= labels == cls
    progressive = cosine_weight(float(step), m, float(max(total_steps, 1)))
    weight = progressive * cosine_weight(depth.float(), m, max_depth)
    return torch.where(foreground, weight, torch.ones_like(weight))


def weighted_noise_loss(noise_pred: torch.Tensor, noise: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
    """Eq. 7: mean over elements of the squared error times ``weights`` (broadcast over channels)."""
    return ((noise_pred.float() - noise.float()) ** 2 * weights.unsqueeze(-3)).mean()
