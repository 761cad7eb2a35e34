"""VAD's attention blocks, with the parameter names of hustvl/VAD's checkpoints.

Multi-scale deformable attention and the modules built on it, multi-head attention and the FFN.

References are to hustvl/VAD at 1688c4b1 (``modules/`` is ``projects/mmdet3d_plugin/VAD/modules/``) and to mmcv
1.4.0, whose pure-PyTorch pieces these reproduce.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


def deformable_attention(
    value: torch.Tensor, shapes: list[tuple[int, int]], locations: torch.Tensor, weights: torch.Tensor
) -> torch.Tensor:
    """Multi-scale deformable attention (mmcv ``multi_scale_deformable_attn_pytorch``).

    Bilinear samples with zero padding and ``align_corners=False`` (pixel centres at (i + 0.5) / size).

    Args:
        value: (B, S, heads, C) the flattened levels, level after level.
        shapes: (h, w) of each level.
        locations: (B, Q, heads, levels, points, 2) normalised (x, y) in [0, 1].
        weights: (B, Q, heads, levels, points).

    Returns:
        (B, Q, heads * C).
    """
    b, _, heads, channels = value.shape
    _, queries, _, levels, points, _ = locations.shape
    per_level = value.split([h * w for h, w in shapes], dim=1)
    grids = 2 * locations - 1
    sampled = []
    for level, (h, w) in enumerate(shapes):
        v = per_level[level].flatten(2).transpose(1, 2).reshape(b * heads, channels, h, w)
        grid = grids[:, :, :, level].transpose(1, 2).flatten(0, 1)  # (B * heads, Q, points, 2)
        sampled.append(F.grid_sample(v, grid, mode="bilinear", padding_mode="zeros", align_corners=False))
    weights = weights.transpose(1, 2).reshape(b * heads, 1, queries, levels * points)
    out = (torch.stack(sampled, dim=-2).flatten(-2) * weights).sum(-1).view(b, heads * channels, queries)
    return out.transpose(1, 2).contiguous()


class FFN(nn.Module):
    """mmcv's FFN: ``x + Linear(ReLU(Linear(x)))`` (dropouts are off at inference)."""

    def __init__(self, embed: int, hidden: int):
        super().__init__()
        self.layers = nn.Sequential(
            nn.Sequential(nn.Linear(embed, hidden), nn.ReLU(inplace=True), nn.Dropout(0.0)),
            nn.Linear(hidden, embed),
            nn.Dropout(0.0),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Residual feed-forward."""
        return x + self.layers(x)


class MultiheadAttention(nn.Module):
    """mmcv's ``MultiheadAttention`` wrapper (sequence first): positions added to query and key, value as given.

    torch's attention is called as mmcv 1.4.0 calls it (``mmcv/cnn/bricks/transformer.py:192``, used by every
    ``MultiheadAttention`` in ``projects/configs/VAD/VAD_*_e2e.py``): without ``need_weights``, i.e. torch's default
    True, which takes the explicit softmax path rather than the fused kernel; the two differ by float rounding
    (~1e-7), so this keeps the port's arithmetic the official one.
    """

    def __init__(self, embed: int, heads: int):
        super().__init__()
        self.attn = nn.MultiheadAttention(embed, heads, dropout=0.0)

    def forward(
        self,
        query: torch.Tensor,
        key: torch.Tensor | None = None,
        value: torch.Tensor | None = None,
        query_pos: torch.Tensor | None = None,
        key_pos: torch.Tensor | None = None,
        key_padding_mask: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """``query + attn(query + query_pos, key + key_pos, value)``; key defaults to query, value to key.

        As mmcv: without ``key_pos`` the query's positions are used for the key when the shapes match.
        """
        key = query if key is None else key
        value = key if value is None else value
        if key_pos is None and query_pos is not None and query_pos.shape == key.shape:
            key_pos = query_pos
        q = query if query_pos is None else query + query_pos
        k = key if key_pos is None else key + key_pos
        return query + self.attn(q, k, value, key_padding_mask=key_padding_mask)[0]


class TemporalSelfAttention(nn.Module):
    """BEVFormer's temporal self-attention (``modules/temporal_self_attention.py``).

    Each BEV query samples the previous BEV (aligned by the shifted reference points) and the current queries; the
    two are averaged.

    As the original: offsets and weights come from the previous BEV concatenated with the query plus its position
    (``:191``); on a scene's first frame the "previous BEV" is this layer's own input queries, twice (``:174``); the
    two samplings are averaged (``:256``) before the output projection.
    """

    def __init__(self, embed: int, heads: int, points: int, queue: int = 2):
        super().__init__()
        self.heads, self.points, self.queue = heads, points, queue
        self.sampling_offsets = nn.Linear(embed * queue, queue * heads * points * 2)
        self.attention_weights = nn.Linear(embed * queue, queue * heads * points)
        self.value_proj = nn.Linear(embed, embed)
        self.output_proj = nn.Linear(embed, embed)

    def forward(
        self,
        query: torch.Tensor,
        value: torch.Tensor | None,
        query_pos: torch.Tensor,
        reference_points: torch.Tensor,
        bev_hw: tuple[int, int],
    ) -> torch.Tensor:
        """(B, HW, C) queries; ``value`` (2B, HW, C) the previous BEV and the encoder's input queries, or None.

        ``reference_points`` (2B, HW, 1, 2) normalised (x, y).
        """
        b, hw, c = query.shape
        if value is None:  # the first frame of a scene: this layer's own queries, twice
            value = torch.stack([query, query], 1).reshape(b * 2, hw, c)
        identity = query
        query = query + query_pos
        q_in = torch.cat([value[:b], query], -1)
        v = self.value_proj(value).reshape(b * self.queue, hw, self.heads, -1)
        offsets = self.sampling_offsets(q_in).view(b, hw, self.heads, self.queue, 1, self.points, 2)
        weights = self.attention_weights(q_in).view(b, hw, self.heads, self.queue, self.points).softmax(-1)
        weights = weights.view(b, hw, self.heads, self.queue, 1, self.points)
        weights = weights.permute(0, 3, 1, 2, 4, 5).reshape(b * self.queue, hw, self.heads, 1, self.points)
        offsets = offsets.permute(0, 3, 1, 2, 4, 5, 6).reshape(b * self.queue, hw, self.heads, 1, self.points, 2)
        h, w = bev_hw
        normaliser = query.new_tensor([w, h])
        locations = reference_points[:, :, None, :, None, :] + offsets / normaliser
        out = deformable_attention(v, [bev_hw], locations, weights)  # (2B, HW, C)
        out = out.permute(1, 2, 0).view(hw, c, b, self.queue).mean(-1).permute(2, 0, 1)
        return self.output_proj(out) + identity


class DeformableAttention3D(nn.Module):
    """BEVFormer's ``MSDeformableAttention3D``: per camera, points around each query's Z anchors' projections.

    No output projection and no residual here (the spatial cross-attention adds them). The sampling points are
    split anchor-fastest (``modules/spatial_cross_attention.py:359-363``): point p samples around anchor
    p % anchors.
    """

    def __init__(self, embed: int, heads: int, levels: int, points: int):
        super().__init__()
        self.heads, self.levels, self.points = heads, levels, points
        self.sampling_offsets = nn.Linear(embed, heads * levels * points * 2)
        self.attention_weights = nn.Linear(embed, heads * levels * points)
        self.value_proj = nn.Linear(embed, embed)

    def forward(
        self, query: torch.Tensor, value: torch.Tensor, reference_points: torch.Tensor, shapes: list[tuple[int, int]]
    ) -> torch.Tensor:
        """(BN, Q, C) queries, (BN, S, C) camera features, (BN, Q, anchors, 2) projected anchors -> (BN, Q, C)."""
        bn, q, _ = query.shape
        v = self.value_proj(value).view(bn, value.shape[1], self.heads, -1)
        offsets = self.sampling_offsets(query).view(bn, q, self.heads, self.levels, self.points, 2)
        weights = self.attention_weights(query).view(bn, q, self.heads, self.levels * self.points).softmax(-1)
        weights = weights.view(bn, q, self.heads, self.levels, self.points)
        anchors = reference_points.shape[2]
        normaliser = query.new_tensor([[w, h] for h, w in shapes])
        offsets = offsets / normaliser[None, None, None, :, None, :]
        # the points go anchor-fastest: point p samples around anchor p % anchors
        offsets = offsets.view(bn, q, self.heads, self.levels, self.points // anchors, anchors, 2)
        locations = reference_points[:, :, None, None, None, :, :] + offsets
        locations = locations.view(bn, q, self.heads, self.levels, self.points, 2)
        return deformable_attention(v, shapes, locations, weights)


class SpatialCrossAttention(nn.Module):
    """BEVFormer's spatial cross-attention (``modules/spatial_cross_attention.py``).

    Each BEV query gathers from the cameras that see one of its Z anchors, averaged over those cameras.
    """

    def __init__(self, embed: int, heads: int, levels: int, points: int):
        super().__init__()
        self.deformable_attention = DeformableAttention3D(embed, heads, levels, points)
        self.output_proj = nn.Linear(embed, embed)

    def forward(
        self,
        query: torch.Tensor,
        value: torch.Tensor,
        reference_points_cam: torch.Tensor,
        bev_mask: torch.Tensor,
        shapes: list[tuple[int, int]],
    ) -> torch.Tensor:
        """(B, HW, C) queries; ``value`` (N, S, B, C); projections (N, B, HW, anchors, 2) and mask (N, B, HW, anchors).

        As the original: the queries each camera attends are chosen by batch element 0's mask
        (``modules/spatial_cross_attention.py:133``); a query's sum over cameras is divided by the number of
        cameras that see any of its anchors, at least 1 (``:163-166``).
        """
        b, hw, c = query.shape
        cams = reference_points_cam.shape[0]
        anchors = reference_points_cam.shape[3]
        slots = torch.zeros_like(query)
        indexes = [mask[0].sum(-1).nonzero().squeeze(-1) for mask in bev_mask]
        longest = max(len(index) for index in indexes)
        queries = query.new_zeros((b, cams, longest, c))
        references = reference_points_cam.new_zeros((b, cams, longest, anchors, 2))
        for j in range(b):
            for i, index in enumerate(indexes):
                queries[j, i, : len(index)] = query[j, index]
                references[j, i, : len(index)] = reference_points_cam[i][j, index]
        _, s, _, _ = value.shape
        value = value.permute(2, 0, 1, 3).reshape(b * cams, s, c)
        out = self.deformable_attention(
            queries.view(b * cams, longest, c), value, references.view(b * cams, longest, anchors, 2), shapes
        ).view(b, cams, longest, c)
        for j in range(b):
            for i, index in enumerate(indexes):
                slots[j, index] += out[j, i, : len(index)]
        count = (bev_mask.sum(-1) > 0).permute(1, 2, 0).sum(-1).clamp(min=1.0)
        return self.output_proj(slots / count[..., None]) + query


class DecoderDeformableAttention(nn.Module):
    """VAD's ``CustomMSDeformableAttention`` (``modules/decoder.py``).

    Object or map queries sample the BEV around their reference points; sequence first, residual included.
    """

    def __init__(self, embed: int, heads: int, points: int, levels: int = 1):
        super().__init__()
        self.heads, self.levels, self.points = heads, levels, points
        self.sampling_offsets = nn.Linear(embed, heads * levels * points * 2)
        self.attention_weights = nn.Linear(embed, heads * levels * points)
        self.value_proj = nn.Linear(embed, embed)
        self.output_proj = nn.Linear(embed, embed)

    def forward(
        self,
        query: torch.Tensor,
        value: torch.Tensor,
        query_pos: torch.Tensor,
        reference_points: torch.Tensor,
        shapes: list[tuple[int, int]],
    ) -> torch.Tensor:
        """(Q, B, C) queries, (HW, B, C) BEV, (B, Q, levels, 2) references -> (Q, B, C)."""
        identity = query
        q = (query + query_pos).permute(1, 0, 2)
        value = value.permute(1, 0, 2)
        b, nq, _ = q.shape
        v = self.value_proj(value).view(b, value.shape[1], self.heads, -1)
        offsets = self.sampling_offsets(q).view(b, nq, self.heads, self.levels, self.points, 2)
        weights = self.attention_weights(q).view(b, nq, self.heads, self.levels * self.points).softmax(-1)
        weights = weights.view(b, nq, self.heads, self.levels, self.points)
        normaliser = q.new_tensor([[w, h] for h, w in shapes])
        locations = reference_points[:, :, None, :, None, :] + offsets / normaliser[None, None, None, :, None, :]
        out = self.output_proj(deformable_attention(v, shapes, locations, weights))
        return out.permute(1, 0, 2) + identity
