"""The BEV encoder (BEVFormer's, as VAD carries it).

BEV queries attend the previous BEV (temporal self-attention) and the six cameras (spatial cross-attention) over
several layers.

Quirks of the original kept on purpose, because the released weights were trained with them (hustvl/VAD at
1688c4b1; ``modules/`` = ``projects/mmdet3d_plugin/VAD/modules/``):

- ``modules/encoder.py:186-188``: ``shift_ref_2d = ref_2d`` without a copy, then shifted in place, so the current
  BEV's half of the temporal reference grid is shifted too.
- ``VAD_transformer.py:145``: the previous BEV is rotated about pixel (100, 100) for both variants: the centre of
  Base's 200 x 200 grid, a corner of Tiny's 100 x 100 one; nearest neighbour in index space (rows 0.6 m, columns
  0.3 m on Tiny), as torchvision 0.10's ``rotate`` did.
- ``VAD_transformer.py:231-249``: the shift uses the absolute yaw (``can_bus[-2]``) with the translation delta.
- ``modules/encoder.py:194-199,205-222``: every layer's temporal self-attention reads the previous BEV paired with
  the encoder's *input* BEV queries (not the previous layer's output), with the shifted references for the
  previous BEV and (through the missing clone) shifted ones for the queries too.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from occsim.planners.vad.attention import FFN, SpatialCrossAttention, TemporalSelfAttention
from occsim.planners.vad.config import PC_RANGE, VADConfig


class EncoderLayer(nn.Module):
    """``self_attn, norm, cross_attn, norm, ffn, norm`` (post-norm)."""

    def __init__(self, cfg: VADConfig):
        super().__init__()
        self.attentions = nn.ModuleList(
            [
                TemporalSelfAttention(cfg.embed, cfg.heads, cfg.tsa_points),
                SpatialCrossAttention(cfg.embed, cfg.heads, cfg.levels, cfg.sca_points),
            ]
        )
        self.ffns = nn.ModuleList([FFN(cfg.embed, cfg.ffn)])
        self.norms = nn.ModuleList(nn.LayerNorm(cfg.embed) for _ in range(3))

    def forward(self, query, prev_bev, bev_pos, ref_2d, bev_hw, value, reference_points_cam, bev_mask, shapes):
        """One layer over (B, HW, C) queries."""
        query = self.attentions[0](query, prev_bev, bev_pos, ref_2d, bev_hw)
        query = self.norms[0](query)
        query = self.attentions[1](query, value, reference_points_cam, bev_mask, shapes)
        query = self.norms[1](query)
        return self.norms[2](self.ffns[0](query))


class BEVEncoder(nn.Module):
    """The encoder's layers and the geometry they share (reference points, camera projections)."""

    def __init__(self, cfg: VADConfig):
        super().__init__()
        self.cfg = cfg
        self.layers = nn.ModuleList(EncoderLayer(cfg) for _ in range(cfg.encoder_layers))

    def reference_points_3d(self, device) -> torch.Tensor:
        """(anchors, HW, 3) normalised (x, y, z) pillar points (``modules/encoder.py:58-66``)."""
        h, w, d = self.cfg.bev_h, self.cfg.bev_w, self.cfg.z_anchors
        z_size = PC_RANGE[5] - PC_RANGE[2]
        zs = torch.linspace(0.5, z_size - 0.5, d, dtype=torch.float32, device=device).view(-1, 1, 1).expand(d, h, w)
        zs = zs / z_size
        xs = torch.linspace(0.5, w - 0.5, w, dtype=torch.float32, device=device).view(1, 1, w).expand(d, h, w) / w
        ys = torch.linspace(0.5, h - 0.5, h, dtype=torch.float32, device=device).view(1, h, 1).expand(d, h, w) / h
        ref = torch.stack((xs, ys, zs), -1)
        return ref.permute(0, 3, 1, 2).flatten(2).permute(0, 2, 1)

    def reference_points_2d(self, device) -> torch.Tensor:
        """(HW, 1, 2) normalised (x, y) cell centres (``modules/encoder.py:69-80``)."""
        h, w = self.cfg.bev_h, self.cfg.bev_w
        ref_y, ref_x = torch.meshgrid(
            torch.linspace(0.5, h - 0.5, h, dtype=torch.float32, device=device),
            torch.linspace(0.5, w - 0.5, w, dtype=torch.float32, device=device),
            indexing="ij",
        )
        return torch.stack((ref_x.reshape(-1) / w, ref_y.reshape(-1) / h), -1)[:, None]

    @staticmethod
    def point_sampling(ref_3d: torch.Tensor, lidar2img: torch.Tensor, pad_hw: tuple[int, int]):
        """Project the pillar points into the cameras (``modules/encoder.py:85-139``).

        Args:
            ref_3d: (B, anchors, HW, 3) normalised points.
            lidar2img: (B, N, 4, 4).
            pad_hw: the padded image size the projections are normalised by.

        Returns:
            (N, B, HW, anchors, 2) normalised image points and (N, B, HW, anchors) whether each is in view.
        """
        ref = ref_3d.clone()
        ref[..., 0] = ref[..., 0] * (PC_RANGE[3] - PC_RANGE[0]) + PC_RANGE[0]
        ref[..., 1] = ref[..., 1] * (PC_RANGE[4] - PC_RANGE[1]) + PC_RANGE[1]
        ref[..., 2] = ref[..., 2] * (PC_RANGE[5] - PC_RANGE[2]) + PC_RANGE[2]
        ref = torch.cat((ref, torch.ones_like(ref[..., :1])), -1).permute(1, 0, 2, 3)  # (D, B, HW, 4)
        d, b, hw, _ = ref.shape
        n = lidar2img.shape[1]
        ref = ref.view(d, b, 1, hw, 4).repeat(1, 1, n, 1, 1).unsqueeze(-1)
        cam = torch.matmul(lidar2img.view(1, b, n, 1, 4, 4).repeat(d, 1, 1, hw, 1, 1), ref).squeeze(-1)
        eps = 1e-5
        mask = cam[..., 2:3] > eps
        cam = cam[..., 0:2] / torch.maximum(cam[..., 2:3], torch.ones_like(cam[..., 2:3]) * eps)
        cam[..., 0] /= pad_hw[1]
        cam[..., 1] /= pad_hw[0]
        mask = mask & (cam[..., 1:2] > 0.0) & (cam[..., 1:2] < 1.0) & (cam[..., 0:1] < 1.0) & (cam[..., 0:1] > 0.0)
        mask = torch.nan_to_num(mask)
        return cam.permute(2, 1, 3, 0, 4), mask.permute(2, 1, 3, 0, 4).squeeze(-1)

    def forward(self, bev_query, value, bev_pos, shapes, prev_bev, shift, lidar2img, pad_hw):
        """BEV features (B, HW, C) from queries (HW, B, C), camera features (N, S, B, C), positions (HW, B, C)."""
        device = bev_query.device
        b = bev_query.shape[1]
        ref_3d = self.reference_points_3d(device)[None].repeat(b, 1, 1, 1)
        ref_2d = self.reference_points_2d(device)[None].repeat(b, 1, 1, 1)
        reference_points_cam, bev_mask = self.point_sampling(ref_3d, lidar2img, pad_hw)
        shift_ref_2d = ref_2d  # the original's missing .clone(): both halves of the grid get the shift
        shift_ref_2d += shift[:, None, None, :]
        bev_query = bev_query.permute(1, 0, 2)
        bev_pos = bev_pos.permute(1, 0, 2)
        hw, c = bev_query.shape[1], bev_query.shape[2]
        if prev_bev is not None:
            prev_bev = prev_bev.permute(1, 0, 2)
            prev_bev = torch.stack([prev_bev, bev_query], 1).reshape(b * 2, hw, c)
            hybrid_ref_2d = torch.stack([shift_ref_2d, ref_2d], 1).reshape(b * 2, hw, 1, 2)
        else:
            hybrid_ref_2d = torch.stack([ref_2d, ref_2d], 1).reshape(b * 2, hw, 1, 2)
        bev_hw = (self.cfg.bev_h, self.cfg.bev_w)
        out = bev_query
        for layer in self.layers:
            out = layer(out, prev_bev, bev_pos, hybrid_ref_2d, bev_hw, value, reference_points_cam, bev_mask, shapes)
        return out


