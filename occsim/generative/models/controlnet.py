"""SyntheOcc's conditioning branch: a ControlNet copied from the UNet whose conditioning embedding is the MPI encoder.

diffusers' ControlNet downsamples an image-resolution condition with 3 x 3 convolutions; SyntheOcc feeds the MPI at
latent resolution through 1 x 1 convolutions instead (paper 001, section 3.3). So the ControlNet's own embedding is
replaced by an identity and the ``MPIEncoder`` runs in front of it. The ControlNet's outputs go through its
zero-initialised 1 x 1 convolutions into the UNet's ``down_block_additional_residuals`` and
``mid_block_additional_residual``, so at initialisation the UNet's output is unchanged.
"""

from __future__ import annotations

from typing import Any

import torch
from diffusers import ControlNetModel, UNet2DConditionModel
from diffusers.configuration_utils import ConfigMixin, register_to_config
from diffusers.models.modeling_utils import ModelMixin
from torch import nn

from occsim.generative.models.mpi_encoder import MPIEncoder


class MPIControlNet(ModelMixin, ConfigMixin):
    """MPI encoder + ControlNet; ``from_unet`` copies the UNet's encoder weights, as ControlNet training starts.

    Args:
        controlnet_config: the ``ControlNetModel`` config (as ``ControlNetModel.from_unet`` makes it).
        planes: depth planes of the MPI.
        embed_dim: label embedding width of the MPI encoder.
        hidden: hidden channels of the MPI encoder.
    """

    @register_to_config
    def __init__(self, controlnet_config: dict[str, Any], planes: int = 32, embed_dim: int = 4, hidden: int = 128):
        super().__init__()
        config = {k: v for k, v in controlnet_config.items() if not k.startswith("_")}
        self.controlnet = ControlNetModel(**config)
        # the MPI arrives already encoded at latent resolution: the image-space embedding is not used
        self.controlnet.controlnet_cond_embedding = nn.Identity()
        self.mpi_encoder = MPIEncoder(planes, embed_dim, hidden, config["block_out_channels"][0])

    @classmethod
    def from_unet(cls, unet: UNet2DConditionModel, planes: int = 32, embed_dim: int = 4, hidden: int = 128):
        """A ControlNet whose encoder starts as a copy of ``unet``'s (diffusers' ``ControlNetModel.from_unet``).

        Call it before ``install_cross_view``: the ControlNet branch keeps diffusers' plain attention.
        """
        source = ControlNetModel.from_unet(unet)
        model = cls(dict(source.config), planes, embed_dim, hidden)
        state = {k: v for k, v in source.state_dict().items() if not k.startswith("controlnet_cond_embedding.")}
        model.controlnet.load_state_dict(state)
        return model

    def forward(
        self,
        sample: torch.Tensor,
        timestep: torch.Tensor | int,
        encoder_hidden_states: torch.Tensor,
        mpi: torch.Tensor,
        nearest: torch.Tensor,
        conditioning_scale: float = 1.0,
        condition_residual: torch.Tensor | None = None,
    ) -> tuple[tuple[torch.Tensor, ...], torch.Tensor]:
        """``(down_block_additional_residuals, mid_block_additional_residual)`` for the UNet.

        ``condition_residual`` (B, C, h, w) is added to the encoded MPI where the ControlNet adds its condition to
        the latent's first features: the entry for OccScene's Mamba-based Dual Alignment (eq. 9).
        """
        cond = self.mpi_encoder(mpi, nearest).to(sample.dtype)
        if condition_residual is not None:
            cond = cond + condition_residual.to(sample.dtype)
        out = self.controlnet(
            sample,
            timestep,
            encoder_hidden_states=encoder_hidden_states,
            controlnet_cond=cond,
            conditioning_scale=conditioning_scale,
            return_dict=False,
        )
        return out[0], out[1]
