"""Mamba-based Dual Alignment (OccScene, paper 000, section III-C, Fig. 3): occupancy meets the diffusion latent.

For each view, the occupancy in the camera's frustum (one plane per depth, at latent resolution) is embedded, shaped
by a deformable 3D convolution of its frame's own (eq. 4; the sampling through ``grid_sample``) and gated by the
frame's camera through the parameter encoder of eq. 3 (FC -> reshape -> conv -> sigmoid). Both are cut into
patches; for every patch position the depth-wise occupancy patches of each frame are followed by that frame's latent
patch, frames in time order, so what belongs together is scanned close together. A bidirectional Mamba block scans
the sequence; the current frame's latent tokens leave through a zero-initialised convolution (eq. 9), so at
initialisation the module adds nothing. ``mixer="attention"`` swaps the scan for self-attention (the paper's
attention baseline, Tables VI-VII), with or without the camera encoding.
"""

from __future__ import annotations

import numpy as np
import torch
from diffusers.configuration_utils import ConfigMixin, register_to_config
from diffusers.models.modeling_utils import ModelMixin
from torch import nn
from torch.nn import functional as F

from occsim.generative.models.mamba import BidirectionalMamba

MIXERS = ("mamba", "attention")
CAMERA_PARAMETERS = 16  # fx/w, fy/h, cx/w, cy/h, rotation (9), translation / 10 m (3)


def camera_parameters(
    intrinsics: np.ndarray | torch.Tensor, cam2ego: np.ndarray | torch.Tensor, image_hw: tuple[int, int]
) -> torch.Tensor:
    """(..., 16) camera vectors for eq. 3 from (..., 3, 3) intrinsics of ``image_hw`` images and (..., 4, 4) poses.

    The pose is the camera in the current frame's ego frame, so a past frame's cameras carry the ego's motion.
    """
    k = torch.as_tensor(intrinsics, dtype=torch.float32)
    t = torch.as_tensor(cam2ego, dtype=torch.float32)
    h, w = image_hw
    lens = torch.stack([k[..., 0, 0] / w, k[..., 1, 1] / h, k[..., 0, 2] / w, k[..., 1, 2] / h], dim=-1)
    return torch.cat([lens, t[..., :3, :3].flatten(-2), t[..., :3, 3] / 10.0], dim=-1)


class CameraEncoder(nn.Module):
    """Eq. 3: sigmoid(Conv(Reshape(FC(P)))): a per-depth, per-channel gate in (0, 1) from a camera vector."""

    def __init__(self, channels: int, depth: int, hidden: int = 16, parameters: int = CAMERA_PARAMETERS):
        super().__init__()
        self.depth, self.hidden = depth, hidden
        self.fc = nn.Linear(parameters, hidden * depth)
        self.conv = nn.Conv1d(hidden, channels, 3, padding=1)

    def forward(self, cameras: torch.Tensor) -> torch.Tensor:
        """(B, 16) -> (B, channels, depth, 1, 1)."""
        x = self.fc(cameras).view(-1, self.hidden, self.depth)
        return torch.sigmoid(self.conv(x))[..., None, None]


