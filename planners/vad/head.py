"""VAD's head, with the checkpoints' parameter names (``pts_bbox_head.*``).

The perception transformer (BEV encoder, detection and map decoders), the motion decoders and the planning decoders.

References are to hustvl/VAD at 1688c4b1: ``VAD_head.py`` and ``VAD_transformer.py`` in
``projects/mmdet3d_plugin/VAD/``. Quirks kept because the released weights were trained with them:

- ``VAD_head.py:717,738``: the ego's position for both planning decoders is (0, 0) in normalised BEV coordinates,
  which is the (-15 m, -30 m) corner, not the ego; ``:666`` the motion-map query position is (0, 0) too.
- ``VAD_head.py:746-750,1767-1771``: a map vector's position is its point nearest that corner.
- ``VAD_head.py:1774-1831``: map vectors for the motion-map decoder pass a 0.5 score, lie within 0.2 normalised
  units (6 m across, 12 m along) of the agent, and one always-valid zero key at (1, 1) is appended.
- ``VAD_head.py:397`` builds the lane encoder as ``LaneNet(256, 128, 3)`` whatever the width; the port's
  ``LaneNet(embed, embed // 2, 3)`` is the same for both released variants (embed 256) and keeps narrower test
  models consistent.
"""

from __future__ import annotations

import torch
from torch import nn

from occsim.planners.vad.config import PC_RANGE, VADConfig
from occsim.planners.vad.decoders import InteractionDecoder, RefiningDecoder, inverse_sigmoid
from occsim.planners.vad.encoder import BEVEncoder, bev_shift, rotate_bev


class LearnedPositionalEncoding(nn.Module):
    """mmdet's learned positional encoding: column embedding then row embedding, per BEV cell."""

    def __init__(self, features: int, rows: int, cols: int):
        super().__init__()
        self.row_embed = nn.Embedding(rows, features)
        self.col_embed = nn.Embedding(cols, features)

    def forward(self, batch: int, h: int, w: int) -> torch.Tensor:
        """(B, 2 * features, h, w)."""
        device = self.row_embed.weight.device
        x = self.col_embed(torch.arange(w, device=device))
        y = self.row_embed(torch.arange(h, device=device))
        pos = torch.cat((x.unsqueeze(0).repeat(h, 1, 1), y.unsqueeze(1).repeat(1, w, 1)), dim=-1)
        return pos.permute(2, 0, 1).unsqueeze(0).repeat(batch, 1, 1, 1)


