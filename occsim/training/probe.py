"""A small segmentation probe that reads the semantic layout a renderer's images show.

It predicts each latent pixel's nearest-surface class from an image. Trained on raster views, it measures how well
generated views follow the world they were conditioned on: the probe's labels on a generated view against the
world's labels (paper 001 evaluates with a segmentation model the same way, on real data).
"""

from __future__ import annotations

import numpy as np
import torch
from diffusers.configuration_utils import ConfigMixin, register_to_config
from diffusers.models.modeling_utils import ModelMixin
from torch import nn
from torch.nn import functional as F

from occsim.classes import CLASS_NAMES
from occsim.generative.models.images import to_signed


class SegmentationProbe(ModelMixin, ConfigMixin):
    """Convolutions that downsample an image by ``factor`` to per-pixel class logits.

    Args:
        factor: image pixels per output pixel (a power of 2).
        width: channels of the hidden layers.
    """

    @register_to_config
    def __init__(self, factor: int = 4, width: int = 32):
        super().__init__()
        layers: list[nn.Module] = []
        channels = 3
        for _ in range(int(np.log2(factor))):
            layers += [nn.Conv2d(channels, width, 3, stride=2, padding=1), nn.GroupNorm(8, width), nn.SiLU()]
            channels = width
        layers += [nn.Conv2d(channels, width, 3, padding=1), nn.SiLU(), nn.Conv2d(width, len(CLASS_NAMES), 1)]
        self.net = nn.Sequential(*layers)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        """(N, 18, H/f, W/f) logits from (N, 3, H, W) images in [-1, 1]."""
        return self.net(images)

    @torch.no_grad()
    def labels(self, images: np.ndarray, batch: int = 96) -> np.ndarray:
        """(N, H/f, W/f) uint8 predicted classes for (N, H, W, 3) uint8 images."""
        out = []
        for i in range(0, len(images), batch):
            x = to_signed(torch.from_numpy(images[i : i + batch]).permute(0, 3, 1, 2)).to(self.device)
            out.append(self(x).argmax(dim=1).to(torch.uint8).cpu().numpy())
        return np.concatenate(out)


def train_probe(
    images: np.ndarray, labels: np.ndarray, factor: int, steps: int = 600, batch: int = 64, seed: int = 0
) -> tuple[SegmentationProbe, list[float]]:
    """Fit a probe on (N, H, W, 3) uint8 views and their (N, H/f, W/f) labels; returns it and its loss curve."""
    torch.manual_seed(seed)
    probe = SegmentationProbe(factor)
    optimiser = torch.optim.AdamW(probe.parameters(), lr=2e-3)
    rng = np.random.default_rng(seed)
    losses = []
    for _ in range(steps):
        idx = rng.integers(len(images), size=batch)
        x = to_signed(torch.from_numpy(images[idx]).permute(0, 3, 1, 2))
        loss = F.cross_entropy(probe(x), torch.from_numpy(labels[idx]).long())
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
        losses.append(loss.item())
    return probe.eval(), losses


def layout_agreement(predicted: np.ndarray, truth: np.ndarray) -> dict[str, float]:
    """Pixel accuracy and mean IoU (over the classes present in ``truth``) of predicted against true labels."""
    ious = []
    for c in np.unique(truth):
        union = np.logical_or(predicted == c, truth == c).sum()
        ious.append(np.logical_and(predicted == c, truth == c).sum() / union)
    return {"pixel_accuracy": float((predicted == truth).mean()), "miou": float(np.mean(ious))}