class DeformableConv3d(nn.Module):
    """Eq. 4: sum_k w_k X(p + p_k + dp_k) over a 3 x 3 x 3 kernel, learned offsets dp_k, sampled with grid_sample.

    The offsets start at zero, so it starts as a plain 3D convolution. (torchvision's deformable convolution is 2D
    only and not built for this CPU.)
    """

    def __init__(self, channels_in: int, channels_out: int):
        super().__init__()
        kernel = torch.stack(torch.meshgrid(*[torch.arange(-1.0, 2.0)] * 3, indexing="ij"), dim=-1).view(-1, 3)
        self.register_buffer("kernel", kernel, persistent=False)  # (27, 3) offsets p_k in voxels: (d, h, w)
        self.offsets = nn.Conv3d(channels_in, 3 * len(kernel), 3, padding=1)
        nn.init.zeros_(self.offsets.weight)
        nn.init.zeros_(self.offsets.bias)
        self.weight = nn.Conv3d(channels_in * len(kernel), channels_out, 1)  # the w_k of every kernel point

    def forward(self, volume: torch.Tensor) -> torch.Tensor:
        """(B, C, D, H, W) -> (B, C_out, D, H, W)."""
        b, c, d, h, w = volume.shape
        k = len(self.kernel)
        offsets = self.offsets(volume).view(b, k, 3, d, h, w)
        axes = [torch.arange(n, dtype=volume.dtype, device=volume.device) for n in (d, h, w)]
        base = torch.stack(torch.meshgrid(*axes, indexing="ij"), dim=0)  # (3, D, H, W) voxel indices
        where = base[None, None] + self.kernel[None, :, :, None, None, None].to(volume.dtype) + offsets
        scale = torch.tensor([2.0 / max(n - 1, 1) for n in (d, h, w)], dtype=volume.dtype, device=volume.device)
        grid = where.permute(0, 1, 3, 4, 5, 2) * scale - 1.0  # (B, K, D, H, W, 3) normalised (d, h, w)
        grid = grid.flip(-1).reshape(b, k * d, h, w, 3)  # grid_sample wants (x=w, y=h, z=d)
        sampled = F.grid_sample(volume, grid, align_corners=True, padding_mode="zeros")  # (B, C, K*D, H, W)
        return self.weight(sampled.view(b, c, k, d, h, w).flatten(1, 2))


class AttentionMixer(nn.Module):
    """Pre-norm residual self-attention over the whole sequence: the quadratic baseline for the Mamba scan."""

    def __init__(self, dim: int, heads: int = 4):
        super().__init__()
        self.norm = nn.LayerNorm(dim)
        self.attention = nn.MultiheadAttention(dim, heads, batch_first=True)

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        """(B, L, dim) -> (B, L, dim)."""
        h = self.norm(tokens)
        return tokens + self.attention(h, h, h, need_weights=False)[0]


def make_mixer(mixer: str, dim: int, state: int = 8) -> nn.Module:
    """The sequence mixer by name: ``mamba`` (linear in length) or ``attention`` (quadratic)."""
    if mixer not in MIXERS:
        raise ValueError(f"mixer must be one of {', '.join(MIXERS)}, got {mixer!r}")
    return BidirectionalMamba(dim, state=state) if mixer == "mamba" else AttentionMixer(dim)


