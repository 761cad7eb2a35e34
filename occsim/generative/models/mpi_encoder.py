"""SyntheOcc's 3D semantic MPI encoder (paper 001, section 3.3): 1 x 1 convolutions with ReLU, no downsampling.

Input: the semantic MPI at latent resolution, ``(B, D, H, W)`` Occ3D labels on D depth planes (FREE where the
plane is empty), plus the label of the nearest surface per pixel ``(B, H, W)``. Each label is embedded (a learned
vector per class, so no 18 x D one-hot is ever built), the D + 1 embeddings are stacked as channels, and 1 x 1
convolutions map them to the UNet's channels. A receptive field of one pixel keeps the feature aligned with the
latent pixel it conditions.
"""

from __future__ import annotations

import torch
from diffusers.configuration_utils import ConfigMixin, register_to_config
from diffusers.models.modeling_utils import ModelMixin
from torch import nn

from occsim.classes import CLASS_NAMES


class MPIEncoder(ModelMixin, ConfigMixin):
    """Embeds an MPI per plane and mixes the planes with 1 x 1 convolutions.

    Args:
        planes: D, the depth planes of the MPI.
        embed_dim: width of each label's embedding.
        hidden: channels of the hidden 1 x 1 layers.
        out_channels: channels of the output (the UNet's first block).
        layers: number of hidden 1 x 1 convolution + ReLU layers.
    """

    @register_to_config
    def __init__(
        self, planes: int = 32, embed_dim: int = 4, hidden: int = 128, out_channels: int = 320, layers: int = 2
    ):
        super().__init__()
        self.embed = nn.Embedding(len(CLASS_NAMES), embed_dim)
        blocks: list[nn.Module] = []
        channels = (planes + 1) * embed_dim
        for _ in range(layers):
            blocks += [nn.Conv2d(channels, hidden, 1), nn.ReLU()]
            channels = hidden
        blocks.append(nn.Conv2d(channels, out_channels, 1))
        self.net = nn.Sequential(*blocks)

    def forward(self, mpi: torch.Tensor, nearest: torch.Tensor) -> torch.Tensor:
        """``(B, out_channels, H, W)`` from ``mpi`` (B, D, H, W) and ``nearest`` (B, H, W) integer labels."""
        if mpi.shape[1] != self.config.planes:
            raise ValueError(f"the MPI has {mpi.shape[1]} planes; this encoder was built for {self.config.planes}")
        labels = torch.cat([mpi, nearest[:, None]], dim=1).long()  # (B, D + 1, H, W)
        embedded = self.embed(labels)  # (B, D + 1, H, W, E)
        features = embedded.permute(0, 1, 4, 2, 3).flatten(1, 2)  # (B, (D + 1) * E, H, W)
        return self.net(features)
