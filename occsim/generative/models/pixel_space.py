"""Pixel space for the small default: a lossless space-to-depth in place of a VAE, and one encode/decode for both.

Folding each ``factor`` x ``factor`` block of RGB into channels gives a (3 f^2)-channel "latent" at 1/f resolution,
so the UNet and the MPI condition work at the same resolution as with a VAE, but nothing has to be trained to get
there and decoding is exact. A Stable Diffusion base uses its ``AutoencoderKL`` through the same two functions.
"""

from __future__ import annotations

from pathlib import Path

import torch
from diffusers import AutoencoderKL
from diffusers.configuration_utils import ConfigMixin, register_to_config
from diffusers.models.modeling_utils import ModelMixin
from torch.nn import functional as F


class PixelSpace(ModelMixin, ConfigMixin):
    """Space-to-depth by ``factor``; ``scaling_factor`` brings the folded pixels to unit variance, as SD's VAE does.

    Args:
        factor: image pixels per latent pixel along each axis.
        scaling_factor: multiplies the folded pixels (1 / their standard deviation on the training images).
    """

    @register_to_config
    def __init__(self, factor: int = 4, scaling_factor: float = 1.0):
        super().__init__()
        # a buffer, so the module has a device and dtype like any other pipeline component
        self.register_buffer("anchor", torch.zeros(1), persistent=False)

    @classmethod
    def from_pretrained(cls, directory: str | Path, **kwargs) -> PixelSpace:
        """Rebuild from the saved config alone: there are no weights (``save_pretrained`` writes none)."""
        return cls.from_config(cls.load_config(directory))

    @property
    def latent_channels(self) -> int:
        """Channels of the latent: the RGB of a ``factor`` x ``factor`` block."""
        return 3 * self.config.factor**2

    def fold(self, images: torch.Tensor) -> torch.Tensor:
        """(N, 3 f^2, H/f, W/f) from (N, 3, H, W)."""
        return F.pixel_unshuffle(images, self.config.factor)

    def unfold(self, latents: torch.Tensor) -> torch.Tensor:
        """(N, 3, H, W) from (N, 3 f^2, H/f, W/f)."""
        return F.pixel_shuffle(latents, self.config.factor)


def latent_factor(vae: AutoencoderKL | PixelSpace) -> int:
    """Image pixels per latent pixel."""
    if isinstance(vae, PixelSpace):
        return vae.config.factor
    return 2 ** (len(vae.config.block_out_channels) - 1)


def encode_images(vae: AutoencoderKL | PixelSpace, images: torch.Tensor) -> torch.Tensor:
    """Scaled latents of (N, 3, H, W) images in [-1, 1] (the VAE's mean, so the same image gives the same latent)."""
    if isinstance(vae, PixelSpace):
        return vae.fold(images) * vae.config.scaling_factor
    return vae.encode(images).latent_dist.mean * vae.config.scaling_factor


def decode_latents(vae: AutoencoderKL | PixelSpace, latents: torch.Tensor) -> torch.Tensor:
    """(N, 3, H, W) images in about [-1, 1] from scaled latents."""
    if isinstance(vae, PixelSpace):
        return vae.unfold(latents / vae.config.scaling_factor)
    return vae.decode(latents / vae.config.scaling_factor).sample
