"""The one image normalisation pair every model here uses: uint8 RGB to [-1, 1] floats, and back."""

from __future__ import annotations

import numpy as np
import torch


def to_signed(images: torch.Tensor) -> torch.Tensor:
    """Float images in [-1, 1] from uint8-valued ones (any layout)."""
    return images.float() / 127.5 - 1.0


def to_uint8(images: torch.Tensor) -> np.ndarray:
    """(N, H, W, 3) uint8 RGB from (N, 3, H, W) decoded images in about [-1, 1]."""
    images = ((images.float().clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8)
    return images.permute(0, 2, 3, 1).cpu().numpy()
