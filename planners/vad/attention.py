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
    """Multi-scale deformable attention: what mmcv's ``multi_scale_deformable_attn_pytorch`` computes.

    Bilinear samples with zero padding and ``align_corners=False`` (pixel centres at (i + 0.5) / size), weighted and
    summed. Written as one weighted gather (``embedding_bag``) over each sample's four corners rather than mmcv's
    ``grid_sample`` per level and a weighted sum: the same sums in another order, 2 to 3.5 times faster on a CPU
    (``benchmarks/bench_vad.py``), and checked against a naive loop in the tests.

    Args:
        value: (B, S, heads, C) the flattened levels, level after level.
        shapes: (h, w) of each level.
        locations: (B, Q, heads, levels, points, 2) normalised (x, y) in [0, 1].
        weights: (B, Q, heads, levels, points).

    Returns:
        (B, Q, heads * C).
    """
    b, s, heads, channels = value.shape
    queries = locations.shape[1]
    device = locations.device
    size = torch.tensor(shapes, device=device)  # (levels, 2): h, w
    starts = torch.cumsum(size.prod(-1), 0) - size.prod(-1)
    h, w = size[:, 0, None], size[:, 1, None]
    x = locations[..., 0] * w - 0.5  # pixel coordinates, (B, Q, heads, levels, points)
    y = locations[..., 1] * h - 0.5
    x0, y0 = x.floor(), y.floor()
    fx, fy = x - x0, y - y0
    x0, y0 = x0.long(), y0.long()
    indexes, corner_weights = [], []
    for dx, dy, bilinear in (
        (0, 0, (1 - fx) * (1 - fy)),
        (1, 0, fx * (1 - fy)),
        (0, 1, (1 - fx) * fy),
        (1, 1, fx * fy),
    ):
        xi, yi = x0 + dx, y0 + dy
        inside = (xi >= 0) & (xi < w) & (yi >= 0) & (yi < h)  # zero padding: outside corners weigh nothing
        indexes.append(torch.where(inside, yi * w + xi, 0) + starts[:, None])
        corner_weights.append(torch.where(inside, bilinear * weights, 0.0))
    # one table of rows for every (batch, head): row = ((b * heads) + head) * S + index
    offset = (torch.arange(b, device=device)[:, None] * heads + torch.arange(heads, device=device)) * s
    index = torch.stack(indexes, -1) + offset[:, None, :, None, None, None]
    table = value.permute(0, 2, 1, 3).reshape(b * heads * s, channels)
    bags = b * queries * heads
    out = F.embedding_bag(
        index.view(bags, -1), table, per_sample_weights=torch.stack(corner_weights, -1).view(bags, -1), mode="sum"
    )
    return out.view(b, queries, heads * channels)


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

    mmcv 1.4.0 calls torch's attention with its default ``need_weights=True`` (``mmcv/cnn/bricks/transformer.py:192``),
    which takes the explicit softmax path; this asks for no weights, which takes the fused kernel: the two differ by
    float rounding (about 1e-7 here), and the fused one is about twice as fast on the map decoder's 2000 queries.
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
        return query + self.attn(q, k, value, key_padding_mask=key_padding_mask, need_weights=False)[0]

    def forward_shared_keys(
        self,
        query: torch.Tensor,
        query_pos: torch.Tensor,
        keys: torch.Tensor,
        key_offsets: torch.Tensor,
        offset_encoder: nn.Linear,
        key_padding_mask: torch.Tensor,
    ) -> torch.Tensor:
        """``forward`` for queries that each see one shared key set from their own position (batch first).

        Key ``k`` of query ``n`` is ``keys[b, k] + offset_encoder(key_offsets[b, n, k])`` and its value
        ``keys[b, k]``, as VAD's motion-map decoder builds them for every agent and mode. Because the offset encoder
        is linear, the key projection splits into the shared keys' projection plus a (heads, 2) map of the offsets,
        so the (N, K, C) keys are never built: the same attention at a fraction of the work (float rounding aside).

        Args:
            query: (B, N, C).
            query_pos: broadcastable to ``query``.
            keys: (B, K, C) shared per batch element.
            key_offsets: (B, N, K, 2) each key's position as each query sees it.
            offset_encoder: the ``Linear(2, C)`` that embeds those positions.
            key_padding_mask: (B, N, K), True where a query must not attend a key.
        """
        attn = self.attn
        b, n, c = query.shape
        heads, k = attn.num_heads, keys.shape[1]
        d = c // heads
        w_q, w_k, w_v = attn.in_proj_weight.chunk(3)
        b_q, b_k, b_v = attn.in_proj_bias.chunk(3)
        q = F.linear(query + query_pos, w_q, b_q).view(b, n, heads, d) * d**-0.5
        shared = F.linear(keys, w_k, b_k + w_k @ offset_encoder.bias).view(b, k, heads, d)
        offset_map = (w_k @ offset_encoder.weight).view(heads, d, 2)
        scores = torch.einsum("bnhd,bkhd->bnhk", q, shared)
        scores = scores + torch.einsum("bnhj,bnkj->bnhk", torch.einsum("bnhd,hdj->bnhj", q, offset_map), key_offsets)
        weights = scores.masked_fill(key_padding_mask[:, :, None, :], float("-inf")).softmax(-1)
        values = F.linear(keys, w_v, b_v).view(b, k, heads, d)
        out = torch.einsum("bnhk,bkhd->bnhd", weights, values).reshape(b, n, c)
        return query + attn.out_proj(out)


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
        self,
        query: torch.Tensor,
        value: torch.Tensor,
        reference_points: torch.Tensor,
        counts: list[int],
        shapes: list[tuple[int, int]],
    ) -> torch.Tensor:
        """Each camera's own queries, unpadded: ``counts[i]`` rows of ``query`` after camera i's.

        Args:
            query: (Q, C) every camera's queries, camera after camera.
            value: (N, S, C) each camera's flattened feature levels.
            reference_points: (Q, anchors, 2) each query's anchors projected into its camera, normalised.
            counts: queries per camera.
            shapes: (h, w) per level.

        Returns:
            (Q, C).
        """
        q, _ = query.shape
        offsets = self.sampling_offsets(query).view(q, self.heads, self.levels, self.points, 2)
        weights = self.attention_weights(query).view(q, self.heads, self.levels * self.points).softmax(-1)
        weights = weights.view(q, self.heads, self.levels, self.points)
        anchors = reference_points.shape[1]
        normaliser = query.new_tensor([[w, h] for h, w in shapes])
        offsets = offsets / normaliser[None, None, :, None, :]
        # the points go anchor-fastest: point p samples around anchor p % anchors
        offsets = offsets.view(q, self.heads, self.levels, self.points // anchors, anchors, 2)
        locations = (reference_points[:, None, None, None, :, :] + offsets).view(q, self.heads, self.levels, -1, 2)
        values = self.value_proj(value).view(value.shape[0], value.shape[1], self.heads, -1)
        out, start = [], 0
        for camera, count in enumerate(counts):  # one camera at a time: no padding to the busiest camera
            rows = slice(start, start + count)
            out.append(
                deformable_attention(values[camera : camera + 1], shapes, locations[None, rows], weights[None, rows])[0]
            )
            start += count
        return torch.cat(out)


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
        indexes = [mask[0].sum(-1).nonzero().squeeze(-1) for mask in bev_mask]
        counts, every = [len(index) for index in indexes], torch.cat(indexes)
        value = value.permute(2, 0, 1, 3)  # (B, N, S, C)
        slots = torch.zeros_like(query)
        for j in range(b):
            references = torch.cat([cam[j, index] for cam, index in zip(reference_points_cam, indexes, strict=True)])
            out = self.deformable_attention(query[j, every], value[j], references, counts, shapes)
            slots[j].index_add_(0, every, out)
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
