"""VAD's transformer decoders.

Detection and map decoders over the BEV (deformable cross-attention, box refinement), and the one-layer
interaction decoders of the motion and planning heads.

References are to hustvl/VAD at 1688c4b1 (``modules/decoder.py``, ``VAD_transformer.py``).
"""

from __future__ import annotations

import torch
from torch import nn

from occsim.planners.vad.attention import FFN, DecoderDeformableAttention, MultiheadAttention
from occsim.planners.vad.config import VADConfig


def inverse_sigmoid(x: torch.Tensor, eps: float = 1e-5) -> torch.Tensor:
    """``log(x / (1 - x))`` with x clamped to [0, 1] and both terms to at least ``eps`` (mmdet's)."""
    x = x.clamp(min=0, max=1)
    return torch.log(x.clamp(min=eps) / (1 - x).clamp(min=eps))


class DecoderLayer(nn.Module):
    """``self_attn, norm, cross_attn, norm, ffn, norm``: self-attention among the queries, then the BEV."""

    def __init__(self, cfg: VADConfig):
        super().__init__()
        self.attentions = nn.ModuleList(
            [
                MultiheadAttention(cfg.embed, cfg.heads),
                DecoderDeformableAttention(cfg.embed, cfg.heads, cfg.decoder_points),
            ]
        )
        self.ffns = nn.ModuleList([FFN(cfg.embed, cfg.ffn)])
        self.norms = nn.ModuleList(nn.LayerNorm(cfg.embed) for _ in range(3))

    def forward(self, query, query_pos, value, reference_points, shapes):
        """(Q, B, C) queries over the (HW, B, C) BEV; ``reference_points`` (B, Q, 1, 2)."""
        query = self.norms[0](self.attentions[0](query, query_pos=query_pos))
        query = self.norms[1](self.attentions[1](query, value, query_pos, reference_points, shapes))
        return self.norms[2](self.ffns[0](query))


class RefiningDecoder(nn.Module):
    """Detection (3-D references, z from regression channel 4) or map (2-D) decoder with box refinement.

    Returns every layer's output and the references after each layer's update (``modules/decoder.py:60-123``).
    """

    def __init__(self, cfg: VADConfig, dims: int):
        super().__init__()
        self.dims = dims
        self.layers = nn.ModuleList(DecoderLayer(cfg) for _ in range(cfg.decoder_layers))

    def forward(self, query, query_pos, value, reference_points, reg_branches, shapes):
        """(Q, B, C) queries, (B, Q, dims) sigmoid references -> (layers, Q, B, C), (layers, B, Q, dims)."""
        states, references = [], []
        output = query
        for lid, layer in enumerate(self.layers):
            output = layer(output, query_pos, value, reference_points[..., :2].unsqueeze(2), shapes)
            delta = reg_branches[lid](output.permute(1, 0, 2))
            refined = torch.zeros_like(reference_points)
            refined[..., :2] = delta[..., :2] + inverse_sigmoid(reference_points[..., :2])
            if self.dims == 3:
                refined[..., 2:3] = delta[..., 4:5] + inverse_sigmoid(reference_points[..., 2:3])
            reference_points = refined.sigmoid().detach()
            states.append(output)
            references.append(reference_points)
        return torch.stack(states), torch.stack(references)


class InteractionLayer(nn.Module):
    """``cross_attn, norm, ffn, norm`` with multi-head attention: the motion and planning heads' decoder layer.

    mmcv's ``BaseTransformerLayer`` inside VAD's ``CustomTransformerDecoder`` with a single layer.
    """

    def __init__(self, cfg: VADConfig):
        super().__init__()
        self.attentions = nn.ModuleList([MultiheadAttention(cfg.embed, cfg.heads)])
        self.ffns = nn.ModuleList([FFN(cfg.embed, cfg.ffn)])
        self.norms = nn.ModuleList(nn.LayerNorm(cfg.embed) for _ in range(2))

    def forward(self, query, key, value, query_pos, key_pos, key_padding_mask=None):
        """Sequence-first (L, B, C) tensors."""
        query = self.norms[0](self.attentions[0](query, key, value, query_pos, key_pos, key_padding_mask))
        return self.norms[1](self.ffns[0](query))

    def forward_shared_keys(self, query, query_pos, keys, key_offsets, offset_encoder, key_padding_mask):
        """The layer with ``MultiheadAttention.forward_shared_keys`` (batch-first tensors)."""
        attended = self.attentions[0].forward_shared_keys(
            query, query_pos, keys, key_offsets, offset_encoder, key_padding_mask
        )
        return self.norms[1](self.ffns[0](self.norms[0](attended)))


class InteractionDecoder(nn.Module):
    """One interaction layer under ``layers.0`` (the checkpoints' names)."""

    def __init__(self, cfg: VADConfig):
        super().__init__()
        self.layers = nn.ModuleList([InteractionLayer(cfg)])

    def forward(self, query, key, value, query_pos, key_pos, key_padding_mask=None):
        """The layer's output."""
        return self.layers[0](query, key, value, query_pos, key_pos, key_padding_mask)
