"""Tiny random diffusers components for fast CPU tests."""

import torch
from diffusers import UNet2DConditionModel, UniPCMultistepScheduler

from occsim.generative.models.controlnet import MPIControlNet
from occsim.generative.models.cross_view import install_cross_view
from occsim.generative.models.pixel_space import PixelSpace
from occsim.generative.models.text import char_tokenizer, small_text_encoder
from occsim.generative.pipelines.syntheocc import OccSimSyntheOccPipeline


def tiny_unet(channels=4):
    torch.manual_seed(0)
    return UNet2DConditionModel(
        sample_size=8,
        in_channels=channels,
        out_channels=channels,
        block_out_channels=(16, 32),
        layers_per_block=1,
        down_block_types=("CrossAttnDownBlock2D", "DownBlock2D"),
        up_block_types=("UpBlock2D", "CrossAttnUpBlock2D"),
        cross_attention_dim=16,
        attention_head_dim=4,
        norm_num_groups=8,
    ).eval()


def tiny_renderer_weights(directory):
    """A pixel-space SyntheOcc pipeline for 32 x 56 views (4 MPI planes) saved as the renderer loads it."""
    unet = tiny_unet(channels=48)
    controlnet = MPIControlNet.from_unet(unet, planes=4, embed_dim=2, hidden=8)
    install_cross_view(unet)
    tokenizer = char_tokenizer(directory / "tokenizer-source")
    pipe = OccSimSyntheOccPipeline(
        PixelSpace(4, 2.0),
        small_text_encoder(tokenizer, width=16),
        tokenizer,
        unet,
        controlnet,
        UniPCMultistepScheduler(),
    )
    return pipe.save(directory, image_hw=[32, 56], planes=4, max_depth=40.0, latent_factor=4)


def tiny_perception_weights(directory):
    """A small random perception model for 32 x 56 views, saved as ``train-perception`` saves it."""
    from occsim.generative.models.perception import OccupancyPerception

    torch.manual_seed(0)
    OccupancyPerception(channels=4, hidden=16, image_hw=(32, 56)).save_pretrained(directory)
    return directory


def tiny_occscene(directory, joint=True, mixer="mamba", camera_encoding=True):
    """An OccScene pipeline on the tiny SyntheOcc model (MDA with 2 planes and 2 x 2 patches), not yet trained."""
    from occsim.generative.pipelines.occscene import OccScenePipeline

    syntheocc = tiny_renderer_weights(directory / "syntheocc")
    perception = tiny_perception_weights(directory / "perception")
    pipe = OccScenePipeline.from_syntheocc(
        syntheocc, perception, joint=joint, mixer=mixer, camera_encoding=camera_encoding, depth=2, patch=2
    )
    pipe.set_progress_bar_config(disable=True)
    return pipe


def as_if_trained(pipe):
    """Open the zero-initialised exits (ControlNet, alignment, cross-frame attention), as training would."""
    from occsim.generative.models.cross_view import VideoAttnProcessor

    torch.manual_seed(2)
    for name, parameter in pipe.controlnet.named_parameters():
        if "controlnet_down_blocks" in name or "controlnet_mid_block" in name:
            torch.nn.init.normal_(parameter, std=0.1)
    torch.nn.init.normal_(pipe.mda.zero_conv.weight, std=0.5)
    for processor in pipe.unet.attn_processors.values():
        if isinstance(processor, VideoAttnProcessor):
            torch.nn.init.normal_(processor.frame_out.weight, std=0.5)
    return pipe