def bev_shift(can_bus: torch.Tensor, cfg: VADConfig) -> torch.Tensor:
    """(B, 2) normalised (x, y) shift of the previous BEV from the ego's motion (``VAD_transformer.py:231-249``).

    Computed in float64 as numpy did; ``can_bus`` (B, 18) holds the translation delta and the absolute yaw.
    """
    bus = can_bus.double()
    dx, dy = bus[:, 0], bus[:, 1]
    ego_angle = bus[:, -2] / math.pi * 180
    grid_y = (PC_RANGE[4] - PC_RANGE[1]) / cfg.bev_h
    grid_x = (PC_RANGE[3] - PC_RANGE[0]) / cfg.bev_w
    length = torch.sqrt(dx**2 + dy**2)
    translation_angle = torch.arctan2(dy, dx) / math.pi * 180
    bev_angle = ego_angle - translation_angle
    shift_y = length * torch.cos(bev_angle / 180 * math.pi) / grid_y / cfg.bev_h
    shift_x = length * torch.sin(bev_angle / 180 * math.pi) / grid_x / cfg.bev_w
    return torch.stack([shift_x, shift_y], -1).float()


def rotate_bev(bev: torch.Tensor, angle: float, center: tuple[int, int]) -> torch.Tensor:
    """The ``rotate(img, angle, center)`` of torchvision 0.10 on a (C, H, W) tensor: nearest, zero fill, no expand.

    Counter-clockwise by ``angle`` degrees about ``center`` (column, row), in pixel-index space.
    """
    c, h, w = bev.shape
    theta = math.radians(angle)
    # torchvision: the inverse affine matrix for -angle about (center - image centre)
    cx, cy = center[0] - w * 0.5, center[1] - h * 0.5
    a, b_, d, e = math.cos(theta), -math.sin(theta), math.sin(theta), math.cos(theta)
    matrix = [a, b_, 0.0, d, e, 0.0]
    matrix[2] = cx - a * cx - b_ * cy
    matrix[5] = cy - d * cx - e * cy
    theta_t = torch.tensor(matrix, dtype=torch.float32, device=bev.device).reshape(1, 2, 3)
    # torchvision's _gen_affine_grid: output pixel centres, normalised by half the size
    base = torch.empty(1, h, w, 3, dtype=torch.float32, device=bev.device)
    x_grid = torch.linspace(-w * 0.5 + 0.5, w * 0.5 + 0.5 - 1, steps=w, device=bev.device)
    base[..., 0].copy_(x_grid)
    y_grid = torch.linspace(-h * 0.5 + 0.5, h * 0.5 + 0.5 - 1, steps=h, device=bev.device).unsqueeze_(-1)
    base[..., 1].copy_(y_grid)
    base[..., 2].fill_(1)
    rescaled = theta_t.transpose(1, 2) / torch.tensor([0.5 * w, 0.5 * h], dtype=torch.float32, device=bev.device)
    grid = base.view(1, h * w, 3).bmm(rescaled).view(1, h, w, 2)
    out = torch.nn.functional.grid_sample(bev[None], grid, mode="nearest", padding_mode="zeros", align_corners=False)
    return out[0]
