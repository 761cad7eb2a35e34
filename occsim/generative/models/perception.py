"""Camera-based semantic occupancy prediction (OccScene's perception model f_delta, paper 000, section III-B).

Six views in, the Occ3D window's classes out at a coarser grid (default 1.6 m x 1.6 m x 0.8 m: 50 x 50 x 8 cells).
A shared 2D encoder reads each view; MonoScene's FLoSP lifting samples every cell centre's projection in every
camera (``grid_sample``, through the observation's intrinsics and extrinsics) and averages over the cameras that see
it; a FlashOcc-style head runs 2D convolutions on the bird's-eye plane with height folded into channels and unfolds
class logits per height. Losses are MonoScene's (eq. 2): class-weighted cross-entropy plus the semantic and
geometric scene-class affinity losses.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import torch
from diffusers.configuration_utils import ConfigMixin, register_to_config
from diffusers.models.modeling_utils import ModelMixin
from torch import nn
from torch.nn import functional as F

from occsim.classes import CLASS_NAMES, FREE
from occsim.generative.models.images import to_signed
from occsim.types import OCC3D_GRID, CameraRig

NUM_CLASSES = len(CLASS_NAMES)
SMALL_PERCEPTION = Path(__file__).parents[1] / "weights" / "perception-small"  # trained by `occsim train-perception`


def coarsen_occupancy(occupancy: np.ndarray, factor: tuple[int, int, int] = (4, 4, 2)) -> np.ndarray:
    """(..., X, Y, Z) Occ3D labels -> (..., X/fx, Y/fy, Z/fz): each cell's most frequent occupied class, else FREE.

    Any occupied fine voxel makes the cell occupied, so thin things (cones, poles, pedestrians) survive coarsening.
    """
    fx, fy, fz = factor
    *lead, x, y, z = occupancy.shape
    blocks = occupancy.reshape(*lead, x // fx, fx, y // fy, fy, z // fz, fz)
    blocks = np.moveaxis(blocks, (-5, -3, -1), (-3, -2, -1)).reshape(*lead, x // fx, y // fy, z // fz, fx * fy * fz)
    counts = np.stack([(blocks == c).sum(axis=-1) for c in range(FREE)], axis=-1)  # occupied classes only
    return np.where(counts.sum(axis=-1) > 0, counts.argmax(axis=-1), FREE).astype(np.uint8)


class OccupancyPerception(ModelMixin, ConfigMixin):
    """Six views -> (18, X, Y, Z) class logits over the coarsened Occ3D window (ego frame).

    Args:
        coarse: fine voxels per cell along x, y, z.
        channels: feature channels of the 2D encoder (and of each lifted cell).
        hidden: channels of the bird's-eye head.
        stride: image pixels per encoder feature (a power of 2).
        image_hw: the view size it is trained on; ``PerceptionMeter`` resizes other views to it.
    """

    @register_to_config
    def __init__(
        self,
        coarse: tuple[int, int, int] = (4, 4, 2),
        channels: int = 16,
        hidden: int = 128,
        stride: int = 4,
        image_hw: tuple[int, int] = (64, 112),
    ):
        super().__init__()
        layers: list[nn.Module] = []
        c_in = 3
        for _ in range(int(np.log2(stride))):
            layers += [nn.Conv2d(c_in, channels * 2, 3, stride=2, padding=1), nn.GroupNorm(8, channels * 2), nn.SiLU()]
            c_in = channels * 2
        layers += [nn.Conv2d(c_in, channels, 3, padding=1)]
        self.encoder = nn.Sequential(*layers)
        shape = tuple(s // f for s, f in zip(OCC3D_GRID.shape, coarse, strict=True))
        self.grid_shape = shape
        size = np.array([OCC3D_GRID.voxel_size * f for f in coarse])
        axes = [OCC3D_GRID.lower[i] + (np.arange(shape[i]) + 0.5) * size[i] for i in range(3)]
        centres = np.stack(np.meshgrid(*axes, indexing="ij"), axis=-1).reshape(-1, 3)  # (X*Y*Z, 3) ego frame [m]
        self.register_buffer("centres", torch.as_tensor(centres, dtype=torch.float32), persistent=False)
        z = shape[2]
        self.head = nn.Sequential(
            nn.Conv2d(channels * z, hidden, 3, padding=1),
            nn.GroupNorm(8, hidden),
            nn.SiLU(),
            nn.Conv2d(hidden, hidden, 3, padding=2, dilation=2),
            nn.GroupNorm(8, hidden),
            nn.SiLU(),
            nn.Conv2d(hidden, hidden, 3, padding=1),
            nn.SiLU(),
            nn.Conv2d(hidden, NUM_CLASSES * z, 1),
        )

    def lift(self, features: torch.Tensor, intrinsics: torch.Tensor, cam2ego: torch.Tensor) -> torch.Tensor:
        """FLoSP: (B, V, C, h, w) view features -> (B, C, X, Y, Z) cell features, averaged over seeing cameras.

        ``intrinsics`` (B, V, 3, 3) are for the feature maps' size; ``cam2ego`` (B, V, 4, 4).
        """
        b, v, c, h, w = features.shape
        ego2cam = torch.linalg.inv(cam2ego.float())
        points = self.centres.to(features.dtype)
        cam = torch.einsum("bvij,nj->bvni", ego2cam[..., :3, :3], points) + ego2cam[..., None, :3, 3]
        depth = cam[..., 2:3]
        pix = torch.einsum("bvij,bvnj->bvni", intrinsics.float(), cam)[..., :2] / depth.clamp(min=1e-3)
        grid = torch.stack([pix[..., 0] / w * 2 - 1, pix[..., 1] / h * 2 - 1], dim=-1)  # (B, V, N, 2)
        seen = (depth[..., 0] > 0.1) & (grid.abs() <= 1).all(dim=-1)  # (B, V, N)
        sampled = F.grid_sample(features.flatten(0, 1), grid.flatten(0, 1)[:, None], align_corners=False)
        sampled = sampled[:, :, 0].view(b, v, c, -1) * seen[:, :, None]
        lifted = sampled.sum(dim=1) / seen.sum(dim=1).clamp(min=1)[:, None]  # (B, C, N)
        return lifted.view(b, c, *self.grid_shape)

    def forward(self, images: torch.Tensor, intrinsics: torch.Tensor, cam2ego: torch.Tensor) -> torch.Tensor:
        """(B, 18, X, Y, Z) logits from (B, V, 3, H, W) images in [-1, 1] and the cameras they were taken with.

        Args:
            images: the views.
            intrinsics: (B, V, 3, 3) for images of size (H, W).
            cam2ego: (B, V, 4, 4) camera-to-ego transforms (OpenCV camera axes).
        """
        b, v = images.shape[:2]
        features = self.encoder(images.flatten(0, 1))
        features = features.view(b, v, *features.shape[1:])
        scale = torch.tensor(
            [features.shape[-1] / images.shape[-1], features.shape[-2] / images.shape[-2], 1.0], device=images.device
        )
        cells = self.lift(features, intrinsics * scale[:, None], cam2ego)  # (B, C, X, Y, Z)
        z = self.grid_shape[2]
        bev = cells.permute(0, 1, 4, 2, 3).flatten(1, 2)  # (B, C * Z, X, Y)
        logits = self.head(bev).view(b, NUM_CLASSES, z, *self.grid_shape[:2])
        return logits.permute(0, 1, 3, 4, 2)  # (B, 18, X, Y, Z)


def class_weights(labels: np.ndarray) -> torch.Tensor:
    """MonoScene's class weights, 1 / log(frequency), from (..., X, Y, Z) training labels."""
    counts = np.bincount(labels.reshape(-1), minlength=NUM_CLASSES).astype(np.float64)
    frequency = counts / counts.sum()
    return torch.as_tensor(1.0 / np.log(frequency + 1.02), dtype=torch.float32)  # 1.02: finite for absent classes


