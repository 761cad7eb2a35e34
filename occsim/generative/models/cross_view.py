"""Cross-view (and cross-frame) attention, paper 001 section 3.4, eq. 4-5, installed on a stock UNet.

Each transformer block's text cross-attention (``attn2``) gets a processor that runs the usual attention and adds
sum over the two neighbours j of Attention(Q_i, K_j, V_j), projected by a zero-initialised linear layer, so at
initialisation the UNet's output is unchanged. Neighbours are views i - 1 and i + 1 (mod 6) in OccSim's camera order
(ARCHITECTURE.md), or the previous and next frame along a video's time axis. ``VideoAttnProcessor`` adds attention
to the previous frame's features recorded in a context pass (the OccScene renderer's cross-frame attention).
"""

from __future__ import annotations

import torch
from diffusers.models.attention_processor import Attention, AttnProcessor2_0
from torch import nn
from torch.nn import functional as F


class NeighbourAttnProcessor(nn.Module):
    """Text cross-attention plus zero-initialised attention to the two neighbours along a group axis.

    Args:
        dim: hidden size of the block.
        heads: attention heads.
        group: size of the neighbour axis (6 views, or the frames of a clip); the batch is (..., group) flattened.
        cyclic: neighbours wrap around (the surround cameras) or not (frames: the first has no previous one).
    """

    def __init__(self, dim: int, heads: int, group: int = 6, cyclic: bool = True):
        super().__init__()
        self.base = AttnProcessor2_0()
        self.heads, self.group, self.cyclic = heads, group, cyclic
        self.to_q = nn.Linear(dim, dim, bias=False)
        self.to_k = nn.Linear(dim, dim, bias=False)
        self.to_v = nn.Linear(dim, dim, bias=False)
        self.to_out = nn.Linear(dim, dim)
        nn.init.zeros_(self.to_out.weight)
        nn.init.zeros_(self.to_out.bias)

    def __call__(
        self,
        attn: Attention,
        hidden_states: torch.Tensor,
        encoder_hidden_states: torch.Tensor | None = None,
        attention_mask: torch.Tensor | None = None,
        temb: torch.Tensor | None = None,
        *args,
        **kwargs,
    ) -> torch.Tensor:
        """The block's cross-attention output plus the neighbour term of eq. 5."""
        out = self.base(attn, hidden_states, encoder_hidden_states, attention_mask, temb)
        return out + self.neighbours(hidden_states)

    def neighbours(self, hidden_states: torch.Tensor) -> torch.Tensor:
        """Sum over the left and right (previous and next) neighbour of attention to it, projected: (B, N, C)."""
        batch, tokens, dim = hidden_states.shape
        if batch % self.group:
            raise ValueError(f"batch {batch} is not a multiple of the neighbour group {self.group}")
        h = hidden_states.view(batch // self.group, self.group, tokens, dim)
        q, k, v = (self._heads(proj(h)) for proj in (self.to_q, self.to_k, self.to_v))
        total = torch.zeros_like(q)
        for shift in (1, -1):  # roll by +1 puts view i - 1 at index i; by -1, view i + 1
            # 4-D inputs, so SDPA can take its fused kernels (5-D falls back to the slow reference path)
            attended = F.scaled_dot_product_attention(
                q.flatten(0, 1), k.roll(shift, dims=1).flatten(0, 1), v.roll(shift, dims=1).flatten(0, 1)
            ).view(q.shape)
            if not self.cyclic:
                edge = 0 if shift == 1 else self.group - 1  # the first frame has no previous, the last no next
                attended[:, edge] = 0.0
            total = total + attended
        merged = total.transpose(2, 3).reshape(batch // self.group, self.group, tokens, dim)
        return self.to_out(merged).view(batch, tokens, dim)

    def _heads(self, x: torch.Tensor) -> torch.Tensor:
        b, g, n, c = x.shape
        return x.view(b, g, n, self.heads, c // self.heads).transpose(2, 3)  # (B, G, heads, N, head_dim)


class VideoAttnProcessor(NeighbourAttnProcessor):
    """Cross-view attention plus zero-initialised attention to the same view in the previous frame.

    The previous frame's features come from a context pass: with ``mode = "record"`` each block keeps the hidden
    states it sees (the previous frame's clean latent through the UNet at t = 0); with ``mode = "attend"`` every
    row of the batch (views repeated for the guidance halves) also attends to its view's recorded states. One
    context pass serves all denoising steps of a frame. Its cross-view weights keep ``NeighbourAttnProcessor``'s
    names, so a SyntheOcc UNet's state dict loads into it (the new weights start at zero).
    """

    def __init__(self, dim: int, heads: int, group: int = 6, cyclic: bool = True):
        super().__init__(dim, heads, group, cyclic)
        self.frame_q = nn.Linear(dim, dim, bias=False)
        self.frame_k = nn.Linear(dim, dim, bias=False)
        self.frame_v = nn.Linear(dim, dim, bias=False)
        self.frame_out = nn.Linear(dim, dim)
        nn.init.zeros_(self.frame_out.weight)
        nn.init.zeros_(self.frame_out.bias)
        self.mode = "off"  # off | record | attend
        self.memory: torch.Tensor | None = None

    def __call__(
        self,
        attn: Attention,
        hidden_states: torch.Tensor,
        encoder_hidden_states: torch.Tensor | None = None,
        attention_mask: torch.Tensor | None = None,
        temb: torch.Tensor | None = None,
        *args,
        **kwargs,
    ) -> torch.Tensor:
        """Eq. 5's cross-view output, plus the previous frame's term when attending."""
        out = super().__call__(attn, hidden_states, encoder_hidden_states, attention_mask, temb)
        if self.mode == "record":
            self.memory = hidden_states
        elif self.mode == "attend" and self.memory is not None:
            out = out + self.previous_frame(hidden_states)
        return out

    def previous_frame(self, hidden_states: torch.Tensor) -> torch.Tensor:
        """Attention of each row to its view's recorded states, projected: (B, N, C)."""
        batch, tokens, dim = hidden_states.shape
        assert self.memory is not None
        memory = self.memory.repeat(batch // self.memory.shape[0], 1, 1)
        q, k, v = (
            proj(x).view(batch, -1, self.heads, dim // self.heads).transpose(1, 2)
            for proj, x in ((self.frame_q, hidden_states), (self.frame_k, memory), (self.frame_v, memory))
        )
        attended = F.scaled_dot_product_attention(q, k, v).transpose(1, 2).reshape(batch, tokens, dim)
        return self.frame_out(attended)


def set_video_mode(unet: nn.Module, mode: str) -> None:
    """Switch every ``VideoAttnProcessor`` of ``unet`` to ``off``, ``record`` or ``attend``; ``off`` forgets."""
    if mode not in ("off", "record", "attend"):
        raise ValueError(f"mode must be off, record or attend, got {mode!r}")
    for processor in unet.attn_processors.values():
        if isinstance(processor, VideoAttnProcessor):
            processor.mode = mode
            if mode == "off":
                processor.memory = None


def install_cross_view(
    unet: nn.Module, group: int = 6, cyclic: bool = True, video: bool = False
) -> list[NeighbourAttnProcessor]:
    """Give every transformer block's ``attn2`` of a diffusers UNet a ``NeighbourAttnProcessor``; returns them.

    ``video`` installs ``VideoAttnProcessor`` instead, which also attends to the previous frame.
    """
    kind = VideoAttnProcessor if video else NeighbourAttnProcessor
    processors, added = {}, []
    for name, processor in unet.attn_processors.items():
        if name.endswith("attn2.processor"):
            module = unet.get_submodule(name.removesuffix(".processor"))
            added.append(kind(module.to_q.in_features, module.heads, group, cyclic))
            processors[name] = added[-1]
        else:
            processors[name] = processor
    if not added:
        raise ValueError("the UNet has no transformer blocks with cross-attention (attn2) to extend")
    unet.set_attn_processor(processors)
    return added
