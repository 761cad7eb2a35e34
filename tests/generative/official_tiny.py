"""A tiny checkpoint in the released SyntheOcc's layout and a tiny SD 2.1-style base folder, random weights.

Written from the facts of the release (see ``occsim.generative.models.official``), not with OccSim's own modules: a
stock diffusers UNet and ControlNet's keys plus the release's extra ones, under the release's class names and extra
config keys, so the loader is tested against the layout rather than against itself.
"""

import json

import torch
from diffusers import AutoencoderKL, ControlNetModel, DDIMScheduler, UNet2DConditionModel
from diffusers.models.attention import BasicTransformerBlock
from safetensors.torch import save_file

from occsim.generative.models.text import char_tokenizer, small_text_encoder

TEXT_WIDTH = 16
PLANES = 256


def tiny_stock_unet() -> UNet2DConditionModel:
    torch.manual_seed(0)
    return UNet2DConditionModel(
        sample_size=8,
        in_channels=4,
        out_channels=4,
        block_out_channels=(16, 32),
        layers_per_block=1,
        # attention only at the coarser level: the renderer test runs the release's 56 x 100 latents on a CPU
        down_block_types=("DownBlock2D", "CrossAttnDownBlock2D"),
        up_block_types=("CrossAttnUpBlock2D", "UpBlock2D"),
        cross_attention_dim=TEXT_WIDTH,
        attention_head_dim=4,
        norm_num_groups=8,
    ).eval()


def block_prefixes(unet) -> list[str]:
    return [name for name, module in unet.named_modules() if isinstance(module, BasicTransformerBlock)]


def official_unet_state(unet) -> dict[str, torch.Tensor]:
    """The stock keys plus, per transformer block, norm4 / attn4 (bias-free q, k, v) / connector, all random.

    The connector is random rather than zero, so the cross-view path changes the output and a test can see it.
    """
    generator = torch.Generator().manual_seed(1)
    state = {k: v.clone() for k, v in unet.state_dict().items()}
    for prefix in block_prefixes(unet):
        dim = unet.get_submodule(prefix).norm1.normalized_shape[0]

        def rand(*shape, scale=0.2):
            return torch.randn(*shape, generator=generator) * scale

        state[f"{prefix}.norm4.weight"] = 1.0 + rand(dim)
        state[f"{prefix}.norm4.bias"] = rand(dim)
        for name in ("to_q", "to_k", "to_v"):
            state[f"{prefix}.attn4.{name}.weight"] = rand(dim, dim)
        state[f"{prefix}.attn4.to_out.0.weight"] = rand(dim, dim)
        state[f"{prefix}.attn4.to_out.0.bias"] = rand(dim)
        state[f"{prefix}.connector.weight"] = rand(dim, dim)
        state[f"{prefix}.connector.bias"] = rand(dim)
    # the stock norms and attention get non-trivial values too, so eps and biases matter
    for key in list(state):
        if ".norm1." in key or ".norm2." in key or ".norm3." in key:
            state[key] = state[key] + rand_like(state[key], generator)
    return state


def rand_like(tensor: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    return torch.randn(tensor.shape, generator=generator) * 0.2


def official_controlnet_state(unet) -> tuple[dict, dict[str, torch.Tensor]]:
    """(config, state) of the release's ControlNetModel1x1: stock keys, 257-channel position encoder."""
    stock = ControlNetModel.from_unet(unet, conditioning_channels=PLANES + 1)
    generator = torch.Generator().manual_seed(2)
    state = {k: v.clone() for k, v in stock.state_dict().items() if not k.startswith("controlnet_cond_embedding.")}
    width = unet.config.block_out_channels[0]
    # raw class ids up to 16 enter as numbers: small weights keep the features in a sane range
    state["controlnet_cond_embedding.position_encoder.0.weight"] = (
        torch.randn(width, PLANES + 1, 1, 1, generator=generator) * 0.02
    )
    state["controlnet_cond_embedding.position_encoder.0.bias"] = torch.randn(width, generator=generator) * 0.1
    state["controlnet_cond_embedding.position_encoder.2.weight"] = (
        torch.randn(width, width, 1, 1, generator=generator) * 0.1
    )
    state["controlnet_cond_embedding.position_encoder.2.bias"] = torch.randn(width, generator=generator) * 0.1
    # the zero-initialised output convolutions of a fresh ControlNet would hide the condition: make them count
    for key in list(state):
        if key.startswith(("controlnet_down_blocks.", "controlnet_mid_block.")):
            state[key] = torch.randn(state[key].shape, generator=generator) * 0.1
    config = {**dict(stock.config), "_class_name": "ControlNetModel1x1"}
    return config, state


def write_official_checkpoint(directory, pickle: bool = False):
    """``directory/unet`` and ``directory/controlnet`` as the release ships them; returns the two state dicts."""
    unet = tiny_stock_unet()
    unet_state = official_unet_state(unet)
    unet_config = {
        **dict(unet.config),
        "_class_name": "UNet2DConditionModelMultiview",
        "trainable_state": "only_new",
        "neighboring_view_pair": {str(i): [(i - 1) % 6, (i + 1) % 6] for i in range(6)},  # as JSON stores it
        "neighboring_attn_type": "add",
        "zero_module_type": "zero_linear",
        "crossview_attn_type": "basic",
        "img_size": [448, 800],
    }
    control_config, control_state = official_controlnet_state(unet)
    for part, config, state in (("unet", unet_config, unet_state), ("controlnet", control_config, control_state)):
        folder = directory / part
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "config.json").write_text(json.dumps(config, default=list))
        if pickle:
            torch.save(state, folder / "diffusion_pytorch_model.bin")
        else:
            save_file(
                {k: v.contiguous() for k, v in state.items()}, str(folder / "diffusion_pytorch_model.safetensors")
            )
    return unet_state, control_state


def write_tiny_base(directory):
    """An SD 2.1-shaped folder: 8x autoencoder, CLIP text encoder and tokenizer, v-prediction scheduler config."""
    torch.manual_seed(3)
    AutoencoderKL(
        block_out_channels=(8, 8, 8, 8),
        down_block_types=("DownEncoderBlock2D",) * 4,
        up_block_types=("UpDecoderBlock2D",) * 4,
        latent_channels=4,
        norm_num_groups=4,
        scaling_factor=0.18215,
    ).save_pretrained(directory / "vae")
    tokenizer = char_tokenizer(directory / "tokenizer-source")
    tokenizer.save_pretrained(directory / "tokenizer")
    small_text_encoder(tokenizer, width=TEXT_WIDTH).save_pretrained(directory / "text_encoder")
    DDIMScheduler(beta_schedule="scaled_linear", prediction_type="v_prediction").save_pretrained(
        directory / "scheduler"
    )
    return directory