def perception_loss(
    logits: torch.Tensor, target: torch.Tensor, weights: torch.Tensor, lambdas: tuple[float, float, float] = (1, 1, 1)
) -> torch.Tensor:
    """Eq. 2: lambda_ce * class-weighted CE + lambda_sem * L_sem + lambda_geo * L_geo (MonoScene's SCAL losses)."""
    ce = F.cross_entropy(logits, target.long(), weight=weights.to(logits.device))
    probs = logits.softmax(dim=1)
    return (
        lambdas[0] * ce
        + lambdas[1] * semantic_scal_loss(probs, target)
        + lambdas[2] * geometric_scal_loss(probs, target)
    )


def _affinity(p: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    """BCE of precision, recall and specificity against 1, for probabilities ``p`` of a binary target ``t``."""
    eps = 1e-6
    hit = (p * t).sum()
    loss = p.new_zeros(())
    if p.sum() > 0:
        loss = loss + F.binary_cross_entropy((hit / (p.sum() + eps)).clamp(eps, 1 - eps), p.new_ones(()))
    if t.sum() > 0:
        loss = loss + F.binary_cross_entropy((hit / (t.sum() + eps)).clamp(eps, 1 - eps), p.new_ones(()))
    if (1 - t).sum() > 0:
        specificity = ((1 - p) * (1 - t)).sum() / ((1 - t).sum() + eps)
        loss = loss + F.binary_cross_entropy(specificity.clamp(eps, 1 - eps), p.new_ones(()))
    return loss


def semantic_scal_loss(probs: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """MonoScene's semantic scene-class affinity loss, averaged over the classes present in ``target``."""
    present = [c for c in range(NUM_CLASSES) if (target == c).any()]
    return torch.stack([_affinity(probs[:, c], (target == c).float()) for c in present]).mean()


def geometric_scal_loss(probs: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """MonoScene's geometric scene-class affinity loss: the same on occupied (not FREE) against empty."""
    return _affinity(1 - probs[:, FREE], (target != FREE).float())


class PerceptionMeter:
    """What a perception model sees in rendered views: coarse occupancy labels from six images and their cameras.

    Args:
        model: a trained ``OccupancyPerception``.
    """

    def __init__(self, model: OccupancyPerception):
        self.model = model.eval()

    @classmethod
    def load(cls, weights: str | Path | None = None, device: str = "cpu") -> PerceptionMeter:
        """A meter reading ``weights`` (a ``train-perception`` folder); default the small model shipped with OccSim.

        Raises:
            FileNotFoundError: ``weights`` holds no perception model.
        """
        folder = Path(weights) if weights else SMALL_PERCEPTION
        if not (folder / "config.json").is_file():
            raise FileNotFoundError(f"{folder} holds no perception model; train one with `occsim train-perception`")
        return cls(OccupancyPerception.from_pretrained(folder, local_files_only=True).to(device))

    @torch.no_grad()
    def perceive(self, rgb: np.ndarray, rig: CameraRig) -> np.ndarray:
        """(X, Y, Z) uint8 labels from (6, H, W, 3) uint8 views taken with ``rig`` (resized to the model's size)."""
        h, w = self.model.config.image_hw
        if rgb.shape[1:3] != (h, w):
            rgb = np.stack([cv2.resize(view, (w, h), interpolation=cv2.INTER_AREA) for view in rgb])
            rig = rig.resized((h, w))
        images = to_signed(torch.from_numpy(rgb).permute(0, 3, 1, 2)[None]).to(self.model.device)
        k = torch.as_tensor(rig.intrinsics, dtype=torch.float32, device=self.model.device)[None]
        t = torch.as_tensor(rig.cam2ego, dtype=torch.float32, device=self.model.device)[None]
        return self.model(images, k, t)[0].argmax(dim=0).to(torch.uint8).cpu().numpy()