class PerceptionTransformer(nn.Module):
    """``VADPerceptionTransformer``: the BEV encoder and the two refining decoders."""

    def __init__(self, cfg: VADConfig):
        super().__init__()
        self.cfg = cfg
        self.level_embeds = nn.Parameter(torch.zeros(4, cfg.embed))  # 4 rows for both variants (the default)
        self.cams_embeds = nn.Parameter(torch.zeros(6, cfg.embed))
        self.reference_points = nn.Linear(cfg.embed, 3)
        self.map_reference_points = nn.Linear(cfg.embed, 2)
        self.can_bus_mlp = nn.Sequential(
            nn.Linear(cfg.can_bus_dims, cfg.embed // 2),
            nn.ReLU(inplace=True),
            nn.Linear(cfg.embed // 2, cfg.embed),
            nn.ReLU(inplace=True),
        )
        self.can_bus_mlp.add_module("norm", nn.LayerNorm(cfg.embed))
        self.encoder = BEVEncoder(cfg)
        self.decoder = RefiningDecoder(cfg, 3)
        self.map_decoder = RefiningDecoder(cfg, 2)

    def bev_features(self, feats, bev_queries, bev_pos, prev_bev, can_bus, lidar2img, pad_hw):
        """The BEV (HW, B, C) (``VAD_transformer.py:212-308``).

        Args:
            feats: per level (B, N, C, h, w).
            bev_queries: (HW, C).
            bev_pos: (B, C, bev_h, bev_w).
            prev_bev: (HW, B, C) or None.
            can_bus: (B, 18) float64 with the deltas in place (``[-1]``: the yaw change [deg], rotating prev_bev).
            lidar2img: (B, N, 4, 4).
            pad_hw: the padded image size the projections are normalised by.
        """
        cfg = self.cfg
        b = feats[0].shape[0]
        bev_queries = bev_queries.unsqueeze(1).repeat(1, b, 1)
        bev_pos = bev_pos.flatten(2).permute(2, 0, 1)
        shift = bev_shift(can_bus, cfg)
        if prev_bev is not None:
            prev_bev = prev_bev.clone()
            for i in range(b):
                tmp = prev_bev[:, i].reshape(cfg.bev_h, cfg.bev_w, -1).permute(2, 0, 1)
                tmp = rotate_bev(tmp, float(can_bus[i, -1]), cfg.rotate_center)
                prev_bev[:, i] = tmp.permute(1, 2, 0).reshape(cfg.bev_h * cfg.bev_w, -1)
        bev_queries = bev_queries + self.can_bus_mlp(can_bus.float())[None]
        flattened, shapes = [], []
        for level, feat in enumerate(feats):
            _, _, _, h, w = feat.shape
            feat = feat.flatten(3).permute(1, 0, 3, 2)  # (N, B, hw, C)
            feat = feat + self.cams_embeds[:, None, None, :].to(feat.dtype)
            feat = feat + self.level_embeds[None, None, level : level + 1, :].to(feat.dtype)
            shapes.append((h, w))
            flattened.append(feat)
        value = torch.cat(flattened, 2).permute(0, 2, 1, 3)  # (N, S, B, C)
        return self.encoder(bev_queries, value, bev_pos, shapes, prev_bev, shift, lidar2img, pad_hw)

    def forward(self, feats, bev_queries, object_queries, map_queries, bev_pos, prev_bev, can_bus, lidar2img, pad_hw,
                reg_branches, map_reg_branches):  # fmt: skip
        """BEV, then detection and map decoding (``VAD_transformer.py:364-435``)."""
        cfg = self.cfg
        bev = self.bev_features(feats, bev_queries, bev_pos, prev_bev, can_bus, lidar2img, pad_hw)
        b = feats[0].shape[0]
        query_pos, query = torch.split(object_queries, cfg.embed, dim=1)
        query_pos, query = query_pos.unsqueeze(0).expand(b, -1, -1), query.unsqueeze(0).expand(b, -1, -1)
        reference_points = self.reference_points(query_pos).sigmoid()
        map_query_pos, map_query = torch.split(map_queries, cfg.embed, dim=1)
        map_query_pos = map_query_pos.unsqueeze(0).expand(b, -1, -1)
        map_query = map_query.unsqueeze(0).expand(b, -1, -1)
        map_reference_points = self.map_reference_points(map_query_pos).sigmoid()
        value = bev.permute(1, 0, 2)  # (HW, B, C)
        bev_hw = [(cfg.bev_h, cfg.bev_w)]
        states, references = self.decoder(
            query.permute(1, 0, 2), query_pos.permute(1, 0, 2), value, reference_points, reg_branches, bev_hw
        )
        map_states, map_references = self.map_decoder(
            map_query.permute(1, 0, 2),
            map_query_pos.permute(1, 0, 2),
            value,
            map_reference_points,
            map_reg_branches,
            bev_hw,
        )
        return value, states, reference_points, references, map_states, map_reference_points, map_references


class LaneMLP(nn.Module):
    """``Linear, LayerNorm, ReLU`` under ``.mlp``."""

    def __init__(self, cin: int, hidden: int):
        super().__init__()
        self.mlp = nn.Sequential(nn.Linear(cin, hidden), nn.LayerNorm(hidden), nn.ReLU())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """The layer."""
        return self.mlp(x)


class LaneNet(nn.Module):
    """VectorNet-style polyline encoder (``VAD_head.py:27-69``).

    Per point MLP, concatenated with the max over the polyline's points, three times; then the max over points.
    """

    def __init__(self, cin: int, hidden: int, layers: int):
        super().__init__()
        self.layer_seq = nn.Sequential()
        for i in range(layers):
            self.layer_seq.add_module(f"lmlp_{i}", LaneMLP(cin, hidden))
            cin = hidden * 2

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(B, P, points, C) -> (B, P, 2 * hidden)."""
        for layer in self.layer_seq:
            x = layer(x)
            x = torch.cat([x, x.max(-2)[0].unsqueeze(2).repeat(1, 1, x.shape[2], 1)], dim=-1)
        return x.max(-2)[0]


def _branch(embed: int, out: int, fcs: int = 2, norm: bool = False) -> nn.Sequential:
    layers: list[nn.Module] = []
    for _ in range(fcs):
        layers += [nn.Linear(embed, embed), *([nn.LayerNorm(embed)] if norm else []), nn.ReLU(inplace=norm)]
    return nn.Sequential(*layers, nn.Linear(embed, out))


def nearest_corner_points(points: torch.Tensor) -> torch.Tensor:
    """(B, P, pts, 2) normalised polylines -> (B, P, 2) each one's point nearest the normalised origin."""
    b, p = points.shape[:2]
    index = torch.sqrt(points[..., 0] ** 2 + points[..., 1] ** 2).argmin(dim=-1).flatten()
    flat = points.flatten(0, 1)
    return flat[torch.arange(flat.shape[0], device=points.device), index].view(b, p, 2)


def select_and_pad(query, pos, score, threshold):
    """Per batch element the entries whose best sigmoid score passes ``threshold``, zero-padded to the longest.

    ``VAD_head.py:1835-1897`` without the fixed pad: (B, Q', C), (B, Q', 2), padding mask (B, Q').
    """
    keep = score.sigmoid().max(dim=-1)[0] > threshold
    longest = int(keep.sum(-1).max())
    queries, positions, masks = [], [], []
    for i in range(query.shape[0]):
        count = int(keep[i].sum())
        pad = longest - count
        mask = torch.zeros(longest, dtype=torch.bool, device=query.device)
        q, p = query[i, keep[i]], pos[i, keep[i]]
        if pad:
            q = torch.cat([q, q.new_zeros((pad, q.shape[-1]))])
            p = torch.cat([p, p.new_zeros((pad, 2))])
            mask[count:] = True
        queries.append(q)
        positions.append(p)
        masks.append(mask)
    return torch.stack(queries), torch.stack(positions), torch.stack(masks)


class VADHead(nn.Module):
    """Everything after the image features: ``pts_bbox_head`` in the checkpoints."""

    def __init__(self, cfg: VADConfig):
        super().__init__()
        self.cfg = cfg
        e, layers = cfg.embed, cfg.decoder_layers
        self.code_weights = nn.Parameter(torch.tensor([1.0] * 8 + [0.2, 0.2]), requires_grad=False)
        self.map_code_weights = nn.Parameter(torch.ones(4), requires_grad=False)
        self.positional_encoding = LearnedPositionalEncoding(e // 2, cfg.bev_h, cfg.bev_w)
        self.transformer = PerceptionTransformer(cfg)
        self.cls_branches = nn.ModuleList(_branch(e, cfg.num_classes, norm=True) for _ in range(layers))
        self.reg_branches = nn.ModuleList(_branch(e, 10) for _ in range(layers))
        self.traj_branches = nn.ModuleList([_branch(2 * e, cfg.fut_ts * 2)])
        self.traj_cls_branches = nn.ModuleList([_branch(2 * e, 1, norm=True)])
        self.map_cls_branches = nn.ModuleList(_branch(e, cfg.map_classes, norm=True) for _ in range(layers))
        self.map_reg_branches = nn.ModuleList(_branch(e, 2) for _ in range(layers))
        self.bev_embedding = nn.Embedding(cfg.bev_h * cfg.bev_w, e)
        self.query_embedding = nn.Embedding(cfg.num_query, 2 * e)
        self.map_instance_embedding = nn.Embedding(cfg.map_vectors, 2 * e)
        self.map_pts_embedding = nn.Embedding(cfg.map_points, 2 * e)
        self.motion_decoder = InteractionDecoder(cfg)
        self.motion_mode_query = nn.Embedding(cfg.fut_mode, e)
        self.pos_mlp_sa = nn.Linear(2, e)
        self.lane_encoder = LaneNet(e, e // 2, 3)
        self.motion_map_decoder = InteractionDecoder(cfg)
        self.pos_mlp = nn.Linear(2, e)
        self.ego_query = nn.Embedding(1, e)
        self.ego_agent_decoder = InteractionDecoder(cfg)
        self.ego_agent_pos_mlp = nn.Linear(2, e)
        self.ego_map_decoder = InteractionDecoder(cfg)
        self.ego_map_pos_mlp = nn.Linear(2, e)
        self.ego_fut_decoder = _branch(2 * e, cfg.ego_fut_mode * cfg.fut_ts * 2)
        self.agent_fus_mlp = nn.Sequential(
            nn.Linear(cfg.fut_mode * 2 * e, e), nn.LayerNorm(e), nn.ReLU(), nn.Linear(e, e)
        )

    def forward(self, feats, prev_bev, can_bus, lidar2img, pad_hw) -> dict[str, torch.Tensor]:
        """The outputs of ``VADHead.forward`` (``VAD_head.py:487-811``) for (B, N, C, h, w) features per level."""
        cfg = self.cfg
        b = feats[0].shape[0]
        map_queries = (self.map_pts_embedding.weight[None] + self.map_instance_embedding.weight[:, None]).flatten(0, 1)
        bev_pos = self.positional_encoding(b, cfg.bev_h, cfg.bev_w)
        bev, hs, init_ref, inter_refs, map_hs, map_init_ref, map_inter_refs = self.transformer(
            feats,
            self.bev_embedding.weight,
            self.query_embedding.weight,
            map_queries,
            bev_pos,
            prev_bev,
            can_bus,
            lidar2img,
            pad_hw,
            self.reg_branches,
            self.map_reg_branches,
        )
        hs, map_hs = hs.permute(0, 2, 1, 3), map_hs.permute(0, 2, 1, 3)
        classes, coords, coords_bev = self._detections(hs, init_ref, inter_refs)
        map_classes, map_boxes, map_points = self._map(map_hs, map_init_ref, map_inter_refs)
        motion_hs = self._motion(hs[-1], coords_bev, map_hs[-1], map_classes[-1], map_points[-1])
        trajs = self.traj_branches[0](motion_hs)
        traj_classes = self.traj_cls_branches[0](motion_hs).squeeze(-1)
        ego = self._plan(motion_hs, classes[-1], coords_bev, map_hs[-1], map_classes[-1], map_points[-1])
        levels = classes.shape[0]
        return {
            "bev_embed": bev,
            "all_cls_scores": classes,
            "all_bbox_preds": coords,
            "all_traj_preds": trajs[None].repeat(levels, 1, 1, 1, 1),
            "all_traj_cls_scores": traj_classes[None].repeat(levels, 1, 1, 1),
            "map_all_cls_scores": map_classes,
            "map_all_bbox_preds": map_boxes,
            "map_all_pts_preds": map_points,
            "ego_fut_preds": ego,
        }

    def _detections(self, hs, init_ref, inter_refs):
        """Per decoder layer: class logits, boxes (metres) and the normalised centres the motion head reads."""
        classes, coords, coords_bev = [], [], []
        for level in range(hs.shape[0]):
            reference = inverse_sigmoid(init_ref if level == 0 else inter_refs[level - 1])
            classes.append(self.cls_branches[level](hs[level]))
            tmp = self.reg_branches[level](hs[level])
            tmp[..., 0:2] = tmp[..., 0:2] + reference[..., 0:2]
            tmp[..., 0:2] = tmp[..., 0:2].sigmoid()
            coords_bev.append(tmp[..., 0:2].clone())
            tmp[..., 4:5] = tmp[..., 4:5] + reference[..., 2:3]
            tmp[..., 4:5] = tmp[..., 4:5].sigmoid()
            tmp[..., 0:1] = tmp[..., 0:1] * (PC_RANGE[3] - PC_RANGE[0]) + PC_RANGE[0]
            tmp[..., 1:2] = tmp[..., 1:2] * (PC_RANGE[4] - PC_RANGE[1]) + PC_RANGE[1]
            tmp[..., 4:5] = tmp[..., 4:5] * (PC_RANGE[5] - PC_RANGE[2]) + PC_RANGE[2]
            coords.append(tmp)
        return torch.stack(classes), torch.stack(coords), coords_bev

    def _map(self, map_hs, init_ref, inter_refs):
        """Per decoder layer: map class logits, polyline boxes (cx, cy, w, h) and points, all normalised."""
        cfg = self.cfg
        b = map_hs.shape[1]
        classes, boxes, points = [], [], []
        for level in range(map_hs.shape[0]):
            reference = inverse_sigmoid(init_ref if level == 0 else inter_refs[level - 1])
            pooled = map_hs[level].view(b, cfg.map_vectors, cfg.map_points, -1).mean(2)
            classes.append(self.map_cls_branches[level](pooled))
            tmp = self.map_reg_branches[level](map_hs[level])
            tmp[..., 0:2] += reference[..., 0:2]
            pts = tmp.sigmoid().view(b, cfg.map_vectors, cfg.map_points, 2)
            x, y = pts[..., 0], pts[..., 1]
            x0, x1 = x.min(dim=2, keepdim=True)[0], x.max(dim=2, keepdim=True)[0]
            y0, y1 = y.min(dim=2, keepdim=True)[0], y.max(dim=2, keepdim=True)[0]
            boxes.append(torch.cat([(x0 + x1) / 2, (y0 + y1) / 2, x1 - x0, y1 - y0], dim=2))
            points.append(pts)
        return torch.stack(classes), torch.stack(boxes), torch.stack(points)

    def _motion(self, last_hs, coords_bev, last_map_hs, map_score, map_points):
        """Agent-agent then agent-map interaction: (B, A, modes, 2C) motion features."""
        cfg = self.cfg
        b, agents = coords_bev[-1].shape[:2]
        query = last_hs.permute(1, 0, 2)
        query = (query[:, None] + self.motion_mode_query.weight[None, :, None, :]).flatten(0, 1)  # (A * modes, B, C)
        pos = self.pos_mlp_sa(coords_bev[-1]).unsqueeze(2).repeat(1, 1, cfg.fut_mode, 1).flatten(1, 2)
        pos = pos.permute(1, 0, 2)
        motion_hs = self.motion_decoder(query, query, query, pos, pos)
        agent_xy = coords_bev[-1].unsqueeze(2).repeat(1, 1, cfg.fut_mode, 1).flatten(1, 2)  # (B, A * modes, 2)
        lanes = self.lane_encoder(last_map_hs.view(b, cfg.map_vectors, cfg.map_points, -1))
        keys, offsets, mask = self._map_for_agents(agent_xy, lanes, map_score, map_points)
        # every agent and mode is its own length-1 query over the map (VAD_head.py:660-675); the query position is
        # pos_mlp((0, 0)), its bias
        ca_query = self.motion_map_decoder.layers[0].forward_shared_keys(
            motion_hs.permute(1, 0, 2), self.pos_mlp.bias, keys, offsets, self.pos_mlp, mask
        )
        motion_hs = motion_hs.permute(1, 0, 2).unflatten(1, (agents, cfg.fut_mode))
        return torch.cat([motion_hs, ca_query.unflatten(1, (agents, cfg.fut_mode))], dim=-1)

    def _map_for_agents(self, agent_xy, lanes, map_score, map_points):
        """``select_and_pad_pred_map`` (``VAD_head.py:1774-1831``): the confident map vectors and a fixed pad.

        Returns the keys shared by every agent (B, K + 1, C), their positions relative to each agent
        (B, N, K + 1, 2) and the mask (B, N, K + 1): padding, and vectors farther than ``dis_thresh`` from the
        agent; the last key is the always-valid zero vector at (1, 1).
        """
        cfg = self.cfg
        corner = nearest_corner_points(map_points)
        lanes, corner, padding = select_and_pad(lanes, corner, map_score, cfg.map_thresh)
        b, n = agent_xy.shape[:2]
        relative = corner[:, None] - agent_xy[:, :, None, :]
        far = ~(torch.sqrt(relative[..., 0] ** 2 + relative[..., 1] ** 2) <= cfg.dis_thresh)
        mask = padding[:, None, :] | far
        keys = torch.cat([lanes, lanes.new_zeros((b, 1, lanes.shape[-1]))], dim=1)
        relative = torch.cat([relative, relative.new_ones((b, n, 1, 2))], dim=2)
        mask = torch.cat([mask, mask.new_zeros((b, n, 1))], dim=2)
        return keys, relative, mask

    def _plan(self, motion_hs, agent_score, coords_bev, last_map_hs, map_score, map_points):
        """The ego query meets the agents, then the map; (B, 3 commands, steps, 2) per-step offsets."""
        cfg = self.cfg
        b, agents = motion_hs.shape[:2]
        ego = self.ego_query.weight.unsqueeze(0).repeat(b, 1, 1)
        origin = torch.zeros((b, 1, 2), device=ego.device)
        agents_q = self.agent_fus_mlp(motion_hs.reshape(b, agents, -1))
        agents_q, agents_pos, agents_mask = select_and_pad(agents_q, coords_bev[-1], agent_score, 0.0)
        ego = self.ego_agent_decoder(
            ego.permute(1, 0, 2),
            agents_q.permute(1, 0, 2),
            agents_q.permute(1, 0, 2),
            self.ego_agent_pos_mlp(origin).permute(1, 0, 2),
            self.ego_agent_pos_mlp(agents_pos).permute(1, 0, 2),
            agents_mask,
        )
        lanes = self.lane_encoder(last_map_hs.view(b, cfg.map_vectors, cfg.map_points, -1))
        lanes, lanes_pos, lanes_mask = select_and_pad(lanes, nearest_corner_points(map_points), map_score, 0.0)
        ego_map = self.ego_map_decoder(
            ego,
            lanes.permute(1, 0, 2),
            lanes.permute(1, 0, 2),
            self.ego_map_pos_mlp(origin).permute(1, 0, 2),
            self.ego_map_pos_mlp(lanes_pos).permute(1, 0, 2),
            lanes_mask,
        )
        feats = torch.cat([ego.permute(1, 0, 2), ego_map.permute(1, 0, 2)], dim=-1)
        return self.ego_fut_decoder(feats).reshape(b, cfg.ego_fut_mode, cfg.fut_ts, 2)
