"""The small default model's components, built from config here so nothing is downloaded.

Sized for training on a CPU from OccSim's own renders: 6 views of 64 x 112 px, a KL autoencoder to a 4-channel latent
at 16 x 28, a three-level UNet with attention at the two coarser levels, and a character-level text encoder. A Stable
Diffusion base replaces these with the ones in the directory the user names.
"""

from __future__ import annotations

from pathlib import Path

from diffusers import AutoencoderKL, UNet2DConditionModel
from transformers import CLIPTextModel, CLIPTokenizer

from occsim.generative.models.text import char_tokenizer, small_text_encoder

TEXT_WIDTH = 64  # the text encoder's hidden size, and the UNet's cross-attention width


def small_vae() -> AutoencoderKL:
    """A KL autoencoder from (3, H, W) images in [-1, 1] to (4, H/4, W/4) latents."""
    return AutoencoderKL(
        in_channels=3,
        out_channels=3,
        down_block_types=("DownEncoderBlock2D",) * 3,
        up_block_types=("UpDecoderBlock2D",) * 3,
        block_out_channels=(32, 64, 64),
        layers_per_block=1,
        latent_channels=4,
        norm_num_groups=16,
        sample_size=64,
    )


def small_unet(channels: int) -> UNet2DConditionModel:
    """A three-level UNet over ``channels``-channel latents; cross- (and cross-view) attention at levels 2 and 3."""
    return UNet2DConditionModel(
        sample_size=(16, 28),
        in_channels=channels,
        out_channels=channels,
        block_out_channels=(64, 128, 128),
        layers_per_block=1,
        down_block_types=("DownBlock2D", "CrossAttnDownBlock2D", "CrossAttnDownBlock2D"),
        up_block_types=("CrossAttnUpBlock2D", "CrossAttnUpBlock2D", "UpBlock2D"),
        cross_attention_dim=TEXT_WIDTH,
        attention_head_dim=8,
        norm_num_groups=16,
    )


def small_text(directory: str | Path) -> tuple[CLIPTokenizer, CLIPTextModel]:
    """The character tokenizer (vocabulary written into ``directory``) and a small CLIP text encoder for it."""
    tokenizer = char_tokenizer(directory)
    return tokenizer, small_text_encoder(tokenizer, width=TEXT_WIDTH, layers=2, heads=4)