class MambaDualAlignment(ModelMixin, ConfigMixin):
    """Occupancy frustum volumes and latents of up to ``frames`` frames -> a residual for the current frame.

    Args:
        occupancy_channels: channels of the frustum volume (18 one-hot world classes, plus 18 perceived class
            probabilities in the joint scheme).
        latent_channels: channels of the diffusion latent.
        out_channels: channels of the residual (the ControlNet's conditioning width).
        depth: depth planes of the frustum volume.
        frames: frames in the window (the last one is being generated; the others are context, oldest first).
        channels: occupancy feature channels.
        dim: token width.
        patch: latent pixels per patch side.
        state: SSM state size of the Mamba scan.
        mixer: ``mamba`` (bidirectional scan) or ``attention``.
        camera_encoding: gate the occupancy features with the camera encoder of eq. 3.
    """

    @register_to_config
    def __init__(
        self,
        occupancy_channels: int = 36,
        latent_channels: int = 4,
        out_channels: int = 64,
        depth: int = 8,
        frames: int = 2,
        channels: int = 8,
        dim: int = 64,
        patch: int = 4,
        state: int = 8,
        mixer: str = "mamba",
        camera_encoding: bool = True,
    ):
        super().__init__()
        self.embed = nn.Conv3d(occupancy_channels, channels, 1)
        self.deform = nn.ModuleList(DeformableConv3d(channels, channels) for _ in range(frames))  # one per frame
        self.camera_encoder = CameraEncoder(channels, depth) if camera_encoding else None
        self.occupancy_tokens = nn.Linear(channels * patch * patch, dim)
        self.latent_tokens = nn.Linear(latent_channels * patch * patch, dim)
        self.position = nn.Parameter(torch.randn(frames, depth + 1, dim) * 0.02)
        self.sequence_mixer = make_mixer(mixer, dim, state)
        self.out = nn.Linear(dim, out_channels * patch * patch)
        self.zero_conv = nn.Conv2d(out_channels, out_channels, 1)
        nn.init.zeros_(self.zero_conv.weight)
        nn.init.zeros_(self.zero_conv.bias)

    def frame_features(self, occupancy: torch.Tensor, cameras: torch.Tensor, slot: int) -> torch.Tensor:
        """Camera-aware occupancy features of one frame (eq. 3-4): (B, C_occ, D, h, w) -> (B, C, D, h, w).

        Args:
            occupancy: the frame's frustum volumes, one row per view.
            cameras: (B, 16) ``camera_parameters`` of its views.
            slot: its place in the window (0 the oldest, ``frames - 1`` the current frame): its own deformable conv.
        """
        x = self.deform[slot](self.embed(occupancy))
        return x * self.camera_encoder(cameras) if self.camera_encoder is not None else x

    def align(self, features: torch.Tensor, latents: torch.Tensor) -> torch.Tensor:
        """Patch stacking, the bidirectional scan and eq. 9's zero conv: the current (last) frame's residual.

        Args:
            features: (B, N, C, D, h, w) ``frame_features`` of N <= ``frames`` frames, oldest first.
            latents: (B, N, C_L, h, w) latents of the same frames (context frames clean, the last one noisy).

        Returns:
            (B, out_channels, h, w).
        """
        b, n, c, d, h, w = features.shape
        frames, p = self.config.frames, self.config.patch
        if n > frames or d != self.config.depth:
            raise ValueError(f"expected <= {frames} frames of {self.config.depth} planes, got {n} of {d}")
        # per patch position: [occupancy planes 1..D, latent] of each frame, frames in time order
        x = features.view(b, n, c, d, h // p, p, w // p, p).permute(0, 4, 6, 1, 3, 2, 5, 7)
        x = x.reshape(b, -1, n, d, c * p * p)
        lat = latents.view(b, n, -1, h // p, p, w // p, p).permute(0, 3, 5, 1, 2, 4, 6).reshape(b, x.shape[1], n, 1, -1)
        tokens = torch.cat([self.occupancy_tokens(x), self.latent_tokens(lat)], dim=3)  # (B, S, N, D + 1, dim)
        tokens = tokens + self.position[frames - n :]
        s = tokens.shape[1]
        mixed = self.sequence_mixer(tokens.flatten(0, 1).flatten(1, 2)).view(b, s, n, d + 1, -1)
        current = self.out(mixed[:, :, -1, -1])  # the current frame's latent tokens: (B, S, out * p * p)
        out = current.view(b, h // p, w // p, -1, p, p).permute(0, 3, 1, 4, 2, 5).reshape(b, -1, h, w)
        return self.zero_conv(out)

    def forward(self, occupancy: torch.Tensor, latents: torch.Tensor, cameras: torch.Tensor) -> torch.Tensor:
        """(B, out_channels, h, w) residual for the last frame (eq. 9's Zero_Conv(X_mam)).

        Args:
            occupancy: (B, N, C_occ, D, h, w) frustum volumes, one row per view, N <= ``frames`` frames.
            latents: (B, N, C_L, h, w) latents of the same frames (context frames clean, the last one noisy).
            cameras: (B, N, 16) ``camera_parameters`` of each view in each frame.
        """
        n = occupancy.shape[1]
        if n > self.config.frames:
            raise ValueError(f"expected <= {self.config.frames} frames, got {n}")
        slots = range(self.config.frames - n, self.config.frames)  # the current frame takes the last slot
        features = [self.frame_features(occupancy[:, i], cameras[:, i], slot) for i, slot in enumerate(slots)]
        return self.align(torch.stack(features, dim=1), latents)
